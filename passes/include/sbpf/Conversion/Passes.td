//===- Passes.td - netfn conversion passes ------------------*- tablegen -*-===//
//
// Passes that leave the netfn dialect (kept apart from the netfn-to-netfn
// passes in sbpf/Passes/Passes.td).
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_CONVERSION_PASSES_TD
#define SBPF_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertNetfnToLLVM : Pass<"convert-netfn-to-llvm", "mlir::ModuleOp"> {
  let summary = "Lowers the netfn.program to an eBPF program in the LLVM dialect";
  let description = [{
    Replaces the module's one `netfn.program` by LLVM dialect globals and one
    `llvm.func` named after the program: the program of the XDP hook (or tc
    with `hook=tc`). It parses Ethernet/IPv4/UDP/aRPC with the bounds checks
    the kernel verifier needs, passes every packet that is not ours,
    dispatches requests to the `rpc.request` handler and responses to the
    `rpc.response` handler, and lays out state, maps, ring buffers and
    reject counters exactly as the C backend's ABI record says
    (docs/bpf-abi.md, "The object path"), so the two backends are
    interchangeable for the loader and the checker. Handlers are inlined
    into the program; structured control flow becomes blocks.

    Run `--netfn-float-to-fixed` first: f64 values are not lowered. What the
    lowering cannot do yet is a located error "not supported yet by the LLVM
    backend: ...".

    The result carries what the object writer needs for BTF (map shapes, the
    global data members, the program's ELF section) in `sbpf.*` module
    attributes; `sbpf-opt --emit=obj --backend=llvm` translates it to LLVM IR
    and compiles it with LLVM's BPF target in process.

    Before / after (abridged):
    ```mlir
    netfn.program @p { ... netfn.handler @req on @request { ... } }
    // becomes
    llvm.mlir.global external @sbpf_state(...) {section = ".data"} : !llvm.array<8 x i8>
    llvm.func @p(%ctx: !llvm.ptr) -> i32 { ... }
    ```
  }];
  let options = [
    Option<"hook", "hook", "std::string", /*default=*/"\"xdp\"",
           "Attach point: xdp or tc">,
    Option<"rpcPort", "rpc-port", "unsigned", /*default=*/"9000",
           "UDP port of aRPC traffic">,
  ];
  let dependentDialects = ["mlir::LLVM::LLVMDialect"];
}

#endif // SBPF_CONVERSION_PASSES_TD
