// netfn-merge-conditions: nested tests with identical else arms become one
// test of the conjunction; every application proven.
// RUN: sbpf-opt %s -split-input-file --netfn-validate=pipeline=netfn-merge-conditions | FileCheck %s

// CHECK-LABEL: netfn.program @nested
netfn.program @nested {
  netfn.event @request "rpc.request" (priority : ui32, kind : ui32)
  // CHECK: netfn.handler @req
  netfn.handler @req on @request {
    // CHECK-NEXT: %[[P:.*]] = netfn.field.get "priority" : ui32
    // CHECK-NEXT: %[[Z:.*]] = netfn.const 0 : ui32
    // CHECK-NEXT: %[[A:.*]] = netfn.cmp gt, %[[P]], %[[Z]] : ui32
    // CHECK-NEXT: %[[K:.*]] = netfn.field.get "kind" : ui32
    // CHECK-NEXT: %[[T:.*]] = netfn.const 2 : ui32
    // CHECK-NEXT: %[[B:.*]] = netfn.cmp eq, %[[K]], %[[T]] : ui32
    // CHECK-NEXT: %[[AB:.*]] = netfn.and %[[A]], %[[B]] : i1
    // CHECK-NEXT: netfn.if %[[AB]] {
    // CHECK-NEXT:   netfn.reject "dropped"
    // CHECK-NEXT: } else {
    // CHECK-NEXT:   netfn.forward
    // CHECK-NEXT: }
    %p = netfn.field.get "priority" : ui32
    %z = netfn.const 0 : ui32
    %a = netfn.cmp gt, %p, %z : ui32
    netfn.if %a {
      %k = netfn.field.get "kind" : ui32
      %t = netfn.const 2 : ui32
      %b = netfn.cmp eq, %k, %t : ui32
      netfn.if %b {
        netfn.reject "dropped"
      } else {
        netfn.forward
      }
      netfn.yield
    } else {
      netfn.forward
    }
    netfn.forward
  }
}

// -----

// Negative: the else arms differ.
// CHECK-LABEL: netfn.program @different_else
netfn.program @different_else {
  netfn.event @request "rpc.request" (priority : ui32, kind : ui32)
  // CHECK: netfn.handler @req
  // CHECK: netfn.if
  // CHECK: netfn.if
  netfn.handler @req on @request {
    %p = netfn.field.get "priority" : ui32
    %z = netfn.const 0 : ui32
    %a = netfn.cmp gt, %p, %z : ui32
    netfn.if %a {
      %k = netfn.field.get "kind" : ui32
      %t = netfn.const 2 : ui32
      %b = netfn.cmp eq, %k, %t : ui32
      netfn.if %b {
        netfn.reject "dropped"
      } else {
        netfn.forward
      }
      netfn.yield
    } else {
      netfn.reject "no_priority"
    }
    netfn.forward
  }
}

// -----

// Negative: the inner condition draws a random number, which must not move
// out of the branch (the number of draws is observable).
// CHECK-LABEL: netfn.program @random_inner
netfn.program @random_inner {
  netfn.event @request "rpc.request" (priority : ui32)
  // CHECK: netfn.handler @req
  // CHECK: netfn.if
  // CHECK-NEXT: netfn.random
  // CHECK: netfn.if
  netfn.handler @req on @request {
    %p = netfn.field.get "priority" : ui32
    %z = netfn.const 0 : ui32
    %a = netfn.cmp gt, %p, %z : ui32
    netfn.if %a {
      %r = netfn.random : ui32
      %h = netfn.const 100 : ui32
      %b = netfn.cmp lt, %r, %h : ui32
      netfn.if %b {
        netfn.reject "dropped"
      } else {
        netfn.forward
      }
      netfn.yield
    } else {
      netfn.forward
    }
    netfn.forward
  }
}

// -----

// Negative: the then-region writes state before the inner test.
// CHECK-LABEL: netfn.program @write_before
netfn.program @write_before {
  netfn.event @request "rpc.request" (priority : ui32)
  netfn.state @seen : ui32
  // CHECK: netfn.handler @req
  // CHECK: netfn.if
  // CHECK-NEXT: netfn.state.write
  // CHECK: netfn.if
  netfn.handler @req on @request {
    %p = netfn.field.get "priority" : ui32
    %z = netfn.const 0 : ui32
    %a = netfn.cmp gt, %p, %z : ui32
    netfn.if %a {
      netfn.state.write @seen, %p : ui32
      %h = netfn.const 100 : ui32
      %b = netfn.cmp lt, %p, %h : ui32
      netfn.if %b {
        netfn.reject "dropped"
      } else {
        netfn.forward
      }
      netfn.yield
    } else {
      netfn.forward
    }
    netfn.forward
  }
}
