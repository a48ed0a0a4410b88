//===- ParserTest.cpp - grammar, precedence and syntax errors of AppNet ---===//
#include "sbpf/AppNet/Parser.h"
#include "TestFiles.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

using namespace sbpf::appnet;
using namespace sbpf::appnet::test;

namespace {

/// "LINE:COL: message" of every diagnostic of `severity`, in order.
std::vector<std::string> messages(const DiagnosticSink &diags,
                                  Severity severity) {
  std::vector<std::string> out;
  for (const Diagnostic &d : diags.diagnostics())
    if (d.severity == severity)
      out.push_back(d.loc.str() + ": " + d.message);
  return out;
}

/// Parses an element that must be valid (no diagnostics at all).
std::unique_ptr<Element> parseValid(std::string_view source) {
  DiagnosticSink diags;
  std::unique_ptr<Element> element = parseElement(source, diags);
  EXPECT_TRUE(element);
  EXPECT_TRUE(diags.diagnostics().empty())
      << diags.diagnostics()[0].loc.str() << ": "
      << diags.diagnostics()[0].message;
  return element;
}

/// Parses an element that must have exactly one syntax error; returns it as
/// "LINE:COL: message".
std::string parseError(std::string_view source) {
  DiagnosticSink diags;
  std::unique_ptr<Element> element = parseElement(source, diags);
  EXPECT_FALSE(element);
  std::vector<std::string> errors = messages(diags, Severity::Error);
  EXPECT_EQ(errors.size(), 1u);
  return errors.empty() ? "no error" : errors[0];
}

/// An element whose req body is `body` (indented by 4).
std::string withReq(const std::string &body) {
  return "state:\n    x: int\ninit():\n    pass\nreq(rpc):\n" + body;
}

/// The expression, printed back with every nested binary parenthesised.
std::string grouping(std::string_view source) {
  DiagnosticSink diags;
  ExprPtr expr = parseExpression(source, diags);
  if (!expr)
    return "error: " + diags.firstError()->message;
  return printExpr(*expr);
}

TEST(Parser, EveryExampleParses) {
  std::vector<std::filesystem::path> files = exampleFiles(SBPF_EXAMPLES_DIR);
  ASSERT_GE(files.size(), 11u);
  for (const auto &path : files) {
    SCOPED_TRACE(path.string());
    std::unique_ptr<Element> element = parseValid(readFile(path));
    ASSERT_TRUE(element);
    EXPECT_FALSE(element->state.empty());
    EXPECT_FALSE(element->req.body.stmts.empty());
  }
}

TEST(Parser, PaperShorthand) {
  std::unique_ptr<Element> element =
      parseValid(readFile(SBPF_EXAMPLES_DIR "/paper_fault.appnet"));
  ASSERT_TRUE(element);
  ASSERT_EQ(element->state.size(), 1u);
  EXPECT_EQ(element->state[0].name, "prob");
  EXPECT_EQ(element->state[0].typeSyntax.name, "float");
  EXPECT_EQ(element->resp, nullptr); // Omitted: forwards the response.
  ASSERT_EQ(element->req.params.size(), 1u);
  EXPECT_EQ(element->req.params[0].name, "rpc");
  ASSERT_EQ(element->req.body.stmts.size(), 1u);
  auto *match = dyn_cast<MatchStmt>(element->req.body.stmts[0].get());
  ASSERT_TRUE(match);
  EXPECT_EQ(printExpr(*match->scrutinee), "randomf(0, 1) < prob");
  ASSERT_EQ(match->arms.size(), 2u);
  const MatchArm &first = match->arms[0];
  EXPECT_TRUE(first.inlineBody);
  EXPECT_EQ(first.pattern.kind, Pattern::Kind::Bool);
  EXPECT_TRUE(first.pattern.boolValue);
  ASSERT_EQ(first.body.stmts.size(), 1u);
  auto *send = dyn_cast<SendStmt>(first.body.stmts[0].get());
  ASSERT_TRUE(send);
  EXPECT_FALSE(send->isError);
  EXPECT_EQ(send->direction, Direction::Down);
  auto *errSend = dyn_cast<SendStmt>(match->arms[1].body.stmts[0].get());
  ASSERT_TRUE(errSend);
  EXPECT_TRUE(errSend->isError);
  EXPECT_EQ(errSend->direction, Direction::Up);
  EXPECT_EQ(cast<StringLiteral>(errSend->value.get())->value, "fault_injected");
  EXPECT_EQ(errSend->loc.str(), "10:14");
}

TEST(Parser, StateDeclarationsAndDecorators) {
  std::unique_ptr<Element> element = parseValid(
      "state:\n"
      "    @consistency(weak) @combiner(LWW)\n"
      "    @persistence(true)\n"
      "    table: Map<string, <int, float>>\n"
      "    log: Vec<<uint, Instant>>\n"
      "    pass\n"
      "init():\n    pass\nreq(rpc):\n    pass\n");
  ASSERT_TRUE(element);
  ASSERT_EQ(element->state.size(), 2u);
  const StateDecl &table = element->state[0];
  ASSERT_EQ(table.decorators.size(), 3u);
  EXPECT_EQ(table.decorators[0].name, "consistency");
  EXPECT_EQ(table.decorators[0].arg, "weak");
  EXPECT_EQ(table.decorators[0].loc.str(), "2:5");
  EXPECT_EQ(table.decorators[1].name, "combiner");
  EXPECT_EQ(table.decorators[1].arg, "LWW");
  EXPECT_EQ(table.decorators[2].arg, "true");
  EXPECT_EQ(table.loc.str(), "4:5");
  EXPECT_EQ(table.typeSyntax.kind, TypeSyntax::Kind::Map);
  EXPECT_EQ(table.typeSyntax.args[1].kind, TypeSyntax::Kind::Pair);
  EXPECT_EQ(element->state[1].typeSyntax.kind, TypeSyntax::Kind::Vec);
  EXPECT_EQ(element->state[1].typeSyntax.args[0].kind, TypeSyntax::Kind::Pair);
}

TEST(Parser, ConventionalPrecedence) {
  EXPECT_EQ(grouping("a + b * c"), "a + (b * c)");
  EXPECT_EQ(grouping("a * b + c"), "(a * b) + c");
  EXPECT_EQ(grouping("a - b - c"), "(a - b) - c");
  EXPECT_EQ(grouping("a / b * c"), "(a / b) * c");
  EXPECT_EQ(grouping("a or b and c"), "a or (b and c)");
  EXPECT_EQ(grouping("a + 1 > b * 2 and c"), "((a + 1) > (b * 2)) and c");
  EXPECT_EQ(grouping("(a + b) * c"), "(a + b) * c");
  EXPECT_EQ(grouping("f(a + b, (c, d)) == 'x'"), "f(a + b, (c, d)) == 'x'");
  EXPECT_EQ(grouping("a < b < c"),
            "error: comparison operators cannot be chained: '<' then '<'; "
            "combine the comparisons with 'and'");
}

TEST(Parser, BinaryExpressionsKeepBothLocations) {
  DiagnosticSink diags;
  ExprPtr expr = parseExpression("(a)  +  b", diags);
  ASSERT_TRUE(expr);
  auto *binary = cast<BinaryExpr>(expr.get());
  EXPECT_EQ(binary->loc.str(), "1:2"); // The first token inside the parens.
  EXPECT_EQ(binary->opLoc.str(), "1:6");
  EXPECT_EQ(binary->rhs->loc.str(), "1:9");
  EXPECT_FALSE(binary->parenthesized);
  ExprPtr paren = parseExpression("(a + b)", diags);
  EXPECT_TRUE(cast<BinaryExpr>(paren.get())->parenthesized);
}

TEST(Parser, MixedOperatorChainsWarn) {
  auto warnings = [](std::string_view source) {
    DiagnosticSink diags;
    EXPECT_TRUE(parseExpression(source, diags));
    return messages(diags, Severity::Warning);
  };
  EXPECT_EQ(warnings("a + b * c"),
            std::vector<std::string>{"1:7: mixed operators '+' and '*' without "
                                     "parentheses; parsed as 'a + (b * c)'"});
  EXPECT_EQ(warnings("a * b + c"),
            std::vector<std::string>{"1:7: mixed operators '*' and '+' without "
                                     "parentheses; parsed as '(a * b) + c'"});
  EXPECT_EQ(warnings("a - b - c / d"),
            std::vector<std::string>{"1:11: mixed operators '-' and '/' without "
                                     "parentheses; parsed as "
                                     "'(a - b) - (c / d)'"});
  EXPECT_EQ(warnings("a or b and c"),
            std::vector<std::string>{"1:8: mixed operators 'or' and 'and' "
                                     "without parentheses; parsed as "
                                     "'a or (b and c)'"});
  // One warning per chain; parenthesised or single-class chains are quiet.
  EXPECT_EQ(warnings("a + b * c + d * e").size(), 1u);
  EXPECT_TRUE(warnings("(a * b) + c").empty());
  EXPECT_TRUE(warnings("a + b - c").empty());
  EXPECT_TRUE(warnings("a < b and c >= d").empty());
  EXPECT_TRUE(warnings("(a or b) and c").empty());
  EXPECT_TRUE(warnings("a + 1 > b").empty());
}

TEST(Parser, InlineAndBlockArms) {
  std::unique_ptr<Element> element = parseValid(withReq(
      "    match get(rpc, 'user'):\n"
      "        'alice' => pass\n"
      "        1 => x = 2\n"
      "        1.5 =>\n"
      "            x = 3\n"
      "            send(rpc, Down)\n"
      "        None => send(err('no'), Up)\n"
      "        Some(v) => pass\n"
      "        Some(err('e')) => pass\n"
      "        other => pass\n"
      "        _ => pass\n"));
  ASSERT_TRUE(element);
  auto *match = cast<MatchStmt>(element->req.body.stmts[0].get());
  ASSERT_EQ(match->arms.size(), 8u);
  const Pattern::Kind kinds[] = {
      Pattern::Kind::String,  Pattern::Kind::Int,  Pattern::Kind::Float,
      Pattern::Kind::None,    Pattern::Kind::Some, Pattern::Kind::SomeErr,
      Pattern::Kind::Binding, Pattern::Kind::Wildcard};
  for (size_t i = 0; i < 8; ++i)
    EXPECT_EQ(match->arms[i].pattern.kind, kinds[i]) << i;
  EXPECT_EQ(match->arms[0].pattern.text, "alice");
  EXPECT_EQ(match->arms[1].pattern.intValue, 1u);
  EXPECT_FALSE(match->arms[2].inlineBody);
  EXPECT_EQ(match->arms[2].body.stmts.size(), 2u);
  EXPECT_EQ(match->arms[4].pattern.text, "v");
  EXPECT_EQ(match->arms[4].pattern.nameLoc.str(), "13:14");
  EXPECT_EQ(match->arms[5].pattern.text, "e");
  EXPECT_EQ(match->arms[6].pattern.text, "other");
  EXPECT_TRUE(isa<AssignStmt>(match->arms[1].body.stmts[0].get()));
}

TEST(Parser, OptionalCommas) {
  DiagnosticSink diags;
  ExprPtr call = parseExpression("f(a b, c 'd' (e))", diags);
  ASSERT_TRUE(call);
  EXPECT_EQ(cast<CallExpr>(call.get())->args.size(), 5u);
  EXPECT_EQ(printExpr(*call), "f(a, b, c, 'd', e)");
  std::unique_ptr<Element> ok = parseValid(
      "state:\n    m: Map<string, int>\n"
      "init():\n    pass\n"
      "req(rpc,):\n"
      "    set(m 'a' 1)\n"
      "    set(m, 'b', 2,)\n"
      "    send(rpc Down)\n");
  ASSERT_TRUE(ok);
  EXPECT_EQ(cast<CallExpr>(cast<ExprStmt>(ok->req.body.stmts[0].get())->expr.get())
                ->args.size(),
            3u);
}

TEST(Parser, ForeachLambdaBodyIsABlockInsideTheCall) {
  std::unique_ptr<Element> element = parseValid(
      "state:\n    samples: Vec<float>\n    total: float\n"
      "init():\n    total = 0.0\n"
      "req(rpc):\n"
      "    foreach(samples, lambda(s):\n"
      "        total = total + s\n"
      "        send(rpc, Down)\n"
      "    )\n"
      "    foreach(samples lambda(s): total = s)\n"
      "    send(rpc, Down)\n");
  ASSERT_TRUE(element);
  ASSERT_EQ(element->req.body.stmts.size(), 3u);
  auto *loop = cast<ForeachStmt>(element->req.body.stmts[0].get());
  EXPECT_EQ(loop->collection->name, "samples");
  EXPECT_EQ(loop->param, "s");
  EXPECT_EQ(loop->paramLoc.str(), "7:29");
  ASSERT_EQ(loop->body.stmts.size(), 2u);
  EXPECT_TRUE(isa<AssignStmt>(loop->body.stmts[0].get()));
  EXPECT_TRUE(isa<SendStmt>(loop->body.stmts[1].get()));
  auto *inlineLoop = cast<ForeachStmt>(element->req.body.stmts[1].get());
  EXPECT_EQ(inlineLoop->body.stmts.size(), 1u);
}

TEST(Parser, AssignmentsAndPairs) {
  std::unique_ptr<Element> element = parseValid(withReq(
      "    (a, b) = (1, 'x')\n"
      "    size = 3\n" // Reserved words are rejected by the type checker.
      "    c = (a)\n"));
  ASSERT_TRUE(element);
  auto *pair = cast<AssignStmt>(element->req.body.stmts[0].get());
  EXPECT_TRUE(pair->isPair);
  ASSERT_EQ(pair->targets.size(), 2u);
  EXPECT_EQ(pair->targets[1].name, "b");
  EXPECT_EQ(pair->targets[1].loc.str(), "6:9");
  EXPECT_TRUE(isa<PairExpr>(pair->value.get()));
  auto *reserved = cast<AssignStmt>(element->req.body.stmts[1].get());
  EXPECT_EQ(reserved->targets[0].name, "size");
  auto *paren = cast<AssignStmt>(element->req.body.stmts[2].get());
  EXPECT_TRUE(isa<NameExpr>(paren->value.get()));
}

TEST(Parser, SyntaxErrorsNameWhatWasExpected) {
  EXPECT_EQ(parseError("state\n    x: int\n"),
            "1:6: expected ':' after 'state', found end of line");
  EXPECT_EQ(parseError(withReq("    x = f(a, b\n    pass\n")),
            "6:15: expected ')' to close '(' at 6:10, found end of line (a "
            "newline ends the statement even inside parentheses; end the line "
            "with '\\' to continue it)");
  EXPECT_EQ(parseError(withReq("    x = :\n")),
            "6:9: expected an expression, found ':'");
  EXPECT_EQ(parseError("state:\n    x: int\ninit():\n    pass\nresp(rpc):\n    pass\n"),
            "5:1: expected 'req' section, found 'resp'");
  EXPECT_EQ(parseError("init():\n    pass\n"),
            "1:1: expected 'state' section, found 'init'");
  EXPECT_EQ(parseError(""), "1:1: expected 'state' section, found end of file");
  EXPECT_EQ(parseError(withReq("    x = 1\n        y = 2\n")),
            "7:9: unexpected indent");
  EXPECT_EQ(parseError(withReq("    match x:\n        1 -> pass\n")),
            "7:11: expected '=>' after the pattern, found '-'");
  EXPECT_EQ(parseError(withReq("    match x:\n        true => match y:\n")),
            "7:17: 'match' must start its own line; put it in an indented block");
  EXPECT_EQ(parseError(withReq("    send(rpc, Left)\n")),
            "6:15: expected 'Up' or 'Down' in 'send(...)', found 'Left'");
  EXPECT_EQ(parseError(withReq("    x + 1 = 2\n")),
            "6:11: cannot assign to this expression: the target of '=' must be "
            "a name or a pair of names '(a, b)'");
  EXPECT_EQ(parseError(withReq("    pass\nresp(rpc):\n    pass\nreq(rpc):\n    pass\n")),
            "9:1: expected end of file after the 'resp' section, found 'req'");
  EXPECT_EQ(parseError("state:\n    x int\n"),
            "2:7: expected ':' after state variable 'x', found 'int'");
  EXPECT_EQ(parseError("state:\n    x: Map<string int>\n"),
            "2:19: expected ',' in 'Map', found 'int'");
  EXPECT_EQ(parseError("state:\n    x: int\ninit():\npass\n"),
            "4:1: expected an indented block after 'init(...):', found 'pass'");
  EXPECT_EQ(parseError(withReq("    foreach(v, lambda(s):\n        pass\n    pass\n")),
            "8:5: expected ')' to close 'foreach(' at 6:12, found 'pass'");
  EXPECT_EQ(parseError("state:\n    @consistency(weak)\ninit():\n    pass\n"),
            "3:1: expected a state declaration after the decorator, found end of block");
}

TEST(Parser, TheBraceDialectIsRecognised) {
  const std::string dialect =
      "the brace-based AppNet dialect ('fn req(rpc) { ... }') is not "
      "supported yet; use the indentation syntax";
  // A '{' where a block is expected: after a section keyword (on the same
  // or the next line), a handler's or a match's ')', ':', '=>', or the
  // scrutinee of a match. One error, at the brace.
  EXPECT_EQ(parseError("state {\n    x: int\n}\n"), "1:7: " + dialect);
  EXPECT_EQ(parseError("state\n{\n    x: int\n}\n"), "2:1: " + dialect);
  EXPECT_EQ(parseError("state{}\n"), "1:6: " + dialect);
  EXPECT_EQ(parseError("// rate limiter's state\nstate {\n"),
            "1:16: unterminated string literal: a string must end with ' on "
            "the same line");
  EXPECT_EQ(parseError("state:\n    x: int\ninit():\n    pass\nreq(rpc) {\n"
                       "    send(rpc, NET);\n}\n"),
            "5:10: " + dialect);
  EXPECT_EQ(parseError(withReq("    match (x) {\n")), "6:15: " + dialect);
  EXPECT_EQ(parseError(withReq("    match x {\n")), "6:13: " + dialect);
  EXPECT_EQ(parseError(withReq("    match x:\n        _ => {}\n")),
            "7:14: " + dialect);
  // A file that starts with `fn` or `internal`: at that token, even when a
  // brace follows.
  EXPECT_EQ(parseError("internal {\n    x: int\n}\n"), "1:1: " + dialect);
  EXPECT_EQ(parseError("internal\n{\n"), "1:1: " + dialect);
  EXPECT_EQ(parseError("fn init() {\n    x := 1;\n}\n"), "1:1: " + dialect);
  EXPECT_EQ(parseError("internal:\n    x: int\n"), "1:1: " + dialect);
  // Elsewhere a brace is just a stray character.
  EXPECT_EQ(parseError(withReq("    x = {1}\n")),
            "6:9: unexpected character '{'");
  // `fn` and `internal` are ordinary names inside an element.
  EXPECT_TRUE(parseValid(withReq("    fn = 1\n    internal = fn\n")));
}

TEST(Parser, NestingIsBounded) {
  std::string deep = std::string(300, '(') + "1" + std::string(300, ')');
  // The 201st '(' (column 209) is one too many.
  EXPECT_EQ(parseError(withReq("    x = " + deep + "\n")),
            "6:209: expression nested too deeply");
  // A long flat chain builds a deep tree: it is bounded too.
  std::string chain = "1";
  for (int i = 0; i < 5000; ++i)
    chain += " + 1";
  std::string chainError = parseError(withReq("    x = " + chain + "\n"));
  EXPECT_NE(chainError.find(": expression nested too deeply"), std::string::npos)
      << chainError;
  // Deeply nested blocks: the handler body, then a match and an arm block
  // per level; the arm block of level 49 (line 105) is the 101st block. The
  // error points at its '=>'.
  std::string blocks;
  for (int i = 0; i < 60; ++i)
    blocks += std::string(4 + 8 * i, ' ') + "match x:\n" +
              std::string(8 + 8 * i, ' ') + "_ =>\n";
  blocks += std::string(4 + 8 * 60, ' ') + "pass\n";
  EXPECT_EQ(parseError(withReq(blocks)), "105:403: blocks nested too deeply");
  // Within the bound, nesting is fine.
  std::string ok = std::string(150, '(') + "1" + std::string(150, ')');
  EXPECT_TRUE(parseValid(withReq("    x = " + ok + "\n")));
}

TEST(Parser, MutatedExamplesNeverCrash) {
  // The lead's fuzzer runs 20,000 mutations through the full pipeline; this
  // is the quick version for the parser: any input ends either in an Element
  // or in exactly one located syntax error.
  std::vector<std::string> sources;
  for (const auto &path : exampleFiles(SBPF_EXAMPLES_DIR))
    sources.push_back(readFile(path));
  std::mt19937 rng(42);
  const char interesting[] = "()\n\t :,=<>'#\\@_0.";
  for (int round = 0; round < 4000; ++round) {
    std::string source = sources[rng() % sources.size()];
    int edits = 1 + rng() % 4;
    for (int e = 0; e < edits && !source.empty(); ++e) {
      size_t at = rng() % source.size();
      switch (rng() % 4) {
      case 0: source[at] = interesting[rng() % (sizeof interesting - 1)]; break;
      case 1: source.erase(at, 1 + rng() % 8); break;
      case 2: source.insert(at, 1, char(rng())); break;
      case 3: source.resize(at); break;
      }
    }
    DiagnosticSink diags;
    std::unique_ptr<Element> element = parseElement(source, diags);
    ASSERT_EQ(element == nullptr, diags.hasErrors()) << source;
    ASSERT_LE(diags.errorCount(), 1u) << source;
    for (const Diagnostic &d : diags.diagnostics())
      ASSERT_TRUE(d.loc.isValid()) << d.message;
  }
}

} // namespace
