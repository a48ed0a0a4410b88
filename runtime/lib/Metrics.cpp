//===- Metrics.cpp - bpf_prog_info figures, JIT disassembly, ns per run --===//
#include "sbpf/Runtime/Metrics.h"
#include "sbpf/Runtime/Packet.h"
#include "sbpf/Runtime/TestRun.h"

#include "llvm/MC/MCAsmInfo.h"
#include "llvm/MC/MCContext.h"
#include "llvm/MC/MCDisassembler/MCDisassembler.h"
#include "llvm/MC/MCInst.h"
#include "llvm/MC/MCInstPrinter.h"
#include "llvm/MC/MCInstrInfo.h"
#include "llvm/MC/MCRegisterInfo.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/MCTargetOptions.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"

#include <bpf/bpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>

using namespace sbpf::runtime;
using llvm::Expected;

//===----------------------------------------------------------------------===//
// bpf_prog_info
//===----------------------------------------------------------------------===//

Expected<KernelProgramInfo>
sbpf::runtime::queryProgramInfo(int progFd, bool fetchJitImage) {
  auto failed = [](int e) {
    return llvm::createStringError(std::error_code(e, std::generic_category()),
                                   "cannot query the program (BPF_OBJ_GET_INFO"
                                   "_BY_FD): %s",
                                   std::strerror(e));
  };
  struct bpf_prog_info info;
  std::memset(&info, 0, sizeof info);
  __u32 len = sizeof info;
  if (bpf_obj_get_info_by_fd(progFd, &info, &len) != 0)
    return failed(errno);

  KernelProgramInfo result;
  result.id = info.id;
  result.xlatedInsns = info.xlated_prog_len / sizeof(struct bpf_insn);
  result.jitedBytes = info.jited_prog_len;
  if (!fetchJitImage || info.jited_prog_len == 0)
    return result;

  // Second call: a fresh struct asking only for the image and the function
  // sizes (any other nonzero length would make the kernel copy to a null
  // pointer and fail with EFAULT).
  std::vector<uint8_t> image(info.jited_prog_len);
  std::vector<uint32_t> sizes(info.nr_jited_func_lens);
  struct bpf_prog_info second;
  std::memset(&second, 0, sizeof second);
  second.jited_prog_len = uint32_t(image.size());
  second.jited_prog_insns = reinterpret_cast<uintptr_t>(image.data());
  second.nr_jited_func_lens = uint32_t(sizes.size());
  second.jited_func_lens = reinterpret_cast<uintptr_t>(sizes.data());
  len = sizeof second;
  if (bpf_obj_get_info_by_fd(progFd, &second, &len) != 0)
    return failed(errno);
  // The kernel clears the pointer when the caller may not see raw kernel
  // code (bpf_dump_raw_ok); the image is then unavailable, not empty code.
  if (second.jited_prog_insns == 0)
    return result;
  image.resize(std::min<size_t>(image.size(), second.jited_prog_len));
  sizes.resize(std::min<size_t>(sizes.size(), second.nr_jited_func_lens));
  uint64_t total = 0;
  for (uint32_t size : sizes)
    total += size;
  if (second.jited_func_lens == 0 || total != image.size())
    sizes.assign(1, uint32_t(image.size())); // one function, as a fallback
  result.jitImage = std::move(image);
  result.jitFunctionSizes = std::move(sizes);
  return result;
}

//===----------------------------------------------------------------------===//
// Host machine code
//===----------------------------------------------------------------------===//

namespace {
// LLVM's MC objects for the host, built once. The kernel JITs for the CPU it
// runs on, so the host triple is the JIT's target (x86-64 on our machines).
struct HostDisassembler {
  std::string error;
  std::string triple;
  std::unique_ptr<llvm::MCRegisterInfo> registers;
  std::unique_ptr<llvm::MCAsmInfo> asmInfo;
  std::unique_ptr<llvm::MCSubtargetInfo> subtarget;
  std::unique_ptr<llvm::MCInstrInfo> instrInfo;
  std::unique_ptr<llvm::MCContext> context;
  std::unique_ptr<llvm::MCDisassembler> disassembler;
  std::unique_ptr<llvm::MCInstPrinter> printer;
  std::mutex mutex; // MC objects are not documented as thread-safe

