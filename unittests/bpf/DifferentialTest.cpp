//===- DifferentialTest.cpp - the two object paths behave the same ---------===//
//
// Every example element whose behaviour does not depend on the clock or on
// random draws is compiled by both object paths (`--backend=c`: C and
// clang-16; `--backend=llvm`: in process), both objects are loaded into the
// kernel with their initial state, and the same few hundred generated
// packets (requests, responses, errors, foreign traffic; strings with and
// without garbage after their NUL, users that hit and miss the maps) are run
// through both. After every packet the verdict, the packet bytes, the
// global data, the reject counters and the contents of every map must be
// equal. Skipped (not passed) when this process may not load BPF programs.
//
//===----------------------------------------------------------------------===//
#include "sbpf/Runtime/InitialState.h"
#include "sbpf/Runtime/Loader.h"
#include "sbpf/Runtime/Packet.h"
#include "sbpf/Runtime/TestRun.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"

#include "gtest/gtest.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cstdlib>
#include <linux/bpf.h>
#include <map>
#include <set>
#include <optional>
#include <random>

using namespace sbpf::runtime;

namespace {

struct Loaded {
  std::optional<LoadedObject> object;
  int fd = -1; ///< the (one) program's
};

/// Every map of the object that holds state (global data, maps, reject
/// counters), as sorted key -> value bytes.
std::map<std::string, std::map<std::vector<uint8_t>, std::vector<uint8_t>>>
snapshot(const Loaded &l) {
  std::map<std::string, std::map<std::vector<uint8_t>, std::vector<uint8_t>>>
      out;
  bpf_map *m;
  bpf_object__for_each_map(m, l.object->libbpfObject()) {
    std::string name = bpf_map__name(m);
    enum bpf_map_type type = bpf_map__type(m);
    // Not state: ring buffers (user space reads them), the scratch space,
    // and constants a compiler put in .rodata.
    if (type == BPF_MAP_TYPE_RINGBUF || name == "sbpf_scratch" ||
        llvm::StringRef(name).ends_with(".rodata"))
      continue;
    size_t valueSize = bpf_map__value_size(m);
    if (type == BPF_MAP_TYPE_PERCPU_ARRAY)
      valueSize = ((valueSize + 7) / 8 * 8) * libbpf_num_possible_cpus();
    std::vector<uint8_t> key(bpf_map__key_size(m)), next(key.size());
    std::vector<uint8_t> value(valueSize);
    auto &entries = out[name];
    int fd = bpf_map__fd(m);
    const void *prev = nullptr;
    while (bpf_map_get_next_key(fd, prev, next.data()) == 0) {
      if (bpf_map_lookup_elem(fd, next.data(), value.data()) == 0)
        entries[next] = value;
      key = next;
      prev = key.data();
    }
  }
  return out;
}

std::string hex(const std::vector<uint8_t> &bytes) {
  std::string s;
  for (uint8_t b : bytes)
    s += llvm::formatv("{0:x-2}", b).str();
  return s;
}

class DifferentialTest : public ::testing::TestWithParam<const char *> {
protected:
  void SetUp() override {
    if (llvm::Error err = probeProgramLoad())
      GTEST_SKIP() << llvm::toString(std::move(err));
    llvm::SmallString<128> dir;
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("sbpf-diff-test", dir));
    tmp = std::string(dir);
  }
  void TearDown() override {
    if (!tmp.empty())
      llvm::sys::fs::remove_directories(tmp);
  }

  std::optional<Loaded> build(llvm::StringRef element, llvm::StringRef backend) {
    // Same file name in two directories: libbpf names the global data map
    // after the object file.
    std::string dir = tmp + "/" + backend.str();
    if (llvm::sys::fs::create_directories(dir)) {
      ADD_FAILURE() << "cannot create " << dir;
      return std::nullopt;
    }
    std::string obj = dir + "/element.o";
    std::string cmd = std::string("'") + SBPF_OPT_PATH + "' --appnet-to-bpf '" +
                      SBPF_EXAMPLES_DIR + "/" + element.str() +
                      ".appnet' --rpc-schema '" SBPF_EXAMPLES_DIR
                      "/rpc.proto' --no-kernel-verify --no-validate --backend=" +
                      backend.str() + " -o '" + obj + "'";
    if (std::system(cmd.c_str()) != 0) {
      ADD_FAILURE() << "failed: " << cmd;
      return std::nullopt;
    }
    auto file = ObjectFile::read(obj);
    if (!file) {
      ADD_FAILURE() << llvm::toString(file.takeError());
      return std::nullopt;
    }
    auto loaded = loadObject(*file);
    if (!loaded) {
      ADD_FAILURE() << backend.str() << ": " << llvm::toString(loaded.takeError());
      return std::nullopt;
    }
    Loaded l;
    l.object = std::move(*loaded);
    l.fd = l.object->programs().front().fd;
    auto abi = readEmbeddedABI(*file);
    if (!abi) {
      ADD_FAILURE() << llvm::toString(abi.takeError());
      return std::nullopt;
    }
    auto applied = applyInitialState(*l.object, *abi);
    if (!applied) {
      ADD_FAILURE() << llvm::toString(applied.takeError());
      return std::nullopt;
    }
    return l;
  }

