//===- MemoryDifferentialTest.cpp - memory and helpers against the kernel -===//
//
// A fixed-seed generator of XDP programs that use the packet (after a
// bounds check, loads and stores of every width, cpu v4 sign-extending
// loads), the stack, an array map
// and a hash map (lookup / update with every flag / delete, loads, stores and
// atomics -- add/or/and/xor with and without fetch, xchg, cmpxchg, 32 and 64
// bit -- on the values) and JMP/JMP32 diamonds. Each program runs in the
// kernel (BPF_PROG_TEST_RUN, maps filled with random entries first) and in
// the executor on the same concrete inputs; r0, the output packet and both
// maps' final contents (read back with bpf_map_lookup_elem) must agree.
// prandom/ktime are not reproducible in the kernel and are tested
// symbolically (HelpersSymbolic).
//
//===----------------------------------------------------------------------===//

#include "ConcretePacket.h"
#include "sbpf/Checker/Exec.h"
#include "sbpf/Runtime/Loader.h"
#include "sbpf/Runtime/TestRun.h"

#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <set>

using namespace sbpf::checker::bytecode;

namespace {

constexpr unsigned kPrograms = 3000;
constexpr uint64_t kSeed = 0x6d656d6f7279ull;
constexpr unsigned kValue = 16, kArrayEntries = 4, kHashEntries = 4;
constexpr unsigned kKeys = 6; // keys 0..5: out of range / over capacity too
constexpr int kKeySlot = -72, kValueSlot = -96;

RawInsn I(uint8_t o, uint8_t d, uint8_t s, int16_t off, int32_t imm) {
  return RawInsn(o, d, s, off, imm);
}

class Gen {
public:
  explicit Gen(uint64_t seed) : rng(seed) {}
  std::mt19937_64 rng;
  std::set<std::string> covered;
  unsigned pick(unsigned n) { return unsigned(rng() % n); }
  uint64_t value() {
    switch (pick(4)) {
    case 0: return pick(4);
    case 1: return rng() & 0xff;
    case 2: return uint64_t(int64_t(int32_t(rng())));
    default: return rng();
    }
  }

  /// lddw rD, map #index (src=1: the kernel's BPF_PSEUDO_MAP_FD; the
  /// executor reads the index, the kernel copy gets the fd).
  void mapRef(std::vector<RawInsn> &p, uint8_t d, int index) {
    p.push_back(I(0x18, d, 1, 0, index));
    p.push_back(I(0, 0, 0, 0, 0));
  }
  void lddw(std::vector<RawInsn> &p, uint8_t d, uint64_t v) {
    p.push_back(I(0x18, d, 0, 0, int32_t(uint32_t(v))));
    p.push_back(I(0, 0, 0, 0, int32_t(uint32_t(v >> 32))));
  }
  static uint8_t size(unsigned s) {
    static const uint8_t sz[] = {op::B, op::H, op::W, op::DW};
    return sz[s];
  }
  uint8_t acc() { return pick(2) ? 8 : 9; }

  void alu(std::vector<RawInsn> &p) {
    static const uint8_t ops[] = {op::ADD, op::SUB, op::MUL, op::OR,
                                  op::AND, op::XOR, op::LSH, op::RSH,
                                  op::ARSH, op::MOV, op::DIV, op::MOD};
    uint8_t o = ops[pick(sizeof ops)];
    uint8_t cls = pick(2) ? op::ALU64 : op::ALU;
    if (pick(2) && o != op::LSH && o != op::RSH && o != op::ARSH) {
      p.push_back(I(cls | o | op::X, acc(), acc(), 0, 0));
      return;
    }
    int32_t k = int32_t(value());
    if (o == op::LSH || o == op::RSH || o == op::ARSH)
      k = int32_t(pick(cls == op::ALU64 ? 64 : 32));
    if ((o == op::DIV || o == op::MOD) && k == 0)
      k = 5;
    p.push_back(I(cls | o | op::K, acc(), 0, 0, k));
  }

