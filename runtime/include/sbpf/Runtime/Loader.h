//===- Loader.h - BPF ELF objects loaded into the kernel --------*- C++ -*-===//
//
// Reads a BPF ELF object, loads every program into the kernel through libbpf
// and, when the verifier rejects one, returns its log. Nothing here throws or
// prints: failures are llvm::Error values whose message says what happened;
// a rejection is a VerifierRejection carrying the program name and the log.
//
// libbpf's own messages are captured (warnings end up in error messages) and
// reach stderr only after setLibbpfVerbose(true).
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_RUNTIME_LOADER_H
#define SBPF_RUNTIME_LOADER_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <linux/bpf.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

struct bpf_object;
struct bpf_program;

namespace sbpf::runtime {

class LoadedObject;
struct LoadOptions;

/// Sends libbpf's messages (debug level included) to stderr when `on`;
/// otherwise they go nowhere. Off by default.
void setLibbpfVerbose(bool on);

/// A program as the ELF object declares it.
struct ProgramDescription {
  std::string name;    ///< function name (libbpf's program name)
  std::string section; ///< ELF section, e.g. "xdp" or "tc"
  bpf_prog_type type;  ///< from the section name
  /// Instructions of the program's own code in the ELF, in 8-byte slots: a
  /// 64-bit immediate load (ld_imm64) counts 2, as the kernel counts it.
  /// BPF-to-BPF subprograms it calls are not included here.
  size_t elfInsns;
};

/// A BPF ELF object held in memory. libbpf cannot load an object twice, and
/// the verifier log is fetched by loading again with a bigger buffer, so the
/// object keeps its bytes and re-opens them as often as needed.
class ObjectFile {
public:
  /// Reads `path`; fails (with the path in the message) when it cannot be
  /// read, is empty, or is not a 64-bit little-endian BPF ELF object.
  static llvm::Expected<ObjectFile> read(llvm::StringRef path);
  /// Wraps bytes already in memory (e.g. from the in-process BPF backend);
  /// `name` is used in messages. Validated as read() does.
  static llvm::Expected<ObjectFile> fromBytes(llvm::ArrayRef<uint8_t> bytes,
                                              llvm::StringRef name);

  /// The path or name given when the object was created.
  llvm::StringRef name() const { return name_; }
  llvm::ArrayRef<uint8_t> bytes() const {
    return bytes_ ? llvm::ArrayRef<uint8_t>(*bytes_)
                  : llvm::ArrayRef<uint8_t>(); // moved from
  }

  /// The programs of the object (libbpf's view, without loading anything),
  /// in ELF order. Fails when libbpf cannot parse the object.
  llvm::Expected<std::vector<ProgramDescription>> describePrograms() const;

private:
  friend llvm::Expected<LoadedObject> loadObject(const ObjectFile &,
                                                 const LoadOptions &);
  ObjectFile(std::string name, std::vector<uint8_t> bytes)
      : name_(std::move(name)),
        bytes_(std::make_shared<const std::vector<uint8_t>>(std::move(bytes))) {
  }
  std::string name_;
  // Shared with the LoadedObjects made from it: libbpf is given a pointer to
  // these bytes, so they live as long as any object libbpf opened on them.
  std::shared_ptr<const std::vector<uint8_t>> bytes_;
};

struct LoadOptions {
  /// First size of the verifier-log buffer (at least 1 KiB); it is
  /// multiplied by 4 and the load retried while the kernel reports the log
  /// truncated (ENOSPC).
  size_t initialLogSize = size_t(1) << 20;
  /// Largest buffer tried (at most 512 MiB); beyond it the log is returned
  /// truncated (the kernel keeps the end of the log, which holds the reason).
  size_t maxLogSize = size_t(256) << 20;
  /// Called on each program after libbpf has opened the object and before
  /// it loads it (e.g. ChosenInputs::rewrite); an error stops the load.
  /// The object may be opened more than once (see initialLogSize).
  std::function<llvm::Error(struct bpf_program *)> beforeLoad;
};

/// A program accepted by the kernel verifier.
struct LoadedProgram {
  std::string name;
  std::string section;
  bpf_prog_type type;
  std::string typeName; ///< libbpf's name of the type: "xdp", "sched_cls"...
  int fd = -1;          ///< owned by the LoadedObject
  /// Instructions libbpf submitted to BPF_PROG_LOAD: the program's ELF code
  /// after relocation, plus the BPF-to-BPF subprograms it calls, which libbpf
  /// appends. ld_imm64 counts 2. Equals ProgramDescription::elfInsns for a
  /// program without subprograms.
  size_t insns = 0;
};

/// The programs (and maps) of an object, loaded in the kernel. They stay
/// loaded while this lives; destroying it closes the fds and so unloads them.
class LoadedObject {
public:
  LoadedObject(LoadedObject &&other) noexcept;
  LoadedObject &operator=(LoadedObject &&other) noexcept;
  LoadedObject(const LoadedObject &) = delete;
  LoadedObject &operator=(const LoadedObject &) = delete;
  ~LoadedObject();

