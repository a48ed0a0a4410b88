//===- Validate.cpp - proofs that a netfn rewrite kept the meaning --------===//
//
// The one place where the passes reach the checker. Compiled with
// -fexceptions (the checker's header includes Z3's C++ API); checkEquivalence
// itself never throws.
//
//===----------------------------------------------------------------------===//
#include "sbpf/Passes/Validate.h"

#include "sbpf/Checker/NetfnSemantics.h"
#include <mutex>

sbpf::RewriteProof sbpf::proveHandlerUnchanged(netfn::HandlerOp before,
                                               netfn::HandlerOp after,
                                               unsigned timeoutMs,
                                               bool explain) {
  checker::EquivalenceOptions options;
  options.unwrittenStateIsInitial = true;
  options.counterexample = explain;
  // One Z3 context for every proof of the process, never destroyed: Z3's
  // context teardown costs about 100 ms with string-typed events, far more
  // than the queries themselves (a few ms each); the process exit frees it.
  static std::mutex lock;
  static checker::SemContext *shared = new checker::SemContext;
  std::lock_guard<std::mutex> guard(lock);
  checker::EquivalenceResult r = checker::checkEquivalence(
      *shared, before, after, options, timeoutMs);
  RewriteProof proof;
  switch (r.status) {
  case checker::EquivalenceResult::Equivalent:
    proof.status = RewriteProof::Proven;
    break;
  case checker::EquivalenceResult::Different:
    proof.status = RewriteProof::Different;
    proof.detail = r.counterexample;
    break;
  case checker::EquivalenceResult::Unknown:
    proof.status = RewriteProof::Unknown;
    proof.detail = r.reason;
    break;
  }
  return proof;
}
