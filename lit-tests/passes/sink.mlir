// netfn-sink: ops that write nothing move next to their uses (into the one
// region that uses them, past a test that may end the handler); reads never
// move past a write, draws and clock readings never move, nothing moves
// into a loop body. Every application proven.
// RUN: sbpf-opt %s -split-input-file --netfn-validate=pipeline=netfn-sink | FileCheck %s
// Run twice, nothing more moves (a fixed point).
// RUN: sbpf-opt %s -split-input-file --netfn-sink | sbpf-opt -split-input-file --netfn-sink | FileCheck %s

// The increment of @n is needed only after the test that may reject: its
// read, constant and add move past the test (early exit: the rejecting path
// computes none of them).
// CHECK-LABEL: netfn.program @past_the_test
netfn.program @past_the_test {
  netfn.event @request "rpc.request" (kind : ui32)
  netfn.state @n : ui64
  // CHECK: netfn.handler @req
  netfn.handler @req on @request {
    // CHECK-NEXT: %[[K:.*]] = netfn.field.get "kind" : ui32
    // CHECK-NEXT: %[[Z:.*]] = netfn.const 0 : ui32
    // CHECK-NEXT: %[[BAD:.*]] = netfn.cmp eq, %[[K]], %[[Z]] : ui32
    // CHECK-NEXT: netfn.if %[[BAD]] {
    // CHECK-NEXT:   netfn.reject "bad"
    // CHECK-NEXT: } else {
    // CHECK-NEXT:   netfn.yield
    // CHECK-NEXT: }
    // CHECK-NEXT: %[[ONE:.*]] = netfn.const 1 : ui64
    // CHECK-NEXT: %[[N:.*]] = netfn.state.read @n : ui64
    // CHECK-NEXT: %[[M:.*]] = netfn.add %[[N]], %[[ONE]] : ui64
    // CHECK-NEXT: netfn.state.write @n, %[[M]] : ui64
    // CHECK-NEXT: netfn.forward
    %n = netfn.state.read @n : ui64
    %one = netfn.const 1 : ui64
    %m = netfn.add %n, %one : ui64
    %k = netfn.field.get "kind" : ui32
    %z = netfn.const 0 : ui32
    %bad = netfn.cmp eq, %k, %z : ui32
    netfn.if %bad {
      netfn.reject "bad"
    } else {
      netfn.yield
    }
    netfn.state.write @n, %m : ui64
    netfn.forward
  }
}

// -----

// Used in one arm only: the computation moves into that arm (to just
// before its use there). Used in both arms, or as the condition: it stays
// before the test.
// CHECK-LABEL: netfn.program @into_the_arm
netfn.program @into_the_arm {
  netfn.event @request "rpc.request" (kind : ui32, priority : ui32)
  netfn.state @n : ui32
  // CHECK: netfn.handler @req
  netfn.handler @req on @request {
    // CHECK-NEXT: %[[K:.*]] = netfn.field.get "kind" : ui32
    // CHECK-NEXT: %[[Z:.*]] = netfn.const 0 : ui32
    // CHECK-NEXT: %[[C:.*]] = netfn.cmp eq, %[[K]], %[[Z]] : ui32
    // The field read stays before the state write in the arm (reads move
    // past no write of any kind); the pure ops move past it.
    // CHECK-NEXT: netfn.if %[[C]] {
    // CHECK-NEXT:   %[[P:.*]] = netfn.field.get "priority" : ui32
    // CHECK-NEXT:   netfn.state.write @n, %[[K]] : ui32
    // CHECK-NEXT:   %[[TWO:.*]] = netfn.const 2 : ui32
    // CHECK-NEXT:   %[[Q:.*]] = netfn.mul %[[P]], %[[TWO]] : ui32
    // CHECK-NEXT:   netfn.state.write @n, %[[Q]] : ui32
    // CHECK-NEXT:   netfn.yield
    // CHECK-NEXT: } else {
    // CHECK-NEXT:   netfn.state.write @n, %[[Z]] : ui32
    // CHECK-NEXT:   netfn.yield
    // CHECK-NEXT: }
    // CHECK-NEXT: netfn.forward
    %k = netfn.field.get "kind" : ui32
    %p = netfn.field.get "priority" : ui32
    %two = netfn.const 2 : ui32
    %q = netfn.mul %p, %two : ui32
    %z = netfn.const 0 : ui32
    %c = netfn.cmp eq, %k, %z : ui32
    netfn.if %c {
      netfn.state.write @n, %k : ui32
      netfn.state.write @n, %q : ui32
      netfn.yield
    } else {
      netfn.state.write @n, %z : ui32
      netfn.yield
    }
    netfn.forward
  }
}

