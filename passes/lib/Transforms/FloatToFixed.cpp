//===- FloatToFixed.cpp - reals to fixed point, scale chosen per range ----===//
//
// eBPF has no floating point, so every f64 becomes a signed 64-bit fixed
// point number `!netfn.fixed<64, F>`. The steps:
//
// 1. Exact forms, while the f64 constants they recognise still exist: a
//    random fraction r * 2^-32 is the Q31.32 number with raw value r, and
//    nanoseconds / 10^9 is computed in integers.
// 2. A range analysis over the reals (interval arithmetic, a fixpoint over
//    init and every handler for state; a bound still moving after a few
//    rounds is widened to the next power of two, and beyond 2^31 to
//    infinity) gives each real value an interval.
// 3. Each value gets the largest scale F (at most maxScale, at least 32)
//    whose range, with one bit of headroom, fits 64 signed bits; unbounded
//    values keep Q31.32 and its documented overflow (wrapping). An op
//    computes at the smallest scale of its operands and its result, with
//    `netfn.cast` between fixed types where scales differ; a constant is
//    rounded directly at the scale its use needs (so a probability p, an
//    f64 m * 2^-53, is exact at F >= 53).
// 4. The rewrite is in place: netfn's ops are defined for fixed-point
//    operands with the same meaning, so each f64 result, block argument
//    and state just takes its fixed-point type.
// 5. The report (report=FILE) gives per value its range, scale and a
//    propagated absolute error bound (a second fixpoint, over the fixed
//    program), per constant its exact rounding error and per op its bound.
//
// Pairs, options, maps and logs holding reals are not range-tracked: their
// reals are Q31.32 and reported unbounded (a component cast into one goes
// to scale 32 first).
//
//===----------------------------------------------------------------------===//
#include "sbpf/Passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/ToolOutputFile.h"

#include <cmath>
#include <cstdio>
#include <limits>

namespace sbpf {
#define GEN_PASS_DEF_NETFNFLOATTOFIXED
#include "NetfnPasses.h.inc"
} // namespace sbpf

using namespace mlir;
using namespace sbpf::netfn;

namespace {

constexpr unsigned kWidth = 64, kMinFrac = 32;
constexpr double kInf = std::numeric_limits<double>::infinity();
/// Rounds of growth of one state variable or loop-carried value before its
/// bounds that still move are widened (to the next threshold, each round).
constexpr unsigned kWidenAfter = 3;

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

/// A real scalar: f64, or fixed point (the exact forms and converted values).
bool isReal(Type t) { return t.isF64() || llvm::isa<FixedType>(t); }

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

//===----------------------------------------------------------------------===//
// Lattices
//===----------------------------------------------------------------------===//

/// A closed interval of reals; lo > hi is the empty interval (nothing flows
/// there yet). Interval arithmetic is done in doubles rounding to nearest:
/// the scale's bit of headroom covers that rounding.
struct Range {
  double lo = kInf, hi = -kInf;

  static Range bottom() { return {}; }
  static Range top() { return {-kInf, kInf}; }
  static Range point(double v) { return {v, v}; }
  /// The state's value before any write.
  static Range zero() { return point(0); }

