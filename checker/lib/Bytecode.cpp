//===- Bytecode.cpp - eBPF decoder, Z3 semantics and executor -------------===//
//
// See Bytecode.h. Compiled with -fexceptions; public functions catch every
// z3::exception and report it in their result.
//
//===----------------------------------------------------------------------===//

#include "sbpf/Checker/Bytecode.h"

#include <cstring>
#include <map>
#include <sstream>

namespace sbpf::checker::bytecode {

namespace {

std::string hex(uint64_t v) {
  std::ostringstream os;
  os << "0x" << std::hex << v;
  return os.str();
}

const char *aluName(uint8_t code) {
  switch (code & 0xf0) {
  case op::ADD: return "add";
  case op::SUB: return "sub";
  case op::MUL: return "mul";
  case op::DIV: return "div";
  case op::OR: return "or";
  case op::AND: return "and";
  case op::LSH: return "lsh";
  case op::RSH: return "rsh";
  case op::NEG: return "neg";
  case op::MOD: return "mod";
  case op::XOR: return "xor";
  case op::MOV: return "mov";
  case op::ARSH: return "arsh";
  case op::END: return "end";
  }
  return nullptr;
}

const char *jmpName(uint8_t code) {
  switch (code & 0xf0) {
  case op::JA: return "ja";
  case op::JEQ: return "jeq";
  case op::JGT: return "jgt";
  case op::JGE: return "jge";
  case op::JSET: return "jset";
  case op::JNE: return "jne";
  case op::JSGT: return "jsgt";
  case op::JSGE: return "jsge";
  case op::CALL: return "call";
  case op::EXIT: return "exit";
  case op::JLT: return "jlt";
  case op::JLE: return "jle";
  case op::JSLT: return "jslt";
  case op::JSLE: return "jsle";
  }
  return nullptr;
}

const char *sizeSuffix(uint8_t code) {
  switch (code & 0x18) {
  case op::W: return "w";
  case op::H: return "h";
  case op::B: return "b";
  default: return "dw";
  }
}

unsigned sizeBytes(uint8_t code) {
  switch (code & 0x18) {
  case op::W: return 4;
  case op::H: return 2;
  case op::B: return 1;
  default: return 8;
  }
}

} // namespace

std::string opcodeName(uint8_t code) {
  std::string unknown = "unknown opcode " + hex(code);
  uint8_t c = op::cls(code);
  switch (c) {
  case op::ALU:
  case op::ALU64: {
    const char *n = aluName(code);
    if (!n)
      return unknown;
    std::string s = n;
    if ((code & 0xf0) == op::END) {
      if (c == op::ALU64)
        return (code & 0x08) ? unknown : "bswap";
      return (code & 0x08) ? "be" : "le";
    }
    s += c == op::ALU64 ? "64" : "32";
    if ((code & 0xf0) == op::NEG)
      return (code & 0x08) ? unknown : s;
    return s + ((code & 0x08) ? " X" : " K");
  }
  case op::JMP:
  case op::JMP32: {
    const char *n = jmpName(code);
    if (!n)
      return unknown;
    uint8_t o = code & 0xf0;
    if (o == op::EXIT || o == op::CALL || o == op::JA) {
      if (code & 0x08)
        return unknown;
      if (c == op::JMP32)
        return o == op::JA ? "gotol" : unknown;
      return n;
    }
    std::string s = n;
    if (c == op::JMP32)
      s += "32";
    return s + ((code & 0x08) ? " X" : " K");
  }
  case op::LD:
    if (code == 0x18)
      return "lddw";
    if ((code & 0xe0) == op::ABS && (code & 0x18) != op::DW)
      return std::string("ldabs") + sizeSuffix(code);
    if ((code & 0xe0) == op::IND && (code & 0x18) != op::DW)
      return std::string("ldind") + sizeSuffix(code);
    return unknown;
  case op::LDX:
    if ((code & 0xe0) == op::MEM)
      return std::string("ldx") + sizeSuffix(code);
    if ((code & 0xe0) == op::MEMSX && (code & 0x18) != op::DW)
      return std::string("ldxs") + sizeSuffix(code);
    return unknown;
  case op::ST:
    if ((code & 0xe0) == op::MEM)
      return std::string("st") + sizeSuffix(code);
    return unknown;
  case op::STX:
    if ((code & 0xe0) == op::MEM)
      return std::string("stx") + sizeSuffix(code);
    if ((code & 0xe0) == op::ATOMIC &&
        ((code & 0x18) == op::W || (code & 0x18) == op::DW))
      return std::string("atomic") + sizeSuffix(code);
    return unknown;
  }
  return unknown;
}

DecodeResult decode(const std::vector<RawInsn> &slots) {
  DecodeResult r;
  for (size_t i = 0; i < slots.size(); ++i) {
    const RawInsn &s = slots[i];
    auto fail = [&](const std::string &what) {
      r.insns.clear();
      r.error = "slot " + std::to_string(i) + ": " + what;
      return r;
    };
    std::string name = opcodeName(s.opcode);
    if (name.rfind("unknown opcode", 0) == 0)
      return fail(name);
    if (s.dst > 10 || s.src > 10)
      return fail("invalid register number in " + name);
    Instruction in;
    in.opcode = s.opcode;
    in.dst = s.dst;
    in.src = s.src;
    in.off = s.off;
    in.imm = s.imm;
    in.slot = i;
    if (s.opcode == 0x18) {
      if (i + 1 >= slots.size())
        return fail("lddw is missing its second slot");
      const RawInsn &n = slots[i + 1];
      if (n.opcode != 0 || n.dst != 0 || n.src != 0 || n.off != 0)
        return fail("lddw second slot is not a continuation");
      in.wide = true;
      in.imm64 = uint64_t(uint32_t(s.imm)) | (uint64_t(uint32_t(n.imm)) << 32);
      ++i;
    }
    r.insns.push_back(in);
  }
  return r;
}

DecodeResult decodeBytes(const uint8_t *bytes, size_t size) {
  if (size % 8 != 0) {
    DecodeResult r;
    r.error = "size " + std::to_string(size) + " is not a multiple of 8";
    return r;
  }
  std::vector<RawInsn> slots(size / 8);
  for (size_t i = 0; i < slots.size(); ++i) {
    const uint8_t *p = bytes + 8 * i;
    RawInsn s;
    s.opcode = p[0];
    s.dst = p[1] & 0x0f;
    s.src = p[1] >> 4;
    s.off = int16_t(uint16_t(p[2] | (p[3] << 8)));
    s.imm = int32_t(uint32_t(p[4]) | (uint32_t(p[5]) << 8) |
                    (uint32_t(p[6]) << 16) | (uint32_t(p[7]) << 24));
    slots[i] = s;
  }
  return decode(slots);
}

//===----------------------------------------------------------------------===//
// Context
//===----------------------------------------------------------------------===//

BytecodeContext::BytecodeContext() : ctx(std::make_unique<z3::context>()) {}
BytecodeContext::~BytecodeContext() = default;

z3::expr BytecodeContext::input(unsigned reg) {
  return ctx->bv_const(("r" + std::to_string(reg)).c_str(), 64);
}

//===----------------------------------------------------------------------===//
// Machine state and the semantics of one instruction
//===----------------------------------------------------------------------===//

namespace {

constexpr int kStackSize = 512;

struct Reg {
  enum Kind { Uninit, Scalar, StackPtr } kind = Uninit;
  std::optional<z3::expr> val; ///< Scalar: bv64
  int64_t stackOff = 0;        ///< StackPtr: offset from the frame pointer
};

struct State {
  size_t pc = 0; ///< index into the instruction vector
  std::array<Reg, 11> regs;
  std::vector<std::optional<z3::expr>> stack; ///< kStackSize bv8 cells
  z3::expr pathCond;
  size_t steps = 0;
  explicit State(z3::context &c) : stack(kStackSize), pathCond(c.bool_val(true)) {}
};

/// A failure of one step: status and message.
struct StepError {
  ExecStatus status;
  std::string message;
};

struct Unsupported {
  std::string what;
};

class Machine {
public:
  Machine(z3::context &c, const std::vector<Instruction> &prog,
          const ExecLimits &limits)
      : c(c), prog(prog), limits(limits), solver(c) {
    z3::params p(c);
    p.set("timeout", limits.solverTimeoutMs);
    solver.set(p);
    for (size_t i = 0; i < prog.size(); ++i)
      slotToIndex[prog[i].slot] = i;
  }

