//===- CompileC.h - eBPF C to a kernel-verified object ----------*- C++ -*-===//
//
// The two steps that turn eBPF C into an object we trust the kernel with:
// clang-16 compiles the C (as a subprocess, in a private temporary directory,
// without a shell) and the kernel verifier loads the object. sbpf-opt uses
// them for --emit=obj; the LLM passes use them on every candidate, whose C is
// untrusted text: it is only ever compiled and loaded into the verifier,
// never run otherwise. Nothing here prints; results say what happened.
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_RUNTIME_COMPILEC_H
#define SBPF_RUNTIME_COMPILEC_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <cstddef>
#include <string>

namespace sbpf::runtime {

/// The outcome of compiling eBPF C with clang-16.
struct CompiledC {
  /// clang ran and exited with status 0; `object` holds the ELF bytes.
  bool ok = false;
  std::string object;
  /// What clang printed (diagnostics, warnings included), when it ran.
  std::string diagnostics;
  /// One line saying why there is no object when clang could not run (not
  /// installed, no temporary directory) or exited non-zero.
  std::string error;
};

/// Compiles `cSource` with `clang-16 -O2 -g -target bpf -mcpu=v3
/// -I/usr/include/x86_64-linux-gnu`. The file is named `<programName>.bpf.c`
/// (characters other than letters, digits and `_` replaced by `_`) in a fresh
/// private directory mapped to "." in the debug info, so the same source
/// always gives the same object bytes; diagnostics name the file without the
/// directory.
CompiledC compileBPFC(llvm::StringRef cSource, llvm::StringRef programName);

/// The outcome of loading an object into the kernel verifier.
struct KernelVerdict {
  enum Kind {
    Accepted,   ///< every program loaded
    Rejected,   ///< the verifier refused `program`; its log is in `log`
    NotChecked, ///< this process may not load BPF (`message` says why)
    Error,      ///< not a loadable object, a map failed, ... (`message`)
  } kind = Error;
  std::string program;
  std::string log;
  std::string message;
  /// Accepted: instructions submitted to the kernel, summed over the
  /// object's programs (ld_imm64 counts 2, BPF-to-BPF callees included).
  size_t insns = 0;
};

/// Loads `object` (named `name` in messages) into the kernel verifier and
/// unloads it again.
KernelVerdict kernelVerifyObject(llvm::ArrayRef<uint8_t> object,
                                 llvm::StringRef name);

} // namespace sbpf::runtime

#endif // SBPF_RUNTIME_COMPILEC_H
