//===- CompileC.cpp - eBPF C to a kernel-verified object ------------------===//
//
// clang-16 as a subprocess (llvm::sys::ExecuteAndWait: no shell, arguments
// passed as they are) in a private temporary directory that is removed
// afterwards, and the kernel verifier through the runtime's loader. Moved
// here from sbpf-opt so that the LLM passes check candidates the same way
// --emit=obj checks the rule-based C.
//
//===----------------------------------------------------------------------===//
#include "sbpf/Runtime/CompileC.h"
#include "sbpf/Runtime/Loader.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

using namespace sbpf::runtime;

CompiledC sbpf::runtime::compileBPFC(llvm::StringRef cSource,
                                     llvm::StringRef programName) {
  CompiledC result;
  auto clang = llvm::sys::findProgramByName("clang-16");
  if (!clang)
    clang = llvm::sys::findProgramByName("clang", {"/usr/lib/llvm-16/bin"});
  if (!clang) {
    result.error = "clang-16 is needed to compile eBPF C (apt-get install "
                   "clang-16)";
    return result;
  }
  // A fixed file name in a private directory, mapped to "." in the debug
  // info, so the same C always gives the same object bytes.
  llvm::SmallString<128> dir, cPath, objPath, logPath;
  if (llvm::sys::fs::createUniqueDirectory("sbpf", dir)) {
    result.error = "cannot create a temporary directory";
    return result;
  }
  // The name becomes a file name: only identifier characters, so that no
  // name can reach outside the private directory.
  std::string fileName = programName.empty() ? "program" : programName.str();
  for (char &ch : fileName)
    if (!llvm::isAlnum(ch) && ch != '_')
      ch = '_';
  (cPath = dir) += "/" + fileName + ".bpf.c";
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
    if (ec) {
      result.error = "cannot write " + cPath.str().str() + ": " + ec.message();
      return result;
    }
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
  if (auto log = llvm::MemoryBuffer::getFile(logPath)) {
    // Name the file as the debug info does, without the random directory:
    // the same C gets the same diagnostics (the LLM passes feed them back,
    // and a replayed run must send the same prompts).
    llvm::StringRef text = (*log)->getBuffer();
    std::string prefix = (dir + "/").str();
    for (size_t at; (at = text.find(prefix)) != llvm::StringRef::npos;
         text = text.drop_front(at + prefix.size()))
      result.diagnostics += text.take_front(at);
    result.diagnostics += text;
  }
  if (rc != 0) {
    result.error = execError.empty()
                       ? "clang-16 exited with status " + std::to_string(rc)
                       : execError;
    return result;
  }
  auto object = llvm::MemoryBuffer::getFile(objPath, /*IsText=*/false);
  if (!object) {
    result.error = "cannot read clang's object";
    return result;
  }
  result.object = (*object)->getBuffer().str();
  result.ok = true;
  return result;
}

KernelVerdict sbpf::runtime::kernelVerifyObject(llvm::ArrayRef<uint8_t> object,
                                                llvm::StringRef name) {
  KernelVerdict verdict;
  if (auto err = probeProgramLoad()) {
    verdict.kind = KernelVerdict::NotChecked;
    verdict.message = llvm::toString(std::move(err));
    return verdict;
  }
  auto file = ObjectFile::fromBytes(object, name);
  if (!file) {
    verdict.message = llvm::toString(file.takeError());
    return verdict;
  }
  auto loaded = loadObject(*file);
  if (loaded) {
    verdict.kind = KernelVerdict::Accepted;
    for (const LoadedProgram &program : loaded->programs())
      verdict.insns += program.insns;
    return verdict;
  }
  llvm::handleAllErrors(
      loaded.takeError(),
      [&](const VerifierRejection &rejection) {
        verdict.kind = KernelVerdict::Rejected;
        verdict.program = rejection.program;
        verdict.log = rejection.verifierLog;
        verdict.message = rejection.message();
      },
      [&](const llvm::ErrorInfoBase &e) { verdict.message = e.message(); });
  return verdict;
}
