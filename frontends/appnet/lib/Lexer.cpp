//===- Lexer.cpp - the layout-aware lexer of AppNet -----------------------===//
#include "sbpf/AppNet/Lexer.h"

#include <charconv>
#include <cstdio>
#include <string>

using namespace sbpf::appnet;

namespace {

bool isDigit(unsigned char c) { return c >= '0' && c <= '9'; }
/// Bytes >= 0x80 count as letters: they are the bytes of UTF-8 encoded
/// Unicode letters. We do not validate UTF-8; an invalid sequence simply
/// becomes part of a name (and most likely an "undefined name" later).
bool isNameStart(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         c >= 0x80;
}
bool isNameChar(unsigned char c) { return isNameStart(c) || isDigit(c); }

uint32_t clampU32(uint64_t v) { return v > UINT32_MAX ? UINT32_MAX : uint32_t(v); }

/// The older brace-based dialect (contract §3, notes) is recognised by a `{`
/// where a block is expected, or by a file starting with `fn` or `internal`
/// (the parser reports the latter when there is no brace). One error, at
/// that token, rather than a confusing one at the first brace. The parser
/// has the same message.
constexpr const char *kBraceDialect =
    "the brace-based AppNet dialect ('fn req(rpc) { ... }') is not supported "
    "yet; use the indentation syntax";

bool isLayout(Tok kind) {
  return kind == Tok::Newline || kind == Tok::Indent || kind == Tok::Dedent;
}

/// A byte as it should appear in a message: "character '$'" or "byte 0x00".
std::string describeByte(unsigned char c) {
  if (c >= 0x20 && c < 0x7f)
    return std::string("character '") + char(c) + "'";
  char buf[16];
  std::snprintf(buf, sizeof buf, "byte 0x%02x", unsigned(c));
  return buf;
}

class Lexer {
public:
  Lexer(std::string_view src, DiagnosticSink &diags) : src(src), diags(diags) {}
  std::vector<Token> run();

private:
  size_t size() const { return src.size(); }
  unsigned char at(size_t p) const { return p < src.size() ? src[p] : 0; }
  bool inBounds(size_t p) const { return p < src.size(); }
  SourceLoc locAt(size_t offset) const {
    return {line, clampU32(offset - lineStart + 1)};
  }
  /// Length of the line terminator at `p` ("\n", "\r\n", or a final "\r"), or
  /// 0 if there is none.
  size_t terminatorAt(size_t p) const {
    if (!inBounds(p))
      return 0;
    if (src[p] == '\n')
      return 1;
    if (src[p] == '\r' && (p + 1 == size() || src[p + 1] == '\n'))
      return p + 1 == size() ? 1 : 2;
    return 0;
  }
  void startNextLine(size_t next) {
    ++line;
    lineStart = next;
    pos = next;
  }

  void fail(SourceLoc loc, std::string message) {
    diags.error(loc, std::move(message));
    failed = true;
  }

  void lexLogicalLine();
  void endLogicalLine(size_t at);
  void applyIndent(SourceLoc loc);
  void push(Tok kind, size_t begin, size_t end);
  void lexName();
  void lexNumber();
  void lexString();
  void lexPunct();
  void lexBrace();
  void finish();

