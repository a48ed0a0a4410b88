//===- BytecodeSemanticsTest.cpp - tricky eBPF semantics in Z3 ------------===//

#include "sbpf/Checker/Bytecode.h"

#include <gtest/gtest.h>

using namespace sbpf::checker::bytecode;

namespace {

RawInsn I(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  return RawInsn(code, dst, src, off, imm);
}
// Helpers for common forms.
RawInsn alu64k(uint8_t o, uint8_t d, int32_t imm) {
  return I(op::ALU64 | o | op::K, d, 0, 0, imm);
}
RawInsn alu64x(uint8_t o, uint8_t d, uint8_t s) {
  return I(op::ALU64 | o | op::X, d, s, 0, 0);
}
RawInsn alu32k(uint8_t o, uint8_t d, int32_t imm) {
  return I(op::ALU | o | op::K, d, 0, 0, imm);
}
RawInsn alu32x(uint8_t o, uint8_t d, uint8_t s) {
  return I(op::ALU | o | op::X, d, s, 0, 0);
}
RawInsn exitI() { return I(op::JMP | op::EXIT, 0, 0, 0, 0); }
void lddw(std::vector<RawInsn> &p, uint8_t d, uint64_t v) {
  p.push_back(I(0x18, d, 0, 0, int32_t(uint32_t(v))));
  p.push_back(I(0, 0, 0, 0, int32_t(uint32_t(v >> 32))));
}

std::vector<Instruction> dec(const std::vector<RawInsn> &p) {
  DecodeResult r = decode(p);
  EXPECT_TRUE(r.ok()) << r.error;
  return r.insns;
}

/// r0 after running `body` (which must set r0 and exit) on r1..r5.
uint64_t run(const std::vector<RawInsn> &body,
             std::array<uint64_t, 5> regs = {}) {
  ConcreteResult r = concreteRun(dec(body), regs);
  EXPECT_TRUE(r.ok()) << r.message;
  return r.r0;
}

/// r0 = op(r1, r2) at 64 or 32 bits with X source.
uint64_t binX(uint8_t o, bool is64, uint64_t a, uint64_t b) {
  return run({is64 ? alu64x(op::MOV, 0, 1) : alu64x(op::MOV, 0, 1),
              is64 ? alu64x(o, 0, 2) : alu32x(o, 0, 2), exitI()},
             {a, b, 0, 0, 0});
}

TEST(BytecodeDecode, UnknownOpcodeIsNamed) {
  DecodeResult r = decode({I(0xff, 0, 0, 0, 0), exitI()});
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("unknown opcode 0xff"), std::string::npos) << r.error;
  r = decode({I(0x18, 0, 0, 0, 1)});
  EXPECT_NE(r.error.find("lddw"), std::string::npos) << r.error;
  r = decode({I(op::ALU64 | op::MOV | op::K, 11, 0, 0, 1), exitI()});
  EXPECT_NE(r.error.find("register"), std::string::npos) << r.error;
  EXPECT_EQ(opcodeName(0xbf), "mov64 X");
  EXPECT_EQ(opcodeName(0x4e), "jset32 X");
  EXPECT_EQ(opcodeName(0x7e), "jsge32 X");
  EXPECT_EQ(opcodeName(0xdc), "be");
  // Bytes as in an ELF section: mov64 r0, 7; exit.
  uint8_t bytes[] = {0xb7, 0x00, 0, 0, 7, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0};
  DecodeResult b = decodeBytes(bytes, sizeof bytes);
  ASSERT_TRUE(b.ok()) << b.error;
  EXPECT_EQ(concreteRun(b.insns, {}).r0, 7u);
}

TEST(BytecodeSemantics, Alu32ZeroesUpperHalf) {
  EXPECT_EQ(binX(op::ADD, false, 0xffffffff00000001ull, 1), 2u);
  EXPECT_EQ(binX(op::MOV, false, 0, 0xdeadbeefcafef00dull), 0xcafef00dull);
  EXPECT_EQ(run({alu64k(op::MOV, 0, -1), alu32k(op::ADD, 0, 0), exitI()}),
            0xffffffffull);
  // mov32 K does not sign-extend; mov64 K does.
  EXPECT_EQ(run({alu32k(op::MOV, 0, -1), exitI()}), 0xffffffffull);
  EXPECT_EQ(run({alu64k(op::MOV, 0, -1), exitI()}), ~0ull);
  // ALU64 K immediates are sign-extended.
  EXPECT_EQ(run({alu64k(op::MOV, 0, 0), alu64k(op::XOR, 0, -2), exitI()}),
            ~1ull);
}

