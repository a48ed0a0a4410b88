//===- InitCheck.h - the object's initial state vs netfn.init (private) ---===//
//
// The init observable of checkObject (Check.h, checkInit): does the state an
// object starts in after the loader's work equal the state netfn.init
// produces? Internal: throws BindingError / z3::exception like Binding.h
// (Check.cpp's `guarded` catches both).
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_CHECKER_LIB_INITCHECK_H
#define SBPF_CHECKER_LIB_INITCHECK_H

#include "sbpf/Checker/Check.h"
#include "sbpf/Checker/NetfnSemantics.h"
#include "sbpf/Checker/Object.h"

#include "llvm/Support/raw_ostream.h"

namespace sbpf::checker {

/// Compares the initial states in `sc` (see checkInit). Sets `report.init`,
/// adds its solver calls, and when init is not proven sets the report's
/// status, reason and (Different) counterexample. Returns whether init is
/// proven, i.e. whether the caller should go on to the handlers.
bool checkInitState(SemContext &sc, netfn::ProgramOp program,
                    const bpf::ProgramABI &abi,
                    const bytecode::BpfObject &object,
                    const CheckOptions &options, CheckReport &report);

/// "random draws OF: ..." and "clock readings OF (ns): ..." lines of a
/// counterexample's text, when it has any.
void printDrawsAndClocks(llvm::raw_ostream &os, const Counterexample &cx,
                         llvm::StringRef of);

} // namespace sbpf::checker

#endif // SBPF_CHECKER_LIB_INITCHECK_H