  std::string_view src;
  DiagnosticSink &diags;
  std::vector<Token> tokens;
  /// Widths of the open blocks; the bottom is always 0.
  std::vector<uint64_t> indents{0};
  size_t pos = 0;
  size_t lineStart = 0;
  uint32_t line = 1;
  bool failed = false;
  /// Set at the start of a logical line; the indentation is applied when its
  /// first token is pushed, so a line without tokens changes nothing.
  bool pendingIndent = false;
  uint64_t pendingWidth = 0;
};

std::vector<Token> Lexer::run() {
  // Skip a UTF-8 byte order mark: some editors write one.
  if (src.substr(0, 3) == "\xEF\xBB\xBF") {
    pos = 3;
    lineStart = 3;
  }
  while (!failed && pos < size()) {
    // Measure the indentation of the line that starts a logical line.
    uint64_t width = 0;
    while (inBounds(pos) && (src[pos] == ' ' || src[pos] == '\t')) {
      width += src[pos] == '\t' ? 4 : 1;
      ++pos;
    }
    pendingIndent = true;
    pendingWidth = width;
    lexLogicalLine();
  }
  finish();
  return std::move(tokens);
}

void Lexer::lexLogicalLine() {
  while (!failed) {
    while (inBounds(pos) && (src[pos] == ' ' || src[pos] == '\t'))
      ++pos;
    if (!inBounds(pos)) {
      endLogicalLine(pos);
      return;
    }
    if (size_t term = terminatorAt(pos)) {
      endLogicalLine(pos);
      startNextLine(pos + term);
      return;
    }
    unsigned char c = src[pos];
    if (c == '#') {
      // The terminator (or end of input) is handled on the next iteration. A
      // lone '\r' inside a comment is just a comment byte.
      while (inBounds(pos) && src[pos] != '\n' && terminatorAt(pos) == 0)
        ++pos;
      continue;
    }
    if (c == '\\') {
      if (size_t term = terminatorAt(pos + 1)) {
        // Join with the next line: its leading whitespace is not indentation.
        startNextLine(pos + 1 + term);
        continue;
      }
      if (pos + 1 == size())
        return fail(locAt(pos), "unexpected end of file after line "
                                "continuation '\\'");
      return fail(locAt(pos), "unexpected character '\\': a backslash must be "
                              "the last character of a line");
    }
    if (isNameStart(c))
      lexName();
    else if (isDigit(c) || (c == '.' && isDigit(at(pos + 1))))
      lexNumber();
    else if (c == '\'')
      lexString();
    else
      lexPunct();
  }
}

void Lexer::endLogicalLine(size_t at) {
  // A line that produced no token is blank for layout purposes.
  if (!pendingIndent)
    tokens.push_back({Tok::Newline, locAt(at), {}, 0, 0});
  pendingIndent = false;
}

void Lexer::applyIndent(SourceLoc loc) {
  uint64_t width = pendingWidth;
  if (width > indents.back()) {
    indents.push_back(width);
    tokens.push_back({Tok::Indent, loc, {}, 0, 0});
    return;
  }
  if (width == indents.back())
    return;
  bool onStack = false;
  for (uint64_t w : indents)
    onStack |= w == width;
  if (!onStack) {
    std::string levels;
    for (uint64_t w : indents)
      levels += (levels.empty() ? "" : ", ") + std::to_string(w);
    return fail(loc, "inconsistent dedent: width " + std::to_string(width) +
                         " does not match any enclosing indentation level (" +
                         levels + ")");
  }
  while (indents.back() > width) {
    indents.pop_back();
    tokens.push_back({Tok::Dedent, loc, {}, 0, 0});
  }
}

void Lexer::push(Tok kind, size_t begin, size_t end) {
  SourceLoc loc = locAt(begin);
  if (pendingIndent) {
    pendingIndent = false;
    applyIndent(loc);
    if (failed)
      return;
  }
  tokens.push_back({kind, loc, src.substr(begin, end - begin), 0, 0});
}

void Lexer::lexName() {
  size_t begin = pos;
  while (inBounds(pos) && isNameChar(src[pos]))
    ++pos;
  push(keywordKind(src.substr(begin, pos - begin)), begin, pos);
}

void Lexer::lexNumber() {
  size_t begin = pos;
  auto digits = [&] {
    while (inBounds(pos) && (isDigit(src[pos]) || src[pos] == '_'))
      ++pos;
  };
  bool isFloat = false;
  digits();
  if (at(pos) == '.') {
    isFloat = true;
    ++pos;
    digits();
  }
  unsigned char e = at(pos);
  if ((e == 'e' || e == 'E') &&
      (isDigit(at(pos + 1)) ||
       ((at(pos + 1) == '+' || at(pos + 1) == '-') && isDigit(at(pos + 2))))) {
    isFloat = true;
    pos += isDigit(at(pos + 1)) ? 1 : 2;
    digits();
  }
  if (inBounds(pos) && (isNameChar(src[pos]) || src[pos] == '.')) {
    // `12abc`, `1e`, `1.5.3`: one malformed literal rather than two tokens.
    while (inBounds(pos) && (isNameChar(src[pos]) || src[pos] == '.'))
      ++pos;
    return fail(locAt(begin), "invalid number literal '" +
                                  std::string(src.substr(begin, pos - begin)) +
                                  "'");
  }
  std::string_view text = src.substr(begin, pos - begin);
  // '_' separates digits: it needs a digit on both sides.
  for (size_t i = 0; i < text.size(); ++i)
    if (text[i] == '_' && (i == 0 || !isDigit(text[i - 1]) ||
                           i + 1 == text.size() || !isDigit(text[i + 1])))
      return fail(locAt(begin), "invalid '_' in number literal '" +
                                    std::string(text) +
                                    "': '_' must stand between two digits");
  std::string clean;
  for (char c : text)
    if (c != '_')
      clean += c;

  if (!isFloat) {
    if (clean.size() > 1 && clean[0] == '0')
      return fail(locAt(begin), "leading zeros are not allowed in '" +
                                    std::string(text) + "'");
    uint64_t value = 0;
    for (char c : clean) {
      uint64_t digit = uint64_t(c - '0');
      if (value > (UINT64_MAX - digit) / 10)
        return fail(locAt(begin), "integer literal '" + std::string(text) +
                                      "' does not fit in 64 bits");
      value = value * 10 + digit;
    }
    push(Tok::Int, begin, pos);
    if (!failed)
      tokens.back().intValue = value;
    return;
  }
  double value = 0;
  auto [ptr, ec] =
      std::from_chars(clean.data(), clean.data() + clean.size(), value);
  if (ec == std::errc::result_out_of_range)
    return fail(locAt(begin), "float literal '" + std::string(text) +
                                  "' is out of range");
  if (ec != std::errc() || ptr != clean.data() + clean.size())
    return fail(locAt(begin),
                "invalid number literal '" + std::string(text) + "'");
  push(Tok::Float, begin, pos);
  if (!failed)
    tokens.back().floatValue = value;
}

void Lexer::lexString() {
  size_t begin = pos++;
  while (inBounds(pos) && src[pos] != '\'' && src[pos] != '\n' &&
         terminatorAt(pos) == 0)
    ++pos;
  if (at(pos) != '\'' || !inBounds(pos))
    return fail(locAt(begin), "unterminated string literal: a string must "
                              "end with ' on the same line");
  ++pos;
  push(Tok::String, begin, pos);
  if (!failed)
    tokens.back().text = src.substr(begin + 1, pos - begin - 2);
}

void Lexer::lexPunct() {
  size_t begin = pos;
  unsigned char c = src[pos];
  unsigned char next = at(pos + 1);
  Tok kind;
  size_t len = 1;
  switch (c) {
  case '=':
    kind = next == '=' ? Tok::EqEq : next == '>' ? Tok::Arrow : Tok::Assign;
    len = kind == Tok::Assign ? 1 : 2;
    break;
  case '!':
    if (next != '=')
      return fail(locAt(begin), "unexpected character '!'");
    kind = Tok::NotEq;
    len = 2;
    break;
  case '<':
    kind = next == '=' ? Tok::LessEq : Tok::Less;
    len = next == '=' ? 2 : 1;
    break;
  case '>':
    kind = next == '=' ? Tok::GreaterEq : Tok::Greater;
    len = next == '=' ? 2 : 1;
    break;
  case '+': kind = Tok::Plus; break;
  case '-': kind = Tok::Minus; break;
  case '*': kind = Tok::Star; break;
  case '/': kind = Tok::Slash; break;
  case ':': kind = Tok::Colon; break;
  case ',': kind = Tok::Comma; break;
  case '(': kind = Tok::LParen; break;
  case ')': kind = Tok::RParen; break;
  case '@': kind = Tok::At; break;
  case '{':
    return lexBrace();
  case '"':
    return fail(locAt(begin),
                "unexpected character '\"': strings use single quotes");
  case '&':
    return fail(locAt(begin), "unexpected character '&': use 'and'");
  case '|':
    return fail(locAt(begin), "unexpected character '|': use 'or'");
  default:
    return fail(locAt(begin), "unexpected " + describeByte(c));
  }
  pos += len;
  push(kind, begin, pos);
}

/// A `{` is never valid here; it starts a block in the brace-based dialect.
/// A block is expected after a section keyword (`state {`, also on the next
/// line), after a handler's or a match's `)` (`fn req(rpc) {`, `match (x) {`),
/// after ':' or '=>', and after the scrutinee of a `match` line.
void Lexer::lexBrace() {
  const Token *first = nullptr, *last = nullptr;
  for (const Token &t : tokens)
    if (!isLayout(t.kind)) {
      first = &t;
      break;
    }
  for (auto it = tokens.rbegin(); it != tokens.rend(); ++it)
    if (!isLayout(it->kind)) {
      last = &*it;
      break;
    }
  if (first && first->is(Tok::Name) &&
      (first->text == "fn" || first->text == "internal"))
    return fail(first->loc, kBraceDialect);
  bool blockExpected = !last;
  if (last) {
    switch (last->kind) {
    case Tok::KwState:
    case Tok::KwInit:
    case Tok::KwReq:
    case Tok::KwResp:
    case Tok::RParen:
    case Tok::Colon:
    case Tok::Arrow:
      blockExpected = true;
      break;
    default:
      break;
    }
    // `match x {`: the first token of the current logical line is `match`.
    if (!pendingIndent) {
      const Token *lineStart = nullptr;
      for (auto it = tokens.rbegin(); it != tokens.rend(); ++it) {
        if (it->is(Tok::Newline))
          break;
        if (!isLayout(it->kind))
          lineStart = &*it;
      }
      blockExpected |= lineStart && (lineStart->is(Tok::KwMatch) ||
                                     lineStart->is(Tok::KwForeach));
    }
  }
  fail(locAt(pos), blockExpected ? kBraceDialect : "unexpected character '{'");
}

void Lexer::finish() {
  SourceLoc loc = locAt(pos > size() ? size() : pos);
  // A logical line cut short by the end of input or by an error still ends.
  if (!pendingIndent && !tokens.empty() && !tokens.back().is(Tok::Newline))
    tokens.push_back({Tok::Newline, loc, {}, 0, 0});
  while (indents.size() > 1) {
    indents.pop_back();
    tokens.push_back({Tok::Dedent, loc, {}, 0, 0});
  }
  tokens.push_back({Tok::Eof, loc, {}, 0, 0});
}

struct KeywordEntry {
  std::string_view spelling;
  const char *quoted; ///< For messages.
  Tok kind;
};
constexpr KeywordEntry keywords[] = {
    {"state", "'state'", Tok::KwState},
    {"init", "'init'", Tok::KwInit},
    {"req", "'req'", Tok::KwReq},
    {"resp", "'resp'", Tok::KwResp},
    {"pass", "'pass'", Tok::KwPass},
    {"match", "'match'", Tok::KwMatch},
    {"foreach", "'foreach'", Tok::KwForeach},
    {"lambda", "'lambda'", Tok::KwLambda},
    {"send", "'send'", Tok::KwSend},
    {"err", "'err'", Tok::KwErr},
    {"get", "'get'", Tok::KwGet},
    {"set", "'set'", Tok::KwSet},
    {"delete", "'delete'", Tok::KwDelete},
    {"size", "'size'", Tok::KwSize},
    {"byte_size", "'byte_size'", Tok::KwByteSize},
    {"Some", "'Some'", Tok::KwSome},
    {"None", "'None'", Tok::KwNone},
    {"Up", "'Up'", Tok::KwUp},
    {"Down", "'Down'", Tok::KwDown},
    {"true", "'true'", Tok::KwTrue},
    {"false", "'false'", Tok::KwFalse},
    {"and", "'and'", Tok::KwAnd},
    {"or", "'or'", Tok::KwOr},
    {"Map", "'Map'", Tok::KwMap},
    {"Vec", "'Vec'", Tok::KwVec},
};

} // namespace

