//===- Validate.cpp - proofs that a netfn rewrite kept the meaning --------===//
//
// The one place where the passes reach the checker. Compiled with
// -fexceptions (the checker's header includes Z3's C++ API); checkEquivalence
// itself never throws.
//
//===----------------------------------------------------------------------===//
#include "sbpf/Passes/Validate.h"

#include "sbpf/Checker/NetfnSemantics.h"

#include "llvm/Support/raw_ostream.h"

#include <mutex>
#include <set>

static mlir::ModuleOp validationBaseline;

mlir::ModuleOp sbpf::getValidationBaseline() { return validationBaseline; }
void sbpf::setValidationBaseline(mlir::ModuleOp baseline) {
  validationBaseline = baseline;
}

/// Both programs' text and the handler's name: what a proof is about (the
/// other handlers matter through the state they write).
static std::string proofKey(sbpf::netfn::HandlerOp before,
                            sbpf::netfn::HandlerOp after) {
  std::string key;
  llvm::raw_string_ostream os(key);
  before->getParentOfType<sbpf::netfn::ProgramOp>()->print(os);
  os << '\0';
  after->getParentOfType<sbpf::netfn::ProgramOp>()->print(os);
  os << '\0' << before.getSymName() << '\0' << after.getSymName();
  return os.str();
}

sbpf::RewriteProof sbpf::proveHandlerUnchanged(netfn::HandlerOp before,
                                               netfn::HandlerOp after,
                                               unsigned timeoutMs,
                                               bool explain,
                                               bool structuralOnly) {
  checker::EquivalenceOptions options;
  options.unwrittenStateIsInitial = true;
  options.counterexample = explain;
  options.structuralOnly = structuralOnly;
  // One Z3 context for every proof of the process, never destroyed: Z3's
  // context teardown costs about 100 ms with string-typed events, far more
  // than the queries themselves (a few ms each); the process exit frees it.
  static std::mutex lock;
  static checker::SemContext *shared = new checker::SemContext;
  static std::set<std::string> proven;
  std::lock_guard<std::mutex> guard(lock);
  RewriteProof proof;
  std::string key = proofKey(before, after);
  if (proven.count(key)) {
    proof.status = RewriteProof::Proven;
    return proof;
  }
  checker::EquivalenceResult r = checker::checkEquivalence(
      *shared, before, after, options, timeoutMs);
  if (r.status == checker::EquivalenceResult::Equivalent)
    proven.insert(key);
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
