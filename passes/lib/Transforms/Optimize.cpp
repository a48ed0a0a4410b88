//===- Optimize.cpp - validated netfn optimisation passes -----------------===//
//
// The netfn-to-netfn optimisations of the default `--appnet-to-bpf` pipeline
// (Passes.td describes each with a before/after example):
//   netfn-propagate-state-constants, netfn-simplify, netfn-merge-conditions,
//   netfn-remove-implied-predicates (Z3), netfn-order-predicates (profile),
// and netfn-validate, which runs a pipeline and proves every handler
// unchanged in meaning with the checker.
//
// Design decisions:
// - netfn-simplify is a hand-written fixed-point loop, not the greedy pattern
//   driver: the driver hoists constants to the closest isolated-from-above
//   region, which is the netfn.program body, where constants may not live.
// - Rewrites that need a proof in order to be made at all (implied
//   predicates) speculate: make the change, ask the checker against the
//   handler as it was before the pass, undo unless proven.
//
//===----------------------------------------------------------------------===//
#include "sbpf/Passes/Passes.h"
#include "sbpf/Passes/Validate.h"
#include "sbpf/Checker/ConcreteEval.h"
#include "sbpf/Checker/FixedConstant.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Dominance.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/ToolOutputFile.h"
#include "mlir/Support/FileUtilities.h"

#include <algorithm>

namespace sbpf {
#define GEN_PASS_DEF_NETFNPROPAGATESTATECONSTANTS
#define GEN_PASS_DEF_NETFNSIMPLIFY
#define GEN_PASS_DEF_NETFNMERGECONDITIONS
#define GEN_PASS_DEF_NETFNREMOVEIMPLIEDPREDICATES
#define GEN_PASS_DEF_NETFNORDERPREDICATES
#define GEN_PASS_DEF_NETFNVALIDATE
#define GEN_PASS_DEF_NETFNTESTSWAPBRANCHES
#define GEN_PASS_DEF_NETFNPROFILEPREDICATES
#define GEN_PASS_DEF_NETFNSINK
#include "NetfnPasses.h.inc"
} // namespace sbpf

using namespace mlir;
namespace nf = sbpf::netfn;