TEST(BytecodeSemantics, ArithmeticShiftKeepsSign) {
  EXPECT_EQ(binX(op::ARSH, true, 0x8000000000000000ull, 4),
            0xf800000000000000ull);
  EXPECT_EQ(binX(op::RSH, true, 0x8000000000000000ull, 4),
            0x0800000000000000ull);
  // arsh32 works on the low half and zero-extends.
  EXPECT_EQ(binX(op::ARSH, false, 0x1234567880000000ull, 4), 0xf8000000ull);
}

TEST(BytecodeSemantics, ShiftAmountsAreMasked) {
  EXPECT_EQ(binX(op::LSH, true, 1, 65), 2u);
  EXPECT_EQ(binX(op::LSH, true, 1, 64), 1u);
  EXPECT_EQ(binX(op::LSH, false, 1, 33), 2u);
  EXPECT_EQ(binX(op::RSH, false, 0x80000000ull, 63), 1u); // 63 & 31 = 31
  EXPECT_EQ(binX(op::ARSH, true, ~0ull << 8, 0x100 + 4), ~0ull << 4);
}

TEST(BytecodeSemantics, DivModUnsignedAndByZero) {
  EXPECT_EQ(binX(op::DIV, true, 7, 0), 0u);
  EXPECT_EQ(binX(op::MOD, true, 7, 0), 7u);
  EXPECT_EQ(binX(op::DIV, false, 0xffffffff00000007ull, 0), 0u);
  // x%0 = x at 32 bits: the low half, zero-extended.
  EXPECT_EQ(binX(op::MOD, false, 0xffffffff00000007ull, 0), 7u);
  // Unsigned: -8 / 2 is huge, not -4.
  EXPECT_EQ(binX(op::DIV, true, uint64_t(-8), 2), uint64_t(-8) / 2);
  EXPECT_EQ(binX(op::MOD, true, uint64_t(-7), 2), 1u);
  EXPECT_EQ(binX(op::DIV, false, uint64_t(-8), 2), 0xfffffff8u / 2);
  // The ALU64 K divisor is sign-extended: x / -1 (= 2^64-1) is 0 unless x max.
  EXPECT_EQ(run({alu64k(op::MOV, 0, 100), alu64k(op::DIV, 0, -1), exitI()}),
            0u);
  EXPECT_EQ(run({alu64k(op::MOV, 0, 100), alu64k(op::MOD, 0, -1), exitI()}),
            100u);
}

TEST(BytecodeSemantics, NegAndMul) {
  EXPECT_EQ(run({alu64k(op::MOV, 0, 5), I(op::ALU64 | op::NEG, 0, 0, 0, 0),
                 exitI()}),
            uint64_t(-5));
  EXPECT_EQ(run({alu64k(op::MOV, 0, 5), I(op::ALU | op::NEG, 0, 0, 0, 0),
                 exitI()}),
            0xfffffffbull);
  EXPECT_EQ(binX(op::MUL, false, 0x10000, 0x10001), 0x10000u);
}

/// r0 = jump(r1, r2) ? 1 : 0
uint64_t jumpX(uint8_t cls, uint8_t o, uint64_t a, uint64_t b) {
  return run({alu64k(op::MOV, 0, 1), I(cls | o | op::X, 1, 2, 1, 0),
              alu64k(op::MOV, 0, 0), exitI()},
             {a, b, 0, 0, 0});
}

TEST(BytecodeSemantics, SignedVsUnsignedJumps) {
  uint64_t m1 = ~0ull;
  EXPECT_EQ(jumpX(op::JMP, op::JGT, m1, 1), 1u);
  EXPECT_EQ(jumpX(op::JMP, op::JSGT, m1, 1), 0u);
  EXPECT_EQ(jumpX(op::JMP, op::JSLT, m1, 1), 1u);
  EXPECT_EQ(jumpX(op::JMP, op::JLT, m1, 1), 0u);
  EXPECT_EQ(jumpX(op::JMP, op::JSGE, 5, 5), 1u);
  EXPECT_EQ(jumpX(op::JMP, op::JSLE, 5, 4), 0u);
  EXPECT_EQ(jumpX(op::JMP, op::JLE, 4, 5), 1u);
  EXPECT_EQ(jumpX(op::JMP, op::JGE, 4, 5), 0u);
  EXPECT_EQ(jumpX(op::JMP, op::JSET, 6, 1), 0u);
  EXPECT_EQ(jumpX(op::JMP, op::JSET, 6, 2), 1u);
  EXPECT_EQ(jumpX(op::JMP, op::JNE, 6, 6), 0u);
  // K immediates of 64-bit jumps are sign-extended.
  EXPECT_EQ(run({alu64k(op::MOV, 0, 1), I(op::JMP | op::JEQ | op::K, 1, 0, 1, -1),
                 alu64k(op::MOV, 0, 0), exitI()},
                {~0ull, 0, 0, 0, 0}),
            1u);
}

