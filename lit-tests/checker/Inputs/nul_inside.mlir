// A handler that writes a string with a NUL inside into a field: the wire
// carries all its bytes (NUL padded after its length), which is what the
// checker compares (not the bytes before the first NUL). Used by
// nul-inside-field.test.
module {
  netfn.program @nul_inside attributes {domain = "appnet"} {
    netfn.event @request "rpc.request" (rpc_id : ui64, body : !netfn.string<64>, priority : ui32, kind : ui32, user : !netfn.string<32>) {wire_layout = [{encoding = "u64", offset = 1 : i64, size = 8 : i64, source = "header"}, {encoding = "str", offset = 0 : i64, size = 64 : i64, source = "payload"}, {encoding = "u32", offset = 64 : i64, size = 4 : i64, source = "payload"}, {encoding = "u32", offset = 68 : i64, size = 4 : i64, source = "payload"}, {encoding = "str", offset = 72 : i64, size = 32 : i64, source = "payload"}]}
    netfn.event @response "rpc.response" (rpc_id : ui64, body : !netfn.string<64>, status : ui32) {wire_layout = [{encoding = "u64", offset = 1 : i64, size = 8 : i64, source = "header"}, {encoding = "str", offset = 0 : i64, size = 64 : i64, source = "payload"}, {encoding = "u32", offset = 64 : i64, size = 4 : i64, source = "payload"}]}
    netfn.init {
      netfn.return
    }
    netfn.handler @req on @request {
      %0 = netfn.const "a\00b" : !netfn.string<32>
      netfn.field.set "user", %0 : !netfn.string<32>
      netfn.forward
    }
    netfn.handler @resp on @response {
      netfn.forward
    }
  }
}