  bool empty() const { return lo > hi; }
  bool bounded() const { return std::isfinite(lo) && std::isfinite(hi); }
  double magnitude() const { return std::max(std::fabs(lo), std::fabs(hi)); }
  bool contains(double v) const { return lo <= v && v <= hi; }
  Range join(const Range &o) const {
    return {std::min(lo, o.lo), std::max(hi, o.hi)};
  }
  /// The bounds that moved since `old` go to the next threshold: 0, then
  /// powers of two, then (beyond 2^31, where no scale >= 32 fits) infinity.
  /// Finitely many steps, and a contracting update (x = x / 2 + u) settles
  /// at a power of two instead of being lost to infinity.
  Range widen(const Range &old) const {
    if (old.empty())
      return *this;
    double down = threshold(-lo);
    return {lo < old.lo ? (down == 0 ? 0 : -down) : lo,
            hi > old.hi ? threshold(hi) : hi};
  }
  static double threshold(double x) {
    if (x <= 0)
      return 0;
    if (x > std::ldexp(1.0, 31))
      return kInf;
    int e;
    double m = std::frexp(x, &e);
    return m == 0.5 ? x : std::ldexp(1.0, e);
  }
  bool operator==(const Range &o) const { return lo == o.lo && hi == o.hi; }
};

/// NaN (inf - inf, 0 * inf) becomes the whole line.
Range checked(double lo, double hi) {
  if (std::isnan(lo) || std::isnan(hi))
    return Range::top();
  return {lo, hi};
}

/// x * y with 0 * inf = 0 (a bound of an interval, not an IEEE product).
double boundMul(double x, double y) { return x == 0 || y == 0 ? 0 : x * y; }

Range rangeAdd(Range a, Range b) {
  if (a.empty() || b.empty())
    return Range::bottom();
  return checked(a.lo + b.lo, a.hi + b.hi);
}
Range rangeSub(Range a, Range b) {
  if (a.empty() || b.empty())
    return Range::bottom();
  return checked(a.lo - b.hi, a.hi - b.lo);
}
Range rangeMul(Range a, Range b) {
  if (a.empty() || b.empty())
    return Range::bottom();
  double p[] = {boundMul(a.lo, b.lo), boundMul(a.lo, b.hi),
                boundMul(a.hi, b.lo), boundMul(a.hi, b.hi)};
  return checked(*std::min_element(p, p + 4), *std::max_element(p, p + 4));
}
Range rangeDiv(Range a, Range b) {
  if (a.empty() || b.empty())
    return Range::bottom();
  if (b.contains(0)) // x / 0 (f64: infinities; fixed: 0) -> unbounded
    return Range::top();
  return rangeMul(a, {1 / b.hi, 1 / b.lo});
}

/// An absolute error bound (0 = exact, infinity = unbounded).
struct Error {
  double e = 0;
  static Error bottom() { return {}; }
  static Error top() { return {kInf}; }
  static Error zero() { return {}; }
  Error join(const Error &o) const { return {std::max(e, o.e)}; }
  /// A growing bound goes to the next power of two (2^-64 at least), and
  /// beyond 1 to infinity (no use reporting it).
  Error widen(const Error &old) const {
    if (e <= old.e)
      return *this;
    if (e > 1)
      return top();
    int x;
    double m = std::frexp(std::max(e, std::ldexp(1.0, -64)), &x);
    return {m == 0.5 ? std::max(e, std::ldexp(1.0, -64)) : std::ldexp(1.0, x)};
  }
  bool operator==(const Error &o) const { return e == o.e; }
};

//===----------------------------------------------------------------------===//
// The fixpoint over a program's structure
//===----------------------------------------------------------------------===//

/// Propagates a lattice value L through a netfn.program: SSA values op by
/// op (the `transfer` callback for ops without regions other than state
/// access), state variables as the join of what init and every handler
/// write (a fixpoint over rounds of init then the handlers), structured
/// results as the join of their regions' yields, loop-carried values as a
/// fixpoint of the loop body. Growth past kWidenAfter rounds widens.
template <typename L> class Flow {
public:
  using Transfer = std::function<void(Operation *, Flow &)>;

  Flow(ProgramOp program, std::function<bool(StateOp)> tracked,
       std::function<L(StateOp)> entry, Transfer transfer)
      : program(program), transfer(std::move(transfer)) {
    for (StateOp s : program.getStateOps())
      if (tracked(s))
        states[s.getSymName()] = entry(s);
  }

  L get(Value v) const {
    auto it = values.find(v);
    return it == values.end() ? L::bottom() : it->second;
  }
  void set(Value v, L l) { values[v] = l; }
  bool isTracked(StringRef state) const { return states.count(state); }
  L state(StringRef name) const { return states.lookup(name); }
  const llvm::DenseMap<Value, L> &all() const { return values; }

  void run() {
    // Widening by thresholds bounds the rounds: at most ~100 steps per
    // bound; the cap is a guard, not a limit reached in practice.
    for (unsigned round = 0; round < 4096; ++round) {
      changed = false;
      for (Operation &op : program.getBodyBlock())
        if (llvm::isa<InitOp, HandlerOp>(op))
          visitBlock(op.getRegion(0).front());
      if (!changed)
        return;
    }
  }

private:
  /// Joins `next` into `slot`, widening once it has grown kWidenAfter times.
  bool grow(L &slot, L next, unsigned &count) {
    L joined = slot.join(next);
    if (joined == slot)
      return false;
    if (++count > kWidenAfter)
      joined = joined.widen(slot);
    slot = joined;
    return true;
  }

  /// Visits the block; the values its yield passes on, or none when it
  /// ends in a verdict.
  std::optional<SmallVector<L>> visitBlock(Block &block) {
    for (Operation &op : block)
      visitOp(&op);
    auto yield = llvm::dyn_cast<YieldOp>(block.getTerminator());
    if (!yield)
      return std::nullopt;
    SmallVector<L> out;
    for (Value v : yield.getValues())
      out.push_back(get(v));
    return out;
  }

  void visitOp(Operation *op) {
    if (auto read = llvm::dyn_cast<StateReadOp>(op)) {
      set(read.getResult(),
          isTracked(read.getState()) ? state(read.getState()) : L::top());
      return;
    }
    if (auto write = llvm::dyn_cast<StateWriteOp>(op)) {
      auto it = states.find(write.getState());
      if (it != states.end() &&
          grow(it->second, get(write.getValue()), stateGrowth[write.getState()]))
        changed = true;
      return;
    }
    if (auto loop = llvm::dyn_cast<ForeachOp>(op)) {
      visitLoop(loop);
      return;
    }
    if (op->getNumRegions() == 0) {
      transfer(op, *this);
      return;
    }
    // if, match, match_option: the join of the regions that yield.
    SmallVector<L> results(op->getNumResults(), L::bottom());
    for (Region &region : op->getRegions()) {
      Block &block = region.front();
      for (BlockArgument arg : block.getArguments())
        set(arg, L::top()); // match_option's value: from a map, not tracked
      if (auto yielded = visitBlock(block))
        for (auto [r, y] : llvm::zip(results, *yielded))
          r = r.join(y);
    }
    for (auto [res, l] : llvm::zip(op->getResults(), results))
      set(res, l);
  }

  void visitLoop(ForeachOp loop) {
    Block &body = loop.getBody().front();
    unsigned fields = body.getNumArguments() - loop.getIterInits().size();
    for (unsigned i = 0; i < fields; ++i)
      set(body.getArgument(i), L::top()); // log records: not tracked
    SmallVector<L> carried;
    for (Value init : loop.getIterInits())
      carried.push_back(get(init));
    for (unsigned round = 0; round < 4096; ++round) {
      for (unsigned i = 0; i < carried.size(); ++i)
        set(body.getArgument(fields + i), carried[i]);
      auto yielded = visitBlock(body);
      bool grew = false;
      if (yielded)
        for (unsigned i = 0; i < carried.size(); ++i)
          grew |= grow(carried[i], (*yielded)[i],
                       loopGrowth[body.getArgument(fields + i)]);
      if (!grew)
        break;
    }
    for (auto [res, l] : llvm::zip(loop.getResults(), carried))
      set(res, l);
  }

  ProgramOp program;
  Transfer transfer;
  llvm::DenseMap<Value, L> values;
  llvm::StringMap<L> states;
  llvm::StringMap<unsigned> stateGrowth;
  llvm::DenseMap<Value, unsigned> loopGrowth;
  bool changed = false;
};

/// Whether init certainly writes `name` before anything reads it: a write at
/// the top level of init's body and no read of it in init. Otherwise the
/// state's zero is one of its values.
bool initOverwrites(ProgramOp program, StringRef name) {
  for (InitOp init : program.getBodyBlock().getOps<InitOp>()) {
    bool read = false, topWrite = false;
    init.walk([&](Operation *op) {
      if (auto r = llvm::dyn_cast<StateReadOp>(op))
        read |= r.getState() == name;
      else if (auto w = llvm::dyn_cast<StateWriteOp>(op))
        topWrite |= w.getState() == name && op->getParentOp() == init;
    });
    return topWrite && !read;
  }
  return false;
}

/// The range of the values an integer type holds.
Range integerRange(Type t) {
  if (t.isInteger(1))
    return {0, 1};
  auto it = llvm::dyn_cast<IntegerType>(t);
  if (!it || !isNetfnInteger(t))
    return Range::top();
  unsigned w = it.getWidth();
  if (it.isUnsigned())
    return {0, std::ldexp(1.0, w) - 1};
  return {-std::ldexp(1.0, w - 1), std::ldexp(1.0, w - 1) - 1};
}

/// The range of the real computed by `op` (phase 1), for its real results.
void rangeTransfer(Operation *op, Flow<Range> &flow) {
  if (op->getNumResults() != 1 || !isReal(op->getResult(0).getType())) {
    for (Value r : op->getResults())
      flow.set(r, Range::top());
    return;
  }
  Value res = op->getResult(0);
  auto in = [&](unsigned i) { return flow.get(op->getOperand(i)); };
  Range r = Range::top();
  if (auto c = llvm::dyn_cast<ConstOp>(op)) {
    if (auto f = llvm::dyn_cast<FloatAttr>(c.getValue()))
      r = Range::point(f.getValueAsDouble());
  } else if (auto bc = llvm::dyn_cast<BitcastOp>(op)) {
    // The random fraction: the raw value is an unsigned draw of N <= 32 bits.
    auto ft = llvm::cast<FixedType>(res.getType());
    auto ext = bc.getInput().getDefiningOp<CastOp>();
    auto src = ext ? llvm::dyn_cast<IntegerType>(ext.getInput().getType())
                   : IntegerType();
    if (src && src.isUnsigned() && src.getWidth() <= 32 &&
        ext.getType().isUnsignedInteger(64))
      r = {0, std::ldexp(std::ldexp(1.0, src.getWidth()) - 1, -int(ft.getFrac()))};
  } else if (auto cast = llvm::dyn_cast<CastOp>(op)) {
    Type from = cast.getInput().getType();
    if (isNetfnInteger(from) || from.isInteger(1))
      r = integerRange(from);
    else if (llvm::isa<FixedType>(from))
      r = in(0);
  } else if (llvm::isa<AddOp>(op)) {
    r = rangeAdd(in(0), in(1));
  } else if (llvm::isa<SubOp>(op)) {
    r = rangeSub(in(0), in(1));
  } else if (llvm::isa<MulOp>(op)) {
    r = rangeMul(in(0), in(1));
  } else if (llvm::isa<DivOp>(op)) {
    r = rangeDiv(in(0), in(1));
  } else if (llvm::isa<MinOp, MaxOp>(op)) {
    Range a = in(0), b = in(1);
    if (a.empty() || b.empty())
      r = Range::bottom();
    else if (llvm::isa<MinOp>(op))
      r = {std::min(a.lo, b.lo), std::min(a.hi, b.hi)};
    else
      r = {std::max(a.lo, b.lo), std::max(a.hi, b.hi)};
  } else if (llvm::isa<SelectOp>(op)) {
    r = in(1).join(in(2));
  }
  flow.set(res, r);
}

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

/// One line of the report.
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
  FixedType fixedAt(unsigned frac) {
    return FixedType::get(&getContext(), kWidth, frac);
  }
  /// The largest scale in [32, maxScale] at which every value of `r` fits
  /// with one bit of headroom (|v| * 2^F <= 2^62); 32 when none does.
  unsigned scaleOf(Range r) const;
  unsigned rangeScale(Value v) const { return scaleOf(ranges.lookup(v)); }
  void rewriteRandomFraction(MulOp mul);
  void rewriteNanosToSeconds(DivOp div);
  LogicalResult convertProgram(ProgramOp program);
  void planUses(ProgramOp program);
  FailureOr<Value> constantAt(ConstOp op, unsigned frac);
  Value castTo(Value v, unsigned frac);
  void propagateErrors(ProgramOp program);