  /// Loads, stores and an atomic through pointer register `ptr` to an area
  /// of `bytes` bytes (packet, map value or stack from `base`).
  void access(std::vector<RawInsn> &p, uint8_t ptr, int base, int bytes,
              bool atomics, const char *region) {
    unsigned s = pick(4);
    int w = 1 << s;
    int off = base + w * int(pick(unsigned(bytes / w)));
    switch (pick(atomics ? 4 : 3)) {
    case 0:
      if (s < 3 && pick(3) == 0) { // cpu v4 sign-extending load
        p.push_back(I(op::LDX | op::MEMSX | size(s), acc(), ptr, int16_t(off), 0));
        covered.insert(std::string(region) + " ldxs" + std::to_string(w));
        return;
      }
      p.push_back(I(op::LDX | op::MEM | size(s), acc(), ptr, int16_t(off), 0));
      covered.insert(std::string(region) + " ldx" + std::to_string(w));
      return;
    case 1:
      p.push_back(I(op::STX | op::MEM | size(s), ptr, acc(), int16_t(off), 0));
      covered.insert(std::string(region) + " stx" + std::to_string(w));
      return;
    case 2:
      p.push_back(I(op::ST | op::MEM | size(s), ptr, 0, int16_t(off),
                    int32_t(value())));
      covered.insert(std::string(region) + " st" + std::to_string(w));
      return;
    default: {
      static const int32_t ops[] = {0x00, 0x40, 0x50, 0xa0, 0x01, 0x41,
                                    0x51, 0xa1, 0xe1, 0xf1};
      int32_t a = ops[pick(sizeof ops / sizeof *ops)];
      bool dw = pick(2);
      int aw = dw ? 8 : 4;
      int aoff = base + aw * int(pick(unsigned(bytes / aw)));
      uint8_t src = acc();
      if (a == 0xf1) // cmpxchg compares with r0: give it a value
        p.push_back(I(op::ALU64 | op::MOV | op::X, 0, acc(), 0, 0));
      p.push_back(I(op::STX | op::ATOMIC | (dw ? op::DW : op::W), ptr, src,
                    int16_t(aoff), a));
      if (a == 0xf1) // fold the old value into an accumulator
        p.push_back(I(op::ALU64 | op::XOR | op::X, acc(), 0, 0, 0));
      covered.insert(std::string(region) + " atomic" + std::to_string(8 * aw) +
                     " " + std::to_string(a));
      return;
    }
    }
  }

  void keyToStack(std::vector<RawInsn> &p) {
    p.push_back(I(op::ST | op::MEM | op::W, 10, 0, kKeySlot, int32_t(pick(kKeys))));
  }

  void mapBlock(std::vector<RawInsn> &p) {
    int map = int(pick(2)); // 0: array, 1: hash
    std::string name = map ? "hash" : "array";
    keyToStack(p);
    switch (pick(4)) {
    case 0:
    case 1: { // lookup; if found, accesses through the value pointer
      mapRef(p, 1, map);
      p.push_back(I(op::ALU64 | op::MOV | op::X, 2, 10, 0, 0));
      p.push_back(I(op::ALU64 | op::ADD | op::K, 2, 0, 0, kKeySlot));
      p.push_back(I(op::JMP | op::CALL, 0, 0, 0, 1));
      std::vector<RawInsn> body;
      body.push_back(I(op::ALU64 | op::MOV | op::X, 1, 0, 0, 0)); // keep ptr
      for (unsigned i = 0, n = 1 + pick(4); i < n; ++i)
        access(body, 1, 0, kValue, true, name.c_str());
      p.push_back(I(op::JMP | op::JEQ | op::K, 0, 0, int16_t(body.size()), 0));
      p.insert(p.end(), body.begin(), body.end());
      covered.insert(name + " lookup");
      return;
    }
    case 2: { // update with flags ANY / NOEXIST / EXIST (or an invalid one)
      for (int i = 0; i < int(kValue); i += 8)
        p.push_back(I(op::STX | op::MEM | op::DW, 10, acc(), int16_t(kValueSlot + i), 0));
      mapRef(p, 1, map);
      p.push_back(I(op::ALU64 | op::MOV | op::X, 2, 10, 0, 0));
      p.push_back(I(op::ALU64 | op::ADD | op::K, 2, 0, 0, kKeySlot));
      p.push_back(I(op::ALU64 | op::MOV | op::X, 3, 10, 0, 0));
      p.push_back(I(op::ALU64 | op::ADD | op::K, 3, 0, 0, kValueSlot));
      int flags = int(pick(7) == 0 ? 4 : pick(3));
      p.push_back(I(op::ALU64 | op::MOV | op::K, 4, 0, 0, flags));
      p.push_back(I(op::JMP | op::CALL, 0, 0, 0, 2));
      p.push_back(I(op::ALU64 | op::ADD | op::X, acc(), 0, 0, 0));
      covered.insert(name + " update " + std::to_string(flags));
      return;
    }
    default: { // delete
      mapRef(p, 1, map);
      p.push_back(I(op::ALU64 | op::MOV | op::X, 2, 10, 0, 0));
      p.push_back(I(op::ALU64 | op::ADD | op::K, 2, 0, 0, kKeySlot));
      p.push_back(I(op::JMP | op::CALL, 0, 0, 0, 3));
      p.push_back(I(op::ALU64 | op::XOR | op::X, acc(), 0, 0, 0));
      covered.insert(name + " delete");
      return;
    }
    }
  }

