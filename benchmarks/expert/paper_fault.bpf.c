// Hand-written expert eBPF C for examples/appnet/paper_fault.appnet: the bar
// sbpf-opt's optimised output must meet (benchmarks/README.md). A drop-in
// replacement for the compiler's object: same program and section, same
// global state layout (.data), same reject-counter map, and the same ABI
// record (.sbpf.abi, checked against `sbpf-opt --abi-out` by
// lit-tests/bench/expert.test).
//
// Meaning (netfn after float-to-fixed): on an aRPC request, with a 32-bit
// draw r, forward if r < 4080218932 (prob = 0.95, exact in fixed<64, 62>,
// which no handler writes; r * 2^-32 < 0.95 iff r < ceil(0.95 * 2^32)), else
// reject "fault_injected". Every other packet passes.
#include "arpc.h"

char LICENSE[] SEC("license") = "GPL";

struct sbpf_state_t {
  __s64 prob;
};
struct sbpf_state_t sbpf_state SEC(".data") = {.prob = 4381101717506018304LL};

SBPF_REJECTS(1); // 0 = fault_injected

SEC("xdp")
int paper_fault(struct xdp_md *ctx)
{
  ARPC_REQUEST_OR_PASS(ctx, udp, 104);
  if (bpf_get_prandom_u32() < 4080218932u)
    return XDP_PASS;
  REJECT(0);
}

#include "paper_fault.abi.inc"