namespace {

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

/// An op that may be moved, duplicated or dropped: it writes nothing and
/// draws nothing (pure ops and reads of fields, state, maps and logs). Ops
/// with regions never qualify.
bool isMovable(Operation *op) {
  if (op->getNumRegions() != 0)
    return false;
  if (isa<nf::RandomOp, nf::NowOp>(op))
    return false;
  auto effects = dyn_cast<MemoryEffectOpInterface>(op);
  if (!effects)
    return false;
  return effects.onlyHasEffect<MemoryEffects::Read>() || effects.hasNoEffect();
}

/// Structural equality of two regions op by op (ignoring locations), with
/// values defined inside mapped onto each other and values from outside
/// required to be the same.
bool regionsEqual(Region &a, Region &b, llvm::DenseMap<Value, Value> &map) {
  if (a.getBlocks().size() != b.getBlocks().size())
    return false;
  for (auto [ba, bb] : llvm::zip(a, b)) {
    if (ba.getNumArguments() != bb.getNumArguments())
      return false;
    for (auto [x, y] : llvm::zip(ba.getArguments(), bb.getArguments())) {
      if (x.getType() != y.getType())
        return false;
      map[x] = y;
    }
    if (ba.getOperations().size() != bb.getOperations().size())
      return false;
    for (auto [oa, ob] : llvm::zip(ba, bb)) {
      if (oa.getName() != ob.getName() ||
          oa.getAttrDictionary() != ob.getAttrDictionary() ||
          oa.getResultTypes() != ob.getResultTypes() ||
          oa.getNumOperands() != ob.getNumOperands() ||
          oa.getNumRegions() != ob.getNumRegions())
        return false;
      for (auto [x, y] : llvm::zip(oa.getOperands(), ob.getOperands())) {
        auto it = map.find(x);
        if ((it != map.end() ? it->second : x) != y)
          return false;
      }
      for (auto [ra, rb] : llvm::zip(oa.getRegions(), ob.getRegions()))
        if (!regionsEqual(ra, rb, map))
          return false;
      for (auto [x, y] : llvm::zip(oa.getResults(), ob.getResults()))
        map[x] = y;
    }
  }
  return true;
}

bool regionsEqual(Region &a, Region &b) {
  llvm::DenseMap<Value, Value> map;
  return regionsEqual(a, b, map);
}

/// The integer value of a netfn.const of integer, boolean or fixed-point
/// type (fixed point: the raw value).
std::optional<APInt> constInt(Value v) {
  auto c = v.getDefiningOp<nf::ConstOp>();
  if (!c)
    return std::nullopt;
  if (auto i = dyn_cast<IntegerAttr>(c.getValue()))
    return i.getValue();
  return std::nullopt;
}

bool isSignedOrdered(Type t) {
  if (isa<nf::FixedType>(t))
    return true;
  if (auto i = dyn_cast<IntegerType>(t))
    return i.isSigned();
  return false;
}

bool evalPredicate(nf::CmpPredicate p, const APInt &a, const APInt &b,
                   bool isSigned) {
  switch (p) {
  case nf::CmpPredicate::eq:
    return a == b;
  case nf::CmpPredicate::ne:
    return a != b;
  case nf::CmpPredicate::lt:
    return isSigned ? a.slt(b) : a.ult(b);
  case nf::CmpPredicate::le:
    return isSigned ? a.sle(b) : a.ule(b);
  case nf::CmpPredicate::gt:
    return isSigned ? a.sgt(b) : a.ugt(b);
  case nf::CmpPredicate::ge:
    return isSigned ? a.sge(b) : a.uge(b);
  }
  return false;
}

nf::CmpPredicate swapPredicate(nf::CmpPredicate p) {
  switch (p) {
  case nf::CmpPredicate::lt:
    return nf::CmpPredicate::gt;
  case nf::CmpPredicate::le:
    return nf::CmpPredicate::ge;
  case nf::CmpPredicate::gt:
    return nf::CmpPredicate::lt;
  case nf::CmpPredicate::ge:
    return nf::CmpPredicate::le;
  default:
    return p;
  }
}

Value makeBool(OpBuilder &b, Location loc, bool value) {
  return b.create<nf::ConstOp>(loc, b.getI1Type(), b.getBoolAttr(value));
}

/// Erases `op` and every op after it in its block (they are unreachable
/// once `op`'s predecessor ends the handler).
void eraseFrom(Operation *op) {
  Block *block = op->getBlock();
  while (&block->back() != op) {
    Operation *last = &block->back();
    last->dropAllUses();
    last->erase();
  }
  op->dropAllUses();
  op->erase();
}

//===----------------------------------------------------------------------===//
// netfn-propagate-state-constants
//===----------------------------------------------------------------------===//

/// The constant each scalar state variable holds in every handler run, for
/// the variables where that is evident from the IR (see Passes.td).
llvm::StringMap<Attribute> constantState(nf::ProgramOp program) {
  llvm::StringMap<Attribute> result;
  llvm::StringMap<Type> types;
  for (nf::StateOp s : program.getStateOps()) {
    Type t = s.getType();
    if (s->hasAttr("configurable"))
      continue; // set at deployment (an AppNet init parameter)
    if (t.isInteger(1))
      result[s.getSymName()] = BoolAttr::get(t.getContext(), false);
    else if (nf::isNetfnInteger(t))
      result[s.getSymName()] = IntegerAttr::get(t, 0);
    else if (isa<nf::FixedType>(t))
      result[s.getSymName()] =
          IntegerAttr::get(IntegerType::get(t.getContext(), 64), 0);
    else if (isa<nf::StringType>(t))
      result[s.getSymName()] = StringAttr::get(t.getContext(), "");
    else
      continue; // instants, f64, maps, logs: not handled
    types[s.getSymName()] = t;
  }
  llvm::StringMap<unsigned> initWrites;
  for (Operation &op : program.getBodyBlock()) {
    if (auto init = dyn_cast<nf::InitOp>(op)) {
      init.walk([&](nf::StateWriteOp w) {
        StringRef name = w.getState();
        if (!result.count(name))
          return;
        auto c = w.getValue().getDefiningOp<nf::ConstOp>();
        // Only a single top-level write of a constant is certain.
        if (++initWrites[name] > 1 || !c ||
            w->getParentOp() != init.getOperation())
          result[name] = Attribute();
        else
          result[name] = c.getValue();
      });
    } else if (auto h = dyn_cast<nf::HandlerOp>(op)) {
      h.walk([&](nf::StateWriteOp w) { result[w.getState()] = Attribute(); });
    }
  }
  for (auto it = result.begin(); it != result.end();) {
    auto cur = it++;
    if (!cur->second)
      result.erase(cur);
  }
  return result;
}

struct PropagateStateConstantsPass
    : sbpf::impl::NetfnPropagateStateConstantsBase<PropagateStateConstantsPass> {
  void runOnOperation() override {
    getOperation().walk([](nf::ProgramOp program) {
      llvm::StringMap<Attribute> constants = constantState(program);
      for (nf::HandlerOp h : program.getBodyBlock().getOps<nf::HandlerOp>()) {
        SmallVector<nf::StateReadOp> reads;
        h.walk([&](nf::StateReadOp r) {
          if (constants.count(r.getState()))
            reads.push_back(r);
        });
        for (nf::StateReadOp r : reads) {
          OpBuilder b(r);
          auto c = b.create<nf::ConstOp>(r.getLoc(), r.getType(),
                                         constants.lookup(r.getState()));
          r.replaceAllUsesWith(c.getResult());
          r.erase();
        }
      }
    });
  }
};

//===----------------------------------------------------------------------===//
// netfn-simplify
//===----------------------------------------------------------------------===//

/// `x` (fixed<W, F>) times the constant `s` stands for, as a siW integer:
/// the steps of arith::fixedMulBySplit, one op each, skipping the same
/// ones (a product by 0 or 1; (r * 1) >> t, always 0).
Value productBySplit(OpBuilder &b, Location loc, Value x,
                     const sbpf::checker::FixedConstantSplit &s) {
  unsigned w = cast<nf::FixedType>(x.getType()).getWidth();
  auto it = IntegerType::get(b.getContext(), w, IntegerType::Signed);
  auto num = [&](const APInt &v) {
    return b.create<nf::ConstOp>(loc, it, IntegerAttr::get(it, v)).getResult();
  };
  // v >>a t: v read as fixed<W, t>, converted to an integer.
  auto ashr = [&](Value v) {
    auto ft = nf::FixedType::get(b.getContext(), w, s.shift);
    Value f = b.create<nf::BitcastOp>(loc, ft, v);
    return b.create<nf::CastOp>(loc, it, f).getResult();
  };
  auto mul = [&](Value v, const APInt &k) {
    return k.isOne() ? v : b.create<nf::MulOp>(loc, it, v, num(k)).getResult();
  };
  Value xi = b.create<nf::BitcastOp>(loc, it, x);
  Value sum;
  auto add = [&](Value v) {
    sum = sum ? b.create<nf::AddOp>(loc, it, sum, v).getResult() : v;
  };
  if (!s.whole.isZero())
    add(mul(xi, s.whole));
  if (s.shift) {
    add(mul(ashr(xi), s.odd));
    if (!s.odd.isOne()) {
      Value r = b.create<nf::AndOp>(loc, it, xi,
                                    num(APInt::getLowBitsSet(w, s.shift)));
      add(ashr(mul(r, s.odd)));
    }
  }
  return sum ? sum : num(APInt(w, 0));
}

/// One local rewrite of `op`; true when the IR changed (op may be gone).
bool simplifyOp(Operation *op) {
  OpBuilder b(op);
  Location loc = op->getLoc();
  auto replaceWith = [&](Value v) {
    op->getResult(0).replaceAllUsesWith(v);
    op->erase();
    return true;
  };

  if (auto cmp = dyn_cast<nf::CmpOp>(op)) {
    Type t = cmp.getLhs().getType();
    auto l = constInt(cmp.getLhs()), r = constInt(cmp.getRhs());
    if (l && r && l->getBitWidth() == r->getBitWidth())
      return replaceWith(makeBool(
          b, loc, evalPredicate(cmp.getPredicate(), *l, *r, isSignedOrdered(t))));
    // Exact narrowing of randomf(0, 1) compared with a constant threshold.
    Value draw = cmp.getLhs();
    std::optional<APInt> k = r;
    nf::CmpPredicate pred = cmp.getPredicate();
    if (!k) {
      draw = cmp.getRhs();
      k = l;
      pred = swapPredicate(pred);
    }
    auto fixed = dyn_cast<nf::FixedType>(t);
    // The draw may be rescaled from the Q31.32 exact form to a larger scale
    // F (netfn-float-to-fixed does so to compare with a threshold exact at
    // F): its raw value is then r * 2^s with s = F - 32 < 31, no overflow.
    unsigned s = 0;
    if (auto up = draw.getDefiningOp<nf::CastOp>()) {
      auto from = dyn_cast<nf::FixedType>(up.getOperand().getType());
      if (fixed && from && from.getWidth() == 64 &&
          fixed.getFrac() > from.getFrac() &&
          fixed.getFrac() - from.getFrac() < 31) {
        s = fixed.getFrac() - from.getFrac();
        draw = up.getOperand();
      }
    }
    auto bc = draw.getDefiningOp<nf::BitcastOp>();
    auto cast = bc ? bc.getOperand().getDefiningOp<nf::CastOp>() : nf::CastOp();
    if (!k || !fixed || fixed.getWidth() != 64 || !cast)
      return false;
    Value r32 = cast.getOperand();
    auto it = dyn_cast<IntegerType>(r32.getType());
    if (!it || it.getWidth() != 32 || !it.isUnsigned() ||
        !cast.getType().isUnsignedInteger(64))
      return false;
    // r * 2^s against k is r against k / 2^s, rounded the way that keeps
    // the comparison exact: r * 2^s < k iff r < ceil(k / 2^s), <= iff
    // r <= floor(k / 2^s), > with floor, >= with ceil; eq / ne only when
    // 2^s divides k (otherwise never / always: k' = -1 says so below).
    if (s) {
      APInt floorK = k->ashr(s);
      bool exact = k->countTrailingZeros() >= s;
      APInt ceilK = exact ? floorK : floorK + 1;
      switch (pred) {
      case nf::CmpPredicate::lt:
      case nf::CmpPredicate::ge:
        k = ceilK;
        break;
      case nf::CmpPredicate::le:
      case nf::CmpPredicate::gt:
        k = floorK;
        break;
      default: // eq, ne
        k = exact ? floorK : APInt(64, -1, /*isSigned=*/true);
        break;
      }
    }
    // The fixed value's raw bits are r in [0, 2^32): compare r with k.
    int64_t kv = k->getSExtValue();
    if (kv < 0 || kv > int64_t(UINT32_MAX)) {
      bool below = kv < 0; // k below every r, or above every r
      bool holds;
      switch (pred) {
      case nf::CmpPredicate::eq:
        holds = false;
        break;
      case nf::CmpPredicate::ne:
        holds = true;
        break;
      case nf::CmpPredicate::lt:
      case nf::CmpPredicate::le:
        holds = !below;
        break;
      default: // gt, ge
        holds = below;
        break;
      }
      return replaceWith(makeBool(b, loc, holds));
    }
    Value c32 = b.create<nf::ConstOp>(loc, it, IntegerAttr::get(it, kv));
    return replaceWith(b.create<nf::CmpOp>(loc, pred, r32, c32));
  }

  // A fixed-point product with a constant c = n + m / 2^t (FixedConstant.h):
  // whole numbers (t = 0) at any width, and at W = 64 constants with a
  // fraction of t < 32 bits (1.5, 0.25, 0.1 rounded to 31 fraction bits):
  //   x * n + (x >>a t) * m + (((x & (2^t - 1)) * m) >>a t)
  // in W-bit integers, which is floor(x * c) exactly: at most three
  // multiplies by constants instead of four partial products of 32-bit
  // halves and a sign correction. `x >>a t` is written as a bitcast to
  // fixed<W, t> and a cast back (netfn has no shift; that cast is one).
  // The checker encodes the product in exactly these steps
  // (arith::fixedMulBySplit), so the proof of this rewrite is by
  // simplification. The constant on the right is tried first, as there.
  if (auto mul = dyn_cast<nf::MulOp>(op)) {
    auto fixed = dyn_cast<nf::FixedType>(mul.getType());
    if (!fixed)
      return false;
    for (int i = 1; i >= 0; --i) {
      auto c = constInt(op->getOperand(i));
      if (!c)
        continue;
      // The raw attribute may be wider than the type (fixed<32, F> constants
      // are stored as i64): the split is of the W-bit value.
      auto split = sbpf::checker::cheapFixedConstantSplit(
          c->sextOrTrunc(fixed.getWidth()), fixed.getFrac());
      if (!split)
        continue;
      return replaceWith(b.create<nf::BitcastOp>(
          loc, fixed, productBySplit(b, loc, op->getOperand(1 - i), *split)));
    }
    return false;
  }

  if (isa<nf::AndOp, nf::OrOp>(op) && op->getResult(0).getType().isInteger(1)) {
    bool isAnd = isa<nf::AndOp>(op);
    Value x = op->getOperand(0), y = op->getOperand(1);
    if (x == y)
      return replaceWith(x);
    for (int i = 0; i < 2; ++i, std::swap(x, y)) {
      auto c = constInt(x);
      if (!c)
        continue;
      // and: true is the identity, false absorbs; or: the other way round.
      bool identity = c->isOne() == isAnd;
      return replaceWith(identity ? y : x);
    }
    return false;
  }

  // A constant rescaled between fixed-point types is a constant (the cast's
  // meaning: shift in the wider width, arithmetic to the right, then wrap).
  // netfn-float-to-fixed leaves such casts where a state it gave a large
  // scale is used at a smaller one; netfn-propagate-state-constants turns
  // the state read into a constant.
  if (auto cast = dyn_cast<nf::CastOp>(op)) {
    auto from = dyn_cast<nf::FixedType>(cast.getOperand().getType());
    auto to = dyn_cast<nf::FixedType>(cast.getType());
    auto c = constInt(cast.getOperand());
    if (!from || !to || !c)
      return false;
    unsigned w = from.getWidth(), w2 = to.getWidth();
    APInt v = c->sextOrTrunc(w);
    if (to.getFrac() >= from.getFrac())
      v = v.sext(std::max(w, w2)).shl(to.getFrac() - from.getFrac());
    else
      v = v.ashr(from.getFrac() - to.getFrac());
    v = v.sextOrTrunc(w2).sext(64);
    auto i64 = IntegerType::get(b.getContext(), 64);
    return replaceWith(
        b.create<nf::ConstOp>(loc, to, IntegerAttr::get(i64, v)));
  }

  if (auto n = dyn_cast<nf::NotOp>(op)) {
    if (auto c = constInt(n.getOperand()))
      return replaceWith(makeBool(b, loc, c->isZero()));
    if (auto inner = n.getOperand().getDefiningOp<nf::NotOp>())
      return replaceWith(inner.getOperand());
    return false;
  }

  if (auto sel = dyn_cast<nf::SelectOp>(op)) {
    if (sel.getTrueValue() == sel.getFalseValue())
      return replaceWith(sel.getTrueValue());
    if (auto c = constInt(sel.getCondition()))
      return replaceWith(c->isOne() ? sel.getTrueValue() : sel.getFalseValue());
    return false;
  }

  if (auto ifOp = dyn_cast<nf::IfOp>(op)) {
    auto c = constInt(ifOp.getCondition());
    if (!c)
      return false;
    Region &taken = c->isOne() ? ifOp.getThenRegion() : ifOp.getElseRegion();
    Block &block = taken.front();
    Operation *term = block.getTerminator();
    if (auto yield = dyn_cast<nf::YieldOp>(term)) {
      ifOp->replaceAllUsesWith(yield.getValues());
      yield->erase();
      ifOp->getBlock()->getOperations().splice(Block::iterator(ifOp),
                                               block.getOperations());
      ifOp->erase();
      return true;
    }
    // The region ends the handler: what follows the if is unreachable.
    ifOp->getBlock()->getOperations().splice(Block::iterator(ifOp),
                                             block.getOperations());
    eraseFrom(ifOp);
    return true;
  }
  return false;
}

/// Whether `later` computes what `earlier` does: the same op, attributes,
/// operands and result types, no regions.
bool sameComputation(Operation *earlier, Operation *later) {
  return earlier->getName() == later->getName() &&
         earlier->getNumRegions() == 0 && later->getNumRegions() == 0 &&
         earlier->getAttrDictionary() == later->getAttrDictionary() &&
         earlier->getOperands() == later->getOperands() &&
         earlier->getResultTypes() == later->getResultTypes();
}

/// Common subexpressions inside handlers: an op that computes what an
/// earlier op dominating it computes is replaced by that op's results.
/// Pure ops, and `netfn.field.get` of a field the handler never sets (each
/// get of a string field is a normalising loop in the code, and two copies
/// of a key are two terms the checker has to prove equal). Init is left
/// alone (netfn-validate requires it unchanged). True when the IR changed.
bool shareComputations(Operation *root) {
  bool changed = false;
  root->walk([&](nf::HandlerOp h) {
    llvm::StringSet<> written;
    h.walk([&](nf::FieldSetOp set) { written.insert(set.getField()); });
    DominanceInfo dom(h);
    SmallVector<Operation *> ops;
    h.walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (op == h.getOperation() || op->getNumResults() == 0)
        return;
      auto get = dyn_cast<nf::FieldGetOp>(op);
      if (get ? !written.contains(get.getField())
              : (op->getNumRegions() == 0 && isMemoryEffectFree(op)))
        ops.push_back(op);
    });
    llvm::DenseMap<OperationName, SmallVector<Operation *>> seen;
    for (Operation *op : ops) {
      auto &earlier = seen[op->getName()];
      Operation *first = nullptr;
      for (Operation *e : earlier)
        if (sameComputation(e, op) && dom.properlyDominates(e, op)) {
          first = e;
          break;
        }
      if (!first) {
        earlier.push_back(op);
        continue;
      }
      op->replaceAllUsesWith(first->getResults());
      op->erase();
      changed = true;
    }
  });
  return changed;
}