  void item(std::vector<RawInsn> &p, int depth = 0) {
    switch (pick(8)) {
    case 0:
    case 1:
      alu(p);
      return;
    case 2:
    case 3:
      access(p, 7, 0, 64, false, "packet");
      return;
    case 4:
      access(p, 10, -64, 64, true, "stack");
      return;
    case 5:
    case 6:
      mapBlock(p);
      return;
    default: {
      if (depth > 0) {
        alu(p);
        return;
      }
      // if (acc cond acc/K) { T } else { E }, JMP or JMP32
      static const uint8_t conds[] = {op::JEQ, op::JGT, op::JGE, op::JSET,
                                      op::JNE, op::JSGT, op::JSGE, op::JLT,
                                      op::JLE, op::JSLT, op::JSLE};
      std::vector<RawInsn> t, e;
      for (unsigned i = 0, n = 1 + pick(2); i < n; ++i)
        item(t, depth + 1);
      for (unsigned i = 0, n = pick(2); i < n; ++i)
        item(e, depth + 1);
      uint8_t cls = pick(2) ? op::JMP : op::JMP32;
      uint8_t cnd = conds[pick(sizeof conds)];
      if (pick(2))
        p.push_back(I(cls | cnd | op::X, acc(), acc(), int16_t(e.size() + 1), 0));
      else
        p.push_back(I(cls | cnd | op::K, acc(), 0, int16_t(e.size() + 1),
                      int32_t(value())));
      p.insert(p.end(), e.begin(), e.end());
      p.push_back(I(op::JMP | op::JA, 0, 0, int16_t(t.size()), 0));
      p.insert(p.end(), t.begin(), t.end());
      covered.insert(cls == op::JMP ? "jmp" : "jmp32");
      return;
    }
    }
  }

  std::vector<RawInsn> program() {
    std::vector<RawInsn> p;
    // r7 = data; if data + 64 > data_end return XDP_PASS
    p.push_back(I(op::LDX | op::MEM | op::W, 7, 1, 0, 0));
    p.push_back(I(op::LDX | op::MEM | op::W, 2, 1, 4, 0));
    p.push_back(I(op::ALU64 | op::MOV | op::X, 3, 7, 0, 0));
    p.push_back(I(op::ALU64 | op::ADD | op::K, 3, 0, 0, 64));
    p.push_back(I(op::JMP | op::JLE | op::X, 3, 2, 2, 0));
    p.push_back(I(op::ALU64 | op::MOV | op::K, 0, 0, 0, 2));
    p.push_back(I(op::JMP | op::EXIT, 0, 0, 0, 0));
    lddw(p, 8, value());
    lddw(p, 9, value());
    for (int off = -8; off >= -64; off -= 8)
      p.push_back(I(op::STX | op::MEM | op::DW, 10, acc(), int16_t(off), 0));
    for (unsigned i = 0, n = 4 + pick(12); i < n; ++i)
      item(p);
    // The accumulators' 128 bits go out in the packet; r0 = r8 ^ r9.
    p.push_back(I(op::STX | op::MEM | op::DW, 7, 8, 48, 0));
    p.push_back(I(op::STX | op::MEM | op::DW, 7, 9, 56, 0));
    p.push_back(I(op::ALU64 | op::MOV | op::X, 0, 8, 0, 0));
    p.push_back(I(op::ALU64 | op::XOR | op::X, 0, 9, 0, 0));
    p.push_back(I(op::JMP | op::EXIT, 0, 0, 0, 0));
    return p;
  }
};

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0)
      close(fd);
  }
};

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

using Entries = std::vector<std::pair<std::vector<uint8_t>, std::vector<uint8_t>>>;

std::vector<uint8_t> keyBytes(uint32_t k) {
  std::vector<uint8_t> b(4);
  std::memcpy(b.data(), &k, 4);
  return b;
}

