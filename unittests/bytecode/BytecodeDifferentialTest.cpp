//===- BytecodeDifferentialTest.cpp - Z3 semantics against the kernel -----===//
//
// A fixed-seed generator of small straight-line and forward-branching
// (if/else diamond) programs over constant registers: r0..r9 and 64 bytes of
// stack are initialized first (an XDP program's registers are not free),
// then random ALU64/ALU32 ops (K and X), byte swaps, LD_IMM64, stack
// stores/loads of every width and JMP/JMP32 conditional diamonds compute
// into r0. Each program is loaded twice as XDP (ending "exit" and
// "r0 >>= 32; exit", since BPF_PROG_TEST_RUN returns 32 bits of r0) and run
// on a packet; both retvals must equal the halves of concreteRun's r0.
// The verifier must accept every generated program: a rejection is a
// generator bug and fails the test with the verifier's log.
//
//===----------------------------------------------------------------------===//

#include "sbpf/Checker/Bytecode.h"
#include "sbpf/Runtime/Loader.h"
#include "sbpf/Runtime/Packet.h"
#include "sbpf/Runtime/TestRun.h"

#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <random>
#include <set>

using namespace sbpf::checker::bytecode;

namespace {

constexpr unsigned kPrograms = 8000;
constexpr uint64_t kSeed = 0x5eedbeefull;

class Generator {
public:
  explicit Generator(uint64_t seed) : rng(seed) {}

  /// The core program: prologue and body, without the final exit. With
  /// `freeInputs`, r1..r5 are left to the caller (inputs).
  std::vector<RawInsn> program(bool freeInputs = false) {
    std::vector<RawInsn> p;
    for (uint8_t r = 0; r <= 9; ++r)
      if (!freeInputs || r == 0 || r > 5)
        initReg(p, r);
    for (int off = -8; off >= -kStackBytes; off -= 8)
      p.push_back(RawInsn(op::STX | op::MEM | op::DW, 10, reg(), off, 0));
    unsigned items = 3 + pick(10);
    for (unsigned i = 0; i < items; ++i) {
      if (pick(5) == 0)
        diamond(p);
      else
        simple(p);
    }
    return p;
  }

private:
  static constexpr int kStackBytes = 64;
  std::mt19937_64 rng;

public:
  unsigned pick(unsigned n) { return unsigned(rng() % n); }

private:
  uint8_t reg() { return uint8_t(pick(10)); }

public:
  uint64_t value() {
    static const uint64_t interesting[] = {
        0, 1, 2, 3, 7, 31, 32, 33, 63, 64, 65, 0xff, 0x100, 0x7fff, 0x8000,
        0xffff, 0x7fffffff, 0x80000000ull, 0xffffffffull, 0x100000000ull,
        0x7fffffffffffffffull, 0x8000000000000000ull, ~0ull, ~0ull - 1,
        0xffffffff00000000ull, 0x8000000080000000ull, 0x0123456789abcdefull};
    switch (pick(5)) {
    case 4:
      return 0; // often: division and modulo by zero, shifts by zero
    case 0:
      return interesting[pick(sizeof interesting / sizeof *interesting)];
    case 1:
      return rng() & 0xff;
    case 2:
      return uint64_t(int64_t(int32_t(rng())));
    default:
      return rng();
    }
  }
  int32_t imm() { return int32_t(uint32_t(value())); }

public:
  void lddw(std::vector<RawInsn> &p, uint8_t d, uint64_t v) {
    p.push_back(RawInsn(0x18, d, 0, 0, int32_t(uint32_t(v))));
    p.push_back(RawInsn(0, 0, 0, 0, int32_t(uint32_t(v >> 32))));
  }

private:
  void initReg(std::vector<RawInsn> &p, uint8_t r) {
    switch (pick(3)) {
    case 0: lddw(p, r, value()); break;
    case 1: p.push_back(RawInsn(op::ALU64 | op::MOV | op::K, r, 0, 0, imm())); break;
    default: p.push_back(RawInsn(op::ALU | op::MOV | op::K, r, 0, 0, imm())); break;
    }
  }

  void aluOp(std::vector<RawInsn> &p) {
    static const uint8_t ops[] = {op::ADD, op::SUB, op::MUL, op::DIV,
                                  op::OR,  op::AND, op::LSH, op::RSH,
                                  op::NEG, op::MOD, op::XOR, op::MOV,
                                  op::ARSH};
    uint8_t o = ops[pick(sizeof ops)];
    bool is64 = pick(2);
    uint8_t cls = is64 ? op::ALU64 : op::ALU;
    uint8_t d = reg();
    if (o == op::NEG) {
      p.push_back(RawInsn(cls | o, d, 0, 0, 0));
      return;
    }
    if (pick(2)) {
      p.push_back(RawInsn(cls | o | op::X, d, reg(), 0, 0));
      return;
    }
    int32_t k = imm();
    if (o == op::LSH || o == op::RSH || o == op::ARSH)
      k = int32_t(pick(is64 ? 64 : 32)); // the verifier rejects larger K
    if ((o == op::DIV || o == op::MOD) && k == 0)
      k = 3; // and division by a zero K
    p.push_back(RawInsn(cls | o | op::K, d, 0, 0, k));
  }

