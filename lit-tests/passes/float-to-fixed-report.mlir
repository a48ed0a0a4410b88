// netfn-float-to-fixed=report=FILE: the rounding-error accounting of the
// conversion, as JSON (constants with their exact error, exact forms,
// per-operation bounds, maxima).
// RUN: sbpf-opt %s --netfn-float-to-fixed=report=%t.json > /dev/null
// RUN: FileCheck %s < %t.json
// RUN: not sbpf-opt %s --netfn-float-to-fixed=report=%t.missing/dir/r.json 2>&1 | FileCheck %s --check-prefix=NOFILE
// NOFILE: error: netfn-float-to-fixed: cannot write report '{{.*}}r.json'

// CHECK: "format": "fixed<64, 32> (Q31.32) for every real value",
// CHECK: "unit": 2.3283064365386963e-10,
// The draw's fraction is exact.
// CHECK:      "loc": "{{.*}}float-to-fixed-report.mlir:38:10",
// CHECK-NEXT: "kind": "exact",
// CHECK-NEXT: "detail": "randomf fraction r * 2^-32 is the raw value r",
// CHECK-NEXT: "error": 0
// 0.9 rounds to 3865470566 * 2^-32, off by 0.4 * 2^-32.
// CHECK:      "loc": "{{.*}}float-to-fixed-report.mlir:30:10",
// CHECK-NEXT: "kind": "constant",
// CHECK-NEXT: "detail": "0.90000000000000002 -> raw 3865470566",
// CHECK-NEXT: "error": 9.31322{{[0-9]*}}e-11
// CHECK:      "kind": "operation",
// CHECK-NEXT: "detail": "netfn.mul truncates",
// CHECK-NEXT: "error_bound": 2.3283064365386963e-10
// CHECK: "max_constant_error": 9.31322{{[0-9]*}}e-11,
// CHECK: "max_error_per_operation": 2.3283064365386963e-10
netfn.program @report {
  netfn.event @request "rpc.request" ()
  netfn.state @prob : f64
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
    netfn.if %c {
      netfn.forward
    } else {
      netfn.reject "fault_injected"
    }
    netfn.forward
  }
}
