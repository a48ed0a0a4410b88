//===- ChosenInputs.cpp - chosen random draws and clock readings ---------===//
#include "sbpf/Runtime/ChosenInputs.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include <unistd.h>

using namespace sbpf::runtime;
using llvm::Error;
using llvm::Expected;

namespace {

// The map's one value: the two counters, then the draws, then the clock
// readings, each a u64 (a draw in its low 32 bits). Every array holds at
// least one slot, so that the stubs' loads stay inside the value however
// many values were chosen.
constexpr int16_t kDrawsTaken = 0, kClocksTaken = 8, kValues = 16;

size_t slots(size_t n) { return std::max<size_t>(n, 1); }

// Helper ids (include/uapi/linux/bpf.h), the ones the checker's executor
// reads as draws and clock readings (checker/lib/Exec.cpp).
constexpr int32_t kKtimeGetNs = 5, kGetPrandomU32 = 7, kKtimeGetBootNs = 125;

bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off,
              int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst;
  i.src_reg = src;
  i.off = off;
  i.imm = imm;
  return i;
}

Error errnoError(const char *what) {
  int err = errno ? errno : EINVAL;
  return llvm::createStringError(std::error_code(err, std::generic_category()),
                                 "%s: %s", what, std::strerror(err));
}

} // namespace

Expected<ChosenInputs> ChosenInputs::create(llvm::ArrayRef<uint32_t> draws,
                                            llvm::ArrayRef<uint64_t> clocks) {
  if (draws.size() > kMaxValues || clocks.size() > kMaxValues)
    return llvm::createStringError(
        std::errc::invalid_argument,
        "at most %zu chosen draws and %zu clock readings (given %zu, %zu)",
        kMaxValues, kMaxValues, draws.size(), clocks.size());
  std::vector<uint64_t> value(2 + slots(draws.size()) + slots(clocks.size()));
  std::copy(draws.begin(), draws.end(), value.begin() + 2);
  std::copy(clocks.begin(), clocks.end(),
            value.begin() + 2 + slots(draws.size()));
  errno = 0;
  int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sbpf_chosen", sizeof(uint32_t),
                          value.size() * sizeof(uint64_t), 1, nullptr);
  if (fd < 0)
    return errnoError("cannot create the map of chosen draws and clocks");
  uint32_t zero = 0;
  if (bpf_map_update_elem(fd, &zero, value.data(), BPF_ANY)) {
    Error e = errnoError("cannot write the chosen draws and clocks");
    close(fd);
    return std::move(e);
  }
  return ChosenInputs(fd, draws.size(), clocks.size());
}

ChosenInputs::ChosenInputs(ChosenInputs &&other) noexcept
    : fd_(std::exchange(other.fd_, -1)), draws_(other.draws_),
      clocks_(other.clocks_) {}

ChosenInputs &ChosenInputs::operator=(ChosenInputs &&other) noexcept {
  if (this != &other) {
    if (fd_ >= 0)
      close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    draws_ = other.draws_;
    clocks_ = other.clocks_;
  }
  return *this;
}

ChosenInputs::~ChosenInputs() {
  if (fd_ >= 0)
    close(fd_);
}

std::vector<bpf_insn> ChosenInputs::rewrite(llvm::ArrayRef<bpf_insn> insns,
                                            unsigned &rewritten) const {
  std::vector<bpf_insn> out(insns.begin(), insns.end());
  rewritten = 0;
  for (size_t s = 0; s < insns.size(); ++s) {
    const bpf_insn &call = insns[s];
    // A helper call (src 0; 1 is a BPF-to-BPF call, 2 a kfunc).
    if (call.code != (BPF_JMP | BPF_CALL) || call.src_reg != 0)
      continue;
    bool draw = call.imm == kGetPrandomU32;
    if (!draw && call.imm != kKtimeGetNs && call.imm != kKtimeGetBootNs)
      continue;
    int16_t counter = draw ? kDrawsTaken : kClocksTaken;
    int16_t values =
        draw ? kValues : int16_t(kValues + 8 * slots(draws_));
    int32_t chosen = int32_t(draw ? draws_ : clocks_);
    size_t stub = out.size();
    // The call becomes a jump to the stub (one slot for one slot).
    out[s] = insn(BPF_JMP | BPF_JA, 0, 0, int16_t(stub - s - 1), 0);
    // r1 = &value (a direct map value address), r2 = taken, taken + 1
    // stored back; r0 = 0 unless taken < chosen, then r0 = values[taken].
    out.push_back(insn(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1,
                       BPF_PSEUDO_MAP_VALUE, 0, fd_));
    out.push_back(insn(0, 0, 0, 0, 0)); // the value's offset: 0
    out.push_back(insn(BPF_LDX | BPF_MEM | BPF_DW, BPF_REG_2, BPF_REG_1,
                       counter, 0));
    out.push_back(
        insn(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_2, 0, 0));
    out.push_back(insn(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_3, 0, 0, 1));
    out.push_back(insn(BPF_STX | BPF_MEM | BPF_DW, BPF_REG_1, BPF_REG_3,
                       counter, 0));
    out.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0));
    out.push_back(insn(BPF_JMP | BPF_JGE | BPF_K, BPF_REG_2, 0, 3, chosen));
    out.push_back(insn(BPF_ALU64 | BPF_LSH | BPF_K, BPF_REG_2, 0, 0, 3));
    out.push_back(
        insn(BPF_ALU64 | BPF_ADD | BPF_X, BPF_REG_1, BPF_REG_2, 0, 0));
    out.push_back(insn(BPF_LDX | BPF_MEM | BPF_DW, BPF_REG_0, BPF_REG_1,
                       values, 0));
    // Back to the instruction after the call.
    out.push_back(insn(BPF_JMP | BPF_JA, 0, 0,
                       int16_t(int64_t(s + 1) - int64_t(out.size()) - 1), 0));
    ++rewritten;
  }
  return out;
}

Error ChosenInputs::rewrite(struct bpf_program *prog) const {
  const bpf_insn *insns = bpf_program__insns(prog);
  size_t n = bpf_program__insn_cnt(prog);
  unsigned rewritten = 0;
  std::vector<bpf_insn> out =
      rewrite(llvm::ArrayRef<bpf_insn>(insns, n), rewritten);
  if (!rewritten)
    return Error::success();
  if (out.size() > 32767)
    return llvm::createStringError(
        std::errc::value_too_large,
        "program '%s': too long to redirect its draws and clocks",
        bpf_program__name(prog));
  if (int err = bpf_program__set_insns(prog, out.data(), out.size()))
    return llvm::createStringError(
        std::error_code(-err, std::generic_category()),
        "program '%s': cannot rewrite its instructions: %s",
        bpf_program__name(prog), std::strerror(-err));
  return Error::success();
}

Expected<ChosenInputs::Used> ChosenInputs::used() const {
  std::vector<uint64_t> value(2 + slots(draws_) + slots(clocks_));
  uint32_t zero = 0;
  errno = 0;
  if (bpf_map_lookup_elem(fd_, &zero, value.data()))
    return errnoError("cannot read the chosen draws and clocks back");
  return Used{value[0], value[1]};
}
