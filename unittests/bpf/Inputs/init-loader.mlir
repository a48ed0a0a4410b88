// init with every kind of loader work, interleaved with constants: map
// entries with integer keys and values, a scalar from the clock, a random
// scalar, and a scalar first set to a random draw and then to a constant (only
// the last write stays, at its place in init's order). Used by
// lit-tests/bpf/embedded-abi*.test and BackendTest.InitLoaderWork.
netfn.program @init_loader attributes {domain = "appnet"} {
  netfn.event @request "rpc.request" (kind : ui32) {wire_layout = [{encoding = "u32", offset = 68 : i64, size = 4 : i64, source = "payload"}]}
  netfn.state @weights : !netfn.map<ui32, si64, 16>
  netfn.state @started : !netfn.instant
  netfn.state @seed : ui32
  netfn.state @salt : ui32
  netfn.state @limit : si32
  netfn.state @last_weight : si64
  netfn.init {
    %k1 = netfn.const 7 : ui32
    %v1 = netfn.const -2 : si64
    netfn.map.set @weights[%k1], %v1 : ui32, si64
    %t = netfn.now : !netfn.instant
    netfn.state.write @started, %t : !netfn.instant
    %r2 = netfn.random : ui32
    netfn.state.write @salt, %r2 : ui32
    %r = netfn.random : ui32
    netfn.state.write @seed, %r : ui32
    %k2 = netfn.const 258 : ui32
    %v2 = netfn.const 1099511627776 : si64
    netfn.map.set @weights[%k2], %v2 : ui32, si64
    %c = netfn.const 3 : si32
    netfn.state.write @limit, %c : si32
    %five = netfn.const 5 : ui32
    netfn.state.write @salt, %five : ui32
    netfn.return
  }
  netfn.handler @req on @request {
    %k = netfn.field.get "kind" : ui32
    %w = netfn.map.get @weights[%k] : ui32 -> !netfn.option<si64>
    netfn.match_option %w : !netfn.option<si64> some(%x) {
      netfn.state.write @last_weight, %x : si64
      netfn.yield
    } none {
      netfn.yield
    }
    netfn.forward
  }
}
