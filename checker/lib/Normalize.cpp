//===- Normalize.cpp - local rewriting of query terms (Normalize.h) -------===//
//
// The rules, applied at a node whose children are already normal (each
// result is normalized again at its root, and the new nodes a rule builds
// at theirs; every result is memoized):
//   Folding: an interpreted operator over numerals only is its value; a
//     datatype field of its constructor's application is the argument.
//   Boolean: and/or drop their unit, absorb their zero, drop duplicates and
//     order their operands; not(not x) = x; (distinct a b) and Boolean
//     (xor a b) are not(= a b); (= a a) is true, = orders its operands;
//     ite with a constant or negated condition or equal branches;
//     (ite c true false) = c; a branch choosing on the same condition
//     again takes that branch.
//   Comparisons: every signed and unsigned order is bvslt / bvult with the
//     operands swapped or the result negated; (bvslt (bvxor a b) 0) is
//     "the signs differ", not(= (bvslt a 0) (bvslt b 0)); a constant tree
//     (an ite tree with numeral leaves, e.g. a string's length) against a
//     numeral is decided by the tree's range; c - L < 0 is c < L when c and
//     L's leaves are below 2^(w-1).
//   Bit-vectors: unit and zero laws of bvand/bvor/bvxor/bvadd/bvsub/bvmul
//     and shifts by 0; x ^ -1 = ~x; ~~x = x; 0 - x = -x; --x = x;
//     x - c = x + (-c); c - x = c + (-x); (x + c1) + c2 = x + (c1 + c2);
//     commutative operands ordered (numerals first, then by id); a product,
//     quotient or remainder by a power of two is a shift or a mask;
//     x >>a (w-1) is ite(x < 0, ~0, 0); a mask by ite(c, ~0, 0) is
//     ite(c, x, 0); 1 ^ the top bit is the complement's top bit; the
//     sign-mask absolute value (x ^ s) - s is (ite (bvslt x 0) (-x) x),
//     the encoding's.
//   Distribution: a bitwise operator over two concatenations split alike
//     works per part; a commutative operator over two choices on one
//     condition, or over a numeral and a choice with a numeral branch,
//     works per branch; an extract or zero_extend of a choice with a
//     numeral branch, or of a constant tree, per branch (leaf); an extract
//     of a bitwise operator over numerals and slice forms per operand.
//   Bit slices: extract, concat, zero_extend, shifts by numerals, masks
//     with one run of ones and sums whose numeral sets only bits known to
//     be zero are one canonical form (slices, fromSlices): a right-nested
//     concat of extracts of non-slice terms and numerals, neighbours
//     joined, a leading zero run as zero_extend, and set numeral bits
//     beside a variable part as a sum, numeral + rest (an address: base +
//     offset). (= (zero_extend y) c) compares y with c (false when c does
//     not fit); (= (concat a b) c) compares the halves; x + c1 = x + c2 is
//     decided by c1 and c2, n = x + c is n - c = x.
//   Arrays: a read over a write at an index known equal (the value) or
//     known different (skipped): numerals, or one base plus numerals;
//     a read at another index over at most 128 writes is the ite chain
//     of its choices.
//===----------------------------------------------------------------------===//
#include "sbpf/Checker/Normalize.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

using namespace sbpf::checker;

