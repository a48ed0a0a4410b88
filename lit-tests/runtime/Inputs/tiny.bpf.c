// The smallest XDP program: `return XDP_PASS;` is exactly 2 instructions
// (w0 = 2; exit) at every optimisation level.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx) { return XDP_PASS; }

char LICENSE[] SEC("license") = "GPL";
