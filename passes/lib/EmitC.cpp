//===- EmitC.cpp - netfn to libbpf-style eBPF C ---------------------------===//
//
// One pass over the netfn.program: the ABI (state struct layout, maps,
// ring buffers, reject slots, initial values) is fixed first, then each
// handler is printed as a static inline function whose structured control
// flow becomes nested C blocks. Values become C locals (`vN`); results of
// structured ops are declared before the op and assigned in each arm.
//
// Representation (docs/bpf-abi.md):
//  - i1 -> __u8 (0/1); ui/si N -> __uN/__sN; instant -> __u64;
//  - string<N> -> struct sbpf_strN { __u32 len; char b[N]; } with the
//    invariant that bytes at and after `len` are zero (so NUL-padded keys
//    and wire slots are plain copies);
//  - option<T> (only from netfn.map.get) -> a found flag and a copy of the
//    value taken at lookup time;
//  - f64, fixed-point and pairs are rejected with a located error (pending).
//
//===----------------------------------------------------------------------===//
#include "sbpf/BPF/EmitC.h"
#include "sbpf/BPF/Analysis.h"

#include "sbpf/Netfn/Netfn.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"

#include <map>
#include <set>

using namespace mlir;
using namespace sbpf;
using namespace sbpf::bpf;
namespace nf = sbpf::netfn;

