//===- Exec.cpp - the BPF symbolic executor: state, memory, helpers -------===//
//
// See Exec.h for the memory model and the helper semantics. Structure:
// liveness of registers (so that merging ignores dead ones), the machine
// state (registers, stack frames, maps, packet, ring buffers, counters),
// the merge of two states, the semantics of one instruction, the helpers,
// and the driver that explores states in instruction order.
//
// Compiled with -fexceptions; executeProgram catches every z3::exception.
//
//===----------------------------------------------------------------------===//

#include "sbpf/Checker/Exec.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <sstream>

namespace sbpf::checker::bytecode {

namespace {

constexpr int kStackSize = 512;
constexpr int64_t kEINVAL = -22, kENOENT = -2, kEEXIST = -17, kE2BIG = -7,
                  kEAGAIN = -11, kEFAULT = -14;
constexpr int kXdpFrameHeadroom = 216; // test run: 256 headroom - xdp_frame
constexpr int kEthHlen = 14;

unsigned sizeBytes(uint8_t code) {
  switch (code & 0x18) {
  case op::W: return 4;
  case op::H: return 2;
  case op::B: return 1;
  default: return 8;
  }
}

const char *helperName(int id) {
  switch (id) {
  case 1: return "map_lookup_elem";
  case 2: return "map_update_elem";
  case 3: return "map_delete_elem";
  case 4: return "probe_read";
  case 5: return "ktime_get_ns";
  case 6: return "trace_printk";
  case 7: return "get_prandom_u32";
  case 8: return "get_smp_processor_id";
  case 9: return "skb_store_bytes";
  case 10: return "l3_csum_replace";
  case 11: return "l4_csum_replace";
  case 12: return "tail_call";
  case 14: return "get_current_pid_tgid";
  case 23: return "redirect";
  case 25: return "perf_event_output";
  case 26: return "skb_load_bytes";
  case 28: return "csum_diff";
  case 44: return "xdp_adjust_head";
  case 51: return "redirect_map";
  case 65: return "xdp_adjust_tail";
  case 93: return "spin_lock";
  case 125: return "ktime_get_boot_ns";
  case 130: return "ringbuf_output";
  case 131: return "ringbuf_reserve";
  case 132: return "ringbuf_submit";
  case 133: return "ringbuf_discard";
  }
  return "unknown";
}

//===----------------------------------------------------------------------===//
// Liveness of registers (backward dataflow over the instruction list)
//===----------------------------------------------------------------------===//

using RegMask = uint16_t;

std::vector<RegMask> liveness(const std::vector<Instruction> &prog,
                              const std::map<size_t, size_t> &slotToIndex) {
  size_t n = prog.size();
  std::vector<RegMask> use(n, 0), def(n, 0);
  std::vector<std::vector<size_t>> succ(n);
  auto target = [&](size_t i, int64_t off) {
    auto it = slotToIndex.find(size_t(int64_t(prog[i].slot) + 1 + off));
    if (it != slotToIndex.end())
      succ[i].push_back(it->second);
  };
  for (size_t i = 0; i < n; ++i) {
    const Instruction &in = prog[i];
    uint8_t cl = op::cls(in.opcode), o = in.opcode & 0xf0;
    RegMask d = RegMask(1u << in.dst), s = RegMask(1u << in.src);
    bool next = true;
    if (cl == op::ALU || cl == op::ALU64) {
      bool x = in.opcode & op::X;
      if (o == op::MOV)
        use[i] = x ? s : 0;
      else
        use[i] = d | (x && o != op::END && o != op::NEG ? s : 0);
      def[i] = d;
    } else if (cl == op::LD) {
      def[i] = d;
    } else if (cl == op::LDX) {
      use[i] = s;
      def[i] = d;
    } else if (cl == op::ST) {
      use[i] = d;
    } else if (cl == op::STX) {
      use[i] = d | s;
      if ((in.opcode & 0xe0) == op::ATOMIC) {
        if (in.imm == 0xf1) // cmpxchg reads and writes r0
          use[i] |= 1, def[i] |= 1;
        else if (in.imm & 1) // fetch forms write the source
          def[i] |= s;
      }
    } else if (o == op::EXIT) {
      use[i] = 1;
      next = false;
    } else if (o == op::CALL) {
      use[i] = 0x3e; // r1..r5
      def[i] = 0x3f; // r0..r5
    } else if (o == op::JA) {
      target(i, cl == op::JMP32 ? int64_t(in.imm) : in.off);
      next = false;
    } else {
      use[i] = d | ((in.opcode & op::X) ? s : 0);
      target(i, in.off);
    }
    if (next && i + 1 < n)
      succ[i].push_back(i + 1);
  }
  std::vector<RegMask> liveIn(n, 0);
  bool changed = true;
  while (changed) {
    changed = false;
    for (size_t k = n; k-- > 0;) {
      RegMask out = 0;
      for (size_t s : succ[k])
        out |= liveIn[s];
      RegMask in = RegMask(use[k] | (out & ~def[k]));
      in |= 1u << 10; // the frame pointer is always live
      if (in != liveIn[k]) {
        liveIn[k] = in;
        changed = true;
      }
    }
  }
  return liveIn;
}

//===----------------------------------------------------------------------===//
// Machine state
//===----------------------------------------------------------------------===//

struct Region {
  enum Kind { Stack, Ctx, Packet, MapValue, Global, Record } kind = Stack;
  int index = 0; ///< Stack: frame; MapValue/Global: map; Record: record
  std::optional<z3::expr> key; ///< MapValue: the key (bv of 8*keySize)
};

bool sameRegion(const Region &a, const Region &b) {
  if (a.kind != b.kind || a.index != b.index)
    return false;
  if (a.key.has_value() != b.key.has_value())
    return false;
  return !a.key || z3::eq(*a.key, *b.key);
}

struct Reg {
  enum Kind { Uninit, Scalar, Ptr, MapRef } kind = Uninit;
  std::optional<z3::expr> val; ///< Scalar: value; Ptr: offset (bv64)
  Region region;               ///< Ptr
  int map = -1;                ///< MapRef
  std::optional<z3::expr> nullCond; ///< Ptr that may be NULL: when it is
  int nullId = 0;                   ///< copies share the id
};

struct Frame {
  std::vector<std::optional<z3::expr>> cells; ///< kStackSize bv8
  std::map<int, Reg> spills;                  ///< 8-aligned index -> pointer
  Frame() : cells(kStackSize) {}
};

struct CallRecord {
  size_t returnPc;
  std::array<Reg, 4> saved; ///< r6..r9
};

struct Record {
  int map = -1;
  std::optional<z3::expr> bits; ///< contents; nullopt once submitted
  unsigned size = 0;
};

/// An array term (`base`) with the writes made since, in order. Reads walk
/// the writes back to front: a write at the same index answers, one at a
/// provably different index is skipped, any other becomes an ite on index
/// equality. This keeps terms small (no select-over-store chains to be
/// re-simplified at every access) and merges cheap (the writes after the
/// common prefix, once per index).
struct Write {
  z3::expr index;
  z3::expr value;
  unsigned symId; ///< 1 + ast id of the non-constant part (0: none)
  int64_t k;      ///< constant part: index = sym + k
  std::optional<z3::expr> sym; ///< keeps the ast (and so its id) alive
};

struct LogMemory {
  z3::expr base;
  std::vector<Write> log;
  /// A store chain given as input (e.g. a concrete packet) is unwound into
  /// the log, so that reads of its bytes resolve without the solver.
  explicit LogMemory(z3::expr base);
};

struct Decomposed {
  unsigned symId = 0;
  int64_t k = 0;
  std::optional<z3::expr> sym;
};

/// index = sym + k with k a numeral (sym: the other summands).
Decomposed decompose(const z3::expr &index) {
  auto symbolic = [](const z3::expr &e, int64_t k) {
    return Decomposed{Z3_get_ast_id(e.ctx(), e) + 1, k, e};
  };
  if (index.is_numeral()) {
    uint64_t v;
    if (index.is_numeral_u64(v))
      return Decomposed{0, int64_t(v), std::nullopt};
    return symbolic(index, 0);
  }
  if (index.is_app() && index.decl().decl_kind() == Z3_OP_BADD) {
    unsigned n = index.num_args();
    int64_t k = 0;
    z3::expr_vector rest(index.ctx());
    for (unsigned i = 0; i < n; ++i) {
      uint64_t v;
      z3::expr a = index.arg(i);
      if (a.is_numeral_u64(v))
        k += int64_t(v);
      else
        rest.push_back(a);
    }
    if (rest.size() == 0)
      return Decomposed{0, k, std::nullopt};
    // A bit-vector sum: z3::sum builds an arithmetic (Int) addition.
    z3::expr sum = rest[0];
    for (unsigned i = 1; i < rest.size(); ++i)
      sum = sum + rest[i];
    return symbolic(sum, k);
  }
  return symbolic(index, 0);
}

/// Byte i of v (bits 8i+7:8i), folded when v is a numeral. Symbolic values
/// are not simplified: Z3 re-traverses a term on every simplify() call, and
/// merged terms grow, so simplifying at every step is quadratic.
z3::expr byteOf(const z3::expr &v, unsigned i) {
  z3::expr b = v.extract(8 * i + 7, 8 * i);
  return v.is_numeral() ? b.simplify() : b;
}

/// The little-endian value of `bytes` (low byte first): a numeral when all
/// are numerals, X again when they are the bytes of X (a spill reloaded).
z3::expr assemble(const std::vector<z3::expr> &bytes) {
  z3::context &c = bytes[0].ctx();
  bool numerals = true;
  for (const z3::expr &b : bytes)
    numerals = numerals && b.is_numeral();
  if (numerals && bytes.size() <= 8) {
    uint64_t v = 0;
    for (size_t i = bytes.size(); i-- > 0;) {
      uint64_t x = 0;
      bytes[i].is_numeral_u64(x);
      v = (v << 8) | x;
    }
    return c.bv_val(v, unsigned(8 * bytes.size()));
  }
  // extract(base+8i+7, base+8i, X) for i = 0..n-1 -> extract of X.
  std::optional<z3::expr> x;
  unsigned base = 0;
  bool same = true;
  for (size_t i = 0; i < bytes.size() && same; ++i) {
    const z3::expr &b = bytes[i];
    if (!b.is_app() || b.decl().decl_kind() != Z3_OP_EXTRACT) {
      same = false;
      break;
    }
    unsigned hi = Z3_get_decl_int_parameter(c, b.decl(), 0);
    unsigned lo = Z3_get_decl_int_parameter(c, b.decl(), 1);
    if (i == 0) {
      x = b.arg(0);
      base = lo;
    }
    same = hi == lo + 7 && lo == base + 8 * i && z3::eq(b.arg(0), *x);
  }
  if (same && x) {
    unsigned w = x->get_sort().bv_size(), n = unsigned(8 * bytes.size());
    return base == 0 && w == n ? *x : x->extract(base + n - 1, base);
  }
  z3::expr v = bytes[0];
  for (size_t i = 1; i < bytes.size(); ++i)
    v = z3::concat(bytes[i], v);
  return numerals ? v.simplify() : v;
}

void memWrite(LogMemory &m, const z3::expr &index, const z3::expr &value);

LogMemory::LogMemory(z3::expr b) : base(b) {
  std::vector<std::pair<z3::expr, z3::expr>> stores; // outermost first
  while (base.is_app() && base.decl().decl_kind() == Z3_OP_STORE) {
    stores.push_back({base.arg(1), base.arg(2)});
    base = base.arg(0);
  }
  for (size_t i = stores.size(); i-- > 0;)
    memWrite(*this, stores[i].first, stores[i].second);
}

/// select(a, index) with the stores of `a` at numeral indices and a constant
/// array base resolved (the value of an array map's slot, say).
z3::expr selectResolved(z3::expr a, const z3::expr &index) {
  uint64_t want, have;
  bool num = index.is_numeral_u64(want);
  while (a.is_app() && a.decl().decl_kind() == Z3_OP_STORE) {
    if (z3::eq(a.arg(1), index))
      return a.arg(2);
    if (!num || !a.arg(1).is_numeral_u64(have))
      return z3::select(a, index);
    if (have == want)
      return a.arg(2);
    a = a.arg(0);
  }
  if (a.is_app() && a.decl().decl_kind() == Z3_OP_CONST_ARRAY)
    return a.arg(0);
  return z3::select(a, index);
}

z3::expr memRead(const LogMemory &m, const z3::expr &index) {
  Decomposed d = decompose(index);
  unsigned sym = d.symId;
  int64_t k = d.k;
  std::vector<const Write *> maybe; // newest first
  std::optional<z3::expr> v;
  for (size_t i = m.log.size(); i-- > 0;) {
    const Write &w = m.log[i];
    if (w.symId == sym) {
      if (w.k == k) {
        v = w.value;
        break;
      }
      continue; // same base, different constant: distinct
    }
    maybe.push_back(&w);
  }
  if (!v)
    v = selectResolved(m.base, index);
  for (size_t i = maybe.size(); i-- > 0;)
    v = z3::ite(index == maybe[i]->index, maybe[i]->value, *v);
  return *v;
}

void memWrite(LogMemory &m, const z3::expr &index, const z3::expr &value) {
  Decomposed d = decompose(index);
  m.log.push_back(Write{index, value, d.symId, d.k, d.sym});
}

z3::expr memMaterialize(const LogMemory &m) {
  z3::expr a = m.base;
  for (const Write &w : m.log)
    a = z3::store(a, w.index, w.value);
  return a;
}

/// a := ite(g, a, b) for two memories that share their base.
void memMerge(const z3::expr &g, LogMemory &a, const LogMemory &b) {
  if (!z3::eq(a.base, b.base)) {
    a.base = z3::ite(g, memMaterialize(a), memMaterialize(b));
    a.log.clear();
    return;
  }
  size_t p = 0;
  while (p < a.log.size() && p < b.log.size() &&
         z3::eq(a.log[p].index, b.log[p].index) &&
         z3::eq(a.log[p].value, b.log[p].value))
    ++p;
  if (p == a.log.size() && p == b.log.size())
    return;
  std::vector<z3::expr> indices;
  std::set<std::pair<unsigned, int64_t>> seen;
  for (const std::vector<Write> *l : {(const std::vector<Write> *)&a.log, &b.log})
    for (size_t i = p; i < l->size(); ++i)
      if (seen.insert({(*l)[i].symId, (*l)[i].k}).second)
        indices.push_back((*l)[i].index);
  std::vector<z3::expr> values;
  for (const z3::expr &ix : indices) {
    z3::expr va = memRead(a, ix), vb = memRead(b, ix);
    values.push_back(z3::eq(va, vb) ? va : z3::ite(g, va, vb));
  }
  a.log.erase(a.log.begin() + long(p), a.log.end());
  for (size_t i = 0; i < indices.size(); ++i)
    memWrite(a, indices[i], values[i]);
}

/// The memory of one map during execution (MapState at the end).
struct MapMem {
  std::optional<LogMemory> bytes;   ///< global data
  std::map<uint32_t, LogMemory> slots; ///< array maps: concrete index
  std::optional<z3::expr> arrayBase;   ///< array maps: Array bv32 (bytes)
  std::optional<LogMemory> values, present; ///< hash maps
  std::optional<z3::expr> count;    ///< hash maps, ring buffers
  std::optional<z3::expr> records;  ///< ring buffers
  unsigned recordSize = 0;
};

struct State {
  size_t pc = 0;
  std::array<Reg, 11> regs;
  std::vector<Frame> frames;
  std::vector<CallRecord> calls;
  z3::expr pathCond;
  std::vector<MapMem> maps;
  LogMemory packet;
  z3::expr pktStart, pktEnd;
  z3::expr drawCount, clockCount;
  size_t drawMax = 0, clockMax = 0;
  std::vector<HelperCall> log;
  std::vector<Record> records;
  size_t steps = 0;
  State(z3::context &c)
      : pathCond(c.bool_val(true)), packet(c.bool_val(false)), pktStart(c),
        pktEnd(c),
        drawCount(c.bv_val(0, 64)), clockCount(c.bv_val(0, 64)) {}
};

struct StepError {
  ExecStatus status;
  std::string message;
};

z3::expr iteE(const z3::expr &c, const z3::expr &a, const z3::expr &b) {
  if (z3::eq(a, b))
    return a;
  return z3::ite(c, a, b);
}

//===----------------------------------------------------------------------===//
// The machine
//===----------------------------------------------------------------------===//

class Machine {
public:
  Machine(z3::context &c, const Program &prog, const ExecLimits &limits,
          ProgramExecResult &res, const ExecInputs &inputs)
      : c(c), prog(prog), insns(prog.insns), limits(limits), res(res),
        inputs(inputs), solver(c) {
    z3::params p(c);
    p.set("timeout", limits.solverTimeoutMs);
    solver.set(p);
    for (size_t i = 0; i < insns.size(); ++i)
      slotToIndex[insns[i].slot] = i;
    live = liveness(insns, slotToIndex);
    draws = inputs.draws;
    clocks = inputs.clocks;
  }

