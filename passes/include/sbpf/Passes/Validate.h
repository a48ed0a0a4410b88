//===- Validate.h - proofs that a netfn rewrite kept the meaning -*- C++ -*-===//
//
// Translation validation for the optimisation passes: the checker (Z3) is
// asked whether a handler after a rewrite is the same function of its inputs
// as before. This header does not expose Z3, so passes compiled with
// -fno-exceptions can call it; the implementation (Validate.cpp) is compiled
// with -fexceptions and never throws.
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_PASSES_VALIDATE_H
#define SBPF_PASSES_VALIDATE_H

#include "sbpf/Netfn/Netfn.h"

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace sbpf {

struct RewriteProof {
  enum Status { Proven, Different, Unknown } status = Unknown;
  /// Different: the counterexample; Unknown: why (time limit, an op without
  /// SMT semantics, ...).
  std::string detail;
};

/// Is `after` the same function of its inputs as `before`? Both handlers'
/// programs must have the same init; a scalar state that no handler of
/// either program writes is assumed to hold init's value (it can never hold
/// anything else), which is what makes constant state propagation provable.
/// With `explain` false a Different answer has no counterexample (faster:
/// for rewrites that are only tried). Proven pairs are remembered (by the
/// printed text of both programs and the handler's name), so proving the
/// same pair again costs no query: a pass that proved its final result
/// against the validation baseline spares netfn-validate its query.
/// With `structuralOnly` the proof is by simplification alone (no solver
/// call; checker::EquivalenceOptions::structuralOnly).
RewriteProof proveHandlerUnchanged(netfn::HandlerOp before,
                                   netfn::HandlerOp after, unsigned timeoutMs,
                                   bool explain = true,
                                   bool structuralOnly = false);

/// The module as it was when the innermost running netfn-validate started
/// its pipeline (null outside one). Passes that prove their own rewrites
/// prove them against it, so that netfn-validate finds the proof made.
mlir::ModuleOp getValidationBaseline();
void setValidationBaseline(mlir::ModuleOp baseline);

} // namespace sbpf

#endif // SBPF_PASSES_VALIDATE_H
