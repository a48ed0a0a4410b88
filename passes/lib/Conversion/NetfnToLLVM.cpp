//===- NetfnToLLVM.cpp - netfn.program to an eBPF program in LLVM dialect -===//
//
// The LLVM-dialect twin of EmitC.cpp. The ABI record (state struct layout,
// maps, ring buffers, reject slots, event field layouts, loader work) is
// taken from the C backend itself (emitC into llvm::nulls()) so that both
// object paths place every byte where the record says; the lead may factor
// the ABI computation out of EmitC.cpp later. What this file decides on its
// own is only the code: one llvm.func per program with the packet parsing of
// docs/bpf-abi.md, the handlers inlined, netfn's structured ops as blocks
// (yields become branches to a merge block whose arguments are the results).
// Straight to LLVM dialect blocks rather than through scf: a verdict
// (forward/reject) may end a nested region early, which scf.if cannot
// express, and cf would be lowered to the same blocks anyway.
//
// Representation of values:
//  - i1, uiN/siN, instant (i64), fixed<W, F> (iW raw): SSA integers;
//  - string<N>: a pointer to a slot in the per-CPU scratch map value
//    ({i32 len; N bytes}, bytes from len on zero, the bytes 8-aligned), as
//    in the C (the BPF stack has 512 bytes); every string value gets its own
//    slot, written once;
//  - option<T> (only from netfn.map.get): a found flag and a scratch copy of
//    the value taken at lookup time.
// Helpers are called as clang calls them: through `inttoptr` of the helper
// id. Signed division and 64-bit fixed-point products/quotients are emulated
// (the BPF target has neither sdiv at cpu v3 nor 128-bit arithmetic).
//
//===----------------------------------------------------------------------===//
#include "sbpf/Conversion/NetfnToLLVM.h"

#include "sbpf/BPF/Analysis.h"
#include "sbpf/BPF/EmitC.h"
#include "sbpf/Netfn/Netfn.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringSet.h"

#include <map>

namespace sbpf {
#define GEN_PASS_DEF_CONVERTNETFNTOLLVM
#include "ConversionPasses.h.inc"
} // namespace sbpf

using namespace mlir;
using namespace sbpf;
using namespace sbpf::bpf;
namespace nf = sbpf::netfn;

