//===- Sema.cpp - type checker and name resolver of AppNet ----------------===//
#include "sbpf/AppNet/Sema.h"

#include "sbpf/AppNet/Lexer.h"

#include <algorithm>
#include <set>
#include <unordered_map>
#include <utility>

using namespace sbpf::appnet;

std::string Type::str() const {
  switch (kind) {
  case TypeKind::Unknown: return "unknown";
  case TypeKind::Void: return "void";
  case TypeKind::Bool: return "bool";
  case TypeKind::Int: return "int";
  case TypeKind::UInt: return "uint";
  case TypeKind::Float: return "float";
  case TypeKind::String: return "string";
  case TypeKind::Instant: return "Instant";
  case TypeKind::Pair: return "<" + params[0].str() + ", " + params[1].str() + ">";
  case TypeKind::Map: return "Map<" + params[0].str() + ", " + params[1].str() + ">";
  case TypeKind::Vec: return "Vec<" + params[0].str() + ">";
  case TypeKind::Optional: return "optional<" + params[0].str() + ">";
  case TypeKind::Rpc: return "rpc";
  case TypeKind::UntypedInt: return "int";
  }
  return "unknown";
}

namespace {

/// `meta_status` holds 'success' or 'failure'.
constexpr uint32_t kMetaStatusCapacity = 8;

struct ExternalBuiltin {
  std::string_view name;
  const char *what; ///< Completes "'NAME' ... and is not available in the kernel".
  TypeKind result;
};
constexpr ExternalBuiltin externalBuiltins[] = {
    {"get_backends", "calls an external service", TypeKind::Unknown},
    {"get_load", "calls an external service", TypeKind::Float},
    {"estimate_RIF_distribution", "calls an external service", TypeKind::Float},
    {"get_rpc_header", "accesses RPC headers", TypeKind::String},
    {"set_rpc_header", "accesses RPC headers", TypeKind::Void},
    {"get_metadata", "accesses RPC metadata", TypeKind::String},
    {"set_metadata", "accesses RPC metadata", TypeKind::Void},
};

const ExternalBuiltin *findExternal(std::string_view name) {
  for (const ExternalBuiltin &b : externalBuiltins)
    if (b.name == name)
      return &b;
  return nullptr;
}

Builtin builtinNamed(std::string_view name) {
  static constexpr std::pair<std::string_view, Builtin> table[] = {
      {"get", Builtin::Get},
      {"set", Builtin::Set},
      {"delete", Builtin::Delete},
      {"size", Builtin::Size},
      {"byte_size", Builtin::ByteSize},
      {"randomf", Builtin::RandomF},
      {"randomu", Builtin::RandomU},
      {"current_time", Builtin::CurrentTime},
      {"time_diff", Builtin::TimeDiff},
      {"min", Builtin::Min},
      {"max", Builtin::Max},
      {"rpc_id", Builtin::RpcId},
      {"encrypt", Builtin::Encrypt},
      {"decrypt", Builtin::Decrypt},
  };
  for (const auto &[spelling, builtin] : table)
    if (spelling == name)
      return builtin;
  return findExternal(name) ? Builtin::External : Builtin::None;
}

bool isNumericLike(const Type &t) {
  return t.isNumeric() || t.is(TypeKind::UntypedInt);
}
bool isScalar(const Type &t) {
  switch (t.kind) {
  case TypeKind::Bool:
  case TypeKind::Int:
  case TypeKind::UInt:
  case TypeKind::Float:
  case TypeKind::String:
  case TypeKind::Instant:
    return true;
  default:
    return false;
  }
}
bool containsUntyped(const Type &t) {
  if (t.is(TypeKind::UntypedInt))
    return true;
  return std::any_of(t.params.begin(), t.params.end(), containsUntyped);
}
bool isIntMix(const Type &from, const Type &to) {
  return (from.is(TypeKind::Int) && to.is(TypeKind::UInt)) ||
         (from.is(TypeKind::UInt) && to.is(TypeKind::Int));
}
/// The proto type spelled `name` ("int32"), if any.
std::optional<FieldKind> fieldKindNamed(std::string_view name) {
  for (FieldKind kind :
       {FieldKind::String, FieldKind::Bytes, FieldKind::Bool, FieldKind::Int32,
        FieldKind::UInt32, FieldKind::Int64, FieldKind::UInt64,
        FieldKind::Float, FieldKind::Double})
    if (name == fieldKindName(kind))
      return kind;
  return std::nullopt;
}
/// The proto type named by the third argument of `get(rpc, 'f', TYPE)`: a
/// string literal or a bare name.
std::optional<FieldKind> declaredFieldKind(const Expr &arg) {
  if (const auto *text = dyn_cast<StringLiteral>(&arg))
    return fieldKindNamed(text->value);
  if (const auto *name = dyn_cast<NameExpr>(&arg))
    return fieldKindNamed(name->name);
  return std::nullopt;
}
/// Whether a stated proto type agrees with the field's: the same, or both
/// text (string and bytes have the same layout).
bool sameFieldKind(FieldKind a, FieldKind b) {
  auto text = [](FieldKind k) {
    return k == FieldKind::String || k == FieldKind::Bytes;
  };
  return a == b || (text(a) && text(b));
}
/// "argument 2 of 'min'" for args[1].
std::string argumentName(const CallExpr &call, size_t index) {
  return "argument " + std::to_string(index + 1) + " of '" + call.callee + "'";
}

class Sema {
public:
  Sema(Element &element, const SemaOptions &options, DiagnosticSink &diags)
      : element(element), options(options), diags(diags) {}

  bool run();

private:
  // Diagnostics.
  void error(SourceLoc loc, std::string message) {
    diags.error(loc, std::move(message));
  }
  void warning(SourceLoc loc, std::string message) {
    diags.warning(loc, std::move(message));
  }
  bool stop() const { return diags.reachedErrorLimit(); }

  // Scopes. Each name maps to the stack of its visible declarations (the
  // innermost last); `declared` lists names in declaration order so that
  // closing a scope pops exactly what it declared. Lookups stay O(1) however
  // many locals an input declares.
  void pushScope() { scopeStarts.push_back(declared.size()); }
  void popScope() {
    while (declared.size() > scopeStarts.back()) {
      visible[declared.back()].pop_back();
      declared.pop_back();
    }
    scopeStarts.pop_back();
  }
  VarDecl *lookup(std::string_view name) const {
    auto it = visible.find(name);
    return it == visible.end() || it->second.empty() ? nullptr
                                                     : it->second.back();
  }
  VarDecl *declare(const std::string &name, VarKind kind, Type type,
                   SourceLoc loc);
  /// Reports a reserved word used as a name; true if `name` is usable.
  bool checkNameUsable(const std::string &name, SourceLoc loc);

  // Declarations and statements.
  void checkState();
  void checkDecorators(StateDecl &decl);
  Type resolveType(const TypeSyntax &syntax);
  bool requireScalar(const TypeSyntax &syntax, const Type &type,
                     const char *role);
  void checkHandler(Handler &handler);
  void checkBlock(Block &block);
  void checkStmt(Stmt &stmt);
  void checkAssign(AssignStmt &stmt);
  void assignTo(AssignTarget &target, ExprPtr *value, const Type &valueType,
                SourceLoc eqLoc);
  void checkSend(SendStmt &stmt);
  void checkMatch(MatchStmt &stmt);
  void checkPattern(Pattern &pattern, const Type &scrutinee);
  void bindPattern(Pattern &pattern, const Type &type);
  void checkForeach(ForeachStmt &stmt);