std::vector<Token> sbpf::appnet::lex(std::string_view source,
                                     DiagnosticSink &diags) {
  return Lexer(source, diags).run();
}

Tok sbpf::appnet::keywordKind(std::string_view word) {
  if (word.size() < 2 || word.size() > 9)
    return Tok::Name;
  for (const KeywordEntry &k : keywords)
    if (k.spelling == word)
      return k.kind;
  return Tok::Name;
}

const char *sbpf::appnet::tokSpelling(Tok kind) {
  switch (kind) {
  case Tok::Eof: return "end of file";
  case Tok::Newline: return "end of line";
  case Tok::Indent: return "an indented block";
  case Tok::Dedent: return "end of block";
  case Tok::Name: return "a name";
  case Tok::Int: return "an integer";
  case Tok::Float: return "a number";
  case Tok::String: return "a string";
  case Tok::EqEq: return "'=='";
  case Tok::NotEq: return "'!='";
  case Tok::Less: return "'<'";
  case Tok::Greater: return "'>'";
  case Tok::LessEq: return "'<='";
  case Tok::GreaterEq: return "'>='";
  case Tok::Plus: return "'+'";
  case Tok::Minus: return "'-'";
  case Tok::Star: return "'*'";
  case Tok::Slash: return "'/'";
  case Tok::Assign: return "'='";
  case Tok::Arrow: return "'=>'";
  case Tok::Colon: return "':'";
  case Tok::Comma: return "','";
  case Tok::LParen: return "'('";
  case Tok::RParen: return "')'";
  case Tok::At: return "'@'";
  default:
    break;
  }
  for (const KeywordEntry &k : keywords)
    if (k.kind == kind)
      return k.quoted;
  return "a token";
}

std::string sbpf::appnet::describeToken(const Token &token) {
  switch (token.kind) {
  case Tok::Name:
  case Tok::Int:
  case Tok::Float:
    return "'" + std::string(token.text) + "'";
  case Tok::String:
    return "string '" + std::string(token.text) + "'";
  default:
    return tokSpelling(token.kind);
  }
}