  void run(State init);
  std::vector<z3::expr> draws, clocks;

private:
  z3::context &c;
  const Program &prog;
  const std::vector<Instruction> &insns;
  const ExecLimits &limits;
  ProgramExecResult &res;
  const ExecInputs &inputs;
  z3::solver solver;
  std::map<size_t, size_t> slotToIndex;
  std::vector<RegMask> live;
  std::optional<StepError> err;
  int nextNullId = 1;
  unsigned freshCounter = 0;

  // Successor states of the current step (besides the state itself).
  std::vector<State> forks;

  void fail(ExecStatus s, std::string m) {
    if (!err)
      err = StepError{s, std::move(m)};
  }
  std::string where(const Instruction &in) {
    return "insn " + std::to_string(in.slot) + " (" + opcodeName(in.opcode) +
           ")";
  }
  void unsupported(const Instruction &in, const std::string &what) {
    fail(ExecStatus::Unsupported,
         "not supported yet: " + what + " at " + where(in));
  }
  void invalid(const Instruction &in, const std::string &what) {
    fail(ExecStatus::Error, where(in) + ": " + what);
  }

  z3::expr bv64(uint64_t v) { return c.bv_val(v, 64); }
  z3::expr zext64(const z3::expr &e) {
    unsigned w = e.get_sort().bv_size();
    return w == 64 ? e : z3::zext(e, 64 - w);
  }
  z3::expr sext64(const z3::expr &e) {
    unsigned w = e.get_sort().bv_size();
    return w == 64 ? e : z3::sext(e, 64 - w);
  }
  z3::expr fresh(const std::string &name, unsigned bits) {
    return c.bv_const(name.c_str(), bits);
  }
  std::optional<int64_t> constant(const z3::expr &e) {
    z3::expr s = e.simplify();
    int64_t v;
    if (s.is_numeral_i64(v))
      return v;
    uint64_t u;
    if (s.is_numeral_u64(u))
      return int64_t(u);
    return std::nullopt;
  }

  // --- registers -------------------------------------------------------
  std::optional<z3::expr> scalar(const State &st, unsigned r,
                                 const Instruction &in) {
    const Reg &reg = st.regs[r];
    switch (reg.kind) {
    case Reg::Scalar:
      return *reg.val;
    case Reg::Uninit:
      invalid(in, "read of uninitialized register r" + std::to_string(r));
      return std::nullopt;
    default:
      unsupported(in, "pointer r" + std::to_string(r) +
                          " used as a scalar (arithmetic the verifier forbids "
                          "or a pointer leak)");
      return std::nullopt;
    }
  }
  Reg scalarReg(const z3::expr &v) {
    Reg r;
    r.kind = Reg::Scalar;
    r.val = v;
    return r;
  }
  Reg ptrReg(Region region, const z3::expr &off) {
    Reg r;
    r.kind = Reg::Ptr;
    r.region = std::move(region);
    r.val = off.simplify();
    return r;
  }

  // --- memory ------------------------------------------------------------
  /// Loads `n` bytes at pointer `p` + `off` as bv(8n); nullopt on error.
  std::optional<z3::expr> load(State &st, const Reg &p, int64_t off,
                               unsigned n, const Instruction &in,
                               std::optional<Reg> *spilled = nullptr);
  bool store(State &st, const Reg &p, int64_t off, const z3::expr &bits,
             const Instruction &in);
  std::optional<int> stackIndex(const State &st, const Reg &p, int64_t off,
                                unsigned n, const Instruction &in);
  bool checkPtr(const Reg &p, const Instruction &in, const char *what);
  z3::expr loadBits(const z3::expr &bits, const z3::expr &off, unsigned n);
  z3::expr storeBits(const z3::expr &bits, const z3::expr &off,
                     const z3::expr &v);
  z3::expr loadMem(const LogMemory &m, const z3::expr &off, unsigned n);
  void storeMem(LogMemory &m, const z3::expr &off, const z3::expr &v);
  LogMemory *arraySlot(State &st, int map, const z3::expr &key,
                       const Instruction &in);

  // --- instructions --------------------------------------------------------
  void stepAlu(State &st, const Instruction &in);
  void stepMem(State &st, const Instruction &in);
  void stepAtomic(State &st, const Instruction &in);
  void stepBranch(State &st, const Instruction &in);
  void stepCall(State &st, const Instruction &in);
  void stepHelper(State &st, const Instruction &in);
  bool stepExit(State &st, const Instruction &in); ///< true: finished
  std::optional<size_t> target(const Instruction &in, int64_t off);
  bool feasible(const z3::expr &pc);
  void branch(State &st, const z3::expr &cs, size_t taken,
              const std::function<void(State &, bool)> &adjust);
  void setNull(State &st, int nullId, bool isNull);

  // --- helpers ---------------------------------------------------------------
  std::optional<int> mapArg(const State &st, unsigned r, const Instruction &in);
  void appendRecord(State &st, int map, const z3::expr &bits, unsigned size,
                    const z3::expr &when, const Instruction &in);
  z3::expr room(const State &st, int map);
  z3::expr nextInput(std::vector<z3::expr> &seq, z3::expr &count,
                     size_t &max, const char *name, unsigned bits);

  // --- merging -------------------------------------------------------------
  bool mergeRegs(const Reg &a, const Reg &b, const z3::expr &ca, Reg &out);
  bool tryMerge(State &a, State &b);
  void mergeWaiting(std::vector<State> &states);

