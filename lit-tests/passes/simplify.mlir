// netfn-simplify: constant folding, branches on constants, exact narrowing
// of randomf thresholds, dead reads; every application proven.
// RUN: sbpf-opt %s -split-input-file --netfn-validate=pipeline=netfn-simplify | FileCheck %s

// CHECK-LABEL: netfn.program @fold_branch
netfn.program @fold_branch {
  netfn.event @request "rpc.request" (kind : ui32)
  // CHECK: netfn.handler @req
  netfn.handler @req on @request {
    // 2 > 0 holds: the branch goes, the taken arm stays; `x and true` is x.
    // CHECK-NEXT: %[[C:.*]] = netfn.const 2 : ui32
    // CHECK-NEXT: %[[K:.*]] = netfn.field.get "kind" : ui32
    // CHECK-NEXT: %[[E:.*]] = netfn.cmp eq, %[[K]], %[[C]] : ui32
    // CHECK-NEXT: netfn.if %[[E]] {
    // CHECK-NEXT:   netfn.reject "bad_kind"
    // CHECK-NEXT: } else {
    // CHECK-NEXT:   netfn.forward
    // CHECK-NEXT: }
    // CHECK-NEXT: netfn.forward
    // CHECK-NEXT: }
    %two = netfn.const 2 : ui32
    %zero = netfn.const 0 : ui32
    %t = netfn.cmp gt, %two, %zero : ui32
    netfn.if %t {
      %k = netfn.field.get "kind" : ui32
      %e = netfn.cmp eq, %k, %two : ui32
      %b = netfn.and %e, %t : i1
      netfn.if %b {
        netfn.reject "bad_kind"
      } else {
        netfn.forward
      }
      netfn.yield
    } else {
      netfn.reject "unreachable"
    }
    netfn.forward
  }
}

// -----

// The exact form of randomf(0, 1) < p compares the 32-bit draw with a
// 32-bit threshold; thresholds outside [0, 2^32) decide the test.
// CHECK-LABEL: netfn.program @narrow_threshold
netfn.program @narrow_threshold {
  netfn.event @request "rpc.request" ()
  // CHECK: netfn.handler @req
  netfn.handler @req on @request {
    // CHECK-NEXT: %[[R:.*]] = netfn.random : ui32
    // CHECK-NEXT: %[[K:.*]] = netfn.const 3865470566 : ui32
    // CHECK-NEXT: %[[C:.*]] = netfn.cmp lt, %[[R]], %[[K]] : ui32
    // CHECK-NEXT: netfn.if %[[C]]
    %r = netfn.random : ui32
    %w = netfn.cast %r : ui32 to ui64
    %u = netfn.bitcast %w : ui64 to !netfn.fixed<64, 32>
    %p = netfn.const raw(3865470566) : !netfn.fixed<64, 32>
    %c = netfn.cmp lt, %u, %p : !netfn.fixed<64, 32>
    netfn.if %c {
      netfn.forward
    } else {
      netfn.reject "fault_injected"
    }
    netfn.forward
  }
  // A probability of 1.0 (raw 2^32): always below. The draw stays (draws
  // are observable).
  // CHECK: netfn.handler @always
  netfn.handler @always on @request {
    // CHECK-NEXT: netfn.random : ui32
    // CHECK-NEXT: netfn.forward
    // CHECK-NEXT: }
    %r = netfn.random : ui32
    %w = netfn.cast %r : ui32 to ui64
    %u = netfn.bitcast %w : ui64 to !netfn.fixed<64, 32>
    %p = netfn.const raw(4294967296) : !netfn.fixed<64, 32>
    %c = netfn.cmp lt, %u, %p : !netfn.fixed<64, 32>
    netfn.if %c {
      netfn.forward
    } else {
      netfn.reject "fault_injected"
    }
    netfn.forward
  }
}

// -----

// Negative: nothing is constant, nothing changes; the unused draw stays.
// CHECK-LABEL: netfn.program @nothing_to_fold
netfn.program @nothing_to_fold {
  netfn.event @request "rpc.request" (kind : ui32)
  // CHECK: netfn.handler @req
  netfn.handler @req on @request {
    // CHECK-NEXT: netfn.random
    // CHECK-NEXT: netfn.field.get "kind"
    // CHECK-NEXT: netfn.const 2
    // CHECK-NEXT: netfn.cmp eq
    // CHECK-NEXT: netfn.if
    %unused = netfn.random : ui32
    %k = netfn.field.get "kind" : ui32
    %two = netfn.const 2 : ui32
    %e = netfn.cmp eq, %k, %two : ui32
    netfn.if %e {
      netfn.reject "bad_kind"
    } else {
      netfn.forward
    }
    netfn.forward
  }
}

