//===- AST.h - syntax tree of an AppNet element, with its types -*- C++ -*-===//
//
// How to walk it
// --------------
//   Element
//     state    : vector<StateDecl>   name, TypeSyntax, decorators (+ resolved
//                                    Type, consistency, combiner, persistence)
//     init, req: Handler             params + body
//     resp     : unique_ptr<Handler> null when the source has no `resp`
//                                    (it then means `send(rpc, Up)`)
//     vars     : every VarDecl (state, params, locals, bindings), owned here
//   Handler  : params (vector<Param>), body (Block)
//   Block    : vector<StmtPtr>
//   Stmt     : PassStmt | ExprStmt | AssignStmt | SendStmt | MatchStmt |
//              ForeachStmt                          (switch on Stmt::kind)
//   Expr     : IntLiteral | FloatLiteral | StringLiteral | BoolLiteral |
//              NameExpr | BinaryExpr | CallExpr | PairExpr | CastExpr
//                                                   (switch on Expr::kind)
//   Pattern  : one struct with a Pattern::Kind (literal, `_`, binding NAME,
//              None, Some(x), Some(err(..)))
//
// Nodes are plain structs with a kind enum and `classof`, so both
// `switch (e.kind) { case Expr::Kind::Binary: static_cast<BinaryExpr&>(e) }`
// and llvm::isa / cast / dyn_cast work. Children are owned by unique_ptr.
// Every node has a SourceLoc: an expression's is its first token, not
// counting enclosing parentheses (`(a + b)` is at `a`; a pair `(a, b)` is at
// its '('); a binary expression also keeps its operator's (`opLoc`).
//
// What the type checker (Sema) records
// ------------------------------------
//   * Expr::type on every expression: a concrete Type (never UntypedInt).
//     Integer literals take the type their context needs; one that ends up
//     float is replaced by a FloatLiteral.
//   * Implicit conversions are explicit CastExpr nodes inserted by Sema
//     (int -> float, uint -> float, int <-> uint, and Instant -> float where
//     an Instant is stored or passed where a float is expected: seconds of
//     the monotonic clock). Hence, after Sema: both operands of a BinaryExpr
//     have the same type; an assigned value has the target's type; a call
//     argument has its parameter's type (map keys and values: the map's K
//     and V). String capacities may differ (copies truncate), so strings are
//     never wrapped in a CastExpr.
//   * A local may hold an optional (`r = get(m, k)`, then `match r:`); it is
//     only ever matched, re-assigned another optional of the same type, or
//     nothing.
//   * `time_diff(a, b)` has two forms: both arguments Instant (the seconds
//     between them), or both float (after Sema's casts; the result is
//     a - b).
//   * NameExpr::decl -> the VarDecl it refers to; VarDecl::kind says whether
//     it is a state variable, a handler parameter (the rpc), a local, a match
//     binding or a lambda parameter. VarDecl::id is a dense index into
//     Element::vars.
//   * AssignTarget::decl and ::declares (first assignment of a local).
//   * Pattern::binding for `Some(x)` and binding patterns; Pattern::type for
//     literal patterns (an int pattern against a float value becomes Float).
//   * CallExpr::builtin; for rpc field accesses CallExpr::field (see
//     RpcFieldRef: declaredKind, and isPayloadSize for `byte_size(rpc)`).
//     After Sema the third argument of `get(rpc, 'f', 'int32')`, if any, is
//     a StringLiteral (a bare name like `int32` is replaced by one).
//   * StateDecl::type / consistency / combiner / persistence / configurable;
//     Param::decl of an `init` parameter is the state variable it names.
// A type of kind Unknown only survives in an Element for which Sema reported
// an error (or, with kernelTarget off, as the result of an external call).
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_APPNET_AST_H
#define SBPF_APPNET_AST_H

#include "sbpf/AppNet/Diagnostics.h"
#include "sbpf/AppNet/Schema.h"

#include "llvm/Support/Casting.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sbpf::appnet {

// As in MLIR: the casting helpers are used unqualified.
using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;

struct StateDecl;

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