namespace {

std::string typeString(Type type) {
  std::string s;
  llvm::raw_string_ostream os(s);
  type.print(os);
  return s;
}

std::string ident(StringRef name) { return cIdentifier(name); }

std::string hexBytes(ArrayRef<uint8_t> bytes) {
  std::string s;
  for (uint8_t b : bytes)
  {
    static const char digits[] = "0123456789abcdef";
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s;
}

std::string cStringLiteral(StringRef bytes) {
  std::string s = "\"";
  for (unsigned char c : bytes) {
    if (c == '"' || c == '\\')
      s += std::string("\\") + char(c);
    else if (isprint(c))
      s += char(c);
    else
    {
      s += '\\';
      s += char('0' + ((c >> 6) & 7));
      s += char('0' + ((c >> 3) & 7));
      s += char('0' + (c & 7));
    }
  }
  return s + "\"";
}

unsigned intWidth(Type t) { return cast<IntegerType>(t).getWidth(); }

class Emitter {
public:
  Emitter(nf::ProgramOp program, const BackendOptions &options)
      : program(program), options(options) {}

  LogicalResult run(llvm::raw_ostream &out, ProgramABI *abiOut);

private:
  // --- checks and layout -------------------------------------------------
  LogicalResult checkSupported();
  LogicalResult layoutState();
  LogicalResult analyseInit();
  void collectRejects();

  // --- types ---------------------------------------------------------------
  /// C type of an SSA value / state scalar; empty when unsupported.
  std::string cType(Type t);
  /// The C type of a map key or value (strings NUL-padded, no length).
  std::string storedCType(Type t);
  ValueLayout storedLayout(Type t, uint64_t offset);
  uint64_t cSize(Type t);
  uint64_t cAlign(Type t);

  // --- emission --------------------------------------------------------------
  std::string name(Value v);
  /// A member of the per-CPU scratch struct (big values stay off the
  /// 512-byte BPF stack); returns the C lvalue `sc->NAME`.
  std::string scratchVar(const std::string &ctype, std::string n = "");
  std::string fresh(StringRef prefix = "t");
  /// The C variable of a map or ring buffer (not clashing with the program's
  /// function, which is named after the program).
  std::string globalVar(StringRef name) {
    std::string v = ident(name);
    return v == ident(program.getSymName()) ? v + "_map" : v;
  }
  void line(const Twine &text);
  LogicalResult emitBlock(Block &block, ArrayRef<std::string> results);
  LogicalResult emitOp(Operation *op, ArrayRef<std::string> results);
  LogicalResult emitHandler(nf::HandlerOp handler, EventABI &event,
                            nf::EventOp eventOp);
  std::string constant(Attribute value, Type type, Operation *at);
  std::string binary(Operation *op);
  /// A C pointer expression to the stored form of `v` (map keys, values).
  std::string encodeStored(Value v, Type t);
  void decodeStored(const std::string &dst, const std::string &src, Type t);
  std::string strHelper(unsigned cap);
  std::string strlenHelper(unsigned n);
  std::string strLoadHelper(unsigned cap, unsigned n);
  std::string copyHelper(unsigned n);
  /// Writes into the string `dst` the NUL-padded string of `n` bytes at
  /// the C expression `src` (a `const __u8 *`).
  void loadString(const std::string &dst, const std::string &src,
                  unsigned cap, unsigned n);
  std::string castHelper(unsigned from, unsigned to);
  std::string xorHelper(unsigned n, unsigned k);
  std::string preamble();

  nf::ProgramOp program;
  BackendOptions options;
  ProgramABI abi;
  llvm::StringMap<nf::StateOp> states;
  std::map<std::string, std::string> scalarInit; // member -> C initializer
  std::set<unsigned> strCaps;
  /// (capacity, bytes) of the strings read from NUL-padded bytes
  /// (sbpf_strN_fromM).
  std::set<std::pair<unsigned, unsigned>> strLoads;
  /// Byte counts of the string bytes copied into the frame (sbpf_copy_N).
  std::set<unsigned> copies;
  /// Lengths of NUL-padded wire strings scanned in place (sbpf_strlen_N).
  std::set<unsigned> strlens;
  /// String fields only measured (every use a string.len): not copied;
  /// the C expression of their first byte and the bytes that count.
  llvm::DenseMap<Value, std::pair<std::string, unsigned>> measuredFields;
  /// Handlers whose whole body is `netfn.forward`.
  std::set<std::string> forwardOnly;
  /// Handlers that read the packet type (a packet_type field).
  std::set<std::string> readsPtype;
  std::set<std::pair<unsigned, unsigned>> casts, xors;
  llvm::DenseMap<Value, std::string> names;
  /// Ops folded into an atomic update (the read and the add).
  llvm::DenseSet<Operation *> folded;
  /// state.write -> (delta value, negate)
  llvm::DenseMap<Operation *, std::pair<Value, bool>> atomicWrites;
  /// map.get results: the C names of the found flag and value copy.
  llvm::DenseMap<Value, std::pair<std::string, std::string>> optionals;
  unsigned counter = 0;
  /// cmp -> (the ui32 operand, the op giving p)
  llvm::DenseMap<Operation *, std::pair<Value, Operation *>> thresholds;
  llvm::DenseSet<Operation *> floatFolded;
  std::vector<std::pair<std::string, std::string>> scratch;
  int depth = 1;
  std::string body;
  // Per handler.
  const EventABI *curEvent = nullptr;
};

std::string Emitter::fresh(StringRef prefix) {
  return (prefix + Twine(counter++)).str();
}

std::string Emitter::name(Value v) {
  auto it = names.find(v);
  if (it != names.end())
    return it->second;
  std::string n = fresh("v");
  if (isa<nf::StringType>(v.getType()))
    n = scratchVar(cType(v.getType()), n);
  names[v] = n;
  return n;
}

std::string Emitter::scratchVar(const std::string &ctype, std::string n) {
  if (n.empty())
    n = fresh("t");
  scratch.push_back({ctype, n});
  return "sc->" + n;
}

void Emitter::line(const Twine &text) {
  body.append(size_t(depth) * 2, ' ');
  body += text.str();
  body += "\n";
}

// ---------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------

std::string Emitter::cType(Type t) {
  if (auto it = dyn_cast<IntegerType>(t)) {
    unsigned w = it.getWidth();
    if (w == 1)
      return "__u8";
    if (w != 8 && w != 16 && w != 32 && w != 64)
      return "";
    return (it.isSignedInteger() ? "__s" : "__u") + std::to_string(w);
  }
  if (isa<nf::InstantType>(t))
    return "__u64";
  if (auto f = dyn_cast<nf::FixedType>(t)) {
    unsigned w = f.getWidth();
    if ((w != 8 && w != 16 && w != 32 && w != 64) || f.getFrac() >= w)
      return "";
    return "__s" + std::to_string(w);
  }
  if (auto s = dyn_cast<nf::StringType>(t)) {
    strCaps.insert(s.getCapacity());
    return "struct sbpf_str" + std::to_string(s.getCapacity());
  }
  return "";
}

std::string Emitter::storedCType(Type t) {
  if (auto s = dyn_cast<nf::StringType>(t)) {
    strCaps.insert(s.getCapacity());
    return "struct sbpf_pad" + std::to_string(s.getCapacity());
  }
  return cType(t);
}

uint64_t Emitter::cSize(Type t) {
  if (t.isF64())
    return 8;
  if (auto f = dyn_cast<nf::FixedType>(t))
    return f.getWidth() / 8;
  if (auto it = dyn_cast<IntegerType>(t))
    return it.getWidth() == 1 ? 1 : it.getWidth() / 8;
  if (isa<nf::InstantType>(t))
    return 8;
  if (auto s = dyn_cast<nf::StringType>(t))
    return (4 + s.getCapacity() + 3) / 4 * 4;
  return 0;
}

uint64_t Emitter::cAlign(Type t) {
  if (isa<nf::StringType>(t))
    return 4;
  return cSize(t);
}


static std::string encodingOf(Type t) {
  if (auto it = dyn_cast<IntegerType>(t)) {
    if (it.getWidth() == 1)
      return "bool";
    return (it.isSignedInteger() ? "s" : "u") + std::to_string(it.getWidth());
  }
  if (isa<nf::InstantType>(t))
    return "u64";
  if (isa<nf::StringType>(t))
    return "str";
  if (auto f = dyn_cast<nf::FixedType>(t))
    return "fixed" + std::to_string(f.getWidth()) + "." +
           std::to_string(f.getFrac());
  return "?";
}

ValueLayout Emitter::storedLayout(Type t, uint64_t offset) {
  ValueLayout l;
  l.netfnType = typeString(t);
  l.cType = storedCType(t);
  l.encoding = encodingOf(t);
  l.offset = offset;
  if (auto s = dyn_cast<nf::StringType>(t))
    l.size = s.getCapacity();
  else
    l.size = cSize(t);
  return l;
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

static bool isFloatLike(Type t) {
  if (isa<FloatType>(t))
    return true;
  if (auto o = dyn_cast<nf::OptionType>(t))
    return isFloatLike(o.getValueType());
  if (auto p = dyn_cast<nf::PairType>(t))
    return isFloatLike(p.getFirst()) || isFloatLike(p.getSecond());
  if (auto m = dyn_cast<nf::MapType>(t))
    return isFloatLike(m.getKeyType()) || isFloatLike(m.getValueType());
  if (auto l = dyn_cast<nf::LogType>(t))
    return llvm::any_of(l.getFields(), isFloatLike);
  return false;
}

static bool hasPair(Type t) {
  if (isa<nf::PairType>(t))
    return true;
  if (auto o = dyn_cast<nf::OptionType>(t))
    return hasPair(o.getValueType());
  if (auto m = dyn_cast<nf::MapType>(t))
    return hasPair(m.getKeyType()) || hasPair(m.getValueType());
  if (auto l = dyn_cast<nf::LogType>(t))
    return llvm::any_of(l.getFields(), hasPair);
  return false;
}

/// ceil(p * 2^32) clamped to [0, 2^32] for the binary64 p with `bits`;
/// NaN and p <= 0 give 0. The C helper sbpf_f64_threshold32 is the same.
static int64_t threshold32(uint64_t bits) {
  uint64_t exp = (bits >> 52) & 0x7ff, frac = bits & ((1ULL << 52) - 1);
  const int64_t top = int64_t(1) << 32;
  if (bits >> 63)
    return 0;
  if (exp == 0x7ff)
    return frac ? 0 : top;
  uint64_t m = exp ? (frac | (1ULL << 52)) : frac;
  int64_t s = (exp ? int64_t(exp) - 1075 : -1074) + 32; // p*2^32 = m*2^s
  if (m == 0)
    return 0;
  if (s >= 0) {
    if (s > 32 || m >= (1ULL << (32 - s)))
      return top;
    return int64_t(m << s);
  }
  int64_t k = -s;
  if (k >= 64)
    return 1;
  uint64_t v = (m >> k) + ((m & ((1ULL << k) - 1)) != 0);
  return v >= uint64_t(top) ? top : int64_t(v);
}


LogicalResult Emitter::checkSupported() {
  LogicalResult result = success();
  findRandomThresholds(program, thresholds, floatFolded);
  auto typeProblem = [&](Operation *op, Type t) -> bool {
    if (isFloatLike(t)) {
      op->emitError() << "BPF backend: floating-point value of type "
                      << typeString(t)
                      << " cannot be compiled; run --netfn-float-to-fixed "
                         "first to represent reals in fixed point";
      return true;
    }
    if (auto f = dyn_cast<nf::FixedType>(t))
      if (cType(f).empty()) {
        op->emitError() << "BPF backend: fixed-point type " << typeString(t)
                        << " is not supported (width 8/16/32/64 with fewer "
                           "fraction bits than the width)";
        return true;
      }
    if (hasPair(t)) {
      op->emitError() << "BPF backend: pair type " << typeString(t)
                      << " is not supported yet";
      return true;
    }
    return false;
  };
  program.walk<WalkOrder::PreOrder>([&](Operation *op) -> WalkResult {
    // Exempt: the exact random-threshold comparison, and f64 constants
    // written to f64 state by init (they become .data initial values).
    if (floatFolded.contains(op) || thresholds.count(op))
      return WalkResult::advance();
    if (auto c = dyn_cast<nf::ConstOp>(op))
      if (c.getType().isF64() && op->getParentOfType<nf::InitOp>() &&
          llvm::all_of(op->getUsers(),
                       [](Operation *u) { return isa<nf::StateWriteOp>(u); }))
        return WalkResult::advance();
    if (auto w = dyn_cast<nf::StateWriteOp>(op))
      if (w.getValue().getType().isF64() && op->getParentOfType<nf::InitOp>() &&
          isa_and_nonnull<nf::ConstOp>(w.getValue().getDefiningOp()))
        return WalkResult::advance();
    if (auto foreach = dyn_cast<nf::ForeachOp>(op)) {
      op->emitError() << "BPF backend: 'netfn.foreach' over log "
                      << foreach.getLogAttr()
                      << " cannot be compiled: a log is a BPF ring buffer, "
                         "which BPF code can only append to, not iterate";
      result = failure();
      return WalkResult::interrupt();
    }
    if (auto state = dyn_cast<nf::StateOp>(op)) {
      if (state.getType().isF64())
        return WalkResult::advance(); // IEEE-754 bits in .data
      if (typeProblem(op, state.getType())) {
        result = failure();
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    }
    if (isa<nf::EventOp>(op))
      return WalkResult::advance(); // unused float fields are fine
    for (Type t : op->getOperandTypes())
      if (typeProblem(op, t)) {
        result = failure();
        return WalkResult::interrupt();
      }
    for (Type t : op->getResultTypes())
      if (typeProblem(op, t)) {
        result = failure();
        return WalkResult::interrupt();
      }
    for (Region &r : op->getRegions())
      for (Block &b : r)
        for (Type t : b.getArgumentTypes())
          if (typeProblem(op, t)) {
            result = failure();
            return WalkResult::interrupt();
          }
    return WalkResult::advance();
  });
  return result;
}

// ---------------------------------------------------------------------------
// State layout, init, rejects
// ---------------------------------------------------------------------------

LogicalResult Emitter::layoutState() {
  abi.globalName = "sbpf_state";
  abi.globalSection = ".data";
  uint64_t offset = 0, maxAlign = 1;
  auto place = [&](const std::string &name, Type t, const std::string &ctype,
                   const std::string &encoding) {
    uint64_t align = cAlign(t), size = cSize(t);
    maxAlign = std::max(maxAlign, align);
    offset = (offset + align - 1) / align * align;
    ScalarABI s;
    s.name = name;
    s.layout.netfnType = typeString(t);
    s.layout.cType = ctype;
    s.layout.encoding = encoding;
    s.layout.offset = offset;
    s.layout.size = size;
    abi.scalars.push_back(s);
    offset += size;
    return s.layout.offset;
  };
  Builder b(program.getContext());
  for (auto state : program.getBody().getOps<nf::StateOp>()) {
    states[state.getSymName()] = state;
    Type t = state.getType();
    if (auto map = dyn_cast<nf::MapType>(t)) {
      MapABI m;
      m.name = state.getSymName().str();
      m.bpfType = "BPF_MAP_TYPE_HASH";
      m.key = storedLayout(map.getKeyType(), 0);
      m.value = storedLayout(map.getValueType(), 0);
      m.capacity = map.getCapacity();
      if (m.key.cType.empty() || m.value.cType.empty())
        return state.emitError("BPF backend: unsupported map key or value type");
      abi.maps.push_back(m);
      continue;
    }
    if (auto log = dyn_cast<nf::LogType>(t)) {
      LogABI l;
      l.name = state.getSymName().str();
      l.ringbuf = globalVar(l.name);
      l.ringbufBytes = 256 * 1024;
      uint64_t roff = 0;
      for (Type f : log.getFields()) {
        ValueLayout fl = storedLayout(f, roff);
        if (fl.cType.empty())
          return state.emitError("BPF backend: unsupported log record type");
        roff += fl.size;
        l.record.push_back(fl);
      }
      l.recordSize = roff;
      abi.logs.push_back(l);
      continue;
    }
    if (t.isF64()) {
      place(state.getSymName().str(), t, "__u64", "f64");
      continue;
    }
    std::string ct = cType(t);
    if (ct.empty())
      return state.emitError() << "BPF backend: unsupported state type "
                               << typeString(t);
    std::string enc = encodingOf(t);
    if (enc == "str")
      enc = "str_len";
    place(state.getSymName().str(), t, ct, enc);
  }
  for (LogABI &l : abi.logs) {
    l.sizeCounter = l.name + ".size";
    l.sizeCounterOffset =
        place(l.sizeCounter, b.getIntegerType(64, false), "__u64", "u64");
  }
  abi.globalSize = (offset + maxAlign - 1) / maxAlign * maxAlign;
  if (abi.globalSize == 0)
    abi.globalSize = 8; // a placeholder member keeps the struct non-empty
  return success();
}

/// Bytes of a constant stored in a map key/value (ABI encoding), `size`
/// bytes (the layout's size); empty when the constant has no such encoding.
static std::vector<uint8_t> storedBytes(Attribute value, Type t,
                                        uint64_t size) {
  std::vector<uint8_t> out;
  if (isa<nf::StringType>(t)) {
    auto str = dyn_cast<StringAttr>(value);
    if (!str || str.getValue().size() > size)
      return out;
    out.assign(size, 0);
    for (size_t i = 0; i < str.getValue().size(); ++i)
      out[i] = uint8_t(str.getValue()[i]);
    return out;
  }
  uint64_t v = 0;
  if (auto i = dyn_cast<IntegerAttr>(value)) {
    // The low `size` bytes; a bool (i1) is 0 or 1, wider values extend by
    // sign, which only matters for a raw value narrower than its slot.
    const llvm::APInt &a = i.getValue();
    v = (a.getBitWidth() == 1 ? a.zextOrTrunc(64) : a.sextOrTrunc(64))
            .getZExtValue();
  } else if (auto bl = dyn_cast<BoolAttr>(value))
    v = bl.getValue();
  else
    return out;
  // Integers (i1: one byte), fixed point (the raw value), instants (u64).
  if (!isa<IntegerType, nf::FixedType, nf::InstantType>(t) || size > 8)
    return out;
  for (uint64_t k = 0; k < size; ++k)
    out.push_back(uint8_t(v >> (8 * k)));
  return out;
}

static std::string attrText(Attribute a) {
  if (auto s = dyn_cast<StringAttr>(a))
    return s.getValue().str();
  if (auto i = dyn_cast<IntegerAttr>(a)) {
    if (i.getType().isSignedInteger())
      return std::to_string(i.getValue().getSExtValue());
    if (i.getType().isInteger(1))
      return i.getValue().isZero() ? "false" : "true";
    return std::to_string(i.getValue().getZExtValue());
  }
  if (auto bl = dyn_cast<BoolAttr>(a))
    return bl.getValue() ? "true" : "false";
  if (auto f = dyn_cast<FloatAttr>(a)) {
    llvm::SmallString<32> text;
    f.getValue().toString(text, /*FormatPrecision=*/17, /*FormatMaxPadding=*/0);
    return std::string(text);
  }
  std::string s;
  llvm::raw_string_ostream os(s);
  a.print(os);
  return s;
}

LogicalResult Emitter::analyseInit() {
  auto inits = program.getBody().getOps<nf::InitOp>();
  if (inits.empty())
    return success();
  nf::InitOp init = *inits.begin();
  // What init does, in order. A scalar written twice counts once, at its
  // last write (the one whose value stays).
  struct Step {
    bool scalar = false;
    std::string constText; ///< scalar with a constant: its readable value
    LoaderWork work;       ///< otherwise: the loader's work
  };
  std::vector<Step> steps;
  auto scalarStep = [&](const std::string &sym) -> Step & {
    llvm::erase_if(steps, [&](const Step &st) {
      return st.scalar && st.work.target == sym;
    });
    steps.emplace_back();
    steps.back().scalar = true;
    steps.back().work.target = sym;
    return steps.back();
  };
  for (Operation &op : init.getBody().front()) {
    if (isa<nf::ConstOp, nf::NowOp, nf::RandomOp, nf::ReturnOp>(op))
      continue;
    if (auto write = dyn_cast<nf::StateWriteOp>(op)) {
      std::string sym = write.getState().str();
      Operation *def = write.getValue().getDefiningOp();
      if (auto c = dyn_cast_or_null<nf::ConstOp>(def)) {
        std::string text = constant(c.getValue(), c.getType(), c);
        if (text.empty())
          return failure();
        scalarStep(sym).constText = attrText(c.getValue());
        scalarInit[sym] = text;
        continue;
      }
      if (isa_and_nonnull<nf::NowOp, nf::RandomOp>(def)) {
        const ScalarABI *sc = abi.findScalar(sym);
        if (!sc)
          return write.emitError() << "BPF backend: init writes @" << sym
                                   << ", which is not a scalar state";
        LoaderWork &w = scalarStep(sym).work;
        w.kind = isa<nf::NowOp>(def) ? "state_now" : "state_random";
        w.offset = sc->layout.offset;
        w.size = sc->layout.size;
        w.encoding = sc->layout.encoding;
        scalarInit.erase(sym);
        continue;
      }
      return write.emitError(
          "BPF backend: init may only write constants, current_time() or a "
          "random draw to state (computed initial values are pending)");
    }
    if (auto set = dyn_cast<nf::MapSetOp>(op)) {
      // The loader writes a key or value as constant bytes, or reads it
      // itself when init takes it straight from current_time() (a u64 clock
      // reading) or a random draw (random bytes): LoaderWork::keyFrom /
      // valueFrom. Anything computed otherwise cannot be recorded, so it is
      // refused here rather than mis-written.
      const MapABI *m = abi.findMap(set.getMap());
      if (!m)
        return set.emitError() << "BPF backend: init inserts into @"
                               << set.getMap() << ", which is not a map";
      steps.emplace_back();
      LoaderWork &w = steps.back().work;
      w.kind = "map_entry";
      w.target = set.getMap().str();
      for (auto [operand, layout, hex, from, text, what] :
           {std::make_tuple(set.getKey(), &m->key, &w.key, &w.keyFrom,
                            &w.keyText, "key"),
            std::make_tuple(set.getValue(), &m->value, &w.value, &w.valueFrom,
                            &w.valueText, "value")}) {
        Operation *def = operand.getDefiningOp();
        if (auto c = dyn_cast_or_null<nf::ConstOp>(def)) {
          std::vector<uint8_t> bytes =
              storedBytes(c.getValue(), c.getType(), layout->size);
          if (bytes.size() != layout->size)
            return set.emitError()
                   << "BPF backend: init's entry in @" << set.getMap()
                   << " has a " << what
                   << " constant without a byte encoding of its map layout";
          *hex = hexBytes(bytes);
          *text = attrText(c.getValue());
          continue;
        }
        bool now = isa_and_nonnull<nf::NowOp>(def);
        if ((now && layout->encoding == "u64" && layout->size == 8) ||
            (isa_and_nonnull<nf::RandomOp>(def) && layout->encoding == "u32" &&
             layout->size == 4)) {
          *from = now ? "clock" : "random";
          *text = now ? "current_time()" : "random()";
          continue;
        }
        return set.emitError()
               << "BPF backend: init may only insert map entries whose key "
                  "and value are constants, current_time() or a random "
                  "draw: the "
               << what << " of this entry in @" << set.getMap()
               << " is computed otherwise (other computed entries are "
                  "pending)";
      }
      continue;
    }
    return op.emitError() << "BPF backend: '" << op.getName()
                          << "' in init is not supported (init may only "
                             "write constants, current_time() or a random "
                             "draw to state, and entries of these to maps)";
  }
  for (Step &st : steps) {
    if (st.scalar && st.work.kind.empty())
      abi.initialScalars.push_back({st.work.target, st.constText});
    else
      abi.loaderWork.push_back(std::move(st.work));
  }
  return success();
}

void Emitter::collectRejects() {
  program.walk<WalkOrder::PreOrder>([&](nf::RejectOp reject) {
    std::string r = reject.getReason().str();
    if (abi.rejectSlot(r) < 0)
      abi.rejects.push_back(r);
  });
  if (!abi.rejects.empty())
    abi.rejectMap = "sbpf_rejects";
}


// ---------------------------------------------------------------------------
// Helpers emitted into the C file
// ---------------------------------------------------------------------------

static std::string subst(std::string text,
                         ArrayRef<std::pair<StringRef, std::string>> vars) {
  for (auto &[key, val] : vars) {
    size_t pos = 0;
    while ((pos = text.find(key.str(), pos)) != std::string::npos) {
      text.replace(pos, key.size(), val);
      pos += val.size();
    }
  }
  return text;
}

/// Rolled loops over the bytes [lo, hi) with counter i: `word` for each
/// 8-byte word, then `byte` for each byte left. Word loads and stores at
/// any offset are sbpf_u64_unaligned (the preamble says why).
static std::string wordLoops(unsigned lo, unsigned hi, StringRef word,
                             StringRef byte) {
  if (hi <= lo)
    return "";
  unsigned mid = lo + (hi - lo) / 8 * 8;
  std::string text;
  if (mid > lo)
    text += ("#pragma clang loop unroll(disable)\n  for (__u32 i = " +
             Twine(lo) + "; i < " + Twine(mid) + "; i += 8)\n    " + word +
             "\n")
                .str();
  if (hi > mid)
    text += ("#pragma clang loop unroll(disable)\n  for (__u32 i = " +
             Twine(mid) + "; i < " + Twine(hi) + "; i++)\n    " + byte + "\n")
                .str();
  return text;
}

std::string Emitter::strHelper(unsigned cap) {
  std::string text = subst(R"(/* string<@N@>: len bytes in b, every byte from len on is zero. */
struct sbpf_str@N@ {
  __u32 len;
  char b[@N@];
};
/* string<@N@> as stored in maps, logs and on the wire: NUL-padded. */
struct sbpf_pad@N@ {
  char b[@N@];
};
/* Bytes from len on are zero on both sides, so comparing the whole padded
   slots compares the strings: in words (as the LLVM path; with a rolled
   byte loop kinds/cache's C object was not proven in 150 s). Word loads
   at offset 4 of the struct: the kernel allows them. */
static __always_inline int sbpf_str@N@_eq(const struct sbpf_str@N@ *a,
                                         const struct sbpf_str@N@ *b)
{
  __u64 diff = 0;
)",
                           {{"@N@", std::to_string(cap)}});
  text += wordLoops(0, cap,
                    "diff |= *(const sbpf_u64_unaligned *)(a->b + i) ^\n"
                    "            *(const sbpf_u64_unaligned *)(b->b + i);",
                    "diff |= (__u8)(a->b[i] ^ b->b[i]);");
  return text + "  return a->len == b->len && diff == 0;\n}\n";
}

/// Writes into `d` the NUL-padded string of n bytes at `p`: len the index
/// of the first NUL (or n), every byte from len on zero (bytes n..cap are
/// the caller's to zero). Copy and normalisation in one rolled loop, as
/// the LLVM path's strNorm and the checker's decoding of a string slot
/// (SemContext::nulPadded): each byte of d is a byte of p masked, not a
/// byte read back through a copy (a copy and an in-place pass made the
/// C object three times larger and its proofs many times slower). The
/// mask is branch-free, all ones when i < len (both below 2^31): a branch
/// in a loop body lets the checker's executor meet states of different
/// iterations at one join.
std::string Emitter::strLoadHelper(unsigned cap, unsigned n) {
  return subst(R"(static __always_inline void sbpf_str@N@_from@M@(struct sbpf_str@N@ *d,
                                              const __u8 *p)
{
  __u32 len = sbpf_strlen_@M@(p);
#pragma clang loop unroll(disable)
  for (__u32 i = 0; i < @M@; i++)
    d->b[i] = p[i] & (__u8)((__s32)(i - len) >> 31);
  d->len = len;
  /* A compiler barrier: without it clang keeps the bytes of several strings
     in registers across helpers and spills them past the 512-byte stack. */
  asm volatile("" ::: "memory");
}
)",
               {{"@N@", std::to_string(cap)}, {"@M@", std::to_string(n)}});
}

/// Copies n bytes in words (the rest bytewise), as the LLVM path's
/// copyBytes: a __builtin_memcpy into the frame, whose alignment clang
/// does not know, was n byte loads and stores (64 for scramble's body).
std::string Emitter::copyHelper(unsigned n) {
  std::string text = subst(R"(static __always_inline void sbpf_copy_@N@(__u8 *d, const char *s)
{
)",
                           {{"@N@", std::to_string(n)}});
  text += wordLoops(0, n,
                    "*(sbpf_u64_unaligned *)(d + i) = "
                    "*(const sbpf_u64_unaligned *)(s + i);",
                    "d[i] = s[i];");
  return text + "}\n";
}

void Emitter::loadString(const std::string &dst, const std::string &src,
                         unsigned cap, unsigned n) {
  strLoads.insert({cap, n});
  strlens.insert(n);
  line("sbpf_str" + std::to_string(cap) + "_from" + std::to_string(n) + "(&" +
       dst + ", " + src + ");");
}

/// The length of a NUL-padded string of n bytes (the index of its first
/// NUL, or n): a rolled byte loop that leaves at the first NUL (5
/// instructions; the unrolled eight-bytes-per-step scan took 79 for 64
/// bytes). The same value as copying and normalising the string.
///
/// The counter is 64-bit, as the LLVM path's scanLength: then clang gives
/// the loop one exit block (the first NUL's index and n both reach it), as
/// the LLVM path. With a __u32 counter clang kept the first NUL's exits
/// apart from the end (a `w2 = w3` block falling into the join), so the
/// checker's executor merged the early exits first and the end after, and
/// the length became an if-then-else chain ending in 63 under a
/// disjunction of the 64 NUL tests instead of the chain of the meaning
/// (SemContext::nulPadded), ending in ite(b63 == 0, 63, 64). Measured on
/// kinds/cache's C object: `state @repeats` 49 -> 14 million Z3 resource
/// units, `map @last_body` unknown after 200 million -> proven in 66
/// million (the LLVM object's figures).
std::string Emitter::strlenHelper(unsigned n) {
  return subst(R"(static __always_inline __u32 sbpf_strlen_@N@(const __u8 *p)
{
  __u64 i;
#pragma clang loop unroll(disable)
  for (i = 0; i < @N@; i++)
    if (p[i] == 0)
      break;
  return i;
}
)",
               {{"@N@", std::to_string(n)}});
}

/// A string cast: the first min(from, to) bytes copied in words (as the
/// LLVM path), the rest zeroed, len clamped. (A byte loop choosing between
/// a byte and 0 had a branch in its body, which lets the checker's
/// executor meet states of different iterations at one join.)
std::string Emitter::castHelper(unsigned from, unsigned to) {
  unsigned m = std::min(from, to);
  std::string text = subst(R"(static __always_inline void sbpf_cast_@F@_@T@(struct sbpf_str@T@ *d,
                                              const struct sbpf_str@F@ *s)
{
)",
                           {{"@F@", std::to_string(from)},
                            {"@T@", std::to_string(to)}});
  text += wordLoops(0, m,
                    "*(sbpf_u64_unaligned *)(d->b + i) = "
                    "*(const sbpf_u64_unaligned *)(s->b + i);",
                    "d->b[i] = s->b[i];");
  // The zero tail in words too (a memset at d->b + m is byte stores: clang
  // does not know its alignment).
  text += wordLoops(m, to, "*(sbpf_u64_unaligned *)(d->b + i) = 0;",
                    "d->b[i] = 0;");
  text += "  d->len = s->len < " + std::to_string(m) + " ? s->len : " +
          std::to_string(m) + ";\n}\n";
  return text;
}

