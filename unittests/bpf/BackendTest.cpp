//===- BackendTest.cpp - compiled elements behave as netfn says -----------===//
//
// Each test compiles an example element with `sbpf-opt --emit=c` (and its
// ABI record with --abi-out), compiles the C with clang's BPF target (or, in
// bpf-llvm-unittests, makes the object with `--emit=obj --backend=llvm`),
// loads
// the object into the kernel, applies init's loader work from the ABI record
// embedded in the object (runtime::applyInitialState, as sbpf does) and runs
// it on crafted packets. State is read through the ABI record's layout
// (global data offsets, map key and value sizes, reject slots). Without
// permission to load BPF programs every test is skipped, never passed.
//
//===----------------------------------------------------------------------===//
#include "sbpf/BPF/ABI.h"
#include "sbpf/Runtime/InitialState.h"
#include "sbpf/Runtime/Loader.h"
#include "sbpf/Runtime/Packet.h"
#include "sbpf/Runtime/TestRun.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include "gtest/gtest.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <linux/pkt_cls.h>
#include <optional>
#include <time.h>

using namespace sbpf::runtime;

namespace {

static_assert(sbpf::bpf::kABIVersion == kEmbeddedABIVersion,
              "the runtime reads the record version the backend writes");

uint64_t monotonicNow() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

std::string shellQuote(llvm::StringRef s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

/// An element compiled, loaded, and its ABI record parsed.
struct Element {
  std::optional<LoadedObject> object;
  const LoadedProgram *program = nullptr;
  llvm::json::Value abi = nullptr;
  std::string cSource;
  std::string abiText;          ///< the --abi-out file
  EmbeddedABI embedded;         ///< the record read back from the object
  InitialStateReport initial;   ///< what the loader did

  const llvm::json::Object &abiObject() const { return *abi.getAsObject(); }

  bpf_map *map(llvm::StringRef name) const {
    return bpf_object__find_map_by_name(object->libbpfObject(),
                                        name.str().c_str());
  }
  /// libbpf's map for the global data section (".data").
  bpf_map *dataMap() const {
    bpf_map *m;
    bpf_object__for_each_map(m, object->libbpfObject()) {
      llvm::StringRef n = bpf_map__name(m);
      if (n.ends_with(".data"))
        return m;
    }
    return nullptr;
  }

  /// The bytes of the scalar-state struct.
  std::vector<uint8_t> data() const {
    bpf_map *m = dataMap();
    std::vector<uint8_t> bytes(m ? bpf_map__value_size(m) : 0);
    uint32_t zero = 0;
    if (!m || bpf_map_lookup_elem(bpf_map__fd(m), &zero, bytes.data()) != 0)
      ADD_FAILURE() << "cannot read the .data map";
    return bytes;
  }

  /// Scalar state `name`, located through the ABI record (u32/s32/u64).
  int64_t scalar(llvm::StringRef name) const {
    const auto *state = abiObject().getObject("state");
    for (const llvm::json::Value &v : *state->getArray("scalars")) {
      const auto *s = v.getAsObject();
      if (*s->getString("name") != name)
        continue;
      uint64_t offset = *s->getInteger("offset");
      uint64_t size = *s->getInteger("size");
      std::vector<uint8_t> bytes = data();
      if (offset + size > bytes.size()) {
        ADD_FAILURE() << "scalar " << name.str() << " outside .data";
        return 0;
      }
      uint64_t raw = 0;
      std::memcpy(&raw, bytes.data() + offset, size);
      llvm::StringRef enc = *s->getString("encoding");
      if (enc == "s32")
        return int32_t(raw);
      if (enc == "s16")
        return int16_t(raw);
      if (enc == "s8")
        return int8_t(raw);
      if (enc.starts_with("fixed32"))
        return int32_t(raw);
      return int64_t(raw);
    }
    ADD_FAILURE() << "no scalar " << name.str() << " in the ABI record";
    return 0;
  }

  /// Sum over CPUs of reject counter `reason` (slot from the ABI record).
  uint64_t rejects(llvm::StringRef reason) const {
    const auto *r = abiObject().getObject("rejects");
    for (const llvm::json::Value &v : *r->getArray("reasons")) {
      const auto *o = v.getAsObject();
      if (*o->getString("reason") != reason)
        continue;
      uint32_t slot = uint32_t(*o->getInteger("slot"));
      bpf_map *m = map(*r->getString("map"));
      int cpus = libbpf_num_possible_cpus();
      std::vector<uint64_t> values(cpus > 0 ? cpus : 1);
      if (!m || bpf_map_lookup_elem(bpf_map__fd(m), &slot, values.data())) {
        ADD_FAILURE() << "cannot read sbpf_rejects";
        return 0;
      }
      uint64_t sum = 0;
      for (uint64_t x : values)
        sum += x;
      return sum;
    }
    ADD_FAILURE() << "no reject reason " << reason.str();
    return 0;
  }

  /// Overwrites 8-byte scalar `name` (e.g. an f64's bits) through the ABI.
  void setScalar64(llvm::StringRef name, uint64_t bits) const {
    const auto *state = abiObject().getObject("state");
    for (const llvm::json::Value &v : *state->getArray("scalars")) {
      const auto *s = v.getAsObject();
      if (*s->getString("name") != name)
        continue;
      ASSERT_EQ(*s->getInteger("size"), 8);
      std::vector<uint8_t> bytes = data();
      uint64_t offset = *s->getInteger("offset");
      std::memcpy(bytes.data() + offset, &bits, 8);
      uint32_t zero = 0;
      ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(dataMap()), &zero,
                                    bytes.data(), 0),
                0);
      return;
    }
    ADD_FAILURE() << "no scalar " << name.str();
  }

  /// Key and value sizes of map `name` from the ABI record.
  std::pair<size_t, size_t> mapSizes(llvm::StringRef name) const {
    for (const llvm::json::Value &v : *abiObject().getArray("maps")) {
      const auto *m = v.getAsObject();
      if (*m->getString("name") == name)
        return {size_t(*m->getObject("key")->getInteger("size")),
                size_t(*m->getObject("value")->getInteger("size"))};
    }
    ADD_FAILURE() << "no map " << name.str();
    return {0, 0};
  }
};

