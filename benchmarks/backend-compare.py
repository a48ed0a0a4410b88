#!/usr/bin/env python3
"""The two object paths side by side (run by `make bench`).

For each element of examples/appnet and examples/appnet/kinds: the median
compile time of `sbpf-opt --appnet-to-bpf --no-kernel-verify -o X.o` with
--backend=c (eBPF C, then clang-16 as a subprocess) and with --backend=llvm
(netfn -> LLVM dialect -> LLVM's BPF target in process), kernel load excluded,
as wall time and as CPU time (user + system of sbpf-opt and its children: on
a shared machine the wall time includes waiting for a core), and the eBPF
and JIT instruction counts of both objects from `sbpf stats --json`. Prints a
table; asserts nothing about times.

Usage: backend-compare.py BUILD_DIR EXAMPLES_DIR [RUNS]
"""
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time


def children_cpu_ms():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (ru.ru_utime + ru.ru_stime) * 1000


def compile_ms(cmd, runs):
    """Median wall and CPU milliseconds of `cmd`, or None and the error."""
    times, cpu = [], []
    for _ in range(runs):
        start, cpu_start = time.perf_counter(), children_cpu_ms()
        r = subprocess.run(cmd, capture_output=True, text=True)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append(children_cpu_ms() - cpu_start)
        if r.returncode != 0:
            err = r.stderr.strip().splitlines()
            return None, err[0] if err else "failed"
    return (statistics.median(times), statistics.median(cpu)), None


def stats(sbpf, obj):
    r = subprocess.run([sbpf, "stats", obj, "--json"], capture_output=True, text=True)
    if r.returncode != 0:
        return None
    line = r.stdout.strip().splitlines()[0]
    return json.loads(line)


def main():
    build, examples = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    schema = os.path.join(examples, "rpc.proto")
    opt, sbpf = os.path.join(build, "bin", "sbpf-opt"), os.path.join(build, "bin", "sbpf")
    sources = []
    for d in (examples, os.path.join(examples, "kinds")):
        sources += sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".appnet"))
    print(f"\nObject paths: --backend=c (C + clang-16) vs --backend=llvm (in process); "
          f"median of {runs} compiles, kernel load excluded")
    print("| element | c ms | llvm ms | c CPU ms | llvm CPU ms | c insns | llvm insns "
          "| c JIT insns | llvm JIT insns |")
    print("|---|---|---|---|---|---|---|---|---|")
    under = {"c": 0, "llvm": 0}
    under_cpu = {"c": 0, "llvm": 0}
    with tempfile.TemporaryDirectory() as tmp:
        for src in sources:
            name = os.path.basename(src)[:-7]
            cells = {}
            for backend in ("c", "llvm"):
                obj = os.path.join(tmp, f"{name}.{backend}.o")
                ms, err = compile_ms([opt, "--appnet-to-bpf", src, "--rpc-schema", schema,
                                      f"--backend={backend}", "--no-kernel-verify",
                                      "-o", obj], runs)
                st = stats(sbpf, obj) if ms is not None else None
                cells[backend] = (ms, err, st)
                if ms is not None and ms[0] < 100:
                    under[backend] += 1
                if ms is not None and ms[1] < 100:
                    under_cpu[backend] += 1

            def fmt_ms(b, k=0):
                ms, err, _ = cells[b]
                return f"{ms[k]:.0f}" if ms is not None else f"error: {err}"

            def fig(b, key):
                st = cells[b][2]
                return str(st[key]) if st else "-"
            print(f"| {name} | {fmt_ms('c')} | {fmt_ms('llvm')} | {fmt_ms('c', 1)} | "
                  f"{fmt_ms('llvm', 1)} | {fig('c', 'insns')} | "
                  f"{fig('llvm', 'insns')} | {fig('c', 'jited_insns')} | {fig('llvm', 'jited_insns')} |")
    print(f"\nunder 100 ms wall: c {under['c']}/{len(sources)}, llvm {under['llvm']}/{len(sources)}; "
          f"CPU: c {under_cpu['c']}/{len(sources)}, llvm {under_cpu['llvm']}/{len(sources)}")


if __name__ == "__main__":
    main()
