// String semantics of the BPF backends: a wire string is the bytes before
// its first NUL (or all of them), whatever follows; casts truncate or pad;
// equality compares contents. Capacities 20 and 13 are not multiples of 8,
// so word-wise code meets every word width. Results go to state scalars
// that BackendTest.StringSemantics reads back through the ABI.
netfn.program @strings attributes {domain = "appnet"} {
  netfn.event @request "rpc.request" (s : !netfn.string<20>, t : !netfn.string<13>) {wire_layout = [{encoding = "str", offset = 0 : i64, size = 20 : i64, source = "payload"}, {encoding = "str", offset = 20 : i64, size = 13 : i64, source = "payload"}]}
  netfn.state @slen : ui32
  netfn.state @tlen : ui32
  netfn.state @sname : !netfn.string<20>
  netfn.state @tname : !netfn.string<13>
  netfn.state @short : !netfn.string<5>
  netfn.state @same : i1
  netfn.handler @req on @request {
    %s = netfn.field.get "s" : !netfn.string<20>
    %t = netfn.field.get "t" : !netfn.string<13>
    %sl = netfn.string.len %s : !netfn.string<20>
    netfn.state.write @slen, %sl : ui32
    %tl = netfn.string.len %t : !netfn.string<13>
    netfn.state.write @tlen, %tl : ui32
    netfn.state.write @sname, %s : !netfn.string<20>
    netfn.state.write @tname, %t : !netfn.string<13>
    %c = netfn.cast %s : !netfn.string<20> to !netfn.string<5>
    netfn.state.write @short, %c : !netfn.string<5>
    %w = netfn.cast %t : !netfn.string<13> to !netfn.string<20>
    %e = netfn.cmp eq, %s, %w : !netfn.string<20>
    netfn.state.write @same, %e : i1
    netfn.forward
  }
}