// -----

// Negative: a read of @n does not move past a write of @n (it would read
// the new value); a draw does not move (draws are observable in order);
// nothing moves into a loop body.
// CHECK-LABEL: netfn.program @stays
netfn.program @stays {
  netfn.event @request "rpc.request" (kind : ui32)
  netfn.state @n : ui32
  netfn.state @l : !netfn.log<ui32>
  // CHECK: netfn.handler @req
  netfn.handler @req on @request {
    // CHECK-NEXT: %[[N:.*]] = netfn.state.read @n : ui32
    // CHECK-NEXT: %[[R:.*]] = netfn.random : ui32
    // CHECK-NEXT: %[[K:.*]] = netfn.field.get "kind" : ui32
    // CHECK-NEXT: netfn.state.write @n, %[[K]] : ui32
    // CHECK-NEXT: %[[S:.*]] = netfn.add %[[N]], %[[R]] : ui32
    // CHECK-NEXT: netfn.log.append @l(%[[S]]) : ui32
    // CHECK-NEXT: %[[ONE:.*]] = netfn.const 1 : ui32
    // CHECK-NEXT: netfn.foreach @l
    // CHECK:        netfn.add %{{.*}}, %[[ONE]] : ui32
    %n = netfn.state.read @n : ui32
    %r = netfn.random : ui32
    %s = netfn.add %n, %r : ui32
    %one = netfn.const 1 : ui32
    %k = netfn.field.get "kind" : ui32
    netfn.state.write @n, %k : ui32
    netfn.log.append @l(%s) : ui32
    %t = netfn.foreach @l bound 4 iter(%k) : (ui32) -> ui32 {
    ^bb0(%e: ui32, %acc: ui32):
      %a = netfn.add %acc, %one : ui32
      netfn.yield %a : ui32
    }
    netfn.state.write @n, %t : ui32
    netfn.forward
  }
}

// -----

// Negative: strings do not move (moving kinds/cache's `body` read past its
// map lookup made the checker's proof of the object 4x slower): `body`,
// used in one arm only, stays before the test.
// CHECK-LABEL: netfn.program @strings_stay
netfn.program @strings_stay {
  netfn.event @request "rpc.request" (kind : ui32, body : !netfn.string<64>)
  netfn.state @b : !netfn.string<64>
  // CHECK: netfn.handler @req
  netfn.handler @req on @request {
    // CHECK-NEXT: %[[B:.*]] = netfn.field.get "body" : !netfn.string<64>
    // CHECK-NEXT: %[[K:.*]] = netfn.field.get "kind" : ui32
    // CHECK-NEXT: %[[Z:.*]] = netfn.const 0 : ui32
    // CHECK-NEXT: %[[C:.*]] = netfn.cmp eq, %[[K]], %[[Z]] : ui32
    // CHECK-NEXT: netfn.if %[[C]] {
    // CHECK-NEXT:   netfn.state.write @b, %[[B]] : !netfn.string<64>
    %b = netfn.field.get "body" : !netfn.string<64>
    %k = netfn.field.get "kind" : ui32
    %z = netfn.const 0 : ui32
    %c = netfn.cmp eq, %k, %z : ui32
    netfn.if %c {
      netfn.state.write @b, %b : !netfn.string<64>
      netfn.yield
    } else {
      netfn.yield
    }
    netfn.forward
  }
}
