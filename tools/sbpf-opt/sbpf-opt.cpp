//===- sbpf-opt.cpp - the mlir-opt of SimpleBPF ---------------------------===//
//
// Reads a DSL source (by extension, e.g. `.appnet`) through its frontend, or
// MLIR text otherwise, runs the requested passes or pipelines, and writes
// MLIR, or with --emit=c libbpf-style eBPF C and with --emit=obj an eBPF
// object the kernel verifier accepted (docs/bpf-abi.md), and with --abi-out
// its ABI record. Frontend errors are `FILE:LINE:COL: error: ...` with exit
// status 1, and no output file is left behind on failure.
//
//===----------------------------------------------------------------------===//
#include "ForwardRefCheck.h"
#include "sbpf/BPF/EmitC.h"
#include "sbpf/Checker/Check.h"
#include "sbpf/Conversion/NetfnToLLVM.h"
#include "sbpf/Runtime/CompileC.h"
#include "sbpf/Runtime/Loader.h"
#include "sbpf/Frontend/Domain.h"
#include "sbpf/LLMPasses/LLMPasses.h"
#include "sbpf/InitAll.h"
#include "sbpf/Passes/Passes.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
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
cl::opt<std::string> emitKind(
    "emit", cl::cat(sbpfCategory), cl::init("mlir"),
    cl::desc("What to write: mlir, c (libbpf-style eBPF C; docs/bpf-abi.md), "
             "llvm (the optimised LLVM IR of --backend=llvm) or obj (an eBPF "
             "object the kernel verifier accepted). Default: obj when -o "
             "ends in .o, else mlir"),
    cl::value_desc("mlir|c|llvm|obj"));
// llvm is the default since it compiles every example element, the kernel
// verifier accepts each, and unittests/bpf's behaviour tests pass on its
// objects (bpf-llvm-unittests); it needs no clang and is faster.
cl::opt<std::string> objectBackend(
    "backend", cl::cat(sbpfCategory), cl::init("llvm"),
    cl::desc("How --emit=obj makes the object: llvm (netfn lowered to the "
             "LLVM dialect and compiled by LLVM's BPF target in process, the "
             "default) or c (the C of --emit=c compiled by clang-16; always c "
             "with --llm, whose passes work on C)"),
    cl::value_desc("llvm|c"));
cl::opt<bool> noKernelVerify(
    "no-kernel-verify", cl::cat(sbpfCategory), cl::init(false),
    cl::desc("With --emit=obj, write the object without loading it into the "
             "kernel verifier first"));
cl::opt<bool> noValidate(
    "no-validate", cl::cat(sbpfCategory), cl::init(false),
    cl::desc("With --emit=obj, write the object without proving it "
             "equivalent to the netfn program first (sbpf check; "
             "docs/checker.md)"));
cl::opt<unsigned> validateTimeoutMs(
    "validate-timeout-ms", cl::cat(sbpfCategory), cl::init(60000),
    cl::desc("With --emit=obj, the checker's time limit for proving the "
             "object (default 60000; the slowest examples take 13-46 s, "
             "docs/checker.md); an object not proven in time is not "
             "written"),
    cl::value_desc("ms"));
cl::opt<std::string> hookKind(
    "hook", cl::cat(sbpfCategory), cl::init("xdp"),
    cl::desc("Attach point of the generated BPF program: xdp (default) or tc"),
    cl::value_desc("xdp|tc"));
cl::opt<unsigned> rpcPort(
    "rpc-port", cl::cat(sbpfCategory), cl::init(9000),
    cl::desc("UDP port of aRPC traffic for the generated BPF program"));
cl::opt<bool> optNone(
    "O0", cl::cat(sbpfCategory), cl::init(false),
    cl::desc("--appnet-to-bpf without netfn optimisation (only the "
             "conversion to fixed point eBPF needs, scales chosen per value "
             "range): the naive baseline. The default is the validated "
             "optimisations"));
cl::opt<std::string> abiOut(
    "abi-out", cl::cat(sbpfCategory),
    cl::desc("With --emit=c, also write the ABI record (JSON) to this file"),
    cl::value_desc("file.json"));