std::vector<uint8_t> padded(llvm::StringRef s, size_t size) {
  std::vector<uint8_t> out(size, 0);
  std::memcpy(out.data(), s.data(), std::min(size, s.size()));
  return out;
}

void putU32(std::vector<uint8_t> &bytes, size_t offset, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    bytes[offset + i] = uint8_t(v >> (8 * i));
}

/// The request payload of examples/appnet/rpc.proto: body[64], priority,
/// kind, user[32].
std::vector<uint8_t> requestPayload(llvm::StringRef body, uint32_t priority = 0,
                                    uint32_t kind = 0,
                                    llvm::StringRef user = "bob") {
  std::vector<uint8_t> p = padded(body, 104);
  putU32(p, 64, priority);
  putU32(p, 68, kind);
  std::vector<uint8_t> u = padded(user, 32);
  std::copy(u.begin(), u.end(), p.begin() + 72);
  return p;
}

/// body[64], status.
std::vector<uint8_t> responsePayload(llvm::StringRef body, uint32_t status = 0) {
  std::vector<uint8_t> p = padded(body, 68);
  putU32(p, 64, status);
  return p;
}

std::vector<uint8_t> request(const std::vector<uint8_t> &payload,
                             uint64_t rpcId = 1) {
  ArpcHeader h;
  h.type = ArpcType::Request;
  h.rpcId = rpcId;
  return buildArpcPacket(UdpPacketSpec{}, h, payload);
}

std::vector<uint8_t> response(const std::vector<uint8_t> &payload,
                              ArpcType type = ArpcType::Response) {
  UdpPacketSpec spec;
  std::swap(spec.srcPort, spec.dstPort);
  std::swap(spec.srcIp, spec.dstIp);
  ArpcHeader h;
  h.type = type;
  return buildArpcPacket(spec, h, payload);
}

class BackendTest : public ::testing::Test {
protected:
  void SetUp() override {
    if (llvm::Error err = probeProgramLoad())
      GTEST_SKIP() << llvm::toString(std::move(err));
    llvm::SmallString<128> dir;
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("sbpf-bpf-test", dir));
    tmp = std::string(dir);
  }
  void TearDown() override {
    if (!tmp.empty())
      llvm::sys::fs::remove_directories(tmp);
  }

  /// Compiles examples/appnet/NAME.appnet and loads it; fails the test and
  /// returns nullopt on any error.
  std::optional<Element> compile(llvm::StringRef name,
                                 llvm::StringRef extra = "") {
    return compileFile(std::string(SBPF_EXAMPLES_DIR) + "/" + name.str() +
                           ".appnet",
                       name,
                       "--rpc-schema " +
                           shellQuote(std::string(SBPF_EXAMPLES_DIR) +
                                      "/rpc.proto") +
                           " " + extra.str());
  }

  std::optional<Element> compileFile(const std::string &path,
                                     llvm::StringRef name,
                                     const std::string &extra) {
    std::string base = tmp + "/" + name.str();
    std::string cmd = shellQuote(SBPF_OPT_PATH) + " " + shellQuote(path) +
                      " --emit=c " + extra + " -o " +
                      shellQuote(base + ".c") + " --abi-out " +
                      shellQuote(base + ".json");
    if (std::system(cmd.c_str()) != 0) {
      ADD_FAILURE() << "failed: " << cmd;
      return std::nullopt;
    }
    // The object: clang on the C, or (bpf-llvm-unittests) the in-process
    // LLVM backend on the same netfn; the same tests hold for both. These
    // are behaviour tests in the kernel: the checker's proof of the object
    // is lit-tests/checker's job (--no-validate keeps this binary fast).
    if (llvm::StringRef(SBPF_OBJECT_BACKEND) == "llvm")
      cmd = shellQuote(SBPF_OPT_PATH) + " " + shellQuote(path) +
            " --emit=obj --backend=llvm --no-kernel-verify --no-validate " +
            extra +
            " -o " + shellQuote(base + ".o");
    else
      cmd = shellQuote(SBPF_CLANG_PATH) +
            " -O2 -g -target bpf -mcpu=v3 -I" SBPF_MULTIARCH_INCLUDE " -c " +
            shellQuote(base + ".c") + " -o " + shellQuote(base + ".o");
    if (std::system(cmd.c_str()) != 0) {
      ADD_FAILURE() << "failed: " << cmd;
      return std::nullopt;
    }
    Element e;
    auto json = llvm::MemoryBuffer::getFile(base + ".json");
    auto csrc = llvm::MemoryBuffer::getFile(base + ".c");
    if (!json || !csrc) {
      ADD_FAILURE() << "missing outputs";
      return std::nullopt;
    }
    e.cSource = (*csrc)->getBuffer().str();
    auto parsed = llvm::json::parse((*json)->getBuffer());
    if (!parsed) {
      ADD_FAILURE() << llvm::toString(parsed.takeError());
      return std::nullopt;
    }
    e.abi = std::move(*parsed);
    e.abiText = (*json)->getBuffer().str();
    auto file = ObjectFile::read(base + ".o");
    if (!file) {
      ADD_FAILURE() << llvm::toString(file.takeError());
      return std::nullopt;
    }
    auto loaded = loadObject(*file);
    if (!loaded) {
      std::string log;
      llvm::handleAllErrors(
          loaded.takeError(),
          [&](const VerifierRejection &r) { log = r.message() + "\n" + r.verifierLog; },
          [&](const llvm::ErrorInfoBase &b) { log = b.message(); });
      ADD_FAILURE() << log;
      return std::nullopt;
    }
    e.object = std::move(*loaded);
    e.program = e.object->find(name);
    if (!e.program) {
      ADD_FAILURE() << "no program " << name.str();
      return std::nullopt;
    }
    // The loader: the record embedded in the object, then init's work.
    auto embedded = readEmbeddedABI(*file);
    if (!embedded) {
      ADD_FAILURE() << llvm::toString(embedded.takeError());
      return std::nullopt;
    }
    e.embedded = std::move(*embedded);
    auto report = applyInitialState(*e.object, e.embedded);
    if (!report) {
      ADD_FAILURE() << llvm::toString(report.takeError());
      return std::nullopt;
    }
    e.initial = *report;
    return e;
  }

  std::string tmp;
};

