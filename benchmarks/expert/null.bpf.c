// Hand-written expert eBPF C for examples/appnet/kinds/null.appnet: the bar
// sbpf-opt's optimised output must meet (benchmarks/README.md). A drop-in
// replacement for the compiler's object: same program and section, same
// (empty) global state and the same ABI record (.sbpf.abi, checked against
// `sbpf-opt --abi-out` by lit-tests/bench/expert.test).
//
// Meaning: every packet passes.
#include "arpc.h"

char LICENSE[] SEC("license") = "GPL";

struct sbpf_state_t {
  __u64 sbpf_unused;
};
struct sbpf_state_t sbpf_state SEC(".data") = {0};

SEC("xdp")
int null(struct xdp_md *ctx)
{
  return XDP_PASS;
}

#include "null.abi.inc"