TEST(MemoryDifferential, AgreesWithKernel) {
  if (llvm::Error err = sbpf::runtime::probeProgramLoad())
    GTEST_SKIP() << "cannot load BPF programs: " << llvm::toString(std::move(err));
  auto start = std::chrono::steady_clock::now();
  Fd array, hash;
  array.fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sbpf_da", 4, kValue,
                            kArrayEntries, nullptr);
  hash.fd = bpf_map_create(BPF_MAP_TYPE_HASH, "sbpf_dh", 4, kValue,
                           kHashEntries, nullptr);
  ASSERT_GE(array.fd, 0);
  ASSERT_GE(hash.fd, 0);
  MapDef adef{"array", maptype::Array, 4, kValue, kArrayEntries, 0, false, {}};
  MapDef hdef{"hash", maptype::Hash, 4, kValue, kHashEntries, 0, false, {}};
  Gen gen(kSeed);
  unsigned compared = 0, failures = 0, boundsFail = 0;
  // A context per 100 programs: creating one per program is slow, and one
  // holding every program's terms is slow to use and to destroy.
  std::unique_ptr<BytecodeContext> bcp;
  double tKernel = 0, tExec = 0, tCompare = 0;
  auto now = [] { return std::chrono::steady_clock::now(); };
  auto since = [](auto t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
        .count();
  };
  for (unsigned n = 0; n < kPrograms && failures < 5; ++n) {
    std::vector<RawInsn> prog = gen.program();
    // Random initial map contents, written into the kernel's maps.
    Entries arrayInit, hashInit;
    for (uint32_t k = 0; k < kArrayEntries; ++k) {
      std::vector<uint8_t> v(kValue);
      for (auto &b : v)
        b = uint8_t(gen.value());
      arrayInit.push_back({keyBytes(k), v});
      ASSERT_EQ(bpf_map_update_elem(array.fd, keyBytes(k).data(), v.data(), 0), 0);
    }
    for (uint32_t k = 0; k < kKeys; ++k)
      bpf_map_delete_elem(hash.fd, keyBytes(k).data());
    for (uint32_t k = 0; k < kKeys && hashInit.size() < kHashEntries; ++k) {
      if (gen.pick(2))
        continue;
      std::vector<uint8_t> v(kValue);
      for (auto &b : v)
        b = uint8_t(gen.value());
      hashInit.push_back({keyBytes(k), v});
      ASSERT_EQ(bpf_map_update_elem(hash.fd, keyBytes(k).data(), v.data(), 0), 0);
    }
    // A packet of 40..140 bytes (short ones take the bounds-check exit).
    std::vector<uint8_t> packet(gen.pick(8) == 0 ? 40 + gen.pick(24)
                                                 : 64 + gen.pick(77));
    for (auto &b : packet)
      b = uint8_t(gen.rng());
    if (packet.size() < 64)
      ++boundsFail;

    // The kernel.
    auto t0 = now();
    std::vector<RawInsn> kprog = prog;
    for (size_t i = 0; i < kprog.size(); ++i)
      if (kprog[i].opcode == 0x18 && kprog[i].src == 1)
        kprog[i].imm = kprog[i].imm == 0 ? array.fd : hash.fd;
    std::string log(1 << 16, '\0');
    bpf_prog_load_opts opts{};
    opts.sz = sizeof(opts);
    opts.log_buf = log.data();
    opts.log_size = unsigned(log.size());
    opts.log_level = 0;
    Fd pf;
    pf.fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "sbpf_mdiff", "GPL",
                          reinterpret_cast<const bpf_insn *>(kprog.data()),
                          kprog.size(), &opts);
    if (pf.fd < 0) {
      opts.log_level = 1;
      pf.fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "sbpf_mdiff", "GPL",
                            reinterpret_cast<const bpf_insn *>(kprog.data()),
                            kprog.size(), &opts);
    }
    ASSERT_GE(pf.fd, 0) << "generator bug: the verifier rejected program " << n
                        << ":\n" << dump(prog) << log.c_str();
    auto run = sbpf::runtime::testRunPacket(pf.fd, packet);
    ASSERT_TRUE(bool(run)) << llvm::toString(run.takeError());
    tKernel += since(t0);

    // The executor on the same inputs.
    auto t1 = now();
    if (n % 100 == 0) {
      bcp.reset();
      bcp = std::make_unique<BytecodeContext>();
    }
    BytecodeContext &bc = *bcp;
    z3::context &c = bc.z3();
    DecodeResult d = decode(prog);
    ASSERT_TRUE(d.ok()) << d.error;
    Program p;
    p.hook = Hook::XDP;
    p.insns = d.insns;
    p.maps = {adef, hdef};
    ExecInputs in;
    test::setConcretePacket(c, in, packet);
    in.maps.insert_or_assign("array", concreteMapState(c, adef, arrayInit));
    in.maps.insert_or_assign("hash", concreteMapState(c, hdef, hashInit));
    ExecLimits limits;
    limits.pruneInfeasible = false; // concrete: every branch is decided
    ProgramExecResult x = executeProgram(bc, p, in, limits, true);
    ASSERT_TRUE(x.ok()) << "program " << n << ": " << x.message << "\n" << dump(prog);
    ASSERT_EQ(x.outcomes.size(), 1u);
    const ExecOutcome &o = x.outcomes[0];
    tExec += since(t1);
    auto t2 = now();

    std::string diff;
    auto num = [&](const z3::expr &e) {
      uint64_t v = 0;
      z3::expr s = e.is_numeral() ? e : e.simplify();
      if (!s.is_numeral_u64(v))
        diff += " (not concrete: " + s.to_string().substr(0, 200) + ")";
      return v;
    };
    if (num(o.r0.extract(31, 0)) != run->retval)
      diff += " r0";
    if (num(o.packetEnd - o.packetStart) != run->packetOut.size()) {
      diff += " packet length";
    } else {
      for (size_t i = 0; i < run->packetOut.size(); ++i)
        if (num(selectValue(o.packet, (o.packetStart + c.bv_val(uint64_t(i), 64)).simplify())) !=
            run->packetOut[i]) {
          diff += " packet byte " + std::to_string(i);
          break;
        }
    }
    for (uint32_t k = 0; k < kKeys; ++k) {
      std::vector<uint8_t> kv(kValue);
      z3::expr key = bytesToBits(c, keyBytes(k));
      bool inArray = bpf_map_lookup_elem(array.fd, keyBytes(k).data(), kv.data()) == 0;
      if (inArray) {
        z3::expr v = mapValueBits(c, adef, o.maps[0], key);
        for (unsigned i = 0; i < kValue; ++i)
          if (num(v.extract(8 * i + 7, 8 * i)) != kv[i]) {
            diff += " array[" + std::to_string(k) + "] byte " +
                    std::to_string(i) + " kernel " + std::to_string(kv[i]) +
                    " executor " + std::to_string(num(v.extract(8 * i + 7, 8 * i)));
            break;
          }
      }
      bool inHash = bpf_map_lookup_elem(hash.fd, keyBytes(k).data(), kv.data()) == 0;
      z3::expr present = selectValue(*o.maps[1].present, key).simplify();
      if (present.is_true() != inHash) {
        diff += " hash presence of " + std::to_string(k);
      } else if (inHash) {
        z3::expr v = mapValueBits(c, hdef, o.maps[1], key);
        for (unsigned i = 0; i < kValue; ++i)
          if (num(v.extract(8 * i + 7, 8 * i)) != kv[i]) {
            diff += " hash[" + std::to_string(k) + "]";
            break;
          }
      }
    }
    unsigned count = 0;
    for (uint32_t k = 0; k < kKeys; ++k) {
      std::vector<uint8_t> kv(kValue);
      count += bpf_map_lookup_elem(hash.fd, keyBytes(k).data(), kv.data()) == 0;
    }
    if (num(*o.maps[1].count) != count)
      diff += " hash count";
    tCompare += since(t2);
    if (!diff.empty()) {
      ++failures;
      ADD_FAILURE() << "program " << n << " disagrees with the kernel in:" << diff
                    << "\n" << dump(prog);
    }
    ++compared;
  }
  // Coverage: every access width on every region, every atomic form on
  // map values and the stack, every update flag, lookups and deletes.
  std::vector<std::string> missing;
  for (const char *r : {"packet", "stack", "array", "hash"})
    for (const char *k : {" ldx", " stx", " st"})
      for (int w : {1, 2, 4, 8})
        if (!gen.covered.count(std::string(r) + k + std::to_string(w)))
          missing.push_back(std::string(r) + k + std::to_string(w));
  for (const char *r : {"packet", "stack", "array", "hash"})
    for (int w : {1, 2, 4})
      if (!gen.covered.count(std::string(r) + " ldxs" + std::to_string(w)))
        missing.push_back(std::string(r) + " ldxs" + std::to_string(w));
  for (const char *r : {"stack", "array", "hash"})
    for (int bits : {32, 64})
      for (int a : {0x00, 0x40, 0x50, 0xa0, 0x01, 0x41, 0x51, 0xa1, 0xe1, 0xf1})
        if (!gen.covered.count(std::string(r) + " atomic" + std::to_string(bits) +
                               " " + std::to_string(a)))
          missing.push_back(std::string(r) + " atomic" + std::to_string(bits) +
                            " " + std::to_string(a));
  for (const char *m : {"array", "hash"}) {
    for (const char *h : {" lookup", " delete", " update 0", " update 1",
                          " update 2", " update 4"})
      if (!gen.covered.count(std::string(m) + h))
        missing.push_back(std::string(m) + h);
  }
  for (const char *j : {"jmp", "jmp32"})
    if (!gen.covered.count(j))
      missing.push_back(j);
  for (const std::string &m : missing)
    ADD_FAILURE() << "generator never produced " << m;
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                              start)
                    .count();
  std::printf("memory differential: %u programs agree with the kernel in %.1f s "
              "(kernel %.1f s, executor %.1f s, comparison %.1f s; %u took the "
              "bounds-check exit); %zu access/atomic/helper forms covered\n",
              compared, secs, tKernel, tExec, tCompare, boundsFail,
              gen.covered.size());
  EXPECT_EQ(failures, 0u);
  EXPECT_EQ(compared, kPrograms);
}