namespace {

// BPF helper ids (include/uapi/linux/bpf.h).
enum Helper : int64_t {
  kMapLookup = 1,
  kMapUpdate = 2,
  kMapDelete = 3,
  kKtimeGetNs = 5,
  kPrandomU32 = 7,
  kRingbufOutput = 130,
};


/// The alignment claimed for packet accesses: the verifier allows unaligned
/// packet loads and stores (x86-64 has efficient unaligned access), and the
/// BPF target splits an access it believes unaligned into byte accesses. So
/// a field is one load of its width, and packet strings move 8 bytes at a
/// time, as the C path's `*(const __u64 __attribute__((may_alias)) *)` does.
constexpr unsigned kPacketAlign = 8;

uint64_t alignTo(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

/// The alignment (at most 8) of an offset from an 8-aligned address.
unsigned alignAt(uint64_t offset) {
  unsigned a = 8;
  while (offset % a)
    a /= 2;
  return a;
}

bool isSignedType(Type t) {
  if (isa<nf::FixedType>(t))
    return true;
  if (auto it = dyn_cast<IntegerType>(t))
    return it.isSignedInteger();
  return false;
}

unsigned bitWidthOf(Type t) {
  if (auto f = dyn_cast<nf::FixedType>(t))
    return f.getWidth();
  if (isa<nf::InstantType>(t))
    return 64;
  if (auto it = dyn_cast<IntegerType>(t))
    return it.getWidth();
  return 0;
}

/// Integer raw type and signedness of a wire encoding the C backend reads
/// and writes (u8 u16 u32 u64 s32 s64 bool).
bool encodingInt(StringRef enc, unsigned &bits, bool &isSigned) {
  isSigned = enc.starts_with("s");
  if (enc == "bool" || enc == "u8")
    bits = 8;
  else if (enc == "u16")
    bits = 16;
  else if (enc == "u32" || enc == "s32")
    bits = 32;
  else if (enc == "u64" || enc == "s64")
    bits = 64;
  else
    return false;
  return true;
}

class Lowering {
public:
  Lowering(nf::ProgramOp program, ModuleOp module, const BackendOptions &opts,
           const ProgramABI &abi)
      : program(program), module(module), options(opts), abi(abi),
        ctx(module.getContext()), b(ctx), loc(program.getLoc()) {
    i1 = b.getI1Type();
    i8 = b.getI8Type();
    i16 = b.getI16Type();
    i32 = b.getI32Type();
    i64 = b.getI64Type();
    ptr = LLVM::LLVMPointerType::get(ctx);
  }

  LogicalResult run();

private:
  // --- module-level pieces ----------------------------------------------
  LogicalResult checkSupported();
  Value threshold32(Value bits);
  LogicalResult makeGlobals();
  LLVM::GlobalOp makeMapGlobal(StringRef name, StringRef type,
                               uint64_t keySize, uint64_t valueSize,
                               uint64_t maxEntries);
  std::string globalVar(StringRef name) {
    std::string v = cIdentifier(name);
    return v == cIdentifier(program.getSymName()) ? v + "_map" : v;
  }

  // --- instruction helpers ------------------------------------------------
  Value cst(Type t, int64_t v) {
    return b.create<LLVM::ConstantOp>(loc, t, b.getIntegerAttr(t, v));
  }
  Value cstAP(const llvm::APInt &v) {
    Type t = b.getIntegerType(v.getBitWidth());
    return b.create<LLVM::ConstantOp>(loc, t, b.getIntegerAttr(t, v));
  }
  Value gep(Value base, int64_t offset) {
    if (offset == 0)
      return base;
    return b.create<LLVM::GEPOp>(loc, ptr, i8, base,
                                 ArrayRef<LLVM::GEPArg>{int32_t(offset)});
  }
  Value gepDyn(Value base, Value offset) {
    return b.create<LLVM::GEPOp>(loc, ptr, i8, base, ValueRange{offset});
  }
  Value load(Type t, Value p, unsigned align) {
    return b.create<LLVM::LoadOp>(loc, t, p, align);
  }
  void store(Value v, Value p, unsigned align) {
    b.create<LLVM::StoreOp>(loc, v, p, align);
  }
  Value icmp(LLVM::ICmpPredicate p, Value x, Value y) {
    return b.create<LLVM::ICmpOp>(loc, p, x, y);
  }
  Value select(Value c, Value x, Value y) {
    return b.create<LLVM::SelectOp>(loc, c, x, y);
  }
  /// Width conversion: truncation, or extension by `isSigned`.
  Value resize(Value v, unsigned to, bool isSigned) {
    unsigned from = cast<IntegerType>(v.getType()).getWidth();
    Type t = b.getIntegerType(to);
    if (from == to)
      return v;
    if (from > to)
      return b.create<LLVM::TruncOp>(loc, t, v);
    if (isSigned && from != 1)
      return b.create<LLVM::SExtOp>(loc, t, v);
    return b.create<LLVM::ZExtOp>(loc, t, v);
  }
  Value callHelper(Helper id, Type result, ValueRange args);
  /// Copies `n` bytes in the largest chunks `align` allows.
  void copyBytes(Value dst, Value src, uint64_t n, unsigned align);
  void zeroBytes(Value dst, uint64_t n, unsigned align);
  void storeConstBytes(Value dst, ArrayRef<uint8_t> bytes, unsigned align);
  void compilerBarrier();
  Value opaque(Value v);

  // --- scratch slots and strings -------------------------------------------
  /// A slot at an offset that is `phase` modulo `align`.
  Value scratchSlot(uint64_t size, unsigned align = 8, unsigned phase = 0);
  /// An 8-aligned stack slot (an alloca in the entry block).
  Value stackSlot(uint64_t size);
  /// A string slot: the length at 4 mod 8, so the bytes are 8-aligned and
  /// the byte loops work on whole 64-bit words.
  Value newString(unsigned cap) {
    return scratchSlot(alignTo(4 + cap, 4), 8, 4);
  }
  Value stringConst(StringRef s, unsigned cap);
  SmallVector<Value>
  rolledLoop(uint64_t n, uint64_t step, ValueRange init,
             llvm::function_ref<SmallVector<Value>(Value, ValueRange)> body);
  void branchOut(Value cond, Block *to, ValueRange args);
  void strNorm(Value s, unsigned cap, Value src, unsigned n);
  Value scanLength(Value p, unsigned n);
  Value strEq(Value x, Value y, unsigned cap);

  // --- arithmetic ----------------------------------------------------------
  struct Magnitudes {
    Value aNeg, bNeg, ua, ub, isZero;
  };
  Magnitudes magnitudes(Value a, Value bv);
  Value negateIf(Value cond, Value v);
  Value sdiv64(Value a, Value bv);
  Value srem64(Value a, Value bv);
  Value fxMul64(Value a, Value bv, unsigned f);
  Value fxDiv64(Value a, Value bv, unsigned f);
  FailureOr<Value> binary(Operation *op);
  FailureOr<Value> castValue(nf::CastOp op);

  // --- ops -----------------------------------------------------------------
  Value stateAddr(StringRef sym);
  Value encodeStored(Value v, Type t);
  Value decodeStored(Value src, Type t, unsigned align);
  FailureOr<Value> constant(Attribute value, Type type, Operation *at);
  LogicalResult lowerBlock(Block &block, Block *merge);
  LogicalResult lowerOp(Operation *op, Block *merge);
  LogicalResult
  lowerBranches(Operation *op, ArrayRef<Value> conds,
                ArrayRef<Region *> regions, Region *fallback,
                llvm::function_ref<void(size_t)> armPrologue = nullptr);
  const EventField *findField(Operation *op, StringRef name);
  LogicalResult wireInt(Operation *op, const EventField &f, unsigned &bits,
                        bool &rawSigned);
  FailureOr<Value> fieldGet(nf::FieldGetOp op);
  LogicalResult fieldSet(nf::FieldSetOp op);
  Value verdict(bool pass) {
    bool xdp = options.hook == Hook::XDP;
    return cst(i32, pass ? (xdp ? 2 : 0) : (xdp ? 1 : 2));
  }
  LogicalResult lowerProgram();

  nf::ProgramOp program;
  ModuleOp module;
  BackendOptions options;
  const ProgramABI &abi;
  MLIRContext *ctx;
  OpBuilder b;
  Location loc;
  Type i1, i8, i16, i32, i64, ptr;

  llvm::StringMap<nf::StateOp> states;
  LLVM::GlobalOp stateGlobal;
  llvm::DenseMap<Value, Value> values;
  /// map.get results: the found flag (i1) and the value's scratch copy.
  llvm::DenseMap<Value, std::pair<Value, Value>> optionals;
  llvm::DenseSet<Operation *> folded;
  /// String fields only measured (every use a string.len, the field never
  /// rewritten): not copied; their wire bytes and how many count.
  llvm::DenseMap<Value, std::pair<Value, unsigned>> measuredFields;
  llvm::DenseMap<Operation *, std::pair<Value, bool>> atomicWrites;
  /// randomf(0, 1) < p: cmp -> (the uiN draw, the op giving p).
  llvm::DenseMap<Operation *, std::pair<Value, Operation *>> thresholds;
  uint64_t scratchSize = 0;
  LLVM::LLVMFuncOp func;
  Value sc, hdr, payload, ptype;
  const EventABI *curEvent = nullptr;
  SmallVector<Attribute> mapDescs;
  /// The function's one return (of its i32 argument, the verdict).
  Block *exitBlock = nullptr;
  void exitWith(Value verdict) {
    b.create<LLVM::BrOp>(loc, ValueRange{verdict}, exitBlock);
  }
};

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------


LogicalResult Lowering::checkSupported() {
  findRandomThresholds(program, thresholds, folded);
  LogicalResult result = success();
  auto unsupported = [&](Operation *op, const Twine &what) {
    op->emitError() << "not supported yet by the LLVM backend: " << what;
    result = failure();
    return WalkResult::interrupt();
  };
  program.walk<WalkOrder::PreOrder>([&](Operation *op) -> WalkResult {
    // Events: unused field types do not matter. Init is not code: the C
    // backend's ABI record already holds what it does (.data bytes, loader
    // work), and it rejected what cannot be recorded. f64 state is its
    // IEEE-754 bits, read only by the threshold comparison.
    if (isa<nf::EventOp, nf::InitOp, nf::StateOp>(op))
      return WalkResult::skip();
    if (folded.contains(op) || thresholds.count(op))
      return WalkResult::advance();
    auto bad = [](Type t) {
      return isa<FloatType, nf::PairType>(t) ||
             (isa<nf::OptionType>(t) &&
              isa<FloatType, nf::PairType>(
                  cast<nf::OptionType>(t).getValueType()));
    };
    SmallVector<Type> types(op->getOperandTypes());
    llvm::append_range(types, op->getResultTypes());
    for (Type t : types)
      if (bad(t))
        return unsupported(op, "values of type " +
                                   llvm::Twine(isa<FloatType>(t) ? "f64 (run "
                                               "--netfn-float-to-fixed first)"
                                                                 : "pair"));
    return WalkResult::advance();
  });
  return result;
}

/// ceil(p * 2^32) clamped to [0, 2^32] for the binary64 p with `bits`; NaN
/// and p <= 0 give 0, so that for every ui32 r, r * 2^-32 < p exactly when
/// r < threshold (the C's sbpf_f64_threshold32, branch-free here; a
/// constant p folds to a constant).
Value Lowering::threshold32(Value bits) {
  using P = LLVM::ICmpPredicate;
  auto c = [&](int64_t v) { return cst(i64, v); };
  auto shr = [&](Value v, Value n) {
    return b.create<LLVM::LShrOp>(loc, v, n).getResult();
  };
  auto shl = [&](Value v, Value n) {
    return b.create<LLVM::ShlOp>(loc, v, n).getResult();
  };
  auto band = [&](Value x, Value y) {
    return b.create<LLVM::AndOp>(loc, x, y).getResult();
  };
  Value top = c(int64_t(1) << 32);
  Value exp = band(shr(bits, c(52)), c(0x7ff));
  Value frac = band(bits, c((int64_t(1) << 52) - 1));
  Value expZero = icmp(P::eq, exp, c(0));
  Value m = select(expZero, frac,
                   b.create<LLVM::OrOp>(loc, frac, c(int64_t(1) << 52)));
  // p * 2^32 = m * 2^s
  Value s = b.create<LLVM::AddOp>(
      loc, select(expZero, c(-1074), b.create<LLVM::SubOp>(loc, exp, c(1075))),
      c(32));
  Value sPos = icmp(P::sge, s, c(0));
  Value sBig = icmp(P::sgt, s, c(32));
  Value sSmall = b.create<LLVM::AndOp>(
      loc, sPos, b.create<LLVM::XOrOp>(loc, sBig, cst(i1, 1)));
  // s in [0, 32]: m << s unless m >= 2^(32 - s); shift amounts stay in range.
  Value sh = select(sSmall, b.create<LLVM::SubOp>(loc, c(32), s), c(0));
  Value over = b.create<LLVM::OrOp>(loc, sBig,
                                    icmp(P::uge, m, shl(c(1), sh)));
  Value posVal = select(over, top, shl(m, select(sSmall, s, c(0))));
  // s < 0: ceil(m / 2^k), k = -s; k >= 64 gives 1 (m != 0).
  Value k = b.create<LLVM::SubOp>(loc, c(0), s);
  Value kBig = icmp(P::sge, k, c(64));
  Value ks = select(b.create<LLVM::OrOp>(loc, sPos, kBig), c(0), k);
  Value rest = band(m, b.create<LLVM::SubOp>(loc, shl(c(1), ks), c(1)));
  Value v = b.create<LLVM::AddOp>(
      loc, shr(m, ks), resize(icmp(P::ne, rest, c(0)), 64, false));
  Value negVal = select(kBig, c(1), select(icmp(P::uge, v, top), top, v));
  Value r = select(sPos, posVal, negVal);
  r = select(icmp(P::eq, m, c(0)), c(0), r);
  r = select(icmp(P::eq, exp, c(0x7ff)),
             select(icmp(P::ne, frac, c(0)), c(0), top), r);
  return select(icmp(P::slt, bits, c(0)), c(0), r);
}


// ---------------------------------------------------------------------------
// Globals
// ---------------------------------------------------------------------------

/// A BTF-defined map is a global in ".maps" whose members are pointers (the
/// values live in the debug info: translateToBPFObject describes them from
/// the `sbpf.bpf_maps` module attribute, one entry per map made here).
LLVM::GlobalOp Lowering::makeMapGlobal(StringRef name, StringRef type,
                                       uint64_t keySize, uint64_t valueSize,
                                       uint64_t maxEntries) {
  bool ring = type == "BPF_MAP_TYPE_RINGBUF";
  unsigned members = ring ? 2 : 4;
  auto structTy = LLVM::LLVMStructType::getLiteral(
      ctx, SmallVector<Type>(members, ptr));
  auto g = b.create<LLVM::GlobalOp>(loc, structTy, /*isConstant=*/false,
                                    LLVM::Linkage::External, name,
                                    Attribute(), /*alignment=*/8);
  g.setSectionAttr(b.getStringAttr(".maps"));
  OpBuilder::InsertionGuard guard(b);
  Block *init = b.createBlock(&g.getInitializerRegion());
  b.setInsertionPointToStart(init);
  Value s = b.create<LLVM::UndefOp>(loc, structTy);
  Value null = b.create<LLVM::NullOp>(loc, ptr);
  for (unsigned i = 0; i < members; ++i)
    s = b.create<LLVM::InsertValueOp>(loc, s, null, ArrayRef<int64_t>{i});
  b.create<LLVM::ReturnOp>(loc, s);
  NamedAttrList d;
  d.append("name", b.getStringAttr(name));
  d.append("type", b.getStringAttr(type));
  d.append("key_size", b.getI64IntegerAttr(keySize));
  d.append("value_size", b.getI64IntegerAttr(valueSize));
  d.append("max_entries", b.getI64IntegerAttr(maxEntries));
  mapDescs.push_back(d.getDictionary(ctx));
  return g;
}

/// Little-endian bytes of a constant state value in the encoding its ABI
/// layout says (the `.data` initializer).
static bool encodeScalar(Attribute value, const ScalarABI &s,
                         std::vector<uint8_t> &out) {
  out.assign(s.layout.size, 0);
  if (s.layout.encoding == "str_len") {
    auto str = dyn_cast<StringAttr>(value);
    if (!str || str.getValue().size() + 4 > s.layout.size)
      return false;
    uint32_t n = str.getValue().size();
    for (int k = 0; k < 4; ++k)
      out[k] = uint8_t(n >> (8 * k));
    for (uint32_t i = 0; i < n; ++i)
      out[4 + i] = uint8_t(str.getValue()[i]);
    return true;
  }
  uint64_t v = 0;
  if (auto i = dyn_cast<IntegerAttr>(value)) {
    const llvm::APInt &a = i.getValue();
    v = (a.getBitWidth() == 1 ? a.zextOrTrunc(64) : a.sextOrTrunc(64))
            .getZExtValue();
  } else if (auto bl = dyn_cast<BoolAttr>(value)) {
    v = bl.getValue();
  } else if (auto f = dyn_cast<FloatAttr>(value)) {
    v = f.getValue().bitcastToAPInt().getZExtValue();
  } else {
    return false;
  }
  if (s.layout.size > 8)
    return false;
  for (uint64_t k = 0; k < s.layout.size; ++k)
    out[k] = uint8_t(v >> (8 * k));
  return true;
}

LogicalResult Lowering::makeGlobals() {
  b.setInsertionPoint(program);
  // Scalar state: one byte array in .data at the ABI's offsets, initialised
  // with init's constant writes (the last write of a scalar wins; one of
  // current_time() or a random draw is loader work and leaves zeros).
  std::vector<uint8_t> data(abi.globalSize, 0);
  std::map<std::string, std::vector<uint8_t>> initial;
  for (auto init : program.getBody().getOps<nf::InitOp>())
    for (Operation &op : init.getBody().front()) {
      auto write = dyn_cast<nf::StateWriteOp>(op);
      if (!write)
        continue;
      std::string sym = write.getState().str();
      auto c = dyn_cast_or_null<nf::ConstOp>(write.getValue().getDefiningOp());
      const ScalarABI *s = abi.findScalar(sym);
      if (!c || !s) {
        initial.erase(sym);
        continue;
      }
      std::vector<uint8_t> bytes;
      if (!encodeScalar(c.getValue(), *s, bytes))
        return write.emitError()
               << "not supported yet by the LLVM backend: initial value of @"
               << sym << " in encoding " << s->layout.encoding;
      initial[sym] = bytes;
    }
  for (auto &[sym, bytes] : initial) {
    const ScalarABI *s = abi.findScalar(sym);
    std::copy(bytes.begin(), bytes.end(), data.begin() + s->layout.offset);
  }
  auto dataTy = LLVM::LLVMArrayType::get(i8, abi.globalSize);
  stateGlobal = b.create<LLVM::GlobalOp>(
      loc, dataTy, /*isConstant=*/false, LLVM::Linkage::External,
      abi.globalName,
      b.getStringAttr(StringRef((const char *)data.data(), data.size())),
      /*alignment=*/8);
  // Not constant and externally visible: user space owns the map too, so
  // LLVM may not fold the initial values into the code.
  stateGlobal.setSectionAttr(b.getStringAttr(abi.globalSection));

  for (const MapABI &m : abi.maps)
    makeMapGlobal(globalVar(m.name), m.bpfType, m.key.size, m.value.size,
                  m.capacity);
  for (const LogABI &l : abi.logs)
    makeMapGlobal(l.ringbuf, "BPF_MAP_TYPE_RINGBUF", 0, 0, l.ringbufBytes);
  if (!abi.rejects.empty())
    makeMapGlobal(abi.rejectMap, "BPF_MAP_TYPE_PERCPU_ARRAY", 4, 8,
                  abi.rejects.size());
  // The scratch map's value size is known after the handlers are lowered;
  // its descriptor is completed in run().
  makeMapGlobal("sbpf_scratch", "BPF_MAP_TYPE_PERCPU_ARRAY", 4, 0, 1);

  auto license = b.create<LLVM::GlobalOp>(
      loc, LLVM::LLVMArrayType::get(i8, 4), /*isConstant=*/false,
      LLVM::Linkage::External, "LICENSE", b.getStringAttr(StringRef("GPL\0", 4)),
      /*alignment=*/1);
  license.setSectionAttr(b.getStringAttr("license"));

  std::string record;
  {
    llvm::raw_string_ostream os(record);
    writeABIJson(abi, os);
  }
  auto rec = b.create<LLVM::GlobalOp>(
      loc, LLVM::LLVMArrayType::get(i8, record.size()), /*isConstant=*/true,
      LLVM::Linkage::External, "sbpf_abi", b.getStringAttr(record),
      /*alignment=*/1);
  rec.setSectionAttr(b.getStringAttr(kABISection));
  return success();
}

// ---------------------------------------------------------------------------
// Instruction helpers
// ---------------------------------------------------------------------------

Value Lowering::callHelper(Helper id, Type result, ValueRange args) {
  SmallVector<Type> params(args.getTypes());
  auto fnTy = LLVM::LLVMFunctionType::get(result, params);
  Value fn = b.create<LLVM::IntToPtrOp>(loc, LLVM::LLVMPointerType::get(fnTy),
                                        cst(i64, id));
  SmallVector<Value> operands{fn};
  operands.append(args.begin(), args.end());
  auto call = b.create<LLVM::CallOp>(loc, TypeRange{result}, operands);
  return call.getResult();
}

void Lowering::copyBytes(Value dst, Value src, uint64_t n, unsigned align) {
  uint64_t off = 0;
  unsigned word = 8;
  while (word > align)
    word /= 2;
  // Five words or more: a rolled loop over the whole words (about 8
  // instructions, against 2 a word unrolled), the rest unrolled.
  if (n / word >= 5) {
    off = n / word * word;
    Type t = b.getIntegerType(word * 8);
    rolledLoop(off, word, ValueRange{}, [&](Value i, ValueRange) {
      store(load(t, gepDyn(src, i), word), gepDyn(dst, i), word);
      return SmallVector<Value>{};
    });
  }
  while (off < n) {
    unsigned chunk = 8;
    while (chunk > align || chunk > n - off)
      chunk /= 2;
    Type t = b.getIntegerType(chunk * 8);
    store(load(t, gep(src, off), chunk), gep(dst, off), chunk);
    off += chunk;
  }
}

void Lowering::zeroBytes(Value dst, uint64_t n, unsigned align) {
  storeConstBytes(dst, std::vector<uint8_t>(n, 0), align);
}

void Lowering::storeConstBytes(Value dst, ArrayRef<uint8_t> bytes,
                               unsigned align) {
  uint64_t off = 0, n = bytes.size();
  while (off < n) {
    unsigned chunk = 8;
    while (chunk > align || chunk > n - off)
      chunk /= 2;
    llvm::APInt v(chunk * 8, 0);
    for (unsigned k = 0; k < chunk; ++k)
      v |= llvm::APInt(chunk * 8, bytes[off + k]) << (8 * k);
    store(cstAP(v), gep(dst, off), chunk);
    off += chunk;
  }
}

/// A compiler barrier, as the C's `asm volatile("" ::: "memory")` after
/// string normalisation: it keeps LLVM from holding the bytes of several
/// strings in registers (and spilling them past the 512-byte stack).
void Lowering::compilerBarrier() {
  b.create<LLVM::InlineAsmOp>(loc, Type(), ValueRange{}, "", "~{memory}",
                              /*has_side_effects=*/true,
                              /*is_align_stack=*/false, LLVM::AsmDialectAttr(),
                              ArrayAttr());
}

/// `asm volatile("" : "+r"(v))`: hides v's value from LLVM, so a mask the
/// verifier needs, or an arithmetic form it can walk in one path, stays.
Value Lowering::opaque(Value v) {
  return b
      .create<LLVM::InlineAsmOp>(loc, v.getType(), ValueRange{v}, "", "=r,0",
                                 /*has_side_effects=*/true,
                                 /*is_align_stack=*/false,
                                 LLVM::AsmDialectAttr(), ArrayAttr())
      ->getResult(0);
}

Value Lowering::scratchSlot(uint64_t size, unsigned align, unsigned phase) {
  while (scratchSize % align != phase)
    ++scratchSize;
  Value p = gep(sc, int64_t(scratchSize));
  scratchSize += size;
  return p;
}

/// Scalars that only pass through memory (map keys and values, the reject
/// counter's key) live on the stack, as the C's locals do: LLVM keeps them
/// in registers where it can, and a program whose strings need no scratch
/// does not look the scratch map up at all.
Value Lowering::stackSlot(uint64_t size) {
  OpBuilder::InsertionGuard g(b);
  b.setInsertionPointToStart(&func.getBody().front());
  return b.create<LLVM::AllocaOp>(loc, ptr, LLVM::LLVMArrayType::get(i8, size),
                                  cst(i64, 1), 8);
}

Value Lowering::stringConst(StringRef s, unsigned cap) {
  Value slot = newString(cap);
  std::vector<uint8_t> bytes(alignTo(4 + cap, 4), 0);
  uint32_t n = s.size();
  for (int k = 0; k < 4; ++k)
    bytes[k] = uint8_t(n >> (8 * k));
  for (uint32_t i = 0; i < n && i < cap; ++i)
    bytes[4 + i] = uint8_t(s[i]);
  store(cst(i32, n), slot, 4);
  storeConstBytes(gep(slot, 4), ArrayRef<uint8_t>(bytes).drop_front(4), 8);
  return slot;
}

/// Rolled loops. The in-process -O2 does not unroll (BPFObject.cpp), so a
/// loop here stays a loop in the object: the string operations below are
/// loops wherever that is fewer instructions than their unrolled form.
/// Every loop counts a constant i from 0 to a constant bound, so the kernel
/// verifier and the checker both walk it with i known in each iteration (no
/// variable offsets); data-dependent exits leave through `branchOut`.
SmallVector<Value> Lowering::rolledLoop(
    uint64_t n, uint64_t step, ValueRange init,
    llvm::function_ref<SmallVector<Value>(Value, ValueRange)> body) {
  if (n == 0)
    return SmallVector<Value>(init.begin(), init.end());
  Region *parent = b.getInsertionBlock()->getParent();
  Block *loop = new Block(), *exit = new Block();
  parent->push_back(loop);
  loop->addArgument(i64, loc);
  for (Value v : init) {
    loop->addArgument(v.getType(), loc);
    exit->addArgument(v.getType(), loc);
  }
  SmallVector<Value> args{cst(i64, 0)};
  args.append(init.begin(), init.end());
  b.create<LLVM::BrOp>(loc, args, loop);
  b.setInsertionPointToStart(loop);
  Value i = loop->getArgument(0);
  SmallVector<Value> carried = body(i, loop->getArguments().drop_front());
  Value next = b.create<LLVM::AddOp>(loc, i, cst(i64, step));
  SmallVector<Value> latch{next};
  latch.append(carried.begin(), carried.end());
  b.create<LLVM::CondBrOp>(loc, icmp(LLVM::ICmpPredicate::ult, next,
                                     cst(i64, n)),
                           loop, latch, exit, carried);
  parent->push_back(exit);
  b.setInsertionPointToStart(exit);
  return SmallVector<Value>(exit->getArguments());
}

/// Leaves for `to` (with `args`) when `cond` holds; code continues after.
void Lowering::branchOut(Value cond, Block *to, ValueRange args) {
  Block *next = new Block();
  b.getInsertionBlock()->getParent()->push_back(next);
  b.create<LLVM::CondBrOp>(loc, cond, to, args, next, ValueRange{});
  b.setInsertionPointToStart(next);
}

/// Writes into the string slot `s` the NUL-padded string of `n` (<= cap)
/// bytes at `src` (which may be s's own bytes): len = index of the first
/// NUL (or n), every byte from len on zero. Two rolled byte loops, the scan
/// of scanLength and a copy keeping the bytes below len (about 15
/// instructions for any n; the unrolled word-wise form took about 10 per 8
/// bytes plus the scan). The copy is branch-free (the keep mask is
/// arithmetic, as in string.xor): a branch inside a loop body lets the
/// checker's executor meet states of different iterations at one join and
/// merge their counters into a symbolic index; one fused loop carrying the
/// length was also six times slower to prove (user_acl).
void Lowering::strNorm(Value s, unsigned cap, Value src, unsigned n) {
  Value bytes = gep(s, 4);
  if (n < cap)
    zeroBytes(gep(bytes, n), cap - n, alignAt(n));
  Value len = scanLength(src, n);
  rolledLoop(n, 1, ValueRange{}, [&](Value i, ValueRange) {
    // all ones when i < len (both below 2^31)
    Value keep = resize(
        b.create<LLVM::AShrOp>(
            loc, b.create<LLVM::SubOp>(loc, resize(i, 32, false), len),
            cst(i32, 31)),
        8, false);
    Value ch = load(i8, gepDyn(src, i), 1);
    store(b.create<LLVM::AndOp>(loc, ch, keep), gepDyn(bytes, i), 1);
    return SmallVector<Value>{};
  });
  store(len, s, 4);
  compilerBarrier();
}

/// The length (i32) of the NUL-padded string in the `n` wire bytes at `p`:
/// the index of the first NUL, or n; the same value as copying and
/// normalising it. A rolled byte loop that leaves at the first NUL (5
/// instructions; the unrolled eight-bytes-per-step scan took 79 for 64
/// bytes).
Value Lowering::scanLength(Value p, unsigned n) {
  Region *parent = b.getInsertionBlock()->getParent();
  auto done = std::make_unique<Block>();
  done->addArgument(i64, loc);
  rolledLoop(n, 1, ValueRange{}, [&](Value i, ValueRange) {
    branchOut(icmp(LLVM::ICmpPredicate::eq, load(i8, gepDyn(p, i), 1),
                   cst(i8, 0)),
              done.get(), ValueRange{i});
    return SmallVector<Value>{};
  });
  b.create<LLVM::BrOp>(loc, ValueRange{cst(i64, n)}, done.get());
  parent->push_back(done.get());
  b.setInsertionPointToStart(done.release());
  return resize(b.getInsertionBlock()->getArgument(0), 32, false);
}

Value Lowering::strEq(Value x, Value y, unsigned cap) {
  // Bytes from len on are zero on both sides, so comparing whole padded
  // slots (in words) compares the strings. Two words or more: a rolled loop
  // (7 instructions against 4 per word); the rest of the slot unrolled.
  auto wordDiff = [&](Value off, Type t, unsigned chunk) {
    Value d = b.create<LLVM::XOrOp>(loc, load(t, gepDyn(x, off), chunk),
                                    load(t, gepDyn(y, off), chunk));
    return resize(d, 64, false);
  };
  Value diff;
  uint64_t off = 0;
  if (cap >= 16) {
    off = cap / 8 * 8;
    diff = rolledLoop(off, 8, ValueRange{cst(i64, 0)},
                      [&](Value i, ValueRange c) -> SmallVector<Value> {
                        Value at = b.create<LLVM::AddOp>(loc, i, cst(i64, 4));
                        return {b.create<LLVM::OrOp>(loc, c[0],
                                                     wordDiff(at, i64, 8))};
                      })[0];
  }
  while (off < cap) {
    unsigned chunk = 8;
    while (chunk > cap - off)
      chunk /= 2;
    Value d = wordDiff(cst(i64, 4 + off), b.getIntegerType(chunk * 8), chunk);
    diff = diff ? b.create<LLVM::OrOp>(loc, diff, d).getResult() : d;
    off += chunk;
  }
  Value sameLen = icmp(LLVM::ICmpPredicate::eq, load(i32, x, 4),
                       load(i32, y, 4));
  if (!diff)
    return sameLen;
  return b.create<LLVM::AndOp>(loc, sameLen,
                               icmp(LLVM::ICmpPredicate::eq, diff,
                                    cst(i64, 0)));
}

// ---------------------------------------------------------------------------
// Arithmetic (netfn's meaning, NetfnSemantics.cpp)
// ---------------------------------------------------------------------------

/// The operands of a signed 64-bit division as signs and magnitudes, with
/// a divisor that is never zero (`isZero` says whether it was).
Lowering::Magnitudes Lowering::magnitudes(Value a, Value bv) {
  Magnitudes m;
  Value zero = cst(i64, 0);
  m.aNeg = icmp(LLVM::ICmpPredicate::slt, a, zero);
  m.bNeg = icmp(LLVM::ICmpPredicate::slt, bv, zero);
  m.ua = select(m.aNeg, b.create<LLVM::SubOp>(loc, zero, a), a);
  Value ub = select(m.bNeg, b.create<LLVM::SubOp>(loc, zero, bv), bv);
  m.isZero = icmp(LLVM::ICmpPredicate::eq, bv, zero);
  m.ub = select(m.isZero, cst(i64, 1), ub);
  return m;
}

Value Lowering::negateIf(Value cond, Value v) {
  return select(cond, b.create<LLVM::SubOp>(loc, cst(i64, 0), v), v);
}

/// Signed 64-bit division on magnitudes: x / 0 = 0, truncation toward zero,
/// MIN / -1 = MIN (BPF at cpu v3 has only unsigned division).
Value Lowering::sdiv64(Value a, Value bv) {
  Magnitudes m = magnitudes(a, bv);
  Value q = b.create<LLVM::UDivOp>(loc, m.ua, m.ub);
  Value r = negateIf(b.create<LLVM::XOrOp>(loc, m.aNeg, m.bNeg), q);
  return select(m.isZero, cst(i64, 0), r);
}

/// Signed 64-bit remainder: x % 0 = x, the sign of the dividend.
Value Lowering::srem64(Value a, Value bv) {
  Magnitudes m = magnitudes(a, bv);
  Value r = negateIf(m.aNeg, b.create<LLVM::URemOp>(loc, m.ua, m.ub));
  return select(m.isZero, a, r);
}

/// fixed<64, F> product: the 128-bit product shifted right arithmetically by
/// F, truncated (32-bit halves, as the C's sbpf_fx_mul64).
Value Lowering::fxMul64(Value a, Value bv, unsigned f) {
  // The steps of the checker's encoding (arith::fixedMulHalves), pinned
  // with optimisation barriers (no instructions) so that the compiled code
  // computes those very terms and the proof matches them one by one.
  // Without them LLVM narrows the high word to 32-bit multiplies and sums
  // (only its low bits survive the final shift), re-associates its sum and
  // folds what it knows of an operand (a time conversion's zero low bits)
  // into the partial products; the proof is then one of two different
  // multiplier circuits, which the solver does not find (token_bucket and
  // success_ratio at -O0: unknown after 240 s). Products of two variables
  // reach here only unoptimised (-O0) or when nothing folds them; a
  // product by a constant is split by netfn-simplify.
  auto shr = [&](Value v, int64_t s) {
    return b.create<LLVM::LShrOp>(loc, v, cst(i64, s)).getResult();
  };
  auto shl = [&](Value v, int64_t s) {
    return b.create<LLVM::ShlOp>(loc, v, cst(i64, s)).getResult();
  };
  auto add = [&](Value x, Value y) {
    return opaque(b.create<LLVM::AddOp>(loc, x, y).getResult());
  };
  auto mul = [&](Value x, Value y) {
    return b.create<LLVM::MulOp>(loc, x, y).getResult();
  };
  Value mask = cst(i64, 0xffffffffLL);
  auto lo32 = [&](Value v) {
    return b.create<LLVM::AndOp>(loc, v, mask).getResult();
  };
  a = opaque(a);
  bv = opaque(bv);
  Value al = lo32(a), ah = shr(a, 32), bl = lo32(bv), bh = shr(bv, 32);
  Value ll = mul(al, bl), lh = mul(al, bh), hl = mul(ah, bl), hh = mul(ah, bh);
  Value mid = add(add(shr(ll, 32), lo32(lh)), lo32(hl));
  Value lo = b.create<LLVM::OrOp>(loc, shl(mid, 32), lo32(ll));
  Value hi = add(add(add(hh, shr(lh, 32)), shr(hl, 32)), shr(mid, 32));
  // Two's complement: the signed product's high half, each correction a
  // mask of the other operand by the sign (x >>a 63 is all ones when x < 0).
  auto correct = [&](Value h, Value x, Value y) {
    Value sign = b.create<LLVM::AShrOp>(loc, x, cst(i64, 63));
    return opaque(b.create<LLVM::SubOp>(
        loc, h, b.create<LLVM::AndOp>(loc, sign, y)));
  };
  hi = correct(correct(hi, a, bv), bv, a);
  if (f == 0)
    return lo;
  return b.create<LLVM::OrOp>(loc, shr(lo, f), shl(hi, 64 - f));
}

/// fixed<64, F> quotient: (a << F) / b in 128 bits truncating toward zero,
/// x / 0 = 0. A branch-free long division unrolled 64 times (as the C's
/// sbpf_fx_div64), each step's comparison hidden from LLVM so that it stays
/// arithmetic and the verifier walks one path.
Value Lowering::fxDiv64(Value a, Value bv, unsigned f) {
  Value zero = cst(i64, 0), one = cst(i64, 1);
  Magnitudes m = magnitudes(a, bv);
  Value ua = m.ua, ub1 = m.ub;
  Value hi = f ? b.create<LLVM::LShrOp>(loc, ua, cst(i64, 64 - f)).getResult()
               : zero;
  Value lo = b.create<LLVM::ShlOp>(loc, ua, cst(i64, f));
  Value r0 = b.create<LLVM::URemOp>(loc, hi, ub1);
  Value allOnes = cst(i64, -1);
  // A real loop over i = 63..0 (64 unrolled steps made LLVM's -O2 the
  // largest part of the compile time); the verifier walks it as a bounded
  // loop, one path, since every step is arithmetic.
  Region *parent = b.getInsertionBlock()->getParent();
  Block *loop = new Block(), *done = new Block();
  parent->push_back(loop);
  parent->push_back(done);
  for (Block *bl : {loop, done})
    for (int k = 0; k < (bl == loop ? 3 : 1); ++k)
      bl->addArgument(i64, loc);
  b.create<LLVM::BrOp>(loc, ValueRange{cst(i64, 63), r0, zero}, loop);
  b.setInsertionPointToStart(loop);
  Value i = loop->getArgument(0), r = loop->getArgument(1),
        q = loop->getArgument(2);
  Value bit = b.create<LLVM::AndOp>(loc, b.create<LLVM::LShrOp>(loc, lo, i),
                                    one);
  r = b.create<LLVM::OrOp>(loc, b.create<LLVM::ShlOp>(loc, r, one), bit);
  Value d = b.create<LLVM::SubOp>(loc, r, ub1);
  // 1 when r >= ub: no borrow out of r - ub.
  Value notR = b.create<LLVM::XOrOp>(loc, r, allOnes);
  Value borrow = b.create<LLVM::OrOp>(
      loc, b.create<LLVM::AndOp>(loc, notR, ub1),
      b.create<LLVM::AndOp>(
          loc,
          b.create<LLVM::XOrOp>(loc, b.create<LLVM::XOrOp>(loc, r, ub1),
                                allOnes),
          d));
  Value ge = b.create<LLVM::XOrOp>(
      loc, one, b.create<LLVM::LShrOp>(loc, borrow, cst(i64, 63)));
  ge = opaque(ge);
  r = b.create<LLVM::SubOp>(
      loc, r,
      b.create<LLVM::AndOp>(loc, ub1, b.create<LLVM::SubOp>(loc, zero, ge)));
  q = b.create<LLVM::OrOp>(loc, b.create<LLVM::ShlOp>(loc, q, one), ge);
  Value next = b.create<LLVM::SubOp>(loc, i, one);
  b.create<LLVM::CondBrOp>(loc, icmp(LLVM::ICmpPredicate::sge, next, zero),
                           loop, ValueRange{next, r, q}, done, ValueRange{q});
  b.setInsertionPointToStart(done);
  q = done->getArgument(0);
  Value res = negateIf(b.create<LLVM::XOrOp>(loc, m.aNeg, m.bNeg), q);
  return select(m.isZero, zero, res);
}

FailureOr<Value> Lowering::binary(Operation *op) {
  Type t = op->getResult(0).getType();
  Value x = values.lookup(op->getOperand(0));
  Value y = values.lookup(op->getOperand(1));
  bool isSigned = isSignedType(t);
  unsigned w = bitWidthOf(t);
  if (auto ft = dyn_cast<nf::FixedType>(t)) {
    unsigned f = ft.getFrac();
    if (isa<nf::MulOp>(op)) {
      if (w == 64)
        return fxMul64(x, y, f);
      Value p = b.create<LLVM::MulOp>(loc, resize(x, 64, true),
                                      resize(y, 64, true));
      return resize(b.create<LLVM::AShrOp>(loc, p, cst(i64, f)), w, false);
    }
    if (isa<nf::DivOp>(op)) {
      if (w == 64)
        return fxDiv64(x, y, f);
      Value num = b.create<LLVM::ShlOp>(loc, resize(x, 64, true), cst(i64, f));
      return resize(sdiv64(num, resize(y, 64, true)), w, false);
    }
  }
  if (isa<nf::AddOp>(op))
    return Value(b.create<LLVM::AddOp>(loc, x, y));
  if (isa<nf::SubOp>(op))
    return Value(b.create<LLVM::SubOp>(loc, x, y));
  if (isa<nf::MulOp>(op))
    return Value(b.create<LLVM::MulOp>(loc, x, y));
  if (isa<nf::AndOp>(op))
    return Value(b.create<LLVM::AndOp>(loc, x, y));
  if (isa<nf::OrOp>(op))
    return Value(b.create<LLVM::OrOp>(loc, x, y));
  if (isa<nf::XorOp>(op))
    return Value(b.create<LLVM::XOrOp>(loc, x, y));
  if (isa<nf::MinOp, nf::MaxOp>(op)) {
    auto p = isa<nf::MinOp>(op)
                 ? (isSigned ? LLVM::ICmpPredicate::slt
                             : LLVM::ICmpPredicate::ult)
                 : (isSigned ? LLVM::ICmpPredicate::sgt
                             : LLVM::ICmpPredicate::ugt);
    return select(icmp(p, x, y), x, y);
  }
  if (isa<nf::DivOp, nf::RemOp>(op)) {
    bool div = isa<nf::DivOp>(op);
    if (isSigned) {
      Value r = div ? sdiv64(resize(x, 64, true), resize(y, 64, true))
                    : srem64(resize(x, 64, true), resize(y, 64, true));
      return resize(r, w, false);
    }
    Value zero = cst(y.getType(), 0);
    Value isZero = icmp(LLVM::ICmpPredicate::eq, y, zero);
    Value safe = select(isZero, cst(y.getType(), 1), y);
    if (div)
      return select(isZero, zero, b.create<LLVM::UDivOp>(loc, x, safe));
    return select(isZero, x, b.create<LLVM::URemOp>(loc, x, safe));
  }
  return op->emitError() << "not supported yet by the LLVM backend: '"
                         << op->getName() << "'";
}

FailureOr<Value> Lowering::castValue(nf::CastOp op) {
  Type from = op.getInput().getType(), to = op.getType();
  Value in = values.lookup(op.getInput());
  if (auto fs = dyn_cast<nf::StringType>(from)) {
    auto ts = dyn_cast<nf::StringType>(to);
    if (!ts)
      return op.emitError("not supported yet by the LLVM backend: this "
                          "string cast");
    unsigned f = fs.getCapacity(), t = ts.getCapacity();
    if (f == t)
      return in;
    unsigned m = std::min(f, t);
    Value out = newString(t);
    copyBytes(gep(out, 4), gep(in, 4), m, 8);
    if (t > m)
      zeroBytes(gep(out, 4 + m), t - m, alignAt(m));
    Value len = load(i32, in, 4);
    Value mv = cst(i32, m);
    store(select(icmp(LLVM::ICmpPredicate::ult, len, mv), len, mv), out, 4);
    return out;
  }
  if (to.isInteger(1))
    return op.emitError("not supported yet by the LLVM backend: a cast to "
                        "i1");
  auto ff = dyn_cast<nf::FixedType>(from);
  auto tf = dyn_cast<nf::FixedType>(to);
  unsigned tw = bitWidthOf(to);
  if (!ff && tf) { // integer (or i1) -> fixed: v * 2^F wrapped to W bits
    Value ext = resize(in, 64, isSignedType(from));
    return resize(b.create<LLVM::ShlOp>(loc, ext, cst(i64, tf.getFrac())), tw,
                  false);
  }
  if (ff && !tf) { // fixed -> integer: arithmetic shift right by F
    Value v = b.create<LLVM::AShrOp>(loc, resize(in, 64, true),
                                     cst(i64, ff.getFrac()));
    return resize(v, tw, false);
  }
  if (ff && tf) {
    Value v = resize(in, 64, true);
    int d = int(tf.getFrac()) - int(ff.getFrac());
    if (d > 0)
      v = b.create<LLVM::ShlOp>(loc, v, cst(i64, d));
    else if (d < 0)
      v = b.create<LLVM::AShrOp>(loc, v, cst(i64, -d));
    return resize(v, tw, false);
  }
  // Integers, booleans and instants: C conversions (extension by the
  // source's signedness, truncation to the low bits).
  return resize(in, tw, isSignedType(from));
}

// ---------------------------------------------------------------------------
// Values and state
// ---------------------------------------------------------------------------

FailureOr<Value> Lowering::constant(Attribute value, Type type,
                                    Operation *at) {
  if (auto st = dyn_cast<nf::StringType>(type)) {
    auto s = dyn_cast<StringAttr>(value);
    if (!s || s.getValue().size() > st.getCapacity())
      return at->emitError("not supported yet by the LLVM backend: this "
                           "string constant");
    return stringConst(s.getValue(), st.getCapacity());
  }
  unsigned w = bitWidthOf(type);
  if (w == 0)
    return at->emitError("not supported yet by the LLVM backend: constants "
                         "of this type");
  llvm::APInt v;
  if (auto i = dyn_cast<IntegerAttr>(value))
    v = i.getValue();
  else if (auto bl = dyn_cast<BoolAttr>(value))
    v = llvm::APInt(1, bl.getValue());
  else
    return at->emitError("not supported yet by the LLVM backend: constant "
                         "of this kind");
  v = v.getBitWidth() == 1 ? v.zextOrTrunc(w) : v.sextOrTrunc(w);
  return cstAP(v);
}

Value Lowering::stateAddr(StringRef sym) {
  const ScalarABI *s = abi.findScalar(sym);
  Value base = b.create<LLVM::AddressOfOp>(loc, ptr, stateGlobal.getSymName());
  return gep(base, s->layout.offset);
}

/// The stored (map key/value) form of `v`: for a string, its slot's bytes
/// themselves (already the stored form: `len` bytes, then zeros, 8-aligned;
/// a slot is written once, so the helper reads what `v` is); a scalar in a
/// new stack slot.
Value Lowering::encodeStored(Value v, Type t) {
  if (isa<nf::StringType>(t))
    return gep(v, 4);
  unsigned w = bitWidthOf(t);
  Value slot = stackSlot(std::max(1u, w / 8));
  store(w == 1 ? resize(v, 8, false) : v, slot, std::max(1u, w / 8));
  return slot;
}

/// A value of type `t` from its stored form at `src`.
Value Lowering::decodeStored(Value src, Type t, unsigned align) {
  if (auto st = dyn_cast<nf::StringType>(t)) {
    Value s = newString(st.getCapacity());
    strNorm(s, st.getCapacity(), src, st.getCapacity());
    return s;
  }
  unsigned w = bitWidthOf(t);
  if (w == 1)
    return icmp(LLVM::ICmpPredicate::ne, load(i8, src, 1), cst(i8, 0));
  return load(b.getIntegerType(w), src, std::min(align, w / 8));
}

const EventField *Lowering::findField(Operation *op, StringRef name) {
  for (const EventField &f : curEvent->fields)
    if (f.name == name)
      return &f;
  op->emitError() << "not supported yet by the LLVM backend: field '" << name
                  << "' has no wire layout";
  return nullptr;
}

LogicalResult Lowering::wireInt(Operation *op, const EventField &f,
                                unsigned &bits, bool &rawSigned) {
  if (encodingInt(f.encoding, bits, rawSigned))
    return success();
  return op->emitError() << "not supported yet by the LLVM backend: field '"
                         << f.name << "' has encoding '" << f.encoding << "'";
}

FailureOr<Value> Lowering::fieldGet(nf::FieldGetOp op) {
  if (const EventField *fp = findField(op, op.getField())) {
    const EventField &f = *fp;
    Type t = op.getType();
    if (f.source == "packet_type") {
      auto st = dyn_cast<nf::StringType>(t);
      if (!st)
        return op.emitError("not supported yet by the LLVM backend: a "
                            "packet_type field that is not a string");
      // Branch-free: both spellings, chosen word by word.
      Value s = newString(st.getCapacity());
      Value isSuccess = icmp(LLVM::ICmpPredicate::eq, ptype, cst(i8, 2));
      auto words = [&](StringRef text) {
        std::vector<uint8_t> bytes(alignTo(4 + st.getCapacity(), 4), 0);
        uint32_t n = std::min<uint32_t>(text.size(), st.getCapacity());
        for (int k = 0; k < 4; ++k)
          bytes[k] = uint8_t(n >> (8 * k));
        for (uint32_t i = 0; i < n; ++i)
          bytes[4 + i] = uint8_t(text[i]);
        return bytes;
      };
      auto yes = words("success"), no = words("failure");
      for (size_t off = 0; off < yes.size(); off += 4) {
        uint32_t wy = 0, wn = 0;
        for (int k = 0; k < 4; ++k) {
          wy |= uint32_t(yes[off + k]) << (8 * k);
          wn |= uint32_t(no[off + k]) << (8 * k);
        }
        store(select(isSuccess, cst(i32, wy), cst(i32, wn)), gep(s, off), 4);
      }
      return s;
    }
    Value at = gep(f.source == "header" ? hdr : payload, f.offset);
    if (auto st = dyn_cast<nf::StringType>(t)) {
      if (f.encoding != "str")
        return op.emitError() << "not supported yet by the LLVM backend: "
                                 "string field with encoding "
                              << f.encoding;
      unsigned cap = st.getCapacity();
      uint64_t n = std::min<uint64_t>(cap, f.size);
      // Only its length is used and the handler never rewrites the field:
      // measured in place (string.len), no copy (as the C path).
      bool rewritten =
          op->getParentOfType<nf::HandlerOp>()
              .walk([&](nf::FieldSetOp set) {
                return set.getField() == op.getField() ? WalkResult::interrupt()
                                                       : WalkResult::advance();
              })
              .wasInterrupted();
      if (!rewritten && llvm::all_of(op->getUsers(), [](Operation *u) {
            return isa<nf::StringLenOp>(u);
          })) {
        measuredFields[op.getResult()] = {at, unsigned(n)};
        return Value();
      }
      Value s = newString(cap);
      strNorm(s, cap, at, n);
      return s;
    }
    unsigned bits;
    bool rawSigned;
    if (failed(wireInt(op, f, bits, rawSigned)))
      return failure();
    // One load of the field's width (kPacketAlign).
    Value raw = load(b.getIntegerType(bits), at, bits / 8);
    if (t.isInteger(1))
      return icmp(LLVM::ICmpPredicate::ne, raw, cst(raw.getType(), 0));
    return resize(raw, bitWidthOf(t), rawSigned);
  }
  return failure();
}

LogicalResult Lowering::fieldSet(nf::FieldSetOp op) {
  if (const EventField *fp = findField(op, op.getField())) {
    const EventField &f = *fp;
    if (f.source == "packet_type")
      return op.emitError() << "not supported yet by the LLVM backend: field '"
                            << f.name
                            << "' comes from the packet type and cannot be "
                               "rewritten";
    Value at = gep(f.source == "header" ? hdr : payload, f.offset);
    Type t = op.getValue().getType();
    Value v = values.lookup(op.getValue());
    if (auto st = dyn_cast<nf::StringType>(t)) {
      uint64_t n = std::min<uint64_t>(st.getCapacity(), f.size);
      copyBytes(at, gep(v, 4), n, kPacketAlign);
      if (uint64_t(f.size) > n)
        zeroBytes(gep(at, n), f.size - n, kPacketAlign);
      return success();
    }
    unsigned bits;
    bool rawSigned;
    if (failed(wireInt(op, f, bits, rawSigned)))
      return failure();
    store(resize(v, bits, isSignedType(t)), at, bits / 8);
    return success();
  }
  return failure();
}

// ---------------------------------------------------------------------------
// Ops and control flow
// ---------------------------------------------------------------------------

LogicalResult Lowering::lowerBlock(Block &block, Block *merge) {
  for (Operation &op : block)
    if (failed(lowerOp(&op, merge)))
      return failure();
  return success();
}

/// The arms of if/match/match_option: `conds[i]` selects `regions[i]`,
/// tried in order; otherwise `fallback`. Results are the merge block's
/// arguments.
LogicalResult Lowering::lowerBranches(Operation *op, ArrayRef<Value> conds,
                                      ArrayRef<Region *> regions,
                                      Region *fallback,
                                      llvm::function_ref<void(size_t)>
                                          armPrologue) {
  Region *parent = b.getInsertionBlock()->getParent();
  // Owned here until placed (after the arms, so blocks read in order).
  auto owned = std::make_unique<Block>();
  Block *merge = owned.get();
  for (Value r : op->getResults()) {
    Type t = isa<nf::StringType>(r.getType())
                 ? ptr
                 : b.getIntegerType(bitWidthOf(r.getType()));
    merge->addArgument(t, loc);
  }
  for (size_t i = 0; i < conds.size(); ++i) {
    Block *arm = new Block(), *next = new Block();
    parent->push_back(arm);
    parent->push_back(next);
    b.create<LLVM::CondBrOp>(loc, conds[i], arm, ValueRange{}, next,
                             ValueRange{});
    b.setInsertionPointToStart(arm);
    if (armPrologue)
      armPrologue(i);
    if (failed(lowerBlock(regions[i]->front(), merge)))
      return failure();
    b.setInsertionPointToStart(next);
  }
  if (failed(lowerBlock(fallback->front(), merge)))
    return failure();
  // Always placed, even when every arm ends in a verdict: the ops after
  // `op` (at least its block's terminator) go there, unreachable.
  parent->push_back(owned.release());
  b.setInsertionPointToStart(merge);
  for (auto [r, a] : llvm::zip(op->getResults(), merge->getArguments()))
    values[r] = a;
  return success();
}

LogicalResult Lowering::lowerOp(Operation *op, Block *merge) {
  if (folded.contains(op))
    return success();
  loc = op->getLoc();
  auto set = [&](Value result, FailureOr<Value> v) -> LogicalResult {
    if (failed(v))
      return failure();
    values[result] = *v;
    return success();
  };

  if (auto c = dyn_cast<nf::ConstOp>(op))
    return set(c, constant(c.getValue(), c.getType(), op));
  if (isa<nf::AddOp, nf::SubOp, nf::MulOp, nf::DivOp, nf::RemOp, nf::AndOp,
          nf::OrOp, nf::XorOp, nf::MinOp, nf::MaxOp>(op))
    return set(op->getResult(0), binary(op));
  if (auto n = dyn_cast<nf::NotOp>(op))
    return set(n, Value(b.create<LLVM::XOrOp>(loc, values.lookup(n.getOperand()),
                                              cst(i1, 1))));
  if (auto it = thresholds.find(op); it != thresholds.end()) {
    // r * 2^-32 < p  <=>  r < ceil(p * 2^32), exactly (docs/bpf-abi.md).
    Value bits;
    if (auto read = dyn_cast<nf::StateReadOp>(it->second.second))
      bits = load(i64, stateAddr(read.getState()), 8);
    else
      bits = cst(i64, int64_t(cast<FloatAttr>(
                                  cast<nf::ConstOp>(it->second.second)
                                      .getValue())
                                  .getValue()
                                  .bitcastToAPInt()
                                  .getZExtValue()));
    Value r = resize(values.lookup(it->second.first), 64, false);
    return set(op->getResult(0),
               icmp(LLVM::ICmpPredicate::slt, r, threshold32(bits)));
  }
  if (auto cmp = dyn_cast<nf::CmpOp>(op)) {
    Type t = cmp.getLhs().getType();
    Value x = values.lookup(cmp.getLhs()), y = values.lookup(cmp.getRhs());
    nf::CmpPredicate p = cmp.getPredicate();
    if (auto st = dyn_cast<nf::StringType>(t)) {
      if (p != nf::CmpPredicate::eq && p != nf::CmpPredicate::ne)
        return op->emitError("not supported yet by the LLVM backend: string "
                             "ordering");
      Value eq = strEq(x, y, st.getCapacity());
      if (p == nf::CmpPredicate::ne)
        eq = b.create<LLVM::XOrOp>(loc, eq, cst(i1, 1));
      return set(cmp, eq);
    }
    bool s = isSignedType(t);
    LLVM::ICmpPredicate q = LLVM::ICmpPredicate::eq;
    switch (p) {
    case nf::CmpPredicate::eq: q = LLVM::ICmpPredicate::eq; break;
    case nf::CmpPredicate::ne: q = LLVM::ICmpPredicate::ne; break;
    case nf::CmpPredicate::lt:
      q = s ? LLVM::ICmpPredicate::slt : LLVM::ICmpPredicate::ult;
      break;
    case nf::CmpPredicate::le:
      q = s ? LLVM::ICmpPredicate::sle : LLVM::ICmpPredicate::ule;
      break;
    case nf::CmpPredicate::gt:
      q = s ? LLVM::ICmpPredicate::sgt : LLVM::ICmpPredicate::ugt;
      break;
    case nf::CmpPredicate::ge:
      q = s ? LLVM::ICmpPredicate::sge : LLVM::ICmpPredicate::uge;
      break;
    }
    return set(cmp, icmp(q, x, y));
  }
  if (auto sel = dyn_cast<nf::SelectOp>(op))
    return set(sel, select(values.lookup(sel.getCondition()),
                           values.lookup(sel.getTrueValue()),
                           values.lookup(sel.getFalseValue())));
  if (auto c = dyn_cast<nf::CastOp>(op))
    return set(c, castValue(c));
  if (auto bc = dyn_cast<nf::BitcastOp>(op)) // same width, same bits
    return set(bc, values.lookup(bc.getInput()));
  if (auto len = dyn_cast<nf::StringLenOp>(op)) {
    auto measured = measuredFields.find(len.getInput());
    if (measured != measuredFields.end())
      return set(len, scanLength(measured->second.first,
                                 measured->second.second));
    return set(len, load(i32, values.lookup(len.getInput()), 4));
  }
  if (auto x = dyn_cast<nf::StringXorOp>(op)) {
    // As the C's sbpf_xor_N_K: branch-free, the key copied to a power-of-two
    // buffer indexed with a mask the verifier can bound.
    unsigned n = cast<nf::StringType>(x.getInput().getType()).getCapacity();
    unsigned k = cast<nf::StringType>(x.getKey().getType()).getCapacity();
    unsigned p = 1;
    while (p < k)
      p *= 2;
    Value s = values.lookup(x.getInput()), key = values.lookup(x.getKey());
    Value kb = scratchSlot(p, 8);
    Value klen = load(i32, key, 4);
    Value zero = cst(i32, 0);
    Value keyEmpty = icmp(LLVM::ICmpPredicate::eq, klen, zero);
    // Hidden from LLVM, or it tests the key's length in the loop body (a
    // branch there lets the checker merge states of different iterations).
    Value keep = opaque(select(keyEmpty, cst(i8, 0), cst(i8, -1)));
    klen = select(keyEmpty, cst(i32, 1),
                  select(icmp(LLVM::ICmpPredicate::ugt, klen, cst(i32, k)),
                         cst(i32, k), klen));
    copyBytes(kb, gep(key, 4), k, 8);
    Value slen = load(i32, s, 4);
    Value d = newString(n);
    // A rolled loop (the unrolled form took about 14 instructions a byte).
    rolledLoop(n, 1, ValueRange{}, [&](Value i64i, ValueRange) {
      Value i = resize(i64i, 32, false);
      Value j = opaque(b.create<LLVM::URemOp>(loc, i, klen));
      j = b.create<LLVM::AndOp>(loc, j, cst(i32, p - 1));
      // all ones when i < slen (both below 2^31)
      Value in = resize(
          b.create<LLVM::AShrOp>(loc, b.create<LLVM::SubOp>(loc, i, slen),
                                 cst(i32, 31)),
          8, false);
      Value kbyte = load(i8, gepDyn(kb, resize(j, 64, false)), 1);
      Value mask = b.create<LLVM::AndOp>(
          loc, b.create<LLVM::AndOp>(loc, kbyte, in), keep);
      Value at = b.create<LLVM::AddOp>(loc, i64i, cst(i64, 4));
      store(b.create<LLVM::XOrOp>(loc, load(i8, gepDyn(s, at), 1), mask),
            gepDyn(d, at), 1);
      return SmallVector<Value>{};
    });
    store(slen, d, 4);
    return set(x, d);
  }
  if (auto r = dyn_cast<nf::RandomOp>(op))
    return set(r, callHelper(kPrandomU32, i32, {}));
  if (auto n = dyn_cast<nf::NowOp>(op))
    return set(n, callHelper(kKtimeGetNs, i64, {}));
  if (auto read = dyn_cast<nf::StateReadOp>(op)) {
    Type t = read.getType();
    Value at = stateAddr(read.getState());
    if (auto st = dyn_cast<nf::StringType>(t)) {
      // The state's str_len encoding is the slot layout: a plain copy.
      Value s = newString(st.getCapacity());
      copyBytes(s, at, 4 + st.getCapacity(), 4);
      return set(read, s);
    }
    unsigned w = bitWidthOf(t);
    if (w == 1)
      return set(read, icmp(LLVM::ICmpPredicate::ne, load(i8, at, 1),
                            cst(i8, 0)));
    return set(read, load(b.getIntegerType(w), at, w / 8));
  }
  if (auto write = dyn_cast<nf::StateWriteOp>(op)) {
    Type t = write.getValue().getType();
    Value at = stateAddr(write.getState());
    auto it = atomicWrites.find(op);
    if (it != atomicWrites.end()) {
      Value delta = values.lookup(it->second.first);
      if (it->second.second)
        delta = b.create<LLVM::SubOp>(loc, cst(delta.getType(), 0), delta);
      b.create<LLVM::AtomicRMWOp>(loc, delta.getType(),
                                  LLVM::AtomicBinOp::add, at, delta,
                                  LLVM::AtomicOrdering::seq_cst);
      return success();
    }
    Value v = values.lookup(write.getValue());
    if (auto st = dyn_cast<nf::StringType>(t)) {
      // Length and bytes only: the slot's padding is not kept zero, the
      // state's is (str_len: unused bytes zero).
      copyBytes(at, v, 4 + st.getCapacity(), 4);
      return success();
    }
    unsigned w = bitWidthOf(t);
    store(w == 1 ? resize(v, 8, false) : v, at, std::max(1u, w / 8));
    return success();
  }
  if (auto get = dyn_cast<nf::FieldGetOp>(op))
    return set(get, fieldGet(get));
  if (auto fs = dyn_cast<nf::FieldSetOp>(op))
    return fieldSet(fs);
  if (auto get = dyn_cast<nf::MapGetOp>(op)) {
    const MapABI *m = abi.findMap(get.getMap());
    auto mt = cast<nf::MapType>(states[get.getMap()].getType());
    Value key = encodeStored(values.lookup(get.getKey()), mt.getKeyType());
    Value mapPtr =
        b.create<LLVM::AddressOfOp>(loc, ptr, globalVar(get.getMap()));
    Value p = callHelper(kMapLookup, ptr, {mapPtr, key});
    Value found = icmp(LLVM::ICmpPredicate::ne, p,
                       b.create<LLVM::NullOp>(loc, ptr));
    // The value as it is at lookup time: a copy (zero when absent); a
    // scalar's on the stack.
    Value val = isa<nf::StringType>(mt.getValueType())
                    ? scratchSlot(m->value.size, 8)
                    : stackSlot(m->value.size);
    zeroBytes(val, m->value.size, 8);
    Block *cur = b.getInsertionBlock();
    Block *copy = new Block(), *cont = new Block();
    cur->getParent()->push_back(copy);
    cur->getParent()->push_back(cont);
    b.create<LLVM::CondBrOp>(loc, found, copy, ValueRange{}, cont,
                             ValueRange{});
    b.setInsertionPointToStart(copy);
    copyBytes(val, p, m->value.size, 8);
    b.create<LLVM::BrOp>(loc, ValueRange{}, cont);
    b.setInsertionPointToStart(cont);
    optionals[get.getResult()] = {found, val};
    return success();
  }
  if (auto ms = dyn_cast<nf::MapSetOp>(op)) {
    auto mt = cast<nf::MapType>(states[ms.getMap()].getType());
    Value key = encodeStored(values.lookup(ms.getKey()), mt.getKeyType());
    Value val = encodeStored(values.lookup(ms.getValue()), mt.getValueType());
    Value mapPtr = b.create<LLVM::AddressOfOp>(loc, ptr, globalVar(ms.getMap()));
    callHelper(kMapUpdate, i64, {mapPtr, key, val, cst(i64, 0) /*BPF_ANY*/});
    return success();
  }
  if (auto del = dyn_cast<nf::MapDeleteOp>(op)) {
    auto mt = cast<nf::MapType>(states[del.getMap()].getType());
    Value key = encodeStored(values.lookup(del.getKey()), mt.getKeyType());
    Value mapPtr =
        b.create<LLVM::AddressOfOp>(loc, ptr, globalVar(del.getMap()));
    callHelper(kMapDelete, i64, {mapPtr, key});
    return success();
  }
  if (auto append = dyn_cast<nf::LogAppendOp>(op)) {
    const LogABI *l = nullptr;
    for (const LogABI &x : abi.logs)
      if (x.name == append.getLog())
        l = &x;
    Value rec = scratchSlot(l->recordSize, 8);
    zeroBytes(rec, l->recordSize, 8);
    for (auto [i, v] : llvm::enumerate(append.getValues())) {
      const ValueLayout &f = l->record[i];
      Value at = gep(rec, f.offset);
      Value x = values.lookup(v);
      if (isa<nf::StringType>(v.getType()))
        copyBytes(at, gep(x, 4), f.size, alignAt(f.offset));
      else
        store(bitWidthOf(v.getType()) == 1 ? resize(x, 8, false) : x, at, 1);
    }
    Value mapPtr = b.create<LLVM::AddressOfOp>(loc, ptr, l->ringbuf);
    callHelper(kRingbufOutput, i64,
               {mapPtr, rec, cst(i64, l->recordSize), cst(i64, 0)});
    Value base =
        b.create<LLVM::AddressOfOp>(loc, ptr, stateGlobal.getSymName());
    b.create<LLVM::AtomicRMWOp>(loc, i64, LLVM::AtomicBinOp::add,
                                gep(base, l->sizeCounterOffset), cst(i64, 1),
                                LLVM::AtomicOrdering::seq_cst);
    return success();
  }
  if (auto size = dyn_cast<nf::LogSizeOp>(op)) {
    const LogABI *l = nullptr;
    for (const LogABI &x : abi.logs)
      if (x.name == size.getLog())
        l = &x;
    Value base =
        b.create<LLVM::AddressOfOp>(loc, ptr, stateGlobal.getSymName());
    return set(size, load(i64, gep(base, l->sizeCounterOffset), 8));
  }
  if (isa<nf::ForwardOp>(op)) {
    exitWith(verdict(true));
    return success();
  }
  if (auto reject = dyn_cast<nf::RejectOp>(op)) {
    int slot = abi.rejectSlot(reject.getReason());
    Value key = stackSlot(4);
    // The key's lifetime, as clang marks a local's: it ends where both
    // arms meet, and that join (kept by the marker, as in clang's IR)
    // is the one place the verdict is set, after the null test. Without
    // it LLVM folds the join into the return's phi and sets the verdict
    // before the test, copying the lookup's result out of r0 (one
    // instruction more than the expert C in priority_fault). Measured over
    // the examples: priority_fault 51 -> 50, but firewall 129 -> 132 and
    // admission_control 151 -> 152, where LLVM no longer shares one
    // load/add/store tail between the reject count and a state update.
    b.create<LLVM::LifetimeStartOp>(loc, 4, key);
    store(cst(i32, slot), key, 4);
    Value mapPtr = b.create<LLVM::AddressOfOp>(loc, ptr, abi.rejectMap);
    Value p = callHelper(kMapLookup, ptr, {mapPtr, key});
    Value found = icmp(LLVM::ICmpPredicate::ne, p,
                       b.create<LLVM::NullOp>(loc, ptr));
    Block *cur = b.getInsertionBlock();
    Block *count = new Block(), *done = new Block();
    cur->getParent()->push_back(count);
    cur->getParent()->push_back(done);
    b.create<LLVM::CondBrOp>(loc, found, count, ValueRange{}, done,
                             ValueRange{});
    b.setInsertionPointToStart(count);
    // Per-CPU slot: a plain increment, as the C's sbpf_count_reject.
    store(b.create<LLVM::AddOp>(loc, load(i64, p, 8), cst(i64, 1)), p, 8);
    b.create<LLVM::BrOp>(loc, ValueRange{}, done);
    b.setInsertionPointToStart(done);
    b.create<LLVM::LifetimeEndOp>(loc, 4, key);
    exitWith(verdict(false));
    return success();
  }
  if (auto y = dyn_cast<nf::YieldOp>(op)) {
    SmallVector<Value> args;
    for (Value v : y.getValues())
      args.push_back(values.lookup(v));
    b.create<LLVM::BrOp>(loc, args, merge);
    return success();
  }
  if (auto ifOp = dyn_cast<nf::IfOp>(op)) {
    Region *then = &ifOp.getThenRegion();
    return lowerBranches(op, {values.lookup(ifOp.getCondition())}, {then},
                         &ifOp.getElseRegion());
  }
  if (auto match = dyn_cast<nf::MatchOp>(op)) {
    Value s = values.lookup(match.getScrutinee());
    Type t = match.getScrutinee().getType();
    SmallVector<Value> conds;
    SmallVector<Region *> regions;
    for (auto [c, r] : llvm::zip(match.getCases(), match.getCaseRegions())) {
      FailureOr<Value> v = constant(c, t, op);
      if (failed(v))
        return failure();
      if (auto st = dyn_cast<nf::StringType>(t))
        conds.push_back(strEq(s, *v, st.getCapacity()));
      else
        conds.push_back(icmp(LLVM::ICmpPredicate::eq, s, *v));
      regions.push_back(&r);
    }
    return lowerBranches(op, conds, regions, &match.getDefaultRegion());
  }
  if (auto mo = dyn_cast<nf::MatchOptionOp>(op)) {
    auto it = optionals.find(mo.getOptional());
    if (it == optionals.end())
      return op->emitError("not supported yet by the LLVM backend: "
                           "match_option on anything but netfn.map.get");
    Block &some = mo.getSomeRegion().front();
    auto optType = cast<nf::OptionType>(mo.getOptional().getType());
    Value copy = it->second.second;
    // The bound value is decoded in the some arm, as the C does.
    auto decode = [&](size_t) {
      if (some.getNumArguments() == 1)
        values[some.getArgument(0)] =
            decodeStored(copy, optType.getValueType(), 8);
    };
    return lowerBranches(op, {it->second.first}, {&mo.getSomeRegion()},
                         &mo.getNoneRegion(), decode);
  }
  return op->emitError() << "not supported yet by the LLVM backend: '"
                         << op->getName() << "'";
}

// ---------------------------------------------------------------------------
// The program
// ---------------------------------------------------------------------------

LogicalResult Lowering::lowerProgram() {
  b.setInsertionPoint(program);
  loc = program.getLoc();
  auto fnTy = LLVM::LLVMFunctionType::get(i32, {ptr});
  std::string name = cIdentifier(abi.program);
  func = b.create<LLVM::LLVMFuncOp>(loc, name, fnTy);
  // No unwinding in BPF: without nounwind an .eh_frame section appears.
  func->setAttr("passthrough", b.getArrayAttr({b.getStringAttr("nounwind")}));
  Block *entry = func.addEntryBlock();
  Region &body = func.getBody();
  Value ctxArg = entry->getArgument(0);
  b.setInsertionPointToStart(entry);
  bool xdp = options.hook == Hook::XDP;

  // The one return, of its argument, and a block passing every early exit
  // of the parser to it; both placed last, as clang orders a C function's
  // shared return: LLVM's block placement follows, and every check falls
  // through to the next.
  exitBlock = new Block();
  body.push_back(exitBlock);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(exitBlock);
    b.create<LLVM::ReturnOp>(loc, exitBlock->addArgument(i32, loc));
  }
  Block *passBlock = new Block();
  body.push_back(passBlock);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(passBlock);
    exitWith(verdict(true));
  }
  auto require = [&](Value ok) {
    Block *next = new Block();
    body.push_back(next);
    b.create<LLVM::CondBrOp>(loc, ok, next, ValueRange{}, passBlock,
                             ValueRange{});
    b.setInsertionPointToStart(next);
  };
  auto ctxPtr = [&](int64_t off) {
    Value v = resize(load(i32, gep(ctxArg, off), 4), 64, false);
    return b.create<LLVM::IntToPtrOp>(loc, ptr, v).getResult();
  };
  // xdp_md: data at 0, data_end at 4; __sk_buff: data at 76, data_end at 80.
  Value data = ctxPtr(xdp ? 0 : 76), dataEnd = ctxPtr(xdp ? 4 : 80);
  auto within = [&](Value p, int64_t n) {
    return icmp(LLVM::ICmpPredicate::ule, gep(p, n), dataEnd);
  };
  auto byteAt = [&](Value p, int64_t off) { return load(i8, gep(p, off), 1); };
  auto eq8 = [&](Value v, int64_t c) {
    return icmp(LLVM::ICmpPredicate::eq, v, cst(i8, c));
  };
  // Events whose handler only forwards need no dispatch: the packet passes
  // either way (as in the C path).
  SmallVector<std::pair<const EventABI *, nf::HandlerOp>> dispatched;
  for (const EventABI &e : abi.events) {
    if (e.handler.empty())
      continue;
    nf::HandlerOp handler;
    for (auto h : program.getBody().getOps<nf::HandlerOp>())
      if (h.getSymName() == e.handler)
        handler = h;
    Block &hb = handler.getBody().front();
    if (llvm::hasSingleElement(hb) && isa<nf::ForwardOp>(hb.front()))
      continue;
    dispatched.push_back({&e, handler});
  }
  if (dispatched.empty()) {
    b.create<LLVM::ReturnOp>(loc, verdict(true));
    return success();
  }
  // Every packet that is not a complete aRPC event with a handler passes
  // unchanged, so bounds checks whose failure could only lead to a pass are
  // merged, and wire words are read 16 bits at a time (little-endian host:
  // the constants are the big-endian wire values read that way; the
  // verifier allows unaligned packet loads, so each is one load).
  auto wire16 = [&](Value p, int64_t off) { return load(i16, gep(p, off), 2); };
  auto eq16 = [&](Value v, int64_t c) {
    return icmp(LLVM::ICmpPredicate::eq, v, cst(i16, c));
  };
  // Ethernet II carrying IPv4: both fixed headers at once.
  require(within(data, 14 + 20));
  require(eq16(wire16(data, 12), 0x0008)); // EtherType 0x0800
  Value ip = gep(data, 14);
  Value v0 = byteAt(ip, 0);
  Value lowNibble = b.create<LLVM::AndOp>(loc, v0, cst(i8, 0x0f));
  require(eq8(b.create<LLVM::AndOp>(loc, v0, cst(i8, 0xf0)), 0x40));
  require(icmp(LLVM::ICmpPredicate::uge, lowNibble, cst(i8, 5)));
  require(eq8(byteAt(ip, 9), 17));
  // Not the first IP fragment (a fragment offset): pass. Bytes 6 and 7 read
  // little-endian: 0x1f of byte 6 in the low byte, byte 7 in the high one.
  require(eq16(b.create<LLVM::AndOp>(loc, wire16(ip, 6), cst(i16, 0xff1f)),
               0));
  Value ihl = b.create<LLVM::ShlOp>(loc, resize(lowNibble, 64, false),
                                    cst(i64, 2));
  Value udp = gepDyn(ip, ihl);
  // UDP and the aRPC header (31 bytes, little-endian).
  const int64_t headers = 8 + 31;
  // The smallest dispatched layout's bounds join the headers': a shorter
  // packet fails every event's check (as the C path, main 77de7d1); only
  // larger layouts are checked again in their event's arm.
  uint64_t upfront = dispatched[0].first->payloadBytes;
  for (auto [e, h] : dispatched)
    upfront = std::min(upfront, e->payloadBytes);
  require(within(udp, headers + int64_t(upfront)));
  int64_t wirePort = ((options.rpcPort & 0xff) << 8) | (options.rpcPort >> 8);
  require(b.create<LLVM::OrOp>(loc, eq16(wire16(udp, 0), wirePort),
                               eq16(wire16(udp, 2), wirePort)));
  hdr = gep(udp, 8);
  ptype = byteAt(hdr, 0);
  // Only fragment 0 carries fields.
  require(eq8(byteAt(hdr, 14), 0));
  payload = gep(hdr, 31);

