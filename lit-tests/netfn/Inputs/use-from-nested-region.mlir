// A use whose only definition is inside a nested region that does not
// enclose it (the brace of netfn.init is never closed), then a parse error
// at the end of the file. Found by fuzzing sbpf-opt with mutated netfn.
netfn.program @p {
    netfn.init {
      netfn.state.write @k, %0 : f64
    netfn.handler @req on @request {
      %0 = netfn.const 0.000000e+00 : f64
      netfn.if %18 {
      netfn.if %2 {
