//===- InitialState.h - embedded ABI record, init state -------*- C++ -*-===//
//
// An element compiled by `sbpf-opt --emit=c` carries its ABI record (the JSON
// of docs/bpf-abi.md) in the ELF section `.sbpf.abi`. Its `init` part says
// what the element's `init` leaves for the loader: map entries (constant key
// and value bytes) and scalars whose initial value is only known at load time
// (the monotonic clock, a random draw). Constant scalars are already the
// object's `.data` contents and need nothing.
//
// readEmbeddedABI() finds the record and reads it with the backend's
// parseABIJson (one reader for the backend, checker and runtime), then checks
// what the loader needs; applyInitialState() performs
// the loader work on a loaded object, which must happen after loadObject()
// and before any of its programs runs (is attached or test-run). Objects
// without the section (plain C objects) have no initial state to apply:
// hasEmbeddedABI() tells them apart. Nothing here throws or prints.
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_RUNTIME_INITIALSTATE_H
#define SBPF_RUNTIME_INITIALSTATE_H

#include "sbpf/BPF/ABI.h"
#include "sbpf/Runtime/Loader.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sbpf::runtime {

/// The ELF section holding the record, and the record version this runtime
/// reads: the backend's (the record is read by the backend's own
/// parseABIJson, passes/include/sbpf/BPF/ABI.h).
inline constexpr const char *kEmbeddedABISection = bpf::kABISection;
inline constexpr int kEmbeddedABIVersion = bpf::kABIVersion;

/// One step of the record's `init.loader_work`, in init order.
struct LoaderStep {
  enum class Kind {
    MapEntry,   ///< insert key -> value into map `target` (BPF_ANY); a
                ///< computed key or value is read first (keyFrom/valueFrom)
    StateNow,   ///< scalar `target` := clock_gettime(CLOCK_MONOTONIC) in ns
    StateRandom ///< scalar `target` := `size` bytes from getrandom(2)
  };
  Kind kind = Kind::MapEntry;
  std::string target;
  std::vector<uint8_t> key, value; ///< MapEntry: exactly the map's sizes
  /// MapEntry: "" when `key` (`value`) holds the bytes; "clock" (the u64
  /// monotonic clock in ns) or "random" (getrandom(2) bytes): read by the
  /// loader when it reaches the step, key first.
  std::string keyFrom, valueFrom;
  uint64_t offset = 0, size = 0;   ///< scalars: place in the global struct
  std::string encoding;            ///< scalars: "u64", "u32", ...
};

/// What the loader needs from a record (the full JSON is kept in `json`).
struct EmbeddedABI {
  int version = 0;
  std::string program; ///< the BPF program (function) the record describes
  /// libbpf's map of the scalar state: the one whose name ends with this
  /// (libbpf names it "<object prefix>.data").
  std::string dataMapSuffix;
  uint64_t dataSize = 0; ///< size of the scalar-state struct
  struct MapLayout {
    std::string name;
    uint64_t keySize = 0, valueSize = 0;
  };
  std::vector<MapLayout> maps;
  std::vector<LoaderStep> loaderWork;
  std::string json; ///< the record as embedded
  /// The whole record, as parseABIJson reads it.
  bpf::ProgramABI record;
};

/// Whether `object` has a `.sbpf.abi` section (it may still be malformed).
bool hasEmbeddedABI(const ObjectFile &object);

/// Reads and checks the record in `object`'s `.sbpf.abi` section (trailing NUL
/// bytes, as a C string literal leaves, are ignored) with the backend's
/// parseABIJson, then what only the loader needs. Errors (messages start
/// with the object's name): no such section; a section that is not a JSON
/// object; a version other than kEmbeddedABIVersion; a missing or
/// ill-typed field of the record, named by its path (e.g.
/// "init.loader_work[1].key: missing value"); entry bytes that do not fit
/// their map's layout, scalars the loader cannot write or outside the state.
llvm::Expected<EmbeddedABI> readEmbeddedABI(const ObjectFile &object);

/// The same checks on a record's text; `what` starts the messages.
llvm::Expected<EmbeddedABI> parseEmbeddedABI(llvm::StringRef json,
                                             llvm::StringRef what);

struct InitialStateReport {
  unsigned mapEntries = 0;        ///< entries inserted
  unsigned mapEntriesLeftOut = 0; ///< new keys left out of a full map (E2BIG),
                                  ///< as netfn's map.set does
  unsigned scalarsNow = 0;
  unsigned scalarsRandom = 0;
  /// "2 map entries, 1 scalar from the clock", or "none needed".
  std::string summary() const;
};

/// Performs `abi.loaderWork` on `object`, in order: map entries with
/// bpf_map_update_elem(BPF_ANY), scalars patched into the global data map
/// (read, patched, written back with bpf_map_update_elem at key 0). Call it
/// after loadObject() and before any program of `object` runs. Errors name
/// the step: a map or the data map missing from the object, sizes that do
/// not match the object's maps, a failed syscall.
llvm::Expected<InitialStateReport> applyInitialState(LoadedObject &object,
                                                     const EmbeddedABI &abi);

/// For callers that load any object: applies the embedded record's initial
/// state when `file` has one (a malformed record is an error), and does
/// nothing for objects without the section (returns std::nullopt then).
llvm::Expected<std::optional<InitialStateReport>>
applyEmbeddedInitialState(const ObjectFile &file, LoadedObject &object);

} // namespace sbpf::runtime

#endif // SBPF_RUNTIME_INITIALSTATE_H