  void simple(std::vector<RawInsn> &p) {
    static const uint8_t sizes[] = {op::B, op::H, op::W, op::DW};
    static const int bytes[] = {1, 2, 4, 8};
    switch (pick(10)) {
    case 0: {
      static const int32_t widths[] = {16, 32, 64};
      p.push_back(RawInsn(op::ALU | op::END | (pick(2) ? op::TO_BE : op::TO_LE),
                          reg(), 0, 0, widths[pick(3)]));
      return;
    }
    case 1:
      lddw(p, reg(), value());
      return;
    case 2:
    case 3: {
      unsigned s = pick(4);
      int off = -int(bytes[s]) * int(1 + pick(kStackBytes / bytes[s]));
      if (pick(3) == 0)
        p.push_back(RawInsn(op::ST | op::MEM | sizes[s], 10, 0, off, imm()));
      else
        p.push_back(RawInsn(op::STX | op::MEM | sizes[s], 10, reg(), off, 0));
      return;
    }
    case 4: {
      unsigned s = pick(4);
      int off = -int(bytes[s]) * int(1 + pick(kStackBytes / bytes[s]));
      p.push_back(RawInsn(op::LDX | op::MEM | sizes[s], reg(), 10, off, 0));
      return;
    }
    default:
      aluOp(p);
    }
  }

  /// if (cond) { T } else { E } as: jcond +len(E)+1; E; ja +len(T); T.
  void diamond(std::vector<RawInsn> &p) {
    static const uint8_t conds[] = {op::JEQ, op::JGT, op::JGE, op::JSET,
                                    op::JNE, op::JSGT, op::JSGE, op::JLT,
                                    op::JLE, op::JSLT, op::JSLE};
    std::vector<RawInsn> t, e;
    for (unsigned i = 0, n = 1 + pick(3); i < n; ++i)
      simple(t);
    for (unsigned i = 0, n = pick(3); i < n; ++i)
      simple(e);
    uint8_t cls = pick(2) ? op::JMP : op::JMP32;
    uint8_t c = conds[pick(sizeof conds)];
    if (pick(2))
      p.push_back(RawInsn(cls | c | op::X, reg(), reg(), int16_t(e.size() + 1), 0));
    else
      p.push_back(RawInsn(cls | c | op::K, reg(), 0, int16_t(e.size() + 1), imm()));
    p.insert(p.end(), e.begin(), e.end());
    p.push_back(RawInsn(op::JMP | op::JA, 0, 0, int16_t(t.size()), 0));
    p.insert(p.end(), t.begin(), t.end());
  }
};

struct Loaded {
  int fd = -1;
  std::string log;
  ~Loaded() {
    if (fd >= 0)
      close(fd);
  }
};

void loadXdp(const std::vector<RawInsn> &p, Loaded &out) {
  static_assert(sizeof(RawInsn) == sizeof(bpf_insn));
  auto *insns = reinterpret_cast<const bpf_insn *>(p.data());
  out.fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "sbpf_diff", "GPL", insns,
                         p.size(), nullptr);
  if (out.fd >= 0)
    return;
  std::string buf(1 << 20, '\0');
  bpf_prog_load_opts opts{};
  opts.sz = sizeof(opts);
  opts.log_buf = buf.data();
  opts.log_size = buf.size();
  opts.log_level = 1;
  int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "sbpf_diff", "GPL", insns,
                         p.size(), &opts);
  if (fd >= 0) {
    out.fd = fd; // accepted on the second try
    return;
  }
  out.log = buf.c_str();
}

std::string dump(const std::vector<RawInsn> &p) {
  std::string s;
  char line[128];
  for (size_t i = 0; i < p.size(); ++i) {
    std::snprintf(line, sizeof line, "  %3zu: %02x dst=r%u src=r%u off=%d imm=%d\n",
                  i, p[i].opcode, unsigned(p[i].dst), unsigned(p[i].src),
                  int(p[i].off), int(p[i].imm));
    s += line;
  }
  return s;
}

