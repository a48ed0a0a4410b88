//===- BPFObject.cpp - LLVM dialect to an eBPF ELF object, in process -----===//
//
// The second half of the object path without clang: the LLVM dialect module
// made by lowerNetfnToLLVM is translated to LLVM IR, given the debug info
// the BPF backend turns into BTF, optimised with LLVM's -O2 pipeline (with
// the BPF target's own IR passes, as clang runs them) and compiled by the BPF
// target machine (cpu v3) into an ELF object in memory.
//
// BTF is what lets libbpf load the object as it is: BTF-defined maps follow
// libbpf's convention (`struct { __uint(type, T); __type(key, K); ... } m
// SEC(".maps")`, i.e. a struct whose members are pointers, `__uint(n, v)`
// being `int (*n)[v]` and `__type(n, T)` being `T *n`), read off what
// `clang-16 -g -O2 -target bpf -S -emit-llvm` emits for the C backend's
// output, the way bpftrace builds its maps with DIBuilder. The global data
// struct and the program get debug info too (a BTF DATASEC for `.data`, a
// BTF FUNC for the program).
//
//===----------------------------------------------------------------------===//
#include "sbpf/Conversion/NetfnToLLVM.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/IR/DIBuilder.h"
#include "llvm/IR/DiagnosticInfo.h"
#include "llvm/IR/DiagnosticPrinter.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"

#include <mutex>

using namespace mlir;

namespace {

/// BPF_MAP_TYPE_* values (include/uapi/linux/bpf.h).
int64_t mapTypeValue(llvm::StringRef name) {
  return llvm::StringSwitch<int64_t>(name)
      .Case("BPF_MAP_TYPE_HASH", 1)
      .Case("BPF_MAP_TYPE_ARRAY", 2)
      .Case("BPF_MAP_TYPE_PERCPU_ARRAY", 6)
      .Case("BPF_MAP_TYPE_RINGBUF", 27)
      .Default(-1);
}

class DebugInfo {
public:
  DebugInfo(llvm::Module &m, llvm::StringRef fileName)
      : module(m), di(m) {
    file = di.createFile(fileName, ".");
    cu = di.createCompileUnit(llvm::dwarf::DW_LANG_C99, file, "sbpf-opt",
                              /*isOptimized=*/true, "", 0);
    intTy = di.createBasicType("int", 32, llvm::dwarf::DW_ATE_signed);
    charTy = di.createBasicType("char", 8, llvm::dwarf::DW_ATE_signed_char);
  }

  /// `int (*name)[value]`: libbpf reads `value` off the array's size.
  llvm::DIDerivedType *uintMember(llvm::StringRef name, int64_t value,
                                  uint64_t offsetBits) {
    llvm::Metadata *sub = di.getOrCreateSubrange(0, value);
    auto *arr = di.createArrayType(uint64_t(value) * 32, 32, intTy,
                                   di.getOrCreateArray({sub}));
    auto *p = di.createPointerType(arr, 64);
    return member(name, p, offsetBits);
  }
  /// `T *name`: libbpf takes the key/value size from T.
  llvm::DIDerivedType *typeMember(llvm::StringRef name, llvm::DIType *t,
                                  uint64_t offsetBits) {
    return member(name, di.createPointerType(t, 64), offsetBits);
  }

  /// An unsigned integer of `bytes` (1, 2, 4, 8) or a byte array.
  llvm::DIType *bytesType(uint64_t bytes) {
    switch (bytes) {
    case 1:
      return base("__u8", 8);
    case 2:
      return base("__u16", 16);
    case 4:
      return base("__u32", 32);
    case 8:
      return base("__u64", 64);
    default:
      return byteArray(bytes);
    }
  }
  llvm::DIType *byteArray(uint64_t bytes) {
    llvm::Metadata *sub = di.getOrCreateSubrange(0, int64_t(bytes));
    return di.createArrayType(bytes * 8, 8, base("__u8", 8),
                              di.getOrCreateArray({sub}));
  }
  llvm::DIType *charArray(uint64_t n) {
    llvm::Metadata *sub = di.getOrCreateSubrange(0, int64_t(n));
    return di.createArrayType(n * 8, 8, charTy, di.getOrCreateArray({sub}));
  }

  llvm::DICompositeType *structType(llvm::StringRef name, uint64_t sizeBits,
                                    llvm::ArrayRef<llvm::Metadata *> members) {
    return di.createStructType(cu, name, file, 0, sizeBits, 64,
                               llvm::DINode::FlagZero, nullptr,
                               di.getOrCreateArray(members));
  }

  void global(llvm::GlobalVariable *g, llvm::DIType *t) {
    auto *expr = di.createGlobalVariableExpression(
        cu, g->getName(), "", file, 0, t, /*isLocalToUnit=*/false);
    g->addDebugInfo(expr);
  }

