#!/usr/bin/env python3
"""A hand-shrunk, equivalent variant of the rule-based C of counters.appnet.

    shrink_counters.py RULE.c OUT.c

byte_size(rpc, 'body') is the index of the first NUL among the body's 64
bytes, or 64. The rule-based C scans the bytes eight at a time in a fully
unrolled loop; this variant keeps the same loop rolled (a bounded loop the
verifier accepts), the same value with fewer instructions (91 against 145
with clang-16 today; the checker proves it equivalent). Fails when the
rule-based C no longer has the expected shape.
"""
import sys

OLD = """{
#pragma clang loop unroll(full)
  for (__u32 w = 0; w < 64; w += 8) {
    __u64 v = *(const __u64 __attribute__((may_alias)) *)(p + w);"""
NEW = OLD.replace("unroll(full)", "unroll(disable)")

source = open(sys.argv[1]).read()
if OLD not in source:
    sys.exit("shrink_counters.py: the rule-based C changed; update OLD")
open(sys.argv[2], "w").write(source.replace(OLD, NEW))