namespace {

/// The value of a bit-vector numeral of at most 64 bits.
std::optional<uint64_t> num(const z3::expr &e) {
  if (!e.is_numeral() || !e.is_bv() || e.get_sort().bv_size() > 64)
    return std::nullopt;
  uint64_t v = 0;
  if (!Z3_get_numeral_uint64(e.ctx(), e, &v))
    return std::nullopt;
  return v;
}

uint64_t maskOf(unsigned w) { return w >= 64 ? ~0ULL : (1ULL << w) - 1; }

bool isNum(const z3::expr &e, uint64_t v) {
  auto n = num(e);
  return n && *n == (v & maskOf(e.get_sort().bv_size()));
}
bool isOnes(const z3::expr &e) {
  auto n = num(e);
  return n && *n == maskOf(e.get_sort().bv_size());
}
bool isConst(const z3::expr &e) {
  return e.is_numeral() || e.is_true() || e.is_false();
}
bool isTrue(const z3::expr &e) { return e.is_true(); }
bool isFalse(const z3::expr &e) { return e.is_false(); }

Z3_decl_kind kindOf(const z3::expr &e) {
  return e.is_app() ? e.decl().decl_kind() : Z3_OP_UNINTERPRETED;
}
bool is(const z3::expr &e, Z3_decl_kind k) { return kindOf(e) == k; }

unsigned param(const z3::expr &e, unsigned i) {
  return Z3_get_decl_int_parameter(e.ctx(), e.decl(), i);
}

bool before(const z3::expr &a, const z3::expr &b) {
  return operandBefore(a.ctx(), a, b);
}

z3::expr rebuild(const z3::expr &e, const std::vector<z3::expr> &args) {
  std::vector<Z3_ast> raw(args.begin(), args.end());
  return z3::expr(e.ctx(), Z3_update_term(e.ctx(), e, raw.size(), raw.data()));
}

/// x op y for a bitwise operator kind, at x's width.
z3::expr bitwise(Z3_decl_kind k, const z3::expr &x, const z3::expr &y) {
  switch (k) {
  case Z3_OP_BAND:
    return x & y;
  case Z3_OP_BOR:
    return x | y;
  default:
    return x ^ y;
  }
}

bool sameArgs(const z3::expr &e, const std::vector<z3::expr> &args) {
  if (e.num_args() != args.size())
    return false;
  for (unsigned i = 0; i < args.size(); ++i)
    if (!z3::eq(e.arg(i), args[i]))
      return false;
  return true;
}


/// A bit-vector term as base + offset: (c, x) for (bvadd c x), c a
/// numeral (the normal order puts it first); a numeral is an offset
/// without a base; any other term is its own base, offset 0.
struct Offset {
  uint64_t c = 0;
  std::optional<z3::expr> base;
  bool sameBase(const Offset &o) const {
    return base.has_value() == o.base.has_value() &&
           (!base || z3::eq(*base, *o.base));
  }
};
Offset offsetOf(const z3::expr &t) {
  if (is(t, Z3_OP_BADD) && t.num_args() == 2)
    if (auto c = num(t.arg(0)))
      return {*c, t.arg(1)};
  if (auto c = num(t))
    return {*c, std::nullopt};
  return {0, t};
}

/// A run of bits of a bit-vector term: bits hi..lo of `base`, or, without
/// a base, the numeral `value` of width hi - lo + 1 (at most 64 bits).
struct Slice {
  std::optional<z3::expr> base;
  unsigned hi = 0, lo = 0;
  uint64_t value = 0;
  unsigned width() const { return hi - lo + 1; }
};

/// The one run of ones of a mask (hi, lo), if its ones are contiguous.
std::optional<std::pair<unsigned, unsigned>> onesRun(uint64_t m, unsigned w) {
  if (m == 0)
    return std::nullopt;
  unsigned lo = __builtin_ctzll(m);
  unsigned hi = 63 - __builtin_clzll(m);
  if (hi >= w || m != (maskOf(hi - lo + 1) << lo))
    return std::nullopt;
  return std::make_pair(hi, lo);
}

void slices(const z3::expr &e, unsigned hi, unsigned lo,
            std::vector<Slice> &out);

/// The slices of x + c (numeral c) when c's ones fall on bits of x known
/// to be zero (no carry: the sum is x with those bits set, e.g. 64 + 4*ihl
/// as concat(1, ihl, 00)); false otherwise.
bool sumSlices(const z3::expr &e, std::vector<Slice> &out) {
  if (kindOf(e) != Z3_OP_BADD || e.num_args() != 2)
    return false;
  unsigned w = e.get_sort().bv_size();
  unsigned ci = num(e.arg(0)) ? 0 : 1;
  std::optional<uint64_t> c = num(e.arg(ci));
  if (!c || e.arg(1 - ci).is_numeral() || w > 64)
    return false;
  std::vector<Slice> x;
  slices(e.arg(1 - ci), w - 1, 0, x);
  uint64_t covered = 0;
  unsigned top = w;
  for (Slice &sl : x) {
    unsigned bottom = top - sl.width();
    if (!sl.base) {
      uint64_t part = (*c >> bottom) & maskOf(sl.width());
      if (part & sl.value)
        return false;
      sl.value |= part;
      covered |= part << bottom;
    }
    top = bottom;
  }
  if (covered != *c)
    return false;
  out = std::move(x);
  return true;
}

bool sliceOp(const z3::expr &e, unsigned hi, unsigned lo,
             std::vector<Slice> &out);

/// Appends the slices of bits hi..lo of `e`, most significant first.
void slices(const z3::expr &e, unsigned hi, unsigned lo,
            std::vector<Slice> &out) {
  if (auto v = num(e)) {
    uint64_t x = (*v >> lo) & maskOf(hi - lo + 1);
    out.push_back(Slice{std::nullopt, hi - lo, 0, x});
    return;
  }
  // A wider numeral: its zero runs only (padding: a string map key's).
  if (e.is_numeral() && Z3_get_numeral_string(e.ctx(), e) == std::string("0")) {
    out.push_back(Slice{std::nullopt, hi - lo, 0, 0});
    return;
  }
  if (!sliceOp(e, hi, lo, out))
    out.push_back(Slice{e, hi, lo, 0});
}

/// When `e` is one of the operators the bit-slice form takes apart
/// (extract, concat, zero_extend, a shift by a numeral, a mask with one
/// run of ones, a sum without carries: sumSlices), appends the slices of
/// its bits hi..lo and is true; else appends nothing.
bool sliceOp(const z3::expr &e, unsigned hi, unsigned lo,
             std::vector<Slice> &out) {
  if (e.is_numeral())
    return false;
  auto zero = [&](unsigned h, unsigned l) {
    out.push_back(Slice{std::nullopt, h - l, 0, 0});
  };
  // Bits hi..lo where bits [top..bottom] of e are bits [top-shift..] of x.
  auto part = [&](const z3::expr &x, unsigned top, unsigned bottom,
                  int shift) {
    unsigned h = std::min(hi, top), l = std::max(lo, bottom);
    if (h >= l && h <= hi && l >= lo && top >= bottom)
      slices(x, unsigned(int(h) - shift), unsigned(int(l) - shift), out);
  };
  auto zeros = [&](unsigned top, unsigned bottom) {
    unsigned h = std::min(hi, top), l = std::max(lo, bottom);
    if (top >= bottom && h >= l)
      zero(h, l);
  };
  unsigned w = e.get_sort().bv_size();
  switch (kindOf(e)) {
  case Z3_OP_EXTRACT: {
    unsigned l = param(e, 1);
    slices(e.arg(0), hi + l, lo + l, out);
    return true;
  }
  case Z3_OP_CONCAT: {
    unsigned top = w;
    for (unsigned i = 0; i < e.num_args(); ++i) {
      unsigned aw = e.arg(i).get_sort().bv_size();
      part(e.arg(i), top - 1, top - aw, int(top - aw));
      top -= aw;
    }
    return true;
  }
  case Z3_OP_ZERO_EXT: {
    unsigned m = e.arg(0).get_sort().bv_size();
    zeros(w - 1, m);
    part(e.arg(0), m - 1, 0, 0);
    return true;
  }
  case Z3_OP_BSHL:
  case Z3_OP_BLSHR: {
    std::optional<uint64_t> k = e.num_args() == 2 ? num(e.arg(1)) : std::nullopt;
    if (!k)
      return false;
    if (*k >= w) {
      zeros(w - 1, 0);
      return true;
    }
    // x << k: x's bits w-1-k..0 above k zeros; x >> k: k zeros above x's
    // bits w-1..k.
    unsigned s = unsigned(*k);
    if (kindOf(e) == Z3_OP_BSHL) {
      part(e.arg(0), w - 1, s, int(s));
      if (s)
        zeros(s - 1, 0);
    } else {
      if (s)
        zeros(w - 1, w - s);
      part(e.arg(0), w - 1 - s, 0, -int(s));
    }
    return true;
  }
  case Z3_OP_BADD: {
    std::vector<Slice> sum;
    if (!sumSlices(e, sum))
      return false;
    unsigned top = w;
    for (const Slice &sl : sum) {
      unsigned bottom = top - sl.width();
      unsigned h = std::min(hi, top - 1), l = std::max(lo, bottom);
      if (h >= l && h <= top - 1) {
        if (!sl.base)
          out.push_back(Slice{std::nullopt, h - l, 0,
                              (sl.value >> (l - bottom)) & maskOf(h - l + 1)});
        else
          out.push_back(Slice{sl.base, sl.lo + (h - bottom),
                              sl.lo + (l - bottom), 0});
      }
      top = bottom;
    }
    return true;
  }
  case Z3_OP_BAND: {
    if (e.num_args() != 2)
      return false;
    unsigned i = num(e.arg(0)) ? 0 : 1;
    std::optional<uint64_t> m = num(e.arg(i));
    std::optional<std::pair<unsigned, unsigned>> run =
        m && !e.arg(1 - i).is_numeral() ? onesRun(*m, w) : std::nullopt;
    if (!run)
      return false;
    auto [rh, rl] = *run;
    if (rh + 1 < w)
      zeros(w - 1, rh + 1);
    part(e.arg(1 - i), rh, rl, 0);
    if (rl)
      zeros(rl - 1, 0);
    return true;
  }
  default:
    return false;
  }
}

/// The canonical term of a list of slices: neighbouring numerals joined
/// (up to 64 bits), neighbouring runs of one base joined, a leading zero
/// run a zero_extend, the rest a right-nested concat.
template <typename Norm>
z3::expr fromSlices(z3::context &ctx, std::vector<Slice> in, Norm norm) {
  std::vector<Slice> sl;
  for (Slice &s : in) {
    if (!sl.empty()) {
      Slice &p = sl.back();
      if (!p.base && !s.base &&
          (p.width() + s.width() <= 64 || (!p.value && !s.value))) {
        p.value = p.value ? (p.value << s.width()) | s.value : s.value;
        p.hi += s.width();
        continue;
      }
      if (p.base && s.base && z3::eq(*p.base, *s.base) && p.lo == s.hi + 1) {
        p.lo = s.lo;
        continue;
      }
    }
    sl.push_back(s);
  }
  // Set numeral bits beside a variable part: the numeral plus the
  // variable part with zeros there, x + c, the shape of an address (the
  // executor's base + offset, Z3's concat(1, ihl, 00) for 64 + 4*ihl).
  unsigned width = 0;
  bool variable = false, ones = false;
  for (const Slice &s : sl) {
    width += s.width();
    variable |= s.base.has_value();
    ones |= !s.base && s.value;
  }
  if (variable && ones && width <= 64) {
    uint64_t c = 0;
    std::vector<Slice> zeroed = sl;
    for (Slice &s : zeroed) {
      c = (c << s.width()) | s.value;
      s.value = 0;
    }
    return ctx.bv_val(static_cast<uint64_t>(c), width) +
           fromSlices(ctx, std::move(zeroed), norm);
  }
  auto term = [&](const Slice &s) -> z3::expr {
    if (!s.base)
      return ctx.bv_val(static_cast<uint64_t>(s.value), s.width());
    if (s.lo == 0 && s.hi + 1 == s.base->get_sort().bv_size())
      return *s.base;
    return norm(s.base->extract(s.hi, s.lo));
  };
  size_t first = 0;
  unsigned zext = 0;
  if (sl.size() > 1 && !sl[0].base && sl[0].value == 0) {
    zext = sl[0].width();
    first = 1;
  }
  z3::expr r = term(sl.back());
  for (size_t i = sl.size() - 1; i-- > first;)
    r = z3::concat(term(sl[i]), r);
  return zext ? z3::zext(r, zext) : r;
}
} // namespace