  void function(llvm::Function *f) {
    // int NAME(void *ctx): the context's type is not needed for loading.
    auto *voidPtr = di.createPointerType(nullptr, 64);
    auto *fnTy = di.createSubroutineType(di.getOrCreateTypeArray({intTy, voidPtr}));
    auto *sp = di.createFunction(cu, f->getName(), "", file, 1, fnTy, 1,
                                 llvm::DINode::FlagPrototyped,
                                 llvm::DISubprogram::SPFlagDefinition |
                                     llvm::DISubprogram::SPFlagOptimized);
    // The kernel refuses a BTF FUNC whose parameters have no names (BTF
    // takes them from the subprogram's retained argument variables).
    di.createParameterVariable(sp, "ctx", 1, file, 1, voidPtr,
                               /*AlwaysPreserve=*/true);
    f->setSubprogram(sp);
  }

  void finalize() {
    di.finalize();
    module.addModuleFlag(llvm::Module::Warning, "Dwarf Version", 5);
  }

  llvm::DIBuilder &builder() { return di; }
  llvm::DIType *base(llvm::StringRef name, uint64_t bits) {
    return di.createBasicType(name, bits, llvm::dwarf::DW_ATE_unsigned);
  }

private:
  llvm::DIDerivedType *member(llvm::StringRef name, llvm::DIType *t,
                              uint64_t offsetBits) {
    return di.createMemberType(cu, name, file, 0, 64, 64, offsetBits,
                               llvm::DINode::FlagZero, t);
  }

  llvm::Module &module;
  llvm::DIBuilder di;
  llvm::DIFile *file;
  llvm::DICompileUnit *cu;
  llvm::DIType *intTy, *charTy;
};

/// Debug info for the maps, the global data, the strings and the program,
/// from the `sbpf.*` attributes lowerNetfnToLLVM leaves on the module.
LogicalResult addDebugInfo(ModuleOp op, llvm::Module &m,
                           llvm::StringRef programName) {
  // Present: translateToBPFObject checked.
  auto maps = op->getAttrOfType<ArrayAttr>("sbpf.bpf_maps");
  auto data = op->getAttrOfType<ArrayAttr>("sbpf.bpf_data");
  auto prog = op->getAttrOfType<DictionaryAttr>("sbpf.bpf_program");
  DebugInfo di(m, (programName + ".bpf").str());
  for (Attribute a : maps) {
    auto d = cast<DictionaryAttr>(a);
    llvm::StringRef name = d.getAs<StringAttr>("name").getValue();
    llvm::StringRef type = d.getAs<StringAttr>("type").getValue();
    int64_t keySize = d.getAs<IntegerAttr>("key_size").getInt();
    int64_t valueSize = d.getAs<IntegerAttr>("value_size").getInt();
    int64_t maxEntries = d.getAs<IntegerAttr>("max_entries").getInt();
    llvm::GlobalVariable *g = m.getGlobalVariable(name);
    if (!g || mapTypeValue(type) < 0)
      return op.emitError() << "BPF object: cannot describe map '" << name
                            << "'";
    SmallVector<llvm::Metadata *> members;
    members.push_back(di.uintMember("type", mapTypeValue(type), 0));
    if (type == "BPF_MAP_TYPE_RINGBUF") {
      members.push_back(di.uintMember("max_entries", maxEntries, 64));
    } else {
      members.push_back(di.typeMember("key", di.bytesType(keySize), 64));
      members.push_back(di.typeMember("value", di.bytesType(valueSize), 128));
      members.push_back(di.uintMember("max_entries", maxEntries, 192));
    }
    di.global(g, di.structType("", members.size() * 64, members));
  }
  // The scalar state: a struct with the ABI's members at their offsets
  // (bpftool shows them by name; libbpf sizes `.data` from the DATASEC).
  if (llvm::GlobalVariable *g = m.getGlobalVariable("sbpf_state")) {
    uint64_t size = m.getDataLayout().getTypeAllocSize(g->getValueType());
    SmallVector<llvm::Metadata *> members;
    for (Attribute a : data) {
      auto d = cast<DictionaryAttr>(a);
      std::string name = d.getAs<StringAttr>("name").getValue().str();
      for (char &c : name)
        if (!isalnum((unsigned char)c) && c != '_')
          c = '_';
      uint64_t off = d.getAs<IntegerAttr>("offset").getInt();
      uint64_t bytes = d.getAs<IntegerAttr>("size").getInt();
      llvm::DIType *t = di.bytesType(bytes);
      members.push_back(di.builder().createMemberType(
          nullptr, name, nullptr, 0, bytes * 8, 8, off * 8,
          llvm::DINode::FlagZero, t));
    }
    if (members.empty())
      members.push_back(di.builder().createMemberType(
          nullptr, "sbpf_unused", nullptr, 0, size * 8, 8, 0,
          llvm::DINode::FlagZero, di.byteArray(size)));
    di.global(g, di.structType("sbpf_state_t", size * 8, members));
  }
  for (llvm::StringRef name : {"LICENSE", "sbpf_abi"})
    if (llvm::GlobalVariable *g = m.getGlobalVariable(name)) {
      uint64_t n = m.getDataLayout().getTypeAllocSize(g->getValueType());
      llvm::DIType *t = di.charArray(n);
      if (g->isConstant())
        t = di.builder().createQualifiedType(llvm::dwarf::DW_TAG_const_type,
                                             t);
      di.global(g, t);
    }
  llvm::StringRef fnName = prog.getAs<StringAttr>("name").getValue();
  llvm::Function *f = m.getFunction(fnName);
  if (!f)
    return op.emitError() << "BPF object: no program function '" << fnName
                          << "'";
  f->setSection(prog.getAs<StringAttr>("section").getValue());
  f->addFnAttr(llvm::Attribute::NoUnwind);
  di.function(f);
  di.finalize();
  return success();
}

llvm::TargetMachine *bpfTargetMachine(std::string &error) {
  static std::once_flag once;
  std::call_once(once, [] {
    LLVMInitializeBPFTargetInfo();
    LLVMInitializeBPFTarget();
    LLVMInitializeBPFTargetMC();
    LLVMInitializeBPFAsmPrinter();
  });
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget("bpfel", error);
  if (!target)
    return nullptr;
  llvm::TargetOptions options;
  return target->createTargetMachine("bpfel", "v3", "", options,
                                     llvm::Reloc::Static, std::nullopt,
                                     llvm::CodeGenOpt::Default);
}

} // namespace

