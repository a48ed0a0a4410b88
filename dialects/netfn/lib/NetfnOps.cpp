//===- NetfnOps.cpp - netfn op verifiers, builders and custom syntax ------===//
#include "sbpf/Netfn/Netfn.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringSet.h"

using namespace mlir;
using namespace sbpf::netfn;

//===----------------------------------------------------------------------===//
// Shared helpers
//===----------------------------------------------------------------------===//

/// Looks `ref` up from `from` and returns the `netfn.state` it names, or
/// emits an error naming what was found instead.
static FailureOr<StateOp> lookupState(Operation *from, FlatSymbolRefAttr ref,
                                      SymbolTableCollection &tables) {
  Operation *sym = tables.lookupNearestSymbolFrom(from, ref.getAttr());
  auto state = llvm::dyn_cast_or_null<StateOp>(sym);
  if (!state)
    return from->emitOpError() << "'" << ref.getValue()
                               << "' does not name a netfn.state";
  return state;
}

/// The `netfn.state` of type T named by `ref`, or an error mentioning `what`.
template <typename T>
static FailureOr<std::pair<StateOp, T>>
lookupStateOfType(Operation *from, FlatSymbolRefAttr ref,
                  SymbolTableCollection &tables, StringRef what) {
  auto state = lookupState(from, ref, tables);
  if (failed(state))
    return failure();
  auto type = llvm::dyn_cast<T>(state->getType());
  if (!type)
    return from->emitOpError() << "'" << ref.getValue() << "' is a "
                               << state->getType() << ", not " << what;
  return std::make_pair(*state, type);
}

/// Coerces a literal parsed without a type (integers parse as i64, reals as
/// f64) to netfn type `type`; null if it does not fit.
static Attribute coerceLiteral(Type type, Attribute value) {
  if (!value)
    return {};
  if (auto b = llvm::dyn_cast<BoolAttr>(value))
    return type.isInteger(1) ? value : Attribute();
  if (auto i = llvm::dyn_cast<IntegerAttr>(value)) {
    if (i.getType() == type)
      return value;
    unsigned width = 0;
    bool isSigned = true;
    if (auto it = llvm::dyn_cast<IntegerType>(type)) {
      width = it.getWidth();
      isSigned = !it.isUnsigned();
    } else if (auto ft = llvm::dyn_cast<FixedType>(type)) {
      width = ft.getWidth();
    } else if (type.isF64()) {
      return FloatAttr::get(type, (double)i.getValue().getSExtValue());
    } else {
      return {};
    }
    APInt v = i.getValue();
    // Literals parse as signed 64-bit values; anything that does not survive
    // the trip to the target width does not fit.
    unsigned needed = isSigned ? v.getSignificantBits() : v.getActiveBits();
    if (!isSigned && v.isNegative())
      return {};
    if (needed > width)
      return {};
    APInt t = v.sextOrTrunc(width);
    if (llvm::isa<FixedType>(type))
      return IntegerAttr::get(IntegerType::get(type.getContext(), 64),
                              v.sextOrTrunc(64));
    return IntegerAttr::get(type, t);
  }
  if (auto f = llvm::dyn_cast<FloatAttr>(value))
    return type.isF64() ? FloatAttr::get(type, f.getValueAsDouble())
                        : Attribute();
  if (llvm::isa<StringAttr>(value))
    return llvm::isa<StringType>(type) ? value : Attribute();
  return {};
}

static void printLiteral(OpAsmPrinter &p, Attribute value, Type type) {
  if (llvm::isa<FixedType>(type)) {
    p << "raw(";
    llvm::cast<IntegerAttr>(value).getValue().print(p.getStream(), true);
    p << ')';
    return;
  }
  if (auto i = llvm::dyn_cast<IntegerAttr>(value)) {
    if (i.getType().isInteger(1)) {
      p << (i.getValue().isZero() ? "false" : "true");
      return;
    }
    bool isUnsigned = i.getType().isUnsignedInteger();
    i.getValue().print(p.getStream(), /*isSigned=*/!isUnsigned);
    return;
  }
  // Reals print as MLIR float attributes do: decimal when that round-trips
  // exactly, else the bit pattern in hex.
  p.printAttributeWithoutType(value);
}