  ExecResult run(State init);

private:
  z3::context &c;
  const std::vector<Instruction> &prog;
  const ExecLimits &limits;
  z3::solver solver;
  std::map<size_t, size_t> slotToIndex;

  std::optional<StepError> err;
  void fail(ExecStatus s, std::string m) {
    if (!err)
      err = StepError{s, std::move(m)};
  }
  std::string where(const Instruction &in) {
    return "insn " + std::to_string(in.slot) + " (" + opcodeName(in.opcode) +
           ")";
  }

  std::optional<z3::expr> readScalar(const State &st, unsigned r,
                                     const Instruction &in) {
    const Reg &reg = st.regs[r];
    if (reg.kind == Reg::Uninit) {
      fail(ExecStatus::Error, where(in) + ": read of uninitialized register r" +
                                  std::to_string(r));
      return std::nullopt;
    }
    if (reg.kind == Reg::StackPtr) {
      fail(ExecStatus::Unsupported,
           "not supported yet: arithmetic or comparison on the stack pointer r" +
               std::to_string(r) + " at " + where(in));
      return std::nullopt;
    }
    return *reg.val;
  }

  z3::expr bv64(uint64_t v) { return c.bv_val(v, 64); }
  z3::expr lo32(const z3::expr &e) { return e.extract(31, 0); }
  z3::expr zext64(const z3::expr &e) {
    unsigned w = e.get_sort().bv_size();
    return w == 64 ? e : z3::zext(e, 64 - w);
  }

