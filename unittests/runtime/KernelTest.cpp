//===- KernelTest.cpp - loading, verifier logs and test runs in the kernel ===//
//
// Every test here needs BPF_PROG_LOAD; without permission it is skipped
// (reported as such by lit), never passed.
//
//===----------------------------------------------------------------------===//
#include "sbpf/Runtime/Loader.h"
#include "sbpf/Runtime/Metrics.h"
#include "sbpf/Runtime/Packet.h"
#include "sbpf/Runtime/TestRun.h"

#include "gtest/gtest.h"

#include <cerrno>
#include <linux/pkt_cls.h>

using namespace sbpf::runtime;

namespace {

std::string inputPath(llvm::StringRef name) {
  return std::string(SBPF_RUNTIME_INPUTS) + "/" + name.str();
}

class KernelTest : public ::testing::Test {
protected:
  void SetUp() override {
    if (llvm::Error err = probeProgramLoad())
      GTEST_SKIP() << llvm::toString(std::move(err));
  }

  // Loads an input; fails the test (and returns nullopt) on error.
  std::optional<LoadedObject> load(llvm::StringRef name) {
    auto file = ObjectFile::read(inputPath(name));
    if (!file) {
      ADD_FAILURE() << llvm::toString(file.takeError());
      return std::nullopt;
    }
    auto loaded = loadObject(*file);
    if (!loaded) {
      ADD_FAILURE() << llvm::toString(loaded.takeError());
      return std::nullopt;
    }
    return std::move(*loaded);
  }

