// A hand-written object with an ABI record (section .sbpf.abi, as sbpf-opt
// --emit=c embeds it; the whole record, which the runtime reads with the
// backend's parseABIJson): a hash map `entries` (u32 -> u64) and a scalar-state
// struct in .data whose `t` and `r` the loader sets. The program returns
// XDP_PASS when entries[1] == 42 and state.t != 0, XDP_DROP otherwise.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __type(key, __u32);
  __type(value, __u64);
  __uint(max_entries, 2);
} entries SEC(".maps");

struct state_t {
  __u64 t;
  __u32 r;
  __u32 k;
};
struct state_t sbpf_state SEC(".data") = {.k = 7};

SEC("xdp")
int with_abi(struct xdp_md *ctx) {
  __u32 one = 1;
  __u64 *v = bpf_map_lookup_elem(&entries, &one);
  return v && *v == 42 && sbpf_state.t != 0 ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";

const char sbpf_abi[] SEC(".sbpf.abi") =
    "{\"sbpf_abi_version\": 2, \"program\": \"with_abi\","
    " \"hook\": \"xdp\", \"rpc_port\": 9000, \"events\": [],"
    " \"state\": {\"global\": \"sbpf_state\", \"section\": \".data\","
    " \"libbpf_map\": \".data\", \"size\": 16, \"scalars\": ["
    " {\"name\": \"t\", \"netfn_type\": \"!netfn.instant\","
    " \"c_type\": \"__u64\", \"encoding\": \"u64\", \"offset\": 0,"
    " \"size\": 8},"
    " {\"name\": \"r\", \"netfn_type\": \"ui32\", \"c_type\": \"__u32\","
    " \"encoding\": \"u32\", \"offset\": 8, \"size\": 4},"
    " {\"name\": \"k\", \"netfn_type\": \"ui32\", \"c_type\": \"__u32\","
    " \"encoding\": \"u32\", \"offset\": 12, \"size\": 4}]},"
    " \"maps\": [{\"name\": \"entries\", \"type\": \"BPF_MAP_TYPE_HASH\","
    " \"capacity\": 2,"
    " \"key\": {\"netfn_type\": \"ui32\", \"c_type\": \"__u32\","
    " \"encoding\": \"u32\", \"offset\": 0, \"size\": 4},"
    " \"value\": {\"netfn_type\": \"ui64\", \"c_type\": \"__u64\","
    " \"encoding\": \"u64\", \"offset\": 0, \"size\": 8}}],"
    " \"logs\": [], \"rejects\": {\"map\": null, \"reasons\": []},"
    " \"init\": {\"data_initializer\": [{\"scalar\": \"k\","
    " \"value\": \"7\"}], \"loader_work\": ["
    " {\"kind\": \"map_entry\", \"target\": \"entries\","
    " \"key\": \"01000000\", \"value\": \"2a00000000000000\"},"
    " {\"kind\": \"state_now\", \"target\": \"t\", \"offset\": 0, \"size\": 8,"
    " \"encoding\": \"u64\"},"
    " {\"kind\": \"state_random\", \"target\": \"r\", \"offset\": 8,"
    " \"size\": 4, \"encoding\": \"u32\"},"
    " {\"kind\": \"map_entry\", \"target\": \"entries\","
    " \"key\": \"02000000\", \"value\": \"0200000000000000\"},"
    " {\"kind\": \"map_entry\", \"target\": \"entries\","
    " \"key\": \"03000000\", \"value\": \"0300000000000000\"}]}}";
