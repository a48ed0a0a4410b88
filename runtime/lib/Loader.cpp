//===- Loader.cpp - loading BPF ELF objects with libbpf, verifier logs ---===//
#include "sbpf/Runtime/Loader.h"

#include "llvm/Object/ELF.h"
#include "llvm/Object/ELFTypes.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <memory>
#include <mutex>

#include <unistd.h>

using namespace sbpf::runtime;
using llvm::Error;
using llvm::Expected;

char VerifierRejection::ID = 0;

//===----------------------------------------------------------------------===//
// libbpf's messages
//===----------------------------------------------------------------------===//

namespace {
std::atomic<bool> libbpfVerbose{false};

// The messages of the libbpf calls this thread is making. libbpf calls its
// print callback synchronously from the calling thread, so a thread-local
// sink keeps concurrent loads from mixing their messages.
thread_local std::string *capturedMessages = nullptr;

int printToCapture(enum libbpf_print_level level, const char *format,
                   va_list args) {
  if (libbpfVerbose.load(std::memory_order_relaxed)) {
    va_list copy;
    va_copy(copy, args);
    vfprintf(stderr, format, copy);
    va_end(copy);
  }
  // Only warnings go into error messages; info and debug chatter are for
  // --verbose.
  if (capturedMessages && level == LIBBPF_WARN) {
    char buffer[1024];
    int n = vsnprintf(buffer, sizeof buffer, format, args);
    if (n > 0)
      capturedMessages->append(buffer,
                               std::min<size_t>(size_t(n), sizeof buffer - 1));
  }
  return 0;
}

// libbpf prints to stderr until told otherwise, so every entry point of this
// library installs the callback first.
void installPrintHook() {
  static std::once_flag once;
  std::call_once(once, [] { libbpf_set_print(printToCapture); });
}

// Collects libbpf's messages while alive.
class MessageCapture {
public:
  MessageCapture() : previous_(capturedMessages) {
    installPrintHook();
    capturedMessages = &text_;
  }
  ~MessageCapture() { capturedMessages = previous_; }
  MessageCapture(const MessageCapture &) = delete;
  MessageCapture &operator=(const MessageCapture &) = delete;

  // The messages, one per line, indented for inclusion in an error message;
  // lines containing `omit` (when not empty) are left out.
  std::string indented(llvm::StringRef omit = "") const {
    std::string out;
    llvm::StringRef rest(text_);
    while (!rest.empty()) {
      auto [line, tail] = rest.split('\n');
      rest = tail;
      line = line.rtrim();
      if (line.empty() || (!omit.empty() && line.contains(omit)))
        continue;
      out += "\n  ";
      out += line.str();
    }
    return out;
  }
  llvm::StringRef text() const { return text_; }

private:
  std::string text_;
  std::string *previous_;
};

// strerror for kernel errnos and libbpf's own codes (LIBBPF_ERRNO__*).
std::string describeError(int err) {
  err = err < 0 ? -err : err;
  char buffer[256];
  if (libbpf_strerror(err, buffer, sizeof buffer) == 0)
    return buffer;
  return std::strerror(err);
}

std::error_code errnoCode(int err) {
  return std::error_code(err < 0 ? -err : err, std::generic_category());
}

struct ObjectCloser {
  void operator()(struct bpf_object *object) const {
    bpf_object__close(object);
  }
};
using ObjectPtr = std::unique_ptr<struct bpf_object, ObjectCloser>;

// libbpf names an object opened from a file after the file's base name up to
// the first dot ("pass.bpf.o" -> "pass"); internal maps (.bss, .rodata) are
// named after it. Doing the same keeps map names identical to bpftool's.
std::string libbpfObjectName(llvm::StringRef name) {
  llvm::StringRef base = llvm::sys::path::filename(name);
  base = base.take_until([](char c) { return c == '.'; });
  return base.empty() ? std::string("obj") : base.str();
}

Expected<ObjectPtr> openWithLibbpf(const ObjectFile &file,
                                   MessageCapture &capture) {
  std::string objectName = libbpfObjectName(file.name());
  LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = objectName.c_str());
  // libbpf keeps a pointer to the bytes; the ObjectFile outlives the object.
  errno = 0;
  struct bpf_object *object =
      bpf_object__open_mem(file.bytes().data(), file.bytes().size(), &opts);
  if (!object) {
    int err = errno ? errno : EINVAL;
    return llvm::createStringError(
        errnoCode(err), "%s: libbpf cannot open the object: %s%s",
        file.name().str().c_str(), describeError(err).c_str(),
        capture.indented().c_str());
  }
  return ObjectPtr(object);
}

