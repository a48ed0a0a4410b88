// Every netfn op and type prints in a form that parses back to the same IR.
// RUN: sbpf-opt %s | sbpf-opt | FileCheck %s

// CHECK-LABEL: netfn.program @types$all
netfn.program @types$all {
  // CHECK: netfn.event @request "rpc.request" (rpc_id : ui64, user : !netfn.string<32>, body : !netfn.string<64>)
  netfn.event @request "rpc.request" (rpc_id : ui64, user : !netfn.string<32>, body : !netfn.string<64>)
  // Field names that are not bare identifiers are quoted.
  // CHECK: netfn.event @probe "tracepoint:syscalls:sys_enter_openat" ("flags-raw" : si32)
  netfn.event @probe "tracepoint:syscalls:sys_enter_openat" ("flags-raw" : si32)
  // CHECK: netfn.state @b : i1
  netfn.state @b : i1
  // CHECK: netfn.state @fx : !netfn.fixed<64, 32>
  netfn.state @fx : !netfn.fixed<64, 32>
  // CHECK: netfn.state @t : !netfn.instant
  netfn.state @t : !netfn.instant
  // CHECK: netfn.state @p : !netfn.pair<ui32, f64>
  netfn.state @p : !netfn.pair<ui32, f64>
  // CHECK: netfn.state @m : !netfn.map<!netfn.string<32>, ui32, 1024> {consistency = "weak"}
  netfn.state @m : !netfn.map<!netfn.string<32>, ui32, 1024> {consistency = "weak"}
  // CHECK: netfn.state @events : !netfn.log<si64, !netfn.string<16>>
  netfn.state @events : !netfn.log<si64, !netfn.string<16>>
  netfn.handler @on_probe on @probe {
    netfn.forward
  }
}

// CHECK-LABEL: netfn.program @init$constants
netfn.program @init$constants {
  netfn.state @n : si32
  netfn.state @fx : !netfn.fixed<64, 32>
  netfn.state @prob : f64
  netfn.state @name : !netfn.string<8>
  netfn.state @big : ui64
  // CHECK: netfn.init {
  netfn.init {
    // CHECK-NEXT: %[[N:.*]] = netfn.const -3 : si32
    // CHECK-NEXT: netfn.state.write @n, %[[N]] : si32
    %n = netfn.const -3 : si32
    netfn.state.write @n, %n : si32
    // Fixed-point constants are exact: given by their raw value.
    // CHECK: netfn.const raw(4080218931) : !netfn.fixed<64, 32>
    %f = netfn.const raw(4080218931) : !netfn.fixed<64, 32>
    netfn.state.write @fx, %f : !netfn.fixed<64, 32>
    // CHECK: netfn.const 2.500000e-01 : f64
    %p = netfn.const 0.25 : f64
    netfn.state.write @prob, %p : f64
    // CHECK: netfn.const "k3y" : !netfn.string<8>
    %s = netfn.const "k3y" : !netfn.string<8>
    netfn.state.write @name, %s : !netfn.string<8>
    // Unsigned constants print unsigned.
    // CHECK: netfn.const 18446744073709551615 : ui64
    %u = netfn.const 18446744073709551615 : ui64
    netfn.state.write @big, %u : ui64
    // CHECK: netfn.return
    netfn.return
  }
}

