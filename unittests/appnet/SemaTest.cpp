//===- SemaTest.cpp - types, names and rules checked by the AppNet Sema ---===//
#include "sbpf/AppNet/Frontend.h"
#include "sbpf/AppNet/Parser.h"
#include "sbpf/AppNet/Sema.h"
#include "TestFiles.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

using namespace sbpf::appnet;
using namespace sbpf::appnet::test;

namespace {

const Schema &exampleSchema() {
  static const Schema schema = [] {
    DiagnosticSink diags;
    std::optional<Schema> parsed =
        parseSchema(readFile(SBPF_EXAMPLES_DIR "/rpc.proto"), 64, diags);
    EXPECT_TRUE(parsed);
    return parsed ? *parsed : Schema();
  }();
  return schema;
}

/// Parses (which must succeed) and type-checks `source`, keeping the tree
/// even when Sema reports errors so that tests can look at it.
struct Checked {
  std::unique_ptr<Element> element;
  DiagnosticSink diags;

  std::vector<std::string> all(Severity severity) const {
    std::vector<std::string> out;
    for (const Diagnostic &d : diags.diagnostics())
      if (d.severity == severity)
        out.push_back(d.loc.str() + ": " + d.message);
    return out;
  }
  std::vector<std::string> errors() const { return all(Severity::Error); }
  std::vector<std::string> warnings() const { return all(Severity::Warning); }
  std::vector<std::string> notes() const { return all(Severity::Note); }

