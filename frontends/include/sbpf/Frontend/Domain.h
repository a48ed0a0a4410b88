//===- Domain.h - what a DSL frontend provides to the compiler -*- C++ -*-===//
//
// A domain is one DSL: it parses a source into netfn, provides few-shot
// examples for the LLM passes, and names its file extensions. The built-in
// frontends implement it; loadable plugins will implement the same interface.
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_FRONTEND_DOMAIN_H
#define SBPF_FRONTEND_DOMAIN_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringRef.h"

#include <memory>
#include <string>
#include <vector>

namespace llvm {
class SourceMgr;
}

namespace sbpf {

/// Options every domain understands; a domain ignores what it does not need.
struct DomainOptions {
  /// Schema of the events' payload (AppNet: the `.proto` message schema).
  std::string eventSchemaPath;
  /// Capacity of strings whose capacity the source does not state.
  unsigned defaultStringCapacity = 64;
  /// Capacity of maps whose capacity the source does not state.
  unsigned defaultMapCapacity = 1024;
  /// How many records a bounded loop over a log visits at most.
  unsigned defaultLoopBound = 64;
  /// Reject what cannot run in the kernel (remote state, external services).
  bool kernelTarget = true;
};

/// One example of the domain's language, with its meaning spelt out, for the
/// few-shot prompts of the LLM passes.
struct FewShotExample {
  std::string name;
  std::string source;      ///< Program text in the DSL.
  std::string explanation; ///< What it does, in one or two sentences.
};

class Domain {
public:
  virtual ~Domain() = default;
  /// Short name, e.g. "appnet".
  virtual llvm::StringRef name() const = 0;
  /// File extensions (with the dot) that select this domain, e.g. ".appnet".
  virtual std::vector<std::string> fileExtensions() const = 0;
  /// Parses and checks the main buffer of `sourceMgr` and returns a module
  /// holding one netfn.program, or null after reporting located errors
  /// through the context's diagnostic engine.
  virtual mlir::OwningOpRef<mlir::ModuleOp>
  parse(llvm::SourceMgr &sourceMgr, mlir::MLIRContext &context,
        const DomainOptions &options) const = 0;
  /// Example programs of this domain.
  virtual std::vector<FewShotExample> fewShotExamples() const = 0;
};

/// The domains compiled into this binary, in a fixed order.
std::vector<std::unique_ptr<Domain>> createBuiltinDomains();

/// The domain among `domains` whose extension `path` ends with, or null.
const Domain *findDomainForFile(const std::vector<std::unique_ptr<Domain>> &domains,
                                llvm::StringRef path);

} // namespace sbpf

#endif // SBPF_FRONTEND_DOMAIN_H