std::string Emitter::xorHelper(unsigned n, unsigned k) {
  unsigned p = 1;
  while (p < k)
    p *= 2;
  std::pair<StringRef, std::string> vars[] = {{"@N@", std::to_string(n)},
                                              {"@K@", std::to_string(k)},
                                              {"@PM@", std::to_string(p - 1)},
                                              {"@P@", std::to_string(p)}};
  // The key is copied to kb in words, as the LLVM path's copyBytes: a
  // __builtin_memcpy from key->b (offset 4 of its struct, an alignment
  // clang does not know) was k byte loads and stores, 128 of scramble's
  // 476 instructions for each of its two handlers, and as many more terms
  // for the checker to match.
  std::string text = subst(R"(/* d[i] = s[i] ^ key[i mod len(key)] for i < len(s); an empty key leaves
   s. Branch-free so the verifier walks one path: the key is copied to kb
   (@P@ bytes, a power of two) and indexed with j & @PM@, which the
   verifier can bound; j < len(key) <= @K@ anyway. */
static __always_inline void sbpf_xor_@N@_@K@(struct sbpf_str@N@ *d,
                                            const struct sbpf_str@N@ *s,
                                            const struct sbpf_str@K@ *key,
                                            char *kb)
{
  __u32 klen = key->len;
  __u8 keep = klen == 0 ? 0 : 0xff; /* an empty key changes nothing */
  /* hide keep's origin, or clang tests klen in the loop body: a branch
     there lets the checker merge states of different iterations */
  asm volatile("" : "+r"(keep));
  if (klen == 0 || klen > @K@)
    klen = klen == 0 ? 1 : @K@;
)",
                           vars);
  text += wordLoops(0, k,
                    "*(sbpf_u64_unaligned *)(kb + i) = "
                    "*(const sbpf_u64_unaligned *)(key->b + i);",
                    "kb[i] = key->b[i];");
  return text + subst(R"(  __u32 slen = s->len;
#pragma clang loop unroll(disable)
  for (__u32 i = 0; i < @N@; i++) {
    __u32 j = i % klen;
    /* hide j's range from clang so the mask (for the verifier) stays */
    asm volatile("" : "+r"(j));
    j &= @PM@;
    /* all ones when i < slen (both are below 2^31) */
    __u8 in = (__u8)((__s32)(i - slen) >> 31);
    d->b[i] = s->b[i] ^ (kb[j] & in & keep);
  }
  d->len = slen;
}
)",
                      vars);
}

