#!/usr/bin/env python3
"""A hand-shrunk, equivalent variant of the rule-based C of counters.appnet.

    shrink_counters.py RULE.c OUT.c

byte_size(rpc, 'body') is the length of the normalised string: the index of
the first NUL among its 64 bytes, or 64. The rule-based C copies the bytes to
scratch space, normalises them (zeroing what follows the NUL) and reads the
length; this variant only looks for the NUL, which is the same value with
fewer instructions (260 against 592 with clang-16 today). Fails when the
rule-based C no longer has the expected shape.
"""
import sys

OLD = """  __builtin_memcpy(sc->v1.b, payload + 0, 64);
  sbpf_str64_norm(&sc->v1);
  __u32 v2 = sc->v1.len;"""
NEW = """  __u32 v2 = 64;
#pragma clang loop unroll(full)
  for (__u32 i = 0; i < 64; i++)
    if (v2 == 64 && payload[i] == 0)
      v2 = i;"""

source = open(sys.argv[1]).read()
if OLD not in source:
    sys.exit("shrink_counters.py: the rule-based C changed; update OLD")
open(sys.argv[2], "w").write(source.replace(OLD, NEW))
