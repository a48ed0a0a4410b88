// Hand-written expert eBPF C for examples/appnet/concurrency_limit.appnet:
// the bar sbpf-opt's optimised output must meet (benchmarks/README.md). A
// drop-in replacement for the compiler's object: same program and section,
// same global state layout (.data), same reject-counter map, and the same
// ABI record (.sbpf.abi, checked against `sbpf-opt --abi-out` by
// lit-tests/bench/expert.test).
//
// Meaning: on an aRPC request (104 payload bytes), if in_flight < limit (8,
// which no handler writes) then in_flight += 1 and forward, else
// rejected += 1 and reject "too_many_in_flight"; on a response (packet type
// 2 or 3, 68 payload bytes) in_flight -= 1 when it is positive. Every other
// packet passes.
#include "arpc.h"

char LICENSE[] SEC("license") = "GPL";

struct sbpf_state_t {
  __s32 limit;
  __s32 in_flight;
  __s32 rejected;
};
struct sbpf_state_t sbpf_state SEC(".data") = {.limit = 8};

SBPF_REJECTS(1); // 0 = too_many_in_flight

SEC("xdp")
int concurrency_limit(struct xdp_md *ctx)
{
  ARPC_OR_PASS(ctx, udp, ptype, 68);
  if (ptype == 1) {
    if (udp + (8 + 31 + 104) > data_end)
      return XDP_PASS;
    if (sbpf_state.in_flight < 8) {
      __sync_fetch_and_add(&sbpf_state.in_flight, 1);
      return XDP_PASS;
    }
    __sync_fetch_and_add(&sbpf_state.rejected, 1);
    REJECT(0);
  }
  if ((__u8)(ptype - 2) < 2 && sbpf_state.in_flight > 0)
    __sync_fetch_and_add(&sbpf_state.in_flight, -1);
  return XDP_PASS;
}

#include "concurrency_limit.abi.inc"