  // The per-CPU scratch value (strings and keys stay off the stack). Only
  // looked up when a handler takes a slot, which is known after lowering:
  // the handlers see it as the argument of `dispatch`, and `lookup` is
  // filled in at the end.
  Block *lookup = new Block(), *dispatch = new Block();
  body.push_back(lookup);
  body.push_back(dispatch);
  b.create<LLVM::BrOp>(loc, ValueRange{}, lookup);
  sc = dispatch->addArgument(ptr, loc);
  b.setInsertionPointToStart(dispatch);
  for (auto [e, handler] : dispatched) {
    Value isOurs;
    // (An unsigned range test of consecutive types, as the C's, costs one
    // instruction more here: LLVM already folds the two compares.)
    for (int t : e->packetTypes) {
      Value c = eq8(ptype, t);
      isOurs = isOurs ? b.create<LLVM::OrOp>(loc, isOurs, c).getResult() : c;
    }
    Block *run = new Block(), *next = new Block();
    body.push_back(run);
    body.push_back(next);
    b.create<LLVM::CondBrOp>(loc, isOurs, run, ValueRange{}, next,
                             ValueRange{});
    b.setInsertionPointToStart(run);
    // The whole layout of the event at once (unless checked up front).
    if (e->payloadBytes > upfront)
      require(within(udp, headers + int64_t(e->payloadBytes)));
    curEvent = e;
    findAtomicUpdates(handler.getBody().front(), atomicWrites, folded);
    if (failed(lowerBlock(handler.getBody().front(), nullptr)))
      return failure();
    b.setInsertionPointToStart(next);
  }
  exitWith(verdict(true));
  for (Block *last : {passBlock, exitBlock})
    body.getBlocks().splice(body.end(), body.getBlocks(), last->getIterator());

