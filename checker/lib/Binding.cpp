//===- Binding.cpp - netfn values <-> bytes; the element on a frame -------===//
//
// Two halves (Binding.h): the encodings of the ABI record as Z3 functions
// between netfn terms and little-endian bit-vectors, and buildElement, the
// element's meaning on a whole Ethernet frame and the object's memory.
//
// Decision: the netfn side is stated on the same inputs the object is run
// on (frame bytes, global data bytes, hash-map arrays of key/value bytes),
// and the netfn state is *decoded* from them. The initial bytes are
// constrained to be canonical encodings (a bool byte is 0 or 1, a string's
// padding is NUL), which is what the object itself and the loader ever
// write; other byte patterns are not states the element can be in (so a
// scalar string is decoded as stored, not clamped and masked again:
// decodeCanonical). The hash maps are the object's arrays over key bytes,
// and the netfn map is their view through the encodings (a lambda over
// netfn keys), so the object's lookups stay plain array reads.
//
//===----------------------------------------------------------------------===//
#include "Binding.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

using namespace sbpf;
using namespace sbpf::checker;
using namespace sbpf::checker::binding;
using mlir::Type;

//===----------------------------------------------------------------------===//
// Bytes
//===----------------------------------------------------------------------===//

z3::expr binding::readBytes(const z3::expr &bytes, const z3::expr &offset,
                            unsigned size) {
  z3::context &c = bytes.ctx();
  // A constant offset is folded into each byte's index: the executor's
  // loads at constant addresses select at numerals, so the state's bytes
  // are then the same terms on both sides (not `select(d, 8 + 1)` against
  // `select(d, 9)`, which only the sweep could match).
  auto at = [&](unsigned i) {
    if (offset.is_numeral())
      return c.bv_val(offset.get_numeral_uint64() + i, 64);
    return i ? offset + c.bv_val(i, 64) : offset;
  };
  z3::expr r = z3::select(bytes, at(0));
  for (unsigned i = 1; i < size; ++i)
    r = z3::concat(z3::select(bytes, at(i)), r);
  return r;
}

z3::expr binding::writeBytes(const z3::expr &bytes, const z3::expr &offset,
                             const z3::expr &bits) {
  z3::context &c = bytes.ctx();
  z3::expr r = bytes;
  for (unsigned i = 0; i < bits.get_sort().bv_size() / 8; ++i)
    r = z3::store(r, offset + c.bv_val(i, 64), byteOf(bits, i));
  return r;
}

z3::expr binding::byteOf(const z3::expr &bits, unsigned i) {
  return bits.extract(8 * i + 7, 8 * i);
}

z3::expr binding::bytesBits(z3::context &c, llvm::ArrayRef<uint8_t> bytes) {
  z3::expr r = c.bv_val(bytes[0], 8);
  for (size_t i = 1; i < bytes.size(); ++i)
    r = z3::concat(c.bv_val(bytes[i], 8), r);
  return r;
}

std::string binding::typeText(Type type) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << type;
  return os.str();
}

//===----------------------------------------------------------------------===//
// Encodings
//===----------------------------------------------------------------------===//

