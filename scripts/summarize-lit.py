#!/usr/bin/env python3
"""Prints 'N passed, N failed, N skipped' from a lit JSON result file.

Expected failures (XFAIL: tests that pin a known bug) are not counted as
passed: they are listed by name and counted with the skipped ones."""
import json
import sys

PASS = {"PASS"}
SKIP = {"UNSUPPORTED", "SKIPPED", "EXCLUDED", "XFAIL"}

with open(sys.argv[1]) as f:
    results = json.load(f).get("tests", [])
passed = sum(1 for t in results if t["code"] in PASS)
skipped = sum(1 for t in results if t["code"] in SKIP)
failed = len(results) - passed - skipped
for t in results:
    if t["code"] not in PASS | SKIP:
        print(f"{t['code']}: {t['name']}")
    elif t["code"] == "XFAIL":
        print(f"known bug (XFAIL): {t['name']}")
print(f"{passed} passed, {failed} failed, {skipped} skipped")
