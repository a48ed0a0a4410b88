//===- NetfnToLLVM.h - netfn to LLVM dialect to eBPF objects ---*- C++ -*-===//
//
// The object path without clang: the netfn.program is lowered to the LLVM
// dialect (lowerNetfnToLLVM, also the pass `convert-netfn-to-llvm`), then
// translated to LLVM IR, given BTF-producing debug info and compiled by
// LLVM's BPF target in process (translateToBPFObject). The layout (globals,
// maps, records) is the C backend's ABI record, so both paths make objects
// the same loader, checker and tests understand (docs/bpf-abi.md).
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_CONVERSION_NETFNTOLLVM_H
#define SBPF_CONVERSION_NETFNTOLLVM_H

#include "sbpf/BPF/ABI.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Support/LogicalResult.h"

#include <memory>
#include <string>

namespace sbpf {

/// Replaces the one netfn.program of `module` by its eBPF program in the
/// LLVM dialect. Fills `abi` (when given) with the program's ABI record,
/// which the lowered module also embeds in section `.sbpf.abi`. On failure
/// reports located errors and leaves `module` unchanged.
mlir::LogicalResult lowerNetfnToLLVM(mlir::ModuleOp module,
                                     const bpf::BackendOptions &options,
                                     bpf::ProgramABI *abi = nullptr);

/// Translates a module made by lowerNetfnToLLVM to LLVM IR, adds the debug
/// info that becomes BTF (maps, global data, the program), runs LLVM's -O2
/// pipeline and the BPF target (cpu v3) and returns the ELF object in
/// `object`. With `irOut`, prints the optimised LLVM IR there instead of
/// making an object. Errors are reported through the module's context.
mlir::LogicalResult translateToBPFObject(mlir::ModuleOp module,
                                         std::string &object,
                                         llvm::raw_ostream *irOut = nullptr);

#define GEN_PASS_DECL
#include "ConversionPasses.h.inc"

#define GEN_PASS_REGISTRATION
#include "ConversionPasses.h.inc"

} // namespace sbpf

#endif // SBPF_CONVERSION_NETFNTOLLVM_H
