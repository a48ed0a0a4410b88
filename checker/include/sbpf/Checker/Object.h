//===- Object.h - libbpf-style eBPF ELF objects for the checker -*- C++ -*-===//
//
// Reads a BPF ELF object the way libbpf does, without the kernel: its
// programs (functions in executable sections other than .text, with their
// section names, "xdp", "tc", ...), its maps (BTF-defined, SEC(".maps"):
// type, key/value sizes, max_entries from the object's BTF), its global data
// sections (.data, .bss, .rodata*: single-entry array maps holding their
// initial bytes), and its relocations, applied as libbpf applies them before
// BPF_PROG_LOAD:
//   - R_BPF_64_64 on a lddw of a map symbol -> lddw src=1 (BPF_PSEUDO_MAP_FD)
//     with imm = the map's index in BpfObject::maps;
//   - R_BPF_64_64 on a lddw of global data -> lddw src=2
//     (BPF_PSEUDO_MAP_VALUE) with imm = the map's index and the second
//     slot's imm = the byte offset (insn imm + symbol value);
//   - R_BPF_64_32 on a call (src=1) into .text -> a pc-relative call into
//     the copy of .text appended after the program's section (libbpf
//     appends the subprograms the same way).
// Raw named sections (e.g. ".sbpf.abi") are kept as bytes.
//
// Uses LLVM's Object library and libbpf's BTF parser; nothing here throws.
//
//===----------------------------------------------------------------------===//

#ifndef SBPF_CHECKER_OBJECT_H
#define SBPF_CHECKER_OBJECT_H

#include "sbpf/Checker/Bytecode.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sbpf::checker::bytecode {

/// Map types the executor models (values of enum bpf_map_type).
namespace maptype {
enum : uint32_t {
  Hash = 1, Array = 2, PercpuHash = 5, PercpuArray = 6, LruHash = 9,
  LruPercpuHash = 10, Ringbuf = 27,
};
} // namespace maptype

/// A map of the object: BTF-defined (section ".maps") or global data
/// (section ".data", ".bss", ".rodata..."; then type Array, keySize 4,
/// maxEntries 1, valueSize the section size and `initialData` its bytes).
struct MapDef {
  std::string name;    ///< symbol name, or the section name for global data
  uint32_t type = 0;   ///< enum bpf_map_type
  uint32_t keySize = 0, valueSize = 0, maxEntries = 0, flags = 0;
  bool globalData = false;
  std::vector<uint8_t> initialData; ///< global data only (.bss: zeros)
  bool isHash() const {
    return type == maptype::Hash || type == maptype::PercpuHash ||
           type == maptype::LruHash || type == maptype::LruPercpuHash;
  }
  bool isArray() const {
    return type == maptype::Array || type == maptype::PercpuArray;
  }
};

/// What the program's context argument (r1) points to.
enum class Hook { XDP, TC, Other };

/// One program, linked as libbpf links it: its whole ELF section followed by
/// .text (when it calls into it), relocated; execution starts at `entry`
/// (an index into `insns`). Instruction::slot counts from the section start.
struct Program {
  std::string name;    ///< function name
  std::string section; ///< ELF section name ("xdp", "tc", ...)
  Hook hook = Hook::Other;
  std::vector<Instruction> insns;
  size_t entry = 0;
  /// The maps lddw src=1/2 refer to by index (the object's maps).
  std::vector<MapDef> maps;
  /// Instructions of the function itself (8-byte slots, as libbpf counts).
  size_t functionSlots = 0;
};

struct BpfObject {
  std::vector<Program> programs;
  std::vector<MapDef> maps;
  /// Every section with contents by name (raw bytes, unrelocated).
  std::map<std::string, std::vector<uint8_t>> sections;

  const Program *findProgram(const std::string &name) const;
  int findMap(const std::string &name) const; ///< index or -1
};

struct ObjectParseResult {
  std::optional<BpfObject> object;
  std::string error; ///< "<name>: <what is wrong>" when !object
  bool ok() const { return object.has_value(); }
};

/// Parses ELF bytes; `name` is used in error messages.
ObjectParseResult parseObject(const uint8_t *bytes, size_t size,
                              const std::string &name = "object");

/// The hook a section name implies ("xdp..." -> XDP, "tc"/"classifier..."
/// -> TC).
Hook hookOfSection(const std::string &section);

} // namespace sbpf::checker::bytecode

#endif // SBPF_CHECKER_OBJECT_H
