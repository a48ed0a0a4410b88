//===- ObjectFile.cpp - libbpf-style ELF objects for the checker ----------===//
//
// See Object.h. The relocation rules are libbpf's (bpf_program__record_reloc
// and bpf_object__reloc_code), so the instructions the executor runs are the
// ones the kernel is given, with map indices where libbpf puts map fds.
//
//===----------------------------------------------------------------------===//

#include "sbpf/Checker/Object.h"

#include "llvm/Object/ELFObjectFile.h"
#include "llvm/Support/MemoryBuffer.h"

#include <bpf/btf.h>

#include <set>

using namespace llvm;
using namespace llvm::object;

namespace sbpf::checker::bytecode {

namespace {

/// A symbol's section, name and value; none when any cannot be read (such a
/// symbol is skipped, as libbpf skips it).
using SymbolInfo = std::tuple<section_iterator, StringRef, uint64_t>;
std::optional<SymbolInfo> symbolInfo(const ELFSymbolRef &sym) {
  Expected<section_iterator> s = sym.getSection();
  Expected<StringRef> n = sym.getName();
  Expected<uint64_t> v = sym.getValue();
  if (s && n && v)
    return SymbolInfo{*s, *n, *v};
  if (!s)
    consumeError(s.takeError());
  if (!n)
    consumeError(n.takeError());
  if (!v)
    consumeError(v.takeError());
  return std::nullopt;
}

constexpr uint32_t kRelBpf64_64 = 1;  // R_BPF_64_64: lddw
constexpr uint32_t kRelBpf64_32 = 10; // R_BPF_64_32: call

bool isDataSection(StringRef name) {
  return name == ".data" || name == ".bss" || name.startswith(".rodata") ||
         name.startswith(".data.") || name.startswith(".bss.");
}

struct Failure {
  std::string message;
};

/// Reads the BTF-defined map `var` (its struct of __uint/__type members).
std::optional<std::string> readMapBtf(const struct btf *btf, int varId,
                                      MapDef &m) {
  const struct btf_type *var = btf__type_by_id(btf, varId);
  int structId = var ? btf__resolve_type(btf, var->type) : -1;
  if (structId < 0)
    return "map " + m.name + ": unresolvable BTF type";
  const struct btf_type *st = btf__type_by_id(btf, structId);
  if (!st || btf_kind(st) != BTF_KIND_STRUCT)
    return "map " + m.name + ": BTF definition is not a struct";
  const struct btf_member *mem = btf_members(st);
  for (unsigned i = 0; i < btf_vlen(st); ++i, ++mem) {
    const char *fieldName = btf__name_by_offset(btf, mem->name_off);
    if (!fieldName)
      return "map " + m.name + ": a BTF member name out of range";
    std::string field = fieldName;
    const struct btf_type *ptr = btf__type_by_id(btf, mem->type);
    if (!ptr || btf_kind(ptr) != BTF_KIND_PTR)
      return "map " + m.name + ": member " + field + " is not a pointer";
    // __uint(name, N) is `int (*name)[N]`; __type(name, T) is `T *name`.
    auto arrayLen = [&]() -> std::optional<uint32_t> {
      const struct btf_type *arr = btf__type_by_id(btf, ptr->type);
      if (!arr || btf_kind(arr) != BTF_KIND_ARRAY)
        return std::nullopt;
      return btf_array(arr)->nelems;
    };
    if (field == "type" || field == "max_entries" || field == "key_size" ||
        field == "value_size" || field == "map_flags") {
      auto n = arrayLen();
      if (!n)
        return "map " + m.name + ": member " + field + " is not __uint";
      if (field == "type")
        m.type = *n;
      else if (field == "max_entries")
        m.maxEntries = *n;
      else if (field == "key_size")
        m.keySize = *n;
      else if (field == "value_size")
        m.valueSize = *n;
      else
        m.flags = *n;
    } else if (field == "key" || field == "value") {
      long long size = btf__resolve_size(btf, ptr->type);
      if (size < 0)
        return "map " + m.name + ": size of " + field + " unknown";
      (field == "key" ? m.keySize : m.valueSize) = uint32_t(size);
    }
    // Other members (pinning, inner maps...) do not change the semantics
    // the executor models; map-in-map types are rejected by type below.
  }
  return std::nullopt;
}

class Reader {
public:
  Reader(const ELF64LEObjectFile &elf, std::string name)
      : elf(elf), name(std::move(name)) {}