LogicalResult sbpf::translateToBPFObject(ModuleOp module, std::string &object,
                                         llvm::raw_ostream *irOut) {
  registerLLVMDialectTranslation(*module.getContext());
  auto prog = module->getAttrOfType<DictionaryAttr>("sbpf.bpf_program");
  if (!prog || !module->hasAttr("sbpf.bpf_maps") ||
      !module->hasAttr("sbpf.bpf_data"))
    return module.emitError("BPF object: the module was not made by "
                            "convert-netfn-to-llvm (sbpf.bpf_* attributes "
                            "missing)");
  llvm::StringRef name = prog.getAs<StringAttr>("name").getValue();
  llvm::LLVMContext llvmContext;
  // LLVM reports code generation errors (e.g. the BPF target's "stack limit
  // of 512 bytes is exceeded") as diagnostics and carries on: collect them
  // and fail, since our own output not compiling is a compiler bug.
  std::string llvmErrors;
  llvmContext.setDiagnosticHandlerCallBack(
      [](const llvm::DiagnosticInfo &info, void *context) {
        if (info.getSeverity() != llvm::DS_Error)
          return;
        llvm::raw_string_ostream os(*static_cast<std::string *>(context));
        llvm::DiagnosticPrinterRawOStream printer(os);
        info.print(printer);
        os << "\n";
      },
      &llvmErrors);
  std::unique_ptr<llvm::Module> m =
      translateModuleToLLVMIR(module, llvmContext, name);
  if (!m)
    return module.emitError("BPF object: translation to LLVM IR failed");
  std::string error;
  std::unique_ptr<llvm::TargetMachine> tm(bpfTargetMachine(error));
  if (!tm)
    return module.emitError() << "BPF object: no BPF target in LLVM: "
                              << error;
  m->setTargetTriple("bpfel");
  m->setDataLayout(tm->createDataLayout());
  if (failed(addDebugInfo(module, *m, name)))
    return failure();
  {
    std::string msg;
    llvm::raw_string_ostream os(msg);
    if (llvm::verifyModule(*m, &os))
      return module.emitError() << "BPF object: invalid LLVM IR (a compiler "
                                   "bug): "
                                << os.str();
  }

  // -O2 as clang runs it, with the BPF target's IR passes (their callbacks
  // keep LLVM from forms the verifier cannot follow).
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  // No loop unrolling: the lowering (NetfnToLLVM.cpp) writes out what it
  // wants unrolled and keeps the string loops rolled because they are
  // smaller that way; LLVM's unroller would undo that.
  llvm::PipelineTuningOptions tuning;
  tuning.LoopUnrolling = false;
  llvm::PassBuilder pb(tm.get(), tuning);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::ModulePassManager mpm =
      pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O2);
  mpm.run(*m, mam);

  if (irOut) {
    m->print(*irOut, nullptr);
    return success();
  }
  llvm::SmallString<0> buffer;
  llvm::raw_svector_ostream os(buffer);
  llvm::legacy::PassManager codegen;
  if (tm->addPassesToEmitFile(codegen, os, nullptr, llvm::CGFT_ObjectFile))
    return module.emitError("BPF object: the BPF target cannot emit objects");
  codegen.run(*m);
  if (!llvmErrors.empty())
    return module.emitError() << "BPF object: LLVM's BPF target failed on "
                                 "the lowered program (a compiler bug; "
                                 "--emit=llvm shows the IR): "
                              << llvmErrors;
  object.assign(buffer.begin(), buffer.end());
  return success();
}