enum class TypeKind : uint8_t {
  Unknown,    ///< Not determined: after an error, or an opaque external value.
  Void,       ///< Result of set/delete and other statements-as-calls.
  Bool,
  Int,        ///< 32-bit signed.
  UInt,       ///< 32-bit unsigned.
  Float,
  String,     ///< With a capacity in bytes.
  Instant,    ///< A point in time (nanoseconds, monotonic clock).
  Pair,       ///< params[0], params[1]
  Map,        ///< params[0] = key, params[1] = value
  Vec,        ///< params[0] = element
  Optional,   ///< params[0] = value; the result of get(map, k)
  Rpc,        ///< The handler's `rpc` parameter.
  UntypedInt, ///< Internal to Sema: an integer literal before its type is known.
};

/// A value type: small enough to copy.
struct Type {
  TypeKind kind = TypeKind::Unknown;
  uint32_t capacity = 0;    ///< String only.
  std::vector<Type> params; ///< Pair, Map, Vec, Optional (see TypeKind).

  Type() = default;
  explicit Type(TypeKind kind) : kind(kind) {}

  static Type string(uint32_t capacity) {
    Type t(TypeKind::String);
    t.capacity = capacity;
    return t;
  }
  static Type compound(TypeKind kind, std::vector<Type> params) {
    Type t(kind);
    t.params = std::move(params);
    return t;
  }
  static Type pair(Type a, Type b) {
    return compound(TypeKind::Pair, {std::move(a), std::move(b)});
  }
  static Type map(Type k, Type v) {
    return compound(TypeKind::Map, {std::move(k), std::move(v)});
  }
  static Type vec(Type elem) { return compound(TypeKind::Vec, {std::move(elem)}); }
  static Type optional(Type value) {
    return compound(TypeKind::Optional, {std::move(value)});
  }

  bool is(TypeKind k) const { return kind == k; }
  bool isInteger() const { return kind == TypeKind::Int || kind == TypeKind::UInt; }
  bool isNumeric() const { return isInteger() || kind == TypeKind::Float; }

  /// Structural equality; string capacities are ignored (they do not change
  /// which operations are allowed, only how many bytes are kept).
  bool sameAs(const Type &other) const {
    if (kind != other.kind || params.size() != other.params.size())
      return false;
    for (size_t i = 0; i < params.size(); ++i)
      if (!params[i].sameAs(other.params[i]))
        return false;
    return true;
  }

  /// As written in AppNet: "int", "optional<string>", "Map<string, uint>",
  /// "<int, float>". UntypedInt prints as "int".
  std::string str() const;
};

//===----------------------------------------------------------------------===//
// Declarations
//===----------------------------------------------------------------------===//

enum class VarKind : uint8_t {
  State,        ///< Declared in the `state:` section (global).
  HandlerParam, ///< `rpc` in `req(rpc)`; type Rpc.
  Local,        ///< Declared by its first assignment.
  MatchBinding, ///< `x` in `Some(x) =>`, or a binding pattern `x =>`.
  LambdaParam,  ///< `x` in `foreach(v, lambda(x): ...)`.
};

/// A named variable, created by Sema. Owned by Element::vars.
struct VarDecl {
  std::string name;
  VarKind kind = VarKind::Local;
  Type type;
  SourceLoc loc;             ///< Where it is declared.
  unsigned id = 0;           ///< Index in Element::vars.
  StateDecl *state = nullptr; ///< For VarKind::State.
};

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

struct Expr {
  enum class Kind : uint8_t {
    IntLiteral,
    FloatLiteral,
    StringLiteral,
    BoolLiteral,
    Name,
    Binary,
    Call,
    Pair,
    Cast,
  };

  const Kind kind;
  SourceLoc loc; ///< Of the expression's first token.
  Type type;     ///< Set by Sema.

  virtual ~Expr() = default;

protected:
  Expr(Kind kind, SourceLoc loc) : kind(kind), loc(loc) {}
};
using ExprPtr = std::unique_ptr<Expr>;

struct IntLiteral : Expr {
  uint64_t value;
  IntLiteral(SourceLoc loc, uint64_t value) : Expr(Kind::IntLiteral, loc), value(value) {}
  static bool classof(const Expr *e) { return e->kind == Kind::IntLiteral; }
};

