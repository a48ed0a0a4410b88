//===- Check.cpp - translation validation: netfn element vs BPF object ----===//
//
// PLACEHOLDER while the object-level executor and the ABI binding are being
// built (issue 4): both functions answer Unknown with the reason "not
// implemented yet", so callers are written against the final interface and
// nothing is ever reported as proven by this file.
//
//===----------------------------------------------------------------------===//
#include "sbpf/Checker/Check.h"

namespace sbpf::checker {

CheckReport checkObject(netfn::ProgramOp, llvm::ArrayRef<uint8_t>,
                        const bpf::ProgramABI *, const CheckOptions &) {
  CheckReport report;
  report.status = CheckReport::Unknown;
  report.reason = "not implemented yet: checking an object against netfn";
  return report;
}

CheckReport checkObjects(llvm::ArrayRef<uint8_t>, llvm::ArrayRef<uint8_t>,
                         const CheckOptions &) {
  CheckReport report;
  report.status = CheckReport::Unknown;
  report.reason = "not implemented yet: checking two objects";
  return report;
}

} // namespace sbpf::checker