TestRunResult run(const Element &e, const std::vector<uint8_t> &packet) {
  auto r = testRunPacket(e.program->fd, packet);
  if (!r) {
    ADD_FAILURE() << llvm::toString(r.takeError());
    return {};
  }
  return *r;
}

TEST_F(BackendTest, NonArpcTrafficPassesUntouched) {
  auto e = compile("counters");
  ASSERT_TRUE(e);
  // UDP to port 53.
  UdpPacketSpec dns;
  dns.dstPort = 53;
  std::vector<uint8_t> p = buildUdpPacket(dns, padded("query", 40));
  TestRunResult r = run(*e, p);
  EXPECT_EQ(r.retval, uint32_t(XDP_PASS));
  EXPECT_EQ(toHex(r.packetOut), toHex(p));
  // TCP (protocol 6) to port 9000, with what would be an aRPC request.
  std::vector<uint8_t> tcp = request(requestPayload("hello"));
  tcp[14 + 9] = 6;
  r = run(*e, tcp);
  EXPECT_EQ(r.retval, uint32_t(XDP_PASS));
  EXPECT_EQ(toHex(r.packetOut), toHex(tcp));
  // Not IPv4 (ARP EtherType).
  std::vector<uint8_t> arp = request(requestPayload("hello"));
  arp[12] = 0x08;
  arp[13] = 0x06;
  r = run(*e, arp);
  EXPECT_EQ(r.retval, uint32_t(XDP_PASS));
  EXPECT_EQ(toHex(r.packetOut), toHex(arp));
  // The EtherType's bytes swapped (0x0008), IP version 6 in an IPv4
  // EtherType, and later IP fragments (offset 8 bytes; the offset's high
  // bits): untouched (the parser reads these as 16-bit words).
  for (auto [at, value] : std::vector<std::pair<size_t, uint8_t>>{
           {12, 0x00}, {14, 0x65}, {14 + 7, 0x01}, {14 + 6, 0x10}}) {
    std::vector<uint8_t> p = request(requestPayload("hello"));
    if (at == 12)
      std::swap(p[12], p[13]);
    else
      p[at] = value;
    r = run(*e, p);
    EXPECT_EQ(r.retval, uint32_t(XDP_PASS));
    EXPECT_EQ(toHex(r.packetOut), toHex(p));
  }
  // A request too short for the layout, and a non-first fragment: untouched.
  std::vector<uint8_t> shortReq = request(padded("hi", 50));
  r = run(*e, shortReq);
  EXPECT_EQ(r.retval, uint32_t(XDP_PASS));
  EXPECT_EQ(toHex(r.packetOut), toHex(shortReq));
  ArpcHeader frag;
  frag.fragmentIndex = 1;
  std::vector<uint8_t> fragment =
      buildArpcPacket(UdpPacketSpec{}, frag, requestPayload("x"));
  r = run(*e, fragment);
  EXPECT_EQ(r.retval, uint32_t(XDP_PASS));
  // None of these touched the state.
  EXPECT_EQ(e->scalar("req_count"), 0);
  EXPECT_EQ(e->scalar("byte_total"), 0);
  // The first IP fragment (more fragments, offset 0; the flags share the
  // word with the offset) is a request like any other.
  std::vector<uint8_t> first = request(requestPayload("hello"));
  first[14 + 6] = 0x20;
  EXPECT_EQ(run(*e, first).retval, uint32_t(XDP_PASS));
  EXPECT_EQ(e->scalar("req_count"), 1);
  EXPECT_EQ(e->scalar("byte_total"), 5);
}

TEST_F(BackendTest, ObjectBTFLoadsIntoTheKernel) {
  // libbpf loads an object whose BTF the kernel refuses anyway ("BTF is
  // optional, ignoring"), so sbpf verify alone would not notice bad BTF.
  for (const char *name : {"counters", "user_acl", "latency_log"}) {
    auto e = compile(name, "--netfn-float-to-fixed");
    ASSERT_TRUE(e);
    struct btf *btf = bpf_object__btf(e->object->libbpfObject());
    ASSERT_TRUE(btf) << name;
    EXPECT_GE(btf__fd(btf), 0) << name << ": the kernel refused the BTF";
  }
}

TEST_F(BackendTest, CountersAddBodySizes) {
  auto e = compile("counters");
  ASSERT_TRUE(e);
  EXPECT_NE(e->cSource.find("__sync_fetch_and_add(&sbpf_state.req_count"),
            std::string::npos);
  for (llvm::StringRef body : {"hello", "0123456789", ""}) {
    std::vector<uint8_t> p = request(requestPayload(body));
    TestRunResult r = run(*e, p);
    EXPECT_EQ(r.retval, uint32_t(XDP_PASS));
    EXPECT_EQ(toHex(r.packetOut), toHex(p));
  }
  // A body with no NUL is all 64 bytes.
  run(*e, request(requestPayload(std::string(64, 'x'))));
  EXPECT_EQ(e->scalar("req_count"), 4);
  EXPECT_EQ(e->scalar("byte_total"), 5 + 10 + 0 + 64);
  // The length is scanned eight bytes at a time: every position of the
  // first NUL in a word, at word edges, and bytes >= 0x80 (which the
  // zero-byte test must not take for zeros).
  uint32_t total = 5 + 10 + 0 + 64;
  for (size_t n : {1, 7, 8, 9, 15, 16, 31, 32, 33, 55, 56, 57, 62, 63}) {
    run(*e, request(requestPayload(std::string(n, n % 2 ? 'y' : '\x81'))));
    total += n;
  }
  EXPECT_EQ(e->scalar("byte_total"), total);
  std::string high = "\xff\x80\x01";
  run(*e, request(requestPayload(high)));
  EXPECT_EQ(e->scalar("byte_total"), total + 3);
  EXPECT_EQ(e->scalar("req_count"), 4 + 14 + 1);
  // Responses do not count.
  EXPECT_EQ(run(*e, response(responsePayload("ok"))).retval,
            uint32_t(XDP_PASS));
  EXPECT_EQ(e->scalar("req_count"), 4 + 14 + 1);
}

