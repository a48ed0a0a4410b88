//===- InitCheck.cpp - the object's initial state vs netfn.init -----------===//
//
// The handler check (Check.cpp) proves each handler from *any* state; this
// proves that the object *starts* in the state netfn.init produces, so that
// the states the handlers see are the element's (docs/checker.md, "init").
//
// The object's side, stated as the kernel and sbpf's loader make it
// (docs/bpf-abi.md, "The loader"):
//   - global data: the initial bytes of the ABI record's section (`.data`)
//     in the object;
//   - hash maps and ring buffers: empty;
//   - then `init.loader_work` in order: map_entry inserts key -> value as a
//     BPF_ANY update of a hash map does (a full map leaves a new key out),
//     a computed key or value (key_from/value_from) being a clock reading
//     or random bytes the loader reads, key first;
//     state_now writes a clock reading, state_random random bytes, each at
//     the step's own offset and size (not the scalar's: a record whose step
//     points elsewhere is wrong, and shows).
// The element's side: NetfnSemantics' encodeInit from the zero state, with
// its own draws and clock readings.
//
// Binding of the values nobody chooses: the k-th random (clock) loader step
// reads the init draw (reading) that its scalar's final netfn value *is*
// (syntactically, after simplification), else the first one not yet bound
// (for clocks: the first after the last one bound, so the loader's readings
// keep init's order). Each draw is bound at most once, so independent
// uniform draws map to independent uniform loader bytes: equality for every
// draw then means the same distribution of initial states. Only the draw's
// bytes the step writes are bound (a 2-byte step gets 2 random bytes).
//
// Observables, each asked separately (small queries): each ABI scalar's
// bytes against its encoding of init's value; each log's size counter and
// that init appends no records (the ring buffer starts empty); each map at
// a witness key (present, and the value bytes) and its count. A model is a
// counterexample naming the state variable and both values.
//
//===----------------------------------------------------------------------===//
#include "InitCheck.h"

#include "Binding.h"
#include "sbpf/Checker/Sweep.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <deque>
#include <cstdio>

using namespace sbpf;
using namespace sbpf::checker;
using namespace sbpf::checker::binding;
namespace bc = sbpf::checker::bytecode;
using mlir::Type;

namespace {

using Clock = std::chrono::steady_clock;

/// A map's contents as the object's executor keeps them: arrays over key
/// bytes.
struct ByteMap {
  z3::expr values, present, count;
  std::vector<z3::expr> loaderKeys; ///< keys loader work inserts, in order
};

/// A loader step whose value nobody chooses (a clock reading, random bytes).
struct FreeValue {
  const bpf::LoaderWork *step;
  z3::expr bits; ///< what the loader reads: bv64 (clock), bv(8*size) (random)
};

/// One compared observable: its name and the condition that it differs.
struct Observable {
  std::string name;
  z3::expr differs;
};

class InitChecker {
public:
  InitChecker(SemContext &sc, netfn::ProgramOp program,
              const bpf::ProgramABI &abi, const bc::BpfObject &object,
              const CheckOptions &options, CheckReport &report)
      : sc(sc), c(sc.z3()), program(program), abi(abi), object(object),
        options(options), report(report), data(c), netfnState() {}

  bool run();

private:
  SemContext &sc;
  z3::context &c;
  netfn::ProgramOp program;
  const bpf::ProgramABI &abi;
  const bc::BpfObject &object;
  const CheckOptions &options;
  CheckReport &report;
  Clock::time_point start = Clock::now();

  SymbolicInputs in;       ///< init's draws and clock readings
  z3::expr data;           ///< the object's global data (Array bv64 bv8)
  SymbolicState netfnState; ///< init's final state
  std::map<std::string, ByteMap> maps;
  std::vector<FreeValue> randoms, clocks;
  /// Computed map-entry parts, as steps of their own size (FreeValue
  /// points here; a deque keeps the addresses).
  std::deque<bpf::LoaderWork> partSteps;
  std::vector<z3::expr> assumptions;
  std::map<std::string, std::pair<Slot, Slot>> mapSlots;
  std::map<std::string, z3::expr> witness; ///< a key per map (bytes)