// ---------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------

/// A C expression (or, for strings, a brace initializer) for a constant.
std::string Emitter::constant(Attribute value, Type type, Operation *at) {
  if (auto st = dyn_cast<nf::StringType>(type)) {
    auto s = dyn_cast<StringAttr>(value);
    if (!s) {
      at->emitError("BPF backend: malformed string constant");
      return "";
    }
    strCaps.insert(st.getCapacity());
    return "{ .len = " + std::to_string(s.getValue().size()) +
           ", .b = " + cStringLiteral(s.getValue()) + " }";
  }
  if (auto it = dyn_cast<IntegerType>(type)) {
    llvm::APInt v;
    if (auto i = dyn_cast<IntegerAttr>(value))
      v = i.getValue();
    else if (auto bl = dyn_cast<BoolAttr>(value))
      v = llvm::APInt(1, bl.getValue());
    else {
      at->emitError("BPF backend: malformed integer constant");
      return "";
    }
    if (it.getWidth() == 1)
      return v.isZero() ? "0" : "1";
    std::string ct = cType(type);
    if (it.isSignedInteger()) {
      int64_t s = v.getSExtValue();
      if (s == INT64_MIN)
        return "((" + ct + ")0x8000000000000000ULL)";
      return "((" + ct + ")" + std::to_string(s) + "LL)";
    }
    return "((" + ct + ")" + std::to_string(v.getZExtValue()) + "ULL)";
  }
  if (auto ft = dyn_cast<nf::FixedType>(type)) {
    if (auto i = dyn_cast<IntegerAttr>(value)) {
      int64_t raw = i.getValue().sextOrTrunc(64).getSExtValue();
      std::string ct = cType(type);
      if (raw == INT64_MIN)
        return "((" + ct + ")0x8000000000000000ULL)";
      return "((" + ct + ")" + std::to_string(raw) + "LL)";
    }
  }
  if (type.isF64()) {
    if (auto f = dyn_cast<FloatAttr>(value)) {
      uint64_t bits = f.getValue().bitcastToAPInt().getZExtValue();
      std::string text;
      llvm::raw_string_ostream os(text);
      os << "((__u64)0x";
      os.write_hex(bits);
      os << "ULL) /* " << f.getValueAsDouble() << " */";
      return os.str();
    }
  }
  if (isa<nf::InstantType>(type)) {
    if (auto i = dyn_cast<IntegerAttr>(value))
      return "((__u64)" + std::to_string(i.getValue().getZExtValue()) + "ULL)";
  }
  at->emitError() << "BPF backend: unsupported constant of type "
                  << typeString(type);
  return "";
}

/// The unsigned C type wide enough to do `width`-bit wrapping arithmetic
/// without C's signed overflow or int promotion.
static unsigned bitWidth(Type t) {
  if (auto f = dyn_cast<nf::FixedType>(t))
    return f.getWidth();
  return intWidth(t);
}

static std::string wideUnsigned(Type t) {
  return bitWidth(t) == 64 ? "__u64" : "__u32";
}

std::string Emitter::binary(Operation *op) {
  Type t = op->getResult(0).getType();
  std::string ct = cType(t);
  std::string a = name(op->getOperand(0)), b = name(op->getOperand(1));
  bool isBool = t.isInteger(1);
  bool isSigned = t.isSignedInteger();
  std::string u = isBool ? "__u32" : wideUnsigned(t);
  auto wrap = [&](StringRef sym) {
    return "(" + ct + ")((" + u + ")" + a + " " + sym.str() + " (" + u + ")" +
           b + ")";
  };
  if (auto ft = dyn_cast<nf::FixedType>(t)) {
    std::string F = std::to_string(ft.getFrac());
    if (isa<nf::MulOp>(op)) {
      if (ft.getWidth() == 64)
        return "sbpf_fx_mul64(" + a + ", " + b + ", " + F + ")";
      return "(" + ct + ")(((__s64)" + a + " * (__s64)" + b + ") >> " + F +
             ")";
    }
    if (isa<nf::DivOp>(op)) {
      if (ft.getWidth() == 64)
        return "sbpf_fx_div64(" + a + ", " + b + ", " + F + ")";
      return "(" + ct + ")sbpf_sdiv((__s64)((__u64)(__s64)" + a + " << " + F +
             "), (__s64)" + b + ")";
    }
  }
  if (isa<nf::AddOp>(op))
    return wrap("+");
  if (isa<nf::SubOp>(op))
    return wrap("-");
  if (isa<nf::MulOp>(op))
    return wrap("*");
  if (isa<nf::AndOp>(op))
    return wrap("&");
  if (isa<nf::OrOp>(op))
    return wrap("|");
  if (isa<nf::XorOp>(op))
    return wrap("^");
  if (isa<nf::DivOp>(op)) {
    if (isSigned)
      return "(" + ct + ")sbpf_sdiv((__s64)" + a + ", (__s64)" + b + ")";
    return "(" + ct + ")(" + b + " == 0 ? 0 : " + a + " / " + b + ")";
  }
  if (isa<nf::RemOp>(op)) {
    if (isSigned)
      return "(" + ct + ")sbpf_srem((__s64)" + a + ", (__s64)" + b + ")";
    return "(" + ct + ")(" + b + " == 0 ? " + a + " : " + a + " % " + b + ")";
  }
  if (isa<nf::MinOp>(op))
    return "(" + a + " < " + b + " ? " + a + " : " + b + ")";
  if (isa<nf::MaxOp>(op))
    return "(" + a + " > " + b + " ? " + a + " : " + b + ")";
  return "";
}

/// Declares a stored (map/log) form of `v` and returns its C name.
std::string Emitter::encodeStored(Value v, Type t) {
  // A string's bytes are its stored form (NUL-padded: every byte from len
  // on is zero): the slot itself, no copy (as the LLVM path; copies to
  // unaligned slots were byte by byte, and the checker read map keys and
  // values back through them).
  if (isa<nf::StringType>(t))
    return name(v) + ".b";
  std::string n = fresh("k");
  line(storedCType(t) + " " + n + " = " + name(v) + ";");
  return "&" + n;
}

/// Declares `dst` (of the value type) from a stored form `src`.
void Emitter::decodeStored(const std::string &dst, const std::string &src,
                           Type t) {
  if (auto s = dyn_cast<nf::StringType>(t)) {
    loadString(dst, "(const __u8 *)" + src + ".b", s.getCapacity(),
               s.getCapacity());
  } else if (t.isInteger(1)) {
    line("__u8 " + dst + " = " + src + " != 0;");
  } else {
    line(cType(t) + " " + dst + " = " + src + ";");
  }
}

// ---------------------------------------------------------------------------
// Ops
// ---------------------------------------------------------------------------

LogicalResult Emitter::emitBlock(Block &block, ArrayRef<std::string> results) {
  for (Operation &op : block)
    if (failed(emitOp(&op, results)))
      return failure();
  return success();
}

static const nf::EventOp findEvent(nf::ProgramOp program, StringRef sym) {
  for (auto e : program.getBody().getOps<nf::EventOp>())
    if (e.getSymName() == sym)
      return e;
  return nullptr;
}