/// Runs the local rewrites and dead-code elimination to a fixed point.
void simplify(Operation *root) {
  bool changed = true;
  while (changed) {
    changed = shareComputations(root);
    SmallVector<Operation *> ops;
    root->walk([&](Operation *op) {
      if (op->getParentOfType<nf::HandlerOp>())
        ops.push_back(op);
    });
    llvm::DenseSet<Operation *> erased;
    for (Operation *op : ops) {
      if (erased.count(op))
        continue;
      // An op may disappear with a region that a folded if dropped: only
      // touch ops still reachable from the root.
      bool alive = false;
      for (Operation *p = op; p; p = p->getParentOp())
        if (p == root)
          alive = true;
      if (!alive)
        continue;
      if (simplifyOp(op)) {
        changed = true;
        break; // the op list is stale; walk again
      }
    }
    // Dead-code elimination of unused ops without write effects.
    SmallVector<Operation *> dead;
    root->walk<WalkOrder::PostOrder>([&](Operation *op) {
      if (op->getParentOfType<nf::HandlerOp>() && isOpTriviallyDead(op))
        dead.push_back(op);
    });
    for (Operation *op : llvm::reverse(dead)) {
      if (!op->use_empty())
        continue;
      op->erase();
      changed = true;
    }
  }
}