// Names of the machines a user may hand us by mistake.
std::string machineName(unsigned machine) {
  switch (machine) {
  case llvm::ELF::EM_X86_64:
    return "x86-64";
  case llvm::ELF::EM_386:
    return "i386";
  case llvm::ELF::EM_AARCH64:
    return "AArch64";
  case llvm::ELF::EM_ARM:
    return "ARM";
  case llvm::ELF::EM_RISCV:
    return "RISC-V";
  default:
    return "another machine";
  }
}

// The structure of the ELF is checked with LLVM's ELFFile, whose accessors
// bounds-check and return errors, before libbpf sees it: a truncated or
// damaged file then gets a clear message instead of reaching libbpf's less
// defensive parser. (ELFObjectFile's SectionRef/RelocationRef accessors are
// not used: some of them abort the process on bad data.)
Error validateElf(llvm::StringRef name, llvm::ArrayRef<uint8_t> bytes) {
  using ELFT = llvm::object::ELF64LE;
  auto fail = [&](const llvm::Twine &why) {
    return llvm::createStringError(
        std::make_error_code(std::errc::invalid_argument),
        (name + ": " + why).str());
  };
  auto malformed = [&](Error err) {
    return fail("malformed ELF file: " + llvm::toString(std::move(err)));
  };
  if (bytes.empty())
    return fail("the file is empty, not a BPF ELF object");
  if (bytes.size() < 4 || std::memcmp(bytes.data(),
                                      "\x7f"
                                      "ELF",
                                      4) != 0)
    return fail("not an ELF file (no ELF magic)");
  if (bytes.size() < sizeof(ELFT::Ehdr))
    return fail("malformed ELF file: shorter than an ELF header");
  if (bytes[llvm::ELF::EI_CLASS] != llvm::ELF::ELFCLASS64 ||
      bytes[llvm::ELF::EI_DATA] != llvm::ELF::ELFDATA2LSB)
    return fail("not a BPF object for this host: expected a 64-bit "
                "little-endian ELF file");

  llvm::StringRef data(reinterpret_cast<const char *>(bytes.data()),
                       bytes.size());
  auto file = llvm::object::ELFFile<ELFT>::create(data);
  if (!file)
    return malformed(file.takeError());
  const ELFT::Ehdr &header = file->getHeader();
  if (header.e_machine != llvm::ELF::EM_BPF)
    return fail("not a BPF object: the ELF file is for " +
                machineName(header.e_machine) + " (e_machine " +
                llvm::Twine(unsigned(header.e_machine)) +
                "), expected EM_BPF (247)");
  if (header.e_type != llvm::ELF::ET_REL)
    return fail("not a relocatable object (ET_REL), as clang -c writes");

  // Walk what libbpf will walk: section names and contents, symbols and
  // relocations, so that any out-of-range offset or index is caught here.
  auto sections = file->sections();
  if (!sections)
    return malformed(sections.takeError());
  const size_t sectionCount = sections->size();
  for (const ELFT::Shdr &section : *sections) {
    if (auto sectionName = file->getSectionName(section); !sectionName)
      return malformed(sectionName.takeError());
    if (section.sh_type != llvm::ELF::SHT_NOBITS)
      if (auto contents = file->getSectionContents(section); !contents)
        return malformed(contents.takeError());
    switch (section.sh_type) {
    case llvm::ELF::SHT_SYMTAB: {
      auto symbols = file->symbols(&section);
      if (!symbols)
        return malformed(symbols.takeError());
      auto strings = file->getStringTableForSymtab(section, *sections);
      if (!strings)
        return malformed(strings.takeError());
      for (const ELFT::Sym &symbol : *symbols) {
        if (auto symbolName = symbol.getName(*strings); !symbolName)
          return malformed(symbolName.takeError());
        if (symbol.st_shndx >= sectionCount &&
            symbol.st_shndx < llvm::ELF::SHN_LORESERVE)
          return fail("malformed ELF file: symbol in section " +
                      llvm::Twine(symbol.st_shndx) + " of " +
                      llvm::Twine(sectionCount));
      }
      break;
    }
    case llvm::ELF::SHT_REL:
    case llvm::ELF::SHT_RELA: {
      if (section.sh_info >= sectionCount || section.sh_link >= sectionCount)
        return fail("malformed ELF file: relocation section refers to a "
                    "section that does not exist");
      const ELFT::Shdr &symtab = (*sections)[section.sh_link];
      if (symtab.sh_type != llvm::ELF::SHT_SYMTAB)
        return fail("malformed ELF file: relocations without a symbol "
                    "table");
      auto symbols = file->symbols(&symtab);
      if (!symbols)
        return malformed(symbols.takeError());
      const ELFT::Shdr &target = (*sections)[section.sh_info];
      auto check = [&](uint32_t symbol, uint64_t offset) -> Error {
        if (symbol >= symbols->size())
          return fail("malformed ELF file: relocation of symbol " +
                      llvm::Twine(symbol) + " of " +
                      llvm::Twine(symbols->size()));
        if (target.sh_type != llvm::ELF::SHT_NOBITS && offset >= target.sh_size)
          return fail("malformed ELF file: relocation past the end of its "
                      "section");
        return Error::success();
      };
      if (section.sh_type == llvm::ELF::SHT_REL) {
        auto relocs = file->rels(section);
        if (!relocs)
          return malformed(relocs.takeError());
        for (const ELFT::Rel &r : *relocs)
          if (Error err = check(r.getSymbol(false), r.r_offset))
            return err;
      } else {
        auto relocs = file->relas(section);
        if (!relocs)
          return malformed(relocs.takeError());
        for (const ELFT::Rela &r : *relocs)
          if (Error err = check(r.getSymbol(false), r.r_offset))
            return err;
      }
      break;
    }
    default:
      break;
    }
  }
  return Error::success();
}
} // namespace