namespace {

/// Bit width of a netfn type kept as one bit-vector, or 0.
unsigned bvWidth(Type t) {
  if (auto it = llvm::dyn_cast<mlir::IntegerType>(t))
    return it.getWidth() == 1 ? 0 : it.getWidth();
  if (auto ft = llvm::dyn_cast<netfn::FixedType>(t))
    return ft.getWidth();
  if (llvm::isa<netfn::InstantType>(t))
    return 64;
  return 0;
}

bool isSigned(Type t) {
  if (auto it = llvm::dyn_cast<mlir::IntegerType>(t))
    return it.isSigned();
  return llvm::isa<netfn::FixedType>(t);
}

bool isIntegerEncoding(llvm::StringRef e) {
  return e == "u8" || e == "u16" || e == "u32" || e == "u64" || e == "s8" ||
         e == "s16" || e == "s32" || e == "s64" || e.starts_with("fixed");
}

/// `bits` resized from its width to `to` bits: extended by `signedExt`, or
/// truncated to the low bits (C conversions).
z3::expr resize(const z3::expr &bits, unsigned to, bool signedExt) {
  unsigned from = bits.get_sort().bv_size();
  if (from == to)
    return bits;
  if (from > to)
    return bits.extract(to - 1, 0);
  return signedExt ? z3::sext(bits, to - from) : z3::zext(bits, to - from);
}

[[noreturn]] void unsupported(const Slot &slot) {
  throw BindingError("not supported yet: encoding '" + slot.encoding +
                     "' of " + typeText(slot.type) + " in " +
                     std::to_string(slot.size) + " bytes");
}

/// The data bit-vector of a netfn string<C> from bytes (byte i of `bytes`
/// where `keep[i]`, else 0; bytes past the capacity dropped, missing ones 0).
z3::expr stringData(z3::context &c, netfn::StringType st,
                    const std::vector<z3::expr> &bytes,
                    const std::vector<z3::expr> &keep) {
  unsigned n = std::max(1u, st.getCapacity());
  z3::expr data = c.bv_val(0, 8);
  for (unsigned i = 0; i < n; ++i) {
    z3::expr b = i < bytes.size() && i < st.getCapacity()
                     ? z3::ite(keep[i], bytes[i], c.bv_val(0, 8))
                     : c.bv_val(0, 8);
    data = i == 0 ? b : z3::concat(b, data);
  }
  return data;
}

/// A str_len slot's length and bytes as stored (not clamped or masked).
z3::expr strLenAsStored(SemContext &sc, netfn::StringType st, const Slot &slot,
                        const z3::expr &bits) {
  z3::context &c = sc.z3();
  std::vector<z3::expr> bytes, keep;
  for (unsigned i = 4; i < slot.size; ++i) {
    bytes.push_back(byteOf(bits, i));
    keep.push_back(c.bool_val(true));
  }
  return sc.tupleCtor(st)(bits.extract(31, 0), stringData(c, st, bytes, keep));
}

} // namespace

z3::expr binding::decode(SemContext &sc, const Slot &slot,
                         const z3::expr &bits) {
  z3::context &c = sc.z3();
  Type t = slot.type;
  if (bits.get_sort().bv_size() != 8 * slot.size)
    throw BindingError("internal: slot of " + std::to_string(slot.size) +
                       " bytes read from a bv" +
                       std::to_string(bits.get_sort().bv_size()));
  if (slot.encoding == "bool") {
    if (!t.isInteger(1))
      unsupported(slot);
    return bits != c.bv_val(0, 8 * slot.size);
  }
  if (isIntegerEncoding(slot.encoding)) {
    unsigned w = bvWidth(t);
    if (!w)
      unsupported(slot);
    // The wire's signedness extends a narrower slot into the netfn width.
    return resize(bits, w, slot.encoding.front() == 's' ||
                               slot.encoding.starts_with("fixed"));
  }
  if (slot.encoding == "f64") {
    if (!t.isF64() || slot.size != 8)
      unsupported(slot);
    return z3::expr(c, Z3_mk_fpa_to_fp_bv(c, bits, sc.sortOf(t)));
  }
  auto st = llvm::dyn_cast<netfn::StringType>(t);
  if (slot.encoding == "str" && st) {
    // NUL-padded: the value is the bytes before the first NUL.
    std::vector<z3::expr> bytes;
    for (unsigned i = 0; i < slot.size; ++i)
      bytes.push_back(byteOf(bits, i));
    return sc.nulPadded(st, bytes);
  }
  if (slot.encoding == "str_len" && st && slot.size >= 4) {
    // u32 length, then the bytes; canonical() clamps and masks.
    return sc.canonical(t, strLenAsStored(sc, st, slot, bits));
  }
  unsupported(slot);
}

z3::expr binding::decodeCanonical(SemContext &sc, const Slot &slot,
                                  const z3::expr &bits) {
  auto st = llvm::dyn_cast<netfn::StringType>(slot.type);
  if (slot.encoding != "str_len" || !st || slot.size < 4)
    return decode(sc, slot, bits);
  // Canonical bytes hold a length within the capacity and zeros from it on
  // (encode() writes nothing else), so clamping and masking are identities.
  return sc.markCanonical(slot.type, strLenAsStored(sc, st, slot, bits));
}

