// Three programs of three types in one object, with a global counter (a .bss
// map), a 64-bit immediate load and a BPF-to-BPF call: an XDP and a tc
// program (test-runnable) and a tracepoint program (not).
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

__u64 packets;

// noinline: stays a separate BPF function, so the tc program has two JIT
// functions.
static __attribute__((noinline)) int classify(__u32 len) {
  return len > 100 ? TC_ACT_SHOT : TC_ACT_OK;
}

SEC("xdp")
int count_xdp(struct xdp_md *ctx) {
  __sync_fetch_and_add(&packets, 1);
  return XDP_PASS;
}

SEC("tc")
int classify_tc(struct __sk_buff *skb) { return classify(skb->len); }

SEC("tracepoint/syscalls/sys_enter_getpid")
int on_getpid(void *ctx) {
  __sync_fetch_and_add(&packets, 1);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