void sbpf::runtime::setLibbpfVerbose(bool on) {
  installPrintHook();
  libbpfVerbose.store(on, std::memory_order_relaxed);
}

//===----------------------------------------------------------------------===//
// ObjectFile
//===----------------------------------------------------------------------===//

Expected<ObjectFile> ObjectFile::read(llvm::StringRef path) {
  // IsVolatile: read() the file rather than mmap it, so that a file changed
  // on disk while we hold it cannot change what libbpf sees.
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false,
                                            /*IsVolatile=*/true);
  if (!buffer)
    return llvm::createStringError(buffer.getError(), "%s: %s",
                                   path.str().c_str(),
                                   buffer.getError().message().c_str());
  llvm::StringRef data = (*buffer)->getBuffer();
  return fromBytes(
      llvm::ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(data.data()),
                              data.size()),
      path);
}

Expected<ObjectFile> ObjectFile::fromBytes(llvm::ArrayRef<uint8_t> bytes,
                                           llvm::StringRef name) {
  if (Error err = validateElf(name, bytes))
    return err;
  return ObjectFile(name.str(), bytes.vec());
}

Expected<std::vector<ProgramDescription>> ObjectFile::describePrograms() const {
  MessageCapture capture;
  auto object = openWithLibbpf(*this, capture);
  if (!object)
    return object.takeError();
  std::vector<ProgramDescription> result;
  struct bpf_program *prog;
  bpf_object__for_each_program(prog, object->get()) {
    result.push_back({bpf_program__name(prog), bpf_program__section_name(prog),
                      bpf_program__type(prog), bpf_program__insn_cnt(prog)});
  }
  return result;
}

