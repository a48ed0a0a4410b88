// Hand-written expert eBPF C for examples/appnet/priority_fault.appnet: the
// bar sbpf-opt's optimised output must meet (benchmarks/README.md). A drop-in
// replacement for the compiler's object: same program and section, same
// global state layout (.data), same reject-counter map, and the same ABI
// record (.sbpf.abi, checked against `sbpf-opt --abi-out` by
// lit-tests/bench/expert.test).
//
// Meaning: on an aRPC request, reject "low_priority_dropped" when
// priority > threshold (2, which no handler writes) and kind == 2 (priority
// > 0 is implied); forward otherwise. Every other packet passes.
#include "arpc.h"

char LICENSE[] SEC("license") = "GPL";

struct sbpf_state_t {
  __u32 threshold;
};
struct sbpf_state_t sbpf_state SEC(".data") = {.threshold = 2};

SBPF_REJECTS(1); // 0 = low_priority_dropped

SEC("xdp")
int priority_fault(struct xdp_md *ctx)
{
  ARPC_REQUEST_OR_PASS(ctx, udp, 104);
  __u8 *payload = udp + (8 + 31);
  // priority at payload offset 64, kind at 68 (u32, little-endian)
  if (*(u32_alias *)(payload + 68) != 2 ||
      *(u32_alias *)(payload + 64) <= 2)
    return XDP_PASS;
  REJECT(0);
}

#include "priority_fault.abi.inc"
