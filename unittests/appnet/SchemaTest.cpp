//===- SchemaTest.cpp - the .proto subset that types RPC fields -----------===//
#include "sbpf/AppNet/Schema.h"
#include "TestFiles.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

using namespace sbpf::appnet;
using namespace sbpf::appnet::test;

namespace {

/// Reads a schema that must fail; returns its first error as "LINE:COL: msg".
std::string schemaError(std::string_view text) {
  DiagnosticSink diags;
  std::optional<Schema> schema = parseSchema(text, 64, diags);
  EXPECT_FALSE(schema);
  const Diagnostic *error = diags.firstError();
  return error ? error->loc.str() + ": " + error->message : "no error";
}

TEST(Schema, ExampleProto) {
  DiagnosticSink diags;
  std::optional<Schema> schema =
      parseSchema(readFile(SBPF_EXAMPLES_DIR "/rpc.proto"), 64, diags);
  ASSERT_TRUE(schema);
  EXPECT_TRUE(diags.diagnostics().empty());
  ASSERT_EQ(schema->messages.size(), 2u);
  const SchemaMessage &request = schema->request();
  EXPECT_EQ(request.name, "Request");
  ASSERT_EQ(request.fields.size(), 4u);
  // Declaration order, types, numbers and capacities.
  const char *names[] = {"body", "priority", "kind", "user"};
  const FieldKind kinds[] = {FieldKind::String, FieldKind::UInt32,
                             FieldKind::UInt32, FieldKind::String};
  const uint32_t capacities[] = {64, 0, 0, 32};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(request.fields[i].name, names[i]);
    EXPECT_EQ(request.fields[i].kind, kinds[i]);
    EXPECT_EQ(request.fields[i].number, i + 1);
    EXPECT_EQ(request.fields[i].capacity, capacities[i]);
  }
  EXPECT_EQ(request.fields[3].loc.str(), "9:10");
  EXPECT_EQ(request.fieldIndex("kind"), 2);
  EXPECT_EQ(request.fieldIndex("status"), -1);
  const SchemaMessage &response = schema->response();
  EXPECT_EQ(response.name, "Response");
  ASSERT_EQ(response.fields.size(), 2u);
  EXPECT_EQ(response.field("status")->kind, FieldKind::UInt32);
  EXPECT_EQ(response.field("body")->capacity, 64u);
}

TEST(Schema, DefaultCapacityAndAllFieldTypes) {
  DiagnosticSink diags;
  std::optional<Schema> schema = parseSchema(
      "syntax = \"proto3\";\n"
      "package demo.v1;\n"
      "option go_package = \"x\";\n"
      "import \"other.proto\";\n"
      "/* a block comment\n   over two lines */\n"
      "message M {\n"
      "  string s = 1;\n"
      "  bytes b = 2; // capacity: 16\n"
      "  bool f = 3;\n"
      "  int32 i = 4;   // an ordinary comment\n"
      "  uint32 u = 5;\n"
      "  int64 l = 6;\n"
      "  optional uint64 ul = 7 [deprecated = true];\n"
      "  float x = 8;\n"
      "  double d = 9;\n"
      "}\n"
      "service S { rpc Call (M) returns (M) {} }\n",
      48, diags);
  ASSERT_TRUE(schema) << diags.firstError()->message;
  const SchemaMessage &m = schema->request();
  ASSERT_EQ(m.fields.size(), 9u);
  EXPECT_EQ(m.fields[0].capacity, 48u); // The default given by the caller.
  EXPECT_EQ(m.fields[1].capacity, 16u);
  EXPECT_EQ(m.fields[1].kind, FieldKind::Bytes);
  EXPECT_EQ(m.fields[2].capacity, 0u);
  EXPECT_EQ(m.fields[6].kind, FieldKind::UInt64);
  EXPECT_EQ(m.fields[8].kind, FieldKind::Double);
  EXPECT_EQ(m.fields[0].loc.str(), "8:10"); // Lines count across /* */.
  // One message: it is both the request and the response.
  EXPECT_EQ(&schema->request(), &schema->response());
}

TEST(Schema, RequestAndResponseSelection) {
  DiagnosticSink diags;
  // Without the conventional names: first and second message.
  std::optional<Schema> positional = parseSchema(
      "message A { string x = 1; }\nmessage B { uint32 y = 1; }\n"
      "message C { bool z = 1; }\n",
      64, diags);
  ASSERT_TRUE(positional);
  EXPECT_EQ(positional->request().name, "A");
  EXPECT_EQ(positional->response().name, "B");
  // The names win over positions.
  std::optional<Schema> named = parseSchema(
      "message Response { string x = 1; }\nmessage Other { bool o = 1; }\n"
      "message Request { uint32 y = 1; }\n",
      64, diags);
  ASSERT_TRUE(named);
  EXPECT_EQ(named->request().name, "Request");
  EXPECT_EQ(named->response().name, "Response");
  EXPECT_FALSE(diags.hasErrors());
}