  // The rejection `name` must produce.
  VerifierRejection reject(llvm::StringRef name, LoadOptions options = {}) {
    VerifierRejection result("", "", "", 0, "", false);
    auto file = ObjectFile::read(inputPath(name));
    if (!file) {
      ADD_FAILURE() << llvm::toString(file.takeError());
      return result;
    }
    auto loaded = loadObject(*file, options);
    if (loaded) {
      ADD_FAILURE() << name.str() << " was accepted";
      return result;
    }
    llvm::handleAllErrors(
        loaded.takeError(), [&](const VerifierRejection &r) { result = r; },
        [&](const llvm::ErrorInfoBase &e) {
          ADD_FAILURE() << "not a rejection: " << e.message();
        });
    return result;
  }
};

uint32_t runOn(const LoadedProgram &program,
               const std::vector<uint8_t> &packet) {
  auto run = testRunPacket(program.fd, packet);
  if (!run) {
    ADD_FAILURE() << llvm::toString(run.takeError());
    return ~0u;
  }
  return run->retval;
}

TEST_F(KernelTest, DropsArpcPort9000AndPassesPort53) {
  auto object = load("pass.bpf.o");
  ASSERT_TRUE(object);
  const LoadedProgram *program = object->find("drop_arpc");
  ASSERT_NE(program, nullptr);
  EXPECT_EQ(program->type, BPF_PROG_TYPE_XDP);
  EXPECT_EQ(program->typeName, "xdp");

  EXPECT_EQ(xdpActionName(runOn(*program, representativePacket())), "XDP_DROP");
  UdpPacketSpec dns;
  dns.dstPort = 53;
  EXPECT_EQ(
      xdpActionName(runOn(*program, buildArpcPacket(dns, ArpcHeader{}, {}))),
      "XDP_PASS");
  // Not IPv4 at all (an ARP frame): passed untouched.
  std::vector<uint8_t> arp = representativePacket();
  arp[12] = 0x08;
  arp[13] = 0x06;
  auto run = testRunPacket(program->fd, arp, /*repeat=*/100);
  ASSERT_TRUE(bool(run)) << llvm::toString(run.takeError());
  EXPECT_EQ(run->retval, uint32_t(XDP_PASS));
  EXPECT_EQ(run->packetOut, arp);
}

TEST_F(KernelTest, TestRunNeedsAnEthernetHeader) {
  auto object = load("pass.bpf.o");
  ASSERT_TRUE(object);
  const uint8_t shortPacket[] = {1, 2, 3};
  auto run = testRunPacket(object->programs()[0].fd, shortPacket);
  ASSERT_FALSE(bool(run));
  EXPECT_NE(llvm::toString(run.takeError()).find("fewer than an Ethernet"),
            std::string::npos);
}

TEST_F(KernelTest, RejectionCarriesTheVerifierLog) {
  VerifierRejection r = reject("unchecked.bpf.o");
  EXPECT_EQ(r.program, "no_bounds_check");
  EXPECT_EQ(r.section, "xdp");
  EXPECT_EQ(r.errnum, EACCES);
  EXPECT_FALSE(r.logTruncated);
  EXPECT_NE(r.verifierLog.find("invalid access to packet"), std::string::npos)
      << r.verifierLog;
}

TEST_F(KernelTest, LogBufferGrowsUntilTheLogFits) {
  VerifierRejection full = reject("deep.bpf.o");
  ASSERT_GT(full.verifierLog.size(), 8192u);
  EXPECT_EQ(full.errnum, EACCES);

  LoadOptions small;
  small.initialLogSize = 1024; // grows 1 KiB, 4 KiB, 16 KiB, 64 KiB
  VerifierRejection grown = reject("deep.bpf.o", small);
  EXPECT_FALSE(grown.logTruncated);
  EXPECT_EQ(grown.errnum, EACCES);
  EXPECT_EQ(grown.verifierLog, full.verifierLog);

  LoadOptions capped;
  capped.initialLogSize = 1024;
  capped.maxLogSize = 4096;
  VerifierRejection truncated = reject("deep.bpf.o", capped);
  EXPECT_TRUE(truncated.logTruncated);
  EXPECT_EQ(truncated.errnum, ENOSPC);
  EXPECT_LT(truncated.verifierLog.size(), 4096u);
  // The kernel keeps the end of the log, where the reason is.
  EXPECT_NE(truncated.verifierLog.find("invalid access to packet"),
            std::string::npos);
}

TEST_F(KernelTest, MeasuresEveryProgramOfAnObject) {
  auto object = load("multi.bpf.o");
  ASSERT_TRUE(object);
  ASSERT_EQ(object->programs().size(), 3u);
  MeasureOptions options;
  options.repeat = 100;
  std::vector<ProgramFigures> figures;
  for (const LoadedProgram &program : object->programs()) {
    auto f = measureProgram(program, options);
    ASSERT_TRUE(bool(f)) << llvm::toString(f.takeError());
    figures.push_back(*f);
  }
  EXPECT_EQ(figures[0].name, "count_xdp");
  EXPECT_EQ(figures[0].insns, 6u);
  // classify_tc (3) + the subprogram classify (5) it calls.
  EXPECT_EQ(figures[1].insns, 8u);
  for (const ProgramFigures &f : figures) {
    EXPECT_GE(f.xlatedInsns, f.insns - 1) << f.name; // ld_imm64 may shrink
    if (f.jitedBytes) {                              // JIT on
      EXPECT_GT(f.jitedInsns, 0u) << f.name;
      EXPECT_LT(f.jitedInsns, f.jitedBytes) << f.name;
    }
  }
  EXPECT_TRUE(figures[0].nsPerRun.has_value());
  EXPECT_TRUE(figures[1].nsPerRun.has_value());
  EXPECT_FALSE(figures[2].nsPerRun.has_value()); // tracepoint

  // The tc program's verdict: TC_ACT_SHOT for skb->len > 100.
  auto run = testRunPacket(object->programs()[1].fd, representativePacket());
  ASSERT_TRUE(bool(run)) << llvm::toString(run.takeError());
  EXPECT_EQ(run->retval, uint32_t(TC_ACT_SHOT));
  run = testRunPacket(object->programs()[1].fd,
                      buildUdpPacket(UdpPacketSpec{}, {}));
  ASSERT_TRUE(bool(run)) << llvm::toString(run.takeError());
  EXPECT_EQ(run->retval, uint32_t(TC_ACT_OK));
}

TEST_F(KernelTest, JitImageSplitsIntoFunctions) {
  auto object = load("multi.bpf.o");
  ASSERT_TRUE(object);
  auto info = queryProgramInfo(object->programs()[1].fd);
  ASSERT_TRUE(bool(info)) << llvm::toString(info.takeError());
  if (info->jitedBytes == 0)
    GTEST_SKIP() << "the BPF JIT is off";
  EXPECT_EQ(info->jitImage.size(), info->jitedBytes);
  EXPECT_EQ(info->jitFunctionSizes.size(), 2u); // classify_tc + classify
  auto count = countMachineInstructions(info->jitImage, info->jitFunctionSizes);
  ASSERT_TRUE(bool(count));
  EXPECT_EQ(count->undecodedBytes, 0u);
}

TEST_F(KernelTest, ObjectsStayLoadedWhileHeldAndMove) {
  auto object = load("pass.bpf.o");
  ASSERT_TRUE(object);
  LoadedObject moved = std::move(*object);
  ASSERT_EQ(moved.programs().size(), 1u);
  auto info = queryProgramInfo(moved.programs()[0].fd, false);
  ASSERT_TRUE(bool(info)) << llvm::toString(info.takeError());
  EXPECT_GT(info->id, 0u);
}

} // namespace