  // Expressions.
  Type check(ExprPtr &slot);
  Type checkName(NameExpr &name);
  Type checkBinary(BinaryExpr &binary);
  Type checkCall(CallExpr &call);
  Type checkMapVecRpcCall(CallExpr &call);
  Type checkRpcField(CallExpr &call, bool forWrite);
  std::optional<FieldKind> checkDeclaredKind(CallExpr &call);
  Type fieldKindType(FieldKind kind, uint32_t capacity, SourceLoc nameLoc,
                     const std::string &name);
  void collectDeclaredFields(const Handler &handler);
  void collectDeclaredFields(const Block &block, std::string_view rpc);
  void collectDeclaredFields(const Expr &expr, std::string_view rpc);
  Type checkTimeDiff(CallExpr &call);
  bool checkArity(CallExpr &call, size_t count);
  bool expectArg(CallExpr &call, size_t index, const Type &to);
  void checkArgsLoosely(CallExpr &call, size_t from = 0);
  void warnIntDivision(BinaryExpr &binary);
  void mismatch(const BinaryExpr &binary, const Type &lhs, const Type &rhs);

  // Conversions.
  Type unify(const Type &a, const Type &b, SourceLoc loc);
  bool convertible(const Expr &expr, const Type &to) const;
  void convert(ExprPtr &slot, const Type &to);
  /// Wraps an Instant in a CastExpr to float (seconds of the monotonic
  /// clock); warns that it is stored as such unless `silently`.
  void instantToFloat(ExprPtr &slot, bool silently);
  /// Gives untyped integer literals in `slot` their default type, int.
  void finalize(ExprPtr &slot) {
    if (containsUntyped(slot->type))
      convert(slot, Type(TypeKind::Int));
  }

