// netfn-order-predicates: conjunctions ordered by a profile, the likeliest to
// fail first; draws never move. Every application proven.
// RUN: sbpf-opt %s -split-input-file --netfn-validate="pipeline=netfn-order-predicates{profile=%S/Inputs/order-profile.json}" | FileCheck %s
// RUN: not sbpf-opt %s -split-input-file --netfn-order-predicates=profile=%t.missing 2>&1 | FileCheck %s --check-prefix=MISSING
// MISSING: error: netfn-order-predicates: profile: cannot read '{{.*}}.missing'

// kind == 2 held 5% of the time, priority > 2 60%: the kind test first.
// CHECK-LABEL: netfn.program @by_profile
netfn.program @by_profile {
  netfn.event @request "rpc.request" (priority : ui32, kind : ui32)
  // CHECK: netfn.handler @req
  netfn.handler @req on @request {
    // CHECK-NEXT: %[[K:.*]] = netfn.field.get "kind" : ui32
    // CHECK-NEXT: %[[TWO:.*]] = netfn.const 2 : ui32
    // CHECK-NEXT: %[[B:.*]] = netfn.cmp eq, %[[K]], %[[TWO]] : ui32
    // CHECK-NEXT: %[[P:.*]] = netfn.field.get "priority" : ui32
    // CHECK-NEXT: %[[A:.*]] = netfn.cmp gt, %[[P]], %[[TWO]] : ui32
    // CHECK-NEXT: %[[BA:.*]] = netfn.and %[[B]], %[[A]] : i1
    // CHECK-NEXT: netfn.if %[[BA]]
    %two = netfn.const 2 : ui32
    %p = netfn.field.get "priority" : ui32
    %a = netfn.cmp gt, %p, %two : ui32 loc("prio.appnet":10:20)
    %k = netfn.field.get "kind" : ui32
    %b = netfn.cmp eq, %k, %two : ui32 loc("prio.appnet":10:50)
    %ab = netfn.and %a, %b : i1
    netfn.if %ab {
      netfn.reject "low_priority_dropped"
    } else {
      netfn.forward
    }
    netfn.forward
  }
}

// -----

// Negative: a conjunct computed from a random draw keeps its place (the
// order of draws is observable), so the chain is left alone.
// CHECK-LABEL: netfn.program @draw
netfn.program @draw {
  netfn.event @request "rpc.request" (priority : ui32)
  // CHECK: netfn.handler @req
  // CHECK-NEXT: netfn.field.get "priority"
  // CHECK-NEXT: netfn.const 2
  // CHECK-NEXT: netfn.cmp gt
  // CHECK-NEXT: netfn.random
  netfn.handler @req on @request {
    %p = netfn.field.get "priority" : ui32
    %two = netfn.const 2 : ui32
    %a = netfn.cmp gt, %p, %two : ui32 loc("prio.appnet":10:20)
    %r = netfn.random : ui32
    %h = netfn.const 100 : ui32
    %b = netfn.cmp lt, %r, %h : ui32 loc("draw.appnet":3:8)
    %ab = netfn.and %a, %b : i1
    netfn.if %ab {
      netfn.reject "sampled"
    } else {
      netfn.forward
    }
    netfn.forward
  }
}
