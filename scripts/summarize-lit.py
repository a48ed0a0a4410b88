#!/usr/bin/env python3
"""Prints 'N passed, N failed, N skipped' from a lit JSON result file."""
import json
import sys

PASS = {"PASS", "XFAIL"}
SKIP = {"UNSUPPORTED", "SKIPPED", "EXCLUDED"}

with open(sys.argv[1]) as f:
    results = json.load(f).get("tests", [])
passed = sum(1 for t in results if t["code"] in PASS)
skipped = sum(1 for t in results if t["code"] in SKIP)
failed = len(results) - passed - skipped
for t in results:
    if t["code"] not in PASS | SKIP:
        print(f"{t['code']}: {t['name']}")
print(f"{passed} passed, {failed} failed, {skipped} skipped")
