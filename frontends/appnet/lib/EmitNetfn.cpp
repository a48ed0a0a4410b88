//===- EmitNetfn.cpp - checked AppNet element to netfn --------------------===//
//
// Walks the typed AST (AST.h) and builds one netfn.program. Every op carries
// the FILE:LINE:COL of the construct it comes from. Locals live in SSA
// values; a local assigned inside a match arm or a foreach body is carried out
// of the structured op as one of its results.
//
//===----------------------------------------------------------------------===//
#include "sbpf/AppNet/EmitNetfn.h"
#include "sbpf/AppNet/Schema.h"
#include "sbpf/Netfn/Netfn.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/Support/Casting.h"

#include <cmath>
#include <deque>

using namespace mlir;
using namespace sbpf::netfn;
using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;

namespace sbpf::appnet {
namespace {

/// Field of the aRPC header that `rpc_id()` reads.
constexpr const char *kRpcIdField = "rpc_id";
/// Field of the aRPC header that `byte_size(rpc)` reads: the payload length.
constexpr const char *kPayloadLenField = "payload_len";
/// Capacity of the `meta_status` pseudo-field ('success' / 'failure').
constexpr unsigned kMetaStatusCapacity = 8;

class Emitter {
public:
  Emitter(const Element &element, const EmitOptions &options,
          MLIRContext &context, DiagnosticSink &diags)
      : element(element), options(options), ctx(context), builder(&context),
        diags(diags) {}

  OwningOpRef<ModuleOp> run();

private:
  // Types and locations.
  Location loc(SourceLoc l) {
    return FileLineColLoc::get(&ctx, options.fileName, l.line, l.col);
  }
  mlir::Type convertType(const Type &type, SourceLoc where);
  mlir::Type fieldType(FieldKind kind, uint32_t capacity);
  IntegerType si(unsigned w) { return IntegerType::get(&ctx, w, IntegerType::Signed); }
  IntegerType ui(unsigned w) { return IntegerType::get(&ctx, w, IntegerType::Unsigned); }

  /// Where each field lives on the wire (docs/bpf-abi.md): aRPC header
  /// fields, the packet type, and payload fields at fixed offsets in the
  /// schema's declaration order.
  ArrayAttr wireLayout(llvm::ArrayRef<llvm::StringRef> names,
                       const SchemaMessage &message);

  // Program structure.
  void emitState();
  void emitInit();
  void emitHandler(const Handler *handler, HandlerKind kind, EventOp event,
                   SourceLoc where);
  /// Adds a field to the event being collected for `kind` and returns its type.
  mlir::Type useField(HandlerKind kind, const RpcFieldRef &ref, SourceLoc where);

  // Statements. emitBlock returns true when the block ended in a verdict.
  bool emitBlock(const Block &block);
  bool emitStmt(const Stmt &stmt);
  void emitAssign(const AssignStmt &assign);
  void emitMatch(const MatchStmt &match);
  void emitOptionMatch(const MatchStmt &match, Value scrutinee);
  void emitBoolMatch(const MatchStmt &match, Value scrutinee);
  void emitLiteralMatch(const MatchStmt &match, Value scrutinee);
  void emitForeach(const ForeachStmt &stmt);

  /// The locals assigned in `blocks` that are already defined here: their
  /// new values flow out of the structured op as results.
  llvm::SmallVector<const VarDecl *> carriedLocals(llvm::ArrayRef<const Block *> blocks);
  void collectAssigned(const Block &block, llvm::SetVector<const VarDecl *> &out);
  /// Fills `region` with `body` (or nothing when null), binding `args`, and
  /// ends it with a yield of the carried locals unless it ended in a verdict.
  void emitRegion(Region &region, const Block *body,
                  llvm::ArrayRef<std::pair<const VarDecl *, mlir::Type>> args,
                  llvm::ArrayRef<const VarDecl *> carried, SourceLoc where);
  llvm::SmallVector<mlir::Type> typesOf(llvm::ArrayRef<const VarDecl *> decls);
  void rebind(llvm::ArrayRef<const VarDecl *> decls, ValueRange values);

  // Expressions.
  Value emitExpr(const Expr &expr);
  Value emitBinary(const BinaryExpr &expr);
  Value emitCall(const CallExpr &call);
  Value emitConstant(mlir::Type type, Attribute value, SourceLoc where) {
    return builder.create<ConstOp>(loc(where), type, value);
  }
  Value emitFloat(double v, SourceLoc where) {
    return emitConstant(builder.getF64Type(), builder.getF64FloatAttr(v), where);
  }
  /// `value` converted to `type` (casts between numbers, string capacities).
  Value convert(Value value, mlir::Type type, SourceLoc where);
  /// Brings two strings to one capacity (the larger) so they can be compared.
  std::pair<Value, Value> unifyStrings(Value a, Value b, SourceLoc where);
  bool isPure(const Expr &expr);
  std::optional<double> constantNumber(const Expr &expr);
  void error(SourceLoc where, std::string message) {
    diags.error(where, std::move(message));
    failed = true;
  }

  const Element &element;
  const EmitOptions &options;
  MLIRContext &ctx;
  OpBuilder builder;
  DiagnosticSink &diags;
  bool failed = false;

