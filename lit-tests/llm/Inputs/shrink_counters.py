#!/usr/bin/env python3
"""A hand-shrunk, equivalent variant of the rule-based C of counters.appnet.

    shrink_counters.py RULE.c OUT.c

The request handler adds 1 to req_count and byte_size(rpc, 'body') to
byte_total, both in the global data. The rule-based C does the first add,
then scans the body, then the second add; clang-16 loads the address of
the global data once per atomic add (a 2-slot ld_imm64 each). This
variant scans the body first, so the two adds are adjacent and share one
address: the same outcome (nothing reads the counters between them) with
two instructions fewer (49 against 51 today, `sbpf stats`; the checker
proves it equivalent). Fails when the rule-based C no longer has the
expected shape.

(Until the rule-based length scan took a 64-bit counter, which gave it the
LLVM path's loop shape, this variant walked a pointer instead: one
instruction fewer then, none now.)
"""
import sys

OLD = """  __u32 v0 = ((__u32)1ULL);
  __sync_fetch_and_add(&sbpf_state.req_count, v0);
  __u32 v1 = sbpf_strlen_64(payload + 0);
"""
NEW = """  __u32 v1 = sbpf_strlen_64(payload + 0);
  __u32 v0 = ((__u32)1ULL);
  __sync_fetch_and_add(&sbpf_state.req_count, v0);
"""

source = open(sys.argv[1]).read()
if OLD not in source:
    sys.exit("shrink_counters.py: the rule-based C changed; update OLD")
open(sys.argv[2], "w").write(source.replace(OLD, NEW))
