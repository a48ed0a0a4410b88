//===- ObjectExecTest.cpp - the executor on every example's ELF object ----===//
//
// Every example element (examples/appnet and kinds/) is compiled with
// `sbpf-opt --appnet-to-bpf --emit=c` and clang's BPF target into an object
// (the bytes --emit=obj writes, without its validation, which uses this
// executor); the object is parsed
// (programs, BTF maps, global data, relocations) and executed symbolically
// in full (every path), within the time budget. Then a few concrete packets
// (the representative aRPC request, a response, a non-IP frame, a truncated
// one) are run both through the executor (concrete inputs: the object's
// initial global data, empty maps) and through BPF_PROG_TEST_RUN on the
// loaded object; the verdict, the output packet, the global data and every
// hash map's entries must agree.
//
//===----------------------------------------------------------------------===//

#include "ConcretePacket.h"
#include "sbpf/Checker/Exec.h"
#include "sbpf/Checker/Object.h"
#include "sbpf/Runtime/Loader.h"
#include "sbpf/Runtime/Packet.h"
#include "sbpf/Runtime/TestRun.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace sbpf::checker::bytecode;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> exampleFiles() {
  std::vector<std::string> out;
  for (const char *dir : {SBPF_EXAMPLES_DIR, SBPF_EXAMPLES_DIR "/kinds"})
    for (const auto &e : fs::directory_iterator(dir))
      if (e.path().extension() == ".appnet")
        out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