  /// The ALU result at width w (32 or 64) of dst `a` and source `b`.
  std::optional<z3::expr> alu(uint8_t o, const z3::expr &a, const z3::expr &b,
                              unsigned w) {
    z3::expr zero = c.bv_val(0, w);
    switch (o) {
    case op::ADD: return a + b;
    case op::SUB: return a - b;
    case op::MUL: return a * b;
    case op::DIV: return z3::ite(b == zero, zero, z3::udiv(a, b));
    case op::MOD: return z3::ite(b == zero, a, z3::urem(a, b));
    case op::OR: return a | b;
    case op::AND: return a & b;
    case op::XOR: return a ^ b;
    case op::LSH: return z3::shl(a, b & c.bv_val(w - 1, w));
    case op::RSH: return z3::lshr(a, b & c.bv_val(w - 1, w));
    case op::ARSH: return z3::ashr(a, b & c.bv_val(w - 1, w));
    case op::MOV: return b;
    case op::NEG: return -a;
    }
    return std::nullopt;
  }

  z3::expr byteSwap(const z3::expr &e) {
    unsigned n = e.get_sort().bv_size() / 8;
    z3::expr r = e.extract(7, 0);
    for (unsigned i = 1; i < n; ++i)
      r = z3::concat(r, e.extract(8 * i + 7, 8 * i));
    return r;
  }