struct SimplifyPass : sbpf::impl::NetfnSimplifyBase<SimplifyPass> {
  void runOnOperation() override { simplify(getOperation()); }
};

//===----------------------------------------------------------------------===//
// netfn-merge-conditions
//===----------------------------------------------------------------------===//

/// `if a { <movable ops>; if b { X } else { Y }; yield } else { Y }` ->
/// `<movable ops>; if a and b { X } else { Y }`.
bool mergeOne(nf::IfOp outer) {
  if (outer.getNumResults() != 0)
    return false;
  Block &thenBlock = outer.getThenRegion().front();
  auto yield = dyn_cast<nf::YieldOp>(thenBlock.getTerminator());
  if (!yield || yield.getNumOperands() != 0)
    return false;
  Operation *prev = yield->getPrevNode();
  auto inner = dyn_cast_or_null<nf::IfOp>(prev);
  if (!inner || inner.getNumResults() != 0)
    return false;
  for (Operation &op : thenBlock) {
    if (&op == inner.getOperation())
      break;
    if (!isMovable(&op))
      return false;
  }
  if (!regionsEqual(inner.getElseRegion(), outer.getElseRegion()))
    return false;
  // Hoist the condition's computation and test both at once.
  while (&thenBlock.front() != inner.getOperation())
    thenBlock.front().moveBefore(outer);
  OpBuilder b(outer);
  Value both = b.create<nf::AndOp>(inner.getLoc(), outer.getCondition(),
                                   inner.getCondition());
  outer->setOperand(0, both);
  Region tmp(outer);
  tmp.takeBody(inner.getThenRegion());
  outer.getThenRegion().takeBody(tmp);
  return true;
}

struct MergeConditionsPass
    : sbpf::impl::NetfnMergeConditionsBase<MergeConditionsPass> {
  void runOnOperation() override {
    // Each move takes an op later in its block past an op it does not wait
    // with, or into a region, so this ends; the bound only guards against a
    // case that argument misses (stopping early leaves a correct program).
    bool changed = true;
    for (unsigned round = 0; changed && round < 100; ++round) {
      changed = false;
      SmallVector<nf::IfOp> ifs;
      getOperation().walk([&](nf::IfOp op) { ifs.push_back(op); });
      for (nf::IfOp op : ifs)
        if (mergeOne(op)) {
          changed = true;
          break;
        }
    }
  }
};

//===----------------------------------------------------------------------===//
// netfn-remove-implied-predicates
//===----------------------------------------------------------------------===//

/// The leaves of the tree of netfn.and (on i1) that computes `v`, as the
/// operand slots that hold them.
void conjunctSlots(Value v, SmallVectorImpl<OpOperand *> &slots) {
  auto a = v.getDefiningOp<nf::AndOp>();
  if (!a)
    return;
  for (OpOperand &use : a->getOpOperands()) {
    if (use.get().getDefiningOp<nf::AndOp>())
      conjunctSlots(use.get(), slots);
    else
      slots.push_back(&use);
  }
}

/// Whether a conjunct is not worth a query: computed from a random draw or
/// a clock reading (free inputs on every path, so neither implied nor
/// refuted), from a structured op's result or a block argument (not looked
/// into), or from strings (byte-wise string terms make each query cost
/// hundreds of milliseconds, and implied string tests are rare).
bool notWorthAQuery(Value v) {
  if (isa<nf::StringType, nf::OptionType>(v.getType()))
    return true;
  Operation *def = v.getDefiningOp();
  if (!def)
    return true;
  if (isa<nf::RandomOp, nf::NowOp>(def) || def->getNumRegions() != 0)
    return true;
  return llvm::any_of(def->getOperands(), notWorthAQuery);
}

