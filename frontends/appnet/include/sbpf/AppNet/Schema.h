//===- Schema.h - the RPC message schema read from a .proto subset *- C++ -*-===//
//
// An element reads and writes RPC fields by name (`get(rpc, 'user')`); the
// schema gives each field its type and, for strings, its capacity. We accept
// the part of proto3 that describes flat messages:
//
//   syntax = "proto3";
//   message Request {
//     string user = 1;     // capacity 32
//     uint32 priority = 2;
//   }
//
// Field types: string bytes bool int32 uint32 int64 uint64 float double. A
// string/bytes field takes its capacity from a trailing `// capacity N`
// comment on its line, else the default capacity. `package`, `import`,
// `option` and `service` blocks are accepted and ignored; enums, nested
// messages, `repeated`, `map<>` and `oneof` are rejected.
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_APPNET_SCHEMA_H
#define SBPF_APPNET_SCHEMA_H

#include "sbpf/AppNet/Diagnostics.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sbpf::appnet {

enum class FieldKind : uint8_t {
  String,
  Bytes,
  Bool,
  Int32,
  UInt32,
  Int64,
  UInt64,
  Float,
  Double,
};

/// The proto spelling of a field kind ("uint32").
const char *fieldKindName(FieldKind kind);

struct SchemaField {
  std::string name;
  FieldKind kind = FieldKind::String;
  uint32_t number = 0;   ///< The proto field number (`= N`).
  uint32_t capacity = 0; ///< Bytes; string and bytes fields only, else 0.
  SourceLoc loc;         ///< Of the field's name.

  bool isText() const {
    return kind == FieldKind::String || kind == FieldKind::Bytes;
  }
};

struct SchemaMessage {
  std::string name;
  SourceLoc loc;
  /// In declaration order, which is the wire order of the fixed layout.
  std::vector<SchemaField> fields;

  /// Index of the field called `name` in `fields`, or -1.
  int fieldIndex(std::string_view name) const;
  const SchemaField *field(std::string_view name) const {
    int index = fieldIndex(name);
    return index < 0 ? nullptr : &fields[index];
  }
};

struct Schema {
  std::vector<SchemaMessage> messages;
  /// The request message is the one named `Request`, else the first; the
  /// response message is the one named `Response`, else the second, else the
  /// request message itself.
  unsigned requestIndex = 0;
  unsigned responseIndex = 0;

  const SchemaMessage &request() const { return messages[requestIndex]; }
  const SchemaMessage &response() const { return messages[responseIndex]; }
};

/// Parses `text` (the contents of a .proto file). Errors are reported with
/// LINE:COL locations in `text` (the caller adds the file name). Returns
/// std::nullopt iff an error was reported. The type checker keeps pointers
/// into the returned Schema: keep it alive as long as the checked Element.
std::optional<Schema> parseSchema(std::string_view text,
                                  uint32_t defaultStringCapacity,
                                  DiagnosticSink &diags);

} // namespace sbpf::appnet

#endif // SBPF_APPNET_SCHEMA_H