// prandom and ktime cannot be reproduced in the kernel: the i-th call must
// return the i-th draw / reading, given or fresh, on every path.
TEST(MemoryDifferential, HelpersSymbolic) {
  BytecodeContext bc;
  z3::context &c = bc.z3();
  // r6 = prandom(); if (r6 > 10) r6 = prandom() else r6 += ktime(); r0 = r6
  std::vector<RawInsn> raw = {
      I(op::JMP | op::CALL, 0, 0, 0, 7),
      I(op::ALU64 | op::MOV | op::X, 6, 0, 0, 0),
      I(op::JMP | op::JGT | op::K, 6, 0, 3, 10),
      I(op::JMP | op::CALL, 0, 0, 0, 5),
      I(op::ALU64 | op::ADD | op::X, 6, 0, 0, 0),
      I(op::JMP | op::JA, 0, 0, 2, 0),
      I(op::JMP | op::CALL, 0, 0, 0, 7),
      I(op::ALU64 | op::MOV | op::X, 6, 0, 0, 0),
      I(op::ALU64 | op::MOV | op::X, 0, 6, 0, 0),
      I(op::JMP | op::EXIT, 0, 0, 0, 0)};
  DecodeResult d = decode(raw);
  ASSERT_TRUE(d.ok());
  Program p;
  p.insns = d.insns;
  ExecInputs in;
  in.draws = {c.bv_val(50, 32), c.bv_val(7, 32)};
  ProgramExecResult x = executeProgram(bc, p, in, {}, true);
  ASSERT_TRUE(x.ok()) << x.message;
  ASSERT_EQ(x.outcomes.size(), 1u);
  // draw 0 = 50 > 10, so r0 = draw 1 = 7 and two draws, no clock reading.
  z3::solver s(c);
  s.add(x.outcomes[0].pathCondition &&
        (x.outcomes[0].r0 != c.bv_val(7, 64) ||
         x.outcomes[0].drawsUsed != c.bv_val(2, 64) ||
         x.outcomes[0].clocksUsed != c.bv_val(0, 64)));
  EXPECT_EQ(s.check(), z3::unsat);
  // With fresh draws: r0 is draw.1 when draw.0 > 10, else draw.0 + clock.0.
  ExecInputs fresh;
  x = executeProgram(bc, p, fresh, {}, true);
  ASSERT_TRUE(x.ok()) << x.message;
  ASSERT_EQ(x.draws.size(), 2u);
  ASSERT_EQ(x.clocks.size(), 1u);
  z3::expr d0 = z3::zext(x.draws[0], 32), d1 = z3::zext(x.draws[1], 32);
  z3::expr expected = z3::ite(z3::ugt(d0, c.bv_val(10, 64)), d1, d0 + x.clocks[0]);
  z3::solver t(c);
  t.add(x.outcomes[0].pathCondition && x.outcomes[0].r0 != expected);
  EXPECT_EQ(t.check(), z3::unsat);
  // An unknown helper is named, never assumed.
  std::vector<RawInsn> tail = {I(op::JMP | op::CALL, 0, 0, 0, 51),
                               I(op::JMP | op::EXIT, 0, 0, 0, 0)};
  p.insns = decode(tail).insns;
  x = executeProgram(bc, p, fresh);
  EXPECT_EQ(x.status, ExecStatus::Unsupported);
  EXPECT_EQ(x.message, "not supported yet: helper redirect_map (51) at insn 0 (call)");
}