// -----

// A fixed-point product with a whole-number constant (20.0 = raw 20 << 32)
// is the integer product with 20: one multiply. The product with 1.5
// (raw 3 << 31: n = 1, m = 1, t = 1) is x + (x >>a 1), the shift written as
// a bitcast to fixed<64, 1> and a cast to si64. Proven by simplification
// (the checker encodes such products in the same steps; the validator sends
// no wide multiplication to Z3).
// CHECK-LABEL: netfn.program @whole_number_product
netfn.program @whole_number_product {
  netfn.event @request "rpc.request" (kind : ui32)
  netfn.state @x : !netfn.fixed<64, 32>
  // CHECK: netfn.handler @req
  netfn.handler @req on @request {
    // CHECK-NEXT: %[[X:.*]] = netfn.state.read @x
    // CHECK-NEXT: %[[XI:.*]] = netfn.bitcast %[[X]] : !netfn.fixed<64, 32> to si64
    // CHECK-NEXT: %[[K:.*]] = netfn.const 20 : si64
    // CHECK-NEXT: %[[P:.*]] = netfn.mul %[[XI]], %[[K]] : si64
    // CHECK-NEXT: %[[PF:.*]] = netfn.bitcast %[[P]] : si64 to !netfn.fixed<64, 32>
    // CHECK-NEXT: %[[PI:.*]] = netfn.bitcast %[[PF]] : !netfn.fixed<64, 32> to si64
    // CHECK-NEXT: %[[PH:.*]] = netfn.bitcast %[[PI]] : si64 to !netfn.fixed<64, 1>
    // CHECK-NEXT: %[[HALF:.*]] = netfn.cast %[[PH]] : !netfn.fixed<64, 1> to si64
    // CHECK-NEXT: %[[S:.*]] = netfn.add %[[PI]], %[[HALF]] : si64
    // CHECK-NEXT: %[[Q:.*]] = netfn.bitcast %[[S]] : si64 to !netfn.fixed<64, 32>
    // CHECK-NEXT: netfn.state.write @x, %[[Q]]
    %x = netfn.state.read @x : !netfn.fixed<64, 32>
    %twenty = netfn.const raw(85899345920) : !netfn.fixed<64, 32>
    %p = netfn.mul %twenty, %x : !netfn.fixed<64, 32>
    %half3 = netfn.const raw(6442450944) : !netfn.fixed<64, 32>
    %q = netfn.mul %half3, %p : !netfn.fixed<64, 32>
    netfn.state.write @x, %q : !netfn.fixed<64, 32>
    netfn.forward
  }
}

// -----