  void stepAlu(State &st, const Instruction &in) {
    bool is64 = op::cls(in.opcode) == op::ALU64;
    uint8_t o = in.opcode & 0xf0;
    unsigned w = is64 ? 64 : 32;
    if (in.dst == 10) {
      fail(ExecStatus::Error, where(in) + ": write to the frame pointer r10");
      return;
    }
    if (o == op::END) {
      if (is64) {
        fail(ExecStatus::Unsupported,
             "not supported yet: bswap (cpu v4) at " + where(in));
        return;
      }
      if (in.imm != 16 && in.imm != 32 && in.imm != 64) {
        fail(ExecStatus::Error, where(in) + ": byte swap width " +
                                    std::to_string(in.imm));
        return;
      }
      auto d = readScalar(st, in.dst, in);
      if (!d)
        return;
      z3::expr v = d->extract(in.imm - 1, 0);
      if (in.opcode & op::TO_BE)
        v = byteSwap(v); // x86 is little-endian: to_be swaps, to_le truncates
      st.regs[in.dst] = Reg{Reg::Scalar, zext64(v), 0};
      return;
    }
    if (in.off != 0) {
      fail(ExecStatus::Unsupported,
           "not supported yet: " + opcodeName(in.opcode) +
               " with off " + std::to_string(in.off) +
               " (cpu v4 sdiv/smod/movsx) at " + where(in));
      return;
    }
    // Pointer arithmetic that keeps a stack pointer: mov64 rX, r10 and
    // add64/sub64 K on a stack pointer.
    if (is64 && o == op::MOV && (in.opcode & op::X) &&
        st.regs[in.src].kind == Reg::StackPtr) {
      st.regs[in.dst] = st.regs[in.src];
      return;
    }
    if (is64 && (o == op::ADD || o == op::SUB) && !(in.opcode & op::X) &&
        st.regs[in.dst].kind == Reg::StackPtr) {
      Reg r = st.regs[in.dst];
      r.stackOff += o == op::ADD ? int64_t(in.imm) : -int64_t(in.imm);
      st.regs[in.dst] = r;
      return;
    }
    std::optional<z3::expr> src;
    if (o == op::NEG) {
      src = c.bv_val(0, w);
    } else if (in.opcode & op::X) {
      auto s = readScalar(st, in.src, in);
      if (!s)
        return;
      src = is64 ? *s : lo32(*s);
    } else {
      // K: sign-extended to 64 bits for ALU64, the 32 bits for ALU32.
      src = is64 ? bv64(uint64_t(int64_t(in.imm))) : c.bv_val(uint32_t(in.imm), 32);
    }
    z3::expr dst = c.bv_val(0, w);
    if (o != op::MOV) {
      auto d = readScalar(st, in.dst, in);
      if (!d)
        return;
      dst = is64 ? *d : lo32(*d);
    }
    auto r = alu(o, dst, *src, w);
    if (!r) {
      fail(ExecStatus::Error, where(in) + ": invalid ALU operation");
      return;
    }
    st.regs[in.dst] = Reg{Reg::Scalar, zext64(r->simplify()), 0};
  }

  std::optional<z3::expr> cond(State &st, const Instruction &in) {
    bool is32 = op::cls(in.opcode) == op::JMP32;
    auto d = readScalar(st, in.dst, in);
    if (!d)
      return std::nullopt;
    z3::expr a = is32 ? lo32(*d) : *d;
    std::optional<z3::expr> b;
    if (in.opcode & op::X) {
      auto s = readScalar(st, in.src, in);
      if (!s)
        return std::nullopt;
      b = is32 ? lo32(*s) : *s;
    } else {
      b = is32 ? c.bv_val(uint32_t(in.imm), 32)
               : bv64(uint64_t(int64_t(in.imm)));
    }
    const z3::expr &y = *b;
    unsigned w = is32 ? 32 : 64;
    switch (in.opcode & 0xf0) {
    case op::JEQ: return a == y;
    case op::JNE: return a != y;
    case op::JGT: return z3::ugt(a, y);
    case op::JGE: return z3::uge(a, y);
    case op::JLT: return z3::ult(a, y);
    case op::JLE: return z3::ule(a, y);
    case op::JSGT: return a > y;
    case op::JSGE: return a >= y;
    case op::JSLT: return a < y;
    case op::JSLE: return a <= y;
    case op::JSET: return (a & y) != c.bv_val(0, w);
    }
    fail(ExecStatus::Error, where(in) + ": invalid jump");
    return std::nullopt;
  }

  /// The stack index of [base + off, +size) or an error.
  std::optional<int> stackIndex(const State &st, const Instruction &in,
                                unsigned baseReg, unsigned size,
                                bool isStore) {
    const Reg &base = st.regs[baseReg];
    if (base.kind == Reg::Uninit) {
      fail(ExecStatus::Error, where(in) + ": memory access through the "
                                          "uninitialized register r" +
                                  std::to_string(baseReg));
      return std::nullopt;
    }
    if (base.kind == Reg::Scalar) {
      fail(ExecStatus::Unsupported,
           std::string("not supported yet: ") + (isStore ? "store" : "load") +
               " through a non-stack pointer (packet, context or map) at " +
               where(in));
      return std::nullopt;
    }
    int64_t o = base.stackOff + in.off;
    if (o < -kStackSize || o + int64_t(size) > 0) {
      fail(ExecStatus::Error, where(in) + ": stack access out of bounds "
                                          "(offset " +
                                  std::to_string(o) + ", size " +
                                  std::to_string(size) + ")");
      return std::nullopt;
    }
    return int(o + kStackSize);
  }