  Element &element;
  const SemaOptions &options;
  DiagnosticSink &diags;
  std::unordered_map<std::string_view, std::vector<VarDecl *>> visible;
  std::vector<std::string_view> declared;
  std::vector<size_t> scopeStarts;
  HandlerKind handler = HandlerKind::Init;
  std::set<std::string> notedFields; ///< Schema-less fields already noted.
  /// Without a schema: the fields of the current handler's message whose
  /// type a `get(rpc, 'f', TYPE)` states, with the first such TYPE.
  std::unordered_map<std::string, std::pair<FieldKind, SourceLoc>>
      declaredFields;
};

bool Sema::run() {
  unsigned errorsBefore = diags.errorCount();
  pushScope(); // Globals: the state.
  checkState();
  checkHandler(element.init);
  checkHandler(element.req);
  if (element.resp)
    checkHandler(*element.resp);
  popScope();
  return diags.errorCount() == errorsBefore;
}

VarDecl *Sema::declare(const std::string &name, VarKind kind, Type type,
                       SourceLoc loc) {
  auto decl = std::make_unique<VarDecl>();
  decl->name = name;
  decl->kind = kind;
  decl->type = std::move(type);
  decl->loc = loc;
  decl->id = unsigned(element.vars.size());
  VarDecl *raw = decl.get();
  element.vars.push_back(std::move(decl));
  // The name's bytes live in the heap-allocated VarDecl: stable.
  visible[raw->name].push_back(raw);
  declared.push_back(raw->name);
  return raw;
}

bool Sema::checkNameUsable(const std::string &name, SourceLoc loc) {
  if (!isReservedWord(name))
    return true;
  error(loc, "'" + name + "' is a reserved word and cannot be used as a name");
  return false;
}

//===----------------------------------------------------------------------===//
// State
//===----------------------------------------------------------------------===//

void Sema::checkState() {
  for (StateDecl &decl : element.state) {
    if (stop())
      return;
    decl.type = resolveType(decl.typeSyntax);
    checkDecorators(decl);
    if (!checkNameUsable(decl.name, decl.loc))
      continue;
    if (VarDecl *previous = lookup(decl.name)) {
      error(decl.loc, "redefinition of state variable '" + decl.name + "'");
      diags.note(previous->loc, "previous definition is here");
      continue;
    }
    decl.var = declare(decl.name, VarKind::State, decl.type, decl.loc);
    decl.var->state = &decl;
  }
}

void Sema::checkDecorators(StateDecl &decl) {
  std::set<std::string> seen;
  for (const Decorator &d : decl.decorators) {
    if (!seen.insert(d.name).second) {
      error(d.loc, "duplicate decorator '@" + d.name + "'");
      continue;
    }
    if (d.name == "consistency") {
      if (d.arg == "strong") {
        decl.consistency = Consistency::Strong;
        if (options.kernelTarget)
          error(d.loc, "@consistency(strong) needs a remote store and is not "
                       "available in the kernel");
      } else if (d.arg == "weak") {
        decl.consistency = Consistency::Weak;
        warning(d.loc, "weak consistency: the state is a local map in each "
                       "kernel");
      } else {
        error(d.argLoc, "@consistency takes 'strong' or 'weak', found '" +
                            d.arg + "'");
      }
    } else if (d.name == "combiner") {
      decl.combiner = d.arg;
    } else if (d.name == "persistence") {
      if (d.arg == "true" || d.arg == "false")
        decl.persistence = d.arg == "true";
      else
        error(d.argLoc, "@persistence takes 'true' or 'false', found '" +
                            d.arg + "'");
    } else {
      error(d.loc, "unknown decorator '@" + d.name +
                       "'; expected @consistency, @combiner or @persistence");
    }
  }
}

bool Sema::requireScalar(const TypeSyntax &syntax, const Type &type,
                         const char *role) {
  if (type.is(TypeKind::Unknown) || isScalar(type))
    return true;
  error(syntax.loc, std::string(role) + " must be a scalar type (int, uint, "
                                        "float, bool, string or Instant), "
                                        "found " + type.str());
  return false;
}

Type Sema::resolveType(const TypeSyntax &syntax) {
  switch (syntax.kind) {
  case TypeSyntax::Kind::Named: {
    const std::string &n = syntax.name;
    if (n == "int") return Type(TypeKind::Int);
    if (n == "uint") return Type(TypeKind::UInt);
    if (n == "float") return Type(TypeKind::Float);
    if (n == "bool") return Type(TypeKind::Bool);
    if (n == "string") return Type::string(options.defaultStringCapacity);
    if (n == "Instant") return Type(TypeKind::Instant);
    error(syntax.loc, "unknown type '" + n + "'; expected int, uint, float, "
                      "bool, string, Instant, <A, B>, Map<K, V> or Vec<T>");
    return Type();
  }
  case TypeSyntax::Kind::Pair: {
    Type a = resolveType(syntax.args[0]), b = resolveType(syntax.args[1]);
    bool ok = requireScalar(syntax.args[0], a, "a pair element");
    ok &= requireScalar(syntax.args[1], b, "a pair element");
    return ok ? Type::pair(std::move(a), std::move(b)) : Type();
  }
  case TypeSyntax::Kind::Vec: {
    Type elem = resolveType(syntax.args[0]);
    if (!elem.is(TypeKind::Pair) &&
        !requireScalar(syntax.args[0], elem, "a Vec element"))
      return Type();
    return Type::vec(std::move(elem));
  }
  case TypeSyntax::Kind::Map: {
    Type key = resolveType(syntax.args[0]), value = resolveType(syntax.args[1]);
    bool ok = requireScalar(syntax.args[0], key, "a map key");
    if (value.is(TypeKind::Map)) {
      error(syntax.args[1].loc, "a map value cannot be a map");
      ok = false;
    }
    return ok ? Type::map(std::move(key), std::move(value)) : Type();
  }
  }
  return Type();
}

//===----------------------------------------------------------------------===//
// Handlers and statements
//===----------------------------------------------------------------------===//

void Sema::checkHandler(Handler &h) {
  handler = h.kind;
  pushScope();
  if (h.kind == HandlerKind::Init) {
    // `init(limit):` marks state configured at deployment; the body gives
    // its default. The parameter is the state variable itself, never an rpc.
    for (Param &param : h.params) {
      VarDecl *decl = lookup(param.name);
      if (!decl || decl->kind != VarKind::State) {
        error(param.loc, "init parameter '" + param.name +
                             "' must name a state variable (parameters of "
                             "init mark state that is configured at "
                             "deployment)");
        continue;
      }
      param.decl = decl;
      decl->state->configurable = true;
    }
  } else {
    if (h.params.size() > 1)
      error(h.params[1].loc, std::string("'") + handlerName(h.kind) +
                                 "' takes one parameter, the rpc");
    for (Param &param : h.params)
      if (checkNameUsable(param.name, param.loc))
        param.decl = declare(param.name, VarKind::HandlerParam,
                             Type(TypeKind::Rpc), param.loc);
  }
  declaredFields.clear();
  if (!options.schema)
    collectDeclaredFields(h);
  checkBlock(h.body);
  popScope();
}

/// Without a schema, a field's type is what `get(rpc, 'f', TYPE)` states
/// anywhere in the handler (its message), whatever the order of the
/// accesses: collect those declarations before checking the body. Only
/// well-formed declarations are collected; checkRpcField reports the rest.
void Sema::collectDeclaredFields(const Handler &h) {
  if (h.kind == HandlerKind::Init || h.params.empty())
    return;
  collectDeclaredFields(h.body, h.params[0].name);
}

void Sema::collectDeclaredFields(const Block &block, std::string_view rpc) {
  for (const StmtPtr &stmt : block.stmts) {
    switch (stmt->kind) {
    case Stmt::Kind::Pass:
      break;
    case Stmt::Kind::Expr:
      collectDeclaredFields(*cast<ExprStmt>(stmt.get())->expr, rpc);
      break;
    case Stmt::Kind::Assign:
      collectDeclaredFields(*cast<AssignStmt>(stmt.get())->value, rpc);
      break;
    case Stmt::Kind::Send:
      collectDeclaredFields(*cast<SendStmt>(stmt.get())->value, rpc);
      break;
    case Stmt::Kind::Match: {
      const auto &match = *cast<MatchStmt>(stmt.get());
      collectDeclaredFields(*match.scrutinee, rpc);
      for (const MatchArm &arm : match.arms)
        collectDeclaredFields(arm.body, rpc);
      break;
    }
    case Stmt::Kind::Foreach:
      collectDeclaredFields(cast<ForeachStmt>(stmt.get())->body, rpc);
      break;
    }
  }
}

void Sema::collectDeclaredFields(const Expr &expr, std::string_view rpc) {
  switch (expr.kind) {
  case Expr::Kind::Binary: {
    const auto &binary = *cast<BinaryExpr>(&expr);
    collectDeclaredFields(*binary.lhs, rpc);
    collectDeclaredFields(*binary.rhs, rpc);
    return;
  }
  case Expr::Kind::Pair: {
    const auto &pair = *cast<PairExpr>(&expr);
    collectDeclaredFields(*pair.first, rpc);
    collectDeclaredFields(*pair.second, rpc);
    return;
  }
  case Expr::Kind::Call: {
    const auto &call = *cast<CallExpr>(&expr);
    for (const ExprPtr &arg : call.args)
      collectDeclaredFields(*arg, rpc);
    if (call.callee != "get" || call.args.size() != 3)
      return;
    const auto *object = dyn_cast<NameExpr>(call.args[0].get());
    const auto *field = dyn_cast<StringLiteral>(call.args[1].get());
    std::optional<FieldKind> kind = declaredFieldKind(*call.args[2]);
    if (object && object->name == rpc && field && kind &&
        field->value.find("meta") == std::string::npos)
      declaredFields.try_emplace(field->value, *kind, call.args[2]->loc);
    return;
  }
  default:
    return;
  }
}

void Sema::checkBlock(Block &block) {
  bool afterSend = false, warned = false;
  for (StmtPtr &stmt : block.stmts) {
    if (stop())
      return;
    if (afterSend && !warned) {
      // `send` ends the handler (contract §5): nothing after it runs. Warn
      // once per block.
      warning(stmt->loc, "unreachable statement after send");
      warned = true;
    }
    checkStmt(*stmt);
    afterSend |= stmt->kind == Stmt::Kind::Send;
  }
}

void Sema::checkStmt(Stmt &stmt) {
  switch (stmt.kind) {
  case Stmt::Kind::Pass:
    return;
  case Stmt::Kind::Expr: {
    auto &s = static_cast<ExprStmt &>(stmt);
    check(s.expr);
    finalize(s.expr);
    if (s.expr->kind != Expr::Kind::Call)
      warning(s.expr->loc, "expression result unused");
    return;
  }
  case Stmt::Kind::Assign:
    return checkAssign(static_cast<AssignStmt &>(stmt));
  case Stmt::Kind::Send:
    return checkSend(static_cast<SendStmt &>(stmt));
  case Stmt::Kind::Match:
    return checkMatch(static_cast<MatchStmt &>(stmt));
  case Stmt::Kind::Foreach:
    return checkForeach(static_cast<ForeachStmt &>(stmt));
  }
}

void Sema::checkAssign(AssignStmt &stmt) {
  Type valueType = check(stmt.value);
  if (!stmt.isPair) {
    assignTo(stmt.targets[0], &stmt.value, valueType, stmt.eqLoc);
    return;
  }
  if (!valueType.is(TypeKind::Pair) && !valueType.is(TypeKind::Unknown)) {
    finalize(stmt.value);
    error(stmt.value->loc, "cannot destructure a value of type " +
                               stmt.value->type.str() +
                               ": '(a, b) = ...' needs a pair");
    valueType = Type();
  }
  if (stmt.value->kind == Expr::Kind::Pair) {
    // A pair written out: each element converts on its own.
    auto &pair = static_cast<PairExpr &>(*stmt.value);
    assignTo(stmt.targets[0], &pair.first, pair.first->type, stmt.eqLoc);
    assignTo(stmt.targets[1], &pair.second, pair.second->type, stmt.eqLoc);
    pair.type = Type::pair(pair.first->type, pair.second->type);
    return;
  }
  for (size_t i = 0; i < 2; ++i)
    assignTo(stmt.targets[i], nullptr,
             valueType.is(TypeKind::Pair) ? valueType.params[i] : Type(),
             stmt.eqLoc);
}

/// Assigns a value of `valueType` to `target`. `value` is the expression to
/// convert, or null when the value is one half of a pair that cannot be
/// converted element-wise (then the types must agree exactly).
void Sema::assignTo(AssignTarget &target, ExprPtr *value,
                    const Type &valueType, SourceLoc eqLoc) {
  if (!checkNameUsable(target.name, target.loc)) {
    if (value)
      finalize(*value);
    return;
  }
  SourceLoc valueLoc = value ? (*value)->loc : eqLoc;
  VarDecl *decl = lookup(target.name);
  if (!decl) {
    // First assignment: declares a local of the value's type. An optional
    // (the result of get on a map) may be kept and matched later.
    if (value)
      finalize(*value);
    Type type = value ? (*value)->type : valueType;
    if (containsUntyped(type))
      type = Type(); // Only in error paths: finalize handled the rest.
    if (type.is(TypeKind::Void)) {
      error(valueLoc, "this expression has no value to assign to '" +
                          target.name + "'");
      type = Type();
    } else if (type.is(TypeKind::Map) || type.is(TypeKind::Vec) ||
               type.is(TypeKind::Rpc)) {
      error(valueLoc, "cannot store a value of type " + type.str() +
                          " in the local variable '" + target.name + "'");
      type = Type();
    } else if (type.is(TypeKind::String)) {
      type.capacity = std::max(type.capacity, options.defaultStringCapacity);
    }
    target.decl = declare(target.name, VarKind::Local, type, target.loc);
    target.declares = true;
    return;
  }
  target.decl = decl;
  switch (decl->kind) {
  case VarKind::HandlerParam:
    error(target.loc, "cannot assign to the rpc parameter '" + target.name + "'");
    return;
  case VarKind::MatchBinding:
    error(target.loc, "cannot assign to '" + target.name +
                          "': it is bound by a match pattern");
    return;
  case VarKind::LambdaParam:
    error(target.loc, "cannot assign to '" + target.name +
                          "': it is the lambda's parameter");
    return;
  default:
    break;
  }
  const Type &to = decl->type;
  if (to.is(TypeKind::Map) || to.is(TypeKind::Vec)) {
    error(target.loc, "cannot assign to '" + target.name + "' of type " +
                          to.str() + ": use set(...)");
    if (value)
      finalize(*value);
    return;
  }
  bool ok = value ? convertible(**value, to)
                  : (valueType.is(TypeKind::Unknown) || to.is(TypeKind::Unknown) ||
                     valueType.sameAs(to));
  if (!ok) {
    if (value)
      finalize(*value);
    error(valueLoc, "type mismatch: cannot assign " + valueType.str() +
                        " to '" + target.name + "' of type " + to.str());
    return;
  }
  if (isIntMix(valueType, to))
    warning(eqLoc, "implicit conversion from " + valueType.str() + " to " +
                       to.str() + " in the assignment to '" + target.name + "'");
  if (value)
    convert(*value, to);
}

void Sema::checkSend(SendStmt &stmt) {
  if (handler == HandlerKind::Init)
    error(stmt.loc, "'send' is not allowed in 'init': there is no RPC to send");
  if (stmt.isError) {
    Type reason = check(stmt.value);
    finalize(stmt.value);
    if (!reason.is(TypeKind::String) && !reason.is(TypeKind::Unknown))
      error(stmt.value->loc, "the reason in err(...) must be a string, found " +
                                 stmt.value->type.str());
    if (stmt.direction == Direction::Down)
      error(stmt.directionLoc, "an error can only be sent Up, back to the "
                               "caller: use send(err(...), Up)");
    return;
  }
  Type value = check(stmt.value);
  finalize(stmt.value);
  if (!value.is(TypeKind::Rpc)) {
    if (!value.is(TypeKind::Unknown))
      error(stmt.value->loc, "send expects the rpc or err(...), found " +
                                 stmt.value->type.str());
    return;
  }
  if (handler == HandlerKind::Req && stmt.direction == Direction::Up)
    error(stmt.directionLoc, "send(rpc, Up) in 'req': a request can only be "
                             "forwarded Down; to answer the caller use "
                             "send(err(...), Up)");
  else if (handler == HandlerKind::Resp && stmt.direction == Direction::Down)
    error(stmt.directionLoc, "send(rpc, Down) in 'resp': a response can only "
                             "be forwarded Up, to the caller");
}

void Sema::checkMatch(MatchStmt &stmt) {
  check(stmt.scrutinee);
  finalize(stmt.scrutinee);
  Type type = stmt.scrutinee->type;
  switch (type.kind) {
  case TypeKind::Map:
  case TypeKind::Vec:
  case TypeKind::Rpc:
  case TypeKind::Void:
    error(stmt.scrutinee->loc, "cannot match on a value of type " + type.str());
    type = Type();
    break;
  default:
    break;
  }
  bool sawCatchAll = false, warned = false;
  for (MatchArm &arm : stmt.arms) {
    if (stop())
      return;
    if (sawCatchAll && !warned) {
      warning(arm.pattern.loc, "unreachable match arm: an earlier arm "
                               "matches every value");
      warned = true;
    }
    pushScope(); // Bindings and the arm's locals end with the arm.
    checkPattern(arm.pattern, type);
    checkBlock(arm.body);
    popScope();
    sawCatchAll |= arm.pattern.isCatchAll();
  }
}

void Sema::bindPattern(Pattern &pattern, const Type &type) {
  if (checkNameUsable(pattern.text, pattern.nameLoc))
    pattern.binding =
        declare(pattern.text, VarKind::MatchBinding, type, pattern.nameLoc);
}

void Sema::checkPattern(Pattern &p, const Type &scrutinee) {
  using K = Pattern::Kind;
  bool unknown = scrutinee.is(TypeKind::Unknown);
  bool optional = scrutinee.is(TypeKind::Optional);
  auto mismatch = [&](const char *what) {
    std::string message = std::string("pattern type mismatch: ") + what +
                          " pattern cannot match a value of type " +
                          scrutinee.str();
    if (optional)
      message += "; match it with Some(x) / None";
    error(p.loc, std::move(message));
  };
  switch (p.kind) {
  case K::Int:
    if (unknown)
      return;
    if (scrutinee.is(TypeKind::Float)) {
      // Compared as a float: record it as one.
      p.kind = K::Float;
      p.floatValue = double(p.intValue);
    } else if (scrutinee.is(TypeKind::Int) && p.intValue > INT32_MAX) {
      error(p.loc, "integer pattern " + std::to_string(p.intValue) +
                       " does not fit in int");
    } else if (scrutinee.is(TypeKind::UInt) && p.intValue > UINT32_MAX) {
      error(p.loc, "integer pattern " + std::to_string(p.intValue) +
                       " does not fit in uint");
    } else if (!scrutinee.isInteger()) {
      return mismatch("an integer");
    }
    p.type = scrutinee;
    return;
  case K::Float:
    if (!unknown && !scrutinee.is(TypeKind::Float))
      return mismatch("a float");
    p.type = Type(TypeKind::Float);
    return;
  case K::String:
    if (!unknown && !scrutinee.is(TypeKind::String))
      return mismatch("a string");
    p.type = Type::string(uint32_t(std::min<size_t>(p.text.size(), UINT32_MAX)));
    return;
  case K::Bool:
    if (!unknown && !scrutinee.is(TypeKind::Bool))
      return mismatch("a bool");
    p.type = Type(TypeKind::Bool);
    return;
  case K::Wildcard:
    return;
  case K::Binding:
    if (optional) {
      error(p.loc, "an optional value can only be matched with Some(x), None "
                   "or _");
      return bindPattern(p, Type());
    }
    return bindPattern(p, scrutinee);
  case K::None:
  case K::Some:
    if (!unknown && !optional)
      error(p.loc, std::string("'") + (p.kind == K::None ? "None" : "Some") +
                       "' needs an optional value (the result of get on a "
                       "map), found " + scrutinee.str());
    if (p.kind == K::Some)
      bindPattern(p, optional ? scrutinee.params[0] : Type());
    return;
  case K::SomeErr:
    error(p.loc, "Some(err(...)) patterns are not supported");
    return;
  }
}

void Sema::checkForeach(ForeachStmt &stmt) {
  NameExpr &coll = *stmt.collection;
  Type type = checkName(coll);
  coll.type = type;
  Type elem;
  if (type.is(TypeKind::Vec))
    elem = type.params[0];
  else if (type.is(TypeKind::Map))
    elem = Type::pair(type.params[0], type.params[1]);
  else if (!type.is(TypeKind::Unknown))
    error(coll.loc, "foreach needs a Vec or a Map, found " + type.str());
  pushScope();
  if (checkNameUsable(stmt.param, stmt.paramLoc))
    stmt.paramDecl = declare(stmt.param, VarKind::LambdaParam, elem, stmt.paramLoc);
  checkBlock(stmt.body);
  popScope();
}

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

Type Sema::check(ExprPtr &slot) {
  Expr &e = *slot;
  switch (e.kind) {
  case Expr::Kind::IntLiteral:
    e.type = Type(TypeKind::UntypedInt);
    break;
  case Expr::Kind::FloatLiteral:
    e.type = Type(TypeKind::Float);
    break;
  case Expr::Kind::StringLiteral:
    e.type = Type::string(uint32_t(std::min<size_t>(
        static_cast<StringLiteral &>(e).value.size(), UINT32_MAX)));
    break;
  case Expr::Kind::BoolLiteral:
    e.type = Type(TypeKind::Bool);
    break;
  case Expr::Kind::Name:
    e.type = checkName(static_cast<NameExpr &>(e));
    break;
  case Expr::Kind::Binary:
    e.type = checkBinary(static_cast<BinaryExpr &>(e));
    break;
  case Expr::Kind::Call:
    e.type = checkCall(static_cast<CallExpr &>(e));
    break;
  case Expr::Kind::Pair: {
    auto &pair = static_cast<PairExpr &>(e);
    Type a = check(pair.first);
    Type b = check(pair.second);
    if (!isScalar(a) && !a.is(TypeKind::UntypedInt) && !a.is(TypeKind::Unknown)) {
      error(pair.first->loc, "a pair element must be a scalar, found " + a.str());
      a = Type();
    }
    if (!isScalar(b) && !b.is(TypeKind::UntypedInt) && !b.is(TypeKind::Unknown)) {
      error(pair.second->loc, "a pair element must be a scalar, found " + b.str());
      b = Type();
    }
    e.type = Type::pair(std::move(a), std::move(b));
    break;
  }
  case Expr::Kind::Cast:
    break; // Inserted by Sema: already checked.
  }
  return e.type;
}

Type Sema::checkName(NameExpr &name) {
  VarDecl *decl = lookup(name.name);
  if (!decl) {
    error(name.loc, "undefined name '" + name.name + "'");
    return Type();
  }
  name.decl = decl;
  return decl->type;
}

void Sema::mismatch(const BinaryExpr &binary, const Type &lhs,
                    const Type &rhs) {
  error(binary.opLoc, std::string("type mismatch: cannot apply '") +
                          binaryOpSpelling(binary.op) + "' to " + lhs.str() +
                          " and " + rhs.str());
}

Type Sema::unify(const Type &a, const Type &b, SourceLoc loc) {
  if (a.is(TypeKind::UntypedInt))
    return b.is(TypeKind::UntypedInt) ? Type(TypeKind::Int) : b;
  if (b.is(TypeKind::UntypedInt) || a.kind == b.kind)
    return a;
  if (a.is(TypeKind::Float) || b.is(TypeKind::Float))
    return Type(TypeKind::Float); // Arithmetic promotes int to float.
  // int with uint.
  warning(loc, "mixing int and uint; the int operand is converted to uint");
  return Type(TypeKind::UInt);
}

Type Sema::checkBinary(BinaryExpr &b) {
  Type lhs = check(b.lhs);
  Type rhs = check(b.rhs);
  if (lhs.is(TypeKind::Unknown) || rhs.is(TypeKind::Unknown)) {
    finalize(b.lhs);
    finalize(b.rhs);
    return Type();
  }
  auto fail = [&] {
    mismatch(b, lhs, rhs);
    finalize(b.lhs);
    finalize(b.rhs);
    return Type();
  };

  if (isLogical(b.op))
    return lhs.is(TypeKind::Bool) && rhs.is(TypeKind::Bool)
               ? Type(TypeKind::Bool)
               : fail();

  if (isArithmetic(b.op)) {
    if (lhs.is(TypeKind::Instant) || rhs.is(TypeKind::Instant)) {
      mismatch(b, lhs, rhs);
      diags.note(b.opLoc, "use time_diff(a, b) for the seconds between two "
                          "instants");
      finalize(b.lhs);
      finalize(b.rhs);
      return Type();
    }
    if (!isNumericLike(lhs) || !isNumericLike(rhs))
      return fail();
    if (lhs.is(TypeKind::UntypedInt) && rhs.is(TypeKind::UntypedInt))
      return Type(TypeKind::UntypedInt); // Typed later by its context.
    Type common = unify(lhs, rhs, b.opLoc);
    convert(b.lhs, common);
    convert(b.rhs, common);
    b.type = common;
    warnIntDivision(b);
    return common;
  }

  // Comparisons.
  if (isNumericLike(lhs) && isNumericLike(rhs)) {
    Type common = unify(lhs, rhs, b.opLoc);
    convert(b.lhs, common);
    convert(b.rhs, common);
    return Type(TypeKind::Bool);
  }
  bool equality = b.op == BinaryOp::Eq || b.op == BinaryOp::Ne;
  if (lhs.kind == rhs.kind &&
      (lhs.is(TypeKind::Instant) ||
       (equality && (lhs.is(TypeKind::Bool) || lhs.is(TypeKind::String)))))
    return Type(TypeKind::Bool);
  return fail();
}

void Sema::warnIntDivision(BinaryExpr &b) {
  if (b.op != BinaryOp::Div || !b.type.isInteger())
    return;
  const Expr *divisor = b.rhs.get();
  if (divisor->kind == Expr::Kind::IntLiteral &&
      static_cast<const IntLiteral *>(divisor)->value != 0)
    return;
  warning(b.opLoc, "integer division by zero yields 0 in eBPF");
}

bool Sema::checkArity(CallExpr &call, size_t count) {
  if (call.args.size() == count)
    return true;
  error(call.calleeLoc, "'" + call.callee + "' takes " + std::to_string(count) +
                            (count == 1 ? " argument" : " arguments") +
                            ", found " + std::to_string(call.args.size()));
  checkArgsLoosely(call);
  return false;
}

void Sema::checkArgsLoosely(CallExpr &call, size_t from) {
  for (size_t i = from; i < call.args.size(); ++i) {
    check(call.args[i]);
    finalize(call.args[i]);
  }
}

bool Sema::expectArg(CallExpr &call, size_t index, const Type &to) {
  ExprPtr &arg = call.args[index];
  Type type = check(arg);
  if (!convertible(*arg, to)) {
    finalize(arg);
    error(arg->loc, "type mismatch: " + argumentName(call, index) + " is " +
                        arg->type.str() + ", expected " + to.str());
    return false;
  }
  if (isIntMix(type, to))
    warning(arg->loc, "implicit conversion from " + type.str() + " to " +
                          to.str() + " in " + argumentName(call, index));
  convert(arg, to);
  return true;
}

Type Sema::checkCall(CallExpr &call) {
  call.builtin = builtinNamed(call.callee);
  const Type floatType(TypeKind::Float), uintType(TypeKind::UInt),
      instant(TypeKind::Instant);
  switch (call.builtin) {
  case Builtin::None:
    if (lookup(call.callee))
      error(call.calleeLoc, "'" + call.callee + "' is not a function");
    else
      error(call.calleeLoc, "unknown function '" + call.callee + "'");
    checkArgsLoosely(call);
    return Type();
  case Builtin::Get:
  case Builtin::Set:
  case Builtin::Delete:
  case Builtin::Size:
  case Builtin::ByteSize:
    return checkMapVecRpcCall(call);
  case Builtin::RandomF:
    if (checkArity(call, 2)) {
      expectArg(call, 0, floatType);
      expectArg(call, 1, floatType);
    }
    return floatType;
  case Builtin::RandomU:
    if (checkArity(call, 2)) {
      expectArg(call, 0, uintType);
      expectArg(call, 1, uintType);
    }
    return uintType;
  case Builtin::CurrentTime:
    checkArity(call, 0);
    return instant;
  case Builtin::RpcId:
    checkArity(call, 0);
    return uintType;
  case Builtin::TimeDiff:
    return checkTimeDiff(call);
  case Builtin::Min:
  case Builtin::Max: {
    if (!checkArity(call, 2))
      return Type();
    Type a = check(call.args[0]), b = check(call.args[1]);
    if (a.is(TypeKind::Unknown) || b.is(TypeKind::Unknown)) {
      finalize(call.args[0]);
      finalize(call.args[1]);
      return Type();
    }
    for (size_t i = 0; i < 2; ++i)
      if (!isNumericLike(call.args[i]->type)) {
        error(call.args[i]->loc, "type mismatch: " + argumentName(call, i) +
                                     " is " + call.args[i]->type.str() +
                                     ", expected a number");
        finalize(call.args[0]);
        finalize(call.args[1]);
        return Type();
      }
    Type common = unify(a, b, call.calleeLoc);
    convert(call.args[0], common);
    convert(call.args[1], common);
    return common;
  }
  case Builtin::Encrypt:
  case Builtin::Decrypt: {
    if (!checkArity(call, 2))
      return Type::string(options.defaultStringCapacity);
    const Type text = Type::string(options.defaultStringCapacity);
    expectArg(call, 0, text);
    expectArg(call, 1, text);
    // Same length as the input: the result has the input's capacity.
    if (call.args[0]->type.is(TypeKind::String))
      return call.args[0]->type;
    return text;
  }
  case Builtin::External: {
    const ExternalBuiltin *info = findExternal(call.callee);
    checkArgsLoosely(call);
    if (options.kernelTarget) {
      error(call.calleeLoc, "'" + call.callee + "' " + info->what +
                                " and is not available in the kernel");
      return Type(); // Rejected: its use causes no further error.
    }
    if (info->result == TypeKind::String)
      return Type::string(options.defaultStringCapacity);
    return Type(info->result);
  }
  }
  return Type();
}

/// `time_diff(a, b)`: the seconds from b to a. Both Instant: as is. Else
/// each argument is a float (an Instant one is cast to its seconds of the
/// monotonic clock, an int one promoted) and the result is a - b.
Type Sema::checkTimeDiff(CallExpr &call) {
  const Type floatType(TypeKind::Float);
  if (!checkArity(call, 2))
    return floatType;
  bool ok = true, floatForm = false;
  for (size_t i = 0; i < 2; ++i) {
    const Type &t = check(call.args[i]);
    if (t.is(TypeKind::Unknown) || t.is(TypeKind::Instant))
      continue;
    if (isNumericLike(t)) {
      floatForm = true;
      continue;
    }
    finalize(call.args[i]);
    error(call.args[i]->loc, "type mismatch: " + argumentName(call, i) +
                                 " is " + call.args[i]->type.str() +
                                 ", expected Instant or float");
    ok = false;
  }
  for (size_t i = 0; i < 2; ++i) {
    ExprPtr &arg = call.args[i];
    if (!ok || !floatForm) {
      finalize(arg);
      continue;
    }
    if (arg->type.is(TypeKind::Instant))
      instantToFloat(arg, /*silently=*/true);
    else
      convert(arg, floatType);
  }
  return floatType;
}

/// get / set / delete / size / byte_size: the first argument names the map,
/// the Vec or the rpc they act on.
Type Sema::checkMapVecRpcCall(CallExpr &call) {
  const std::string &f = call.callee;
  if (call.args.empty()) {
    const char *usage = "";
    switch (call.builtin) {
    case Builtin::Get: usage = "get(map, key) or get(rpc, 'field')"; break;
    case Builtin::Set:
      usage = "set(map, key, value), set(v, size(v), x) or "
              "set(rpc, 'field', value)";
      break;
    case Builtin::Delete: usage = "delete(map, key)"; break;
    case Builtin::Size: usage = "size(v)"; break;
    default: usage = "byte_size(rpc) or byte_size(rpc, 'field')"; break;
    }
    error(call.calleeLoc, std::string("missing arguments: expected ") + usage);
    return Type();
  }
  if (call.args[0]->kind != Expr::Kind::Name) {
    error(call.args[0]->loc, "the first argument of '" + f +
                                 "' must name a map, a Vec or the rpc");
    checkArgsLoosely(call);
    return Type();
  }
  Type object = check(call.args[0]);
  if (object.is(TypeKind::Unknown)) {
    checkArgsLoosely(call, 1);
    return Type();
  }
  auto wrongObject = [&](const char *needs) {
    error(call.args[0]->loc, "'" + f + "' needs " + needs + ", found " +
                                 object.str());
    checkArgsLoosely(call, 1);
    return Type();
  };
  auto arity = [&](size_t count) {
    if (call.args.size() == count)
      return true;
    error(call.calleeLoc, "'" + f + "' on " + object.str() + " takes " +
                              std::to_string(count) +
                              (count == 1 ? " argument" : " arguments") +
                              ", found " + std::to_string(call.args.size()));
    checkArgsLoosely(call, 1);
    return false;
  };

  // "'get' on rpc takes 2 or 3 arguments, found 4".
  auto arityEither = [&](size_t a, size_t b) {
    if (call.args.size() == a || call.args.size() == b)
      return true;
    error(call.calleeLoc, "'" + f + "' on " + object.str() + " takes " +
                              std::to_string(a) + " or " + std::to_string(b) +
                              " arguments, found " +
                              std::to_string(call.args.size()));
    checkArgsLoosely(call, 1);
    return false;
  };

  if (object.is(TypeKind::Rpc)) {
    switch (call.builtin) {
    case Builtin::Get:
      // get(rpc, 'field') or get(rpc, 'field', 'int32').
      if (!arityEither(2, 3))
        return Type();
      return checkRpcField(call, /*forWrite=*/false);
    case Builtin::ByteSize:
      // byte_size(rpc): the whole payload; byte_size(rpc, 'field').
      if (!arityEither(1, 2))
        return Type();
      if (call.args.size() == 1) {
        RpcFieldRef ref;
        ref.isPayloadSize = true;
        call.field = ref;
      } else {
        checkRpcField(call, /*forWrite=*/false);
      }
      return Type(TypeKind::UInt);
    case Builtin::Set: {
      if (!arity(3))
        return Type();
      Type field = checkRpcField(call, /*forWrite=*/true);
      if (field.is(TypeKind::Unknown))
        checkArgsLoosely(call, 2);
      else
        expectArg(call, 2, field);
      return Type(TypeKind::Void);
    }
    default:
      return wrongObject(call.builtin == Builtin::Size ? "a Vec" : "a map");
    }
  }

  if (object.is(TypeKind::Map)) {
    const Type &key = object.params[0], &value = object.params[1];
    switch (call.builtin) {
    case Builtin::Get:
      if (!arity(2))
        return Type();
      expectArg(call, 1, key);
      return Type::optional(value);
    case Builtin::Set:
      if (!arity(3))
        return Type();
      expectArg(call, 1, key);
      expectArg(call, 2, value);
      return Type(TypeKind::Void);
    case Builtin::Delete:
      if (!arity(2))
        return Type();
      expectArg(call, 1, key);
      return Type(TypeKind::Void);
    case Builtin::Size:
      return wrongObject("a Vec (a BPF hash map has no element count)");
    default:
      return wrongObject("the rpc");
    }
  }

  if (object.is(TypeKind::Vec)) {
    switch (call.builtin) {
    case Builtin::Size:
      if (!arity(1))
        return Type();
      return Type(TypeKind::UInt);
    case Builtin::Set: {
      if (!arity(3))
        return Type();
      // A Vec is append-only: the index must be size(v) of the same v.
      const Expr &index = *call.args[1];
      bool appends = false;
      if (index.kind == Expr::Kind::Call) {
        const auto &sizeCall = static_cast<const CallExpr &>(index);
        appends = sizeCall.callee == "size" && sizeCall.args.size() == 1 &&
                  sizeCall.args[0]->kind == Expr::Kind::Name &&
                  static_cast<const NameExpr &>(*sizeCall.args[0]).name ==
                      static_cast<const NameExpr &>(*call.args[0]).name;
      }
      check(call.args[1]);
      finalize(call.args[1]);
      if (!appends)
        error(call.args[1]->loc,
              "only appending is supported: set(v, size(v), x)");
      expectArg(call, 2, object.params[0]);
      return Type(TypeKind::Void);
    }
    case Builtin::Get:
      return wrongObject("a map or the rpc (a Vec is append-only)");
    default:
      return wrongObject("a map");
    }
  }

  switch (call.builtin) {
  case Builtin::Size:
    return wrongObject("a Vec");
  case Builtin::ByteSize:
    return wrongObject("the rpc");
  case Builtin::Delete:
    return wrongObject("a map");
  default:
    return wrongObject("a map, a Vec or the rpc");
  }
}

/// The proto type stated by args[2] of `get(rpc, 'f', TYPE)`, or nullopt
/// (after an error) when it names none. A bare name is replaced by a string
/// literal, so that after Sema the argument is always a StringLiteral.
std::optional<FieldKind> Sema::checkDeclaredKind(CallExpr &call) {
  ExprPtr &arg = call.args[2];
  std::optional<FieldKind> kind = declaredFieldKind(*arg);
  if (kind) {
    if (const auto *name = dyn_cast<NameExpr>(arg.get())) {
      SourceLoc loc = name->loc;
      std::string text = name->name;
      arg = std::make_unique<StringLiteral>(loc, std::move(text));
    }
    check(arg);
    return kind;
  }
  std::string found;
  if (const auto *text = dyn_cast<StringLiteral>(arg.get()))
    found = "'" + text->value + "'";
  else if (const auto *name = dyn_cast<NameExpr>(arg.get()))
    found = "'" + name->name + "'";
  else
    found = "an expression";
  if (!isa<NameExpr>(arg.get()))
    check(arg); // A name that is not a type is not looked up: no 2nd error.
  else
    arg->type = Type();
  finalize(arg);
  error(arg->loc, "the type in '" + call.callee + "(rpc, 'field', TYPE)' must "
                  "be a proto type: string, bytes, bool, int32, uint32, int64, "
                  "uint64, float or double; found " + found);
  return std::nullopt;
}

/// The type of a field of the given proto kind (a 64-bit integer is
/// truncated to 32 bits, with a warning at the field's name).
Type Sema::fieldKindType(FieldKind kind, uint32_t capacity, SourceLoc nameLoc,
                         const std::string &name) {
  switch (kind) {
  case FieldKind::String:
  case FieldKind::Bytes:
    return Type::string(capacity);
  case FieldKind::Bool:
    return Type(TypeKind::Bool);
  case FieldKind::Int32:
    return Type(TypeKind::Int);
  case FieldKind::UInt32:
    return Type(TypeKind::UInt);
  case FieldKind::Int64:
  case FieldKind::UInt64:
    // AppNet integers are 32-bit (contract §4).
    warning(nameLoc, "field '" + name + "' is " + fieldKindName(kind) +
                         "; AppNet integers are 32-bit, so its value is "
                         "truncated");
    return Type(kind == FieldKind::Int64 ? TypeKind::Int : TypeKind::UInt);
  case FieldKind::Float:
  case FieldKind::Double:
    return Type(TypeKind::Float);
  }
  return Type();
}

/// The field named by the string literal in args[1] of get/set/byte_size on
/// the rpc; records CallExpr::field and returns the field's type. A `get`
/// may state the field's proto type in args[2].
Type Sema::checkRpcField(CallExpr &call, bool forWrite) {
  Expr &arg = *call.args[1];
  bool declares = call.builtin == Builtin::Get && call.args.size() == 3;
  if (arg.kind != Expr::Kind::StringLiteral) {
    check(call.args[1]);
    finalize(call.args[1]);
    error(arg.loc, "the field name in '" + call.callee +
                       "(rpc, ...)' must be a string literal");
    if (declares)
      checkDeclaredKind(call);
    return Type();
  }
  const std::string &name = static_cast<StringLiteral &>(arg).value;
  arg.type = Type::string(uint32_t(std::min<size_t>(name.size(), UINT32_MAX)));
  RpcFieldRef ref;
  ref.name = name;
  std::optional<FieldKind> declared;
  if (declares) {
    declared = checkDeclaredKind(call);
    if (!declared)
      return Type();
  }
  // "type mismatch: field 'f' of message 'M' is int32, but 'get' states
  // uint32" at the stated type.
  auto disagrees = [&](FieldKind actual, const std::string &of) {
    error(call.args[2]->loc, "type mismatch: field '" + name + "'" + of +
                                 " is " + fieldKindName(actual) +
                                 ", but 'get' states " +
                                 fieldKindName(*declared));
    return Type();
  };

  // A field whose name contains "meta" is metadata, not payload (contract §5).
  if (name.find("meta") != std::string::npos) {
    if (name != "meta_status") {
      error(arg.loc, "unknown metadata field '" + name +
                         "'; only 'meta_status' is supported");
      return Type();
    }
    if (forWrite) {
      error(arg.loc, "metadata field 'meta_status' is read-only");
      return Type();
    }
    if (handler != HandlerKind::Resp) {
      error(arg.loc, "'meta_status' describes a response and is only "
                     "available in 'resp'");
      return Type();
    }
    if (declared && !sameFieldKind(*declared, FieldKind::String))
      return disagrees(FieldKind::String, "");
    ref.isMetaStatus = true;
    ref.declaredKind = declared;
    call.field = ref;
    return Type::string(kMetaStatusCapacity);
  }

  if (!options.schema) {
    // The type stated here or by another get of this field in the handler;
    // else a string.
    auto known = declaredFields.find(name);
    if (declared && known != declaredFields.end() &&
        !sameFieldKind(known->second.first, *declared)) {
      error(call.args[2]->loc,
            "field '" + name + "' is stated to be " +
                fieldKindName(*declared) + " here but " +
                fieldKindName(known->second.first) + " at " +
                known->second.second.str() + "; a field has one type");
      return Type();
    }
    if (!declared && known != declaredFields.end())
      declared = known->second.first;
    if (declared) {
      ref.declaredKind = declared;
      call.field = ref;
      return fieldKindType(*declared, options.defaultStringCapacity, arg.loc,
                           name);
    }
    if (notedFields.insert(name).second)
      diags.note(arg.loc, "no --rpc-schema given: field '" + name +
                              "' is typed string");
    call.field = ref;
    return Type::string(options.defaultStringCapacity);
  }

  const SchemaMessage &message = handler == HandlerKind::Resp
                                     ? options.schema->response()
                                     : options.schema->request();
  int index = message.fieldIndex(name);
  if (index < 0) {
    std::string known;
    for (const SchemaField &f : message.fields)
      known += (known.empty() ? "" : ", ") + f.name;
    error(arg.loc, "unknown field '" + name + "' in message '" + message.name +
                       "'" +
                       (known.empty() ? "; it has no fields"
                                      : "; known fields: " + known));
    return Type();
  }
  const SchemaField &field = message.fields[index];
  if (declared && !sameFieldKind(*declared, field.kind))
    return disagrees(field.kind, " of message '" + message.name + "'");
  ref.message = &message;
  ref.index = index;
  ref.declaredKind = declared;
  call.field = ref;
  return fieldKindType(field.kind, field.capacity, arg.loc, name);
}

//===----------------------------------------------------------------------===//
// Conversions
//===----------------------------------------------------------------------===//

bool Sema::convertible(const Expr &expr, const Type &to) const {
  const Type &from = expr.type;
  if (from.is(TypeKind::Unknown) || to.is(TypeKind::Unknown))
    return true;
  if (from.is(TypeKind::UntypedInt))
    return to.isNumeric();
  if (from.isNumeric() && to.isNumeric())
    return !from.is(TypeKind::Float) || to.is(TypeKind::Float);
  // An Instant kept as float seconds (real elements declare `last: float`
  // and store current_time() in it).
  if (from.is(TypeKind::Instant) && to.is(TypeKind::Float))
    return true;
  if (from.is(TypeKind::Pair) && to.is(TypeKind::Pair) &&
      expr.kind == Expr::Kind::Pair) {
    const auto &pair = static_cast<const PairExpr &>(expr);
    return convertible(*pair.first, to.params[0]) &&
           convertible(*pair.second, to.params[1]);
  }
  return from.sameAs(to);
}

void Sema::convert(ExprPtr &slot, const Type &to) {
  Type &from = slot->type;
  if (to.is(TypeKind::Unknown) || from.is(TypeKind::Unknown))
    return;
  if (slot->kind == Expr::Kind::Pair && to.is(TypeKind::Pair)) {
    auto &pair = static_cast<PairExpr &>(*slot);
    convert(pair.first, to.params[0]);
    convert(pair.second, to.params[1]);
    pair.type = Type::pair(pair.first->type, pair.second->type);
    return;
  }
  if (slot->kind == Expr::Kind::Pair && containsUntyped(from)) {
    // Not convertible to `to` (an error was reported): settle the literals.
    auto &pair = static_cast<PairExpr &>(*slot);
    finalize(pair.first);
    finalize(pair.second);
    pair.type = Type::pair(pair.first->type, pair.second->type);
    return;
  }
  if (from.is(TypeKind::UntypedInt)) {
    // An untyped integer expression takes the type of its context (int when
    // the context has no numeric type).
    Type target = to.isNumeric() ? to : Type(TypeKind::Int);
    if (slot->kind == Expr::Kind::IntLiteral) {
      uint64_t value = static_cast<IntLiteral &>(*slot).value;
      if (target.is(TypeKind::Float)) {
        SourceLoc loc = slot->loc;
        slot = std::make_unique<FloatLiteral>(loc, double(value));
      } else if (value > (target.is(TypeKind::Int) ? uint64_t(INT32_MAX)
                                                   : uint64_t(UINT32_MAX))) {
        error(slot->loc, "integer literal " + std::to_string(value) +
                             " does not fit in " + target.str());
      }
      slot->type = target;
      return;
    }
    if (slot->kind == Expr::Kind::Binary) {
      auto &binary = static_cast<BinaryExpr &>(*slot);
      convert(binary.lhs, target);
      convert(binary.rhs, target);
      binary.type = target;
      warnIntDivision(binary);
      return;
    }
    slot->type = target;
    return;
  }
  if (from.is(TypeKind::Instant) && to.is(TypeKind::Float))
    return instantToFloat(slot, /*silently=*/false);
  if (from.isNumeric() && to.isNumeric() && from.kind != to.kind) {
    Type target = to;
    slot = std::make_unique<CastExpr>(std::move(slot), std::move(target));
  }
}

void Sema::instantToFloat(ExprPtr &slot, bool silently) {
  if (!silently)
    warning(slot->loc,
            "an Instant stored as float holds seconds of the monotonic clock");
  slot = std::make_unique<CastExpr>(std::move(slot), Type(TypeKind::Float));
}

} // namespace

bool sbpf::appnet::checkElement(Element &element, const SemaOptions &options,
                                DiagnosticSink &diags) {
  return Sema(element, options, diags).run();
}

bool sbpf::appnet::isExternalBuiltin(std::string_view name) {
  return findExternal(name) != nullptr;
}