/// Parses a literal: an integer, a real, `true`/`false`, a string, or
/// `raw(N)` (a fixed-point number by its raw value). A builtin typed literal
/// (`8 : si32`) also consumes its type, which is returned in `typedAs`.
static ParseResult parseLiteral(OpAsmParser &parser, Attribute &result,
                                Type *typedAs = nullptr) {
  if (succeeded(parser.parseOptionalKeyword("raw"))) {
    APInt raw;
    if (parser.parseLParen() || parser.parseInteger(raw) || parser.parseRParen())
      return failure();
    result = IntegerAttr::get(IntegerType::get(parser.getContext(), 64),
                              raw.sextOrTrunc(64));
    return success();
  }
  if (parser.parseAttribute(result))
    return failure();
  if (auto str = llvm::dyn_cast<StringAttr>(result)) {
    if (typedAs && !llvm::isa<NoneType>(str.getType()))
      *typedAs = str.getType();
    result = StringAttr::get(parser.getContext(), str.getValue());
    return success();
  }
  if (llvm::isa<IntegerAttr, FloatAttr>(result) && typedAs &&
      !result.isa<BoolAttr>())
    *typedAs = llvm::cast<TypedAttr>(result).getType();
  return success();
}

/// Coerces a parsed literal to `type`, with a located error if it does not fit.
static ParseResult coerceParsedLiteral(OpAsmParser &parser, SMLoc loc,
                                       Type type, Attribute &literal) {
  Attribute coerced = coerceLiteral(type, literal);
  if (!coerced)
    return parser.emitError(loc) << "literal is not a valid value of " << type;
  literal = coerced;
  return success();
}