  ProgramOp program;
  /// Current SSA value of every local, binding and lambda parameter. Sema
  /// resolved names to declarations, so declarations (not names) are keys.
  llvm::DenseMap<const VarDecl *, Value> values;
  /// Fields each event carries, in order of first use (or schema order).
  llvm::MapVector<llvm::StringRef, mlir::Type> requestFields, responseFields;
  /// Owns the names of schema-less fields; a deque never moves its elements,
  /// so the StringRef keys of the field maps stay valid.
  std::deque<std::string> fieldNames;
  HandlerKind currentHandler = HandlerKind::Init;
};

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

mlir::Type Emitter::convertType(const Type &type, SourceLoc where) {
  switch (type.kind) {
  case TypeKind::Bool:
    return builder.getI1Type();
  case TypeKind::Int:
    return si(32);
  case TypeKind::UInt:
    return ui(32);
  case TypeKind::Float:
    return builder.getF64Type();
  case TypeKind::String:
    return StringType::get(&ctx, type.capacity ? type.capacity
                                               : options.defaultStringCapacity);
  case TypeKind::Instant:
    return InstantType::get(&ctx);
  case TypeKind::Pair: {
    auto a = convertType(type.params[0], where), b = convertType(type.params[1], where);
    return a && b ? PairType::get(&ctx, a, b) : mlir::Type();
  }
  case TypeKind::Map: {
    auto k = convertType(type.params[0], where), v = convertType(type.params[1], where);
    if (!k || !v)
      return {};
    if (isa<LogType, MapType>(v)) {
      error(where, "a map whose values are " + type.params[1].str() +
                       " is not available in the kernel");
      return {};
    }
    return MapType::get(&ctx, k, v, options.defaultMapCapacity);
  }
  case TypeKind::Vec: {
    auto t = convertType(type.params[0], where);
    return t ? LogType::get(&ctx, {t}) : mlir::Type();
  }
  case TypeKind::Optional: {
    auto t = convertType(type.params[0], where);
    return t ? OptionType::get(&ctx, t) : mlir::Type();
  }
  case TypeKind::Unknown:
  case TypeKind::Void:
  case TypeKind::Rpc:
  case TypeKind::UntypedInt:
    break;
  }
  error(where, "a value of type " + type.str() + " cannot be represented in netfn");
  return {};
}

mlir::Type Emitter::fieldType(FieldKind kind, uint32_t capacity) {
  switch (kind) {
  case FieldKind::String:
  case FieldKind::Bytes:
    return StringType::get(&ctx, capacity ? capacity : options.defaultStringCapacity);
  case FieldKind::Bool:
    return builder.getI1Type();
  case FieldKind::Int32:
    return si(32);
  case FieldKind::UInt32:
    return ui(32);
  case FieldKind::Int64:
    return si(64);
  case FieldKind::UInt64:
    return ui(64);
  case FieldKind::Float:
  case FieldKind::Double:
    return builder.getF64Type();
  }
  return {};
}

mlir::Type Emitter::useField(HandlerKind kind, const RpcFieldRef &ref,
                             SourceLoc where) {
  auto &fields = kind == HandlerKind::Resp ? responseFields : requestFields;
  if (ref.isPayloadSize) {
    fields.insert({kPayloadLenField, ui(32)});
    return ui(32);
  }
  if (ref.isMetaStatus) {
    mlir::Type t = StringType::get(&ctx, kMetaStatusCapacity);
    fields.insert({"meta_status", t});
    return t;
  }
  if (ref.message && ref.index >= 0) {
    const SchemaField &f = ref.message->fields[ref.index];
    auto it = fields.find(f.name);
    return it != fields.end() ? it->second : mlir::Type();
  }
  // Without a schema a field is a string of the default capacity, unless a
  // `get(rpc, 'f', TYPE)` stated its type (Sema made all accesses agree).
  auto it = fields.find(ref.name);
  if (it != fields.end())
    return it->second;
  fieldNames.push_back(ref.name);
  mlir::Type t = ref.declaredKind ? fieldType(*ref.declaredKind, 0)
                                  : StringType::get(&ctx, options.defaultStringCapacity);
  fields.insert({fieldNames.back(), t});
  return t;
}

/// Bytes and encoding of a schema field in the fixed payload layout.
static std::pair<unsigned, const char *> wireFormat(const SchemaField &f,
                                                    unsigned defaultCapacity) {
  switch (f.kind) {
  case FieldKind::String:
  case FieldKind::Bytes:
    return {f.capacity ? f.capacity : defaultCapacity, "str"};
  case FieldKind::Bool:
    return {1, "bool"};
  case FieldKind::Int32:
    return {4, "s32"};
  case FieldKind::UInt32:
    return {4, "u32"};
  case FieldKind::Int64:
    return {8, "s64"};
  case FieldKind::UInt64:
    return {8, "u64"};
  case FieldKind::Float:
    return {4, "f32"};
  case FieldKind::Double:
    return {8, "f64"};
  }
  return {0, ""};
}

ArrayAttr Emitter::wireLayout(llvm::ArrayRef<llvm::StringRef> names,
                              const SchemaMessage &message) {
  auto entry = [&](llvm::StringRef source, int64_t offset, int64_t size,
                   llvm::StringRef encoding) {
    llvm::SmallVector<NamedAttribute> attrs = {
        builder.getNamedAttr("source", builder.getStringAttr(source))};
    if (size) {
      attrs.push_back(builder.getNamedAttr("offset", builder.getI64IntegerAttr(offset)));
      attrs.push_back(builder.getNamedAttr("size", builder.getI64IntegerAttr(size)));
      attrs.push_back(builder.getNamedAttr("encoding", builder.getStringAttr(encoding)));
    }
    return builder.getDictionaryAttr(attrs);
  };
  llvm::StringMap<std::pair<unsigned, unsigned>> payload; // offset, field index
  unsigned offset = 0;
  for (unsigned i = 0; i < message.fields.size(); ++i) {
    payload[message.fields[i].name] = {offset, i};
    offset += wireFormat(message.fields[i], options.defaultStringCapacity).first;
  }
  llvm::SmallVector<Attribute> layout;
  for (llvm::StringRef name : names) {
    if (name == kRpcIdField)
      layout.push_back(entry("header", 1, 8, "u64"));
    else if (name == kPayloadLenField)
      layout.push_back(entry("header", 27, 4, "u32"));
    else if (name == "meta_status")
      layout.push_back(entry("packet_type", 0, 0, ""));
    else if (auto it = payload.find(name); it != payload.end()) {
      auto [size, encoding] = wireFormat(message.fields[it->second.second],
                                         options.defaultStringCapacity);
      layout.push_back(entry("payload", it->second.first, size, encoding));
    } else {
      layout.push_back(entry("unknown", 0, 0, ""));
    }
  }
  return builder.getArrayAttr(layout);
}

//===----------------------------------------------------------------------===//
// Program structure
//===----------------------------------------------------------------------===//

OwningOpRef<ModuleOp> Emitter::run() {
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc({1, 1}));
  builder.setInsertionPointToStart(module->getBody());
  program = builder.create<ProgramOp>(loc({1, 1}), options.programName);
  program->setAttr("domain", builder.getStringAttr("appnet"));