TEST_F(BackendTest, ConcurrencyLimitRejectsTheNinthRequest) {
  auto e = compile("concurrency_limit");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->scalar("limit"), 8); // the .data initializer
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(run(*e, request(requestPayload("r"), i)).retval,
              uint32_t(XDP_PASS))
        << "request " << i;
  EXPECT_EQ(e->scalar("in_flight"), 8);
  EXPECT_EQ(run(*e, request(requestPayload("r"), 8)).retval,
            uint32_t(XDP_DROP));
  EXPECT_EQ(e->scalar("rejected"), 1);
  EXPECT_EQ(e->rejects("too_many_in_flight"), 1u);
  // An error response frees a slot too (type 3 runs resp).
  EXPECT_EQ(run(*e, response(responsePayload("ok"), ArpcType::Error)).retval,
            uint32_t(XDP_PASS));
  EXPECT_EQ(e->scalar("in_flight"), 7);
  EXPECT_EQ(run(*e, request(requestPayload("r"), 9)).retval,
            uint32_t(XDP_PASS));
  EXPECT_EQ(run(*e, request(requestPayload("r"), 10)).retval,
            uint32_t(XDP_DROP));
  EXPECT_EQ(e->rejects("too_many_in_flight"), 2u);
  EXPECT_EQ(e->scalar("rejected"), 2);
  // Neither a packet of type 4, nor a response shorter than its 68-byte
  // layout, nor a request shorter than its 104 (but long enough for a
  // response) runs a handler: the dispatcher tests the type as a range and
  // joins the smaller layout's bounds with the header's.
  EXPECT_EQ(run(*e, response(responsePayload("ok"), ArpcType(4))).retval,
            uint32_t(XDP_PASS));
  EXPECT_EQ(run(*e, response(padded("ok", 60))).retval, uint32_t(XDP_PASS));
  EXPECT_EQ(e->scalar("in_flight"), 8);
  EXPECT_EQ(run(*e, request(padded("r", 80), 11)).retval, uint32_t(XDP_PASS));
  EXPECT_EQ(e->scalar("rejected"), 2);
  EXPECT_EQ(run(*e, response(responsePayload("ok"))).retval,
            uint32_t(XDP_PASS));
  EXPECT_EQ(e->scalar("in_flight"), 7);
}

TEST_F(BackendTest, ConcurrencyLimitOnTc) {
  auto e = compile("concurrency_limit", "--hook=tc");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->program->section, "tc");
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(run(*e, request(requestPayload("r"), i)).retval,
              uint32_t(TC_ACT_OK));
  EXPECT_EQ(run(*e, request(requestPayload("r"), 8)).retval,
            uint32_t(TC_ACT_SHOT));
}

TEST_F(BackendTest, RpcPortOption) {
  auto e = compile("concurrency_limit", "--rpc-port=7000");
  ASSERT_TRUE(e);
  EXPECT_EQ(*e->abiObject().getInteger("rpc_port"), 7000);
  // Port 9000 is no longer aRPC: nothing is counted.
  for (int i = 0; i < 10; ++i)
    run(*e, request(requestPayload("r"), i));
  EXPECT_EQ(e->scalar("in_flight"), 0);
  UdpPacketSpec spec;
  spec.dstPort = 7000;
  ArpcHeader h;
  run(*e, buildArpcPacket(spec, h, requestPayload("r")));
  EXPECT_EQ(e->scalar("in_flight"), 1);
}

TEST_F(BackendTest, UserAclDropsDeniedUsers) {
  auto e = compile("user_acl");
  ASSERT_TRUE(e);
  // The object carries the record --abi-out wrote, and the loader inserted
  // init's two entries (nothing is inserted by hand here).
  EXPECT_EQ(e->embedded.json, e->abiText);
  EXPECT_EQ(e->initial.mapEntries, 2u);
  EXPECT_EQ(e->initial.summary(), "2 map entries");
  auto [keySize, valueSize] = e->mapSizes("rules");
  ASSERT_EQ(keySize, 64u);
  ASSERT_EQ(valueSize, 64u);
  bpf_map *rules = e->map("rules");
  ASSERT_TRUE(rules);
  auto value = [&](llvm::StringRef user) -> std::string {
    auto key = padded(user, keySize);
    std::vector<uint8_t> v(valueSize);
    if (bpf_map_lookup_elem(bpf_map__fd(rules), key.data(), v.data()) != 0)
      return "<none>";
    return std::string(reinterpret_cast<const char *>(v.data()));
  };
  EXPECT_EQ(value("alice"), "allow");
  EXPECT_EQ(value("mallory"), "deny");
  EXPECT_EQ(value("bob"), "<none>");

  EXPECT_EQ(e->rejects("denied_by_acl"), 0u);
  EXPECT_EQ(run(*e, request(requestPayload("b", 0, 0, "mallory"))).retval,
            uint32_t(XDP_DROP));
  EXPECT_EQ(e->rejects("denied_by_acl"), 1u);
  EXPECT_EQ(run(*e, request(requestPayload("b", 0, 0, "alice"))).retval,
            uint32_t(XDP_PASS));
  EXPECT_EQ(run(*e, request(requestPayload("b", 0, 0, "unknown"))).retval,
            uint32_t(XDP_PASS));
  EXPECT_EQ(e->rejects("denied_by_acl"), 1u);
  // "mallor" is a different key.
  EXPECT_EQ(run(*e, request(requestPayload("b", 0, 0, "mallor"))).retval,
            uint32_t(XDP_PASS));
  // Bytes after the user's NUL are not part of the name.
  std::vector<uint8_t> p = requestPayload("b", 0, 0, "mallory");
  p[72 + 10] = 'z';
  EXPECT_EQ(run(*e, request(p)).retval, uint32_t(XDP_DROP));
  EXPECT_EQ(e->rejects("denied_by_acl"), 2u);
}

