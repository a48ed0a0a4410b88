//===- Sema.h - type checker and name resolver of AppNet --------*- C++ -*-===//
//
// Checks an Element against shared/docs/appnet-language.md §4-§5 and records
// on the tree what later stages need (see the top of AST.h): each
// expression's type, what each name refers to, each call's built-in, the
// implicit conversions (as CastExpr nodes) and the resolved state types.
// Unlike the parser, it keeps going after an error (up to the sink's limit),
// so one run reports every independent problem; a value whose type could not
// be determined has type Unknown, which silences follow-on errors (so does
// the result of a call it rejects: an unknown function, or an external or
// header built-in for the kernel target).
//
// Forms accepted for real-world elements: a local may hold an optional (and
// be matched later); `init(x, y)` parameters name state configured at
// deployment; `get(rpc, 'f', TYPE)` states a field's proto type;
// `byte_size(rpc)` is the payload's length; an Instant stored or passed
// where a float is expected becomes its seconds of the monotonic clock (with
// a warning); `time_diff` takes two Instants or two floats.
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_APPNET_SEMA_H
#define SBPF_APPNET_SEMA_H

#include "sbpf/AppNet/AST.h"
#include "sbpf/AppNet/Diagnostics.h"
#include "sbpf/AppNet/Schema.h"

#include <cstdint>
#include <string_view>

namespace sbpf::appnet {

struct SemaOptions {
  /// The RPC message schema. Null: a field has the proto type that a
  /// `get(rpc, 'f', 'int32')` in the same handler states, else it is a
  /// string of `defaultStringCapacity` bytes (and a note says so, once per
  /// field). With a schema, a stated type must agree with the schema's.
  const Schema *schema = nullptr;
  /// Capacity of `string` state, locals and schema-less fields.
  uint32_t defaultStringCapacity = 64;
  /// Reject what cannot run in the kernel: @consistency(strong) and the
  /// built-ins that call external services or touch headers/metadata.
  bool kernelTarget = true;
};

/// Type-checks `element` in place. Returns false iff an error was reported.
bool checkElement(Element &element, const SemaOptions &options,
                  DiagnosticSink &diags);

/// The built-ins that call external services or access headers/metadata
/// (`get_backends`, `get_rpc_header`, ...): type-checked permissively, then
/// rejected for the kernel target.
bool isExternalBuiltin(std::string_view name);

} // namespace sbpf::appnet

#endif // SBPF_APPNET_SEMA_H