/// Compiles `appnet` to an object in a temporary directory (sbpf-opt
/// --emit=c, then clang's BPF target, as the backend does); empty on error.
std::vector<uint8_t> compile(const std::string &appnet, std::string &error) {
  fs::path dir = fs::temp_directory_path() /
                 ("sbpf-exec-test-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::string stem = fs::path(appnet).stem().string();
  fs::path cfile = dir / (stem + ".bpf.c");
  fs::path obj = dir / (stem + ".bpf.o");
  fs::path log = dir / "log.txt";
  std::string cmd = std::string(SBPF_OPT_PATH) + " --appnet-to-bpf " + appnet +
                    " --rpc-schema " SBPF_EXAMPLES_DIR "/rpc.proto --emit=c -o " +
                    cfile.string() + " > " + log.string() + " 2>&1 && " +
                    SBPF_CLANG_PATH " -O2 -g -target bpf -mcpu=v3 -I" +
                    SBPF_MULTIARCH_INCLUDE " -c " + cfile.string() + " -o " +
                    obj.string() + " >> " + log.string() + " 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    std::ifstream l(log);
    std::stringstream ss;
    ss << l.rdbuf();
    error = "compiling failed: " + ss.str();
    return {};
  }
  std::ifstream f(obj, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

struct ExampleObject {
  std::string name;
  std::vector<uint8_t> bytes;
};

const std::vector<ExampleObject> &examples() {
  static std::vector<ExampleObject> all = [] {
    std::vector<ExampleObject> v;
    for (const std::string &f : exampleFiles()) {
      std::string err;
      std::vector<uint8_t> b = compile(f, err);
      EXPECT_FALSE(b.empty()) << f << ": " << err;
      v.push_back({fs::path(f).stem().string(), std::move(b)});
    }
    return v;
  }();
  return all;
}

TEST(ObjectExec, ParsesEveryExample) {
  for (const ExampleObject &e : examples()) {
    ObjectParseResult r = parseObject(e.bytes.data(), e.bytes.size(), e.name);
    ASSERT_TRUE(r.ok()) << r.error;
    const BpfObject &o = *r.object;
    ASSERT_EQ(o.programs.size(), 1u) << e.name;
    const Program &p = o.programs[0];
    EXPECT_EQ(p.hook, Hook::XDP) << e.name;
    EXPECT_EQ(p.section, "xdp");
    // Every program ends in an exit (null's whole program is `r0 = PASS;
    // exit`: its only handler forwards, so nothing is parsed).
    ASSERT_GE(p.insns.size(), 2u) << e.name;
    EXPECT_EQ(p.insns.back().opcode, op::JMP | op::EXIT) << e.name;
    EXPECT_TRUE(o.sections.count(".sbpf.abi")) << e.name;
    // Global data is a map named after its section, with its bytes.
    int data = o.findMap(".data");
    if (data >= 0) {
      EXPECT_TRUE(o.maps[data].globalData);
      EXPECT_EQ(o.maps[data].initialData.size(), o.maps[data].valueSize);
    }
    // The scratch map is a BTF-defined per-CPU array of one entry.
    int scratch = o.findMap("sbpf_scratch");
    if (scratch >= 0) {
      EXPECT_EQ(o.maps[scratch].type, maptype::PercpuArray);
      EXPECT_EQ(o.maps[scratch].keySize, 4u);
      EXPECT_EQ(o.maps[scratch].maxEntries, 1u);
    }
  }
}

// Damaged objects are refused with a reason, never an abort: LLVM's ELF
// symbol and relocation iterators call report_fatal_error on tables whose
// size is not a whole number of entries or whose links are out of range,
// so parseObject checks those headers first. Every section header field the
// iterators trust is damaged in turn, then random bytes anywhere (fixed
// seed); a crash fails the whole test binary.
TEST(ObjectExec, DamagedObjectsGiveAnError) {
  const ExampleObject &e = examples().front();
  const std::vector<uint8_t> &good = e.bytes;
  auto get = [&](const std::vector<uint8_t> &b, size_t at, size_t n) {
    uint64_t v = 0;
    std::memcpy(&v, b.data() + at, n);
    return v;
  };
  auto put = [](std::vector<uint8_t> &b, size_t at, size_t n, uint64_t v) {
    std::memcpy(b.data() + at, &v, n);
  };
  uint64_t shoff = get(good, 0x28, 8);
  uint64_t shnum = get(good, 0x3c, 2);
  ASSERT_LE(shoff + shnum * 64, good.size());
  unsigned refusedTables = 0;
  for (uint64_t i = 0; i < shnum; ++i) {
    size_t sh = shoff + i * 64;
    uint32_t type = uint32_t(get(good, sh + 4, 4));
    bool table = type == 2 /*SYMTAB*/ || type == 4 /*RELA*/ || type == 9 /*REL*/;
    // sh_offset, sh_size, sh_link, sh_info, sh_entsize.
    for (auto [at, n] : {std::pair<size_t, size_t>{24, 8}, {32, 8}, {40, 4},
                         {44, 4}, {56, 8}}) {
      for (uint64_t delta : {1ull, 7ull, 1000ull, ~0ull >> 1}) {
        std::vector<uint8_t> bad = good;
        put(bad, sh + at, n, get(good, sh + at, n) + delta);
        ObjectParseResult r = parseObject(bad.data(), bad.size(), e.name);
        EXPECT_TRUE(r.ok() || !r.error.empty());
        if (table && at == 32 && delta == 1) {
          EXPECT_FALSE(r.ok()) << "section " << i;
          EXPECT_NE(r.error.find("whole number"), std::string::npos) << r.error;
          ++refusedTables;
        }
      }
    }
  }
  EXPECT_GE(refusedTables, 2u); // the symbol table and a relocation table
  std::srand(42);
  for (int k = 0; k < 2000; ++k) {
    std::vector<uint8_t> bad = good;
    for (int j = 0, n = 1 + std::rand() % 8; j < n; ++j)
      bad[std::rand() % bad.size()] = uint8_t(std::rand());
    ObjectParseResult r = parseObject(bad.data(), bad.size(), e.name);
    EXPECT_TRUE(r.ok() || !r.error.empty());
    EXPECT_EQ(r.error.find("basic_string"), std::string::npos) << r.error;
  }
}

TEST(ObjectExec, EveryExampleRunsSymbolically) {
  std::printf("%-20s %6s %7s %6s %7s %8s %8s\n", "example", "insns", "exits",
              "merges", "solver", "steps", "ms");
  for (const ExampleObject &e : examples()) {
    ObjectParseResult r = parseObject(e.bytes.data(), e.bytes.size(), e.name);
    ASSERT_TRUE(r.ok()) << r.error;
    const Program &p = r.object->programs[0];
    BytecodeContext bc;
    ExecLimits limits;
    if (const char *m = std::getenv("SBPF_EXEC_MAX_STEPS"))
      limits.maxSteps = std::strtoul(m, nullptr, 10);
    if (std::getenv("SBPF_EXEC_NOPRUNE"))
      limits.pruneInfeasible = false;
    if (const char *m = std::getenv("SBPF_EXEC_ONLY"))
      if (e.name != m)
        continue;
    ProgramExecResult x = executeProgram(bc, p, ExecInputs{}, limits);
    std::fflush(stdout);
    ASSERT_TRUE(x.ok()) << e.name << ": " << x.message;
    ASSERT_FALSE(x.outcomes.empty());
    std::printf("%-20s %6zu %7zu %6zu %7zu %8zu %8.0f\n", e.name.c_str(),
                p.insns.size(), x.stats.exits, x.stats.merges,
                x.stats.solverCalls, x.stats.steps, x.stats.seconds * 1000);
    EXPECT_LT(x.stats.seconds, 1.0) << e.name;
    // The outcomes cover every input: no input satisfies none of the path
    // conditions. (Bounded: a merged condition of the largest objects can
    // take the solver longer than this test should; such cases are counted
    // as unknown, and the kernel comparison below covers concrete inputs.)
    z3::solver s(bc.z3());
    z3::params sp(bc.z3());
    sp.set("timeout", 1000u);
    s.set(sp);
    z3::expr any = bc.z3().bool_val(false);
    for (const ExecOutcome &o : x.outcomes)
      any = any || o.pathCondition;
    s.add(!any);
    z3::check_result cover = s.check();
    EXPECT_NE(cover, z3::sat) << e.name << ": outcomes miss inputs";
    if (cover == z3::unknown)
      std::printf("%-20s coverage of the path conditions: unknown (%s)\n",
                  e.name.c_str(), s.reason_unknown().c_str());
  }
}

/// Kernel map contents: key bytes -> value bytes (per-CPU values summed as
/// u64 when 8 bytes wide, else CPU 0's copy).
using Entries = std::map<std::vector<uint8_t>, std::vector<uint8_t>>;

Entries readMap(struct bpf_map *map) {
  Entries out;
  int fd = bpf_map__fd(map);
  unsigned ks = bpf_map__key_size(map), vs = bpf_map__value_size(map);
  bool percpu = bpf_map__type(map) == BPF_MAP_TYPE_PERCPU_ARRAY ||
                bpf_map__type(map) == BPF_MAP_TYPE_PERCPU_HASH;
  int cpus = percpu ? libbpf_num_possible_cpus() : 1;
  size_t stride = percpu ? (vs + 7) / 8 * 8 : vs;
  std::vector<uint8_t> key(ks), next(ks), val(stride * cpus);
  bool first = true;
  while (bpf_map_get_next_key(fd, first ? nullptr : key.data(), next.data()) ==
         0) {
    first = false;
    key = next;
    if (bpf_map_lookup_elem(fd, key.data(), val.data()) != 0)
      continue;
    std::vector<uint8_t> v(val.begin(), val.begin() + vs);
    if (percpu && vs == 8) {
      uint64_t sum = 0;
      for (int c = 0; c < cpus; ++c) {
        uint64_t x;
        std::memcpy(&x, val.data() + c * stride, 8);
        sum += x;
      }
      std::memcpy(v.data(), &sum, 8);
    }
    out[key] = v;
  }
  return out;
}

std::vector<uint8_t> testPayload(size_t n) {
  std::vector<uint8_t> p(n);
  for (size_t i = 0; i < n; ++i)
    p[i] = i % 16 == 11 ? 0 : uint8_t('a' + (i * 7) % 26);
  return p;
}

/// The packets every example is run on: requests, responses (success and
/// failure), a request to another port, a non-IPv4 frame, a truncated one.
std::vector<std::pair<std::string, std::vector<uint8_t>>> testPackets() {
  using namespace sbpf::runtime;
  std::vector<std::pair<std::string, std::vector<uint8_t>>> v;
  UdpPacketSpec spec;
  ArpcHeader h;
  v.push_back({"request", buildArpcPacket(spec, h, testPayload(200))});
  h.rpcId = 7;
  v.push_back({"request 2", buildArpcPacket(spec, h, testPayload(120))});
  h.type = ArpcType::Response;
  v.push_back({"response", buildArpcPacket(spec, h, testPayload(200))});
  h.type = ArpcType::Error;
  v.push_back({"error response", buildArpcPacket(spec, h, testPayload(200))});
  UdpPacketSpec other = spec;
  other.dstPort = 9001;
  v.push_back({"other port", buildArpcPacket(other, ArpcHeader{}, testPayload(80))});
  std::vector<uint8_t> ipv6 = v[0].second;
  ipv6[12] = 0x86, ipv6[13] = 0xdd;
  v.push_back({"ipv6", ipv6});
  v.push_back({"truncated", std::vector<uint8_t>(v[0].second.begin(),
                                                 v[0].second.begin() + 50)});
  return v;
}

// The executor on concrete inputs against BPF_PROG_TEST_RUN: for every
// example and packet, the kernel's verdict, output packet, global data,
// hash-map entries and reject counters must be a possible outcome of the
// executor on that packet and the kernel's state before the run, and the
// only one when the run used no random draw or clock reading.
TEST(ObjectExec, AgreesWithKernelOnPackets) {
  if (llvm::Error err = sbpf::runtime::probeProgramLoad())
    GTEST_SKIP() << "cannot load BPF programs: " << llvm::toString(std::move(err));
  unsigned runs = 0, determined = 0;
  double tExec = 0, tSolve = 0, tBuild = 0;
  auto now = [] { return std::chrono::steady_clock::now(); };
  auto since = [](auto t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
        .count();
  };
  for (const ExampleObject &e : examples()) {
    ObjectParseResult parsed =
        parseObject(e.bytes.data(), e.bytes.size(), e.name);
    ASSERT_TRUE(parsed.ok()) << parsed.error;
    const Program &prog = parsed.object->programs[0];
    auto file = sbpf::runtime::ObjectFile::fromBytes(e.bytes, e.name);
    ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
    auto loaded = sbpf::runtime::loadObject(*file);
    ASSERT_TRUE(bool(loaded)) << llvm::toString(loaded.takeError());
    int progFd = loaded->programs()[0].fd;
    std::map<std::string, struct bpf_map *> kmaps; // by executor map name
    struct bpf_map *km;
    bpf_object__for_each_map(km, loaded->libbpfObject()) {
      std::string n = bpf_map__name(km);
      for (const MapDef &m : prog.maps)
        if (n == m.name || (m.globalData && n.size() >= m.name.size() &&
                            n.compare(n.size() - m.name.size(), m.name.size(),
                                      m.name) == 0))
          kmaps[m.name] = km;
    }
    for (auto &[what, packet] : testPackets()) {
      auto tb = now();
      BytecodeContext bc;
      z3::context &c = bc.z3();
      tBuild -= since(tb);
      ExecInputs in;
      test::setConcretePacket(c, in, packet);
      std::map<std::string, Entries> before;
      for (const MapDef &m : prog.maps) {
        if (!kmaps.count(m.name) || m.type == maptype::Ringbuf)
          continue;
        Entries ent = readMap(kmaps[m.name]);
        before[m.name] = ent;
        if (m.type == maptype::PercpuArray) {
          in.maps.insert_or_assign(m.name, concreteMapState(c, m, {})); // deltas
          continue;
        }
        std::vector<std::pair<std::vector<uint8_t>, std::vector<uint8_t>>> v(
            ent.begin(), ent.end());
        in.maps.insert_or_assign(m.name, concreteMapState(c, m, v));
      }
      tBuild += since(tb);
      auto t0 = now();
      ProgramExecResult x = executeProgram(bc, prog, in, {}, /*mergeExits=*/true);
      tExec += since(t0);
      ASSERT_TRUE(x.ok()) << e.name << " on " << what << ": " << x.message;
      ASSERT_EQ(x.outcomes.size(), 1u);
      auto run = sbpf::runtime::testRunPacket(progFd, packet);
      ASSERT_TRUE(bool(run)) << llvm::toString(run.takeError());
      const ExecOutcome &o = x.outcomes[0];
      // Named parts, so that a disagreement says which part differs.
      std::vector<std::pair<std::string, z3::expr>> parts;
      z3::expr agree = o.r0.extract(31, 0) == c.bv_val(run->retval, 32);
      parts.push_back({"verdict", agree});
      z3::expr pkt = (o.packetEnd - o.packetStart) ==
                     c.bv_val(uint64_t(run->packetOut.size()), 64);
      for (size_t i = 0; i < run->packetOut.size(); ++i)
        pkt = pkt && z3::select(o.packet, o.packetStart + c.bv_val(i, 64)) ==
                         c.bv_val(run->packetOut[i], 8);
      parts.push_back({"packet", pkt});
      agree = agree && pkt;
      for (size_t mi = 0; mi < prog.maps.size(); ++mi) {
        const MapDef &m = prog.maps[mi];
        if (!before.count(m.name))
          continue;
        Entries after = readMap(kmaps[m.name]);
        if (m.globalData) {
          z3::expr d = mapValueBits(c, m, o.maps[mi], c.bv_val(0, 32)) ==
                       bytesToBits(c, after[std::vector<uint8_t>(4, 0)]);
          parts.push_back({m.name, d});
          agree = agree && d;
        } else if (m.type == maptype::PercpuArray) {
          if (m.name != "sbpf_rejects")
            continue; // scratch space: contents are not an outcome
          for (auto &[k, v] : after) {
            uint64_t a, b = 0;
            std::memcpy(&a, v.data(), 8);
            if (before[m.name].count(k))
              std::memcpy(&b, before[m.name][k].data(), 8);
            agree = agree && mapValueBits(c, m, o.maps[mi], bytesToBits(c, k)) ==
                                 c.bv_val(a - b, 64);
          }
        } else if (m.isHash()) {
          for (auto &[k, v] : after)
            agree = agree && z3::select(*o.maps[mi].present, bytesToBits(c, k)) &&
                    z3::select(o.maps[mi].values, bytesToBits(c, k)) ==
                        bytesToBits(c, v);
          for (auto &[k, v] : before[m.name])
            if (!after.count(k))
              agree = agree && !z3::select(*o.maps[mi].present, bytesToBits(c, k));
          agree = agree && *o.maps[mi].count == c.bv_val(after.size(), 64);
        }
      }
      auto t1 = now();
      // Concrete inputs usually make both formulas constants: simplification
      // decides them; the solver is asked otherwise (draws, clock readings).
      z3::expr possible = (o.pathCondition && agree).simplify();
      z3::solver s(c);
      s.add(possible);
      bool isPossible = possible.is_true() || s.check() == z3::sat;
      std::string bad;
      if (!isPossible)
        for (auto &[n, part] : parts) {
          z3::solver one(c);
          one.add(o.pathCondition && part);
          if (one.check() != z3::sat)
            bad += " " + n;
        }
      EXPECT_TRUE(isPossible)
          << e.name << " on " << what << ": the kernel's result (verdict "
          << run->retval << ") is not an outcome of the executor; differs in:"
          << bad;
      if (x.draws.empty() && x.clocks.empty()) {
        z3::expr other = (o.pathCondition && !agree).simplify();
        z3::solver u(c);
        u.add(other);
        EXPECT_TRUE(other.is_false() || u.check() == z3::unsat)
            << e.name << " on " << what << ": the executor allows another result";
        ++determined;
      }
      ++runs;
      tSolve += since(t1);
      if (std::getenv("SBPF_EXEC_DEBUG"))
        std::printf("%s %s: exec %.3f s, total solve %.3f s\n", e.name.c_str(),
                    what.c_str(), since(t0), tSolve);
    }
  }
  std::printf("examples against the kernel: %u runs agree (%u fully "
              "determined, the rest depend on random draws or clock readings); "
              "inputs %.1f s, executor %.1f s, solver %.1f s\n",
              runs, determined, tBuild, tExec, tSolve);
}

} // namespace