/// Whether `h` multiplies or divides fixed-point or 64-bit numbers: Z3
/// bit-blasts those into 128-bit circuits and takes seconds, ignoring its
/// time limit while it does. Such handlers are not sent to the solver, so
/// compilation time stays bounded: netfn-validate proves their rewrites by
/// simplification alone (else reverts them), netfn-remove-implied-predicates
/// does not try them.
bool isHardForSMT(nf::HandlerOp h) {
  return h
      .walk([](Operation *op) {
        if (!isa<nf::MulOp, nf::DivOp, nf::RemOp>(op))
          return WalkResult::advance();
        Type t = op->getResult(0).getType();
        if (isa<nf::FixedType>(t) || t.isF64() || t.getIntOrFloatBitWidth() > 32)
          return WalkResult::interrupt();
        return WalkResult::advance();
      })
      .wasInterrupted();
}

/// The inputs (event fields, state variables) that computing `v` reads.
void collectSources(Value v, llvm::StringSet<> &sources) {
  Operation *def = v.getDefiningOp();
  if (!def)
    return;
  if (auto get = dyn_cast<nf::FieldGetOp>(def))
    sources.insert(("field " + get.getField()).str());
  else if (auto read = dyn_cast<nf::StateReadOp>(def))
    sources.insert(("state " + read.getState()).str());
  for (Value operand : def->getOperands())
    collectSources(operand, sources);
}

/// The handler of the same program and name in `snapshot`.
nf::HandlerOp findCounterpart(ModuleOp snapshot, nf::HandlerOp h) {
  auto program = h->getParentOfType<nf::ProgramOp>();
  nf::HandlerOp found;
  snapshot.walk([&](nf::ProgramOp p) {
    if (p.getSymName() != program.getSymName())
      return;
    for (nf::HandlerOp other : p.getBodyBlock().getOps<nf::HandlerOp>())
      if (other.getSymName() == h.getSymName())
        found = other;
  });
  return found;
}

struct RemoveImpliedPredicatesPass
    : sbpf::impl::NetfnRemoveImpliedPredicatesBase<RemoveImpliedPredicatesPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    // Proofs are against the enclosing netfn-validate's baseline when there
    // is one (so that it finds them made), else against the module as it
    // is now.
    OwningOpRef<ModuleOp> snapshot;
    ModuleOp baseline = sbpf::getValidationBaseline();
    if (!baseline) {
      snapshot = module.clone();
      baseline = *snapshot;
    }
    SmallVector<nf::HandlerOp> handlers;
    module.walk([&](nf::HandlerOp h) { handlers.push_back(h); });
    for (nf::HandlerOp h : handlers) {
      nf::HandlerOp before = findCounterpart(baseline, h);
      if (!before || isHardForSMT(before))
        continue;
      // Only conjuncts that something could imply: those with sibling
      // conjuncts or inside another branch. A lone test at the top of a
      // handler is implied by nothing but constants, which netfn-simplify
      // folds; asking Z3 about it would only cost time.
      SmallVector<OpOperand *> slots;
      h.walk([&](nf::IfOp op) {
        bool nested = op->getParentOp() != h.getOperation();
        if (op.getCondition().getDefiningOp<nf::AndOp>())
          conjunctSlots(op.getCondition(), slots);
        else if (nested)
          slots.push_back(&op->getOpOperand(0));
      });
      // What each tested conjunct reads: a conjunct that shares no input
      // with any other test of the handler cannot be decided by them (only
      // by being a tautology, which is rare): no query.
      SmallVector<llvm::StringSet<>> reads(slots.size());
      llvm::StringMap<unsigned> readers;
      for (auto [i, slot] : llvm::enumerate(slots)) {
        collectSources(slot->get(), reads[i]);
        for (auto &src : reads[i])
          ++readers[src.getKey()];
      }
      h.walk([&](nf::IfOp op) { // whole conditions too (non-and tests)
        if (op.getCondition().getDefiningOp<nf::AndOp>())
          return;
        if (llvm::any_of(slots, [&](OpOperand *s) {
              return s->getOwner() == op.getOperation();
            }))
          return;
        llvm::StringSet<> srcs;
        collectSources(op.getCondition(), srcs);
        for (auto &src : srcs)
          ++readers[src.getKey()];
      });
      for (auto [i, slot] : llvm::enumerate(slots)) {
        if (constInt(slot->get()) || notWorthAQuery(slot->get()))
          continue;
        if (llvm::none_of(reads[i], [&](auto &src) {
              return readers.lookup(src.getKey()) > 1;
            }))
          continue;
        Value old = slot->get();
        bool kept = false;
        for (bool value : {true, false}) {
          OpBuilder b(slot->getOwner());
          Value c = makeBool(b, old.getLoc(), value);
          slot->set(c);
          // Proven in the form the pass leaves (folded), on a copy: the
          // same text as the result when this is the last rewrite, so the
          // enclosing netfn-validate needs no query of its own.
          OwningOpRef<ModuleOp> folded(module.clone());
          simplify(*folded);
          nf::HandlerOp after = findCounterpart(*folded, h);
          sbpf::RewriteProof proof =
              sbpf::proveHandlerUnchanged(before, after, timeoutMs,
                                          /*explain=*/false);
          if (proof.status == sbpf::RewriteProof::Proven) {
            kept = true;
            break;
          }
          slot->set(old);
          c.getDefiningOp()->erase();
        }
        // A decided conjunct no longer tests its inputs: the others may
        // now share none with any test.
        if (kept)
          for (auto &src : reads[i])
            --readers[src.getKey()];
      }
    }
    simplify(module);
  }
};

//===----------------------------------------------------------------------===//
// netfn-order-predicates
//===----------------------------------------------------------------------===//

/// Reads a JSON file; errors are emitted at `at`.
std::optional<llvm::json::Value> readJson(Operation *at, StringRef path,
                                          StringRef what) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer) {
    at->emitError() << what << ": cannot read '" << path << "'";
    return std::nullopt;
  }
  auto json = llvm::json::parse((*buffer)->getBuffer());
  if (!json) {
    at->emitError() << what << ": '" << path
                    << "' is not JSON: " << llvm::toString(json.takeError());
    return std::nullopt;
  }
  return std::move(*json);
}