struct FloatLiteral : Expr {
  double value;
  FloatLiteral(SourceLoc loc, double value) : Expr(Kind::FloatLiteral, loc), value(value) {}
  static bool classof(const Expr *e) { return e->kind == Kind::FloatLiteral; }
};

struct StringLiteral : Expr {
  std::string value; ///< Without the quotes (there are no escapes).
  StringLiteral(SourceLoc loc, std::string value)
      : Expr(Kind::StringLiteral, loc), value(std::move(value)) {}
  static bool classof(const Expr *e) { return e->kind == Kind::StringLiteral; }
};

struct BoolLiteral : Expr {
  bool value;
  BoolLiteral(SourceLoc loc, bool value) : Expr(Kind::BoolLiteral, loc), value(value) {}
  static bool classof(const Expr *e) { return e->kind == Kind::BoolLiteral; }
};

struct NameExpr : Expr {
  std::string name;
  VarDecl *decl = nullptr; ///< Set by Sema; null if undefined.
  NameExpr(SourceLoc loc, std::string name) : Expr(Kind::Name, loc), name(std::move(name)) {}
  static bool classof(const Expr *e) { return e->kind == Kind::Name; }
};

enum class BinaryOp : uint8_t { Add, Sub, Mul, Div, Eq, Ne, Lt, Gt, Le, Ge, And, Or };
/// "+", "==", "and", ...
const char *binaryOpSpelling(BinaryOp op);
inline bool isComparison(BinaryOp op) { return op >= BinaryOp::Eq && op <= BinaryOp::Ge; }
inline bool isArithmetic(BinaryOp op) { return op <= BinaryOp::Div; }
inline bool isLogical(BinaryOp op) { return op == BinaryOp::And || op == BinaryOp::Or; }

struct BinaryExpr : Expr {
  BinaryOp op;
  SourceLoc opLoc;
  ExprPtr lhs, rhs;
  bool parenthesized = false; ///< Written as `(a op b)`.
  BinaryExpr(SourceLoc loc, BinaryOp op, SourceLoc opLoc, ExprPtr lhs, ExprPtr rhs)
      : Expr(Kind::Binary, loc), op(op), opLoc(opLoc), lhs(std::move(lhs)),
        rhs(std::move(rhs)) {}
  static bool classof(const Expr *e) { return e->kind == Kind::Binary; }
};

/// Which built-in a call is (resolved by Sema). `get`, `set`, `delete`,
/// `size` work on the object named by the first argument: look at
/// args[0]->type (Map, Vec or Rpc) to tell map, log and rpc-field accesses
/// apart.
enum class Builtin : uint8_t {
  None, ///< Unresolved (unknown function; Sema reported it).
  Get,
  Set,
  Delete,
  Size,
  ByteSize,
  RandomF,
  RandomU,
  CurrentTime,
  TimeDiff,
  Min,
  Max,
  RpcId,
  Encrypt,
  Decrypt,
  External, ///< An external-service / header built-in; CallExpr::callee names it.
};

/// The rpc field a get/set/byte_size on the rpc refers to.
struct RpcFieldRef {
  std::string name; ///< Empty when isPayloadSize.
  /// `meta_status`: 'success' or 'failure' depending on the response kind;
  /// not a payload field.
  bool isMetaStatus = false;
  /// `byte_size(rpc)` with one argument: the length in bytes of the whole
  /// payload (the aRPC header's payload length), not a field. `name` is
  /// empty, `message` null, `index` -1, `declaredKind` nullopt.
  bool isPayloadSize = false;
  /// The schema message and the field's index in it; null / -1 without a
  /// schema.
  const SchemaMessage *message = nullptr;
  int index = -1;
  /// The field's proto type when the source states it with the third
  /// argument of `get(rpc, 'f', 'int32')`: at this call, or, without a
  /// schema, at any `get` of the same field in the same handler (so every
  /// access to a field of one message agrees on its type). With a schema it
  /// is only set at a call that has the third argument, and then equals the
  /// schema field's kind. Without a schema, nullopt means a string of the
  /// default capacity; otherwise the field has the type of a schema field of
  /// this kind (string/bytes at the default capacity).
  std::optional<FieldKind> declaredKind;
};

