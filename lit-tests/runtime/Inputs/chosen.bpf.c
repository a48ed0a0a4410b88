// An XDP program that draws three random numbers in a loop (one call site,
// taken three times) and reads the clock three times, and writes the six
// values into the frame's first 48 bytes: ChosenInputs' test reads them
// back (unittests/runtime/ChosenInputsTest.cpp).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int chosen(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  __u64 *out = data;
  if ((void *)(out + 6) > data_end)
    return XDP_ABORTED;
#pragma clang loop unroll(disable)
  for (int i = 0; i < 3; i++)
    out[i] = bpf_get_prandom_u32();
  out[3] = bpf_ktime_get_ns();
  out[4] = bpf_ktime_get_boot_ns();
  out[5] = bpf_ktime_get_ns();
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
