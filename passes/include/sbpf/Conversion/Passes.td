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
    (docs/bpf-abi.md, "The object path without clang"), so the two
    backends are interchangeable for the loader and the checker. Handlers
    are inlined into the program; structured control flow becomes blocks.

    f64 is lowered only where the C backend compiles it (the exact
    `randomf(0, 1) < p` on f64 state or constants); run
    `--netfn-float-to-fixed` first for other real arithmetic. What the C
    backend rejects is rejected with its message; what the lowering cannot
    do is a located error "not supported yet by the LLVM backend: ...".

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
