//===- MachineCodeTest.cpp - counting x86-64 JIT instructions ------------===//
#include "sbpf/Runtime/Metrics.h"

#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"
#include "gtest/gtest.h"

using namespace sbpf::runtime;

namespace {

bool hostIsX86_64() {
  return llvm::Triple(llvm::sys::getProcessTriple()).getArch() ==
         llvm::Triple::x86_64;
}

TEST(MachineCodeTest, CountsInstructionsAndFoldsPrefixes) {
  if (!hostIsX86_64())
    GTEST_SKIP() << "x86-64 encodings";
  // push rbp; mov rbp, rsp; lock add [rsi], rdi; leave; ret
  const uint8_t code[] = {0x55, 0x48, 0x89, 0xe5, 0xf0,
                          0x48, 0x01, 0x3e, 0xc9, 0xc3};
  auto count = countMachineInstructions(code);
  ASSERT_TRUE(bool(count)) << llvm::toString(count.takeError());
  EXPECT_EQ(count->instructions, 5u); // `lock add` is one instruction
  EXPECT_EQ(count->undecodedBytes, 0u);

  auto text = disassembleMachineCode(code);
  ASSERT_TRUE(bool(text)) << llvm::toString(text.takeError());
  EXPECT_NE(text->find("lock add qword ptr [rsi], rdi"), std::string::npos)
      << *text;
}

TEST(MachineCodeTest, FunctionsAreDecodedFromTheirOwnStart) {
  if (!hostIsX86_64())
    GTEST_SKIP() << "x86-64 encodings";
  // Two functions: `mov eax, imm32` cut after 2 bytes (as if the first
  // function ended there), then `ret`. Decoding the whole as one block
  // would swallow the ret into the immediate.
  const uint8_t code[] = {0xb8, 0x01, 0xc3};
  const uint32_t sizes[] = {2, 1};
  auto split = countMachineInstructions(code, sizes);
  ASSERT_TRUE(bool(split));
  EXPECT_EQ(split->instructions, 1u);   // ret
  EXPECT_EQ(split->undecodedBytes, 2u); // the cut mov
}

TEST(MachineCodeTest, UndecodableBytesAreSkippedOneByOne) {
  if (!hostIsX86_64())
    GTEST_SKIP() << "x86-64 encodings";
  // 0x06 (push es) does not exist in 64-bit mode.
  const uint8_t code[] = {0x06, 0x06, 0xc3};
  auto count = countMachineInstructions(code);
  ASSERT_TRUE(bool(count));
  EXPECT_EQ(count->instructions, 1u);
  EXPECT_EQ(count->undecodedBytes, 2u);
  auto empty = countMachineInstructions({});
  ASSERT_TRUE(bool(empty));
  EXPECT_EQ(empty->instructions, 0u);
}

} // namespace
