//===- BindingTest.cpp - the ABI encodings as Z3 functions, tested ---------===//
//
// decode/encode of checker/lib/Binding.h: for every encoding the backend
// writes, decode(encode(v)) is v for every (well-formed) netfn value, proven
// by Z3; and concrete bytes decode as docs/bpf-abi.md says (a NUL-padded
// string ends at its first NUL, bool is non-zero, integers little-endian
// and sign-extended by the wire's signedness).
//
//===----------------------------------------------------------------------===//
#include "../../checker/lib/Binding.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

using namespace sbpf;
using namespace sbpf::checker;
using namespace sbpf::checker::binding;

namespace {

class BindingTest : public ::testing::Test {
protected:
  BindingTest() {
    ctx.loadDialect<netfn::NetfnDialect>();
  }
  mlir::MLIRContext ctx;
  SemContext sc;

  /// Proves decode(encode(v)) == v for all well-formed v of the slot's type.
  void expectInverse(const Slot &slot) {
    z3::context &c = sc.z3();
    z3::expr v = c.constant("v", sc.sortOf(slot.type));
    z3::expr back = decode(sc, slot, encode(sc, slot, v));
    z3::solver s(c);
    s.add(sc.wellFormed(slot.type, v));
    s.add(!sc.valueEq(slot.type, back, slot.type, sc.canonical(slot.type, v)));
    EXPECT_EQ(s.check(), z3::unsat) << slot.encoding << " of " << typeText(slot.type);
  }

  z3::expr bytes(std::initializer_list<uint8_t> list) {
    z3::context &c = sc.z3();
    std::vector<uint8_t> v(list);
    z3::expr r = c.bv_val(v[0], 8);
    for (size_t i = 1; i < v.size(); ++i)
      r = z3::concat(c.bv_val(v[i], 8), r);
    return r;
  }

