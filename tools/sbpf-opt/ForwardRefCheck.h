//===- ForwardRefCheck.h - refuse what MLIR 16's parser cannot clean up ---===//
//
// See ForwardRefCheck.cpp: a lexical check of MLIR text, run before MLIR's
// parser, for uses whose definition lies in a region that does not enclose
// them (invalid MLIR on which MLIR 16's parser can corrupt the heap).
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_OPT_FORWARDREFCHECK_H
#define SBPF_OPT_FORWARDREFCHECK_H

namespace llvm {
class SourceMgr;
} // namespace llvm

namespace sbpf {

/// False, after reporting the use (FILE:LINE:COL) and the definition, when
/// the main buffer of `sourceMgr` has such a use.
bool checkForwardReferences(llvm::SourceMgr &sourceMgr);

} // namespace sbpf

#endif // SBPF_OPT_FORWARDREFCHECK_H