/// Checks how each region of a structured op ends: with `netfn.yield` of the
/// op's result types, or with a verdict that leaves the handler.
static LogicalResult verifyRegionExits(Operation *op, TypeRange resultTypes) {
  for (Region &region : op->getRegions()) {
    if (region.empty() || region.front().empty() ||
        !region.front().back().hasTrait<OpTrait::IsTerminator>())
      return op->emitOpError("each region must end with netfn.yield, "
                             "netfn.forward or netfn.reject");
    Operation *term = &region.front().back();
    if (auto yield = llvm::dyn_cast_or_null<YieldOp>(term)) {
      if (yield.getValues().getTypes() != resultTypes)
        return yield.emitOpError()
               << "yields " << yield.getValues().getTypes()
               << " but the enclosing '" << op->getName() << "' produces "
               << resultTypes;
      continue;
    }
    if (llvm::isa_and_nonnull<ForwardOp, RejectOp>(term))
      continue;
    return op->emitOpError(
        "each region must end with netfn.yield, netfn.forward or "
        "netfn.reject");
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Program structure
//===----------------------------------------------------------------------===//

void ProgramOp::build(OpBuilder &builder, OperationState &state,
                      StringRef name) {
  state.addAttribute(mlir::SymbolTable::getSymbolAttrName(),
                     builder.getStringAttr(name));
  Region *body = state.addRegion();
  body->emplaceBlock();
}

LogicalResult ProgramOp::verify() {
  unsigned inits = 0;
  for (Operation &op : getBodyBlock()) {
    if (!llvm::isa<EventOp, StateOp, InitOp, HandlerOp>(op))
      return op.emitOpError("is not allowed directly in a netfn.program; "
                            "only netfn.event, netfn.state, netfn.init and "
                            "netfn.handler are");
    if (llvm::isa<InitOp>(op) && ++inits > 1)
      return op.emitOpError("a program has at most one netfn.init");
  }
  return success();
}

// netfn.event @sym "kind" (name : type, ...)
ParseResult EventOp::parse(OpAsmParser &parser, OperationState &result) {
  StringAttr symName, kind;
  if (parser.parseSymbolName(symName, SymbolTable::getSymbolAttrName(),
                             result.attributes) ||
      parser.parseAttribute(kind, "kind", result.attributes))
    return failure();
  SmallVector<Attribute> names, types;
  auto parseField = [&]() -> ParseResult {
    std::string name;
    Type type;
    if (parser.parseKeywordOrString(&name) || parser.parseColonType(type))
      return failure();
    names.push_back(parser.getBuilder().getStringAttr(name));
    types.push_back(TypeAttr::get(type));
    return success();
  };
  if (parser.parseCommaSeparatedList(OpAsmParser::Delimiter::Paren, parseField))
    return failure();
  result.addAttribute("field_names", parser.getBuilder().getArrayAttr(names));
  result.addAttribute("field_types", parser.getBuilder().getArrayAttr(types));
  return parser.parseOptionalAttrDict(result.attributes);
}

void EventOp::print(OpAsmPrinter &p) {
  p << ' ';
  p.printSymbolName(getSymName());
  p << ' ';
  p.printAttribute(getKindAttr());
  p << " (";
  llvm::interleaveComma(
      llvm::zip(getFieldNames(), getFieldTypes()), p, [&](auto pair) {
        p.printKeywordOrString(
            llvm::cast<StringAttr>(std::get<0>(pair)).getValue());
        p << " : " << llvm::cast<TypeAttr>(std::get<1>(pair)).getValue();
      });
  p << ')';
  p.printOptionalAttrDict((*this)->getAttrs(),
                          {mlir::SymbolTable::getSymbolAttrName(), "kind",
                           "field_names", "field_types"});
}

LogicalResult EventOp::verify() {
  if (getFieldNames().size() != getFieldTypes().size())
    return emitOpError("has ") << getFieldNames().size() << " field names but "
                               << getFieldTypes().size() << " field types";
  if (getKind().empty())
    return emitOpError("needs a non-empty event kind");
  if (auto layout = getWireLayout(); layout && layout->size() != getFieldNames().size())
    return emitOpError("wire_layout describes ")
           << layout->size() << " fields but the event has "
           << getFieldNames().size();
  llvm::StringSet<> seen;
  for (auto [nameAttr, typeAttr] : llvm::zip(getFieldNames(), getFieldTypes())) {
    StringRef name = llvm::cast<StringAttr>(nameAttr).getValue();
    Type type = llvm::cast<TypeAttr>(typeAttr).getValue();
    if (!seen.insert(name).second)
      return emitOpError("declares field '") << name << "' twice";
    if (!isScalarType(type))
      return emitOpError("field '")
             << name << "' must have a scalar type, not " << type;
  }
  return success();
}

Type EventOp::getFieldType(StringRef name) {
  for (auto [nameAttr, typeAttr] : llvm::zip(getFieldNames(), getFieldTypes()))
    if (llvm::cast<StringAttr>(nameAttr).getValue() == name)
      return llvm::cast<TypeAttr>(typeAttr).getValue();
  return {};
}

LogicalResult StateOp::verify() {
  if (!isStateType(getType()))
    return emitOpError("cannot hold a value of type ")
           << getType() << "; state is a scalar, pair, map or log";
  return success();
}

EventOp HandlerOp::getEventDecl() {
  return llvm::dyn_cast_or_null<EventOp>(
      SymbolTable::lookupNearestSymbolFrom(*this, getEventAttr()));
}

LogicalResult HandlerOp::verifySymbolUses(SymbolTableCollection &tables) {
  Operation *sym = tables.lookupNearestSymbolFrom(*this, getEventAttr());
  if (!llvm::isa_and_nonnull<EventOp>(sym))
    return emitOpError("is bound to '")
           << getEvent() << "', which does not name a netfn.event";
  return success();
}

//===----------------------------------------------------------------------===//
// Terminators
//===----------------------------------------------------------------------===//

static LogicalResult verifyInHandler(Operation *op, StringRef what) {
  if (!op->getParentOfType<HandlerOp>())
    return op->emitOpError() << what << " only inside a netfn.handler";
  return success();
}

LogicalResult ForwardOp::verify() {
  return verifyInHandler(*this, "is a verdict and may appear");
}

LogicalResult RejectOp::verify() {
  if (getReason().empty())
    return emitOpError("needs a non-empty reason");
  return verifyInHandler(*this, "is a verdict and may appear");
}

//===----------------------------------------------------------------------===//
// Values
//===----------------------------------------------------------------------===//

void ConstOp::build(OpBuilder &builder, OperationState &state, Type type,
                    Attribute value) {
  state.addAttribute("value", value);
  state.addTypes(type);
}

std::string ConstOp::describeMismatch(Type type, Attribute value) {
  std::string msg;
  llvm::raw_string_ostream os(msg);
  if (type.isInteger(1) || isNetfnInteger(type)) {
    auto i = llvm::dyn_cast<IntegerAttr>(value);
    if (!i || i.getType() != type)
      os << "value of a " << type << " constant must be an integer attribute "
         << "of that type";
  } else if (auto ft = llvm::dyn_cast<FixedType>(type)) {
    auto i = llvm::dyn_cast<IntegerAttr>(value);
    if (!i || !i.getType().isInteger(64))
      os << "value of a fixed-point constant must be its raw value as an i64 "
         << "integer attribute";
    else if (ft.getWidth() < 64 &&
             i.getValue().getSignificantBits() > ft.getWidth())
      os << "raw value " << i.getValue() << " does not fit in " << type;
  } else if (type.isF64()) {
    auto f = llvm::dyn_cast<FloatAttr>(value);
    if (!f || !f.getType().isF64())
      os << "value of an f64 constant must be an f64 float attribute";
  } else if (auto st = llvm::dyn_cast<StringType>(type)) {
    auto s = llvm::dyn_cast<StringAttr>(value);
    if (!s)
      os << "value of a string constant must be a string attribute";
    else if (s.getValue().size() > st.getCapacity())
      os << "string of " << s.getValue().size()
         << " bytes does not fit in " << type;
  } else {
    os << "there are no constants of type " << type;
  }
  return msg;
}

LogicalResult ConstOp::verify() {
  std::string msg = describeMismatch(getType(), getValue());
  if (!msg.empty())
    return emitOpError(msg);
  return success();
}

OpFoldResult ConstOp::fold(FoldAdaptor) { return getValue(); }

// netfn.const [attr-dict] LITERAL : TYPE
ParseResult ConstOp::parse(OpAsmParser &parser, OperationState &result) {
  Attribute value;
  Type type;
  if (parser.parseOptionalAttrDict(result.attributes))
    return failure();
  SMLoc loc = parser.getCurrentLocation();
  if (parseLiteral(parser, value, &type))
    return failure();
  if (!type && parser.parseColonType(type))
    return failure();
  if (coerceParsedLiteral(parser, loc, type, value))
    return failure();
  result.addAttribute("value", value);
  result.addTypes(type);
  return success();
}

void ConstOp::print(OpAsmPrinter &p) {
  p.printOptionalAttrDict((*this)->getAttrs(), {"value"});
  p << ' ';
  printLiteral(p, getValue(), getType());
  p << " : " << getType();
}

// netfn.cmp PRED, LHS, RHS : TYPE
ParseResult CmpOp::parse(OpAsmParser &parser, OperationState &result) {
  StringRef keyword;
  SMLoc loc = parser.getCurrentLocation();
  OpAsmParser::UnresolvedOperand lhs, rhs;
  Type type;
  if (parser.parseKeyword(&keyword))
    return failure();
  auto pred = symbolizeCmpPredicate(keyword);
  if (!pred)
    return parser.emitError(loc, "expected a comparison predicate (eq, ne, "
                                 "lt, le, gt, ge), got '")
           << keyword << "'";
  result.addAttribute(
      "predicate",
      CmpPredicateAttr::get(parser.getContext(), *pred));
  if (parser.parseComma() || parser.parseOperand(lhs) || parser.parseComma() ||
      parser.parseOperand(rhs) ||
      parser.parseOptionalAttrDict(result.attributes) ||
      parser.parseColonType(type) ||
      parser.resolveOperands({lhs, rhs}, type, result.operands))
    return failure();
  result.addTypes(parser.getBuilder().getI1Type());
  return success();
}

void CmpOp::print(OpAsmPrinter &p) {
  p << ' ' << stringifyCmpPredicate(getPredicate()) << ", " << getLhs() << ", "
    << getRhs();
  p.printOptionalAttrDict((*this)->getAttrs(), {"predicate"});
  p << " : " << getLhs().getType();
}

LogicalResult CmpOp::verify() {
  Type type = getLhs().getType();
  bool equality = getPredicate() == CmpPredicate::eq ||
                  getPredicate() == CmpPredicate::ne;
  if (llvm::isa<OptionType>(type))
    return emitOpError("cannot compare optionals; take them apart with "
                       "netfn.match_option");
  if (!equality && !(isNumeric(type) || llvm::isa<InstantType>(type)))
    return emitOpError("predicate '")
           << stringifyCmpPredicate(getPredicate())
           << "' needs an ordered type (integer, fixed, f64, instant), not "
           << type;
  return success();
}

LogicalResult CastOp::verify() {
  Type from = getInput().getType(), to = getResult().getType();
  auto isInt = [](Type t) { return isNetfnInteger(t); };
  bool ok = (isInt(from) && (isInt(to) || to.isF64() || llvm::isa<FixedType>(to))) ||
            (from.isInteger(1) && isInt(to)) ||
            (from.isF64() && (isInt(to) || llvm::isa<FixedType>(to))) ||
            (llvm::isa<FixedType>(from) &&
             (isInt(to) || to.isF64() || llvm::isa<FixedType>(to))) ||
            (llvm::isa<InstantType>(from) && to.isUnsignedInteger(64)) ||
            (from.isUnsignedInteger(64) && llvm::isa<InstantType>(to)) ||
            (llvm::isa<StringType>(from) && llvm::isa<StringType>(to));
  if (!ok)
    return emitOpError("cannot convert ") << from << " to " << to;
  return success();
}

LogicalResult BitcastOp::verify() {
  Type from = getInput().getType(), to = getResult().getType();
  auto width = [](Type t) -> unsigned {
    if (isNetfnInteger(t))
      return t.getIntOrFloatBitWidth();
    if (auto f = llvm::dyn_cast<FixedType>(t))
      return f.getWidth();
    return 0;
  };
  bool oneFixed = llvm::isa<FixedType>(from) != llvm::isa<FixedType>(to);
  if (!oneFixed || !width(from) || width(from) != width(to))
    return emitOpError("reinterprets an integer as a fixed-point number of the "
                       "same width or back, not ")
           << from << " as " << to;
  return success();
}

LogicalResult PairMakeOp::verify() {
  auto type = getResult().getType().cast<PairType>();
  if (type.getFirst() != getFirst().getType() ||
      type.getSecond() != getSecond().getType())
    return emitOpError("operand types ")
           << getFirst().getType() << ", " << getSecond().getType()
           << " do not match the result " << type;
  return success();
}

LogicalResult FirstOp::inferReturnTypes(
    MLIRContext *, std::optional<Location>, ValueRange operands,
    DictionaryAttr, RegionRange, SmallVectorImpl<Type> &inferred) {
  auto pair = llvm::dyn_cast<PairType>(operands[0].getType());
  if (!pair)
    return failure();
  inferred.push_back(pair.getFirst());
  return success();
}

LogicalResult SecondOp::inferReturnTypes(
    MLIRContext *, std::optional<Location>, ValueRange operands,
    DictionaryAttr, RegionRange, SmallVectorImpl<Type> &inferred) {
  auto pair = llvm::dyn_cast<PairType>(operands[0].getType());
  if (!pair)
    return failure();
  inferred.push_back(pair.getSecond());
  return success();
}

static LogicalResult verifyInHandlerOrInit(Operation *op) {
  if (!op->getParentOfType<HandlerOp>() && !op->getParentOfType<InitOp>())
    return op->emitOpError("may appear only inside a netfn.handler or "
                           "netfn.init");
  return success();
}

LogicalResult RandomOp::verify() { return verifyInHandlerOrInit(*this); }
LogicalResult NowOp::verify() { return verifyInHandlerOrInit(*this); }

//===----------------------------------------------------------------------===//
// Events, state, maps and logs
//===----------------------------------------------------------------------===//

/// Checks that `field` is a field of the enclosing handler's event with type
/// `type`.
static LogicalResult verifyFieldUse(Operation *op, StringRef field, Type type,
                                    SymbolTableCollection &tables) {
  auto handler = op->getParentOfType<HandlerOp>();
  if (!handler)
    return op->emitOpError("reads or writes an event field, so it may appear "
                           "only inside a netfn.handler");
  auto event = llvm::dyn_cast_or_null<EventOp>(
      tables.lookupNearestSymbolFrom(handler, handler.getEventAttr()));
  if (!event)
    return failure(); // Reported by the handler.
  Type declared = event.getFieldType(field);
  if (!declared)
    return op->emitOpError("event '")
           << event.getSymName() << "' has no field '" << field << "'";
  if (declared != type)
    return op->emitOpError("field '")
           << field << "' has type " << declared << ", not " << type;
  return success();
}

LogicalResult FieldGetOp::verifySymbolUses(SymbolTableCollection &tables) {
  return verifyFieldUse(*this, getField(), getResult().getType(), tables);
}

LogicalResult FieldSetOp::verifySymbolUses(SymbolTableCollection &tables) {
  return verifyFieldUse(*this, getField(), getValue().getType(), tables);
}

static LogicalResult verifyScalarState(Operation *op, FlatSymbolRefAttr ref,
                                       Type type,
                                       SymbolTableCollection &tables) {
  auto state = lookupState(op, ref, tables);
  if (failed(state))
    return failure();
  Type declared = state->getType();
  if (llvm::isa<MapType, LogType>(declared))
    return op->emitOpError("'")
           << ref.getValue() << "' is a " << declared
           << "; use the netfn.map.* or netfn.log.* ops";
  if (declared != type)
    return op->emitOpError("'") << ref.getValue() << "' has type " << declared
                                << ", not " << type;
  return success();
}

LogicalResult StateReadOp::verifySymbolUses(SymbolTableCollection &tables) {
  return verifyScalarState(*this, getStateAttr(), getResult().getType(),
                           tables);
}

LogicalResult StateWriteOp::verifySymbolUses(SymbolTableCollection &tables) {
  return verifyScalarState(*this, getStateAttr(), getValue().getType(), tables);
}

static LogicalResult verifyMapKey(Operation *op, FlatSymbolRefAttr ref,
                                  Type key, SymbolTableCollection &tables,
                                  MapType &map) {
  auto found = lookupStateOfType<MapType>(op, ref, tables, "a map");
  if (failed(found))
    return failure();
  map = found->second;
  if (map.getKeyType() != key)
    return op->emitOpError("key has type ")
           << key << " but map '" << ref.getValue() << "' has keys of type "
           << map.getKeyType();
  return success();
}

LogicalResult MapGetOp::verifySymbolUses(SymbolTableCollection &tables) {
  MapType map;
  if (failed(verifyMapKey(*this, getMapAttr(), getKey().getType(), tables, map)))
    return failure();
  if (getResult().getType() != OptionType::get(getContext(), map.getValueType()))
    return emitOpError("result must be ")
           << OptionType::get(getContext(), map.getValueType());
  return success();
}

LogicalResult MapSetOp::verifySymbolUses(SymbolTableCollection &tables) {
  MapType map;
  if (failed(verifyMapKey(*this, getMapAttr(), getKey().getType(), tables, map)))
    return failure();
  if (getValue().getType() != map.getValueType())
    return emitOpError("value has type ")
           << getValue().getType() << " but map '" << getMap()
           << "' holds values of type " << map.getValueType();
  return success();
}

LogicalResult MapDeleteOp::verifySymbolUses(SymbolTableCollection &tables) {
  MapType map;
  return verifyMapKey(*this, getMapAttr(), getKey().getType(), tables, map);
}

LogicalResult LogAppendOp::verifySymbolUses(SymbolTableCollection &tables) {
  auto found = lookupStateOfType<LogType>(*this, getLogAttr(), tables, "a log");
  if (failed(found))
    return failure();
  if (TypeRange(found->second.getFields()) != getValues().getTypes())
    return emitOpError("record has types ")
           << getValues().getTypes() << " but log '" << getLog()
           << "' holds records of " << found->second.getFields();
  return success();
}

LogicalResult LogSizeOp::verifySymbolUses(SymbolTableCollection &tables) {
  return lookupStateOfType<LogType>(*this, getLogAttr(), tables, "a log");
}

//===----------------------------------------------------------------------===//
// Structured control flow
//===----------------------------------------------------------------------===//

LogicalResult IfOp::verify() {
  return verifyRegionExits(*this, getResultTypes());
}

// netfn.match %x : T [-> (types)] (case LIT {..})* default {..}
ParseResult MatchOp::parse(OpAsmParser &parser, OperationState &result) {
  OpAsmParser::UnresolvedOperand scrutinee;
  Type type;
  if (parser.parseOperand(scrutinee) || parser.parseColonType(type) ||
      parser.resolveOperand(scrutinee, type, result.operands))
    return failure();
  if (succeeded(parser.parseOptionalArrow())) {
    SmallVector<Type> types;
    if (parser.parseLParen() || parser.parseTypeList(types) ||
        parser.parseRParen())
      return failure();
    result.addTypes(types);
  }
  SmallVector<Attribute> cases;
  SmallVector<std::unique_ptr<Region>> regions;
  while (succeeded(parser.parseOptionalKeyword("case"))) {
    Attribute literal;
    SMLoc loc = parser.getCurrentLocation();
    if (parseLiteral(parser, literal) ||
        coerceParsedLiteral(parser, loc, type, literal))
      return failure();
    cases.push_back(literal);
    regions.push_back(std::make_unique<Region>());
    if (parser.parseRegion(*regions.back()))
      return failure();
  }
  auto defaultRegion = std::make_unique<Region>();
  if (parser.parseKeyword("default") || parser.parseRegion(*defaultRegion) ||
      parser.parseOptionalAttrDict(result.attributes))
    return failure();
  result.addAttribute("cases", parser.getBuilder().getArrayAttr(cases));
  result.addRegion(std::move(defaultRegion));
  for (auto &r : regions)
    result.addRegion(std::move(r));
  return success();
}

void MatchOp::print(OpAsmPrinter &p) {
  p << ' ' << getScrutinee() << " : " << getScrutinee().getType();
  if (!getResults().empty())
    p << " -> (" << getResultTypes() << ')';
  for (auto [literal, region] : llvm::zip(getCases(), getCaseRegions())) {
    p << " case ";
    printLiteral(p, literal, getScrutinee().getType());
    p << ' ';
    p.printRegion(region);
  }
  p << " default ";
  p.printRegion(getDefaultRegion());
  p.printOptionalAttrDict((*this)->getAttrs(), {"cases"});
}

LogicalResult MatchOp::verify() {
  if (getCases().size() != getCaseRegions().size())
    return emitOpError("has ") << getCases().size() << " case literals but "
                               << getCaseRegions().size() << " case regions";
  Type type = getScrutinee().getType();
  if (llvm::isa<OptionType>(type))
    return emitOpError("matches an optional; use netfn.match_option");
  llvm::DenseSet<Attribute> seen;
  for (Attribute literal : getCases()) {
    std::string msg = ConstOp::describeMismatch(type, literal);
    if (!msg.empty())
      return emitOpError("case ") << literal << ": " << msg;
    if (!seen.insert(literal).second)
      return emitOpError("case ") << literal << " appears twice";
  }
  return verifyRegionExits(*this, getResultTypes());
}

// netfn.match_option %o : !netfn.option<T> [-> (types)] some(%x) {..} none {..}
ParseResult MatchOptionOp::parse(OpAsmParser &parser, OperationState &result) {
  OpAsmParser::UnresolvedOperand operand;
  Type type;
  SMLoc loc = parser.getCurrentLocation();
  if (parser.parseOperand(operand) || parser.parseColonType(type) ||
      parser.resolveOperand(operand, type, result.operands))
    return failure();
  auto optType = llvm::dyn_cast<OptionType>(type);
  if (!optType)
    return parser.emitError(loc, "expected an !netfn.option operand");
  if (succeeded(parser.parseOptionalArrow())) {
    SmallVector<Type> types;
    if (parser.parseLParen() || parser.parseTypeList(types) ||
        parser.parseRParen())
      return failure();
    result.addTypes(types);
  }
  OpAsmParser::Argument value;
  Region *some = result.addRegion();
  Region *none = result.addRegion();
  if (parser.parseKeyword("some") || parser.parseLParen() ||
      parser.parseArgument(value) || parser.parseRParen())
    return failure();
  value.type = optType.getValueType();
  if (parser.parseRegion(*some, {value}) || parser.parseKeyword("none") ||
      parser.parseRegion(*none) ||
      parser.parseOptionalAttrDict(result.attributes))
    return failure();
  return success();
}

void MatchOptionOp::print(OpAsmPrinter &p) {
  p << ' ' << getOptional() << " : " << getOptional().getType();
  if (!getResults().empty())
    p << " -> (" << getResultTypes() << ')';
  p << " some(";
  if (getSomeRegion().getNumArguments() == 1)
    p.printRegionArgument(getSomeRegion().getArgument(0), {},
                          /*omitType=*/true);
  p << ") ";
  p.printRegion(getSomeRegion(), /*printEntryBlockArgs=*/false);
  p << " none ";
  p.printRegion(getNoneRegion());
  p.printOptionalAttrDict((*this)->getAttrs());
}

LogicalResult MatchOptionOp::verify() {
  Type payload = getOptional().getType().cast<OptionType>().getValueType();
  if (getSomeRegion().empty() || getSomeRegion().getNumArguments() != 1 ||
      getSomeRegion().getArgument(0).getType() != payload)
    return emitOpError("'some' region must take one argument of type ")
           << payload;
  if (!getNoneRegion().empty() && getNoneRegion().getNumArguments() != 0)
    return emitOpError("'none' region takes no arguments");
  return verifyRegionExits(*this, getResultTypes());
}

LogicalResult ForeachOp::verify() {
  if (getBound() <= 0)
    return emitOpError("bound must be positive, got ") << getBound();
  if (getIterInits().getTypes() != getResultTypes())
    return emitOpError("loop-carried values ")
           << getIterInits().getTypes() << " must match the results "
           << getResultTypes();
  return verifyRegionExits(*this, getResultTypes());
}

LogicalResult ForeachOp::verifySymbolUses(SymbolTableCollection &tables) {
  auto found = lookupStateOfType<LogType>(*this, getLogAttr(), tables, "a log");
  if (failed(found))
    return failure();
  SmallVector<Type> expected(found->second.getFields());
  llvm::append_range(expected, getResultTypes());
  if (getBody().empty() ||
      getBody().front().getArgumentTypes() != TypeRange(expected))
    return emitOpError("body must take the record fields then the "
                       "loop-carried values: ")
           << expected;
  return success();
}

#define GET_OP_CLASSES
#include "sbpf/Netfn/NetfnOps.cpp.inc"
