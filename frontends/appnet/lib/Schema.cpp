//===- Schema.cpp - reader of the .proto subset that types RPC fields -----===//
#include "sbpf/AppNet/Schema.h"

#include <cstdio>
#include <unordered_map>

using namespace sbpf::appnet;

const char *sbpf::appnet::fieldKindName(FieldKind kind) {
  switch (kind) {
  case FieldKind::String: return "string";
  case FieldKind::Bytes: return "bytes";
  case FieldKind::Bool: return "bool";
  case FieldKind::Int32: return "int32";
  case FieldKind::UInt32: return "uint32";
  case FieldKind::Int64: return "int64";
  case FieldKind::UInt64: return "uint64";
  case FieldKind::Float: return "float";
  case FieldKind::Double: return "double";
  }
  return "?";
}

int SchemaMessage::fieldIndex(std::string_view name) const {
  for (size_t i = 0; i < fields.size(); ++i)
    if (fields[i].name == name)
      return int(i);
  return -1;
}

namespace {

/// Largest capacity a `// capacity N` comment may give (strings live in
/// packets and maps; 64 KiB is far beyond any sensible field).
constexpr uint32_t kMaxCapacity = 65535;
/// Largest proto field number.
constexpr uint64_t kMaxFieldNumber = 536870911;

bool isIdentStart(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool isDigit(unsigned char c) { return c >= '0' && c <= '9'; }

struct ProtoToken {
  enum Kind : uint8_t { Ident, Int, String, Punct, Eof } kind = Eof;
  std::string_view text; ///< For String, without the quotes.
  SourceLoc loc;
  uint64_t value = 0; ///< Int only.
};

class SchemaReader {
public:
  SchemaReader(std::string_view text, uint32_t defaultCapacity,
               DiagnosticSink &diags)
      : text(text), defaultCapacity(defaultCapacity), diags(diags) {}

  std::optional<Schema> read();

private:
  // Lexing.
  bool tokenize();
  SourceLoc locAt(size_t offset) const {
    uint64_t col = offset - lineStart + 1;
    return {line, col > UINT32_MAX ? UINT32_MAX : uint32_t(col)};
  }

  // Parsing; each returns false after a syntax error (which stops reading).
  const ProtoToken &tok() const { return tokens[index]; }
  const ProtoToken &advance() {
    const ProtoToken &t = tokens[index];
    if (t.kind != ProtoToken::Eof)
      ++index;
    return t;
  }
  bool atPunct(char c) const {
    return tok().kind == ProtoToken::Punct && tok().text[0] == c;
  }
  bool atIdent(std::string_view word) const {
    return tok().kind == ProtoToken::Ident && tok().text == word;
  }
  std::string describe(const ProtoToken &t) const;
  bool expectPunct(char c, const std::string &context);
  bool fail(SourceLoc loc, std::string message) {
    diags.error(loc, std::move(message));
    return false;
  }
  bool skipPast(char c);
  bool skipBalanced(char open, char close);
  bool parseSyntax();
  bool parseMessage();
  bool parseField(SchemaMessage &message);
  void applyCapacityComment(SchemaField &field, uint32_t line);

  std::string_view text;
  uint32_t defaultCapacity;
  DiagnosticSink &diags;
  std::vector<ProtoToken> tokens;
  size_t index = 0;
  uint32_t line = 1;
  size_t lineStart = 0;
  /// The `//` comment of each line that has one (its text after "//").
  std::unordered_map<uint32_t, std::pair<std::string_view, SourceLoc>>
      lineComments;
  Schema schema;
  std::unordered_map<std::string, SourceLoc> messagesByName;
  /// Of the message being read.
  std::unordered_map<std::string, SourceLoc> fieldsByName;
  std::unordered_map<uint32_t, SourceLoc> fieldsByNumber;
};

bool SchemaReader::tokenize() {
  size_t pos = 0, n = text.size();
  auto newline = [&](size_t next) {
    ++line;
    lineStart = next;
  };
  while (pos < n) {
    unsigned char c = text[pos];
    if (c == '\n') {
      newline(++pos);
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
      ++pos;
      continue;
    }
    if (c == '/' && pos + 1 < n && text[pos + 1] == '/') {
      size_t begin = pos + 2;
      SourceLoc loc = locAt(pos);
      while (pos < n && text[pos] != '\n')
        ++pos;
      lineComments.emplace(loc.line,
                           std::make_pair(text.substr(begin, pos - begin), loc));
      continue;
    }
    if (c == '/' && pos + 1 < n && text[pos + 1] == '*') {
      SourceLoc open = locAt(pos);
      pos += 2;
      while (pos < n && !(text[pos] == '*' && pos + 1 < n && text[pos + 1] == '/')) {
        if (text[pos] == '\n')
          newline(pos + 1);
        ++pos;
      }
      if (pos >= n)
        return fail(open, "unterminated comment: '/*' without '*/'");
      pos += 2;
      continue;
    }
    size_t begin = pos;
    ProtoToken token;
    token.loc = locAt(pos);
    if (isIdentStart(c)) {
      while (pos < n && (isIdentStart(text[pos]) || isDigit(text[pos]) ||
                         text[pos] == '.'))
        ++pos;
      token.kind = ProtoToken::Ident;
      token.text = text.substr(begin, pos - begin);
    } else if (isDigit(c)) {
      while (pos < n && (isDigit(text[pos]) || isIdentStart(text[pos])))
        ++pos;
      token.kind = ProtoToken::Int;
      token.text = text.substr(begin, pos - begin);
      for (char d : token.text) {
        if (!isDigit(d))
          return fail(token.loc, "invalid number '" + std::string(token.text) +
                                     "'; expected a decimal integer");
        if (token.value > (UINT64_MAX - 9) / 10)
          return fail(token.loc, "number '" + std::string(token.text) +
                                     "' is too large");
        token.value = token.value * 10 + uint64_t(d - '0');
      }
    } else if (c == '"' || c == '\'') {
      ++pos;
      while (pos < n && text[pos] != c && text[pos] != '\n') {
        if (text[pos] == '\\' && pos + 1 < n && text[pos + 1] != '\n')
          ++pos;
        ++pos;
      }
      if (pos >= n || text[pos] != c)
        return fail(token.loc, "unterminated string");
      ++pos;
      token.kind = ProtoToken::String;
      token.text = text.substr(begin + 1, pos - begin - 2);
    } else if (std::string_view("{}[]()<>;=,.-+:").find(char(c)) !=
               std::string_view::npos) {
      ++pos;
      token.kind = ProtoToken::Punct;
      token.text = text.substr(begin, 1);
    } else {
      char shown[16];
      if (c >= 0x20 && c < 0x7f)
        std::snprintf(shown, sizeof shown, "'%c'", c);
      else
        std::snprintf(shown, sizeof shown, "byte 0x%02x", unsigned(c));
      return fail(token.loc, std::string("unexpected character ") + shown);
    }
    tokens.push_back(token);
  }
  ProtoToken eof;
  eof.loc = locAt(n);
  tokens.push_back(eof);
  return true;
}

std::string SchemaReader::describe(const ProtoToken &t) const {
  switch (t.kind) {
  case ProtoToken::Eof:
    return "end of file";
  case ProtoToken::String:
    return "string \"" + std::string(t.text) + "\"";
  default:
    return "'" + std::string(t.text) + "'";
  }
}

bool SchemaReader::expectPunct(char c, const std::string &context) {
  if (atPunct(c)) {
    advance();
    return true;
  }
  return fail(tok().loc, std::string("expected '") + c + "' " + context +
                             ", found " + describe(tok()));
}

bool SchemaReader::skipPast(char c) {
  while (tok().kind != ProtoToken::Eof && !atPunct(c))
    advance();
  return expectPunct(c, "to end the statement");
}

bool SchemaReader::skipBalanced(char open, char close) {
  SourceLoc openLoc = tok().loc;
  if (!expectPunct(open, "to open the block"))
    return false;
  unsigned depth = 1;
  while (depth) {
    if (tok().kind == ProtoToken::Eof)
      return fail(tok().loc, std::string("expected '") + close +
                                 "' to close '" + open + "' at " +
                                 openLoc.str() + ", found end of file");
    if (atPunct(open))
      ++depth;
    else if (atPunct(close))
      --depth;
    advance();
  }
  return true;
}

std::optional<Schema> SchemaReader::read() {
  unsigned errorsBefore = diags.errorCount();
  if (!tokenize())
    return std::nullopt;
  bool ok = true;
  while (ok && tok().kind != ProtoToken::Eof) {
    if (atPunct(';')) {
      advance();
    } else if (atIdent("syntax")) {
      ok = parseSyntax();
    } else if (atIdent("package") || atIdent("import") || atIdent("option")) {
      // Irrelevant to the field layout.
      ok = skipPast(';');
    } else if (atIdent("message")) {
      ok = parseMessage();
    } else if (atIdent("service")) {
      // The RPC methods: not part of the message layout.
      advance();
      if (tok().kind == ProtoToken::Ident)
        advance();
      ok = skipBalanced('{', '}');
    } else if (atIdent("enum") || atIdent("extend")) {
      ok = fail(tok().loc, "'" + std::string(tok().text) +
                               "' is not supported in the RPC schema");
    } else {
      ok = fail(tok().loc, "expected 'message', 'syntax', 'package', "
                           "'import', 'option' or 'service', found " +
                               describe(tok()));
    }
  }
  if (ok && schema.messages.empty())
    fail(tok().loc, "the schema declares no message");
  if (diags.errorCount() != errorsBefore)
    return std::nullopt;

  auto find = [&](std::string_view name) -> int {
    for (size_t i = 0; i < schema.messages.size(); ++i)
      if (schema.messages[i].name == name)
        return int(i);
    return -1;
  };
  int request = find("Request"), response = find("Response");
  schema.requestIndex = request >= 0 ? unsigned(request) : 0;
  if (response >= 0)
    schema.responseIndex = unsigned(response);
  else if (schema.messages.size() > 1)
    schema.responseIndex = 1;
  else
    schema.responseIndex = schema.requestIndex;
  return std::move(schema);
}

bool SchemaReader::parseSyntax() {
  advance(); // 'syntax'
  if (!expectPunct('=', "after 'syntax'"))
    return false;
  if (tok().kind != ProtoToken::String)
    return fail(tok().loc, "expected \"proto3\" after 'syntax =', found " +
                               describe(tok()));
  const ProtoToken &version = advance();
  if (version.text != "proto3")
    fail(version.loc, "only proto3 is supported, found \"" +
                          std::string(version.text) + "\"");
  return expectPunct(';', "after the syntax declaration");
}

bool SchemaReader::parseMessage() {
  advance(); // 'message'
  if (tok().kind != ProtoToken::Ident)
    return fail(tok().loc, "expected a message name after 'message', found " +
                               describe(tok()));
  SchemaMessage message;
  message.loc = tok().loc;
  message.name = std::string(advance().text);
  auto [previous, isNew] = messagesByName.emplace(message.name, message.loc);
  if (!isNew) {
    diags.error(message.loc, "duplicate message '" + message.name + "'");
    diags.note(previous->second, "previous definition is here");
  }
  fieldsByName.clear();
  fieldsByNumber.clear();
  SourceLoc open = tok().loc;
  if (!expectPunct('{', "after 'message " + message.name + "'"))
    return false;
  while (!atPunct('}')) {
    if (tok().kind == ProtoToken::Eof)
      return fail(tok().loc, "expected '}' to close message '" + message.name +
                                 "' opened at " + open.str() +
                                 ", found end of file");
    if (atPunct(';')) {
      advance();
      continue;
    }
    if (!parseField(message))
      return false;
  }
  advance(); // '}'
  schema.messages.push_back(std::move(message));
  return true;
}

bool SchemaReader::parseField(SchemaMessage &message) {
  if (tok().kind != ProtoToken::Ident)
    return fail(tok().loc, "expected a field declaration 'TYPE NAME = N;', "
                           "found " + describe(tok()));
  if (atIdent("option") || atIdent("reserved"))
    return skipPast(';');
  if (atIdent("message") || atIdent("enum") || atIdent("oneof") ||
      atIdent("extensions"))
    return fail(tok().loc, "'" + std::string(tok().text) +
                               "' inside a message is not supported in the "
                               "RPC schema");
  if (atIdent("repeated"))
    return fail(tok().loc, "repeated fields are not supported: a message has "
                           "a fixed layout");
  if (atIdent("map") && tokens[index + 1].kind == ProtoToken::Punct &&
      tokens[index + 1].text == "<")
    return fail(tok().loc, "map fields are not supported in the RPC schema");
  if (atIdent("optional"))
    advance(); // proto3 presence tracking does not change the layout.

  if (tok().kind != ProtoToken::Ident)
    return fail(tok().loc, "expected a field type, found " + describe(tok()));
  const ProtoToken &typeTok = advance();
  static constexpr std::pair<std::string_view, FieldKind> kinds[] = {
      {"string", FieldKind::String}, {"bytes", FieldKind::Bytes},
      {"bool", FieldKind::Bool},     {"int32", FieldKind::Int32},
      {"uint32", FieldKind::UInt32}, {"int64", FieldKind::Int64},
      {"uint64", FieldKind::UInt64}, {"float", FieldKind::Float},
      {"double", FieldKind::Double},
  };
  SchemaField field;
  bool knownType = false;
  for (const auto &[spelling, kind] : kinds)
    if (typeTok.text == spelling) {
      field.kind = kind;
      knownType = true;
    }
  if (!knownType)
    diags.error(typeTok.loc, "unknown field type '" + std::string(typeTok.text) +
                                 "'; expected string, bytes, bool, int32, "
                                 "uint32, int64, uint64, float or double");

  if (tok().kind != ProtoToken::Ident)
    return fail(tok().loc, "expected a field name after '" +
                               std::string(typeTok.text) + "', found " +
                               describe(tok()));
  field.loc = tok().loc;
  field.name = std::string(advance().text);
  if (!expectPunct('=', "after field '" + field.name + "'"))
    return false;
  if (tok().kind != ProtoToken::Int)
    return fail(tok().loc, "expected a field number after '" + field.name +
                               " =', found " + describe(tok()));
  const ProtoToken &number = advance();
  if (number.value == 0 || number.value > kMaxFieldNumber)
    diags.error(number.loc, "field number " + std::string(number.text) +
                                " is out of range (1 to 536870911)");
  field.number = uint32_t(number.value > kMaxFieldNumber ? 0 : number.value);
  if (atPunct('[') && !skipBalanced('[', ']')) // Field options: ignored.
    return false;
  uint32_t endLine = tok().loc.line;
  if (!expectPunct(';', "after field '" + field.name + "'"))
    return false;

  field.capacity = field.isText() ? defaultCapacity : 0;
  applyCapacityComment(field, endLine);

  // Hash lookups keep a message with many fields linear.
  auto [byName, newName] = fieldsByName.emplace(field.name, field.loc);
  if (!newName) {
    diags.error(field.loc, "duplicate field '" + field.name +
                               "' in message '" + message.name + "'");
    diags.note(byName->second, "previous definition is here");
    return true;
  }
  if (field.number != 0) {
    auto [byNumber, newNumber] = fieldsByNumber.emplace(field.number, field.loc);
    if (!newNumber) {
      diags.error(number.loc, "field number " + std::to_string(field.number) +
                                  " is used twice in message '" +
                                  message.name + "'");
      diags.note(byNumber->second, "previous use is here");
      return true;
    }
  }
  if (knownType)
    message.fields.push_back(std::move(field));
  return true;
}

/// `string user = 4;  // capacity 32`: the capacity of a string field.
void SchemaReader::applyCapacityComment(SchemaField &field, uint32_t line) {
  auto it = lineComments.find(line);
  if (it == lineComments.end())
    return;
  std::string_view comment = it->second.first;
  SourceLoc loc = it->second.second;
  size_t p = comment.find_first_not_of(" \t");
  if (p == std::string_view::npos || comment.substr(p, 8) != "capacity")
    return; // An ordinary comment.
  p += 8;
  while (p < comment.size() && (comment[p] == ' ' || comment[p] == '\t' ||
                                comment[p] == ':' || comment[p] == '='))
    ++p;
  uint64_t value = 0;
  size_t digits = 0;
  while (p < comment.size() && isDigit(comment[p]) && value <= kMaxCapacity) {
    value = value * 10 + uint64_t(comment[p++] - '0');
    ++digits;
  }
  if (digits == 0) {
    diags.error(loc, "malformed capacity comment; expected '// capacity N'");
    return;
  }
  if (value == 0 || value > kMaxCapacity) {
    diags.error(loc, "capacity must be between 1 and " +
                         std::to_string(kMaxCapacity));
    return;
  }
  if (!field.isText()) {
    diags.warning(loc, "a capacity applies only to string and bytes fields; "
                       "ignored for '" + field.name + "'");
    return;
  }
  field.capacity = uint32_t(value);
}

} // namespace

std::optional<Schema>
sbpf::appnet::parseSchema(std::string_view text, uint32_t defaultStringCapacity,
                          DiagnosticSink &diags) {
  return SchemaReader(text, defaultStringCapacity, diags).read();
}
