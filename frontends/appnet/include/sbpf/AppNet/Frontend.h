//===- Frontend.h - entry point of the AppNet frontend ----------*- C++ -*-===//
//
// Source text in, checked syntax tree out: lexing, parsing and type checking
// of one AppNet element (shared/docs/appnet-language.md). The netfn emitter
// walks the returned Element (see AST.h for what it records).
//
//   DiagnosticSink diags;
//   std::optional<Schema> schema = parseSchema(protoText, 64, diags);
//   FrontendOptions opts;
//   opts.schema = schema ? &*schema : nullptr;
//   std::unique_ptr<Element> element = parseAndCheck(source, opts, diags);
//   // element == nullptr iff diags got an error; warnings and notes may be
//   // there either way.
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_APPNET_FRONTEND_H
#define SBPF_APPNET_FRONTEND_H

#include "sbpf/AppNet/AST.h"
#include "sbpf/AppNet/Diagnostics.h"
#include "sbpf/AppNet/Schema.h"
#include "sbpf/AppNet/Sema.h"

#include <cstdint>
#include <memory>
#include <string_view>

namespace sbpf::appnet {

/// The options are the type checker's (schema, default string capacity,
/// kernel target): parsing itself has none.
using FrontendOptions = SemaOptions;

/// Lexes, parses and type-checks one element. Returns null iff this call
/// reported an error to `diags`.
std::unique_ptr<Element> parseAndCheck(std::string_view source,
                                       const FrontendOptions &options,
                                       DiagnosticSink &diags);

} // namespace sbpf::appnet

#endif // SBPF_APPNET_FRONTEND_H
