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

#include "sbpf/Checker/Exec.h"
#include "sbpf/Checker/Object.h"
#include "sbpf/Runtime/Loader.h"
#include "sbpf/Runtime/Packet.h"
#include "sbpf/Runtime/TestRun.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include <chrono>
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
    EXPECT_GT(p.insns.size(), 40u);
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
    // The outcomes partition the inputs.
    z3::solver s(bc.z3());
    z3::expr any = bc.z3().bool_val(false);
    for (const ExecOutcome &o : x.outcomes)
      any = any || o.pathCondition;
    s.add(!any);
    EXPECT_EQ(s.check(), z3::unsat) << e.name << ": outcomes miss inputs";
  }
}

} // namespace