// CHECK-LABEL: netfn.program @handler$every_op
netfn.program @handler$every_op {
  netfn.event @request "rpc.request" (rpc_id : ui64, user : !netfn.string<32>, body : !netfn.string<64>)
  netfn.state @rules : !netfn.map<!netfn.string<32>, !netfn.string<16>, 64>
  netfn.state @n : si32
  netfn.state @samples : !netfn.log<f64>
  // CHECK: netfn.handler @req on @request {
  netfn.handler @req on @request {
    // CHECK: %[[USER:.*]] = netfn.field.get "user" : !netfn.string<32>
    // CHECK: %[[RULE:.*]] = netfn.map.get @rules[%[[USER]]] : !netfn.string<32> -> !netfn.option<!netfn.string<16>>
    // CHECK: netfn.match_option %[[RULE]] : !netfn.option<!netfn.string<16>> some(%[[R:.*]]) {
    // CHECK: netfn.match %[[R]] : !netfn.string<16> case "deny" {
    // CHECK-NEXT: netfn.reject "denied_by_acl"
    // CHECK-NEXT: } default {
    // CHECK: } none {
    %u = netfn.field.get "user" : !netfn.string<32>
    %o = netfn.map.get @rules[%u] : !netfn.string<32> -> !netfn.option<!netfn.string<16>>
    netfn.match_option %o : !netfn.option<!netfn.string<16>> some(%rule) {
      netfn.match %rule : !netfn.string<16> case "deny" {
        netfn.reject "denied_by_acl"
      } default {
        netfn.yield
      }
      netfn.yield
    } none {
      %v = netfn.const "seen" : !netfn.string<16>
      netfn.map.set @rules[%u], %v : !netfn.string<32>, !netfn.string<16>
      netfn.yield
    }
    // CHECK: netfn.map.delete @rules[%[[USER]]] : !netfn.string<32>
    netfn.map.delete @rules[%u] : !netfn.string<32>
    // CHECK: %[[RND:.*]] = netfn.random : ui32
    // CHECK: %[[X:.*]] = netfn.if %{{.*}} -> (si32) {
    // CHECK: netfn.yield %{{.*}} : si32
    // CHECK: } else {
    // CHECK-NEXT: netfn.reject "fault_injected"
    %r = netfn.random : ui32
    %rf = netfn.cast %r : ui32 to f64
    %half = netfn.const 0.5 : f64
    %c = netfn.cmp lt, %rf, %half : f64
    %x = netfn.if %c -> (si32) {
      %one = netfn.const 1 : si32
      netfn.yield %one : si32
    } else {
      netfn.reject "fault_injected"
    }
    // CHECK: %[[N:.*]] = netfn.state.read @n : si32
    // CHECK: netfn.add %[[N]], %[[X]] : si32
    %n = netfn.state.read @n : si32
    %s = netfn.add %n, %x : si32
    %d = netfn.sub %s, %x : si32
    %m = netfn.mul %d, %x : si32
    %q = netfn.div %m, %x : si32
    %rem = netfn.rem %q, %x : si32
    %lo = netfn.min %rem, %x : si32
    %hi = netfn.max %lo, %x : si32
    %bits = netfn.xor %hi, %x : si32
    %bits2 = netfn.and %bits, %x : si32
    %bits3 = netfn.or %bits2, %x : si32
    netfn.state.write @n, %bits3 : si32
    // CHECK: netfn.match %{{.*}} : si32 case 1 {
    // CHECK: } case -2 {
    netfn.match %bits3 : si32 case 1 {
      netfn.yield
    } case -2 {
      netfn.forward
    } default {
      netfn.yield
    }
    // CHECK: %[[SUM:.*]] = netfn.foreach @samples bound 64 iter(%{{.*}}) : (f64) -> f64 {
    // CHECK: ^bb0(%{{.*}}: f64, %{{.*}}: f64):
    %z = netfn.const 0.0 : f64
    %sum = netfn.foreach @samples bound 64 iter(%z) : (f64) -> f64 {
    ^bb0(%e: f64, %acc: f64):
      %a = netfn.add %acc, %e : f64
      netfn.yield %a : f64
    }
    // CHECK: netfn.log.append @samples(%[[SUM]]) : f64
    // CHECK: netfn.log.size @samples : ui64
    netfn.log.append @samples(%sum) : f64
    %sz = netfn.log.size @samples : ui64
    // CHECK: %[[T:.*]] = netfn.now : !netfn.instant
    // CHECK: %[[P:.*]] = netfn.pair %[[T]], %[[SUM]] : !netfn.instant, f64 -> !netfn.pair<!netfn.instant, f64>
    // CHECK: netfn.first %[[P]] : !netfn.pair<!netfn.instant, f64>
    // CHECK: netfn.second %[[P]] : !netfn.pair<!netfn.instant, f64>
    %t = netfn.now : !netfn.instant
    %pr = netfn.pair %t, %sum : !netfn.instant, f64 -> !netfn.pair<!netfn.instant, f64>
    %t2 = netfn.first %pr : !netfn.pair<!netfn.instant, f64>
    %s2 = netfn.second %pr : !netfn.pair<!netfn.instant, f64>
    // CHECK: netfn.cast %{{.*}} : !netfn.instant to ui64
    %ns = netfn.cast %t2 : !netfn.instant to ui64
    %ge = netfn.cmp ge, %ns, %sz : ui64
    %notge = netfn.not %ge : i1
    %sel = netfn.select %notge, %s2, %sum : f64
    %fx = netfn.cast %sel : f64 to !netfn.fixed<64, 16>
    // CHECK: %[[KEY:.*]] = netfn.const "k" : !netfn.string<8>
    // CHECK: %[[BODY:.*]] = netfn.field.get "body" : !netfn.string<64>
    // CHECK: %[[ENC:.*]] = netfn.string.xor %[[BODY]], %[[KEY]] : !netfn.string<64>, !netfn.string<8>
    // CHECK: netfn.field.set "body", %[[ENC]] : !netfn.string<64>
    // CHECK: netfn.string.len %[[ENC]] : !netfn.string<64>
    %key = netfn.const "k" : !netfn.string<8>
    %body = netfn.field.get "body" : !netfn.string<64>
    %enc = netfn.string.xor %body, %key : !netfn.string<64>, !netfn.string<8>
    netfn.field.set "body", %enc : !netfn.string<64>
    %len = netfn.string.len %enc : !netfn.string<64>
    // CHECK: netfn.forward
    netfn.forward
  }
}