// A packet index with two symbolic parts (data + a + b + 4): the executor
// splits an index into its constant and the rest, and the rest must stay a
// bit-vector sum (it once became an Int sum and failed with a sort error).
TEST(MemoryDifferential, PacketIndexWithTwoSymbolicParts) {
  BytecodeContext bc;
  z3::context &c = bc.z3();
  std::vector<RawInsn> raw = {
      I(op::LDX | op::MEM | op::W, 2, 1, 0, 0),   // r2 = data
      I(op::LDX | op::MEM | op::W, 3, 1, 4, 0),   // r3 = data_end
      I(op::ALU64 | op::MOV | op::X, 4, 2, 0, 0), // r4 = r2 + 16
      I(op::ALU64 | op::ADD | op::K, 4, 0, 0, 16),
      I(op::ALU64 | op::MOV | op::K, 0, 0, 0, 2), // r0 = XDP_PASS
      I(op::JMP | op::JGT | op::X, 4, 3, 7, 0),   // short: exit
      I(op::LDX | op::MEM | op::B, 5, 2, 0, 0),   // r5 = pkt[0] & 3
      I(op::ALU64 | op::AND | op::K, 5, 0, 0, 3),
      I(op::LDX | op::MEM | op::B, 6, 2, 1, 0),   // r6 = pkt[1] & 3
      I(op::ALU64 | op::AND | op::K, 6, 0, 0, 3),
      I(op::ALU64 | op::ADD | op::X, 2, 5, 0, 0), // r2 += r5 + r6
      I(op::ALU64 | op::ADD | op::X, 2, 6, 0, 0),
      I(op::LDX | op::MEM | op::B, 0, 2, 4, 0),   // r0 = pkt[r5 + r6 + 4]
      I(op::JMP | op::EXIT, 0, 0, 0, 0)};
  DecodeResult d = decode(raw);
  ASSERT_TRUE(d.ok());
  Program p;
  p.hook = Hook::XDP;
  p.insns = d.insns;
  ExecInputs in;
  ProgramExecResult x = executeProgram(bc, p, in, {}, true);
  ASSERT_TRUE(x.ok()) << x.message;
  ASSERT_EQ(x.outcomes.size(), 1u);
  ASSERT_TRUE(x.packet && x.packetLen);
  z3::expr pkt = *x.packet;
  auto byte = [&](uint64_t i) {
    return z3::zext(z3::select(pkt, c.bv_val(i, 64)), 56);
  };
  z3::expr k = c.bv_val(3, 64);
  z3::expr at = (byte(0) & k) + (byte(1) & k) + c.bv_val(4, 64);
  z3::expr expected =
      z3::ite(z3::ult(*x.packetLen, c.bv_val(16, 64)), c.bv_val(2, 64),
              z3::zext(z3::select(pkt, at), 56));
  z3::solver s(c);
  // Frame lengths as the callers bound them (pointer comparisons are on
  // offsets, which a frame of 2^63 bytes would make negative).
  s.add(z3::ule(*x.packetLen, c.bv_val(65535, 64)));
  s.add(x.outcomes[0].pathCondition && x.outcomes[0].r0 != expected);
  ASSERT_EQ(s.check(), z3::unsat) << s.get_model() << "\nr0 = "
                                  << x.outcomes[0].r0;
}

} // namespace

