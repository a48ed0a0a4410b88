//===- EmitC.h - netfn to libbpf-style eBPF C -------------------*- C++ -*-===//
//
// Prints the one netfn.program of a module as a self-contained eBPF C file
// (XDP or tc) that clang's BPF target compiles and the kernel verifier
// accepts, following docs/bpf-abi.md. Constructs the backend cannot compile
// (yet) are reported as errors located at the op; nothing is printed then.
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_BPF_EMITC_H
#define SBPF_BPF_EMITC_H

#include "sbpf/BPF/ABI.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LogicalResult.h"

namespace sbpf::bpf {

/// Emits C for the single netfn.program in `module` to `os`. On success,
/// fills `abi` when given. On failure emits diagnostics (located at the
/// offending op) and writes nothing to `os`.
mlir::LogicalResult emitC(mlir::ModuleOp module, const BackendOptions &options,
                          llvm::raw_ostream &os, ProgramABI *abi = nullptr);

} // namespace sbpf::bpf

#endif // SBPF_BPF_EMITC_H
