// Rejected after a long walk: sums 48 bounds-checked packet bytes (unrolled,
// so the level-1 verifier log runs to several KiB), then reads one byte past
// the checked range. Exercises the growth of the verifier-log buffer.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int long_walk(struct xdp_md *ctx) {
  unsigned char *data = (void *)(long)ctx->data;
  unsigned char *data_end = (void *)(long)ctx->data_end;
  if (data + 48 > data_end)
    return XDP_PASS;
  unsigned sum = 0;
#pragma clang loop unroll(full)
  for (int i = 0; i < 48; i++)
    sum += data[i] * (i + 1);
  return sum + data[48] ? XDP_DROP : XDP_PASS; // data[48] is unchecked
}

char LICENSE[] SEC("license") = "GPL";