struct CallExpr : Expr {
  std::string callee;
  SourceLoc calleeLoc; ///< Same as loc: the callee is the first token.
  std::vector<ExprPtr> args;
  Builtin builtin = Builtin::None; ///< Set by Sema.
  std::optional<RpcFieldRef> field; ///< Set by Sema for get/set/byte_size on the rpc.
  CallExpr(SourceLoc loc, std::string callee)
      : Expr(Kind::Call, loc), callee(std::move(callee)), calleeLoc(loc) {}
  static bool classof(const Expr *e) { return e->kind == Kind::Call; }
};

/// `(a, b)`.
struct PairExpr : Expr {
  ExprPtr first, second;
  PairExpr(SourceLoc loc, ExprPtr first, ExprPtr second)
      : Expr(Kind::Pair, loc), first(std::move(first)), second(std::move(second)) {}
  static bool classof(const Expr *e) { return e->kind == Kind::Pair; }
};

/// An implicit conversion inserted by Sema: `operand` converted to `type`.
/// Numeric conversions (int/uint -> float, int <-> uint), and Instant ->
/// float: the instant as seconds of the monotonic clock (nanoseconds / 1e9).
struct CastExpr : Expr {
  ExprPtr operand;
  CastExpr(ExprPtr operand, Type to)
      : Expr(Kind::Cast, operand->loc), operand(std::move(operand)) {
    type = std::move(to);
  }
  static bool classof(const Expr *e) { return e->kind == Kind::Cast; }
};

//===----------------------------------------------------------------------===//
// Patterns
//===----------------------------------------------------------------------===//

struct Pattern {
  enum class Kind : uint8_t {
    Int,      ///< intValue
    Float,    ///< floatValue
    String,   ///< text
    Bool,     ///< boolValue
    Wildcard, ///< `_`
    Binding,  ///< `x =>`: matches anything and binds it to `text`
    None,     ///< `None`
    Some,     ///< `Some(x)`: binds the value to `text`
    SomeErr,  ///< `Some(err(...))`: parsed, rejected by Sema; reason in `text`
  };
  Kind kind = Kind::Wildcard;
  SourceLoc loc;
  uint64_t intValue = 0;
  double floatValue = 0;
  bool boolValue = false;
  std::string text;
  SourceLoc nameLoc;          ///< Of the bound name (Binding, Some).
  VarDecl *binding = nullptr; ///< Set by Sema (Binding, Some).
  Type type;                  ///< Set by Sema for literal patterns.

  bool isCatchAll() const { return kind == Kind::Wildcard || kind == Kind::Binding; }
};

//===----------------------------------------------------------------------===//
// Statements
//===----------------------------------------------------------------------===//

struct Stmt {
  enum class Kind : uint8_t { Pass, Expr, Assign, Send, Match, Foreach };
  const Kind kind;
  SourceLoc loc; ///< Of the statement's first token.
  virtual ~Stmt() = default;

protected:
  Stmt(Kind kind, SourceLoc loc) : kind(kind), loc(loc) {}
};
using StmtPtr = std::unique_ptr<Stmt>;

struct Block {
  std::vector<StmtPtr> stmts;
};

struct PassStmt : Stmt {
  explicit PassStmt(SourceLoc loc) : Stmt(Kind::Pass, loc) {}
  static bool classof(const Stmt *s) { return s->kind == Kind::Pass; }
};

/// An expression evaluated for its effect, e.g. `set(m, k, v)`.
struct ExprStmt : Stmt {
  ExprPtr expr;
  ExprStmt(SourceLoc loc, ExprPtr expr) : Stmt(Kind::Expr, loc), expr(std::move(expr)) {}
  static bool classof(const Stmt *s) { return s->kind == Kind::Expr; }
};

struct AssignTarget {
  std::string name;
  SourceLoc loc;
  VarDecl *decl = nullptr; ///< Set by Sema.
  bool declares = false;   ///< Set by Sema: this assignment declares a local.
};

/// `x = e` or `(a, b) = e` (destructures a pair).
struct AssignStmt : Stmt {
  std::vector<AssignTarget> targets; ///< One, or two for a pair.
  bool isPair = false;
  SourceLoc eqLoc;
  ExprPtr value;
  explicit AssignStmt(SourceLoc loc) : Stmt(Kind::Assign, loc) {}
  static bool classof(const Stmt *s) { return s->kind == Kind::Assign; }
};