cl::opt<std::string> llmMode(
    "llm", cl::cat(sbpfCategory), cl::init("off"),
    cl::desc("LLM passes on the eBPF C (docs/llm.md): off (default), "
             "generate (netfn -> C), optimize (C -> smaller C) or both; a "
             "candidate is used only if clang, the kernel verifier and the "
             "checker accept it, else the rule-based C is"),
    cl::value_desc("off|generate|optimize|both"));
cl::opt<unsigned> llmRounds(
    "llm-rounds", cl::cat(sbpfCategory), cl::init(3),
    cl::desc("Rounds per LLM pass; each round's prompt carries the last "
             "failure (compiler errors, verifier log, counterexample)"));
cl::opt<unsigned> llmCandidates(
    "llm-candidates", cl::cat(sbpfCategory), cl::init(1),
    cl::desc("Candidates asked for per round"));
cl::opt<unsigned> llmExamples(
    "llm-examples", cl::cat(sbpfCategory), cl::init(2),
    cl::desc("Few-shot pairs (the domain's examples and their C) in the "
             "generation prompt"));
cl::opt<std::string> llmModel(
    "llm-model", cl::cat(sbpfCategory),
    cl::desc("Model name (default: $SBPF_LLM_MODEL); the endpoint is "
             "$SBPF_LLM_URL or $OPENAI_BASE_URL, the key $OPENAI_API_KEY"),
    cl::value_desc("name"));
cl::opt<std::string> llmCache(
    "llm-cache", cl::cat(sbpfCategory),
    cl::desc("Directory of the LLM response cache"), cl::value_desc("dir"));
cl::opt<std::string> llmCacheMode(
    "llm-cache-mode", cl::cat(sbpfCategory), cl::init("off"),
    cl::desc("off (default), record (ask the endpoint, store the answers) or "
             "replay (answers from --llm-cache only, no network)"),
    cl::value_desc("off|record|replay"));
cl::opt<unsigned> llmTimeoutMs(
    "llm-timeout-ms", cl::cat(sbpfCategory), cl::init(300000),
    cl::desc("Timeout of one request to the model, in milliseconds"));
cl::opt<unsigned> llmProgressSeconds(
    "llm-progress-seconds", cl::cat(sbpfCategory), cl::init(15),
    cl::desc("While waiting for the model, say so this often (0: never)"));
cl::opt<std::string> reportFile(
    "report", cl::cat(sbpfCategory),
    cl::desc("Write a JSON report of the LLM passes (every round) to this "
             "file"),
    cl::value_desc("file.json"));
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

static sbpf::DomainOptions domainOptions() {
  sbpf::DomainOptions options;
  options.eventSchemaPath = rpcSchema;
  options.defaultStringCapacity = stringCapacity;
  options.defaultMapCapacity = mapCapacity;
  return options;
}

/// --emit=mlir: parses `path` with `domain` into netfn and returns its
/// textual form (with locations) for MlirOptMain, or nothing after reporting
/// diagnostics. With -verify-diagnostics, `verified` says whether the
/// expectations held. (--emit=c|llvm|obj runs the frontend in emitBPFMain's
/// context instead.)
static std::optional<std::string>
runFrontend(const sbpf::Domain &domain, DialectRegistry &registry,
            std::unique_ptr<llvm::MemoryBuffer> buffer, LogicalResult &verified) {
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(buffer), llvm::SMLoc());

  sbpf::DomainOptions options = domainOptions();
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

/// Writes `bytes` to `path` only when everything succeeded: a failed run
/// leaves no output file behind.
static bool writeOutput(llvm::StringRef path, llvm::StringRef bytes) {
  std::string errorMessage;
  auto output = openOutputFile(path, &errorMessage);
  if (!output) {
    llvm::errs() << "sbpf-opt: error: " << errorMessage << "\n";
    return false;
  }
  output->os() << bytes;
  output->keep();
  return true;
}

/// clang-16 compiles the generated C to an eBPF object (in memory): how
/// --emit=obj --backend=c makes objects.
static std::optional<std::string> compileC(llvm::StringRef cSource,
                                           llvm::StringRef programName,
                                           TimingScope &timing) {
  TimingScope clangTiming = timing.nest("clang-16");
  sbpf::runtime::CompiledC compiled =
      sbpf::runtime::compileBPFC(cSource, programName);
  if (compiled.ok)
    return std::move(compiled.object);
  llvm::errs() << "sbpf-opt: error: clang-16 failed on the generated eBPF C "
                  "(a compiler bug; --emit=c shows the C): "
               << compiled.error << "\n"
               << compiled.diagnostics << "\n";
  return std::nullopt;
}