namespace {

// bpf-to-bpf calls: a new frame, r6-r9 preserved across the call, r1-r5 as
// arguments, r0 the result; the depth limit is the kernel's 8 frames.
TEST(MemoryDifferential, BpfToBpfCalls) {
  std::vector<RawInsn> raw = {
      I(op::ALU64 | op::MOV | op::K, 6, 0, 0, 7),
      I(op::ALU64 | op::MOV | op::K, 1, 0, 0, 5),
      I(op::JMP | op::CALL, 0, 1, 0, 2), // to slot 5
      I(op::ALU64 | op::ADD | op::X, 0, 6, 0, 0),
      I(op::JMP | op::EXIT, 0, 0, 0, 0),
      I(op::ALU64 | op::MOV | op::K, 6, 0, 0, 100), // callee's own r6
      I(op::STX | op::MEM | op::DW, 10, 6, -8, 0),  // callee's own stack
      I(op::ALU64 | op::MOV | op::X, 0, 1, 0, 0),
      I(op::ALU64 | op::MUL | op::K, 0, 0, 0, 3),
      I(op::JMP | op::EXIT, 0, 0, 0, 0)};
  DecodeResult d = decode(raw);
  ASSERT_TRUE(d.ok()) << d.error;
  ConcreteResult r = concreteRun(d.insns, {});
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.r0, 5u * 3 + 7);
  // Unbounded recursion stops at the depth limit, as an error.
  std::vector<RawInsn> rec = {I(op::JMP | op::CALL, 0, 1, 0, -1),
                              I(op::JMP | op::EXIT, 0, 0, 0, 0)};
  r = concreteRun(decode(rec).insns, {});
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.message.find("call depth exceeds 8 frames"), std::string::npos)
      << r.message;
}

// xdp_adjust_head / xdp_adjust_tail against the kernel: the helper's result
// and the output packet for deltas that succeed and that fail.
TEST(MemoryDifferential, PacketHelpersAgreeWithKernel) {
  if (llvm::Error err = sbpf::runtime::probeProgramLoad())
    GTEST_SKIP() << "cannot load BPF programs: " << llvm::toString(std::move(err));
  BytecodeContext bc;
  z3::context &c = bc.z3();
  std::vector<uint8_t> packet(100);
  for (size_t i = 0; i < packet.size(); ++i)
    packet[i] = uint8_t(3 * i + 1);
  unsigned runs = 0;
  for (int helper : {44, 65})
    for (int delta : {-300, -217, -216, -200, -16, -1, 0, 4, 14, 64, 86, 87, 200}) {
      // r0 = helper(ctx, delta); return r0 == 0 ? 2 : 1
      std::vector<RawInsn> raw = {
          I(op::ALU64 | op::MOV | op::K, 2, 0, 0, delta),
          I(op::JMP | op::CALL, 0, 0, 0, helper),
          I(op::JMP | op::JEQ | op::K, 0, 0, 2, 0),
          I(op::ALU64 | op::MOV | op::K, 0, 0, 0, 1),
          I(op::JMP | op::EXIT, 0, 0, 0, 0),
          I(op::ALU64 | op::MOV | op::K, 0, 0, 0, 2),
          I(op::JMP | op::EXIT, 0, 0, 0, 0)};
      if (helper == 65 && delta > 64)
        continue; // growth past 64 bytes is reported unsupported
      Fd pf;
      pf.fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "sbpf_adj", "GPL",
                            reinterpret_cast<const bpf_insn *>(raw.data()),
                            raw.size(), nullptr);
      ASSERT_GE(pf.fd, 0);
      auto run = sbpf::runtime::testRunPacket(pf.fd, packet);
      ASSERT_TRUE(bool(run)) << llvm::toString(run.takeError());
      Program p;
      p.hook = Hook::XDP;
      p.insns = decode(raw).insns;
      ExecInputs in;
      test::setConcretePacket(c, in, packet);
      ExecLimits limits;
      limits.pruneInfeasible = false;
      ProgramExecResult x = executeProgram(bc, p, in, limits, true);
      ASSERT_TRUE(x.ok()) << x.message;
      const ExecOutcome &o = x.outcomes[0];
      std::string what = std::string(helper == 44 ? "adjust_head(" : "adjust_tail(") +
                         std::to_string(delta) + ")";
      uint64_t r0 = 0, len = 0;
      ASSERT_TRUE(o.r0.simplify().is_numeral_u64(r0)) << what;
      EXPECT_EQ(uint32_t(r0), run->retval) << what;
      ASSERT_TRUE((o.packetEnd - o.packetStart).simplify().is_numeral_u64(len));
      ASSERT_EQ(len, run->packetOut.size()) << what;
      for (size_t i = 0; i < len; ++i) {
        uint64_t b = 0;
        selectValue(o.packet, (o.packetStart + c.bv_val(uint64_t(i), 64)).simplify())
            .simplify()
            .is_numeral_u64(b);
        ASSERT_EQ(b, run->packetOut[i]) << what << " byte " << i;
      }
      ++runs;
    }
  std::printf("packet helpers: %u adjust_head/adjust_tail runs agree with the "
              "kernel\n", runs);
}

} // namespace

