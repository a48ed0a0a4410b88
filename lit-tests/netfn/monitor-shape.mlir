// The second frontend's programs need no new ops: this is what the monitoring
// language will emit for
//   BEGIN { @start = nsecs; }
//   tracepoint:syscalls:sys_enter_openat /pid == 42/ {
//     @opens[comm] = count();
//     printf("%d %s\n", pid, comm);
//   }
// (docs/netfn-rationale.md, "How the monitoring language maps").
// RUN: sbpf-opt %s | sbpf-opt | FileCheck %s

// CHECK-LABEL: netfn.program @opens attributes {domain = "monitor"}
netfn.program @opens attributes {domain = "monitor"} {
  // CHECK: netfn.event @openat "tracepoint:syscalls:sys_enter_openat" (pid : ui32, comm : !netfn.string<16>)
  netfn.event @openat "tracepoint:syscalls:sys_enter_openat" (pid : ui32, comm : !netfn.string<16>)
  netfn.state @start : !netfn.instant
  // A keyed aggregation is a map; count() is get, add, set.
  // CHECK: netfn.state @opens : !netfn.map<!netfn.string<16>, ui64, 4096>
  netfn.state @opens : !netfn.map<!netfn.string<16>, ui64, 4096>
  // printf is a log of records, with the format as an attribute.
  // CHECK: netfn.state @printf0 : !netfn.log<ui32, !netfn.string<16>> {format = "%d %s\0A"}
  netfn.state @printf0 : !netfn.log<ui32, !netfn.string<16>> {format = "%d %s\n"}
  netfn.init {
    %t = netfn.now : !netfn.instant
    netfn.state.write @start, %t : !netfn.instant
    netfn.return
  }
  // CHECK: netfn.handler @probe0 on @openat
  netfn.handler @probe0 on @openat {
    %pid = netfn.field.get "pid" : ui32
    %want = netfn.const 42 : ui32
    // The predicate is a branch; a failed predicate forwards (the probe
    // returns normally).
    // CHECK: %[[PRED:.*]] = netfn.cmp eq
    // CHECK: netfn.if %[[PRED]] {
    %pred = netfn.cmp eq, %pid, %want : ui32
    netfn.if %pred {
      netfn.yield
    } else {
      netfn.forward
    }
    %comm = netfn.field.get "comm" : !netfn.string<16>
    %old = netfn.map.get @opens[%comm] : !netfn.string<16> -> !netfn.option<ui64>
    %zero = netfn.const 0 : ui64
    // CHECK: %[[N:.*]] = netfn.match_option %{{.*}} : !netfn.option<ui64> -> (ui64) some(%{{.*}}) {
    %n = netfn.match_option %old : !netfn.option<ui64> -> (ui64) some(%v) {
      netfn.yield %v : ui64
    } none {
      netfn.yield %zero : ui64
    }
    %one = netfn.const 1 : ui64
    %next = netfn.add %n, %one : ui64
    // CHECK: netfn.map.set @opens[%{{.*}}], %{{.*}} : !netfn.string<16>, ui64
    netfn.map.set @opens[%comm], %next : !netfn.string<16>, ui64
    // CHECK: netfn.log.append @printf0(%{{.*}}, %{{.*}}) : ui32, !netfn.string<16>
    netfn.log.append @printf0(%pid, %comm) : ui32, !netfn.string<16>
    netfn.forward
  }
}
