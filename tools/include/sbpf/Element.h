//===- Element.h - a DSL source as the netfn its object was built from -*- C++ -*-===//
//
// `sbpf check FILE.appnet OBJ` compares an object with the netfn program the
// object was compiled from, so it must rebuild exactly that program: the
// same frontend `sbpf-opt` uses, then the netfn passes of the
// `--appnet-to-bpf` pipeline (buildAppNetToBPFPipeline). This is the one
// function that does it, shared by `sbpf check`, the checker's unit tests and
// the mutation test, so none of them has its own copy of the pipeline.
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_ELEMENT_H
#define SBPF_ELEMENT_H

#include "sbpf/Frontend/Domain.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringRef.h"

namespace sbpf {

/// Parses the DSL source `path` (its language chosen by extension) with
/// `options` and runs the netfn passes of --appnet-to-bpf on it. The context
/// must have the netfn dialect loaded. Diagnostics (FILE:LINE:COL: error:
/// ...) are printed on stderr; returns null after an error (unreadable file,
/// unknown extension, frontend or pass failure). `optLevel` is sbpf-opt's:
/// 0 for -O0 (no netfn optimisations), 2 by default.
mlir::OwningOpRef<mlir::ModuleOp>
loadElementForBPF(llvm::StringRef path, const DomainOptions &options,
                  mlir::MLIRContext &context, unsigned optLevel = 2);

} // namespace sbpf

#endif // SBPF_ELEMENT_H