LogicalResult Emitter::emitOp(Operation *op, ArrayRef<std::string> results) {
  if (folded.contains(op) || floatFolded.contains(op))
    return success();
  auto declare = [&](Value v, const std::string &expr) {
    if (isa<nf::StringType>(v.getType()))
      line(name(v) + " = " + expr + ";");
    else
      line(cType(v.getType()) + " " + name(v) + " = " + expr + ";");
  };
  auto sv = [&](StringRef sym) { return "sbpf_state." + ident(sym); };
  const char *pass = options.hook == Hook::XDP ? "XDP_PASS" : "TC_ACT_OK";
  const char *drop = options.hook == Hook::XDP ? "XDP_DROP" : "TC_ACT_SHOT";

  if (auto c = dyn_cast<nf::ConstOp>(op)) {
    std::string text = constant(c.getValue(), c.getType(), op);
    if (text.empty())
      return failure();
    if (isa<nf::StringType>(c.getType()))
      line(name(c) + " = (" + cType(c.getType()) + ")" + text + ";");
    else
      declare(c, text);
    return success();
  }
  if (isa<nf::AddOp, nf::SubOp, nf::MulOp, nf::DivOp, nf::RemOp, nf::AndOp,
          nf::OrOp, nf::XorOp, nf::MinOp, nf::MaxOp>(op)) {
    declare(op->getResult(0), binary(op));
    return success();
  }
  if (auto n = dyn_cast<nf::NotOp>(op)) {
    declare(n, "!" + name(n.getOperand()));
    return success();
  }
  if (auto it = thresholds.find(op); it != thresholds.end()) {
    // r * 2^-32 < p  <=>  r < ceil(p * 2^32), exactly (docs/bpf-abi.md).
    Operation *p = it->second.second;
    std::string thr;
    if (auto read = dyn_cast<nf::StateReadOp>(p)) {
      thr = "sbpf_f64_threshold32(" + sv(read.getState()) + ")";
    } else {
      auto c = cast<nf::ConstOp>(p);
      uint64_t bits = cast<FloatAttr>(c.getValue())
                          .getValue()
                          .bitcastToAPInt()
                          .getZExtValue();
      thr = "((__s64)" + std::to_string(threshold32(bits)) + "LL)";
    }
    declare(op->getResult(0), "((__s64)(__u64)" + name(it->second.first) +
                                  " < " + thr + ")");
    return success();
  }
  if (auto cmp = dyn_cast<nf::CmpOp>(op)) {
    Type t = cmp.getLhs().getType();
    std::string a = name(cmp.getLhs()), b = name(cmp.getRhs());
    nf::CmpPredicate p = cmp.getPredicate();
    if (auto st = dyn_cast<nf::StringType>(t)) {
      if (p != nf::CmpPredicate::eq && p != nf::CmpPredicate::ne)
        return op->emitError("BPF backend: strings compare only by == / !=");
      std::string eq = "sbpf_str" + std::to_string(st.getCapacity()) +
                       "_eq(&" + a + ", &" + b + ")";
      declare(cmp, p == nf::CmpPredicate::eq ? eq : "!" + eq);
      return success();
    }
    const char *sym = "==";
    switch (p) {
    case nf::CmpPredicate::eq: sym = "=="; break;
    case nf::CmpPredicate::ne: sym = "!="; break;
    case nf::CmpPredicate::lt: sym = "<"; break;
    case nf::CmpPredicate::le: sym = "<="; break;
    case nf::CmpPredicate::gt: sym = ">"; break;
    case nf::CmpPredicate::ge: sym = ">="; break;
    }
    declare(cmp, "(" + a + " " + sym + " " + b + ")");
    return success();
  }
  if (auto sel = dyn_cast<nf::SelectOp>(op)) {
    std::string c = name(sel.getCondition());
    std::string a = name(sel.getTrueValue()), b = name(sel.getFalseValue());
    declare(sel, c + " ? " + a + " : " + b);
    return success();
  }
  if (auto cast = dyn_cast<nf::CastOp>(op)) {
    Type from = cast.getInput().getType(), to = cast.getType();
    std::string in = name(cast.getInput());
    if (auto fs = dyn_cast<nf::StringType>(from)) {
      auto ts = dyn_cast<nf::StringType>(to);
      if (!ts)
        return op->emitError("BPF backend: unsupported string cast");
      unsigned f = fs.getCapacity(), t = ts.getCapacity();
      if (f == t) {
        declare(cast, in);
        return success();
      }
      casts.insert({f, t});
      name(cast);
      line("sbpf_cast_" + std::to_string(f) + "_" + std::to_string(t) + "(&" +
           name(cast) + ", &" + in + ");");
      return success();
    }
    if (from.isInteger(1) && !isa<nf::FixedType>(to)) {
      declare(cast, "(" + cType(to) + ")(" + in + " != 0)");
      return success();
    }
    auto ff = dyn_cast<nf::FixedType>(from);
    auto tf = dyn_cast<nf::FixedType>(to);
    if (ff || tf) {
      std::string ct = cType(to);
      if (!ff) { // integer (or i1) -> fixed: v * 2^F wrapped to W bits
        std::string ext = from.isInteger(1) ? "(__u64)(" + in + " != 0)"
                          : from.isSignedInteger()
                              ? "(__u64)(__s64)" + in
                              : "(__u64)" + in;
        declare(cast, "(" + ct + ")(" + ext + " << " +
                          std::to_string(tf.getFrac()) + ")");
        return success();
      }
      if (!tf) { // fixed -> integer: arithmetic shift right by F
        if (to.isInteger(1))
          return op->emitError("BPF backend: unsupported cast to i1");
        declare(cast, "(" + ct + ")((__s64)" + in + " >> " +
                          std::to_string(ff.getFrac()) + ")");
        return success();
      }
      int d = int(tf.getFrac()) - int(ff.getFrac());
      std::string v = "(__s64)" + in;
      if (d > 0)
        v = "(__s64)((__u64)" + v + " << " + std::to_string(d) + ")";
      else if (d < 0)
        v = "(" + v + " >> " + std::to_string(-d) + ")";
      declare(cast, "(" + ct + ")" + v);
      return success();
    }
    if (to.isInteger(1))
      return op->emitError("BPF backend: unsupported cast to i1");
    // Integers (extension by the source's signedness is C's) and instants.
    declare(cast, "(" + cType(to) + ")" + in);
    return success();
  }
  if (auto bc = dyn_cast<nf::BitcastOp>(op)) {
    // Same width, same bits: a C conversion between __uW/__sW.
    declare(bc, "(" + cType(bc.getType()) + ")" + name(bc.getInput()));
    return success();
  }
  if (auto len = dyn_cast<nf::StringLenOp>(op)) {
    auto measured = measuredFields.find(len.getInput());
    if (measured != measuredFields.end()) {
      auto [at, n] = measured->second;
      strlens.insert(n);
      declare(len, "sbpf_strlen_" + std::to_string(n) + "(" + at + ")");
      return success();
    }
    declare(len, name(len.getInput()) + ".len");
    return success();
  }
  if (auto x = dyn_cast<nf::StringXorOp>(op)) {
    unsigned n = cast<nf::StringType>(x.getInput().getType()).getCapacity();
    unsigned k = cast<nf::StringType>(x.getKey().getType()).getCapacity();
    xors.insert({n, k});
    unsigned p = 1;
    while (p < k)
      p *= 2;
    std::string kb = scratchVar("char", fresh("xkey") + "[" +
                                            std::to_string(p) + "]");
    name(x);
    line("sbpf_xor_" + std::to_string(n) + "_" + std::to_string(k) + "(&" +
         name(x) + ", &" + name(x.getInput()) + ", &" + name(x.getKey()) +
         ", " + kb.substr(0, kb.find('[')) + ");");
    return success();
  }
  if (auto r = dyn_cast<nf::RandomOp>(op)) {
    declare(r, "bpf_get_prandom_u32()");
    return success();
  }
  if (auto n = dyn_cast<nf::NowOp>(op)) {
    declare(n, "bpf_ktime_get_ns()");
    return success();
  }
  if (auto read = dyn_cast<nf::StateReadOp>(op)) {
    declare(read, sv(read.getState()));
    return success();
  }
  if (auto write = dyn_cast<nf::StateWriteOp>(op)) {
    auto it = atomicWrites.find(op);
    if (it != atomicWrites.end()) {
      Type t = write.getValue().getType();
      std::string delta = name(it->second.first);
      if (it->second.second)
        delta = "-(" + cType(t) + ")" + delta;
      line("__sync_fetch_and_add(&" + sv(write.getState()) + ", " + delta +
           ");");
      return success();
    }
    line(sv(write.getState()) + " = " + name(write.getValue()) + ";");
    return success();
  }
  if (auto get = dyn_cast<nf::FieldGetOp>(op)) {
    StringRef field = get.getField();
    for (const EventField &f : curEvent->fields) {
      if (f.name != field)
        continue;
      Type t = get.getType();
      auto st = dyn_cast<nf::StringType>(t);
      if (st && f.source != "packet_type" && f.encoding == "str") {
        std::string at = (f.source == "header" ? "hdr + " : "payload + ") +
                         std::to_string(f.offset);
        unsigned cap = st.getCapacity();
        // Only its length is used (and the handler never rewrites the
        // field): scan the wire bytes in place instead of copying and
        // normalising the whole string (counters: 592 -> 173 eBPF
        // instructions).
        auto handler = get->getParentOfType<nf::HandlerOp>();
        bool rewritten = handler
                             .walk([&](nf::FieldSetOp set) {
                               return set.getField() == field
                                          ? WalkResult::interrupt()
                                          : WalkResult::advance();
                             })
                             .wasInterrupted();
        if (!rewritten &&
            llvm::all_of(get->getUsers(),
                         [](Operation *u) { return isa<nf::StringLenOp>(u); })) {
          measuredFields[get] = {at, unsigned(std::min<uint64_t>(cap, f.size))};
          return success();
        }
      }
      std::string v = name(get);
      if (f.source == "packet_type") {
        readsPtype.insert(curEvent->handler);
        auto st = dyn_cast<nf::StringType>(t);
        if (!st)
          return op->emitError("BPF backend: packet_type field must be a "
                               "string");
        auto text = [&](StringRef s) {
          return "(" + cType(t) + ")" +
                 constant(StringAttr::get(op->getContext(), s), t, op);
        };
        line("if (ptype == 2)");
        line("  " + v + " = " + text("success") + ";");
        line("else");
        line("  " + v + " = " + text("failure") + ";");
        return success();
      }
      std::string base = f.source == "header" ? "hdr" : "payload";
      std::string at = base + " + " + std::to_string(f.offset);
      if (auto st = dyn_cast<nf::StringType>(t)) {
        if (f.encoding != "str")
          return op->emitError("BPF backend: string field with encoding ")
                 << f.encoding;
        unsigned cap = st.getCapacity();
        if (f.size < cap)
          line("__builtin_memset(&" + v + ", 0, sizeof(" + v + "));");
        loadString(v, at, cap, unsigned(std::min<uint64_t>(cap, f.size)));
        return success();
      }
      std::string raw;
      if (f.encoding == "bool" || f.encoding == "u8")
        raw = "__u8";
      else if (f.encoding == "u16")
        raw = "__u16";
      else if (f.encoding == "u32")
        raw = "__u32";
      else if (f.encoding == "u64")
        raw = "__u64";
      else if (f.encoding == "s32")
        raw = "__s32";
      else if (f.encoding == "s64")
        raw = "__s64";
      else
        return op->emitError() << "BPF backend: field '" << field
                               << "' has encoding '" << f.encoding
                               << "', which is not supported yet";
      // One load of the field's width (the packet may be unaligned: the
      // verifier allows that without strict alignment, as on x86-64), not
      // a memcpy, which clang's BPF target splits into byte loads.
      std::string r = fresh("raw");
      line(raw + " " + r + " = *(const " + raw + " __attribute__((may_alias)) *)(" +
           at + ");");
      if (t.isInteger(1))
        declare(get, r + " != 0");
      else
        declare(get, "(" + cType(t) + ")" + r);
      return success();
    }
    return op->emitError() << "BPF backend: field '" << field
                           << "' has no wire layout";
  }
  if (auto set = dyn_cast<nf::FieldSetOp>(op)) {
    StringRef field = set.getField();
    for (const EventField &f : curEvent->fields) {
      if (f.name != field)
        continue;
      if (f.source == "packet_type")
        return op->emitError() << "BPF backend: field '" << field
                               << "' comes from the packet type and cannot "
                                  "be rewritten";
      std::string base = f.source == "header" ? "hdr" : "payload";
      std::string at = base + " + " + std::to_string(f.offset);
      Type t = set.getValue().getType();
      std::string v = name(set.getValue());
      if (auto st = dyn_cast<nf::StringType>(t)) {
        uint64_t cap = st.getCapacity();
        uint64_t n = std::min<uint64_t>(cap, f.size);
        copies.insert(unsigned(n));
        line("sbpf_copy_" + std::to_string(n) + "(" + at + ", " + v + ".b);");
        if (uint64_t(f.size) > n)
          line("__builtin_memset(" + at + " + " + std::to_string(n) + ", 0, " +
               std::to_string(f.size - n) + ");");
        return success();
      }
      std::string raw = f.encoding == "bool" || f.encoding == "u8" ? "__u8"
                        : f.encoding == "u16"                      ? "__u16"
                        : f.encoding == "u32" || f.encoding == "s32"
                            ? "__u32"
                        : f.encoding == "u64" || f.encoding == "s64"
                            ? "__u64"
                            : "";
      if (raw.empty())
        return op->emitError() << "BPF backend: field '" << field
                               << "' has encoding '" << f.encoding
                               << "', which is not supported yet";
      std::string r = fresh("raw");
      line(raw + " " + r + " = (" + raw + ")" + v + ";");
      line("__builtin_memcpy(" + at + ", &" + r + ", sizeof(" + r + "));");
      return success();
    }
    return op->emitError() << "BPF backend: field '" << field
                           << "' has no wire layout";
  }
  if (auto get = dyn_cast<nf::MapGetOp>(op)) {
    const MapABI *m = abi.findMap(get.getMap());
    auto mt = cast<nf::MapType>(states[get.getMap()].getType());
    std::string key = encodeStored(get.getKey(), mt.getKeyType());
    std::string found = fresh("found"), val = fresh("val");
    line("int " + found + " = 0;");
    auto vs = dyn_cast<nf::StringType>(mt.getValueType());
    // Zeroed first, found or not (as the LLVM path): only the Some arm
    // reads it, but code that read it regardless (a mutant with `found`
    // forced to 1) would otherwise see what an earlier packet left in the
    // per-CPU scratch, which no replay of a counterexample sets.
    if (vs)
      // Decoded straight from the map's bytes (the LLVM path's shape): a
      // copy of the NUL-padded value first was byte by byte (it has no
      // alignment) and the checker read the bytes back through it.
      val = scratchVar(cType(vs), val);
    else
      line(m->value.cType + " " + val + ";");
    line("__builtin_memset(&" + val + ", 0, sizeof(" + val + "));");
    line("{");
    line("  " + m->value.cType + " *p = bpf_map_lookup_elem(&" +
         globalVar(m->name) + ", " + key + ");");
    line("  if (p) {");
    line("    " + found + " = 1;");
    depth += 2;
    if (vs)
      loadString(val, "(const __u8 *)p->b", vs.getCapacity(),
                 vs.getCapacity());
    else
      line(val + " = *p;");
    depth -= 2;
    line("  }");
    line("}");
    optionals[get.getResult()] = {found, val};
    return success();
  }
  if (auto set = dyn_cast<nf::MapSetOp>(op)) {
    auto mt = cast<nf::MapType>(states[set.getMap()].getType());
    std::string key = encodeStored(set.getKey(), mt.getKeyType());
    std::string val = encodeStored(set.getValue(), mt.getValueType());
    line("bpf_map_update_elem(&" + globalVar(set.getMap()) + ", " + key + ", " +
         val + ", BPF_ANY);");
    return success();
  }
  if (auto del = dyn_cast<nf::MapDeleteOp>(op)) {
    auto mt = cast<nf::MapType>(states[del.getMap()].getType());
    std::string key = encodeStored(del.getKey(), mt.getKeyType());
    line("bpf_map_delete_elem(&" + globalVar(del.getMap()) + ", " + key + ");");
    return success();
  }
  if (auto append = dyn_cast<nf::LogAppendOp>(op)) {
    std::string rec = fresh("rec");
    std::string logName = append.getLog().str();
    rec = scratchVar("struct sbpf_rec_" + ident(logName), rec);
    line("__builtin_memset(&" + rec + ", 0, sizeof(" + rec + "));");
    unsigned i = 0;
    for (Value v : append.getValues()) {
      std::string f = rec + ".f" + std::to_string(i++);
      if (auto st = dyn_cast<nf::StringType>(v.getType()))
        line("__builtin_memcpy(" + f + ".b, " + name(v) + ".b, " +
             std::to_string(st.getCapacity()) + ");");
      else
        line(f + " = " + name(v) + ";");
    }
    line("bpf_ringbuf_output(&" + globalVar(logName) + ", &" + rec + ", sizeof(" +
         rec + "), 0);");
    line("__sync_fetch_and_add(&sbpf_state." + ident(logName) +
         "__size, 1);");
    return success();
  }
  if (auto size = dyn_cast<nf::LogSizeOp>(op)) {
    declare(size, "sbpf_state." + ident(size.getLog()) + "__size");
    return success();
  }
  if (isa<nf::ForwardOp>(op)) {
    line(std::string("return ") + pass + ";");
    return success();
  }
  if (auto reject = dyn_cast<nf::RejectOp>(op)) {
    int slot = abi.rejectSlot(reject.getReason());
    line("sbpf_count_reject(" + std::to_string(slot) + "); /* " +
         reject.getReason().str() + " */");
    line(std::string("return ") + drop + ";");
    return success();
  }
  if (auto y = dyn_cast<nf::YieldOp>(op)) {
    for (auto [i, v] : llvm::enumerate(y.getValues()))
      line(results[i] + " = " + name(v) + ";");
    return success();
  }
  auto declareResults = [&](Operation *o) {
    std::vector<std::string> rs;
    for (Value r : o->getResults()) {
      if (!isa<nf::StringType>(r.getType()))
        line(cType(r.getType()) + " " + name(r) + ";");
      line("__builtin_memset(&" + name(r) + ", 0, sizeof(" + name(r) + "));");
      rs.push_back(name(r));
    }
    return rs;
  };
  if (auto ifOp = dyn_cast<nf::IfOp>(op)) {
    auto rs = declareResults(op);
    line("if (" + name(ifOp.getCondition()) + ") {");
    ++depth;
    if (failed(emitBlock(ifOp.getThenRegion().front(), rs)))
      return failure();
    --depth;
    line("} else {");
    ++depth;
    if (failed(emitBlock(ifOp.getElseRegion().front(), rs)))
      return failure();
    --depth;
    line("}");
    return success();
  }
  if (auto match = dyn_cast<nf::MatchOp>(op)) {
    auto rs = declareResults(op);
    Value s = match.getScrutinee();
    Type t = s.getType();
    std::vector<std::string> conds;
    for (Attribute c : match.getCases()) {
      std::string text = constant(c, t, op);
      if (text.empty())
        return failure();
      if (auto st = dyn_cast<nf::StringType>(t)) {
        std::string cn = scratchVar(cType(t), fresh("case"));
        line(cn + " = (" + cType(t) + ")" + text + ";");
        conds.push_back("sbpf_str" + std::to_string(st.getCapacity()) +
                        "_eq(&" + name(s) + ", &" + cn + ")");
      } else {
        conds.push_back(name(s) + " == " + text);
      }
    }
    auto caseRegions = match.getCaseRegions();
    for (size_t i = 0; i < conds.size(); ++i) {
      line((i == 0 ? "if (" : "} else if (") + conds[i] + ") {");
      ++depth;
      if (failed(emitBlock(caseRegions[i].front(), rs)))
        return failure();
      --depth;
    }
    if (!conds.empty())
      line("} else {");
    else
      line("{");
    ++depth;
    if (failed(emitBlock(match.getDefaultRegion().front(), rs)))
      return failure();
    --depth;
    line("}");
    return success();
  }
  if (auto mo = dyn_cast<nf::MatchOptionOp>(op)) {
    auto it = optionals.find(mo.getOptional());
    if (it == optionals.end())
      return op->emitError("BPF backend: match_option is supported only on "
                           "the result of netfn.map.get");
    auto rs = declareResults(op);
    auto optType = cast<nf::OptionType>(mo.getOptional().getType());
    line("if (" + it->second.first + ") {");
    ++depth;
    Block &some = mo.getSomeRegion().front();
    if (some.getNumArguments() == 1) {
      if (isa<nf::StringType>(optType.getValueType()))
        names[some.getArgument(0)] = it->second.second; // decoded at lookup
      else
        decodeStored(name(some.getArgument(0)), it->second.second,
                     optType.getValueType());
    }
    if (failed(emitBlock(some, rs)))
      return failure();
    --depth;
    line("} else {");
    ++depth;
    if (failed(emitBlock(mo.getNoneRegion().front(), rs)))
      return failure();
    --depth;
    line("}");
    return success();
  }
  return op->emitError() << "BPF backend: '" << op->getName()
                         << "' is not supported yet";
}

