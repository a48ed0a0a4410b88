//===- Lexer.h - tokens and the layout-aware lexer of AppNet ----*- C++ -*-===//
//
// The lexer turns an element's source into tokens, including the layout
// tokens NEWLINE, INDENT and DEDENT (shared/docs/appnet-language.md §2):
//  * indentation width = spaces + 4 × tabs (a tab is always 4 columns);
//  * blank and comment-only lines never change the layout;
//  * a newline ends a logical line even inside parentheses (this is what lets
//    a `foreach(..., lambda(x):` body be an indented block inside the call);
//  * a backslash at the very end of a line joins it with the next;
//  * CRLF and a missing final newline are accepted; end of file closes every
//    open block.
// The lexer stops at the first lexical error; it never loops or reads out of
// bounds, whatever the bytes (NUL and invalid UTF-8 included).
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_APPNET_LEXER_H
#define SBPF_APPNET_LEXER_H

#include "sbpf/AppNet/Diagnostics.h"

#include <cstdint>
#include <string_view>
#include <vector>

namespace sbpf::appnet {

enum class Tok : uint8_t {
  // Layout and end of input.
  Eof,
  Newline,
  Indent,
  Dedent,
  // Atoms.
  Name,
  Int,
  Float,
  String,
  // Reserved words (contract §2), in the contract's order.
  KwState,
  KwInit,
  KwReq,
  KwResp,
  KwPass,
  KwMatch,
  KwForeach,
  KwLambda,
  KwSend,
  KwErr,
  KwGet,
  KwSet,
  KwDelete,
  KwSize,
  KwByteSize,
  KwSome,
  KwNone,
  KwUp,
  KwDown,
  KwTrue,
  KwFalse,
  KwAnd,
  KwOr,
  KwMap,
  KwVec,
  // Operators and punctuation.
  EqEq,      // ==
  NotEq,     // !=
  Less,      // <
  Greater,   // >
  LessEq,    // <=
  GreaterEq, // >=
  Plus,      // +
  Minus,     // -
  Star,      // *
  Slash,     // /
  Assign,    // =
  Arrow,     // =>
  Colon,     // :
  Comma,     // ,
  LParen,    // (
  RParen,    // )
  At,        // @
};

struct Token {
  Tok kind = Tok::Eof;
  SourceLoc loc;
  /// The token's bytes in the source. For a String, the contents between the
  /// quotes; for layout tokens and Eof, empty.
  std::string_view text;
  uint64_t intValue = 0;  ///< Int only.
  double floatValue = 0;  ///< Float only.

  bool is(Tok k) const { return kind == k; }
  bool isKeyword() const { return kind >= Tok::KwState && kind <= Tok::KwVec; }
  /// A name or a reserved word: what may stand where a name is expected
  /// syntactically (the type checker then rejects reserved words as names).
  bool isWord() const { return kind == Tok::Name || isKeyword(); }
};

/// Lexes the whole source. The result always ends with Eof. On a lexical
/// error, the error is reported to `diags` and the tokens stop there (closed by
/// NEWLINE, DEDENTs and Eof); callers should not parse a failed token stream.
std::vector<Token> lex(std::string_view source, DiagnosticSink &diags);

/// The reserved word spelled `word`, or Tok::Name if it is not reserved.
Tok keywordKind(std::string_view word);
inline bool isReservedWord(std::string_view word) {
  return keywordKind(word) != Tok::Name;
}

/// How a token kind is spelled in messages: "':'", "'match'", "end of line".
const char *tokSpelling(Tok kind);
/// How a particular token is named in "found ..." messages: "':'",
/// "'foo'", "string 'abc'", "end of line", "end of file".
std::string describeToken(const Token &token);

} // namespace sbpf::appnet

#endif // SBPF_APPNET_LEXER_H