  LogicalResult writeReport();

  std::vector<ErrorEntry> report;

  // Phase 1 results: the range of every real value, and of state.
  llvm::DenseMap<Value, Range> ranges;
  llvm::StringMap<Range> stateRanges;
  // The chosen scale of each real value's type, and of real state.
  llvm::DenseMap<Value, unsigned> scales;
  llvm::StringMap<unsigned> stateScales;
  // Each use of a real value and the scale it needs.
  std::vector<std::pair<OpOperand *, unsigned>> uses;
  // Constants and casts made for uses, by (value, scale).
  llvm::DenseMap<std::pair<Value, unsigned>, Value> made;
  // The exact error of the constants made and of the exact forms.
  llvm::DenseMap<Value, double> knownError;
  // Phase 2 results: per real value (and state) its error bound.
  llvm::DenseMap<Value, Error> errors;
  llvm::StringMap<Error> stateErrors;
  // The real values in program order, for the report.
  std::vector<Value> reported;
};

unsigned FloatToFixed::scaleOf(Range r) const {
  unsigned top = std::max<unsigned>(kMinFrac, std::min<unsigned>(maxScale, 62));
  if (r.empty())
    return top;
  if (!r.bounded())
    return kMinFrac;
  double m = r.magnitude();
  if (m == 0)
    return top;
  int e;
  double frac = std::frexp(m, &e); // m = frac * 2^e, frac in [0.5, 1)
  int k = frac == 0.5 ? e - 1 : e; // the least k with m <= 2^k
  int f = 62 - k;
  return unsigned(std::clamp<int>(f, kMinFrac, int(top)));
}