//===----------------------------------------------------------------------===//
// LoadedObject
//===----------------------------------------------------------------------===//

LoadedObject::LoadedObject(LoadedObject &&other) noexcept
    : object_(std::exchange(other.object_, nullptr)),
      programs_(std::move(other.programs_)), bytes_(std::move(other.bytes_)) {}

LoadedObject &LoadedObject::operator=(LoadedObject &&other) noexcept {
  if (this != &other) {
    bpf_object__close(object_);
    object_ = std::exchange(other.object_, nullptr);
    programs_ = std::move(other.programs_);
    bytes_ = std::move(other.bytes_);
  }
  return *this;
}

LoadedObject::~LoadedObject() { bpf_object__close(object_); }

const LoadedProgram *LoadedObject::find(llvm::StringRef name) const {
  for (const LoadedProgram &program : programs_)
    if (program.name == name)
      return &program;
  return nullptr;
}

//===----------------------------------------------------------------------===//
// Loading
//===----------------------------------------------------------------------===//

void VerifierRejection::log(llvm::raw_ostream &os) const {
  // The errno's name, not its text: strerror(EACCES) is "Permission
  // denied", which reads like a privilege problem; the reason is in the log.
  const char *errnoName = strerrorname_np(errnum);
  os << object << ": program '" << program << "' (section '" << section
     << "') rejected by the kernel verifier ("
     << (errnoName ? errnoName : describeError(errnum).c_str()) << ")";
  if (logTruncated)
    os << "; the log did not fit, its end is shown";
}

std::error_code VerifierRejection::convertToErrorCode() const {
  return errnoCode(errnum);
}

namespace {
Error permissionDenied(llvm::StringRef what) {
  return llvm::createStringError(
      errnoCode(EPERM),
      "%s: the kernel does not permit this process to load BPF programs "
      "(BPF_PROG_LOAD: Operation not permitted); run as root or with "
      "CAP_BPF and CAP_PERFMON (CAP_SYS_ADMIN before Linux 5.8)",
      what.str().c_str());
}

// The program libbpf reports as failed ("prog 'NAME': failed to load"),
// for failures where the kernel wrote no log.
std::string failedProgram(llvm::StringRef messages) {
  llvm::SmallVector<llvm::StringRef> lines;
  messages.split(lines, '\n');
  for (llvm::StringRef line : lines) {
    if (!line.consume_front("libbpf: prog '") ||
        !line.contains("': failed to load"))
      continue;
    return line.take_until([](char c) { return c == '\''; }).str();
  }
  return "";
}
} // namespace

