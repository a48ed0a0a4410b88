//===- NormalizeTest.cpp - the query normalizer's rules are identities ----===//
//
// Normalize.h: every rewrite must hold for all values of its variables (a
// normalized query's models are the original's). Each rule is built here
// from fresh variables and proven equal to its normal form by Z3; random
// terms over the same operators are normalized and proven too; and the
// shapes the two sides of a query actually produce (the executor's and the
// netfn encoding's) are checked to meet in one term.
//
//===----------------------------------------------------------------------===//
#include "sbpf/Checker/Normalize.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

using namespace sbpf::checker;

namespace {

size_t size(const z3::expr &root) {
  std::unordered_set<unsigned> seen;
  std::vector<z3::expr> stack{root};
  while (!stack.empty()) {
    z3::expr e = stack.back();
    stack.pop_back();
    if (!seen.insert(e.id()).second || !e.is_app())
      continue;
    for (unsigned i = 0; i < e.num_args(); ++i)
      stack.push_back(e.arg(i));
  }
  return seen.size();
}

class NormalizeTest : public ::testing::Test {
protected:
  z3::context c;
  z3::expr x = c.bv_const("x", 64), y = c.bv_const("y", 64);
  z3::expr b = c.bv_const("b", 8), h = c.bv_const("h", 8);
  z3::expr p = c.bool_const("p"), q = c.bool_const("q");