/// "FILE:LINE:COL" of a FileLineColLoc (inside fused/named locations too).
std::string locationKey(Location loc) {
  std::string key;
  loc->walk([&](Location l) {
    if (auto f = dyn_cast<FileLineColLoc>(l)) {
      key = (f.getFilename().getValue() + ":" + Twine(f.getLine()) + ":" +
             Twine(f.getColumn()))
                .str();
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return key;
}

/// Collects the ops (in the same block as `at`, before it) that compute `v`
/// and nothing else; false when one of them may not move.
bool collectComputation(Value v, Operation *at,
                        llvm::SetVector<Operation *> &ops) {
  Operation *def = v.getDefiningOp();
  if (!def || def->getBlock() != at->getBlock())
    return true; // defined outside: nothing to move
  if (!isMovable(def))
    return false;
  for (Value operand : def->getOperands())
    if (!collectComputation(operand, at, ops))
      return false;
  ops.insert(def);
  return true;
}

struct OrderPredicatesPass
    : sbpf::impl::NetfnOrderPredicatesBase<OrderPredicatesPass> {
  using Base::Base;
  void runOnOperation() override {
    if (profile.empty())
      return;
    std::optional<llvm::json::Value> json =
        readJson(getOperation(), profile, "netfn-order-predicates: profile");
    if (!json)
      return signalPassFailure();
    const llvm::json::Object *root = json->getAsObject();
    const llvm::json::Object *preds =
        root ? root->getObject("predicates") : nullptr;
    if (!preds) {
      getOperation().emitError() << "netfn-order-predicates: profile '"
                                 << profile << "' has no \"predicates\" object";
      return signalPassFailure();
    }
    auto heldRate = [&](Value v) -> std::optional<double> {
      Operation *def = v.getDefiningOp();
      if (!def)
        return std::nullopt;
      const llvm::json::Object *entry = preds->getObject(locationKey(def->getLoc()));
      if (!entry)
        return std::nullopt;
      auto evaluated = entry->getNumber("evaluated");
      auto held = entry->getNumber("held");
      if (!evaluated || !held || *evaluated <= 0)
        return std::nullopt;
      return *held / *evaluated;
    };

    SmallVector<nf::IfOp> ifs;
    getOperation().walk([&](nf::IfOp op) { ifs.push_back(op); });
    for (nf::IfOp ifOp : ifs) {
      auto root = ifOp.getCondition().getDefiningOp<nf::AndOp>();
      if (!root || root->getBlock() != ifOp->getBlock())
        continue;
      SmallVector<OpOperand *> slots;
      conjunctSlots(root.getResult(), slots);
      // Each conjunct with the ops that compute it; all must be movable.
      struct Conjunct {
        Value value;
        std::optional<double> rate;
        llvm::SetVector<Operation *> ops;
      };
      SmallVector<Conjunct> conjuncts;
      bool movable = true;
      for (OpOperand *slot : slots) {
        Conjunct c{slot->get(), heldRate(slot->get()), {}};
        movable &= collectComputation(slot->get(), root, c.ops);
        conjuncts.push_back(std::move(c));
      }
      if (!movable)
        continue;
      SmallVector<Conjunct *> order;
      for (Conjunct &c : conjuncts)
        order.push_back(&c);
      std::stable_sort(order.begin(), order.end(), [](Conjunct *a, Conjunct *b) {
        if (a->rate && b->rate)
          return *a->rate < *b->rate;
        return a->rate.has_value() && !b->rate.has_value();
      });
      bool same = true;
      for (size_t i = 0; i < order.size(); ++i)
        same &= order[i] == &conjuncts[i];
      if (same)
        continue;
      // Recompute the chain left to right in the new order, each conjunct's
      // ops right before its use, so the backend tests them in this order.
      llvm::DenseSet<Operation *> placed;
      OpBuilder b(ifOp);
      Value acc;
      Operation *oldRoot = root;
      for (Conjunct *c : order) {
        for (Operation *op : c->ops)
          if (placed.insert(op).second)
            op->moveBefore(ifOp);
        acc = acc ? b.create<nf::AndOp>(root.getLoc(), acc, c->value).getResult()
                  : c->value;
      }
      ifOp->setOperand(0, acc);
      // The old chain is dead now.
      SmallVector<Operation *> worklist{oldRoot};
      while (!worklist.empty()) {
        Operation *op = worklist.pop_back_val();
        if (!op->use_empty())
          continue;
        SmallVector<Value> operands(op->getOperands());
        op->erase();
        for (Value v : operands)
          if (auto a = v.getDefiningOp<nf::AndOp>())
            worklist.push_back(a);
      }
    }
  }
};

//===----------------------------------------------------------------------===//
// netfn-profile-predicates
//===----------------------------------------------------------------------===//

struct ProfilePredicatesPass
    : sbpf::impl::NetfnProfilePredicatesBase<ProfilePredicatesPass> {
  using Base::Base;
  static constexpr const char *kWhat = "netfn-profile-predicates";

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (events.empty() || out.empty()) {
      module.emitError() << kWhat << ": give events=FILE and out=FILE";
      return signalPassFailure();
    }
    std::optional<llvm::json::Value> json =
        readJson(module, events, "netfn-profile-predicates: events");
    if (!json)
      return signalPassFailure();
    const llvm::json::Object *root = json->getAsObject();
    const llvm::json::Array *list = root ? root->getArray("events") : nullptr;
    if (!list) {
      module.emitError() << kWhat << ": '" << events
                         << "' has no \"events\" array";
      return signalPassFailure();
    }
    // The module stays as it is: the probes go into a copy. Each netfn.cmp
    // of a handler gets a state variable that it writes (0 or 1); it holds
    // 2 before each run, so 2 after it means "not evaluated".
    OwningOpRef<ModuleOp> probed(module.clone());
    nf::ProgramOp program;
    probed->walk([&](nf::ProgramOp p) { program = p; });
    if (!program) {
      module.emitError() << kWhat << ": no netfn.program";
      return signalPassFailure();
    }
    std::vector<std::pair<std::string, std::string>> probes; // state, loc
    SmallVector<nf::CmpOp> cmps;
    program.walk([&](nf::CmpOp c) {
      if (c->getParentOfType<nf::HandlerOp>())
        cmps.push_back(c);
    });
    auto ui32 = IntegerType::get(&getContext(), 32, IntegerType::Unsigned);
    for (nf::CmpOp c : cmps) {
      std::string name = "__sbpf_probe_" + std::to_string(probes.size());
      OpBuilder decl(&getContext());
      decl.setInsertionPointToStart(&program.getBodyBlock());
      decl.create<nf::StateOp>(c.getLoc(), name, ui32);
      OpBuilder b(c->getContext());
      b.setInsertionPointAfter(c);
      Value v = b.create<nf::CastOp>(c.getLoc(), ui32, c.getResult());
      b.create<nf::StateWriteOp>(c.getLoc(), name, v);
      probes.push_back({name, locationKey(c.getLoc())});
    }

    auto initial = sbpf::checker::evaluateInit(program);
    if (!initial) {
      module.emitError() << kWhat << ": init: "
                         << llvm::toString(initial.takeError());
      return signalPassFailure();
    }
    sbpf::checker::ConcreteState state = std::move(*initial);
    std::map<std::string, std::pair<uint64_t, uint64_t>> counts;
    for (auto [index, item] : llvm::enumerate(*list)) {
      auto fail = [&](const Twine &why) {
        module.emitError() << kWhat << ": event " << index << ": " << why;
        signalPassFailure();
      };
      const llvm::json::Object *ev = item.getAsObject();
      std::optional<StringRef> sym = ev ? ev->getString("event") : std::nullopt;
      if (!sym)
        return fail("no \"event\" name");
      nf::HandlerOp handler;
      for (nf::HandlerOp h : program.getBodyBlock().getOps<nf::HandlerOp>())
        if (h.getEvent() == *sym)
          handler = h;
      if (!handler)
        return fail("no handler for event '" + *sym + "'");
      nf::EventOp decl = handler.getEventDecl();
      sbpf::checker::ConcreteInputs in;
      in.state = state;
      for (auto &probe : probes)
        in.state.scalars[probe.first] = sbpf::checker::ConcreteValue::integer(2);
      if (const llvm::json::Object *fields = ev->getObject("fields")) {
        for (auto &[key, value] : *fields) {
          Type t = decl.getFieldType(key);
          if (!t)
            return fail("the event has no field '" + StringRef(key) + "'");
          if (auto s = value.getAsString())
            in.fields[key.str()] = sbpf::checker::ConcreteValue::string(s->str());
          else if (auto b = value.getAsBoolean())
            in.fields[key.str()] = sbpf::checker::ConcreteValue::boolean(*b);
          else if (auto i = value.getAsInteger())
            in.fields[key.str()] =
                t.isInteger(1) ? sbpf::checker::ConcreteValue::boolean(*i != 0)
                               : sbpf::checker::ConcreteValue::integer(*i);
          else
            return fail("field '" + StringRef(key) +
                        "' is not a string, boolean or integer");
        }
      }
      if (const llvm::json::Array *draws = ev->getArray("draws"))
        for (const llvm::json::Value &d : *draws)
          in.draws.push_back(uint32_t(d.getAsInteger().value_or(0)));
      if (const llvm::json::Array *clocks = ev->getArray("clocks"))
        for (const llvm::json::Value &c : *clocks)
          in.clocks.push_back(uint64_t(c.getAsInteger().value_or(0)));
      auto outputs = sbpf::checker::evaluateHandler(handler, in);
      if (!outputs)
        return fail(llvm::toString(outputs.takeError()));
      for (auto &[name, loc] : probes) {
        auto it = outputs->state.scalars.find(name);
        if (it == outputs->state.scalars.end() || it->second.bits == 2)
          continue;
        ++counts[loc].first;
        counts[loc].second += it->second.bits == 1;
      }
      state = outputs->state;
    }

    std::string error;
    auto file = openOutputFile(out, &error);
    if (!file) {
      module.emitError() << kWhat << ": cannot write '" << out << "': " << error;
      return signalPassFailure();
    }
    llvm::json::OStream j(file->os(), 2);
    j.object([&] {
      j.attributeObject("predicates", [&] {
        for (auto &[loc, c] : counts)
          j.attributeObject(loc, [&] {
            j.attribute("evaluated", int64_t(c.first));
            j.attribute("held", int64_t(c.second));
          });
      });
    });
    file->os() << "\n";
    file->keep();
  }
};

//===----------------------------------------------------------------------===//
// netfn-sink
//===----------------------------------------------------------------------===//

/// Whether running `op` (and what its regions hold) may change what a read
/// returns: it writes a field, state, a map or a log. Draws and clock
/// readings advance their own sequences, which no read observes, and
/// verdicts and yields only end a path.
bool mayWrite(Operation *op) {
  return op
      ->walk([](Operation *inner) {
        if (isa<nf::RandomOp, nf::NowOp, nf::ForwardOp, nf::RejectOp,
                nf::YieldOp, nf::ReturnOp>(inner) ||
            inner->getNumRegions() != 0)
          return WalkResult::advance();
        auto effects = dyn_cast<MemoryEffectOpInterface>(inner);
        if (effects && (effects.hasNoEffect() ||
                        effects.onlyHasEffect<MemoryEffects::Read>()))
          return WalkResult::advance();
        return WalkResult::interrupt();
      })
      .wasInterrupted();
}

/// The first op of `op`'s block that uses it, itself or through an op in
/// its regions; null when `op` is unused or used outside its block.
Operation *firstUseInBlock(Operation *op) {
  Block *block = op->getBlock();
  Operation *first = nullptr;
  for (Operation *user : op->getUsers()) {
    Operation *holder = block->findAncestorOpInBlock(*user);
    if (!holder)
      return nullptr;
    if (!first || holder->isBeforeInBlock(first))
      first = holder;
  }
  return first;
}

/// The region of `holder` that holds every use of `op`, when there is one
/// and sinking there pays: not a loop body (which would compute `op` once
/// per record), and `holder` does not use `op` itself (as its condition).
Region *regionOfAllUses(Operation *op, Operation *holder) {
  if (holder->getNumRegions() == 0 || isa<nf::ForeachOp>(holder))
    return nullptr;
  Region *into = nullptr;
  for (Operation *user : op->getUsers()) {
    if (user == holder ||
        op->getBlock()->findAncestorOpInBlock(*user) != holder)
      return nullptr;
    Region *r = user->getParentRegion();
    while (r->getParentOp() != holder)
      r = r->getParentOp()->getParentRegion();
    if (into && r != into)
      return nullptr;
    into = r;
  }
  return into;
}

/// One step of sinking the movable `op`: into the one region of the
/// structured op that holds all its uses, at its front (the next round
/// sinks it further there), else to just before the first op of its block
/// that uses it. True when it moved. A read moves only past ops that write
/// nothing.
bool sinkOne(Operation *op) {
  Operation *first = firstUseInBlock(op);
  if (!first)
    return false;
  // Everything between op and its new place must leave a read's value
  // unchanged.
  if (!isMemoryEffectFree(op))
    for (Operation *p = op->getNextNode(); p != first; p = p->getNextNode())
      if (mayWrite(p))
        return false;
  if (Region *into = regionOfAllUses(op, first)) {
    op->moveBefore(&into->front().front());
    return true;
  }
  // In place when only movable ops waiting for the same `first` stand
  // between: moving past them would swap them back and forth.
  for (Operation *p = op->getNextNode(); p != first; p = p->getNextNode())
    if (!isMovable(p) || firstUseInBlock(p) != first) {
      op->moveBefore(first);
      return true;
    }
  return false;
}

struct SinkPass : sbpf::impl::NetfnSinkBase<SinkPass> {
  void runOnOperation() override {
    // Later ops first, so that an op's users have found their places
    // before it looks for its own; again until nothing moves (an op moved
    // into a region may sink further there). Each move takes an op later
    // in its block past an op it does not wait with, or into a region, so
    // this ends; the bound only guards against a case that argument misses
    // (stopping early leaves a correct program).
    bool changed = true;
    for (unsigned round = 0; changed && round < 100; ++round) {
      changed = false;
      // Not strings: moving kinds/cache's 64-byte `body` read past its map
      // lookup shortens the C path by 208 instructions, but lengthens the
      // LLVM path by one and makes the checker's proof of the object take
      // 4x as long, past the validation budget (Passes.td).
      SmallVector<Operation *> ops;
      getOperation().walk([&](nf::HandlerOp h) {
        h.walk([&](Operation *op) {
          if (op != h.getOperation() && isMovable(op) &&
              !llvm::any_of(op->getResultTypes(),
                            [](Type t) { return isa<nf::StringType>(t); }))
            ops.push_back(op);
        });
      });
      for (Operation *op : llvm::reverse(ops))
        changed |= sinkOne(op);
    }
  }
};

//===----------------------------------------------------------------------===//
// netfn-validate
//===----------------------------------------------------------------------===//

nf::InitOp findInit(nf::ProgramOp program) {
  for (Operation &op : program.getBodyBlock())
    if (auto init = dyn_cast<nf::InitOp>(op))
      return init;
  return nf::InitOp();
}

struct ValidatePass : sbpf::impl::NetfnValidateBase<ValidatePass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (pipeline.empty()) {
      module.emitError("netfn-validate: no pipeline to validate (give "
                       "pipeline=PASSES)");
      return signalPassFailure();
    }
    OpPassManager inner("builtin.module");
    std::string errors;
    llvm::raw_string_ostream errorStream(errors);
    if (failed(parsePassPipeline(pipeline, inner, errorStream))) {
      module.emitError() << "netfn-validate: bad pipeline '" << pipeline
                         << "': " << errorStream.str();
      return signalPassFailure();
    }
    OwningOpRef<ModuleOp> snapshot(module.clone());
    ModuleOp outer = sbpf::getValidationBaseline();
    sbpf::setValidationBaseline(*snapshot);
    LogicalResult ran = runPipeline(inner, module);
    sbpf::setValidationBaseline(outer);
    if (failed(ran))
      return signalPassFailure();
    if (failed(validate(*snapshot, module)))
      return signalPassFailure();
  }

  /// Proves every handler of `after` equal to its counterpart in `before`;
  /// reverts `after` to `before` when a proof is not found, fails on a
  /// counterexample.
  LogicalResult validate(ModuleOp before, ModuleOp after) {
    std::string unproven;
    SmallVector<nf::HandlerOp> handlers;
    after.walk([&](nf::HandlerOp h) { handlers.push_back(h); });
    unsigned beforeCount = 0;
    before.walk([&](nf::HandlerOp) { ++beforeCount; });
    if (beforeCount != handlers.size())
      unproven = "the pipeline added or removed handlers";
    after.walk([&](nf::ProgramOp p) {
      nf::ProgramOp old;
      before.walk([&](nf::ProgramOp q) {
        if (q.getSymName() == p.getSymName())
          old = q;
      });
      nf::InitOp a = old ? findInit(old) : nf::InitOp(), b = findInit(p);
      if (!old || bool(a) != bool(b) ||
          (a && !regionsEqual(a.getBody(), b.getBody())))
        unproven = "the pipeline changed init (not validated)";
    });
    for (nf::HandlerOp h : handlers) {
      if (!unproven.empty())
        break;
      nf::HandlerOp old = findCounterpart(before, h);
      if (!old) {
        unproven = ("handler @" + h.getSymName() + " is new").str();
        break;
      }
      // The same code (op by op) means the same: no query needed. The
      // pipeline's passes leave most handlers alone.
      if (regionsEqual(old.getBody(), h.getBody()))
        continue;
      // Wide multiplication and division: proven only when the
      // simplifier shows the handlers equal (constants substituted for
      // state that only init sets make the same terms on both sides); a
      // bit-blasting solver would take far longer than an optimiser may.
      bool hard = isHardForSMT(old) || isHardForSMT(h);
      sbpf::RewriteProof proof = sbpf::proveHandlerUnchanged(
          old, h, timeoutMs, /*explain=*/true, /*structuralOnly=*/hard);
      if (proof.status == sbpf::RewriteProof::Different) {
        h.emitError() << "netfn-validate: pipeline '" << pipeline
                      << "' changed the meaning of handler @" << h.getSymName()
                      << " (a compiler bug):\n"
                      << proof.detail;
        return failure();
      }
      if (proof.status == sbpf::RewriteProof::Unknown)
        unproven = ("handler @" + h.getSymName() + ": " + proof.detail).str();
    }
    if (unproven.empty())
      return success();
    after.emitWarning() << "netfn-validate: the changes of pipeline '"
                        << pipeline << "' are reverted, not proven: "
                        << unproven;
    after.getBody()->clear();
    after.getBody()->getOperations().splice(after.getBody()->end(),
                                            before.getBody()->getOperations());
    return success();
  }
};