/// Loads the object into the kernel verifier. Our own output being rejected
/// is a compiler bug: report it with the log. Without permission to load
/// BPF, say that the object was not verified.
static bool kernelVerify(llvm::StringRef object, llvm::StringRef name,
                         TimingScope &timing) {
  using sbpf::runtime::KernelVerdict;
  TimingScope verifyTiming = timing.nest("kernel verifier");
  KernelVerdict verdict = sbpf::runtime::kernelVerifyObject(
      llvm::ArrayRef<uint8_t>((const uint8_t *)object.data(), object.size()),
      name);
  switch (verdict.kind) {
  case KernelVerdict::Accepted:
    return true;
  case KernelVerdict::NotChecked:
    llvm::errs() << "sbpf-opt: warning: the object was not checked by the "
                    "kernel verifier: "
                 << verdict.message << "\n";
    return true;
  case KernelVerdict::Rejected:
    llvm::errs() << "sbpf-opt: error: the kernel verifier rejected program '"
                 << verdict.program
                 << "' of the generated object; this is a compiler bug, "
                    "please report it with this log:\n"
                 << verdict.log << "\n";
    return false;
  case KernelVerdict::Error:
    llvm::errs() << "sbpf-opt: error: loading the generated object: "
                 << verdict.message << "\n";
    return false;
  }
  return false;
}

/// The source as written, and the domain whose examples go into the LLM's
/// prompts (the input's, else the first built-in one for MLIR input).
struct LLMSource {
  const sbpf::Domain *domain = nullptr;
  std::string text;
};

/// What the LLM passes chose: its C replaces the rule-based C; its object,
/// when they compiled one, is clang's object of that C, which the kernel
/// verifier accepted (and, when `proven`, the checker proved equivalent).
struct LLMChoice {
  std::string object;
  bool proven = false;
};

/// --llm / --report: runs the LLM passes on the rule-based C `cSource` and
/// replaces it with what they chose (the rule-based C when nothing was
/// proven). Progress and a summary go to stderr, the rounds to --report.
static bool runLLMPasses(ModuleOp module, DialectRegistry &registry,
                         PassPipelineCLParser &passPipeline,
                         const sbpf::bpf::BackendOptions &backend,
                         const sbpf::bpf::ProgramABI &abi,
                         const LLMSource &source, std::string &cSource,
                         LLMChoice &choice) {
  namespace sl = sbpf::llm;
  sl::LLMOptions options;
  options.mode = *sl::parseLLMMode(llmMode);
  options.rounds = llmRounds;
  options.candidates = llmCandidates;
  options.heartbeatSeconds = llmProgressSeconds;
  sl::ConfigFlags flags;
  if (!llmModel.empty())
    flags.model = llmModel;
  if (!llmCache.empty())
    flags.cacheDir = llmCache;
  flags.cacheMode = sl::parseCacheMode(std::string(llmCacheMode));
  flags.timeoutMs = llmTimeoutMs;
  options.client = sl::resolveConfig(flags);
  options.progress = [](const std::string &line) {
    llvm::errs() << "sbpf-opt: " << line << "\n";
  };
  options.client.log = options.progress;

  sl::LLMInput input;
  input.program = *module.getOps<sbpf::netfn::ProgramOp>().begin();
  input.domainName = source.domain ? source.domain->name().str() : "netfn";
  input.dslSource = source.text;
  input.backend = backend;
  input.abi = abi;
  input.ruleC = cSource;
  if (options.mode == sl::LLMMode::Generate ||
      options.mode == sl::LLMMode::Both) {
    if (source.domain) {
      auto lower = [&](ModuleOp example) -> LogicalResult {
        PassManager pm(example.getContext());
        auto onError = [&](const Twine &msg) {
          return emitError(UnknownLoc::get(example.getContext())) << msg;
        };
        if (failed(passPipeline.addToPipeline(pm, onError)))
          return failure();
        return pm.run(example);
      };
      input.examples = sl::buildFewShotPairs(
          *source.domain, domainOptions(), registry, lower, backend,
          llmExamples, input.program.getSymName(), source.text);
    }
  }
  sl::LLMOutcome outcome = sl::runLLMPasses(input, options);
  if (options.mode != sl::LLMMode::Off) {
    llvm::SmallVector<llvm::StringRef> lines;
    std::string summary = sl::summarizeOutcome(outcome);
    llvm::StringRef(summary).rtrim('\n').split(lines, '\n');
    for (llvm::StringRef line : lines)
      llvm::errs() << "sbpf-opt: " << line << "\n";
  }
  if (!reportFile.empty()) {
    std::string json;
    llvm::raw_string_ostream os(json);
    sl::writeLLMReport(outcome, options, os);
    if (!writeOutput(reportFile, os.str()))
      return false;
  }
  cSource = std::move(outcome.cProgram);
  choice.object = std::move(outcome.object);
  choice.proven = outcome.proven;
  return true;
}