  std::optional<std::string> read(BpfObject &out);

private:
  const ELF64LEObjectFile &elf;
  std::string name;
  std::map<uint64_t, int> mapBySymbolOffset; // .maps offset -> map index
  std::map<uint64_t, int> mapBySection;      // data section index -> map
  uint64_t mapsSection = ~0ull, textSection = ~0ull;

  std::optional<std::string> readMaps(BpfObject &out);
  std::optional<std::string> linkProgram(BpfObject &out, const SectionRef &sec,
                                         StringRef secName, StringRef fn,
                                         uint64_t fnOffset, uint64_t fnSize);
  std::optional<std::string>
  relocate(BpfObject &out, const SectionRef &sec, std::vector<RawInsn> &slots,
           size_t base, std::set<size_t> &callSlotsRelocated, bool &needsText,
           size_t textBase);
};

std::optional<std::string> Reader::readMaps(BpfObject &out) {
  // Global data sections first, in section order.
  for (const SectionRef &sec : elf.sections()) {
    Expected<StringRef> sn = sec.getName();
    if (!sn) {
      consumeError(sn.takeError());
      continue;
    }
    if (*sn == ".maps")
      mapsSection = sec.getIndex();
    if (*sn == ".text")
      textSection = sec.getIndex();
    if (!isDataSection(*sn) || sec.isText())
      continue;
    MapDef m;
    m.name = sn->str();
    m.type = maptype::Array;
    m.keySize = 4;
    m.maxEntries = 1;
    m.valueSize = uint32_t(sec.getSize());
    m.globalData = true;
    if (sec.isBSS()) {
      m.initialData.assign(sec.getSize(), 0);
    } else {
      Expected<StringRef> c = sec.getContents();
      if (!c)
        return "section " + m.name + ": " + toString(c.takeError());
      m.initialData.assign(c->begin(), c->end());
    }
    if (m.valueSize == 0)
      continue; // libbpf skips empty data sections too
    mapBySection[sec.getIndex()] = int(out.maps.size());
    out.maps.push_back(std::move(m));
  }
  if (mapsSection == ~0ull)
    return std::nullopt;
  // BTF-defined maps: one symbol per map in .maps.
  const struct btf *btf = nullptr;
  struct btf *owned = nullptr;
  for (const SectionRef &sec : elf.sections()) {
    Expected<StringRef> sn = sec.getName();
    if (sn && *sn == ".BTF") {
      Expected<StringRef> c = sec.getContents();
      if (!c)
        return ".BTF: " + toString(c.takeError());
      owned = btf__new(c->data(), uint32_t(c->size()));
      if (!owned) // libbpf 1.x: NULL and errno on failure
        return std::string(".BTF: libbpf cannot parse it");
      btf = owned;
    } else if (!sn) {
      consumeError(sn.takeError());
    }
  }
  if (!btf)
    return std::string("the object has a .maps section but no .BTF "
                       "(compile with -g)");
  std::optional<std::string> err;
  std::vector<std::pair<uint64_t, std::string>> syms;
  for (const ELFSymbolRef &sym : elf.symbols()) {
    std::optional<SymbolInfo> info = symbolInfo(sym);
    if (!info)
      continue;
    auto &[s, n, v] = *info;
    if (s == elf.section_end() || s->getIndex() != mapsSection ||
        sym.getELFType() != ELF::STT_OBJECT)
      continue;
    syms.push_back({v, n.str()});
  }
  std::sort(syms.begin(), syms.end());
  for (auto &[off, symName] : syms) {
    MapDef m;
    m.name = symName;
    int varId = btf__find_by_name_kind(btf, symName.c_str(), BTF_KIND_VAR);
    if (varId < 0) {
      err = "map " + symName + ": no BTF variable of that name";
      break;
    }
    if ((err = readMapBtf(btf, varId, m)))
      break;
    if (m.type == maptype::Ringbuf) {
      m.keySize = m.valueSize = 0;
    } else if (!m.isHash() && !m.isArray()) {
      err = "not supported yet: map " + symName + " of type " +
            std::to_string(m.type);
      break;
    }
    mapBySymbolOffset[off] = int(out.maps.size());
    out.maps.push_back(std::move(m));
  }
  btf__free(owned);
  return err;
}

std::optional<std::string>
Reader::relocate(BpfObject &out, const SectionRef &sec,
                 std::vector<RawInsn> &slots, size_t base,
                 std::set<size_t> &callsRelocated, bool &needsText,
                 size_t textBase) {
  for (const SectionRef &rs : elf.sections()) {
    Expected<section_iterator> target = rs.getRelocatedSection();
    if (!target) {
      consumeError(target.takeError());
      continue;
    }
    if (*target == elf.section_end() || **target != sec)
      continue;
    for (const RelocationRef &r : rs.relocations()) {
      uint64_t off = r.getOffset();
      if (off % 8)
        return "relocation at unaligned offset " + std::to_string(off);
      size_t slot = base + off / 8;
      if (slot >= slots.size())
        return "relocation past the end of the section";
      symbol_iterator si = r.getSymbol();
      if (si == elf.symbol_end())
        return "relocation without a symbol at slot " + std::to_string(slot);
      ELFSymbolRef sym(*si);
      Expected<section_iterator> ss = sym.getSection();
      Expected<uint64_t> sv = sym.getValue();
      Expected<StringRef> sn = sym.getName();
      if (!ss || !sv || !sn) {
        if (!ss) consumeError(ss.takeError());
        if (!sv) consumeError(sv.takeError());
        if (!sn) consumeError(sn.takeError());
        return "unreadable relocation symbol at slot " + std::to_string(slot);
      }
      if (*ss == elf.section_end())
        return "relocation against undefined symbol " + sn->str() +
               " (extern symbols are not supported yet)";
      uint64_t symSec = (*ss)->getIndex();
      RawInsn &in = slots[slot];
      if (r.getType() == kRelBpf64_64 && in.opcode == 0x18) {
        if (slot + 1 >= slots.size())
          return "lddw relocation on the last slot";
        if (symSec == mapsSection) {
          auto it = mapBySymbolOffset.find(*sv);
          if (it == mapBySymbolOffset.end())
            return "relocation against unknown map symbol " + sn->str();
          in.src = 1; // BPF_PSEUDO_MAP_FD
          in.imm = it->second;
          slots[slot + 1].imm = 0;
        } else if (mapBySection.count(symSec)) {
          int64_t offset = int64_t(in.imm) + int64_t(*sv);
          in.src = 2; // BPF_PSEUDO_MAP_VALUE
          in.imm = mapBySection[symSec];
          slots[slot + 1].imm = int32_t(offset);
        } else {
          return "lddw relocation against " + sn->str() +
                 " in a section that is neither .maps nor global data";
        }
      } else if (r.getType() == kRelBpf64_32 && in.opcode == 0x85 &&
                 in.src == 1) {
        if (symSec != textSection)
          return "call relocation into a section other than .text";
        // libbpf: sub_insn_idx = sym_off / 8 + imm + 1 within .text.
        int64_t tgt = int64_t(textBase) + int64_t(*sv / 8) + in.imm + 1;
        in.imm = int32_t(tgt - int64_t(slot) - 1);
        callsRelocated.insert(slot);
        needsText = true;
      } else {
        return "unsupported relocation type " + std::to_string(r.getType()) +
               " on opcode " + opcodeName(in.opcode) + " at slot " +
               std::to_string(slot);
      }
    }
  }
  (void)out;
  return std::nullopt;
}

std::vector<RawInsn> slotsOf(StringRef bytes) {
  std::vector<RawInsn> v(bytes.size() / 8);
  for (size_t i = 0; i < v.size(); ++i) {
    const uint8_t *p = reinterpret_cast<const uint8_t *>(bytes.data()) + 8 * i;
    v[i] = RawInsn(p[0], p[1] & 0x0f, p[1] >> 4,
                   int16_t(uint16_t(p[2] | (p[3] << 8))),
                   int32_t(uint32_t(p[4]) | (uint32_t(p[5]) << 8) |
                           (uint32_t(p[6]) << 16) | (uint32_t(p[7]) << 24)));
  }
  return v;
}

std::optional<std::string> Reader::linkProgram(BpfObject &out,
                                               const SectionRef &sec,
                                               StringRef secName, StringRef fn,
                                               uint64_t fnOffset,
                                               uint64_t fnSize) {
  Expected<StringRef> c = sec.getContents();
  if (!c)
    return toString(c.takeError());
  std::vector<RawInsn> slots = slotsOf(*c);
  size_t textBase = slots.size();
  std::optional<SectionRef> text;
  for (const SectionRef &s : elf.sections())
    if (s.getIndex() == textSection && s.getSize() > 0)
      text = s;
  std::vector<RawInsn> textSlots;
  if (text) {
    Expected<StringRef> tc = text->getContents();
    if (!tc)
      return toString(tc.takeError());
    textSlots = slotsOf(*tc);
  }
  std::vector<RawInsn> all = slots;
  all.insert(all.end(), textSlots.begin(), textSlots.end());
  std::set<size_t> relocatedCalls;
  bool needsText = false;
  if (auto e = relocate(out, sec, all, 0, relocatedCalls, needsText, textBase))
    return e;
  if (text && sec != *text)
    if (auto e = relocate(out, *text, all, textBase, relocatedCalls, needsText,
                          textBase))
      return e;
  if (!needsText)
    all.resize(textBase);
  DecodeResult d = decode(all);
  if (!d.ok())
    return "program " + fn.str() + ": " + d.error;
  Program p;
  p.name = fn.str();
  p.section = secName.str();
  p.hook = hookOfSection(p.section);
  p.functionSlots = fnSize / 8;
  p.insns = std::move(d.insns);
  p.maps = out.maps;
  p.entry = p.insns.size();
  for (size_t i = 0; i < p.insns.size(); ++i)
    if (p.insns[i].slot == fnOffset / 8)
      p.entry = i;
  if (p.entry == p.insns.size())
    return "program " + fn.str() + ": entry is not an instruction";
  out.programs.push_back(std::move(p));
  return std::nullopt;
}

std::optional<std::string> Reader::read(BpfObject &out) {
  if (elf.getArch() != Triple::bpfel)
    return std::string("not a little-endian BPF object");
  if (auto e = readMaps(out))
    return e;
  for (const SectionRef &sec : elf.sections()) {
    Expected<StringRef> sn = sec.getName();
    if (!sn) {
      consumeError(sn.takeError());
      continue;
    }
    if (!sec.isBSS() && sec.getSize() > 0) {
      Expected<StringRef> c = sec.getContents();
      if (c)
        out.sections[sn->str()].assign(c->begin(), c->end());
      else
        consumeError(c.takeError());
    }
  }
  // Programs: global functions in executable sections other than .text.
  std::vector<std::tuple<uint64_t, uint64_t, std::string, uint64_t>> fns;
  for (const ELFSymbolRef &sym : elf.symbols()) {
    if (sym.getELFType() != ELF::STT_FUNC)
      continue;
    std::optional<SymbolInfo> info = symbolInfo(sym);
    if (!info)
      continue;
    auto &[s, n, v] = *info;
    if (s == elf.section_end() || !s->isText() ||
        s->getIndex() == textSection)
      continue;
    fns.emplace_back(s->getIndex(), v, n.str(), sym.getSize());
  }
  std::sort(fns.begin(), fns.end());
  for (auto &[secIdx, off, fn, size] : fns) {
    for (const SectionRef &sec : elf.sections()) {
      if (sec.getIndex() != secIdx)
        continue;
      Expected<StringRef> sn = sec.getName();
      if (!sn)
        return toString(sn.takeError());
      if (auto e = linkProgram(out, sec, *sn, fn, off, size))
        return e;
    }
  }
  return std::nullopt;
}

} // namespace

Hook hookOfSection(const std::string &s) {
  StringRef n(s);
  if (n.startswith("xdp"))
    return Hook::XDP;
  if (n == "tc" || n.startswith("tc/") || n.startswith("classifier") ||
      n.startswith("tcx/"))
    return Hook::TC;
  return Hook::Other;
}

const Program *BpfObject::findProgram(const std::string &n) const {
  for (const Program &p : programs)
    if (p.name == n)
      return &p;
  return nullptr;
}

int BpfObject::findMap(const std::string &n) const {
  for (size_t i = 0; i < maps.size(); ++i)
    if (maps[i].name == n)
      return int(i);
  return -1;
}

/// Checks the section headers LLVM's ELFObjectFile trusts: its symbol and
/// relocation iterators call report_fatal_error (an abort) on a table whose
/// size is not a whole number of entries or whose links are out of range,
/// so a damaged object is refused here, with the reason, before they run.
static std::optional<std::string>
checkSectionTables(const ELFFile<ELF64LE> &file) {
  using Elf = ELF64LE;
  Expected<Elf::ShdrRange> secs = file.sections();
  if (!secs)
    return toString(secs.takeError());
  size_t fileSize = file.getBufSize();
  size_t count = secs->size();
  auto where = [](size_t i) { return "section [index " + std::to_string(i) + "]"; };
  for (size_t i = 0; i < count; ++i) {
    const Elf::Shdr &sh = (*secs)[i];
    if (sh.sh_type != ELF::SHT_NOBITS &&
        (sh.sh_offset > fileSize || sh.sh_size > fileSize - sh.sh_offset))
      return where(i) + " goes past the end of the file";
    uint64_t entry = 0;
    if (sh.sh_type == ELF::SHT_SYMTAB || sh.sh_type == ELF::SHT_DYNSYM)
      entry = sizeof(Elf::Sym);
    else if (sh.sh_type == ELF::SHT_REL)
      entry = sizeof(Elf::Rel);
    else if (sh.sh_type == ELF::SHT_RELA)
      entry = sizeof(Elf::Rela);
    if (!entry)
      continue;
    if (sh.sh_entsize != entry)
      return where(i) + ": entries of " + std::to_string(sh.sh_entsize) +
             " bytes (expected " + std::to_string(entry) + ")";
    if (sh.sh_size % entry)
      return where(i) + ": " + std::to_string(sh.sh_size) +
             " bytes are not a whole number of " + std::to_string(entry) +
             "-byte entries";
    if (sh.sh_link >= count)
      return where(i) + ": link to section " + std::to_string(sh.sh_link) +
             " of " + std::to_string(count);
    const Elf::Shdr &link = (*secs)[sh.sh_link];
    if (entry == sizeof(Elf::Sym) && sh.sh_type != ELF::SHT_REL) {
      if (link.sh_type != ELF::SHT_STRTAB)
        return where(i) + ": symbol names not in a string table";
      continue;
    }
    // A relocation table: its symbol table, target section and every
    // entry's symbol index.
    if (link.sh_type != ELF::SHT_SYMTAB && link.sh_type != ELF::SHT_DYNSYM)
      return where(i) + ": relocations not against a symbol table";
    if (sh.sh_info >= count)
      return where(i) + ": relocations for section " +
             std::to_string(sh.sh_info) + " of " + std::to_string(count);
    uint64_t symbols = link.sh_entsize ? link.sh_size / link.sh_entsize : 0;
    auto checkSymbols = [&](auto range) -> std::optional<std::string> {
      if (!range)
        return toString(range.takeError());
      for (const auto &r : *range)
        if (r.getSymbol(false) >= symbols)
          return where(i) + ": relocation against symbol " +
                 std::to_string(r.getSymbol(false)) + " of " +
                 std::to_string(symbols);
      return std::nullopt;
    };
    if (auto e = sh.sh_type == ELF::SHT_REL ? checkSymbols(file.rels(sh))
                                            : checkSymbols(file.relas(sh)))
      return e;
  }
  return std::nullopt;
}

ObjectParseResult parseObject(const uint8_t *bytes, size_t size,
                              const std::string &name) {
  ObjectParseResult r;
  MemoryBufferRef buf(StringRef(reinterpret_cast<const char *>(bytes), size),
                      name);
  Expected<std::unique_ptr<ObjectFile>> obj =
      ObjectFile::createELFObjectFile(buf);
  if (!obj) {
    r.error = name + ": " + toString(obj.takeError());
    return r;
  }
  auto *elf = dyn_cast<ELF64LEObjectFile>(obj->get());
  if (!elf) {
    r.error = name + ": not a 64-bit little-endian ELF object";
    return r;
  }
  if (auto e = checkSectionTables(elf->getELFFile())) {
    r.error = name + ": " + *e;
    return r;
  }
  BpfObject out;
  Reader reader(*elf, name);
  if (auto e = reader.read(out)) {
    r.error = name + ": " + *e;
    return r;
  }
  r.object = std::move(out);
  return r;
}

} // namespace sbpf::checker::bytecode