  b.setInsertionPointToStart(lookup);
  if (sc.use_empty()) {
    b.create<LLVM::BrOp>(loc, ValueRange{b.create<LLVM::NullOp>(loc, ptr)},
                         dispatch);
    return success();
  }
  Value zeroKey = stackSlot(4);
  store(cst(i32, 0), zeroKey, 4);
  Value scratchMap = b.create<LLVM::AddressOfOp>(loc, ptr, "sbpf_scratch");
  Value found = callHelper(kMapLookup, ptr, {scratchMap, zeroKey});
  b.create<LLVM::CondBrOp>(
      loc, icmp(LLVM::ICmpPredicate::ne, found, b.create<LLVM::NullOp>(loc, ptr)),
      dispatch, ValueRange{found}, passBlock, ValueRange{});
  return success();
}

LogicalResult Lowering::run() {
  if (failed(checkSupported()))
    return failure();
  for (auto state : program.getBody().getOps<nf::StateOp>())
    states[state.getSymName()] = state;
  if (failed(makeGlobals()))
    return failure();
  if (failed(lowerProgram()))
    return failure();
  // The scratch map's value: every slot the handlers took.
  uint64_t size = std::max<uint64_t>(alignTo(scratchSize, 8), 8);
  auto last = cast<DictionaryAttr>(mapDescs.back());
  NamedAttrList d(last);
  d.set("value_size", b.getI64IntegerAttr(size));
  mapDescs.back() = d.getDictionary(ctx);

  // What the object writer needs for BTF and ELF sections.
  module->setAttr("sbpf.bpf_maps", b.getArrayAttr(mapDescs));
  SmallVector<Attribute> members;
  for (const ScalarABI &s : abi.scalars) {
    NamedAttrList m;
    m.append("name", b.getStringAttr(s.name));
    m.append("offset", b.getI64IntegerAttr(s.layout.offset));
    m.append("size", b.getI64IntegerAttr(s.layout.size));
    m.append("encoding", b.getStringAttr(s.layout.encoding));
    members.push_back(m.getDictionary(ctx));
  }
  module->setAttr("sbpf.bpf_data", b.getArrayAttr(members));
  module->setAttr("sbpf.bpf_program",
                  b.getDictionaryAttr(
                      {b.getNamedAttr("name", b.getStringAttr(func.getName())),
                       b.getNamedAttr("section",
                                      b.getStringAttr(options.hook == Hook::XDP
                                                          ? "xdp"
                                                          : "tc"))}));
  program.erase();
  return success();
}