Type FloatToFixed::convert(Type type) {
  MLIRContext *ctx = type.getContext();
  if (type.isF64())
    return fixedAt(kMinFrac);
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
  Value exact = b.create<BitcastOp>(mul.getLoc(), fixedAt(32), wide);
  knownError[exact] = 0;
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
  Value billion = constant(1000000000), scale = constant(1ull << 32);
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
                    std::ldexp(1.0, -32), true});
  Value seconds = div.getLhs(), divisorValue = div.getRhs();
  Value exact = b.create<BitcastOp>(loc, fixedAt(32), raw);
  knownError[exact] = std::ldexp(1.0, -32);
  div.getResult().replaceAllUsesWith(exact);
  div.erase();
  eraseIfDead(seconds);
  eraseIfDead(divisorValue);
}

/// The constant `op` (f64) rounded to the nearest multiple of 2^-frac,
/// made once per scale next to `op`, with its exact error recorded.
FailureOr<Value> FloatToFixed::constantAt(ConstOp op, unsigned frac) {
  Value &slot = made[{op.getResult(), frac}];
  if (slot)
    return slot;
  double v = llvm::cast<FloatAttr>(op.getValue()).getValueAsDouble();
  double x = std::ldexp(v, frac); // exact: a power-of-two scaling
  double scaled = std::nearbyint(x);
  FixedType type = fixedAt(frac);
  if (!std::isfinite(v) || std::fabs(scaled) >= std::ldexp(1.0, kWidth - 1))
    return op.emitError() << "the real constant " << v
                          << " is outside the range (-2^" << (63 - frac)
                          << ", 2^" << (63 - frac) << ") of " << type;
  // x - nearbyint(x) is exact in binary64, and so is its scaling.
  double error = std::ldexp(std::fabs(x - scaled), -int(frac));
  char text[96];
  std::snprintf(text, sizeof(text), "%.17g at scale %u -> raw %lld", v, frac,
                (long long)(int64_t)scaled);
  report.push_back({where(op.getLoc()), "constant", text, error, false});
  OpBuilder b(op);
  auto raw = IntegerAttr::get(IntegerType::get(&getContext(), 64),
                              APInt(64, (uint64_t)(int64_t)scaled, /*isSigned=*/true));
  slot = b.create<ConstOp>(op.getLoc(), type, raw);
  ranges[slot] = Range::point(v);
  knownError[slot] = error;
  return slot;
}

