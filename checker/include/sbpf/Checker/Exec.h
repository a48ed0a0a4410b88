//===- Exec.h - symbolic execution of linked eBPF programs ------*- C++ -*-===//
//
// The BPF symbolic executor over a Program of an ELF object (Object.h): the
// instruction semantics of Bytecode.h plus memory, helpers and bpf-to-bpf
// calls. Used by the translation validator (Check.h) with the netfn side's
// terms as inputs, in one z3::context.
//
// Memory model. A register holds a scalar (bv64) or a pointer
// (region, offset), offset a bv64 term:
//   - stack: one 512-byte frame per call depth, cells of bv8 (concrete
//     offsets only; a pointer spilled as 8 aligned bytes is kept as a
//     pointer and restored by an 8-byte load of the same slot);
//   - context: struct xdp_md (XDP: data @0, data_end @4, data_meta @8) or
//     struct __sk_buff (TC: len @0, data @76, data_end @80); loading data /
//     data_end gives packet pointers, other fields read the fresh input
//     "ctx.<offset>" (bv32), data_meta = data;
//   - packet: a byte array (Array bv64 bv8) indexed from the original data
//     start; data is `start`, data_end is `end` (both bv64; initially 0 and
//     the input length). Packet pointers compare by offset, so the bounds
//     checks the verifier forces are ordinary branches; the accesses they
//     guard are trusted in bounds (the verifier rejects others);
//   - map values: hash maps as values: Array K V (K, V bit-vectors of the
//     key / value size, byte i = bits [8i+7:8i], little-endian), present:
//     Array K Bool and count: bv64; array maps (and per-CPU ones: one CPU's
//     copy) as Array bv32 (Array bv64 bv8), slots at constant indices only
//     (a symbolic index is "not supported yet"); global data (.data/.bss/.rodata)
//     as one byte array (Array bv64 bv8). A lookup returns NULL-or-pointer
//     (NULL when the key is absent / the index >= max_entries); the null
//     check the verifier forces splits the path, and copies of the register
//     follow the split as in the verifier;
//   - ring-buffer records: a reserved record is a region of its own; submit
//     appends its bytes to the ring buffer's records (count: bv64,
//     records: Array bv64 bv(8*size); every record of one ring buffer has
//     one size, else "not supported yet").
// Loads/stores of 1/2/4/8 bytes (LDX/STX/ST, MEMSX) on every region, little
// endian; atomics (add/or/and/xor with and without FETCH, xchg, cmpxchg, 32
// and 64 bit) on map values, global data and the stack.
//
// Helpers (by id): map_lookup_elem (1), map_update_elem (2; BPF_ANY /
// NOEXIST / EXIST, -EEXIST / -ENOENT, a full hash map rejects new keys with
// -E2BIG: `count` is the number of present keys, an input the caller ties
// to `present`), map_delete_elem (3; arrays: -EINVAL), ktime_get_ns (5: the
// i-th call returns clocks[i]), trace_printk (6: recorded in the call log,
// returns a fresh value), get_prandom_u32 (7: draws[i]),
// get_smp_processor_id (8: the fresh input "cpu"),
// l3/l4_csum_replace (10/11, TC), redirect (23: XDP_REDIRECT when flags are
// 0 else XDP_ABORTED; target recorded), csum_diff (28), xdp_adjust_head
// (44) and xdp_adjust_tail (65) (fail with -EINVAL when the new bounds are
// invalid), ringbuf_output / reserve / submit / discard (130-133; whether the
// buffer has room is the input "<map>.room.<i>" unless
// ExecInputs::ringbufAlwaysHasRoom). Any other helper: status Unsupported
// "not supported yet: helper <name> (<id>)".
//
// Memories are the input arrays plus the writes made since (reads resolve
// writes at equal / provably different indices without the solver).
//
// Paths: states are explored in order of instruction index and merged
// (if-then-else over path conditions) where they meet with the same call
// stack and compatible register kinds (dead registers are ignored), so the
// unrolled byte loops of generated code do not multiply paths. Back edges are
// followed until the step bound ("unknown: bound exceeded"). Feasibility is
// checked lazily: a state is checked before it reports an error and before
// it follows a back edge, so infeasible states may be merged in (harmless:
// their condition is false).
//
// Nothing here throws: Z3 errors come back as status Error.
//
//===----------------------------------------------------------------------===//

#ifndef SBPF_CHECKER_EXEC_H
#define SBPF_CHECKER_EXEC_H

#include "sbpf/Checker/Bytecode.h"
#include "sbpf/Checker/Object.h"

#include <z3++.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sbpf::checker::bytecode {

