//===- sbpf-opt.cpp - the mlir-opt of SimpleBPF ---------------------------===//
//
// Reads a DSL source (by extension, e.g. `.appnet`) through its frontend, or
// MLIR text otherwise, runs the requested passes or pipelines, and writes
// MLIR. Frontend errors are `FILE:LINE:COL: error: ...` with exit status 1,
// and no output file is left behind on failure.
//
//===----------------------------------------------------------------------===//
#include "sbpf/Frontend/Domain.h"
#include "sbpf/InitAll.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;
namespace cl = llvm::cl;

namespace {
cl::OptionCategory sbpfCategory("SimpleBPF options");

cl::opt<std::string> inputFilename(cl::Positional, cl::desc("<input file>"),
                                   cl::init("-"), cl::cat(sbpfCategory));
cl::opt<std::string> outputFilename("o", cl::desc("Output file (default: stdout)"),
                                    cl::value_desc("filename"), cl::init("-"),
                                    cl::cat(sbpfCategory));
cl::opt<std::string> rpcSchema(
    "rpc-schema", cl::cat(sbpfCategory),
    cl::desc("Message schema (.proto subset) giving the RPC fields' types and "
             "wire layout; without it every field is a string"),
    cl::value_desc("file.proto"));
cl::opt<unsigned> stringCapacity(
    "string-capacity", cl::cat(sbpfCategory), cl::init(64),
    cl::desc("Capacity in bytes of strings whose capacity is not declared"));
cl::opt<unsigned> mapCapacity(
    "map-capacity", cl::cat(sbpfCategory), cl::init(1024),
    cl::desc("Number of entries of maps whose capacity is not declared"));
cl::opt<std::string> sourceLanguage(
    "x", cl::cat(sbpfCategory),
    cl::desc("Treat the input as this language (appnet, mlir) instead of "
             "deciding by its extension"),
    cl::value_desc("language"));
cl::opt<bool> splitInputFile(
    "split-input-file", cl::init(false), cl::cat(sbpfCategory),
    cl::desc("Split MLIR input at '// -----' and process each chunk alone"));
cl::opt<bool> verifyDiagnostics(
    "verify-diagnostics", cl::init(false), cl::cat(sbpfCategory),
    cl::desc("Check that emitted diagnostics match expected-* lines in the "
             "input"));
cl::opt<bool> verifyPasses("verify-each", cl::init(true), cl::cat(sbpfCategory),
                           cl::desc("Run the verifier after each pass"));
cl::opt<bool> allowUnregisteredDialects(
    "allow-unregistered-dialect", cl::init(false), cl::cat(sbpfCategory),
    cl::desc("Allow operations of dialects that are not registered"));
} // namespace

/// libLLVM registers hundreds of code generator flags (AMDGPU, ARM, ...) in
/// the general category; --help lists only this tool's, the pass list and
/// MLIR's printing options. --help-hidden still shows everything.
static void hideBackendOptions() {
  for (auto &entry : cl::getRegisteredOptions()) {
    cl::Option *option = entry.second;
    StringRef name = entry.first();
    bool ours = llvm::is_contained(option->Categories, &sbpfCategory);
    bool generic = option->ArgStr.empty() || // the pass list
                   name.starts_with("mlir-print") || name == "pass-pipeline" ||
                   name == "mlir-timing" || name.starts_with("help") ||
                   name == "version";
    if (ours || generic)
      continue;
    option->setHiddenFlag(cl::Hidden);
  }
}

