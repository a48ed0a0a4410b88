// An XDP program the verifier accepts: parses Ethernet/IPv4/UDP with bounds
// checks, drops UDP datagrams to port 9000 (aRPC's default), passes the rest.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int drop_arpc(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
    return XDP_PASS;
  struct iphdr *ip = (void *)(eth + 1);
  if ((void *)(ip + 1) > data_end || ip->protocol != IPPROTO_UDP)
    return XDP_PASS;
  struct udphdr *udp = (void *)ip + ip->ihl * 4;
  if ((void *)(udp + 1) > data_end)
    return XDP_PASS;
  return udp->dest == bpf_htons(9000) ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
