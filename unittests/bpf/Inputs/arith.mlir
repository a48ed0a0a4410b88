// Integer semantics of the BPF backend (netfn's, exactly): each result is
// written to a state scalar that BackendTest reads back through the ABI.
netfn.program @arith attributes {domain = "appnet"} {
  netfn.event @request "rpc.request" (a : si32, b : si32, c : ui32, d : ui32, big : si64) {wire_layout = [{encoding = "s32", offset = 0 : i64, size = 4 : i64, source = "payload"}, {encoding = "s32", offset = 4 : i64, size = 4 : i64, source = "payload"}, {encoding = "u32", offset = 8 : i64, size = 4 : i64, source = "payload"}, {encoding = "u32", offset = 12 : i64, size = 4 : i64, source = "payload"}, {encoding = "s64", offset = 16 : i64, size = 8 : i64, source = "payload"}]}
  netfn.state @sdiv : si32
  netfn.state @srem : si32
  netfn.state @udiv : ui32
  netfn.state @urem : ui32
  netfn.state @mul : si32
  netfn.state @sub : si32
  netfn.state @sext : si64
  netfn.state @zext : ui64
  netfn.state @trunc : ui8
  netfn.state @strunc : si8
  netfn.state @lts : i1
  netfn.state @ltu : i1
  netfn.state @mins : si32
  netfn.state @maxu : ui32
  netfn.state @sel : si32
  netfn.state @sdiv64 : si64
  netfn.state @srem64 : si64
  netfn.state @umul8 : ui8
  netfn.handler @req on @request {
    %a = netfn.field.get "a" : si32
    %b = netfn.field.get "b" : si32
    %c = netfn.field.get "c" : ui32
    %d = netfn.field.get "d" : ui32
    %big = netfn.field.get "big" : si64
    %q = netfn.div %a, %b : si32
    netfn.state.write @sdiv, %q : si32
    %r = netfn.rem %a, %b : si32
    netfn.state.write @srem, %r : si32
    %uq = netfn.div %c, %d : ui32
    netfn.state.write @udiv, %uq : ui32
    %ur = netfn.rem %c, %d : ui32
    netfn.state.write @urem, %ur : ui32
    %m = netfn.mul %a, %b : si32
    netfn.state.write @mul, %m : si32
    %s = netfn.sub %a, %b : si32
    netfn.state.write @sub, %s : si32
    %e = netfn.cast %a : si32 to si64
    netfn.state.write @sext, %e : si64
    %z = netfn.cast %c : ui32 to ui64
    netfn.state.write @zext, %z : ui64
    %t = netfn.cast %c : ui32 to ui8
    netfn.state.write @trunc, %t : ui8
    %st = netfn.cast %a : si32 to si8
    netfn.state.write @strunc, %st : si8
    %l1 = netfn.cmp lt, %a, %b : si32
    netfn.state.write @lts, %l1 : i1
    %l2 = netfn.cmp lt, %c, %d : ui32
    netfn.state.write @ltu, %l2 : i1
    %mn = netfn.min %a, %b : si32
    netfn.state.write @mins, %mn : si32
    %mx = netfn.max %c, %d : ui32
    netfn.state.write @maxu, %mx : ui32
    %sv = netfn.select %l2, %a, %b : si32
    netfn.state.write @sel, %sv : si32
    %e2 = netfn.cast %b : si32 to si64
    %q64 = netfn.div %big, %e2 : si64
    netfn.state.write @sdiv64, %q64 : si64
    %r64 = netfn.rem %big, %e2 : si64
    netfn.state.write @srem64, %r64 : si64
    %c8 = netfn.cast %c : ui32 to ui8
    %d8 = netfn.cast %d : ui32 to ui8
    %p8 = netfn.mul %c8, %d8 : ui8
    netfn.state.write @umul8, %p8 : ui8
    netfn.forward
  }
}
