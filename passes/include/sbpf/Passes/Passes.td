//===- Passes.td - netfn-to-netfn passes -------------------*- tablegen -*-===//
#ifndef SBPF_PASSES_TD
#define SBPF_PASSES_TD

include "mlir/Pass/PassBase.td"

def NetfnFloatToFixed : Pass<"netfn-float-to-fixed", "mlir::ModuleOp"> {
  let summary = "Represents every real number in Q31.32 fixed point";
  let description = [{
    eBPF has no floating point. This pass rewrites every `f64` value, state
    variable, map and log element into `!netfn.fixed<64, 32>` (32 integer
    bits including the sign, 32 fractional bits), so the backends only see
    integer arithmetic with exactly defined rounding.

    Exact forms come first:
    - a random fraction `r * 2^-32` of a `ui32` draw becomes the fixed-point
      number whose raw value is `r` (no rounding at all), so
      `randomf(0, 1) < p` compares `r` with a 32-bit threshold;
    - nanoseconds over 10^9 (AppNet's `time_diff` and Instants kept as
      floats) is computed in integers as `trunc(ns * 2^32 / 10^9)` without
      overflow for any 64-bit count of seconds below 2^31.

    Elsewhere the documented fixed-point semantics apply: constants round to
    the nearest multiple of 2^-32 (an error of at most 2^-33), products and
    quotients truncate (2^-32 per operation), and values must stay within
    (-2^31, 2^31). A constant outside that range is an error. Event fields of
    type f64 stay f64 and are converted where they are read or written.

    Before / after:
    ```mlir
    %r = netfn.random : ui32
    %f = netfn.cast %r : ui32 to f64
    %s = netfn.const 2.3283064365386963E-10 : f64
    %u = netfn.mul %f, %s : f64
    %p = netfn.state.read @prob : f64
    %c = netfn.cmp lt, %u, %p : f64
    // becomes
    %r = netfn.random : ui32
    %w = netfn.cast %r : ui32 to ui64
    %u = netfn.bitcast %w : ui64 to !netfn.fixed<64, 32>
    %p = netfn.state.read @prob : !netfn.fixed<64, 32>
    %c = netfn.cmp lt, %u, %p : !netfn.fixed<64, 32>
    ```
    The per-value choice of scale and the reported error bound are the
    optimisation pass's job; this pass gives one correct form.
  }];
  let constructor = "sbpf::createNetfnFloatToFixedPass()";
  let dependentDialects = ["sbpf::netfn::NetfnDialect"];
}

#endif // SBPF_PASSES_TD