  void store(State &st, int idx, const z3::expr &v, unsigned size) {
    for (unsigned i = 0; i < size; ++i)
      st.stack[idx + i] = v.extract(8 * i + 7, 8 * i).simplify();
  }

  void stepMem(State &st, const Instruction &in) {
    uint8_t c0 = op::cls(in.opcode);
    uint8_t mode = in.opcode & 0xe0;
    unsigned size = sizeBytes(in.opcode);
    if (c0 == op::LD) {
      if (in.opcode == 0x18) {
        if (in.src != 0) {
          fail(ExecStatus::Unsupported,
               "not supported yet: lddw with src " + std::to_string(in.src) +
                   " (map or BTF reference) at " + where(in));
          return;
        }
        if (in.dst == 10) {
          fail(ExecStatus::Error, where(in) + ": write to the frame pointer r10");
          return;
        }
        st.regs[in.dst] = Reg{Reg::Scalar, bv64(in.imm64), 0};
        return;
      }
      fail(ExecStatus::Unsupported, "not supported yet: packet access (" +
                                        opcodeName(in.opcode) + ") at " +
                                        where(in));
      return;
    }
    if (c0 == op::LDX) {
      if (mode == op::MEMSX) {
        fail(ExecStatus::Unsupported,
             "not supported yet: sign-extending load (cpu v4) at " + where(in));
        return;
      }
      if (in.dst == 10) {
        fail(ExecStatus::Error, where(in) + ": write to the frame pointer r10");
        return;
      }
      auto idx = stackIndex(st, in, in.src, size, false);
      if (!idx)
        return;
      std::optional<z3::expr> v;
      for (unsigned i = 0; i < size; ++i) {
        const auto &cell = st.stack[*idx + i];
        if (!cell) {
          fail(ExecStatus::Error, where(in) + ": read of uninitialized stack "
                                              "byte at offset " +
                                      std::to_string(*idx + i - kStackSize));
          return;
        }
        v = v ? z3::concat(*cell, *v) : *cell;
      }
      st.regs[in.dst] = Reg{Reg::Scalar, zext64(*v).simplify(), 0};
      return;
    }
    if (c0 == op::STX && mode == op::ATOMIC) {
      fail(ExecStatus::Unsupported,
           "not supported yet: atomic operation (" + opcodeName(in.opcode) +
               ") at " + where(in));
      return;
    }
    // ST / STX MEM.
    auto idx = stackIndex(st, in, in.dst, size, true);
    if (!idx)
      return;
    std::optional<z3::expr> v;
    if (c0 == op::ST) {
      v = bv64(uint64_t(int64_t(in.imm)));
    } else {
      if (st.regs[in.src].kind == Reg::StackPtr) {
        fail(ExecStatus::Unsupported,
             "not supported yet: spilling a pointer to the stack at " +
                 where(in));
        return;
      }
      v = readScalar(st, in.src, in);
      if (!v)
        return;
    }
    store(st, *idx, *v, size);
  }

  /// The index of the instruction at slot in.slot + 1 + off, or an error.
  std::optional<size_t> target(const Instruction &in, int64_t off) {
    int64_t s = int64_t(in.slot) + 1 + off;
    auto it = s >= 0 ? slotToIndex.find(size_t(s)) : slotToIndex.end();
    if (it == slotToIndex.end()) {
      fail(ExecStatus::Error, where(in) + ": jump to slot " +
                                  std::to_string(s) +
                                  ", which is not an instruction");
      return std::nullopt;
    }
    return it->second;
  }