TEST_F(BackendTest, TokenBucketStartsAtLoadTime) {
  uint64_t before = monotonicNow();
  auto e = compile("token_bucket", "--netfn-float-to-fixed");
  uint64_t after = monotonicNow();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->initial.scalarsNow, 1u);
  // init's current_time() is the monotonic clock when the loader ran, the
  // clock bpf_ktime_get_ns reads.
  uint64_t lastRefill = uint64_t(e->scalar("last_refill"));
  EXPECT_GE(lastRefill, before);
  EXPECT_LE(lastRefill, after);
  // Constant init is the .data initializer, each state at the scale its
  // range gives (netfn-float-to-fixed): tokens is unbounded below (the
  // refill is a product by an unbounded time difference), so Q31.32;
  // capacity is 50 (fixed<64, 56>) and refill_per_sec 20 (fixed<64, 57>).
  const int64_t one = int64_t(1) << 32;
  EXPECT_EQ(e->scalar("capacity"), int64_t(50) << 56);
  EXPECT_EQ(e->scalar("tokens"), 50 * one);
  EXPECT_EQ(e->scalar("refill_per_sec"), int64_t(20) << 57);
  // A burst of 100 requests within well under a second: 50 tokens, and a
  // refill of 20 per second, so about half are rate limited.
  auto r = testRunPacket(e->program->fd, request(requestPayload("b")), 100);
  ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
  EXPECT_EQ(r->retval, uint32_t(XDP_DROP));
  uint64_t limited = e->rejects("rate_limited");
  uint64_t elapsedSec = (monotonicNow() - before) / 1000000000u;
  EXPECT_LE(limited, 50u);
  EXPECT_GE(limited, 50u - std::min<uint64_t>(50, 20 * (elapsedSec + 1)));
  EXPECT_LT(e->scalar("tokens"), one);
  EXPECT_GE(uint64_t(e->scalar("last_refill")), lastRefill);
}

TEST_F(BackendTest, ConcurrencyLimitNeedsNoLoaderWork) {
  auto e = compile("concurrency_limit");
  ASSERT_TRUE(e);
  // Constant init is the .data initializer: no loader work.
  EXPECT_TRUE(e->embedded.loaderWork.empty());
  EXPECT_EQ(e->initial.summary(), "none needed");
  EXPECT_EQ(e->scalar("limit"), 8);
  EXPECT_EQ(e->scalar("in_flight"), 0);
  const auto *init = e->abiObject().getObject("init");
  ASSERT_TRUE(init);
  EXPECT_EQ(init->getArray("data_initializer")->size(), 3u);
  EXPECT_EQ(*init->getBoolean("loader_implemented"), true);
}

TEST_F(BackendTest, InitLoaderWork) {
  uint64_t before = monotonicNow();
  auto e = compileFile(SBPF_UNITTEST_INPUTS "/init-loader.mlir", "init_loader",
                       "");
  uint64_t after = monotonicNow();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->initial.mapEntries, 2u);
  EXPECT_EQ(e->initial.scalarsNow, 1u);
  EXPECT_EQ(e->initial.scalarsRandom, 1u);
  ASSERT_EQ(e->embedded.loaderWork.size(), 4u);
  EXPECT_EQ(e->embedded.loaderWork[1].kind, LoaderStep::Kind::StateNow);
  EXPECT_EQ(e->embedded.loaderWork[2].kind, LoaderStep::Kind::StateRandom);
  int64_t started = e->scalar("started");
  EXPECT_GE(uint64_t(started), before);
  EXPECT_LE(uint64_t(started), after);
  // The last write of init stays: the constant, not the random draw.
  EXPECT_EQ(e->scalar("salt"), 5);
  EXPECT_EQ(e->scalar("limit"), 3);
  bpf_map *weights = e->map("weights");
  ASSERT_TRUE(weights);
  auto weight = [&](uint32_t k) -> std::optional<int64_t> {
    int64_t v;
    if (bpf_map_lookup_elem(bpf_map__fd(weights), &k, &v) != 0)
      return std::nullopt;
    return v;
  };
  EXPECT_EQ(weight(7), -2);
  EXPECT_EQ(weight(258), int64_t(1) << 40);
  EXPECT_EQ(weight(8), std::nullopt);
  // The program sees them: kind is at payload offset 68.
  std::vector<uint8_t> p = requestPayload("b", 0, 258);
  EXPECT_EQ(run(*e, request(p)).retval, uint32_t(XDP_PASS));
  EXPECT_EQ(e->scalar("last_weight"), int64_t(1) << 40);
  // The random scalar comes from getrandom: two loads almost surely differ
  // (a false failure has probability 2^-32 per pair; three tries).
  int64_t seed = e->scalar("seed");
  bool differs = false;
  for (int i = 0; i < 3 && !differs; ++i) {
    auto again = compileFile(SBPF_UNITTEST_INPUTS "/init-loader.mlir",
                             "init_loader", "");
    ASSERT_TRUE(again);
    differs = again->scalar("seed") != seed;
  }
  EXPECT_TRUE(differs);
}

TEST_F(BackendTest, FirstSeenAssignsStickyIds) {
  auto e = compile("first_seen");
  ASSERT_TRUE(e);
  bpf_map *sticky = e->map("sticky");
  ASSERT_TRUE(sticky);
  auto [keySize, valueSize] = e->mapSizes("sticky");
  ASSERT_EQ(valueSize, 4u);
  for (llvm::StringRef user : {"bob", "carol", "bob", "dave", "carol"})
    EXPECT_EQ(run(*e, request(requestPayload("b", 0, 0, user))).retval,
              uint32_t(XDP_PASS));
  EXPECT_EQ(e->scalar("assigned"), 3);
  auto lookup = [&](llvm::StringRef user) -> int64_t {
    auto key = padded(user, keySize);
    uint32_t value = 0;
    if (bpf_map_lookup_elem(bpf_map__fd(sticky), key.data(), &value) != 0)
      return -1;
    return value;
  };
  EXPECT_EQ(lookup("bob"), 0);
  EXPECT_EQ(lookup("carol"), 1);
  EXPECT_EQ(lookup("dave"), 2);
  EXPECT_EQ(lookup("eve"), -1);
}

TEST_F(BackendTest, PriorityFaultDropsLowPriorityKindTwo) {
  auto e = compile("priority_fault");
  ASSERT_TRUE(e);
  EXPECT_EQ(run(*e, request(requestPayload("b", 3, 2))).retval,
            uint32_t(XDP_DROP));
  EXPECT_EQ(run(*e, request(requestPayload("b", 3, 1))).retval,
            uint32_t(XDP_PASS));
  EXPECT_EQ(run(*e, request(requestPayload("b", 2, 2))).retval,
            uint32_t(XDP_PASS)); // not above the threshold
  EXPECT_EQ(run(*e, request(requestPayload("b", 0, 2))).retval,
            uint32_t(XDP_PASS));
  EXPECT_EQ(e->rejects("low_priority_dropped"), 1u);
}

