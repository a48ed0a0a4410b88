//===- Check.h - translation validation: netfn element vs BPF object -*- C++ -*-===//
//
// The checker's front door (issue 4): is a compiled eBPF object equivalent to
// the netfn program it was compiled from, under the ABI record of the backend
// (passes/include/sbpf/BPF/ABI.h)? Used by `sbpf check`, by --appnet-to-bpf's
// validation of its own output, by the LLM passes (every candidate) and by the
// optimisation benchmark (hand-written expert C).
//
// Binding (docs/bpf-abi.md): event fields <-> packet bytes at the ABI's wire
// offsets, state scalars <-> bytes of the global data section, netfn maps <->
// hash-map contents, logs <-> ring-buffer records, the i-th netfn.random <->
// the i-th bpf_get_prandom_u32, the i-th netfn.now <-> the i-th
// bpf_ktime_get_ns, reject reason k <-> the per-reason counter slot. Packets
// that are not aRPC for the configured port must pass untouched.
//
// Functions here never throw (Z3 errors come back as Status::Error).
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_CHECKER_CHECK_H
#define SBPF_CHECKER_CHECK_H

#include "sbpf/BPF/ABI.h"
#include "sbpf/Netfn/Netfn.h"

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sbpf::checker {

struct CheckOptions {
  /// Total solver budget; past it the answer is Unknown ("timeout").
  unsigned timeoutMs = 20000;
  /// The command-line option that sets timeoutMs, named in the "timeout"
  /// reason (sbpf check's; sbpf-opt's validation has its own).
  std::string budgetOption = "--timeout-ms";
  /// When a query is still open after a number of Z3 resource units (3
  /// million when the queries divide or multiply variables, else 200
  /// million) or half the budget, sweep the queries (Sweep.h;
  /// docs/checker.md, "Sweeping") and ask the unanswered ones again with
  /// what is left (arithmetic queries: up to three sweeps, the later ones
  /// thorough: SweepOptions::thorough).
  bool sweep = true;
};

/// "timeout after N ms (OPTION)": the reason of an Unknown that ran out of
/// the budget.
inline std::string timeoutReason(const CheckOptions &options) {
  return "timeout after " + std::to_string(options.timeoutMs) + " ms (" +
         options.budgetOption + ")";
}

/// A counterexample in a form the kernel can replay (`sbpf replay`: load
/// the object with its draw and clock helper calls redirected to `draws`
/// and `clocks` (runtime/ChosenInputs.h), write `globalData` and
/// `mapEntries`, run `packet` with BPF_PROG_TEST_RUN).
struct Counterexample {
  std::string event;              ///< netfn event (empty: a non-aRPC packet)
  std::vector<uint8_t> packet;    ///< whole frame from the Ethernet header
  std::vector<uint8_t> globalData; ///< bytes of the scalar state struct
  /// map name -> (key bytes, value bytes) present before the run.
  std::map<std::string, std::vector<std::pair<std::vector<uint8_t>,
                                              std::vector<uint8_t>>>>
      mapEntries;
  std::vector<uint32_t> draws;  ///< prandom results, in call order
  std::vector<uint64_t> clocks; ///< ktime results, in call order
  bool dependsOnDrawsOrClocks = false;
  /// How many draws and clock readings the object (for equiv: the second
  /// object) takes on this input: a replay's counters must show as many.
  uint64_t actualDraws = 0, actualClocks = 0;
  /// Outcomes, e.g. "reject(overload)" / "forward"; for XDP the action too.
  std::string expected; ///< what the netfn element does
  std::string actual;   ///< what the object does
  uint32_t expectedAction = 0, actualAction = 0; ///< XDP/TC return codes
  /// What a replay can compare besides the action: the global data bytes
  /// after the run (the first globalData.size() bytes), the increment of
  /// each reject counter slot, and (when the frame passes) the frame after
  /// the run. `expected*` is the element's, `actual*` the object's.
  std::vector<uint8_t> expectedGlobalDataAfter, actualGlobalDataAfter;
  std::vector<uint64_t> expectedRejects, actualRejects;
  std::vector<uint8_t> actualPacketAfter;
  /// Hash-map entries after the run at the keys a replay reads back (every
  /// key of `mapEntries`, the loader's keys, and the key a map difference
  /// was found at), by map name: the element's and the object's value
  /// bytes, std::nullopt when the key is absent.
  struct MapEntryAfter {
    std::vector<uint8_t> key;
    std::optional<std::vector<uint8_t>> expected, actual;
  };
  std::map<std::string, std::vector<MapEntryAfter>> mapsAfter;
  /// Records the run appends to each ring buffer (by ring-buffer name), the
  /// element's and the object's, each record its bytes.
  std::map<std::string, std::vector<std::vector<uint8_t>>> expectedRecords,
      actualRecords;
  /// The difference is in the initial state (checkInit): there is no frame;
  /// a replay loads the object, lets the loader do the ABI record's init
  /// work and reads the state back. `expected*` is netfn.init's state,
  /// `actual*` the object's; the `*GlobalDataAfter` bytes are the state.
  bool init = false;
  /// Readable rendering: packet as hex with named fields, state, draws,
  /// both outcomes and what differs.
  std::string text;
};

struct CheckReport {
  enum Status { Proven, Different, Unknown, Error } status = Unknown;
  /// Unknown / Error: why (e.g. "timeout", "not supported yet: helper
  /// bpf_redirect_map", "object has no .sbpf.abi section").
  std::string reason;
  Counterexample counterexample; ///< when Different
  /// Effort: paths explored in the object, solver calls, wall time.
  size_t paths = 0, solverCalls = 0;
  double seconds = 0;
  /// The init observable (checkInit, run first by checkObject): "proven"
  /// with what was compared, or empty when it was not reached.
  std::string init;
};

/// Is `object` (ELF bytes) equivalent to `program` (after the same netfn
/// passes the object was compiled from)? `abi` describes where things are in
/// the object; null means read the object's `.sbpf.abi` section.
CheckReport checkObject(netfn::ProgramOp program,
                        llvm::ArrayRef<uint8_t> object,
                        const bpf::ProgramABI *abi,
                        const CheckOptions &options = {});

/// Does the object start in the state the program's netfn.init produces?
/// The object's state is its global data section's initial bytes and empty
/// maps and ring buffers, changed by the ABI record's `init.loader_work` in
/// order (map entries inserted as the kernel inserts them, scalars from the
/// clock and from random bytes); netfn.init's is its encoding
/// (NetfnSemantics), for every random draw and clock reading. Compared
/// through the ABI encodings: each scalar's bytes, each map's entries (and
/// no others) and its count, each log's size counter and that it holds no
/// records. The k-th random (clock) loader step reads the init draw
/// (reading) its scalar's final value is, else the next one unused (see
/// docs/checker.md, "init"). checkObject runs this first.
CheckReport checkInit(netfn::ProgramOp program, llvm::ArrayRef<uint8_t> object,
                      const bpf::ProgramABI *abi,
                      const CheckOptions &options = {});

/// Are two objects with the same ABI (maps, global data, events) the same
/// function of packet, state, draws and clock readings? `nameA` and `nameB`
/// (file names) prefix the reason when an object cannot be read.
CheckReport checkObjects(llvm::ArrayRef<uint8_t> a, llvm::ArrayRef<uint8_t> b,
                         const CheckOptions &options = {},
                         const std::string &nameA = "first object",
                         const std::string &nameB = "second object");

} // namespace sbpf::checker

#endif // SBPF_CHECKER_CHECK_H
