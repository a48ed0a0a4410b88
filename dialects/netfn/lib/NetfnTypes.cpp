//===- NetfnTypes.cpp - netfn types and type predicates -------------------===//
#include "sbpf/Netfn/Netfn.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace sbpf::netfn;

#define GET_TYPEDEF_CLASSES
#include "sbpf/Netfn/NetfnTypes.cpp.inc"

namespace sbpf::netfn {

bool isNetfnInteger(Type type) {
  auto it = llvm::dyn_cast<IntegerType>(type);
  if (!it || it.isSignless())
    return false;
  unsigned w = it.getWidth();
  return w == 8 || w == 16 || w == 32 || w == 64;
}

bool isNumeric(Type type) {
  return isNetfnInteger(type) || type.isF64() || llvm::isa<FixedType>(type);
}

bool isScalarType(Type type) {
  return type.isInteger(1) || isNumeric(type) ||
         llvm::isa<StringType, InstantType>(type);
}

bool isValueType(Type type) {
  if (isScalarType(type))
    return true;
  if (auto pair = llvm::dyn_cast<PairType>(type))
    return isValueType(pair.getFirst()) && isValueType(pair.getSecond());
  if (auto opt = llvm::dyn_cast<OptionType>(type))
    return isValueType(opt.getValueType());
  return false;
}

bool isStateType(Type type) {
  return (isValueType(type) && !llvm::isa<OptionType>(type)) ||
         llvm::isa<MapType, LogType>(type);
}

} // namespace sbpf::netfn

LogicalResult FixedType::verify(function_ref<InFlightDiagnostic()> emitError,
                                unsigned width, unsigned frac) {
  if (width != 8 && width != 16 && width != 32 && width != 64)
    return emitError() << "fixed-point width must be 8, 16, 32 or 64, got "
                       << width;
  if (frac >= width)
    return emitError() << "fixed-point scale " << frac
                       << " must be smaller than the width " << width;
  return success();
}

LogicalResult StringType::verify(function_ref<InFlightDiagnostic()> emitError,
                                 unsigned capacity) {
  if (capacity == 0 || capacity > 4096)
    return emitError() << "string capacity must be in [1, 4096], got "
                       << capacity;
  return success();
}

LogicalResult OptionType::verify(function_ref<InFlightDiagnostic()> emitError,
                                 Type valueType) {
  if (!isValueType(valueType) || llvm::isa<OptionType>(valueType))
    return emitError() << "option payload must be a non-optional netfn value "
                          "type, got "
                       << valueType;
  return success();
}

LogicalResult PairType::verify(function_ref<InFlightDiagnostic()> emitError,
                               Type first, Type second) {
  for (Type t : {first, second})
    if (!isValueType(t) || llvm::isa<OptionType>(t))
      return emitError() << "pair element must be a non-optional netfn value "
                            "type, got "
                         << t;
  return success();
}

LogicalResult MapType::verify(function_ref<InFlightDiagnostic()> emitError,
                              Type keyType, Type valueType, uint64_t capacity) {
  if (!isValueType(keyType) || llvm::isa<OptionType>(keyType))
    return emitError() << "map key must be a non-optional netfn value type, "
                          "got "
                       << keyType;
  if (!isValueType(valueType) || llvm::isa<OptionType>(valueType))
    return emitError() << "map value must be a non-optional netfn value type, "
                          "got "
                       << valueType;
  if (capacity == 0 || capacity > (1u << 24))
    return emitError() << "map capacity must be in [1, 16777216], got "
                       << capacity;
  return success();
}

LogicalResult LogType::verify(function_ref<InFlightDiagnostic()> emitError,
                              ArrayRef<Type> fields) {
  if (fields.empty())
    return emitError() << "a log record needs at least one field";
  for (Type t : fields)
    if (!isValueType(t) || llvm::isa<OptionType>(t))
      return emitError() << "log field must be a non-optional netfn value "
                            "type, got "
                         << t;
  return success();
}

void NetfnDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "sbpf/Netfn/NetfnTypes.cpp.inc"
      >();
}
