// init inserts a map entry whose value is the clock at load time: loader
// work whose value the loader reads (value_from "clock").
netfn.program @computed_entry attributes {domain = "appnet"} {
  netfn.event @request "rpc.request" (kind : ui32) {wire_layout = [{encoding = "u32", offset = 68 : i64, size = 4 : i64, source = "payload"}]}
  netfn.state @started : !netfn.map<ui32, !netfn.instant, 16>
  netfn.init {
    %k = netfn.const 1 : ui32
    %t = netfn.now : !netfn.instant
    netfn.map.set @started[%k], %t : ui32, !netfn.instant
    netfn.return
  }
  netfn.handler @req on @request {
    netfn.forward
  }
}