/// Translation validation of our own output: the object must be proven
/// equivalent to the netfn program it was compiled from, else it is not
/// written (a counterexample is a compiler bug; unknown is refused too, so
/// that nothing unproven is written by default).
static bool validateObject(ModuleOp module, llvm::StringRef object,
                           const sbpf::bpf::ProgramABI &abi,
                           TimingScope &timing) {
  if (noValidate) {
    llvm::errs() << "sbpf-opt: note: --no-validate: the object was not "
                    "proven equivalent to its netfn program\n";
    return true;
  }
  TimingScope validateTiming = timing.nest("validation (checker)");
  sbpf::netfn::ProgramOp program;
  module.walk([&](sbpf::netfn::ProgramOp p) { program = p; });
  sbpf::checker::CheckOptions options;
  options.timeoutMs = validateTimeoutMs;
  options.budgetOption = "--validate-timeout-ms";
  auto report = sbpf::checker::checkObject(
      program,
      llvm::ArrayRef<uint8_t>((const uint8_t *)object.data(), object.size()),
      &abi, options);
  using R = sbpf::checker::CheckReport;
  if (report.status == R::Proven)
    return true;
  llvm::errs() << "sbpf-opt: error: the generated object was not proven "
                  "equivalent to the netfn program (--no-validate writes it "
                  "anyway): ";
  if (report.status == R::Different)
    llvm::errs() << "a compiler bug, please report it with this "
                    "counterexample:\n"
                 << report.counterexample.text;
  else
    llvm::errs() << report.reason << "\n";
  return false;
}