  /// Whether `e` may hold under the path condition (true when unknown).
  bool feasible(const z3::expr &pc) {
    if (!limits.pruneInfeasible)
      return true;
    solver.push();
    solver.add(pc);
    z3::check_result r = solver.check();
    solver.pop();
    return r != z3::unsat;
  }
};

ExecResult Machine::run(State init) {
  ExecResult res;
  std::vector<State> work;
  work.push_back(std::move(init));
  size_t totalSteps = 0;
  while (!work.empty()) {
    State st = std::move(work.back());
    work.pop_back();
    while (true) {
      if (st.pc >= prog.size()) {
        res.status = ExecStatus::Error;
        res.message = "execution falls off the end of the program";
        return res;
      }
      if (++totalSteps > limits.maxSteps) {
        res.status = ExecStatus::BoundExceeded;
        res.message = "unknown: bound exceeded (" +
                      std::to_string(limits.maxSteps) + " instructions)";
        res.paths.clear();
        return res;
      }
      const Instruction &in = prog[st.pc];
      ++st.steps;
      uint8_t cl = op::cls(in.opcode);
      if (cl == op::ALU || cl == op::ALU64) {
        stepAlu(st, in);
        ++st.pc;
      } else if (cl == op::JMP || cl == op::JMP32) {
        uint8_t o = in.opcode & 0xf0;
        if (o == op::EXIT) {
          if (cl == op::JMP32) {
            fail(ExecStatus::Error, where(in) + ": invalid exit");
          } else {
            auto r0 = readScalar(st, 0, in);
            if (r0) {
              if (res.paths.size() >= limits.maxPaths) {
                res.status = ExecStatus::BoundExceeded;
                res.message = "unknown: bound exceeded (" +
                              std::to_string(limits.maxPaths) + " paths)";
                res.paths.clear();
                return res;
              }
              res.paths.push_back(
                  PathResult{r0->simplify(), st.pathCond, st.steps});
              break;
            }
          }
        } else if (o == op::CALL) {
          std::string what =
              in.src == 1   ? "bpf-to-bpf call"
              : in.src == 2 ? "kfunc call " + std::to_string(in.imm)
                            : "helper call " + std::to_string(in.imm);
          fail(ExecStatus::Unsupported,
               "not supported yet: " + what + " at " + where(in));
        } else if (o == op::JA) {
          auto t = target(in, cl == op::JMP32 ? int64_t(in.imm) : in.off);
          if (t)
            st.pc = *t;
        } else {
          auto cnd = cond(st, in);
          auto taken = target(in, in.off);
          if (cnd && taken) {
            z3::expr cs = cnd->simplify();
            if (cs.is_true()) {
              st.pc = *taken;
            } else if (cs.is_false()) {
              ++st.pc;
            } else {
              z3::expr pcT = (st.pathCond && cs).simplify();
              z3::expr pcF = (st.pathCond && !cs).simplify();
              bool fT = feasible(pcT), fF = feasible(pcF);
              if (fT && fF) {
                State other = st;
                other.pathCond = pcT;
                other.pc = *taken;
                work.push_back(std::move(other));
                st.pathCond = pcF;
                ++st.pc;
              } else if (fT) {
                st.pathCond = pcT;
                st.pc = *taken;
              } else {
                st.pathCond = pcF;
                ++st.pc;
              }
            }
          }
        }
      } else {
        stepMem(st, in);
        ++st.pc;
      }
      if (err) {
        res.status = err->status;
        res.message = err->message;
        res.paths.clear();
        return res;
      }
    }
  }
  res.status = ExecStatus::Ok;
  return res;
}

template <typename F> auto guarded(F f, decltype(f()) onError) {
  try {
    return f();
  } catch (const z3::exception &e) {
    onError.message = std::string("z3 error: ") + e.msg();
    return onError;
  } catch (const std::exception &e) {
    onError.message = std::string("error: ") + e.what();
    return onError;
  }
}

} // namespace

ExecResult execute(BytecodeContext &bc, const std::vector<Instruction> &program,
                   const std::array<std::optional<z3::expr>, 5> &inputs,
                   const ExecLimits &limits) {
  ExecResult onError;
  onError.status = ExecStatus::Error;
  return guarded(
      [&]() {
        State init(bc.z3());
        for (unsigned i = 0; i < 5; ++i)
          if (inputs[i])
            init.regs[i + 1] = Reg{Reg::Scalar, *inputs[i], 0};
        init.regs[10] = Reg{Reg::StackPtr, std::nullopt, 0};
        Machine m(bc.z3(), program, limits);
        return m.run(std::move(init));
      },
      onError);
}

ExecResult executeSymbolic(BytecodeContext &bc,
                           const std::vector<Instruction> &program,
                           const ExecLimits &limits) {
  std::array<std::optional<z3::expr>, 5> in;
  try {
    for (unsigned i = 0; i < 5; ++i)
      in[i] = bc.input(i + 1);
  } catch (const z3::exception &e) {
    ExecResult r;
    r.message = std::string("z3 error: ") + e.msg();
    return r;
  }
  return execute(bc, program, in, limits);
}

ConcreteResult concreteRun(BytecodeContext &bc,
                           const std::vector<Instruction> &program,
                           const std::array<uint64_t, 5> &regs,
                           const ExecLimits &limits) {
  ConcreteResult onError;
  return guarded(
      [&]() {
        ConcreteResult cr;
        std::array<std::optional<z3::expr>, 5> in;
        for (unsigned i = 0; i < 5; ++i)
          in[i] = bc.z3().bv_val(regs[i], 64);
        ExecLimits l = limits;
        l.pruneInfeasible = false; // every branch condition is a constant
        ExecResult r = execute(bc, program, in, l);
        cr.status = r.status;
        cr.message = r.message;
        if (!r.ok())
          return cr;
        if (r.paths.size() != 1) {
          cr.status = ExecStatus::Error;
          cr.message = "concrete run produced " +
                       std::to_string(r.paths.size()) + " paths";
          return cr;
        }
        z3::expr v = r.paths[0].r0.simplify();
        uint64_t out = 0;
        if (!v.is_numeral_u64(out)) {
          cr.status = ExecStatus::Error;
          cr.message = "concrete run left r0 symbolic: " + v.to_string();
          return cr;
        }
        cr.r0 = out;
        cr.steps = r.paths[0].steps;
        return cr;
      },
      onError);
}

ConcreteResult concreteRun(const std::vector<Instruction> &program,
                           const std::array<uint64_t, 5> &regs,
                           const ExecLimits &limits) {
  BytecodeContext bc;
  return concreteRun(bc, program, regs, limits);
}

BytecodeEquivalence equivalent(const std::vector<Instruction> &a,
                               const std::vector<Instruction> &b,
                               const ExecLimits &limits) {
  BytecodeEquivalence onError;
  onError.status = BytecodeEquivalence::Error;
  try {
    BytecodeContext bc;
    z3::context &c = bc.z3();
    ExecResult ra = executeSymbolic(bc, a, limits);
    ExecResult rb = executeSymbolic(bc, b, limits);
    for (auto *r : {&ra, &rb}) {
      if (!r->ok()) {
        BytecodeEquivalence e;
        e.status = r->status == ExecStatus::BoundExceeded
                       ? BytecodeEquivalence::Unknown
                       : BytecodeEquivalence::Error;
        e.reason = std::string(r == &ra ? "program A: " : "program B: ") +
                   r->message;
        return e;
      }
    }
    // r0 of each program as an if-then-else over its paths.
    auto merge = [&](const ExecResult &r) {
      z3::expr v = r.paths.back().r0;
      for (size_t i = r.paths.size() - 1; i-- > 0;)
        v = z3::ite(r.paths[i].pathCondition, r.paths[i].r0, v);
      return v;
    };
    z3::expr va = merge(ra), vb = merge(rb);
    z3::solver s(c);
    z3::params p(c);
    p.set("timeout", limits.solverTimeoutMs);
    s.set(p);
    s.add(va != vb);
    BytecodeEquivalence res;
    switch (s.check()) {
    case z3::unsat:
      res.status = BytecodeEquivalence::Equivalent;
      return res;
    case z3::unknown:
      res.status = BytecodeEquivalence::Unknown;
      res.reason = s.reason_unknown();
      return res;
    case z3::sat:
      break;
    }
    z3::model m = s.get_model();
    res.status = BytecodeEquivalence::Different;
    for (unsigned i = 0; i < 5; ++i) {
      uint64_t v = 0;
      m.eval(bc.input(i + 1), true).is_numeral_u64(v);
      res.counterexample[i] = v;
    }
    m.eval(va, true).is_numeral_u64(res.r0A);
    m.eval(vb, true).is_numeral_u64(res.r0B);
    return res;
  } catch (const z3::exception &e) {
    onError.reason = std::string("z3 error: ") + e.msg();
    return onError;
  }
}

} // namespace sbpf::checker::bytecode
