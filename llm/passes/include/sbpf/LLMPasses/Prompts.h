//===- Prompts.h - The prompts of the LLM passes ----------------*- C++ -*-===//
//
// The templates live in prompts/ (prompts/README.md) and are embedded at
// build time; this renders them. A template is a system part and a user part
// with {{NAME}} placeholders; rendering fails on a name it was not given, so
// a prompt with a hole is never sent. The few-shot pairs come from the
// domain: its examples' sources and the C the rule-based backend makes of
// them.
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_LLMPASSES_PROMPTS_H
#define SBPF_LLMPASSES_PROMPTS_H

#include "sbpf/BPF/ABI.h"
#include "sbpf/Frontend/Domain.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <map>
#include <string>
#include <vector>

namespace mlir {
class DialectRegistry;
}

namespace sbpf::llm {

/// The text of the embedded prompt file `name` (e.g. "generate.txt"), or
/// null when there is no such file.
const char *embeddedPromptFile(llvm::StringRef name);

/// Replaces every {{NAME}} of `text` by `values[NAME]`; an error names the
/// first placeholder without a value.
llvm::Expected<std::string>
renderTemplate(llvm::StringRef text,
               const std::map<std::string, std::string> &values);

struct RenderedPrompt {
  std::string system, user;
  size_t bytes() const { return system.size() + user.size(); }
};

/// Renders the embedded template `name` (a file with "=== system ===" and
/// "=== user ===" lines).
llvm::Expected<RenderedPrompt>
renderPrompt(llvm::StringRef name,
             const std::map<std::string, std::string> &values);

/// One few-shot pair: an example of the domain and its rule-based C.
struct FewShotPair {
  std::string name, explanation, dslSource, cProgram;
};

/// Compiles up to `maxPairs` of `domain`'s examples: parse with `options`,
/// `lower` (the netfn passes of the run), emitC with `backend`; the ABI
/// record is left out of the C (the prompt says the compiler adds it).
/// Examples that do not compile with these options are skipped silently, and
/// so is the program being translated (an example named `programName` or
/// with the source `programSource`): its pair would hand the model the
/// answer.
std::vector<FewShotPair> buildFewShotPairs(
    const Domain &domain, const DomainOptions &options,
    mlir::DialectRegistry &registry,
    llvm::function_ref<mlir::LogicalResult(mlir::ModuleOp)> lower,
    const bpf::BackendOptions &backend, unsigned maxPairs,
    llvm::StringRef programName, llvm::StringRef programSource);

/// `c` without the ABI record definition emitC appends (the comment line
/// before it and the `const char sbpf_abi[...] SEC(".sbpf.abi") = ...;`).
std::string stripABIRecord(llvm::StringRef c);
/// The ABI record definition (with its comment line) in `c`, or "".
std::string findABIRecord(llvm::StringRef c);

} // namespace sbpf::llm

#endif // SBPF_LLMPASSES_PROMPTS_H
