//===- InitCheckTest.cpp - the init observable of the checker, tested -----===//
//
// checkInit (checker/lib/InitCheck.cpp) on unittests/bpf/Inputs/
// init-loader.mlir, whose init has every kind of loader work: compiled with
// the C backend and clang-16, it is proven to start in init's state (with a
// scalar first set to a random draw and then to a constant, so the loader's
// one random step must be bound to init's *second* draw); then the ABI
// record is edited by hand, one mistake at a time, and each gives a
// counterexample naming the state it changes (or an error for a record
// that does not fit the object).
//
//===----------------------------------------------------------------------===//
#include "sbpf/BPF/EmitC.h"
#include "sbpf/Checker/Check.h"
#include "sbpf/Netfn/Netfn.h"
#include "sbpf/Runtime/CompileC.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

using namespace sbpf;
using R = sbpf::checker::CheckReport;

namespace {

class InitCheckTest : public ::testing::Test {
protected:
  void SetUp() override {
    ctx.loadDialect<netfn::NetfnDialect>();
    module = mlir::parseSourceFile<mlir::ModuleOp>(SBPF_INIT_LOADER_MLIR, &ctx);
    ASSERT_TRUE(module);
    module->walk([&](netfn::ProgramOp p) { program = p; });
    std::string c;
    llvm::raw_string_ostream os(c);
    ASSERT_TRUE(mlir::succeeded(bpf::emitC(*module, {}, os, &abi)));
    runtime::CompiledC compiled = runtime::compileBPFC(os.str(), "init_loader");
    ASSERT_TRUE(compiled.ok) << compiled.error << compiled.diagnostics;
    object.assign(compiled.object.begin(), compiled.object.end());
  }

  R check(const bpf::ProgramABI &record) {
    return checker::checkInit(program, object, &record);
  }
  bpf::LoaderWork &step(llvm::StringRef kind, llvm::StringRef target) {
    for (bpf::LoaderWork &w : abi.loaderWork)
      if (w.kind == kind && w.target == target)
        return w;
    ADD_FAILURE() << "no " << kind.str() << " step for " << target.str();
    return abi.loaderWork.front();
  }

  mlir::MLIRContext ctx;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  netfn::ProgramOp program;
  bpf::ProgramABI abi;
  std::vector<uint8_t> object;
};

TEST_F(InitCheckTest, ProvenWithEveryKindOfLoaderWork) {
  R r = check(abi);
  ASSERT_EQ(r.status, R::Proven) << r.reason << r.counterexample.text;
  EXPECT_NE(r.init.find("loader work: map entries 2, clock readings 1, "
                        "random values 1"),
            std::string::npos)
      << r.init;
  // The embedded record is the same one.
  EXPECT_EQ(checker::checkInit(program, object, nullptr).status, R::Proven);
}

TEST_F(InitCheckTest, WrongMapValue) {
  // -2 -> -3 at key 7.
  step("map_entry", "weights").value = "fdffffffffffffff";
  R r = check(abi);
  ASSERT_EQ(r.status, R::Different) << r.reason;
  EXPECT_TRUE(r.counterexample.init);
  EXPECT_NE(r.counterexample.text.find(
                "map @weights at key 7: init gives -2, the object has -3"),
            std::string::npos)
      << r.counterexample.text;
  // The replay's prediction at key 7 (bytes 07000000).
  bool seen = false;
  for (const auto &e : r.counterexample.mapsAfter["weights"])
    if (e.key == std::vector<uint8_t>{7, 0, 0, 0}) {
      seen = true;
      EXPECT_EQ(*e.expected, (std::vector<uint8_t>{0xfe, 0xff, 0xff, 0xff,
                                                   0xff, 0xff, 0xff, 0xff}));
      EXPECT_EQ(*e.actual, (std::vector<uint8_t>{0xfd, 0xff, 0xff, 0xff,
                                                 0xff, 0xff, 0xff, 0xff}));
    }
  EXPECT_TRUE(seen);
}

TEST_F(InitCheckTest, ExtraAndMissingEntries) {
  bpf::LoaderWork extra = step("map_entry", "weights");
  extra.key = "09000000";
  abi.loaderWork.push_back(extra);
  R r = check(abi);
  ASSERT_EQ(r.status, R::Different) << r.reason;
  EXPECT_NE(r.counterexample.text.find("map @weights at key 9: init gives no "
                                       "entry, the object has -2"),
            std::string::npos)
      << r.counterexample.text;

  abi.loaderWork.pop_back();
  abi.loaderWork.erase(abi.loaderWork.begin()); // the entry at key 7
  r = check(abi);
  ASSERT_EQ(r.status, R::Different) << r.reason;
  EXPECT_NE(r.counterexample.text.find("differ in: map @weights; map @weights "
                                       "count;"),
            std::string::npos)
      << r.counterexample.text;
}

TEST_F(InitCheckTest, RandomStepAtAnotherScalar) {
  // The random bytes land on @salt (which must stay 5) instead of @seed.
  step("state_random", "seed").offset = abi.findScalar("salt")->layout.offset;
  R r = check(abi);
  ASSERT_EQ(r.status, R::Different) << r.reason;
  EXPECT_NE(r.counterexample.text.find("state @seed;"), std::string::npos);
  EXPECT_NE(r.counterexample.text.find("state @salt;"), std::string::npos);
  EXPECT_TRUE(r.counterexample.dependsOnDrawsOrClocks);
}

TEST_F(InitCheckTest, MissingClockAndExtraRandomStep) {
  bpf::LoaderWork now = step("state_now", "started");
  llvm::erase_if(abi.loaderWork,
                 [](const bpf::LoaderWork &w) { return w.kind == "state_now"; });
  R r = check(abi);
  ASSERT_EQ(r.status, R::Different) << r.reason;
  EXPECT_NE(r.counterexample.text.find("state @started: init gives"),
            std::string::npos)
      << r.counterexample.text;

  // A second random step for @seed: init has no third draw to bind it to,
  // so the loader's bytes are not init's.
  abi.loaderWork.push_back(now);
  abi.loaderWork.push_back(step("state_random", "seed"));
  r = check(abi);
  ASSERT_EQ(r.status, R::Different) << r.reason;
  EXPECT_NE(r.counterexample.text.find("state @seed;"), std::string::npos)
      << r.counterexample.text;
}

TEST_F(InitCheckTest, RecordsThatDoNotFitAreErrors) {
  step("map_entry", "weights").target = "nosuchmap";
  R r = check(abi);
  EXPECT_EQ(r.status, R::Error);
  EXPECT_NE(r.reason.find("init.loader_work[0] (nosuchmap): 'nosuchmap' is "
                          "not one of the record's maps"),
            std::string::npos)
      << r.reason;
}

} // namespace
