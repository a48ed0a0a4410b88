// netfn-simplify narrows the exact threshold test that
// netfn-float-to-fixed makes of `randomf(0, 1) < p` (the draw's Q31.32
// exact form rescaled to the probability's scale 62, where p is exact) to a
// 32-bit comparison of the draw, rounding the threshold the way that keeps
// it exact (ceil for < and >=, floor for <= and >), proven by the checker
// (netfn-validate). That the fixed form equals the f64 program on every
// draw is proven in unittests/checker/ThresholdTest.cpp.
// RUN: sbpf-opt %s --netfn-float-to-fixed --netfn-validate=pipeline=netfn-simplify -split-input-file | FileCheck %s --check-prefix=NARROW
// Every split proven (an unproven change is reverted with a warning):
// RUN: sbpf-opt %s --netfn-float-to-fixed --netfn-validate=pipeline=netfn-simplify -split-input-file 2>&1 >/dev/null | FileCheck %s --allow-empty --check-prefix=QUIET
// QUIET-NOT: {{.}}

// 0.9 * 2^32 = 3865470566.4: r < 3865470567 (at Q31.32 the threshold was
// 3865470566, and r = 3865470566 was rejected although r * 2^-32 < 0.9).
// NARROW-LABEL: netfn.program @p0_9
// NARROW: netfn.const 3865470567 : ui32
// NARROW-NEXT: netfn.cmp lt, %{{.*}}, %{{.*}} : ui32
netfn.program @p0_9 {
  netfn.event @request "rpc.request" ()
  netfn.handler @req on @request {
    %r = netfn.random : ui32
    %f = netfn.cast %r : ui32 to f64
    %s = netfn.const 2.3283064365386963E-10 : f64
    %u = netfn.mul %f, %s : f64
    %p = netfn.const 0.9 : f64
    %c = netfn.cmp lt, %u, %p : f64
    netfn.if %c {
      netfn.forward
    } else {
      netfn.reject "fault_injected"
    }
    netfn.forward
  }
}

// -----

// 0.95 * 2^32 = 4080218931.2 (<= : r <= floor = 4080218931).
// NARROW-LABEL: netfn.program @p0_95
// NARROW: netfn.const 4080218931 : ui32
// NARROW-NEXT: netfn.cmp le, %{{.*}}, %{{.*}} : ui32
netfn.program @p0_95 {
  netfn.event @request "rpc.request" ()
  netfn.handler @req on @request {
    %r = netfn.random : ui32
    %f = netfn.cast %r : ui32 to f64
    %s = netfn.const 2.3283064365386963E-10 : f64
    %u = netfn.mul %f, %s : f64
    %p = netfn.const 0.95 : f64
    %c = netfn.cmp le, %u, %p : f64
    netfn.if %c {
      netfn.forward
    } else {
      netfn.reject "fault_injected"
    }
    netfn.forward
  }
}

// -----

// p = 0.001 on the left: p < u is u > p; 0.001 * 2^32 = 4294967.296, so
// r > 4294967 (floor). And 1 - 2^-53 (the largest double below 1): u >= p
// only when r * 2^-32 >= 1 - 2^-53, which no draw reaches: false.
// NARROW-LABEL: netfn.program @small
// NARROW: netfn.const 4294967 : ui32
// NARROW-NEXT: netfn.cmp gt, %{{.*}}, %{{.*}} : ui32
// NARROW-NOT: "never"
netfn.program @small {
  netfn.event @request "rpc.request" ()
  netfn.handler @req on @request {
    %r = netfn.random : ui32
    %f = netfn.cast %r : ui32 to f64
    %s = netfn.const 2.3283064365386963E-10 : f64
    %u = netfn.mul %f, %s : f64
    %p = netfn.const 0.001 : f64
    %c = netfn.cmp lt, %p, %u : f64
    netfn.if %c {
      netfn.yield
    } else {
      netfn.reject "fault_injected"
    }
    %q = netfn.const 0.99999999999999989 : f64
    %d = netfn.cmp ge, %u, %q : f64
    netfn.if %d {
      netfn.reject "never"
    } else {
      netfn.forward
    }
    netfn.forward
  }
}
