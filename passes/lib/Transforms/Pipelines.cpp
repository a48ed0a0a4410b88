//===- Pipelines.cpp - named pass pipelines of SimpleBPF ------------------===//
//
// `--appnet-to-bpf`: what an AppNet element goes through before the BPF
// backend. At -O0 only the representation change eBPF forces (no floating
// point); by default also the netfn optimisations, wrapped in
// netfn-validate so that the checker proves every handler unchanged in
// meaning after them (a counterexample fails the compilation; an undecided
// proof reverts the group's change).
//
//===----------------------------------------------------------------------===//
#include "sbpf/Passes/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

static unsigned appNetToBPFOptLevel = 2;

void sbpf::setAppNetToBPFOptLevel(unsigned level) {
  appNetToBPFOptLevel = level;
}

void sbpf::buildAppNetToBPFPipeline(mlir::OpPassManager &pm) {
  buildAppNetToBPFPipeline(pm, appNetToBPFOptLevel);
}

void sbpf::buildAppNetToBPFPipeline(mlir::OpPassManager &pm,
                                    unsigned optLevel) {
  // eBPF has no floating point: every real becomes 64-bit fixed point, the
  // scale chosen per value range (Q31.32 where the range is unbounded), with
  // exact forms for random thresholds and nanoseconds. Needed at every
  // level (it is not an optimisation), and not validated against the f64
  // program: it changes the meaning within the documented rounding.
  pm.addPass(createNetfnFloatToFixedPass());
  if (optLevel == 0)
    return;
  // Z3 time limit per proof. Compilation time matters (make bench: under
  // 100 ms per element end to end); a proof not found in time reverts that
  // pass's change with a warning, it never fails the build.
  const unsigned proofMs = 1000;
  // The optimisations run as one validated group: the checker proves each
  // changed handler equal to the one before the group (one query per
  // handler instead of one per pass: validation is most of the time the
  // optimisation costs). Each pass is validated on its own in its lit test.
  std::string group =
      // State that only init sets is a constant: its reads become
      // immediates (no load from the state map; the constants feed the
      // folds below).
      "netfn-propagate-state-constants,"
      // Fold what the constants decided (comparisons, branches, selects)
      // and narrow randomf thresholds to 32-bit compares of the draw.
      "netfn-simplify,"
      // One test instead of two nested branches with the same else arm.
      "netfn-merge-conditions,"
      // Conjuncts implied (or refuted) by the path to them are dropped,
      // each proven with Z3 before it is; after merging, so that the merged
      // condition's parts see each other. It folds what it decides.
      "netfn-remove-implied-predicates{timeout-ms=500},"
      // Ops that write nothing next to their uses: into the one branch
      // that needs them, after a test that may end the handler. Last, so
      // that it moves what the folds above left.
      "netfn-sink";
  pm.addPass(createNetfnValidatePass(group, proofMs));
  // The backend itself (netfn -> eBPF C -> object, then the kernel verifier)
  // runs after the pipeline, in sbpf-opt's --emit=c|obj step. Profile-guided
  // predicate ordering needs a profile: add
  // --netfn-order-predicates=profile=FILE after the pipeline.
}

void sbpf::registerNetfnPipelines() {
  mlir::PassPipelineRegistration<>(
      "appnet-to-bpf",
      "The whole pipeline from an AppNet element to BPF: the netfn passes "
      "(validated optimisations unless sbpf-opt -O0), then (with -o X.o or "
      "--emit=obj|c) the eBPF object or C",
      [](mlir::OpPassManager &pm) { buildAppNetToBPFPipeline(pm); });
}