  HostDisassembler() {
    // Both return true when LLVM was built without the host's target.
    if (llvm::InitializeNativeTarget() ||
        llvm::InitializeNativeTargetDisassembler()) {
      error = "LLVM has no target or disassembler for the host";
      return;
    }
    triple = llvm::sys::getProcessTriple();
    std::string lookupError;
    const llvm::Target *target =
        llvm::TargetRegistry::lookupTarget(triple, lookupError);
    if (!target) {
      error = "no LLVM target for the host (" + triple + "): " + lookupError;
      return;
    }
    llvm::Triple theTriple(triple);
    registers.reset(target->createMCRegInfo(triple));
    llvm::MCTargetOptions options;
    if (registers)
      asmInfo.reset(target->createMCAsmInfo(*registers, triple, options));
    subtarget.reset(target->createMCSubtargetInfo(triple, "", ""));
    instrInfo.reset(target->createMCInstrInfo());
    if (!registers || !asmInfo || !subtarget || !instrInfo) {
      error = "LLVM's MC layer for " + triple + " is incomplete";
      return;
    }
    context = std::make_unique<llvm::MCContext>(
        theTriple, asmInfo.get(), registers.get(), subtarget.get());
    disassembler.reset(target->createMCDisassembler(*subtarget, *context));
    if (!disassembler) {
      error = "LLVM has no disassembler for the host (" + triple + ")";
      return;
    }
    // Intel syntax (variant 1 on x86) reads like the kernel's own dumps.
    unsigned variant = theTriple.isX86() ? 1 : asmInfo->getAssemblerDialect();
    printer.reset(target->createMCInstPrinter(theTriple, variant, *asmInfo,
                                              *instrInfo, *registers));
  }

  static HostDisassembler &get() {
    static HostDisassembler instance;
    return instance;
  }

  llvm::Error check() const {
    if (error.empty())
      return llvm::Error::success();
    return llvm::createStringError(
        std::make_error_code(std::errc::not_supported), error);
  }

  // LLVM decodes an x86 prefix such as `lock` before a REX byte as an
  // instruction of its own (LOCK_PREFIX...); the CPU, objdump and the papers
  // count `lock add` as one instruction, so prefixes are folded into the
  // instruction they prefix.
  bool isPrefix(const llvm::MCInst &inst) const {
    return instrInfo->getName(inst.getOpcode()).endswith("_PREFIX");
  }

  std::string print(const llvm::MCInst &inst, uint64_t address) const {
    if (!printer)
      return "?";
    std::string line;
    llvm::raw_string_ostream os(line);
    printer->printInst(&inst, address, "", *subtarget, os);
    os.flush();
    // The printer separates mnemonic and operands with a tab.
    std::string text = llvm::StringRef(line).trim().str();
    std::replace(text.begin(), text.end(), '\t', ' ');
    return text;
  }

  // Calls `each(offset, size, text, decoded, newFunction)` per instruction
  // (prefixes included in it) and `each(offset, 1, "", false, ...)` per byte
  // that does not decode, function by function; each function is decoded
  // from its first byte. `text` is only computed when `wantText`.
  template <typename Fn>
  void walk(llvm::ArrayRef<uint8_t> code, llvm::ArrayRef<uint32_t> sizes,
            bool wantText, Fn each) {
    std::lock_guard<std::mutex> lock(mutex);
    std::vector<uint32_t> whole;
    if (sizes.empty()) {
      whole.push_back(uint32_t(code.size()));
      sizes = whole;
    }
    uint64_t start = 0;
    for (uint32_t size : sizes) {
      if (start >= code.size())
        break;
      llvm::ArrayRef<uint8_t> function =
          code.slice(start, std::min<uint64_t>(size, code.size() - start));
      uint64_t at = 0;
      bool newFunction = true;
      std::optional<uint64_t> prefixStart;
      std::string prefixText;
      auto emit = [&](uint64_t offset, uint64_t length, llvm::StringRef text,
                      bool decoded) {
        each(start + offset, length, text, decoded, newFunction);
        newFunction = false;
      };
      while (at < function.size()) {
        llvm::MCInst inst;
        uint64_t length = 0;
        auto status = disassembler->getInstruction(
            inst, length, function.drop_front(at), start + at, llvm::nulls());
        if (status == llvm::MCDisassembler::Fail || length == 0 ||
            length > function.size() - at) {
          if (prefixStart) { // a prefix followed by garbage: report it alone
            emit(*prefixStart, at - *prefixStart, prefixText, true);
            prefixStart.reset();
            prefixText.clear();
          }
          emit(at, 1, "", false);
          at += 1;
          continue;
        }
        if (isPrefix(inst)) {
          if (!prefixStart)
            prefixStart = at;
          if (wantText)
            prefixText += print(inst, start + at) + " ";
          at += length;
          continue;
        }
        uint64_t begin = prefixStart.value_or(at);
        std::string text =
            wantText ? prefixText + print(inst, start + at) : std::string();
        emit(begin, at + length - begin, text, true);
        prefixStart.reset();
        prefixText.clear();
        at += length;
      }
      if (prefixStart) // a prefix ending the function counts on its own
        emit(*prefixStart, at - *prefixStart,
             llvm::StringRef(prefixText).rtrim(), true);
      start += size;
    }
  }
};
} // namespace

