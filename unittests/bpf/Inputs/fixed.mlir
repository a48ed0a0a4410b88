// Fixed-point semantics of the BPF backend (netfn's, exactly): raw inputs
// from the payload, results in state read back through the ABI.
netfn.program @fixed attributes {domain = "appnet"} {
  netfn.event @request "rpc.request" (a : si64, b : si64, i : si32) {wire_layout = [{encoding = "s64", offset = 0 : i64, size = 8 : i64, source = "payload"}, {encoding = "s64", offset = 8 : i64, size = 8 : i64, source = "payload"}, {encoding = "s32", offset = 16 : i64, size = 4 : i64, source = "payload"}]}
  netfn.state @mul : !netfn.fixed<64, 32>
  netfn.state @div : !netfn.fixed<64, 32>
  netfn.state @add : !netfn.fixed<64, 32>
  netfn.state @sub : !netfn.fixed<64, 32>
  netfn.state @lt : i1
  netfn.state @toint : si32
  netfn.state @fromint : !netfn.fixed<64, 32>
  netfn.state @rescale : !netfn.fixed<64, 16>
  netfn.state @upscale : !netfn.fixed<64, 40>
  netfn.state @mul32 : !netfn.fixed<32, 16>
  netfn.state @div32 : !netfn.fixed<32, 16>
  netfn.state @konst : !netfn.fixed<64, 32>
  netfn.state @bits : ui64
  netfn.state @mul62 : !netfn.fixed<64, 62>
  netfn.state @div62 : !netfn.fixed<64, 62>
  netfn.state @mul56 : !netfn.fixed<64, 56>
  netfn.state @div56 : !netfn.fixed<64, 56>
  netfn.init {
    %k = netfn.const raw(4080218931) : !netfn.fixed<64, 32>
    netfn.state.write @konst, %k : !netfn.fixed<64, 32>
    netfn.return
  }
  netfn.handler @req on @request {
    %ra = netfn.field.get "a" : si64
    %rb = netfn.field.get "b" : si64
    %i = netfn.field.get "i" : si32
    %ua = netfn.cast %ra : si64 to ui64
    %ub = netfn.cast %rb : si64 to ui64
    %a = netfn.bitcast %ua : ui64 to !netfn.fixed<64, 32>
    %b = netfn.bitcast %ub : ui64 to !netfn.fixed<64, 32>
    %m = netfn.mul %a, %b : !netfn.fixed<64, 32>
    netfn.state.write @mul, %m : !netfn.fixed<64, 32>
    %d = netfn.div %a, %b : !netfn.fixed<64, 32>
    netfn.state.write @div, %d : !netfn.fixed<64, 32>
    %s = netfn.add %a, %b : !netfn.fixed<64, 32>
    netfn.state.write @add, %s : !netfn.fixed<64, 32>
    %t = netfn.sub %a, %b : !netfn.fixed<64, 32>
    netfn.state.write @sub, %t : !netfn.fixed<64, 32>
    %l = netfn.cmp lt, %a, %b : !netfn.fixed<64, 32>
    netfn.state.write @lt, %l : i1
    %n = netfn.cast %a : !netfn.fixed<64, 32> to si32
    netfn.state.write @toint, %n : si32
    %f = netfn.cast %i : si32 to !netfn.fixed<64, 32>
    netfn.state.write @fromint, %f : !netfn.fixed<64, 32>
    %r = netfn.cast %a : !netfn.fixed<64, 32> to !netfn.fixed<64, 16>
    netfn.state.write @rescale, %r : !netfn.fixed<64, 16>
    %u = netfn.cast %a : !netfn.fixed<64, 32> to !netfn.fixed<64, 40>
    netfn.state.write @upscale, %u : !netfn.fixed<64, 40>
    %a32 = netfn.cast %a : !netfn.fixed<64, 32> to !netfn.fixed<32, 16>
    %b32 = netfn.cast %b : !netfn.fixed<64, 32> to !netfn.fixed<32, 16>
    %m32 = netfn.mul %a32, %b32 : !netfn.fixed<32, 16>
    netfn.state.write @mul32, %m32 : !netfn.fixed<32, 16>
    %d32 = netfn.div %a32, %b32 : !netfn.fixed<32, 16>
    netfn.state.write @div32, %d32 : !netfn.fixed<32, 16>
    %k = netfn.state.read @konst : !netfn.fixed<64, 32>
    %kb = netfn.bitcast %k : !netfn.fixed<64, 32> to ui64
    netfn.state.write @bits, %kb : ui64
    // Scales netfn-float-to-fixed chooses for values in [0, 1] and [0, 50].
    %a62 = netfn.bitcast %ua : ui64 to !netfn.fixed<64, 62>
    %b62 = netfn.bitcast %ub : ui64 to !netfn.fixed<64, 62>
    %m62 = netfn.mul %a62, %b62 : !netfn.fixed<64, 62>
    netfn.state.write @mul62, %m62 : !netfn.fixed<64, 62>
    %d62 = netfn.div %a62, %b62 : !netfn.fixed<64, 62>
    netfn.state.write @div62, %d62 : !netfn.fixed<64, 62>
    %a56 = netfn.bitcast %ua : ui64 to !netfn.fixed<64, 56>
    %b56 = netfn.bitcast %ub : ui64 to !netfn.fixed<64, 56>
    %m56 = netfn.mul %a56, %b56 : !netfn.fixed<64, 56>
    netfn.state.write @mul56, %m56 : !netfn.fixed<64, 56>
    %d56 = netfn.div %a56, %b56 : !netfn.fixed<64, 56>
    netfn.state.write @div56, %d56 : !netfn.fixed<64, 56>
    netfn.forward
  }
}