TEST(BytecodeSemantics, Jmp32ComparesLowHalves) {
  EXPECT_EQ(jumpX(op::JMP32, op::JEQ, 0x100000005ull, 5), 1u);
  EXPECT_EQ(jumpX(op::JMP, op::JEQ, 0x100000005ull, 5), 0u);
  // 0x80000000 is negative at 32 bits, positive at 64.
  EXPECT_EQ(jumpX(op::JMP32, op::JSLT, 0x80000000ull, 0), 1u);
  EXPECT_EQ(jumpX(op::JMP, op::JSLT, 0x80000000ull, 0), 0u);
  EXPECT_EQ(jumpX(op::JMP32, op::JGT, 0xffffffff00000001ull, 2), 0u);
}

TEST(BytecodeSemantics, ByteSwaps) {
  uint64_t v = 0x1122334455667788ull;
  auto sw = [&](uint8_t code, int32_t w) {
    return run({alu64x(op::MOV, 0, 1), I(code, 0, 0, 0, w), exitI()},
               {v, 0, 0, 0, 0});
  };
  EXPECT_EQ(sw(0xdc, 16), 0x8877u);
  EXPECT_EQ(sw(0xdc, 32), 0x88776655u);
  EXPECT_EQ(sw(0xdc, 64), 0x8877665544332211ull);
  EXPECT_EQ(sw(0xd4, 16), 0x7788u);
  EXPECT_EQ(sw(0xd4, 32), 0x55667788u);
  EXPECT_EQ(sw(0xd4, 64), v);
}

TEST(BytecodeSemantics, LdImm64) {
  std::vector<RawInsn> p;
  lddw(p, 0, 0xfedcba9876543210ull);
  p.push_back(exitI());
  EXPECT_EQ(run(p), 0xfedcba9876543210ull);
  // A jump over an lddw counts both slots.
  std::vector<RawInsn> q = {alu64k(op::MOV, 0, 3), I(op::JMP | op::JA, 0, 0, 2, 0)};
  lddw(q, 0, 9);
  q.push_back(exitI());
  EXPECT_EQ(run(q), 3u);
}

TEST(BytecodeSemantics, StackRoundTripEveryWidth) {
  uint64_t v = 0x8899aabbccddeeffull;
  struct W { uint8_t size; uint64_t mask; } widths[] = {
      {op::B, 0xff}, {op::H, 0xffff}, {op::W, 0xffffffff}, {op::DW, ~0ull}};
  for (auto w : widths) {
    // STX then LDX.
    EXPECT_EQ(run({I(op::STX | op::MEM | w.size, 10, 1, -16, 0),
                   I(op::LDX | op::MEM | w.size, 0, 10, -16, 0), exitI()},
                  {v, 0, 0, 0, 0}),
              v & w.mask);
    // ST (immediate, sign-extended) then LDX.
    EXPECT_EQ(run({I(op::ST | op::MEM | w.size, 10, 0, -8, -2),
                   I(op::LDX | op::MEM | w.size, 0, 10, -8, 0), exitI()}),
              uint64_t(-2) & w.mask);
  }
  // Little-endian layout: the byte at -16 is the low byte; through a copy of
  // the frame pointer.
  EXPECT_EQ(run({alu64x(op::MOV, 3, 10), alu64k(op::ADD, 3, -16),
                 I(op::STX | op::MEM | op::DW, 3, 1, 0, 0),
                 I(op::LDX | op::MEM | op::B, 0, 10, -15, 0), exitI()},
                {v, 0, 0, 0, 0}),
            0xeeu);
}

