//===- InitAll.h - the dialects and passes every SimpleBPF tool knows -*- C++ -*-===//
#ifndef SBPF_INITALL_H
#define SBPF_INITALL_H

#include "sbpf/Conversion/NetfnToLLVM.h"
#include "sbpf/Netfn/Netfn.h"
#include "sbpf/Passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Transforms/Passes.h"

namespace sbpf {

/// netfn plus the upstream dialects the lowering to BPF goes through.
inline void registerAllDialects(mlir::DialectRegistry &registry) {
  registry.insert<netfn::NetfnDialect, mlir::arith::ArithDialect,
                  mlir::cf::ControlFlowDialect, mlir::func::FuncDialect,
                  mlir::LLVM::LLVMDialect, mlir::scf::SCFDialect>();
}

/// Upstream generic transformations (canonicalize, cse, inline, ...) and
/// SimpleBPF's own passes (passes/include/sbpf/Passes/Passes.td) and the
/// conversion passes (passes/include/sbpf/Conversion/Passes.td).
inline void registerAllPasses() {
  mlir::registerTransformsPasses();
  registerNetfnPasses();
  registerNetfnPipelines();
  registerConversionPasses();
}

} // namespace sbpf

#endif // SBPF_INITALL_H
