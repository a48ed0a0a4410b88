//===- LexerTest.cpp - layout and lexical rules of the AppNet lexer -------===//
#include "sbpf/AppNet/Lexer.h"

#include <gtest/gtest.h>

#include <random>

using namespace sbpf::appnet;

namespace {

/// The token stream in a compact form: words and punctuation as written,
/// strings quoted, layout tokens as NL / IN / DE, and EOF.
std::string layout(std::string_view source, DiagnosticSink &diags) {
  std::string out;
  for (const Token &t : lex(source, diags)) {
    if (!out.empty())
      out += ' ';
    switch (t.kind) {
    case Tok::Newline: out += "NL"; break;
    case Tok::Indent: out += "IN"; break;
    case Tok::Dedent: out += "DE"; break;
    case Tok::Eof: out += "EOF"; break;
    case Tok::String: out += "'" + std::string(t.text) + "'"; break;
    default: out += std::string(t.text); break;
    }
  }
  return out;
}

std::string layout(std::string_view source) {
  DiagnosticSink diags;
  std::string out = layout(source, diags);
  EXPECT_FALSE(diags.hasErrors())
      << diags.firstError()->loc.str() << ": " << diags.firstError()->message;
  return out;
}

/// Lexes `source`, which must fail; returns "LINE:COL: message".
std::string lexError(std::string_view source) {
  DiagnosticSink diags;
  std::vector<Token> tokens = lex(source, diags);
  EXPECT_FALSE(tokens.empty());
  EXPECT_TRUE(!tokens.empty() && tokens.back().is(Tok::Eof));
  const Diagnostic *error = diags.firstError();
  if (!error)
    return "no error";
  EXPECT_EQ(diags.errorCount(), 1u);
  return error->loc.str() + ": " + error->message;
}

TEST(LexerLayout, TabCountsExactlyFourColumns) {
  // A tab then two spaces is width 6, the same as six spaces.
  EXPECT_EQ(layout("a:\n\t  b\n      c\n"), "a : NL IN b NL c NL DE EOF");
  // Not a tab stop: two spaces then a tab is 6, not 8.
  EXPECT_EQ(layout("a:\n  \tb\n      c\n"), "a : NL IN b NL c NL DE EOF");
  // Width 8 after width 6 is a deeper block, not the same one.
  EXPECT_EQ(layout("a:\n  \tb:\n        c\n"),
            "a : NL IN b : NL IN c NL DE DE EOF");
}

TEST(LexerLayout, TabsAndSpacesMixAcrossLines) {
  // Widths 4 (tab), 8 (tab + 4 spaces), 8 (two tabs), 4 (four spaces).
  EXPECT_EQ(layout("a:\n\tb:\n\t    c\n\t\td\n    e\n"),
            "a : NL IN b : NL IN c NL d NL DE e NL DE EOF");
}

TEST(LexerLayout, BlankAndCommentLinesDoNotChangeLayout) {
  EXPECT_EQ(layout("a:\n"
                   "    b\n"
                   "\n"
                   "  \n"
                   "   # a comment at an odd indentation\n"
                   "\t\t# deeper comment\n"
                   "# comment at column 1\n"
                   "    c\n"),
            "a : NL IN b NL c NL DE EOF");
  // Comment-only lines before the first token and at the end.
  EXPECT_EQ(layout("  # header\n\na\n   # trailer"), "a NL EOF");
}

TEST(LexerLayout, NewlineEndsStatementInsideParentheses) {
  // The layout tokens appear regardless of the open '(' (contract §2): this
  // is what makes a lambda body an indented block inside foreach(...).
  EXPECT_EQ(layout("foreach(v, lambda(x):\n    y = x\n)\n"),
            "foreach ( v , lambda ( x ) : NL IN y = x NL DE ) NL EOF");
  EXPECT_EQ(layout("f(a,\n  b)\n"), "f ( a , NL IN b ) NL DE EOF");
}

TEST(LexerLayout, BackslashJoinsLines) {
  EXPECT_EQ(layout("x = 1 + \\\n        2\ny\n"), "x = 1 + 2 NL y NL EOF");
  EXPECT_EQ(layout("x = 1 + \\\r\n 2\r\n"), "x = 1 + 2 NL EOF");
  // The continued line's position is still its own.
  DiagnosticSink diags;
  std::vector<Token> tokens = lex("x = \\\n   y\n", diags);
  ASSERT_EQ(tokens.size(), 5u);
  EXPECT_EQ(tokens[2].loc.str(), "2:4");
  EXPECT_EQ(lexError("x = \\ 2\n"), "1:5: unexpected character '\\': a "
                                   "backslash must be the last character of a "
                                   "line");
  EXPECT_EQ(lexError("x = \\"),
            "1:5: unexpected end of file after line continuation '\\'");
}

TEST(LexerLayout, CrlfIsAccepted) {
  EXPECT_EQ(layout("a:\r\n    b\r\n\r\n    c\r\n"), layout("a:\n    b\n\n    c\n"));
  DiagnosticSink diags;
  std::vector<Token> tokens = lex("a:\r\n    bb\r\n", diags);
  EXPECT_EQ(tokens[4].text, "bb"); // The '\r' is not part of the name.
  EXPECT_EQ(tokens[4].loc.str(), "2:5");
}

TEST(LexerLayout, MissingFinalNewlineIsAccepted) {
  EXPECT_EQ(layout("a:\n    b"), "a : NL IN b NL DE EOF");
  EXPECT_EQ(layout("a:\r\n    b\r"), "a : NL IN b NL DE EOF");
  EXPECT_EQ(layout(""), "EOF");
}

TEST(LexerLayout, EndOfFileClosesEveryBlock) {
  EXPECT_EQ(layout("a:\n  b:\n    c:\n      d\n"),
            "a : NL IN b : NL IN c : NL IN d NL DE DE DE EOF");
}

TEST(LexerLayout, DedentToOuterLevels) {
  EXPECT_EQ(layout("a:\n  b:\n    c\nd\n"), "a : NL IN b : NL IN c NL DE DE d NL EOF");
}

TEST(LexerLayout, InconsistentDedentIsLocatedAtTheLine) {
  EXPECT_EQ(lexError("init():\n        n = 0\n    n = 1\n"),
            "3:5: inconsistent dedent: width 4 does not match any enclosing "
            "indentation level (0, 8)");
  // Columns count bytes: the tab-indented line's first token is column 2.
  EXPECT_EQ(lexError("a:\n\t\tb\n\tc\n"),
            "3:2: inconsistent dedent: width 4 does not match any enclosing "
            "indentation level (0, 8)");
  EXPECT_EQ(lexError("a:\n    b:\n        c\n  d\n"),
            "4:3: inconsistent dedent: width 2 does not match any enclosing "
            "indentation level (0, 4, 8)");
}

TEST(LexerTokens, ColumnsCountBytes) {
  DiagnosticSink diags;
  std::vector<Token> tokens = lex("\tx = 'a\tb' + 1\n", diags);
  ASSERT_GE(tokens.size(), 6u);
  EXPECT_TRUE(tokens[0].is(Tok::Indent));
  EXPECT_EQ(tokens[1].loc.str(), "1:2");
  EXPECT_EQ(tokens[3].loc.str(), "1:6");
  EXPECT_EQ(tokens[3].text, "a\tb");
  EXPECT_EQ(tokens[4].loc.str(), "1:12");
}

TEST(LexerTokens, StrayCharacters) {
  EXPECT_EQ(lexError("x = 1 $ 2\n"), "1:7: unexpected character '$'");
  EXPECT_EQ(lexError(std::string_view("x\0y", 3)), "1:2: unexpected byte 0x00");
  EXPECT_EQ(lexError("a = \"s\"\n"),
            "1:5: unexpected character '\"': strings use single quotes");
  EXPECT_EQ(lexError("a && b\n"), "1:3: unexpected character '&': use 'and'");
  EXPECT_EQ(lexError("a\n!b\n"), "2:1: unexpected character '!'");
  EXPECT_EQ(lexError("x = a.b\n"), "1:6: unexpected character '.'");
  EXPECT_EQ(lexError("x\ry\n"), "1:2: unexpected byte 0x0d");
}

TEST(LexerTokens, BracesOfTheOlderDialect) {
  const std::string dialect =
      "the brace-based AppNet dialect ('fn req(rpc) { ... }') is not "
      "supported yet; use the indentation syntax";
  EXPECT_EQ(lexError("state {\n"), "1:7: " + dialect);
  EXPECT_EQ(lexError("state\n\n  # comment\n{\n"), "4:1: " + dialect);
  EXPECT_EQ(lexError("{\n"), "1:1: " + dialect);
  EXPECT_EQ(lexError("internal{}\n"), "1:1: " + dialect);
  EXPECT_EQ(lexError("\n  fn req(rpc) {\n"), "2:3: " + dialect);
  EXPECT_EQ(lexError("x = f(a) {\n"), "1:10: " + dialect);
  EXPECT_EQ(lexError("x = 1 {\n"), "1:7: unexpected character '{'");
  EXPECT_EQ(lexError("state:\n    x = }\n"), "2:9: unexpected character '}'");
  // Without a brace, `fn` and `internal` are names (the parser decides).
  EXPECT_EQ(layout("internal fn\n"), "internal fn NL EOF");
}

TEST(LexerTokens, UnterminatedString) {
  EXPECT_EQ(lexError("x = 'abc\ny = 1\n"),
            "1:5: unterminated string literal: a string must end with ' on "
            "the same line");
  EXPECT_EQ(lexError("x = 'abc"), lexError("x = 'abc\n"));
  EXPECT_EQ(layout("x = ''\n"), "x = '' NL EOF");
}

TEST(LexerTokens, LeadingZeros) {
  EXPECT_EQ(lexError("x = 012\n"), "1:5: leading zeros are not allowed in '012'");
  EXPECT_EQ(lexError("x = 0_1\n"), "1:5: leading zeros are not allowed in '0_1'");
  EXPECT_EQ(layout("x = 0\n"), "x = 0 NL EOF");
  EXPECT_EQ(layout("x = 0.5 + 00.5\n"), "x = 0.5 + 00.5 NL EOF"); // Floats may.
}

TEST(LexerTokens, NumberForms) {
  DiagnosticSink diags;
  std::vector<Token> tokens =
      lex("1.5 .5 1. 1e3 1.5e-3 2E+2 1_000 0 18446744073709551615\n", diags);
  ASSERT_FALSE(diags.hasErrors());
  ASSERT_EQ(tokens.size(), 11u);
  const double floats[] = {1.5, 0.5, 1.0, 1000.0, 0.0015, 200.0};
  for (int i = 0; i < 6; ++i) {
    EXPECT_TRUE(tokens[i].is(Tok::Float)) << i;
    EXPECT_DOUBLE_EQ(tokens[i].floatValue, floats[i]) << i;
  }
  EXPECT_TRUE(tokens[6].is(Tok::Int));
  EXPECT_EQ(tokens[6].intValue, 1000u);
  EXPECT_EQ(tokens[7].intValue, 0u);
  EXPECT_EQ(tokens[8].intValue, UINT64_MAX);
}

TEST(LexerTokens, MalformedNumbers) {
  EXPECT_EQ(lexError("18446744073709551616\n"),
            "1:1: integer literal '18446744073709551616' does not fit in 64 bits");
  EXPECT_EQ(lexError("x = 1__0\n"), "1:5: invalid '_' in number literal "
                                    "'1__0': '_' must stand between two digits");
  EXPECT_EQ(lexError("x = 1_\n"), "1:5: invalid '_' in number literal '1_': "
                                  "'_' must stand between two digits");
  EXPECT_EQ(lexError("x = 12abc\n"), "1:5: invalid number literal '12abc'");
  EXPECT_EQ(lexError("x = 1e\n"), "1:5: invalid number literal '1e'");
  EXPECT_EQ(lexError("x = 1.5.3\n"), "1:5: invalid number literal '1.5.3'");
  EXPECT_EQ(lexError("x = 1e999\n"), "1:5: float literal '1e999' is out of range");
}

TEST(LexerTokens, NamesAndReservedWords) {
  DiagnosticSink diags;
  std::vector<Token> tokens = lex("size sizes _ _x9 été Map byte_size\n", diags);
  ASSERT_FALSE(diags.hasErrors());
  ASSERT_EQ(tokens.size(), 9u);
  EXPECT_TRUE(tokens[0].is(Tok::KwSize));
  EXPECT_TRUE(tokens[1].is(Tok::Name));
  EXPECT_TRUE(tokens[2].is(Tok::Name));
  EXPECT_TRUE(tokens[3].is(Tok::Name));
  EXPECT_TRUE(tokens[4].is(Tok::Name)); // Unicode letters are letters.
  EXPECT_EQ(tokens[4].text, "été");
  EXPECT_TRUE(tokens[5].is(Tok::KwMap));
  EXPECT_TRUE(tokens[6].is(Tok::KwByteSize));
  for (const char *word : {"state", "init", "req", "resp", "pass", "match",
                           "foreach", "lambda", "send", "err", "get", "set",
                           "delete", "size", "byte_size", "Some", "None", "Up",
                           "Down", "true", "false", "and", "or", "Map", "Vec"})
    EXPECT_TRUE(isReservedWord(word)) << word;
  for (const char *word : {"min", "max", "randomf", "rpc", "int", "Instant"})
    EXPECT_FALSE(isReservedWord(word)) << word;
}

TEST(LexerTokens, Operators) {
  DiagnosticSink diags;
  std::vector<Token> tokens =
      lex("== != < > <= >= + - * / = => : , ( ) @\n", diags);
  ASSERT_FALSE(diags.hasErrors());
  const Tok expected[] = {Tok::EqEq,   Tok::NotEq,  Tok::Less,      Tok::Greater,
                          Tok::LessEq, Tok::GreaterEq, Tok::Plus,   Tok::Minus,
                          Tok::Star,   Tok::Slash,  Tok::Assign,    Tok::Arrow,
                          Tok::Colon,  Tok::Comma,  Tok::LParen,    Tok::RParen,
                          Tok::At,     Tok::Newline, Tok::Eof};
  ASSERT_EQ(tokens.size(), std::size(expected));
  for (size_t i = 0; i < tokens.size(); ++i)
    EXPECT_EQ(tokens[i].kind, expected[i]) << i;
  // Maximal munch, and '>' '>' in nested type arguments stays two tokens.
  EXPECT_EQ(layout("Map<K,<A,B>>\n"), "Map < K , < A , B > > NL EOF");
  EXPECT_EQ(layout("a=>b==c\n"), "a => b == c NL EOF");
}

TEST(LexerTokens, ByteOrderMarkIsSkipped) {
  EXPECT_EQ(layout("\xEF\xBB\xBFstate\n"), "state NL EOF");
}

TEST(LexerRobustness, AnyBytesTerminateWithAWellFormedStream) {
  // Every single byte, then random byte strings biased towards the
  // characters that matter for layout.
  for (int c = 0; c < 256; ++c) {
    DiagnosticSink diags;
    std::string source(1, char(c));
    std::vector<Token> tokens = lex(source, diags);
    ASSERT_FALSE(tokens.empty());
    EXPECT_TRUE(tokens.back().is(Tok::Eof));
  }
  std::mt19937 rng(1234);
  const char alphabet[] = " \t\n\r\\'#:()=<>.0123456789_eaZ\xC3\xA9\x80";
  for (int round = 0; round < 3000; ++round) {
    std::string source;
    size_t length = rng() % 80;
    for (size_t i = 0; i < length; ++i)
      source += rng() % 4 ? alphabet[rng() % (sizeof alphabet - 1)] : char(rng());
    DiagnosticSink diags;
    std::vector<Token> tokens = lex(source, diags);
    ASSERT_FALSE(tokens.empty());
    ASSERT_TRUE(tokens.back().is(Tok::Eof));
    // INDENT and DEDENT balance, whatever happened.
    int depth = 0;
    for (const Token &t : tokens) {
      depth += t.is(Tok::Indent) - t.is(Tok::Dedent);
      ASSERT_GE(depth, 0);
      ASSERT_TRUE(t.loc.isValid());
    }
    ASSERT_EQ(depth, 0);
    ASSERT_LE(diags.errorCount(), 1u);
  }
}

} // namespace