TEST(BytecodeSemantics, ErrorsAreReported) {
  auto msg = [](const std::vector<RawInsn> &p) {
    ConcreteResult r = concreteRun(dec(p), {});
    EXPECT_FALSE(r.ok());
    return r.message;
  };
  EXPECT_NE(msg({I(op::STX | op::MEM | op::DW, 10, 1, -516, 0),
                 alu64k(op::MOV, 0, 0), exitI()})
                .find("out of bounds"),
            std::string::npos);
  EXPECT_NE(msg({I(op::STX | op::MEM | op::W, 10, 1, -2, 0),
                 alu64k(op::MOV, 0, 0), exitI()})
                .find("out of bounds"),
            std::string::npos);
  EXPECT_NE(msg({I(op::LDX | op::MEM | op::W, 0, 10, -8, 0), exitI()})
                .find("uninitialized stack"),
            std::string::npos);
  EXPECT_NE(msg({exitI()}).find("uninitialized register r0"),
            std::string::npos);
  // Helpers the executor does not model are named, never assumed.
  EXPECT_EQ(msg({I(op::JMP | op::CALL, 0, 0, 0, 12), exitI()}),
            "not supported yet: helper tail_call (12) at insn 0 (call)");
  EXPECT_NE(msg({I(op::LDX | op::MEM | op::W, 0, 6, 0, 0), exitI()})
                .find("load through an uninitialized register"),
            std::string::npos);
  EXPECT_NE(msg({alu64k(op::MOV, 1, 7), I(op::LDX | op::MEM | op::W, 0, 1, 0, 0),
                 exitI()})
                .find("load through a non-pointer"),
            std::string::npos);
  EXPECT_NE(msg({alu64k(op::MOV, 1, 1), I(op::STX | op::ATOMIC | op::DW, 10, 1, -8, 0),
                 exitI()})
                .find("uninitialized stack"),
            std::string::npos);
  EXPECT_NE(msg({I(op::JMP | op::CALL, 0, 1, 0, 1), exitI()})
                .find("jump to slot 2, which is not an instruction"),
            std::string::npos);
  EXPECT_NE(msg({alu64k(op::MOV, 10, 0), exitI()}).find("frame pointer"),
            std::string::npos);
}

TEST(BytecodeExecutor, PathsAndBounds) {
  BytecodeContext bc;
  // if (r1 > 10) r0 = 1 else r0 = 2; two feasible paths.
  auto p = dec({alu64k(op::MOV, 0, 2), I(op::JMP | op::JGT | op::K, 1, 0, 1, 10),
                I(op::JMP | op::JA, 0, 0, 1, 0), alu64k(op::MOV, 0, 1), exitI()});
  ExecLimits enumerate;
  enumerate.mergeStates = false;
  ExecResult r = executeSymbolic(bc, p, enumerate);
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.paths.size(), 2u);
  // Merged at the exit (the join): one outcome, r0 = ite(r1 > 10, 1, 2).
  r = executeSymbolic(bc, p);
  ASSERT_TRUE(r.ok()) << r.message;
  ASSERT_EQ(r.paths.size(), 1u);
  EXPECT_TRUE(r.paths[0].pathCondition.simplify().is_true());
  // An infeasible second branch is pruned: r1 > 10 then r1 < 5.
  auto q = dec({alu64k(op::MOV, 0, 0), I(op::JMP | op::JGT | op::K, 1, 0, 2, 10),
                alu64k(op::MOV, 0, 1), exitI(),
                I(op::JMP | op::JLT | op::K, 1, 0, 1, 5), exitI(),
                alu64k(op::MOV, 0, 7), exitI()});
  r = executeSymbolic(bc, q, enumerate);
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.paths.size(), 2u);
  // An infinite loop exceeds the instruction budget.
  auto loop = dec({alu64k(op::MOV, 0, 0), I(op::JMP | op::JA, 0, 0, -1, 0)});
  ExecLimits l;
  l.maxSteps = 1000;
  r = executeSymbolic(bc, loop, l);
  EXPECT_EQ(r.status, ExecStatus::BoundExceeded);
  EXPECT_EQ(r.message.rfind("unknown: bound exceeded", 0), 0u) << r.message;
  // Path count: 12 independent branches = 4096 paths > 100.
  std::vector<RawInsn> many = {alu64k(op::MOV, 0, 0)};
  for (int i = 0; i < 12; ++i) {
    many.push_back(I(op::JMP | op::JSET | op::K, 1, 0, 1, 1 << i));
    many.push_back(alu64k(op::ADD, 0, 1));
  }
  many.push_back(exitI());
  l.maxSteps = 1000000;
  l.maxPaths = 100;
  l.mergeStates = false;
  r = executeSymbolic(bc, dec(many), l);
  EXPECT_EQ(r.status, ExecStatus::BoundExceeded);
  EXPECT_NE(r.message.find("paths"), std::string::npos) << r.message;
  // Merging joins the two arms of every branch: one outcome.
  l.mergeStates = true;
  r = executeSymbolic(bc, dec(many), l);
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.paths.size(), 1u);
}

