//===- AppNetDomain.cpp - the AppNet frontend behind the Domain interface -===//
#include "sbpf/AppNet/AppNetDomain.h"
#include "sbpf/AppNet/EmitNetfn.h"
#include "sbpf/AppNet/Frontend.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"

namespace sbpf::appnet {
namespace {

/// The example elements given to the LLM passes (generated from
/// examples/appnet by CMake).
struct EmbeddedExample {
  const char *name;
  const char *source;
};
const EmbeddedExample kFewShot[] = {
#include "AppNetFewShot.inc"
};

/// Forwards the frontend's diagnostics to MLIR's engine, located in `file`.
void report(const DiagnosticSink &sink, llvm::StringRef file,
            mlir::MLIRContext &context) {
  for (const Diagnostic &d : sink.diagnostics()) {
    auto severity = d.severity == Severity::Error     ? mlir::DiagnosticSeverity::Error
                    : d.severity == Severity::Warning ? mlir::DiagnosticSeverity::Warning
                                                      : mlir::DiagnosticSeverity::Note;
    auto loc = mlir::FileLineColLoc::get(&context, file, d.loc.line, d.loc.col);
    context.getDiagEngine().emit(loc, severity) << d.message;
  }
}

/// A valid symbol name from a file name: `paper_fault.appnet` → paper_fault.
std::string programName(llvm::StringRef path) {
  std::string name;
  for (char c : llvm::sys::path::stem(path))
    name += std::isalnum((unsigned char)c) ? c : '_';
  if (name.empty() || std::isdigit((unsigned char)name[0]))
    name = "element_" + name;
  return name;
}

class AppNetDomain final : public Domain {
public:
  llvm::StringRef name() const override { return "appnet"; }
  std::vector<std::string> fileExtensions() const override { return {".appnet"}; }

  mlir::OwningOpRef<mlir::ModuleOp> parse(llvm::SourceMgr &sourceMgr,
                                          mlir::MLIRContext &context,
                                          const DomainOptions &options) const override {
    const llvm::MemoryBuffer *buffer =
        sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID());
    llvm::StringRef file = buffer->getBufferIdentifier();

    std::optional<Schema> schema;
    if (!options.eventSchemaPath.empty()) {
      auto text = llvm::MemoryBuffer::getFile(options.eventSchemaPath);
      if (!text) {
        mlir::emitError(mlir::UnknownLoc::get(&context))
            << "cannot read the message schema '" << options.eventSchemaPath
            << "': " << text.getError().message();
        return nullptr;
      }
      DiagnosticSink schemaDiags;
      schema = parseSchema((*text)->getBuffer(), options.defaultStringCapacity,
                           schemaDiags);
      report(schemaDiags, options.eventSchemaPath, context);
      if (!schema)
        return nullptr;
    }

    FrontendOptions frontendOptions;
    frontendOptions.schema = schema ? &*schema : nullptr;
    frontendOptions.defaultStringCapacity = options.defaultStringCapacity;
    frontendOptions.kernelTarget = options.kernelTarget;
    DiagnosticSink diags;
    std::unique_ptr<Element> element =
        parseAndCheck(buffer->getBuffer(), frontendOptions, diags);
    mlir::OwningOpRef<mlir::ModuleOp> module;
    if (element) {
      EmitOptions emitOptions;
      emitOptions.schema = frontendOptions.schema;
      emitOptions.fileName = file.str();
      emitOptions.programName = programName(file);
      emitOptions.defaultStringCapacity = options.defaultStringCapacity;
      emitOptions.defaultMapCapacity = options.defaultMapCapacity;
      emitOptions.loopBound = options.defaultLoopBound;
      module = emitNetfn(*element, emitOptions, context, diags);
    }
    report(diags, file, context);
    // Netfn that does not verify is a bug of this frontend, reported at the
    // op's source location rather than passed on.
    if (module && mlir::failed(mlir::verify(*module)))
      return nullptr;
    return module;
  }

  std::vector<FewShotExample> fewShotExamples() const override {
    std::vector<FewShotExample> examples;
    for (const EmbeddedExample &e : kFewShot) {
      // The leading comment lines of an example say what it does.
      std::string explanation;
      llvm::StringRef rest = e.source;
      while (rest.starts_with("#")) {
        auto [line, tail] = rest.split('\n');
        if (!explanation.empty())
          explanation += ' ';
        explanation += line.drop_front().trim().str();
        rest = tail;
      }
      examples.push_back({e.name, e.source, explanation});
    }
    return examples;
  }
};

} // namespace

std::unique_ptr<Domain> createAppNetDomain() { return std::make_unique<AppNetDomain>(); }

} // namespace sbpf::appnet
