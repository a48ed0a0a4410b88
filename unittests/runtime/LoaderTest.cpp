//===- LoaderTest.cpp - reading and describing BPF objects, damaged ones --===//
//
// No kernel needed: these tests stop before BPF_PROG_LOAD.
//
//===----------------------------------------------------------------------===//
#include "sbpf/Runtime/Loader.h"

#include "llvm/Support/MemoryBuffer.h"
#include "gtest/gtest.h"

#include <random>

using namespace sbpf::runtime;

namespace {

std::string inputPath(llvm::StringRef name) {
  return std::string(SBPF_RUNTIME_INPUTS) + "/" + name.str();
}

std::vector<uint8_t> readInput(llvm::StringRef name) {
  auto buffer = llvm::MemoryBuffer::getFile(inputPath(name));
  if (!buffer)
    return {};
  llvm::StringRef data = (*buffer)->getBuffer();
  return std::vector<uint8_t>(data.begin(), data.end());
}

std::string errorOf(llvm::Error err) { return llvm::toString(std::move(err)); }

TEST(LoaderTest, DescribesProgramsWithoutLoading) {
  auto file = ObjectFile::read(inputPath("multi.bpf.o"));
  ASSERT_TRUE(bool(file)) << errorOf(file.takeError());
  auto programs = file->describePrograms();
  ASSERT_TRUE(bool(programs)) << errorOf(programs.takeError());
  ASSERT_EQ(programs->size(), 3u);
  EXPECT_EQ((*programs)[0].name, "count_xdp");
  EXPECT_EQ((*programs)[0].type, BPF_PROG_TYPE_XDP);
  // r1 = 1; r2 = &packets (ld_imm64: 2 slots); lock add; w0 = 2; exit.
  EXPECT_EQ((*programs)[0].elfInsns, 6u);
  EXPECT_EQ((*programs)[1].name, "classify_tc");
  EXPECT_EQ((*programs)[1].section, "tc");
  EXPECT_EQ((*programs)[1].type, BPF_PROG_TYPE_SCHED_CLS);
  EXPECT_EQ((*programs)[1].elfInsns, 3u); // its subprogram not included
  EXPECT_EQ((*programs)[2].type, BPF_PROG_TYPE_TRACEPOINT);
}

TEST(LoaderTest, ExplainsFilesThatAreNotBpfObjects) {
  auto missing = ObjectFile::read(inputPath("no-such-file.bpf.o"));
  ASSERT_FALSE(bool(missing));
  EXPECT_NE(errorOf(missing.takeError())
                .find("no-such-file.bpf.o: No such "
                      "file or directory"),
            std::string::npos);

  auto empty = ObjectFile::fromBytes({}, "empty.o");
  ASSERT_FALSE(bool(empty));
  EXPECT_EQ(errorOf(empty.takeError()),
            "empty.o: the file is empty, not a BPF ELF object");

  const uint8_t text[] = {'h', 'i', '\n'};
  auto notElf = ObjectFile::fromBytes(text, "text.o");
  ASSERT_FALSE(bool(notElf));
  EXPECT_EQ(errorOf(notElf.takeError()),
            "text.o: not an ELF file (no ELF magic)");

  std::vector<uint8_t> bytes = readInput("pass.bpf.o");
  ASSERT_GT(bytes.size(), 64u);
  bytes[18] = 62; // e_machine = EM_X86_64
  auto x86 = ObjectFile::fromBytes(bytes, "x86.o");
  ASSERT_FALSE(bool(x86));
  EXPECT_NE(errorOf(x86.takeError()).find("not a BPF object"),
            std::string::npos);
}

// Damaged objects (cut short, bytes changed) must give an error or a
// description, never a crash: the ELF is checked before libbpf parses it.
TEST(LoaderTest, DamagedObjectsNeverCrash) {
  for (const char *name : {"pass.bpf.o", "multi.bpf.o"}) {
    std::vector<uint8_t> original = readInput(name);
    ASSERT_FALSE(original.empty()) << name;
    size_t described = 0;
    auto attempt = [&](const std::vector<uint8_t> &bytes) {
      auto file = ObjectFile::fromBytes(bytes, "damaged.o");
      if (!file) {
        llvm::consumeError(file.takeError());
        return;
      }
      auto programs = file->describePrograms();
      if (programs)
        ++described;
      else
        llvm::consumeError(programs.takeError());
    };
    for (size_t cut = 0; cut < original.size(); cut += 7)
      attempt(std::vector<uint8_t>(original.begin(), original.begin() + cut));
    std::mt19937 random(12345);
    for (int round = 0; round < 3000; ++round) {
      std::vector<uint8_t> bytes = original;
      int changes = 1 + int(random() % 4);
      for (int c = 0; c < changes; ++c) {
        size_t at = random() % bytes.size();
        switch (random() % 3) {
        case 0:
          bytes[at] ^= uint8_t(1u << (random() % 8));
          break;
        case 1:
          bytes[at] = uint8_t(random());
          break;
        default:
          bytes[at] = (random() % 2) ? 0xff : 0x00;
          break;
        }
      }
      attempt(bytes);
    }
    // Most single-byte changes hit code or debug info and still parse.
    EXPECT_GT(described, 100u) << name;
  }
}

} // namespace