/// `v` (fixed point) at scale `frac`: itself, or a cast made once right
/// after its definition (so it serves every use).
Value FloatToFixed::castTo(Value v, unsigned frac) {
  auto ft = llvm::cast<FixedType>(v.getType());
  if (ft.getFrac() == frac)
    return v;
  Value &slot = made[{v, frac}];
  if (slot)
    return slot;
  OpBuilder b(&getContext());
  if (auto arg = llvm::dyn_cast<BlockArgument>(v))
    b.setInsertionPointToStart(arg.getOwner());
  else
    b.setInsertionPointAfter(v.getDefiningOp());
  slot = b.create<CastOp>(v.getLoc(), fixedAt(frac), v);
  ranges[slot] = ranges.lookup(v);
  return slot;
}

/// Records the scale of every real result and the scale each use of a real
/// value needs (see the file comment).
void FloatToFixed::planUses(ProgramOp program) {
  auto realScalar = [](Value v) { return isReal(v.getType()); };
  auto need = [&](OpOperand &use, unsigned frac) {
    if (realScalar(use.get()))
      uses.push_back({&use, frac});
  };
  // A scale for a value that is not an op's result computed at the op's
  // scale: its range's (structured results, loop-carried values, casts
  // from integers), or its own type's for values already fixed.
  auto own = [&](Value v) {
    if (auto ft = llvm::dyn_cast<FixedType>(v.getType()))
      scales[v] = ft.getFrac();
    else if (v.getType().isF64() && !v.getDefiningOp<ConstOp>() &&
             !v.getDefiningOp<FieldGetOp>())
      scales[v] = rangeScale(v);
  };
  program.walk([&](Operation *op) {
    if (llvm::isa<AddOp, SubOp, MulOp, DivOp, MinOp, MaxOp, SelectOp>(op) &&
        realScalar(op->getResult(0))) {
      unsigned f = rangeScale(op->getResult(0));
      unsigned first = llvm::isa<SelectOp>(op) ? 1 : 0;
      for (unsigned i = first; i < op->getNumOperands(); ++i)
        f = std::min(f, rangeScale(op->getOperand(i)));
      scales[op->getResult(0)] = f;
      for (unsigned i = first; i < op->getNumOperands(); ++i)
        need(op->getOpOperand(i), f);
      return;
    }
    if (auto cmp = llvm::dyn_cast<CmpOp>(op)) {
      if (realScalar(cmp.getLhs())) {
        unsigned f = std::min(rangeScale(cmp.getLhs()), rangeScale(cmp.getRhs()));
        need(op->getOpOperand(0), f);
        need(op->getOpOperand(1), f);
      }
      return;
    }
    if (auto read = llvm::dyn_cast<StateReadOp>(op)) {
      auto it = stateScales.find(read.getState());
      if (it != stateScales.end())
        scales[read.getResult()] = it->second;
      return;
    }
    if (auto write = llvm::dyn_cast<StateWriteOp>(op)) {
      auto it = stateScales.find(write.getState());
      if (it != stateScales.end())
        need(write->getOpOperand(0), it->second); // the value
      return;
    }
    if (auto yield = llvm::dyn_cast<YieldOp>(op)) {
      Operation *parent = op->getParentOp();
      auto loop = llvm::dyn_cast<ForeachOp>(parent);
      unsigned fields = loop ? loop.getBody().getNumArguments() -
                                   loop.getIterInits().size()
                             : 0;
      for (OpOperand &use : op->getOpOperands()) {
        unsigned i = use.getOperandNumber();
        Value target = loop ? Value(loop.getBody().getArgument(fields + i))
                            : Value(parent->getResult(i));
        if (realScalar(target))
          need(use, rangeScale(target));
      }
      return;
    }
    if (auto loop = llvm::dyn_cast<ForeachOp>(op)) {
      Block &body = loop.getBody().front();
      unsigned fields = body.getNumArguments() - loop.getIterInits().size();
      for (unsigned i = 0; i < loop.getIterInits().size(); ++i) {
        Value arg = body.getArgument(fields + i);
        if (!realScalar(arg))
          continue;
        unsigned f = rangeScale(arg);
        scales[arg] = scales[loop.getResult(i)] = f;
        need(loop->getOpOperand(i), f); // iter inits are all the operands
      }
      return;
    }
    // Into a pair, a map or a log: Q31.32 (not range-tracked).
    if (llvm::isa<PairMakeOp, MapSetOp, MapGetOp, MapDeleteOp, LogAppendOp>(op)) {
      for (OpOperand &use : op->getOpOperands())
        need(use, kMinFrac);
      return;
    }
    for (Value r : op->getResults())
      own(r);
    for (Region &region : op->getRegions())
      for (Block &block : region)
        for (BlockArgument arg : block.getArguments())
          if (arg.getType().isF64())
            scales[arg] = kMinFrac; // a map's value: not range-tracked
  });
}