  // The aRPC header's id is part of every event; schema fields follow in
  // wire order. Schema-less fields are added as handlers use them.
  requestFields.insert({kRpcIdField, ui(64)});
  responseFields.insert({kRpcIdField, ui(64)});
  if (options.schema) {
    for (const SchemaField &f : options.schema->request().fields)
      requestFields.insert({f.name, fieldType(f.kind, f.capacity)});
    for (const SchemaField &f : options.schema->response().fields)
      responseFields.insert({f.name, fieldType(f.kind, f.capacity)});
  }

  builder.setInsertionPointToEnd(&program.getBodyBlock());
  emitState();
  emitInit();
  // Events are declared before the handlers that bind to them; their field
  // lists are complete only once the handlers are emitted, so the events are
  // created first and their fields set afterwards.
  auto request = builder.create<EventOp>(
      loc(element.req.loc), "request", "rpc.request", builder.getStrArrayAttr({}),
      builder.getTypeArrayAttr({}), /*wire_layout=*/nullptr);
  SourceLoc respLoc = element.resp ? element.resp->loc : element.req.loc;
  auto response = builder.create<EventOp>(
      loc(respLoc), "response", "rpc.response", builder.getStrArrayAttr({}),
      builder.getTypeArrayAttr({}), /*wire_layout=*/nullptr);
  // Move the events before the state declarations: declarations first.
  request->moveBefore(&program.getBodyBlock().front());
  response->moveAfter(request);

  emitHandler(&element.req, HandlerKind::Req, request, element.req.loc);
  emitHandler(element.resp.get(), HandlerKind::Resp, response, respLoc);