TEST(BytecodeDifferential, AgreesWithKernel) {
  if (llvm::Error err = sbpf::runtime::probeProgramLoad())
    GTEST_SKIP() << "cannot load BPF programs: " << llvm::toString(std::move(err));

  auto start = std::chrono::steady_clock::now();
  Generator gen(kSeed);
  BytecodeContext bc;
  std::vector<uint8_t> packet = sbpf::runtime::representativePacket();
  std::set<uint8_t> opcodes;
  std::map<std::string, unsigned> perClass;
  unsigned compared = 0, disagreements = 0;

  for (unsigned n = 0; n < kPrograms; ++n) {
    std::vector<RawInsn> core = gen.program();
    std::vector<RawInsn> lo = core, hi = core;
    lo.push_back(RawInsn(op::JMP | op::EXIT, 0, 0, 0, 0));
    hi.push_back(RawInsn(op::ALU64 | op::RSH | op::K, 0, 0, 0, 32));
    hi.push_back(RawInsn(op::JMP | op::EXIT, 0, 0, 0, 0));

    DecodeResult d = decode(lo);
    ASSERT_TRUE(d.ok()) << "program " << n << ": " << d.error;
    ConcreteResult ours = concreteRun(bc, d.insns, {});
    ASSERT_TRUE(ours.ok()) << "program " << n << ": " << ours.message << "\n"
                           << dump(lo);
    DecodeResult dh = decode(hi);
    ASSERT_TRUE(dh.ok()) << dh.error;
    ConcreteResult oursHi = concreteRun(bc, dh.insns, {});
    ASSERT_TRUE(oursHi.ok()) << oursHi.message;
    ASSERT_EQ(oursHi.r0, ours.r0 >> 32);

    for (auto *prog : {&lo, &hi}) {
      Loaded l;
      loadXdp(*prog, l);
      ASSERT_GE(l.fd, 0) << "generator bug: the verifier rejected program "
                         << n << ":\n"
                         << dump(*prog) << "verifier log:\n"
                         << l.log;
      auto run = sbpf::runtime::testRunPacket(l.fd, packet);
      ASSERT_TRUE(bool(run)) << llvm::toString(run.takeError());
      uint32_t expected = prog == &lo ? uint32_t(ours.r0) : uint32_t(ours.r0 >> 32);
      if (run->retval != expected) {
        ++disagreements;
        ADD_FAILURE() << "program " << n << (prog == &lo ? " (low" : " (high")
                      << " half): kernel " << std::hex << run->retval
                      << ", concreteRun " << expected << " (r0 = " << ours.r0
                      << ")\n"
                      << std::dec << dump(*prog);
        if (disagreements > 5)
          FAIL() << "too many disagreements";
      }
    }
    ++compared;
    for (const RawInsn &i : core) {
      if (i.opcode == 0) // lddw continuation slots
        continue;
      opcodes.insert(i.opcode);
    }
  }

  // Coverage: every ALU op in both classes with K and X, every conditional
  // jump in JMP and JMP32 with K and X, every stack width, byte swaps, lddw.
  std::vector<uint8_t> missing;
  for (uint8_t cls : {op::ALU, op::ALU64}) {
    for (uint8_t o : {op::ADD, op::SUB, op::MUL, op::DIV, op::OR, op::AND,
                      op::LSH, op::RSH, op::MOD, op::XOR, op::MOV, op::ARSH})
      for (uint8_t s : {op::K, op::X})
        if (!opcodes.count(cls | o | s))
          missing.push_back(cls | o | s);
    if (!opcodes.count(cls | op::NEG))
      missing.push_back(cls | op::NEG);
  }
  for (uint8_t cls : {op::JMP, op::JMP32})
    for (uint8_t o : {op::JEQ, op::JGT, op::JGE, op::JSET, op::JNE, op::JSGT,
                      op::JSGE, op::JLT, op::JLE, op::JSLT, op::JSLE})
      for (uint8_t s : {op::K, op::X})
        if (!opcodes.count(cls | o | s))
          missing.push_back(cls | o | s);
  for (uint8_t sz : {op::B, op::H, op::W, op::DW})
    for (uint8_t c : {uint8_t(op::LDX | op::MEM), uint8_t(op::STX | op::MEM),
                      uint8_t(op::ST | op::MEM)})
      if (!opcodes.count(c | sz))
        missing.push_back(c | sz);
  for (uint8_t c : {0xd4, 0xdc, 0x18, 0x05})
    if (!opcodes.count(c))
      missing.push_back(c);
  for (uint8_t m : missing)
    ADD_FAILURE() << "generator never produced " << opcodeName(m);

  for (uint8_t o : opcodes)
  {
    static const char *const names[] = {"ld",  "ldx", "st",    "stx",
                                        "alu32", "jmp", "jmp32", "alu64"};
    ++perClass[o == 0x18 ? "ld_imm64" : names[op::cls(o)]];
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                              start)
                    .count();
  std::printf("differential: %u programs (%u kernel runs) agree with the "
              "kernel in %.1f s; %zu distinct opcodes:",
              compared, 2 * compared, secs, opcodes.size());
  for (auto &[k, v] : perClass)
    std::printf(" %s=%u", k.c_str(), v);
  std::printf("\n");
  EXPECT_EQ(disagreements, 0u);
  EXPECT_EQ(compared, kPrograms);
}

