//===- Passes.h - netfn-to-netfn passes ------------------------*- C++ -*-===//
#ifndef SBPF_PASSES_PASSES_H
#define SBPF_PASSES_PASSES_H

#include "sbpf/Netfn/Netfn.h"

#include "mlir/Pass/Pass.h"

#include <memory>

namespace sbpf {

#define GEN_PASS_DECL
#include "NetfnPasses.h.inc"

std::unique_ptr<mlir::Pass> createNetfnFloatToFixedPass();
std::unique_ptr<mlir::Pass> createNetfnPropagateStateConstantsPass();
std::unique_ptr<mlir::Pass> createNetfnSimplifyPass();
std::unique_ptr<mlir::Pass> createNetfnMergeConditionsPass();
std::unique_ptr<mlir::Pass> createNetfnRemoveImpliedPredicatesPass();
std::unique_ptr<mlir::Pass> createNetfnOrderPredicatesPass();
std::unique_ptr<mlir::Pass> createNetfnSinkPass();
std::unique_ptr<mlir::Pass> createNetfnProfilePredicatesPass();
std::unique_ptr<mlir::Pass> createNetfnValidatePass();
std::unique_ptr<mlir::Pass> createNetfnTestSwapBranchesPass();
/// netfn-validate around the textual pass pipeline `pipeline`, with a Z3
/// time limit per handler.
std::unique_ptr<mlir::Pass> createNetfnValidatePass(llvm::StringRef pipeline,
                                                    unsigned timeoutMs);

/// Optimisation level of the `--appnet-to-bpf` pipeline: 0 runs no netfn
/// optimisation (the naive rule-based baseline), anything else the
/// validated optimisations. sbpf-opt's -O0 sets it to 0; the default is 2.
void setAppNetToBPFOptLevel(unsigned level);

/// Adds the netfn passes an AppNet element goes through before the BPF
/// backend emits it (the `--appnet-to-bpf` pipeline), at the level set by
/// setAppNetToBPFOptLevel.
void buildAppNetToBPFPipeline(mlir::OpPassManager &pm);
void buildAppNetToBPFPipeline(mlir::OpPassManager &pm, unsigned optLevel);

/// Registers the named pipelines (`--appnet-to-bpf`).
void registerNetfnPipelines();

#define GEN_PASS_REGISTRATION
#include "NetfnPasses.h.inc"

} // namespace sbpf

#endif // SBPF_PASSES_PASSES_H