TEST_F(BackendTest, ScrambleXorsTheBody) {
  auto e = compile("scramble");
  ASSERT_TRUE(e);
  std::string body = "hello, world";
  std::vector<uint8_t> in = request(requestPayload(body, 7, 8, "u"));
  TestRunResult r = run(*e, in);
  EXPECT_EQ(r.retval, uint32_t(XDP_PASS));
  ASSERT_EQ(r.packetOut.size(), in.size());
  std::vector<uint8_t> expected = in;
  const std::string key = "k3y";
  size_t payload = kUdpHeadersSize + kArpcHeaderSize;
  for (size_t i = 0; i < body.size(); ++i)
    expected[payload + i] = uint8_t(body[i] ^ key[i % key.size()]);
  EXPECT_EQ(toHex(r.packetOut), toHex(expected));
  // A response is scrambled the same way; twice is the identity.
  std::vector<uint8_t> back = response(responsePayload(body));
  TestRunResult r2 = run(*e, back);
  std::vector<uint8_t> twice = r2.packetOut;
  std::vector<uint8_t> resp2 = back;
  std::copy(twice.begin() + payload, twice.begin() + payload + 64,
            resp2.begin() + payload);
  TestRunResult r3 = run(*e, resp2);
  EXPECT_EQ(toHex(r3.packetOut), toHex(back));
}

TEST_F(BackendTest, StringSemantics) {
  auto e = compileFile(SBPF_UNITTEST_INPUTS "/strings.mlir", "strings", "");
  ASSERT_TRUE(e);
  // A str_len scalar: u32 length, then the bytes (unused ones zero).
  auto stored = [&](llvm::StringRef name, size_t cap) {
    for (const llvm::json::Value &v :
         *e->abiObject().getObject("state")->getArray("scalars")) {
      const auto *sc = v.getAsObject();
      if (*sc->getString("name") != name)
        continue;
      std::vector<uint8_t> bytes = e->data();
      size_t off = *sc->getInteger("offset");
      return std::vector<uint8_t>(bytes.begin() + off,
                                  bytes.begin() + off + 4 + cap);
    }
    ADD_FAILURE() << "no scalar " << name.str();
    return std::vector<uint8_t>();
  };
  auto expected = [](size_t len, size_t cap, char fill) {
    std::vector<uint8_t> out(4 + cap, 0);
    std::memcpy(out.data(), &len, 4);
    for (size_t i = 0; i < len; ++i)
      out[4 + i] = uint8_t(fill + i);
    return out;
  };
  // The NUL at every position (20 / 13: none), garbage after it.
  for (size_t n = 0; n <= 20; ++n) {
    size_t m = n % 14;
    std::vector<uint8_t> p(33, 'z');
    for (size_t i = 0; i < 20; ++i)
      p[i] = i < n ? uint8_t('a' + i) : (i == n ? 0 : uint8_t('Z' - i));
    for (size_t i = 0; i < 13; ++i)
      p[20 + i] = i < m ? uint8_t('a' + i) : (i == m ? 0 : uint8_t(0xff - i));
    SCOPED_TRACE(testing::Message() << "s length " << n << ", t length " << m);
    ASSERT_EQ(run(*e, request(p)).retval, uint32_t(XDP_PASS));
    EXPECT_EQ(e->scalar("slen"), int64_t(n));
    EXPECT_EQ(e->scalar("tlen"), int64_t(m));
    EXPECT_EQ(toHex(stored("sname", 20)), toHex(expected(n, 20, 'a')));
    EXPECT_EQ(toHex(stored("tname", 13)), toHex(expected(m, 13, 'a')));
    EXPECT_EQ(toHex(stored("short", 5)),
              toHex(expected(std::min<size_t>(n, 5), 5, 'a')));
    EXPECT_EQ(e->scalar("same"), n == m ? 1 : 0);
  }
}

TEST_F(BackendTest, IntegerSemantics) {
  auto e = compileFile(SBPF_UNITTEST_INPUTS "/arith.mlir", "arith", "");
  ASSERT_TRUE(e);
  const int32_t MIN = INT32_MIN, MAX = INT32_MAX;
  struct Case {
    int32_t a, b;
    uint32_t c, d;
    int64_t big;
  };
  std::vector<Case> cases = {
      {7, 2, 7, 2, 7},         {-7, 2, 300, 7, -7},
      {7, -2, 5, 0, 7},        {-7, -2, 0, 5, -7},
      {5, 0, 0xffffffffu, 1, 5}, {MIN, -1, 0x80000000u, 3, INT64_MIN},
      {MIN, 1, 1, 0xffffffffu, INT64_MIN}, {MAX, MAX, 65535, 65535, INT64_MAX},
      {MIN, 0, 255, 255, INT64_MIN}, {-1, MIN, 17, 16, -1},
  };
  auto sdiv = [](int64_t a, int64_t b, int64_t min) -> int64_t {
    if (b == 0)
      return 0;
    if (a == min && b == -1)
      return min;
    return a / b;
  };
  auto srem = [](int64_t a, int64_t b, int64_t min) -> int64_t {
    if (b == 0)
      return a;
    if (a == min && b == -1)
      return 0;
    return a % b;
  };
  for (const Case &k : cases) {
    std::vector<uint8_t> p(24, 0);
    std::memcpy(p.data(), &k.a, 4);
    std::memcpy(p.data() + 4, &k.b, 4);
    std::memcpy(p.data() + 8, &k.c, 4);
    std::memcpy(p.data() + 12, &k.d, 4);
    std::memcpy(p.data() + 16, &k.big, 8);
    ASSERT_EQ(run(*e, request(p)).retval, uint32_t(XDP_PASS));
    SCOPED_TRACE(testing::Message() << "a=" << k.a << " b=" << k.b
                                    << " c=" << k.c << " d=" << k.d
                                    << " big=" << k.big);
    EXPECT_EQ(e->scalar("sdiv"), sdiv(k.a, k.b, MIN));
    EXPECT_EQ(e->scalar("srem"), srem(k.a, k.b, MIN));
    EXPECT_EQ(e->scalar("udiv"), k.d == 0 ? 0 : k.c / k.d);
    EXPECT_EQ(e->scalar("urem"), k.d == 0 ? k.c : k.c % k.d);
    EXPECT_EQ(e->scalar("mul"), int32_t(uint32_t(k.a) * uint32_t(k.b)));
    EXPECT_EQ(e->scalar("sub"), int32_t(uint32_t(k.a) - uint32_t(k.b)));
    EXPECT_EQ(e->scalar("sext"), int64_t(k.a));
    EXPECT_EQ(e->scalar("zext"), int64_t(uint64_t(k.c)));
    EXPECT_EQ(e->scalar("trunc"), int64_t(uint8_t(k.c)));
    EXPECT_EQ(e->scalar("strunc"), int64_t(int8_t(uint8_t(k.a))));
    EXPECT_EQ(e->scalar("lts"), k.a < k.b ? 1 : 0);
    EXPECT_EQ(e->scalar("ltu"), k.c < k.d ? 1 : 0);
    EXPECT_EQ(e->scalar("mins"), std::min(k.a, k.b));
    EXPECT_EQ(e->scalar("maxu"), int64_t(std::max(k.c, k.d)));
    EXPECT_EQ(e->scalar("sel"), k.c < k.d ? k.a : k.b);
    EXPECT_EQ(e->scalar("sdiv64"), sdiv(k.big, k.b, INT64_MIN));
    EXPECT_EQ(e->scalar("srem64"), srem(k.big, k.b, INT64_MIN));
    EXPECT_EQ(e->scalar("umul8"),
              int64_t(uint8_t(uint8_t(k.c) * uint8_t(k.d))));
  }
}