LogicalResult FloatToFixed::convertProgram(ProgramOp program) {
  // Phase 1: ranges.
  auto trackedState = [](StateOp s) { return isReal(s.getType()); };
  Flow<Range> rangeFlow(
      program, trackedState,
      [&](StateOp s) {
        if (s->hasAttr("configurable")) // set at deployment: anything
          return Range::top();
        return initOverwrites(program, s.getSymName()) ? Range::bottom()
                                                       : Range::zero();
      },
      rangeTransfer);
  rangeFlow.run();
  for (auto &[v, r] : rangeFlow.all())
    ranges[v] = r;
  for (StateOp s : program.getStateOps())
    if (trackedState(s)) {
      stateRanges[s.getSymName()] = rangeFlow.state(s.getSymName());
      stateScales[s.getSymName()] = scaleOf(stateRanges[s.getSymName()]);
    }

  // The scales, then the types.
  planUses(program);
  for (StateOp s : program.getStateOps()) {
    auto it = stateScales.find(s.getSymName());
    Type t = it != stateScales.end() ? Type(fixedAt(it->second))
                                     : convert(s.getType());
    s.setTypeAttr(TypeAttr::get(t));
  }
  // Program order, before casts and constants are added.
  program.walk([&](Operation *op) {
    for (Value r : op->getResults())
      if (isReal(r.getType()) && !llvm::isa<ConstOp, FieldGetOp>(op))
        reported.push_back(r);
  });
  program.walk([&](Operation *op) {
    if (!llvm::isa<FieldGetOp, ConstOp>(op))
      for (OpResult r : op->getResults()) {
        auto it = scales.find(r);
        r.setType(it != scales.end() ? Type(fixedAt(it->second))
                                     : convert(r.getType()));
      }
    for (Region &region : op->getRegions())
      for (Block &block : region)
        for (BlockArgument arg : block.getArguments()) {
          auto it = scales.find(arg);
          arg.setType(it != scales.end() ? Type(fixedAt(it->second))
                                         : convert(arg.getType()));
        }
  });

  // Each use at its scale: constants rounded there, other values cast.
  for (auto [use, frac] : uses) {
    Value v = use->get();
    if (auto c = v.getDefiningOp<ConstOp>(); c && c.getType().isF64()) {
      FailureOr<Value> k = constantAt(c, frac);
      if (failed(k))
        return failure();
      use->set(*k);
    } else if (llvm::isa<FixedType>(v.getType())) {
      use->set(castTo(v, frac));
    }
  }
  // Constants used where no scale is asked for (a cast to an integer, a
  // field write, a match): at their own range's scale.
  SmallVector<ConstOp> constants;
  program.walk([&](ConstOp c) {
    if (c.getType().isF64())
      constants.push_back(c);
  });
  for (ConstOp c : constants) {
    for (OpOperand &use : llvm::make_early_inc_range(c->getUses())) {
      FailureOr<Value> k = constantAt(c, rangeScale(c.getResult()));
      if (failed(k))
        return failure();
      use.set(*k);
    }
    c.erase();
  }

  // Literal arms of a match on a real: raw values at the scrutinee's scale.
  program.walk([&](MatchOp op) {
    auto ft = llvm::dyn_cast<FixedType>(op.getScrutinee().getType());
    if (!ft || op.getCases().empty() ||
        !llvm::isa<FloatAttr>(op.getCases()[0]))
      return;
    SmallVector<Attribute> cases;
    for (Attribute c : op.getCases()) {
      double v = llvm::cast<FloatAttr>(c).getValueAsDouble();
      double x = std::ldexp(v, ft.getFrac());
      double scaled = std::nearbyint(x);
      char text[96];
      std::snprintf(text, sizeof(text), "match case %.17g at scale %u", v,
                    ft.getFrac());
      report.push_back({where(op.getLoc()), "constant", text,
                        std::ldexp(std::fabs(x - scaled), -int(ft.getFrac())),
                        false});
      cases.push_back(IntegerAttr::get(IntegerType::get(&getContext(), 64),
                                       APInt(64, (uint64_t)(int64_t)scaled, true)));
    }
    op.setCasesAttr(ArrayAttr::get(&getContext(), cases));
  });
  return success();
}