bool sbpf::checker::commutative(Z3_decl_kind k) {
  switch (k) {
  case Z3_OP_AND:
  case Z3_OP_OR:
  case Z3_OP_EQ:
  case Z3_OP_BAND:
  case Z3_OP_BOR:
  case Z3_OP_BXOR:
  case Z3_OP_BADD:
  case Z3_OP_BMUL:
    return true;
  default:
    return false;
  }
}

bool sbpf::checker::operandBefore(Z3_context c, Z3_ast a, Z3_ast b) {
  bool na = Z3_get_ast_kind(c, a) == Z3_NUMERAL_AST,
       nb = Z3_get_ast_kind(c, b) == Z3_NUMERAL_AST;
  if (na != nb)
    return na;
  return Z3_get_ast_id(c, a) < Z3_get_ast_id(c, b);
}

z3::expr Normalizer::operator()(const z3::expr &root) {
  // Iterative post-order: goals nest thousands deep (path conditions,
  // 64 division steps).
  std::vector<std::pair<z3::expr, bool>> stack;
  stack.emplace_back(root, false);
  while (!stack.empty()) {
    auto [e, expanded] = stack.back();
    stack.pop_back();
    if (memo.count(e.id()))
      continue;
    if (!e.is_app() || e.num_args() == 0) {
      memo.emplace(e.id(), e);
      held.push_back(e);
      continue;
    }
    if (!expanded) {
      stack.emplace_back(e, true);
      for (unsigned a = e.num_args(); a-- > 0;)
        if (!memo.count(e.arg(a).id()))
          stack.emplace_back(e.arg(a), false);
      continue;
    }
    std::vector<z3::expr> args;
    bool changed = false;
    for (unsigned a = 0; a < e.num_args(); ++a) {
      args.push_back(memo.at(e.arg(a).id()));
      changed |= !z3::eq(args.back(), e.arg(a));
    }
    z3::expr n = changed ? rebuild(e, args) : e;
    z3::expr r = top(n);
    memo.emplace(e.id(), r);
    held.push_back(e);
    if (!z3::eq(r, n)) {
      ++rewritten;
      // The rewritten node is its own normal form too.
      memo.emplace(r.id(), r);
      held.push_back(r);
    }
  }
  return memo.at(root.id());
}

