// netfn-float-to-fixed: exact forms for random fractions and nanoseconds,
// rounded constants, and every other f64 on Q31.32.
// RUN: sbpf-opt %s --netfn-float-to-fixed -split-input-file | FileCheck %s

// randomf(0, 1) < p compares the raw draw with p's raw value: no rounding
// on the draw, so the probability is p to within 2^-32.
// CHECK-LABEL: netfn.program @fault$threshold
netfn.program @fault$threshold {
  netfn.event @request "rpc.request" ()
  // CHECK: netfn.state @prob : !netfn.fixed<64, 32>
  netfn.state @prob : f64
  netfn.init {
    // 0.95 * 2^32 = 4080218931.2, rounded to the nearest raw value.
    // CHECK: %[[P:.*]] = netfn.const raw(4080218931) : !netfn.fixed<64, 32>
    // CHECK-NEXT: netfn.state.write @prob, %[[P]] : !netfn.fixed<64, 32>
    %p = netfn.const 0.95 : f64
    netfn.state.write @prob, %p : f64
    netfn.return
  }
  // CHECK: netfn.handler @req
  netfn.handler @req on @request {
    // CHECK-NEXT: %[[R:.*]] = netfn.random : ui32
    // CHECK-NEXT: %[[W:.*]] = netfn.cast %[[R]] : ui32 to ui64
    // CHECK-NEXT: %[[U:.*]] = netfn.bitcast %[[W]] : ui64 to !netfn.fixed<64, 32>
    // CHECK-NEXT: %[[PROB:.*]] = netfn.state.read @prob : !netfn.fixed<64, 32>
    // CHECK-NEXT: netfn.cmp lt, %[[U]], %[[PROB]] : !netfn.fixed<64, 32>
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
// intermediate overflows for any 64-bit count of seconds below 2^31.
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
// wire type and are converted where read and written.
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