TEST(Schema, LocatedErrors) {
  EXPECT_EQ(schemaError("message M {\n  strin s = 1;\n}\n"),
            "2:3: unknown field type 'strin'; expected string, bytes, bool, "
            "int32, uint32, int64, uint64, float or double");
  EXPECT_EQ(schemaError("message M {\n  string s = 1;\n  uint32 s = 2;\n}\n"),
            "3:10: duplicate field 's' in message 'M'");
  EXPECT_EQ(schemaError("message M {\n  string s = 1;\n  uint32 t = 1;\n}\n"),
            "3:14: field number 1 is used twice in message 'M'");
  EXPECT_EQ(schemaError("message M {\n  string s = 1\n}\n"),
            "3:1: expected ';' after field 's', found '}'");
  EXPECT_EQ(schemaError("message M {\n  string s 1;\n}\n"),
            "2:12: expected '=' after field 's', found '1'");
  EXPECT_EQ(schemaError("message M {\n  string s = 1;\n"),
            "3:1: expected '}' to close message 'M' opened at 1:11, found end "
            "of file");
  EXPECT_EQ(schemaError("syntax = \"proto2\";\nmessage M { bool b = 1; }\n"),
            "1:10: only proto3 is supported, found \"proto2\"");
  EXPECT_EQ(schemaError("message M { repeated string s = 1; }\n"),
            "1:13: repeated fields are not supported: a message has a fixed "
            "layout");
  EXPECT_EQ(schemaError("message M { map<string, int32> m = 1; }\n"),
            "1:13: map fields are not supported in the RPC schema");
  EXPECT_EQ(schemaError("message M { message N { } }\n"),
            "1:13: 'message' inside a message is not supported in the RPC "
            "schema");
  EXPECT_EQ(schemaError("enum E { A = 0; }\n"),
            "1:1: 'enum' is not supported in the RPC schema");
  EXPECT_EQ(schemaError("message M { string s = 1; // capacity lots\n}\n"),
            "1:27: malformed capacity comment; expected '// capacity N'");
  EXPECT_EQ(schemaError("message M { string s = 1; // capacity 0\n}\n"),
            "1:27: capacity must be between 1 and 65535");
  EXPECT_EQ(schemaError("message M { string s = 0; }\n"),
            "1:24: field number 0 is out of range (1 to 536870911)");
  EXPECT_EQ(schemaError("/* never closed\nmessage M {}\n"),
            "1:1: unterminated comment: '/*' without '*/'");
  EXPECT_EQ(schemaError("// nothing here\n"),
            "2:1: the schema declares no message");
  EXPECT_EQ(schemaError("message M { string s = 1; }\nmessage M { bool b = 1; }\n"),
            "2:9: duplicate message 'M'");
  EXPECT_EQ(schemaError("message M { string s = 1; } $\n"),
            "1:29: unexpected character '$'");
  EXPECT_EQ(schemaError("hello\n"),
            "1:1: expected 'message', 'syntax', 'package', 'import', 'option' "
            "or 'service', found 'hello'");
}

TEST(Schema, CapacityOnANonStringFieldIsAWarning) {
  DiagnosticSink diags;
  std::optional<Schema> schema =
      parseSchema("message M { uint32 n = 1; // capacity 8\n}\n", 64, diags);
  ASSERT_TRUE(schema);
  ASSERT_EQ(diags.diagnostics().size(), 1u);
  EXPECT_EQ(diags.diagnostics()[0].severity, Severity::Warning);
  EXPECT_EQ(diags.diagnostics()[0].message,
            "a capacity applies only to string and bytes fields; ignored for "
            "'n'");
  EXPECT_EQ(schema->request().fields[0].capacity, 0u);
}

TEST(Schema, ArbitraryBytesNeverCrash) {
  std::string base = readFile(SBPF_EXAMPLES_DIR "/rpc.proto");
  for (size_t cut = 0; cut <= base.size(); ++cut) {
    DiagnosticSink diags;
    std::optional<Schema> schema = parseSchema(base.substr(0, cut), 64, diags);
    EXPECT_EQ(schema.has_value(), !diags.hasErrors());
  }
  for (int c = 0; c < 256; ++c) {
    std::string text = base;
    text[text.size() / 2] = char(c);
    DiagnosticSink diags;
    std::optional<Schema> schema = parseSchema(text, 64, diags);
    EXPECT_EQ(schema.has_value(), !diags.hasErrors());
  }
}

} // namespace