  void finish(State &st);
};

z3::expr Machine::loadBits(const z3::expr &bits, const z3::expr &off,
                           unsigned n) {
  unsigned w = bits.get_sort().bv_size();
  if (auto k = constant(off)) {
    if (*k >= 0 && uint64_t(*k) * 8 + 8 * n <= w)
      return bits.extract(unsigned(*k) * 8 + 8 * n - 1, unsigned(*k) * 8);
  }
  z3::expr sh = off * bv64(8);
  z3::expr shw = w >= 64 ? z3::zext(sh, w - 64) : sh.extract(w - 1, 0);
  z3::expr v = z3::lshr(bits, shw);
  return v.extract(8 * n - 1, 0);
}

z3::expr Machine::storeBits(const z3::expr &bits, const z3::expr &off,
                            const z3::expr &v) {
  unsigned w = bits.get_sort().bv_size(), vn = v.get_sort().bv_size();
  if (auto k = constant(off)) {
    unsigned lo = unsigned(*k) * 8, hi = lo + vn; // [lo, hi)
    if (*k >= 0 && hi <= w) {
      z3::expr r = v;
      if (lo > 0)
        r = z3::concat(r, bits.extract(lo - 1, 0));
      if (hi < w)
        r = z3::concat(bits.extract(w - 1, hi), r);
      return r;
    }
  }
  z3::expr sh = off * bv64(8);
  z3::expr shw = w >= 64 ? z3::zext(sh, w - 64) : sh.extract(w - 1, 0);
  z3::expr mask = z3::shl(z3::zext(c.bv_val(-1, vn), w - vn), shw);
  return (bits & ~mask) | z3::shl(z3::zext(v, w - vn), shw);
}

/// The byte at `index` when it is k + zext(e) with e at most
/// kMaxIndexBits wide (what the simplifier makes of a base plus an index
/// masked to a small power-of-two buffer: scramble's key byte
/// `key[(i % len) & 63]`): a multiplexer over e's bits, high bit first, of
/// the bytes at the 2^width constant indices, each resolved through the
/// writes. The same value as memRead's, which compares the index with
/// every write's (a chain as deep as the writes to the memory, its
/// conditions rarely true); this is the shape the netfn encoding selects
/// the key byte in (NetfnSemantics.cpp, stringXor), so the sweep can match
/// the two. Nullopt for any other index.
static std::optional<z3::expr> readThroughIndexBits(const LogMemory &m,
                                                    const z3::expr &index) {
  constexpr unsigned kMaxIndexBits = 6;
  Decomposed d = decompose(index);
  if (!d.sym || d.k < 0)
    return std::nullopt;
  const z3::expr &s = *d.sym;
  uint64_t zero;
  if (!s.is_app() || s.decl().decl_kind() != Z3_OP_CONCAT ||
      s.num_args() != 2 || !s.arg(0).is_numeral_u64(zero) || zero != 0)
    return std::nullopt;
  z3::expr e = s.arg(1);
  unsigned w = e.get_sort().bv_size();
  if (w > kMaxIndexBits || e.is_numeral())
    return std::nullopt;
  z3::context &c = index.ctx();
  std::function<z3::expr(unsigned, uint64_t)> mux = [&](unsigned bit,
                                                        uint64_t base) {
    if (bit == 0)
      return memRead(m, c.bv_val(uint64_t(d.k) + base, 64));
    z3::expr set = e.extract(bit - 1, bit - 1).simplify() == c.bv_val(1, 1);
    return z3::ite(set, mux(bit - 1, base + (uint64_t(1) << (bit - 1))),
                   mux(bit - 1, base));
  };
  return mux(w, 0);
}

z3::expr Machine::loadMem(const LogMemory &m, const z3::expr &off,
                          unsigned n) {
  std::vector<z3::expr> bytes;
  for (unsigned i = 0; i < n; ++i) {
    z3::expr at = (off + bv64(i)).simplify();
    std::optional<z3::expr> b = readThroughIndexBits(m, at);
    bytes.push_back(b ? *b : memRead(m, at));
  }
  return assemble(bytes);
}

void Machine::storeMem(LogMemory &m, const z3::expr &off, const z3::expr &v) {
  unsigned n = v.get_sort().bv_size() / 8;
  for (unsigned i = 0; i < n; ++i)
    memWrite(m, (off + bv64(i)).simplify(), byteOf(v, i));
}

/// The bytes of slot `key` of array map `map` (created on first use).
/// Array maps are tracked per constant index: a symbolic index into an
/// array map's values is not supported yet.
LogMemory *Machine::arraySlot(State &st, int map, const z3::expr &key,
                              const Instruction &in) {
  auto k = constant(key);
  if (!k) {
    unsupported(in, "array map " + prog.maps[map].name +
                        " indexed by a symbolic key");
    return nullptr;
  }
  MapMem &mm = st.maps[map];
  auto it = mm.slots.find(uint32_t(*k));
  if (it == mm.slots.end())
    it = mm.slots
             .emplace(uint32_t(*k),
                      LogMemory(selectResolved(*mm.arrayBase,
                                               c.bv_val(uint32_t(*k), 32))))
             .first;
  return &it->second;
}

bool Machine::checkPtr(const Reg &p, const Instruction &in, const char *what) {
  if (p.kind == Reg::Uninit) {
    invalid(in, std::string(what) + " through an uninitialized register");
    return false;
  }
  if (p.kind != Reg::Ptr) {
    invalid(in, std::string(what) + " through a non-pointer");
    return false;
  }
  if (p.nullCond) {
    invalid(in, std::string(what) +
                    " through a pointer that may be NULL (no null check)");
    return false;
  }
  return true;
}

std::optional<int> Machine::stackIndex(const State &st, const Reg &p,
                                       int64_t off, unsigned n,
                                       const Instruction &in) {
  auto k = constant(*p.val);
  if (!k) {
    unsupported(in, "stack access at a variable offset");
    return std::nullopt;
  }
  int64_t o = *k + off;
  if (o < -kStackSize || o + int64_t(n) > 0) {
    invalid(in, "stack access out of bounds (offset " + std::to_string(o) +
                    ", size " + std::to_string(n) + ")");
    return std::nullopt;
  }
  if (p.region.index >= int(st.frames.size())) {
    invalid(in, "access to the stack of a returned call");
    return std::nullopt;
  }
  return int(o + kStackSize);
}

std::optional<z3::expr> Machine::load(State &st, const Reg &p, int64_t off,
                                      unsigned n, const Instruction &in,
                                      std::optional<Reg> *spilled) {
  if (!checkPtr(p, in, "load"))
    return std::nullopt;
  z3::expr addr = (*p.val + bv64(uint64_t(off))).simplify();
  switch (p.region.kind) {
  case Region::Stack: {
    auto idx = stackIndex(st, p, off, n, in);
    if (!idx)
      return std::nullopt;
    Frame &f = st.frames[p.region.index];
    int slot = *idx & ~7;
    auto sp = f.spills.find(slot);
    if (sp != f.spills.end() && *idx + int(n) > slot && *idx < slot + 8) {
      if (spilled && n == 8 && *idx == slot) {
        *spilled = sp->second;
        return bv64(0);
      }
      unsupported(in, "partial read of a spilled pointer");
      return std::nullopt;
    }
    std::vector<z3::expr> bytes;
    for (unsigned i = 0; i < n; ++i) {
      const auto &cell = f.cells[*idx + i];
      if (!cell) {
        invalid(in, "read of uninitialized stack byte at offset " +
                        std::to_string(*idx + int(i) - kStackSize));
        return std::nullopt;
      }
      bytes.push_back(*cell);
    }
    return assemble(bytes);
  }
  case Region::Ctx: {
    auto k = constant(addr);
    if (!k) {
      invalid(in, "context access at a variable offset");
      return std::nullopt;
    }
    bool xdp = prog.hook == Hook::XDP;
    int data = xdp ? 0 : 76, end = xdp ? 4 : 80, meta = xdp ? 8 : 140;
    if (*k == data || *k == end || *k == meta) {
      if (n != 4) {
        invalid(in, "context pointer field read with size " +
                        std::to_string(n));
        return std::nullopt;
      }
      if (spilled) {
        Region r;
        r.kind = Region::Packet;
        *spilled = ptrReg(r, *k == end ? st.pktEnd : st.pktStart);
        return bv64(0);
      }
      invalid(in, "context pointer field read as data");
      return std::nullopt;
    }
    if (!xdp && *k == 0 && n == 4) // skb->len
      return (st.pktEnd - st.pktStart).extract(31, 0).simplify();
    return fresh("ctx." + std::to_string(*k) + "." + std::to_string(n),
                 8 * n);
  }
  case Region::Packet:
    return loadMem(st.packet, addr, n);
  case Region::Global:
    return loadMem(*st.maps[p.region.index].bytes, addr, n);
  case Region::MapValue: {
    const MapDef &m = prog.maps[p.region.index];
    if (m.isArray()) {
      LogMemory *slot = arraySlot(st, p.region.index, *p.region.key, in);
      if (!slot)
        return std::nullopt;
      return loadMem(*slot, addr, n);
    }
    z3::expr val = memRead(*st.maps[p.region.index].values, *p.region.key);
    return loadBits(val, addr, n);
  }
  case Region::Record: {
    Record &r = st.records[p.region.index];
    if (!r.bits) {
      invalid(in, "access to a submitted or discarded ring-buffer record");
      return std::nullopt;
    }
    return loadBits(*r.bits, addr, n);
  }
  }
  return std::nullopt;
}

bool Machine::store(State &st, const Reg &p, int64_t off, const z3::expr &bits,
                    const Instruction &in) {
  if (!checkPtr(p, in, "store"))
    return false;
  unsigned n = bits.get_sort().bv_size() / 8;
  z3::expr addr = (*p.val + bv64(uint64_t(off))).simplify();
  switch (p.region.kind) {
  case Region::Stack: {
    auto idx = stackIndex(st, p, off, n, in);
    if (!idx)
      return false;
    Frame &f = st.frames[p.region.index];
    f.spills.erase(*idx & ~7);
    if (n > 1 && ((*idx + int(n) - 1) & ~7) != (*idx & ~7))
      f.spills.erase((*idx + int(n) - 1) & ~7);
    for (unsigned i = 0; i < n; ++i)
      f.cells[*idx + i] = byteOf(bits, i);
    return true;
  }
  case Region::Ctx:
    unsupported(in, "store into the context");
    return false;
  case Region::Packet:
    storeMem(st.packet, addr, bits);
    return true;
  case Region::Global: {
    if (prog.maps[p.region.index].name.rfind(".rodata", 0) == 0) {
      invalid(in, "store into read-only data");
      return false;
    }
    storeMem(*st.maps[p.region.index].bytes, addr, bits);
    return true;
  }
  case Region::MapValue: {
    const MapDef &m = prog.maps[p.region.index];
    if (m.isArray()) {
      LogMemory *slot = arraySlot(st, p.region.index, *p.region.key, in);
      if (!slot)
        return false;
      storeMem(*slot, addr, bits);
      return true;
    }
    LogMemory &vals = *st.maps[p.region.index].values;
    const z3::expr &key = *p.region.key;
    z3::expr nv = storeBits(memRead(vals, key), addr, bits);
    memWrite(vals, key, nv);
    return true;
  }
  case Region::Record: {
    Record &r = st.records[p.region.index];
    if (!r.bits) {
      invalid(in, "access to a submitted or discarded ring-buffer record");
      return false;
    }
    r.bits = storeBits(*r.bits, addr, bits);
    return true;
  }
  }
  return false;
}

//===----------------------------------------------------------------------===//
// ALU
//===----------------------------------------------------------------------===//

std::optional<z3::expr> aluOp(z3::context &c, uint8_t o, const z3::expr &a,
                              const z3::expr &b, unsigned w) {
  z3::expr zero = c.bv_val(0, w);
  switch (o) {
  case op::ADD: return a + b;
  case op::SUB: return a - b;
  case op::MUL: return a * b;
  case op::DIV: return z3::ite(b == zero, zero, z3::udiv(a, b));
  // a % b as a - (a / b) * b (with a / 0 = 0 that is also a % 0 = a): the
  // same function as the kernel's, written through the quotient so that a
  // remainder shares its divider with the quotient and with the netfn
  // encoding of rem (NetfnSemantics.cpp), whichever of div+mul+sub or mod
  // the compiler chose (Sweep.h).
  case op::MOD: return a - z3::ite(b == zero, zero, z3::udiv(a, b)) * b;
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

void Machine::stepAlu(State &st, const Instruction &in) {
  bool is64 = op::cls(in.opcode) == op::ALU64;
  uint8_t o = in.opcode & 0xf0;
  unsigned w = is64 ? 64 : 32;
  bool x = in.opcode & op::X;
  if (in.dst == 10) {
    invalid(in, "write to the frame pointer r10");
    return;
  }
  if (o == op::END) {
    if (is64) {
      unsupported(in, "bswap (cpu v4)");
      return;
    }
    if (in.imm != 16 && in.imm != 32 && in.imm != 64) {
      invalid(in, "byte swap width " + std::to_string(in.imm));
      return;
    }
    auto d = scalar(st, in.dst, in);
    if (!d)
      return;
    z3::expr v = d->extract(in.imm - 1, 0);
    if (in.opcode & op::TO_BE)
      v = byteSwap(v); // x86 is little-endian: to_be swaps, to_le truncates
    v = zext64(v);
    st.regs[in.dst] = scalarReg(d->is_numeral() ? v.simplify() : v);
    return;
  }
  if (in.off != 0) {
    unsupported(in, opcodeName(in.opcode) + " with off " +
                        std::to_string(in.off) + " (cpu v4 sdiv/smod/movsx)");
    return;
  }
  Reg &dst = st.regs[in.dst];
  const Reg &src = st.regs[in.src];
  // Pointers: mov copies; add/sub of a scalar moves the offset; the
  // difference of two pointers into one region is a scalar.
  if (is64 && o == op::MOV && x && src.kind != Reg::Scalar) {
    if (src.kind == Reg::Uninit) {
      invalid(in, "read of uninitialized register r" + std::to_string(in.src));
      return;
    }
    dst = src;
    return;
  }
  // mov overwrites: the old kind of dst does not matter.
  bool dstPtr = o != op::MOV && (dst.kind == Reg::Ptr || dst.kind == Reg::MapRef);
  bool srcPtr = x && (src.kind == Reg::Ptr || src.kind == Reg::MapRef);
  if (dstPtr || srcPtr) {
    if (!is64 || (o != op::ADD && o != op::SUB)) {
      unsupported(in, "this operation on a pointer");
      return;
    }
    if ((dstPtr && dst.nullCond) || (srcPtr && src.nullCond)) {
      invalid(in, "arithmetic on a pointer that may be NULL");
      return;
    }
    if (dstPtr && srcPtr) {
      if (o != op::SUB || dst.kind != Reg::Ptr || src.kind != Reg::Ptr ||
          !sameRegion(dst.region, src.region)) {
        unsupported(in, "arithmetic on two pointers");
        return;
      }
      dst = scalarReg(*dst.val - *src.val);
      return;
    }
    if (dst.kind == Reg::MapRef || (srcPtr && src.kind == Reg::MapRef)) {
      invalid(in, "arithmetic on a map reference");
      return;
    }
    if (dstPtr) {
      std::optional<z3::expr> k =
          x ? scalar(st, in.src, in)
            : std::optional<z3::expr>(bv64(uint64_t(int64_t(in.imm))));
      if (!k)
        return;
      dst.val = (o == op::ADD ? *dst.val + *k : *dst.val - *k).simplify();
      return;
    }
    // scalar += pointer
    if (o != op::ADD) {
      unsupported(in, "scalar minus pointer");
      return;
    }
    auto d = scalar(st, in.dst, in);
    if (!d)
      return;
    Reg r = src;
    r.val = (*src.val + *d).simplify();
    dst = r;
    return;
  }
  std::optional<z3::expr> sv;
  if (o == op::NEG) {
    sv = c.bv_val(0, w);
  } else if (x) {
    auto s = scalar(st, in.src, in);
    if (!s)
      return;
    sv = is64 ? *s : s->extract(31, 0);
  } else {
    // K: sign-extended to 64 bits for ALU64, the 32 bits for ALU32.
    sv = is64 ? bv64(uint64_t(int64_t(in.imm))) : c.bv_val(uint32_t(in.imm), 32);
  }
  z3::expr dv = c.bv_val(0, w);
  if (o != op::MOV) {
    auto d = scalar(st, in.dst, in);
    if (!d)
      return;
    dv = is64 ? *d : d->extract(31, 0);
  }
  auto r = aluOp(c, o, dv, *sv, w);
  if (!r) {
    invalid(in, "invalid ALU operation");
    return;
  }
  // Constant operands fold (concrete runs stay numerals); symbolic results
  // are left as built (see byteOf).
  z3::expr res64 = zext64(*r);
  st.regs[in.dst] =
      scalarReg(dv.is_numeral() && sv->is_numeral() ? res64.simplify() : res64);
}

//===----------------------------------------------------------------------===//
// Loads, stores, atomics
//===----------------------------------------------------------------------===//

void Machine::stepMem(State &st, const Instruction &in) {
  uint8_t cl = op::cls(in.opcode);
  uint8_t mode = in.opcode & 0xe0;
  unsigned n = sizeBytes(in.opcode);
  if (cl == op::LD) {
    if (in.opcode != 0x18) {
      unsupported(in, "legacy packet access (" + opcodeName(in.opcode) + ")");
      return;
    }
    if (in.dst == 10) {
      invalid(in, "write to the frame pointer r10");
      return;
    }
    if (in.src == 0) {
      st.regs[in.dst] = scalarReg(bv64(in.imm64));
      return;
    }
    if (in.src != 1 && in.src != 2) {
      unsupported(in, "lddw with src " + std::to_string(in.src));
      return;
    }
    if (in.imm < 0 || size_t(in.imm) >= prog.maps.size()) {
      invalid(in, "lddw of unknown map " + std::to_string(in.imm));
      return;
    }
    const MapDef &m = prog.maps[in.imm];
    if (in.src == 1) {
      Reg r;
      r.kind = Reg::MapRef;
      r.map = in.imm;
      st.regs[in.dst] = r;
      return;
    }
    // BPF_PSEUDO_MAP_VALUE: a pointer into the map's first value.
    Region rg;
    rg.index = in.imm;
    if (m.globalData) {
      rg.kind = Region::Global;
    } else if (m.isArray()) {
      rg.kind = Region::MapValue;
      rg.key = c.bv_val(0, 32);
    } else {
      invalid(in, "direct value access into map " + m.name);
      return;
    }
    st.regs[in.dst] = ptrReg(rg, bv64(in.imm64 >> 32));
    return;
  }
  if (cl == op::LDX) {
    if (in.dst == 10) {
      invalid(in, "write to the frame pointer r10");
      return;
    }
    std::optional<Reg> spilled;
    bool sx = mode == op::MEMSX;
    auto v = load(st, st.regs[in.src], in.off, n, in, sx ? nullptr : &spilled);
    if (!v)
      return;
    if (spilled)
      st.regs[in.dst] = *spilled;
    else
      st.regs[in.dst] = scalarReg(sx ? sext64(*v) : zext64(*v));
    return;
  }
  if (cl == op::STX && mode == op::ATOMIC) {
    stepAtomic(st, in);
    return;
  }
  // ST / STX MEM.
  const Reg &base = st.regs[in.dst];
  if (cl == op::ST) {
    store(st, base, in.off, bv64(uint64_t(int64_t(in.imm))).extract(8 * n - 1, 0),
          in);
    return;
  }
  const Reg &src = st.regs[in.src];
  if (src.kind == Reg::Ptr || src.kind == Reg::MapRef) {
    // A pointer spill: only whole, aligned, into the stack.
    if (!checkPtr(base, in, "store"))
      return;
    if (base.region.kind != Region::Stack || n != 8) {
      unsupported(in, "storing a pointer outside the stack or partially");
      return;
    }
    auto idx = stackIndex(st, base, in.off, 8, in);
    if (!idx)
      return;
    if (*idx % 8) {
      unsupported(in, "unaligned pointer spill");
      return;
    }
    Frame &f = st.frames[base.region.index];
    for (int i = 0; i < 8; ++i)
      f.cells[*idx + i].reset();
    f.spills[*idx] = src;
    return;
  }
  auto v = scalar(st, in.src, in);
  if (!v)
    return;
  store(st, base, in.off, v->extract(8 * n - 1, 0), in);
}

void Machine::stepAtomic(State &st, const Instruction &in) {
  unsigned n = sizeBytes(in.opcode);
  if (n != 4 && n != 8) {
    invalid(in, "atomic operation of size " + std::to_string(n));
    return;
  }
  const Reg &base = st.regs[in.dst];
  if (base.kind == Reg::Ptr && (base.region.kind == Region::Packet ||
                                base.region.kind == Region::Ctx)) {
    invalid(in, "atomic operation on packet or context memory");
    return;
  }
  auto old = load(st, base, in.off, n, in);
  if (!old)
    return;
  auto s = scalar(st, in.src, in);
  if (!s)
    return;
  unsigned w = 8 * n;
  z3::expr sv = s->extract(w - 1, 0);
  int imm = in.imm;
  std::optional<z3::expr> nv;
  switch (imm & ~1) {
  case 0x00: nv = *old + sv; break;
  case 0x40: nv = *old | sv; break;
  case 0x50: nv = *old & sv; break;
  case 0xa0: nv = *old ^ sv; break;
  default: break;
  }
  if (imm == 0xe1) { // xchg
    nv = sv;
  } else if (imm == 0xf1) { // cmpxchg: compares with r0
    auto r0 = scalar(st, 0, in);
    if (!r0)
      return;
    nv = z3::ite(*old == r0->extract(w - 1, 0), sv, *old);
  } else if (!nv || (imm & 1 && (imm & ~1) == 0xe0)) {
    invalid(in, "unknown atomic operation " + std::to_string(imm));
    return;
  }
  if (!store(st, base, in.off, nv->simplify(), in))
    return;
  if (imm == 0xf1)
    st.regs[0] = scalarReg(zext64(*old));
  else if (imm & 1) // FETCH (and xchg): the source gets the old value
    st.regs[in.src] = scalarReg(zext64(*old));
}

//===----------------------------------------------------------------------===//
// Control flow
//===----------------------------------------------------------------------===//

std::optional<size_t> Machine::target(const Instruction &in, int64_t off) {
  int64_t s = int64_t(in.slot) + 1 + off;
  auto it = s >= 0 ? slotToIndex.find(size_t(s)) : slotToIndex.end();
  if (it == slotToIndex.end()) {
    invalid(in, "jump to slot " + std::to_string(s) +
                    ", which is not an instruction");
    return std::nullopt;
  }
  return it->second;
}

bool Machine::feasible(const z3::expr &pc) {
  if (!limits.pruneInfeasible)
    return true;
  ++res.stats.solverCalls;
  solver.push();
  solver.add(pc);
  z3::check_result r = solver.check();
  solver.pop();
  return r != z3::unsat;
}

void Machine::setNull(State &st, int id, bool isNull) {
  auto fix = [&](Reg &r) {
    if (r.kind != Reg::Ptr || r.nullId != id)
      return;
    if (isNull) {
      r = scalarReg(bv64(0));
    } else {
      r.nullCond.reset();
      r.nullId = 0;
    }
  };
  for (Reg &r : st.regs)
    fix(r);
  for (Frame &f : st.frames)
    for (auto &[k, r] : f.spills)
      fix(r);
  for (CallRecord &cr : st.calls)
    for (Reg &r : cr.saved)
      fix(r);
}

void Machine::stepBranch(State &st, const Instruction &in) {
  bool is32 = op::cls(in.opcode) == op::JMP32;
  uint8_t o = in.opcode & 0xf0;
  bool x = in.opcode & op::X;
  auto taken = target(in, in.off);
  if (!taken)
    return;
  const Reg &a = st.regs[in.dst];
  std::optional<Reg> b;
  if (x)
    b = st.regs[in.src];
  bool aPtr = a.kind == Reg::Ptr || a.kind == Reg::MapRef;
  bool bPtr = b && (b->kind == Reg::Ptr || b->kind == Reg::MapRef);
  std::optional<z3::expr> cond;
  // A null check of a pointer that may be NULL splits into the null and the
  // non-null state (and the register and its copies become 0 / non-null).
  if (aPtr && !bPtr && (o == op::JEQ || o == op::JNE) && !is32) {
    bool zero = x ? (b->kind == Reg::Scalar && constant(*b->val) == 0)
                  : in.imm == 0;
    if (!zero) {
      unsupported(in, "comparison of a pointer with a non-zero scalar");
      return;
    }
    z3::expr isNull = a.nullCond ? *a.nullCond : c.bool_val(false);
    int id = a.nullId;
    z3::expr cs = (o == op::JEQ ? isNull : !isNull).simplify();
    // When taken, the pointer is null for JEQ, non-null for JNE.
    auto applyNull = [&](State &s, bool takenSide) {
      if (!id)
        return;
      bool nullHere = (o == op::JEQ) == takenSide;
      setNull(s, id, nullHere);
    };
    if (cs.is_true()) {
      applyNull(st, true);
      st.pc = *taken;
      return;
    }
    if (cs.is_false()) {
      applyNull(st, false);
      ++st.pc;
      return;
    }
    branch(st, cs, *taken, applyNull);
    return;
  }
  z3::expr av(c), bvv(c);
  if (aPtr || bPtr) {
    if (!aPtr || !bPtr || a.kind != Reg::Ptr || b->kind != Reg::Ptr ||
        !sameRegion(a.region, b->region) || is32 || a.nullCond ||
        b->nullCond) {
      unsupported(in, "comparison of pointers into different regions");
      return;
    }
    av = *a.val;
    bvv = *b->val;
  } else {
    auto d = scalar(st, in.dst, in);
    if (!d)
      return;
    av = is32 ? d->extract(31, 0) : *d;
    if (x) {
      auto s = scalar(st, in.src, in);
      if (!s)
        return;
      bvv = is32 ? s->extract(31, 0) : *s;
    } else {
      bvv = is32 ? c.bv_val(uint32_t(in.imm), 32)
                 : bv64(uint64_t(int64_t(in.imm)));
    }
  }
  unsigned w = av.get_sort().bv_size();
  // Pointer offsets are small and may be negative (after xdp_adjust_head):
  // the unsigned comparison of the addresses is the signed one of offsets.
  bool ptrs = aPtr;
  switch (o) {
  case op::JEQ: cond = av == bvv; break;
  case op::JNE: cond = av != bvv; break;
  case op::JGT: cond = ptrs ? av > bvv : z3::ugt(av, bvv); break;
  case op::JGE: cond = ptrs ? av >= bvv : z3::uge(av, bvv); break;
  case op::JLT: cond = ptrs ? av < bvv : z3::ult(av, bvv); break;
  case op::JLE: cond = ptrs ? av <= bvv : z3::ule(av, bvv); break;
  case op::JSGT: cond = av > bvv; break;
  case op::JSGE: cond = av >= bvv; break;
  case op::JSLT: cond = av < bvv; break;
  case op::JSLE: cond = av <= bvv; break;
  case op::JSET: cond = (av & bvv) != c.bv_val(0, w); break;
  default:
    invalid(in, "invalid jump");
    return;
  }
  // Fold constant conditions; a symbolic one is not simplified (its operands
  // may be large merged terms, and Z3 re-traverses them on every call).
  z3::expr cs = (av.is_numeral() && bvv.is_numeral()) || z3::eq(av, bvv)
                    ? cond->simplify()
                    : *cond;
  if (cs.is_true()) {
    st.pc = *taken;
    return;
  }
  if (cs.is_false()) {
    ++st.pc;
    return;
  }
  branch(st, cs, *taken, [](State &, bool) {});
}

void Machine::branch(State &st, const z3::expr &cs, size_t taken,
                     const std::function<void(State &, bool)> &adjust) {
  z3::expr pcT = st.pathCond && cs;
  z3::expr pcF = st.pathCond && !cs;
  // With merging, infeasible states are dropped lazily (when they would
  // report an error) except on back edges, where they would loop.
  bool check = !limits.mergeStates || taken <= st.pc;
  bool fT = !check || feasible(pcT);
  bool fF = !check || !fT || feasible(pcF);
  if (fT && fF) {
    State other = st;
    other.pathCond = pcT;
    other.pc = taken;
    adjust(other, true);
    forks.push_back(std::move(other));
  }
  if (fF) {
    st.pathCond = pcF;
    adjust(st, false);
    ++st.pc;
  } else {
    st.pathCond = pcT;
    adjust(st, true);
    st.pc = taken;
  }
}

void Machine::stepCall(State &st, const Instruction &in) {
  if (in.src == 0) {
    stepHelper(st, in);
    return;
  }
  if (in.src != 1) {
    unsupported(in, "kfunc call " + std::to_string(in.imm));
    return;
  }
  auto t = target(in, in.imm);
  if (!t)
    return;
  if (st.frames.size() >= limits.maxCallDepth) {
    invalid(in, "call depth exceeds " + std::to_string(limits.maxCallDepth) +
                    " frames");
    return;
  }
  CallRecord cr;
  cr.returnPc = st.pc + 1;
  for (int i = 0; i < 4; ++i)
    cr.saved[i] = st.regs[6 + i];
  st.calls.push_back(cr);
  st.frames.emplace_back();
  for (int r = 6; r <= 9; ++r)
    st.regs[r] = Reg();
  st.regs[0] = Reg();
  Region rg;
  rg.kind = Region::Stack;
  rg.index = int(st.frames.size() - 1);
  st.regs[10] = ptrReg(rg, bv64(0));
  st.pc = *t;
}

bool Machine::stepExit(State &st, const Instruction &in) {
  if (op::cls(in.opcode) == op::JMP32) {
    invalid(in, "invalid exit");
    return false;
  }
  if (st.regs[0].kind != Reg::Scalar) {
    if (st.regs[0].kind == Reg::Uninit)
      invalid(in, "read of uninitialized register r0");
    else
      unsupported(in, "returning a pointer");
    return false;
  }
  if (st.calls.empty())
    return true;
  CallRecord cr = st.calls.back();
  st.calls.pop_back();
  st.frames.pop_back();
  for (int i = 0; i < 4; ++i)
    st.regs[6 + i] = cr.saved[i];
  for (int r = 1; r <= 5; ++r)
    st.regs[r] = Reg();
  Region rg;
  rg.kind = Region::Stack;
  rg.index = int(st.frames.size() - 1);
  st.regs[10] = ptrReg(rg, bv64(0));
  st.pc = cr.returnPc;
  return false;
}

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

std::optional<int> Machine::mapArg(const State &st, unsigned r,
                                   const Instruction &in) {
  const Reg &m = st.regs[r];
  if (m.kind != Reg::MapRef) {
    invalid(in, "argument r" + std::to_string(r) + " is not a map");
    return std::nullopt;
  }
  return m.map;
}

z3::expr Machine::room(const State &st, int map) {
  if (inputs.ringbufAlwaysHasRoom)
    return c.bool_val(true);
  return c.bool_const((prog.maps[map].name + ".room." +
                       std::to_string(freshCounter++))
                          .c_str());
}

void Machine::appendRecord(State &st, int map, const z3::expr &bits,
                           unsigned size, const z3::expr &when,
                           const Instruction &in) {
  MapMem &ms = st.maps[map];
  if (ms.recordSize == 0) {
    ms.recordSize = size;
    ms.records = c.constant(
        (prog.maps[map].name + ".records").c_str(),
        c.array_sort(c.bv_sort(64), c.bv_sort(8 * size)));
  } else if (ms.recordSize != size) {
    unsupported(in, "ring buffer " + prog.maps[map].name +
                        " with records of different sizes (" +
                        std::to_string(ms.recordSize) + " and " +
                        std::to_string(size) + ")");
    return;
  }
  ms.records = iteE(when, z3::store(*ms.records, *ms.count, bits), *ms.records);
  ms.count = iteE(when, *ms.count + bv64(1), *ms.count).simplify();
}

z3::expr Machine::nextInput(std::vector<z3::expr> &seq, z3::expr &count,
                            size_t &max, const char *name, unsigned bits) {
  while (seq.size() <= max)
    seq.push_back(fresh(std::string(name) + "." + std::to_string(seq.size()),
                        bits));
  z3::expr v = seq[max];
  for (size_t i = max; i-- > 0;)
    v = iteE(count == bv64(i), seq[i], v);
  count = (count + bv64(1)).simplify();
  ++max;
  return v.simplify();
}

void Machine::stepHelper(State &st, const Instruction &in) {
  int id = in.imm;
  HelperCall call{st.pathCond, id, helperName(id), {}, in.slot};
  for (unsigned r = 1; r <= 5; ++r) {
    const Reg &g = st.regs[r];
    if (g.kind == Reg::Scalar || g.kind == Reg::Ptr)
      call.args.push_back(*g.val);
  }
  std::optional<Reg> r0;
  auto argScalar = [&](unsigned r) { return scalar(st, r, in); };
  auto argConst = [&](unsigned r) -> std::optional<int64_t> {
    auto v = argScalar(r);
    if (!v)
      return std::nullopt;
    auto k = constant(*v);
    if (!k)
      unsupported(in, std::string("helper ") + helperName(id) +
                          " with a symbolic argument r" + std::to_string(r));
    return k;
  };
  auto ret = [&](const z3::expr &v) { r0 = scalarReg(v); };
  switch (id) {
  case 1: { // map_lookup_elem(map, key)
    auto m = mapArg(st, 1, in);
    if (!m)
      return;
    const MapDef &md = prog.maps[*m];
    if (md.type == maptype::Ringbuf) {
      invalid(in, "lookup in a ring buffer");
      return;
    }
    auto key = load(st, st.regs[2], 0, md.keySize, in);
    if (!key)
      return;
    Region rg;
    rg.index = *m;
    Reg p;
    if (md.globalData) {
      rg.kind = Region::Global;
      p = ptrReg(rg, bv64(0));
      p.nullCond = (*key != c.bv_val(0, 32)).simplify();
    } else {
      rg.kind = Region::MapValue;
      rg.key = *key;
      p = ptrReg(rg, bv64(0));
      p.nullCond = md.isArray()
                       ? z3::uge(*key, c.bv_val(md.maxEntries, 32)).simplify()
                       : (!memRead(*st.maps[*m].present, *key)).simplify();
    }
    if (p.nullCond->is_false())
      p.nullCond.reset();
    else
      p.nullId = nextNullId++;
    r0 = p;
    break;
  }
  case 2: { // map_update_elem(map, key, value, flags)
    auto m = mapArg(st, 1, in);
    if (!m)
      return;
    const MapDef &md = prog.maps[*m];
    if (md.type == maptype::Ringbuf || md.globalData) {
      invalid(in, "update of map " + md.name);
      return;
    }
    auto key = load(st, st.regs[2], 0, md.keySize, in);
    if (!key)
      return;
    auto val = load(st, st.regs[3], 0, md.valueSize, in);
    if (!val)
      return;
    auto flags = argConst(4);
    if (!flags)
      return;
    MapMem &ms = st.maps[*m];
    // The kernel's checks, in its order: unknown flags, then (arrays) the
    // index range, NOEXIST and BPF_F_LOCK (4) without a spin lock in the
    // value, (hashes) BPF_F_LOCK, presence and capacity.
    constexpr int64_t kLock = 4;
    int64_t base = *flags & ~kLock;
    if (base > 2 || *flags < 0) {
      ret(bv64(uint64_t(kEINVAL)));
      break;
    }
    if (md.isArray()) {
      auto k = constant(*key);
      if (k && uint32_t(*k) >= md.maxEntries) {
        ret(bv64(uint64_t(kE2BIG)));
        break;
      }
      if (base == 1 || (*flags & kLock)) {
        ret(bv64(uint64_t(base == 1 ? kEEXIST : kEINVAL)));
        break;
      }
      LogMemory *slot = arraySlot(st, *m, *key, in);
      if (!slot)
        return;
      storeMem(*slot, bv64(0), *val);
      ret(bv64(0));
      break;
    }
    if (*flags & kLock) {
      ret(bv64(uint64_t(kEINVAL)));
      break;
    }
    z3::expr exists = memRead(*ms.present, *key);
    z3::expr full = z3::uge(*ms.count, bv64(md.maxEntries));
    z3::expr code = bv64(0);
    if (*flags == 1)
      code = z3::ite(exists, bv64(uint64_t(kEEXIST)),
                     z3::ite(full, bv64(uint64_t(kE2BIG)), bv64(0)));
    else if (*flags == 2)
      code = z3::ite(exists, bv64(0), bv64(uint64_t(kENOENT)));
    else
      code = z3::ite(!exists && full, bv64(uint64_t(kE2BIG)), bv64(0));
    code = code.simplify();
    z3::expr ok = (code == bv64(0)).simplify();
    memWrite(*ms.values, *key, iteE(ok, *val, memRead(*ms.values, *key)));
    ms.count = iteE(ok && !exists, *ms.count + bv64(1), *ms.count).simplify();
    memWrite(*ms.present, *key, (ok || exists).simplify());
    ret(code);
    break;
  }
  case 3: { // map_delete_elem(map, key)
    auto m = mapArg(st, 1, in);
    if (!m)
      return;
    const MapDef &md = prog.maps[*m];
    if (!md.isHash()) {
      if (md.type == maptype::Ringbuf) {
        invalid(in, "delete from a ring buffer");
        return;
      }
      ret(bv64(uint64_t(kEINVAL)));
      break;
    }
    auto key = load(st, st.regs[2], 0, md.keySize, in);
    if (!key)
      return;
    MapMem &ms = st.maps[*m];
    z3::expr exists = memRead(*ms.present, *key);
    ms.count = iteE(exists, *ms.count - bv64(1), *ms.count).simplify();
    memWrite(*ms.present, *key, c.bool_val(false));
    ret(z3::ite(exists, bv64(0), bv64(uint64_t(kENOENT))));
    break;
  }
  case 5: // ktime_get_ns
  case 125: // ktime_get_boot_ns
    ret(nextInput(clocks, st.clockCount, st.clockMax, "clock", 64));
    break;
  case 7: // get_prandom_u32
    ret(zext64(nextInput(draws, st.drawCount, st.drawMax, "draw", 32)));
    break;
  case 6: // trace_printk: no effect on the outcome; returns bytes written
    ret(fresh("trace_printk." + std::to_string(freshCounter++), 64));
    break;
  case 8: // get_smp_processor_id: the CPU whose per-CPU copies we model
    ret(zext64(fresh("cpu", 32)));
    break;
  case 23: { // redirect(ifindex, flags)
    auto flags = argScalar(2);
    if (!flags)
      return;
    if (prog.hook == Hook::TC) // TC_ACT_REDIRECT unless unknown flags
      ret(z3::ite((*flags & bv64(~uint64_t(1))) == bv64(0), bv64(7), bv64(2)));
    else // XDP_REDIRECT, or XDP_ABORTED for any flag
      ret(z3::ite(*flags == bv64(0), bv64(4), bv64(0)));
    break;
  }
  case 44: // xdp_adjust_head(ctx, delta)
  case 65: { // xdp_adjust_tail(ctx, delta)
    if (prog.hook != Hook::XDP || st.regs[1].kind != Reg::Ptr ||
        st.regs[1].region.kind != Region::Ctx) {
      invalid(in, std::string(helperName(id)) + " without the XDP context");
      return;
    }
    auto d = argScalar(2);
    if (!d)
      return;
    z3::expr delta = sext64(d->extract(31, 0));
    z3::expr ok(c);
    if (id == 44) {
      z3::expr ns = st.pktStart + delta;
      // data_hard_start + xdp_frame <= new data <= data_end - ETH_HLEN
      ok = (ns >= bv64(uint64_t(-int64_t(kXdpFrameHeadroom))) &&
            ns + bv64(kEthHlen) <= st.pktEnd);
      st.pktStart = iteE(ok, ns, st.pktStart).simplify();
    } else {
      z3::expr ne = st.pktEnd + delta;
      // shrink down to ETH_HLEN, grow into the tailroom (zeroed bytes);
      // the tailroom is the input packet array's limit: 4096 - 256 - 320.
      ok = (ne >= st.pktStart + bv64(kEthHlen) && ne <= bv64(3520));
      // Bytes exposed by growing are zeroed by the kernel (up to 64 bytes
      // of growth are modelled; more is unsupported).
      if (auto k = constant(delta)) {
        if (*k > 64) {
          unsupported(in, "xdp_adjust_tail growing by more than 64 bytes");
          return;
        }
        for (int64_t i = 0; i < *k; ++i) {
          z3::expr ix = (st.pktEnd + bv64(i)).simplify();
          memWrite(st.packet, ix,
                   iteE(ok, c.bv_val(0, 8), memRead(st.packet, ix)));
        }
      } else {
        unsupported(in, "xdp_adjust_tail by a symbolic delta");
        return;
      }
      st.pktEnd = iteE(ok, ne, st.pktEnd).simplify();
    }
    ret(z3::ite(ok, bv64(0), bv64(uint64_t(kEINVAL))));
    break;
  }
  case 28: { // csum_diff(from, from_size, to, to_size, seed)
    auto fs = argConst(2), ts = argConst(4);
    auto seed = argScalar(5);
    if (!fs || !ts || !seed)
      return;
    if (*fs % 4 || *ts % 4 || *fs > 512 || *ts > 512) {
      ret(bv64(uint64_t(kEINVAL)));
      break;
    }
    // One's complement sum of ~from words and to words, with end-around
    // carry, as csum_partial adds them.
    z3::expr sum = seed->extract(31, 0);
    auto add = [&](const z3::expr &w) {
      z3::expr s = z3::zext(sum, 1) + z3::zext(w, 1);
      sum = (s.extract(31, 0) + z3::zext(s.extract(32, 32), 31));
    };
    for (int64_t i = 0; i < *fs; i += 4) {
      auto w = load(st, st.regs[1], i, 4, in);
      if (!w)
        return;
      add(~*w);
    }
    for (int64_t i = 0; i < *ts; i += 4) {
      auto w = load(st, st.regs[3], i, 4, in);
      if (!w)
        return;
      add(*w);
    }
    ret(zext64(sum.simplify()));
    break;
  }
  case 10: // l3_csum_replace(skb, offset, from, to, flags)
  case 11: { // l4_csum_replace
    if (prog.hook != Hook::TC) {
      invalid(in, std::string(helperName(id)) + " outside tc");
      return;
    }
    // The kernel's checks in its order (net/core/filter.c): unknown flags,
    // odd or large offset, offset beyond the packet, then the update.
    auto off = argConst(2);
    auto from = argScalar(3), to = argScalar(4);
    auto flags = argConst(5);
    if (!off || !from || !to || !flags)
      return;
    int64_t allowed = id == 10 ? 0xf : 0xf | 0x10 | 0x20 | 0x40 | 0x80;
    int size = int(*flags & 0xf);
    if (*flags & ~allowed) {
      ret(bv64(uint64_t(kEINVAL)));
      break;
    }
    uint32_t o32 = uint32_t(*off);
    if (o32 > 0xffff || (o32 & 1)) {
      ret(bv64(uint64_t(kEFAULT)));
      break;
    }
    bool mangled0 = id == 11 && (*flags & 0x20) && !(*flags & 0x40);
    z3::expr addr = (st.pktStart + bv64(o32)).simplify();
    z3::expr inRange = z3::ule(bv64(o32 + 2), st.pktEnd - st.pktStart);
    z3::expr sum16 = loadMem(st.packet, addr, 2);
    auto add16 = [&](const z3::expr &a, const z3::expr &b) {
      z3::expr s = z3::zext(a, 1) + z3::zext(b, 1);
      return s.extract(15, 0) + z3::zext(s.extract(16, 16), 15);
    };
    auto add32 = [&](const z3::expr &a, const z3::expr &b) {
      z3::expr s = z3::zext(a, 1) + z3::zext(b, 1);
      return s.extract(31, 0) + z3::zext(s.extract(32, 32), 31);
    };
    auto fold = [&](const z3::expr &s32) { // csum_fold
      return ~add16(s32.extract(31, 16), s32.extract(15, 0));
    };
    z3::expr notSum = ~z3::zext(sum16, 16); // ~csum_unfold(*sum)
    z3::expr f32 = from->extract(31, 0), t32 = to->extract(31, 0);
    z3::expr nsum(c);
    z3::expr code = bv64(0);
    if (size == 0) { // by diff: csum_fold(csum_add(diff, ~csum_unfold(sum)))
      code = z3::ite(*from != bv64(0), bv64(uint64_t(kEINVAL)), bv64(0));
      nsum = fold(add32(t32, notSum));
    } else if (size == 2 && id == 10) {
      // csum_replace2: ~csum16_add(csum16_sub(~sum, old), new)
      z3::expr o = from->extract(15, 0), nw = to->extract(15, 0);
      nsum = ~add16(add16(~sum16, ~o), nw);
    } else if (size == 2 || size == 4) {
      // csum_replace4 (l4's 2-byte form is the 4-byte one on zero-extended
      // values): csum_fold(csum_add(csum_sub(~csum_unfold(sum), from), to))
      if (size == 2)
        f32 = z3::zext(from->extract(15, 0), 16), t32 = z3::zext(to->extract(15, 0), 16);
      nsum = fold(add32(add32(notSum, ~f32), t32));
    } else {
      code = bv64(uint64_t(kEINVAL)); // checked after the offset
      nsum = sum16;                    // (not written)
    }
    if (mangled0) // CSUM_MANGLED_0: a result of 0 is written as 0xffff
      nsum = z3::ite(nsum == c.bv_val(0, 16), c.bv_val(0xffff, 16), nsum);
    z3::expr write = code == bv64(0);
    if (mangled0) { // a zero checksum (none) is left alone, and 0 returned
      code = z3::ite(sum16 == c.bv_val(0, 16), bv64(0), code);
      write = write && sum16 != c.bv_val(0, 16);
    }
    code = z3::ite(inRange, code, bv64(uint64_t(kEFAULT)));
    write = write && inRange;
    storeMem(st.packet, addr, z3::ite(write, nsum, sum16).simplify());
    ret(code.simplify());
    break;
  }
  case 130: { // ringbuf_output(map, data, size, flags)
    auto m = mapArg(st, 1, in);
    auto size = argConst(3);
    if (!m || !size)
      return;
    if (prog.maps[*m].type != maptype::Ringbuf) {
      invalid(in, "ringbuf_output to a map that is not a ring buffer");
      return;
    }
    if (*size <= 0 || *size > 4096) {
      unsupported(in, "ringbuf_output of " + std::to_string(*size) + " bytes");
      return;
    }
    auto bits = load(st, st.regs[2], 0, unsigned(*size), in);
    if (!bits)
      return;
    z3::expr has = room(st, *m);
    appendRecord(st, *m, *bits, unsigned(*size), has, in);
    ret(z3::ite(has, bv64(0), bv64(uint64_t(kEAGAIN))));
    break;
  }
  case 131: { // ringbuf_reserve(map, size, flags)
    auto m = mapArg(st, 1, in);
    auto size = argConst(2);
    if (!m || !size)
      return;
    if (prog.maps[*m].type != maptype::Ringbuf) {
      invalid(in, "ringbuf_reserve in a map that is not a ring buffer");
      return;
    }
    if (*size <= 0 || *size > 4096) {
      unsupported(in, "ringbuf_reserve of " + std::to_string(*size) + " bytes");
      return;
    }
    Record rec;
    rec.map = *m;
    rec.size = unsigned(*size);
    rec.bits = fresh(prog.maps[*m].name + ".reserved." +
                         std::to_string(freshCounter++),
                     unsigned(8 * *size));
    st.records.push_back(rec);
    Region rg;
    rg.kind = Region::Record;
    rg.index = int(st.records.size() - 1);
    Reg p = ptrReg(rg, bv64(0));
    z3::expr has = room(st, *m);
    if (!has.is_true()) {
      p.nullCond = !has;
      p.nullId = nextNullId++;
    }
    r0 = p;
    break;
  }
  case 132: // ringbuf_submit(data, flags)
  case 133: { // ringbuf_discard(data, flags)
    const Reg &p = st.regs[1];
    if (!checkPtr(p, in, id == 132 ? "ringbuf_submit" : "ringbuf_discard"))
      return;
    if (p.region.kind != Region::Record || constant(*p.val) != 0) {
      invalid(in, "ring-buffer submit/discard of a pointer that is not a "
                  "reserved record");
      return;
    }
    Record &rec = st.records[p.region.index];
    if (!rec.bits) {
      invalid(in, "record submitted or discarded twice");
      return;
    }
    if (id == 132) {
      z3::expr bits = *rec.bits;
      appendRecord(st, rec.map, bits, rec.size, c.bool_val(true), in);
    }
    st.records[p.region.index].bits.reset();
    r0 = Reg(); // void
    break;
  }
  default:
    fail(ExecStatus::Unsupported,
         std::string("not supported yet: helper ") + helperName(id) + " (" +
             std::to_string(id) + ") at " + where(in));
    return;
  }
  if (err)
    return;
  st.log.push_back(std::move(call));
  for (unsigned r = 1; r <= 5; ++r)
    st.regs[r] = Reg();
  st.regs[0] = r0 ? *r0 : Reg();
  ++st.pc;
}

//===----------------------------------------------------------------------===//
// Merging
//===----------------------------------------------------------------------===//

/// ite(c, a, b) of two states of one map, into a. A ring buffer that has no
/// records yet on one side has no record sort: the other side's array is
/// taken (entries at or past the count are unconstrained anyway).
void mergeMapState(const z3::expr &c, MapState &a, const MapState &b) {
  if (a.recordSize == 0 && b.recordSize != 0) {
    a.values = b.values;
    a.recordSize = b.recordSize;
  } else if (a.recordSize == b.recordSize) {
    a.values = iteE(c, a.values, b.values);
  } // else: b has no records; a's array stands
  if (a.present)
    a.present = iteE(c, *a.present, *b.present);
  if (a.count)
    a.count = iteE(c, *a.count, *b.count);
}

/// The same for the memories of one map in two states.
void mergeMapMem(const z3::expr &g, MapMem &a, const MapMem &b) {
  if (a.bytes)
    memMerge(g, *a.bytes, *b.bytes);
  auto untouched = [&](uint32_t k) {
    return LogMemory(selectResolved(*a.arrayBase, g.ctx().bv_val(k, 32)));
  };
  for (auto &[k, slot] : b.slots)
    if (!a.slots.count(k))
      a.slots.emplace(k, untouched(k));
  for (auto &[k, slot] : a.slots) {
    auto it = b.slots.find(k);
    memMerge(g, slot, it != b.slots.end() ? it->second : untouched(k));
  }
  if (a.values)
    memMerge(g, *a.values, *b.values);
  if (a.present)
    memMerge(g, *a.present, *b.present);
  if (a.count)
    a.count = iteE(g, *a.count, *b.count);
  if (a.recordSize == 0 && b.recordSize != 0) {
    a.records = b.records;
    a.recordSize = b.recordSize;
  } else if (a.recordSize && a.recordSize == b.recordSize) {
    a.records = iteE(g, *a.records, *b.records);
  }
}

MapMem toMem(const MapDef &m, const MapState &s) {
  MapMem mm;
  if (m.type == maptype::Ringbuf) {
    mm.count = s.count;
    if (s.recordSize) {
      mm.records = s.values;
      mm.recordSize = s.recordSize;
    }
  } else if (m.globalData) {
    mm.bytes.emplace(s.values);
  } else if (m.isArray()) {
    mm.arrayBase = s.values;
  } else {
    mm.values.emplace(s.values);
    mm.present.emplace(*s.present);
    mm.count = s.count;
  }
  return mm;
}

MapState toState(const MapDef &m, const MapMem &mm, const MapState &initial) {
  MapState s = initial;
  if (m.type == maptype::Ringbuf) {
    s.count = mm.count;
    if (mm.recordSize) {
      s.values = *mm.records;
      s.recordSize = mm.recordSize;
    }
  } else if (m.globalData) {
    s.values = memMaterialize(*mm.bytes);
  } else if (m.isArray()) {
    z3::expr a = *mm.arrayBase;
    for (auto &[k, slot] : mm.slots)
      a = z3::store(a, a.ctx().bv_val(k, 32), memMaterialize(slot));
    s.values = a;
  } else {
    s.values = memMaterialize(*mm.values);
    s.present = memMaterialize(*mm.present);
    s.count = mm.count;
  }
  return s;
}

bool Machine::mergeRegs(const Reg &a, const Reg &b, const z3::expr &ca,
                        Reg &out) {
  if (a.kind != b.kind)
    return false;
  out = a;
  switch (a.kind) {
  case Reg::Uninit:
    return true;
  case Reg::Scalar:
    out.val = iteE(ca, *a.val, *b.val);
    return true;
  case Reg::MapRef:
    return a.map == b.map;
  case Reg::Ptr:
    if (!sameRegion(a.region, b.region) || a.nullId != b.nullId ||
        a.nullCond.has_value() != b.nullCond.has_value())
      return false;
    if (a.nullCond && !z3::eq(*a.nullCond, *b.nullCond))
      return false;
    out.val = iteE(ca, *a.val, *b.val);
    return true;
  }
  return false;
}

/// The join of two path conditions built by branch(): pc = and(and(P, c1),
/// c2)... Returns (guard, joined) with guard true on a's side and false on
/// b's (within the joined condition): the first conjunct after the common
/// prefix P when the two sides diverged there on c / not c, else a's whole
/// condition. Keeps merged conditions and the ite guards small.
std::pair<z3::expr, z3::expr> joinConditions(const z3::expr &a,
                                             const z3::expr &b) {
  auto isAnd2 = [](const z3::expr &e) {
    return e.is_app() && e.decl().decl_kind() == Z3_OP_AND && e.num_args() == 2;
  };
  std::map<unsigned, size_t> depthA;
  std::vector<z3::expr> chainA{a};
  while (isAnd2(chainA.back()))
    chainA.push_back(chainA.back().arg(0));
  for (size_t i = 0; i < chainA.size(); ++i)
    depthA[Z3_get_ast_id(a.ctx(), chainA[i])] = i;
  std::vector<z3::expr> chainB{b};
  std::optional<size_t> common;
  while (true) {
    auto it = depthA.find(Z3_get_ast_id(b.ctx(), chainB.back()));
    if (it != depthA.end()) {
      common = it->second;
      break;
    }
    if (!isAnd2(chainB.back()))
      break;
    chainB.push_back(chainB.back().arg(0));
  }
  if (!common || *common == 0 || chainB.size() < 2)
    return {a, a || b};
  z3::expr p = chainA[*common];
  // The conjuncts right after P on each side.
  z3::expr firstA = chainA[*common - 1].arg(1);
  z3::expr firstB = chainB[chainB.size() - 2].arg(1);
  auto negates = [](const z3::expr &x, const z3::expr &y) {
    return x.is_app() && x.decl().decl_kind() == Z3_OP_NOT && z3::eq(x.arg(0), y);
  };
  if (!negates(firstA, firstB) && !negates(firstB, firstA))
    return {a, a || b};
  if (*common == 1 && chainB.size() == 2)
    return {firstA, p}; // a = P and c, b = P and not c
  auto rest = [](const std::vector<z3::expr> &chain, size_t upto) {
    z3::expr r = chain[upto - 1].arg(1);
    for (size_t i = upto - 1; i-- > 0;)
      r = r && chain[i].arg(1);
    return r;
  };
  return {firstA, p && (rest(chainA, *common) || rest(chainB, chainB.size() - 1))};
}

/// Merges b into a when compatible (same pc and call stack checked by the
/// caller).
bool Machine::tryMerge(State &a, State &b) {
  if (a.frames.size() != b.frames.size() || a.records.size() != b.records.size())
    return false;
  for (size_t i = 0; i < a.calls.size(); ++i)
    if (a.calls[i].returnPc != b.calls[i].returnPc)
      return false;
  auto [ca, joined] = joinConditions(a.pathCond, b.pathCond);
  RegMask lv = live[a.pc];
  std::array<Reg, 11> regs;
  for (unsigned r = 0; r < 11; ++r) {
    if (!(lv & (1u << r)))
      continue;
    if (!mergeRegs(a.regs[r], b.regs[r], ca, regs[r]))
      return false;
  }
  std::vector<CallRecord> calls = a.calls;
  for (size_t i = 0; i < a.calls.size(); ++i) {
    RegMask rl = live[a.calls[i].returnPc];
    for (unsigned k = 0; k < 4; ++k) {
      if (!(rl & (1u << (6 + k)))) {
        calls[i].saved[k] = Reg();
        continue;
      }
      if (!mergeRegs(a.calls[i].saved[k], b.calls[i].saved[k], ca,
                     calls[i].saved[k]))
        return false;
    }
  }
  std::vector<Record> records = a.records;
  for (size_t i = 0; i < a.records.size(); ++i) {
    if (a.records[i].bits.has_value() != b.records[i].bits.has_value() ||
        a.records[i].map != b.records[i].map ||
        a.records[i].size != b.records[i].size)
      return false;
    if (a.records[i].bits)
      records[i].bits = iteE(ca, *a.records[i].bits, *b.records[i].bits);
  }
  // Compatible: build the merged state in a.
  ++res.stats.merges;
  a.regs = regs;
  a.calls = calls;
  a.records = records;
  for (size_t f = 0; f < a.frames.size(); ++f) {
    Frame &fa = a.frames[f];
    Frame &fb = b.frames[f];
    for (int i = 0; i < kStackSize; ++i) {
      auto &x = fa.cells[i];
      const auto &y = fb.cells[i];
      if (x && y)
        x = iteE(ca, *x, *y);
      else
        x.reset(); // uninitialized on one side: unreadable
    }
    std::map<int, Reg> spills;
    for (auto &[k, r] : fa.spills) {
      auto it = fb.spills.find(k);
      Reg m;
      if (it != fb.spills.end() && mergeRegs(r, it->second, ca, m))
        spills[k] = m;
    }
    fa.spills = std::move(spills);
  }
  for (size_t m = 0; m < a.maps.size(); ++m)
    mergeMapMem(ca, a.maps[m], b.maps[m]);
  memMerge(ca, a.packet, b.packet);
  a.pktStart = iteE(ca, a.pktStart, b.pktStart);
  a.pktEnd = iteE(ca, a.pktEnd, b.pktEnd);
  a.drawCount = iteE(ca, a.drawCount, b.drawCount);
  a.clockCount = iteE(ca, a.clockCount, b.clockCount);
  a.drawMax = std::max(a.drawMax, b.drawMax);
  a.clockMax = std::max(a.clockMax, b.clockMax);
  size_t common = 0;
  while (common < a.log.size() && common < b.log.size() &&
         a.log[common].insn == b.log[common].insn &&
         z3::eq(a.log[common].guard, b.log[common].guard))
    ++common;
  for (size_t i = common; i < b.log.size(); ++i)
    a.log.push_back(b.log[i]);
  a.steps = std::max(a.steps, b.steps);
  a.pathCond = joined;
  return true;
}

/// Merges the states waiting at one instruction, in three rounds:
/// 1. in arrival order, states whose live registers are the same terms
///    (paths that end alike, e.g. the parse failures that all pass the
///    frame): no if-then-else of values;
/// 2. siblings: while two states' path conditions are P and c, P and not c
///    (c the conjunct after their longest common prefix P), the pair with
///    the longest P, under the guard c (joinConditions), into one state
///    with path condition P. An early-exit loop's exits (exit k: P and not
///    c0 ... and not c(k-1) and ck, then the fall-through) so merge from
///    the last exit back into ite(c0, 0, ite(c1, 1, ...)), the shape of a
///    decoder's chain (NetfnSemantics' nulPadded); merged in arrival order,
///    every guard was a disjunction of the earlier exits' conditions
///    (first_seen 4.6 s -> 0.7 s, metrics 3.8 s -> 0.4 s);
/// 3. the rest in arrival order.
/// Without round 1, token_bucket's exit states (pass, drop, each parse
/// failure) merged as siblings into nested ites of the same return codes,
/// and its sweep took five times as long.
void Machine::mergeWaiting(std::vector<State> &states) {
  if (states.size() < 2)
    return;
  auto isAnd2 = [](const z3::expr &e) {
    return e.is_app() && e.decl().decl_kind() == Z3_OP_AND && e.num_args() == 2;
  };
  // The conjunct chain of a path condition, root first: chain[0] is the
  // innermost left operand, chain[i + 1] = chain[i] and (conjunct i).
  auto chainOf = [&](const z3::expr &pc) {
    std::vector<z3::expr> chain{pc};
    while (isAnd2(chain.back()))
      chain.push_back(chain.back().arg(0));
    std::reverse(chain.begin(), chain.end());
    return chain;
  };
  auto negates = [](const z3::expr &x, const z3::expr &y) {
    return x.is_app() && x.decl().decl_kind() == Z3_OP_NOT &&
           z3::eq(x.arg(0), y);
  };
  // The length of the common prefix when a and b are siblings, else 0.
  auto siblingDepth = [&](const std::vector<z3::expr> &a,
                          const std::vector<z3::expr> &b) -> size_t {
    size_t n = 0;
    while (n < a.size() && n < b.size() && z3::eq(a[n], b[n]))
      ++n;
    if (n == 0 || n >= a.size() || n >= b.size())
      return 0;
    z3::expr ca = a[n].arg(1), cb = b[n].arg(1);
    return negates(ca, cb) || negates(cb, ca) ? n : 0;
  };
  auto sameRegs = [&](const State &a, const State &b) {
    RegMask lv = live[a.pc];
    for (unsigned r = 0; r < 11; ++r) {
      if (!(lv & (1u << r)))
        continue;
      const Reg &x = a.regs[r], &y = b.regs[r];
      if (x.kind != y.kind || x.val.has_value() != y.val.has_value() ||
          (x.val && !z3::eq(*x.val, *y.val)))
        return false;
    }
    return true;
  };
  // Round 1.
  {
    std::vector<State> left;
    for (State &s : states) {
      bool merged = false;
      for (State &o : left)
        if (sameRegs(o, s) && (merged = tryMerge(o, s)))
          break;
      if (!merged)
        left.push_back(std::move(s));
    }
    states = std::move(left);
  }
  // Round 2.
  size_t k = states.size();
  std::vector<std::vector<z3::expr>> chains;
  for (const State &s : states)
    chains.push_back(chainOf(s.pathCond));
  std::vector<bool> alive(k, true);
  // depth[i][j] (i < j): siblingDepth, 0 when not siblings or incompatible.
  std::vector<std::vector<size_t>> depth(k, std::vector<size_t>(k, 0));
  for (size_t i = 0; i < k; ++i)
    for (size_t j = i + 1; j < k; ++j)
      depth[i][j] = siblingDepth(chains[i], chains[j]);
  while (true) {
    std::optional<std::pair<size_t, size_t>> best;
    size_t bestDepth = 0;
    for (size_t i = 0; i < k; ++i)
      for (size_t j = i + 1; j < k; ++j)
        if (alive[i] && alive[j] && depth[i][j] > bestDepth) {
          best = {i, j};
          bestDepth = depth[i][j];
        }
    if (!best)
      break;
    auto [i, j] = *best;
    if (!tryMerge(states[i], states[j])) {
      depth[i][j] = 0;
      continue;
    }
    alive[j] = false;
    chains[i] = chainOf(states[i].pathCond);
    for (size_t o = 0; o < k; ++o)
      if (o != i && alive[o])
        depth[std::min(o, i)][std::max(o, i)] =
            siblingDepth(chains[std::min(o, i)], chains[std::max(o, i)]);
  }
  // Round 3.
  std::vector<State> left;
  for (size_t i = 0; i < k; ++i) {
    if (!alive[i])
      continue;
    bool merged = false;
    for (State &o : left)
      if ((merged = tryMerge(o, states[i])))
        break;
    if (!merged)
      left.push_back(std::move(states[i]));
  }
  states = std::move(left);
}

//===----------------------------------------------------------------------===//
// Driver
//===----------------------------------------------------------------------===//

void Machine::finish(State &st) {
  ++res.stats.exits;
  std::vector<MapState> maps;
  for (size_t m = 0; m < st.maps.size(); ++m)
    maps.push_back(toState(prog.maps[m], st.maps[m], res.initialMaps[m]));
  ExecOutcome o{st.pathCond, *st.regs[0].val, std::move(maps),
                memMaterialize(st.packet), st.pktStart, st.pktEnd,
                st.drawCount, st.clockCount, st.log, st.steps};
  res.outcomes.push_back(std::move(o));
}

void Machine::run(State init) {
  // States waiting at (pc, return pcs); the smallest pc runs first so that
  // the states of both arms of a branch meet at the join before going on.
  using Key = std::pair<size_t, std::vector<size_t>>;
  std::map<Key, std::vector<State>> work;
  auto keyOf = [](const State &s) {
    Key k{s.pc, {}};
    for (const CallRecord &cr : s.calls)
      k.second.push_back(cr.returnPc);
    return k;
  };
  // States are merged when their instruction runs, when every state that
  // reaches it (other than through a back edge) has arrived.
  auto push = [&](State s) {
    Key k = keyOf(s);
    work[k].push_back(std::move(s));
  };
  push(std::move(init));
  while (!work.empty()) {
    auto it = work.begin();
    std::vector<State> states = std::move(it->second);
    work.erase(it);
    if (limits.mergeStates && !states.empty() && states[0].pc < insns.size())
      mergeWaiting(states);
    for (State &st : states) {
      if (st.pc >= insns.size()) {
        res.status = ExecStatus::Error;
        res.message = "execution falls off the end of the program";
        return;
      }
      if (++res.stats.steps > limits.maxSteps) {
        res.status = ExecStatus::BoundExceeded;
        res.message = "unknown: bound exceeded (" +
                      std::to_string(limits.maxSteps) + " instructions)";
        return;
      }
      const Instruction &in = insns[st.pc];
      ++st.steps;
      uint8_t cl = op::cls(in.opcode);
      bool done = false;
      forks.clear();
      if (cl == op::ALU || cl == op::ALU64) {
        stepAlu(st, in);
        ++st.pc;
      } else if (cl == op::JMP || cl == op::JMP32) {
        uint8_t o = in.opcode & 0xf0;
        if (o == op::EXIT) {
          done = stepExit(st, in);
        } else if (o == op::CALL) {
          stepCall(st, in);
        } else if (o == op::JA) {
          if (auto t = target(in, cl == op::JMP32 ? int64_t(in.imm) : in.off))
            st.pc = *t;
        } else {
          stepBranch(st, in);
        }
      } else {
        stepMem(st, in);
        ++st.pc;
      }
      if (err && limits.mergeStates && limits.pruneInfeasible &&
          !feasible(st.pathCond)) {
        err.reset(); // an infeasible state (branches are checked lazily)
        forks.clear();
        continue;
      }
      if (err) {
        res.status = err->status;
        res.message = err->message;
        return;
      }
      if (done) {
        if (res.stats.exits >= limits.maxPaths) {
          res.status = ExecStatus::BoundExceeded;
          res.message = "unknown: bound exceeded (" +
                        std::to_string(limits.maxPaths) + " paths)";
          return;
        }
        finish(st);
        continue;
      }
      std::vector<State> fk = std::move(forks);
      forks.clear();
      push(std::move(st));
      for (State &f : fk)
        push(std::move(f));
    }
  }
  res.status = ExecStatus::Ok;
}

} // namespace

//===----------------------------------------------------------------------===//
// Public functions
//===----------------------------------------------------------------------===//

z3::expr selectValue(const z3::expr &array, const z3::expr &index) {
  return selectResolved(array, index);
}

z3::expr bytesToBits(z3::context &c, const std::vector<uint8_t> &bytes) {
  if (bytes.empty())
    return c.bv_val(0, 8);
  std::vector<z3::expr> v;
  for (uint8_t b : bytes)
    v.push_back(c.bv_val(b, 8));
  return assemble(v); // a numeral
}

MapState freshMapState(z3::context &c, const MapDef &m,
                       const std::string &prefix) {
  std::string n = prefix + m.name;
  if (m.type == maptype::Ringbuf)
    return MapState{c.constant((n + ".records").c_str(),
                               c.array_sort(c.bv_sort(64), c.bv_sort(8))),
                    std::nullopt, c.bv_val(0, 64), 0};
  if (m.globalData)
    return MapState{c.constant(n.c_str(),
                               c.array_sort(c.bv_sort(64), c.bv_sort(8))),
                    std::nullopt, std::nullopt, 0};
  if (m.isArray())
    return MapState{
        c.constant(n.c_str(),
                   c.array_sort(c.bv_sort(32),
                                c.array_sort(c.bv_sort(64), c.bv_sort(8)))),
        std::nullopt, std::nullopt, 0};
  z3::sort k = c.bv_sort(8 * m.keySize), v = c.bv_sort(8 * m.valueSize);
  return MapState{c.constant((n + ".values").c_str(), c.array_sort(k, v)),
                  c.constant((n + ".present").c_str(),
                             c.array_sort(k, c.bool_sort())),
                  c.bv_const((n + ".count").c_str(), 64), 0};
}

MapState concreteMapState(
    z3::context &c, const MapDef &m,
    const std::vector<std::pair<std::vector<uint8_t>, std::vector<uint8_t>>>
        &entries) {
  auto keyOf = [&](const std::vector<uint8_t> &k) {
    std::vector<uint8_t> kk = k;
    kk.resize(m.keySize ? m.keySize : 4, 0);
    return bytesToBits(c, kk);
  };
  if (m.type == maptype::Ringbuf)
    return freshMapState(c, m, "");
  z3::sort b64 = c.bv_sort(64);
  z3::expr zeroBytes = z3::const_array(b64, c.bv_val(0, 8));
  auto bytesArray = [&](const std::vector<uint8_t> &v) {
    z3::expr a = zeroBytes;
    for (size_t i = 0; i < v.size(); ++i)
      if (v[i])
        a = z3::store(a, c.bv_val(uint64_t(i), 64), c.bv_val(v[i], 8));
    return a;
  };
  if (m.globalData) {
    std::vector<uint8_t> data = m.initialData;
    for (auto &[k, v] : entries)
      data = v;
    return MapState{bytesArray(data), std::nullopt, std::nullopt, 0};
  }
  if (m.isArray()) {
    z3::expr a = z3::const_array(c.bv_sort(32), zeroBytes);
    for (auto &[k, v] : entries)
      a = z3::store(a, keyOf(k), bytesArray(v));
    return MapState{a, std::nullopt, std::nullopt, 0};
  }
  z3::sort ks = c.bv_sort(8 * m.keySize);
  z3::expr vals = z3::const_array(ks, c.bv_val(0, 8 * m.valueSize));
  z3::expr present = z3::const_array(ks, c.bool_val(false));
  for (auto &[k, v] : entries) {
    std::vector<uint8_t> vv = v;
    vv.resize(m.valueSize, 0);
    vals = z3::store(vals, keyOf(k), bytesToBits(c, vv));
    present = z3::store(present, keyOf(k), c.bool_val(true));
  }
  return MapState{vals, present, c.bv_val(entries.size(), 64), 0};
}

z3::expr mapValueBits(z3::context &c, const MapDef &m, const MapState &s,
                      const z3::expr &key) {
  auto bytesOf = [&](const z3::expr &arr, unsigned n) {
    std::vector<z3::expr> bytes;
    for (unsigned i = 0; i < n; ++i)
      bytes.push_back(selectResolved(arr, c.bv_val(uint64_t(i), 64)));
    return assemble(bytes);
  };
  if (m.globalData)
    return bytesOf(s.values, m.valueSize);
  if (m.isArray())
    return bytesOf(selectResolved(s.values, key), m.valueSize);
  return selectResolved(s.values, key);
}

ProgramExecResult executeProgram(BytecodeContext &bc, const Program &program,
                                 const ExecInputs &inputs,
                                 const ExecLimits &limits, bool mergeExits) {
  ProgramExecResult res;
  auto start = std::chrono::steady_clock::now();
  try {
    z3::context &c = bc.z3();
    State init(c);
    init.pc = program.entry;
    init.frames.emplace_back();
    res.packet = inputs.packet
                     ? *inputs.packet
                     : c.constant("packet",
                                  c.array_sort(c.bv_sort(64), c.bv_sort(8)));
    res.packetLen = inputs.packetLen ? *inputs.packetLen
                                     : c.bv_const("packet.len", 64);
    init.packet = LogMemory(*res.packet);
    init.pktStart = c.bv_val(0, 64);
    init.pktEnd = *res.packetLen;
    for (const MapDef &m : program.maps) {
      auto it = inputs.maps.find(m.name);
      if (it != inputs.maps.end()) {
        res.initialMaps.push_back(it->second);
      } else if (m.globalData && m.name.rfind(".rodata", 0) == 0) {
        // Read-only data is the object's bytes (user space cannot change it
        // after load).
        res.initialMaps.push_back(concreteMapState(c, m, {}));
      } else {
        res.initialMaps.push_back(freshMapState(c, m, ""));
      }
    }
    for (size_t m = 0; m < program.maps.size(); ++m)
      init.maps.push_back(toMem(program.maps[m], res.initialMaps[m]));
    for (unsigned i = 0; i < 5; ++i)
      if (inputs.regs[i]) {
        Reg r;
        r.kind = Reg::Scalar;
        r.val = *inputs.regs[i];
        init.regs[i + 1] = r;
      }
    if (program.hook != Hook::Other) {
      Reg ctx;
      ctx.kind = Reg::Ptr;
      ctx.region.kind = Region::Ctx;
      ctx.val = c.bv_val(0, 64);
      init.regs[1] = ctx;
    }
    Reg fp;
    fp.kind = Reg::Ptr;
    fp.region.kind = Region::Stack;
    fp.val = c.bv_val(0, 64);
    init.regs[10] = fp;
    Machine m(c, program, limits, res, inputs);
    m.run(std::move(init));
    res.draws = m.draws;
    res.clocks = m.clocks;
    if (!res.ok()) {
      res.outcomes.clear();
    } else if (mergeExits && res.outcomes.size() > 1) {
      ExecOutcome merged = res.outcomes.back();
      for (size_t i = res.outcomes.size() - 1; i-- > 0;) {
        const ExecOutcome &o = res.outcomes[i];
        const z3::expr &g = o.pathCondition;
        merged.r0 = iteE(g, o.r0, merged.r0);
        for (size_t k = 0; k < merged.maps.size(); ++k) {
          MapState y = o.maps[k];
          mergeMapState(g, y, merged.maps[k]);
          merged.maps[k] = y;
        }
        merged.packet = iteE(g, o.packet, merged.packet);
        merged.packetStart = iteE(g, o.packetStart, merged.packetStart);
        merged.packetEnd = iteE(g, o.packetEnd, merged.packetEnd);
        merged.drawsUsed = iteE(g, o.drawsUsed, merged.drawsUsed);
        merged.clocksUsed = iteE(g, o.clocksUsed, merged.clocksUsed);
        merged.calls.insert(merged.calls.end(), o.calls.begin(),
                            o.calls.end());
        merged.pathCondition = g || merged.pathCondition;
        merged.steps = std::max(merged.steps, o.steps);
      }
      merged.pathCondition = merged.pathCondition.simplify();
      res.outcomes = {merged};
    }
  } catch (const z3::exception &e) {
    res.status = ExecStatus::Error;
    res.message = std::string("z3 error: ") + e.msg();
    res.outcomes.clear();
  }
  res.stats.seconds = std::chrono::duration<double>(
                          std::chrono::steady_clock::now() - start)
                          .count();
  return res;
}

} // namespace sbpf::checker::bytecode
