#!/usr/bin/env python3
"""Mutation kill test of the checker (docs/checker.md, "Evidence").

For each element: the eBPF C that `sbpf-opt --appnet-to-bpf X --emit=c`
generates is mutated at one site at a time (flipped comparison, off-by-one
constant, swapped verdict, dropped state update, changed field offset,
removed branch); each mutant is compiled with clang-16, loaded into the
kernel verifier (`sbpf verify`) and checked against the element (`sbpf
check --json`). Then:

  - every counterexample of a mutant found Different is REPLAYED in the
    kernel (`sbpf replay`: load, write the global data and map entries,
    BPF_PROG_TEST_RUN the frame, read the state back) and must give the
    object's outcome the checker predicted (`actual`: return code, global
    data after, reject counter increments, frame after, the hash-map
    entries at the keys the counterexample names, the ring-buffer records
    appended) and differ from the element's (`expected`) in one of them.
    A counterexample's random draws and clock readings are replayed too:
    `sbpf replay` redirects the object's calls of those helpers to the
    chosen values (runtime/ChosenInputs.h), and the kernel's count of the
    values taken must be the checker's (counted apart: "with chosen
    draws/clocks");
  - every mutant proven equivalent is run in the kernel beside the original
    object on a pool of inputs (all counterexamples found for the element
    plus generated aRPC frames, states, draws and clock readings) and must
    behave identically.

Fails (exit 1) when a counterexample does not replay or a mutant proven
equivalent differs in the kernel. Prints the kill rate per element and in
total: killed / (mutants that compile and pass the verifier).
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

CLANG = ["clang-16", "-O2", "-g", "-target", "bpf", "-mcpu=v3",
         "-I/usr/include/x86_64-linux-gnu", "-c"]


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, **kw)


# --- mutation operators -------------------------------------------------

CMP_SWAP = {" < ": " >= ", " >= ": " < ", " > ": " <= ", " <= ": " > ",
            " == ": " != ", " != ": " == "}
UPDATE = re.compile(r"^\s*(sbpf_state\.\w+(\.\w+)* = |__sync_fetch_and_add\(|"
                    r"bpf_map_update_elem\(|bpf_map_delete_elem\(|"
                    r"bpf_ringbuf_\w+\(|sbpf_count_reject\(|"
                    r"__builtin_memcpy\(payload|__builtin_memcpy\(hdr)")
FIELD = re.compile(r"\b(payload|hdr) \+ (\d+)|\bhdr\[(\d+)\]")
NUMBER = re.compile(r"(?<![\w.])(\d+)(LL|ULL|U)?\b")
BRANCH = re.compile(r"^(\s*)if \((.*)\)( \{)?$")


def sites(code, region):
    """(operator, start, end, replacement) for every mutation site."""
    lo, hi = region
    out = []
    for text, repl in CMP_SWAP.items():
        for m in re.finditer(re.escape(text), code[lo:hi]):
            out.append(("flipped comparison", lo + m.start(), lo + m.end(), repl))
    for a, b in (("XDP_PASS", "XDP_DROP"), ("XDP_DROP", "XDP_PASS"),
                 ("TC_ACT_OK", "TC_ACT_SHOT"), ("TC_ACT_SHOT", "TC_ACT_OK")):
        for m in re.finditer(r"return " + a + ";", code[lo:hi]):
            out.append(("swapped verdict", lo + m.start(), lo + m.end(),
                        "return " + b + ";"))
    fields = set()
    for m in FIELD.finditer(code[lo:hi]):
        g = 2 if m.group(2) else 3
        fields.add(lo + m.start(g))
        out.append(("changed field offset", lo + m.start(g), lo + m.end(g),
                    str(int(m.group(g)) + 1)))
    pos = lo
    for line in code[lo:hi].splitlines(keepends=True):
        body = line.rstrip("\n")
        if UPDATE.match(body):
            indent = body[:len(body) - len(body.lstrip())]
            out.append(("dropped state update", pos, pos + len(body),
                        indent + "; /* mutant: dropped */"))
        m = BRANCH.match(body)
        if m and "__builtin_expect" not in body:
            out.append(("removed branch", pos + len(m.group(1)) + 4,
                        pos + len(m.group(1)) + 4 + len(m.group(2)), "0"))
        comment = body.find("/*")
        for n in NUMBER.finditer(body):
            at = pos + n.start(1)
            if at in fields or body.lstrip().startswith(("#", "/*", "//")) \
                    or (comment >= 0 and n.start(1) > comment):
                continue
            out.append(("off-by-one constant", at, pos + n.end(1),
                        str(int(n.group(1)) + 1)))
        pos += len(line)
    return out


# Verdicts of each hook: the element's forward, and the others a wrong
# return code could be (XDP_ABORTED 0, XDP_DROP 1, XDP_TX 3, XDP_REDIRECT 4;
# TC_ACT_UNSPEC -1, TC_ACT_SHOT 2, TC_ACT_PIPE 3).
VERDICTS = {"xdp": ("XDP_PASS", ["XDP_ABORTED", "XDP_DROP", "XDP_TX",
                                 "XDP_REDIRECT"]),
            "tc": ("TC_ACT_OK", ["TC_ACT_UNSPEC", "TC_ACT_SHOT",
                                 "TC_ACT_PIPE"])}
# Frame offsets a spurious test may read: EtherType, IPv4 version/IHL,
# protocol, UDP destination port, aRPC packet type, fragment index, the
# first payload byte (ip + 20, udp + 8 + 31 for a 20-byte IP header).
PROBES = [(12, 0x08), (13, 0), (14, 0x45), (23, 17), (33, 2), (36, 0x23),
          (37, 0x28), (42, 1), (56, 0), (73, 0x61)]
# Frame lengths a wrong bounds check may demand: one byte more than the
# Ethernet header, both fixed headers, UDP, the minimum Ethernet frame,
# the aRPC header, part of a payload, a whole request.
LENGTHS = [15, 34, 42, 60, 73, 100, 178]


def insertion_sites(code, region, hook):
    """--insertions: sites for an element with few statements (kinds/null,
    whose program is `return XDP_PASS`): each forwarding return may become
    another verdict, or get a spurious test before it that returns another
    verdict (on one frame byte, or on the frame's length). Each mutant
    changes the return code on some frames, so each is checkable and none
    is equivalent."""
    lo, hi = region
    lo = max(lo, code.rfind('SEC("', lo, hi))  # where data, data_end are
    forward, others = VERDICTS[hook]
    swapped = "XDP_DROP" if hook == "xdp" else "TC_ACT_SHOT"  # sites()
    out = []
    for m in re.finditer(r"^(\s*)return " + forward + ";", code[lo:hi], re.M):
        at, indent = lo + m.start(), m.group(1)
        ret = lo + m.end() - len(forward) - 1
        for v in others:
            if v != swapped:
                out.append(("changed verdict constant", ret,
                            ret + len(forward), v))
        for i, (off, byte) in enumerate(PROBES):
            v = others[i % len(others)]
            out.append(("inserted byte test", at, at,
                        "%sif (data + %d < data_end && data[%d] == %d)\n"
                        "%s  return %s;\n"
                        % (indent, off, off, byte, indent, v)))
        for i, n in enumerate(LENGTHS):
            v = others[(i + 1) % len(others)]
            out.append(("inserted length test", at, at,
                        "%sif (data + %d > data_end)\n%s  return %s;\n"
                        % (indent, n, indent, v)))
    return out


def pick(all_sites, count, rng):
    """Up to `count` sites, round-robin over the operators."""
    by_op = {}
    for s in all_sites:
        by_op.setdefault(s[0], []).append(s)
    for v in by_op.values():
        rng.shuffle(v)
    chosen = []
    while len(chosen) < count and any(by_op.values()):
        for op in sorted(by_op):
            if by_op[op] and len(chosen) < count:
                chosen.append(by_op[op].pop())
    return chosen


# --- frames for the differential runs ---------------------------------

def arpc_frame(rng, port, ptype, payload_bytes):
    eth = bytes(12) + b"\x08\x00"
    udp_len = 8 + 31 + payload_bytes
    ip = bytes([0x45, 0, 0, 20 + udp_len, 0, 1, 0, 0, 64, 17, 0, 0,
                10, 0, 0, 1, 10, 0, 0, 2])
    udp = bytes([0xc3, 0x50, port >> 8, port & 0xff, udp_len >> 8,
                 udp_len & 0xff, 0, 0])
    hdr = bytearray(rng.randbytes(31))
    hdr[0] = ptype
    hdr[14] = 0
    payload = bytearray()
    while len(payload) < payload_bytes:  # short strings, small numbers
        payload += rng.choice([b"alice\0", b"mallory\0", b"deny\0", b"\0\0\0\0",
                               rng.randbytes(4), b"\x01\0\0\0"])
    return eth + ip + udp + bytes(hdr) + bytes(payload[:payload_bytes])


def pool_inputs(abi, found, rng, count=12):
    """Counterexamples found for this element, plus generated inputs."""
    inputs = [cx for cx in found]
    size = abi["state"]["size"]
    for i in range(count):
        ev = abi["events"][i % len(abi["events"])] if abi["events"] else None
        ptype = rng.choice(ev["packet_types"]) if ev else 1
        frame = arpc_frame(rng, abi["rpc_port"], ptype,
                           ev["payload_bytes"] if ev else 0)
        data = bytes(rng.choice([0, 1, 2, 7, 8, 9, 255]) if rng.random() < .8
                     else rng.randrange(256) for _ in range(size))
        # Draws near the thresholds elements compare them with matter
        # most; clock readings increase from a random start.
        draws = [rng.choice([0, rng.randrange(1 << 32), (1 << 32) - 1,
                             rng.randrange(1 << 31, 1 << 32)])
                 for _ in range(8)]
        start = rng.choice([0, 10 ** 9, rng.randrange(1 << 40)])
        clocks = [str(start + k * rng.choice([0, 1, 10 ** 6, 10 ** 9]))
                  for k in range(8)]
        inputs.append({"packet": frame.hex(), "global_data": data.hex(),
                       "maps": {}, "draws": draws, "clocks": clocks})
    return inputs


# --- one element ---------------------------------------------------------

class Element:
    def __init__(self, args, path):
        self.args = args
        self.path = path
        self.name = os.path.splitext(os.path.basename(path))[0]
        self.dir = os.path.join(args.workdir, self.name)
        os.makedirs(self.dir, exist_ok=True)
        self.counts = {}
        self.failures = []
        self.notes = []

    def count(self, what):
        self.counts[what] = self.counts.get(what, 0) + 1

    def f(self, name):
        return os.path.join(self.dir, name)

    def check(self, obj):
        r = run([self.args.sbpf, "check", self.path, obj, "--rpc-schema",
                 self.args.schema, "--json", "--timeout-ms",
                 str(self.args.timeout_ms)])
        try:
            return json.loads(r.stdout)
        except ValueError:
            return {"status": "error", "reason": r.stderr.strip()}

    def replay(self, obj, cx):
        path = obj + ".cx.json"
        with open(path, "w") as f:
            json.dump(cx, f)
        r = run([self.args.sbpf, "replay", obj, path])
        if r.returncode != 0:
            return None, r.stderr.strip()
        return json.loads(r.stdout), ""

    def prepare(self):
        c = self.f("orig.c")
        r = run([self.args.sbpf_opt, "--appnet-to-bpf", self.path,
                 "--rpc-schema", self.args.schema, "--emit=c", "-o", c,
                 "--abi-out", self.f("abi.json")])
        if r.returncode != 0:
            self.failures.append("cannot generate C: " + r.stderr)
            return False
        self.code = open(c).read()
        self.abi = json.load(open(self.f("abi.json")))
        r = run(CLANG + [c, "-o", self.f("orig.o")])
        if r.returncode != 0:
            self.failures.append("the generated C does not compile")
            return False
        rep = self.check(self.f("orig.o"))
        if rep["status"] != "equivalent":
            self.failures.append("the original object is not proven: %s %s"
                                 % (rep["status"], rep.get("reason", "")))
            return False
        code = self.code[:self.code.index("/* The ABI record")]
        self.random = ("bpf_get_prandom_u32(" in code or
                       "bpf_ktime_get_ns(" in code)
        return True

    def mutate(self, index, site):
        op, a, b, repl = site
        code = self.code[:a] + repl + self.code[b:]
        c, o = self.f("m%02d.c" % index), self.f("m%02d.o" % index)
        with open(c, "w") as f:
            # The site's text may hold a comment's end (a dropped update
            # is `; /* mutant: dropped */`): broken up in the header, which
            # it closed early, so every such mutant failed to compile.
            what = ("%s at byte %d: %r -> %r" % (op, a, self.code[a:b], repl))
            f.write("/* mutant %d: %s */\n" % (index, what.replace("*/", "* /"))
                    + code)
        if run(CLANG + [c, "-o", o]).returncode != 0:
            return {"op": op, "result": "does not compile"}
        if run([self.args.sbpf, "verify", o]).returncode != 0:
            return {"op": op, "result": "rejected by the verifier"}
        rep = self.check(o)
        return {"op": op, "result": rep["status"], "report": rep, "obj": o,
                "site": "%r -> %r" % (self.code[a:b], repl), "index": index}

    def verify_counterexample(self, m):
        cx = m["report"]["counterexample"]
        chosen = " with chosen draws/clocks" \
            if cx["depends_on_draws_or_clocks"] else ""
        out, err = self.replay(m["obj"], cx)
        if out is None:
            self.failures.append("mutant %d: replay failed: %s" % (m["index"], err))
            return
        def hx(key):
            return cx.get(key, "")

        def kernel_map(name, key):
            for k, v in out.get("maps_after", {}).get(name, []):
                if k == key:
                    return v
            return "not read"

        def maps_match(side):
            # side 1: the element's prediction, 2: the object's.
            return all(kernel_map(name, e[0]) == e[side]
                       for name, entries in cx.get("maps_after", {}).items()
                       for e in entries)

        def records_match(key):
            return all(out.get("records", {}).get(rb, []) == recs
                       for rb, recs in cx.get(key, {}).items())

        init = cx.get("init", False)
        agrees = init or out["action"] == cx["actual_action"]
        if hx("actual_global_data_after"):
            agrees &= out["global_data_after"] == hx("actual_global_data_after")
        if cx["actual_rejects"] and not init:
            agrees &= out["rejects"] == cx["actual_rejects"]
        if not init and out["action"] == (2 if self.abi["hook"] == "xdp" else 0) \
                and cx["actual_action"] == out["action"]:
            agrees &= out["packet_after"] == hx("actual_packet_after")
        agrees &= maps_match(2) and records_match("actual_records")
        # As many draws and clock readings taken as the checker says the
        # object takes on this input (a call the replay did not redirect
        # would show here).
        if not init:
            agrees &= out["draws_used"] == cx["actual_draws_used"] and \
                out["clocks_used"] == cx["actual_clocks_used"]
        differs = (not init and out["action"] != cx["expected_action"]) or \
            (hx("expected_global_data_after") and
             out["global_data_after"] != hx("expected_global_data_after")) or \
            (cx["expected_rejects"] and not init and
             out["rejects"] != cx["expected_rejects"])
        map_differs = not maps_match(1) or not records_match("expected_records")
        if not agrees:
            self.failures.append(
                "mutant %d (%s, %s): the counterexample does not replay: "
                "kernel %s, checker predicted action %s data %s rejects %s "
                "maps %s records %s draws %s clocks %s"
                % (m["index"], m["op"], m["site"], json.dumps(out),
                   cx["actual_action"], hx("actual_global_data_after"),
                   cx["actual_rejects"], json.dumps(cx.get("maps_after")),
                   json.dumps(cx.get("actual_records")),
                   cx["actual_draws_used"], cx["actual_clocks_used"]))
        elif differs:
            self.count("killed, replayed in the kernel" + chosen)
        elif map_differs:
            # Only the maps or ring buffers show it: read back, confirmed.
            self.count("killed, replayed in the kernel (maps/records)" + chosen)
        else:
            # The kernel agrees with the prediction, and the difference is in
            # what the replay does not read back (frame bytes of a dropped
            # frame, a map key it was not told): still a kill, counted apart.
            self.count("killed, replayed (difference not read back)" + chosen)

    def cross_check(self, m, pool):
        # How many values each run takes is not compared: a mutant may
        # draw and ignore the value, which the checker (rightly) allows.
        def outcome(r):
            return {k: v for k, v in r.items()
                    if k not in ("draws_used", "clocks_used")}
        for i, cx in enumerate(pool):
            a, err_a = self.replay(self.f("orig.o"), cx)
            b, err_b = self.replay(m["obj"], cx)
            if a is None or b is None:
                self.failures.append("mutant %d: replay failed: %s %s"
                                     % (m["index"], err_a, err_b))
                return
            if outcome(a) != outcome(b):
                self.failures.append(
                    "mutant %d (%s, %s) was proven equivalent but differs in "
                    "the kernel on input %d: original %s, mutant %s"
                    % (m["index"], m["op"], m["site"], i, json.dumps(a),
                       json.dumps(b)))
                return
        self.count("equivalent, cross-checked in the kernel" +
                   (" with chosen draws/clocks" if self.random else ""))

    def run(self, pool_executor):
        if not self.prepare():
            return
        lo = self.code.index("/* handler @") if "/* handler @" in self.code \
            else self.code.index('SEC("')
        hi = self.code.index("/* The ABI record")
        rng = random.Random(self.name)
        all_sites = sites(self.code, (lo, hi))
        if self.args.insertions:
            all_sites += insertion_sites(self.code, (lo, hi), self.abi["hook"])
        chosen = pick(all_sites, self.args.mutants, rng)
        if len(chosen) < self.args.min_mutants:
            self.failures.append("only %d mutation sites" % len(chosen))
        results = list(pool_executor.map(lambda p: self.mutate(*p),
                                         enumerate(chosen)))
        found = []
        for m in results:
            self.count("mutants")
            if m["result"] in ("does not compile", "rejected by the verifier"):
                self.count(m["result"])
            elif m["result"] == "different":
                found.append(m["report"]["counterexample"])
                self.verify_counterexample(m)
            elif m["result"] == "unknown" or m["result"] == "error":
                self.count("unknown")
                self.notes.append("mutant %d (%s, %s): %s: %s" % (
                    m["index"], m["op"], m["site"], m["result"],
                    m["report"].get("reason", "")))
        pool = pool_inputs(self.abi, found, rng)
        for m in results:
            if m["result"] == "equivalent":
                self.notes.append("equivalent mutant %d (%s): %s"
                                  % (m["index"], m["op"], m["site"]))
                self.cross_check(m, pool)

    def killed(self):
        return sum(v for k, v in self.counts.items() if k.startswith("killed"))

    def valid(self):
        return self.counts.get("mutants", 0) - \
            self.counts.get("does not compile", 0) - \
            self.counts.get("rejected by the verifier", 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sbpf-opt", required=True)
    ap.add_argument("--sbpf", required=True)
    ap.add_argument("--schema", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--mutants", type=int, default=24)
    ap.add_argument("--min-mutants", type=int, default=20)
    ap.add_argument("--timeout-ms", type=int, default=30000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--insertions", action="store_true",
                    help="also changed verdict constants and inserted "
                         "tests (elements with few statements: kinds/null)")
    ap.add_argument("elements", nargs="+")
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    total_killed = total_valid = 0
    failed = False
    with ThreadPoolExecutor(args.jobs) as pool:
        for path in args.elements:
            e = Element(args, path)
            e.run(pool)
            k, v = e.killed(), e.valid()
            total_killed += k
            total_valid += v
            rate = 100.0 * k / v if v else 0.0
            print("%s: kill rate %d/%d = %.0f%%; %s" % (
                e.name, k, v, rate,
                ", ".join("%s %d" % kv for kv in sorted(e.counts.items()))))
            if args.verbose:
                for n in e.notes:
                    print("  note: " + n)
            for msg in e.failures:
                print("  FAIL: " + msg)
                failed = True
    rate = 100.0 * total_killed / total_valid if total_valid else 0.0
    print("total: kill rate %d/%d = %.0f%%" % (total_killed, total_valid, rate))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