  for (auto [event, fields] : {std::make_pair(request, &requestFields),
                               std::make_pair(response, &responseFields)}) {
    llvm::SmallVector<llvm::StringRef> names;
    llvm::SmallVector<mlir::Type> types;
    for (auto &[name, type] : *fields) {
      names.push_back(name);
      types.push_back(type);
    }
    event.setFieldNamesAttr(builder.getStrArrayAttr(names));
    event.setFieldTypesAttr(builder.getTypeArrayAttr(types));
    if (options.schema)
      event.setWireLayoutAttr(wireLayout(
          names, event == request ? options.schema->request()
                                  : options.schema->response()));
  }
  if (failed)
    return nullptr;
  return module;
}

void Emitter::emitState() {
  for (const StateDecl &decl : element.state) {
    mlir::Type type = convertType(decl.type, decl.loc);
    if (!type)
      continue;
    auto op = builder.create<StateOp>(loc(decl.loc), builder.getStringAttr(decl.name),
                                        TypeAttr::get(type));
    if (decl.consistency == Consistency::Weak)
      op->setAttr("consistency", builder.getStringAttr("weak"));
    if (decl.combiner)
      op->setAttr("combiner", builder.getStringAttr(*decl.combiner));
    if (decl.persistence)
      op->setAttr("persistence", builder.getBoolAttr(*decl.persistence));
    if (decl.configurable) // Named by an init parameter: set at deployment.
      op->setAttr("configurable", builder.getUnitAttr());
  }
}

void Emitter::emitInit() {
  auto init = builder.create<InitOp>(loc(element.init.loc));
  mlir::Block *body = new mlir::Block();
  init.getBody().push_back(body);
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToStart(body);
  currentHandler = HandlerKind::Init;
  emitBlock(element.init.body);
  builder.create<ReturnOp>(loc(element.init.loc));
}

void Emitter::emitHandler(const Handler *handler, HandlerKind kind,
                          EventOp event, SourceLoc where) {
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToEnd(&program.getBodyBlock());
  auto op = builder.create<HandlerOp>(loc(where), builder.getStringAttr(handlerName(kind)),
                                      FlatSymbolRefAttr::get(event.getSymNameAttr()));
  mlir::Block *body = new mlir::Block();
  op.getBody().push_back(body);
  builder.setInsertionPointToStart(body);
  currentHandler = kind;
  bool ended = handler && emitBlock(handler->body);
  // Reaching the end of a handler forwards the RPC (`resp` may be omitted).
  if (!ended)
    builder.create<ForwardOp>(loc(where));
}

//===----------------------------------------------------------------------===//
// Statements
//===----------------------------------------------------------------------===//

bool Emitter::emitBlock(const Block &block) {
  for (const StmtPtr &stmt : block.stmts)
    if (emitStmt(*stmt))
      return true; // A verdict ends the block; Sema warned about the rest.
  return false;
}

bool Emitter::emitStmt(const Stmt &stmt) {
  switch (stmt.kind) {
  case Stmt::Kind::Pass:
    return false;
  case Stmt::Kind::Expr:
    emitExpr(*cast<ExprStmt>(stmt).expr);
    return false;
  case Stmt::Kind::Assign:
    emitAssign(cast<AssignStmt>(stmt));
    return false;
  case Stmt::Kind::Match:
    emitMatch(cast<MatchStmt>(stmt));
    return false;
  case Stmt::Kind::Foreach:
    emitForeach(cast<ForeachStmt>(stmt));
    return false;
  case Stmt::Kind::Send: {
    const auto &send = cast<SendStmt>(stmt);
    if (currentHandler == HandlerKind::Init) {
      error(send.loc, "'send' is not allowed in init: there is no RPC to send");
      return false;
    }
    if (!send.isError) {
      builder.create<ForwardOp>(loc(send.loc));
      return true;
    }
    const auto *reason = dyn_cast<StringLiteral>(send.value.get());
    if (!reason) {
      error(send.value->loc, "the reason of err() must be a string literal: the "
                             "kernel counts rejections per reason");
      return false;
    }
    if (reason->value.empty()) {
      error(send.value->loc, "the reason of err() must not be empty");
      return false;
    }
    builder.create<RejectOp>(loc(send.loc), reason->value);
    return true;
  }
  }
  return false;
}

void Emitter::emitAssign(const AssignStmt &assign) {
  Value value = emitExpr(*assign.value);
  if (!value)
    return;
  llvm::SmallVector<Value, 2> parts;
  if (assign.isPair) {
    if (!isa<PairType>(value.getType())) {
      error(assign.value->loc, "a pair is needed to assign to two names");
      return;
    }
    parts.push_back(builder.create<FirstOp>(loc(assign.value->loc), value));
    parts.push_back(builder.create<SecondOp>(loc(assign.value->loc), value));
  } else {
    parts.push_back(value);
  }
  for (auto [target, part] : llvm::zip(assign.targets, parts)) {
    const VarDecl *decl = target.decl;
    if (!decl)
      continue;
    mlir::Type type = convertType(decl->type, target.loc);
    if (!type)
      continue;
    Value v = convert(part, type, target.loc);
    if (!v)
      continue;
    if (decl->kind == VarKind::State) {
      if (isa<MapType, LogType>(type)) {
        error(target.loc, "state '" + decl->name + "' is a " + decl->type.str() +
                              " and cannot be assigned; use set()");
        continue;
      }
      builder.create<StateWriteOp>(loc(target.loc), decl->name, v);
    } else {
      values[decl] = v;
    }
  }
}

void Emitter::collectAssigned(const Block &block,
                              llvm::SetVector<const VarDecl *> &out) {
  for (const StmtPtr &stmt : block.stmts) {
    if (const auto *assign = dyn_cast<AssignStmt>(stmt.get())) {
      for (const AssignTarget &t : assign->targets)
        if (t.decl && t.decl->kind != VarKind::State && values.count(t.decl))
          out.insert(t.decl);
    } else if (const auto *match = dyn_cast<MatchStmt>(stmt.get())) {
      for (const MatchArm &arm : match->arms)
        collectAssigned(arm.body, out);
    } else if (const auto *loop = dyn_cast<ForeachStmt>(stmt.get())) {
      collectAssigned(loop->body, out);
    }
  }
}

llvm::SmallVector<const VarDecl *>
Emitter::carriedLocals(llvm::ArrayRef<const Block *> blocks) {
  llvm::SetVector<const VarDecl *> assigned;
  for (const Block *b : blocks)
    if (b)
      collectAssigned(*b, assigned);
  llvm::SmallVector<const VarDecl *> carried(assigned.begin(), assigned.end());
  // Results in declaration order, so output does not depend on pointers.
  llvm::sort(carried, [](const VarDecl *a, const VarDecl *b) { return a->id < b->id; });
  return carried;
}

llvm::SmallVector<mlir::Type> Emitter::typesOf(llvm::ArrayRef<const VarDecl *> decls) {
  llvm::SmallVector<mlir::Type> types;
  for (const VarDecl *d : decls)
    types.push_back(values.lookup(d).getType());
  return types;
}

void Emitter::rebind(llvm::ArrayRef<const VarDecl *> decls, ValueRange results) {
  for (auto [d, v] : llvm::zip(decls, results))
    values[d] = v;
}

void Emitter::emitRegion(Region &region, const Block *body,
                         llvm::ArrayRef<std::pair<const VarDecl *, mlir::Type>> args,
                         llvm::ArrayRef<const VarDecl *> carried, SourceLoc where) {
  mlir::Block *block = new mlir::Block();
  region.push_back(block);
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToStart(block);
  // What the region sees of the carried locals on entry, restored on exit:
  // values defined inside the region do not dominate the code after it.
  llvm::SmallVector<Value> entry;
  for (const VarDecl *d : carried)
    entry.push_back(values.lookup(d));
  for (auto &[decl, type] : args) {
    Value arg = block->addArgument(type, loc(decl ? decl->loc : where));
    if (decl)
      values[decl] = arg;
  }
  bool ended = body && emitBlock(*body);
  if (!ended) {
    llvm::SmallVector<Value> yielded;
    for (const VarDecl *d : carried)
      yielded.push_back(values.lookup(d));
    builder.create<YieldOp>(loc(where), yielded);
  }
  rebind(carried, entry);
}

void Emitter::emitMatch(const MatchStmt &match) {
  Value scrutinee = emitExpr(*match.scrutinee);
  if (!scrutinee)
    return;
  if (isa<OptionType>(scrutinee.getType()))
    emitOptionMatch(match, scrutinee);
  else if (scrutinee.getType().isInteger(1))
    emitBoolMatch(match, scrutinee);
  else
    emitLiteralMatch(match, scrutinee);
}

/// Binds the scrutinee for a binding pattern `x =>`.
static void bindCatchAll(const MatchArm *arm, Value scrutinee,
                         llvm::DenseMap<const VarDecl *, Value> &values) {
  if (arm && arm->pattern.kind == Pattern::Kind::Binding && arm->pattern.binding)
    values[arm->pattern.binding] = scrutinee;
}

void Emitter::emitOptionMatch(const MatchStmt &match, Value scrutinee) {
  const MatchArm *someArm = nullptr, *noneArm = nullptr;
  for (const MatchArm &arm : match.arms) {
    switch (arm.pattern.kind) {
    case Pattern::Kind::Some:
      if (!someArm)
        someArm = &arm;
      break;
    case Pattern::Kind::None:
      if (!noneArm)
        noneArm = &arm;
      break;
    case Pattern::Kind::Wildcard:
    case Pattern::Kind::Binding:
      if (!someArm)
        someArm = &arm;
      if (!noneArm)
        noneArm = &arm;
      break;
    default:
      error(arm.pattern.loc, "only Some(x), None and _ can match an optional");
      return;
    }
  }
  auto carried = carriedLocals({someArm ? &someArm->body : nullptr,
                                noneArm ? &noneArm->body : nullptr});
  auto op = builder.create<MatchOptionOp>(loc(match.loc), typesOf(carried), scrutinee);
  mlir::Type payload = cast<OptionType>(scrutinee.getType()).getValueType();
  const VarDecl *bound = someArm && someArm->pattern.kind == Pattern::Kind::Some
                             ? someArm->pattern.binding
                             : nullptr;
  bindCatchAll(someArm, scrutinee, values);
  emitRegion(op.getSomeRegion(), someArm ? &someArm->body : nullptr,
             {{bound, payload}}, carried, someArm ? someArm->arrowLoc : match.loc);
  bindCatchAll(noneArm, scrutinee, values);
  emitRegion(op.getNoneRegion(), noneArm ? &noneArm->body : nullptr, {}, carried,
             noneArm ? noneArm->arrowLoc : match.loc);
  rebind(carried, op.getResults());
}

void Emitter::emitBoolMatch(const MatchStmt &match, Value scrutinee) {
  const MatchArm *onTrue = nullptr, *onFalse = nullptr;
  for (const MatchArm &arm : match.arms) {
    const Pattern &p = arm.pattern;
    if (p.kind == Pattern::Kind::Bool) {
      const MatchArm *&slot = p.boolValue ? onTrue : onFalse;
      if (!slot)
        slot = &arm;
    } else if (p.isCatchAll()) {
      if (!onTrue)
        onTrue = &arm;
      if (!onFalse)
        onFalse = &arm;
    } else {
      error(p.loc, "a bool can only be matched by true, false or _");
      return;
    }
  }
  auto carried = carriedLocals({onTrue ? &onTrue->body : nullptr,
                                onFalse ? &onFalse->body : nullptr});
  auto op = builder.create<IfOp>(loc(match.loc), typesOf(carried), scrutinee);
  bindCatchAll(onTrue, scrutinee, values);
  emitRegion(op.getThenRegion(), onTrue ? &onTrue->body : nullptr, {}, carried,
             onTrue ? onTrue->arrowLoc : match.loc);
  bindCatchAll(onFalse, scrutinee, values);
  emitRegion(op.getElseRegion(), onFalse ? &onFalse->body : nullptr, {}, carried,
             onFalse ? onFalse->arrowLoc : match.loc);
  rebind(carried, op.getResults());
}

void Emitter::emitLiteralMatch(const MatchStmt &match, Value scrutinee) {
  mlir::Type type = scrutinee.getType();
  if (!isScalarType(type)) {
    error(match.scrutinee->loc, "a value of type " + match.scrutinee->type.str() +
                                    " cannot be matched against literals");
    return;
  }
  llvm::SmallVector<Attribute> cases;
  llvm::SmallVector<const MatchArm *> caseArms;
  const MatchArm *defaultArm = nullptr;
  llvm::DenseSet<Attribute> seen;
  for (const MatchArm &arm : match.arms) {
    const Pattern &p = arm.pattern;
    if (p.isCatchAll()) {
      defaultArm = &arm;
      break; // Later arms can never run.
    }
    Attribute literal;
    switch (p.kind) {
    case Pattern::Kind::Int:
      if (auto it = dyn_cast<IntegerType>(type)) {
        if (it.isUnsigned() ? llvm::APInt(64, p.intValue).getActiveBits() > it.getWidth()
                            : llvm::APInt(64, p.intValue).getActiveBits() >= it.getWidth()) {
          error(p.loc, "pattern " + std::to_string(p.intValue) +
                           " does not fit in " + match.scrutinee->type.str());
          return;
        }
        literal = IntegerAttr::get(type, llvm::APInt(it.getWidth(), p.intValue));
      } else if (type.isF64()) {
        literal = builder.getF64FloatAttr(double(p.intValue));
      }
      break;
    case Pattern::Kind::Float:
      if (type.isF64())
        literal = builder.getF64FloatAttr(p.floatValue);
      break;
    case Pattern::Kind::String:
      if (auto st = dyn_cast<StringType>(type)) {
        // A literal longer than the capacity can never be equal: drop the arm.
        if (p.text.size() > st.getCapacity())
          continue;
        literal = builder.getStringAttr(p.text);
      }
      break;
    default:
      break;
    }
    if (!literal) {
      error(p.loc, "this pattern cannot match a value of type " +
                       match.scrutinee->type.str());
      return;
    }
    if (!seen.insert(literal).second)
      continue; // A repeated literal: the first arm wins.
    cases.push_back(literal);
    caseArms.push_back(&arm);
  }
  llvm::SmallVector<const Block *> bodies;
  for (const MatchArm *arm : caseArms)
    bodies.push_back(&arm->body);
  bodies.push_back(defaultArm ? &defaultArm->body : nullptr);
  auto carried = carriedLocals(bodies);
  auto op = builder.create<MatchOp>(loc(match.loc), typesOf(carried), scrutinee,
                                    builder.getArrayAttr(cases), caseArms.size());
  bindCatchAll(defaultArm, scrutinee, values);
  emitRegion(op.getDefaultRegion(), defaultArm ? &defaultArm->body : nullptr, {},
             carried, defaultArm ? defaultArm->arrowLoc : match.loc);
  for (auto [region, arm] : llvm::zip(op.getCaseRegions(), caseArms))
    emitRegion(region, &arm->body, {}, carried, arm->arrowLoc);
  rebind(carried, op.getResults());
}

void Emitter::emitForeach(const ForeachStmt &stmt) {
  const VarDecl *coll = stmt.collection ? stmt.collection->decl : nullptr;
  if (!coll || coll->kind != VarKind::State || !coll->type.is(TypeKind::Vec)) {
    error(stmt.collection ? stmt.collection->loc : stmt.loc,
          "foreach iterates over a Vec declared in state");
    return;
  }
  mlir::Type elem = convertType(coll->type.params[0], stmt.loc);
  if (!elem)
    return;
  auto carried = carriedLocals({&stmt.body});
  llvm::SmallVector<Value> inits;
  for (const VarDecl *d : carried)
    inits.push_back(values.lookup(d));
  auto op = builder.create<ForeachOp>(loc(stmt.loc), typesOf(carried), coll->name,
                                      options.loopBound, inits);
  llvm::SmallVector<std::pair<const VarDecl *, mlir::Type>> args = {{stmt.paramDecl, elem}};
  for (const VarDecl *d : carried)
    args.push_back({d, values.lookup(d).getType()});
  emitRegion(op.getBody(), &stmt.body, args, carried, stmt.loc);
  rebind(carried, op.getResults());
}

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

Value Emitter::convert(Value value, mlir::Type type, SourceLoc where) {
  if (!value || value.getType() == type)
    return value;
  // An Instant used as a float is seconds of the monotonic clock.
  if (isa<InstantType>(value.getType()) && type.isF64()) {
    Value nanos = builder.create<CastOp>(loc(where), ui(64), value);
    Value real = builder.create<CastOp>(loc(where), type, nanos);
    return builder.create<DivOp>(loc(where), real, emitFloat(1e9, where));
  }
  // A string literal widens to the capacity it is used at, without a cast.
  auto literal = value.getDefiningOp<ConstOp>();
  auto text = literal ? dyn_cast<StringAttr>(literal.getValue()) : StringAttr();
  auto stringType = dyn_cast<StringType>(type);
  if (text && stringType && text.size() <= stringType.getCapacity()) {
    Value widened = builder.create<ConstOp>(literal.getLoc(), type, text);
    if (literal->use_empty())
      literal->erase();
    return widened;
  }
  auto cast = builder.create<CastOp>(loc(where), type, value);
  if (mlir::failed(cast.verify())) {
    cast->erase();
    error(where, "cannot convert this value to the expected type");
    return {};
  }
  return cast;
}

std::pair<Value, Value> Emitter::unifyStrings(Value a, Value b, SourceLoc where) {
  auto sa = cast<StringType>(a.getType()), sb = cast<StringType>(b.getType());
  mlir::Type wide = sa.getCapacity() >= sb.getCapacity() ? sa : sb;
  return {convert(a, wide, where), convert(b, wide, where)};
}

std::optional<double> Emitter::constantNumber(const Expr &expr) {
  if (const auto *c = dyn_cast<CastExpr>(&expr))
    return constantNumber(*c->operand);
  if (const auto *i = dyn_cast<IntLiteral>(&expr))
    return double(i->value);
  if (const auto *f = dyn_cast<FloatLiteral>(&expr))
    return f->value;
  return std::nullopt;
}

/// True when evaluating `expr` draws no random number and reads no clock, so
/// evaluating it eagerly (without short-circuit) changes nothing.
bool Emitter::isPure(const Expr &expr) {
  switch (expr.kind) {
  case Expr::Kind::Binary: {
    const auto &b = cast<BinaryExpr>(expr);
    return isPure(*b.lhs) && isPure(*b.rhs);
  }
  case Expr::Kind::Cast:
    return isPure(*cast<CastExpr>(expr).operand);
  case Expr::Kind::Pair: {
    const auto &p = cast<PairExpr>(expr);
    return isPure(*p.first) && isPure(*p.second);
  }
  case Expr::Kind::Call: {
    const auto &c = cast<CallExpr>(expr);
    if (c.builtin == Builtin::RandomF || c.builtin == Builtin::RandomU ||
        c.builtin == Builtin::CurrentTime || c.builtin == Builtin::Set ||
        c.builtin == Builtin::Delete || c.builtin == Builtin::External)
      return false;
    for (const ExprPtr &a : c.args)
      if (!isPure(*a))
        return false;
    return true;
  }
  default:
    return true;
  }
}

Value Emitter::emitExpr(const Expr &expr) {
  switch (expr.kind) {
  case Expr::Kind::IntLiteral: {
    mlir::Type type = convertType(expr.type, expr.loc);
    uint64_t v = cast<IntLiteral>(expr).value;
    if (!type)
      return {};
    if (type.isF64())
      return emitFloat(double(v), expr.loc);
    auto it = dyn_cast<IntegerType>(type);
    if (!it) {
      error(expr.loc, "an integer literal cannot be a " + expr.type.str());
      return {};
    }
    return emitConstant(type, IntegerAttr::get(type, llvm::APInt(it.getWidth(), v)),
                        expr.loc);
  }
  case Expr::Kind::FloatLiteral:
    return emitFloat(cast<FloatLiteral>(expr).value, expr.loc);
  case Expr::Kind::BoolLiteral:
    return emitConstant(builder.getI1Type(),
                        builder.getBoolAttr(cast<BoolLiteral>(expr).value), expr.loc);
  case Expr::Kind::StringLiteral: {
    const std::string &s = cast<StringLiteral>(expr).value;
    uint32_t capacity = std::max<uint32_t>(
        {expr.type.capacity, uint32_t(s.size()), 1});
    return emitConstant(StringType::get(&ctx, capacity), builder.getStringAttr(s),
                        expr.loc);
  }
  case Expr::Kind::Name: {
    const auto &name = cast<NameExpr>(expr);
    const VarDecl *decl = name.decl;
    if (!decl)
      return {};
    if (decl->kind == VarKind::State) {
      mlir::Type type = convertType(decl->type, expr.loc);
      if (!type)
        return {};
      if (isa<MapType, LogType>(type)) {
        error(expr.loc, "'" + decl->name + "' is a " + decl->type.str() +
                            " and is used through get, set, delete and size");
        return {};
      }
      return builder.create<StateReadOp>(loc(expr.loc), type, decl->name);
    }
    if (decl->kind == VarKind::HandlerParam) {
      error(expr.loc, "the rpc is not a value; use get(rpc, 'field')");
      return {};
    }
    Value v = values.lookup(decl);
    if (!v)
      error(expr.loc, "'" + decl->name + "' has no value here");
    return v;
  }
  case Expr::Kind::Binary:
    return emitBinary(cast<BinaryExpr>(expr));
  case Expr::Kind::Call:
    return emitCall(cast<CallExpr>(expr));
  case Expr::Kind::Pair: {
    const auto &p = cast<PairExpr>(expr);
    Value a = emitExpr(*p.first);
    Value b = emitExpr(*p.second);
    if (!a || !b)
      return {};
    return builder.create<PairMakeOp>(loc(expr.loc),
                                      PairType::get(&ctx, a.getType(), b.getType()), a, b);
  }
  case Expr::Kind::Cast: {
    Value v = emitExpr(*cast<CastExpr>(expr).operand);
    mlir::Type type = convertType(expr.type, expr.loc);
    return v && type ? convert(v, type, expr.loc) : Value();
  }
  }
  return {};
}

Value Emitter::emitBinary(const BinaryExpr &expr) {
  Location opLoc = loc(expr.opLoc);
  if (isLogical(expr.op) && !isPure(*expr.rhs)) {
    // Short-circuit: the right operand draws random numbers or reads the
    // clock, which must not happen when the left operand decides.
    Value lhs = emitExpr(*expr.lhs);
    if (!lhs)
      return {};
    auto op = builder.create<IfOp>(opLoc, TypeRange{builder.getI1Type()}, lhs);
    bool isAnd = expr.op == BinaryOp::And;
    for (Region *region : {&op.getThenRegion(), &op.getElseRegion()}) {
      bool evaluates = (region == &op.getThenRegion()) == isAnd;
      mlir::Block *block = new mlir::Block();
      region->push_back(block);
      OpBuilder::InsertionGuard guard(builder);
      builder.setInsertionPointToStart(block);
      Value v = evaluates ? emitExpr(*expr.rhs)
                          : emitConstant(builder.getI1Type(),
                                         builder.getBoolAttr(!isAnd), expr.opLoc);
      if (!v)
        v = emitConstant(builder.getI1Type(), builder.getBoolAttr(false), expr.opLoc);
      builder.create<YieldOp>(opLoc, v);
    }
    return op.getResult(0);
  }
  Value lhs = emitExpr(*expr.lhs);
  Value rhs = emitExpr(*expr.rhs);
  if (!lhs || !rhs)
    return {};
  if (isa<StringType>(lhs.getType()) && isa<StringType>(rhs.getType()))
    std::tie(lhs, rhs) = unifyStrings(lhs, rhs, expr.opLoc);
  if (lhs.getType() != rhs.getType()) {
    error(expr.opLoc, std::string("operands of '") + binaryOpSpelling(expr.op) +
                          "' have different types");
    return {};
  }
  auto cmp = [&](CmpPredicate pred) -> Value {
    return builder.create<CmpOp>(opLoc, pred, lhs, rhs);
  };
  switch (expr.op) {
  case BinaryOp::Add:
    return builder.create<AddOp>(opLoc, lhs, rhs);
  case BinaryOp::Sub:
    return builder.create<SubOp>(opLoc, lhs, rhs);
  case BinaryOp::Mul:
    return builder.create<MulOp>(opLoc, lhs, rhs);
  case BinaryOp::Div:
    return builder.create<DivOp>(opLoc, lhs, rhs);
  case BinaryOp::Eq:
    return cmp(CmpPredicate::eq);
  case BinaryOp::Ne:
    return cmp(CmpPredicate::ne);
  case BinaryOp::Lt:
    return cmp(CmpPredicate::lt);
  case BinaryOp::Gt:
    return cmp(CmpPredicate::gt);
  case BinaryOp::Le:
    return cmp(CmpPredicate::le);
  case BinaryOp::Ge:
    return cmp(CmpPredicate::ge);
  case BinaryOp::And:
    return builder.create<AndOp>(opLoc, lhs, rhs);
  case BinaryOp::Or:
    return builder.create<OrOp>(opLoc, lhs, rhs);
  }
  return {};
}

Value Emitter::emitCall(const CallExpr &call) {
  Location at = loc(call.loc);
  auto arg = [&](unsigned i) { return emitExpr(*call.args[i]); };
  auto stateOf = [&](unsigned i) -> const VarDecl * {
    const auto *name = dyn_cast<NameExpr>(call.args[i].get());
    return name && name->decl && name->decl->kind == VarKind::State ? name->decl
                                                                    : nullptr;
  };
  auto resultType = [&]() { return convertType(call.type, call.loc); };

  switch (call.builtin) {
  case Builtin::Get:
  case Builtin::Set:
  case Builtin::Delete: {
    if (call.field) { // get(rpc, 'f') / set(rpc, 'f', v)
      mlir::Type ft = useField(currentHandler, *call.field, call.loc);
      if (!ft) {
        error(call.loc, "unknown field '" + call.field->name + "'");
        return {};
      }
      if (currentHandler == HandlerKind::Init) {
        error(call.loc, "init has no RPC whose fields could be accessed");
        return {};
      }
      if (call.builtin == Builtin::Get) {
        Value v = builder.create<FieldGetOp>(at, ft, call.field->name);
        mlir::Type t = resultType();
        return t ? convert(v, t, call.loc) : Value();
      }
      Value v = call.args.size() > 2 ? arg(2) : Value();
      if (!v || !(v = convert(v, ft, call.args[2]->loc)))
        return {};
      builder.create<FieldSetOp>(at, call.field->name, v);
      return {};
    }
    const VarDecl *target = stateOf(0);
    if (!target) {
      error(call.args.empty() ? call.loc : call.args[0]->loc,
            "the first argument must name a Map or Vec declared in state");
      return {};
    }
    mlir::Type stateType = convertType(target->type, call.loc);
    if (auto log = dyn_cast_or_null<LogType>(stateType)) {
      // set(v, size(v), x) appends (Sema checked the index).
      if (call.builtin != Builtin::Set || call.args.size() != 3) {
        error(call.loc, "a Vec only supports set(v, size(v), x) and size(v)");
        return {};
      }
      Value v = arg(2);
      if (!v || !(v = convert(v, log.getFields()[0], call.args[2]->loc)))
        return {};
      builder.create<LogAppendOp>(at, target->name, ValueRange{v});
      return {};
    }
    auto map = dyn_cast_or_null<MapType>(stateType);
    if (!map) {
      error(call.args[0]->loc, "'" + target->name + "' is not a Map");
      return {};
    }
    Value key = arg(1);
    if (!key || !(key = convert(key, map.getKeyType(), call.args[1]->loc)))
      return {};
    if (call.builtin == Builtin::Get)
      return builder.create<MapGetOp>(at, OptionType::get(&ctx, map.getValueType()),
                                      target->name, key);
    if (call.builtin == Builtin::Delete) {
      builder.create<MapDeleteOp>(at, target->name, key);
      return {};
    }
    Value v = arg(2);
    if (!v || !(v = convert(v, map.getValueType(), call.args[2]->loc)))
      return {};
    builder.create<MapSetOp>(at, target->name, key, v);
    return {};
  }
  case Builtin::Size: {
    const VarDecl *target = stateOf(0);
    if (!target || !target->type.is(TypeKind::Vec)) {
      error(call.loc, "size() of a Map is not available in the kernel; only "
                      "size(v) of a Vec is");
      return {};
    }
    Value n = builder.create<LogSizeOp>(at, ui(64), target->name);
    mlir::Type t = resultType();
    return t ? convert(n, t, call.loc) : Value();
  }
  case Builtin::ByteSize: {
    if (!call.field)
      return {};
    mlir::Type ft = useField(currentHandler, *call.field, call.loc);
    mlir::Type t = resultType();
    if (!ft || !t)
      return {};
    if (call.field->isPayloadSize) // byte_size(rpc): the whole payload.
      return convert(builder.create<FieldGetOp>(at, ft, kPayloadLenField), t, call.loc);
    if (isa<StringType>(ft)) {
      Value s = builder.create<FieldGetOp>(at, ft, call.field->name);
      return convert(builder.create<StringLenOp>(at, ui(32), s), t, call.loc);
    }
    unsigned bytes = ft.isF64() && call.field->message
                         ? (call.field->message->fields[call.field->index].kind ==
                                    FieldKind::Float
                                ? 4
                                : 8)
                         : std::max(1u, ft.getIntOrFloatBitWidth() / 8);
    return convert(emitConstant(ui(32), IntegerAttr::get(ui(32), bytes), call.loc), t,
                   call.loc);
  }
  case Builtin::RandomF: {
    // A uniform real in [lo, hi): lo + (hi - lo) * r / 2^32 for the next
    // ui32 draw r. r / 2^32 is exact in f64, so randomf(0, 1) < p holds
    // with probability p to within 2^-32.
    Value r = builder.create<RandomOp>(at, ui(32));
    Value real = convert(r, builder.getF64Type(), call.loc);
    Value u = builder.create<MulOp>(at, real, emitFloat(std::ldexp(1.0, -32), call.loc));
    auto lo = constantNumber(*call.args[0]), hi = constantNumber(*call.args[1]);
    if (lo == 0.0 && hi == 1.0)
      return u;
    Value vlo = arg(0);
    Value vhi = arg(1);
    if (!vlo || !vhi)
      return {};
    Value span = builder.create<SubOp>(at, vhi, vlo);
    return builder.create<AddOp>(at, vlo, builder.create<MulOp>(at, span, u));
  }
  case Builtin::RandomU: {
    // lo + r % (hi - lo) for the next ui32 draw r.
    Value r = builder.create<RandomOp>(at, ui(32));
    Value vlo = arg(0);
    Value vhi = arg(1);
    if (!vlo || !vhi)
      return {};
    if (vlo.getType() != ui(32) || vhi.getType() != ui(32)) {
      error(call.loc, "randomu takes uint bounds");
      return {};
    }
    Value span = builder.create<SubOp>(at, vhi, vlo);
    return builder.create<AddOp>(at, vlo, builder.create<RemOp>(at, r, span));
  }
  case Builtin::CurrentTime:
    return builder.create<NowOp>(at, InstantType::get(&ctx));
  case Builtin::TimeDiff: {
    // Seconds from b to a: the signed nanosecond difference over 1e9.
    Value a = arg(0);
    Value b = arg(1);
    if (!a || !b)
      return {};
    // Sema casts both to float (seconds) when either was stored as a float.
    if (a.getType().isF64() && b.getType().isF64())
      return builder.create<SubOp>(at, a, b);
    Value na = convert(a, ui(64), call.loc);
    Value nb = convert(b, ui(64), call.loc);
    if (!na || !nb)
      return {};
    Value diff = convert(builder.create<SubOp>(at, na, nb), si(64), call.loc);
    Value secs = convert(diff, builder.getF64Type(), call.loc);
    return builder.create<DivOp>(at, secs, emitFloat(1e9, call.loc));
  }
  case Builtin::Min:
  case Builtin::Max: {
    Value a = arg(0);
    Value b = arg(1);
    if (!a || !b)
      return {};
    if (a.getType() != b.getType()) {
      error(call.loc, "operands of " + call.callee + " have different types");
      return {};
    }
    if (call.builtin == Builtin::Min)
      return builder.create<MinOp>(at, a, b);
    return builder.create<MaxOp>(at, a, b);
  }
  case Builtin::RpcId: {
    if (currentHandler == HandlerKind::Init) {
      error(call.loc, "init has no RPC, so rpc_id() is not available there");
      return {};
    }
    Value id = builder.create<FieldGetOp>(at, ui(64), kRpcIdField);
    mlir::Type t = resultType();
    return t ? convert(id, t, call.loc) : Value();
  }
  case Builtin::Encrypt:
  case Builtin::Decrypt: {
    Value s = arg(0);
    Value key = arg(1);
    if (!s || !key)
      return {};
    if (!isa<StringType>(s.getType()) || !isa<StringType>(key.getType())) {
      error(call.loc, call.callee + " takes two strings");
      return {};
    }
    // XOR with a repeating key is its own inverse: both are the same op.
    Value x = builder.create<StringXorOp>(at, s.getType(), s, key);
    mlir::Type t = resultType();
    return t ? convert(x, t, call.loc) : Value();
  }
  case Builtin::External:
    error(call.loc, "'" + call.callee +
                        "' calls an external service and is not available in "
                        "the kernel");
    return {};
  case Builtin::None:
    error(call.loc, "unknown function '" + call.callee + "'");
    return {};
  }
  return {};
}

} // namespace

mlir::OwningOpRef<mlir::ModuleOp> emitNetfn(const Element &element,
                                            const EmitOptions &options,
                                            mlir::MLIRContext &context,
                                            DiagnosticSink &diags) {
  context.getOrLoadDialect<NetfnDialect>();
  return Emitter(element, options, context, diags).run();
}

} // namespace sbpf::appnet