  uint64_t value(const z3::expr &e) {
    z3::expr s = e.simplify();
    uint64_t r = 0;
    EXPECT_TRUE(s.is_numeral_u64(r)) << s;
    return r;
  }
};

TEST_F(BindingTest, EncodingsAreInverse) {
  mlir::Builder b(&ctx);
  auto ui = [&](unsigned w) { return b.getIntegerType(w, false); };
  auto si = [&](unsigned w) { return b.getIntegerType(w, true); };
  expectInverse({ui(8), "u8", 1});
  expectInverse({ui(32), "u32", 4});
  expectInverse({ui(64), "u64", 8});
  expectInverse({si(32), "s32", 4});
  expectInverse({si(64), "s64", 8});
  expectInverse({b.getI1Type(), "bool", 1});
  expectInverse({netfn::InstantType::get(&ctx), "u64", 8});
  expectInverse({netfn::FixedType::get(&ctx, 64, 32), "fixed64.32", 8});
  expectInverse({netfn::StringType::get(&ctx, 16), "str_len", 20});
}

TEST_F(BindingTest, NulPaddedStringsLoseWhatFollowsANul) {
  // "str" cannot represent a NUL inside the value (docs/bpf-abi.md): the
  // inverse holds exactly for strings without one.
  Slot slot{netfn::StringType::get(&ctx, 4), "str", 4};
  z3::expr v = decode(sc, slot, bytes({'a', 'b', 0, 'c'}));
  EXPECT_EQ(value(sc.tupleProj(slot.type, 0)(v)), 2u);
  EXPECT_EQ(value(sc.tupleProj(slot.type, 1)(v)), 0x6261u); // "ab", then zeros
  z3::expr full = decode(sc, slot, bytes({'w', 'x', 'y', 'z'}));
  EXPECT_EQ(value(sc.tupleProj(slot.type, 0)(full)), 4u);
  // Canonical bytes: nothing after the first NUL.
  EXPECT_TRUE(isCanonical(sc, slot, bytes({'a', 0, 0, 0})).simplify().is_true());
  EXPECT_TRUE(isCanonical(sc, slot, bytes({'a', 0, 'c', 0})).simplify().is_false());
  // For strings without NUL bytes before their length, encode then decode
  // is the identity.
  z3::context &c = sc.z3();
  z3::expr s = c.constant("s", sc.sortOf(slot.type));
  z3::expr cs = sc.canonical(slot.type, s);
  z3::expr len = sc.tupleProj(slot.type, 0)(cs);
  z3::expr data = sc.tupleProj(slot.type, 1)(cs);
  z3::solver solver(c);
  for (unsigned i = 0; i < 4; ++i)
    solver.add(z3::implies(z3::ult(c.bv_val(i, 32), len),
                           byteOf(data, i) != c.bv_val(0, 8)));
  solver.add(!sc.valueEq(slot.type, decode(sc, slot, encode(sc, slot, s)),
                         slot.type, cs));
  EXPECT_EQ(solver.check(), z3::unsat);
}

TEST_F(BindingTest, NulPaddedIsTheDefinition) {
  // decode of "str" (SemContext::nulPadded, built in the object's shape)
  // against the definition, for all bytes: len the index of the first NUL
  // among the bytes kept (or their number), byte i kept exactly while no
  // NUL came at or before it. Slots shorter than, as long as and longer
  // than the capacity.
  z3::context &c = sc.z3();
  auto st = netfn::StringType::get(&ctx, 8);
  for (unsigned size : {3u, 8u, 12u}) {
    Slot slot{st, "str", size};
    z3::expr bits = c.constant(("b" + std::to_string(size)).c_str(),
                               c.bv_sort(8 * size));
    z3::expr v = decode(sc, slot, bits);
    unsigned n = std::min(size, 8u);
    z3::expr len = c.bv_val(n, 32);
    for (unsigned i = n; i-- > 0;)
      len = z3::ite(byteOf(bits, i) == c.bv_val(0, 8), c.bv_val(i, 32), len);
    z3::solver s(c);
    z3::expr differs = sc.tupleProj(st, 0)(v) != len;
    z3::expr alive = c.bool_val(true);
    for (unsigned i = 0; i < 8; ++i) {
      z3::expr want = c.bv_val(0, 8);
      if (i < n) {
        alive = alive && byteOf(bits, i) != c.bv_val(0, 8);
        want = z3::ite(alive, byteOf(bits, i), c.bv_val(0, 8));
      }
      differs = differs || byteOf(sc.tupleProj(st, 1)(v), i) != want;
    }
    s.add(differs);
    EXPECT_EQ(s.check(), z3::unsat) << "slot of " << size << " bytes";
    // Canonical by construction, and known to be.
    EXPECT_TRUE(z3::eq(sc.canonical(st, v), v));
  }
}

TEST_F(BindingTest, CanonicalShortcutsKeepTheMeaning) {
  // A widening cast of a value known canonical skips the clamp, and a map
  // key's bytes (encode with canonicalValue) skip the mask: for every
  // canonical value, the same as the general forms.
  z3::context &c = sc.z3();
  auto s4 = netfn::StringType::get(&ctx, 4), s8 = netfn::StringType::get(&ctx, 8);
  z3::expr bits = c.constant("w", c.bv_sort(32));
  z3::expr v = decode(sc, {s4, "str", 4}, bits);
  z3::expr fast = sc.castString(s4, s8, v);
  EXPECT_TRUE(z3::eq(sc.canonical(s8, fast), fast));
  EXPECT_TRUE(z3::eq(sc.tupleProj(s8, 0)(fast).simplify(),
                     sc.tupleProj(s4, 0)(v).simplify()))
      << "keeps len as it is";
  z3::expr len = sc.tupleProj(s4, 0)(v);
  z3::expr general = sc.tupleCtor(s8)(
      z3::ite(z3::ule(len, c.bv_val(8, 32)), len, c.bv_val(8, 32)),
      z3::zext(sc.tupleProj(s4, 1)(v), 32));
  z3::solver s(c);
  s.add(!sc.valueEq(s8, fast, s8, general));
  EXPECT_EQ(s.check(), z3::unsat);
  // A value not known canonical takes the general form.
  z3::expr free = c.constant("free", sc.sortOf(s4));
  EXPECT_FALSE(
      z3::eq(sc.tupleProj(s8, 0)(sc.castString(s4, s8, free)).simplify(),
             sc.tupleProj(s4, 0)(free).simplify()));
  // Key bytes: with and without the mask, equal on canonical values.
  Slot key{s8, "str", 8};
  z3::expr k = c.constant("k", sc.sortOf(s8));
  z3::solver t(c);
  t.add(sc.wellFormed(s8, k));
  t.add(encode(sc, key, sc.canonical(s8, k), /*canonicalValue=*/true) !=
        encode(sc, key, k));
  EXPECT_EQ(t.check(), z3::unsat);
}

TEST_F(BindingTest, NulFreeValuesRoundTripAndCompareAsBytes) {
  // The facts Check.cpp's map comparison states about values isNulFree
  // answers true for (nulPadded's results, widened by castString), for a
  // slot holding the whole capacity (nulPaddedWhole): decode(encode(v)) is
  // v, and two of them are equal exactly when their bytes are. Slots as
  // long as and longer than the capacity; a value widened from a shorter
  // type too.
  z3::context &c = sc.z3();
  auto s4 = netfn::StringType::get(&ctx, 4), s6 = netfn::StringType::get(&ctx, 6);
  for (unsigned size : {6u, 9u}) {
    Slot slot{s6, "str", size};
    std::string n = std::to_string(size);
    z3::expr x = decode(sc, slot, c.constant(("x" + n).c_str(), c.bv_sort(8 * size)));
    z3::expr y = sc.castString(
        s4, s6, decode(sc, {s4, "str", 4}, c.constant(("y" + n).c_str(), c.bv_sort(32))));
    ASSERT_TRUE(sc.isNulFree(x));
    ASSERT_TRUE(sc.isNulFree(y));
    for (const z3::expr &v : {x, y}) {
      z3::solver s(c);
      s.add(!sc.valueEq(s6, decode(sc, slot, encode(sc, slot, v, true)), s6, v));
      EXPECT_EQ(s.check(), z3::unsat) << "round trip, slot of " << size;
    }
    z3::solver s(c);
    s.add((x == y) != (encode(sc, slot, x, true) == encode(sc, slot, y, true)));
    EXPECT_EQ(s.check(), z3::unsat) << "equality as bytes, slot of " << size;
  }
  // A string that may hold a NUL is not NUL-free, and for it the facts fail.
  z3::expr free = c.constant("free6", sc.sortOf(s6));
  EXPECT_FALSE(sc.isNulFree(free));
  EXPECT_FALSE(sc.isNulFree(sc.canonical(s6, free)));
  Slot slot{s6, "str", 6};
  z3::solver s(c);
  s.add(sc.canonical(s6, free) == free);
  s.add(!sc.valueEq(s6, decode(sc, slot, encode(sc, slot, free, true)), s6, free));
  EXPECT_EQ(s.check(), z3::sat);
}

TEST_F(BindingTest, IntegersAndBools) {
  mlir::Builder b(&ctx);
  Slot s16{b.getIntegerType(32, true), "s16", 2};
  EXPECT_EQ(value(decode(sc, s16, bytes({0xfe, 0xff}))), 0xfffffffeu); // -2
  Slot u16{b.getIntegerType(32, false), "u16", 2};
  EXPECT_EQ(value(decode(sc, u16, bytes({0xfe, 0xff}))), 0xfffeu);
  Slot flag{b.getI1Type(), "bool", 1};
  EXPECT_TRUE(decode(sc, flag, bytes({2})).simplify().is_true());
  EXPECT_TRUE(isCanonical(sc, flag, bytes({2})).simplify().is_false());
  EXPECT_EQ(value(encode(sc, flag, sc.z3().bool_val(true))), 1u);
  Slot unknown{b.getI1Type(), "f32", 4};
  EXPECT_THROW(decode(sc, unknown, bytes({0, 0, 0, 0})), BindingError);
}

} // namespace
