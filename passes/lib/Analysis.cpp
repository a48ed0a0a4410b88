//===- Analysis.cpp - facts both BPF backends derive from netfn -----------===//
#include "sbpf/BPF/Analysis.h"
#include "sbpf/Netfn/Netfn.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/StringSet.h"

using namespace mlir;
namespace nf = sbpf::netfn;

static bool isCKeyword(StringRef name) {
  static const llvm::StringSet<> keywords = {
      "auto",     "break",    "case",     "char",   "const",    "continue",
      "default",  "do",       "double",   "else",   "enum",     "extern",
      "float",    "for",      "goto",     "if",     "inline",   "int",
      "long",     "register", "restrict", "return", "short",    "signed",
      "sizeof",   "static",   "struct",   "switch", "typedef",  "union",
      "unsigned", "void",     "volatile", "while",  "_Bool",    "LICENSE",
      "asm",      "typeof",   "bool",     "true",   "false",    "data",
      "data_end", "ctx",      "main"};
  return keywords.contains(name) || name.starts_with("sbpf_") ||
         name.starts_with("bpf_") || name.starts_with("__");
}

std::string sbpf::bpf::cIdentifier(StringRef name) {
  std::string s;
  for (char c : name)
    s += (isalnum((unsigned char)c) || c == '_') ? c : '_';
  if (s.empty() || isdigit((unsigned char)s[0]) || isCKeyword(s))
    s = "u_" + s;
  return s;
}

/// 2^-32 exactly.
static bool isTwoToMinus32(Value v) {
  auto c = dyn_cast_or_null<nf::ConstOp>(v.getDefiningOp());
  if (!c || !c.getType().isF64())
    return false;
  auto f = dyn_cast<FloatAttr>(c.getValue());
  return f && f.getValueAsDouble() == 0x1p-32;
}

void sbpf::bpf::findRandomThresholds(Operation *root,
                                     RandomThresholds &thresholds,
                                     llvm::DenseSet<Operation *> &folded) {
  root->walk([&](nf::CmpOp cmp) {
    if (cmp.getPredicate() != nf::CmpPredicate::lt ||
        !cmp.getLhs().getType().isF64())
      return;
    auto mul = dyn_cast_or_null<nf::MulOp>(cmp.getLhs().getDefiningOp());
    if (!mul || !mul->hasOneUse())
      return;
    Value scaled, k;
    for (unsigned i = 0; i < 2; ++i)
      if (isTwoToMinus32(mul->getOperand(i))) {
        k = mul->getOperand(i);
        scaled = mul->getOperand(1 - i);
      }
    if (!k || !k.hasOneUse())
      return;
    auto cast = dyn_cast_or_null<nf::CastOp>(scaled.getDefiningOp());
    if (!cast || !cast->hasOneUse())
      return;
    auto from = dyn_cast<IntegerType>(cast.getInput().getType());
    if (!from || !from.isUnsignedInteger() || from.getWidth() > 32)
      return;
    Operation *p = cmp.getRhs().getDefiningOp();
    if (!p || !p->hasOneUse() || !isa<nf::StateReadOp, nf::ConstOp>(p))
      return;
    thresholds[cmp] = {cast.getInput(), p};
    for (Operation *o : {mul.getOperation(), k.getDefiningOp(),
                         cast.getOperation(), p})
      folded.insert(o);
  });
}

void sbpf::bpf::findAtomicUpdates(Block &block, AtomicUpdates &atomicWrites,
                                  llvm::DenseSet<Operation *> &folded) {
  for (Operation &op : block) {
    for (Region &r : op.getRegions())
      for (Block &b : r)
        findAtomicUpdates(b, atomicWrites, folded);
    auto write = dyn_cast<nf::StateWriteOp>(op);
    if (!write)
      continue;
    Operation *arith = write.getValue().getDefiningOp();
    if (!arith || !isa<nf::AddOp, nf::SubOp>(arith) ||
        arith->getBlock() != &block || !arith->hasOneUse())
      continue;
    auto it = dyn_cast<IntegerType>(write.getValue().getType());
    if (!it || (it.getWidth() != 32 && it.getWidth() != 64))
      continue;
    bool isSub = isa<nf::SubOp>(arith);
    for (unsigned i = 0; i < 2; ++i) {
      if (isSub && i == 1)
        break;
      auto read =
          dyn_cast_or_null<nf::StateReadOp>(arith->getOperand(i).getDefiningOp());
      if (!read || read.getState() != write.getState() ||
          read->getBlock() != &block || !read->hasOneUse())
        continue;
      bool clobbered = false;
      for (Operation *p = read->getNextNode(); p && p != write.getOperation();
           p = p->getNextNode()) {
        if (p->getNumRegions() > 0)
          clobbered = true;
        if (auto w = dyn_cast<nf::StateWriteOp>(p))
          if (w.getState() == write.getState())
            clobbered = true;
      }
      if (clobbered)
        continue;
      folded.insert(read);
      folded.insert(arith);
      atomicWrites[write] = {arith->getOperand(1 - i), isSub};
      break;
    }
  }
}
