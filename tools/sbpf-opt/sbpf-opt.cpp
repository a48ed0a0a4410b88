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
#include "sbpf/BPF/EmitC.h"
#include "sbpf/Checker/Check.h"
#include "sbpf/Runtime/Loader.h"
#include "sbpf/Frontend/Domain.h"
#include "sbpf/InitAll.h"

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
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
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
    cl::desc("What to write: mlir, c (libbpf-style eBPF C; docs/bpf-abi.md) "
             "or obj (an eBPF object the kernel verifier accepted). Default: "
             "obj when -o ends in .o, else mlir"),
    cl::value_desc("mlir|c|obj"));
cl::opt<bool> noKernelVerify(
    "no-kernel-verify", cl::cat(sbpfCategory), cl::init(false),
    cl::desc("With --emit=obj, write the object without loading it into the "
             "kernel verifier first"));
cl::opt<bool> noValidate(
    "no-validate", cl::cat(sbpfCategory), cl::init(false),
    cl::desc("With --emit=obj, write the object without proving it "
             "equivalent to the netfn program first (sbpf check; "
             "docs/checker.md)"));
cl::opt<std::string> hookKind(
    "hook", cl::cat(sbpfCategory), cl::init("xdp"),
    cl::desc("Attach point of the generated BPF program: xdp (default) or tc"),
    cl::value_desc("xdp|tc"));
cl::opt<unsigned> rpcPort(
    "rpc-port", cl::cat(sbpfCategory), cl::init(9000),
    cl::desc("UDP port of aRPC traffic for the generated BPF program"));
cl::opt<std::string> abiOut(
    "abi-out", cl::cat(sbpfCategory),
    cl::desc("With --emit=c, also write the ABI record (JSON) to this file"),
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

/// clang-16 compiles the generated C to an eBPF object (in memory). Until the
/// in-process LLVM lowering lands, this is how --emit=obj makes objects.
static std::optional<std::string> compileC(llvm::StringRef cSource,
                                           llvm::StringRef programName) {
  auto clang = llvm::sys::findProgramByName("clang-16");
  if (!clang)
    clang = llvm::sys::findProgramByName("clang", {"/usr/lib/llvm-16/bin"});
  if (!clang) {
    llvm::errs() << "sbpf-opt: error: clang-16 is needed for --emit=obj "
                    "(apt-get install clang-16)\n";
    return std::nullopt;
  }
  // A fixed file name in a private directory, mapped to "." in the debug
  // info, so the same element always gives the same object bytes.
  llvm::SmallString<128> dir, cPath, objPath, logPath;
  if (llvm::sys::fs::createUniqueDirectory("sbpf", dir)) {
    llvm::errs() << "sbpf-opt: error: cannot create a temporary directory\n";
    return std::nullopt;
  }
  (cPath = dir) += "/" + programName.str() + ".bpf.c";
  (objPath = dir) += "/out.o";
  (logPath = dir) += "/clang.log";
  llvm::FileRemover removeC(cPath), removeObj(objPath), removeLog(logPath);
  struct RemoveDir {
    llvm::SmallString<128> &dir;
    ~RemoveDir() { llvm::sys::fs::remove(dir); }
  } removeDir{dir};
  std::string prefixMap = ("-ffile-prefix-map=" + dir + "=.").str();
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(cPath, ec);
    os << cSource;
  }
  llvm::SmallVector<llvm::StringRef> args = {
      *clang, "-O2", "-g", "-target", "bpf", "-mcpu=v3",
      "-I/usr/include/x86_64-linux-gnu", prefixMap, "-fdebug-compilation-dir=.",
      "-c", cPath, "-o", objPath};
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, logPath, logPath};
  std::string execError;
  int rc = llvm::sys::ExecuteAndWait(*clang, args, std::nullopt, redirects, 0,
                                     0, &execError);
  if (rc != 0) {
    auto log = llvm::MemoryBuffer::getFile(logPath);
    llvm::errs() << "sbpf-opt: error: clang-16 failed on the generated eBPF C "
                    "(a compiler bug; --emit=c shows the C): "
                 << (execError.empty() ? "" : execError + "\n")
                 << (log ? (*log)->getBuffer() : "") << "\n";
    return std::nullopt;
  }
  auto object = llvm::MemoryBuffer::getFile(objPath, /*IsText=*/false);
  if (!object) {
    llvm::errs() << "sbpf-opt: error: cannot read clang's object\n";
    return std::nullopt;
  }
  return (*object)->getBuffer().str();
}