/// Phase 2: the absolute error of every real value of the fixed program
/// against the real it stands for, assuming both take the same branches.
void FloatToFixed::propagateErrors(ProgramOp program) {
  auto unit = [](Type t) {
    return std::ldexp(1.0, -int(llvm::cast<FixedType>(t).getFrac()));
  };
  auto transfer = [&](Operation *op, Flow<Error> &flow) {
    for (Value r : op->getResults())
      flow.set(r, Error::top());
    if (op->getNumResults() != 1 ||
        !llvm::isa<FixedType>(op->getResult(0).getType()))
      return;
    Value res = op->getResult(0);
    Range range = ranges.lookup(res);
    auto e = [&](unsigned i) { return flow.get(op->getOperand(i)).e; };
    auto mag = [&](unsigned i) {
      return ranges.lookup(op->getOperand(i)).magnitude();
    };
    double err = kInf;
    if (llvm::isa<ConstOp, BitcastOp>(op)) {
      auto it = knownError.find(res);
      if (it != knownError.end())
        err = it->second;
    } else if (auto cast = llvm::dyn_cast<CastOp>(op)) {
      Type from = cast.getInput().getType();
      if (auto ff = llvm::dyn_cast<FixedType>(from))
        err = e(0) + (ff.getFrac() > llvm::cast<FixedType>(res.getType()).getFrac()
                          ? unit(res.getType())
                          : 0);
      else if (isNetfnInteger(from) || from.isInteger(1))
        err = 0;
      else if (from.isF64()) // toward zero
        err = unit(res.getType());
    } else if (llvm::isa<AddOp, SubOp>(op)) {
      err = e(0) + e(1);
    } else if (llvm::isa<MulOp>(op)) {
      err = mag(0) * e(1) + mag(1) * e(0) + e(0) * e(1) + unit(res.getType());
    } else if (llvm::isa<DivOp>(op)) {
      // |a'/b' - a/b| <= (e_a + max|a/b| e_b) / (min|b| - e_b).
      Range b = ranges.lookup(op->getOperand(1));
      double minB = b.contains(0) ? 0 : std::min(std::fabs(b.lo), std::fabs(b.hi));
      if (minB > e(1))
        err = (e(0) + range.magnitude() * e(1)) / (minB - e(1)) +
              unit(res.getType());
    } else if (llvm::isa<MinOp, MaxOp>(op)) {
      err = std::max(e(0), e(1));
    } else if (llvm::isa<SelectOp>(op)) {
      err = std::max(e(1), e(2));
    }
    // A value whose range does not fit its type may wrap: no bound.
    if (!range.bounded() ||
        range.magnitude() >= std::ldexp(1.0, 63 - int(llvm::cast<FixedType>(
                                                          res.getType())
                                                          .getFrac())))
      err = kInf;
    flow.set(res, {err});
  };
  Flow<Error> flow(
      program, [](StateOp s) { return llvm::isa<FixedType>(s.getType()); },
      [&](StateOp s) {
        return s->hasAttr("configurable") ? Error::top() : Error::zero();
      },
      transfer);
  flow.run();
  for (auto &[v, err] : flow.all())
    errors[v] = err;
  for (StateOp s : program.getStateOps())
    if (llvm::isa<FixedType>(s.getType())) {
      Error err = flow.state(s.getSymName());
      if (!stateRanges.lookup(s.getSymName()).bounded())
        err = Error::top();
      stateErrors[s.getSymName()] = err;
    }
}

