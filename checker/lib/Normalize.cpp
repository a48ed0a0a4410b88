//===- Normalize.cpp - local rewriting of query terms (Normalize.h) -------===//
//
// The rules, applied at a node whose children are already normal (each
// result is normalized again at its root, and the new nodes a rule builds
// at theirs):
//   Boolean: and/or drop their unit, absorb their zero, drop duplicates and
//     order their operands; not(not x) = x; (distinct a b) and Boolean
//     (xor a b) are not(= a b); (= a a) is true, = orders its operands;
//     ite with a constant or negated condition or equal branches;
//     (ite c true false) = c.
//   Comparisons: every signed and unsigned order is bvslt / bvult with the
//     operands swapped or the result negated; (bvslt (bvxor a b) 0) is
//     "the signs differ", not(= (bvslt a 0) (bvslt b 0)).
//   Bit-vectors: unit and zero laws of bvand/bvor/bvxor/bvadd/bvsub/bvmul
//     and shifts by 0; x ^ -1 = ~x; ~~x = x; 0 - x = -x; --x = x;
//     x - c = x + (-c); (x + c1) + c2 = x + (c1 + c2); commutative operands
//     ordered (numerals first, then by id); (lshr x (w-1)) & 1 =
//     lshr x (w-1); 1 ^ (lshr x (w-1)) = lshr (~x) (w-1); the sign-mask
//     absolute value (x ^ s) - s with s = x >>a (w-1) is
//     (ite (bvslt x 0) (-x) x), the encoding's.
//   Widths: extract of extract, of zero_extend and of concat composed;
//     the whole-width extract is its operand; zero_extend of zero_extend
//     added up, by 0 dropped; concat of a zero numeral and x is a
//     zero_extend; (= (zero_extend y) c) compares y with c (false when c
//     does not fit); (= (concat a b) c) compares the halves.
// Numerals are folded where a rule meets them (widths up to 64).
//
//===----------------------------------------------------------------------===//
#include "sbpf/Checker/Normalize.h"

#include <algorithm>
#include <cstdint>
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
bool isTrue(const z3::expr &e) { return e.is_true(); }
bool isFalse(const z3::expr &e) { return e.is_false(); }

Z3_decl_kind kindOf(const z3::expr &e) {
  return e.is_app() ? e.decl().decl_kind() : Z3_OP_UNINTERPRETED;
}
bool is(const z3::expr &e, Z3_decl_kind k) { return kindOf(e) == k; }

unsigned param(const z3::expr &e, unsigned i) {
  return Z3_get_decl_int_parameter(e.ctx(), e.decl(), i);
}

/// Operand order of commutative operators: numerals first, then by id.
bool before(const z3::expr &a, const z3::expr &b) {
  bool na = a.is_numeral(), nb = b.is_numeral();
  if (na != nb)
    return na;
  return a.id() < b.id();
}

z3::expr rebuild(const z3::expr &e, const std::vector<z3::expr> &args) {
  std::vector<Z3_ast> raw(args.begin(), args.end());
  return z3::expr(e.ctx(), Z3_update_term(e.ctx(), e, raw.size(), raw.data()));
}

bool sameArgs(const z3::expr &e, const std::vector<z3::expr> &args) {
  if (e.num_args() != args.size())
    return false;
  for (unsigned i = 0; i < args.size(); ++i)
    if (!z3::eq(e.arg(i), args[i]))
      return false;
  return true;
}

} // namespace

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

z3::expr Normalizer::top(const z3::expr &e, unsigned depth) {
  // A rule's result is normalized again at its root; the rules shrink or
  // reorder, so a few rounds reach a fixpoint (16 guards against a cycle).
  if (depth > 16 || !e.is_app() || e.num_args() == 0)
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
    // x >> (w-1): the top bit, 0 or 1.
    bool topBit = is(a, Z3_OP_BLSHR) && isNum(a.arg(1), w - 1);
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
        return again(z3::lshr(sub(~a.arg(0)), a.arg(1)));
      break;
    case Z3_OP_BAND:
      if (z3::eq(a, b) || isOnes(b))
        return a;
      if (isNum(b, 0))
        return b;
      // (x >> (w-1)) & 1: the shift leaves one bit.
      if (isNum(b, 1) && topBit)
        return a;
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
      break;
    default:
      break;
    }
    return std::nullopt;
  };

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
  case Z3_OP_SLT: {
    // (bvxor a b) < 0: the signs differ.
    z3::expr a = arg(0), b = arg(1);
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
    // The sign-mask absolute value: (x ^ s) - s with s = x >>a (w-1).
    if (is(b, Z3_OP_BASHR) && isNum(b.arg(1), w - 1) &&
        is(a, Z3_OP_BXOR) && a.num_args() == 2) {
      z3::expr x = b.arg(0);
      for (unsigned i = 0; i < 2; ++i)
        if (z3::eq(a.arg(i), x) && z3::eq(a.arg(1 - i), b))
          return again(z3::ite(sub(z3::slt(x, bv(0, w))), sub(-x), x));
    }
    return e;
  }
  case Z3_OP_BSHL:
  case Z3_OP_BLSHR:
  case Z3_OP_BASHR:
    if (isNum(arg(1), 0))
      return arg(0);
    return e;
  case Z3_OP_EXTRACT: {
    unsigned hi = param(e, 0), lo = param(e, 1);
    z3::expr x = arg(0);
    unsigned xw = x.get_sort().bv_size();
    if (lo == 0 && hi + 1 == xw)
      return x;
    if (auto v = num(x))
      return bv(*v >> lo, hi - lo + 1);
    if (is(x, Z3_OP_EXTRACT)) {
      unsigned l2 = param(x, 1);
      return again(x.arg(0).extract(hi + l2, lo + l2));
    }
    if (is(x, Z3_OP_ZERO_EXT)) {
      z3::expr y = x.arg(0);
      unsigned m = y.get_sort().bv_size();
      if (hi < m)
        return again(y.extract(hi, lo));
      if (lo >= m)
        return bv(0, hi - lo + 1);
      if (lo == 0)
        return again(z3::zext(y, hi + 1 - m));
      return e;
    }
    if (is(x, Z3_OP_CONCAT) && x.num_args() == 2) {
      z3::expr h = x.arg(0), l = x.arg(1);
      unsigned m = l.get_sort().bv_size();
      if (hi < m)
        return again(l.extract(hi, lo));
      if (lo >= m)
        return again(h.extract(hi - m, lo - m));
    }
    return e;
  }
  case Z3_OP_ZERO_EXT: {
    unsigned k2 = param(e, 0);
    z3::expr x = arg(0);
    if (k2 == 0)
      return x;
    if (is(x, Z3_OP_ZERO_EXT))
      return again(z3::zext(x.arg(0), k2 + param(x, 0)));
    if (auto v = num(x); v && w <= 64)
      return bv(*v, w);
    return e;
  }
  case Z3_OP_CONCAT:
    if (n == 2 && isNum(arg(0), 0))
      return again(z3::zext(arg(1), arg(0).get_sort().bv_size()));
    return e;
  default:
    return e;
  }
}