/// Parses `path` with `domain` into netfn and returns its textual form (with
/// locations), or nothing after reporting diagnostics. With
/// -verify-diagnostics, `verified` says whether the expectations held.
static std::optional<std::string>
runFrontend(const sbpf::Domain &domain, DialectRegistry &registry,
            std::unique_ptr<llvm::MemoryBuffer> buffer, LogicalResult &verified) {
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(buffer), llvm::SMLoc());

  sbpf::DomainOptions options;
  options.eventSchemaPath = rpcSchema;
  options.defaultStringCapacity = stringCapacity;
  options.defaultMapCapacity = mapCapacity;

  OwningOpRef<ModuleOp> module;
  if (verifyDiagnostics) {
    SourceMgrDiagnosticVerifierHandler handler(sourceMgr, &context);
    module = domain.parse(sourceMgr, context, options);
    verified = handler.verify();
  } else {
    SourceMgrDiagnosticHandler handler(sourceMgr, &context);
    module = domain.parse(sourceMgr, context, options);
    verified = success();
  }
  if (!module)
    return std::nullopt;
  std::string text;
  llvm::raw_string_ostream os(text);
  module->print(os, OpPrintingFlags().enableDebugInfo(/*enable=*/true,
                                                      /*prettyForm=*/false));
  return text;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  DialectRegistry registry;
  sbpf::registerAllDialects(registry);
  sbpf::registerAllPasses();
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  registerDefaultTimingManagerCLOptions();
  PassPipelineCLParser passPipeline("", "Compiler passes to run", "p");

  auto domains = sbpf::createBuiltinDomains();
  std::string overview =
      "sbpf-opt: SimpleBPF's optimizer driver.\n\n"
      "Reads a DSL program or netfn MLIR, runs passes, writes MLIR.\n"
      "  sbpf-opt element.appnet --rpc-schema rpc.proto   print the element "
      "as netfn\n"
      "  sbpf-opt program.mlir -canonicalize              run passes on MLIR\n"
      "Languages by extension:";
  for (const auto &domain : domains)
    for (const std::string &ext : domain->fileExtensions())
      overview += " " + ext + " (" + domain->name().str() + ")";
  overview += ", anything else is MLIR.\n"
              "Errors are reported as FILE:LINE:COL: error: MESSAGE with exit "
              "status 1.\n";
  hideBackendOptions();
  cl::ParseCommandLineOptions(argc, argv, overview);

  const sbpf::Domain *domain = nullptr;
  if (!sourceLanguage.empty() && sourceLanguage != "mlir") {
    for (const auto &d : domains)
      if (d->name() == sourceLanguage)
        domain = d.get();
    if (!domain) {
      llvm::errs() << "sbpf-opt: error: unknown language '" << sourceLanguage
                   << "' for -x\n";
      return 1;
    }
  } else if (sourceLanguage.empty()) {
    domain = sbpf::findDomainForFile(domains, inputFilename);
  }

  std::string errorMessage;
  if (!rpcSchema.empty()) {
    // Checked here so the message names the option rather than a location.
    auto schema = llvm::MemoryBuffer::getFile(rpcSchema);
    if (!schema) {
      llvm::errs() << "sbpf-opt: error: cannot read --rpc-schema '" << rpcSchema
                   << "': " << schema.getError().message() << "\n";
      return 1;
    }
  }
  auto input = openInputFile(inputFilename, &errorMessage);
  if (!input) {
    llvm::errs() << "sbpf-opt: error: " << errorMessage << "\n";
    return 1;
  }

  if (domain) {
    LogicalResult verified = success();
    std::optional<std::string> text =
        runFrontend(*domain, registry, std::move(input), verified);
    if (verifyDiagnostics && (!text || failed(verified)))
      return failed(verified) ? 1 : 0;
    if (!text)
      return 1;
    input = llvm::MemoryBuffer::getMemBufferCopy(*text, inputFilename);
  }

  auto output = openOutputFile(outputFilename, &errorMessage);
  if (!output) {
    llvm::errs() << "sbpf-opt: error: " << errorMessage << "\n";
    return 1;
  }
  if (failed(MlirOptMain(output->os(), std::move(input), passPipeline,
                         registry, splitInputFile,
                         verifyDiagnostics && !domain, verifyPasses,
                         allowUnregisteredDialects,
                         /*preloadDialectsInContext=*/false,
                         /*emitBytecode=*/false, /*implicitModule=*/true)))
    return 1; // The ToolOutputFile deletes a partly written file.
  output->keep();
  return 0;
}