TEST(BytecodeExecutor, EarlyExitsMergeIntoAChain) {
  // The index of the first zero byte of r1's low four bytes, leaving at the
  // first one (the shape of a compiled string scan): done is reached with
  // r0 = 0, 1, 2, 3 or 4. Merged siblings first, r0 is the chain
  // ite(c0, 0, ite(c1, 1, ite(c2, 2, ite(c3, 3, 4)))) (c_i: byte i is 0),
  // the shape of a decoder's; merged in arrival order it was
  // ite(big disjunction, ite(...), 4).
  std::vector<RawInsn> p;
  for (int i = 0; i < 4; ++i) {
    p.push_back(alu64k(op::MOV, 0, i));
    p.push_back(alu64x(op::MOV, 2, 1));
    p.push_back(alu64k(op::RSH, 2, 8 * i));
    p.push_back(alu64k(op::AND, 2, 0xff));
    // to done (the exit), 5 * (3 - i) + 1 instructions ahead
    p.push_back(I(op::JMP | op::JEQ | op::K, 2, 0, 5 * (3 - i) + 1, 0));
  }
  p.push_back(alu64k(op::MOV, 0, 4));
  p.push_back(exitI());
  BytecodeContext bc;
  ExecResult r = executeSymbolic(bc, dec(p));
  ASSERT_TRUE(r.ok()) << r.message;
  ASSERT_EQ(r.paths.size(), 1u);
  z3::expr e = r.paths[0].r0;
  for (uint64_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(e.is_app() && e.decl().decl_kind() == Z3_OP_ITE) << e;
    uint64_t v = 99;
    EXPECT_TRUE(e.arg(1).is_numeral_u64(v) && v == i) << e.arg(1);
    e = e.arg(2);
  }
  uint64_t last = 99;
  EXPECT_TRUE(e.is_numeral_u64(last) && last == 4) << e;
}

TEST(BytecodeEquivalenceTest, ProvesAndRefutes) {
  // r1 * 8 == r1 << 3.
  auto a = dec({alu64x(op::MOV, 0, 1), alu64k(op::MUL, 0, 8), exitI()});
  auto b = dec({alu64x(op::MOV, 0, 1), alu64k(op::LSH, 0, 3), exitI()});
  EXPECT_EQ(equivalent(a, b).status, BytecodeEquivalence::Equivalent);
  // r1 / 2 (unsigned) is not r1 arsh 1: a counterexample has r1's sign bit.
  auto c = dec({alu64x(op::MOV, 0, 1), alu64k(op::DIV, 0, 2), exitI()});
  auto d = dec({alu64x(op::MOV, 0, 1), alu64k(op::ARSH, 0, 1), exitI()});
  BytecodeEquivalence e = equivalent(c, d);
  ASSERT_EQ(e.status, BytecodeEquivalence::Different) << e.reason;
  uint64_t r1 = e.counterexample[0];
  EXPECT_EQ(e.r0A, r1 / 2);
  EXPECT_EQ(e.r0B, uint64_t(int64_t(r1) >> 1));
  EXPECT_NE(e.r0A, e.r0B);
  // Replaying the counterexample concretely gives the same values.
  EXPECT_EQ(concreteRun(c, e.counterexample).r0, e.r0A);
  EXPECT_EQ(concreteRun(d, e.counterexample).r0, e.r0B);
  // Branching: max(r1, r2) two ways (unsigned).
  auto m1 = dec({alu64x(op::MOV, 0, 1), I(op::JMP | op::JGE | op::X, 1, 2, 1, 0),
                 alu64x(op::MOV, 0, 2), exitI()});
  auto m2 = dec({alu64x(op::MOV, 0, 2), I(op::JMP | op::JGT | op::X, 2, 1, 1, 0),
                 alu64x(op::MOV, 0, 1), exitI()});
  EXPECT_EQ(equivalent(m1, m2).status, BytecodeEquivalence::Equivalent);
  // x % 0 = x: "r1 % r2" vs "r2 == 0 ? r1 : r1 % r2".
  auto k1 = dec({alu64x(op::MOV, 0, 1), alu64x(op::MOD, 0, 2), exitI()});
  auto k2 = dec({alu64x(op::MOV, 0, 1), I(op::JMP | op::JEQ | op::K, 2, 0, 1, 0),
                 alu64x(op::MOD, 0, 2), exitI()});
  EXPECT_EQ(equivalent(k1, k2).status, BytecodeEquivalence::Equivalent);
}

} // namespace