  /// Statement `i` of a handler's body.
  template <typename T> T &stmt(Handler &h, size_t i) {
    EXPECT_LT(i, h.body.stmts.size());
    return *cast<T>(h.body.stmts.at(i).get());
  }
  template <typename T> T &req(size_t i) { return stmt<T>(element->req, i); }
  template <typename T> T &init(size_t i) { return stmt<T>(element->init, i); }
};

std::unique_ptr<Checked> check(std::string_view source,
                               const Schema *schema = nullptr,
                               bool kernelTarget = true) {
  auto result = std::make_unique<Checked>();
  result->element = parseElement(source, result->diags);
  EXPECT_TRUE(result->element) << "syntax error: "
                               << result->diags.firstError()->loc.str() << ": "
                               << result->diags.firstError()->message;
  if (result->element) {
    SemaOptions options;
    options.schema = schema;
    options.kernelTarget = kernelTarget;
    checkElement(*result->element, options, result->diags);
  }
  return result;
}

using Strings = std::vector<std::string>;

//===----------------------------------------------------------------------===//
// Invariants of a checked tree, as the emitter relies on them (AST.h).
//===----------------------------------------------------------------------===//

void verifyExpr(const Expr &e);

void verifyType(const Type &t, const Expr &e) {
  EXPECT_FALSE(t.is(TypeKind::Unknown)) << printExpr(e);
  EXPECT_FALSE(t.is(TypeKind::UntypedInt)) << printExpr(e);
}

void verifyExpr(const Expr &e) {
  verifyType(e.type, e);
  EXPECT_TRUE(e.loc.isValid());
  switch (e.kind) {
  case Expr::Kind::IntLiteral:
    EXPECT_TRUE(e.type.isInteger()) << printExpr(e);
    break;
  case Expr::Kind::Name:
    EXPECT_NE(cast<NameExpr>(&e)->decl, nullptr);
    break;
  case Expr::Kind::Binary: {
    const auto &b = *cast<BinaryExpr>(&e);
    verifyExpr(*b.lhs);
    verifyExpr(*b.rhs);
    EXPECT_TRUE(b.lhs->type.sameAs(b.rhs->type)) << printExpr(e);
    break;
  }
  case Expr::Kind::Call: {
    const auto &c = *cast<CallExpr>(&e);
    EXPECT_NE(c.builtin, Builtin::None);
    for (const ExprPtr &arg : c.args)
      verifyExpr(*arg);
    break;
  }
  case Expr::Kind::Pair:
    verifyExpr(*cast<PairExpr>(&e)->first);
    verifyExpr(*cast<PairExpr>(&e)->second);
    break;
  case Expr::Kind::Cast:
    verifyExpr(*cast<CastExpr>(&e)->operand);
    break;
  default:
    break;
  }
}

void verifyBlock(const Block &block) {
  for (const StmtPtr &s : block.stmts) {
    if (auto *e = dyn_cast<ExprStmt>(s.get()))
      verifyExpr(*e->expr);
    else if (auto *a = dyn_cast<AssignStmt>(s.get())) {
      verifyExpr(*a->value);
      for (const AssignTarget &t : a->targets)
        EXPECT_NE(t.decl, nullptr);
      if (!a->isPair) {
        EXPECT_TRUE(a->value->type.sameAs(a->targets[0].decl->type));
      }
    } else if (auto *send = dyn_cast<SendStmt>(s.get()))
      verifyExpr(*send->value);
    else if (auto *m = dyn_cast<MatchStmt>(s.get())) {
      verifyExpr(*m->scrutinee);
      for (const MatchArm &arm : m->arms)
        verifyBlock(arm.body);
    } else if (auto *f = dyn_cast<ForeachStmt>(s.get())) {
      EXPECT_NE(f->paramDecl, nullptr);
      verifyBlock(f->body);
    }
  }
}

void verifyElement(const Element &element) {
  for (const StateDecl &decl : element.state) {
    EXPECT_NE(decl.var, nullptr);
    EXPECT_FALSE(decl.type.is(TypeKind::Unknown));
  }
  verifyBlock(element.init.body);
  verifyBlock(element.req.body);
  if (element.resp)
    verifyBlock(element.resp->body);
  for (size_t i = 0; i < element.vars.size(); ++i)
    EXPECT_EQ(element.vars[i]->id, i);
}

//===----------------------------------------------------------------------===//
// The examples
//===----------------------------------------------------------------------===//

TEST(SemaExamples, ValidExamplesCheckWithTheSchema) {
  for (const auto &path : exampleFiles(SBPF_EXAMPLES_DIR)) {
    SCOPED_TRACE(path.filename().string());
    DiagnosticSink diags;
    FrontendOptions options;
    options.schema = &exampleSchema();
    std::unique_ptr<Element> element =
        parseAndCheck(readFile(path), options, diags);
    ASSERT_TRUE(element) << diags.firstError()->loc.str() << ": "
                         << diags.firstError()->message;
    EXPECT_TRUE(diags.diagnostics().empty()) << diags.diagnostics()[0].message;
    verifyElement(*element);
  }
}

TEST(SemaExamples, ValidExamplesCheckWithoutASchema) {
  // Without a schema every field is a string. priority_fault compares its
  // 'priority' and 'kind' fields with numbers, so it needs the schema.
  for (const auto &path : exampleFiles(SBPF_EXAMPLES_DIR)) {
    SCOPED_TRACE(path.filename().string());
    DiagnosticSink diags;
    std::unique_ptr<Element> element =
        parseAndCheck(readFile(path), FrontendOptions(), diags);
    if (path.filename() == "priority_fault.appnet") {
      ASSERT_FALSE(element);
      EXPECT_EQ(diags.firstError()->loc.str() + ": " + diags.firstError()->message,
                "10:32: type mismatch: cannot apply '>' to string and int");
      continue;
    }
    ASSERT_TRUE(element) << diags.firstError()->loc.str() << ": "
                         << diags.firstError()->message;
    for (const Diagnostic &d : diags.diagnostics())
      EXPECT_EQ(d.severity, Severity::Note) << d.message;
    verifyElement(*element);
  }
}

TEST(SemaExamples, InvalidExamplesFailWhereExpected) {
  // type_mismatch: the error is located at the '+' (8:27), the operator that
  // is applied to the optional, not at the get() that produced it.
  const std::pair<const char *, const char *> expected[] = {
      {"bad_dedent.appnet", "6:5: inconsistent dedent: width 4 does not match "
                            "any enclosing indentation level (0, 8)"},
      {"reserved_word.appnet",
       "2:5: 'size' is a reserved word and cannot be used as a name"},
      {"strong_state.appnet", "2:5: @consistency(strong) needs a remote store "
                              "and is not available in the kernel"},
      {"type_mismatch.appnet",
       "8:27: type mismatch: cannot apply '+' to optional<string> and int"},
      {"undefined_name.appnet", "8:9: undefined name 'm'"},
  };
  ASSERT_EQ(exampleFiles(SBPF_EXAMPLES_DIR "/invalid").size(), std::size(expected));
  for (const Schema *schema : {(const Schema *)nullptr, &exampleSchema()})
    for (const auto &[file, message] : expected) {
      SCOPED_TRACE(file);
      DiagnosticSink diags;
      FrontendOptions options;
      options.schema = schema;
      std::unique_ptr<Element> element = parseAndCheck(
          readFile(std::string(SBPF_EXAMPLES_DIR "/invalid/") + file), options,
          diags);
      EXPECT_FALSE(element);
      ASSERT_TRUE(diags.firstError());
      EXPECT_EQ(diags.firstError()->loc.str() + ": " + diags.firstError()->message,
                message);
    }
}

TEST(SemaExamples, StrongConsistencyIsAcceptedOffTheKernel) {
  DiagnosticSink diags;
  FrontendOptions options;
  options.kernelTarget = false;
  std::unique_ptr<Element> element = parseAndCheck(
      readFile(SBPF_EXAMPLES_DIR "/invalid/strong_state.appnet"), options, diags);
  ASSERT_TRUE(element);
  EXPECT_EQ(element->state[0].consistency, Consistency::Strong);
}

//===----------------------------------------------------------------------===//
// Types of literals, promotion and conversions
//===----------------------------------------------------------------------===//

TEST(SemaTypes, LiteralsTakeTheirContextsType) {
  auto c = check("state:\n"
                 "    f: float\n"
                 "    u: uint\n"
                 "    i: int\n"
                 "init():\n"
                 "    f = 2\n"
                 "    u = u + 1\n"
                 "    i = 3000000000\n"
                 "    u = 3000000000\n"
                 "    h = 7\n"
                 "    k = 1 + 2\n"
                 "req(rpc):\n"
                 "    send(rpc, Down)\n");
  EXPECT_EQ(c->errors(), Strings{"8:9: integer literal 3000000000 does not fit in int"});
  auto &f = c->init<AssignStmt>(0);
  ASSERT_TRUE(isa<FloatLiteral>(f.value.get())); // 2 became 2.0.
  EXPECT_EQ(cast<FloatLiteral>(f.value.get())->value, 2.0);
  EXPECT_TRUE(f.value->type.is(TypeKind::Float));
  auto &u = c->init<AssignStmt>(1);
  auto *sum = cast<BinaryExpr>(u.value.get());
  EXPECT_TRUE(sum->type.is(TypeKind::UInt));
  EXPECT_TRUE(sum->rhs->type.is(TypeKind::UInt));
  EXPECT_TRUE(c->init<AssignStmt>(3).value->type.is(TypeKind::UInt));
  // New locals default to int.
  auto &h = c->init<AssignStmt>(4);
  EXPECT_TRUE(h.targets[0].declares);
  EXPECT_TRUE(h.targets[0].decl->type.is(TypeKind::Int));
  auto &k = c->init<AssignStmt>(5);
  EXPECT_TRUE(cast<BinaryExpr>(k.value.get())->lhs->type.is(TypeKind::Int));
}

TEST(SemaTypes, IntPromotesToFloat) {
  auto c = check("state:\n    f: float\n    i: int\ninit():\n    pass\n"
                 "req(rpc):\n"
                 "    g = f + i\n"
                 "    b = i < f\n"
                 "    f = i\n"
                 "    m = min(i, f)\n");
  EXPECT_TRUE(c->errors().empty());
  EXPECT_TRUE(c->warnings().empty());
  auto &g = c->req<AssignStmt>(0);
  auto *add = cast<BinaryExpr>(g.value.get());
  EXPECT_TRUE(add->type.is(TypeKind::Float));
  auto *converted = dyn_cast<CastExpr>(add->rhs.get());
  ASSERT_TRUE(converted); // The int operand is converted explicitly.
  EXPECT_TRUE(converted->type.is(TypeKind::Float));
  EXPECT_TRUE(converted->operand->type.is(TypeKind::Int));
  EXPECT_TRUE(g.targets[0].decl->type.is(TypeKind::Float));
  auto *lt = cast<BinaryExpr>(c->req<AssignStmt>(1).value.get());
  EXPECT_TRUE(lt->type.is(TypeKind::Bool));
  EXPECT_TRUE(isa<CastExpr>(lt->lhs.get()));
  EXPECT_TRUE(isa<CastExpr>(c->req<AssignStmt>(2).value.get()));
  auto *minCall = cast<CallExpr>(c->req<AssignStmt>(3).value.get());
  EXPECT_EQ(minCall->builtin, Builtin::Min);
  EXPECT_TRUE(minCall->type.is(TypeKind::Float));
  EXPECT_TRUE(isa<CastExpr>(minCall->args[0].get()));
}

TEST(SemaTypes, MixingIntAndUintWarns) {
  auto c = check("state:\n    i: int\n    u: uint\ninit():\n    pass\n"
                 "req(rpc):\n"
                 "    x = i + u\n"
                 "    u = i\n");
  EXPECT_TRUE(c->errors().empty());
  EXPECT_EQ(c->warnings(),
            (Strings{"7:11: mixing int and uint; the int operand is converted to uint",
                     "8:7: implicit conversion from int to uint in the "
                     "assignment to 'u'"}));
  auto *add = cast<BinaryExpr>(c->req<AssignStmt>(0).value.get());
  EXPECT_TRUE(add->type.is(TypeKind::UInt));
  EXPECT_TRUE(isa<CastExpr>(add->lhs.get()));
}

TEST(SemaTypes, AssignmentsKeepTheLocalsType) {
  auto c = check("state:\n    f: float\n    i: int\ninit():\n    pass\n"
                 "req(rpc):\n"
                 "    x = 1\n"
                 "    x = 'text'\n"
                 "    i = f\n"
                 "    s = 'a'\n"
                 "    s = get(rpc, 'user')\n");
  EXPECT_EQ(c->errors(),
            (Strings{"8:9: type mismatch: cannot assign string to 'x' of type int",
                     "9:9: type mismatch: cannot assign float to 'i' of type int"}));
  // Later assignments refer to the declaration made by the first one.
  EXPECT_EQ(c->req<AssignStmt>(1).targets[0].decl, c->req<AssignStmt>(0).targets[0].decl);
  EXPECT_FALSE(c->req<AssignStmt>(1).targets[0].declares);
  // A string local gets at least the default capacity.
  EXPECT_EQ(c->req<AssignStmt>(3).targets[0].decl->type.capacity, 64u);
}

TEST(SemaTypes, OptionalsCanOnlyBeMatched) {
  auto c = check("state:\n    m: Map<string, int>\ninit():\n    pass\n"
                 "req(rpc):\n"
                 "    x = get(m, 'a')\n" // A local may keep it (see below).
                 "    y = get(m, 'a') + 1\n"
                 "    match get(m, 'a'):\n"
                 "        Some(v) => z = v + 1\n"
                 "        None => pass\n"
                 "    match get(m, 'a'):\n"
                 "        1 => pass\n"
                 "        other => pass\n"
                 "    match 3:\n"
                 "        None => pass\n");
  EXPECT_EQ(c->errors(),
            (Strings{"7:21: type mismatch: cannot apply '+' to optional<int> and int",
                     "12:9: pattern type mismatch: an integer pattern cannot match "
                     "a value of type optional<int>; match it with Some(x) / None",
                     "13:9: an optional value can only be matched with Some(x), "
                     "None or _",
                     "15:9: 'None' needs an optional value (the result of get on a "
                     "map), found int"}));
  auto &match = c->req<MatchStmt>(2);
  EXPECT_TRUE(match.scrutinee->type.is(TypeKind::Optional));
  const Pattern &some = match.arms[0].pattern;
  ASSERT_NE(some.binding, nullptr);
  EXPECT_EQ(some.binding->kind, VarKind::MatchBinding);
  EXPECT_TRUE(some.binding->type.is(TypeKind::Int));
  auto &z = *cast<AssignStmt>(match.arms[0].body.stmts[0].get());
  EXPECT_EQ(cast<NameExpr>(cast<BinaryExpr>(z.value.get())->lhs.get())->decl,
            some.binding);
}

TEST(SemaTypes, OperatorsNeedTheRightOperands) {
  auto c = check("state:\n    s: string\n    t: Instant\n    i: int\ninit():\n    pass\n"
                 "req(rpc):\n"
                 "    a = s == 'x'\n"
                 "    b = s + 'x'\n"
                 "    c = s < 'x'\n"
                 "    d = t - current_time()\n"
                 "    e = time_diff(current_time(), t)\n"
                 "    f = t < current_time()\n"
                 "    g = 1 and true\n"
                 "    h = (i > 0) or (i < 10)\n"
                 "    match i > 1:\n"
                 "        1 => pass\n"
                 "        true => pass\n");
  EXPECT_EQ(c->errors(),
            (Strings{"9:11: type mismatch: cannot apply '+' to string and string",
                     "10:11: type mismatch: cannot apply '<' to string and string",
                     "11:11: type mismatch: cannot apply '-' to Instant and Instant",
                     "14:11: type mismatch: cannot apply 'and' to int and bool",
                     "17:9: pattern type mismatch: an integer pattern cannot match "
                     "a value of type bool"}));
  EXPECT_EQ(c->notes(), Strings{"11:11: use time_diff(a, b) for the seconds "
                                "between two instants"});
  EXPECT_TRUE(c->req<AssignStmt>(4).targets[0].decl->type.is(TypeKind::Float));
  EXPECT_TRUE(c->req<AssignStmt>(5).targets[0].decl->type.is(TypeKind::Bool));
}

TEST(SemaTypes, IntegerDivisionByZeroWarns) {
  auto c = check("state:\n    a: int\n    b: uint\n    f: float\ninit():\n    pass\n"
                 "req(rpc):\n"
                 "    x = a / a\n"
                 "    y = a / 2\n"
                 "    z = b / 0\n"
                 "    w = f / f\n"
                 "    v = 1 / 0\n"
                 "    f = 1 / 0\n");
  EXPECT_TRUE(c->errors().empty());
  EXPECT_EQ(c->warnings(),
            (Strings{"8:11: integer division by zero yields 0 in eBPF",
                     "10:11: integer division by zero yields 0 in eBPF",
                     "12:11: integer division by zero yields 0 in eBPF"}));
}

TEST(SemaTypes, BuiltinSignatures) {
  auto c = check("state:\n    s: string\n    i: int\n    f: float\ninit():\n    pass\n"
                 "req(rpc):\n"
                 "    a = randomf(0, 1)\n"
                 "    b = randomu(0, 10)\n"
                 "    c = rpc_id()\n"
                 "    d = encrypt(s, 'k')\n"
                 "    e = time_diff(f, f)\n"
                 "    g = randomf(1)\n"
                 "    h = foo(1)\n"
                 "    k = i(2)\n"
                 "    l = randomu(f, 1)\n"
                 "    m = max(s, 1)\n");
  EXPECT_EQ(c->errors(),
            (Strings{"13:9: 'randomf' takes 2 arguments, found 1",
                     "14:9: unknown function 'foo'",
                     "15:9: 'i' is not a function",
                     "16:17: type mismatch: argument 1 of 'randomu' is float, "
                     "expected uint",
                     "17:13: type mismatch: argument 1 of 'max' is string, "
                     "expected a number"}));
  auto *randomf = cast<CallExpr>(c->req<AssignStmt>(0).value.get());
  EXPECT_EQ(randomf->builtin, Builtin::RandomF);
  EXPECT_TRUE(isa<FloatLiteral>(randomf->args[0].get()));
  EXPECT_TRUE(randomf->type.is(TypeKind::Float));
  auto *randomu = cast<CallExpr>(c->req<AssignStmt>(1).value.get());
  EXPECT_TRUE(randomu->args[1]->type.is(TypeKind::UInt));
  EXPECT_TRUE(c->req<AssignStmt>(2).value->type.is(TypeKind::UInt));
  EXPECT_TRUE(c->req<AssignStmt>(3).value->type.is(TypeKind::String));
}

TEST(SemaTypes, StateTypes) {
  auto c = check("state:\n"
                 "    a: strng\n"
                 "    b: Map<Vec<int>, int>\n"
                 "    c: Map<string, Vec<<uint, float>>>\n"
                 "    d: <int, Map<int, int>>\n"
                 "    e: Vec<Vec<int>>\n"
                 "    f: Map<uint, <string, Instant>>\n"
                 "init():\n    pass\nreq(rpc):\n    pass\n");
  EXPECT_EQ(c->errors(),
            (Strings{"2:8: unknown type 'strng'; expected int, uint, float, bool, "
                     "string, Instant, <A, B>, Map<K, V> or Vec<T>",
                     "3:12: a map key must be a scalar type (int, uint, float, "
                     "bool, string or Instant), found Vec<int>",
                     "5:14: a pair element must be a scalar type (int, uint, "
                     "float, bool, string or Instant), found Map<int, int>",
                     "6:12: a Vec element must be a scalar type (int, uint, "
                     "float, bool, string or Instant), found Vec<int>"}));
  EXPECT_EQ(c->element->state[2].type.str(), "Map<string, Vec<<uint, float>>>");
  EXPECT_EQ(c->element->state[5].type.str(), "Map<uint, <string, Instant>>");
  EXPECT_EQ(c->element->state[5].type.params[1].params[0].capacity, 64u);
}

//===----------------------------------------------------------------------===//
// Names and scopes
//===----------------------------------------------------------------------===//

TEST(SemaNames, ArmLocalsEndWithTheArm) {
  auto c = check("state:\n    x: int\ninit():\n    pass\n"
                 "req(rpc):\n"
                 "    match x > 0:\n"
                 "        true =>\n"
                 "            y = 1\n"
                 "        false =>\n"
                 "            y = 2.5\n"
                 "    x = y\n");
  EXPECT_EQ(c->errors(), Strings{"11:9: undefined name 'y'"});
  auto &match = c->req<MatchStmt>(0);
  VarDecl *first = cast<AssignStmt>(match.arms[0].body.stmts[0].get())->targets[0].decl;
  VarDecl *second = cast<AssignStmt>(match.arms[1].body.stmts[0].get())->targets[0].decl;
  EXPECT_NE(first, second); // Two locals, one per arm, of their own types.
  EXPECT_TRUE(first->type.is(TypeKind::Int));
  EXPECT_TRUE(second->type.is(TypeKind::Float));
}

TEST(SemaNames, WhatEachNameRefersTo) {
  auto c = check("state:\n    log: Vec<float>\n    total: float\ninit():\n    pass\n"
                 "req(rpc):\n"
                 "    t = total\n"
                 "    foreach(log, lambda(s):\n"
                 "        total = total + s\n"
                 "        u = t\n"
                 "    )\n"
                 "    match t:\n"
                 "        other => total = other\n"
                 "    set(log, size(log), t)\n"
                 "    send(rpc, Down)\n");
  EXPECT_TRUE(c->errors().empty()) << c->errors()[0];
  auto &t = c->req<AssignStmt>(0);
  EXPECT_EQ(cast<NameExpr>(t.value.get())->decl->kind, VarKind::State);
  EXPECT_EQ(cast<NameExpr>(t.value.get())->decl->state, &c->element->state[1]);
  EXPECT_EQ(t.targets[0].decl->kind, VarKind::Local);
  auto &loop = c->req<ForeachStmt>(1);
  EXPECT_EQ(loop.collection->decl->kind, VarKind::State);
  ASSERT_NE(loop.paramDecl, nullptr);
  EXPECT_EQ(loop.paramDecl->kind, VarKind::LambdaParam);
  EXPECT_TRUE(loop.paramDecl->type.is(TypeKind::Float));
  auto &body = *cast<AssignStmt>(loop.body.stmts[0].get());
  EXPECT_EQ(cast<NameExpr>(cast<BinaryExpr>(body.value.get())->rhs.get())->decl,
            loop.paramDecl);
  auto &u = *cast<AssignStmt>(loop.body.stmts[1].get());
  EXPECT_EQ(cast<NameExpr>(u.value.get())->decl, t.targets[0].decl);
  auto &match = c->req<MatchStmt>(2);
  EXPECT_EQ(match.arms[0].pattern.binding->kind, VarKind::MatchBinding);
  auto &append = *cast<CallExpr>(c->req<ExprStmt>(3).expr.get());
  EXPECT_EQ(append.builtin, Builtin::Set);
  EXPECT_EQ(cast<CallExpr>(append.args[1].get())->builtin, Builtin::Size);
  auto &send = c->req<SendStmt>(4);
  EXPECT_EQ(cast<NameExpr>(send.value.get())->decl->kind, VarKind::HandlerParam);
  EXPECT_TRUE(send.value->type.is(TypeKind::Rpc));
  EXPECT_EQ(c->element->req.params[0].decl, cast<NameExpr>(send.value.get())->decl);
}

TEST(SemaNames, ReservedWordsCannotBeNames) {
  auto c = check("state:\n    get: int\ninit():\n    pass\n"
                 "req(size):\n"
                 "    pass = 1\n"
                 "    foreach(v, lambda(set):\n"
                 "        pass\n"
                 "    )\n"
                 "resp(rpc):\n"
                 "    match 1:\n"
                 "        Some(Vec) => pass\n");
  EXPECT_EQ(c->errors(),
            (Strings{"2:5: 'get' is a reserved word and cannot be used as a name",
                     "5:5: 'size' is a reserved word and cannot be used as a name",
                     "6:5: 'pass' is a reserved word and cannot be used as a name",
                     "7:13: undefined name 'v'",
                     "7:23: 'set' is a reserved word and cannot be used as a name",
                     "12:9: 'Some' needs an optional value (the result of get on "
                     "a map), found int",
                     "12:14: 'Vec' is a reserved word and cannot be used as a name"}));
}

TEST(SemaNames, RedefinitionsAndReadOnlyNames) {
  auto c = check("state:\n    n: int\n    n: float\ninit():\n    pass\n"
                 "req(rpc):\n"
                 "    rpc = 1\n"
                 "    match get(m, 1):\n"
                 "        Some(x) => x = 2\n");
  EXPECT_EQ(c->errors(),
            (Strings{"3:5: redefinition of state variable 'n'",
                     "7:5: cannot assign to the rpc parameter 'rpc'",
                     "8:15: undefined name 'm'",
                     "9:20: cannot assign to 'x': it is bound by a match pattern"}));
  EXPECT_EQ(c->notes(), Strings{"2:5: previous definition is here"});
}

//===----------------------------------------------------------------------===//
// RPC fields and the schema
//===----------------------------------------------------------------------===//

TEST(SemaFields, WithoutASchemaFieldsAreStrings) {
  auto c = check("state:\n    n: int\ninit():\n    pass\n"
                 "req(rpc):\n"
                 "    a = get(rpc, 'user')\n"
                 "    b = get(rpc, 'user')\n"
                 "    c = byte_size(rpc, 'body')\n"
                 "resp(rpc):\n"
                 "    d = get(rpc, 'user')\n");
  EXPECT_TRUE(c->errors().empty());
  // One note per field name, at its first use.
  EXPECT_EQ(c->notes(),
            (Strings{"6:18: no --rpc-schema given: field 'user' is typed string",
                     "8:24: no --rpc-schema given: field 'body' is typed string"}));
  auto *get = cast<CallExpr>(c->req<AssignStmt>(0).value.get());
  EXPECT_EQ(get->builtin, Builtin::Get);
  EXPECT_TRUE(get->type.is(TypeKind::String));
  EXPECT_EQ(get->type.capacity, 64u);
  ASSERT_TRUE(get->field);
  EXPECT_EQ(get->field->name, "user");
  EXPECT_EQ(get->field->message, nullptr);
  EXPECT_TRUE(c->req<AssignStmt>(2).value->type.is(TypeKind::UInt));
}

TEST(SemaFields, TheSchemaTypesFieldsPerHandler) {
  auto c = check("state:\n    n: int\ninit():\n    pass\n"
                 "req(rpc):\n"
                 "    a = get(rpc, 'user')\n"
                 "    b = get(rpc, 'usr')\n"
                 "    c = get(rpc, 'status')\n"
                 "    set(rpc, 'priority', 3)\n"
                 "    set(rpc, 'body', 3)\n"
                 "resp(rpc):\n"
                 "    d = get(rpc, 'status')\n"
                 "    e = get(rpc, 'priority')\n",
                 &exampleSchema());
  EXPECT_EQ(c->errors(),
            (Strings{"7:18: unknown field 'usr' in message 'Request'; known "
                     "fields: body, priority, kind, user",
                     "8:18: unknown field 'status' in message 'Request'; known "
                     "fields: body, priority, kind, user",
                     "10:22: type mismatch: argument 3 of 'set' is int, expected "
                     "string",
                     "13:18: unknown field 'priority' in message 'Response'; known "
                     "fields: body, status"}));
  EXPECT_TRUE(c->notes().empty());
  auto *user = cast<CallExpr>(c->req<AssignStmt>(0).value.get());
  EXPECT_TRUE(user->type.is(TypeKind::String));
  EXPECT_EQ(user->type.capacity, 32u); // From `// capacity 32`.
  EXPECT_EQ(user->field->message, &exampleSchema().request());
  EXPECT_EQ(user->field->index, 3);
  auto *priority = cast<CallExpr>(c->req<ExprStmt>(3).expr.get());
  EXPECT_TRUE(priority->args[2]->type.is(TypeKind::UInt));
  auto *status =
      cast<CallExpr>(c->stmt<AssignStmt>(*c->element->resp, 0).value.get());
  EXPECT_TRUE(status->type.is(TypeKind::UInt));
  EXPECT_EQ(status->field->message, &exampleSchema().response());
  EXPECT_EQ(status->field->index, 1);
}

TEST(SemaFields, MetadataFields) {
  auto c = check("state:\n    n: int\ninit():\n    pass\n"
                 "req(rpc):\n"
                 "    a = get(rpc, 'meta_status')\n"
                 "resp(rpc):\n"
                 "    b = get(rpc, 'meta_status') == 'success'\n"
                 "    c = get(rpc, 'meta_x')\n"
                 "    set(rpc, 'meta_status', 'failure')\n"
                 "    d = get(rpc, field)\n",
                 &exampleSchema());
  EXPECT_EQ(c->errors(),
            (Strings{"6:18: 'meta_status' describes a response and is only "
                     "available in 'resp'",
                     "9:18: unknown metadata field 'meta_x'; only 'meta_status' "
                     "is supported",
                     "10:14: metadata field 'meta_status' is read-only",
                     "11:18: undefined name 'field'",
                     "11:18: the field name in 'get(rpc, ...)' must be a string "
                     "literal"}));
  auto &b = c->stmt<AssignStmt>(*c->element->resp, 0);
  auto *get = cast<CallExpr>(cast<BinaryExpr>(b.value.get())->lhs.get());
  EXPECT_TRUE(get->field->isMetaStatus);
  EXPECT_TRUE(get->type.is(TypeKind::String));
}

//===----------------------------------------------------------------------===//
// Maps, logs, sends, decorators, kernel restrictions
//===----------------------------------------------------------------------===//

TEST(SemaRules, VecIsAppendOnly) {
  auto c = check("state:\n    v: Vec<float>\n    w: Vec<float>\n    m: Map<int, int>\n"
                 "init():\n    pass\n"
                 "req(rpc):\n"
                 "    set(v, size(v), 1)\n"
                 "    set(v, 0, 1.5)\n"
                 "    set(v, size(w), 1.5)\n"
                 "    x = get(v, 0)\n"
                 "    y = size(m)\n"
                 "    delete(v, 1)\n"
                 "    z = size(v)\n");
  EXPECT_EQ(c->errors(),
            (Strings{"9:12: only appending is supported: set(v, size(v), x)",
                     "10:12: only appending is supported: set(v, size(v), x)",
                     "11:13: 'get' needs a map or the rpc (a Vec is append-only), "
                     "found Vec<float>",
                     "12:14: 'size' needs a Vec (a BPF hash map has no element "
                     "count), found Map<int, int>",
                     "13:12: 'delete' needs a map, found Vec<float>"}));
  auto *append = cast<CallExpr>(c->req<ExprStmt>(0).expr.get());
  EXPECT_TRUE(isa<FloatLiteral>(append->args[2].get()));
  EXPECT_TRUE(c->req<AssignStmt>(6).value->type.is(TypeKind::UInt));
}

TEST(SemaRules, MapOperations) {
  auto c = check("state:\n    m: Map<string, <int, float>>\ninit():\n    pass\n"
                 "req(rpc):\n"
                 "    set(m, 'k', (1, 2))\n"
                 "    delete(m, 'k')\n"
                 "    match get(m, 'k'):\n"
                 "        Some(p) =>\n"
                 "            (a, b) = p\n"
                 "        None => pass\n"
                 "    set(m, 1, (1, 2))\n"
                 "    get(1, 2)\n");
  EXPECT_EQ(c->errors(),
            (Strings{"12:12: type mismatch: argument 2 of 'set' is int, expected "
                     "string",
                     "13:9: the first argument of 'get' must name a map, a Vec or "
                     "the rpc"}));
  auto *set = cast<CallExpr>(c->req<ExprStmt>(0).expr.get());
  auto *pair = cast<PairExpr>(set->args[2].get());
  EXPECT_TRUE(pair->second->type.is(TypeKind::Float)); // Element-wise typing.
  EXPECT_TRUE(isa<FloatLiteral>(pair->second.get()));
  auto &destructure =
      *cast<AssignStmt>(c->req<MatchStmt>(2).arms[0].body.stmts[0].get());
  EXPECT_TRUE(destructure.targets[0].decl->type.is(TypeKind::Int));
  EXPECT_TRUE(destructure.targets[1].decl->type.is(TypeKind::Float));
}

TEST(SemaRules, SendDirections) {
  auto c = check("state:\n    n: int\n    s: string\n"
                 "init():\n    send(rpc, Down)\n"
                 "req(rpc):\n"
                 "    match n:\n"
                 "        1 => send(rpc, Up)\n"
                 "        2 => send(err('x'), Down)\n"
                 "        3 => send(err(s), Up)\n"
                 "        4 => send(err(n), Up)\n"
                 "        5 => send(n, Down)\n"
                 "        _ => send(rpc, Down)\n"
                 "resp(rpc):\n"
                 "    match n:\n"
                 "        1 => send(rpc, Down)\n"
                 "        2 => send(err('x'), Up)\n"
                 "        _ => send(rpc, Up)\n");
  EXPECT_EQ(c->errors(),
            (Strings{"5:5: 'send' is not allowed in 'init': there is no RPC to send",
                     "5:10: undefined name 'rpc'",
                     "8:24: send(rpc, Up) in 'req': a request can only be "
                     "forwarded Down; to answer the caller use send(err(...), Up)",
                     "9:29: an error can only be sent Up, back to the caller: use "
                     "send(err(...), Up)",
                     "11:23: the reason in err(...) must be a string, found int",
                     "12:19: send expects the rpc or err(...), found int",
                     "16:24: send(rpc, Down) in 'resp': a response can only be "
                     "forwarded Up, to the caller"}));
}

TEST(SemaRules, StatementsAfterSendAreUnreachable) {
  auto c = check("state:\n    n: int\ninit():\n    pass\n"
                 "req(rpc):\n"
                 "    send(rpc, Down)\n"
                 "    n = 1\n"
                 "    n = 2\n"
                 "resp(rpc):\n"
                 "    match n:\n"
                 "        _ =>\n"
                 "            send(rpc, Up)\n"
                 "            pass\n"
                 "        1 => pass\n"
                 "    send(rpc, Up)\n");
  EXPECT_TRUE(c->errors().empty());
  EXPECT_EQ(c->warnings(),
            (Strings{"7:5: unreachable statement after send",
                     "13:13: unreachable statement after send",
                     "14:9: unreachable match arm: an earlier arm matches every "
                     "value"}));
}

TEST(SemaRules, Decorators) {
  auto c = check("state:\n"
                 "    @consistency(weak)\n"
                 "    @combiner(LWW) @persistence(true)\n"
                 "    a: Map<string, int>\n"
                 "    @consistency(eventual)\n"
                 "    @persistence(maybe)\n"
                 "    @replicated(yes)\n"
                 "    b: int\n"
                 "init():\n    pass\nreq(rpc):\n    pass\n");
  EXPECT_EQ(c->warnings(), Strings{"2:5: weak consistency: the state is a local "
                                   "map in each kernel"});
  EXPECT_EQ(c->errors(),
            (Strings{"5:18: @consistency takes 'strong' or 'weak', found 'eventual'",
                     "6:18: @persistence takes 'true' or 'false', found 'maybe'",
                     "7:5: unknown decorator '@replicated'; expected @consistency, "
                     "@combiner or @persistence"}));
  const StateDecl &a = c->element->state[0];
  EXPECT_EQ(a.consistency, Consistency::Weak);
  EXPECT_EQ(a.combiner, "LWW");
  EXPECT_EQ(a.persistence, true);
}

TEST(SemaRules, ExternalBuiltinsAreRejectedForTheKernel) {
  const char *source = "state:\n    n: float\ninit():\n    pass\n"
                       "req(rpc):\n"
                       "    n = get_load('backend')\n"
                       "    set_rpc_header(rpc, 'x-user', 'a')\n"
                       "    h = get_metadata(rpc, 'trace')\n"
                       "    foreach(get_backends, lambda(b): pass)\n"
                       "    w = estimate_RIF_distribution(get_backends())\n";
  auto kernel = check(source);
  EXPECT_EQ(kernel->errors(),
            (Strings{"6:9: 'get_load' calls an external service and is not "
                     "available in the kernel",
                     "7:5: 'set_rpc_header' accesses RPC headers and is not "
                     "available in the kernel",
                     "8:9: 'get_metadata' accesses RPC metadata and is not "
                     "available in the kernel",
                     "9:13: undefined name 'get_backends'",
                     "10:35: 'get_backends' calls an external service and is not "
                     "available in the kernel",
                     "10:9: 'estimate_RIF_distribution' calls an external service "
                     "and is not available in the kernel"}));
  auto user = check(source, nullptr, /*kernelTarget=*/false);
  EXPECT_EQ(user->errors(), Strings{"9:13: undefined name 'get_backends'"});
  EXPECT_EQ(cast<CallExpr>(user->req<AssignStmt>(0).value.get())->builtin,
            Builtin::External);
  EXPECT_TRUE(isExternalBuiltin("get_rpc_header"));
  EXPECT_FALSE(isExternalBuiltin("randomf"));
}

TEST(SemaRules, UnsupportedPatternsAndHandlerParameters) {
  auto c = check("state:\n    m: Map<int, string>\ninit(x):\n    pass\n"
                 "req(rpc, other):\n"
                 "    match get(m, 1):\n"
                 "        Some(err('e')) => pass\n"
                 "        None => pass\n");
  EXPECT_EQ(c->errors(),
            (Strings{"3:6: init parameter 'x' must name a state variable "
                     "(parameters of init mark state that is configured at "
                     "deployment)",
                     "5:10: 'req' takes one parameter, the rpc",
                     "7:9: Some(err(...)) patterns are not supported"}));
}

//===----------------------------------------------------------------------===//
// Forms found in real-world elements
//===----------------------------------------------------------------------===//

TEST(SemaWild, ALocalMayHoldAnOptional) {
  auto c = check("state:\n"
                 "    m: Map<string, int>\n"
                 "    n: Map<string, int>\n"
                 "    s: Map<string, string>\n"
                 "init():\n    pass\n"
                 "req(rpc):\n"
                 "    r = get(m, 'a')\n"
                 "    r = get(n, 'b')\n"
                 "    r = get(s, 'c')\n"
                 "    r = 1\n"
                 "    match r:\n"
                 "        Some(v) => x = v + 1\n"
                 "        None => pass\n"
                 "        _ => pass\n"
                 "    y = r + 1\n"
                 "    set(m, 'k', r)\n"
                 "    (a, b) = r\n"
                 "    i = 0\n"
                 "    i = r\n"
                 "    match r:\n"
                 "        w => pass\n"
                 "    send(rpc, Down)\n");
  EXPECT_EQ(c->errors(),
            (Strings{"10:9: type mismatch: cannot assign optional<string> to 'r' "
                     "of type optional<int>",
                     "11:9: type mismatch: cannot assign int to 'r' of type "
                     "optional<int>",
                     "16:11: type mismatch: cannot apply '+' to optional<int> and int",
                     "17:17: type mismatch: argument 3 of 'set' is optional<int>, "
                     "expected int",
                     "18:14: cannot destructure a value of type optional<int>: "
                     "'(a, b) = ...' needs a pair",
                     "20:9: type mismatch: cannot assign optional<int> to 'i' of "
                     "type int",
                     "22:9: an optional value can only be matched with Some(x), "
                     "None or _"}));
  auto &first = c->req<AssignStmt>(0);
  ASSERT_TRUE(first.targets[0].declares);
  VarDecl *r = first.targets[0].decl;
  EXPECT_EQ(r->kind, VarKind::Local);
  EXPECT_EQ(r->type.str(), "optional<int>");
  EXPECT_EQ(c->req<AssignStmt>(1).targets[0].decl, r); // Re-assigned.
  EXPECT_FALSE(c->req<AssignStmt>(1).targets[0].declares);
  auto &match = c->req<MatchStmt>(4);
  EXPECT_EQ(cast<NameExpr>(match.scrutinee.get())->decl, r);
  EXPECT_TRUE(match.scrutinee->type.is(TypeKind::Optional));
  ASSERT_NE(match.arms[0].pattern.binding, nullptr);
  EXPECT_TRUE(match.arms[0].pattern.binding->type.is(TypeKind::Int));
}

TEST(SemaWild, ALocalOptionalChecksCleanly) {
  auto c = check("state:\n    m: Map<uint, string>\ninit():\n    pass\n"
                 "req(rpc):\n"
                 "    r = get(m, rpc_id())\n"
                 "    match r:\n"
                 "        Some(v) =>\n"
                 "            send(err('hit'), Up)\n"
                 "        None =>\n"
                 "            send(rpc, Down)\n");
  EXPECT_TRUE(c->diags.diagnostics().empty());
  verifyElement(*c->element);
}

TEST(SemaWild, InitParametersNameConfigurableState) {
  auto c = check("state:\n"
                 "    limit: int\n"
                 "    prob: float\n"
                 "    m: Map<string, int>\n"
                 "init(limit, prob rpc):\n"
                 "    limit = 5\n"
                 "    prob = 0.5\n"
                 "req(rpc):\n"
                 "    match limit > 0:\n"
                 "        true => send(rpc, Down)\n"
                 "        false => send(err('limit'), Up)\n");
  // Only the parameter that names no state variable is an error: no
  // follow-on error in the body, and `rpc` is not an rpc in init.
  EXPECT_EQ(c->errors(),
            (Strings{"5:18: init parameter 'rpc' must name a state variable "
                     "(parameters of init mark state that is configured at "
                     "deployment)"}));
  const Handler &init = c->element->init;
  ASSERT_EQ(init.params.size(), 3u);
  EXPECT_EQ(init.params[0].decl, c->element->state[0].var);
  EXPECT_EQ(init.params[0].decl->kind, VarKind::State);
  EXPECT_EQ(init.params[1].decl, c->element->state[1].var);
  EXPECT_EQ(init.params[2].decl, nullptr);
  EXPECT_TRUE(c->element->state[0].configurable);
  EXPECT_TRUE(c->element->state[1].configurable);
  EXPECT_FALSE(c->element->state[2].configurable);
  // The body assigns the state variable (its default).
  auto &assign = c->init<AssignStmt>(0);
  EXPECT_FALSE(assign.targets[0].declares);
  EXPECT_EQ(assign.targets[0].decl, c->element->state[0].var);

  auto valid = check("state:\n    limit: int\ninit(limit):\n    limit = 5\n"
                     "req(rpc):\n    send(rpc, Down)\n");
  EXPECT_TRUE(valid->diags.diagnostics().empty());
  verifyElement(*valid->element);
}

TEST(SemaWild, GetStatesTheFieldsTypeWithoutASchema) {
  auto c = check("state:\n    n: int\ninit():\n    pass\n"
                 "req(rpc):\n"
                 "    n = get(rpc, 'count', 'int32') + 1\n"
                 "    u = get(rpc, 'id', uint32)\n"
                 "    f = get(rpc, 'ratio', 'double')\n"
                 "    b = get(rpc, 'flag', 'bool')\n"
                 "    s = get(rpc, 'name', 'bytes')\n"
                 "    w = get(rpc, 'big', 'int64')\n"
                 "    set(rpc, 'score', n)\n"
                 "    k = get(rpc, 'score', 'int32')\n"
                 "    t = get(rpc, 'text')\n"
                 "    send(rpc, Down)\n"
                 "resp(rpc):\n"
                 "    c = get(rpc, 'count')\n");
  EXPECT_TRUE(c->errors().empty());
  EXPECT_EQ(c->warnings(),
            (Strings{"11:18: field 'big' is int64; AppNet integers are 32-bit, "
                     "so its value is truncated"}));
  // Only fields whose type no get states are noted; the response is another
  // message, whose 'count' is not the request's.
  EXPECT_EQ(c->notes(),
            (Strings{"14:18: no --rpc-schema given: field 'text' is typed string",
                     "17:18: no --rpc-schema given: field 'count' is typed string"}));
  auto field = [&](size_t i) -> CallExpr & {
    Expr *e = c->req<AssignStmt>(i).value.get();
    if (auto *b = dyn_cast<BinaryExpr>(e))
      e = b->lhs.get();
    return *cast<CallExpr>(e);
  };
  EXPECT_TRUE(field(0).type.is(TypeKind::Int));
  EXPECT_EQ(field(0).field->declaredKind, FieldKind::Int32);
  EXPECT_EQ(field(0).field->message, nullptr);
  EXPECT_TRUE(field(1).type.is(TypeKind::UInt));
  EXPECT_EQ(field(1).field->declaredKind, FieldKind::UInt32);
  // The bare name became a string literal.
  ASSERT_TRUE(isa<StringLiteral>(field(1).args[2].get()));
  EXPECT_EQ(cast<StringLiteral>(field(1).args[2].get())->value, "uint32");
  EXPECT_TRUE(field(2).type.is(TypeKind::Float));
  EXPECT_TRUE(field(3).type.is(TypeKind::Bool));
  EXPECT_TRUE(field(4).type.is(TypeKind::String));
  EXPECT_EQ(field(4).type.capacity, 64u);
  EXPECT_TRUE(field(5).type.is(TypeKind::Int));
  // set(rpc, 'score', n) comes first, yet takes the type a later get states.
  auto *set = cast<CallExpr>(c->req<ExprStmt>(6).expr.get());
  EXPECT_EQ(set->field->declaredKind, FieldKind::Int32);
  EXPECT_TRUE(set->args[2]->type.is(TypeKind::Int));
  EXPECT_EQ(field(8).field->declaredKind, std::nullopt);
  EXPECT_TRUE(field(8).type.is(TypeKind::String));
  auto &resp = c->stmt<AssignStmt>(*c->element->resp, 0);
  EXPECT_TRUE(resp.value->type.is(TypeKind::String));
  verifyElement(*c->element);
}

TEST(SemaWild, StatedFieldTypesAreChecked) {
  auto c = check("state:\n    n: int\ninit():\n    pass\n"
                 "req(rpc):\n"
                 "    a = get(rpc, 'count', 'int32')\n"
                 "    b = get(rpc, 'count', 'uint32')\n"
                 "    c = get(rpc, 'other', 'int')\n"
                 "    d = get(rpc, 'other', 3)\n"
                 "    e = get(rpc, 'other', kind)\n"
                 "    f = get(rpc, 'a', 'int32', 1)\n"
                 "    g = get(rpc, 'count', 'string')\n"
                 "resp(rpc):\n"
                 "    h = get(rpc, 'meta_status', 'string')\n"
                 "    i = get(rpc, 'meta_status', 'int32')\n");
  EXPECT_EQ(c->errors(),
            (Strings{"7:27: field 'count' is stated to be uint32 here but int32 "
                     "at 6:27; a field has one type",
                     "8:27: the type in 'get(rpc, 'field', TYPE)' must be a proto "
                     "type: string, bytes, bool, int32, uint32, int64, uint64, "
                     "float or double; found 'int'",
                     "9:27: the type in 'get(rpc, 'field', TYPE)' must be a proto "
                     "type: string, bytes, bool, int32, uint32, int64, uint64, "
                     "float or double; found an expression",
                     "10:27: the type in 'get(rpc, 'field', TYPE)' must be a proto "
                     "type: string, bytes, bool, int32, uint32, int64, uint64, "
                     "float or double; found 'kind'",
                     "11:9: 'get' on rpc takes 2 or 3 arguments, found 4",
                     "12:27: field 'count' is stated to be string here but int32 "
                     "at 6:27; a field has one type",
                     "15:33: type mismatch: field 'meta_status' is string, but "
                     "'get' states int32"}));
  auto &h = c->stmt<AssignStmt>(*c->element->resp, 0);
  auto *meta = cast<CallExpr>(h.value.get());
  EXPECT_TRUE(meta->field->isMetaStatus);
  EXPECT_EQ(meta->field->declaredKind, FieldKind::String);
}

TEST(SemaWild, StatedFieldTypesMustAgreeWithTheSchema) {
  auto c = check("state:\n    n: int\ninit():\n    pass\n"
                 "req(rpc):\n"
                 "    a = get(rpc, 'priority', 'uint32')\n"
                 "    b = get(rpc, 'priority', 'int32')\n"
                 "    c = get(rpc, 'user', 'bytes')\n"
                 "    d = get(rpc, 'priority')\n"
                 "resp(rpc):\n"
                 "    e = get(rpc, 'body', float)\n",
                 &exampleSchema());
  EXPECT_EQ(c->errors(),
            (Strings{"7:30: type mismatch: field 'priority' of message 'Request' "
                     "is uint32, but 'get' states int32",
                     "11:26: type mismatch: field 'body' of message 'Response' is "
                     "string, but 'get' states float"}));
  EXPECT_TRUE(c->notes().empty());
  auto *a = cast<CallExpr>(c->req<AssignStmt>(0).value.get());
  EXPECT_TRUE(a->type.is(TypeKind::UInt));
  EXPECT_EQ(a->field->index, 1);
  EXPECT_EQ(a->field->declaredKind, FieldKind::UInt32);
  auto *user = cast<CallExpr>(c->req<AssignStmt>(2).value.get());
  EXPECT_EQ(user->type.capacity, 32u); // The schema's capacity.
  // With a schema, a get without the third argument states nothing.
  auto *d = cast<CallExpr>(c->req<AssignStmt>(3).value.get());
  EXPECT_EQ(d->field->declaredKind, std::nullopt);
}

TEST(SemaWild, ByteSizeOfTheWholePayload) {
  auto c = check("state:\n    n: uint\ninit():\n    pass\n"
                 "req(rpc):\n"
                 "    n = byte_size(rpc)\n"
                 "    m = byte_size(rpc, 'body')\n"
                 "    k = byte_size(rpc, 'body', 'string')\n"
                 "    send(rpc, Down)\n"
                 "resp(rpc):\n"
                 "    n = byte_size(rpc) + n\n",
                 &exampleSchema());
  EXPECT_EQ(c->errors(),
            (Strings{"8:9: 'byte_size' on rpc takes 1 or 2 arguments, found 3"}));
  auto *whole = cast<CallExpr>(c->req<AssignStmt>(0).value.get());
  EXPECT_EQ(whole->builtin, Builtin::ByteSize);
  EXPECT_TRUE(whole->type.is(TypeKind::UInt));
  ASSERT_TRUE(whole->field);
  EXPECT_TRUE(whole->field->isPayloadSize);
  EXPECT_EQ(whole->field->name, "");
  EXPECT_EQ(whole->field->message, nullptr);
  auto *body = cast<CallExpr>(c->req<AssignStmt>(1).value.get());
  EXPECT_FALSE(body->field->isPayloadSize);
  EXPECT_EQ(body->field->name, "body");
  // Without a schema, no note either: it is no field.
  auto bare = check("state:\n    n: uint\ninit():\n    pass\n"
                    "req(rpc):\n    n = byte_size(rpc)\n");
  EXPECT_TRUE(bare->diags.diagnostics().empty());
  verifyElement(*bare->element);
}

TEST(SemaWild, AnInstantMayBeStoredAsFloatSeconds) {
  auto c = check("state:\n"
                 "    last: float\n"
                 "    lat: Map<string, float>\n"
                 "    t0: Instant\n"
                 "init():\n"
                 "    last = current_time()\n"
                 "req(rpc):\n"
                 "    f = 1.5\n"
                 "    f = current_time()\n"
                 "    set(lat, 'k', current_time())\n"
                 "    g = randomf(t0, 2)\n"
                 "    i = current_time()\n"
                 "    b = last < t0\n"
                 "    send(rpc, Down)\n");
  EXPECT_EQ(c->errors(),
            (Strings{"13:14: type mismatch: cannot apply '<' to float and Instant"}));
  const std::string w =
      ": an Instant stored as float holds seconds of the monotonic clock";
  EXPECT_EQ(c->warnings(),
            (Strings{"6:12" + w, "9:9" + w, "10:19" + w, "11:17" + w}));
  auto &last = c->init<AssignStmt>(0);
  auto *cast0 = dyn_cast<CastExpr>(last.value.get());
  ASSERT_TRUE(cast0);
  EXPECT_TRUE(cast0->type.is(TypeKind::Float));
  EXPECT_TRUE(cast0->operand->type.is(TypeKind::Instant));
  EXPECT_TRUE(isa<CastExpr>(c->req<AssignStmt>(1).value.get()));
  auto *set = cast<CallExpr>(c->req<ExprStmt>(2).expr.get());
  EXPECT_TRUE(isa<CastExpr>(set->args[2].get()));
  EXPECT_TRUE(set->args[2]->type.is(TypeKind::Float));
  // A new local keeps the Instant.
  EXPECT_TRUE(c->req<AssignStmt>(4).targets[0].decl->type.is(TypeKind::Instant));
}

TEST(SemaWild, TimeDiffTakesInstantsOrFloats) {
  auto c = check("state:\n    last: float\n    t0: Instant\n    s: string\n"
                 "    b: bool\ninit():\n    pass\n"
                 "req(rpc):\n"
                 "    d = time_diff(current_time(), last)\n"
                 "    e = time_diff(current_time(), t0)\n"
                 "    h = time_diff(last, 2)\n"
                 "    k = time_diff(current_time(), s)\n"
                 "    l = time_diff(b, last)\n"
                 "    send(rpc, Down)\n");
  EXPECT_EQ(c->errors(),
            (Strings{"12:35: type mismatch: argument 2 of 'time_diff' is string, "
                     "expected Instant or float",
                     "13:19: type mismatch: argument 1 of 'time_diff' is bool, "
                     "expected Instant or float"}));
  EXPECT_TRUE(c->warnings().empty()); // Nothing is stored.
  auto diff = [&](size_t i) { return cast<CallExpr>(c->req<AssignStmt>(i).value.get()); };
  // Instant and float: the Instant is cast to its seconds, then a - b.
  EXPECT_TRUE(diff(0)->type.is(TypeKind::Float));
  auto *now = dyn_cast<CastExpr>(diff(0)->args[0].get());
  ASSERT_TRUE(now);
  EXPECT_TRUE(now->type.is(TypeKind::Float));
  EXPECT_TRUE(now->operand->type.is(TypeKind::Instant));
  EXPECT_TRUE(diff(0)->args[1]->type.is(TypeKind::Float));
  // Two instants: as before.
  EXPECT_TRUE(diff(1)->args[0]->type.is(TypeKind::Instant));
  EXPECT_TRUE(diff(1)->args[1]->type.is(TypeKind::Instant));
  EXPECT_TRUE(diff(1)->type.is(TypeKind::Float));
  // A number is a float.
  EXPECT_TRUE(isa<FloatLiteral>(diff(2)->args[1].get()));
}

TEST(SemaWild, RejectedCallsCauseNoFollowOnErrors) {
  auto c = check("state:\n    id: int\ninit():\n    id = 0\n"
                 "req(rpc):\n"
                 "    (l, t) = get_load(3)\n"
                 "    id = get_rpc_header(rpc, 'x-id')\n"
                 "    x = 0\n"
                 "    x = get_rpc_header(rpc, 'y')\n"
                 "    y = foo(1)\n"
                 "    z = (y + 1) * l\n"
                 "    send(rpc, Down)\n");
  EXPECT_EQ(c->errors(),
            (Strings{"6:14: 'get_load' calls an external service and is not "
                     "available in the kernel",
                     "7:10: 'get_rpc_header' accesses RPC headers and is not "
                     "available in the kernel",
                     "9:9: 'get_rpc_header' accesses RPC headers and is not "
                     "available in the kernel",
                     "10:9: unknown function 'foo'"}));
}

//===----------------------------------------------------------------------===//
// Larger inputs and robustness of the whole frontend. (Speed targets are
// measured by `make bench`, benchmarks/frontend-bench.cpp, not asserted in
// tests.)
//===----------------------------------------------------------------------===//

TEST(SemaFrontend, AHundredLineElementChecksCleanly) {
  std::string source = "state:\n";
  for (int i = 0; i < 10; ++i)
    source += "    c" + std::to_string(i) + ": int\n";
  source += "    seen: Map<string, uint>\ninit():\n";
  for (int i = 0; i < 10; ++i)
    source += "    c" + std::to_string(i) + " = 0\n";
  source += "req(rpc):\n";
  for (int i = 0; i < 15; ++i) {
    std::string c = "c" + std::to_string(i % 10);
    source += "    match (" + c + " < 10) and (randomf(0, 1) < 0.5):\n"
              "        true =>\n"
              "            " + c + " = " + c + " + (2 * " + c + ")\n"
              "        false =>\n"
              "            set(seen, get(rpc, 'user'), rpc_id())\n";
  }
  source += "    send(rpc, Down)\nresp(rpc):\n    send(rpc, Up)\n";
  ASSERT_GE(std::count(source.begin(), source.end(), '\n'), 100);

  FrontendOptions options;
  options.schema = &exampleSchema();
  DiagnosticSink diags;
  std::unique_ptr<Element> element = parseAndCheck(source, options, diags);
  ASSERT_TRUE(element) << diags.firstError()->loc.str() << ": "
                       << diags.firstError()->message;
  EXPECT_TRUE(diags.diagnostics().empty()) << diags.diagnostics()[0].message;
  verifyElement(*element);
  ASSERT_EQ(element->req.body.stmts.size(), 16u); // 15 matches and the send.
  for (size_t i = 0; i < 15; ++i) {
    auto *match = cast<MatchStmt>(element->req.body.stmts[i].get());
    EXPECT_TRUE(match->scrutinee->type.is(TypeKind::Bool));
    ASSERT_EQ(match->arms.size(), 2u);
    // c = c + (2 * c) assigns the state variable c(i % 10).
    auto *assign = cast<AssignStmt>(match->arms[0].body.stmts[0].get());
    EXPECT_EQ(assign->targets[0].decl, element->state[i % 10].var);
    auto *set = cast<ExprStmt>(match->arms[1].body.stmts[0].get());
    EXPECT_EQ(cast<CallExpr>(set->expr.get())->builtin, Builtin::Set);
  }
}

TEST(SemaFrontend, MutatedExamplesNeverCrash) {
  std::vector<std::string> sources;
  for (const char *dir : {SBPF_EXAMPLES_DIR, SBPF_EXAMPLES_DIR "/invalid"})
    for (const auto &path : exampleFiles(dir))
      sources.push_back(readFile(path));
  std::mt19937 rng(7);
  const char *snippets[] = {"get(", "set(", "Some(", ")", "(", ":", " => ", "\n",
                            "\t", "    ", "match ", "send(", "err(", "'",
                            " + ", " and ", "1", "0.5", "rpc", "_", "@", "\\\n",
                            "Map<", ">", "lambda(", "foreach("};
  for (int round = 0; round < 3000; ++round) {
    std::string source = sources[rng() % sources.size()];
    int edits = 1 + rng() % 3;
    for (int e = 0; e < edits && !source.empty(); ++e) {
      size_t at = rng() % source.size();
      switch (rng() % 5) {
      case 0: source.insert(at, snippets[rng() % std::size(snippets)]); break;
      case 1: source.erase(at, 1 + rng() % 12); break;
      case 2: source[at] = char(rng()); break;
      case 3: { // Swap two lines' worth of text.
        size_t other = rng() % source.size();
        std::swap(source[at], source[other]);
        break;
      }
      case 4: source.insert(at, source.substr(rng() % source.size(), 20)); break;
      }
    }
    for (const Schema *schema : {(const Schema *)nullptr, &exampleSchema()}) {
      DiagnosticSink diags;
      FrontendOptions options;
      options.schema = schema;
      std::unique_ptr<Element> element = parseAndCheck(source, options, diags);
      ASSERT_EQ(element == nullptr, diags.hasErrors()) << source;
      for (const Diagnostic &d : diags.diagnostics())
        ASSERT_TRUE(d.loc.isValid()) << d.message << "\n" << source;
      if (element)
        verifyElement(*element);
    }
  }
}

} // namespace