unsigned Normalizer::treeLeaves(const z3::expr &e, uint64_t *min,
                                uint64_t *max) {
  constexpr unsigned kMaxLeaves = 128;
  Tree t;
  if (auto v = num(e)) {
    t = {1, *v, *v};
  } else if (!is(e, Z3_OP_ITE) || !e.is_bv() ||
             e.get_sort().bv_size() > 64) {
    return 0;
  } else if (auto it = trees.find(e.id()); it != trees.end()) {
    t = it->second;
  } else {
    Tree a, b;
    a.leaves = treeLeaves(e.arg(1), &a.min, &a.max);
    b.leaves = a.leaves ? treeLeaves(e.arg(2), &b.min, &b.max) : 0;
    if (a.leaves && b.leaves && a.leaves + b.leaves <= kMaxLeaves)
      t = {a.leaves + b.leaves, std::min(a.min, b.min), std::max(a.max, b.max)};
    trees.emplace(e.id(), t);
    held.push_back(e);
  }
  if (min)
    *min = t.min;
  if (max)
    *max = t.max;
  return t.leaves;
}

z3::expr Normalizer::top(const z3::expr &e, unsigned depth) {
  if (!e.is_app() || e.num_args() == 0)
    return e;
  if (auto it = memo.find(e.id()); it != memo.end())
    return it->second;
  z3::expr r = rewrite(e, depth);
  memo.emplace(e.id(), r);
  held.push_back(e);
  return r;
}

