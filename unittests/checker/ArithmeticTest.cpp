//===- ArithmeticTest.cpp - netfn arithmetic encodings vs definitions -----===//
//
// The netfn encodings of div / rem / fixed-point mul and div are built the
// way eBPF code computes them (NetfnSemantics.h, arith::). Here they are
// checked against the definitions the op descriptions give (SMT-LIB's
// bvsdiv / bvsrem / bvudiv / bvurem with x / 0 = 0 and x % 0 = x; the 2W-bit
// product shifted right by F; (a << F) / b in 2W bits truncating toward
// zero): proven equal for every input at small widths (the algorithms are
// width-generic), and compared at 64 bits on edge and random operands.
// Also the sweep (Sweep.h): what it rewrites stays equivalent, and it
// shares subterms that are the same function built differently.
//
//===----------------------------------------------------------------------===//
#include "sbpf/Checker/FixedConstant.h"
#include "sbpf/Checker/NetfnSemantics.h"
#include "sbpf/Checker/Sweep.h"

#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

using namespace sbpf::checker;

namespace {

z3::expr defUdiv(const z3::expr &a, const z3::expr &b) {
  z3::expr zero = a.ctx().bv_val(0, a.get_sort().bv_size());
  return z3::ite(b == zero, zero, z3::udiv(a, b));
}
z3::expr defSdiv(const z3::expr &a, const z3::expr &b) {
  z3::expr zero = a.ctx().bv_val(0, a.get_sort().bv_size());
  return z3::ite(b == zero, zero, a / b); // bvsdiv: MIN / -1 = MIN
}
z3::expr defRem(const z3::expr &a, const z3::expr &b, bool isSigned) {
  z3::expr zero = a.ctx().bv_val(0, a.get_sort().bv_size());
  return z3::ite(b == zero, a, isSigned ? z3::srem(a, b) : z3::urem(a, b));
}
z3::expr defFixedMul(const z3::expr &a, const z3::expr &b, unsigned f) {
  unsigned w = a.get_sort().bv_size();
  z3::expr p = z3::sext(a, w) * z3::sext(b, w);
  return z3::ashr(p, a.ctx().bv_val(f, 2 * w)).extract(w - 1, 0);
}
z3::expr defFixedDiv(const z3::expr &a, const z3::expr &b, unsigned f) {
  unsigned w = a.get_sort().bv_size();
  z3::expr zero = a.ctx().bv_val(0, w);
  z3::expr num = z3::shl(z3::sext(a, w), a.ctx().bv_val(f, 2 * w));
  return z3::ite(b == zero, zero, (num / z3::sext(b, w)).extract(w - 1, 0));
}

/// Proves `x == y` for every value of their inputs.
void expectValid(z3::context &c, const z3::expr &x, const z3::expr &y,
                 const std::string &what) {
  if (getenv("ARITH_TRACE"))
    fprintf(stderr, "proving %s\n", what.c_str());
  z3::solver s(c);
  s.add(x != y);
  z3::check_result r = s.check();
  EXPECT_EQ(r, z3::unsat) << what;
  if (r == z3::sat)
    ADD_FAILURE() << "counterexample: " << s.get_model();
}

class ArithmeticProof : public ::testing::TestWithParam<unsigned> {};
class FixedPointProof : public ::testing::TestWithParam<unsigned> {};

TEST_P(ArithmeticProof, IntegerDivisionAndRemainder) {
  z3::context c;
  unsigned w = GetParam();
  z3::expr a = c.bv_const("a", w), b = c.bv_const("b", w);
  expectValid(c, arith::udiv(a, b), defUdiv(a, b), "udiv");
  expectValid(c, arith::sdiv(a, b), defSdiv(a, b), "sdiv");
  expectValid(c, arith::rem(a, b, false), defRem(a, b, false), "urem");
  expectValid(c, arith::rem(a, b, true), defRem(a, b, true), "srem");
}

TEST_P(FixedPointProof, Algorithms) {
  z3::context c;
  unsigned w = GetParam();
  z3::expr a = c.bv_const("a", w), b = c.bv_const("b", w);
  for (unsigned f : {0u, 1u, w / 2, w - 1}) {
    std::string at = " W=" + std::to_string(w) + " F=" + std::to_string(f);
    expectValid(c, arith::fixedMulHalves(a, b, f), defFixedMul(a, b, f),
                "fixed mul by halves" + at);
    expectValid(c, arith::fixedDivLong(a, b, f), defFixedDiv(a, b, f),
                "fixed div by long division" + at);
    // What the encoding uses below 64 bits.
    expectValid(c, arith::fixedMul(a, b, f), defFixedMul(a, b, f),
                "fixed mul" + at);
    expectValid(c, arith::fixedDiv(a, b, f), defFixedDiv(a, b, f),
                "fixed div" + at);
  }
}

// A product with a whole-number constant k (raw k << F, either operand) is
// encoded as the W-bit product with k: proven for every such constant and
// every other operand at W = 8 (negative constants included), and checked
// to apply (no partial products in the term: the operand itself for k = 1,
// 0 for k = 0, else one product).
TEST(FixedPointProof, ProductWithWholeNumberConstant) {
  z3::context c;
  unsigned w = 8;
  z3::expr a = c.bv_const("a", w);
  unsigned proofs = 0;
  for (unsigned f : {0u, 1u, 4u, 7u})
    // F = 0 (every constant is whole) sampled: every 5th.
    for (unsigned raw = 0; raw < 256; raw += f ? 1u << f : 5u) {
      z3::expr k = c.bv_val(raw, w);
      std::string at = " F=" + std::to_string(f) + " raw=" + std::to_string(raw);
      z3::expr left = arith::fixedMul(k, a, f), right = arith::fixedMul(a, k, f);
      int whole = int8_t(raw) >> f;
      z3::expr expected = whole == 0   ? c.bv_val(0, w)
                          : whole == 1 ? a
                                       : a * c.bv_val(whole, w);
      EXPECT_TRUE(z3::eq(left, expected)) << "not a single product:" << at;
      EXPECT_TRUE(z3::eq(right, expected)) << "not a single product:" << at;
      expectValid(c, left, defFixedMul(k, a, f), "k * a" + at);
      expectValid(c, right, defFixedMul(a, k, f), "a * k" + at);
      ++proofs;
    }
  EXPECT_EQ(proofs, 52u + 128u + 16u + 2u);
}

// A product with a constant c = n + m / 2^t, m odd (FixedConstant.h):
// x * n + (x >>a t) * m + (((x & (2^t - 1)) * m) >>a t) is the definition
// ((x * raw) >> F in 2W bits, truncated) whenever 2t < W. Proven for every
// constant at W = 8 and every F (the form is width-generic), and the split
// refused exactly when 2t >= W.
TEST(FixedPointProof, ProductWithShortFractionConstantW8) {
  z3::context c;
  unsigned w = 8;
  z3::expr a = c.bv_const("a", w);
  unsigned proofs = 0, refused = 0;
  for (unsigned f = 0; f < w; ++f)
    for (unsigned raw = 0; raw < 256; ++raw) {
      llvm::APInt k(w, raw);
      unsigned t = f - std::min<unsigned>(k.countTrailingZeros(), f);
      auto split = splitFixedConstant(k, f);
      std::string at =
          " F=" + std::to_string(f) + " raw=" + std::to_string(raw);
      if (!split) {
        EXPECT_GE(2 * t, w) << "refused" << at;
        ++refused;
        continue;
      }
      EXPECT_EQ(split->shift, t) << at;
      expectValid(c, arith::fixedMulBySplit(a, *split),
                  defFixedMul(a, c.bv_val(raw, w), f), "split" + at);
      ++proofs;
    }
  // Refused: for F >= 4, the raw values whose low F - 3 bits are not all
  // zero (t >= 4): 128 + 192 + 224 + 240.
  EXPECT_EQ(refused, 784u);
  EXPECT_EQ(proofs, 8u * 256u - 784u);
}

// W = 16, F = 8: proven for edge constants (t = 0, 1 and 7, m = 1, 3 and
// 127, whole parts 0, 1, -1, -128 and 127); the proof for
// every constant is the exhaustive one at W = 8 above (at W = 16 a proof
// with a long m takes up to 10 s).
TEST(FixedPointProof, ProductWithShortFractionConstantW16) {
  z3::context c;
  const unsigned w = 16, f = 8;
  z3::expr a = c.bv_const("a", w);
  std::vector<uint16_t> raws = {0x0180, 0xff80, 0x8002, 0x00fe, 0xfffe,
                                0x0006, 0x8000, 0x7f00, 0x0100};
  unsigned proofs = 0;
  for (uint16_t raw : raws) {
    auto split = splitFixedConstant(llvm::APInt(w, raw), f);
    std::string at = " raw=" + std::to_string(raw);
    ASSERT_TRUE(split.has_value()) << at;
    expectValid(c, arith::fixedMulBySplit(a, *split),
                defFixedMul(a, c.bv_val(raw, w), f), "split W=16" + at);
    ++proofs;
  }
  EXPECT_EQ(proofs, 9u);
}

// The backends' fixed point, Q31.32 in 64 bits: fixedMul uses the split for
// every constant with t < 32 fraction bits (the term is fixedMulBySplit's,
// no partial products: checked for each t = 1..31, whole parts 0, 1, -1,
// 20, 2^31 - 1 and -2^31, and m = 1, m = 2^t - 1 and a random odd m), and
// that term equals the 128-bit definition on edge and random operands for
// each of those constants. Z3 proves it for every operand only for short m
// (the constants below; with m = 7 and n = 20 one proof takes 50 s: the
// solver compares two adder networks), so the proof for every constant is
// the width-generic one at W = 8 above. A raw constant with all 32
// fraction bits (t = 32) keeps the general product.
TEST(FixedPointProof, ProductWithShortFractionConstantQ31_32) {
  z3::context c;
  const unsigned w = 64, f = 32;
  z3::expr a = c.bv_const("a", w);
  std::mt19937_64 rng(7);
  std::vector<uint64_t> xs = {0,
                              1,
                              2,
                              3,
                              0x7fffffffffffffffULL,
                              0x8000000000000000ULL,
                              0xffffffffffffffffULL,
                              0x100000000ULL,
                              0xffffffffULL,
                              0x180000000ULL};
  for (int i = 0; i < 10; ++i) {
    uint64_t r = rng();
    xs.push_back(r);
    xs.push_back(r >> (rng() % 64));
    xs.push_back(-(r >> (rng() % 64)));
  }
  unsigned checked = 0;
  for (unsigned t = 1; t < 32; ++t)
    for (int64_t n : {0LL, 1LL, -1LL, 20LL, 0x7fffffffLL, -0x80000000LL}) {
      uint64_t top = (uint64_t(1) << t) - 1;
      for (uint64_t m : {uint64_t(1), top, (rng() & top) | 1}) {
        uint64_t raw = (uint64_t(n) << f) | (m << (f - t));
        z3::expr k = c.bv_val(raw, w);
        std::string at = " t=" + std::to_string(t) + " n=" + std::to_string(n) +
                         " m=" + std::to_string(m);
        auto split = cheapFixedConstantSplit(llvm::APInt(w, raw), f);
        ASSERT_TRUE(split.has_value()) << at;
        EXPECT_EQ(split->shift, t) << at;
        EXPECT_EQ(split->whole.getSExtValue(), n) << at;
        EXPECT_EQ(split->odd.getZExtValue(), m) << at;
        z3::expr left = arith::fixedMul(k, a, f),
                 right = arith::fixedMul(a, k, f);
        z3::expr form = arith::fixedMulBySplit(a, *split);
        EXPECT_TRUE(z3::eq(left, form)) << "not the split form:" << at;
        EXPECT_TRUE(z3::eq(right, form)) << "not the split form:" << at;
        z3::expr def = defFixedMul(a, k, f);
        for (uint64_t x : xs) {
          z3::model model(c);
          z3::func_decl da = a.decl();
          z3::expr va = c.bv_val(x, w);
          model.add_const_interp(da, va);
          uint64_t got = 0, want = 0;
          ASSERT_TRUE(model.eval(form, true).is_numeral_u64(got)) << at;
          ASSERT_TRUE(model.eval(def, true).is_numeral_u64(want)) << at;
          ASSERT_EQ(got, want) << at << " x=" << x;
          ++checked;
        }
      }
    }
  EXPECT_EQ(checked, 31u * 6u * 3u * 40u);
  // Proven for every operand: success_ratio's 1.5, and 0.5, 2.25, -1.5
  // (n = -2), 0.75, 2^31 - 0.5.
  for (uint64_t raw :
       {0x180000000ULL, 0x80000000ULL, 0x240000000ULL, 0xfffffffe80000000ULL,
        0xc0000000ULL, 0x7fffffff80000000ULL}) {
    auto split = cheapFixedConstantSplit(llvm::APInt(w, raw), f);
    ASSERT_TRUE(split.has_value()) << raw;
    expectValid(c, arith::fixedMul(a, c.bv_val(raw, w), f),
                defFixedMul(a, c.bv_val(raw, w), f),
                "Q31.32 split raw=" + std::to_string(raw));
  }
  uint64_t odd = 0x19999999ULL; // 0.1 rounded toward zero with F = 32
  EXPECT_FALSE(cheapFixedConstantSplit(llvm::APInt(w, odd), f).has_value());
  // Below 64 bits only whole numbers are split (one 64-bit multiply is
  // cheaper than the split's three).
  EXPECT_FALSE(cheapFixedConstantSplit(llvm::APInt(32, 0x18000), 16));
  EXPECT_TRUE(cheapFixedConstantSplit(llvm::APInt(32, 0x30000), 16));
}

// Proofs of dividers get slow fast: W = 8 takes under a second, W = 16
// over ten minutes. The encodings are width-generic, so small widths prove
// the algorithms; 64 bits is sampled below.
INSTANTIATE_TEST_SUITE_P(Widths, ArithmeticProof, ::testing::Values(4u, 8u));
// Fixed point: 2W-bit dividers (W = 8 takes seconds).
INSTANTIATE_TEST_SUITE_P(Widths, FixedPointProof, ::testing::Values(4u, 6u, 8u));

/// netfn.string.xor as NetfnOps.td defines it: byte i of s XORed with the
/// key's byte i mod len(key) (the key shifted right by that many bytes)
/// below len(s), 0 from there; s itself when the key is empty.
z3::expr defStringXor(SemContext &sc, sbpf::netfn::StringType st,
                      const z3::expr &s, sbpf::netfn::StringType kt,
                      const z3::expr &key) {
  z3::context &c = sc.z3();
  z3::expr len = sc.tupleProj(st, 0)(s), data = sc.tupleProj(st, 1)(s);
  z3::expr klen = sc.tupleProj(kt, 0)(key), kdata = sc.tupleProj(kt, 1)(key);
  unsigned n = data.get_sort().bv_size() / 8;
  unsigned kbits = kdata.get_sort().bv_size();
  std::optional<z3::expr> out;
  for (unsigned i = 0; i < n; ++i) {
    z3::expr sb = data.extract(8 * i + 7, 8 * i);
    z3::expr at = z3::urem(c.bv_val(i, 32), klen) * c.bv_val(8, 32);
    z3::expr sh = kbits >= 32 ? z3::zext(at, kbits - 32) : at.extract(kbits - 1, 0);
    z3::expr kb = z3::lshr(kdata, sh).extract(7, 0);
    z3::expr b = z3::ite(z3::ult(c.bv_val(i, 32), len),
                         z3::ite(klen == c.bv_val(0, 32), sb, sb ^ kb),
                         c.bv_val(0, 8));
    out = out ? z3::concat(b, *out) : b;
  }
  return sc.tupleCtor(st)(len, *out);
}

/// The encoding of netfn.string.xor (built in the backends' steps: the key
/// length clamped, the index through arith::rem, the key byte selected) is
/// the definition on the canonical key, for every string and key, and so
/// the definition itself on every well-formed key. Capacities: a key
/// shorter than, as long as and longer than the string, of a power-of-two
/// capacity and not (the backends' buffer is the next power of two).
TEST(StringXorProof, IsTheDefinition) {
  mlir::MLIRContext mctx;
  mctx.loadDialect<sbpf::netfn::NetfnDialect>();
  SemContext sc;
  z3::context &c = sc.z3();
  for (auto [n, k] : std::vector<std::pair<unsigned, unsigned>>{
           {8, 3}, {8, 4}, {4, 8}, {6, 6}, {5, 1}}) {
    auto st = sbpf::netfn::StringType::get(&mctx, n);
    auto kt = sbpf::netfn::StringType::get(&mctx, k);
    z3::expr s = c.constant(("s" + std::to_string(n)).c_str(), sc.sortOf(st));
    z3::expr key =
        c.constant(("key" + std::to_string(k)).c_str(), sc.sortOf(kt));
    std::string what = "string<" + std::to_string(n) + "> xor string<" +
                       std::to_string(k) + ">";
    z3::expr enc = stringXor(sc, st, s, kt, key);
    expectValid(c, enc, defStringXor(sc, st, s, kt, sc.canonical(kt, key)),
                what + ", canonical key");
    z3::solver wf(c);
    wf.add(sc.wellFormed(kt, key));
    wf.add(enc != defStringXor(sc, st, s, kt, key));
    EXPECT_EQ(wf.check(), z3::unsat) << what << ", well-formed key";
  }
}

/// 64 bits: too wide to prove the dividers equal, so evaluated on edge
/// values and random ones (the encodings simplify to numerals).
TEST(Arithmetic64, MatchesDefinitionsOnSamples) {
  z3::context c;
  std::vector<uint64_t> samples = {0,
                                   1,
                                   2,
                                   3,
                                   7,
                                   1000000000,
                                   0x7fffffffffffffffULL,
                                   0x8000000000000000ULL,
                                   0x8000000000000001ULL,
                                   0xffffffffffffffffULL,
                                   0xfffffffffffffffeULL,
                                   0x100000000ULL,
                                   0xffffffffULL,
                                   0x180000000ULL};
  std::mt19937_64 rng(42);
  for (int i = 0; i < 40; ++i) {
    uint64_t r = rng();
    samples.push_back(r);
    samples.push_back(r >> (rng() % 64));
    samples.push_back(-(r >> (rng() % 64)));
  }
  // Pairs of terms (encoding, definition) over the inputs a, b, evaluated
  // in a model that gives a and b the sample values.
  z3::expr a = c.bv_const("a", 64), b = c.bv_const("b", 64);
  std::vector<std::pair<std::string, std::pair<z3::expr, z3::expr>>> terms = {
      {"sdiv", {arith::sdiv(a, b), defSdiv(a, b)}},
      {"srem", {arith::rem(a, b, true), defRem(a, b, true)}},
      {"urem", {arith::rem(a, b, false), defRem(a, b, false)}}};
  for (unsigned f : {0u, 16u, 32u, 63u}) {
    terms.push_back({"fixed mul F=" + std::to_string(f),
                     {arith::fixedMul(a, b, f), defFixedMul(a, b, f)}});
    terms.push_back({"fixed div F=" + std::to_string(f),
                     {arith::fixedDiv(a, b, f), defFixedDiv(a, b, f)}});
  }
  size_t compared = 0;
  for (size_t i = 0; i < samples.size(); i += 2)
    for (size_t j = 0; j < samples.size(); j += 9) {
      z3::model m(c);
      z3::func_decl da = a.decl(), db = b.decl();
      z3::expr va = c.bv_val(samples[i], 64), vb = c.bv_val(samples[j], 64);
      m.add_const_interp(da, va);
      m.add_const_interp(db, vb);
      for (auto &[what, pair] : terms) {
        uint64_t x = 0, y = 0;
        ASSERT_TRUE(m.eval(pair.first, true).is_numeral_u64(x));
        ASSERT_TRUE(m.eval(pair.second, true).is_numeral_u64(y));
        ASSERT_EQ(x, y) << what << " of " << samples[i] << ", "
                        << samples[j];
        ++compared;
      }
    }
  EXPECT_GT(compared, 3000u);
}

//===----------------------------------------------------------------------===//
// Sweep
//===----------------------------------------------------------------------===//

/// A NUL-terminated string's canonical bytes (zero from the first NUL on),
/// built two ways: a running "seen a NUL" flag, and per byte "any byte
/// before is NUL".
z3::expr canonicalByFlag(z3::context &c, const z3::expr &bytes, unsigned n) {
  z3::expr seen = c.bool_val(false);
  z3::expr out(c);
  for (unsigned i = 0; i < n; ++i) {
    z3::expr b = bytes.extract(8 * i + 7, 8 * i);
    seen = seen || b == c.bv_val(0, 8);
    z3::expr o = z3::ite(seen, c.bv_val(0, 8), b);
    out = i == 0 ? o : z3::concat(o, out);
  }
  return out;
}
z3::expr canonicalByPrefix(z3::context &c, const z3::expr &bytes,
                           unsigned n) {
  z3::expr out(c);
  for (unsigned i = 0; i < n; ++i) {
    z3::expr anyNul = c.bool_val(false);
    for (unsigned j = 0; j <= i; ++j)
      anyNul = anyNul ||
               bytes.extract(8 * j + 7, 8 * j) == c.bv_val(0, 8);
    // Written as a select of a mask so that the terms differ in shape.
    z3::expr mask = z3::ite(anyNul, c.bv_val(0, 8), c.bv_val(0xff, 8));
    z3::expr o = bytes.extract(8 * i + 7, 8 * i) & mask;
    out = i == 0 ? o : z3::concat(o, out);
  }
  return out;
}

TEST(Sweep, SharesTheSameFunctionBuiltTwice) {
  z3::context c;
  const unsigned n = 24;
  z3::expr bytes = c.bv_const("s", 8 * n);
  z3::expr table = c.constant("table", c.array_sort(c.bv_sort(8 * n),
                                                    c.bv_sort(32)));
  // A lookup keyed by each form: equal, but only if the keys are.
  z3::expr goal = z3::select(table, canonicalByFlag(c, bytes, n)) !=
                  z3::select(table, canonicalByPrefix(c, bytes, n));
  std::vector<z3::expr> goals = {goal};
  SweepStats st;
  sweep(c, goals, {}, SweepOptions(), st);
  EXPECT_GT(st.merged, 0u);
  // The key bytes were merged one by one, so the two lookups became one
  // term and the goal is false without a solver.
  EXPECT_TRUE(z3::eq(goals[0].simplify(), c.bool_val(false)))
      << goals[0] << "\n(" << st.merged << " merged, " << st.refuted
      << " refuted, " << st.unknown << " unknown)";
}

TEST(Sweep, KeepsDifferencesAndTheirModels) {
  z3::context c;
  const unsigned n = 8;
  z3::expr bytes = c.bv_const("s", 8 * n);
  // Differs from the canonical form exactly when byte 5 is the first NUL
  // and byte 6 is not zero.
  z3::expr wrong = canonicalByFlag(c, bytes, n);
  z3::expr alt = z3::concat(bytes.extract(8 * n - 1, 48),
                            canonicalByPrefix(c, bytes, 6));
  z3::expr goal = wrong != alt;
  std::vector<z3::expr> goals = {goal};
  SweepStats st;
  sweep(c, goals, {}, SweepOptions(), st);
  z3::solver s(c);
  s.add(goals[0]);
  ASSERT_EQ(s.check(), z3::sat);
  // A model of the rewritten goal is a model of the original one.
  z3::model m = s.get_model();
  EXPECT_TRUE(m.eval(goal, true).is_true());
  // And the rewriting is an equivalence.
  z3::solver eq(c);
  eq.add(goals[0] != goal);
  EXPECT_EQ(eq.check(), z3::unsat);
}

/// Terms that are 0 on every random vector but differ from 0 for one input
/// each: every one is a candidate against the constant 0 and is refuted by
/// the whole-cone query.
static std::vector<z3::expr> rarelyNonZero(z3::context &c) {
  z3::expr x = c.bv_const("x", 64);
  z3::expr sum = c.bv_val(0, 8);
  for (uint64_t k : {0x123456789abcdef1ull, 0x0fedcba987654321ull,
                     0x5a5a5a5aa5a5a5a5ull, 0x7e57ab1e0ddba11ull})
    sum = sum + z3::ite(x == c.bv_val(k, 64), c.bv_val(1, 8), c.bv_val(0, 8));
  return {sum != c.bv_val(0, 8)};
}

TEST(Sweep, CountsEveryRefutationPastTheRefinementLimit) {
  // Each candidate ends merged, refuted or unknown; a refutation past
  // maxRefinements adds no vector but is still counted as refuted.
  for (unsigned limit : {0u, 1u, 48u}) {
    z3::context c;
    std::vector<z3::expr> goals = rarelyNonZero(c);
    SweepOptions options;
    options.guidedVectors = 0; // models of x == K would split them up front
    options.maxRefinements = limit;
    SweepStats st;
    sweep(c, goals, {}, options, st);
    EXPECT_GT(st.refuted, 0u) << "limit " << limit;
    EXPECT_EQ(st.refinements, std::min<size_t>(st.refuted, limit))
        << "limit " << limit;
    EXPECT_EQ(st.candidates, st.merged + st.refuted + st.unknown)
        << "limit " << limit << ": " << st.merged << " merged, "
        << st.refuted << " refuted, " << st.unknown << " unknown";
  }
}

TEST(Sweep, FixedPointProductAgainstItsBytecodeShape) {
  // The 64-bit product as eBPF code computes it (a 32x32 low product by a
  // 32-bit multiply, halves by shifts instead of masks) against the netfn
  // encoding: too slow for the solver as a whole, shared part by part.
  z3::context c;
  z3::expr a = c.bv_const("a", 64), b = c.bv_const("b", 64);
  auto k = [&](uint64_t v) { return c.bv_val(v, 64); };
  z3::expr al = z3::lshr(z3::shl(a, k(32)), k(32)), ah = z3::lshr(a, k(32));
  z3::expr bl = z3::lshr(z3::shl(b, k(32)), k(32)), bh = z3::lshr(b, k(32));
  z3::expr ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
  z3::expr mid = z3::lshr(ll, k(32)) + z3::lshr(z3::shl(lh, k(32)), k(32)) +
                 z3::lshr(z3::shl(hl, k(32)), k(32));
  // The low word of the low product by a 32-bit multiply, as LLVM does.
  z3::expr lo = z3::shl(mid, k(32)) |
                z3::zext(a.extract(31, 0) * b.extract(31, 0), 32);
  z3::expr hi = hh + z3::lshr(lh, k(32)) + z3::lshr(hl, k(32)) +
                z3::lshr(mid, k(32));
  hi = z3::ite(z3::slt(a, k(0)), hi - b, hi);
  hi = z3::ite(z3::slt(b, k(0)), hi - a, hi);
  z3::expr code = z3::lshr(lo, k(32)) | z3::shl(hi, k(32));
  std::vector<z3::expr> goals = {code != arith::fixedMul(a, b, 32)};
  SweepStats st;
  sweep(c, goals, {}, SweepOptions(), st);
  EXPECT_TRUE(z3::eq(goals[0].simplify(), c.bool_val(false)))
      << st.merged << " merged, " << st.refuted << " refuted, " << st.unknown
      << " unknown";
}

TEST(Sweep, RemainderRangeLetsASignTestMove) {
  // latency_log's shape: the netfn encoding takes the magnitude of
  // `v << 32`, compiled code tests the sign of `v` instead, which is the
  // same only because v is a remainder by 10^9 (|v| < 2^31). The sweep
  // abstracts the remainder to a value below its divisor and proves it;
  // no divider circuit enters the query.
  z3::context c;
  z3::expr x = c.bv_const("x", 64);
  auto k = [&](uint64_t v) { return c.bv_val(v, 64); };
  z3::expr zero = k(0);
  z3::expr ax = z3::ite(x < zero, -x, x);
  z3::expr r = ax - arith::udiv(ax, k(1000000000)) * k(1000000000);
  z3::expr v = z3::ite(x < zero, -r, r);
  z3::expr shifted = z3::shl(v, k(32));
  z3::expr spec = z3::ite(shifted < zero, -shifted, shifted);
  z3::expr code = z3::ite(v < zero, -shifted, shifted);
  z3::expr goal = arith::udiv(spec, k(1000000000)) !=
                  arith::udiv(code, k(1000000000));
  std::vector<z3::expr> goals = {goal};
  SweepStats st;
  sweep(c, goals, {}, SweepOptions(), st);
  EXPECT_TRUE(z3::eq(goals[0].simplify(), c.bool_val(false)))
      << goals[0] << "\n(" << st.merged << " merged)";
}

/// fixed<64, 32> division as LLVM compiles sbpf_fx_div64's loop (the
/// success_ratio / admission_control objects): the magnitude by xor/sub,
/// each step's "no borrow" bit from the remainder before the shift, negated
/// with bvneg.
static z3::expr divisionInBytecodeShape(z3::context &c, const z3::expr &a,
                                        const z3::expr &b) {
  auto k = [&](uint64_t v) { return c.bv_val(v, 64); };
  z3::expr zero = k(0), ones = k(~0ull);
  z3::expr sa = z3::ashr(a, k(63));
  z3::expr ua = (a ^ sa) - sa;
  z3::expr isZero = b == zero;
  z3::expr ub = z3::ite(isZero, k(1), z3::ite(b < zero, zero - b, b));
  z3::expr hi = z3::lshr(ua, k(32)), lo = z3::shl(ua, k(32));
  z3::expr r = hi - z3::ite(ub == zero, zero, z3::udiv(hi, ub)) * ub;
  z3::expr q = zero;
  for (int i = 63; i >= 0; --i) {
    z3::expr s = z3::shl(r, k(1));
    z3::expr r1 = s | (z3::lshr(lo, k(i)) & k(1));
    z3::expr borrow = ((r1 - ub) & ((s ^ ones) ^ ub)) | (ub & (s ^ ones));
    z3::expr ge = z3::lshr(borrow ^ ones, k(63));
    q = z3::shl(q, k(1)) | ge;
    r = r1 - (ub & -ge);
  }
  z3::expr neg = (a < zero) != (b < zero);
  return z3::ite(isZero, zero, z3::ite(neg, -q, q));
}

/// A -O0 object's shape (token_bucket, success_ratio): the code stores the
/// bytes of `v` unless its parse failed, the element writes `v` when its
/// parse succeeded; the two conditions are complements built differently.
/// The goal (the stored value differs) is unsatisfiable for every `v`.
static z3::expr storedUnlessParseFailed(z3::context &c, const z3::expr &v) {
  z3::expr old = c.bv_const("old", 64), p = c.bv_const("p", 8);
  z3::expr failed = z3::ult(p, c.bv_val(5, 8)) || p == c.bv_val(9, 8);
  z3::expr parsed = z3::uge(p, c.bv_val(5, 8)) && p != c.bv_val(9, 8);
  z3::expr stored = z3::ite(failed, old.extract(7, 0), v.extract(7, 0));
  for (unsigned i = 1; i < 8; ++i)
    stored = z3::concat(z3::ite(failed, old.extract(8 * i + 7, 8 * i),
                                v.extract(8 * i + 7, 8 * i)),
                        stored);
  return stored != z3::ite(parsed, v, old);
}

/// A plain sweep proves `goal` (it becomes false) by asking it with its
/// circuits cut after the passes.
static void expectProvenWithCircuitsCut(z3::context &c, const z3::expr &goal) {
  std::vector<z3::expr> goals = {goal};
  SweepStats st;
  sweep(c, goals, {}, SweepOptions(), st);
  EXPECT_TRUE(z3::eq(goals[0].simplify(), c.bool_val(false)))
      << st.merged << " merged, " << st.refuted << " refuted, " << st.unknown
      << " unknown";
  EXPECT_EQ(st.goalsByCircuitCut, 1u);
}

TEST(Sweep, ProductOfTwoVariablesIsCutUnderThePathLogic) {
  // A -O0 object's shape (token_bucket, success_ratio): the code stores the
  // product's bytes unless its parse failed, the element writes the product
  // when its parse succeeded. The product itself is shared, the two
  // conditions are complements built differently; the goal holds for every
  // value of the product. A plain sweep asks it with each product of two
  // variables cut (counted in goalsByCircuitCut; 0 without that cut). This
  // small goal the sweep also proves without it; the elements' goals, with
  // their parse conditions, it did not (unknown after 240 s): that is
  // lit-tests/bpf/o0-validation.test.
  z3::context c;
  z3::expr a = c.bv_const("a", 64), b = c.bv_const("b", 64);
  expectProvenWithCircuitsCut(
      c, storedUnlessParseFailed(c, arith::fixedMul(a, b, 32)));
}

TEST(Sweep, DivisionByAConstantIsCutUnderThePathLogic) {
  // token_bucket's state query after its sweep: the time conversion (two
  // divisions by 10^9) is shared, the path logic above it differs in
  // shape. A goal left open is asked with every divider cut (counted in
  // goalsByCircuitCut; 0 without that cut, and the goal stays open: no
  // product of two variables to cut, no region of 200 subterms).
  z3::context c;
  z3::expr t = c.bv_const("t", 64), k = c.bv_val(1000000000, 64);
  z3::expr q = z3::udiv(t, k), r = t - q * k;
  z3::expr v = z3::shl(q, c.bv_val(32, 64)) +
               z3::udiv(z3::shl(r, c.bv_val(32, 64)), k);
  expectProvenWithCircuitsCut(c, storedUnlessParseFailed(c, v));
}

TEST(Sweep, ThoroughSweepSharesDivisionStepsInTwoShapes) {
  // Each step's bits agree only through the step's own structure: the
  // remainder r1 = (r << 1) | bit, with bit in {0, 1}. A cut without the
  // cut subterms' definitions loses that; the thorough sweep keeps it and
  // merges the 64 steps one after the other, down to the quotient.
  z3::context c;
  z3::expr a = c.bv_const("a", 64), b = c.bv_const("b", 64);
  std::vector<z3::expr> goals = {divisionInBytecodeShape(c, a, b) !=
                                 arith::fixedDiv(a, b, 32)};
  SweepOptions options;
  options.thorough = true;
  SweepStats st;
  sweep(c, goals, {}, options, st);
  EXPECT_TRUE(z3::eq(goals[0].simplify(), c.bool_val(false)))
      << st.merged << " merged, " << st.refuted << " refuted, " << st.unknown
      << " unknown, " << st.sampled << " sampled";
  EXPECT_GT(st.dividerVectors, 0u);
}

TEST(Sweep, AsksNoQueryPastItsDeadline) {
  // Every query of a sweep ends by its deadline: a sweep whose deadline has
  // passed asks none, not even the goals with their circuits cut (which a
  // thorough sweep asks after its passes, and which ran 200 s past the
  // deadline on scramble's -O0 query), and leaves the goals as they were.
  z3::context c;
  z3::expr a = c.bv_const("a", 64), b = c.bv_const("b", 64);
  z3::expr goal = divisionInBytecodeShape(c, a, b) != arith::fixedDiv(a, b, 32);
  std::vector<z3::expr> goals = {goal};
  SweepOptions options;
  options.thorough = true;
  options.deadline = std::chrono::steady_clock::now();
  SweepStats st;
  sweep(c, goals, {}, options, st);
  EXPECT_EQ(st.solverCalls, 0u);
  EXPECT_EQ(st.merged, 0u);
  EXPECT_TRUE(st.outOfTime);
  EXPECT_TRUE(z3::eq(goals[0], goal));
}

/// scramble's key index at -O0 in two shapes: the element's `i % n` and
/// the object's `i - (i / m) * m`, n and m the key length clamped to
/// [1, 64] built differently (the same value), for i below `count`.
struct KeyIndex {
  z3::expr len, n, m;
  explicit KeyIndex(z3::context &c)
      : len(c.bv_const("len", 32)),
        n(z3::ite(len == c.bv_val(0, 32), c.bv_val(1, 32),
                  z3::ite(z3::ule(len, c.bv_val(64, 32)), len,
                          c.bv_val(64, 32)))),
        m(z3::ite(len != c.bv_val(0, 32),
                  z3::ite(z3::ult(len, c.bv_val(64, 32)), len,
                          c.bv_val(64, 32)),
                  c.bv_val(1, 32))) {}
  z3::expr element(unsigned i) const {
    return z3::urem(len.ctx().bv_val(i, 32), n);
  }
  z3::expr object(unsigned i) const {
    z3::expr k = len.ctx().bv_val(i, 32);
    return k - z3::udiv(k, m) * m;
  }
};

bool hasDivision(const z3::expr &e) {
  if (isDivision(e))
    return true;
  for (unsigned i = 0; i < e.num_args(); ++i)
    if (hasDivision(e.arg(i)))
      return true;
  return false;
}

TEST(DivisorCases, SplitsAClampedLengthIntoItsValues) {
  // The two divisors take the 64 values 1..64, together: 64 cases, each
  // without a divider left, each proven; the goals are unsat.
  z3::context c;
  KeyIndex k(c);
  z3::expr differs = c.bool_val(false);
  for (unsigned i = 0; i < 64; ++i)
    differs = differs || k.element(i) != k.object(i);
  size_t calls = 0;
  auto cases = divisorCases(c, {differs}, {}, std::chrono::steady_clock::now() +
                                                  std::chrono::seconds(60),
                            calls);
  ASSERT_TRUE(cases.has_value());
  EXPECT_EQ(cases->size(), 64u);
  EXPECT_EQ(calls, 65u); // 64 values and the unsat query that ends them
  for (const DivisorCase &one : *cases) {
    ASSERT_EQ(one.goals.size(), 1u);
    EXPECT_FALSE(hasDivision(one.goals[0])) << one.goals[0];
    z3::solver s(c);
    s.add(one.goals[0]);
    for (const z3::expr &a : one.assumptions)
      s.add(a);
    EXPECT_EQ(s.check(), z3::unsat);
  }
}

TEST(DivisorCases, AModelOfACaseIsAModelOfTheGoal) {
  // A satisfiable goal (17 % n == 5: n is 6 or 12): the cases where it
  // holds have models, and each satisfies the original goal.
  z3::context c;
  KeyIndex k(c);
  z3::expr goal = k.element(17) == c.bv_val(5, 32);
  std::vector<z3::expr> goals;
  for (unsigned i = 0; i < 16; ++i)
    goals.push_back(i ? k.object(i) == k.element(i) : goal);
  size_t calls = 0;
  auto cases = divisorCases(c, goals, {}, std::chrono::steady_clock::now() +
                                              std::chrono::seconds(60),
                            calls);
  ASSERT_TRUE(cases.has_value());
  std::vector<uint64_t> lens;
  for (const DivisorCase &one : *cases) {
    z3::solver s(c);
    s.add(one.goals[0]);
    for (const z3::expr &a : one.assumptions)
      s.add(a);
    if (s.check() != z3::sat)
      continue;
    z3::model m = s.get_model();
    EXPECT_TRUE(m.eval(goal, true).is_true());
    lens.push_back(m.eval(k.len, true).get_numeral_uint64());
  }
  std::sort(lens.begin(), lens.end());
  EXPECT_EQ(lens, (std::vector<uint64_t>{6, 12}));
}

TEST(DivisorCases, DoesNotApplyToFewDivisionsOrManyValues) {
  z3::context c;
  KeyIndex k(c);
  auto later = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  size_t calls = 0;
  // Fewer divisions than asked for: no split, no query.
  EXPECT_FALSE(divisorCases(c, {k.element(3) != k.object(3)}, {}, later,
                            calls)
                   .has_value());
  EXPECT_EQ(calls, 0u);
  // A divisor with more than 128 values: no split.
  z3::expr d = c.bv_const("d", 32), differs = c.bool_val(false);
  for (unsigned i = 0; i < 16; ++i)
    differs = differs || z3::urem(c.bv_val(i, 32), d) != c.bv_val(i, 32);
  EXPECT_FALSE(divisorCases(c, {differs}, {}, later, calls).has_value());
  // The same divisor under an assumption that bounds it: 8 cases.
  EXPECT_EQ(divisorCases(c, {differs}, {z3::ult(d, c.bv_val(8, 32))}, later,
                         calls)
                ->size(),
            8u);
}

} // namespace
