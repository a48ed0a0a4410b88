// Hand-written expert eBPF C for examples/appnet/counters.appnet: the bar
// sbpf-opt's optimised output must meet (benchmarks/README.md). A drop-in
// replacement for the compiler's object: same program and section, same
// global state layout (.data) and the same ABI record (.sbpf.abi, checked
// against `sbpf-opt --abi-out` by lit-tests/bench/expert.test).
//
// Meaning: on an aRPC request, req_count += 1 and byte_total += the length
// of the body (a NUL-padded 64-byte string at payload offset 0: the index of
// its first NUL byte, or 64). Every other packet passes.
#include "arpc.h"

char LICENSE[] SEC("license") = "GPL";

struct sbpf_state_t {
  __u32 req_count;
  __u32 byte_total;
};
struct sbpf_state_t sbpf_state SEC(".data") = {0};

// Length of a NUL-padded string of 64 bytes: a rolled byte loop that leaves
// at the first NUL. The fewest instructions (the verifier walks it as a
// bounded loop); the unrolled eight-bytes-per-step scan this file had
// before took 145 instructions in all against 52.
static __always_inline __u32 strlen64(const __u8 *p)
{
  __u32 n;
#pragma clang loop unroll(disable)
  for (n = 0; n < 64; n++)
    if (p[n] == 0)
      break;
  return n;
}

SEC("xdp")
int counters(struct xdp_md *ctx)
{
  ARPC_REQUEST_OR_PASS(ctx, udp, 104);
  __u8 *payload = udp + (8 + 31);
  __sync_fetch_and_add(&sbpf_state.req_count, 1);
  __sync_fetch_and_add(&sbpf_state.byte_total, strlen64(payload));
  return XDP_PASS;
}

#include "counters.abi.inc"
