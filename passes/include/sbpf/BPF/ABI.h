//===- ABI.h - the BPF ABI record of a compiled netfn program ---*- C++ -*-===//
//
// What a compiled element looks like from user space (docs/bpf-abi.md): the
// hook and port, where each event field is on the wire, where each state
// scalar lives in the global data struct, the maps, ring buffers and reject
// counters, and what the loader must write before attaching. The C emitter
// builds one while it emits, so the two agree by construction; writeABIJson
// prints it (deterministically) for --abi-out and the object's .sbpf.abi
// section, and parseABIJson reads it back (the checker binds an object to
// its netfn program with it; the runtime's loader performs its init work).
// Library SBPFABI: LLVM Support only, no MLIR, so both link it.
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_BPF_ABI_H
#define SBPF_BPF_ABI_H

#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"
#include <cstdint>
#include <string>
#include <vector>

namespace sbpf::bpf {

/// Version of the record's shape. 2: the record is embedded in the object
/// (section `.sbpf.abi`) and `init.loader_work` is performed by the runtime's
/// loader (state work carries the scalar's offset, size and encoding).
inline constexpr int kABIVersion = 2;

/// The ELF section of the object that holds the record (the exact bytes
/// writeABIJson prints, no terminating NUL).
inline constexpr const char *kABISection = ".sbpf.abi";

enum class Hook { XDP, TC };

struct BackendOptions {
  Hook hook = Hook::XDP;
  uint16_t rpcPort = 9000;
};

/// A value's bytes in user-visible memory. Encodings: u8 u16 u32 u64 s8 s16
/// s32 s64 (little-endian), bool (1 byte, non-zero is true), str (NUL-padded
/// bytes), str_len (u32 length then `size - 4` bytes, unused bytes zero).
struct ValueLayout {
  std::string netfnType;
  std::string cType;
  std::string encoding;
  uint64_t offset = 0; ///< within the enclosing record/struct
  uint64_t size = 0;
};

struct EventField {
  std::string name;
  std::string netfnType;
  std::string source;   ///< header, payload or packet_type
  int64_t offset = -1;  ///< from the start of the source; -1 for packet_type
  int64_t size = 0;
  std::string encoding;
};

struct EventABI {
  std::string symbol;
  std::string kind;
  std::string handler;           ///< empty: no handler (packets pass)
  std::vector<int> packetTypes;  ///< aRPC packet types dispatched to it
  uint64_t payloadBytes = 0;     ///< shortest payload the layout needs
  std::vector<EventField> fields;
};

struct ScalarABI {
  std::string name;
  ValueLayout layout; ///< offset within the global struct
};

struct MapABI {
  std::string name;
  std::string bpfType; ///< BPF_MAP_TYPE_HASH
  ValueLayout key, value;
  uint64_t capacity = 0;
};

struct LogABI {
  std::string name;
  std::string ringbuf;
  uint64_t ringbufBytes = 0;
  std::vector<ValueLayout> record;
  uint64_t recordSize = 0;
  std::string sizeCounter; ///< scalar name in the global struct
  uint64_t sizeCounterOffset = 0;
};

/// An initial value the loader must write before any program runs, in the
/// order `init` writes it.
struct LoaderWork {
  std::string kind;   ///< "map_entry", "state_now", "state_random"
  std::string target; ///< state or map name
  std::string key;    ///< map_entry: key bytes as lower-case hex
  std::string value;  ///< map_entry: value bytes as lower-case hex
  /// map_entry: "" when the key (value) is the bytes above; "clock" (a u64
  /// clock_gettime(CLOCK_MONOTONIC) reading in ns) or "random" (bytes from
  /// getrandom(2)) when init computes it from current_time() or a random
  /// draw, which the loader reads when it runs (the hex is then empty).
  std::string keyFrom, valueFrom;
  std::string keyText, valueText; ///< readable forms
  /// state_now / state_random: where the scalar is in the global struct.
  uint64_t offset = 0, size = 0;
  std::string encoding;
};

struct ProgramABI {
  std::string program;
  Hook hook = Hook::XDP;
  uint16_t rpcPort = 9000;
  std::vector<EventABI> events;
  std::string globalName;    ///< C variable of the scalar struct
  std::string globalSection; ///< ".data"
  uint64_t globalSize = 0;
  std::vector<ScalarABI> scalars;
  /// Constant initial values already in the object's .data (name, text).
  std::vector<std::pair<std::string, std::string>> initialScalars;
  std::vector<MapABI> maps;
  std::vector<LogABI> logs;
  std::string rejectMap;              ///< empty when there are no reasons
  std::vector<std::string> rejects;   ///< reason i counts in slot i
  std::vector<LoaderWork> loaderWork;

  const ScalarABI *findScalar(llvm::StringRef name) const;
  const MapABI *findMap(llvm::StringRef name) const;
  int rejectSlot(llvm::StringRef reason) const;
};

/// Prints the record as JSON (keys in a fixed order, two-space indent).
void writeABIJson(const ProgramABI &abi, llvm::raw_ostream &os);

/// Reads a record writeABIJson printed: the exact inverse, so
/// parseABIJson(writeABIJson(a)) == a field by field. Keys writeABIJson
/// derives from others (`section`, `libbpf_map`, `arpc_header_size`, the
/// rejects' `type`/`value`, `loader_note`, loader work's `source`) are not
/// stored; `key_text`/`value_text` may be absent. Errors name the JSON path
/// of the offending field first ("malformed ABI record:
/// events[0].fields[1].offset: expected uint64_t"); a version other than
/// kABIVersion is refused before anything else is read.
llvm::Expected<ProgramABI> parseABIJson(llvm::StringRef json);

} // namespace sbpf::bpf

#endif // SBPF_BPF_ABI_H
