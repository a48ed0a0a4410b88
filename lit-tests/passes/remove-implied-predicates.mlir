// netfn-remove-implied-predicates: conjuncts that the path to them implies
// (or refutes) are decided by Z3 and folded away; the others stay.
// RUN: sbpf-opt %s -split-input-file --netfn-validate=pipeline=netfn-remove-implied-predicates | FileCheck %s

// priority > threshold (threshold = 2, which no handler writes) implies
// priority > 0.
// CHECK-LABEL: netfn.program @implied
netfn.program @implied {
  netfn.event @request "rpc.request" (priority : ui32, kind : ui32)
  netfn.state @threshold : ui32
  netfn.init {
    %0 = netfn.const 2 : ui32
    netfn.state.write @threshold, %0 : ui32
    netfn.return
  }
  // CHECK: netfn.handler @req
  netfn.handler @req on @request {
    // CHECK-NEXT: %[[P:.*]] = netfn.field.get "priority" : ui32
    // CHECK-NEXT: %[[T:.*]] = netfn.state.read @threshold : ui32
    // CHECK-NEXT: %[[B:.*]] = netfn.cmp gt, %[[P]], %[[T]] : ui32
    // CHECK-NEXT: %[[K:.*]] = netfn.field.get "kind" : ui32
    // CHECK-NEXT: %[[TWO:.*]] = netfn.const 2 : ui32
    // CHECK-NEXT: %[[C:.*]] = netfn.cmp eq, %[[K]], %[[TWO]] : ui32
    // CHECK-NEXT: %[[BC:.*]] = netfn.and %[[B]], %[[C]] : i1
    // CHECK-NEXT: netfn.if %[[BC]] {
    %p = netfn.field.get "priority" : ui32
    %z = netfn.const 0 : ui32
    %a = netfn.cmp gt, %p, %z : ui32
    %t = netfn.state.read @threshold : ui32
    %b = netfn.cmp gt, %p, %t : ui32
    %k = netfn.field.get "kind" : ui32
    %two = netfn.const 2 : ui32
    %c = netfn.cmp eq, %k, %two : ui32
    %bc = netfn.and %b, %c : i1
    %abc = netfn.and %a, %bc : i1
    netfn.if %abc {
      netfn.reject "low_priority_dropped"
    } else {
      netfn.forward
    }
    netfn.forward
  }
}

// -----

// Inside `if priority < 3`, `priority > 5` never holds: the inner branch is
// decided (refuted) and folded.
// CHECK-LABEL: netfn.program @refuted
netfn.program @refuted {
  netfn.event @request "rpc.request" (priority : ui32)
  // CHECK: netfn.handler @req
  // CHECK: netfn.if
  // CHECK-NOT: netfn.if
  // CHECK-NOT: "never"
  // CHECK: }
  netfn.handler @req on @request {
    %p = netfn.field.get "priority" : ui32
    %three = netfn.const 3 : ui32
    %lo = netfn.cmp lt, %p, %three : ui32
    netfn.if %lo {
      %five = netfn.const 5 : ui32
      %hi = netfn.cmp gt, %p, %five : ui32
      netfn.if %hi {
        netfn.reject "never"
      } else {
        netfn.forward
      }
      netfn.yield
    } else {
      netfn.reject "high"
    }
    netfn.forward
  }
}

// -----

// Negative: independent conjuncts (priority < threshold does not imply
// priority > 0), and a threshold a handler writes (so it is not known).
// CHECK-LABEL: netfn.program @independent
netfn.program @independent {
  netfn.event @request "rpc.request" (priority : ui32, kind : ui32)
  netfn.state @threshold : ui32
  netfn.init {
    %0 = netfn.const 2 : ui32
    netfn.state.write @threshold, %0 : ui32
    netfn.return
  }
  // CHECK: netfn.handler @req
  // CHECK: netfn.cmp gt
  // CHECK: netfn.cmp lt
  // CHECK: netfn.cmp eq
  // CHECK: netfn.and
  // CHECK: netfn.and
  netfn.handler @req on @request {
    %p = netfn.field.get "priority" : ui32
    %z = netfn.const 0 : ui32
    %a = netfn.cmp gt, %p, %z : ui32
    %t = netfn.state.read @threshold : ui32
    %b = netfn.cmp lt, %p, %t : ui32
    %k = netfn.field.get "kind" : ui32
    %two = netfn.const 2 : ui32
    %c = netfn.cmp eq, %k, %two : ui32
    %bc = netfn.and %b, %c : i1
    %abc = netfn.and %a, %bc : i1
    netfn.if %abc {
      netfn.reject "low_priority_dropped"
    } else {
      netfn.forward
    }
    netfn.forward
  }
  netfn.handler @tune on @request {
    %p = netfn.field.get "priority" : ui32
    netfn.state.write @threshold, %p : ui32
    netfn.forward
  }
}
