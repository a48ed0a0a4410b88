//===- Bytecode.cpp - eBPF decoder and the bare-instruction-list API ------===//
//
// See Bytecode.h. The instruction semantics and the executor are in
// Exec.cpp (one machine for bare lists and ELF programs). Compiled with
// -fexceptions; public functions catch every z3::exception and report it in
// their result.
//
//===----------------------------------------------------------------------===//

#include "sbpf/Checker/Bytecode.h"
#include "sbpf/Checker/Exec.h"

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

BytecodeContext::BytecodeContext()
    : owned(std::make_unique<z3::context>()), ctx(owned.get()) {}
BytecodeContext::BytecodeContext(z3::context &shared) : ctx(&shared) {}
BytecodeContext::~BytecodeContext() = default;

z3::expr BytecodeContext::input(unsigned reg) {
  return ctx->bv_const(("r" + std::to_string(reg)).c_str(), 64);
}

namespace {

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

// A bare instruction list is a Program without context or maps (Exec.h);
// each outcome is one (possibly merged) path.
ExecResult execute(BytecodeContext &bc, const std::vector<Instruction> &program,
                   const std::array<std::optional<z3::expr>, 5> &inputs,
                   const ExecLimits &limits) {
  ExecResult onError;
  onError.status = ExecStatus::Error;
  return guarded(
      [&]() {
        Program p;
        p.insns = program;
        p.hook = Hook::Other;
        ExecInputs in;
        in.regs = inputs;
        ProgramExecResult r = executeProgram(bc, p, in, limits);
        ExecResult out;
        out.status = r.status;
        out.message = r.message;
        for (const ExecOutcome &o : r.outcomes)
          out.paths.push_back(PathResult{o.r0, o.pathCondition, o.steps});
        return out;
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