void FloatToFixed::runOnOperation() {
  ModuleOp module = getOperation();

  // Exact forms first, while the f64 constants they recognise still exist.
  module.walk([&](MulOp op) { rewriteRandomFraction(op); });
  module.walk([&](DivOp op) { rewriteNanosToSeconds(op); });

  // Event fields keep their wire type: convert where they are read. They
  // are unbounded, so Q31.32.
  module.walk([&](FieldGetOp op) {
    if (!op.getType().isF64())
      return;
    OpBuilder b(op->getContext());
    b.setInsertionPointAfter(op);
    auto cast = b.create<CastOp>(op.getLoc(), fixedAt(kMinFrac), op.getResult());
    op.getResult().replaceAllUsesExcept(cast.getResult(), cast);
  });

  bool failed = false;
  module.walk([&](ProgramOp program) {
    if (mlir::failed(convertProgram(program)))
      failed = true;
  });
  if (failed)
    return signalPassFailure();
  // Reals outside a program (none in practice) follow Q31.32.
  module.walk([&](Operation *op) {
    if (!op->getParentOfType<ProgramOp>() && !llvm::isa<ProgramOp>(op))
      for (OpResult r : op->getResults())
        r.setType(convert(r.getType()));
  });

  // Casts that became identities.
  module.walk([&](CastOp op) {
    if (op.getInput().getType() == op.getType()) {
      llvm::erase_value(reported, op.getResult());
      op.getResult().replaceAllUsesWith(op.getInput());
      op.erase();
    }
  });

  if (!reportFile.empty()) {
    // What rounds at run time: products and quotients truncate (one unit
    // of 2^-F at most per operation), casts to a smaller scale round toward
    // minus infinity, f64 fields convert toward zero.
    module.walk([&](Operation *op) {
      auto ft = op->getNumResults() == 1
                    ? llvm::dyn_cast<FixedType>(op->getResult(0).getType())
                    : FixedType();
      if (!ft)
        return;
      double unit = std::ldexp(1.0, -int(ft.getFrac()));
      std::string at = " at scale " + std::to_string(ft.getFrac());
      if (llvm::isa<MulOp, DivOp>(op)) {
        report.push_back({where(op->getLoc()), "operation",
                          op->getName().getStringRef().str() + " truncates" + at,
                          unit, true});
      } else if (auto cast = llvm::dyn_cast<CastOp>(op)) {
        Type from = cast.getInput().getType();
        if (from.isF64())
          report.push_back({where(op->getLoc()), "field conversion",
                            "f64 field to fixed point, toward zero" + at, unit,
                            true});
        else if (auto ff = llvm::dyn_cast<FixedType>(from);
                 ff && ff.getFrac() > ft.getFrac())
          report.push_back({where(op->getLoc()), "rescale",
                            "scale " + std::to_string(ff.getFrac()) +
                                " to " + std::to_string(ft.getFrac()) +
                                ", toward minus infinity",
                            unit, true});
      }
    });
    module.walk([&](ProgramOp program) { propagateErrors(program); });
    if (mlir::failed(writeReport()))
      return signalPassFailure();
  }

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

/// A bound for JSON: the number, or "unbounded".
llvm::json::Value boundValue(double v) {
  if (std::isinf(v))
    return "unbounded";
  return v;
}

/// An interval's end for JSON: the number, or "-inf" / "inf".
llvm::json::Value endValue(double v) {
  if (std::isinf(v))
    return v < 0 ? "-inf" : "inf";
  return v;
}

LogicalResult FloatToFixed::writeReport() {
  std::string error;
  auto out = openOutputFile(reportFile, &error);
  if (!out)
    return getOperation().emitError()
           << "netfn-float-to-fixed: cannot write report '" << reportFile
           << "': " << error;
  auto rangeValue = [](Range r) -> llvm::json::Value {
    if (r.empty())
      return "empty";
    return llvm::json::Array{endValue(r.lo), endValue(r.hi)};
  };
  double worstConstant = 0, perOperation = 0;
  llvm::json::OStream j(out->os(), 2);
  j.object([&] {
    j.attribute("format", "fixed<64, F> per value range, F in [32, " +
                              std::to_string(std::max<unsigned>(
                                  kMinFrac, std::min<unsigned>(maxScale, 62))) +
                              "]");
    j.attributeArray("states", [&] {
      getOperation().walk([&](StateOp s) {
        auto it = stateScales.find(s.getSymName());
        if (it == stateScales.end())
          return;
        j.object([&] {
          j.attribute("state", s.getSymName());
          j.attribute("range", rangeValue(stateRanges.lookup(s.getSymName())));
          j.attribute("scale", it->second);
          j.attribute("error_bound",
                      boundValue(stateErrors.lookup(s.getSymName()).e));
        });
      });
    });
    j.attributeArray("values", [&] {
      for (Value v : reported) {
        auto ft = llvm::dyn_cast<FixedType>(v.getType());
        Operation *def = v.getDefiningOp();
        if (!ft || !def)
          continue;
        j.object([&] {
          j.attribute("loc", where(v.getLoc()));
          j.attribute("op", def->getName().getStringRef());
          j.attribute("range", rangeValue(ranges.lookup(v)));
          j.attribute("scale", ft.getFrac());
          j.attribute("error_bound", boundValue(errors.lookup(v).e));
        });
      }
    });
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
