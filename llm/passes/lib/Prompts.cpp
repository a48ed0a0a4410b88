//===- Prompts.cpp - The prompts of the LLM passes ------------------------===//
//
// Template rendering over the files of prompts/ (embedded by CMake), and the
// few-shot pairs a domain's examples give through the rule-based backend.
//
//===----------------------------------------------------------------------===//
#include "sbpf/LLMPasses/Prompts.h"
#include "sbpf/BPF/EmitC.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

using namespace sbpf;
using namespace sbpf::llm;

namespace {
struct EmbeddedPrompt {
  const char *name;
  const char *text;
};
const EmbeddedPrompt kPrompts[] = {
#include "PromptTexts.inc"
};
} // namespace

const char *sbpf::llm::embeddedPromptFile(llvm::StringRef name) {
  for (const EmbeddedPrompt &p : kPrompts)
    if (name == p.name)
      return p.text;
  return nullptr;
}

llvm::Expected<std::string>
sbpf::llm::renderTemplate(llvm::StringRef text,
                          const std::map<std::string, std::string> &values) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    size_t open = text.find("{{");
    if (open == llvm::StringRef::npos) {
      out += text;
      break;
    }
    size_t close = text.find("}}", open + 2);
    llvm::StringRef name =
        close == llvm::StringRef::npos ? "" : text.slice(open + 2, close);
    // Only {{UPPER_CASE}} is a placeholder; other braces are the prompt's.
    bool isName = !name.empty() && llvm::all_of(name, [](char c) {
      return (c >= 'A' && c <= 'Z') || c == '_';
    });
    if (!isName) {
      out += text.take_front(open + 2);
      text = text.drop_front(open + 2);
      continue;
    }
    auto it = values.find(name.str());
    if (it == values.end())
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "prompt template: no value for {{" +
                                         name + "}}");
    out += text.take_front(open);
    out += it->second;
    text = text.drop_front(close + 2);
  }
  return out;
}

llvm::Expected<RenderedPrompt>
sbpf::llm::renderPrompt(llvm::StringRef name,
                        const std::map<std::string, std::string> &values) {
  const char *file = embeddedPromptFile(name);
  if (!file)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "no prompt template " + name);
  llvm::StringRef text(file);
  static constexpr llvm::StringLiteral kSystem = "=== system ===\n",
                                       kUser = "\n=== user ===\n";
  size_t user = text.find(kUser);
  if (!text.starts_with(kSystem) || user == llvm::StringRef::npos)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "prompt template " + name +
            " must start with '=== system ===' and have '=== user ==='");
  RenderedPrompt prompt;
  auto system =
      renderTemplate(text.slice(kSystem.size(), user).rtrim(), values);
  if (!system)
    return system.takeError();
  auto userText =
      renderTemplate(text.drop_front(user + kUser.size()).rtrim(), values);
  if (!userText)
    return userText.takeError();
  prompt.system = std::move(*system);
  prompt.user = std::move(*userText);
  return prompt;
}

// emitC ends the C with a comment line and the record's one-line definition.
static constexpr llvm::StringLiteral kABIComment = "/* The ABI record";

static size_t abiRecordStart(llvm::StringRef c) {
  size_t def = c.find(std::string("SEC(\"") + bpf::kABISection + "\")");
  if (def == llvm::StringRef::npos)
    return llvm::StringRef::npos;
  size_t line = c.rfind('\n', def);
  line = line == llvm::StringRef::npos ? 0 : line + 1;
  // Take the comment line before it along.
  if (line > 0) {
    size_t prev = c.rfind('\n', line - 1);
    prev = prev == llvm::StringRef::npos ? 0 : prev + 1;
    if (c.substr(prev).starts_with(kABIComment))
      line = prev;
  }
  return line;
}

std::string sbpf::llm::stripABIRecord(llvm::StringRef c) {
  size_t start = abiRecordStart(c);
  if (start == llvm::StringRef::npos)
    return c.str();
  size_t end = c.find('\n', c.find(bpf::kABISection, start));
  std::string out = c.take_front(start).rtrim().str() + "\n";
  if (end != llvm::StringRef::npos)
    out += c.drop_front(end + 1);
  return out;
}

std::string sbpf::llm::findABIRecord(llvm::StringRef c) {
  size_t start = abiRecordStart(c);
  if (start == llvm::StringRef::npos)
    return "";
  size_t end = c.find('\n', c.find(bpf::kABISection, start));
  return c.slice(start, end == llvm::StringRef::npos ? c.size() : end + 1)
      .str();
}

std::vector<FewShotPair> sbpf::llm::buildFewShotPairs(
    const Domain &domain, const DomainOptions &options,
    mlir::DialectRegistry &registry,
    llvm::function_ref<mlir::LogicalResult(mlir::ModuleOp)> lower,
    const bpf::BackendOptions &backend, unsigned maxPairs,
    llvm::StringRef programName, llvm::StringRef programSource) {
  std::vector<FewShotPair> pairs;
  for (const FewShotExample &example : domain.fewShotExamples()) {
    if (pairs.size() >= maxPairs)
      break;
    if (example.name == programName ||
        llvm::StringRef(example.source).trim() == programSource.trim())
      continue;
    mlir::MLIRContext context(registry);
    context.loadAllAvailableDialects();
    // An example the options cannot compile (another schema, a construct the
    // backend lacks) is not a pair; its diagnostics are not the user's.
    mlir::ScopedDiagnosticHandler quiet(
        &context, [](mlir::Diagnostic &) { return mlir::success(); });
    llvm::SourceMgr sourceMgr;
    sourceMgr.AddNewSourceBuffer(
        llvm::MemoryBuffer::getMemBufferCopy(example.source,
                                             example.name + ".example"),
        llvm::SMLoc());
    mlir::OwningOpRef<mlir::ModuleOp> module =
        domain.parse(sourceMgr, context, options);
    if (!module || mlir::failed(lower(*module)))
      continue;
    std::string c;
    llvm::raw_string_ostream os(c);
    if (mlir::failed(bpf::emitC(*module, backend, os)))
      continue;
    os.flush();
    pairs.push_back(
        {example.name, example.explanation, example.source, stripABIRecord(c)});
  }
  return pairs;
}