/// --emit=c|obj: parses the (frontend's) MLIR, runs the requested passes and
/// writes the program as eBPF C or as a kernel-verified object (and the ABI
/// record with --abi-out). Errors are located at the op; no output file is
/// left behind on failure.
static int emitBPFMain(DialectRegistry &registry,
                       std::unique_ptr<llvm::MemoryBuffer> input,
                       PassPipelineCLParser &passPipeline,
                       const sbpf::bpf::BackendOptions &backend,
                       const sbpf::Domain *domain, const LLMSource &llmSource,
                       TimingScope &timing) {
  TimingScope contextTiming = timing.nest("MLIR context");
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  contextTiming.stop();
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(input), llvm::SMLoc());
  SourceMgrDiagnosticHandler handler(sourceMgr, &context);
  OwningOpRef<ModuleOp> module;
  if (domain) {
    // The frontend's module goes on in this context as it is (--emit=mlir
    // prints it and parses it again for MlirOptMain): one MLIR context per
    // compile, no netfn text printed and parsed.
    TimingScope frontendTiming = timing.nest("frontend: parse, check, netfn");
    module = domain->parse(sourceMgr, context, domainOptions());
  } else {
    TimingScope parseTiming = timing.nest("parse netfn");
    context.allowUnregisteredDialects(allowUnregisteredDialects);
    if (!sbpf::checkForwardReferences(sourceMgr))
      return 1;
    module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  }
  context.allowUnregisteredDialects(allowUnregisteredDialects);
  context.printOpOnDiagnostic(false);
  if (!module || failed(verify(*module)))
    return 1;
  PassManager pm(&context);
  TimingScope passTiming = timing.nest("passes");
  pm.enableTiming(passTiming);
  auto errorHandler = [&](const Twine &msg) {
    return emitError(UnknownLoc::get(&context)) << msg;
  };
  if (failed(passPipeline.addToPipeline(pm, errorHandler)) ||
      failed(pm.run(*module)))
    return 1;
  passTiming.stop();
  std::string text;
  llvm::raw_string_ostream os(text);
  sbpf::bpf::ProgramABI abi;
  // The LLM passes read and write C, so with --llm (or --report) the object
  // is the C's (clang-16), whichever --backend says.
  bool useLLM = llmMode != "off" || !reportFile.empty();
  bool llvmPath = emitKind == "llvm" ||
                  (emitKind == "obj" && objectBackend == "llvm" && !useLLM);
  if (llvmPath) {
    // The object path without clang (passes/lib/Conversion). The lowering
    // rewrites the module in place; validation needs the netfn program.
    TimingScope lowerTiming = timing.nest("lowering to the LLVM dialect");
    OwningOpRef<ModuleOp> netfnModule = module->clone();
    if (failed(sbpf::lowerNetfnToLLVM(*module, backend, &abi)))
      return 1;
    lowerTiming.stop();
    TimingScope objectTiming = timing.nest("LLVM IR and BPF object");
    if (failed(sbpf::translateToBPFObject(*module, text,
                                          emitKind == "llvm" ? &os : nullptr)))
      return 1;
    objectTiming.stop();
    if (emitKind == "obj" &&
        ((!noKernelVerify && !kernelVerify(text, outputFilename, timing)) ||
         !validateObject(*netfnModule, text, abi, timing)))
      return 1;
  } else {
    TimingScope cTiming = timing.nest("eBPF C");
    if (failed(sbpf::bpf::emitC(*module, backend, os, &abi)))
      return 1;
  }
  os.flush();
  std::string bytes = std::move(text);
  LLMChoice llm;
  if (useLLM && !llvmPath) {
    TimingScope llmTiming = timing.nest("LLM passes");
    if (!runLLMPasses(*module, registry, passPipeline, backend, abi, llmSource,
                      bytes, llm))
      return 1;
  }
  if (emitKind == "obj" && !llvmPath) {
    std::optional<std::string> object;
    if (!llm.object.empty()) {
      // The LLM passes compiled this C and the kernel verifier accepted it
      // (they require Accepted, stricter than kernelVerify): neither is
      // done again.
      object = std::move(llm.object);
    } else {
      auto programs = module->getOps<sbpf::netfn::ProgramOp>();
      llvm::StringRef name =
          programs.empty() ? "program" : (*programs.begin()).getSymName();
      object = compileC(bytes, name, timing);
      if (!object ||
          (!noKernelVerify && !kernelVerify(*object, outputFilename, timing)))
        return 1;
    }
    // An accepted LLM candidate was proven equivalent to this very program
    // (same netfn program, ABI record and object bytes) by the LLM passes'
    // gate: proven once. Everything else is proven here.
    if (!llm.proven && !validateObject(*module, *object, abi, timing))
      return 1;
    bytes = std::move(*object);
  }
  TimingScope writeTiming = timing.nest("write output");
  if (!abiOut.empty()) {
    std::string json;
    llvm::raw_string_ostream jsonOs(json);
    sbpf::bpf::writeABIJson(abi, jsonOs);
    if (!writeOutput(abiOut, jsonOs.str()))
      return 1;
  }
  return writeOutput(outputFilename, bytes) ? 0 : 1;
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
      "  sbpf-opt element.appnet --rpc-schema rpc.proto --emit=c -o el.bpf.c "
      "[--abi-out el.json]\n"
      "                                                   eBPF C for clang "
      "-target bpf\n"
      "  sbpf-opt element.appnet --rpc-schema rpc.proto --appnet-to-bpf "
      "--llm=both --report r.json -o el.bpf.o\n"
      "                                                   ask a model too; "
      "used only if proven (docs/llm.md)\n"
      "Languages by extension:";
  for (const auto &domain : domains)
    for (const std::string &ext : domain->fileExtensions())
      overview += " " + ext + " (" + domain->name().str() + ")";
  overview += ", anything else is MLIR.\n"
              "Errors are reported as FILE:LINE:COL: error: MESSAGE with exit "
              "status 1.\n";
  hideBackendOptions();
  cl::ParseCommandLineOptions(argc, argv, overview);

  sbpf::setAppNetToBPFOptLevel(optNone ? 0 : 2);
  sbpf::bpf::BackendOptions backend;
  if (!emitKind.getNumOccurrences() && llvm::StringRef(outputFilename).ends_with(".o"))
    emitKind = "obj"; // cli.md: the default follows -o.
  if (emitKind != "mlir" && emitKind != "c" && emitKind != "llvm" &&
      emitKind != "obj") {
    llvm::errs() << "sbpf-opt: error: unknown --emit='" << emitKind
                 << "' (expected mlir, c, llvm or obj)\n";
    return 1;
  }
  if (objectBackend != "c" && objectBackend != "llvm") {
    llvm::errs() << "sbpf-opt: error: unknown --backend='" << objectBackend
                 << "' (expected c or llvm)\n";
    return 1;
  }
  if (emitKind == "obj" && outputFilename == "-") {
    llvm::errs() << "sbpf-opt: error: --emit=obj writes a binary object: "
                    "give -o FILE.o\n";
    return 1;
  }
  if (hookKind == "xdp")
    backend.hook = sbpf::bpf::Hook::XDP;
  else if (hookKind == "tc")
    backend.hook = sbpf::bpf::Hook::TC;
  else {
    llvm::errs() << "sbpf-opt: error: unknown --hook='" << hookKind
                 << "' (expected xdp or tc)\n";
    return 1;
  }
  if (rpcPort == 0 || rpcPort > 65535) {
    llvm::errs() << "sbpf-opt: error: --rpc-port must be 1..65535\n";
    return 1;
  }
  backend.rpcPort = uint16_t(rpcPort);
  if (validateTimeoutMs == 0) {
    llvm::errs() << "sbpf-opt: error: --validate-timeout-ms must be at least "
                    "1 (--no-validate skips the proof)\n";
    return 1;
  }
  if (!abiOut.empty() && emitKind == "mlir") {
    llvm::errs() << "sbpf-opt: error: --abi-out needs --emit=c or --emit=obj\n";
    return 1;
  }
  if (emitKind != "mlir" && (splitInputFile || verifyDiagnostics)) {
    llvm::errs() << "sbpf-opt: error: --emit=" << emitKind
                 << " does not combine with --split-input-file or "
                    "--verify-diagnostics\n";
    return 1;
  }

  if (!sbpf::llm::parseLLMMode(llmMode)) {
    llvm::errs() << "sbpf-opt: error: unknown --llm='" << llmMode
                 << "' (expected off, generate, optimize or both)\n";
    return 1;
  }
  if (!sbpf::llm::parseCacheMode(std::string(llmCacheMode))) {
    llvm::errs() << "sbpf-opt: error: unknown --llm-cache-mode='"
                 << llmCacheMode << "' (expected off, record or replay)\n";
    return 1;
  }
  if ((llmMode != "off" || !reportFile.empty()) &&
      (emitKind == "mlir" || emitKind == "llvm")) {
    llvm::errs() << "sbpf-opt: error: --llm and --report need --emit=c or "
                    "--emit=obj\n";
    return 1;
  }

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

  // --mlir-timing: with --emit=c|llvm|obj every stage from here on (the
  // MLIR context, the frontend, the passes one by one, the backend, the
  // kernel verifier, validation, the LLM passes); with --emit=mlir
  // MlirOptMain times the passes itself. Process start-up (before main) is
  // not in the report.
  DefaultTimingManager timingManager;
  applyDefaultTimingManagerCLOptions(timingManager);
  if (emitKind == "mlir")
    timingManager.setEnabled(false);
  TimingScope timing = timingManager.getRootScope();

  LLMSource llmSource{domain ? domain : domains.front().get(),
                      domain ? input->getBuffer().str() : ""};
  if (emitKind != "mlir")
    return emitBPFMain(registry, std::move(input), passPipeline, backend,
                       domain, llmSource, timing);

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

  if (!domain) {
    // MLIR text: refused before MlirOptMain parses it when MLIR 16's parser
    // could corrupt memory on it (ForwardRefCheck.cpp).
    llvm::SourceMgr sourceMgr;
    sourceMgr.AddNewSourceBuffer(
        llvm::MemoryBuffer::getMemBuffer(input->getMemBufferRef(), false),
        llvm::SMLoc());
    if (!sbpf::checkForwardReferences(sourceMgr))
      return 1;
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