TEST_F(BackendTest, LogsAndMaps) {
  auto e = compileFile(SBPF_UNITTEST_INPUTS "/logs.appnet", "logs",
                       "--rpc-schema " +
                           shellQuote(std::string(SBPF_EXAMPLES_DIR) +
                                      "/rpc.proto"));
  ASSERT_TRUE(e);
  const auto *init = e->abiObject().getObject("init");
  ASSERT_EQ(init->getArray("loader_work")->size(), 1u);
  EXPECT_EQ(*(*init->getArray("loader_work"))[0].getAsObject()->getString(
                "kind"),
            "state_now");
  std::vector<uint32_t> records;
  bpf_map *rb = e->map("seen");
  ASSERT_TRUE(rb);
  auto callback = [](void *ctx, void *data, size_t size) -> int {
    auto *out = static_cast<std::vector<uint32_t> *>(ctx);
    uint32_t v = 0;
    if (size >= 4)
      std::memcpy(&v, data, 4);
    out->push_back(v);
    return 0;
  };
  ring_buffer *ring = ring_buffer__new(bpf_map__fd(rb), callback, &records,
                                       nullptr);
  ASSERT_TRUE(ring);
  for (uint64_t id = 1; id <= 3; ++id)
    EXPECT_EQ(run(*e, request(requestPayload("b", uint32_t(10 * id)), id))
                  .retval,
              uint32_t(XDP_PASS));
  ring_buffer__consume(ring);
  ring_buffer__free(ring);
  EXPECT_EQ(records, (std::vector<uint32_t>{10, 20, 30}));
  EXPECT_EQ(e->scalar("seen.size"), 3);
  EXPECT_EQ(e->scalar("n"), 3);
  bpf_map *started = e->map("started");
  ASSERT_TRUE(started);
  auto has = [&](uint32_t id) {
    uint64_t t;
    return bpf_map_lookup_elem(bpf_map__fd(started), &id, &t) == 0;
  };
  EXPECT_TRUE(has(1) && has(2) && has(3));
  UdpPacketSpec spec;
  std::swap(spec.srcPort, spec.dstPort);
  ArpcHeader h;
  h.type = ArpcType::Response;
  h.rpcId = 2;
  EXPECT_EQ(run(*e, buildArpcPacket(spec, h, responsePayload("ok"))).retval,
            uint32_t(XDP_PASS));
  EXPECT_TRUE(has(1) && !has(2) && has(3));
}

// netfn's fixed<W, F> reference semantics, in 128 bits on the host.
int64_t wrapTo(__int128 v, unsigned w) {
  uint64_t bits = uint64_t((unsigned __int128)v);
  if (w == 64)
    return int64_t(bits);
  return int64_t(int32_t(uint32_t(bits))); // w == 32
}
int64_t fxMul(int64_t a, int64_t b, unsigned w, unsigned f) {
  return wrapTo(((__int128)a * b) >> f, w); // >> on signed: arithmetic
}
int64_t fxDiv(int64_t a, int64_t b, unsigned w, unsigned f) {
  if (b == 0)
    return 0;
  __int128 n = (__int128)a * ((__int128)1 << f);
  return wrapTo(n / b, w); // C++ division truncates toward zero
}

