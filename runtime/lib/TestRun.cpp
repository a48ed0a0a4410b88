//===- TestRun.cpp - BPF_PROG_TEST_RUN of packet programs ----------------===//
#include "sbpf/Runtime/TestRun.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

using namespace sbpf::runtime;

bool sbpf::runtime::runsOnPackets(bpf_prog_type type) {
  return type == BPF_PROG_TYPE_XDP || type == BPF_PROG_TYPE_SCHED_CLS ||
         type == BPF_PROG_TYPE_SCHED_ACT;
}

llvm::Expected<TestRunResult>
sbpf::runtime::testRunPacket(int progFd, llvm::ArrayRef<uint8_t> packet,
                             unsigned repeat) {
  // The kernel refuses shorter input for XDP and skb programs with EINVAL;
  // saying why is kinder.
  if (packet.size() < 14)
    return llvm::createStringError(
        std::make_error_code(std::errc::invalid_argument),
        "test run: the packet has %zu bytes, fewer than an Ethernet header",
        packet.size());
  if (packet.size() > UINT32_MAX / 2)
    return llvm::createStringError(
        std::make_error_code(std::errc::invalid_argument),
        "test run: the packet is too large");

  // Programs may grow the packet (bpf_xdp_adjust_tail, bpf_skb_change_tail),
  // so leave room; if it is still too small the kernel says ENOSPC.
  TestRunResult result;
  result.packetOut.resize(packet.size() + 4096);
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = packet.data(),
              .data_out = result.packetOut.data(),
              .data_size_in = uint32_t(packet.size()),
              .data_size_out = uint32_t(result.packetOut.size()),
              .repeat = int(std::clamp<unsigned>(repeat, 1, INT_MAX)));
  int err = bpf_prog_test_run_opts(progFd, &opts);
  if (err < 0) {
    int e = errno ? errno : -err;
    return llvm::createStringError(std::error_code(e, std::generic_category()),
                                   "BPF_PROG_TEST_RUN failed: %s",
                                   std::strerror(e));
  }
  result.packetOut.resize(
      std::min<size_t>(opts.data_size_out, result.packetOut.size()));
  result.retval = opts.retval;
  result.nsPerRun = opts.duration;
  return result;
}

llvm::StringRef sbpf::runtime::xdpActionName(uint32_t action) {
  switch (action) {
  case XDP_ABORTED:
    return "XDP_ABORTED";
  case XDP_DROP:
    return "XDP_DROP";
  case XDP_PASS:
    return "XDP_PASS";
  case XDP_TX:
    return "XDP_TX";
  case XDP_REDIRECT:
    return "XDP_REDIRECT";
  default:
    return "unknown XDP action";
  }
}
