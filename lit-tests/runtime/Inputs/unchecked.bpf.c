// Rejected by the verifier: reads the Ethernet type without checking the
// packet is long enough (no comparison against data_end).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int no_bounds_check(struct xdp_md *ctx) {
  struct ethhdr *eth = (void *)(long)ctx->data;
  return eth->h_proto == 0x0008 ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