TEST_F(BackendTest, FixedPointSemantics) {
  auto e = compileFile(SBPF_UNITTEST_INPUTS "/fixed.mlir", "fixed", "");
  ASSERT_TRUE(e);
  const int64_t one = int64_t(1) << 32;
  struct Case {
    int64_t a, b;
    int32_t i;
  };
  std::vector<Case> cases = {
      {3 * one / 2, one / 4, 5},        {-3 * one / 2, one / 4, -5},
      {-3 * one / 2, -(one / 3), 0},    {one / 3, 0, INT32_MIN},
      {INT64_MIN, -1, INT32_MAX},       {INT64_MAX, INT64_MAX, 1},
      {-1, 1, -1},                      {123456789012345, -987654321, 77},
      {-(int64_t(7) << 40), 3 * one + 12345, 2},
  };
  for (const Case &k : cases) {
    std::vector<uint8_t> p(20, 0);
    std::memcpy(p.data(), &k.a, 8);
    std::memcpy(p.data() + 8, &k.b, 8);
    std::memcpy(p.data() + 16, &k.i, 4);
    ASSERT_EQ(run(*e, request(p)).retval, uint32_t(XDP_PASS));
    SCOPED_TRACE(testing::Message()
                 << "a=" << k.a << " b=" << k.b << " i=" << k.i);
    EXPECT_EQ(e->scalar("mul"), fxMul(k.a, k.b, 64, 32));
    EXPECT_EQ(e->scalar("div"), fxDiv(k.a, k.b, 64, 32));
    EXPECT_EQ(e->scalar("add"), int64_t(uint64_t(k.a) + uint64_t(k.b)));
    EXPECT_EQ(e->scalar("sub"), int64_t(uint64_t(k.a) - uint64_t(k.b)));
    EXPECT_EQ(e->scalar("lt"), k.a < k.b ? 1 : 0);
    EXPECT_EQ(e->scalar("toint"), int64_t(int32_t(uint32_t(k.a >> 32))));
    EXPECT_EQ(e->scalar("fromint"), int64_t(uint64_t(int64_t(k.i)) << 32));
    EXPECT_EQ(e->scalar("rescale"), k.a >> 16);
    EXPECT_EQ(e->scalar("upscale"), int64_t(uint64_t(k.a) << 8));
    int64_t a32 = wrapTo(k.a >> 16, 32), b32 = wrapTo(k.b >> 16, 32);
    EXPECT_EQ(e->scalar("mul32"), fxMul(a32, b32, 32, 16));
    EXPECT_EQ(e->scalar("div32"), fxDiv(a32, b32, 32, 16));
    EXPECT_EQ(uint64_t(e->scalar("bits")), 4080218931u);
    EXPECT_EQ(e->scalar("mul62"), fxMul(k.a, k.b, 64, 62));
    EXPECT_EQ(e->scalar("div62"), fxDiv(k.a, k.b, 64, 62));
    EXPECT_EQ(e->scalar("mul56"), fxMul(k.a, k.b, 64, 56));
    EXPECT_EQ(e->scalar("div56"), fxDiv(k.a, k.b, 64, 56));
  }
}

uint64_t doubleBits(double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, 8);
  return bits;
}

TEST_F(BackendTest, PaperFaultDropsFivePercent) {
  auto e = compile("paper_fault");
  ASSERT_TRUE(e);
  // The f64 state is IEEE-754 bits in .data, initialised to 0.95.
  EXPECT_EQ(uint64_t(e->scalar("prob")), doubleBits(0.95));
  const unsigned runs = 20000;
  auto r = testRunPacket(e->program->fd, request(requestPayload("b")), runs);
  ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
  double drops = double(e->rejects("fault_injected"));
  double mean = runs * 0.05, sd = std::sqrt(runs * 0.05 * 0.95);
  EXPECT_NEAR(drops, mean, 4 * sd) << "drops out of " << runs;
}

TEST_F(BackendTest, RandomThresholdExtremes) {
  auto e = compile("counted_fault");
  ASSERT_TRUE(e);
  auto dropsWith = [&](double p) {
    e->setScalar64("keep_prob", doubleBits(p));
    uint64_t before = e->rejects("fault_injected");
    auto r = testRunPacket(e->program->fd, request(requestPayload("b")), 2000);
    if (!r) {
      ADD_FAILURE() << llvm::toString(r.takeError());
      return uint64_t(0);
    }
    return e->rejects("fault_injected") - before;
  };
  EXPECT_EQ(dropsWith(1.0), 0u);   // r * 2^-32 < 1 always
  EXPECT_EQ(dropsWith(2.0), 0u);
  EXPECT_EQ(dropsWith(0.0), 2000u); // never below 0
  EXPECT_EQ(dropsWith(-0.5), 2000u);
  EXPECT_EQ(dropsWith(std::nan("")), 2000u); // NaN compares false
  uint64_t half = dropsWith(0.5);
  EXPECT_NEAR(double(half), 1000.0, 4 * std::sqrt(2000 * 0.25));
  EXPECT_EQ(e->scalar("req_count"), 6 * 2000);
  EXPECT_EQ(uint64_t(e->scalar("drop_count")), 3 * 2000 + half);
}

} // namespace

namespace {

/// A response to request `rpcId` (the response() helper always uses id 1).
std::vector<uint8_t> responseTo(uint64_t rpcId) {
  UdpPacketSpec spec;
  std::swap(spec.srcPort, spec.dstPort);
  std::swap(spec.srcIp, spec.dstIp);
  ArpcHeader h;
  h.type = ArpcType::Response;
  h.rpcId = rpcId;
  return buildArpcPacket(spec, h, responsePayload("ok"));
}

TEST_F(BackendTest, LatencyLogOneEventPerResponse) {
  // latency_log computes seconds as a float: it goes through the
  // float-to-fixed pass, so each sample is a Q31.32 number of seconds.
  auto e = compile("latency_log", "--netfn-float-to-fixed");
  ASSERT_TRUE(e);
  std::vector<int64_t> samples;
  bpf_map *rb = e->map("samples");
  ASSERT_TRUE(rb);
  auto callback = [](void *ctx, void *data, size_t size) -> int {
    auto *out = static_cast<std::vector<int64_t> *>(ctx);
    int64_t raw = 0;
    if (size >= 8)
      std::memcpy(&raw, data, 8);
    out->push_back(raw);
    return 0;
  };
  ring_buffer *ring =
      ring_buffer__new(bpf_map__fd(rb), callback, &samples, nullptr);
  ASSERT_TRUE(ring);
  for (uint64_t id : {1, 2, 3})
    EXPECT_EQ(run(*e, request(requestPayload("b"), id)).retval,
              uint32_t(XDP_PASS));
  // Responses to requests 1 and 3, and to one never seen: two samples.
  for (uint64_t id : {1, 3, 9})
    EXPECT_EQ(run(*e, responseTo(id)).retval, uint32_t(XDP_PASS));
  ring_buffer__consume(ring);
  ring_buffer__free(ring);
  ASSERT_EQ(samples.size(), 2u);
  for (int64_t raw : samples) {
    double seconds = std::ldexp(double(raw), -32);
    EXPECT_GE(seconds, 0.0);
    EXPECT_LT(seconds, 5.0); // the test runs take microseconds
  }
  EXPECT_EQ(e->scalar("samples.size"), 2);
  // Answered requests leave the table; the unanswered one stays.
  bpf_map *started = e->map("started");
  ASSERT_TRUE(started);
  auto has = [&](uint32_t id) {
    uint64_t t;
    return bpf_map_lookup_elem(bpf_map__fd(started), &id, &t) == 0;
  };
  EXPECT_TRUE(!has(1) && has(2) && !has(3));
}

} // namespace
