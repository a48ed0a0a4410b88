// A use whose definition is inside a region of the very op that uses it;
// %2 is also defined in init, a region that does not enclose the use either
// (every netfn region numbers its values from %0). Found by fuzzing: the
// parser resolved the use to the nested value and crashed creating the op.
netfn.program @p {
  netfn.event @request "rpc.request" (kind : ui32)
  netfn.state @blocked : !netfn.map<ui32, i1, 16>
  netfn.init {
    %2 = netfn.const 7 : ui32
    netfn.return
  }
  netfn.handler @req on @request {
    %1 = netfn.field.get "kind" : ui32
    netfn.match_option %2 : !netfn.option<i1> some(%arg0) {
      netfn.yield
    } none {
      %2 = netfn.map.get @blocked[%1] : ui32 -> !netfn.option<i1>
      netfn.yield
    }
    netfn.forward
  }
}
