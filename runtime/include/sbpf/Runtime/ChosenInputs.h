//===- ChosenInputs.h - chosen random draws and clock readings --*- C++ -*-===//
//
// The kernel's bpf_get_prandom_u32 and bpf_ktime_get_ns cannot be told what
// to return, so a counterexample that depends on a random draw or a clock
// reading cannot be replayed as it is. ChosenInputs makes it replayable: it
// holds the values in an array map of its own and rewrites a program before
// it is loaded so that the i-th call of get_prandom_u32 returns the i-th
// draw and the i-th call of ktime_get_ns or ktime_get_boot_ns the i-th
// clock reading (the checker's binding: docs/checker.md, "The binding").
//
// Each such helper call becomes a jump to a stub appended after the
// program's code. The stub reads the next value and its counter from the
// map, stores the counter back incremented and jumps back to the
// instruction after the call (0 once the chosen values run out). Nothing
// else moves, so jump offsets, relocations and line information stay valid.
// The kernel verifier checks the rewritten program like any other, and the
// counters say afterwards how many values the run took.
//
// Only the programs' own code is rewritten: a helper called from a
// BPF-to-BPF subprogram (which libbpf appends at load time) still reaches the
// kernel's helper, and the counters then fall short of what the checker
// predicted, which callers compare.
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_RUNTIME_CHOSENINPUTS_H
#define SBPF_RUNTIME_CHOSENINPUTS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

struct bpf_program;
struct bpf_insn;

namespace sbpf::runtime {

class ChosenInputs {
public:
  /// At most this many draws, and as many clock readings.
  static constexpr size_t kMaxValues = 1024;

  /// Creates the map holding `draws` and `clocks` (fails without
  /// permission to create BPF maps, or with more than kMaxValues of either).
  static llvm::Expected<ChosenInputs> create(llvm::ArrayRef<uint32_t> draws,
                                             llvm::ArrayRef<uint64_t> clocks);

  ChosenInputs(ChosenInputs &&other) noexcept;
  ChosenInputs &operator=(ChosenInputs &&other) noexcept;
  ChosenInputs(const ChosenInputs &) = delete;
  ChosenInputs &operator=(const ChosenInputs &) = delete;
  ~ChosenInputs();

  /// `insns` with every call of a draw or clock helper redirected to a stub
  /// reading this object's map (see the file comment). `rewritten` is set
  /// to the number of calls redirected.
  std::vector<bpf_insn> rewrite(llvm::ArrayRef<bpf_insn> insns,
                                unsigned &rewritten) const;

  /// Rewrites a program libbpf has opened and not loaded yet.
  llvm::Error rewrite(struct bpf_program *prog) const;

  /// How many draws and clock readings the runs so far took (including
  /// those past the chosen values, which returned 0).
  struct Used {
    uint64_t draws = 0, clocks = 0;
  };
  llvm::Expected<Used> used() const;

private:
  ChosenInputs(int fd, size_t draws, size_t clocks)
      : fd_(fd), draws_(draws), clocks_(clocks) {}
  int fd_ = -1;
  size_t draws_ = 0, clocks_ = 0;
};

} // namespace sbpf::runtime

#endif // SBPF_RUNTIME_CHOSENINPUTS_H
