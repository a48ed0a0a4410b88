//===- Metrics.h - size and speed figures of BPF programs -------*- C++ -*-===//
//
// The figures the papers compare programs by: bytecode instructions, the
// kernel's translated (xlated) instructions, JIT image size in bytes and in
// machine instructions (the JIT image disassembled with LLVM's MC layer for
// the host, which is the JIT's target), and nanoseconds per in-kernel run.
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_RUNTIME_METRICS_H
#define SBPF_RUNTIME_METRICS_H

#include "sbpf/Runtime/Loader.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sbpf::runtime {

/// What the kernel reports about a loaded program (bpf_prog_info).
struct KernelProgramInfo {
  uint32_t id = 0;
  uint32_t xlatedInsns = 0; ///< xlated_prog_len / 8
  uint32_t jitedBytes = 0;  ///< jited_prog_len; 0 when the JIT is off
  /// The JIT image: the machine code of each function (the program, then
  /// its BPF-to-BPF subprograms), concatenated. Empty when not requested,
  /// when the JIT is off, or when the kernel withholds it (it does unless
  /// the caller may read kernel addresses, see kernel.kptr_restrict).
  std::vector<uint8_t> jitImage;
  /// Size of each function in jitImage, in order; they sum to its size.
  std::vector<uint32_t> jitFunctionSizes;
};

/// Queries bpf_obj_get_info_by_fd; with `fetchJitImage`, also the image.
llvm::Expected<KernelProgramInfo> queryProgramInfo(int progFd,
                                                   bool fetchJitImage = true);

/// Machine instructions found in a block of host machine code.
struct MachineCodeCount {
  size_t instructions = 0;
  /// Bytes the disassembler could not decode. Each is skipped alone and is
  /// not counted as an instruction; nonzero means the count is a bound.
  size_t undecodedBytes = 0;
};

/// Counts the instructions of host machine code (x86-64 here) with LLVM's
/// MC disassembler, decoding from the first byte of each function of
/// `functionSizes` (all of `code` as one function when empty). Fails only
/// when LLVM has no disassembler for the host.
llvm::Expected<MachineCodeCount>
countMachineInstructions(llvm::ArrayRef<uint8_t> code,
                         llvm::ArrayRef<uint32_t> functionSizes = {});

/// The same machine code as Intel-syntax assembly, one instruction a line
/// ("<offset>: <text>"), with a blank line between functions.
llvm::Expected<std::string>
disassembleMachineCode(llvm::ArrayRef<uint8_t> code,
                       llvm::ArrayRef<uint32_t> functionSizes = {});

struct MeasureOptions {
  /// Runs that BPF_PROG_TEST_RUN averages over.
  unsigned repeat = 10000;
  /// The packet to run on; empty means representativePacket() (Packet.h).
  std::vector<uint8_t> packet;
};

/// The figures of one loaded program (the keys of `sbpf stats --json`).
struct ProgramFigures {
  std::string name;
  std::string typeName;
  /// LoadedProgram::insns: instructions submitted to the kernel, ld_imm64
  /// counting 2.
  uint64_t insns = 0;
  uint64_t xlatedInsns = 0;
  uint64_t jitedBytes = 0;
  uint64_t jitedInsns = 0;
  /// Absent for program types that have no packet test run, or when it
  /// failed (see notes).
  std::optional<uint64_t> nsPerRun;
  /// Why a figure is 0 or absent (JIT off, no test run for the type...).
  std::vector<std::string> notes;
};

/// Measures `program`. Fails only when the kernel will not describe it or
/// the host has no disassembler; a failed test run becomes a note.
llvm::Expected<ProgramFigures>
measureProgram(const LoadedProgram &program,
               const MeasureOptions &options = {});

} // namespace sbpf::runtime

#endif // SBPF_RUNTIME_METRICS_H
