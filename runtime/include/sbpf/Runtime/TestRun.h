//===- TestRun.h - running loaded programs on a packet ----------*- C++ -*-===//
//
// BPF_PROG_TEST_RUN: the kernel runs a loaded program on a packet we supply
// and returns its verdict, the packet as the program left it, and the mean
// time of one run. On this project's kernels it works for XDP and tc
// (sched_cls/sched_act) programs (shared/docs/toolchain.md).
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_RUNTIME_TESTRUN_H
#define SBPF_RUNTIME_TESTRUN_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <linux/bpf.h>

#include <cstdint>
#include <vector>

namespace sbpf::runtime {

/// Whether test runs of this program type take a packet: XDP, sched_cls,
/// sched_act.
bool runsOnPackets(bpf_prog_type type);

struct TestRunResult {
  /// The program's return value: an XDP action (XDP_DROP = 1, XDP_PASS = 2,
  /// ...) or a tc action (TC_ACT_OK = 0, TC_ACT_SHOT = 2, ...).
  uint32_t retval = 0;
  /// Mean nanoseconds per run, as the kernel measured it over `repeat` runs.
  uint32_t nsPerRun = 0;
  /// The packet after the (last) run, with any rewrites the program made.
  std::vector<uint8_t> packetOut;
};

/// Runs the program `progFd` on `packet` `repeat` times (at least once).
/// The packet must hold at least an Ethernet header (14 bytes).
llvm::Expected<TestRunResult>
testRunPacket(int progFd, llvm::ArrayRef<uint8_t> packet, unsigned repeat = 1);

/// "XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT", or
/// "unknown XDP action".
llvm::StringRef xdpActionName(uint32_t action);

} // namespace sbpf::runtime

#endif // SBPF_RUNTIME_TESTRUN_H