z3::expr Normalizer::rewrite(const z3::expr &e, unsigned depth) {
  // A rule's result is normalized again at its root, and the new nodes it
  // builds below at theirs; the rules shrink, reorder or distribute over
  // a concatenation's parts (64 deep for a 64-byte string), so the
  // recursion ends; 256 guards against a cycle. Results are memoized.
  if (depth > 256)
    return e;
  auto again = [&](const z3::expr &r) {
    return z3::eq(r, e) ? e : top(r, depth + 1);
  };
  // New nodes a rule builds below its result: normal at their roots.
  auto sub = [&](const z3::expr &r) { return top(r, depth + 1); };
  z3::context &ctx = e.ctx();
  Z3_decl_kind k = kindOf(e);
  unsigned n = e.num_args();
  auto arg = [&](unsigned i) { return e.arg(i); };
  auto sorted = [&]() {
    std::vector<z3::expr> args;
    for (unsigned i = 0; i < n; ++i)
      args.push_back(arg(i));
    std::stable_sort(args.begin(), args.end(), before);
    return args;
  };
  auto commuted = [&]() {
    std::vector<z3::expr> args = sorted();
    return sameArgs(e, args) ? e : rebuild(e, args);
  };
  unsigned w = e.is_bv() ? e.get_sort().bv_size() : 0;
  auto bv = [&](uint64_t v, unsigned width) {
    return ctx.bv_val(static_cast<uint64_t>(v & maskOf(width)), width);
  };

  // The laws of the commutative bit-vector operators, b the numeral if
  // there is one; nullopt when none applies.
  auto commutativeLaw = [&](const z3::expr &a,
                            const z3::expr &b) -> std::optional<z3::expr> {
    // x >> (w-1) in slice form: the top bit, 0 or 1, zero-extended.
    bool topBit = is(a, Z3_OP_ZERO_EXT) && a.arg(0).get_sort().bv_size() == 1;
    switch (k) {
    case Z3_OP_BXOR:
      if (z3::eq(a, b))
        return bv(0, w);
      if (isNum(b, 0))
        return a;
      if (isOnes(b))
        return again(~a);
      // 1 ^ (x >> (w-1)) = ~x >> (w-1): both the complement of the top bit.
      if (isNum(b, 1) && topBit)
        return again(z3::zext(sub(~a.arg(0)), w - 1));
      break;
    case Z3_OP_BAND:
      if (z3::eq(a, b) || isOnes(b))
        return a;
      if (isNum(b, 0))
        return b;
      // A mask that is all ones or zero: a choice.
      for (const z3::expr *m : {&a, &b})
        if (is(*m, Z3_OP_ITE) && isOnes(m->arg(1)) && isNum(m->arg(2), 0))
          return again(z3::ite(m->arg(0), m == &a ? b : a, bv(0, w)));
      break;
    case Z3_OP_BOR:
      if (z3::eq(a, b) || isNum(b, 0))
        return a;
      if (isOnes(b))
        return b;
      break;
    case Z3_OP_BADD: {
      if (isNum(b, 0))
        return a;
      auto ca = num(a), cb = num(b);
      if (ca && cb)
        return bv(*ca + *cb, w);
      // (x + c1) + c2 = x + (c1 + c2)
      if (cb && is(a, Z3_OP_BADD) && a.num_args() == 2)
        for (unsigned i = 0; i < 2; ++i)
          if (auto c1 = num(a.arg(i)))
            return again(a.arg(1 - i) + bv(*c1 + *cb, w));
      break;
    }
    case Z3_OP_BMUL:
      if (isNum(b, 1))
        return a;
      if (isNum(b, 0))
        return b;
      // By a power of two: a shift (then a slice form).
      if (auto v = num(b); v && !(*v & (*v - 1)))
        return again(z3::shl(a, bv(__builtin_ctzll(*v), w)));
      break;
    default:
      break;
    }
    return std::nullopt;
  };

  // An interpreted operator over numerals only (`(bvslt #x3b9aca00 0)`,
  // `(bvand #x20 #x3f)`, a divisor's zero test), and a datatype's field
  // read from its constructor (the encoding's Option<T>.value of a
  // lookup's pair): Z3's rewriter gives the value. Then the rules above
  // see the folded constant (an ite on it, a shift by it).
  if (k == Z3_OP_DT_ACCESSOR && is(arg(0), Z3_OP_DT_CONSTRUCTOR)) {
    z3::expr v = arg(0);
    z3::sort s = v.get_sort();
    unsigned ctors = Z3_get_datatype_sort_num_constructors(ctx, s);
    for (unsigned i = 0; i < ctors; ++i) {
      z3::func_decl ctor(ctx, Z3_get_datatype_sort_constructor(ctx, s, i));
      if (!z3::eq(ctor, v.decl()))
        continue;
      for (unsigned j = 0; j < v.num_args(); ++j)
        if (z3::eq(z3::func_decl(ctx, Z3_get_datatype_sort_constructor_accessor(
                                          ctx, s, i, j)),
                   e.decl()))
          return v.arg(j);
    }
    return e; // another constructor's field: unspecified, left alone
  }
  if (k != Z3_OP_UNINTERPRETED && (e.is_bv() || e.is_bool())) {
    bool numerals = true;
    for (unsigned i = 0; i < n && numerals; ++i)
      numerals = isConst(arg(i));
    if (numerals) {
      z3::expr v = e.simplify();
      if (v.is_numeral() || v.is_true() || v.is_false())
        return v;
    }
  }

  // An extract or zero_extend of a constant tree (an ite tree with
  // numeral leaves: a string's length as the chain of its first zero
  // byte's positions) is the tree with the leaves extracted or extended:
  // the object's 32-bit length and the encoding's 64-bit one, truncated,
  // are one chain.
  if ((k == Z3_OP_EXTRACT || k == Z3_OP_ZERO_EXT) && is(arg(0), Z3_OP_ITE) &&
      treeLeaves(arg(0))) {
    std::unordered_map<unsigned, z3::expr> done;
    std::function<z3::expr(const z3::expr &)> at =
        [&](const z3::expr &t) -> z3::expr {
      if (auto it = done.find(t.id()); it != done.end())
        return it->second;
      z3::expr r = !is(t, Z3_OP_ITE) ? rebuild(e, {t}).simplify()
                                     : z3::ite(t.arg(0), at(t.arg(1)),
                                               at(t.arg(2)));
      if (is(r, Z3_OP_ITE) && z3::eq(r.arg(1), r.arg(2)))
        r = r.arg(1);
      done.emplace(t.id(), r);
      held.push_back(r);
      return r;
    };
    return again(at(arg(0)));
  }

  // Into a choice with a numeral branch (a masked byte, ite(c, b, 0)):
  // the width change in each branch.
  if ((k == Z3_OP_EXTRACT || k == Z3_OP_ZERO_EXT) && is(arg(0), Z3_OP_ITE) &&
      (arg(0).arg(1).is_numeral() || arg(0).arg(2).is_numeral())) {
    z3::expr x = arg(0);
    return again(z3::ite(x.arg(0), sub(rebuild(e, {x.arg(1)})),
                         sub(rebuild(e, {x.arg(2)}))));
  }
  // An extract of a bitwise operator over a numeral or slice forms: of
  // each operand.
  if (k == Z3_OP_EXTRACT &&
      (is(arg(0), Z3_OP_BXOR) || is(arg(0), Z3_OP_BAND) ||
       is(arg(0), Z3_OP_BOR)) &&
      arg(0).num_args() == 2) {
    z3::expr x = arg(0);
    bool simple = true;
    for (unsigned i = 0; i < 2; ++i) {
      std::vector<Slice> scratch;
      simple &= x.arg(i).is_numeral() ||
                sliceOp(x.arg(i), x.arg(i).get_sort().bv_size() - 1, 0,
                        scratch);
    }
    if (simple)
      return again(bitwise(kindOf(x), sub(rebuild(e, {x.arg(0)})),
                           sub(rebuild(e, {x.arg(1)}))));
  }

  // The bit-slice form (fromSlices) of extracts, concatenations, zero
  // extensions, shifts by numerals and one-run masks: the executor's
  // (ihl & 0x0f) << 2 and the encoding's concat(0, extract(3,0,ihl), 00)
  // are one term, a byte-wise load and a nested concat too.
  if (std::vector<Slice> sl; e.is_bv() && sliceOp(e, w - 1, 0, sl)) {
    // The slices' extracts are normal but for the complement rule below
    // (their bases are not slice forms).
    auto extract = [&](const z3::expr &x) {
      return is(x.arg(0), Z3_OP_BNOT) ? sub(x) : x;
    };
    z3::expr r = fromSlices(ctx, std::move(sl), extract);
    if (!z3::eq(r, e))
      return again(r);
  }

  switch (k) {
  case Z3_OP_AND:
  case Z3_OP_OR: {
    bool isAnd = k == Z3_OP_AND;
    std::vector<z3::expr> args;
    for (unsigned i = 0; i < n; ++i) {
      z3::expr a = arg(i);
      if (isAnd ? isTrue(a) : isFalse(a))
        continue;
      if (isAnd ? isFalse(a) : isTrue(a))
        return ctx.bool_val(!isAnd);
      bool dup = false;
      for (const z3::expr &b : args)
        dup |= z3::eq(a, b);
      if (!dup)
        args.push_back(a);
    }
    if (args.empty())
      return ctx.bool_val(isAnd);
    if (args.size() == 1)
      return args[0];
    std::stable_sort(args.begin(), args.end(), before);
    if (sameArgs(e, args))
      return e;
    z3::expr_vector v(ctx);
    for (const z3::expr &a : args)
      v.push_back(a);
    return again(isAnd ? z3::mk_and(v) : z3::mk_or(v));
  }
  case Z3_OP_NOT:
    if (is(arg(0), Z3_OP_NOT))
      return arg(0).arg(0);
    if (arg(0).is_true() || arg(0).is_false())
      return ctx.bool_val(arg(0).is_false());
    return e;
  case Z3_OP_DISTINCT:
    if (n != 2)
      return e;
    return again(!sub(arg(0) == arg(1)));
  case Z3_OP_XOR:
    if (n != 2)
      return e;
    return again(!sub(arg(0) == arg(1)));
  case Z3_OP_EQ: {
    z3::expr a = arg(0), b = arg(1);
    if (z3::eq(a, b))
      return ctx.bool_val(true);
    if (a.is_numeral() && b.is_numeral())
      return ctx.bool_val(false); // distinct numerals of one sort
    if (b.is_numeral() && !a.is_numeral())
      std::swap(a, b); // the numeral first
    // x + c1 against y + c2 (either c may be absent): with x and y one
    // term, the numerals decide (an address against another computed from
    // the same base); n = x + c is n - c = x.
    if (a.is_bv() && a.get_sort().bv_size() <= 64) {
      unsigned aw = a.get_sort().bv_size();
      Offset x = offsetOf(a), y = offsetOf(b);
      if (!x.base && y.base && y.c)
        return again(sub(bv(x.c - y.c, aw) == *y.base));
      if (x.base && (x.c || y.c) && x.sameBase(y))
        return ctx.bool_val(((x.c ^ y.c) & maskOf(aw)) == 0);
    }
    if (auto c = num(a)) {
      // (= c (zero_extend k y)): y = c when c fits y's width.
      if (is(b, Z3_OP_ZERO_EXT)) {
        z3::expr y = b.arg(0);
        unsigned m = y.get_sort().bv_size();
        if (m < 64 && (*c >> m) != 0)
          return ctx.bool_val(false);
        return again(sub(bv(*c, m) == y));
      }
      // (= c (concat hi lo)): the halves.
      if (is(b, Z3_OP_CONCAT) && b.num_args() == 2) {
        unsigned m = b.arg(1).get_sort().bv_size();
        unsigned h = b.arg(0).get_sort().bv_size();
        z3::expr hi = sub(bv(m >= 64 ? 0 : *c >> m, h) == b.arg(0));
        z3::expr lo = sub(bv(*c, m) == b.arg(1));
        return again(hi && lo);
      }
    }
    if (a.is_bool() && (a.is_true() || a.is_false() || b.is_true() ||
                        b.is_false())) {
      z3::expr c = a.is_true() || a.is_false() ? a : b;
      z3::expr x = a.is_true() || a.is_false() ? b : a;
      return again(c.is_true() ? x : sub(!x));
    }
    return again(commuted());
  }
  case Z3_OP_ITE: {
    z3::expr c = arg(0), t = arg(1), f = arg(2);
    if (c.is_true())
      return t;
    if (c.is_false())
      return f;
    if (z3::eq(t, f))
      return t;
    if (is(c, Z3_OP_NOT))
      return again(z3::ite(c.arg(0), f, t));
    if (t.is_bool() && t.is_true() && f.is_false())
      return c;
    if (t.is_bool() && t.is_false() && f.is_true())
      return again(!c);
    // A branch choosing on the same condition again.
    if (is(t, Z3_OP_ITE) && z3::eq(t.arg(0), c))
      return again(z3::ite(c, t.arg(1), f));
    if (is(f, Z3_OP_ITE) && z3::eq(f.arg(0), c))
      return again(z3::ite(c, t, f.arg(2)));
    return e;
  }
  case Z3_OP_SGT:
    return again(z3::slt(arg(1), arg(0)));
  case Z3_OP_SGEQ:
    return again(!sub(z3::slt(arg(0), arg(1))));
  case Z3_OP_SLEQ:
    return again(!sub(z3::slt(arg(1), arg(0))));
  case Z3_OP_UGT:
    return again(z3::ult(arg(1), arg(0)));
  case Z3_OP_UGEQ:
    return again(!sub(z3::ult(arg(0), arg(1))));
  case Z3_OP_ULEQ:
    return again(!sub(z3::ult(arg(1), arg(0))));
  case Z3_OP_SELECT: {
    // Read over write: a store at an index known equal (the value) or
    // known different (skipped): numerals, or one base plus numerals.
    if (n != 2 || !arg(1).is_bv() || arg(1).get_sort().bv_size() > 64)
      return e;
    Offset i = offsetOf(arg(1));
    z3::expr a = arg(0);
    while (is(a, Z3_OP_STORE) && a.num_args() == 3) {
      Offset j = offsetOf(a.arg(1));
      if (!i.sameBase(j))
        break;
      if (i.c == j.c)
        return a.arg(2);
      a = a.arg(0);
    }
    if (!z3::eq(a, arg(0)))
      return again(z3::select(a, arg(1)));
    // Otherwise, over at most 128 stores: the choice the read makes,
    // ite(i = j1, v1, ite(i = j2, v2, ... (select base i))), each
    // comparison normalized (scramble's frame query, a free index read
    // back through the 64 stores of the body: 1.5 -> 0.3 s; Z3's array
    // theory finds the same choices, more slowly).
    constexpr size_t kMaxStores = 128;
    std::vector<z3::expr> stores;
    z3::expr below = a;
    while (is(below, Z3_OP_STORE) && below.num_args() == 3 &&
           stores.size() <= kMaxStores) {
      stores.push_back(below);
      below = below.arg(0);
    }
    if (stores.empty() || stores.size() > kMaxStores)
      return e;
    z3::expr r = sub(z3::select(below, arg(1)));
    for (size_t i = stores.size(); i-- > 0;)
      r = sub(z3::ite(sub(arg(1) == stores[i].arg(1)), stores[i].arg(2), r));
    return r;
  }
  case Z3_OP_ULT: {
    // A constant tree against a numeral: decided when its range is.
    uint64_t lo = 0, hi = 0;
    if (auto c = num(arg(0)); c && is(arg(1), Z3_OP_ITE) &&
                              treeLeaves(arg(1), &lo, &hi)) {
      if (*c >= hi)
        return ctx.bool_val(false);
      if (*c < lo)
        return ctx.bool_val(true);
    }
    if (auto c = num(arg(1)); c && is(arg(0), Z3_OP_ITE) &&
                              treeLeaves(arg(0), &lo, &hi)) {
      if (hi < *c)
        return ctx.bool_val(true);
      if (lo >= *c)
        return ctx.bool_val(false);
    }
    return e;
  }
  case Z3_OP_SLT: {
    // (bvxor a b) < 0: the signs differ.
    z3::expr a = arg(0), b = arg(1);
    // c - L < 0 for c and a constant tree L both below 2^(w-1): no
    // overflow, so c < L (the object's (s32)(i - len) >> 31 byte mask,
    // the encoding's i < len).
    if (isNum(b, 0) && is(a, Z3_OP_BADD) && a.num_args() == 2 &&
        is(a.arg(1), Z3_OP_BNEG)) {
      unsigned aw = a.get_sort().bv_size();
      uint64_t max = 0;
      z3::expr l = a.arg(1).arg(0);
      auto c = num(a.arg(0));
      if (c && aw <= 64 && is(l, Z3_OP_ITE) && treeLeaves(l, nullptr, &max) &&
          *c < (1ULL << (aw - 1)) && max < (1ULL << (aw - 1)))
        return again(z3::ult(a.arg(0), l));
    }
    if (is(a, Z3_OP_BXOR) && a.num_args() == 2 && isNum(b, 0)) {
      z3::expr zero = bv(0, a.get_sort().bv_size());
      return again(!sub(sub(z3::slt(a.arg(0), zero)) ==
                        sub(z3::slt(a.arg(1), zero))));
    }
    return e;
  }
  case Z3_OP_BNOT:
    if (is(arg(0), Z3_OP_BNOT))
      return arg(0).arg(0);
    if (auto v = num(arg(0)))
      return bv(~*v, w);
    return e;
  case Z3_OP_BNEG:
    if (is(arg(0), Z3_OP_BNEG))
      return arg(0).arg(0);
    if (auto v = num(arg(0)))
      return bv(0 - *v, w);
    return e;
  case Z3_OP_BXOR:
  case Z3_OP_BAND:
  case Z3_OP_BOR:
  case Z3_OP_BADD:
  case Z3_OP_BMUL: {
    // Commutative: the laws with the numeral, if there is one, as b; then
    // the operands in order.
    if (n == 2) {
      z3::expr a = arg(0), b = arg(1);
      if (a.is_numeral() && !b.is_numeral())
        std::swap(a, b);
      if (std::optional<z3::expr> r = commutativeLaw(a, b))
        return *r;
      // Bitwise over two concatenations split alike: per part.
      if (k != Z3_OP_BADD && k != Z3_OP_BMUL && is(a, Z3_OP_CONCAT) &&
          is(b, Z3_OP_CONCAT) && a.num_args() == 2 && b.num_args() == 2 &&
          a.arg(0).get_sort().bv_size() == b.arg(0).get_sort().bv_size()) {
        auto op = [&](const z3::expr &x, const z3::expr &y) {
          return sub(bitwise(k, x, y));
        };
        return again(z3::concat(op(a.arg(0), b.arg(0)),
                                op(a.arg(1), b.arg(1))));
      }
      // Two choices on one condition, or one whose branch is a numeral
      // beside a numeral: the operator in each branch.
      for (int side = 0; side < 2; ++side) {
        const z3::expr &x = side ? b : a, &y = side ? a : b;
        if (!is(x, Z3_OP_ITE))
          continue;
        bool same = is(y, Z3_OP_ITE) && z3::eq(x.arg(0), y.arg(0));
        bool folds = y.is_numeral() &&
                     (x.arg(1).is_numeral() || x.arg(2).is_numeral());
        if (!same && !folds)
          continue;
        z3::expr y1 = same ? y.arg(1) : y, y2 = same ? y.arg(2) : y;
        return again(z3::ite(x.arg(0), sub(rebuild(e, {x.arg(1), y1})),
                             sub(rebuild(e, {x.arg(2), y2}))));
      }
    }
    return again(commuted());
  }
  case Z3_OP_BSUB: {
    z3::expr a = arg(0), b = arg(1);
    if (z3::eq(a, b))
      return bv(0, w);
    if (isNum(b, 0))
      return a;
    if (isNum(a, 0))
      return again(-b);
    if (auto cb = num(b))
      return again(a + bv(0 - *cb, w));
    if (a.is_numeral())
      return again(a + sub(-b));
    // The sign-mask absolute value: (x ^ s) - s with s = x >>a (w-1), in
    // its normal form ite(x < 0, ~0, 0).
    if (is(b, Z3_OP_ITE) && is(b.arg(0), Z3_OP_SLT) &&
        isNum(b.arg(0).arg(1), 0) && isOnes(b.arg(1)) && isNum(b.arg(2), 0) &&
        is(a, Z3_OP_BXOR) && a.num_args() == 2) {
      z3::expr x = b.arg(0).arg(0);
      for (unsigned i = 0; i < 2; ++i)
        if (z3::eq(a.arg(i), x) && z3::eq(a.arg(1 - i), b))
          return again(z3::ite(b.arg(0), sub(-x), x));
    }
    return e;
  }
  case Z3_OP_BSHL:
  case Z3_OP_BLSHR:
  case Z3_OP_BASHR:
    if (isNum(arg(1), 0))
      return arg(0);
    // x >>a (w-1), the sign mask: all ones when x < 0, else 0.
    if (k == Z3_OP_BASHR && isNum(arg(1), w - 1))
      return again(z3::ite(sub(z3::slt(arg(0), bv(0, w))), bv(~0ULL, w),
                           bv(0, w)));
    return e;
  case Z3_OP_BUDIV:
  case Z3_OP_BUDIV_I:
  case Z3_OP_BUREM:
  case Z3_OP_BUREM_I:
    // By a power of two: a shift, a mask.
    if (auto d = num(arg(1)); d && *d && !(*d & (*d - 1))) {
      unsigned s = __builtin_ctzll(*d);
      bool div = k == Z3_OP_BUDIV || k == Z3_OP_BUDIV_I;
      return again(div ? z3::lshr(arg(0), bv(s, w))
                       : arg(0) & bv(maskOf(s), w));
    }
    return e;
  case Z3_OP_EXTRACT:
    // Into a complement (the slice form stops at one).
    if (is(arg(0), Z3_OP_BNOT))
      return again(~sub(arg(0).arg(0).extract(param(e, 0), param(e, 1))));
    return e;
  default:
    return e;
  }
}