LogicalResult Emitter::emitHandler(nf::HandlerOp handler, EventABI &event,
                                   nf::EventOp eventOp) {
  curEvent = &event;
  Block &entry = handler.getBody().front();
  if (llvm::hasSingleElement(entry) && isa<nf::ForwardOp>(entry.front()))
    forwardOnly.insert(handler.getSymName().str());
  findAtomicUpdates(handler.getBody().front(), atomicWrites, folded);
  body += "/* handler @" + handler.getSymName().str() + " on @" +
          event.symbol + " (" + event.kind + ") */\n";
  body += "static __always_inline int sbpf_handler_" +
          ident(handler.getSymName()) +
          "(struct sbpf_scratch *sc, __u8 *hdr, __u8 *payload,\n"
          "    __u8 ptype)\n{\n";
  depth = 1;
  if (failed(emitBlock(handler.getBody().front(), {})))
    return failure();
  body += "}\n\n";
  return success();
}

std::string Emitter::preamble() {
  std::string s;
  llvm::raw_string_ostream os(s);
  bool xdp = options.hook == Hook::XDP;
  os << "// Generated by sbpf-opt --emit=c from netfn.program @"
     << abi.program << " (docs/bpf-abi.md). Do not edit.\n"
     << "// clang-16 -O2 -g -target bpf -mcpu=v3 "
        "-I/usr/include/x86_64-linux-gnu -c FILE.c\n"
     << "#include <linux/bpf.h>\n";
  if (!xdp)
    os << "#include <linux/pkt_cls.h>\n";
  os << "#include <bpf/bpf_helpers.h>\n\n"
     << "#pragma clang diagnostic ignored \"-Wunused-function\"\n"
     << "#pragma clang diagnostic ignored \"-Wunused-variable\"\n\n"
     << "#define SBPF_RPC_PORT " << options.rpcPort << "\n"
     << "#define SBPF_ARPC_HEADER 31\n\n"
     << "char LICENSE[] SEC(\"license\") = \"GPL\";\n\n";
  return s;
}

