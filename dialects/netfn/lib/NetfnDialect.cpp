//===- NetfnDialect.cpp - the netfn dialect -------------------------------===//
#include "sbpf/Netfn/Netfn.h"

using namespace mlir;
using namespace sbpf::netfn;

#include "sbpf/Netfn/NetfnDialect.cpp.inc"
#include "sbpf/Netfn/NetfnEnums.cpp.inc"

void NetfnDialect::initialize() {
  registerTypes();
  addOperations<
#define GET_OP_LIST
#include "sbpf/Netfn/NetfnOps.cpp.inc"
      >();
}

Operation *NetfnDialect::materializeConstant(OpBuilder &builder,
                                             Attribute value, Type type,
                                             Location loc) {
  if (!ConstOp::describeMismatch(type, value).empty())
    return nullptr;
  return builder.create<ConstOp>(loc, type, value);
}
