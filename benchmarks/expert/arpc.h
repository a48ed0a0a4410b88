// Shared by the hand-written expert programs: the packet test every element
// starts with (docs/bpf-abi.md). Ethernet II, IPv4 (any header length, first
// fragment only), UDP with port 9000 on either side, the 31-byte aRPC header
// with fragment index 0, and a request whose payload holds the element's
// whole layout; every other packet passes untouched.
#ifndef EXPERT_ARPC_H
#define EXPERT_ARPC_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

typedef __u16 __attribute__((may_alias)) u16_alias;
typedef __u32 __attribute__((may_alias)) u32_alias;
typedef __u64 __attribute__((may_alias)) u64_alias;

// Declares `__u8 *udp` and `__u8 ptype` for an aRPC packet of fragment 0
// with at least `payload_bytes` of payload at udp + 39 (UDP and aRPC
// headers), and returns XDP_PASS from the program for every other packet.
// A macro rather than a function returning NULL: the early returns give
// clang straight-line tests (a function returning a pointer cost 2-3
// instructions more in every program).
#define ARPC_OR_PASS(ctx, udp, ptype, payload_bytes)                           \
  __u8 *data = (__u8 *)(long)(ctx)->data;                                      \
  __u8 *data_end = (__u8 *)(long)(ctx)->data_end;                              \
  if (data + 34 > data_end) /* Ethernet + minimal IPv4 */                      \
    return XDP_PASS;                                                           \
  __u8 *ip = data + 14;                                                        \
  if (*(u16_alias *)(data + 12) != bpf_htons(0x0800) || ip[9] != 17 ||         \
      (*(u16_alias *)(ip + 6) & bpf_htons(0x1fff)))                            \
    return XDP_PASS;                                                           \
  __u32 vihl = ip[0];                                                          \
  if ((vihl & 0xf0) != 0x40 || (vihl & 0x0f) < 5)                             \
    return XDP_PASS;                                                           \
  __u8 *udp = ip + (vihl & 0x0f) * 4;                                          \
  /* One bounds check for UDP, the aRPC header and the payload: every         \
     shorter packet passes, whatever it is. */                                 \
  if (udp + (8 + 31 + (payload_bytes)) > data_end)                             \
    return XDP_PASS;                                                           \
  if (*(u16_alias *)udp != bpf_htons(9000) &&                                  \
      *(u16_alias *)(udp + 2) != bpf_htons(9000))                              \
    return XDP_PASS;                                                           \
  __u8 ptype = udp[8];                                                         \
  if (udp[8 + 14] != 0) /* fragment 0 */                                       \
    return XDP_PASS;

// ARPC_OR_PASS for a request (packet type 1) only.
#define ARPC_REQUEST_OR_PASS(ctx, udp, payload_bytes)                          \
  ARPC_OR_PASS(ctx, udp, arpc_ptype, payload_bytes)                            \
  if (arpc_ptype != 1)                                                         \
    return XDP_PASS;

// The reject counters of the ABI: one per-CPU u64 per reason, in the slot
// order of the ABI record.
#define SBPF_REJECTS(reasons)                                                  \
  struct {                                                                     \
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                                   \
    __type(key, __u32);                                                        \
    __type(value, __u64);                                                      \
    __uint(max_entries, reasons);                                              \
  } sbpf_rejects SEC(".maps")

// Counts a reject in `slot` and drops the packet.
#define REJECT(slot)                                                           \
  do {                                                                         \
    __u32 key = (slot);                                                        \
    __u64 *count = bpf_map_lookup_elem(&sbpf_rejects, &key);                   \
    if (count)                                                                 \
      *count += 1;                                                             \
    return XDP_DROP;                                                           \
  } while (0)

#endif // EXPERT_ARPC_H
