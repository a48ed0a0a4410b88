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