struct TestSwapBranchesPass
    : sbpf::impl::NetfnTestSwapBranchesBase<TestSwapBranchesPass> {
  void runOnOperation() override {
    getOperation().walk([](nf::HandlerOp h) {
      nf::IfOp first;
      h.walk([&](nf::IfOp op) {
        if (!first)
          first = op;
      });
      if (!first)
        return;
      Region tmp(first);
      tmp.takeBody(first.getThenRegion());
      first.getThenRegion().takeBody(first.getElseRegion());
      first.getElseRegion().takeBody(tmp);
    });
  }
};

} // namespace

std::unique_ptr<Pass> sbpf::createNetfnProfilePredicatesPass() {
  return std::make_unique<ProfilePredicatesPass>();
}
std::unique_ptr<Pass> sbpf::createNetfnTestSwapBranchesPass() {
  return std::make_unique<TestSwapBranchesPass>();
}
std::unique_ptr<Pass> sbpf::createNetfnPropagateStateConstantsPass() {
  return std::make_unique<PropagateStateConstantsPass>();
}
std::unique_ptr<Pass> sbpf::createNetfnSinkPass() {
  return std::make_unique<SinkPass>();
}
std::unique_ptr<Pass> sbpf::createNetfnSimplifyPass() {
  return std::make_unique<SimplifyPass>();
}
std::unique_ptr<Pass> sbpf::createNetfnMergeConditionsPass() {
  return std::make_unique<MergeConditionsPass>();
}
std::unique_ptr<Pass> sbpf::createNetfnRemoveImpliedPredicatesPass() {
  return std::make_unique<RemoveImpliedPredicatesPass>();
}
std::unique_ptr<Pass> sbpf::createNetfnOrderPredicatesPass() {
  return std::make_unique<OrderPredicatesPass>();
}
std::unique_ptr<Pass> sbpf::createNetfnValidatePass() {
  return std::make_unique<ValidatePass>();
}
std::unique_ptr<Pass> sbpf::createNetfnValidatePass(StringRef pipeline,
                                                    unsigned timeoutMs) {
  NetfnValidateOptions options;
  options.pipeline = pipeline.str();
  options.timeoutMs = timeoutMs;
  return std::make_unique<ValidatePass>(options);
}