LogicalResult Emitter::run(llvm::raw_ostream &out, ProgramABI *abiOut) {
  abi.program = program.getSymName().str();
  abi.hook = options.hook;
  abi.rpcPort = options.rpcPort;
  if (failed(checkSupported()) || failed(layoutState()))
    return failure();
  collectRejects();
  if (failed(analyseInit()))
    return failure();

  // Events and their handlers.
  std::vector<std::pair<nf::HandlerOp, size_t>> handlers;
  for (auto e : program.getBody().getOps<nf::EventOp>()) {
    EventABI ev;
    ev.symbol = e.getSymName().str();
    ev.kind = e.getKind().str();
    if (ev.kind == "rpc.request")
      ev.packetTypes = {1};
    else if (ev.kind == "rpc.response")
      ev.packetTypes = {2, 3};
    else
      return e.emitError() << "BPF backend: event kind '" << ev.kind
                           << "' is not an aRPC event (rpc.request or "
                              "rpc.response)";
    auto names = e.getFieldNames();
    auto types = e.getFieldTypes();
    auto layout = e.getWireLayout();
    if (!layout || layout->size() != names.size())
      return e.emitError("BPF backend: event has no wire_layout (run the "
                         "frontend with --rpc-schema)");
    for (size_t i = 0; i < names.size(); ++i) {
      EventField f;
      f.name = cast<StringAttr>(names[i]).getValue().str();
      f.netfnType = typeString(cast<TypeAttr>(types[i]).getValue());
      auto d = cast<DictionaryAttr>((*layout)[i]);
      if (auto src = d.getAs<StringAttr>("source"))
        f.source = src.getValue().str();
      if (auto off = d.getAs<IntegerAttr>("offset"))
        f.offset = off.getInt();
      if (auto size = d.getAs<IntegerAttr>("size"))
        f.size = size.getInt();
      if (auto enc = d.getAs<StringAttr>("encoding"))
        f.encoding = enc.getValue().str();
      if (f.source == "payload")
        ev.payloadBytes =
            std::max<uint64_t>(ev.payloadBytes, uint64_t(f.offset + f.size));
      else if (f.source == "header") {
        if (f.offset < 0 || f.offset + f.size > 31)
          return e.emitError() << "BPF backend: header field '" << f.name
                               << "' lies outside the 31-byte aRPC header";
      } else if (f.source != "packet_type")
        return e.emitError() << "BPF backend: unknown field source '"
                             << f.source << "'";
      ev.fields.push_back(f);
    }
    abi.events.push_back(ev);
  }
  for (auto h : program.getBody().getOps<nf::HandlerOp>()) {
    for (size_t i = 0; i < abi.events.size(); ++i)
      if (abi.events[i].symbol == h.getEvent()) {
        if (!abi.events[i].handler.empty())
          return h.emitError("BPF backend: a second handler for the same "
                             "event");
        abi.events[i].handler = h.getSymName().str();
        handlers.push_back({h, i});
      }
  }
  for (auto &[h, i] : handlers)
    if (failed(emitHandler(h, abi.events[i],
                           findEvent(program, abi.events[i].symbol))))
      return failure();
  // Two handlers for the same packet type would be ambiguous.
  std::set<int> seen;
  for (const EventABI &e : abi.events)
    if (!e.handler.empty())
      for (int t : e.packetTypes)
        if (!seen.insert(t).second)
          return program.emitError("BPF backend: two handlers for aRPC "
                                   "packet type ")
                 << t;

  // ---- assemble the file ---------------------------------------------------
  std::string s = preamble();
  llvm::raw_string_ostream os(s);
  // Normalisation scans with sbpf_strlen_N: those first.
  std::set<unsigned> lens = strlens;
  lens.insert(strCaps.begin(), strCaps.end());
  for (unsigned n : lens)
    os << strlenHelper(n) << "\n";
  if (!strCaps.empty() || !copies.empty())
    // Word loads at any byte offset (string bytes are at offset 4 of
    // their struct): the kernel allows them (x86-64 does not ask for
    // strict alignment), and the type claims natural alignment as the
    // LLVM path's loads do, or clang's BPF target would split each load
    // into eight byte loads.
    os << "typedef __u64 __attribute__((may_alias)) sbpf_u64_unaligned;\n\n";
  for (unsigned cap : strCaps)
    os << strHelper(cap) << "\n";
  for (auto [cap, n] : strLoads)
    os << strLoadHelper(cap, n) << "\n";
  for (unsigned n : copies)
    os << copyHelper(n) << "\n";
  for (auto [f, t] : casts)
    os << castHelper(f, t) << "\n";
  for (auto [n, k] : xors)
    os << xorHelper(n, k) << "\n";
  if (!thresholds.empty())
    os << R"(/* ceil(p * 2^32) for the binary64 p with these bits, clamped to
   [0, 2^32] (NaN and p <= 0 give 0): for every ui32 r,
   r * 2^-32 < p  <=>  r < sbpf_f64_threshold32(p), exactly. */
static __always_inline __s64 sbpf_f64_threshold32(__u64 bits)
{
  __u64 exp = (bits >> 52) & 0x7ff;
  __u64 frac = bits & 0xfffffffffffffULL;
  const __s64 top = 1LL << 32;
  if (bits >> 63)
    return 0;
  if (exp == 0x7ff)
    return frac ? 0 : top;
  __u64 m = exp ? (frac | (1ULL << 52)) : frac;
  __s64 s = (exp ? (__s64)exp - 1075 : -1074) + 32; /* p*2^32 = m*2^s */
  if (m == 0)
    return 0;
  if (s >= 0) {
    if (s > 32 || m >= (1ULL << (32 - s)))
      return top;
    return (__s64)(m << s);
  }
  __s64 k = -s;
  if (k >= 64)
    return 1;
  __u64 v = (m >> k) + ((m & ((1ULL << k) - 1)) != 0);
  return v >= (__u64)top ? top : (__s64)v;
}

)";
  os << R"(/* netfn fixed<64, F> multiplication: the 128-bit product of the raw
   values shifted right arithmetically by F, truncated to 64 bits (clang's
   BPF target has no 128-bit arithmetic: 32-bit halves). The steps are the
   checker's encoding (arith::fixedMulHalves), each sum pinned with an empty
   asm so that clang computes those very terms: otherwise it narrows the
   high word to 32-bit multiplies, re-associates its sum and folds what it
   knows of an operand, and the proof is one of two multiplier circuits. */
static __always_inline __s64 sbpf_fx_mul64(__s64 a, __s64 b, __u32 f)
{
  __u64 ua = (__u64)a, ub = (__u64)b;
  asm volatile("" : "+r"(ua), "+r"(ub));
  __u64 al = ua & 0xffffffffULL, ah = ua >> 32;
  __u64 bl = ub & 0xffffffffULL, bh = ub >> 32;
  __u64 ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
  __u64 mid = (ll >> 32) + (lh & 0xffffffffULL);
  asm volatile("" : "+r"(mid));
  mid += hl & 0xffffffffULL;
  asm volatile("" : "+r"(mid));
  __u64 lo = (mid << 32) | (ll & 0xffffffffULL);
  __u64 hi = hh + (lh >> 32);
  asm volatile("" : "+r"(hi));
  hi += hl >> 32;
  asm volatile("" : "+r"(hi));
  hi += mid >> 32;
  asm volatile("" : "+r"(hi));
  /* two's complement: the signed product's high half (x >> 63 is all
     ones when x < 0) */
  hi -= (__u64)((__s64)ua >> 63) & ub;
  asm volatile("" : "+r"(hi));
  hi -= (__u64)((__s64)ub >> 63) & ua;
  asm volatile("" : "+r"(hi));
  if (f == 0)
    return (__s64)lo;
  return (__s64)((lo >> f) | (hi << (64 - f)));
}
/* netfn fixed<64, F> division: (a << F) / b in 128 bits, truncating toward
   zero, truncated to 64 bits; x / 0 = 0. Branch-free long division.
   Shaped as the checker's meaning of the op (arith::fixedDivLong) and the
   LLVM path's: a zero divisor is replaced by 1 and the quotient chosen 0
   at the end. With an early `return 0` instead, the division's steps
   differ from the meaning's where the divisor is 0 (there, hi % 0 = hi),
   so the checker's sweep could not match them and success_ratio's C
   object stayed unknown at 240 s (proven in about 45 s now). */
static __always_inline __s64 sbpf_fx_div64(__s64 a, __s64 b, __u32 f)
{
  __u64 ua = a < 0 ? -(__u64)a : (__u64)a;
  __u64 ub = b < 0 ? -(__u64)b : (__u64)b;
  int zero = b == 0;
  if (zero)
    ub = 1;
  __u64 hi = f ? ua >> (64 - f) : 0, lo = ua << f;
  __u64 r = hi % ub, q = 0;
  __u64 i = 64;
  /* a rolled loop: 64 unrolled steps were most of an element's code */
#pragma clang loop unroll(disable)
  do {
    i--;
    r = (r << 1) | ((lo >> i) & 1); /* r < ub <= 2^63: no overflow */
    __u64 d = r - ub;
    /* 1 when r >= ub: no borrow out of r - ub */
    __u64 ge = 1 ^ (((~r & ub) | (~(r ^ ub) & d)) >> 63);
    /* keep it arithmetic: clang would turn the mask into a branch per
       bit, and 2^64 paths are too many for the verifier */
    asm volatile("" : "+r"(ge));
    r -= ub & -ge;
    q = (q << 1) | ge;
  } while (i);
  if (zero)
    return 0;
  return (__s64)((a ^ b) < 0 ? -q : q);
}
/* Signed division and remainder with netfn's meaning (x / 0 = 0,
   x % 0 = x, truncation toward zero, MIN / -1 = MIN): BPF v3 has only
   unsigned division. */