/// Runs `core` + exit and core + "r0 >>= 32" + exit in the kernel, after
/// loading `inputs` into r1..r5; returns r0 (or fails the test).
std::optional<uint64_t> kernelR0(Generator &gen, const std::vector<RawInsn> &core,
                                 const std::array<uint64_t, 5> &inputs,
                                 const std::vector<uint8_t> &packet) {
  std::vector<RawInsn> p;
  for (unsigned i = 0; i < 5; ++i)
    gen.lddw(p, uint8_t(i + 1), inputs[i]);
  p.insert(p.end(), core.begin(), core.end());
  std::vector<RawInsn> hi = p;
  p.push_back(RawInsn(op::JMP | op::EXIT, 0, 0, 0, 0));
  hi.push_back(RawInsn(op::ALU64 | op::RSH | op::K, 0, 0, 0, 32));
  hi.push_back(RawInsn(op::JMP | op::EXIT, 0, 0, 0, 0));
  uint64_t halves[2];
  for (int h = 0; h < 2; ++h) {
    Loaded l;
    loadXdp(h ? hi : p, l);
    if (l.fd < 0) {
      ADD_FAILURE() << "generator bug: the verifier rejected:\n"
                    << dump(h ? hi : p) << "verifier log:\n" << l.log;
      return std::nullopt;
    }
    auto run = sbpf::runtime::testRunPacket(l.fd, packet);
    if (!run) {
      ADD_FAILURE() << llvm::toString(run.takeError());
      return std::nullopt;
    }
    halves[h] = run->retval;
  }
  return halves[0] | (halves[1] << 32);
}

// The symbolic executor against the kernel: programs over free r1..r5 are
// executed symbolically once; for random inputs, exactly one path's condition
// must hold and its r0 must equal the kernel's and concreteRun's.
TEST(BytecodeDifferential, SymbolicPathsAgreeWithKernel) {
  if (llvm::Error err = sbpf::runtime::probeProgramLoad())
    GTEST_SKIP() << "cannot load BPF programs: " << llvm::toString(std::move(err));
  Generator gen(kSeed + 1);
  BytecodeContext bc;
  z3::context &c = bc.z3();
  std::vector<uint8_t> packet = sbpf::runtime::representativePacket();
  ExecLimits limits;
  limits.pruneInfeasible = false; // no solver: infeasible paths never match
  unsigned programs = 0, checks = 0, paths = 0;
  for (unsigned n = 0; n < 1000; ++n) {
    std::vector<RawInsn> core = gen.program(/*freeInputs=*/true);
    std::vector<RawInsn> prog = core;
    prog.push_back(RawInsn(op::JMP | op::EXIT, 0, 0, 0, 0));
    DecodeResult d = decode(prog);
    ASSERT_TRUE(d.ok()) << d.error;
    ExecResult sym = executeSymbolic(bc, d.insns, limits);
    ASSERT_TRUE(sym.ok()) << "program " << n << ": " << sym.message;
    paths += sym.paths.size();
    ++programs;
    for (unsigned k = 0; k < 3; ++k) {
      std::array<uint64_t, 5> in;
      for (auto &v : in)
        v = gen.value();
      z3::expr_vector from(c), to(c);
      for (unsigned i = 0; i < 5; ++i) {
        from.push_back(bc.input(i + 1));
        to.push_back(c.bv_val(in[i], 64));
      }
      std::optional<uint64_t> symR0;
      unsigned holding = 0;
      for (PathResult pr : sym.paths) {
        z3::expr pc = pr.pathCondition.substitute(from, to).simplify();
        ASSERT_TRUE(pc.is_true() || pc.is_false()) << pc;
        if (pc.is_false())
          continue;
        ++holding;
        uint64_t v = 0;
        ASSERT_TRUE(pr.r0.substitute(from, to).simplify().is_numeral_u64(v));
        symR0 = v;
      }
      ASSERT_EQ(holding, 1u) << "program " << n << ": paths are not a partition";
      ConcreteResult conc = concreteRun(bc, d.insns, in);
      ASSERT_TRUE(conc.ok()) << conc.message;
      EXPECT_EQ(*symR0, conc.r0) << "program " << n;
      std::optional<uint64_t> kernel = kernelR0(gen, core, in, packet);
      ASSERT_TRUE(kernel.has_value());
      EXPECT_EQ(*symR0, *kernel) << "program " << n << "\n" << dump(prog);
      ++checks;
    }
  }
  std::printf("symbolic: %u programs (%u paths) checked on %u inputs against "
              "the kernel\n", programs, paths, checks);
}

} // namespace
