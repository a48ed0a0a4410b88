// A handler with a fixed-point product of two variables: netfn-validate
// proves rewrites of it by simplification only (validate-wide.test).
netfn.program @wide {
  netfn.event @request "rpc.request" (priority : ui32)
  netfn.state @x : !netfn.fixed<64, 32>
  netfn.state @y : !netfn.fixed<64, 32>
  netfn.state @rate : !netfn.fixed<64, 32>
  netfn.init {
    %0 = netfn.const raw(8589934592) : !netfn.fixed<64, 32>
    netfn.state.write @rate, %0 : !netfn.fixed<64, 32>
    netfn.return
  }
  netfn.handler @req on @request {
    %x = netfn.state.read @x : !netfn.fixed<64, 32>
    %y = netfn.state.read @y : !netfn.fixed<64, 32>
    %p = netfn.mul %x, %y : !netfn.fixed<64, 32>
    %r = netfn.state.read @rate : !netfn.fixed<64, 32>
    %q = netfn.mul %r, %p : !netfn.fixed<64, 32>
    netfn.state.write @x, %q : !netfn.fixed<64, 32>
    %z = netfn.const raw(0) : !netfn.fixed<64, 32>
    %c = netfn.cmp gt, %q, %z : !netfn.fixed<64, 32>
    netfn.if %c {
      netfn.reject "too_high"
    } else {
      netfn.forward
    }
    netfn.forward
  }
}
