//===- Binding.h - netfn values <-> bytes of a compiled object (private) ---===//
//
// The binding of the translation validator (docs/checker.md): how a netfn
// value is stored in the bytes the BPF object reads and writes, under the
// encodings of the ABI record (docs/bpf-abi.md), and the element's meaning
// stated on those bytes (BindingElement.cpp): what the netfn program does to
// a whole frame, the global data section, the hash maps, the ring buffers and
// the reject counters. Check.cpp compares that with what the object's
// executor (Exec.h) computes.
//
// Bit-vectors of memory bytes are little-endian: byte i of a value of n
// bytes is bits [8i+7 : 8i] of a bv(8n) (Exec.h uses the same convention for
// map keys and values). Internal: functions here throw BindingError (and
// z3::exception); Check.cpp catches both.
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_CHECKER_LIB_BINDING_H
#define SBPF_CHECKER_LIB_BINDING_H

#include "sbpf/BPF/ABI.h"
#include "sbpf/Checker/Exec.h"
#include "sbpf/Checker/NetfnSemantics.h"

#include <stdexcept>

namespace sbpf::checker::binding {

/// An input the binding cannot handle (an unknown encoding, an ABI record
/// that does not match the program). The message says what.
struct BindingError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

//===- Bytes ---------------------------------------------------------------===//

/// bv(8*size): the `size` bytes of `bytes` (Array bv64 bv8) from `offset`.
z3::expr readBytes(const z3::expr &bytes, const z3::expr &offset,
                   unsigned size);
/// `bytes` with bv `bits` (a multiple of 8 wide) stored from `offset`.
z3::expr writeBytes(const z3::expr &bytes, const z3::expr &offset,
                    const z3::expr &bits);
/// Byte i (bv8) of a little-endian bit-vector.
z3::expr byteOf(const z3::expr &bits, unsigned i);
/// The little-endian bit-vector of `bytes` (at least one).
z3::expr bytesBits(z3::context &c, llvm::ArrayRef<uint8_t> bytes);

//===- Encodings -----------------------------------------------------------===//

/// One slot of user-visible memory holding a netfn value.
struct Slot {
  mlir::Type type;      ///< the netfn type of the value
  std::string encoding; ///< u8..u64, s8..s64, bool, str, str_len, fixedW.F, f64
  unsigned size = 0;    ///< bytes
};

/// The netfn value stored in `bits` (bv(8*size)), in canonical form.
z3::expr decode(SemContext &sc, const Slot &slot, const z3::expr &bits);
/// decode() for bytes the caller has constrained to be canonical
/// (isCanonical() among the assumptions): the same value, but a str_len
/// string is the length and the bytes as stored, not clamped and masked
/// again, and is marked canonical. Then the element reads the very bytes
/// the object loads: a key byte chosen at a computed index below the
/// length is `select(d, k)` on both sides, not `ite(k < len, select(d, k),
/// 0)` against `select(d, k)` (scramble at -O0, docs/checker.md).
z3::expr decodeCanonical(SemContext &sc, const Slot &slot,
                         const z3::expr &bits);
/// The bytes writing `value` gives (the C backend's encoding). With
/// `canonicalValue`, `value` is taken to be canonical already (a string's
/// len within its capacity, its bytes from len on 0; SemContext::canonical)
/// and its bytes are not masked again: for terms over a bound key of the
/// netfn view of a map, whose keys are always canonical values.
z3::expr encode(SemContext &sc, const Slot &slot, const z3::expr &value,
                bool canonicalValue = false);
/// Whether `bits` is exactly what encode() writes for some value (a bool
/// byte is 0 or 1; a string's bytes after its end are 0), so that
/// encode(decode(bits)) == bits.
z3::expr isCanonical(SemContext &sc, const Slot &slot, const z3::expr &bits);

/// The type as the ABI record prints it ("ui32", "!netfn.string<64>").
std::string typeText(mlir::Type type);

//===- Reading a model ------------------------------------------------------===//

/// The value of a bit-vector term in `m` (0 when it is not a numeral).
uint64_t evalU64(z3::model &m, const z3::expr &e);
bool evalBool(z3::model &m, const z3::expr &e);
/// The little-endian bytes of a bit-vector term in `m`.
std::vector<uint8_t> evalBytes(z3::model &m, const z3::expr &bits);
/// Bytes [0, size) of an Array bv64 bv8 term in `m`.
std::vector<uint8_t> evalArrayBytes(z3::model &m, const z3::expr &array,
                                    uint64_t size);
/// A netfn value of type `t` in `m`, readable ("alice" quoted, signed
/// integers signed, instants in ns, fixed point as a decimal and its raw
/// value); shared by the handler and the init counterexamples.
std::string render(SemContext &sc, mlir::Type t, z3::model &m,
                   const z3::expr &v);

//===- The element on bytes -------------------------------------------------===//

/// What the object is run on: the frame and the initial state, as terms.
struct World {
  z3::expr packet;    ///< Array bv64 bv8, the frame from the Ethernet header
  z3::expr packetLen; ///< bv64
  /// Initial contents of the object's maps the binding fixes, by map name
  /// (the global data section and the element's hash maps); the executor
  /// makes the others (reject counters, scratch, ring buffers) fresh.
  std::map<std::string, bytecode::MapState> maps;
  /// draws[i] / clocks[i]: the i-th random draw / clock reading of a run.
  std::vector<z3::expr> draws, clocks;
  /// Facts about the inputs (canonical encodings, map counts within
  /// capacity, frame length bounds, non-decreasing clocks).
  std::vector<z3::expr> assumptions;
};

/// A handler of the element, as run on a frame.
struct EventRun {
  std::string event, handler;
  z3::expr runs;                     ///< Bool: this handler runs on the frame
  HandlerSemantics sem;
  std::map<std::string, z3::expr> inputFields; ///< decoded from the frame
  /// The fields the handler may set (netfn.field.set), with their slots.
  struct SetField {
    std::string name;
    Slot slot;
    z3::expr offset; ///< in the frame (bv64)
  };
  std::vector<SetField> setFields;
};

/// The element's meaning on a World.
struct Element {
  World world;
  SymbolicInputs inputs;        ///< netfn inputs: state, draws, clocks
  std::vector<EventRun> runs;   ///< disjoint `runs` conditions
  z3::expr handled;             ///< Bool: some handler runs
  z3::expr verdict;             ///< bv32 netfn code (0 when no handler runs)
  z3::expr action;              ///< bv32: XDP/TC return code
  SymbolicState finalState;     ///< netfn state after the frame
  z3::expr drawsUsed, clocksUsed; ///< bv64
  /// Why the frame is not the element's when no handler runs (for the
  /// counterexample text): named conditions in parse order.
  std::vector<std::pair<std::string, z3::expr>> parseSteps;
  /// The maps' slots (ABI key/value), by netfn map name.
  std::map<std::string, std::pair<Slot, Slot>> mapSlots;
};

/// Builds the element's meaning: the symbolic frame (length 14..maxLen),
/// the initial global data bytes and hash maps decoded into the netfn state,
/// and every handler encoded with NetfnSemantics on the fields decoded at
/// their ABI offsets.
Element buildElement(SemContext &sc, netfn::ProgramOp program,
                     const bpf::ProgramABI &abi,
                     const bytecode::BpfObject &object, unsigned maxLen);

/// The largest frame the checker considers: the standard Ethernet frame.
inline constexpr unsigned kMaxFrameBytes = 1514;

/// XDP / TC return codes.
inline constexpr uint32_t kXdpDrop = 1, kXdpPass = 2, kTcOk = 0, kTcShot = 2;

} // namespace sbpf::checker::binding

#endif // SBPF_CHECKER_LIB_BINDING_H
