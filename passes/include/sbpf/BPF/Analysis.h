//===- Analysis.h - facts both BPF backends derive from netfn ---*- C++ -*-===//
//
// The C backend (EmitC.cpp) and the LLVM object path (Conversion/
// NetfnToLLVM.cpp) must name globals identically (libbpf names maps after
// them, and the ABI record is shared) and recognise the same patterns, or the
// two objects would differ. Those shared decisions live here, once.
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_BPF_ANALYSIS_H
#define SBPF_BPF_ANALYSIS_H

#include "mlir/IR/Block.h"
#include "mlir/IR/Operation.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringRef.h"

#include <string>
#include <utility>

namespace sbpf::bpf {

/// A C identifier for a netfn symbol: other characters become '_', and C
/// keywords, names the generated code uses and our prefixes (sbpf_, bpf_,
/// __) get a "u_" prefix.
std::string cIdentifier(llvm::StringRef name);

/// netfn.cmp -> (the uiN draw, the f64 state read or constant it is compared
/// with) for each `cmp lt (mul (cast %r : uiN to f64), 2^-32), %p`, N <= 32,
/// the intermediates used only there: AppNet's `randomf(0, 1) < p`, the one
/// f64 computation the backends compile exactly without
/// --netfn-float-to-fixed. The folded intermediates go into `folded`.
using RandomThresholds =
    llvm::DenseMap<mlir::Operation *, std::pair<mlir::Value, mlir::Operation *>>;
void findRandomThresholds(mlir::Operation *root, RandomThresholds &thresholds,
                          llvm::DenseSet<mlir::Operation *> &folded);

/// netfn.state.write -> (delta, negate) for each `write @x, (add (read @x),
/// d)` (or sub) on a 32/64-bit integer in `block` and its nested blocks, with
/// nothing writing @x in between and the read and add used only there: one
/// atomic add (BPF_ATOMIC | BPF_ADD). The read and add go into `folded`.
using AtomicUpdates =
    llvm::DenseMap<mlir::Operation *, std::pair<mlir::Value, bool>>;
void findAtomicUpdates(mlir::Block &block, AtomicUpdates &updates,
                       llvm::DenseSet<mlir::Operation *> &folded);

} // namespace sbpf::bpf

#endif // SBPF_BPF_ANALYSIS_H
