//===- ThresholdTest.cpp - probability thresholds survive float-to-fixed --===//
//
// `randomf(0, 1) < p` in f64 against what netfn-float-to-fixed makes of it,
// proven equal by the checker for every draw (Z3's IEEE-754 semantics for
// the f64 program, bit-vectors for the fixed one): the threshold is exact at
// the scale the pass chooses for a probability. The kernel cannot be asked
// (BPF_PROG_TEST_RUN cannot choose the draw), so the boundary draw is
// settled here, against the f64 definition. At Q31.32 (max-scale=32, the
// form before scales were chosen per range) the checker finds the draw
// where the two differ.
//
//===----------------------------------------------------------------------===//
#include "sbpf/Checker/NetfnSemantics.h"
#include "sbpf/Netfn/Netfn.h"
#include "sbpf/Passes/Passes.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

using namespace sbpf;

namespace {

class ThresholdTest : public ::testing::Test {
protected:
  ThresholdTest() {
    mlir::DialectRegistry registry;
    registry.insert<netfn::NetfnDialect>();
    ctx.appendDialectRegistry(registry);
    ctx.loadAllAvailableDialects();
  }

  /// A handler forwarding when `u pred p` for the draw's fraction u.
  mlir::ModuleOp program(double p, const char *pred) {
    char text[1024];
    std::snprintf(text, sizeof(text), R"(
netfn.program @t {
  netfn.event @request "rpc.request" ()
  netfn.handler @req on @request {
    %%r = netfn.random : ui32
    %%f = netfn.cast %%r : ui32 to f64
    %%s = netfn.const 2.3283064365386963E-10 : f64
    %%u = netfn.mul %%f, %%s : f64
    %%p = netfn.const %.17g : f64
    %%c = netfn.cmp %s, %%u, %%p : f64
    netfn.if %%c {
      netfn.forward
    } else {
      netfn.reject "fault_injected"
    }
    netfn.forward
  }
}
)",
                  p, pred);
    modules.push_back(mlir::parseSourceString<mlir::ModuleOp>(text, &ctx));
    EXPECT_TRUE(modules.back()) << text;
    return modules.back().get();
  }

  /// Runs netfn-float-to-fixed with `options` on `m`.
  void toFixed(mlir::ModuleOp m, llvm::StringRef options = "") {
    auto pass = createNetfnFloatToFixedPass();
    ASSERT_TRUE(mlir::succeeded(pass->initializeOptions(options)));
    mlir::PassManager pm(&ctx);
    pm.addPass(std::move(pass));
    ASSERT_TRUE(mlir::succeeded(pm.run(m)));
  }

  static netfn::HandlerOp handler(mlir::ModuleOp m) {
    netfn::HandlerOp h;
    m.walk([&](netfn::HandlerOp op) { h = op; });
    return h;
  }

  checker::EquivalenceResult compare(double p, const char *pred,
                                     llvm::StringRef options = "") {
    mlir::ModuleOp f64 = program(p, pred), fixed = program(p, pred);
    toFixed(fixed, options);
    return checker::checkEquivalence(handler(f64), handler(fixed),
                                     checker::EquivalenceOptions(), 60000);
  }

  mlir::MLIRContext ctx;
  std::vector<mlir::OwningOpRef<mlir::ModuleOp>> modules;
};

TEST_F(ThresholdTest, ExactOnEveryDraw) {
  // Probabilities of several magnitudes (the largest double below 1, one
  // below 2^-10 that scale 62 cannot hold exactly, a power of two), each
  // with a strict and a non-strict comparison.
  for (double p : {0.9, 0.95, 0.5, 0.001, 0.123456789, 0.99999999999999989,
                   1e-5, std::ldexp(1.0, -33)})
    for (const char *pred : {"lt", "ge"}) {
      checker::EquivalenceResult r = compare(p, pred);
      EXPECT_EQ(r.status, checker::EquivalenceResult::Equivalent)
          << "p = " << p << ", " << pred << ": " << r.reason
          << r.counterexample;
    }
}

TEST_F(ThresholdTest, RoundedAtQ31_32) {
  // 0.9 * 2^32 = 3865470566.4 rounds down to 3865470566: the draw
  // r = 3865470566 = 0xe6666666 has r * 2^-32 < 0.9 in f64, not in Q31.32
  // (the only draw where they differ, so the solver names it).
  checker::EquivalenceResult r = compare(0.9, "lt", "max-scale=32");
  ASSERT_EQ(r.status, checker::EquivalenceResult::Different) << r.reason;
  EXPECT_NE(r.counterexample.find("draw 0 = #xe6666666"), std::string::npos)
      << r.counterexample;
  EXPECT_NE(r.counterexample.find("forward vs reject"), std::string::npos)
      << r.counterexample;
}

} // namespace