enum class Direction : uint8_t { Up, Down };

/// `send(rpc, Down)` / `send(rpc, Up)` / `send(err(reason), Up)`. Ends the
/// handler.
struct SendStmt : Stmt {
  bool isError = false;
  /// The rpc expression, or for an error the reason (a StringLiteral or a
  /// NameExpr of string type).
  ExprPtr value;
  SourceLoc errLoc; ///< Of `err`, when isError.
  Direction direction = Direction::Down;
  SourceLoc directionLoc;
  explicit SendStmt(SourceLoc loc) : Stmt(Kind::Send, loc) {}
  static bool classof(const Stmt *s) { return s->kind == Kind::Send; }
};

struct MatchArm {
  Pattern pattern;
  SourceLoc arrowLoc;
  Block body;
  bool inlineBody = false; ///< `pat => stmt` on one line.
};

/// Arms are tried in order; when none matches, execution continues after the
/// match.
struct MatchStmt : Stmt {
  ExprPtr scrutinee;
  std::vector<MatchArm> arms;
  explicit MatchStmt(SourceLoc loc) : Stmt(Kind::Match, loc) {}
  static bool classof(const Stmt *s) { return s->kind == Kind::Match; }
};

/// `foreach(coll, lambda(x): body)`.
struct ForeachStmt : Stmt {
  std::unique_ptr<NameExpr> collection;
  std::string param;
  SourceLoc paramLoc;
  VarDecl *paramDecl = nullptr; ///< Set by Sema.
  Block body;
  explicit ForeachStmt(SourceLoc loc) : Stmt(Kind::Foreach, loc) {}
  static bool classof(const Stmt *s) { return s->kind == Kind::Foreach; }
};

//===----------------------------------------------------------------------===//
// The element
//===----------------------------------------------------------------------===//

/// A state type as written: `int`, `<string, int>`, `Map<K, V>`, `Vec<T>`.
struct TypeSyntax {
  enum class Kind : uint8_t { Named, Pair, Map, Vec };
  Kind kind = Kind::Named;
  std::string name; ///< Named only.
  SourceLoc loc;
  std::vector<TypeSyntax> args;
};

struct Decorator {
  std::string name; ///< Without '@': "consistency", "combiner", "persistence".
  SourceLoc loc;    ///< Of '@'.
  std::string arg;  ///< The argument as written ("strong", "LWW", "true").
  SourceLoc argLoc;
};

enum class Consistency : uint8_t { Default, Weak, Strong };

struct StateDecl {
  std::string name;
  SourceLoc loc;
  TypeSyntax typeSyntax;
  std::vector<Decorator> decorators;
  // Set by Sema:
  Type type;
  Consistency consistency = Consistency::Default;
  std::optional<std::string> combiner;
  std::optional<bool> persistence;
  /// Named by a parameter of `init(...)`: its value is configured at
  /// deployment, and the init body only gives its default.
  bool configurable = false;
  VarDecl *var = nullptr;
};

enum class HandlerKind : uint8_t { Init, Req, Resp };
const char *handlerName(HandlerKind kind); ///< "init", "req", "resp"

struct Param {
  std::string name;
  SourceLoc loc;
  /// Set by Sema. In req/resp: the rpc (VarKind::HandlerParam). In init: the
  /// state variable the parameter names (VarKind::State, whose StateDecl is
  /// marked `configurable`); null if it names none (an error).
  VarDecl *decl = nullptr;
};

struct Handler {
  HandlerKind kind = HandlerKind::Init;
  SourceLoc loc; ///< Of the keyword.
  std::vector<Param> params;
  Block body;
};

struct Element {
  std::vector<StateDecl> state;
  Handler init, req;
  std::unique_ptr<Handler> resp; ///< Null: `resp` omitted, means send(rpc, Up).
  std::vector<std::unique_ptr<VarDecl>> vars; ///< Owned declarations (Sema).
};

} // namespace sbpf::appnet

#endif // SBPF_APPNET_AST_H
