// netfn-float-to-fixed: exact forms for random fractions and nanoseconds,
// constants rounded at the scale of their use, and every other f64 on
// fixed<64, F> with F chosen from its range (Q31.32 when unbounded).
// RUN: sbpf-opt %s --netfn-float-to-fixed -split-input-file | FileCheck %s
// With max-scale=32 every real is Q31.32 (the form before scales were
// chosen per range): the threshold then rounds.
// RUN: sbpf-opt %s --netfn-float-to-fixed=max-scale=32 -split-input-file | FileCheck %s --check-prefix=Q32

// randomf(0, 1) < p compares the raw draw with p's raw value. p = 0.95 is
// in [0, 1], so @prob gets the largest scale, 62, where the f64 0.95
// (m * 2^-53) is exact; the draw (Q31.32, exact) is rescaled to 62 exactly
// (a shift by 30), so the comparison is the f64 program's on every draw.
// CHECK-LABEL: netfn.program @fault$threshold
// Q32-LABEL: netfn.program @fault$threshold
netfn.program @fault$threshold {
  netfn.event @request "rpc.request" ()
  // CHECK: netfn.state @prob : !netfn.fixed<64, 62>
  // Q32: netfn.state @prob : !netfn.fixed<64, 32>
  netfn.state @prob : f64
  netfn.init {
    // 0.95 * 2^62 exactly.
    // CHECK: %[[P:.*]] = netfn.const raw(4381101717506018304) : !netfn.fixed<64, 62>
    // CHECK-NEXT: netfn.state.write @prob, %[[P]] : !netfn.fixed<64, 62>
    // 0.95 * 2^32 = 4080218931.2, rounded to the nearest raw value.
    // Q32: netfn.const raw(4080218931) : !netfn.fixed<64, 32>
    %p = netfn.const 0.95 : f64
    netfn.state.write @prob, %p : f64
    netfn.return
  }
  // CHECK: netfn.handler @req
  // Q32: netfn.handler @req
  netfn.handler @req on @request {
    // CHECK-NEXT: %[[R:.*]] = netfn.random : ui32
    // CHECK-NEXT: %[[W:.*]] = netfn.cast %[[R]] : ui32 to ui64
    // CHECK-NEXT: %[[U:.*]] = netfn.bitcast %[[W]] : ui64 to !netfn.fixed<64, 32>
    // CHECK-NEXT: %[[U62:.*]] = netfn.cast %[[U]] : !netfn.fixed<64, 32> to !netfn.fixed<64, 62>
    // CHECK-NEXT: %[[PROB:.*]] = netfn.state.read @prob : !netfn.fixed<64, 62>
    // CHECK-NEXT: netfn.cmp lt, %[[U62]], %[[PROB]] : !netfn.fixed<64, 62>
    // Q32: %[[U:.*]] = netfn.bitcast %{{.*}} : ui64 to !netfn.fixed<64, 32>
    // Q32-NEXT: %[[PROB:.*]] = netfn.state.read @prob : !netfn.fixed<64, 32>
    // Q32-NEXT: netfn.cmp lt, %[[U]], %[[PROB]] : !netfn.fixed<64, 32>
    %r = netfn.random : ui32
    %f = netfn.cast %r : ui32 to f64
    %s = netfn.const 2.3283064365386963E-10 : f64
    %u = netfn.mul %f, %s : f64
    %p = netfn.state.read @prob : f64
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

// Nanoseconds to seconds in integers: whole seconds and the remainder, so no
// intermediate overflows for any 64-bit count of seconds below 2^31. The
// seconds of a 64-bit count of nanoseconds span +-9.2e9, beyond 2^30: Q31.32.
// CHECK-LABEL: netfn.program @time$seconds
netfn.program @time$seconds {
  netfn.event @request "rpc.request" ()
  netfn.state @last : !netfn.instant
  // CHECK: netfn.state @elapsed : !netfn.fixed<64, 32>
  netfn.state @elapsed : f64
  netfn.handler @req on @request {
    %now = netfn.now : !netfn.instant
    %a = netfn.cast %now : !netfn.instant to ui64
    %l = netfn.state.read @last : !netfn.instant
    %b = netfn.cast %l : !netfn.instant to ui64
    %d = netfn.sub %a, %b : ui64
    %sd = netfn.cast %d : ui64 to si64
    // CHECK: %[[NS:.*]] = netfn.cast %{{.*}} : ui64 to si64
    // CHECK: %[[G:.*]] = netfn.const 1000000000 : si64
    // CHECK: %[[SCALE:.*]] = netfn.const 4294967296 : si64
    // CHECK: %[[SECS:.*]] = netfn.div %[[NS]], %[[G]] : si64
    // CHECK: %[[REM:.*]] = netfn.rem %[[NS]], %[[G]] : si64
    // CHECK: %[[WHOLE:.*]] = netfn.mul %[[SECS]], %[[SCALE]] : si64
    // CHECK: %[[R2:.*]] = netfn.mul %[[REM]], %[[SCALE]] : si64
    // CHECK: %[[FRAC:.*]] = netfn.div %[[R2]], %[[G]] : si64
    // CHECK: %[[RAW:.*]] = netfn.add %[[WHOLE]], %[[FRAC]] : si64
    // CHECK: %[[T:.*]] = netfn.bitcast %[[RAW]] : si64 to !netfn.fixed<64, 32>
    // CHECK: netfn.state.write @elapsed, %[[T]] : !netfn.fixed<64, 32>
    %f = netfn.cast %sd : si64 to f64
    %g = netfn.const 1.0e9 : f64
    %secs = netfn.div %f, %g : f64
    netfn.state.write @elapsed, %secs : f64
    netfn.forward
  }
}

// -----

// Everything else keeps its op on the fixed-point type: maps, logs, pairs,
// structured results and block arguments included; event fields keep their
// wire type and are converted where read and written. Fields are unbounded
// and pairs, maps and logs not range-tracked: all Q31.32 here.
// CHECK-LABEL: netfn.program @types$follow
netfn.program @types$follow {
  // CHECK: netfn.event @request "rpc.request" (score : f64)
  netfn.event @request "rpc.request" (score : f64)
  // CHECK: netfn.state @m : !netfn.map<ui32, !netfn.pair<!netfn.fixed<64, 32>, ui32>, 16>
  netfn.state @m : !netfn.map<ui32, !netfn.pair<f64, ui32>, 16>
  // CHECK: netfn.state @l : !netfn.log<!netfn.fixed<64, 32>>
  netfn.state @l : !netfn.log<f64>
  netfn.handler @req on @request {
    // CHECK: %[[S:.*]] = netfn.field.get "score" : f64
    // CHECK-NEXT: %[[SF:.*]] = netfn.cast %[[S]] : f64 to !netfn.fixed<64, 32>
    %s = netfn.field.get "score" : f64
    %k = netfn.const 1 : ui32
    %o = netfn.map.get @m[%k] : ui32 -> !netfn.option<!netfn.pair<f64, ui32>>
    // CHECK: netfn.match_option %{{.*}} : !netfn.option<!netfn.pair<!netfn.fixed<64, 32>, ui32>> -> (!netfn.fixed<64, 32>)
    %v = netfn.match_option %o : !netfn.option<!netfn.pair<f64, ui32>> -> (f64) some(%p) {
      %x = netfn.first %p : !netfn.pair<f64, ui32>
      netfn.yield %x : f64
    } none {
      netfn.yield %s : f64
    }
    // CHECK: %[[SUM:.*]] = netfn.add %{{.*}}, %[[SF]] : !netfn.fixed<64, 32>
    %sum = netfn.add %v, %s : f64
    netfn.log.append @l(%sum) : f64
    // CHECK: %[[BACK:.*]] = netfn.cast %[[SUM]] : !netfn.fixed<64, 32> to f64
    // CHECK-NEXT: netfn.field.set "score", %[[BACK]] : f64
    netfn.field.set "score", %sum : f64
    netfn.forward
  }
}

// -----

// Scales from ranges. @avg = avg / 2 + u / 2 of draws u stays in [0, 1]
// (the bound widened to the next power of two, 1, is stable): scale 62.
// @total counts (unbounded: Q31.32). @cap is 50 (in (32, 64]: scale 56).
// Mixed scales: the op computes at the smallest of its operands' and
// result's, so @avg goes to 32 to be added to the counter, @cap to 32 for
// a product whose range is unbounded; a comparison of two bounded values
// at the smaller of their scales. The constant 0.5 is made at each scale
// that uses it.
// CHECK-LABEL: netfn.program @scales$mixed
netfn.program @scales$mixed {
  netfn.event @request "rpc.request" ()
  // CHECK: netfn.state @avg : !netfn.fixed<64, 62>
  // CHECK: netfn.state @total : !netfn.fixed<64, 32>
  // CHECK: netfn.state @cap : !netfn.fixed<64, 56>
  netfn.state @avg : f64
  netfn.state @total : f64
  netfn.state @cap : f64
  netfn.init {
    // CHECK: netfn.const raw(3602879701896396800) : !netfn.fixed<64, 56>
    %c = netfn.const 50.0 : f64
    netfn.state.write @cap, %c : f64
    netfn.return
  }
  // CHECK: netfn.handler @req
  netfn.handler @req on @request {
    // The casts are made once, next to the value's definition; the
    // constant 0.5 once per scale, where it was.
    // CHECK: %[[U:.*]] = netfn.bitcast %{{.*}} : ui64 to !netfn.fixed<64, 32>
    // CHECK-NEXT: %[[U62:.*]] = netfn.cast %[[U]] : !netfn.fixed<64, 32> to !netfn.fixed<64, 62>
    // CHECK-NEXT: %[[HALF:.*]] = netfn.const raw(2305843009213693952) : !netfn.fixed<64, 62>
    // CHECK-NEXT: %[[HALF32:.*]] = netfn.const raw(2147483648) : !netfn.fixed<64, 32>
    // CHECK-NEXT: %[[A:.*]] = netfn.state.read @avg : !netfn.fixed<64, 62>
    // CHECK-NEXT: %[[A32:.*]] = netfn.cast %[[A]] : !netfn.fixed<64, 62> to !netfn.fixed<64, 32>
    // CHECK-NEXT: %[[A2:.*]] = netfn.mul %[[A]], %[[HALF]] : !netfn.fixed<64, 62>
    // CHECK-NEXT: %[[UH:.*]] = netfn.mul %[[U62]], %[[HALF]] : !netfn.fixed<64, 62>
    // CHECK-NEXT: %[[N:.*]] = netfn.add %[[A2]], %[[UH]] : !netfn.fixed<64, 62>
    // CHECK-NEXT: %[[N56:.*]] = netfn.cast %[[N]] : !netfn.fixed<64, 62> to !netfn.fixed<64, 56>
    // CHECK-NEXT: netfn.state.write @avg, %[[N]] : !netfn.fixed<64, 62>
    %r = netfn.random : ui32
    %f = netfn.cast %r : ui32 to f64
    %s = netfn.const 2.3283064365386963E-10 : f64
    %u = netfn.mul %f, %s : f64
    %h = netfn.const 0.5 : f64
    %a = netfn.state.read @avg : f64
    %a2 = netfn.mul %a, %h : f64
    %u2 = netfn.mul %u, %h : f64
    %n = netfn.add %a2, %u2 : f64
    netfn.state.write @avg, %n : f64
    // CHECK-NEXT: %[[T:.*]] = netfn.state.read @total : !netfn.fixed<64, 32>
    // CHECK-NEXT: %[[T1:.*]] = netfn.add %[[T]], %[[HALF32]] : !netfn.fixed<64, 32>
    // CHECK-NEXT: netfn.state.write @total, %[[T1]] : !netfn.fixed<64, 32>
    // CHECK-NEXT: %[[MIX:.*]] = netfn.add %[[T1]], %[[A32]] : !netfn.fixed<64, 32>
    %t = netfn.state.read @total : f64
    %t1 = netfn.add %t, %h : f64
    netfn.state.write @total, %t1 : f64
    %mix = netfn.add %t1, %a : f64
    // CHECK-NEXT: %[[CAP:.*]] = netfn.state.read @cap : !netfn.fixed<64, 56>
    // CHECK-NEXT: %[[CAP32:.*]] = netfn.cast %[[CAP]] : !netfn.fixed<64, 56> to !netfn.fixed<64, 32>
    // CHECK-NEXT: %[[PROD:.*]] = netfn.mul %[[CAP32]], %[[MIX]] : !netfn.fixed<64, 32>
    // CHECK-NEXT: netfn.cmp lt, %[[N56]], %[[CAP]] : !netfn.fixed<64, 56>
    // CHECK-NEXT: netfn.cmp gt, %[[PROD]], %[[MIX]] : !netfn.fixed<64, 32>
    %cap = netfn.state.read @cap : f64
    %prod = netfn.mul %cap, %mix : f64
    %below = netfn.cmp lt, %n, %cap : f64
    %big = netfn.cmp gt, %prod, %mix : f64
    %c = netfn.and %below, %big : i1
    netfn.if %c {
      netfn.forward
    } else {
      netfn.reject "over"
    }
    netfn.forward
  }
}

// -----

// A `configurable` state is set at deployment (an AppNet init parameter):
// whatever init writes, its range is unbounded, so Q31.32.
// CHECK-LABEL: netfn.program @scales$configurable
netfn.program @scales$configurable {
  netfn.event @request "rpc.request" ()
  // CHECK: netfn.state @p : !netfn.fixed<64, 32> {configurable}
  // CHECK: netfn.state @q : !netfn.fixed<64, 62>
  netfn.state @p : f64 {configurable}
  netfn.state @q : f64
  netfn.init {
    %c = netfn.const 0.5 : f64
    netfn.state.write @p, %c : f64
    netfn.state.write @q, %c : f64
    netfn.return
  }
  netfn.handler @req on @request {
    netfn.forward
  }
}