// Short fractions (FixedConstant.h): 2.75 (n = 2, m = 3, t = 2) is
// x * 2 + (x >>a 2) * 3 + (((x & 3) * 3) >>a 2), all in si64. A constant
// with 32 fraction bits (0.1 rounded down, t = 32) and any fraction at a
// width below 64 (1.5 in fixed<32, 16>, one 64-bit multiply in eBPF) keep
// the general product; a whole number at 32 bits is split.
// CHECK-LABEL: netfn.program @short_fraction_product
netfn.program @short_fraction_product {
  netfn.event @request "rpc.request" (kind : ui32)
  netfn.state @x : !netfn.fixed<64, 32>
  netfn.state @y : !netfn.fixed<32, 16>
  // CHECK: netfn.handler @req
  netfn.handler @req on @request {
    // CHECK-NEXT: %[[X:.*]] = netfn.state.read @x
    // CHECK-NEXT: %[[XI:.*]] = netfn.bitcast %[[X]] : !netfn.fixed<64, 32> to si64
    // CHECK-NEXT: %[[TWO:.*]] = netfn.const 2 : si64
    // CHECK-NEXT: %[[A:.*]] = netfn.mul %[[XI]], %[[TWO]] : si64
    // CHECK-NEXT: %[[XQ:.*]] = netfn.bitcast %[[XI]] : si64 to !netfn.fixed<64, 2>
    // CHECK-NEXT: %[[Q:.*]] = netfn.cast %[[XQ]] : !netfn.fixed<64, 2> to si64
    // CHECK-NEXT: %[[THREE:.*]] = netfn.const 3 : si64
    // CHECK-NEXT: %[[B:.*]] = netfn.mul %[[Q]], %[[THREE]] : si64
    // CHECK-NEXT: %[[AB:.*]] = netfn.add %[[A]], %[[B]] : si64
    // The mask 2^t - 1 is the constant m = 3 here (one op after CSE).
    // CHECK-NEXT: %[[R:.*]] = netfn.and %[[XI]], %[[THREE]] : si64
    // CHECK-NEXT: %[[RM:.*]] = netfn.mul %[[R]], %[[THREE]] : si64
    // CHECK-NEXT: %[[RMF:.*]] = netfn.bitcast %[[RM]] : si64 to !netfn.fixed<64, 2>
    // CHECK-NEXT: %[[C:.*]] = netfn.cast %[[RMF]] : !netfn.fixed<64, 2> to si64
    // CHECK-NEXT: %[[SUM:.*]] = netfn.add %[[AB]], %[[C]] : si64
    // CHECK-NEXT: %[[P:.*]] = netfn.bitcast %[[SUM]] : si64 to !netfn.fixed<64, 32>
    // CHECK-NEXT: %[[TENTH:.*]] = netfn.const raw(429496729)
    // CHECK-NEXT: %[[P2:.*]] = netfn.mul %[[P]], %[[TENTH]] : !netfn.fixed<64, 32>
    // CHECK-NEXT: netfn.state.write @x, %[[P2]]
    %x = netfn.state.read @x : !netfn.fixed<64, 32>
    %k = netfn.const raw(11811160064) : !netfn.fixed<64, 32>
    %p = netfn.mul %x, %k : !netfn.fixed<64, 32>
    %tenth = netfn.const raw(429496729) : !netfn.fixed<64, 32>
    %p2 = netfn.mul %p, %tenth : !netfn.fixed<64, 32>
    netfn.state.write @x, %p2 : !netfn.fixed<64, 32>
    // CHECK-NEXT: %[[Y:.*]] = netfn.state.read @y
    // CHECK-NEXT: %[[H:.*]] = netfn.const raw(98304) : !netfn.fixed<32, 16>
    // CHECK-NEXT: %[[YH:.*]] = netfn.mul %[[Y]], %[[H]] : !netfn.fixed<32, 16>
    // CHECK-NEXT: %[[YI:.*]] = netfn.bitcast %[[YH]] : !netfn.fixed<32, 16> to si32
    // CHECK-NEXT: %[[THREE3:.*]] = netfn.const 3 : si32
    // CHECK-NEXT: %[[Y3:.*]] = netfn.mul %[[YI]], %[[THREE3]] : si32
    // CHECK-NEXT: %[[Y3F:.*]] = netfn.bitcast %[[Y3]] : si32 to !netfn.fixed<32, 16>
    // CHECK-NEXT: netfn.state.write @y, %[[Y3F]]
    %y = netfn.state.read @y : !netfn.fixed<32, 16>
    %h = netfn.const raw(98304) : !netfn.fixed<32, 16>
    %yh = netfn.mul %y, %h : !netfn.fixed<32, 16>
    %three = netfn.const raw(196608) : !netfn.fixed<32, 16>
    %y3 = netfn.mul %yh, %three : !netfn.fixed<32, 16>
    netfn.state.write @y, %y3 : !netfn.fixed<32, 16>
    netfn.forward
  }
}

// -----