Expected<LoadedObject> sbpf::runtime::loadObject(const ObjectFile &file,
                                                 const LoadOptions &options) {
  // The kernel takes the log size as a u32 and refuses sizes past
  // UINT_MAX >> 2, and sizes under 128; keep both bounds sane whatever the
  // caller passes.
  const size_t maxLog =
      std::clamp<size_t>(options.maxLogSize, 1024, size_t(1) << 29);
  size_t logSize = std::clamp<size_t>(options.initialLogSize, 1024, maxLog);

  for (;;) {
    MessageCapture capture;
    auto object = openWithLibbpf(file, capture);
    if (!object)
      return object.takeError();

    // Each program gets its own buffer: libbpf first loads with log level 0
    // (no log, fast) and only on failure reloads that program with level 1
    // into its buffer, so the one non-empty buffer names the culprit.
    std::vector<std::unique_ptr<char[]>> logs;
    std::vector<struct bpf_program *> programs;
    struct bpf_program *prog;
    bpf_object__for_each_program(prog, object->get()) {
      // Zeroed, so the log is NUL-terminated whatever the kernel writes
      // (and memory checkers, which cannot see the kernel's writes, agree).
      logs.emplace_back(new char[logSize]());
      bpf_program__set_log_buf(prog, logs.back().get(), logSize);
      bpf_program__set_autoload(prog, true);
      programs.push_back(prog);
      if (options.beforeLoad)
        if (Error e = options.beforeLoad(prog))
          return std::move(e);
    }

    int err = bpf_object__load(object->get());
    if (err == 0) {
      std::vector<LoadedProgram> loaded;
      for (struct bpf_program *p : programs) {
        enum bpf_prog_type type = bpf_program__type(p);
        const char *typeName = libbpf_bpf_prog_type_str(type);
        loaded.push_back({bpf_program__name(p), bpf_program__section_name(p),
                          type, typeName ? typeName : "unknown",
                          bpf_program__fd(p), bpf_program__insn_cnt(p)});
        // The buffer is about to be freed; libbpf must not keep it.
        bpf_program__set_log_buf(p, nullptr, 0);
      }
      return LoadedObject(object->release(), std::move(loaded), file.bytes_);
    }

    bool growLog = false;
    for (size_t i = 0; i < programs.size(); ++i) {
      llvm::StringRef log(logs[i].get(), strnlen(logs[i].get(), logSize));
      if (log.empty())
        continue;
      // ENOSPC: the log did not fit (the kernel then reports ENOSPC in
      // place of the verdict); load again with a bigger buffer.
      bool truncated = err == -ENOSPC;
      if (truncated && logSize < maxLog) {
        growLog = true;
        break;
      }
      return llvm::make_error<VerifierRejection>(
          file.name().str(), bpf_program__name(programs[i]),
          bpf_program__section_name(programs[i]), -err, log.str(), truncated);
    }
    if (growLog) {
      logSize = std::min(logSize * 4, maxLog);
      continue;
    }

    std::string culprit = failedProgram(capture.text());
    std::string section;
    for (struct bpf_program *p : programs)
      if (culprit == bpf_program__name(p))
        section = bpf_program__section_name(p);
    if (err == -EPERM) {
      // EPERM before verification means either that this process may not
      // load BPF programs at all, or that this kernel refuses this kind of
      // program (fentry/fexit on our machines). The probe tells which.
      if (Error probe = probeProgramLoad()) {
        llvm::consumeError(std::move(probe));
        return permissionDenied(file.name());
      }
      if (!culprit.empty())
        return llvm::createStringError(
            errnoCode(err),
            "%s: the kernel refused program '%s' (section '%s') before "
            "verification: Operation not permitted. This process may load "
            "other BPF programs, so this kernel does not allow this program "
            "type or attach point%s",
            file.name().str().c_str(), culprit.c_str(), section.c_str(),
            // libbpf guesses at the memlock limit, which the probe rules out.
            capture.indented("ulimit -l").c_str());
    }
    return llvm::createStringError(
        errnoCode(err), "%s: loading %s failed: %s%s",
        file.name().str().c_str(),
        culprit.empty() ? "the object" : ("program '" + culprit + "'").c_str(),
        describeError(err).c_str(), capture.indented().c_str());
  }
}

Error sbpf::runtime::probeProgramLoad() {
  MessageCapture capture;
  // r0 = XDP_PASS; exit
  struct bpf_insn insns[2] = {};
  insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
  insns[0].imm = XDP_PASS;
  insns[1].code = BPF_JMP | BPF_EXIT;
  int fd =
      bpf_prog_load(BPF_PROG_TYPE_XDP, "sbpf_probe", "GPL", insns, 2, nullptr);
  if (fd >= 0) {
    close(fd);
    return Error::success();
  }
  if (fd == -EPERM)
    return permissionDenied("probe");
  return llvm::createStringError(errnoCode(fd),
                                 "probe: BPF_PROG_LOAD failed: %s",
                                 describeError(fd).c_str());
}