z3::expr binding::encode(SemContext &sc, const Slot &slot,
                         const z3::expr &value, bool canonicalValue) {
  z3::context &c = sc.z3();
  Type t = slot.type;
  unsigned w = 8 * slot.size;
  if (slot.encoding == "bool") {
    if (!t.isInteger(1))
      unsupported(slot);
    return z3::ite(value, c.bv_val(1, w), c.bv_val(0, w));
  }
  if (isIntegerEncoding(slot.encoding)) {
    if (!bvWidth(t))
      unsupported(slot);
    // A C conversion of the netfn value into the slot's C type.
    return resize(value, w, isSigned(t));
  }
  if (slot.encoding == "f64") {
    if (!t.isF64() || slot.size != 8)
      unsupported(slot);
    return z3::expr(c, Z3_mk_fpa_to_ieee_bv(c, value));
  }
  auto st = llvm::dyn_cast<netfn::StringType>(t);
  if ((slot.encoding == "str" || slot.encoding == "str_len") && st) {
    // The canonical data holds zeros past the length: the bytes as stored.
    z3::expr v = canonicalValue ? value : sc.canonical(t, value);
    z3::expr data = sc.tupleProj(t, 1)(v);
    bool withLen = slot.encoding == "str_len";
    unsigned first = withLen ? 4 : 0;
    if (withLen && slot.size < 4)
      unsupported(slot);
    z3::expr r = withLen ? sc.tupleProj(t, 0)(v) : c.bv_val(0, 8);
    for (unsigned i = first; i < slot.size; ++i) {
      unsigned k = i - first;
      z3::expr b = k < st.getCapacity() ? byteOf(data, k) : c.bv_val(0, 8);
      r = (i == 0) ? b : z3::concat(b, r);
    }
    return r;
  }
  unsupported(slot);
}

z3::expr binding::isCanonical(SemContext &sc, const Slot &slot,
                              const z3::expr &bits) {
  // By definition: the bytes are what writing their value gives back.
  return encode(sc, slot, decode(sc, slot, bits)) == bits;
}

//===----------------------------------------------------------------------===//
// Reading a model
//===----------------------------------------------------------------------===//

uint64_t binding::evalU64(z3::model &m, const z3::expr &e) {
  z3::expr v = m.eval(e, true);
  uint64_t r = 0;
  if (v.is_numeral())
    v.is_numeral_u64(r);
  return r;
}

bool binding::evalBool(z3::model &m, const z3::expr &e) {
  return m.eval(e, true).is_true();
}

std::vector<uint8_t> binding::evalBytes(z3::model &m, const z3::expr &bits) {
  std::vector<uint8_t> out;
  for (unsigned i = 0; i < bits.get_sort().bv_size() / 8; ++i)
    out.push_back(uint8_t(evalU64(m, byteOf(bits, i))));
  return out;
}

std::vector<uint8_t> binding::evalArrayBytes(z3::model &m, const z3::expr &array,
                                    uint64_t size) {
  z3::context &c = array.ctx();
  std::vector<uint8_t> out;
  for (uint64_t i = 0; i < size; ++i)
    out.push_back(uint8_t(evalU64(m, z3::select(array, c.bv_val(i, 64)))));
  return out;
}

std::string binding::render(SemContext &sc, Type t, z3::model &m, const z3::expr &v) {
  z3::expr e = m.eval(v, true);
  if (auto st = llvm::dyn_cast<netfn::StringType>(t)) {
    uint64_t len = evalU64(m, sc.tupleProj(t, 0)(e));
    std::vector<uint8_t> data = evalBytes(m, sc.tupleProj(t, 1)(e));
    std::string s = "\"";
    for (uint64_t i = 0; i < len && i < data.size(); ++i) {
      uint8_t b = data[i];
      if (b >= 0x20 && b < 0x7f && b != '"' && b != '\\')
        s += char(b);
      else
        s += "\\x" + llvm::utohexstr(b, /*LowerCase=*/true, 2);
    }
    return s + "\"";
  }
  if (t.isInteger(1))
    return e.is_true() ? "true" : "false";
  if (auto it = llvm::dyn_cast<mlir::IntegerType>(t)) {
    uint64_t u = evalU64(m, v);
    if (it.isSigned() && it.getWidth() < 64 && (u >> (it.getWidth() - 1)) & 1)
      u |= ~uint64_t(0) << it.getWidth();
    return it.isSigned() ? std::to_string(int64_t(u)) : std::to_string(u);
  }
  if (llvm::isa<netfn::InstantType>(t))
    return std::to_string(evalU64(m, v)) + " ns";
  if (auto ft = llvm::dyn_cast<netfn::FixedType>(t)) {
    uint64_t u = evalU64(m, v);
    unsigned w = ft.getWidth();
    if (w < 64 && (u >> (w - 1)) & 1)
      u |= ~uint64_t(0) << w;
    double d = double(int64_t(u)) / double(uint64_t(1) << ft.getFrac());
    std::string s;
    llvm::raw_string_ostream os(s);
    os << llvm::format("%g", d) << " (raw " << int64_t(u) << ")";
    return os.str();
  }
  return e.to_string();
}