// Shared computations: the second read of `user` (inside the branch, which
// the first read dominates) and the second widening of it are the first
// ones; `body`, which the handler sets, is read twice still.
// CHECK-LABEL: netfn.program @shared_reads
netfn.program @shared_reads {
  netfn.event @request "rpc.request" (user : !netfn.string<32>, body : !netfn.string<64>)
  netfn.state @seen : !netfn.map<!netfn.string<64>, ui32, 16>
  // CHECK: netfn.handler @req
  netfn.handler @req on @request {
    // CHECK-NEXT: %[[U:.*]] = netfn.field.get "user"
    // CHECK-NEXT: %[[K:.*]] = netfn.cast %[[U]]
    // CHECK-NEXT: %[[B1:.*]] = netfn.field.get "body"
    // CHECK-NEXT: netfn.field.set "body", %[[B1]]
    // CHECK-NEXT: %[[G:.*]] = netfn.map.get @seen[%[[K]]]
    // CHECK-NEXT: netfn.match_option %[[G]]
    // CHECK-NEXT: netfn.yield
    // CHECK-NEXT: } none {
    // CHECK-NEXT: %[[ONE:.*]] = netfn.const 1 : ui32
    // CHECK-NEXT: netfn.map.set @seen[%[[K]]], %[[ONE]]
    // CHECK-NEXT: %[[B2:.*]] = netfn.field.get "body"
    // CHECK-NEXT: netfn.field.set "body", %[[B2]]
    %u = netfn.field.get "user" : !netfn.string<32>
    %k = netfn.cast %u : !netfn.string<32> to !netfn.string<64>
    %b1 = netfn.field.get "body" : !netfn.string<64>
    netfn.field.set "body", %b1 : !netfn.string<64>
    %g = netfn.map.get @seen[%k] : !netfn.string<64> -> !netfn.option<ui32>
    netfn.match_option %g : !netfn.option<ui32> some(%v) {
      netfn.yield
    } none {
      %u2 = netfn.field.get "user" : !netfn.string<32>
      %k2 = netfn.cast %u2 : !netfn.string<32> to !netfn.string<64>
      %one = netfn.const 1 : ui32
      netfn.map.set @seen[%k2], %one : !netfn.string<64>, ui32
      %b2 = netfn.field.get "body" : !netfn.string<64>
      netfn.field.set "body", %b2 : !netfn.string<64>
      netfn.yield
    }
    netfn.forward
  }
}

// -----

// The draw rescaled to scale 62 (netfn-float-to-fixed's form when p is a
// probability exact at 62): r * 2^30 against k is r against k / 2^30, with
// the rounding that keeps each predicate exact (ceil for eq's divisibility:
// never equal when 2^30 does not divide k). A constant rescaled between
// fixed types folds to a constant (here 50 at scale 56 to 32).
// CHECK-LABEL: netfn.program @narrow_rescaled
netfn.program @narrow_rescaled {
  netfn.event @request "rpc.request" ()
  netfn.state @out : !netfn.fixed<64, 32>
  // CHECK: netfn.handler @req
  netfn.handler @req on @request {
    // 0.9 at scale 62 is 4150517416584649216 = 3865470566.4 * 2^30.
    // CHECK-NEXT: %[[R:.*]] = netfn.random : ui32
    // CHECK-NEXT: %[[K:.*]] = netfn.const 3865470567 : ui32
    // CHECK-NEXT: %[[LT:.*]] = netfn.cmp lt, %[[R]], %[[K]] : ui32
    // CHECK-NEXT: %[[K2:.*]] = netfn.const 3865470566 : ui32
    // CHECK-NEXT: %[[GT:.*]] = netfn.cmp gt, %[[R]], %[[K2]] : ui32
    // CHECK-NEXT: %[[AND:.*]] = netfn.and %[[LT]], %[[GT]] : i1
    %r = netfn.random : ui32
    %w = netfn.cast %r : ui32 to ui64
    %u = netfn.bitcast %w : ui64 to !netfn.fixed<64, 32>
    %u62 = netfn.cast %u : !netfn.fixed<64, 32> to !netfn.fixed<64, 62>
    %p = netfn.const raw(4150517416584649216) : !netfn.fixed<64, 62>
    %lt = netfn.cmp lt, %u62, %p : !netfn.fixed<64, 62>
    %gt = netfn.cmp gt, %u62, %p : !netfn.fixed<64, 62>
    %eq = netfn.cmp eq, %u62, %p : !netfn.fixed<64, 62>
    %both = netfn.and %lt, %gt : i1
    %c = netfn.or %both, %eq : i1
    // CHECK-NEXT: %[[CAP:.*]] = netfn.const raw(214748364800) : !netfn.fixed<64, 32>
    // CHECK-NEXT: netfn.state.write @out, %[[CAP]]
    // CHECK-NEXT: netfn.if %[[AND]]
    %k = netfn.const raw(3602879701896396800) : !netfn.fixed<64, 56>
    %k32 = netfn.cast %k : !netfn.fixed<64, 56> to !netfn.fixed<64, 32>
    netfn.state.write @out, %k32 : !netfn.fixed<64, 32>
    netfn.if %c {
      netfn.forward
    } else {
      netfn.reject "fault_injected"
    }
    netfn.forward
  }
}
