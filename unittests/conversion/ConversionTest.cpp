//===- ConversionTest.cpp - netfn -> LLVM dialect -> BPF object -----------===//
//
// The object path without clang, in process and without a kernel: what the
// lowering leaves in the module, that the object writer makes a BPF ELF
// relocatable object with BTF, that the same input always gives the same
// bytes, and that a failed lowering leaves the module as it was. Kernel
// behaviour of these objects is tested by bpf-llvm-unittests.
//
//===----------------------------------------------------------------------===//
#include "sbpf/Conversion/NetfnToLLVM.h"
#include "sbpf/Netfn/Netfn.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

using namespace mlir;

namespace {

class ConversionTest : public ::testing::Test {
protected:
  ConversionTest() {
    DialectRegistry registry;
    registry.insert<sbpf::netfn::NetfnDialect, LLVM::LLVMDialect>();
    ctx.appendDialectRegistry(registry);
    ctx.loadAllAvailableDialects();
  }
  OwningOpRef<ModuleOp> parse(llvm::StringRef file) {
    return parseSourceFile<ModuleOp>(std::string(SBPF_BPF_INPUTS) + "/" +
                                         file.str(),
                                     &ctx);
  }
  std::string text(ModuleOp m) {
    std::string s;
    llvm::raw_string_ostream os(s);
    m.print(os);
    return s;
  }
  MLIRContext ctx;
};

TEST_F(ConversionTest, LowersTheProgramToOneLLVMFunction) {
  auto m = parse("arith.mlir");
  ASSERT_TRUE(m);
  sbpf::bpf::ProgramABI abi;
  ASSERT_TRUE(succeeded(sbpf::lowerNetfnToLLVM(*m, {}, &abi)));
  EXPECT_EQ(abi.program, "arith");
  EXPECT_TRUE(m->getOps<sbpf::netfn::ProgramOp>().empty());
  auto fn = m->lookupSymbol<LLVM::LLVMFuncOp>("arith");
  ASSERT_TRUE(fn);
  EXPECT_EQ(fn.getFunctionType().getNumParams(), 1u);
  auto state = m->lookupSymbol<LLVM::GlobalOp>("sbpf_state");
  ASSERT_TRUE(state);
  EXPECT_EQ(state.getSection(), std::optional<llvm::StringRef>(".data"));
  EXPECT_EQ(cast<LLVM::LLVMArrayType>(state.getGlobalType()).getNumElements(),
            abi.globalSize);
  auto prog = (*m)->getAttrOfType<DictionaryAttr>("sbpf.bpf_program");
  ASSERT_TRUE(prog);
  EXPECT_EQ(prog.getAs<StringAttr>("section").getValue(), "xdp");
  // The tc hook.
  auto tc = parse("arith.mlir");
  sbpf::bpf::BackendOptions options;
  options.hook = sbpf::bpf::Hook::TC;
  ASSERT_TRUE(succeeded(sbpf::lowerNetfnToLLVM(*tc, options)));
  EXPECT_EQ((*tc)->getAttrOfType<DictionaryAttr>("sbpf.bpf_program")
                .getAs<StringAttr>("section")
                .getValue(),
            "tc");
}

TEST_F(ConversionTest, WritesADeterministicBPFObject) {
  std::string objects[2];
  for (std::string &object : objects) {
    auto m = parse("strings.mlir");
    ASSERT_TRUE(m);
    ASSERT_TRUE(succeeded(sbpf::lowerNetfnToLLVM(*m, {})));
    ASSERT_TRUE(succeeded(sbpf::translateToBPFObject(*m, object)));
  }
  const std::string &o = objects[0];
  ASSERT_GT(o.size(), 64u);
  EXPECT_EQ(o.substr(0, 4), "\x7f"
                            "ELF");
  EXPECT_EQ(uint8_t(o[4]), 2u);  // ELFCLASS64
  EXPECT_EQ(uint8_t(o[5]), 1u);  // little-endian
  EXPECT_EQ(uint8_t(o[16]), 1u); // ET_REL
  EXPECT_EQ(uint8_t(o[18]) | uint8_t(o[19]) << 8, 247u); // EM_BPF
  for (const char *section : {".BTF", ".BTF.ext", ".maps", "license",
                              ".sbpf.abi"})
    EXPECT_NE(o.find(section), std::string::npos) << section;
  EXPECT_EQ(o.find(".eh_frame"), std::string::npos);
  EXPECT_EQ(objects[0], objects[1]);
}

TEST_F(ConversionTest, PrintsOptimisedLLVMIR) {
  auto m = parse("arith.mlir");
  ASSERT_TRUE(m);
  ASSERT_TRUE(succeeded(sbpf::lowerNetfnToLLVM(*m, {})));
  std::string object, ir;
  llvm::raw_string_ostream os(ir);
  ASSERT_TRUE(succeeded(sbpf::translateToBPFObject(*m, object, &os)));
  EXPECT_TRUE(object.empty());
  EXPECT_NE(ir.find("target triple = \"bpfel\""), std::string::npos);
  EXPECT_NE(ir.find("section \"xdp\""), std::string::npos);
  EXPECT_NE(ir.find("!DISubprogram(name: \"arith\""), std::string::npos);
}

TEST_F(ConversionTest, FailureLeavesTheModuleAsItWas) {
  // Two programs: the backend compiles exactly one.
  auto m = parse("arith.mlir");
  ASSERT_TRUE(m);
  auto second = parse("strings.mlir");
  ASSERT_TRUE(second);
  Operation *program = &second->getBody()->front();
  program->moveBefore(m->getBody(), m->getBody()->end());
  std::string before = text(*m);
  std::string diagnostic;
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
    diagnostic = d.str();
    return success();
  });
  EXPECT_TRUE(failed(sbpf::lowerNetfnToLLVM(*m, {})));
  EXPECT_NE(diagnostic.find("expected exactly one netfn.program"),
            std::string::npos)
      << diagnostic;
  EXPECT_EQ(text(*m), before);
  // A module that is not the lowering's output has nothing to translate.
  std::string object;
  EXPECT_TRUE(failed(sbpf::translateToBPFObject(*m, object)));
  EXPECT_NE(diagnostic.find("not made by convert-netfn-to-llvm"),
            std::string::npos)
      << diagnostic;
}

} // namespace
