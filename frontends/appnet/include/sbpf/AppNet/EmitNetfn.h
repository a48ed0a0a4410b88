//===- EmitNetfn.h - checked AppNet element to netfn -----------*- C++ -*-===//
#ifndef SBPF_APPNET_EMITNETFN_H
#define SBPF_APPNET_EMITNETFN_H

#include "sbpf/AppNet/AST.h"
#include "sbpf/AppNet/Diagnostics.h"
#include "sbpf/AppNet/Schema.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace sbpf::appnet {

struct EmitOptions {
  /// The message schema: each event then carries every field of its message.
  const Schema *schema = nullptr;
  /// Names the file in every op's location (FILE:LINE:COL).
  std::string fileName;
  /// Symbol name of the netfn.program.
  std::string programName = "element";
  uint32_t defaultStringCapacity = 64;
  uint64_t defaultMapCapacity = 1024;
  /// How many records `foreach` over a Vec visits at most.
  uint64_t loopBound = 64;
};

/// Emits `element`, which Sema has checked without errors, as a module
/// holding one netfn.program. Constructs netfn cannot express are reported to
/// `diags` and yield null.
mlir::OwningOpRef<mlir::ModuleOp> emitNetfn(const Element &element,
                                            const EmitOptions &options,
                                            mlir::MLIRContext &context,
                                            DiagnosticSink &diags);

} // namespace sbpf::appnet

#endif // SBPF_APPNET_EMITNETFN_H