/// The contents of one map. Hash maps: values Array K V, present Array K
/// Bool, count bv64. Array maps: values Array bv32 (Array bv64 bv8).
/// Global data: values Array bv64 bv8 (the section's bytes). Ring buffers:
/// values Array bv64 bv(8*recordSize), count bv64 (records appended).
struct MapState {
  z3::expr values;
  std::optional<z3::expr> present;
  std::optional<z3::expr> count;
  unsigned recordSize = 0; ///< ring buffers: bytes per record (0: none yet)
};

/// One helper call on some path.
struct HelperCall {
  z3::expr guard; ///< the path condition at the call
  int id = 0;
  std::string name;
  std::vector<z3::expr> args; ///< r1..r5 as scalars (pointers: offsets)
  size_t insn = 0;            ///< slot of the call
};

/// Inputs of an execution. Unset parts are fresh constants named after
/// them (listed in ExecResult::inputs).
struct ExecInputs {
  std::optional<z3::expr> packet;    ///< Array bv64 bv8, data at index 0
  std::optional<z3::expr> packetLen; ///< bv64
  /// Initial map contents by map name (MapState layout above).
  std::map<std::string, MapState> maps;
  /// draws[i]: the i-th get_prandom_u32 (bv32); clocks[i]: the i-th
  /// ktime_get_ns (bv64). Missing ones: fresh "draw.<i>" / "clock.<i>".
  std::vector<z3::expr> draws, clocks;
  /// r1..r5 for programs run without a context (the Bytecode.h API); for
  /// XDP/TC programs r1 is the context pointer.
  std::array<std::optional<z3::expr>, 5> regs;
  bool ringbufAlwaysHasRoom = true;
};

/// The state at one EXIT of the entry function (or several merged).
struct ExecOutcome {
  z3::expr pathCondition; ///< Bool over the inputs
  z3::expr r0;            ///< bv64
  std::vector<MapState> maps; ///< final contents, by Program::maps index
  z3::expr packet;            ///< Array bv64 bv8 (indices as the input's)
  z3::expr packetStart, packetEnd; ///< bv64: data / data_end offsets
  z3::expr drawsUsed, clocksUsed;  ///< bv64
  std::vector<HelperCall> calls;   ///< guarded helper calls (every path)
  size_t steps = 0;
};

struct ExecStats {
  size_t exits = 0;       ///< states that reached an EXIT (before merging)
  size_t merges = 0;      ///< joins of two states
  size_t solverCalls = 0; ///< feasibility checks
  size_t steps = 0;       ///< instructions executed over all states
  double seconds = 0;
};

struct ProgramExecResult {
  ExecStatus status = ExecStatus::Error;
  std::string message;
  std::vector<ExecOutcome> outcomes; ///< disjoint path conditions
  /// The inputs actually used (given or fresh): initial maps by index,
  /// packet, packetLen, draws and clocks (as many as any path consumed).
  std::vector<MapState> initialMaps;
  std::optional<z3::expr> packet, packetLen;
  std::vector<z3::expr> draws, clocks;
  ExecStats stats;
  bool ok() const { return status == ExecStatus::Ok; }
};

/// Runs `program` from its entry on `inputs`. With `mergeExits`, every
/// outcome is merged into one (ite over path conditions).
ProgramExecResult executeProgram(BytecodeContext &bc, const Program &program,
                                 const ExecInputs &inputs,
                                 const ExecLimits &limits = {},
                                 bool mergeExits = false);

/// The fresh initial state of map `m` named `prefix` + field names.
MapState freshMapState(z3::context &c, const MapDef &m,
                       const std::string &prefix);
/// A map's state from concrete entries (key bytes -> value bytes); array
/// maps and global data: missing entries are zero; hash maps: absent.
MapState concreteMapState(
    z3::context &c, const MapDef &m,
    const std::vector<std::pair<std::vector<uint8_t>, std::vector<uint8_t>>>
        &entries);
/// The value of `key` (bv of 8*keySize) in `s` as bv(8*valueSize)
/// (global data: the whole section, key ignored).
z3::expr mapValueBits(z3::context &c, const MapDef &m, const MapState &s,
                      const z3::expr &key);
/// select(array, index), resolving stores at numeral indices and constant
/// arrays without the solver (final packets and maps are store chains).
z3::expr selectValue(const z3::expr &array, const z3::expr &index);
/// A bit-vector of `bytes` little-endian (byte 0 = bits 7:0).
z3::expr bytesToBits(z3::context &c, const std::vector<uint8_t> &bytes);

} // namespace sbpf::checker::bytecode

#endif // SBPF_CHECKER_EXEC_H
