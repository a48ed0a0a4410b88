// init inserts entries with a signed key and a bool value: their bytes are the
// map layout's (si8 -1 is ff, true is 01).
netfn.program @boolmap attributes {domain = "appnet"} {
  netfn.event @request "rpc.request" (kind : ui32) {wire_layout = [{encoding = "u32", offset = 68 : i64, size = 4 : i64, source = "payload"}]}
  netfn.state @flags : !netfn.map<si8, i1, 4>
  netfn.init {
    %k = netfn.const -1 : si8
    %v = netfn.const true : i1
    netfn.map.set @flags[%k], %v : si8, i1
    netfn.return
  }
  netfn.handler @req on @request {
    netfn.forward
  }
}
