// netfn-propagate-state-constants: reads of state that only init sets, with
// a constant, become that constant; each application proven by the checker.
// RUN: sbpf-opt %s -split-input-file --netfn-validate=pipeline=netfn-propagate-state-constants | FileCheck %s

// CHECK-LABEL: netfn.program @set_by_init
netfn.program @set_by_init {
  netfn.event @request "rpc.request" (priority : ui32)
  // The declaration and init's write stay (the state is ABI).
  // CHECK: netfn.state @threshold : ui32
  netfn.state @threshold : ui32
  // CHECK: netfn.state.write @threshold
  netfn.init {
    %0 = netfn.const 2 : ui32
    netfn.state.write @threshold, %0 : ui32
    netfn.return
  }
  // CHECK: netfn.handler @req
  netfn.handler @req on @request {
    // CHECK-NEXT: %[[P:.*]] = netfn.field.get "priority" : ui32
    // CHECK-NEXT: %[[T:.*]] = netfn.const 2 : ui32
    // CHECK-NEXT: netfn.cmp gt, %[[P]], %[[T]] : ui32
    // CHECK-NOT: netfn.state.read
    %p = netfn.field.get "priority" : ui32
    %t = netfn.state.read @threshold : ui32
    %c = netfn.cmp gt, %p, %t : ui32
    netfn.if %c {
      netfn.reject "too_high"
    } else {
      netfn.forward
    }
    netfn.forward
  }
}

// -----

// Never written at all: the zero value.
// CHECK-LABEL: netfn.program @never_written
netfn.program @never_written {
  netfn.event @request "rpc.request" ()
  netfn.state @flag : i1
  netfn.state @limit : si32
  // CHECK: netfn.handler @req
  netfn.handler @req on @request {
    // CHECK-NEXT: netfn.const false : i1
    // CHECK-NEXT: netfn.const 0 : si32
    %f = netfn.state.read @flag : i1
    %l = netfn.state.read @limit : si32
    %z = netfn.const 0 : si32
    %c = netfn.cmp lt, %l, %z : si32
    %d = netfn.or %f, %c : i1
    netfn.if %d {
      netfn.reject "odd"
    } else {
      netfn.forward
    }
    netfn.forward
  }
}

// -----

// Negative: a handler writes the state, so it is not a constant.
// CHECK-LABEL: netfn.program @written_by_handler
netfn.program @written_by_handler {
  netfn.event @request "rpc.request" ()
  netfn.state @count : ui32
  netfn.init {
    %0 = netfn.const 5 : ui32
    netfn.state.write @count, %0 : ui32
    netfn.return
  }
  // CHECK: netfn.handler @req
  netfn.handler @req on @request {
    // CHECK-NEXT: netfn.state.read @count : ui32
    %c = netfn.state.read @count : ui32
    %one = netfn.const 1 : ui32
    %n = netfn.add %c, %one : ui32
    netfn.state.write @count, %n : ui32
    netfn.forward
  }
}

// -----

// Negative: init writes it from a random draw, or inside a branch, or twice.
// CHECK-LABEL: netfn.program @not_a_constant
netfn.program @not_a_constant {
  netfn.event @request "rpc.request" ()
  netfn.state @seed : ui32
  netfn.state @maybe : ui32
  netfn.state @twice : ui32
  netfn.init {
    %r = netfn.random : ui32
    netfn.state.write @seed, %r : ui32
    %t = netfn.const true : i1
    netfn.if %t {
      %one = netfn.const 1 : ui32
      netfn.state.write @maybe, %one : ui32
      netfn.yield
    } else {
      netfn.yield
    }
    %a = netfn.const 1 : ui32
    netfn.state.write @twice, %a : ui32
    %b = netfn.const 2 : ui32
    netfn.state.write @twice, %b : ui32
    netfn.return
  }
  // CHECK: netfn.handler @req
  netfn.handler @req on @request {
    // CHECK-NEXT: netfn.state.read @seed
    // CHECK-NEXT: netfn.state.read @maybe
    // CHECK-NEXT: netfn.state.read @twice
    %s = netfn.state.read @seed : ui32
    %m = netfn.state.read @maybe : ui32
    %w = netfn.state.read @twice : ui32
    %x = netfn.add %s, %m : ui32
    %y = netfn.add %x, %w : ui32
    %z = netfn.const 0 : ui32
    %c = netfn.cmp eq, %y, %z : ui32
    netfn.if %c {
      netfn.reject "zero"
    } else {
      netfn.forward
    }
    netfn.forward
  }
}

// -----

// Negative: configurable state (an AppNet init parameter) is set at
// deployment; init only gives its default.
// CHECK-LABEL: netfn.program @configurable
netfn.program @configurable {
  netfn.event @request "rpc.request" (priority : ui32)
  netfn.state @threshold : ui32 {configurable}
  netfn.init {
    %0 = netfn.const 5 : ui32
    netfn.state.write @threshold, %0 : ui32
    netfn.return
  }
  // CHECK: netfn.handler @req
  // CHECK-NEXT: netfn.field.get "priority"
  // CHECK-NEXT: netfn.state.read @threshold
  netfn.handler @req on @request {
    %p = netfn.field.get "priority" : ui32
    %t = netfn.state.read @threshold : ui32
    %c = netfn.cmp ge, %p, %t : ui32
    netfn.if %c {
      netfn.reject "too_high"
    } else {
      netfn.forward
    }
    netfn.forward
  }
}

// -----

// A string (a XOR key, as in scramble.appnet): the constant string, so
// that the key's length and bytes are known to the code.
// CHECK-LABEL: netfn.program @string_key
netfn.program @string_key {
  netfn.event @request "rpc.request" (body : !netfn.string<64>)
  netfn.state @key : !netfn.string<64>
  netfn.init {
    %0 = netfn.const "k3y" : !netfn.string<64>
    netfn.state.write @key, %0 : !netfn.string<64>
    netfn.return
  }
  // CHECK: netfn.handler @req
  netfn.handler @req on @request {
    // CHECK-NEXT: %[[B:.*]] = netfn.field.get "body"
    // CHECK-NEXT: %[[K:.*]] = netfn.const "k3y" : !netfn.string<64>
    // CHECK-NEXT: netfn.string.xor %[[B]], %[[K]]
    %b = netfn.field.get "body" : !netfn.string<64>
    %k = netfn.state.read @key : !netfn.string<64>
    %x = netfn.string.xor %b, %k : !netfn.string<64>, !netfn.string<64>
    netfn.field.set "body", %x : !netfn.string<64>
    netfn.forward
  }
}
