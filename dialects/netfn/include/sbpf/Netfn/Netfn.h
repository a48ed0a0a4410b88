//===- Netfn.h - the netfn dialect: types and ops --------------*- C++ -*-===//
#ifndef SBPF_NETFN_NETFN_H
#define SBPF_NETFN_NETFN_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "sbpf/Netfn/NetfnDialect.h.inc"
#include "sbpf/Netfn/NetfnEnums.h.inc"

#define GET_TYPEDEF_CLASSES
#include "sbpf/Netfn/NetfnTypes.h.inc"

namespace sbpf::netfn {
/// An integer with explicit signedness (si8..si64, ui8..ui64). Signless
/// integers other than i1 (bool) are not netfn types: the meaning of
/// division, comparison and extension depends on signedness.
bool isNetfnInteger(mlir::Type type);
/// Integer, fixed-point or f64.
bool isNumeric(mlir::Type type);
/// bool, integer, fixed-point, f64, string or instant.
bool isScalarType(mlir::Type type);
/// A scalar, a pair of values, or an optional value: what SSA values hold.
bool isValueType(mlir::Type type);
/// A value type, a map or a log: what `netfn.state` may declare.
bool isStateType(mlir::Type type);
} // namespace sbpf::netfn

#define GET_OP_CLASSES
#include "sbpf/Netfn/NetfnOps.h.inc"

#endif // SBPF_NETFN_NETFN_H
