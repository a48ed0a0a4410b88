#!/usr/bin/env python3
"""Checking time per example element (run by `make bench`).

For each element of examples/appnet and examples/appnet/kinds: the object
`sbpf-opt --appnet-to-bpf ... --no-validate` writes, then `sbpf check --json`
five times; prints the median wall time of the check, the executor's paths
(exits reached before merging) and the solver calls (executor feasibility
checks plus the equivalence queries), and the answer. Unknown answers are
printed with their reason (e.g. a timeout); nothing here asserts a time.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

RUNS = 5


def main():
    build, examples = sys.argv[1], sys.argv[2]
    timeout_ms = sys.argv[3] if len(sys.argv) > 3 else "60000"
    schema = os.path.join(examples, "rpc.proto")
    opt, sbpf = os.path.join(build, "bin", "sbpf-opt"), os.path.join(build, "bin", "sbpf")
    sources = []
    for d in (examples, os.path.join(examples, "kinds")):
        sources += sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".appnet"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for src in sources:
            name = os.path.splitext(os.path.basename(src))[0]
            obj = os.path.join(tmp, name + ".o")
            r = subprocess.run([opt, "--appnet-to-bpf", src, "--rpc-schema", schema,
                                "--no-kernel-verify", "--no-validate", "-o", obj],
                               capture_output=True, text=True)
            if r.returncode != 0:
                rows.append((name, None, None, None, "compile failed"))
                continue
            times, report = [], None
            for _ in range(RUNS):
                start = time.perf_counter()
                c = subprocess.run([sbpf, "check", src, obj, "--rpc-schema", schema,
                                    "--json", "--timeout-ms", timeout_ms],
                                   capture_output=True, text=True)
                times.append(time.perf_counter() - start)
                try:
                    report = json.loads(c.stdout)
                except ValueError:
                    report = {"status": "error", "reason": c.stderr.strip()[:80],
                              "paths": 0, "solver_calls": 0}
                if report["status"] != "equivalent":
                    break  # an unknown takes the whole budget: once is enough
            answer = report["status"]
            if report.get("reason"):
                answer += ": " + report["reason"]
            rows.append((name, statistics.median(times), report["paths"],
                         report["solver_calls"], answer))

    print("\nChecker: sbpf check ELEMENT OBJECT (object from --appnet-to-bpf; "
          "median of %d runs, --timeout-ms %s)\n" % (RUNS, timeout_ms))
    print("| element | check s | paths | solver calls | answer |")
    print("|---|---|---|---|---|")
    for name, s, paths, calls, answer in rows:
        if s is None:
            print(f"| {name} | - | - | - | {answer} |")
        else:
            print(f"| {name} | {s:.2f} | {paths} | {calls} | {answer} |")
    proven = sum(1 for r in rows if r[4] == "equivalent")
    print(f"\nproven: {proven} of {len(rows)} elements")
    return 0


if __name__ == "__main__":
    sys.exit(main())
