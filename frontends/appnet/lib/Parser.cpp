//===- Parser.cpp - recursive-descent parser of AppNet elements -----------===//
#include "sbpf/AppNet/Parser.h"

#include <charconv>

using namespace sbpf::appnet;

const char *sbpf::appnet::binaryOpSpelling(BinaryOp op) {
  switch (op) {
  case BinaryOp::Add: return "+";
  case BinaryOp::Sub: return "-";
  case BinaryOp::Mul: return "*";
  case BinaryOp::Div: return "/";
  case BinaryOp::Eq: return "==";
  case BinaryOp::Ne: return "!=";
  case BinaryOp::Lt: return "<";
  case BinaryOp::Gt: return ">";
  case BinaryOp::Le: return "<=";
  case BinaryOp::Ge: return ">=";
  case BinaryOp::And: return "and";
  case BinaryOp::Or: return "or";
  }
  return "?";
}

const char *sbpf::appnet::handlerName(HandlerKind kind) {
  switch (kind) {
  case HandlerKind::Init: return "init";
  case HandlerKind::Req: return "req";
  case HandlerKind::Resp: return "resp";
  }
  return "?";
}

namespace {

/// An operator of an unparenthesised chain, in source order; `level` tells
/// the precedence class (0: + -, 1: * /; or 0: or, 1: and).
struct ChainOp {
  BinaryOp op;
  SourceLoc loc;
  int level;
};

class Parser {
public:
  Parser(const std::vector<Token> &tokens, DiagnosticSink &diags)
      : tokens(tokens), diags(diags) {
    if (!tokens.empty())
      eofToken.loc = tokens.back().loc;
  }

  std::unique_ptr<Element> parseElement();
  ExprPtr parseStandaloneExpr();

private:
  // Token access. Past the end of the stream (which `lex` always ends with
  // Eof, but a hand-made stream may not) every read yields Eof, so lookahead
  // stays in bounds and every loop ends.
  const Token &tok() const { return peek(0); }
  const Token &peek(size_t n) const {
    size_t i = index + n;
    return i < tokens.size() ? tokens[i] : eofToken;
  }
  bool at(Tok kind) const { return tok().kind == kind; }
  const Token &advance() {
    const Token &t = tok();
    if (index < tokens.size() && !t.is(Tok::Eof))
      ++index;
    return t;
  }
  bool unexpectedIndent() {
    if (!at(Tok::Indent))
      return false;
    error(tok().loc, "unexpected indent");
    return true;
  }
  bool consume(Tok kind) {
    if (!at(kind))
      return false;
    advance();
    return true;
  }

  /// Reports the first syntax error only; afterwards every parse function
  /// returns quickly.
  void error(SourceLoc loc, std::string message) {
    if (failed)
      return;
    failed = true;
    diags.error(loc.isValid() ? loc : SourceLoc{1, 1}, std::move(message));
  }
  /// "expected WHAT, found TOKEN" at the current token.
  bool expect(Tok kind, const std::string &what) {
    if (consume(kind))
      return true;
    errorExpected(what);
    return false;
  }
  void errorExpected(const std::string &what) {
    error(tok().loc, "expected " + what + ", found " + describeToken(tok()));
  }
  /// Expects the ')' that closes the '(' at `open`.
  bool expectClose(SourceLoc open, const char *opener = "'('") {
    if (consume(Tok::RParen))
      return true;
    std::string message = "expected ')' to close " + std::string(opener) +
                          " at " + open.str() + ", found " +
                          describeToken(tok());
    if (at(Tok::Newline))
      message += " (a newline ends the statement even inside parentheses; "
                 "end the line with '\\' to continue it)";
    error(tok().loc, std::move(message));
    return false;
  }

  /// Counts nesting of expressions and types (`depth`, up to kMaxNesting)
  /// and of blocks (`blockDepth`, up to kMaxBlockNesting) so that no input
  /// can recurse deeper than their sum.
  bool enter(const char *what) {
    if (++depth <= kMaxNesting)
      return true;
    error(tok().loc, std::string(what) + " nested too deeply");
    return false;
  }
  struct Nesting {
    Parser &parser;
    bool ok;
    Nesting(Parser &parser, const char *what)
        : parser(parser), ok(parser.enter(what)) {}
    ~Nesting() { --parser.depth; }
  };
  struct BlockNesting {
    Parser &parser;
    bool ok;
    explicit BlockNesting(Parser &parser) : parser(parser) {
      ok = ++parser.blockDepth <= kMaxBlockNesting;
      // Located at the token that opens the block (':', '=>' or 'match').
      if (!ok)
        parser.error(parser.index ? parser.tokens[parser.index - 1].loc
                                  : parser.tok().loc,
                     "blocks nested too deeply");
    }
    ~BlockNesting() { --parser.blockDepth; }
  };

