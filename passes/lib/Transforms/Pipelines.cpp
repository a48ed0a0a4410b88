//===- Pipelines.cpp - named pass pipelines of SimpleBPF ------------------===//
#include "sbpf/Passes/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

void sbpf::buildAppNetToBPFPipeline(mlir::OpPassManager &pm) {
  // eBPF has no floating point: every real becomes Q31.32 fixed point, with
  // exact forms for random thresholds and nanosecond conversions.
  pm.addPass(createNetfnFloatToFixedPass());
  // The backend itself (netfn -> eBPF C -> object, then the kernel verifier)
  // runs after the pipeline, in sbpf-opt's --emit=c|obj step.
}

void sbpf::registerNetfnPipelines() {
  mlir::PassPipelineRegistration<>(
      "appnet-to-bpf",
      "The whole pipeline from an AppNet element to BPF: the netfn passes, "
      "then (with -o X.o or --emit=obj|c) the eBPF object or C",
      buildAppNetToBPFPipeline);
}
