//===- Bytecode.h - eBPF instructions: decoder, Z3 semantics ----*- C++ -*-===//
//
// The BPF-bytecode side of the checker: a decoder of eBPF instructions
// (struct bpf_insn), the Z3 semantics of one instruction over a machine state
// (r0..r10 as bv64, a 512-byte stack of bv8 cells addressed from r10, the
// path condition), a bounded path-enumerating executor, concreteRun (the
// same encoding evaluated on constant inputs: every branch condition
// simplifies to true or false, so exactly one path is followed), and
// equivalent() for two programs over symbolic r1..r5.
//
// Semantics are the kernel's (shared/docs/toolchain.md): div/mod unsigned,
// x/0 = 0, x%0 = x, shift amounts masked (&63, &31), 32-bit ALU ops zero the
// upper half, byte swaps as on little-endian x86. Memory, helpers,
// bpf-to-bpf calls and whole ELF objects are Exec.h / Object.h; the
// functions here run the same executor on a bare instruction list (no
// context, no maps). What is not modelled (cpu v4 signed division, movsx,
// bswap) is reported as an error result "not supported yet: <name>", never
// assumed.
//
// Z3's C++ API throws; this header's functions do not (compiled with
// -fexceptions, errors come back in the result types).
//
//===----------------------------------------------------------------------===//

#ifndef SBPF_CHECKER_BYTECODE_H
#define SBPF_CHECKER_BYTECODE_H

#include <z3++.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sbpf::checker::bytecode {

/// One 8-byte slot, laid out as the kernel's struct bpf_insn.
struct RawInsn {
  uint8_t opcode = 0;
  uint8_t dst : 4;
  uint8_t src : 4;
  int16_t off = 0;
  int32_t imm = 0;
  RawInsn() : dst(0), src(0) {}
  RawInsn(uint8_t opcode, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
      : opcode(opcode), dst(dst), src(src), off(off), imm(imm) {}
};
static_assert(sizeof(RawInsn) == 8, "RawInsn must match struct bpf_insn");

/// A decoded instruction. A 64-bit immediate load (LD_IMM64) takes two slots
/// and carries its full immediate in `imm64`.
struct Instruction {
  uint8_t opcode = 0;
  uint8_t dst = 0;
  uint8_t src = 0;
  int16_t off = 0;
  int32_t imm = 0;
  uint64_t imm64 = 0; ///< LD_IMM64 only: imm | next.imm << 32
  size_t slot = 0;    ///< index of its first slot
  bool wide = false;  ///< two slots (LD_IMM64)
};

/// Opcode constants (linux/bpf_common.h, linux/bpf.h).
namespace op {
enum : uint8_t {
  LD = 0x00, LDX = 0x01, ST = 0x02, STX = 0x03, ALU = 0x04, JMP = 0x05,
  JMP32 = 0x06, ALU64 = 0x07,
  W = 0x00, H = 0x08, B = 0x10, DW = 0x18,
  IMM = 0x00, ABS = 0x20, IND = 0x40, MEM = 0x60, MEMSX = 0x80, ATOMIC = 0xc0,
  K = 0x00, X = 0x08,
  ADD = 0x00, SUB = 0x10, MUL = 0x20, DIV = 0x30, OR = 0x40, AND = 0x50,
  LSH = 0x60, RSH = 0x70, NEG = 0x80, MOD = 0x90, XOR = 0xa0, MOV = 0xb0,
  ARSH = 0xc0, END = 0xd0,
  TO_LE = 0x00, TO_BE = 0x08,
  JA = 0x00, JEQ = 0x10, JGT = 0x20, JGE = 0x30, JSET = 0x40, JNE = 0x50,
  JSGT = 0x60, JSGE = 0x70, CALL = 0x80, EXIT = 0x90, JLT = 0xa0, JLE = 0xb0,
  JSLT = 0xc0, JSLE = 0xd0,
};
inline uint8_t cls(uint8_t opcode) { return opcode & 0x07; }
} // namespace op

/// A readable name of an opcode ("add64 K", "jsgt32 X", "ldxh", "lddw",
/// "call"...), or "unknown opcode 0xNN".
std::string opcodeName(uint8_t opcode);

struct DecodeResult {
  std::vector<Instruction> insns;
  /// Empty on success; otherwise "slot N: <what is wrong>" (an unknown opcode
  /// is named by its hex value).
  std::string error;
  bool ok() const { return error.empty(); }
};

/// Decodes slots (validating opcodes, register numbers and LD_IMM64 pairs).
DecodeResult decode(const std::vector<RawInsn> &slots);
/// Decodes little-endian bytes (a multiple of 8) as found in an ELF section.
DecodeResult decodeBytes(const uint8_t *bytes, size_t size);

/// Bounds of one execution.
struct ExecLimits {
  size_t maxSteps = 100000; ///< instructions executed over all paths
  size_t maxPaths = 4096;   ///< completed paths
  bool pruneInfeasible = true; ///< ask the solver before following a branch
  unsigned solverTimeoutMs = 5000;
  /// Join states that reach one instruction with the same call stack
  /// (Exec.h); off: every path is enumerated separately.
  bool mergeStates = true;
  unsigned maxCallDepth = 8; ///< frames, as the kernel allows
};

enum class ExecStatus {
  Ok,            ///< every path enumerated
  Error,         ///< the program does something invalid (message says what)
  Unsupported,   ///< message starts "not supported yet: "
  BoundExceeded, ///< message starts "unknown: bound exceeded"
};

/// One path from instruction 0 to an EXIT.
struct PathResult {
  z3::expr r0;            ///< bv64
  z3::expr pathCondition; ///< bool over the inputs
  size_t steps = 0;       ///< instructions executed on this path
};

struct ExecResult {
  ExecStatus status = ExecStatus::Error;
  std::string message;
  std::vector<PathResult> paths; ///< complete when status == Ok
  bool ok() const { return status == ExecStatus::Ok; }
};

/// The Z3 context of executions: owned, or shared with the netfn side
/// (SemContext) so that both sides' terms can be compared. Every term made
/// with it must be destroyed before the context.
class BytecodeContext {
public:
  BytecodeContext();
  /// Uses `shared` (not owned; it must outlive this).
  explicit BytecodeContext(z3::context &shared);
  ~BytecodeContext();
  BytecodeContext(const BytecodeContext &) = delete;
  BytecodeContext &operator=(const BytecodeContext &) = delete;
  z3::context &z3() { return *ctx; }

