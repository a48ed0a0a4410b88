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

// Length of a NUL-padded string of 64 bytes, eight bytes at a time: in
// (v - 0x01..01) & ~v & 0x80..80 the lowest flagged byte is the first zero
// byte (higher flags may be borrows; the lowest never is).
static __always_inline __u32 strlen64(const __u8 *p)
{
#pragma clang loop unroll(full)
  for (__u32 w = 0; w < 64; w += 8) {
    __u64 v = *(const u64_alias *)(p + w);
    __u64 z = (v - 0x0101010101010101ULL) & ~v & 0x8080808080808080ULL;
    if (z) {
      __u32 n = w;
      if (!(__u32)z) {
        n += 4;
        z >>= 32;
      }
      if (!(z & 0xffff)) {
        n += 2;
        z >>= 16;
      }
      return n + !(z & 0xff);
    }
  }
  return 64;
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