//===----------------------------------------------------------------------===//
// The element on a frame
//===----------------------------------------------------------------------===//

namespace {

class ElementBuilder {
public:
  ElementBuilder(SemContext &sc, netfn::ProgramOp program,
                 const bpf::ProgramABI &abi, const bytecode::BpfObject &object)
      : sc(sc), c(sc.z3()), program(program), abi(abi), object(object) {}

  Element build(unsigned maxLen);

private:
  SemContext &sc;
  z3::context &c;
  netfn::ProgramOp program;
  const bpf::ProgramABI &abi;
  const bytecode::BpfObject &object;

  z3::expr bv64(uint64_t v) { return c.bv_val(v, 64); }

  netfn::StateOp findState(llvm::StringRef name) {
    for (netfn::StateOp s : program.getStateOps())
      if (s.getSymName() == name)
        return s;
    return nullptr;
  }

  netfn::HandlerOp findHandler(llvm::StringRef name) {
    netfn::HandlerOp found;
    for (mlir::Operation &op : program.getBodyBlock())
      if (auto h = llvm::dyn_cast<netfn::HandlerOp>(op))
        if (h.getSymName() == name)
          found = h;
    return found;
  }

  const bytecode::MapDef &objectMap(llvm::StringRef name, llvm::StringRef what) {
    int i = object.findMap(name.str());
    if (i < 0)
      throw BindingError("the object has no map '" + name.str() + "' (" +
                         what.str() + " in the ABI record)");
    return object.maps[i];
  }

  Slot slotOf(Type type, const bpf::ValueLayout &layout, llvm::StringRef what) {
    if (typeText(type) != layout.netfnType)
      throw BindingError("the ABI record gives " + what.str() + " the type " +
                         layout.netfnType + ", the program " + typeText(type));
    return Slot{type, layout.encoding, unsigned(layout.size)};
  }