  /// Symbolic inputs "r1".."r5" (bv64) shared by every execution in this
  /// context, so two programs' results can be compared.
  z3::expr input(unsigned reg);

private:
  std::unique_ptr<z3::context> owned;
  z3::context *ctx;
};

/// Executes `program` from instruction 0. Registers r1..r5 start as
/// `inputs[i-1]` when given (bv64 terms; absent = uninitialized), r10 is the
/// frame pointer, r0 and r6..r9 are uninitialized (reading one is an error,
/// as in the kernel verifier).
ExecResult execute(BytecodeContext &bc, const std::vector<Instruction> &program,
                   const std::array<std::optional<z3::expr>, 5> &inputs,
                   const ExecLimits &limits = {});
/// As execute() with r1..r5 the context's symbolic inputs.
ExecResult executeSymbolic(BytecodeContext &bc,
                           const std::vector<Instruction> &program,
                           const ExecLimits &limits = {});

struct ConcreteResult {
  ExecStatus status = ExecStatus::Error;
  std::string message;
  uint64_t r0 = 0;
  size_t steps = 0;
  bool ok() const { return status == ExecStatus::Ok; }
};

/// Runs the same Z3 encoding with r1..r5 = `regs` (constants), so that every
/// branch is decided by simplification; r0 is the simplified final value.
ConcreteResult concreteRun(const std::vector<Instruction> &program,
                           const std::array<uint64_t, 5> &regs,
                           const ExecLimits &limits = {});
/// Convenience: in an existing context (faster for many runs).
ConcreteResult concreteRun(BytecodeContext &bc,
                           const std::vector<Instruction> &program,
                           const std::array<uint64_t, 5> &regs,
                           const ExecLimits &limits = {});

struct BytecodeEquivalence {
  enum Status { Equivalent, Different, Unknown, Error } status = Unknown;
  /// Why Unknown / Error (an execution's message or the solver's reason).
  std::string reason;
  /// When Different: r1..r5 on which the programs' r0 differ, and both r0.
  std::array<uint64_t, 5> counterexample{};
  uint64_t r0A = 0, r0B = 0;
};

/// Do `a` and `b` return the same r0 for every r1..r5?
BytecodeEquivalence equivalent(const std::vector<Instruction> &a,
                               const std::vector<Instruction> &b,
                               const ExecLimits &limits = {});

} // namespace sbpf::checker::bytecode

#endif // SBPF_CHECKER_BYTECODE_H