static __always_inline __s64 sbpf_sdiv(__s64 a, __s64 b)
{
  if (b == 0)
    return 0;
  __u64 ua = a < 0 ? -(__u64)a : (__u64)a;
  __u64 ub = b < 0 ? -(__u64)b : (__u64)b;
  __u64 q = ua / ub;
  return (__s64)(((a < 0) != (b < 0)) ? -q : q);
}
static __always_inline __s64 sbpf_srem(__s64 a, __s64 b)
{
  if (b == 0)
    return a;
  __u64 ua = a < 0 ? -(__u64)a : (__u64)a;
  __u64 ub = b < 0 ? -(__u64)b : (__u64)b;
  __u64 r = ua % ub;
  return (__s64)(a < 0 ? -r : r);
}

)";
  // The scalar state: one global in .data (libbpf's global data map).
  os << "/* Scalar state (libbpf global data: map \"<object>.data\"). "
        "Offsets are ABI. */\n";
  os << "struct sbpf_state_t {\n";
  if (abi.scalars.empty())
    os << "  __u64 sbpf_unused;\n";
  for (const ScalarABI &sc : abi.scalars) {
    std::string member = ident(sc.name);
    if (StringRef(sc.name).ends_with(".size"))
      member = ident(StringRef(sc.name).drop_back(5)) + "__size";
    os << "  " << sc.layout.cType << " " << member << ";\n";
  }
  os << "};\n";
  for (const ScalarABI &sc : abi.scalars) {
    std::string member = ident(sc.name);
    if (StringRef(sc.name).ends_with(".size"))
      member = ident(StringRef(sc.name).drop_back(5)) + "__size";
    os << "_Static_assert(__builtin_offsetof(struct sbpf_state_t, " << member
       << ") == " << sc.layout.offset << ", \"ABI offset of " << sc.name
       << "\");\n";
  }
  // Not static and not const: user space owns it too, so clang may not fold
  // the initial values into the code.
  if (!abi.scalars.empty())
    os << "_Static_assert(sizeof(struct sbpf_state_t) == " << abi.globalSize
       << ", \"ABI size of the state\");\n";
  os << "struct sbpf_state_t sbpf_state SEC(\".data\") = {";
  bool first = true;
  for (const auto &[sym, text] : scalarInit) {
    os << (first ? "\n" : ",\n") << "  ." << ident(sym) << " = " << text;
    first = false;
  }
  os << (first ? "0};\n\n" : "\n};\n\n");

  for (const MapABI &m : abi.maps) {
    os << "/* Map<" << m.key.netfnType << ", " << m.value.netfnType << ">, "
       << m.capacity << " entries */\n"
       << "struct {\n"
       << "  __uint(type, BPF_MAP_TYPE_HASH);\n"
       << "  __type(key, " << m.key.cType << ");\n"
       << "  __type(value, " << m.value.cType << ");\n"
       << "  __uint(max_entries, " << m.capacity << ");\n"
       << "} " << globalVar(m.name) << " SEC(\".maps\");\n\n";
  }
  for (const LogABI &l : abi.logs) {
    os << "struct sbpf_rec_" << ident(l.name) << " {\n";
    for (size_t i = 0; i < l.record.size(); ++i)
      os << "  " << l.record[i].cType << " f" << i << ";\n";
    os << "} __attribute__((packed));\n";
    os << "struct {\n"
       << "  __uint(type, BPF_MAP_TYPE_RINGBUF);\n"
       << "  __uint(max_entries, " << l.ringbufBytes << ");\n"
       << "} " << l.ringbuf << " SEC(\".maps\");\n\n";
  }
  if (!abi.rejects.empty()) {
    os << "/* Reject counters, one slot per reason:";
    for (size_t i = 0; i < abi.rejects.size(); ++i)
      os << " " << i << "=" << abi.rejects[i];
    os << " */\n"
       << "struct {\n"
       << "  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);\n"
       << "  __type(key, __u32);\n"
       << "  __type(value, __u64);\n"
       << "  __uint(max_entries, " << abi.rejects.size() << ");\n"
       << "} sbpf_rejects SEC(\".maps\");\n\n"
       << "static __always_inline void sbpf_count_reject(__u32 slot)\n{\n"
       << "  __u64 *count = bpf_map_lookup_elem(&sbpf_rejects, &slot);\n"
       << "  if (count)\n    *count += 1;\n}\n\n";
  }
  os << "/* Per-CPU scratch space for strings and map keys (the BPF stack "
        "has 512 bytes). */\n"
     << "struct sbpf_scratch {\n";
  if (scratch.empty())
    os << "  __u64 unused;\n";
  for (auto &[ct, n] : scratch)
    os << "  " << ct << " " << n << ";\n";
  os << "};\n"
     << "struct {\n"
     << "  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);\n"
     << "  __type(key, __u32);\n"
     << "  __type(value, struct sbpf_scratch);\n"
     << "  __uint(max_entries, 1);\n"
     << "} sbpf_scratch SEC(\".maps\");\n\n";
  os << body;

  // The program: parse, check, dispatch. Every packet that is not a
  // complete aRPC event with a handler passes unchanged, so the bounds
  // checks are merged where a failed check would only have led to a pass,
  // and the wire fields are read with one load each (little-endian host;
  // the constants below are the big-endian wire values read that way).
  bool xdp = options.hook == Hook::XDP;
  const char *pass = xdp ? "XDP_PASS" : "TC_ACT_OK";
  // Events whose handler only forwards need no dispatch: the packet passes
  // either way.
  std::vector<const EventABI *> dispatched;
  for (const EventABI &e : abi.events)
    if (!e.handler.empty() && !forwardOnly.count(e.handler))
      dispatched.push_back(&e);
  // The smallest payload any dispatched event needs joins the header's
  // bounds check (a shorter packet passes whatever its type); events that
  // need more check the rest. Not when strings go through scratch with
  // several events: clang then duplicated string code (scramble 3495 ->
  // 3620 insns); there only a single event's bounds are joined.
  uint64_t upfront = 0;
  if (dispatched.size() == 1 || (!dispatched.empty() && scratch.empty())) {
    upfront = dispatched[0]->payloadBytes;
    for (const EventABI *e : dispatched)
      upfront = std::min(upfront, e->payloadBytes);
  }
  unsigned wirePort = ((options.rpcPort & 0xff) << 8) | (options.rpcPort >> 8);
  os << "typedef __u16 __attribute__((may_alias)) sbpf_u16_wire;\n\n"
     << "SEC(\"" << (xdp ? "xdp" : "tc") << "\")\n"
     << "int " << ident(abi.program) << "("
     << (xdp ? "struct xdp_md *ctx" : "struct __sk_buff *ctx") << ")\n{\n"
     << "  __u8 *data = (__u8 *)(long)ctx->data;\n"
     << "  __u8 *data_end = (__u8 *)(long)ctx->data_end;\n";
  if (dispatched.empty()) {
    os << "  return " << pass << "; /* no handler does more than forward */\n"
       << "}\n";
  } else {
    os << "  /* Ethernet II carrying IPv4: both fixed headers at once */\n"
       << "  if (data + 34 > data_end)\n    return " << pass << ";\n"
       << "  if (*(sbpf_u16_wire *)(data + 12) != 0x0008) /* 0x0800 */\n"
       << "    return " << pass << ";\n"
       << "  __u8 *ip = data + 14;\n"
       << "  __u32 vihl = ip[0];\n"
       << "  if ((vihl & 0xf0) != 0x40 || (vihl & 0x0f) < 5 || ip[9] != 17)\n"
       << "    return " << pass << ";\n"
       << "  /* not the first IP fragment: a fragment offset */\n"
       << "  if (*(sbpf_u16_wire *)(ip + 6) & 0xff1f)\n"
       << "    return " << pass << ";\n"
       << "  __u8 *udp = ip + (vihl & 0x0f) * 4;\n"
       << "  /* UDP, the aRPC header (31 bytes, little-endian)"
       << (upfront ? " and the payload" : "") << " at once */\n"
       // One constant offset (parenthesised): `udp + 8 + ...` lets clang
       // keep udp + 8 as a pointer of its own, 2 instructions more.
       << "  if (udp + (8 + SBPF_ARPC_HEADER"
       << (upfront ? " + " + std::to_string(upfront) : std::string())
       << ") > data_end)\n    return " << pass << ";\n"
       << "  /* SBPF_RPC_PORT on neither side (" << llvm::format_hex(wirePort, 6)
       << ": the port's wire bytes read little-endian) */\n"
       << "  if (*(sbpf_u16_wire *)udp != " << llvm::format_hex(wirePort, 6)
       << " && *(sbpf_u16_wire *)(udp + 2) != " << llvm::format_hex(wirePort, 6)
       << ")\n"
       << "    return " << pass << ";\n"
       // Header bytes as offsets from udp, and hdr/payload only as the
       // handler's arguments: clang then folds them into load offsets
       // instead of keeping two more pointers (priority_fault 53 -> 51).
       << "  __u8 ptype = udp[8];\n"
       << "  if (udp[8 + 14] != 0) /* only fragment 0 carries fields */\n"
       << "    return " << pass << ";\n";
    if (scratch.empty())
      os << "  struct sbpf_scratch *sc = (void *)0; /* no scratch needed */\n";
    else
      os << "  __u32 zero = 0;\n"
         << "  struct sbpf_scratch *sc = bpf_map_lookup_elem(&sbpf_scratch, "
            "&zero);\n"
         << "  if (!sc)\n    return " << pass << ";\n";
    for (const EventABI *e : dispatched) {
      os << "  if (";
      const std::vector<int> &types = e->packetTypes;
      bool consecutive = types.size() > 1;
      for (size_t i = 1; i < types.size(); ++i)
        consecutive &= types[i] == types[i - 1] + 1;
      if (consecutive) // one unsigned range test: clang's || is 8 insns
        os << "(__u8)(ptype - " << types.front() << ") < " << types.size();
      else
        for (size_t i = 0; i < types.size(); ++i)
          os << (i ? " || " : "") << "ptype == " << types[i];
      os << ") {\n";
      if (e->payloadBytes > upfront)
        os << "    /* the whole layout of @" << e->symbol << " at once */\n"
           << "    if (udp + (8 + SBPF_ARPC_HEADER + " << e->payloadBytes
           << ") > data_end)\n"
           << "      return " << pass << ";\n";
      os << "    return sbpf_handler_" << ident(e->handler)
         // The packet type only where the handler reads it: passing it
         // regardless costs clang a register copy.
         << "(sc, udp + 8, udp + (8 + SBPF_ARPC_HEADER), "
         << (readsPtype.count(e->handler) ? "ptype" : "0") << ");\n"
         << "  }\n";
    }
    os << "  return " << pass << ";\n}\n";
  }


  // The ABI record travels inside the object: the same bytes as --abi-out
  // (no terminating NUL: the array has exactly their length). libbpf skips a
  // non-executable data section it does not know, so the section is neither
  // a map nor a program; sbpf's loader reads it (docs/bpf-abi.md).
  std::string record;
  {
    llvm::raw_string_ostream ros(record);
    writeABIJson(abi, ros);
  }
  // One line, so that it adds one line to the C's size; --abi-out has the
  // readable form. `?` is escaped so that no "??x" reads as a trigraph.
  std::string literal = "\"";
  for (char c : record) {
    if (c == '\n')
      literal += "\\n";
    else if (c == '?')
      literal += "\\?";
    else
      literal += StringRef(cStringLiteral(StringRef(&c, 1)))
                     .drop_front()
                     .drop_back(); // the character, escaped as C needs
  }
  literal += "\"";
  os << "\n/* The ABI record (docs/bpf-abi.md), byte for byte the --abi-out "
        "file; sbpf's loader reads it. */\n"
     << "const char sbpf_abi[" << record.size() << "] SEC(\"" << kABISection
     << "\") = " << literal;
  os << ";\n";
  os.flush();
  out << s;
  if (abiOut)
    *abiOut = abi;
  return success();
}

} // namespace

LogicalResult sbpf::bpf::emitC(ModuleOp module, const BackendOptions &options,
                               llvm::raw_ostream &os, ProgramABI *abi) {
  nf::ProgramOp program;
  unsigned count = 0;
  for (auto p : module.getBody()->getOps<nf::ProgramOp>()) {
    program = p;
    ++count;
  }
  if (count != 1)
    return module.emitError()
           << "BPF backend: expected exactly one netfn.program, found "
           << count;
  Emitter emitter(program, options);
  return emitter.run(os, abi);
}
