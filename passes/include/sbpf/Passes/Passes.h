//===- Passes.h - netfn-to-netfn passes ------------------------*- C++ -*-===//
#ifndef SBPF_PASSES_PASSES_H
#define SBPF_PASSES_PASSES_H

#include "sbpf/Netfn/Netfn.h"

#include "mlir/Pass/Pass.h"

#include <memory>

namespace sbpf {

std::unique_ptr<mlir::Pass> createNetfnFloatToFixedPass();

/// Adds the netfn passes an AppNet element goes through before the BPF
/// backend emits it (the `--appnet-to-bpf` pipeline).
void buildAppNetToBPFPipeline(mlir::OpPassManager &pm);

/// Registers the named pipelines (`--appnet-to-bpf`).
void registerNetfnPipelines();

#define GEN_PASS_REGISTRATION
#include "NetfnPasses.h.inc"

} // namespace sbpf

#endif // SBPF_PASSES_PASSES_H