  /// Every program of the object, in ELF order.
  llvm::ArrayRef<LoadedProgram> programs() const { return programs_; }
  /// The program named `name`, or null.
  const LoadedProgram *find(llvm::StringRef name) const;
  /// The libbpf object, for callers that need maps or attachment.
  struct bpf_object *libbpfObject() const {
    return object_;
  }

private:
  friend llvm::Expected<LoadedObject> loadObject(const ObjectFile &,
                                                 const LoadOptions &);
  LoadedObject(struct bpf_object *object, std::vector<LoadedProgram> programs,
               std::shared_ptr<const std::vector<uint8_t>> bytes)
      : object_(object), programs_(std::move(programs)),
        bytes_(std::move(bytes)) {}
  struct bpf_object *object_ = nullptr;
  std::vector<LoadedProgram> programs_;
  std::shared_ptr<const std::vector<uint8_t>> bytes_;
};

/// The kernel verifier rejected a program. convertToErrorCode() gives the
/// errno of BPF_PROG_LOAD (typically EACCES or EINVAL; ENOSPC when the log
/// was truncated).
class VerifierRejection : public llvm::ErrorInfo<VerifierRejection> {
public:
  static char ID;
  VerifierRejection(std::string object, std::string program,
                    std::string section, int errnum, std::string verifierLog,
                    bool logTruncated)
      : object(std::move(object)), program(std::move(program)),
        section(std::move(section)), errnum(errnum),
        verifierLog(std::move(verifierLog)), logTruncated(logTruncated) {}

  /// One line: "OBJ: program 'P' (section 'S') rejected by the kernel
  /// verifier (EACCES)". The log is in `verifierLog`, not the message.
  void log(llvm::raw_ostream &os) const override;
  std::error_code convertToErrorCode() const override;

  std::string object;
  std::string program;
  std::string section;
  int errnum;
  /// The verifier's log (level 1) of the rejected program, as the kernel
  /// wrote it. When `logTruncated`, only its end is kept.
  std::string verifierLog;
  bool logTruncated;
};

/// Loads every program of `object` into the kernel (programs whose section
/// says not to autoload, `SEC("?...")`, are loaded too). Errors: a
/// VerifierRejection when the verifier refuses a program (its log attached);
/// otherwise a string error whose error_code is the errno and whose message
/// includes libbpf's warnings (e.g. a map that failed). EPERM comes in two
/// kinds, told apart with probeProgramLoad(): this process may not load BPF
/// programs at all (the message gives advice), or this kernel refuses the
/// named program's type or attach point (fentry/fexit on our machines).
llvm::Expected<LoadedObject> loadObject(const ObjectFile &object,
                                        const LoadOptions &options = {});

/// Loads a two-instruction XDP program (return XDP_PASS) and unloads it:
/// success means this process may load BPF programs. The error says why not.
llvm::Error probeProgramLoad();

} // namespace sbpf::runtime

#endif // SBPF_RUNTIME_LOADER_H
