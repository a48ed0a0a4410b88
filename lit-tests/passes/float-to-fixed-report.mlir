// netfn-float-to-fixed=report=FILE: the error accounting of the conversion,
// as JSON: per real state and value its range, scale and propagated error
// bound; constants with their exact error at the scale of their use; exact
// forms; per-operation bounds 2^-F; maxima.
// RUN: sbpf-opt %s --netfn-float-to-fixed=report=%t.json > /dev/null
// RUN: FileCheck %s < %t.json
// RUN: not sbpf-opt %s --netfn-float-to-fixed=report=%t.missing/dir/r.json 2>&1 | FileCheck %s --check-prefix=NOFILE
// NOFILE: error: netfn-float-to-fixed: cannot write report '{{.*}}r.json'

// CHECK: "format": "fixed<64, F> per value range, F in [32, 62]",
// @prob is 0.9 (init overwrites its zero): scale 62, where 0.9 is exact.
// CHECK:      "states": [
// CHECK-NEXT:   {
// CHECK-NEXT:     "state": "prob",
// CHECK-NEXT:     "range": [
// CHECK-NEXT:       0.90000000000000002,
// CHECK-NEXT:       0.90000000000000002
// CHECK-NEXT:     ],
// CHECK-NEXT:     "scale": 62,
// CHECK-NEXT:     "error_bound": 0
// The draw's fraction: [0, 1 - 2^-32], exact, in its Q31.32 form.
// CHECK:      "loc": "{{.*}}float-to-fixed-report.mlir:[[@LINE+73]]:10",
// CHECK-NEXT: "op": "netfn.bitcast",
// CHECK-NEXT: "range": [
// CHECK-NEXT:   0,
// CHECK-NEXT:   0.99999999976716936
// CHECK-NEXT: ],
// CHECK-NEXT: "scale": 32,
// CHECK-NEXT: "error_bound": 0
// p * p = 0.81 at scale 62: one truncation, 2^-62.
// CHECK:      "op": "netfn.mul",
// CHECK-NEXT: "range": [
// CHECK-NEXT:   0.81000000000000005,
// CHECK-NEXT:   0.81000000000000005
// CHECK-NEXT: ],
// CHECK-NEXT: "scale": 62,
// CHECK-NEXT: "error_bound": 2.1684043449710089e-19
// A ui8 field as a real: [0, 255], scale 54 (255 < 2^8), exact.
// CHECK:      "op": "netfn.cast",
// CHECK-NEXT: "range": [
// CHECK-NEXT:   0,
// CHECK-NEXT:   255
// CHECK-NEXT: ],
// CHECK-NEXT: "scale": 54,
// CHECK-NEXT: "error_bound": 0
// level * 0.001 in [0, 0.255] is computed at the operand's scale 54, where
// 0.001 rounds off by 2^-60: |e| <= 255 * 2^-60 + 2^-54 = 319 * 2^-60.
// CHECK:      "op": "netfn.mul",
// CHECK-NEXT: "range": [
// CHECK-NEXT:   0,
// CHECK-NEXT:   0.255
// CHECK-NEXT: ],
// CHECK-NEXT: "scale": 54,
// CHECK-NEXT: "error_bound": 2.7668839441830073e-16
// A counter is unbounded: Q31.32 and no error bound.
// CHECK:      "op": "netfn.add",
// CHECK-NEXT: "range": [
// CHECK-NEXT:   1,
// CHECK-NEXT:   "inf"
// CHECK-NEXT: ],
// CHECK-NEXT: "scale": 32,
// CHECK-NEXT: "error_bound": "unbounded"
// CHECK:      "entries": [
// CHECK:      "kind": "exact",
// CHECK-NEXT: "detail": "randomf fraction r * 2^-32 is the raw value r",
// CHECK-NEXT: "error": 0
// 0.9 at scale 62 is exact (at Q31.32 it was off by 0.4 * 2^-32).
// CHECK:      "kind": "constant",
// CHECK-NEXT: "detail": "0.90000000000000002 at scale 62 -> raw 4150517416584649216",
// CHECK-NEXT: "error": 0
// CHECK:      "kind": "constant",
// CHECK-NEXT: "detail": "0.001 at scale 54 -> raw 18014398509482",
// CHECK-NEXT: "error": 8.6736173798840355e-19
// CHECK:      "kind": "operation",
// CHECK-NEXT: "detail": "netfn.mul truncates at scale 62",
// CHECK-NEXT: "error_bound": 2.1684043449710089e-19
// CHECK:      "kind": "operation",
// CHECK-NEXT: "detail": "netfn.mul truncates at scale 54",
// CHECK-NEXT: "error_bound": 5.5511151231257827e-17
// CHECK: "max_constant_error": 8.6736173798840355e-19,
// CHECK: "max_error_per_operation": 5.5511151231257827e-17
netfn.program @report {
  netfn.event @request "rpc.request" (level : ui8)
  netfn.state @prob : f64
  netfn.state @count : f64
  netfn.init {
    %p = netfn.const 0.9 : f64
    netfn.state.write @prob, %p : f64
    netfn.return
  }
  netfn.handler @req on @request {
    %r = netfn.random : ui32
    %f = netfn.cast %r : ui32 to f64
    %s = netfn.const 2.3283064365386963E-10 : f64
    %u = netfn.mul %f, %s : f64
    %p = netfn.state.read @prob : f64
    %q = netfn.mul %p, %p : f64
    %c = netfn.cmp lt, %u, %q : f64
    %l = netfn.field.get "level" : ui8
    %lf = netfn.cast %l : ui8 to f64
    %k = netfn.const 1.0e-3 : f64
    %x = netfn.mul %lf, %k : f64
    %t = netfn.const 0.1 : f64
    %d = netfn.cmp lt, %x, %t : f64
    %n = netfn.state.read @count : f64
    %one = netfn.const 1.0 : f64
    %n1 = netfn.add %n, %one : f64
    netfn.state.write @count, %n1 : f64
    %both = netfn.and %c, %d : i1
    netfn.if %both {
      netfn.forward
    } else {
      netfn.reject "fault_injected"
    }
    netfn.forward
  }
}
