//===- ChosenInputsTest.cpp - chosen draws and clocks in the kernel ------===//
//
// Needs BPF_PROG_LOAD (and map creation); skipped without permission,
// never passed.
//
//===----------------------------------------------------------------------===//
#include "sbpf/Runtime/ChosenInputs.h"
#include "sbpf/Runtime/Loader.h"
#include "sbpf/Runtime/TestRun.h"

#include "gtest/gtest.h"

#include <bpf/libbpf.h>
#include <cstring>

using namespace sbpf::runtime;

namespace {

class ChosenInputsTest : public ::testing::Test {
protected:
  void SetUp() override {
    if (llvm::Error err = probeProgramLoad())
      GTEST_SKIP() << llvm::toString(std::move(err));
  }

  // chosen.bpf.o loaded with its calls redirected to `inputs`.
  std::optional<LoadedObject> load(const ChosenInputs &inputs) {
    auto file = ObjectFile::read(std::string(SBPF_RUNTIME_INPUTS) +
                                 "/chosen.bpf.o");
    if (!file) {
      ADD_FAILURE() << llvm::toString(file.takeError());
      return std::nullopt;
    }
    LoadOptions options;
    options.beforeLoad = [&](struct bpf_program *p) {
      return inputs.rewrite(p);
    };
    auto loaded = loadObject(*file, options);
    if (!loaded) {
      ADD_FAILURE() << llvm::toString(loaded.takeError());
      return std::nullopt;
    }
    return std::move(*loaded);
  }

  // The six u64 the program writes into the frame.
  std::vector<uint64_t> run(const LoadedObject &object) {
    std::vector<uint8_t> frame(64, 0);
    auto r = testRunPacket(object.programs()[0].fd, frame);
    if (!r) {
      ADD_FAILURE() << llvm::toString(r.takeError());
      return {};
    }
    EXPECT_EQ(r->retval, 2u); // XDP_PASS
    std::vector<uint64_t> words(6);
    if (r->packetOut.size() >= 48)
      std::memcpy(words.data(), r->packetOut.data(), 48);
    return words;
  }
};

TEST_F(ChosenInputsTest, CallsReturnTheChosenValuesInOrder) {
  auto inputs = ChosenInputs::create({7, 0xffffffffu, 42},
                                     {1000, (uint64_t(1) << 40) + 5});
  ASSERT_TRUE(bool(inputs)) << llvm::toString(inputs.takeError());
  auto object = load(*inputs);
  ASSERT_TRUE(object);
  // One call site of get_prandom_u32 (in a loop) and three of the clocks:
  // four stubs of 12 slots after the program's 23.
  EXPECT_EQ(object->programs()[0].insns, 23u + 4 * 12);
  // The loop's one site returns the three draws in turn; the clocks, both
  // helpers alike, share one sequence, and the third reading is past it: 0.
  EXPECT_EQ(run(*object), (std::vector<uint64_t>{7, 0xffffffffu, 42, 1000,
                                                 (uint64_t(1) << 40) + 5, 0}));
  auto used = inputs->used();
  ASSERT_TRUE(bool(used)) << llvm::toString(used.takeError());
  EXPECT_EQ(used->draws, 3u);
  EXPECT_EQ(used->clocks, 3u); // one more than chosen: the caller can tell
}

TEST_F(ChosenInputsTest, NoValuesGiveZeroes) {
  auto inputs = ChosenInputs::create({}, {});
  ASSERT_TRUE(bool(inputs)) << llvm::toString(inputs.takeError());
  auto object = load(*inputs);
  ASSERT_TRUE(object);
  EXPECT_EQ(run(*object), std::vector<uint64_t>(6, 0));
  auto used = inputs->used();
  ASSERT_TRUE(bool(used)) << llvm::toString(used.takeError());
  EXPECT_EQ(used->draws, 3u);
  EXPECT_EQ(used->clocks, 3u);
}

TEST_F(ChosenInputsTest, WithoutRewritingTheKernelsClockRuns) {
  // The control: loaded as it is, the program reads the kernel's clock.
  auto file =
      ObjectFile::read(std::string(SBPF_RUNTIME_INPUTS) + "/chosen.bpf.o");
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
  auto object = loadObject(*file);
  ASSERT_TRUE(bool(object)) << llvm::toString(object.takeError());
  EXPECT_EQ(object->programs()[0].insns, 23u);
  std::vector<uint64_t> words = run(*object);
  ASSERT_EQ(words.size(), 6u);
  EXPECT_NE(words[3], 0u);
  EXPECT_LE(words[3], words[5]); // monotonic
}

TEST_F(ChosenInputsTest, TooManyValuesAreRefused) {
  std::vector<uint32_t> draws(ChosenInputs::kMaxValues + 1, 1);
  auto inputs = ChosenInputs::create(draws, {});
  ASSERT_FALSE(bool(inputs));
  EXPECT_NE(llvm::toString(inputs.takeError()).find("at most 1024"),
            std::string::npos);
}

} // namespace