struct ConvertNetfnToLLVMPass
    : sbpf::impl::ConvertNetfnToLLVMBase<ConvertNetfnToLLVMPass> {
  using Base::Base;
  void runOnOperation() override {
    BackendOptions opts;
    if (hook == "tc")
      opts.hook = Hook::TC;
    else if (hook != "xdp") {
      getOperation().emitError() << "convert-netfn-to-llvm: unknown hook '"
                                 << hook << "' (expected xdp or tc)";
      return signalPassFailure();
    }
    if (rpcPort == 0 || rpcPort > 65535) {
      getOperation().emitError("convert-netfn-to-llvm: rpc-port must be "
                               "1..65535");
      return signalPassFailure();
    }
    opts.rpcPort = uint16_t(rpcPort);
    if (failed(lowerNetfnToLLVM(getOperation(), opts)))
      signalPassFailure();
  }
};

} // namespace

LogicalResult sbpf::lowerNetfnToLLVM(ModuleOp module,
                                     const BackendOptions &options,
                                     ProgramABI *abiOut) {
  // The ABI record (and the checks of what can be compiled at all) come
  // from the C backend, so that both object paths agree byte for byte.
  ProgramABI abi;
  if (failed(bpf::emitC(module, options, llvm::nulls(), &abi)))
    return failure();
  nf::ProgramOp program = *module.getBody()->getOps<nf::ProgramOp>().begin();
  // On failure the ops made so far are removed: the module stays as it was.
  llvm::DenseSet<Operation *> before;
  for (Operation &op : *module.getBody())
    before.insert(&op);
  Lowering lowering(program, module, options, abi);
  if (failed(lowering.run())) {
    for (Operation &op : llvm::make_early_inc_range(*module.getBody()))
      if (!before.contains(&op))
        op.erase();
    return failure();
  }
  if (abiOut)
    *abiOut = abi;
  return success();
}