/// Loads the object into the kernel verifier. Our own output being rejected
/// is a compiler bug: report it with the log. Without permission to load
/// BPF, say that the object was not verified.
static bool kernelVerify(llvm::StringRef object, llvm::StringRef name) {
  using namespace sbpf::runtime;
  if (auto err = probeProgramLoad()) {
    llvm::errs() << "sbpf-opt: warning: the object was not checked by the "
                    "kernel verifier: "
                 << llvm::toString(std::move(err)) << "\n";
    return true;
  }
  auto file = ObjectFile::fromBytes(
      llvm::ArrayRef<uint8_t>((const uint8_t *)object.data(), object.size()),
      name.str());
  if (!file) {
    llvm::errs() << "sbpf-opt: error: " << llvm::toString(file.takeError()) << "\n";
    return false;
  }
  auto loaded = loadObject(*file);
  if (loaded)
    return true;
  bool ok = true;
  llvm::handleAllErrors(
      loaded.takeError(),
      [&](const VerifierRejection &rejection) {
        llvm::errs() << "sbpf-opt: error: the kernel verifier rejected program '"
                     << rejection.program
                     << "' of the generated object; this is a compiler bug, "
                        "please report it with this log:\n"
                     << rejection.verifierLog << "\n";
        ok = false;
      },
      [&](const llvm::ErrorInfoBase &e) {
        llvm::errs() << "sbpf-opt: error: loading the generated object: "
                     << e.message() << "\n";
        ok = false;
      });
  return ok;
}

/// Translation validation of our own output: the object must be proven
/// equivalent to the netfn program it was compiled from, else it is not
/// written (a counterexample is a compiler bug; unknown is refused too, so
/// that nothing unproven is written by default).
static bool validateObject(ModuleOp module, llvm::StringRef object,
                           const sbpf::bpf::ProgramABI &abi) {
  if (noValidate) {
    llvm::errs() << "sbpf-opt: note: --no-validate: the object was not "
                    "proven equivalent to its netfn program\n";
    return true;
  }
  sbpf::netfn::ProgramOp program;
  module.walk([&](sbpf::netfn::ProgramOp p) { program = p; });
  sbpf::checker::CheckOptions options;
  options.timeoutMs = 60000; // string-keyed maps take ~25 s (docs/checker.md)
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
                       bool fromFrontend) {
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  context.allowUnregisteredDialects(allowUnregisteredDialects);
  context.printOpOnDiagnostic(false);
  llvm::SourceMgr sourceMgr;
  if (fromFrontend) // locations name the DSL file, not this MLIR text
    input = llvm::MemoryBuffer::getMemBufferCopy(input->getBuffer(),
                                                 "<netfn from frontend>");
  sourceMgr.AddNewSourceBuffer(std::move(input), llvm::SMLoc());
  SourceMgrDiagnosticHandler handler(sourceMgr, &context);
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module || failed(verify(*module)))
    return 1;
  PassManager pm(&context);
  auto errorHandler = [&](const Twine &msg) {
    return emitError(UnknownLoc::get(&context)) << msg;
  };
  if (failed(passPipeline.addToPipeline(pm, errorHandler)) ||
      failed(pm.run(*module)))
    return 1;
  std::string text;
  llvm::raw_string_ostream os(text);
  sbpf::bpf::ProgramABI abi;
  if (failed(sbpf::bpf::emitC(*module, backend, os, &abi)))
    return 1;
  os.flush();
  std::string bytes = std::move(text);
  if (emitKind == "obj") {
    auto programs = module->getOps<sbpf::netfn::ProgramOp>();
    llvm::StringRef name =
        programs.empty() ? "program" : (*programs.begin()).getSymName();
    std::optional<std::string> object = compileC(bytes, name);
    if (!object || (!noKernelVerify && !kernelVerify(*object, outputFilename)))
      return 1;
    if (!validateObject(*module, *object, abi))
      return 1;
    bytes = std::move(*object);
  }
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
      "Languages by extension:";
  for (const auto &domain : domains)
    for (const std::string &ext : domain->fileExtensions())
      overview += " " + ext + " (" + domain->name().str() + ")";
  overview += ", anything else is MLIR.\n"
              "Errors are reported as FILE:LINE:COL: error: MESSAGE with exit "
              "status 1.\n";
  hideBackendOptions();
  cl::ParseCommandLineOptions(argc, argv, overview);

  sbpf::bpf::BackendOptions backend;
  if (!emitKind.getNumOccurrences() && llvm::StringRef(outputFilename).ends_with(".o"))
    emitKind = "obj"; // cli.md: the default follows -o.
  if (emitKind != "mlir" && emitKind != "c" && emitKind != "obj") {
    llvm::errs() << "sbpf-opt: error: unknown --emit='" << emitKind
                 << "' (expected mlir, c or obj)\n";
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

  if (emitKind != "mlir")
    return emitBPFMain(registry, std::move(input), passPipeline, backend,
                       domain != nullptr);

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