Expected<MachineCodeCount>
sbpf::runtime::countMachineInstructions(llvm::ArrayRef<uint8_t> code,
                                        llvm::ArrayRef<uint32_t> sizes) {
  HostDisassembler &host = HostDisassembler::get();
  if (llvm::Error err = host.check())
    return err;
  MachineCodeCount count;
  host.walk(code, sizes, /*wantText=*/false,
            [&](uint64_t, uint64_t, llvm::StringRef, bool decoded, bool) {
              if (decoded)
                ++count.instructions;
              else
                ++count.undecodedBytes;
            });
  return count;
}

Expected<std::string>
sbpf::runtime::disassembleMachineCode(llvm::ArrayRef<uint8_t> code,
                                      llvm::ArrayRef<uint32_t> sizes) {
  HostDisassembler &host = HostDisassembler::get();
  if (llvm::Error err = host.check())
    return err;
  std::string text;
  llvm::raw_string_ostream os(text);
  bool first = true;
  host.walk(code, sizes, /*wantText=*/true,
            [&](uint64_t offset, uint64_t, llvm::StringRef text, bool decoded,
                bool newFunction) {
              if (newFunction && !first)
                os << "\n";
              first = false;
              os << llvm::format("%6llx: ", (unsigned long long)offset);
              if (decoded)
                os << text << "\n";
              else
                os << llvm::format("(undecodable byte 0x%02x)\n", code[offset]);
            });
  return os.str();
}

//===----------------------------------------------------------------------===//
// Figures
//===----------------------------------------------------------------------===//

namespace {
// net.core.bpf_jit_enable, or -1 when unreadable.
int jitSetting() {
  std::ifstream in("/proc/sys/net/core/bpf_jit_enable");
  int value = -1;
  if (in >> value)
    return value;
  return -1;
}
} // namespace

Expected<ProgramFigures>
sbpf::runtime::measureProgram(const LoadedProgram &program,
                              const MeasureOptions &options) {
  ProgramFigures figures;
  figures.name = program.name;
  figures.typeName = program.typeName;
  figures.insns = program.insns;

  auto info = queryProgramInfo(program.fd, /*fetchJitImage=*/true);
  if (!info)
    return info.takeError();
  figures.xlatedInsns = info->xlatedInsns;
  figures.jitedBytes = info->jitedBytes;
  if (info->jitedBytes == 0) {
    int setting = jitSetting();
    figures.notes.push_back(
        setting == 0 ? "the BPF JIT is off (net.core.bpf_jit_enable = 0): "
                       "the program is interpreted, jited figures are 0"
                     : "the kernel reports no JIT image (JIT off or not "
                       "available): jited figures are 0");
  } else if (info->jitImage.empty()) {
    figures.notes.push_back(
        "the kernel withholds the JIT image from this process "
        "(kernel.kptr_restrict / no CAP_SYSLOG): jited_insns is 0");
  } else {
    auto count =
        countMachineInstructions(info->jitImage, info->jitFunctionSizes);
    if (!count)
      return count.takeError();
    figures.jitedInsns = count->instructions;
    if (count->undecodedBytes)
      figures.notes.push_back(std::to_string(count->undecodedBytes) +
                              " bytes of the JIT image did not decode");
  }

  if (!runsOnPackets(program.type)) {
    figures.notes.push_back("no in-kernel packet test run for programs of "
                            "type " +
                            program.typeName + ": ns_per_run is absent");
    return figures;
  }
  std::vector<uint8_t> packet =
      options.packet.empty() ? representativePacket() : options.packet;
  auto run = testRunPacket(program.fd, packet, options.repeat);
  if (!run) {
    figures.notes.push_back("test run failed: " +
                            llvm::toString(run.takeError()));
    return figures;
  }
  figures.nsPerRun = run->nsPerRun;
  return figures;
}