  void bindGlobalData(Element &el);
  void bindMaps(Element &el);
  void runEvents(Element &el, unsigned maxLen);
};

void ElementBuilder::bindGlobalData(Element &el) {
  World &w = el.world;
  SymbolicInputs &in = el.inputs;
  bool anyScalar = false;
  for (netfn::StateOp s : program.getStateOps())
    anyScalar |= !llvm::isa<netfn::MapType>(s.getType());
  if (!anyScalar)
    return;
  const bytecode::MapDef &data =
      objectMap(abi.globalSection, "the global data section");
  if (!data.globalData || data.valueSize < abi.globalSize)
    throw BindingError("map '" + abi.globalSection +
                       "' of the object is not global data of at least " +
                       std::to_string(abi.globalSize) + " bytes");
  z3::expr bytes =
      c.constant("data", c.array_sort(c.bv_sort(64), c.bv_sort(8)));
  // Bytes of the section after the state struct are the object's own
  // (other globals): keep their initial values.
  for (size_t i = abi.globalSize; i < data.valueSize; ++i)
    w.assumptions.push_back(z3::select(bytes, bv64(i)) ==
                            c.bv_val(i < data.initialData.size()
                                         ? data.initialData[i]
                                         : 0,
                                     8));
  w.maps.emplace(data.name, bytecode::MapState{bytes, {}, {}, 0});

  for (const bpf::LogABI &log : abi.logs) {
    // A log's record count lives in the global struct (LOG.size); its
    // records are in the ring buffer, which the object cannot read back.
    netfn::StateOp st = findState(log.name);
    auto lt = st ? llvm::dyn_cast<netfn::LogType>(st.getType()) : nullptr;
    if (!lt)
      throw BindingError("log '" + log.name +
                         "' of the ABI record is not a log of the program");
    z3::expr records =
        c.constant((log.name + ".records").c_str(),
                   c.array_sort(c.bv_sort(64), sc.sortOf(lt)));
    in.state.logs.emplace(
        log.name,
        LogTerms{records, readBytes(bytes, bv64(log.sizeCounterOffset), 8)});
  }
  for (const bpf::ScalarABI &s : abi.scalars) {
    bool counter = false;
    for (const bpf::LogABI &l : abi.logs)
      counter |= l.sizeCounter == s.name;
    if (counter)
      continue;
    z3::expr bits = readBytes(bytes, bv64(s.layout.offset), s.layout.size);
    netfn::StateOp st = findState(s.name);
    if (!st)
      throw BindingError("scalar '" + s.name +
                         "' of the ABI record is not a state of the program");
    Slot slot = slotOf(st.getType(), s.layout, "state @" + s.name);
    w.assumptions.push_back(isCanonical(sc, slot, bits));
    in.state.scalars.emplace(s.name, decodeCanonical(sc, slot, bits));
  }
  for (netfn::StateOp s : program.getStateOps()) {
    std::string name = s.getSymName().str();
    if (llvm::isa<netfn::MapType>(s.getType()))
      continue;
    if (!in.state.scalars.count(name) && !in.state.logs.count(name))
      throw BindingError("state @" + name +
                         " has no place in the ABI record");
  }
}

void ElementBuilder::bindMaps(Element &el) {
  World &w = el.world;
  SymbolicInputs &in = el.inputs;
  for (netfn::StateOp s : program.getStateOps()) {
    auto mt = llvm::dyn_cast<netfn::MapType>(s.getType());
    if (!mt)
      continue;
    std::string name = s.getSymName().str();
    const bpf::MapABI *m = abi.findMap(name);
    if (!m)
      throw BindingError("map @" + name + " is not in the ABI record");
    const bytecode::MapDef &def = objectMap(name, "a hash map");
    if (!def.isHash() || def.keySize != m->key.size ||
        def.valueSize != m->value.size || def.maxEntries != mt.getCapacity())
      throw BindingError("map '" + name +
                         "' of the object is not the hash map the ABI record "
                         "describes (type, key/value size or capacity)");
    Slot key = slotOf(mt.getKeyType(), m->key, "the key of map @" + name);
    Slot value = slotOf(mt.getValueType(), m->value, "the value of map @" + name);
    el.mapSlots.emplace(name, std::make_pair(key, value));

    // The object's map (arrays over key bytes, as the executor keeps them)
    // is the input; the netfn map is its view through the encodings: key k
    // is present when its bytes are, with the value its bytes decode to.
    // The C looks keys up by exactly these bytes, so this is also right for
    // a string key with a NUL inside (which NUL-padding cannot represent).
    z3::sort kbs = c.bv_sort(8 * unsigned(key.size));
    z3::expr bpfValues =
        c.constant((name + ".values").c_str(),
                   c.array_sort(kbs, c.bv_sort(8 * unsigned(value.size))));
    z3::expr bpfPresent = c.constant((name + ".present").c_str(),
                                     c.array_sort(kbs, c.bool_sort()));
    z3::expr count = c.constant((name + ".count").c_str(), c.bv_sort(64));
    w.assumptions.push_back(z3::ule(count, bv64(mt.getCapacity())));
    z3::expr k = c.constant(("key." + name).c_str(), sc.sortOf(mt.getKeyType()));
    // The netfn semantics only ever uses canonical values as keys (inputs,
    // constants and the results of every op are canonical), so the view
    // need not mask k's bytes: then a key's bytes are the very term the
    // object computes when both normalise alike (SemContext::nulPadded).
    z3::expr kb = encode(sc, key, k, /*canonicalValue=*/true);
    in.state.maps.emplace(
        name,
        MapTerms{z3::lambda(k, decode(sc, value, z3::select(bpfValues, kb))),
                 z3::lambda(k, z3::select(bpfPresent, kb)), count});
    w.maps.emplace(name, bytecode::MapState{bpfValues, bpfPresent, count, 0});
  }
}

void ElementBuilder::runEvents(Element &el, unsigned maxLen) {
  World &w = el.world;
  SymbolicInputs &in = el.inputs;
  auto byteAt = [&](const z3::expr &off) { return z3::select(w.packet, off); };
  auto byteAtK = [&](uint64_t off) { return byteAt(bv64(off)); };
  z3::expr len = w.packetLen;
  w.assumptions.push_back(z3::uge(len, bv64(14)) && z3::ule(len, bv64(maxLen)));

  // The parse of docs/bpf-abi.md, "Packet parsing", each step named.
  auto &steps = el.parseSteps;
  steps.emplace_back("shorter than an Ethernet header", z3::ult(len, bv64(14)));
  steps.emplace_back("EtherType is not IPv4 (0x0800)",
                     byteAtK(12) != c.bv_val(0x08, 8) ||
                         byteAtK(13) != c.bv_val(0x00, 8));
  steps.emplace_back("truncated IPv4 header", z3::ult(len, bv64(34)));
  z3::expr b14 = byteAtK(14);
  // IHL * 4 as a shift, the operation compiled code uses: simplified, the
  // same term as the object's (a product simplifies to another normal
  // form), so payload bytes are the same array reads on both sides.
  z3::expr ihl = z3::shl(z3::zext(b14 & c.bv_val(0x0f, 8), 56), bv64(2));
  steps.emplace_back("IP version is not 4",
                     z3::lshr(b14, c.bv_val(4, 8)) != c.bv_val(4, 8));
  steps.emplace_back("IPv4 header length below 20", z3::ult(ihl, bv64(20)));
  steps.emplace_back("IP protocol is not UDP", byteAtK(23) != c.bv_val(17, 8));
  steps.emplace_back("an IPv4 fragment other than the first",
                     ((byteAtK(20) & c.bv_val(0x1f, 8)) | byteAtK(21)) !=
                         c.bv_val(0, 8));
  z3::expr udp = bv64(14) + ihl;
  steps.emplace_back("truncated UDP header", z3::ult(len, udp + bv64(8)));
  auto port16 = [&](const z3::expr &at) {
    return z3::concat(byteAt(at), byteAt(at + bv64(1)));
  };
  z3::expr port = c.bv_val(abi.rpcPort, 16);
  steps.emplace_back("neither UDP port is the RPC port " +
                         std::to_string(abi.rpcPort),
                     port16(udp) != port && port16(udp + bv64(2)) != port);
  z3::expr hdr = udp + bv64(8);
  steps.emplace_back("truncated aRPC header", z3::ult(len, hdr + bv64(31)));
  z3::expr ptype = byteAt(hdr);
  steps.emplace_back("aRPC fragment index is not 0",
                     byteAt(hdr + bv64(14)) != c.bv_val(0, 8));
  z3::expr parsed = c.bool_val(true);
  for (auto &[why, cond] : steps)
    parsed = parsed && !cond;
  z3::expr payload = hdr + bv64(31);

  z3::expr someType = c.bool_val(false);
  for (const bpf::EventABI &e : abi.events) {
    z3::expr isType = c.bool_val(false);
    for (int t : e.packetTypes)
      isType = isType || ptype == c.bv_val(t, 8);
    someType = someType || isType;
    if (e.handler.empty())
      continue;
    z3::expr fits = z3::uge(len, payload + bv64(e.payloadBytes));
    steps.emplace_back("payload shorter than the " + e.symbol + " layout (" +
                           std::to_string(e.payloadBytes) + " bytes)",
                       isType && !fits);
    netfn::HandlerOp handler = findHandler(e.handler);
    netfn::EventOp event = handler ? handler.getEventDecl() : nullptr;
    if (!event)
      throw BindingError("handler @" + e.handler +
                         " of the ABI record is not a handler of the program");

    // The fields, decoded at their wire offsets.
    in.fields.clear();
    std::map<std::string, std::pair<Slot, z3::expr>> wire;
    for (const bpf::EventField &f : e.fields) {
      Type t = event.getFieldType(f.name);
      if (!t)
        throw BindingError("field '" + f.name + "' of the ABI record is not a "
                           "field of event @" + e.symbol);
      if (f.source == "packet_type") {
        auto st = llvm::dyn_cast<netfn::StringType>(t);
        if (!st)
          throw BindingError("packet_type field '" + f.name +
                             "' is not a string");
        in.fields.emplace(f.name, z3::ite(ptype == c.bv_val(3, 8),
                                          sc.stringValue(st, "failure"),
                                          sc.stringValue(st, "success")));
        continue;
      }
      if (f.source != "header" && f.source != "payload")
        throw BindingError("field '" + f.name + "' has an unknown source '" +
                           f.source + "'");
      Slot slot{t, f.encoding, unsigned(f.size)};
      if (typeText(t) != f.netfnType)
        throw BindingError("the ABI record gives field '" + f.name +
                           "' the type " + f.netfnType + ", the program " +
                           typeText(t));
      z3::expr at = (f.source == "header" ? hdr : payload) + bv64(f.offset);
      in.fields.emplace(f.name, decode(sc, slot, readBytes(w.packet, at, f.size)));
      wire.emplace(f.name, std::make_pair(slot, at));
    }
    for (mlir::Attribute name : event.getFieldNames()) {
      std::string n = llvm::cast<mlir::StringAttr>(name).getValue().str();
      if (!in.fields.count(n))
        throw BindingError("field '" + n + "' of event @" + e.symbol +
                           " has no wire location in the ABI record");
    }

    llvm::Expected<HandlerSemantics> sem = encodeHandler(sc, handler, in);
    if (!sem)
      throw BindingError(llvm::toString(sem.takeError()));
    EventRun run{e.symbol, e.handler, parsed && isType && fits, *sem,
                 in.fields, {}};
    // Collected first: nothing may throw through MLIR's walk (built without
    // exceptions).
    std::vector<std::string> setNames;
    handler.walk([&](netfn::FieldSetOp set) {
      if (!llvm::is_contained(setNames, set.getField().str()))
        setNames.push_back(set.getField().str());
    });
    for (const std::string &n : setNames) {
      auto it = wire.find(n);
      if (it == wire.end())
        throw BindingError("handler @" + e.handler + " sets field '" + n +
                           "', which has no place in the packet");
      run.setFields.push_back({n, it->second.first, it->second.second});
    }
    el.runs.push_back(std::move(run));
  }
  steps.emplace_back("aRPC packet type without a handler",
                     !someType);
}

Element ElementBuilder::build(unsigned maxLen) {
  z3::expr bool0 = c.bool_val(false), bv0 = c.bv_val(0, 32);
  auto arr = c.array_sort(c.bv_sort(64), c.bv_sort(8));
  Element el{World{c.constant("pkt", arr), c.constant("pkt.len", c.bv_sort(64)),
                   {}, {}, {}, {}},
             SymbolicInputs{}, {}, bool0, bv0, bv0, SymbolicState{},
             c.bv_val(0, 64), c.bv_val(0, 64), {}, {}};
  // Names of the netfn side's own fresh inputs (draws, clocks) start with
  // "netfn." so they read apart from the executor's in a model.
  el.inputs.prefix = "netfn.";
  bindGlobalData(el);
  bindMaps(el);
  runEvents(el, maxLen);

  // Merge the handlers' outcomes (their `runs` are disjoint: one packet
  // type each) over "no handler runs".
  bool tc = abi.hook == bpf::Hook::TC;
  z3::expr pass = c.bv_val(tc ? kTcOk : kXdpPass, 32);
  z3::expr drop = c.bv_val(tc ? kTcShot : kXdpDrop, 32);
  el.finalState = el.inputs.state;
  for (EventRun &r : el.runs) {
    el.handled = el.handled || r.runs;
    el.verdict = z3::ite(r.runs, r.sem.verdict, el.verdict);
    el.drawsUsed = z3::ite(r.runs, z3::zext(r.sem.drawsUsed, 32), el.drawsUsed);
    el.clocksUsed =
        z3::ite(r.runs, z3::zext(r.sem.clocksUsed, 32), el.clocksUsed);
    for (auto &[n, v] : el.finalState.scalars)
      v = z3::ite(r.runs, r.sem.state.scalars.at(n), v);
    for (auto &[n, m] : el.finalState.maps) {
      const MapTerms &f = r.sem.state.maps.at(n);
      m = MapTerms{z3::ite(r.runs, f.values, m.values),
                   z3::ite(r.runs, f.present, m.present),
                   z3::ite(r.runs, f.count, m.count)};
    }
    for (auto &[n, l] : el.finalState.logs) {
      const LogTerms &f = r.sem.state.logs.at(n);
      l = LogTerms{z3::ite(r.runs, f.records, l.records),
                   z3::ite(r.runs, f.size, l.size)};
    }
  }
  el.action = z3::ite(el.verdict == bv0, pass, drop);
  el.world.draws = el.inputs.draws;
  el.world.clocks = el.inputs.clocks;
  for (const z3::expr &a : el.inputs.assumptions)
    el.world.assumptions.push_back(a);
  return el;
}

} // namespace

Element binding::buildElement(SemContext &sc, netfn::ProgramOp program,
                              const bpf::ProgramABI &abi,
                              const bytecode::BpfObject &object,
                              unsigned maxLen) {
  return ElementBuilder(sc, program, abi, object).build(maxLen);
}
