//===- FloatToFixed.cpp - every f64 becomes Q31.32 fixed point ------------===//
//
// The rewrite is done in place: netfn's arithmetic, comparison and
// structured ops are defined for fixed-point operands with the same meaning
// (Passes.td), so after the exact patterns, the constants and the event
// boundary are handled, every f64 result and block argument simply takes the
// fixed-point type.
//
//===----------------------------------------------------------------------===//
#include "sbpf/Passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/ToolOutputFile.h"

#include <cmath>
#include <cstdio>

namespace sbpf {
#define GEN_PASS_DEF_NETFNFLOATTOFIXED
#include "NetfnPasses.h.inc"
} // namespace sbpf

using namespace mlir;
using namespace sbpf::netfn;

namespace {

constexpr unsigned kWidth = 64, kFrac = 32;

/// The f64 value of `v` if it is a netfn.const of type f64.
std::optional<double> constantReal(Value v) {
  auto c = v.getDefiningOp<ConstOp>();
  if (!c || !c.getType().isF64())
    return std::nullopt;
  return llvm::cast<FloatAttr>(c.getValue()).getValueAsDouble();
}

/// The integer `x` if `v` is `netfn.cast %x : <int> to f64`.
Value castFromInteger(Value v) {
  auto cast = v.getDefiningOp<CastOp>();
  if (!cast || !cast.getType().isF64() || !isNetfnInteger(cast.getInput().getType()))
    return {};
  return cast.getInput();
}

/// Removes the pure op defining `v` once a rewrite left it unused.
void eraseIfDead(Value v) {
  Operation *def = v.getDefiningOp();
  if (def && def->use_empty() && llvm::isa<ConstOp, CastOp>(def))
    def->erase();
}

/// "FILE:LINE:COL" of an op's location, or its printed form.
std::string where(Location loc) {
  std::string key;
  loc->walk([&](Location l) {
    if (auto f = llvm::dyn_cast<FileLineColLoc>(l)) {
      key = (f.getFilename().getValue() + ":" + Twine(f.getLine()) + ":" +
             Twine(f.getColumn()))
                .str();
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return key.empty() ? "unknown" : key;
}

/// One line of the error report: where, what, and the absolute error (exact)
/// or its bound, in real units.
struct ErrorEntry {
  std::string loc, kind, detail;
  double error;
  bool bound; // error is an upper bound (else the exact error)
};

struct FloatToFixed : sbpf::impl::NetfnFloatToFixedBase<FloatToFixed> {
  using Base::Base;
  void runOnOperation() override;

private:
  Type convert(Type type);
  void rewriteRandomFraction(MulOp mul);
  void rewriteNanosToSeconds(DivOp div);
  LogicalResult rewriteConstant(ConstOp op);

  LogicalResult writeReport();

  FixedType fixed;
  std::vector<ErrorEntry> report;
};

Type FloatToFixed::convert(Type type) {
  MLIRContext *ctx = type.getContext();
  if (type.isF64())
    return fixed;
  if (auto pair = llvm::dyn_cast<PairType>(type))
    return PairType::get(ctx, convert(pair.getFirst()), convert(pair.getSecond()));
  if (auto opt = llvm::dyn_cast<OptionType>(type))
    return OptionType::get(ctx, convert(opt.getValueType()));
  if (auto map = llvm::dyn_cast<MapType>(type))
    return MapType::get(ctx, convert(map.getKeyType()), convert(map.getValueType()),
                        map.getCapacity());
  if (auto log = llvm::dyn_cast<LogType>(type)) {
    SmallVector<Type> fields;
    for (Type t : log.getFields())
      fields.push_back(convert(t));
    return LogType::get(ctx, fields);
  }
  return type;
}

/// `cast(r : ui32 → f64) * 2^-32` is exactly the fixed-point number with raw
/// value r: no rounding, whatever r is.
void FloatToFixed::rewriteRandomFraction(MulOp mul) {
  Value lhs = mul.getLhs(), rhs = mul.getRhs();
  if (constantReal(lhs))
    std::swap(lhs, rhs);
  Value draw = castFromInteger(lhs);
  std::optional<double> scale = constantReal(rhs);
  if (!draw || !scale || *scale != std::ldexp(1.0, -32) ||
      !draw.getType().isUnsignedInteger(32))
    return;
  OpBuilder b(mul);
  auto u64 = IntegerType::get(&getContext(), 64, IntegerType::Unsigned);
  Value wide = b.create<CastOp>(mul.getLoc(), u64, draw);
  Value exact = b.create<BitcastOp>(mul.getLoc(), fixed, wide);
  report.push_back({where(mul.getLoc()), "exact",
                    "randomf fraction r * 2^-32 is the raw value r", 0, false});
  mul.getResult().replaceAllUsesWith(exact);
  mul.erase();
  eraseIfDead(lhs);
  eraseIfDead(rhs);
}

/// `cast(ns : si64|ui64 → f64) / 1e9` in integers: trunc(ns * 2^32 / 10^9),
/// split into whole seconds and the remainder so nothing overflows.
void FloatToFixed::rewriteNanosToSeconds(DivOp div) {
  Value nanos = castFromInteger(div.getLhs());
  std::optional<double> divisor = constantReal(div.getRhs());
  if (!nanos || !divisor || *divisor != 1e9 ||
      nanos.getType().getIntOrFloatBitWidth() != 64)
    return;
  OpBuilder b(div);
  Location loc = div.getLoc();
  Type t = nanos.getType();
  auto constant = [&](uint64_t v) -> Value {
    return b.create<ConstOp>(loc, t, IntegerAttr::get(t, APInt(64, v)));
  };
  Value billion = constant(1000000000), scale = constant(1ull << kFrac);
  Value secs = b.create<DivOp>(loc, nanos, billion);
  Value rem = b.create<RemOp>(loc, nanos, billion);
  Value whole = b.create<MulOp>(loc, secs, scale);
  Value frac = b.create<DivOp>(loc, b.create<MulOp>(loc, rem, scale), billion);
  Value raw = b.create<AddOp>(loc, whole, frac);
  auto s64 = IntegerType::get(&getContext(), 64, IntegerType::Signed);
  if (raw.getType() != s64)
    raw = b.create<CastOp>(loc, s64, raw);
  report.push_back({where(loc), "exact form",
                    "nanoseconds / 1e9 as trunc(ns * 2^32 / 10^9) in integers",
                    std::ldexp(1.0, -int(kFrac)), true});
  Value seconds = div.getLhs(), divisorValue = div.getRhs();
  div.getResult().replaceAllUsesWith(b.create<BitcastOp>(loc, fixed, raw));
  div.erase();
  eraseIfDead(seconds);
  eraseIfDead(divisorValue);
}

LogicalResult FloatToFixed::rewriteConstant(ConstOp op) {
  double v = llvm::cast<FloatAttr>(op.getValue()).getValueAsDouble();
  double scaled = std::nearbyint(std::ldexp(v, kFrac)); // Round to nearest.
  if (!std::isfinite(v) || std::fabs(scaled) >= std::ldexp(1.0, kWidth - 1))
    return op.emitError() << "the real constant " << v
                          << " is outside the range (-2^31, 2^31) of " << fixed;
  char text[64];
  std::snprintf(text, sizeof(text), "%.17g -> raw %lld", v,
                (long long)(int64_t)scaled);
  report.push_back({where(op.getLoc()), "constant", text,
                    std::fabs(v - std::ldexp(scaled, -int(kFrac))), false});
  OpBuilder b(op);
  auto raw = IntegerAttr::get(IntegerType::get(&getContext(), 64),
                              APInt(64, (uint64_t)(int64_t)scaled, /*isSigned=*/true));
  op.getResult().replaceAllUsesWith(b.create<ConstOp>(op.getLoc(), fixed, raw));
  op.erase();
  return success();
}

void FloatToFixed::runOnOperation() {
  ModuleOp module = getOperation();
  fixed = FixedType::get(&getContext(), kWidth, kFrac);

  // Exact forms first, while the f64 constants they recognise still exist.
  module.walk([&](MulOp op) { rewriteRandomFraction(op); });
  module.walk([&](DivOp op) { rewriteNanosToSeconds(op); });

  // Event fields keep their wire type: convert where they are read.
  module.walk([&](FieldGetOp op) {
    if (!op.getType().isF64())
      return;
    OpBuilder b(op->getContext());
    b.setInsertionPointAfter(op);
    auto cast = b.create<CastOp>(op.getLoc(), fixed, op.getResult());
    op.getResult().replaceAllUsesExcept(cast.getResult(), cast);
  });

  bool failed = false;
  module.walk([&](ConstOp op) {
    if (op.getType().isF64() && mlir::failed(rewriteConstant(op)))
      failed = true;
  });
  if (failed)
    return signalPassFailure();

  // Literal arms of a match on a real compare against fixed-point literals.
  module.walk([&](MatchOp op) {
    if (!op.getScrutinee().getType().isF64())
      return;
    SmallVector<Attribute> cases;
    for (Attribute c : op.getCases()) {
      double scaled = std::nearbyint(
          std::ldexp(llvm::cast<FloatAttr>(c).getValueAsDouble(), kFrac));
      cases.push_back(IntegerAttr::get(IntegerType::get(&getContext(), 64),
                                       APInt(64, (uint64_t)(int64_t)scaled, true)));
    }
    op.setCasesAttr(ArrayAttr::get(&getContext(), cases));
  });

  module.walk([&](StateOp op) { op.setTypeAttr(TypeAttr::get(convert(op.getType()))); });

  // Everything else: the same op, on the fixed-point type.
  module.walk([&](Operation *op) {
    if (!llvm::isa<FieldGetOp>(op))
      for (OpResult r : op->getResults())
        r.setType(convert(r.getType()));
    for (Region &region : op->getRegions())
      for (Block &block : region)
        for (BlockArgument arg : block.getArguments())
          arg.setType(convert(arg.getType()));
  });

  // Casts that became identities, and field writes that need their wire type.
  module.walk([&](CastOp op) {
    if (op.getInput().getType() == op.getType()) {
      op.getResult().replaceAllUsesWith(op.getInput());
      op.erase();
    }
  });
  // What rounds at run time: products and quotients truncate (one unit of
  // 2^-32 at most per operation), f64 fields convert toward zero.
  module.walk([&](Operation *op) {
    if (llvm::isa<MulOp, DivOp>(op) && op->getResult(0).getType() == fixed)
      report.push_back({where(op->getLoc()), "operation",
                        op->getName().getStringRef().str() + " truncates",
                        std::ldexp(1.0, -int(kFrac)), true});
    else if (auto cast = llvm::dyn_cast<CastOp>(op))
      if (cast.getInput().getType().isF64() && cast.getType() == fixed)
        report.push_back({where(op->getLoc()), "field conversion",
                          "f64 field to fixed point, toward zero",
                          std::ldexp(1.0, -int(kFrac)), true});
  });
  if (!reportFile.empty() && mlir::failed(writeReport()))
    return signalPassFailure();

  module.walk([&](FieldSetOp op) {
    auto handler = op->getParentOfType<HandlerOp>();
    EventOp event = handler ? handler.getEventDecl() : EventOp();
    Type wire = event ? event.getFieldType(op.getField()) : Type();
    if (wire && wire != op.getValue().getType()) {
      OpBuilder b(op);
      op.getValueMutable().assign(b.create<CastOp>(op.getLoc(), wire, op.getValue()));
    }
  });
}

LogicalResult FloatToFixed::writeReport() {
  std::string error;
  auto out = openOutputFile(reportFile, &error);
  if (!out)
    return getOperation().emitError()
           << "netfn-float-to-fixed: cannot write report '" << reportFile
           << "': " << error;
  double worstConstant = 0, perOperation = 0;
  llvm::json::OStream j(out->os(), 2);
  j.object([&] {
    j.attribute("format", "fixed<64, 32> (Q31.32) for every real value");
    j.attribute("unit", std::ldexp(1.0, -int(kFrac)));
    j.attributeArray("entries", [&] {
      for (const ErrorEntry &e : report) {
        if (e.kind == "constant")
          worstConstant = std::max(worstConstant, e.error);
        else
          perOperation = std::max(perOperation, e.error);
        j.object([&] {
          j.attribute("loc", e.loc);
          j.attribute("kind", e.kind);
          j.attribute("detail", e.detail);
          j.attribute(e.bound ? "error_bound" : "error", e.error);
        });
      }
    });
    j.attribute("max_constant_error", worstConstant);
    j.attribute("max_error_per_operation", perOperation);
  });
  out->os() << "\n";
  out->keep();
  return success();
}

} // namespace

std::unique_ptr<Pass> sbpf::createNetfnFloatToFixedPass() {
  return std::make_unique<FloatToFixed>();
}