  std::string tmp;
};

/// A packet of the kinds an element meets, from `rng`.
std::vector<uint8_t> generate(std::mt19937 &rng) {
  auto pick = [&](unsigned n) { return unsigned(rng() % n); };
  static const char *users[] = {"alice", "mallory", "bob", "carol", "eve",
                                "admin", ""};
  auto text = [&](size_t cap) {
    std::vector<uint8_t> out(cap, 0);
    size_t len = pick(cap + 1);
    for (size_t i = 0; i < len; ++i)
      out[i] = uint8_t('a' + pick(4));
    if (len < cap && pick(4) == 0) // garbage after the NUL
      for (size_t i = len + 1; i < cap; ++i)
        out[i] = uint8_t(rng());
    return out;
  };
  auto putU32 = [](std::vector<uint8_t> &p, size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i)
      p[at + i] = uint8_t(v >> (8 * i));
  };
  unsigned kind = pick(20);
  UdpPacketSpec spec;
  ArpcHeader h;
  h.rpcId = rng();
  std::vector<uint8_t> payload;
  if (kind < 11) { // request: body[64], priority, kind, user[32]
    payload = text(64);
    payload.resize(104, 0);
    putU32(payload, 64, pick(4));
    putU32(payload, 68, pick(4));
    std::vector<uint8_t> user(32, 0);
    if (pick(3) == 0)
      user = text(32);
    else {
      llvm::StringRef u = users[pick(7)];
      std::copy(u.begin(), u.end(), user.begin());
    }
    std::copy(user.begin(), user.end(), payload.begin() + 72);
  } else { // response or error: body[64], status
    h.type = kind < 16 ? ArpcType::Response : ArpcType::Error;
    std::swap(spec.srcPort, spec.dstPort);
    std::swap(spec.srcIp, spec.dstIp);
    payload = text(64);
    payload.resize(68, 0);
    putU32(payload, 64, pick(3));
  }
  if (kind == 19) // foreign UDP traffic
    spec.dstPort = spec.srcPort = 53;
  return buildArpcPacket(spec, h, payload);
}

TEST_P(DifferentialTest, SameBehaviourOnBothObjectPaths) {
  auto c = build(GetParam(), "c");
  auto llvm = build(GetParam(), "llvm");
  ASSERT_TRUE(c && llvm);
  ASSERT_EQ(snapshot(*c), snapshot(*llvm)) << "initial state differs";
  std::mt19937 rng(20261121);
  std::set<uint32_t> verdicts;
  size_t mapEntries = 0;
  for (int i = 0; i < 300; ++i) {
    std::vector<uint8_t> packet = generate(rng);
    auto a = testRunPacket(c->fd, packet);
    auto b = testRunPacket(llvm->fd, packet);
    ASSERT_TRUE(bool(a) && bool(b));
    SCOPED_TRACE(testing::Message() << "packet " << i << ": " << hex(packet));
    ASSERT_EQ(a->retval, b->retval);
    verdicts.insert(a->retval);
    ASSERT_EQ(hex(a->packetOut), hex(b->packetOut));
    auto sa = snapshot(*c), sb = snapshot(*llvm);
    mapEntries = 0;
    for (auto &[name, entries] : sa) {
      mapEntries += entries.size();
      ASSERT_TRUE(sb.count(name)) << "map " << name;
      ASSERT_EQ(entries.size(), sb[name].size()) << "map " << name;
      for (auto &[k, v] : entries)
        ASSERT_EQ(hex(v), hex(sb[name][k]))
            << "map " << name << " key " << hex(k);
    }
  }
  // Not vacuous: an element that can reject did, on both paths alike.
  bool rejects = bpf_object__find_map_by_name(c->object->libbpfObject(),
                                              "sbpf_rejects") != nullptr;
  if (rejects)
    EXPECT_TRUE(verdicts.count(XDP_DROP)) << "no packet was dropped";
  EXPECT_TRUE(verdicts.count(XDP_PASS)) << "no packet passed";
  EXPECT_GT(mapEntries, 0u);
}

// The elements whose behaviour depends on neither clock nor random draws.
INSTANTIATE_TEST_SUITE_P(
    Examples, DifferentialTest,
    ::testing::Values("concurrency_limit", "counters", "first_seen",
                      "priority_fault", "scramble", "user_acl", "kinds/cache",
                      "kinds/circuit_breaker", "kinds/firewall",
                      "kinds/logging", "kinds/metrics", "kinds/null"),
    [](const testing::TestParamInfo<const char *> &info) {
      std::string name = info.param;
      for (char &ch : name)
        if (!isalnum((unsigned char)ch))
          ch = '_';
      return name;
    });

} // namespace