  z3::expr bv64(uint64_t v) { return c.bv_val(v, 64); }
  Type stateType(llvm::StringRef name) {
    for (netfn::StateOp s : program.getStateOps())
      if (s.getSymName() == name)
        return s.getType();
    return Type();
  }
  const bpf::LogABI *logCounter(llvm::StringRef scalar) {
    for (const bpf::LogABI &l : abi.logs)
      if (l.sizeCounter == scalar)
        return &l;
    return nullptr;
  }
  Slot scalarSlot(const bpf::ScalarABI &s) {
    Type t = stateType(s.name);
    if (!t || !netfnState.scalars.count(s.name))
      throw BindingError("scalar '" + s.name +
                         "' of the ABI record is not a state of the program");
    if (typeText(t) != s.layout.netfnType)
      throw BindingError("the ABI record gives state @" + s.name +
                         " the type " + s.layout.netfnType + ", the program " +
                         typeText(t));
    return Slot{t, s.layout.encoding, unsigned(s.layout.size)};
  }

  void objectStart();
  void bindFreeValues();
  std::vector<Observable> observables();
  void counterexample(z3::model &m, const std::vector<Observable> &diffs);
};

/// The bytes of lower-case hex `text` as a little-endian bit-vector of
/// `size` bytes.
z3::expr hexBits(z3::context &c, llvm::StringRef text, uint64_t size,
                 const std::string &where) {
  std::string bytes;
  if (size == 0 || text.size() % 2 || !llvm::tryGetFromHex(text, bytes) ||
      bytes.size() != size)
    throw BindingError(where + ": expected " + std::to_string(size) +
                       " bytes in hex, got '" + text.str() + "'");
  return bytesBits(c, llvm::ArrayRef<uint8_t>(
                         reinterpret_cast<const uint8_t *>(bytes.data()),
                         bytes.size()));
}

void InitChecker::objectStart() {
  data = z3::const_array(c.bv_sort(64), c.bv_val(0, 8));
  if (!abi.scalars.empty() || !abi.logs.empty()) {
    int i = object.findMap(abi.globalSection);
    if (i < 0 || !object.maps[i].globalData ||
        object.maps[i].valueSize < abi.globalSize)
      throw BindingError("the object has no global data section '" +
                         abi.globalSection + "' of at least " +
                         std::to_string(abi.globalSize) +
                         " bytes (the ABI record's state)");
    const std::vector<uint8_t> &init = object.maps[i].initialData;
    for (uint64_t k = 0; k < abi.globalSize && k < init.size(); ++k)
      if (init[k])
        data = z3::store(data, bv64(k), c.bv_val(init[k], 8));
  }

  for (const bpf::MapABI &m : abi.maps) {
    int i = object.findMap(m.name);
    if (i < 0 || !object.maps[i].isHash() ||
        object.maps[i].keySize != m.key.size ||
        object.maps[i].valueSize != m.value.size)
      throw BindingError("map '" + m.name +
                         "' of the object is not the hash map the ABI record "
                         "describes (type, key/value size)");
    z3::sort ks = c.bv_sort(8 * unsigned(m.key.size));
    maps.emplace(m.name,
                 ByteMap{z3::const_array(ks, c.bv_val(0, 8 * unsigned(m.value.size))),
                         z3::const_array(ks, c.bool_val(false)), bv64(0), {}});
  }

  // A value the loader reads when it reaches step i (a clock reading, or
  // `size` random bytes), in the loader's order.
  auto loaderValue = [&](const bpf::LoaderWork &w, size_t i, bool now,
                         llvm::StringRef part) {
    z3::expr bits = c.constant(
        ("loader." + std::string(now ? "clock" : "random") + "." +
         std::to_string(i) + part.str())
            .c_str(),
        c.bv_sort(now ? 64 : 8 * unsigned(w.size)));
    if (now) {
      // The loader's clock_gettime readings do not go back.
      if (!clocks.empty())
        assumptions.push_back(z3::ule(clocks.back().bits, bits));
      clocks.push_back({&w, bits});
    } else {
      randoms.push_back({&w, bits});
    }
    return bits;
  };
  for (size_t i = 0; i < abi.loaderWork.size(); ++i) {
    const bpf::LoaderWork &w = abi.loaderWork[i];
    std::string where =
        "init.loader_work[" + std::to_string(i) + "] (" + w.target + ")";
    if (w.kind == "map_entry") {
      const bpf::MapABI *m = abi.findMap(w.target);
      if (!m)
        throw BindingError(where + ": '" + w.target +
                           "' is not one of the record's maps");
      ByteMap &bm = maps.at(w.target);
      // Key, then value: the loader's order for computed parts.
      auto part = [&](const std::string &from, const std::string &hex,
                      uint64_t size, const char *field) {
        if (from.empty())
          return hexBits(c, hex, size, where + "." + field);
        if (from == "clock" ? size != 8 : size == 0 || size > 8)
          throw BindingError(where + "." + field + "_from: " +
                             std::to_string(size) + " bytes cannot hold " +
                             (from == "clock" ? "a clock reading"
                                              : "random bytes"));
        bpf::LoaderWork sized = w;
        sized.size = size;
        partSteps.push_back(sized);
        return loaderValue(partSteps.back(), i, from == "clock",
                           std::string(".") + field);
      };
      z3::expr k = part(w.keyFrom, w.key, m->key.size, "key");
      z3::expr v = part(w.valueFrom, w.value, m->value.size, "value");
      // BPF_ANY on a hash map: a new key needs room (else E2BIG, and the
      // loader goes on, as netfn's map.set leaves it out).
      uint32_t capacity = object.maps[object.findMap(w.target)].maxEntries;
      z3::expr had = z3::select(bm.present, k);
      z3::expr fits = had || z3::ult(bm.count, bv64(capacity));
      bm.values = z3::ite(fits, z3::store(bm.values, k, v), bm.values);
      bm.present = z3::ite(fits, z3::store(bm.present, k, c.bool_val(true)),
                           bm.present);
      bm.count = z3::ite(fits && !had, bm.count + bv64(1), bm.count);
      bm.loaderKeys.push_back(k);
      continue;
    }
    if (w.kind != "state_now" && w.kind != "state_random")
      throw BindingError(where + ": unknown loader work '" + w.kind + "'");
    if (w.size == 0 || w.size > 8 || w.offset + w.size > abi.globalSize)
      throw BindingError(where + ": " + std::to_string(w.size) +
                         " bytes at offset " + std::to_string(w.offset) +
                         " are not within the state (" +
                         std::to_string(abi.globalSize) + " bytes)");
    bool now = w.kind == "state_now";
    z3::expr bits = loaderValue(w, i, now, "");
    if (now && w.size != 8)
      bits = bits.extract(8 * w.size - 1, 0);
    data = writeBytes(data, bv64(w.offset), bits);
  }
}

void InitChecker::bindFreeValues() {
  auto bind = [&](std::vector<FreeValue> &steps,
                  const std::vector<z3::expr> &values, bool ordered) {
    std::vector<bool> used(values.size(), false);
    size_t next = 0; // clocks: the first index still in order
    for (FreeValue &f : steps) {
      std::optional<size_t> pick;
      auto it = netfnState.scalars.find(f.step->target);
      if (it != netfnState.scalars.end() &&
          it->second.get_sort().is_bv()) {
        z3::expr v = it->second.simplify();
        for (size_t i = ordered ? next : 0; i < values.size() && !pick; ++i)
          if (!used[i] && z3::eq(v, values[i].simplify()))
            pick = i;
      }
      for (size_t i = ordered ? next : 0; i < values.size() && !pick; ++i)
        if (!used[i])
          pick = i;
      if (!pick)
        continue; // init has no such value left: the step's bytes stay free
      used[*pick] = true;
      next = *pick + 1;
      const z3::expr &v = values[*pick];
      unsigned w = std::min(f.bits.get_sort().bv_size(), v.get_sort().bv_size());
      assumptions.push_back(f.bits.extract(w - 1, 0) == v.extract(w - 1, 0));
    }
  };
  bind(randoms, in.draws, /*ordered=*/false);
  bind(clocks, in.clocks, /*ordered=*/true);
}

std::vector<Observable> InitChecker::observables() {
  std::vector<Observable> d;
  for (const bpf::ScalarABI &s : abi.scalars) {
    if (logCounter(s.name))
      continue;
    Slot slot = scalarSlot(s);
    d.push_back({"state @" + s.name,
                 readBytes(data, bv64(s.layout.offset), s.layout.size) !=
                     encode(sc, slot, netfnState.scalars.at(s.name))});
  }
  for (const bpf::LogABI &l : abi.logs) {
    auto it = netfnState.logs.find(l.name);
    if (it == netfnState.logs.end())
      throw BindingError("log '" + l.name +
                         "' of the ABI record is not a log of the program");
    d.push_back({"log @" + l.name + " size counter",
                 readBytes(data, bv64(l.sizeCounterOffset), 8) !=
                     it->second.size});
    // The ring buffer starts empty: init may not append.
    d.push_back({"log @" + l.name + " records", it->second.size != bv64(0)});
  }
  for (const bpf::MapABI &m : abi.maps) {
    Type t = stateType(m.name);
    auto mt = t ? llvm::dyn_cast<netfn::MapType>(t) : nullptr;
    if (!mt || !netfnState.maps.count(m.name))
      throw BindingError("map '" + m.name +
                         "' of the ABI record is not a map of the program");
    auto check = [&](Type type, const bpf::ValueLayout &l, const char *what) {
      if (typeText(type) != l.netfnType)
        throw BindingError("the ABI record gives the " + std::string(what) +
                           " of map @" + m.name + " the type " + l.netfnType +
                           ", the program " + typeText(type));
      return Slot{type, l.encoding, unsigned(l.size)};
    };
    Slot key = check(mt.getKeyType(), m.key, "key");
    Slot value = check(mt.getValueType(), m.value, "value");
    mapSlots.emplace(m.name, std::make_pair(key, value));
    const ByteMap &obj = maps.at(m.name);
    const MapTerms &fin = netfnState.maps.at(m.name);
    z3::expr kb = c.constant(("witness.key." + m.name).c_str(),
                             c.bv_sort(8 * key.size));
    witness.emplace(m.name, kb);
    // Only canonical key bytes are keys init can insert.
    z3::expr k = decode(sc, key, kb);
    z3::expr elemPresent =
        isCanonical(sc, key, kb) && z3::select(fin.present, k);
    z3::expr objPresent = z3::select(obj.present, kb);
    d.push_back({"map @" + m.name,
                 objPresent != elemPresent ||
                     (objPresent &&
                      z3::select(obj.values, kb) !=
                          encode(sc, value, z3::select(fin.values, k)))});
    d.push_back({"map @" + m.name + " count", obj.count != fin.count});
  }
  for (netfn::StateOp s : program.getStateOps()) {
    std::string n = s.getSymName().str();
    if (!abi.findScalar(n) && !abi.findMap(n) &&
        llvm::none_of(abi.logs, [&](const bpf::LogABI &l) { return l.name == n; }))
      throw BindingError("state @" + n + " has no place in the ABI record");
  }
  return d;
}

void InitChecker::counterexample(z3::model &m,
                                 const std::vector<Observable> &diffs) {
  Counterexample &cx = report.counterexample;
  cx.init = true;
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "counterexample: the object's initial state and the init of element "
     << abi.program << " differ in:";
  for (const Observable &o : diffs)
    if (evalBool(m, o.differs))
      os << " " << o.name << ";";
  os << "\n";

  // Scalars: both values, the object's bytes.
  z3::expr expected = data;
  for (const bpf::ScalarABI &s : abi.scalars) {
    if (logCounter(s.name))
      continue;
    Slot slot = scalarSlot(s);
    z3::expr want = encode(sc, slot, netfnState.scalars.at(s.name));
    z3::expr got = readBytes(data, bv64(s.layout.offset), s.layout.size);
    expected = writeBytes(expected, bv64(s.layout.offset), want);
    std::vector<uint8_t> want8 = evalBytes(m, want), got8 = evalBytes(m, got);
    if (want8 == got8)
      continue;
    os << "  state @" << s.name << ": init gives "
       << render(sc, slot.type, m, netfnState.scalars.at(s.name))
       << ", the object starts with "
       << render(sc, slot.type, m, decode(sc, slot, got)) << " (bytes "
       << llvm::toHex(got8, true) << ", expected " << llvm::toHex(want8, true)
       << ")\n";
  }
  for (const bpf::LogABI &l : abi.logs) {
    const LogTerms &fin = netfnState.logs.at(l.name);
    expected = writeBytes(expected, bv64(l.sizeCounterOffset), fin.size);
    uint64_t want = evalU64(m, fin.size);
    uint64_t got = evalU64(m, readBytes(data, bv64(l.sizeCounterOffset), 8));
    if (want != got || want != 0)
      os << "  log @" << l.name << ": init leaves " << want
         << " records, the object's size counter is " << got
         << " and its ring buffer starts empty\n";
  }
  cx.expectedGlobalDataAfter = evalArrayBytes(m, expected, abi.globalSize);
  cx.actualGlobalDataAfter = evalArrayBytes(m, data, abi.globalSize);

  // Maps: the entries at the loader's keys and the witness key.
  for (const bpf::MapABI &mabi : abi.maps) {
    const ByteMap &obj = maps.at(mabi.name);
    const MapTerms &fin = netfnState.maps.at(mabi.name);
    auto &[key, value] = mapSlots.at(mabi.name);
    std::vector<z3::expr> keys = obj.loaderKeys;
    keys.push_back(witness.at(mabi.name));
    auto &after = cx.mapsAfter[mabi.name];
    for (const z3::expr &kb : keys) {
      Counterexample::MapEntryAfter e;
      e.key = evalBytes(m, kb);
      if (llvm::any_of(after, [&](const auto &x) { return x.key == e.key; }))
        continue;
      z3::expr k = decode(sc, key, kb);
      bool canonical = evalBool(m, isCanonical(sc, key, kb));
      if (canonical && evalBool(m, z3::select(fin.present, k)))
        e.expected =
            evalBytes(m, encode(sc, value, z3::select(fin.values, k)));
      if (evalBool(m, z3::select(obj.present, kb)))
        e.actual = evalBytes(m, z3::select(obj.values, kb));
      if (e.expected != e.actual) {
        auto show = [&](const std::optional<std::vector<uint8_t>> &v,
                        const z3::expr &netfnValue) -> std::string {
          return v ? render(sc, value.type, m, netfnValue) : "no entry";
        };
        os << "  map @" << mabi.name << " at key "
           << (canonical ? render(sc, key.type, m, k)
                         : "bytes " + llvm::toHex(e.key, true))
           << ": init gives "
           << show(e.expected, z3::select(fin.values, k))
           << ", the object has "
           << show(e.actual,
                   decode(sc, value, z3::select(obj.values, kb)))
           << "\n";
      }
      after.push_back(std::move(e));
    }
    uint64_t want = evalU64(m, fin.count), got = evalU64(m, obj.count);
    if (want != got)
      os << "  map @" << mabi.name << ": init leaves " << want
         << (want == 1 ? " entry" : " entries") << ", the object " << got
         << "\n";
  }

  // The values nobody chooses.
  for (const z3::expr &d : in.draws)
    cx.draws.push_back(uint32_t(evalU64(m, d)));
  for (const z3::expr &t : in.clocks)
    cx.clocks.push_back(evalU64(m, t));
  printDrawsAndClocks(os, cx, " of init");
  cx.dependsOnDrawsOrClocks = !randoms.empty() || !clocks.empty() ||
                              !in.draws.empty() || !in.clocks.empty();
  cx.expected = "the state init produces";
  cx.actual = "the state the object starts in after the loader's work";
  os << "element: " << cx.expected << "\nobject:  " << cx.actual << "\n";
  if (cx.dependsOnDrawsOrClocks)
    os << "note: the initial state holds random draws or clock readings; a "
          "replay cannot choose them\n";
  cx.text = os.str();
}

bool InitChecker::run() {
  in.prefix = "init.";
  llvm::Expected<SymbolicState> st = encodeInit(sc, program, in);
  if (!st)
    throw BindingError(llvm::toString(st.takeError()));
  netfnState = std::move(*st);
  objectStart();
  bindFreeValues();
  std::vector<Observable> diffs = observables();
  for (const z3::expr &a : in.assumptions)
    assumptions.push_back(a);

  Clock::time_point deadline =
      start + std::chrono::milliseconds(options.timeoutMs);
  for (const Observable &o : diffs) {
    unsigned left = msUntil(deadline);
    if (!left) {
      report.status = CheckReport::Unknown;
      report.reason = timeoutReason(options) + ", checking init";
      return false;
    }
    z3::solver s(c);
    z3::params p(c);
    p.set("timeout", left);
    s.set(p);
    for (const z3::expr &a : assumptions)
      s.add(a);
    s.add(o.differs);
    ++report.solverCalls;
    switch (s.check()) {
    case z3::unsat:
      continue;
    case z3::unknown:
      report.status = CheckReport::Unknown;
      report.reason = s.reason_unknown() == "timeout" ||
                              s.reason_unknown() == "canceled"
                          ? timeoutReason(options) + ", checking init"
                          : "solver: " + s.reason_unknown() +
                                ", checking init (" + o.name + ")";
      return false;
    case z3::sat: {
      z3::model m = s.get_model();
      report.status = CheckReport::Different;
      report.init = "different";
      counterexample(m, diffs);
      return false;
    }
    }
  }
  size_t entries = 0;
  for (const bpf::LoaderWork &w : abi.loaderWork)
    entries += w.kind == "map_entry";
  char took[32];
  snprintf(took, sizeof took, "%.3f s",
           std::chrono::duration<double>(Clock::now() - start).count());
  report.init = "proven in " + std::string(took) + " (" +
                std::to_string(diffs.size()) +
                " observables; loader work: map entries " +
                std::to_string(entries) + ", clock readings " +
                std::to_string(clocks.size()) + ", random values " +
                std::to_string(randoms.size()) + ")";
  return true;
}

} // namespace

void sbpf::checker::printDrawsAndClocks(llvm::raw_ostream &os,
                                        const Counterexample &cx,
                                        llvm::StringRef of) {
  if (!cx.draws.empty()) {
    os << "random draws" << of << ":";
    for (uint32_t d : cx.draws)
      os << " " << d;
    os << "\n";
  }
  if (!cx.clocks.empty()) {
    os << "clock readings" << of << " (ns):";
    for (uint64_t t : cx.clocks)
      os << " " << t;
    os << "\n";
  }
}

bool sbpf::checker::checkInitState(SemContext &sc, netfn::ProgramOp program,
                                   const bpf::ProgramABI &abi,
                                   const bc::BpfObject &object,
                                   const CheckOptions &options,
                                   CheckReport &report) {
  return InitChecker(sc, program, abi, object, options, report).run();
}