  /// `e` and its normal form are equal for all values (and the form is
  /// returned for shape checks).
  z3::expr provenNormal(const z3::expr &e) {
    Normalizer norm;
    z3::expr n = norm(e);
    z3::solver s(c);
    s.add(e != n);
    EXPECT_EQ(s.check(), z3::unsat)
        << e.to_string() << "\n  normalized to\n" << n.to_string();
    return n;
  }
  /// The rule fired: the normal form is `expected` itself.
  void rewritesTo(const z3::expr &e, const z3::expr &expected) {
    z3::expr n = provenNormal(e);
    Normalizer norm;
    EXPECT_TRUE(z3::eq(n, norm(expected)))
        << e.to_string() << "\n  normalized to\n"
        << n.to_string() << "\n  expected\n"
        << expected.to_string();
  }
  z3::expr bv(uint64_t v, unsigned w = 64) { return c.bv_val(v, w); }
};

TEST_F(NormalizeTest, BooleanRules) {
  rewritesTo(c.bool_val(true) && p, p);
  rewritesTo(p || c.bool_val(false), p);
  rewritesTo(p && c.bool_val(false), c.bool_val(false));
  rewritesTo(p || c.bool_val(true), c.bool_val(true));
  rewritesTo(p && p, p);
  rewritesTo(!!p, p);
  rewritesTo(p != q, !(p == q));
  rewritesTo(z3::expr(c, Z3_mk_xor(c, p, q)), !(p == q));
  rewritesTo(p == c.bool_val(true), p);
  rewritesTo(p == c.bool_val(false), !p);
  rewritesTo(z3::ite(c.bool_val(true), x, y), x);
  rewritesTo(z3::ite(c.bool_val(false), x, y), y);
  rewritesTo(z3::ite(p, x, x), x);
  rewritesTo(z3::ite(!p, x, y), z3::ite(p, y, x));
  rewritesTo(z3::ite(p, c.bool_val(true), c.bool_val(false)), p);
  rewritesTo(z3::ite(p, c.bool_val(false), c.bool_val(true)), !p);
  // Operand order: both orders meet.
  Normalizer norm;
  EXPECT_TRUE(z3::eq(norm(p && q), norm(q && p)));
  EXPECT_TRUE(z3::eq(norm(x == y), norm(y == x)));
}

TEST_F(NormalizeTest, Comparisons) {
  rewritesTo(z3::sgt(x, y), z3::slt(y, x));
  rewritesTo(z3::sge(x, y), !z3::slt(x, y));
  rewritesTo(z3::sle(x, y), !z3::slt(y, x));
  rewritesTo(z3::ugt(x, y), z3::ult(y, x));
  rewritesTo(z3::uge(x, y), !z3::ult(x, y));
  rewritesTo(z3::ule(x, y), !z3::ult(y, x));
  // The sign of a xor: the signs differ.
  rewritesTo(z3::slt(x ^ y, bv(0)), !(z3::slt(x, bv(0)) == z3::slt(y, bv(0))));
}

TEST_F(NormalizeTest, BitVectorRules) {
  rewritesTo(x ^ bv(~0ULL), ~x);
  rewritesTo(~~x, x);
  rewritesTo(bv(0) - x, -x);
  rewritesTo(-(-x), x);
  rewritesTo(x - bv(3), x + bv(-3ULL));
  rewritesTo((x + bv(0x16)) + bv(0x1f), x + bv(0x35));
  rewritesTo(x | bv(0), x);
  rewritesTo(x & bv(~0ULL), x);
  rewritesTo(x & bv(0), bv(0));
  rewritesTo(x ^ x, bv(0));
  rewritesTo(x * bv(1), x);
  rewritesTo(z3::shl(x, bv(0)), x);
  rewritesTo(z3::lshr(x, bv(63)) & bv(1), z3::lshr(x, bv(63)));
  // The complement of the top bit, either way.
  rewritesTo(bv(1) ^ z3::lshr(x, bv(63)), z3::lshr(~x, bv(63)));
  // The sign-mask absolute value is the encoding's ite.
  z3::expr s = z3::ashr(x, bv(63));
  rewritesTo((x ^ s) - s, z3::ite(z3::slt(x, bv(0)), -x, x));
}

TEST_F(NormalizeTest, WidthRules) {
  // The executor's byte read in a 32-bit register, the encoding's.
  rewritesTo(z3::zext(b, 56).extract(31, 0), z3::zext(b, 24));
  rewritesTo(z3::zext(z3::zext(b, 56).extract(31, 0), 32), z3::zext(b, 56));
  rewritesTo(z3::zext(b, 56).extract(7, 0), b);
  rewritesTo(z3::zext(b, 56).extract(5, 2), b.extract(5, 2));
  rewritesTo(z3::zext(b, 56).extract(40, 9), bv(0, 32));
  rewritesTo(x.extract(40, 9).extract(7, 1), x.extract(16, 10));
  rewritesTo(x.extract(63, 0), x);
  rewritesTo(z3::concat(h, b).extract(7, 0), b);
  rewritesTo(z3::concat(h, b).extract(15, 9), h.extract(7, 1));
  rewritesTo(z3::concat(bv(0, 8), b), z3::zext(b, 8));
  rewritesTo(z3::zext(z3::zext(b, 8), 48), z3::zext(b, 56));
  // Comparisons of a widened byte and of a concatenation with numerals.
  rewritesTo(z3::zext(b, 24) == bv(8, 32), b == bv(8, 8));
  rewritesTo(z3::zext(b, 24) == bv(0x108, 32), c.bool_val(false));
  rewritesTo(z3::concat(h, b) == bv(0x0800, 16),
             h == bv(8, 8) && b == bv(0, 8));
}

TEST_F(NormalizeTest, FoldingRules) {
  // An operator over numerals only.
  rewritesTo(z3::slt(bv(1000000000), bv(0)), c.bool_val(false));
  rewritesTo(z3::shl(x, bv(0x20) & bv(0x3f)), z3::shl(x, bv(32)));
  rewritesTo(z3::ite(bv(7) == bv(0), x, y), y);
  // A field of a constructor application.
  const char *names[] = {"len", "data"};
  z3::sort sorts[] = {c.bv_sort(32), c.bv_sort(64)};
  z3::func_decl_vector fields(c);
  z3::func_decl mk = c.tuple_sort("str", 2, names, sorts, fields);
  z3::expr len = c.bv_const("len", 32);
  rewritesTo(fields[0](mk(len, x)), len);
  rewritesTo(fields[1](mk(len, x)), x);
  // A product, quotient or remainder by a power of two: a shift, a mask.
  rewritesTo(x * bv(8), z3::shl(x, bv(3)));
  rewritesTo(z3::udiv(x, bv(16)), z3::lshr(x, bv(4)));
  rewritesTo(z3::urem(x, bv(16)), x & bv(15));
}

TEST_F(NormalizeTest, SliceAndAddressRules) {
  // The executor's (ihl & 0x0f) << 2, the encoding's concat: one term.
  z3::expr ihlByte = z3::zext(b, 56);
  Normalizer norm;
  z3::expr obj = provenNormal(z3::shl(ihlByte & bv(0x0f), bv(2)));
  z3::expr enc = provenNormal(
      z3::concat(bv(0, 58), z3::concat(b.extract(3, 0), bv(0, 2))));
  EXPECT_TRUE(z3::eq(norm(z3::shl(ihlByte & bv(0x0f), bv(2))),
                     norm(z3::concat(bv(0, 58),
                                     z3::concat(b.extract(3, 0), bv(0, 2))))))
      << obj.to_string() << "\n" << enc.to_string();
  // 64 + 4*ihl as Z3 writes it is the sum of the base and 64.
  z3::expr base = z3::concat(bv(0, 58), z3::concat(b.extract(3, 0), bv(0, 2)));
  rewritesTo(z3::concat(bv(1, 58), z3::concat(b.extract(3, 0), bv(3, 2))),
             bv(67) + base);
  // Addresses from one base: equal exactly when their offsets are.
  rewritesTo(base == bv(-0x74ULL) + (bv(64) + base), c.bool_val(false));
  rewritesTo(bv(5) + base == bv(5) + base, c.bool_val(true));
  rewritesTo(bv(0x30) == bv(0x10) + y, bv(0x20) == y);
  // Read over write at such addresses and at numerals.
  z3::expr mem = c.constant("mem", c.array_sort(c.bv_sort(64), c.bv_sort(8)));
  z3::expr stored = z3::store(z3::store(mem, bv(1) + y, b), bv(2) + y, h);
  rewritesTo(z3::select(stored, bv(1) + y), b);
  rewritesTo(z3::select(stored, bv(3) + y), z3::select(mem, bv(3) + y));
  rewritesTo(z3::select(z3::store(mem, bv(4), b), bv(5)),
             z3::select(mem, bv(5)));
  // A read at a free index over a few writes: the choice it makes.
  rewritesTo(z3::select(stored, x),
             z3::ite(x == bv(2) + y, h,
                     z3::ite(x == bv(1) + y, b, z3::select(mem, x))));
  // A sign mask is a choice, and a mask by a choice of all or nothing is
  // one too.
  rewritesTo(z3::ashr(x, bv(63)),
             z3::ite(z3::slt(x, bv(0)), bv(~0ULL), bv(0)));
  rewritesTo(z3::ite(p, bv(~0ULL), bv(0)) & y, z3::ite(p, y, bv(0)));
  // Bitwise over concatenations split alike: per part.
  rewritesTo(z3::concat(b, h) ^ z3::concat(h, b),
             z3::concat(b ^ h, h ^ b));
  // Wide zero padding (a 32-byte string as a 64-byte map key).
  rewritesTo(z3::zext(z3::concat(bv(0), z3::concat(bv(0), x)), 64),
             z3::zext(x, 192));
}

TEST_F(NormalizeTest, ChoiceRules) {
  // A string length as a chain of numerals (the first zero byte).
  z3::expr len = z3::ite(b == bv(0, 8), bv(0, 32),
                         z3::ite(h == bv(0, 8), bv(1, 32), bv(2, 32)));
  // Its truncation and extension are chains too.
  rewritesTo(z3::zext(len, 32).extract(31, 0), len);
  // Its range decides comparisons with numerals.
  rewritesTo(z3::ult(bv(2, 32), len), c.bool_val(false));
  rewritesTo(z3::ult(len, bv(3, 32)), c.bool_val(true));
  // The object's byte mask (s32)(i - len) >> 31 is the encoding's
  // i < len.
  z3::expr mask = z3::ashr(bv(1, 32) - len, bv(31, 32)).extract(7, 0);
  rewritesTo(mask, z3::ite(z3::ult(bv(1, 32), len), bv(0xff, 8), bv(0, 8)));
  // Choices on one condition; a numeral beside a choice with a numeral
  // branch.
  rewritesTo(z3::ite(p, z3::ite(p, x, y), bv(0)), z3::ite(p, x, bv(0)));
  rewritesTo(z3::ite(p, x, bv(0)) ^ z3::ite(p, y, bv(0)),
             z3::ite(p, x ^ y, bv(0)));
  rewritesTo(bv(0x33) ^ z3::ite(p, y, bv(0)),
             z3::ite(p, bv(0x33) ^ y, bv(0x33)));
  rewritesTo(z3::zext(z3::ite(p, b, bv(0, 8)), 56),
             z3::ite(p, z3::zext(b, 56), bv(0)));
}

TEST_F(NormalizeTest, TheTwoSidesMeet) {
  // A division step as the netfn encoding writes it (arith::fixedDivLong)
  // and as clang compiles it: ge = 1 ^ (borrow >> 63) against
  // ~borrow >> 63, the masks' operands swapped, ~r as r ^ -1, 0 - ge as
  // a negation.
  z3::expr r = x, ub = y, d = r - ub;
  z3::expr one = bv(1), top = bv(63), ones = bv(~0ULL);
  z3::expr borrowEnc = (~r & ub) | (~(r ^ ub) & d);
  z3::expr geEnc = one ^ z3::lshr(borrowEnc, top);
  z3::expr stepEnc = r - (ub & (bv(0) - geEnc));
  z3::expr borrowObj = (d & ((ub ^ r) ^ ones)) | (ub & (r ^ ones));
  z3::expr geObj = z3::lshr(borrowObj ^ ones, top);
  z3::expr stepObj = r - ((-geObj) & ub);
  Normalizer norm;
  EXPECT_TRUE(z3::eq(norm(stepEnc), norm(stepObj)))
      << norm(stepEnc).to_string() << "\n" << norm(stepObj).to_string();
}

/// Random terms over the operators the rules touch (8-bit and Boolean,
/// numerals biased to the rules' constants): each normal form is proven
/// equal to its term and is at most a constant factor larger.
TEST_F(NormalizeTest, RandomTermsKeepTheirValue) {
  std::mt19937_64 rng(0x5eed);
  std::vector<z3::expr> vars = {c.bv_const("r0", 8), c.bv_const("r1", 8),
                                c.bv_const("r2", 8)};
  auto pick = [&](unsigned n) { return unsigned(rng() % n); };
  std::function<z3::expr(unsigned)> bits, boolean;
  auto numeral = [&](unsigned w) {
    uint64_t choices[] = {0, 1, ~0ULL, w - 1, rng()};
    uint64_t v = choices[pick(5)];
    return c.bv_val(uint64_t(w >= 64 ? v : v & ((uint64_t(1) << w) - 1)), w);
  };
  // A chain of numerals (a string length's shape).
  auto chain = [&] {
    return z3::ite(boolean(0), numeral(8),
                   z3::ite(boolean(0), numeral(8), numeral(8)));
  };
  bits = [&](unsigned depth) -> z3::expr {
    if (depth == 0 || pick(5) == 0)
      return pick(3) ? vars[pick(vars.size())] : numeral(8);
    z3::expr a = bits(depth - 1), b = bits(depth - 1);
    switch (pick(27)) {
    case 0: return a & b;
    case 1: return a | b;
    case 2: return a ^ b;
    case 3: return a + b;
    case 4: return a - b;
    case 5: return a * b;
    case 6: return ~a;
    case 7: return -a;
    case 8: return z3::lshr(a, numeral(8));
    case 9: return z3::ashr(a, numeral(8));
    case 10: return z3::shl(a, numeral(8));
    case 11: return z3::ite(boolean(depth - 1), a, b);
    case 12: {
      unsigned k = pick(2);
      return z3::zext(a, 8).extract(7 + k, k);
    }
    case 13: return z3::concat(a, b).extract(11, 4);
    case 14: return z3::concat(c.bv_val(0, 8), a).extract(7, 0);
    // The patterns of the top-bit rules, with the top bit's shift (7)
    // and one short of it.
    case 15: {
      z3::expr s = z3::ashr(a, c.bv_val(6 + pick(2), 8));
      return (a ^ s) - s;
    }
    case 16: return c.bv_val(1, 8) ^ z3::lshr(a, c.bv_val(6 + pick(2), 8));
    // Powers of two, sign masks, chains, choices, concatenations, sums
    // beside zero bits.
    case 18: return a * c.bv_val(uint64_t(1) << pick(8), 8);
    case 19: return pick(2) ? z3::udiv(a, c.bv_val(uint64_t(1) << pick(8), 8))
                            : z3::urem(a, c.bv_val(uint64_t(1) << pick(8), 8));
    case 20: return z3::ashr(a, c.bv_val(7, 8)) & b;
    case 21: return numeral(8) - chain();
    case 22: {
      unsigned k = 4 * pick(2);
      return z3::zext(chain(), 8).extract(7 + k, k);
    }
    case 23: {
      z3::expr p = boolean(depth - 1);
      return z3::ite(p, a, numeral(8)) ^ z3::ite(p, z3::ite(p, b, a), numeral(8));
    }
    case 24: return (z3::concat(a.extract(3, 0), b.extract(7, 4)) &
                     z3::concat(b.extract(3, 0), a.extract(7, 4)));
    case 25: return (pick(2) ? z3::zext(a.extract(5, 0), 2)
                             : z3::concat(numeral(2), a.extract(5, 0))) +
                    c.bv_val(uint64_t(0x40 + 0x40 * pick(3) + pick(2)), 8);
    default: return z3::lshr(a, c.bv_val(6 + pick(2), 8)) & c.bv_val(1, 8);
    }
  };
  boolean = [&](unsigned depth) -> z3::expr {
    if (depth == 0)
      return z3::ult(vars[pick(vars.size())], numeral(8));
    z3::expr a = bits(depth - 1), b = bits(depth - 1);
    switch (pick(14)) {
    case 12: return z3::ult(numeral(8), pick(2) ? chain() : a);
    case 13: return z3::slt(numeral(8) - chain(), c.bv_val(0, 8));
    case 0: return a == b;
    case 1: return a != b;
    case 2: return z3::slt(a, b);
    case 3: return z3::sle(a, b);
    case 4: return z3::sgt(a, b);
    case 5: return z3::uge(a, b);
    case 6: return z3::ule(a, b);
    case 7: return boolean(depth - 1) && (pick(2) ? c.bool_val(true) : boolean(depth - 1));
    case 8: return boolean(depth - 1) || c.bool_val(false);
    case 9: return !boolean(depth - 1);
    case 10: return z3::zext(a, 16) == c.bv_val(uint64_t(rng() % 512), 24);
    default: return z3::concat(a, b) == c.bv_val(uint64_t(rng() % 65536), 16);
    }
  };
  unsigned rewrittenTotal = 0;
  for (int i = 0; i < 400; ++i) {
    z3::expr e = i % 2 ? bits(4) : boolean(4);
    Normalizer norm;
    z3::expr n = norm(e);
    rewrittenTotal += norm.rewrites();
    z3::solver s(c);
    s.add(e != n);
    ASSERT_EQ(s.check(), z3::unsat)
        << "term " << i << ": " << e.to_string() << "\n  normalized to\n"
        << n.to_string();
    EXPECT_LE(size(n), 2 * size(e) + 4) << e.to_string();
  }
  // The generator reaches the rules (not a test of nothing).
  EXPECT_GT(rewrittenTotal, 400u);
}

} // namespace
