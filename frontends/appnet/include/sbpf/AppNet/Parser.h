//===- Parser.h - recursive-descent parser of AppNet elements ---*- C++ -*-===//
//
// Parses the grammar of shared/docs/appnet-language.md §3 with our
// extensions (inline match arms, optional `resp`, optional commas between
// arguments and parameters, assignments and `send` in lambda bodies).
// Operator precedence is conventional: or < and < comparison (not
// associative) < + - < * /. An unparenthesised chain mixing + - with * /, or
// `and` with `or`, gets a warning (the reference grammar has no precedence).
// The older brace-based dialect (`state {`, `fn req(rpc) { ... }`) is
// recognised and rejected with one error: by the lexer at a '{' where a block
// is expected, or at a first token `fn` / `internal`.
// The parser stops at the first syntax error and reports exactly that one;
// nesting deeper than kMaxNesting / kMaxBlockNesting is an error, so no
// input can exhaust the stack (here or in later walks over the tree).
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_APPNET_PARSER_H
#define SBPF_APPNET_PARSER_H

#include "sbpf/AppNet/AST.h"
#include "sbpf/AppNet/Diagnostics.h"
#include "sbpf/AppNet/Lexer.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sbpf::appnet {

/// How deep expressions and types may nest (an operator of a chain counts as
/// one level: `a + b + c` is a tree of depth 2).
constexpr unsigned kMaxNesting = 200;
/// How deep blocks may nest (handler bodies, match arms, lambda bodies).
constexpr unsigned kMaxBlockNesting = 100;

/// Parses a token stream produced by `lex` (which must have succeeded).
/// Returns null iff a syntax error was reported.
std::unique_ptr<Element> parseTokens(const std::vector<Token> &tokens,
                                     DiagnosticSink &diags);

/// Lexes and parses `source`. Returns null iff an error was reported.
std::unique_ptr<Element> parseElement(std::string_view source,
                                      DiagnosticSink &diags);

/// Parses `source` as one expression (for tests and tools); null on error.
ExprPtr parseExpression(std::string_view source, DiagnosticSink &diags);

/// Prints an expression back in AppNet syntax, parenthesising every nested
/// binary expression so that the grouping is explicit: `a + (b * c)`.
std::string printExpr(const Expr &expr);

} // namespace sbpf::appnet

#endif // SBPF_APPNET_PARSER_H
