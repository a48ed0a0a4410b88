// A real constant outside the Q31.32 range cannot be represented.
// RUN: sbpf-opt %s --netfn-float-to-fixed -verify-diagnostics

netfn.program @p {
  netfn.state @big : f64
  netfn.init {
    // expected-error @+1 {{the real constant 3.000000e+09 is outside the range (-2^31, 2^31) of '!netfn.fixed<64, 32>'}}
    %c = netfn.const 3.0e9 : f64
    netfn.state.write @big, %c : f64
    netfn.return
  }
}