  // Sections.
  void parseStateSection(Element &element);
  bool parseDecorator(std::vector<Decorator> &decorators);
  bool parseType(TypeSyntax &type);
  void parseHandler(Handler &handler);
  bool parseBlock(Block &block, const std::string &after);

  // Statements.
  StmtPtr parseStatement();
  StmtPtr parseSimpleStatement();
  StmtPtr parseSend();
  StmtPtr parseAssign();
  StmtPtr parseMatch();
  StmtPtr parseForeach();
  bool parsePattern(Pattern &pattern);
  bool startsPairAssignment() const;

  // Expressions.
  ExprPtr parseExpr();
  ExprPtr parseOr();
  ExprPtr parseAnd(std::vector<ChainOp> &ops);
  ExprPtr parseComparison();
  ExprPtr parseAdditive();
  ExprPtr parseMultiplicative(std::vector<ChainOp> &ops);
  ExprPtr parsePrimary();
  ExprPtr parseCall();
  ExprPtr makeBinary(BinaryOp op, SourceLoc opLoc, ExprPtr lhs, ExprPtr rhs);
  void warnMixedChain(const std::vector<ChainOp> &ops, const Expr &chain);
  static bool startsExpression(const Token &t);

  const std::vector<Token> &tokens;
  DiagnosticSink &diags;
  Token eofToken{Tok::Eof, {1, 1}, {}, 0, 0};
  size_t index = 0;
  unsigned depth = 0;
  unsigned blockDepth = 0;
  bool failed = false;
};

//===----------------------------------------------------------------------===//
// Sections
//===----------------------------------------------------------------------===//

std::unique_ptr<Element> Parser::parseElement() {
  auto element = std::make_unique<Element>();
  if (at(Tok::Indent)) {
    error(tok().loc, "unexpected indent: sections start at the beginning of a "
                     "line");
    return nullptr;
  }
  if (at(Tok::Name) && (tok().text == "fn" || tok().text == "internal")) {
    // The older dialect: `internal { ... }`, `fn init() { ... }`. (The lexer
    // reports it with the same message when it meets the first brace.)
    error(tok().loc, "the brace-based AppNet dialect ('fn req(rpc) { ... }') "
                     "is not supported yet; use the indentation syntax");
    return nullptr;
  }
  if (!at(Tok::KwState)) {
    errorExpected("'state' section");
    return nullptr;
  }
  parseStateSection(*element);
  if (failed)
    return nullptr;

  if (!at(Tok::KwInit)) {
    errorExpected("'init' section");
    return nullptr;
  }
  element->init.kind = HandlerKind::Init;
  parseHandler(element->init);
  if (failed)
    return nullptr;

  if (!at(Tok::KwReq)) {
    errorExpected("'req' section");
    return nullptr;
  }
  element->req.kind = HandlerKind::Req;
  parseHandler(element->req);
  if (failed)
    return nullptr;

  if (at(Tok::KwResp)) {
    element->resp = std::make_unique<Handler>();
    element->resp->kind = HandlerKind::Resp;
    parseHandler(*element->resp);
    if (failed)
      return nullptr;
    if (!at(Tok::Eof)) {
      errorExpected("end of file after the 'resp' section");
      return nullptr;
    }
  } else if (!at(Tok::Eof)) {
    errorExpected("'resp' section or end of file");
    return nullptr;
  }
  return element;
}

void Parser::parseStateSection(Element &element) {
  advance(); // 'state'
  if (!expect(Tok::Colon, "':' after 'state'") ||
      !expect(Tok::Newline, "end of line after 'state:'"))
    return;
  if (!at(Tok::Indent)) {
    errorExpected("an indented block of state declarations after 'state:'");
    return;
  }
  advance();
  while (!failed && !at(Tok::Dedent) && !at(Tok::Eof)) {
    if (at(Tok::KwPass) && peek(1).is(Tok::Newline)) {
      advance();
      advance();
      continue;
    }
    if (unexpectedIndent())
      return;
    StateDecl decl;
    while (!failed && at(Tok::At)) {
      if (!parseDecorator(decl.decorators))
        return;
      consume(Tok::Newline); // A decorator may stand on its own line.
    }
    if (!tok().isWord() || !peek(1).is(Tok::Colon)) {
      if (!tok().isWord())
        errorExpected(decl.decorators.empty()
                          ? "a state declaration 'NAME: TYPE'"
                          : "a state declaration after the decorator");
      else
        error(peek(1).loc, "expected ':' after state variable '" +
                               std::string(tok().text) + "', found " +
                               describeToken(peek(1)));
      return;
    }
    const Token &name = advance();
    decl.name = std::string(name.text);
    decl.loc = name.loc;
    advance(); // ':'
    if (!parseType(decl.typeSyntax))
      return;
    if (!expect(Tok::Newline,
                "end of line after the type of '" + decl.name + "'"))
      return;
    element.state.push_back(std::move(decl));
  }
  if (!failed && !consume(Tok::Dedent))
    errorExpected("end of the state block");
}

bool Parser::parseDecorator(std::vector<Decorator> &decorators) {
  Decorator decorator;
  decorator.loc = advance().loc; // '@'
  if (!tok().isWord()) {
    errorExpected("a decorator name after '@'");
    return false;
  }
  decorator.name = std::string(advance().text);
  SourceLoc open = tok().loc;
  if (!expect(Tok::LParen, "'(' after '@" + decorator.name + "'"))
    return false;
  if (!tok().isWord()) {
    errorExpected("an argument in '@" + decorator.name + "(...)'");
    return false;
  }
  decorator.argLoc = tok().loc;
  decorator.arg = std::string(advance().text);
  if (!expectClose(open))
    return false;
  decorators.push_back(std::move(decorator));
  return true;
}

bool Parser::parseType(TypeSyntax &type) {
  Nesting nesting(*this, "type");
  if (!nesting.ok)
    return false;
  type.loc = tok().loc;
  if (at(Tok::Name)) {
    type.kind = TypeSyntax::Kind::Named;
    type.name = std::string(advance().text);
    return true;
  }
  unsigned arity;
  const char *what;
  if (at(Tok::Less)) {
    type.kind = TypeSyntax::Kind::Pair;
    arity = 2;
    what = "pair type";
  } else if (at(Tok::KwMap)) {
    type.kind = TypeSyntax::Kind::Map;
    arity = 2;
    what = "'Map'";
    advance();
  } else if (at(Tok::KwVec)) {
    type.kind = TypeSyntax::Kind::Vec;
    arity = 1;
    what = "'Vec'";
    advance();
  } else {
    errorExpected("a type");
    return false;
  }
  if (!expect(Tok::Less, std::string("'<' after ") + what))
    return false;
  type.args.resize(arity);
  for (unsigned i = 0; i < arity; ++i) {
    if (i && !expect(Tok::Comma, std::string("',' in ") + what))
      return false;
    if (!parseType(type.args[i]))
      return false;
  }
  return expect(Tok::Greater, std::string("'>' to close ") + what);
}

void Parser::parseHandler(Handler &handler) {
  const Token &keyword = advance();
  handler.loc = keyword.loc;
  std::string header = std::string(keyword.text);
  if (at(Tok::LParen)) {
    SourceLoc open = advance().loc;
    while (!at(Tok::RParen)) {
      if (!tok().isWord()) {
        if (handler.params.empty())
          errorExpected("a parameter name or ')' after '" + header + "('");
        else
          expectClose(open);
        return;
      }
      const Token &name = advance();
      handler.params.push_back({std::string(name.text), name.loc, nullptr});
      consume(Tok::Comma); // Commas between parameters are optional.
    }
    advance();
    header += "(...)";
  }
  if (!expect(Tok::Colon, "':' after '" + header + "'"))
    return;
  parseBlock(handler.body, "'" + header + ":'");
}

bool Parser::parseBlock(Block &block, const std::string &after) {
  BlockNesting nesting(*this);
  if (!nesting.ok)
    return false;
  if (!expect(Tok::Newline, "end of line after " + after))
    return false;
  if (!at(Tok::Indent)) {
    errorExpected("an indented block after " + after);
    return false;
  }
  advance();
  while (!failed && !at(Tok::Dedent) && !at(Tok::Eof)) {
    StmtPtr stmt = parseStatement();
    if (!stmt)
      return false;
    block.stmts.push_back(std::move(stmt));
  }
  if (!failed && !consume(Tok::Dedent))
    errorExpected("end of block");
  return !failed;
}

//===----------------------------------------------------------------------===//
// Statements
//===----------------------------------------------------------------------===//

StmtPtr Parser::parseStatement() {
  if (unexpectedIndent())
    return nullptr;
  // `match = 1` is an (invalid) assignment, reported by the type checker.
  if (!peek(1).is(Tok::Assign)) {
    if (at(Tok::KwMatch))
      return parseMatch();
    if (at(Tok::KwForeach))
      return parseForeach();
  }
  StmtPtr stmt = parseSimpleStatement();
  if (!stmt)
    return nullptr;
  if (!expect(Tok::Newline, "end of line after the statement"))
    return nullptr;
  return stmt;
}

bool Parser::startsPairAssignment() const {
  return at(Tok::LParen) && peek(1).isWord() && peek(2).is(Tok::Comma) &&
         peek(3).isWord() && peek(4).is(Tok::RParen) &&
         peek(5).is(Tok::Assign);
}

StmtPtr Parser::parseSimpleStatement() {
  if (tok().isWord() && peek(1).is(Tok::Assign))
    return parseAssign();
  if (startsPairAssignment())
    return parseAssign();
  if (at(Tok::KwPass))
    return std::make_unique<PassStmt>(advance().loc);
  if (at(Tok::KwSend))
    return parseSend();
  if (at(Tok::KwMatch) || at(Tok::KwForeach)) {
    error(tok().loc, "'" + std::string(tok().text) +
                         "' must start its own line; put it in an indented "
                         "block");
    return nullptr;
  }
  SourceLoc loc = tok().loc;
  ExprPtr expr = parseExpr();
  if (!expr)
    return nullptr;
  if (at(Tok::Assign)) {
    error(tok().loc, "cannot assign to this expression: the target of '=' "
                     "must be a name or a pair of names '(a, b)'");
    return nullptr;
  }
  return std::make_unique<ExprStmt>(loc, std::move(expr));
}

StmtPtr Parser::parseAssign() {
  auto stmt = std::make_unique<AssignStmt>(tok().loc);
  if (at(Tok::LParen)) {
    advance();
    const Token &a = advance();
    advance(); // ','
    const Token &b = advance();
    advance(); // ')'
    stmt->isPair = true;
    stmt->targets.push_back({std::string(a.text), a.loc, nullptr, false});
    stmt->targets.push_back({std::string(b.text), b.loc, nullptr, false});
  } else {
    const Token &name = advance();
    stmt->targets.push_back({std::string(name.text), name.loc, nullptr, false});
  }
  stmt->eqLoc = advance().loc; // '='
  stmt->value = parseExpr();
  if (!stmt->value)
    return nullptr;
  return stmt;
}

StmtPtr Parser::parseSend() {
  auto stmt = std::make_unique<SendStmt>(advance().loc); // 'send'
  SourceLoc open = tok().loc;
  if (!expect(Tok::LParen, "'(' after 'send'"))
    return nullptr;
  if (at(Tok::KwErr)) {
    stmt->isError = true;
    stmt->errLoc = advance().loc;
    SourceLoc errOpen = tok().loc;
    if (!expect(Tok::LParen, "'(' after 'err'"))
      return nullptr;
    if (at(Tok::String))
      stmt->value = std::make_unique<StringLiteral>(tok().loc,
                                                    std::string(tok().text));
    else if (at(Tok::Name))
      stmt->value = std::make_unique<NameExpr>(tok().loc,
                                               std::string(tok().text));
    else {
      errorExpected("a string or a name in 'err(...)'");
      return nullptr;
    }
    advance();
    if (!expectClose(errOpen))
      return nullptr;
  } else {
    stmt->value = parseExpr();
    if (!stmt->value)
      return nullptr;
  }
  consume(Tok::Comma);
  if (!at(Tok::KwUp) && !at(Tok::KwDown)) {
    errorExpected("'Up' or 'Down' in 'send(...)'");
    return nullptr;
  }
  stmt->direction = at(Tok::KwUp) ? Direction::Up : Direction::Down;
  stmt->directionLoc = advance().loc;
  if (!expectClose(open))
    return nullptr;
  return stmt;
}

StmtPtr Parser::parseMatch() {
  auto stmt = std::make_unique<MatchStmt>(advance().loc); // 'match'
  BlockNesting nesting(*this);
  if (!nesting.ok)
    return nullptr;
  stmt->scrutinee = parseExpr();
  if (!stmt->scrutinee)
    return nullptr;
  if (!expect(Tok::Colon, "':' after the matched expression") ||
      !expect(Tok::Newline, "end of line after 'match ...:'"))
    return nullptr;
  if (!at(Tok::Indent)) {
    errorExpected("an indented block of match arms");
    return nullptr;
  }
  advance();
  while (!failed && !at(Tok::Dedent) && !at(Tok::Eof)) {
    MatchArm arm;
    if (unexpectedIndent() || !parsePattern(arm.pattern))
      return nullptr;
    arm.arrowLoc = tok().loc;
    if (!expect(Tok::Arrow, "'=>' after the pattern"))
      return nullptr;
    if (at(Tok::Newline)) {
      if (!parseBlock(arm.body, "'=>'"))
        return nullptr;
    } else {
      // Inline arm: `true => send(rpc, Down)`.
      arm.inlineBody = true;
      StmtPtr body = parseSimpleStatement();
      if (!body || !expect(Tok::Newline, "end of line after the arm's statement"))
        return nullptr;
      arm.body.stmts.push_back(std::move(body));
    }
    stmt->arms.push_back(std::move(arm));
  }
  if (!failed && !consume(Tok::Dedent))
    errorExpected("end of the match block");
  if (failed)
    return nullptr;
  return stmt;
}

bool Parser::parsePattern(Pattern &pattern) {
  const Token &t = tok();
  pattern.loc = t.loc;
  switch (t.kind) {
  case Tok::Int:
    pattern.kind = Pattern::Kind::Int;
    pattern.intValue = t.intValue;
    break;
  case Tok::Float:
    pattern.kind = Pattern::Kind::Float;
    pattern.floatValue = t.floatValue;
    break;
  case Tok::String:
    pattern.kind = Pattern::Kind::String;
    pattern.text = std::string(t.text);
    break;
  case Tok::KwTrue:
  case Tok::KwFalse:
    pattern.kind = Pattern::Kind::Bool;
    pattern.boolValue = t.is(Tok::KwTrue);
    break;
  case Tok::KwNone:
    pattern.kind = Pattern::Kind::None;
    break;
  case Tok::Name:
    pattern.kind = t.text == "_" ? Pattern::Kind::Wildcard : Pattern::Kind::Binding;
    if (pattern.kind == Pattern::Kind::Binding) {
      pattern.text = std::string(t.text);
      pattern.nameLoc = t.loc;
    }
    break;
  case Tok::KwSome: {
    advance();
    SourceLoc open = tok().loc;
    if (!expect(Tok::LParen, "'(' after 'Some'"))
      return false;
    if (at(Tok::KwErr)) {
      advance();
      SourceLoc errOpen = tok().loc;
      if (!expect(Tok::LParen, "'(' after 'err'"))
        return false;
      if (!at(Tok::String) && !at(Tok::Name)) {
        errorExpected("a string or a name in 'err(...)'");
        return false;
      }
      pattern.kind = Pattern::Kind::SomeErr;
      pattern.text = std::string(advance().text);
      if (!expectClose(errOpen))
        return false;
    } else if (tok().isWord()) {
      pattern.kind = Pattern::Kind::Some;
      pattern.nameLoc = tok().loc;
      pattern.text = std::string(advance().text);
    } else {
      errorExpected("a name in 'Some(...)'");
      return false;
    }
    return expectClose(open);
  }
  default:
    errorExpected("a pattern (a literal, '_', a name, 'None' or 'Some(x)')");
    return false;
  }
  advance();
  return true;
}

StmtPtr Parser::parseForeach() {
  auto stmt = std::make_unique<ForeachStmt>(advance().loc); // 'foreach'
  BlockNesting nesting(*this);
  if (!nesting.ok)
    return nullptr;
  SourceLoc open = tok().loc;
  if (!expect(Tok::LParen, "'(' after 'foreach'"))
    return nullptr;
  if (!at(Tok::Name)) {
    errorExpected("the name of a collection in 'foreach(...)'");
    return nullptr;
  }
  stmt->collection =
      std::make_unique<NameExpr>(tok().loc, std::string(tok().text));
  advance();
  consume(Tok::Comma);
  if (!expect(Tok::KwLambda, "'lambda' in 'foreach(...)'"))
    return nullptr;
  SourceLoc lambdaOpen = tok().loc;
  if (!expect(Tok::LParen, "'(' after 'lambda'"))
    return nullptr;
  if (!tok().isWord()) {
    errorExpected("a parameter name in 'lambda(...)'");
    return nullptr;
  }
  stmt->paramLoc = tok().loc;
  stmt->param = std::string(advance().text);
  if (!expectClose(lambdaOpen) ||
      !expect(Tok::Colon, "':' after 'lambda(" + stmt->param + ")'"))
    return nullptr;
  if (at(Tok::Newline)) {
    // The body is an indented block inside the call's parentheses; the
    // closing ')' stands on its own line after it.
    if (!parseBlock(stmt->body, "'lambda(" + stmt->param + "):'"))
      return nullptr;
  } else {
    StmtPtr body = parseSimpleStatement();
    if (!body)
      return nullptr;
    stmt->body.stmts.push_back(std::move(body));
  }
  if (!expectClose(open, "'foreach('") ||
      !expect(Tok::Newline, "end of line after 'foreach(...)'"))
    return nullptr;
  return stmt;
}

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

ExprPtr Parser::parseExpr() { return parseOr(); }

ExprPtr Parser::makeBinary(BinaryOp op, SourceLoc opLoc, ExprPtr lhs,
                           ExprPtr rhs) {
  SourceLoc loc = lhs->loc;
  return std::make_unique<BinaryExpr>(loc, op, opLoc, std::move(lhs),
                                      std::move(rhs));
}

// Each operator of a chain counts as one level of nesting: a chain builds a
// tree as deep as it is long, and every later walk over the tree recurses.

ExprPtr Parser::parseOr() {
  std::vector<ChainOp> ops;
  unsigned entryDepth = depth;
  ExprPtr lhs = parseAnd(ops);
  while (lhs && at(Tok::KwOr)) {
    SourceLoc opLoc = advance().loc;
    ops.push_back({BinaryOp::Or, opLoc, 0});
    if (!enter("expression"))
      break;
    ExprPtr rhs = parseAnd(ops);
    if (!rhs) {
      lhs = nullptr;
      break;
    }
    lhs = makeBinary(BinaryOp::Or, opLoc, std::move(lhs), std::move(rhs));
  }
  depth = entryDepth;
  if (failed)
    return nullptr;
  warnMixedChain(ops, *lhs);
  return lhs;
}

ExprPtr Parser::parseAnd(std::vector<ChainOp> &ops) {
  unsigned entryDepth = depth;
  ExprPtr lhs = parseComparison();
  while (lhs && at(Tok::KwAnd)) {
    SourceLoc opLoc = advance().loc;
    ops.push_back({BinaryOp::And, opLoc, 1});
    if (!enter("expression"))
      break;
    ExprPtr rhs = parseComparison();
    if (!rhs) {
      lhs = nullptr;
      break;
    }
    lhs = makeBinary(BinaryOp::And, opLoc, std::move(lhs), std::move(rhs));
  }
  depth = entryDepth;
  return failed ? nullptr : std::move(lhs);
}

static bool comparisonOp(Tok kind, BinaryOp &op) {
  switch (kind) {
  case Tok::EqEq: op = BinaryOp::Eq; return true;
  case Tok::NotEq: op = BinaryOp::Ne; return true;
  case Tok::Less: op = BinaryOp::Lt; return true;
  case Tok::Greater: op = BinaryOp::Gt; return true;
  case Tok::LessEq: op = BinaryOp::Le; return true;
  case Tok::GreaterEq: op = BinaryOp::Ge; return true;
  default: return false;
  }
}

ExprPtr Parser::parseComparison() {
  ExprPtr lhs = parseAdditive();
  BinaryOp op;
  if (!lhs || !comparisonOp(tok().kind, op))
    return lhs;
  SourceLoc opLoc = advance().loc;
  ExprPtr rhs = parseAdditive();
  if (!rhs)
    return nullptr;
  BinaryOp second;
  if (comparisonOp(tok().kind, second)) {
    error(tok().loc, std::string("comparison operators cannot be chained: '") +
                         binaryOpSpelling(op) + "' then '" +
                         binaryOpSpelling(second) +
                         "'; combine the comparisons with 'and'");
    return nullptr;
  }
  return makeBinary(op, opLoc, std::move(lhs), std::move(rhs));
}

ExprPtr Parser::parseAdditive() {
  std::vector<ChainOp> ops;
  unsigned entryDepth = depth;
  ExprPtr lhs = parseMultiplicative(ops);
  while (lhs && (at(Tok::Plus) || at(Tok::Minus))) {
    BinaryOp op = at(Tok::Plus) ? BinaryOp::Add : BinaryOp::Sub;
    SourceLoc opLoc = advance().loc;
    ops.push_back({op, opLoc, 0});
    if (!enter("expression"))
      break;
    ExprPtr rhs = parseMultiplicative(ops);
    if (!rhs) {
      lhs = nullptr;
      break;
    }
    lhs = makeBinary(op, opLoc, std::move(lhs), std::move(rhs));
  }
  depth = entryDepth;
  if (failed)
    return nullptr;
  warnMixedChain(ops, *lhs);
  return lhs;
}

ExprPtr Parser::parseMultiplicative(std::vector<ChainOp> &ops) {
  unsigned entryDepth = depth;
  ExprPtr lhs = parsePrimary();
  while (lhs && (at(Tok::Star) || at(Tok::Slash))) {
    BinaryOp op = at(Tok::Star) ? BinaryOp::Mul : BinaryOp::Div;
    SourceLoc opLoc = advance().loc;
    ops.push_back({op, opLoc, 1});
    if (!enter("expression"))
      break;
    ExprPtr rhs = parsePrimary();
    if (!rhs) {
      lhs = nullptr;
      break;
    }
    lhs = makeBinary(op, opLoc, std::move(lhs), std::move(rhs));
  }
  depth = entryDepth;
  return failed ? nullptr : std::move(lhs);
}

void Parser::warnMixedChain(const std::vector<ChainOp> &ops,
                            const Expr &chain) {
  // The operators are in source order; the first one of a different
  // precedence class than the chain's first operator is where the reader's
  // and the parser's grouping may start to differ.
  for (size_t i = 1; i < ops.size(); ++i) {
    if (ops[i].level == ops[0].level)
      continue;
    diags.warning(ops[i].loc, std::string("mixed operators '") +
                                  binaryOpSpelling(ops[i - 1].op) + "' and '" +
                                  binaryOpSpelling(ops[i].op) +
                                  "' without parentheses; parsed as '" +
                                  printExpr(chain) + "'");
    return;
  }
}

bool Parser::startsExpression(const Token &t) {
  switch (t.kind) {
  case Tok::Int:
  case Tok::Float:
  case Tok::String:
  case Tok::Name:
  case Tok::LParen:
  case Tok::KwTrue:
  case Tok::KwFalse:
  case Tok::KwGet:
  case Tok::KwSet:
  case Tok::KwDelete:
  case Tok::KwSize:
  case Tok::KwByteSize:
    return true;
  default:
    return false;
  }
}

ExprPtr Parser::parsePrimary() {
  Nesting nesting(*this, "expression");
  if (!nesting.ok)
    return nullptr;
  const Token &t = tok();
  switch (t.kind) {
  case Tok::Int:
    advance();
    return std::make_unique<IntLiteral>(t.loc, t.intValue);
  case Tok::Float:
    advance();
    return std::make_unique<FloatLiteral>(t.loc, t.floatValue);
  case Tok::String:
    advance();
    return std::make_unique<StringLiteral>(t.loc, std::string(t.text));
  case Tok::KwTrue:
  case Tok::KwFalse:
    advance();
    return std::make_unique<BoolLiteral>(t.loc, t.is(Tok::KwTrue));
  case Tok::Name:
    if (peek(1).is(Tok::LParen))
      return parseCall();
    advance();
    return std::make_unique<NameExpr>(t.loc, std::string(t.text));
  case Tok::KwGet:
  case Tok::KwSet:
  case Tok::KwDelete:
  case Tok::KwSize:
  case Tok::KwByteSize:
    if (!peek(1).is(Tok::LParen)) {
      error(peek(1).loc, "expected '(' after '" + std::string(t.text) +
                             "', found " + describeToken(peek(1)));
      return nullptr;
    }
    return parseCall();
  case Tok::LParen: {
    SourceLoc open = advance().loc;
    ExprPtr inner = parseExpr();
    if (!inner)
      return nullptr;
    if (consume(Tok::Comma)) {
      ExprPtr second = parseExpr();
      if (!second || !expectClose(open))
        return nullptr;
      return std::make_unique<PairExpr>(open, std::move(inner),
                                        std::move(second));
    }
    if (!expectClose(open))
      return nullptr;
    if (inner->kind == Expr::Kind::Binary)
      static_cast<BinaryExpr &>(*inner).parenthesized = true;
    return inner;
  }
  default:
    errorExpected("an expression");
    return nullptr;
  }
}

ExprPtr Parser::parseCall() {
  const Token &callee = advance();
  auto call = std::make_unique<CallExpr>(callee.loc, std::string(callee.text));
  SourceLoc open = advance().loc; // '('
  while (!at(Tok::RParen)) {
    if (!startsExpression(tok())) {
      if (call->args.empty() && !at(Tok::Newline) && !at(Tok::Eof))
        errorExpected("an expression");
      else
        expectClose(open);
      return nullptr;
    }
    ExprPtr arg = parseExpr();
    if (!arg)
      return nullptr;
    call->args.push_back(std::move(arg));
    consume(Tok::Comma); // Commas between arguments are optional.
  }
  advance(); // ')'
  return call;
}

ExprPtr Parser::parseStandaloneExpr() {
  ExprPtr expr = parseExpr();
  if (!expr)
    return nullptr;
  if (!at(Tok::Newline) && !at(Tok::Eof)) {
    errorExpected("end of the expression");
    return nullptr;
  }
  return expr;
}

std::string formatFloat(double value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  std::string text(buffer, ec == std::errc() ? end : buffer);
  if (text.find_first_of(".eEn") == std::string::npos)
    text += ".0";
  return text;
}

void print(const Expr &expr, bool top, std::string &out) {
  switch (expr.kind) {
  case Expr::Kind::IntLiteral:
    out += std::to_string(static_cast<const IntLiteral &>(expr).value);
    return;
  case Expr::Kind::FloatLiteral:
    out += formatFloat(static_cast<const FloatLiteral &>(expr).value);
    return;
  case Expr::Kind::StringLiteral:
    out += "'" + static_cast<const StringLiteral &>(expr).value + "'";
    return;
  case Expr::Kind::BoolLiteral:
    out += static_cast<const BoolLiteral &>(expr).value ? "true" : "false";
    return;
  case Expr::Kind::Name:
    out += static_cast<const NameExpr &>(expr).name;
    return;
  case Expr::Kind::Binary: {
    const auto &binary = static_cast<const BinaryExpr &>(expr);
    if (!top)
      out += '(';
    print(*binary.lhs, false, out);
    out += ' ';
    out += binaryOpSpelling(binary.op);
    out += ' ';
    print(*binary.rhs, false, out);
    if (!top)
      out += ')';
    return;
  }
  case Expr::Kind::Call: {
    const auto &call = static_cast<const CallExpr &>(expr);
    out += call.callee;
    out += '(';
    for (size_t i = 0; i < call.args.size(); ++i) {
      if (i)
        out += ", ";
      print(*call.args[i], true, out);
    }
    out += ')';
    return;
  }
  case Expr::Kind::Pair: {
    const auto &pair = static_cast<const PairExpr &>(expr);
    out += '(';
    print(*pair.first, true, out);
    out += ", ";
    print(*pair.second, true, out);
    out += ')';
    return;
  }
  case Expr::Kind::Cast:
    print(*static_cast<const CastExpr &>(expr).operand, top, out);
    return;
  }
}

} // namespace

std::unique_ptr<Element>
sbpf::appnet::parseTokens(const std::vector<Token> &tokens,
                          DiagnosticSink &diags) {
  return Parser(tokens, diags).parseElement();
}

std::unique_ptr<Element> sbpf::appnet::parseElement(std::string_view source,
                                                    DiagnosticSink &diags) {
  unsigned errorsBefore = diags.errorCount();
  std::vector<Token> tokens = lex(source, diags);
  if (diags.errorCount() != errorsBefore)
    return nullptr;
  return parseTokens(tokens, diags);
}

ExprPtr sbpf::appnet::parseExpression(std::string_view source,
                                      DiagnosticSink &diags) {
  unsigned errorsBefore = diags.errorCount();
  std::vector<Token> tokens = lex(source, diags);
  if (diags.errorCount() != errorsBefore)
    return nullptr;
  return Parser(tokens, diags).parseStandaloneExpr();
}

std::string sbpf::appnet::printExpr(const Expr &expr) {
  std::string out;
  print(expr, true, out);
  return out;
}
