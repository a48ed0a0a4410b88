// A program in a section libbpf cannot map to a program type: loading fails
// in libbpf, before the kernel, with libbpf's explanation.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("not_a_hook")
int nowhere(void *ctx) { return 0; }

char LICENSE[] SEC("license") = "GPL";
