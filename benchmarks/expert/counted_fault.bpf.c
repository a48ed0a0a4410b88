// Hand-written expert eBPF C for examples/appnet/counted_fault.appnet: the
// bar sbpf-opt's optimised output must meet (benchmarks/README.md). A drop-in
// replacement for the compiler's object: same program and section, same
// global state layout (.data), same reject-counter map, and the same ABI
// record (.sbpf.abi, checked against `sbpf-opt --abi-out` by
// lit-tests/bench/expert.test).
//
// Meaning (netfn after float-to-fixed): on an aRPC request, req_count += 1;
// with a 32-bit draw r, forward if r < 3865470567 (keep_prob = 0.9, exact
// in fixed<64, 62>, which no handler writes; r * 2^-32 < 0.9 iff
// r < ceil(0.9 * 2^32)), else drop_count += 1 and reject "fault_injected".
// Responses and every other packet pass.
#include "arpc.h"

char LICENSE[] SEC("license") = "GPL";

struct sbpf_state_t {
  __u32 req_count;
  __u32 drop_count;
  __s64 keep_prob;
};
struct sbpf_state_t sbpf_state SEC(".data") = {.keep_prob = 4150517416584649216LL};

SBPF_REJECTS(1); // 0 = fault_injected

SEC("xdp")
int counted_fault(struct xdp_md *ctx)
{
  ARPC_REQUEST_OR_PASS(ctx, udp, 104);
  __sync_fetch_and_add(&sbpf_state.req_count, 1);
  if (bpf_get_prandom_u32() < 3865470567u)
    return XDP_PASS;
  __sync_fetch_and_add(&sbpf_state.drop_count, 1);
  REJECT(0);
}

#include "counted_fault.abi.inc"
