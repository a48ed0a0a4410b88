//===- NetfnDialect.td - the netfn dialect definition ------*- tablegen -*-===//
//
// netfn: domain-neutral network and event functions. A program holds state
// declarations and handlers bound to events; handlers are structured code over
// event fields, state, maps, logs, random draws and the clock, and end in a
// verdict. The rationale is docs/netfn-rationale.md.
//
//===----------------------------------------------------------------------===//

#ifndef SBPF_NETFN_DIALECT_TD
#define SBPF_NETFN_DIALECT_TD

include "mlir/IR/OpBase.td"

def Netfn_Dialect : Dialect {
  let name = "netfn";
  let cppNamespace = "::sbpf::netfn";
  let summary = "Domain-neutral network/event functions with exact semantics";
  let description = [{
    `netfn` is the one dialect every SimpleBPF frontend lowers into (AppNet
    elements, monitoring scripts, domain plugins) and that every backend and
    the checker consume. Its operations have an exact meaning over fixed-width
    machine values, written down precisely enough to be encoded into SMT:
    integer arithmetic wraps, division by zero yields zero as in eBPF,
    fixed-point values have a stated width and scale, strings are bounded, maps
    have a capacity, loops carry a static bound.

    A program is one `netfn.program` holding `netfn.event` declarations (the
    typed fields an event carries), `netfn.state` declarations (scalars, maps,
    logs), at most one `netfn.init` and `netfn.handler`s bound to events. A
    handler runs to a verdict: `netfn.forward` or `netfn.reject`.

    ```mlir
    netfn.program @fault {
      netfn.event @request "rpc.request" ()
      netfn.state @prob : f64
      netfn.init {
        %p = netfn.const 9.500000e-01 : f64
        netfn.state.write @prob, %p : f64
        netfn.return
      }
      netfn.handler @req on @request {
        %r = netfn.random : ui32
        ...
        netfn.forward
      }
    }
    ```
  }];
  let useDefaultTypePrinterParser = 1;
  let useFoldAPI = kEmitFoldAdaptorFolder;
  let hasConstantMaterializer = 1;
  let extraClassDeclaration = [{
    void registerTypes();
  }];
}

class Netfn_Op<string mnemonic, list<Trait> traits = []>
    : Op<Netfn_Dialect, mnemonic, traits>;

#endif // SBPF_NETFN_DIALECT_TD
