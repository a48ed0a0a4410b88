//===- Element.cpp - a DSL source as the netfn its object was built from --===//
#include "sbpf/Element.h"
#include "sbpf/Passes/Passes.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

mlir::OwningOpRef<mlir::ModuleOp>
sbpf::loadElementForBPF(llvm::StringRef path, const DomainOptions &options,
                        mlir::MLIRContext &context, unsigned optLevel) {
  auto domains = createBuiltinDomains();
  const Domain *domain = findDomainForFile(domains, path);
  if (!domain) {
    llvm::errs() << path << ": error: not a DSL source (known extensions:";
    for (const auto &d : domains)
      for (const std::string &ext : d->fileExtensions())
        llvm::errs() << " " << ext;
    llvm::errs() << ")\n";
    return nullptr;
  }
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer) {
    llvm::errs() << path << ": error: cannot read: "
                 << buffer.getError().message() << "\n";
    return nullptr;
  }
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
  mlir::SourceMgrDiagnosticHandler handler(sourceMgr, &context);
  mlir::OwningOpRef<mlir::ModuleOp> module =
      domain->parse(sourceMgr, context, options);
  if (!module)
    return nullptr;
  // Exactly what `sbpf-opt --appnet-to-bpf` runs before the backend. Its
  // netfn-validate step parses a textual pipeline of netfn passes, so they
  // must be registered (sbpf-opt does that in main()).
  static bool registered = (registerNetfnPasses(), true);
  (void)registered;
  mlir::PassManager pm(&context);
  buildAppNetToBPFPipeline(pm, optLevel);
  if (mlir::failed(pm.run(*module)))
    return nullptr;
  return module;
}