namespace {

// l3/l4_csum_replace in a tc program against the kernel: return code and
// output packet for every size (0 = by diff, 2, 4), the mangled-zero and
// pseudo-header flags, odd, large and out-of-packet offsets, invalid flags.
TEST(MemoryDifferential, ChecksumHelpersAgreeWithKernel) {
  if (llvm::Error err = sbpf::runtime::probeProgramLoad())
    GTEST_SKIP() << "cannot load BPF programs: " << llvm::toString(std::move(err));
  BytecodeContext bc;
  z3::context &c = bc.z3();
  std::mt19937_64 rng(kSeed + 7);
  unsigned runs = 0, failures = 0;
  for (unsigned n = 0; n < 400 && failures < 5; ++n) {
    int helper = rng() % 2 ? 10 : 11;
    static const int32_t flagChoices[] = {0, 2, 4, 3, 0x12, 0x22, 0x24, 0x20,
                                          0x62, 0x14, 0x100};
    int32_t flags = flagChoices[rng() % (sizeof flagChoices / sizeof *flagChoices)];
    int32_t off = int32_t(rng() % 8 == 0 ? rng() % 200 : 2 * (rng() % 40));
    uint64_t from = rng() % 4 == 0 ? 0 : rng(), to = rng();
    if (rng() % 3 == 0)
      from &= 0xffff, to &= 0xffff;
    std::vector<uint8_t> packet(64 + rng() % 40);
    for (auto &b : packet)
      b = uint8_t(rng());
    if (rng() % 4 == 0 && size_t(off) + 1 < packet.size())
      packet[off] = packet[off + 1] = 0; // a zero checksum
    std::vector<RawInsn> raw;
    auto lddw = [&](uint8_t d, uint64_t v) {
      raw.push_back(I(0x18, d, 0, 0, int32_t(uint32_t(v))));
      raw.push_back(I(0, 0, 0, 0, int32_t(uint32_t(v >> 32))));
    };
    raw.push_back(I(op::ALU64 | op::MOV | op::K, 2, 0, 0, off));
    lddw(3, from);
    lddw(4, to);
    raw.push_back(I(op::ALU64 | op::MOV | op::K, 5, 0, 0, flags));
    raw.push_back(I(op::JMP | op::CALL, 0, 0, 0, helper));
    raw.push_back(I(op::JMP | op::EXIT, 0, 0, 0, 0));
    Fd pf;
    pf.fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "sbpf_csum", "GPL",
                          reinterpret_cast<const bpf_insn *>(raw.data()),
                          raw.size(), nullptr);
    ASSERT_GE(pf.fd, 0) << "the verifier rejected the checksum program";
    auto run = sbpf::runtime::testRunPacket(pf.fd, packet);
    ASSERT_TRUE(bool(run)) << llvm::toString(run.takeError());
    Program p;
    p.hook = Hook::TC;
    p.insns = decode(raw).insns;
    ExecInputs in;
    test::setConcretePacket(c, in, packet);
    ExecLimits limits;
    limits.pruneInfeasible = false;
    ProgramExecResult x = executeProgram(bc, p, in, limits, true);
    ASSERT_TRUE(x.ok()) << x.message;
    const ExecOutcome &o = x.outcomes[0];
    std::string what = std::string(helper == 10 ? "l3" : "l4") +
                       "_csum_replace(off " + std::to_string(off) + ", from " +
                       std::to_string(from) + ", to " + std::to_string(to) +
                       ", flags " + std::to_string(flags) + ")";
    uint64_t r0 = 0;
    ASSERT_TRUE(o.r0.simplify().is_numeral_u64(r0)) << what;
    std::string diff;
    if (uint32_t(r0) != run->retval)
      diff += " return " + std::to_string(int32_t(r0)) + " vs kernel " +
              std::to_string(int32_t(run->retval));
    for (size_t i = 0; i < packet.size() && i < run->packetOut.size(); ++i) {
      uint64_t b = 0;
      selectValue(o.packet, c.bv_val(uint64_t(i), 64)).simplify().is_numeral_u64(b);
      if (b != run->packetOut[i]) {
        diff += " byte " + std::to_string(i) + " " + std::to_string(b) +
                " vs kernel " + std::to_string(run->packetOut[i]);
        break;
      }
    }
    if (!diff.empty()) {
      ++failures;
      ADD_FAILURE() << what << ":" << diff;
    }
    ++runs;
  }
  std::printf("checksum helpers: %u l3/l4_csum_replace runs compared with the "
              "kernel\n", runs);
  EXPECT_EQ(failures, 0u);
}

} // namespace
