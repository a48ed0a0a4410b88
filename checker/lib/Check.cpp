//===- Check.cpp - translation validation: netfn element vs BPF object ----===//
//
// checkObject: the element's meaning on a symbolic frame and state
// (Binding.cpp, built from NetfnSemantics) and the object's, from the
// symbolic executor (Exec.h) run on the same terms in the same z3::context;
// one query asks for an input on which any observable differs:
//   - the return code (XDP_PASS/DROP, TC_ACT_OK/SHOT);
//   - when both pass: every byte of the frame (the fields the handler sets
//     compare by their decoded value, all other bytes must be untouched) and
//     the frame's bounds;
//   - every state scalar's bytes in global data, each log's size counter;
//   - every hash map (a witness key: presence and value bytes) and its count;
//   - each ring buffer's records appended (count and bytes of each field);
//   - each reject counter slot's increment;
//   - how many random draws and clock readings the run made.
// Unsat: Proven. Sat: the model becomes a Counterexample the kernel can
// replay. Unknown: the solver's reason (e.g. "timeout").
//
// Maps: a map's count is an input both sides keep (the number of present
// keys). It only matters when a map is full, so the query first assumes no
// map is full (a counterexample then replays with the entries it lists), and
// only if that is unsat asks again with full maps allowed.
//
// checkObjects: two objects with the same maps run on one symbolic frame,
// map contents, draws and clock readings; the same observables compared map
// by map.
//
//===----------------------------------------------------------------------===//
#include "sbpf/Checker/Check.h"

#include "Binding.h"
#include "InitCheck.h"
#include "sbpf/Checker/Normalize.h"
#include "sbpf/Checker/Sweep.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cstdlib>
#include <functional>
#include <optional>
#include <random>
#include <unordered_map>
#include <unordered_set>

using namespace sbpf;
using namespace sbpf::checker;
using namespace sbpf::checker::binding;
namespace bc = sbpf::checker::bytecode;
using mlir::Type;

namespace {

using Clock = std::chrono::steady_clock;
using Diffs = std::vector<std::pair<std::string, z3::expr>>;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// The record of the object, or why there is none.
llvm::Expected<bpf::ProgramABI> embeddedABI(const bc::BpfObject &object) {
  auto it = object.sections.find(bpf::kABISection);
  if (it == object.sections.end())
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "the object has no %s section (objects compiled by sbpf-opt carry "
        "one); give the ABI record explicitly",
        bpf::kABISection);
  llvm::StringRef text(reinterpret_cast<const char *>(it->second.data()),
                       it->second.size());
  return bpf::parseABIJson(text.rtrim(llvm::StringRef("\0", 1)));
}

std::string execFailure(const std::string &what, bc::ExecStatus status,
                        const std::string &message, CheckReport &report) {
  report.status = status == bc::ExecStatus::Error ? CheckReport::Error
                                                  : CheckReport::Unknown;
  return what + ": " + message;
}

/// The keys an array value of the model maps to true: a store chain over a
/// constant array, or a function interpretation. `infinite` is set when the
/// default is true (every other key present too).
std::vector<z3::expr> trueKeys(z3::model &m, const z3::expr &array,
                               bool &infinite) {
  std::vector<z3::expr> keys;
  z3::expr v = m.eval(array, true);
  infinite = false;
  std::vector<z3::expr> seen;
  while (v.is_app()) {
    Z3_decl_kind kind = v.decl().decl_kind();
    if (kind == Z3_OP_STORE) {
      z3::expr k = v.arg(1);
      bool shadowed = false;
      for (const z3::expr &s : seen)
        shadowed |= z3::eq(s, k);
      if (!shadowed) {
        seen.push_back(k);
        if (v.arg(2).is_true())
          keys.push_back(k);
      }
      v = v.arg(0);
      continue;
    }
    if (kind == Z3_OP_CONST_ARRAY) {
      infinite = v.arg(0).is_true();
      break;
    }
    if (kind == Z3_OP_AS_ARRAY) {
      z3::func_decl f(v.ctx(), Z3_get_as_array_func_decl(v.ctx(), v));
      z3::func_interp fi = m.get_func_interp(f);
      for (unsigned i = 0; i < fi.num_entries(); ++i)
        if (fi.entry(i).value().is_true())
          keys.push_back(fi.entry(i).arg(0));
      infinite = fi.else_value().is_true();
      break;
    }
    // A lambda or anything else: entries unknown.
    infinite = true;
    break;
  }
  return keys;
}

std::string hexBytes(llvm::ArrayRef<uint8_t> bytes) {
  return llvm::toHex(bytes, /*LowerCase=*/true);
}

/// The action's name for the hook.
std::string actionName(bpf::Hook hook, uint64_t code) {
  if (hook == bpf::Hook::TC) {
    if (code == kTcOk)
      return "TC_ACT_OK";
    if (code == kTcShot)
      return "TC_ACT_SHOT";
    return "tc action " + std::to_string(code);
  }
  switch (code) {
  case 0: return "XDP_ABORTED";
  case kXdpDrop: return "XDP_DROP";
  case kXdpPass: return "XDP_PASS";
  case 3: return "XDP_TX";
  case 4: return "XDP_REDIRECT";
  default: return "XDP action " + std::to_string(code);
  }
}

void hexDump(llvm::raw_ostream &os, llvm::ArrayRef<uint8_t> bytes,
             llvm::StringRef indent) {
  for (size_t i = 0; i < bytes.size(); i += 16) {
    os << indent << llvm::format_hex_no_prefix(i, 4) << ":";
    for (size_t j = i; j < i + 16 && j < bytes.size(); ++j)
      os << " " << llvm::format_hex_no_prefix(bytes[j], 2);
    os << "\n";
  }
}

/// Is the counterexample input a map-full case? (count at capacity)
z3::expr noMapFull(Element &el, netfn::ProgramOp program) {
  z3::context &c = el.world.packet.ctx();
  z3::expr r = c.bool_val(true);
  for (netfn::StateOp s : program.getStateOps())
    if (auto mt = llvm::dyn_cast<netfn::MapType>(s.getType()))
      r = r && z3::ult(el.inputs.state.maps.at(s.getSymName().str()).count,
                       c.bv_val(mt.getCapacity(), 64));
  return r;
}

/// A preference for a counterexample whose map holds a few explicit
/// entries: `present` is a store chain of kFewEntries distinct keys over
/// "nothing present" and `count` the number of them stored as present (so
/// that the replay can insert exactly these entries).
constexpr unsigned kFewEntries = 3;
z3::expr fewEntries(z3::context &c, const z3::expr &present,
                    const z3::expr &count, const std::string &name) {
  z3::sort ks = present.get_sort().array_domain();
  z3::expr chain = z3::const_array(ks, c.bool_val(false));
  z3::expr n = c.bv_val(0, 64);
  z3::expr_vector keys(c);
  for (unsigned i = 0; i < kFewEntries; ++i) {
    std::string id = "entry." + name + "." + std::to_string(i);
    z3::expr k = c.constant(id.c_str(), ks);
    z3::expr p = c.bool_const((id + ".present").c_str());
    keys.push_back(k);
    chain = z3::store(chain, k, p);
    n = n + z3::ite(p, c.bv_val(1, 64), c.bv_val(0, 64));
  }
  return present == chain && count == n && z3::distinct(keys);
}

/// Equality of two keys of an array, as a read through a store asks it.
using KeyEq = std::function<z3::expr(const z3::expr &, const z3::expr &)>;

/// Reads array `a` at `idx` with the read pushed through the stores,
/// if-then-elses and lambdas `a` is built of: A[i := v][j] is
/// ite(keyEq(i, j), v, A[j]), (ite c A B)[j] is ite(c, A[j], B[j]), and
/// (lambda k. body)[j] is body with j for k. A map difference then reads
/// as two if-then-else trees over the same leaves (the map's contents
/// before, at the key; the values stored), which the solver compares
/// without reasoning about arrays. `memo` holds each array term's read by
/// its id (the trees are DAGs).
z3::expr readThrough(const z3::expr &a, const z3::expr &idx, const KeyEq &keyEq,
                     std::unordered_map<unsigned, z3::expr> &memo) {
  unsigned id = Z3_get_ast_id(a.ctx(), a);
  if (auto it = memo.find(id); it != memo.end())
    return it->second;
  z3::expr r(a.ctx());
  if (a.is_lambda() && Z3_get_quantifier_num_bound(a.ctx(), a) == 1) {
    z3::expr_vector with(a.ctx());
    with.push_back(idx);
    r = a.body().substitute(with);
  } else if (a.is_app() && a.decl().decl_kind() == Z3_OP_STORE &&
             a.num_args() == 3) {
    // Keys the simplifier tells apart or equal (a byte of a field at its
    // offset + i against the stores at offset + j) decide the read here.
    z3::expr same = keyEq(a.arg(1), idx).simplify();
    if (same.is_true())
      r = a.arg(2);
    else if (same.is_false())
      r = readThrough(a.arg(0), idx, keyEq, memo);
    else
      r = z3::ite(same, a.arg(2), readThrough(a.arg(0), idx, keyEq, memo));
  } else if (a.is_app() && a.decl().decl_kind() == Z3_OP_ITE) {
    r = z3::ite(a.arg(0), readThrough(a.arg(1), idx, keyEq, memo),
                readThrough(a.arg(2), idx, keyEq, memo));
  } else {
    r = z3::select(a, idx);
  }
  memo.emplace(id, r);
  return r;
}

/// Keys compared as they are (byte addresses, map keys' bytes).
z3::expr bytesEq(const z3::expr &x, const z3::expr &y) { return x == y; }

/// `size` bytes of the byte array `bytes` from `offset`, little-endian as
/// binding::readBytes reads them, each read through the stores
/// (readThrough, bytes compared as they are).
z3::expr readBytesThrough(const z3::expr &bytes, const z3::expr &offset,
                          unsigned size) {
  z3::expr_vector parts(bytes.ctx());
  for (unsigned j = size; j-- > 0;) {
    // A memo per byte: it holds reads at one index.
    std::unordered_map<unsigned, z3::expr> memo;
    parts.push_back(readThrough(
        bytes, offset + bytes.ctx().bv_val(j, 64), bytesEq, memo));
  }
  return z3::concat(parts);
}

/// Whether NUL-free values (SemContext::isNulFree) written into `slot`
/// decode back to themselves, and two of them are equal exactly when
/// their bytes are: a NUL-padded string slot holding the type's whole
/// capacity (unit-tested in BindingTest).
bool nulPaddedWhole(const Slot &slot) {
  auto st = llvm::dyn_cast<netfn::StringType>(slot.type);
  return st && slot.encoding == "str" && slot.size >= st.getCapacity();
}

/// Reads the values that map value bytes hold, for comparing them with the
/// element's. The decoding is pushed through if-then-elses to the leaves.
/// For a NUL-padded string slot (nulPaddedWhole), a leaf's value is an
/// uninterpreted function D of its bytes, defined at each leaf (D(b) =
/// decode(b)), and known to give a NUL-free value v back from its
/// encoding: D(encode(v)) = v, a theorem for those. With these, the
/// conjunction is equisatisfiable with the decoded comparison (D = decode
/// satisfies it; D is decode wherever it is read), and the solver need
/// not decode at all where the object stores bytes it can show equal to
/// the element's value's encoding, or bytes read at equal keys: the
/// decoding of a NUL-padded string is a 64-byte scan the solver otherwise
/// matches bit by bit (kinds/cache: unknown after 60 s; 10 s with D).
class ValueReader {
public:
  ValueReader(SemContext &sc, const Slot &slot, const std::string &mapName)
      : sc(sc), slot(slot), definitions(sc.z3().bool_val(true)) {
    if (nulPaddedWhole(slot))
      D.emplace(sc.z3().function(("decode." + mapName).c_str(),
                                 sc.z3().bv_sort(8 * slot.size),
                                 sc.sortOf(slot.type)));
  }

  z3::expr read(const z3::expr &bits) {
    unsigned id = Z3_get_ast_id(bits.ctx(), bits);
    if (auto it = memo.find(id); it != memo.end())
      return it->second;
    z3::expr r(bits.ctx());
    if (bits.is_app() && bits.decl().decl_kind() == Z3_OP_ITE) {
      r = z3::ite(bits.arg(0), read(bits.arg(1)), read(bits.arg(2)));
    } else if (D) {
      r = (*D)(bits);
      definitions = definitions && r == decode(sc, slot, bits);
    } else {
      r = decode(sc, slot, bits);
    }
    memo.emplace(id, r);
    return r;
  }

  /// Adds D(encode(v)) = v for each NUL-free leaf v of the if-then-else
  /// tree `value` (the element's values).
  void knowValues(const z3::expr &value) {
    if (!D || !seen.insert(Z3_get_ast_id(value.ctx(), value)).second)
      return;
    if (value.is_app() && value.decl().decl_kind() == Z3_OP_ITE) {
      knowValues(value.arg(1));
      knowValues(value.arg(2));
    } else if (sc.isNulFree(value) &&
               z3::eq(value.get_sort(), sc.sortOf(slot.type))) {
      definitions = definitions &&
                    (*D)(encode(sc, slot, value, /*canonicalValue=*/true)) == value;
    }
  }

  /// The leaves' definitions and the known values: a conjunct of the
  /// comparison.
  const z3::expr &facts() const { return definitions; }

private:
  SemContext &sc;
  const Slot &slot;
  std::optional<z3::func_decl> D;
  z3::expr definitions;
  std::unordered_map<unsigned, z3::expr> memo;
  std::unordered_set<unsigned> seen;
};

/// The answer of askEach.
struct Query {
  SolverStatus status = SolverStatus::Unknown;
  std::string reason;
  std::optional<z3::model> model;
  /// Unknown because a time or resource limit ran out (not for a reason
  /// more time would not change, e.g. incompleteness).
  bool outOfBudget() const {
    return status == SolverStatus::Unknown &&
           (reason == "timeout" || reason == "canceled" ||
            reason == kOutOfResources);
  }
  static constexpr const char *kOutOfResources = "resource limit";
};

/// The parameters the equivalence queries share (askEach, askCases,
/// falsify's rounds): relevancy propagation off, measured 5-10x faster on
/// the string-keyed map lookups (user_acl: timeout at 60 s -> 23 s;
/// first_seen -> 44 s) and no slower on the others.
z3::params queryParams(z3::context &c) {
  z3::params p(c);
  p.set("smt.relevancy", 0u);
  return p;
}

/// Asks, observable by observable, whether `named[i]` can hold under
/// `assumptions`: smaller queries than their disjunction, which the solver
/// answers much faster. Unsat for all is the proof. The first Sat one is
/// asked again with each of `preferences` in turn, keeping those that leave
/// it Sat, for a shorter, replayable counterexample. Unknown when some
/// query is Unknown and none is Sat, or when `deadline` passes, or when a
/// query needs more than `rlimit` of Z3's resource units (0: no such
/// limit), a count of the solver's work that, unlike wall time, does not
/// depend on what else the machine is doing.
Query askEach(z3::context &c, const std::vector<z3::expr> &assumptions,
              const Diffs &named, const std::vector<z3::expr> &preferences,
              Clock::time_point deadline, size_t &solverCalls,
              size_t *proven = nullptr, uint64_t rlimit = 0) {
  auto ask = [&](const std::vector<z3::expr> &extra, Query &out) {
    unsigned left = msUntil(deadline);
    if (!left) {
      out.status = SolverStatus::Unknown;
      out.reason = "timeout";
      return;
    }
    z3::solver s(c);
    if (const char *t = getenv("SBPF_CHECK_TACTIC")) {
      z3::tactic tac(c, "simplify");
      llvm::SmallVector<llvm::StringRef> names;
      llvm::StringRef(t).split(names, ',');
      for (llvm::StringRef n : names)
        tac = tac & z3::tactic(c, n.str().c_str());
      s = tac.mk_solver();
    }
    z3::params p = queryParams(c);
    p.set("timeout", left);
    if (rlimit)
      p.set("rlimit", unsigned(std::min<uint64_t>(rlimit, UINT32_MAX)));
    // For experiments: SBPF_CHECK_PARAMS=name=value,... (Z3 parameters).
    if (const char *extra = getenv("SBPF_CHECK_PARAMS")) {
      llvm::SmallVector<llvm::StringRef> kvs;
      llvm::StringRef(extra).split(kvs, ',');
      for (llvm::StringRef kv : kvs) {
        auto [k, v] = kv.split('=');
        if (k.empty() || v.empty() || (v != "true" && v != "false" &&
                                       v.find_first_not_of("0123456789") !=
                                           llvm::StringRef::npos))
          continue;
        if (v == "true" || v == "false")
          p.set(k.str().c_str(), v == "true");
        else
          p.set(k.str().c_str(), unsigned(std::stoul(v.str())));
      }
    }
    s.set(p);
    for (const z3::expr &e : assumptions)
      s.add(e);
    for (const z3::expr &e : extra)
      s.add(e);
    ++solverCalls;
    z3::check_result r = s.check();
    if (getenv("SBPF_CHECK_TRACE")) {
      z3::stats st = s.statistics();
      for (unsigned i = 0; i < st.size(); ++i)
        if (st.key(i) == "rlimit count")
          llvm::errs() << "check: Z3 resource units used so far (the "
                          "context's, all queries) "
                       << st.uint_value(i) << "\n";
    }
    switch (r) {
    case z3::sat:
      out.status = SolverStatus::Sat;
      out.model.emplace(s.get_model());
      return;
    case z3::unsat:
      out.status = SolverStatus::Unsat;
      return;
    case z3::unknown:
      out.status = SolverStatus::Unknown;
      out.reason = s.reason_unknown();
      // Z3 4.8 says "max. resource limit exceeded".
      if (rlimit && out.reason.find("resource") != std::string::npos)
        out.reason = Query::kOutOfResources;
      return;
    }
  };
  Query result;
  result.status = SolverStatus::Unsat;
  size_t first = proven ? *proven : 0;
  for (size_t i = first; i < named.size(); ++i) {
    const auto &[name, cond] = named[i];
    if (proven && result.status == SolverStatus::Unsat)
      *proven = i;
    if (z3::eq(cond.simplify(), c.bool_val(false)))
      continue;
    Query q;
    Clock::time_point asked = Clock::now();
    ask({cond}, q);
    if (getenv("SBPF_CHECK_TRACE"))
      llvm::errs() << "check: query '" << name << "': "
                   << (q.status == SolverStatus::Sat     ? "sat"
                       : q.status == SolverStatus::Unsat ? "unsat"
                                                         : "unknown")
                   << " in " << secondsSince(asked) << " s\n";
    if (q.status == SolverStatus::Unknown) {
      result.status = SolverStatus::Unknown;
      result.reason = q.reason;
      if (q.outOfBudget())
        return result;
      continue;
    }
    if (q.status == SolverStatus::Sat) {
      // Greedily keep each preference that leaves it satisfiable.
      std::vector<z3::expr> kept = {cond};
      for (const z3::expr &p : preferences) {
        kept.push_back(p);
        Query nicer;
        ask(kept, nicer);
        if (nicer.status == SolverStatus::Sat)
          q = std::move(nicer);
        else
          kept.pop_back();
      }
      return q;
    }
  }
  if (proven && result.status == SolverStatus::Unsat)
    *proven = named.size();
  return result;
}

/// Rewrites the queries with the internal equivalences of the two sides
/// (Sweep.h): the same function computed step by step in different
/// operations becomes shared terms, so each query compares only what
/// really differs. A second attempt, for queries the solver could not
/// answer quickly (the sweep costs more than it saves on the others).
/// `limitScale` multiplies the per-candidate time limits.
void sweepQueries(z3::context &c, Diffs &named,
                  const std::vector<z3::expr> &assumptions,
                  Clock::time_point deadline, CheckReport &report,
                  unsigned limitScale, bool thorough) {
  std::vector<z3::expr> goals;
  for (auto &[name, cond] : named)
    goals.push_back(cond);
  SweepOptions so;
  so.deadline = deadline;
  so.cutTimeoutMs *= limitScale;
  so.coneTimeoutMs *= limitScale;
  so.thorough = thorough;
  SweepStats st;
  sweep(c, goals, assumptions, so, st);
  for (size_t i = 0; i < goals.size(); ++i) {
    named[i].second = goals[i];
    // SBPF_SWEEP_DUMP=NAME prints the swept query NAME (for studying what
    // the sweep leaves to the solver).
    if (const char *dump = getenv("SBPF_SWEEP_DUMP"))
      if (named[i].first == dump)
        llvm::errs() << "check: swept query '" << dump << "':\n"
                     << goals[i].to_string() << "\n";
  }
  report.solverCalls += st.solverCalls;
  if (getenv("SBPF_CHECK_TRACE"))
    llvm::errs() << "check: swept " << st.nodes << " subterms in "
                 << st.seconds << " s: " << st.guided << " guided vectors, "
                 << st.dividerVectors << " divider vectors, "
                 << st.candidates << " candidates, " << st.merged
                 << " merged (" << st.mergedByCut << " by cut), "
                 << st.refuted << " refuted, " << st.unknown << " unknown, "
                 << st.solverCalls << " solver calls, " << st.sampled
                 << " cut queries decided by evaluation, "
                 << st.goalsByCircuitCut << " goals proven with circuits cut"
                 << (st.outOfTime ? ", out of time" : "") << "\n";
}

/// Whether the queries divide a variable (by anything), or by a variable,
/// or multiply two variables: the circuits a bit-blasting solver
/// struggles to match. With `variableDivisor`, only a division by a
/// variable counts (a long division of two variables: success_ratio,
/// admission_control).
bool hasArithmeticCircuits(const Diffs &named, bool variableDivisor = false) {
  auto variables = [](const z3::expr &e) {
    unsigned n = 0;
    for (unsigned i = 0; i < e.num_args(); ++i)
      n += !e.arg(i).is_numeral();
    return n;
  };
  std::vector<z3::expr> stack;
  std::unordered_set<unsigned> seen;
  for (const auto &[name, d] : named)
    stack.push_back(d);
  while (!stack.empty()) {
    z3::expr e = stack.back();
    stack.pop_back();
    if (!e.is_app() || !seen.insert(e.id()).second)
      continue;
    // Not of two numerals (a constant the rewriter has not folded yet).
    if (isDivision(e) && (variableDivisor ? e.num_args() == 2 &&
                                                !e.arg(1).simplify().is_numeral()
                                          : variables(e) > 0))
      return true;
    if (e.decl().decl_kind() == Z3_OP_BMUL && !variableDivisor &&
        variables(e) > 1)
      return true;
    for (unsigned i = 0; i < e.num_args(); ++i)
      stack.push_back(e.arg(i));
  }
  return false;
}

Query askSwept(z3::context &c, const std::vector<z3::expr> &assumptions,
               Diffs &named, const std::vector<z3::expr> &preferences,
               Clock::time_point deadline, bool splitDivisors,
               CheckReport &report);

/// The inputs falsify() fixes: the clock readings (the element's
/// constants netfn.clock*, Binding.cpp's prefix, which the executor reads
/// too, and the executor's own clock* past them), the executor's own
/// draws (draw*) and the bytes of the global data (the scalar state) the
/// queries read at constant offsets. Not the element's draws
/// (netfn.draw*): with the state fixed, a draw is compared with a
/// constant threshold, and the solver finds the one draw where a mutant
/// differs (paper_fault's) where a random value would miss it. Not the
/// frame, whose bytes must pass the parse steps, nor map contents or
/// witnesses. Until the element's clocks were fixed too, token_bucket's
/// rounds kept its time arithmetic symbolic and ran out of their units
/// (2.7 s of its 5.5 s).
std::vector<z3::expr> fixableInputs(const Diffs &named, size_t from) {
  constexpr size_t kMax = 512;
  std::vector<z3::expr> out, stack;
  std::unordered_set<unsigned> seen;
  for (size_t i = from; i < named.size(); ++i)
    stack.push_back(named[i].second);
  while (!stack.empty() && out.size() < kMax) {
    z3::expr e = stack.back();
    stack.pop_back();
    if (!e.is_app() || !seen.insert(e.id()).second)
      continue;
    z3::func_decl d = e.decl();
    if (e.num_args() == 0) {
      std::string name = d.name().str();
      if (d.decl_kind() == Z3_OP_UNINTERPRETED && e.is_bv() &&
          (llvm::StringRef(name).startswith("draw") ||
           llvm::StringRef(name).startswith("clock") ||
           llvm::StringRef(name).startswith("netfn.clock")))
        out.push_back(e);
      continue;
    }
    if (d.decl_kind() == Z3_OP_SELECT && e.num_args() == 2 &&
        e.arg(1).is_numeral() && e.arg(0).is_const() &&
        e.arg(0).decl().name().str() == "data" && e.is_bv()) {
      out.push_back(e);
      continue;
    }
    for (unsigned i = 0; i < e.num_args(); ++i)
      stack.push_back(e.arg(i));
  }
  return out;
}

/// Looks for a counterexample among inputs whose state, draws and clock
/// readings are fixed at random (fixableInputs): with those concrete, the
/// arithmetic on them (success_ratio's long division of two state values)
/// folds to constants and what is left to search is the frame. A query the
/// direct attempt could not decide within its resources because its
/// circuits hide an easy difference (a mutant that drops a state update,
/// or flips the test of a draw against a computed threshold) is then
/// answered at once (success_ratio's 8 such mutants: unknown at 60 s
/// before, each found in its first round, 0.03-0.06 s). An equivalent
/// object's rounds end unsat or out of their resources.
///
/// Each round draws the values as a model of the assumptions (hints the
/// assumptions reject are dropped through the unsat core), so they are
/// legal inputs, and asks whether any open goal holds with them put in and
/// folded. That is done in a context of its own: new terms in the checker's
/// context move the ids of those built after them, and with them the
/// sweep's and the solver's choices (token_bucket's sweep then left two
/// candidates open and took 7.6 s instead of 2.8 s). A hit is asked again
/// in the checker's context, the goal with the values as equalities, through
/// askEach (for the preferences): a model of it is a counterexample of the
/// original query. Nullopt when no round finds one.
std::optional<Query> falsify(z3::context &c,
                             const std::vector<z3::expr> &assumptions,
                             const Diffs &named, size_t from,
                             const std::vector<z3::expr> &preferences,
                             Clock::time_point deadline, size_t &solverCalls) {
  constexpr unsigned kRounds = 3;
  // Resource units per query (an equivalent object's round: 0.1-1 s; a
  // hit took 0.03-0.06 s; admission_control's mutant needed more than 1
  // million).
  constexpr unsigned kUnits = 2000000;
  std::vector<z3::expr> fixable = fixableInputs(named, from);
  if (fixable.empty() || from >= named.size())
    return std::nullopt;
  // Goals, assumptions and inputs, translated to the private context fc.
  z3::expr_vector all(c);
  for (size_t i = from; i < named.size(); ++i)
    all.push_back(named[i].second);
  for (const z3::expr &a : assumptions)
    all.push_back(a);
  for (const z3::expr &x : fixable)
    all.push_back(x);
  z3::context fc;
  z3::expr_vector there(fc, all);
  size_t nGoals = named.size() - from, nAssumptions = assumptions.size();
  auto goal = [&](size_t i) { return there[unsigned(i)]; };
  auto assumption = [&](size_t i) { return there[unsigned(nGoals + i)]; };
  auto input = [&](size_t j) {
    return there[unsigned(nGoals + nAssumptions + j)];
  };
  z3::expr_vector goals(fc);
  for (size_t i = 0; i < nGoals; ++i)
    goals.push_back(goal(i));
  z3::expr anyGoal = z3::mk_or(goals);
  std::mt19937_64 rng(0x5eed);
  auto limits = [&]() {
    z3::params p = queryParams(fc);
    p.set("timeout", std::max(1u, msUntil(deadline)));
    p.set("rlimit", kUnits);
    return p;
  };
  for (unsigned round = 0; round < kRounds; ++round) {
    if (!msUntil(deadline))
      return std::nullopt;
    // Hints. Round 0: values that matter most often (0, 1, all ones, a
    // lone top bit) besides uniform ones. Round 1: small ones (a byte 0
    // three times in four, else below 16), what fixed-point states of a
    // few units are made of. Round 2: uniform (admission_control's mutant
    // dividing with one more fraction bit differs there; rounds 0 and 1
    // are unsat for it).
    z3::solver hint(fc);
    hint.set(limits());
    for (size_t i = 0; i < nAssumptions; ++i)
      hint.add(assumption(i));
    std::vector<z3::expr> lits;
    for (size_t j = 0; j < fixable.size(); ++j) {
      unsigned w = input(j).get_sort().bv_size();
      uint64_t v = rng();
      if (round == 1)
        v = v % 4 ? 0 : 1 + rng() % 15;
      else if (round == 0)
        switch (v % 8) {
        case 0: v = 0; break;
        case 1: v = 1; break;
        case 2: v = ~uint64_t(0); break;
        case 3: v = uint64_t(1) << (w - 1); break;
        default: v = rng(); break;
        }
      if (w < 64)
        v &= (uint64_t(1) << w) - 1;
      z3::expr lit = fc.bool_const(("hint." + std::to_string(j)).c_str());
      hint.add(z3::implies(lit, input(j) == fc.bv_val(v, w)));
      lits.push_back(lit);
    }
    std::optional<z3::model> m;
    for (int attempt = 0; attempt < 4 && !m; ++attempt) {
      z3::expr_vector as(fc);
      for (const z3::expr &l : lits)
        as.push_back(l);
      ++solverCalls;
      z3::check_result r = hint.check(as);
      if (r == z3::sat) {
        m.emplace(hint.get_model());
      } else if (r == z3::unsat) {
        z3::expr_vector core = hint.unsat_core();
        std::unordered_set<unsigned> drop;
        for (unsigned k = 0; k < core.size(); ++k)
          drop.insert(core[k].id());
        llvm::erase_if(lits, [&](const z3::expr &l) {
          return drop.count(l.id()) > 0;
        });
      } else {
        break;
      }
    }
    if (!m)
      continue;
    // The draws and clocks are replaced by their values, the global data by
    // its fixed bytes stored over a fresh array (the other bytes): a
    // reparametrisation, so every read of a fixed byte folds, however its
    // index was computed, and the query is satisfiable exactly when the
    // original is with those values. Folded, the arithmetic on them is
    // constants before the solver sees it (asserting the equalities
    // instead left it to bit-blast the circuits: 0.3 s a round).
    z3::expr_vector vars(fc), vals(fc), values(fc);
    std::optional<z3::expr> data, stored;
    for (size_t j = 0; j < fixable.size(); ++j) {
      z3::expr x = input(j);
      z3::expr v = m->eval(x, /*model_completion=*/true);
      values.push_back(v);
      if (x.decl().decl_kind() != Z3_OP_SELECT) {
        vars.push_back(x);
        vals.push_back(v);
        continue;
      }
      if (!data) {
        data.emplace(x.arg(0));
        stored.emplace(fc.constant("data.unfixed", x.arg(0).get_sort()));
      }
      stored = z3::store(*stored, x.arg(1), v);
    }
    if (data) {
      vars.push_back(*data);
      vals.push_back(*stored);
    }
    z3::expr folded = anyGoal.substitute(vars, vals).simplify();
    // A circuit over inputs no round fixes (latency_log's clock reading
    // minus a map value, divided by 10^6) is left in the later rounds too,
    // which fix the same inputs, and each ran out of its units (3 x 0.3 s
    // there): no rounds then. (A product folded away by one round's zero
    // could be gone in another's; the sweep still follows.)
    if (hasArithmeticCircuits(Diffs{{"", folded}})) {
      if (getenv("SBPF_CHECK_TRACE"))
        llvm::errs() << "check: falsification: circuits over unfixed "
                        "inputs remain, no rounds\n";
      return std::nullopt;
    }
    z3::solver s(fc);
    s.set(limits());
    for (size_t i = 0; i < nAssumptions; ++i)
      s.add(assumption(i).substitute(vars, vals).simplify());
    s.add(folded);
    ++solverCalls;
    Clock::time_point asked = Clock::now();
    z3::check_result r = s.check();
    if (getenv("SBPF_CHECK_TRACE"))
      llvm::errs() << "check: falsification round " << round << " ("
                   << lits.size() << " of " << fixable.size()
                   << " hints kept): "
                   << (r == z3::sat     ? "sat"
                       : r == z3::unsat ? "unsat"
                                        : "unknown (" + s.reason_unknown() + ")")
                   << " in " << secondsSince(asked) << " s\n";
    if (r != z3::sat)
      continue;
    z3::model hit = s.get_model();
    for (size_t i = 0; i < nGoals; ++i) {
      if (!hit.eval(goal(i).substitute(vars, vals), true).is_true())
        continue;
      // Back in the checker's context: the values as equalities.
      z3::expr_vector back(c, values);
      std::vector<z3::expr> fixed = assumptions;
      for (size_t j = 0; j < fixable.size(); ++j)
        fixed.push_back(fixable[j] == back[unsigned(j)]);
      Query q = askEach(c, fixed, Diffs{named[from + i]}, preferences,
                        deadline, solverCalls);
      if (q.status == SolverStatus::Sat)
        return q;
      break;
    }
  }
  return std::nullopt;
}

/// The queries asked case by case (divisorCases). One case alone is asked
/// as any query (askSwept, on its goals with the divisors replaced by
/// their value). Several are asked query by query in one incremental
/// solver each: the original goal once, then each case as an assumption
/// (a literal implying its divisors' equalities), so that what the solver
/// learns about the rest of the goal (scramble's body bytes) carries over
/// from case to case (scramble at -O0: the first of its 64 cases 11 s,
/// the others 1-2 s each; asked apart, with the divisors replaced, each
/// took 10-25 s, as long as the first). A satisfiable case is asked again
/// on its own, through askEach, for a counterexample that keeps the
/// preferences.
Query askCases(z3::context &c, const std::vector<z3::expr> &assumptions,
               const Diffs &named, const std::vector<DivisorCase> &cases,
               const std::vector<z3::expr> &preferences,
               Clock::time_point deadline, CheckReport &report) {
  auto caseQueries = [&](const DivisorCase &k) {
    Diffs d;
    for (size_t j = 0; j < named.size(); ++j)
      d.emplace_back(named[j].first, k.goals[j]);
    return d;
  };
  Query q;
  if (cases.size() == 1) {
    Diffs d = caseQueries(cases[0]);
    return askSwept(c, cases[0].assumptions, d, preferences, deadline,
                    /*splitDivisors=*/false, report);
  }
  for (const auto &[name, goal] : named) {
    if (z3::eq(goal.simplify(), c.bool_val(false)))
      continue;
    z3::solver s(c);
    z3::params p = queryParams(c);
    s.set(p);
    for (const z3::expr &a : assumptions)
      s.add(a);
    s.add(goal);
    Clock::time_point asked = Clock::now();
    for (size_t i = 0; i < cases.size(); ++i) {
      unsigned left = msUntil(deadline);
      if (!left) {
        q.status = SolverStatus::Unknown;
        q.reason = "timeout";
        return q;
      }
      z3::params t(c);
      t.set("timeout", left);
      s.set(t);
      z3::expr inCase =
          c.bool_const(("divisor.case." + std::to_string(i)).c_str());
      s.add(z3::implies(inCase, cases[i].equal));
      z3::expr_vector as(c);
      as.push_back(inCase);
      ++report.solverCalls;
      z3::check_result r = s.check(as);
      if (r == z3::unsat)
        continue;
      if (r == z3::sat) {
        Diffs d = caseQueries(cases[i]);
        return askEach(c, cases[i].assumptions, d, preferences, deadline,
                       report.solverCalls);
      }
      q.status = SolverStatus::Unknown;
      q.reason = s.reason_unknown();
      return q;
    }
    if (getenv("SBPF_CHECK_TRACE"))
      llvm::errs() << "check: query '" << name << "': unsat in all "
                   << cases.size() << " cases in " << secondsSince(asked)
                   << " s\n";
  }
  q.status = SolverStatus::Unsat;
  return q;
}

/// askEach, and when a query is still open after a while (below), the
/// unanswered ones again after a sweep (given half of what is left);
/// queries with arithmetic circuits get up to three sweeps, each with four
/// times the per-candidate time limits of the one before, and before them,
/// with `splitDivisors`, a case split when their divisors take few values
/// (askCases).
Query askSwept(z3::context &c, const std::vector<z3::expr> &assumptions,
               Diffs &named, const std::vector<z3::expr> &preferences,
               Clock::time_point deadline, bool splitDivisors,
               CheckReport &report) {
  size_t proven = 0;
  bool arithmetic = hasArithmeticCircuits(named);
  // Both sides' terms in one shape first (Normalize.h): what the local
  // rewrites make identical, Z3 shares, and neither the solver nor the
  // sweep has to match it (success_ratio: 649 -> 438 pairs the sweep
  // proves, its sweep 16 -> 12 s). The rewritten goals are equivalent to
  // the originals, so their models are counterexamples as they were.
  // Only queries with arithmetic circuits, which the sweep takes on: the
  // others are decided by the direct attempt, and for that the shape is a
  // matter of the solver's luck (kinds/cache's map query: 56 -> 77 million
  // units normalized). SBPF_NO_NORMALIZE=1 turns the step off, for
  // measuring.
  if (arithmetic && !getenv("SBPF_NO_NORMALIZE")) {
    Clock::time_point t0 = Clock::now();
    Normalizer norm;
    for (auto &[name, d] : named)
      d = norm(d);
    // Folding may leave no circuit (scramble: its key is a constant, so
    // every `i % len(key)` folds): then the query is not arithmetic.
    arithmetic = hasArithmeticCircuits(named);
    if (getenv("SBPF_CHECK_TRACE"))
      llvm::errs() << "check: normalized in "
                   << std::chrono::duration<double>(Clock::now() - t0).count()
                   << " s, " << norm.rewrites() << " nodes rewritten"
                   << (arithmetic ? "" : ", no arithmetic circuit left")
                   << "\n";
  }
  if (const char *dump = getenv("SBPF_QUERY_DUMP"))
    for (auto &[name, d] : named)
      if (name == dump)
        llvm::errs() << "QUERY " << name << ":\n" << d.to_string() << "\n";
  // When to give up on a direct query and sweep: when it has used a given
  // amount of Z3's resource units, which count the solver's work (about
  // 1,000-10,000 a millisecond on this machine, depending on the query),
  // so that which queries are swept does not depend on how loaded the
  // machine is (with a wall-clock limit, kinds/cache's 13 s direct proof
  // went over 20 s in a loaded CI run and the proof failed). Queries with
  // divider or multiplier circuits: 1 million units (0.2-0.5 s).
  // Bit-blasting two differently built dividers rarely succeeds directly,
  // while the sweep matches their steps (measured on this machine:
  // token_bucket 18 -> 10 s, latency_log 12 -> 4 s against sweeping after
  // 10 s; 3 million units, the limit before normalization, left the
  // record of latency_log and the verdict of token_bucket unknown
  // after 0.4 and 1.2 s: latency_log's check 1.5 -> 0.8 s of CPU with 1
  // million, token_bucket's the same, mutation-clock.test the same 41/45
  // kills, 0 unknown, 24 s instead of 37). Other queries (strings, maps)
  // mostly finish directly and a sweep costs them more than it saves
  // (user_acl 12 s direct, 44 s when swept after 10 s; first_seen 19 s
  // against 27 s; cache's largest query needs 67 million units): 200
  // million (20-30 s). (scramble's key index, a remainder by the key's
  // length, folds once the key is a constant: normalized, it is not
  // arithmetic.) Half the budget at most for arithmetic queries, to leave
  // the sweep time when the budget is short; seven eighths for the
  // others, whose sweep rarely decides what the direct attempt did not
  // (kinds/cache: its map query, 56 million units, 10-13 s here, was
  // unknown at sbpf check's default 20 s with half).
  // Thorough sweeps (SweepOptions::thorough) from the first one on for a
  // long division of two variables (admission_control: proven in 32 s,
  // unknown otherwise); else only for the later sweeps (latency_log: 3.5 s
  // every run with the plain first sweep, 5-49 s with a thorough one).
  bool longDivision =
      arithmetic && hasArithmeticCircuits(named, /*variableDivisor=*/true);
  // A long division of two variables: 300,000 units (under a second).
  // There the direct attempt never proved an equivalent object (unknown
  // at 3 million units, 5-6 s of success_ratio's and admission_control's
  // 16-20 s), and the mutants it refuted with more than 300,000 units are
  // found by falsification or the sweep (mutation-arith.test: the same
  // 20/23 and 21/23 kills, 0 unknown, 125 s instead of 226 s).
  uint64_t firstUnits =
      longDivision ? 300000 : arithmetic ? 1000000 : 200000000;
  auto left = deadline - Clock::now();
  Query q = askEach(c, assumptions, named, preferences,
                    Clock::now() + (arithmetic ? left / 2 : left / 8 * 7),
                    report.solverCalls, &proven, firstUnits);
  // Divisors with few values (divisorCases, Sweep.h): the cases asked by
  // askCases; the sweeps below when the split does not apply or a case
  // stays open. Only for many divisions (16, the
  // default): with a few, a numeral divisor costs the sweep more than the
  // variable one (latency_log's division by a 10^9 it reads from a
  // constant: 2.5 s swept, unknown after 300 s split).
  if (arithmetic && q.outOfBudget() && splitDivisors) {
    Clock::time_point now = Clock::now();
    std::vector<z3::expr> goals;
    for (const auto &[name, d] : named)
      goals.push_back(d);
    if (std::optional<std::vector<DivisorCase>> cases =
            divisorCases(c, goals, assumptions, now + (deadline - now) / 8,
                         report.solverCalls)) {
      // One case is the same queries, simpler: all the time left (the
      // default scramble needs 11 s; with half of sbpf check's default
      // 20 s it was unknown). Several: half, the sweeps keep the rest.
      Clock::time_point until =
          cases->size() == 1 ? deadline
                             : Clock::now() + (deadline - Clock::now()) / 2;
      Query split = askCases(c, assumptions, named, *cases, preferences, until,
                             report);
      if (split.status != SolverStatus::Unknown)
        return split;
    }
  }
  // Falsification after the split: where a divisor takes few values the
  // cases decide the query either way (a case is exact: its value is
  // implied), while falsify's rounds, which fix the same state, ran out of
  // their units (scramble: 3 rounds, 4.5 s, before the split proved it).
  if (q.outOfBudget() && !getenv("SBPF_NO_FALSIFY"))
    if (std::optional<Query> cx =
            falsify(c, assumptions, named, proven, preferences,
                    Clock::now() + (deadline - Clock::now()) / 4,
                    report.solverCalls))
      return *cx;
  // A sweep that leaves a step unmerged leaves the query open (latency_log,
  // when the sweep's limits were wall-clock: one run in four stayed open
  // for the remaining 50 s). Arithmetic queries therefore get later sweeps
  // with longer limits instead of one long direct attempt.
  unsigned rounds = arithmetic ? 3 : 1;
  for (unsigned round = 0; round < rounds; ++round) {
    if (!q.outOfBudget())
      return q;
    Clock::time_point now = Clock::now();
    if (now >= deadline)
      return q;
    sweepQueries(c, named, assumptions, now + (deadline - now) / 2, report,
                 /*limitScale=*/1u << (2 * round),
                 /*thorough=*/round > 0 || longDivision);
    now = Clock::now();
    Clock::time_point until =
        round + 1 == rounds ? deadline : now + (deadline - now) / 2;
    q = askEach(c, assumptions, named, preferences, until, report.solverCalls,
                &proven);
  }
  return q;
}

/// askSwept until `options`' time limit from `start`; askEach alone
/// without the sweep.
Query askSwept(z3::context &c, const std::vector<z3::expr> &assumptions,
               Diffs &named, const std::vector<z3::expr> &preferences,
               Clock::time_point start, const CheckOptions &options,
               CheckReport &report) {
  Clock::time_point deadline =
      start + std::chrono::milliseconds(options.timeoutMs);
  if (!options.sweep)
    return askEach(c, assumptions, named, preferences, deadline,
                   report.solverCalls);
  return askSwept(c, assumptions, named, preferences, deadline,
                  /*splitDivisors=*/true, report);
}

/// Proven / Unknown from a query; false when there is a counterexample to
/// fill (status Different).
bool setStatus(const Query &q, const CheckOptions &options,
               CheckReport &report) {
  if (q.status == SolverStatus::Unsat) {
    report.status = CheckReport::Proven;
    return false;
  }
  if (q.status == SolverStatus::Unknown) {
    report.status = CheckReport::Unknown;
    report.reason =
        q.outOfBudget() ? timeoutReason(options) : "solver: " + q.reason;
    return false;
  }
  report.status = CheckReport::Different;
  return true;
}

//===----------------------------------------------------------------------===//
// Element vs object
//===----------------------------------------------------------------------===//

class ElementCheck {
public:
  ElementCheck(SemContext &sc, netfn::ProgramOp program,
               const bpf::ProgramABI &abi, const bc::BpfObject &object,
               const bc::Program &prog, const CheckOptions &options)
      : sc(sc), c(sc.z3()), program(program), abi(abi), object(object),
        prog(prog), options(options) {}

  void run(CheckReport &report);

private:
  SemContext &sc;
  z3::context &c;
  netfn::ProgramOp program;
  const bpf::ProgramABI &abi;
  const bc::BpfObject &object;
  const bc::Program &prog;
  const CheckOptions &options;
  Clock::time_point start = Clock::now();

  z3::expr bv64(uint64_t v) { return c.bv_val(v, 64); }
  int mapIndex(llvm::StringRef name) {
    for (size_t i = 0; i < prog.maps.size(); ++i)
      if (prog.maps[i].name == name)
        return int(i);
    return -1;
  }
  Diffs diffs(Element &el, const bc::ProgramExecResult &res,
              const bc::ExecOutcome &o);
  void fill(Element &el, const bc::ProgramExecResult &res, z3::model &m,
            const std::vector<Diffs> &all, CheckReport &report);
  void predictMapsAndRecords(Element &el, const bc::ProgramExecResult &res,
                             const bc::ExecOutcome &o, z3::model &m,
                             Counterexample &cx);
};

/// What a replay reads back besides global data: each hash map at the keys
/// the counterexample inserts and at the witness key of its difference,
/// and the records each ring buffer gets, the element's and the object's.
void ElementCheck::predictMapsAndRecords(Element &el,
                                         const bc::ProgramExecResult &res,
                                         const bc::ExecOutcome &o,
                                         z3::model &m, Counterexample &cx) {
  for (auto &[name, slots] : el.mapSlots) {
    int i = mapIndex(name);
    const bc::MapState &init = el.world.maps.at(name);
    const MapTerms &fin = el.finalState.maps.at(name);
    auto &[keySlot, valueSlot] = slots;
    std::vector<std::vector<uint8_t>> keys;
    for (auto &[k, v] : cx.mapEntries[name])
      keys.push_back(k);
    keys.push_back(evalBytes(m, c.constant(("witness.key." + name).c_str(),
                                           c.bv_sort(8 * keySlot.size))));
    auto &after = cx.mapsAfter[name];
    for (const std::vector<uint8_t> &key : keys) {
      if (llvm::any_of(after, [&](const auto &e) { return e.key == key; }))
        continue;
      z3::expr kb = bytesBits(c, key);
      z3::expr k = decode(sc, keySlot, kb);
      // Non-canonical key bytes are no netfn key: the element leaves them.
      z3::expr canonical = isCanonical(sc, keySlot, kb);
      z3::expr present = z3::ite(canonical, z3::select(fin.present, k),
                                 z3::select(*init.present, kb));
      z3::expr value = z3::ite(
          canonical, encode(sc, valueSlot, z3::select(fin.values, k)),
          z3::select(init.values, kb));
      Counterexample::MapEntryAfter e{key, std::nullopt, std::nullopt};
      if (evalBool(m, present))
        e.expected = evalBytes(m, value);
      if (evalBool(m, z3::select(*o.maps[i].present, kb)))
        e.actual = evalBytes(m, z3::select(o.maps[i].values, kb));
      after.push_back(std::move(e));
    }
  }
  for (const bpf::LogABI &l : abi.logs) {
    int i = mapIndex(l.ringbuf);
    const LogTerms &init = el.inputs.state.logs.at(l.name);
    const LogTerms &fin = el.finalState.logs.at(l.name);
    netfn::LogType lt;
    for (netfn::StateOp st : program.getStateOps())
      if (st.getSymName() == l.name)
        lt = llvm::cast<netfn::LogType>(st.getType());
    auto &want = cx.expectedRecords[l.ringbuf];
    uint64_t appended = evalU64(m, fin.size - init.size);
    for (uint64_t j = 0; j < appended && j < 64; ++j) {
      z3::expr rec = z3::select(fin.records, init.size + bv64(j));
      std::vector<uint8_t> bytes(l.recordSize, 0);
      for (size_t f = 0; f < l.record.size(); ++f) {
        const bpf::ValueLayout &lay = l.record[f];
        Slot slot{lt.getFields()[f], lay.encoding, unsigned(lay.size)};
        std::vector<uint8_t> v =
            evalBytes(m, encode(sc, slot, sc.tupleProj(lt, f)(rec)));
        std::copy(v.begin(), v.end(), bytes.begin() + lay.offset);
      }
      want.push_back(std::move(bytes));
    }
    auto &got = cx.actualRecords[l.ringbuf];
    z3::expr before = *res.initialMaps[i].count;
    uint64_t added = evalU64(m, *o.maps[i].count - before);
    for (uint64_t j = 0; j < added && j < 64 && o.maps[i].recordSize; ++j)
      got.push_back(
          evalBytes(m, z3::select(o.maps[i].values, before + bv64(j))));
  }
}

Diffs ElementCheck::diffs(Element &el, const bc::ProgramExecResult &res,
                          const bc::ExecOutcome &o) {
  Diffs d;
  World &w = el.world;
  z3::expr action = o.r0.extract(31, 0);
  d.emplace_back("return code", action != el.action);

  // The frame, when both let it through.
  bool tc = abi.hook == bpf::Hook::TC;
  z3::expr bothPass =
      el.action == c.bv_val(tc ? kTcOk : kXdpPass, 32) && action == el.action;
  d.emplace_back("frame bounds", bothPass && (o.packetStart != bv64(0) ||
                                              o.packetEnd != w.packetLen));
  z3::expr at = c.constant("witness.frame-byte", c.bv_sort(64));
  z3::expr inSetField = c.bool_val(false);
  for (EventRun &r : el.runs)
    for (auto &f : r.setFields) {
      inSetField = inSetField ||
                   (r.runs && z3::uge(at, f.offset) &&
                    z3::ult(at, f.offset + bv64(f.slot.size)));
      // The bytes a receiver gets: the element's value as the wire
      // encoding writes it. (Not the object's bytes decoded: a string
      // with a NUL inside, e.g. a XOR that zeroed a byte, is written in
      // full, and "the bytes before the first NUL" of it is shorter.)
      d.emplace_back("field " + f.name + " of " + r.event,
                     bothPass && r.runs &&
                         readBytesThrough(o.packet, f.offset, f.slot.size) !=
                             encode(sc, f.slot, r.sem.fields.at(f.name)));
    }
  d.emplace_back("frame bytes", bothPass && z3::ult(at, w.packetLen) &&
                                    !inSetField &&
                                    z3::select(o.packet, at) !=
                                        z3::select(w.packet, at));

  // Global data: each scalar's bytes, each log's size counter.
  int data = mapIndex(abi.globalSection);
  if (!el.finalState.scalars.empty() || !el.finalState.logs.empty()) {
    if (data < 0)
      throw BindingError("the program has no global data map");
    const z3::expr &bytes = o.maps[data].values;
    for (const bpf::ScalarABI &s : abi.scalars) {
      auto it = el.finalState.scalars.find(s.name);
      if (it == el.finalState.scalars.end())
        continue; // a log's counter, below
      Type t;
      for (netfn::StateOp st : program.getStateOps())
        if (st.getSymName() == s.name)
          t = st.getType();
      Slot slot{t, s.layout.encoding, unsigned(s.layout.size)};
      d.emplace_back("state @" + s.name,
                     readBytes(bytes, bv64(s.layout.offset), s.layout.size) !=
                         encode(sc, slot, it->second));
    }
    for (const bpf::LogABI &l : abi.logs)
      d.emplace_back("log @" + l.name + " size counter",
                     readBytes(bytes, bv64(l.sizeCounterOffset), 8) !=
                         el.finalState.logs.at(l.name).size);
  }

  // Hash maps: a witness key's presence and value bytes, and the count.
  for (auto &[name, slots] : el.mapSlots) {
    int i = mapIndex(name);
    if (i < 0 || !o.maps[i].present || !o.maps[i].count)
      throw BindingError("the program does not use map '" + name +
                         "' as a hash map");
    const MapTerms &fin = el.finalState.maps.at(name);
    const bc::MapState &init = el.world.maps.at(name);
    auto &[keySlot, valueSlot] = slots;
    // At a witness key's bytes kb: a canonical key is the netfn key k it
    // encodes (so the object is read at encode(k), equal to kb there: the
    // very bytes the element reads its map's initial contents at); other
    // bytes the element never touches. Values compare by what they decode
    // to (a bool byte 2 and 1 are both true). Reads go through the stores
    // (readThrough); two NUL-free string keys are equal when their bytes
    // are, and a NUL-free string stored decodes back to itself.
    z3::expr kb = c.constant(("witness.key." + name).c_str(),
                             c.bv_sort(8 * keySlot.size));
    z3::expr k = decode(sc, keySlot, kb);
    z3::expr ek = encode(sc, keySlot, k, /*canonicalValue=*/true);
    z3::expr canonical = ek == kb;
    bool wholeKeys = nulPaddedWhole(keySlot);
    KeyEq keyEq = [&](const z3::expr &x, const z3::expr &y) {
      if (wholeKeys && sc.isNulFree(x) && sc.isNulFree(y))
        return encode(sc, keySlot, x, true) == encode(sc, keySlot, y, true);
      return x == y;
    };
    std::unordered_map<unsigned, z3::expr> m1, m2, m3, m4, m5, m6;
    z3::expr objPresent = readThrough(*o.maps[i].present, ek, bytesEq, m1);
    z3::expr objBytes = readThrough(o.maps[i].values, ek, bytesEq, m2);
    z3::expr elemPresent = readThrough(fin.present, k, keyEq, m3);
    z3::expr elemValue = readThrough(fin.values, k, keyEq, m4);
    // The element reads its map's contents before at k as the decoding of
    // the bytes at ek (Binding.cpp's lambda): read through the reader
    // too, so both sides read the bytes at a key the same way.
    ValueReader values(sc, valueSlot, name);
    z3::expr before = z3::select(init.values, ek);
    z3::expr_vector from(c), to(c);
    from.push_back(decode(sc, valueSlot, before));
    to.push_back(values.read(before));
    elemValue = elemValue.substitute(from, to);
    z3::expr objValue = values.read(objBytes);
    values.knowValues(elemValue);
    z3::expr canonicalDiff =
        objPresent != elemPresent ||
        (objPresent && !sc.valueEq(valueSlot.type, objValue, valueSlot.type,
                                   elemValue));
    z3::expr otherPresent = readThrough(*o.maps[i].present, kb, bytesEq, m5);
    z3::expr otherDiff =
        otherPresent != z3::select(*init.present, kb) ||
        (otherPresent && readThrough(o.maps[i].values, kb, bytesEq, m6) !=
                             z3::select(init.values, kb));
    d.emplace_back("map @" + name,
                   values.facts() &&
                       z3::ite(canonical, canonicalDiff, otherDiff));
    d.emplace_back("map @" + name + " count", *o.maps[i].count != fin.count);
  }

  // Ring buffers: records appended (count and each field's bytes).
  for (const bpf::LogABI &l : abi.logs) {
    int i = mapIndex(l.ringbuf);
    if (i < 0)
      throw BindingError("the object has no ring buffer '" + l.ringbuf + "'");
    z3::expr before = *res.initialMaps[i].count;
    z3::expr added = *o.maps[i].count - before;
    const LogTerms &init = el.inputs.state.logs.at(l.name);
    const LogTerms &fin = el.finalState.logs.at(l.name);
    z3::expr appended = fin.size - init.size;
    d.emplace_back("log @" + l.name + " records appended", added != appended);
    unsigned most = 0;
    for (EventRun &r : el.runs)
      if (r.sem.maxAppends.count(l.name))
        most = std::max(most, r.sem.maxAppends.at(l.name));
    if (most && o.maps[i].recordSize && o.maps[i].recordSize != l.recordSize)
      throw BindingError("ring buffer '" + l.ringbuf + "' holds records of " +
                         std::to_string(o.maps[i].recordSize) +
                         " bytes, the ABI record says " +
                         std::to_string(l.recordSize));
    netfn::LogType lt;
    for (netfn::StateOp st : program.getStateOps())
      if (st.getSymName() == l.name)
        lt = llvm::cast<netfn::LogType>(st.getType());
    for (unsigned j = 0; j < most && o.maps[i].recordSize; ++j) {
      z3::expr rec = z3::select(o.maps[i].values, before + bv64(j));
      z3::expr want = z3::select(fin.records, init.size + bv64(j));
      z3::expr differs = c.bool_val(false);
      for (size_t f = 0; f < l.record.size(); ++f) {
        const bpf::ValueLayout &lay = l.record[f];
        Slot slot{lt.getFields()[f], lay.encoding, unsigned(lay.size)};
        z3::expr got = rec.extract(8 * (lay.offset + lay.size) - 1,
                                   8 * lay.offset);
        differs = differs || got != encode(sc, slot,
                                           sc.tupleProj(lt, f)(want));
      }
      d.emplace_back("log @" + l.name + " record " + std::to_string(j),
                     z3::ult(bv64(j), appended) && differs);
    }
  }

  // Reject counters: slot k counts reason k.
  if (!abi.rejects.empty()) {
    int i = mapIndex(abi.rejectMap);
    if (i < 0)
      throw BindingError("the object has no map '" + abi.rejectMap + "'");
    for (size_t k = 0; k < abi.rejects.size(); ++k) {
      z3::expr slot = c.bv_val(k, 32);
      z3::expr after = readBytes(z3::select(o.maps[i].values, slot), bv64(0), 8);
      z3::expr before =
          readBytes(z3::select(res.initialMaps[i].values, slot), bv64(0), 8);
      unsigned code = sc.reasons().code(abi.rejects[k]);
      z3::expr want = z3::ite(el.handled && el.verdict == c.bv_val(code, 32),
                              bv64(1), bv64(0));
      d.emplace_back("reject counter " + abi.rejects[k], after - before != want);
    }
  }
  for (const std::string &reason : sc.reasons().reasons())
    if (abi.rejectSlot(reason) < 0)
      throw BindingError("reject reason '" + reason +
                         "' has no counter slot in the ABI record");

  d.emplace_back("number of random draws", o.drawsUsed != el.drawsUsed);
  d.emplace_back("number of clock readings", o.clocksUsed != el.clocksUsed);
  return d;
}

void ElementCheck::fill(Element &el, const bc::ProgramExecResult &res,
                        z3::model &m, const std::vector<Diffs> &all,
                        CheckReport &report) {
  Counterexample &cx = report.counterexample;
  World &w = el.world;
  std::string text;
  llvm::raw_string_ostream os(text);

  uint64_t len = evalU64(m, w.packetLen);
  cx.packet = evalArrayBytes(m, w.packet, len);
  EventRun *ran = nullptr;
  for (EventRun &r : el.runs)
    if (evalBool(m, r.runs))
      ran = &r;
  cx.event = ran ? ran->event : "";

  os << "counterexample: the object and element " << abi.program
     << " differ in:";
  const bc::ExecOutcome *outcome = nullptr;
  for (size_t i = 0; i < all.size(); ++i) {
    if (!evalBool(m, res.outcomes[i].pathCondition))
      continue;
    outcome = &res.outcomes[i];
    for (auto &[name, cond] : all[i])
      if (evalBool(m, cond))
        os << " " << name << ";";
  }
  os << "\n";
  os << "input frame (" << len << " bytes):\n";
  hexDump(os, cx.packet, "  ");
  if (ran) {
    os << "  an aRPC " << ran->event << " packet for handler @" << ran->handler
       << "; its fields:\n";
    netfn::EventOp ev;
    program.walk([&](netfn::EventOp e) {
      if (e.getSymName() == ran->event)
        ev = e;
    });
    for (auto &[name, v] : ran->inputFields)
      os << "    " << name << " = "
         << render(sc, ev.getFieldType(name), m, v) << "\n";
  } else {
    os << "  not the element's packet:";
    for (auto &[why, cond] : el.parseSteps)
      if (evalBool(m, cond)) {
        os << " " << why;
        break;
      }
    os << "\n";
  }

  // The state before.
  int data = mapIndex(abi.globalSection);
  if (data >= 0 && w.maps.count(prog.maps[data].name)) {
    cx.globalData = evalArrayBytes(m, w.maps.at(prog.maps[data].name).values,
                                   abi.globalSize);
    os << "state before (" << abi.globalSection << " bytes "
       << hexBytes(cx.globalData) << "):\n";
    for (netfn::StateOp s : program.getStateOps()) {
      std::string n = s.getSymName().str();
      if (el.inputs.state.scalars.count(n))
        os << "  @" << n << " = "
           << render(sc, s.getType(), m, el.inputs.state.scalars.at(n)) << "\n";
      else if (el.inputs.state.logs.count(n))
        os << "  @" << n << " holds "
           << evalU64(m, el.inputs.state.logs.at(n).size) << " records\n";
    }
  }
  for (auto &[name, slots] : el.mapSlots) {
    const bc::MapState &init = w.maps.at(name);
    bool infinite = false;
    auto &entries = cx.mapEntries[name];
    os << "  map @" << name << ":";
    for (const z3::expr &kb : trueKeys(m, *init.present, infinite)) {
      entries.emplace_back(evalBytes(m, kb),
                           evalBytes(m, z3::select(init.values, kb)));
      os << " " << render(sc, slots.first.type, m, decode(sc, slots.first, kb))
         << " -> "
         << render(sc, slots.second.type, m,
                   decode(sc, slots.second, z3::select(init.values, kb)))
         << ";";
    }
    if (entries.empty())
      os << " empty";
    os << " (count " << evalU64(m, *init.count) << ")\n";
    if (infinite)
      os << "  note: the solver left every other key of @" << name
         << " present; the replay has only the entries listed\n";
  }

  // Draws and clocks, as many as either side used.
  size_t nd = std::max(res.draws.size(), w.draws.size());
  size_t nc = std::max(res.clocks.size(), w.clocks.size());
  for (size_t i = 0; i < nd; ++i)
    cx.draws.push_back(uint32_t(
        evalU64(m, i < res.draws.size() ? res.draws[i] : w.draws[i])));
  for (size_t i = 0; i < nc; ++i)
    cx.clocks.push_back(
        evalU64(m, i < res.clocks.size() ? res.clocks[i] : w.clocks[i]));
  uint64_t objDraws = outcome ? evalU64(m, outcome->drawsUsed) : 0;
  uint64_t objClocks = outcome ? evalU64(m, outcome->clocksUsed) : 0;
  cx.actualDraws = objDraws;
  cx.actualClocks = objClocks;
  cx.dependsOnDrawsOrClocks = objDraws || objClocks ||
                              evalU64(m, el.drawsUsed) ||
                              evalU64(m, el.clocksUsed);
  printDrawsAndClocks(os, cx, "");

  // What a replay compares: state bytes, reject counters, the frame after.
  if (outcome && data >= 0 && !cx.globalData.empty()) {
    cx.actualGlobalDataAfter =
        evalArrayBytes(m, outcome->maps[data].values, abi.globalSize);
    z3::expr expected = w.maps.at(prog.maps[data].name).values;
    for (const bpf::ScalarABI &s : abi.scalars) {
      auto it = el.finalState.scalars.find(s.name);
      if (it == el.finalState.scalars.end())
        continue;
      Type t;
      for (netfn::StateOp st : program.getStateOps())
        if (st.getSymName() == s.name)
          t = st.getType();
      Slot slot{t, s.layout.encoding, unsigned(s.layout.size)};
      expected = writeBytes(expected, c.bv_val(s.layout.offset, 64),
                            encode(sc, slot, it->second));
    }
    for (const bpf::LogABI &l : abi.logs)
      expected = writeBytes(expected, c.bv_val(l.sizeCounterOffset, 64),
                            el.finalState.logs.at(l.name).size);
    cx.expectedGlobalDataAfter = evalArrayBytes(m, expected, abi.globalSize);
  }
  int rejects = abi.rejects.empty() ? -1 : mapIndex(abi.rejectMap);
  for (size_t k = 0; outcome && rejects >= 0 && k < abi.rejects.size(); ++k) {
    z3::expr slot = c.bv_val(k, 32);
    unsigned code = sc.reasons().code(abi.rejects[k]);
    cx.expectedRejects.push_back(evalBool(m, el.handled) &&
                                 evalU64(m, el.verdict) == code);
    cx.actualRejects.push_back(evalU64(
        m, readBytes(z3::select(outcome->maps[rejects].values, slot),
                     c.bv_val(0, 64), 8) -
               readBytes(z3::select(res.initialMaps[rejects].values, slot),
                         c.bv_val(0, 64), 8)));
  }
  if (outcome)
    predictMapsAndRecords(el, res, *outcome, m, cx);
  if (outcome) {
    uint64_t from = evalU64(m, outcome->packetStart);
    uint64_t to = evalU64(m, outcome->packetEnd);
    for (uint64_t i = from; i < to && i - from <= kMaxFrameBytes; ++i)
      cx.actualPacketAfter.push_back(uint8_t(
          evalU64(m, z3::select(outcome->packet, c.bv_val(i, 64)))));
  }

  // Both outcomes.
  uint64_t code = evalU64(m, el.verdict);
  cx.expectedAction = uint32_t(evalU64(m, el.action));
  cx.actualAction = outcome ? uint32_t(evalU64(m, outcome->r0)) : 0;
  if (!ran)
    cx.expected = "pass untouched";
  else if (code == 0)
    cx.expected = "forward";
  else
    cx.expected = "reject(" + sc.reasons().name(code) + ")";
  cx.expected += " -> " + actionName(abi.hook, cx.expectedAction);
  cx.actual = actionName(abi.hook, cx.actualAction);
  os << "element: " << cx.expected << "\n";
  os << "object:  " << cx.actual << "\n";
  if (cx.dependsOnDrawsOrClocks)
    os << "note: this run uses random draws or clock readings; `sbpf "
          "replay` has the object's calls return the values above\n";
  cx.text = os.str();
}

void ElementCheck::run(CheckReport &report) {
  Element el = buildElement(sc, program, abi, object, kMaxFrameBytes);
  bc::BytecodeContext bctx(c);
  bc::ExecInputs in;
  in.packet = el.world.packet;
  in.packetLen = el.world.packetLen;
  in.maps = el.world.maps;
  in.draws = el.world.draws;
  in.clocks = el.world.clocks;
  in.ringbufAlwaysHasRoom = true;
  bc::ExecLimits limits;
  limits.solverTimeoutMs = options.timeoutMs;
  bc::ProgramExecResult res =
      bc::executeProgram(bctx, prog, in, limits, /*mergeExits=*/true);
  report.paths = res.stats.exits;
  report.solverCalls = res.stats.solverCalls;
  if (getenv("SBPF_CHECK_TRACE"))
    llvm::errs() << "check: element built and object executed in "
                 << secondsSince(start) << " s (executor " << res.stats.seconds
                 << " s, " << res.stats.steps << " steps, "
                 << res.stats.merges << " merges)\n";
  if (!res.ok()) {
    report.reason = execFailure("executing program '" + prog.name + "'",
                                res.status, res.message, report);
    return;
  }

  std::vector<Diffs> all;
  for (const bc::ExecOutcome &o : res.outcomes)
    all.push_back(diffs(el, res, o));
  // One condition per observable over every outcome.
  Diffs named;
  for (size_t i = 0; i < all.front().size(); ++i) {
    z3::expr d = c.bool_val(false);
    for (size_t k = 0; k < all.size(); ++k)
      d = d || (res.outcomes[k].pathCondition && all[k][i].second);
    named.emplace_back(all.front()[i].first, d);
  }
  // Preferred counterexamples: no map full (see the file comment) and the
  // shortest frames that can hold every layout.
  uint64_t longest = 0;
  for (const bpf::EventABI &e : abi.events)
    longest = std::max(longest, e.payloadBytes);
  z3::expr notFull = noMapFull(el, program);
  std::vector<z3::expr> preferences;
  for (auto &[name, slots] : el.mapSlots) {
    const bc::MapState &m = el.world.maps.at(name);
    preferences.push_back(fewEntries(c, *m.present, *m.count, name));
  }
  preferences.push_back(notFull);
  preferences.push_back(
      z3::ule(el.world.packetLen, bv64(14 + 60 + 8 + 31 + longest)));
  Query q = askSwept(c, el.world.assumptions, named, preferences, start,
                     options, report);
  if (getenv("SBPF_CHECK_TRACE"))
    llvm::errs() << "check: queries answered at " << secondsSince(start)
                 << " s\n";
  if (!setStatus(q, options, report))
    return;
  fill(el, res, *q.model, all, report);
  if (!evalBool(*q.model, notFull))
    report.counterexample.text +=
        "note: a map is full in this input (its count is its capacity); a "
        "replay needs the map filled\n";
}

//===----------------------------------------------------------------------===//
// Object vs object
//===----------------------------------------------------------------------===//

void compareObjects(const bc::BpfObject &a, const bc::Program &pa,
                    const bc::BpfObject &b, const bc::Program &pb,
                    const std::optional<bpf::ProgramABI> &abi,
                    const CheckOptions &options, CheckReport &report) {
  // With an ABI record, only what user space sees is compared: global
  // data, the element's maps, ring buffers and reject counters (not the
  // per-CPU scratch space, which two correct objects may use differently).
  auto observable = [&](const bc::MapDef &m) {
    if (!abi)
      return true;
    if (m.globalData || m.name == abi->rejectMap || abi->findMap(m.name))
      return true;
    for (const bpf::LogABI &l : abi->logs)
      if (l.ringbuf == m.name)
        return true;
    return false;
  };
  Clock::time_point start = Clock::now();
  z3::context c;
  bc::BytecodeContext bctx(c);
  // The maps of A, by name, must be B's too (same shape).
  bc::ExecInputs in;
  in.packet = c.constant("pkt", c.array_sort(c.bv_sort(64), c.bv_sort(8)));
  in.packetLen = c.constant("pkt.len", c.bv_sort(64));
  std::vector<z3::expr> assumptions = {
      z3::uge(*in.packetLen, c.bv_val(14, 64)) &&
      z3::ule(*in.packetLen, c.bv_val(kMaxFrameBytes, 64))};
  for (const bc::MapDef &m : pa.maps) {
    const bc::MapDef *other = nullptr;
    for (const bc::MapDef &n : pb.maps)
      if (n.name == m.name)
        other = &n;
    if (!other || other->type != m.type || other->keySize != m.keySize ||
        other->valueSize != m.valueSize || other->maxEntries != m.maxEntries) {
      report.status = CheckReport::Error;
      report.reason = "map '" + m.name +
                      "' differs between the objects (absent, or another "
                      "type, key/value size or capacity)";
      return;
    }
    if (m.type == bc::maptype::Ringbuf)
      continue; // records appended are compared, the initial ones are fresh
    in.maps.emplace(m.name, bc::freshMapState(c, m, "init." + m.name + "."));
    if (m.isHash())
      assumptions.push_back(z3::ule(*in.maps.at(m.name).count,
                                    c.bv_val(m.maxEntries, 64)));
  }
  bc::ExecLimits limits;
  limits.solverTimeoutMs = options.timeoutMs;
  bc::ProgramExecResult ra = bc::executeProgram(bctx, pa, in, limits, true);
  if (!ra.ok()) {
    report.reason = execFailure("first object", ra.status, ra.message, report);
    return;
  }
  in.draws = ra.draws;
  in.clocks = ra.clocks;
  bc::ProgramExecResult rb = bc::executeProgram(bctx, pb, in, limits, true);
  report.paths = ra.stats.exits + rb.stats.exits;
  report.solverCalls = ra.stats.solverCalls + rb.stats.solverCalls;
  if (!rb.ok()) {
    report.reason = execFailure("second object", rb.status, rb.message, report);
    return;
  }
  if (ra.outcomes.size() != 1 || rb.outcomes.size() != 1) {
    report.status = CheckReport::Error;
    report.reason = "internal: merged execution gave several outcomes";
    return;
  }
  const bc::ExecOutcome &oa = ra.outcomes[0], &ob = rb.outcomes[0];
  Diffs d;
  d.emplace_back("return code", oa.r0.extract(31, 0) != ob.r0.extract(31, 0));
  z3::expr at = c.constant("witness.frame-byte", c.bv_sort(64));
  d.emplace_back("frame bounds",
                 oa.packetStart != ob.packetStart || oa.packetEnd != ob.packetEnd);
  d.emplace_back("frame bytes",
                 z3::uge(at, oa.packetStart) && z3::ult(at, oa.packetEnd) &&
                     z3::select(oa.packet, at) != z3::select(ob.packet, at));
  for (size_t i = 0; i < pa.maps.size(); ++i) {
    const bc::MapDef &m = pa.maps[i];
    if (!observable(m))
      continue;
    size_t j = 0;
    while (pb.maps[j].name != m.name)
      ++j;
    const bc::MapState &x = oa.maps[i], &y = ob.maps[j];
    if (m.globalData) {
      d.emplace_back("global data " + m.name,
                     z3::ult(at, c.bv_val(m.valueSize, 64)) &&
                         z3::select(x.values, at) != z3::select(y.values, at));
    } else if (m.isHash()) {
      z3::expr k = c.constant(("witness.key." + m.name).c_str(),
                              c.bv_sort(8 * m.keySize));
      z3::expr p = z3::select(*x.present, k);
      d.emplace_back("map " + m.name,
                     p != z3::select(*y.present, k) || *x.count != *y.count ||
                         (p && z3::select(x.values, k) != z3::select(y.values, k)));
    } else if (m.isArray()) {
      z3::expr k = c.constant(("witness.index." + m.name).c_str(), c.bv_sort(32));
      d.emplace_back("map " + m.name,
                     z3::ult(k, c.bv_val(m.maxEntries, 32)) &&
                         z3::ult(at, c.bv_val(m.valueSize, 64)) &&
                         z3::select(z3::select(x.values, k), at) !=
                             z3::select(z3::select(y.values, k), at));
    } else if (m.type == bc::maptype::Ringbuf) {
      z3::expr addedA = *x.count - *ra.initialMaps[i].count;
      z3::expr addedB = *y.count - *rb.initialMaps[j].count;
      d.emplace_back("ring buffer " + m.name + " records appended",
                     addedA != addedB);
      if (x.recordSize && x.recordSize == y.recordSize) {
        z3::expr n = c.constant(("witness.record." + m.name).c_str(),
                                c.bv_sort(64));
        d.emplace_back("ring buffer " + m.name + " record bytes",
                       z3::ult(n, addedA) &&
                           z3::select(x.values, *ra.initialMaps[i].count + n) !=
                               z3::select(y.values, *rb.initialMaps[j].count + n));
      } else if (x.recordSize != y.recordSize && x.recordSize && y.recordSize) {
        report.status = CheckReport::Unknown;
        report.reason = "not supported yet: ring buffer '" + m.name +
                        "' with records of different sizes";
        return;
      }
    }
  }
  d.emplace_back("number of random draws", oa.drawsUsed != ob.drawsUsed);
  d.emplace_back("number of clock readings", oa.clocksUsed != ob.clocksUsed);
  for (auto &[n, e] : d)
    e = oa.pathCondition && ob.pathCondition && e;
  std::vector<z3::expr> preferences;
  for (auto &[name, state] : in.maps)
    if (state.count && state.present)
      for (const bc::MapDef &md : pa.maps)
        if (md.name == name) {
          preferences.push_back(
              fewEntries(c, *state.present, *state.count, name));
          preferences.push_back(
              z3::ult(*state.count, c.bv_val(md.maxEntries, 64)));
        }
  preferences.push_back(z3::ule(*in.packetLen, c.bv_val(256, 64)));
  Query q = askSwept(c, assumptions, d, preferences, start, options, report);
  if (!setStatus(q, options, report))
    return;
  z3::model &m = *q.model;

  Counterexample &cx = report.counterexample;
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "counterexample: the objects differ in:";
  for (auto &[n, e] : d)
    if (evalBool(m, e))
      os << " " << n << ";";
  os << "\n";
  uint64_t len = evalU64(m, *in.packetLen);
  cx.packet = evalArrayBytes(m, *in.packet, len);
  os << "input frame (" << len << " bytes):\n";
  hexDump(os, cx.packet, "  ");
  for (const bc::MapDef &md : pa.maps) {
    if (!in.maps.count(md.name))
      continue;
    const bc::MapState &s0 = in.maps.at(md.name);
    if (md.globalData) {
      cx.globalData = evalArrayBytes(m, s0.values, md.valueSize);
      os << "global data " << md.name << ": " << hexBytes(cx.globalData) << "\n";
    } else if (md.isHash()) {
      bool infinite = false;
      auto &entries = cx.mapEntries[md.name];
      for (const z3::expr &k : trueKeys(m, *s0.present, infinite))
        entries.emplace_back(evalBytes(m, k),
                             evalBytes(m, z3::select(s0.values, k)));
      os << "map " << md.name << ":";
      for (auto &[k, v] : entries)
        os << " " << hexBytes(k) << " -> " << hexBytes(v) << ";";
      os << (entries.empty() ? " empty\n" : "\n");
    }
  }
  for (const z3::expr &e : rb.draws.size() > ra.draws.size() ? rb.draws : ra.draws)
    cx.draws.push_back(uint32_t(evalU64(m, e)));
  for (const z3::expr &e : rb.clocks.size() > ra.clocks.size() ? rb.clocks : ra.clocks)
    cx.clocks.push_back(evalU64(m, e));
  cx.actualDraws = evalU64(m, ob.drawsUsed);
  cx.actualClocks = evalU64(m, ob.clocksUsed);
  cx.dependsOnDrawsOrClocks =
      evalU64(m, oa.drawsUsed) || evalU64(m, ob.drawsUsed) ||
      evalU64(m, oa.clocksUsed) || evalU64(m, ob.clocksUsed);
  bpf::Hook hook = pa.hook == bc::Hook::TC ? bpf::Hook::TC : bpf::Hook::XDP;
  cx.expectedAction = uint32_t(evalU64(m, oa.r0));
  cx.actualAction = uint32_t(evalU64(m, ob.r0));
  cx.expected = actionName(hook, cx.expectedAction);
  cx.actual = actionName(hook, cx.actualAction);
  os << "first object:  " << cx.expected << "\nsecond object: " << cx.actual
     << "\n";
  cx.text = os.str();
}

/// The program an ABI record names, or the object's only one.
const bc::Program *pickProgram(const bc::BpfObject &object,
                               const std::string &name, std::string &why) {
  if (!name.empty()) {
    if (const bc::Program *p = object.findProgram(name))
      return p;
    why = "the object has no program '" + name + "'";
    return nullptr;
  }
  if (object.programs.size() == 1)
    return &object.programs[0];
  why = "the object has " + std::to_string(object.programs.size()) +
        " programs and no ABI record saying which one to check";
  return nullptr;
}

void classify(const std::string &message, CheckReport &report) {
  report.reason = message;
  report.status = llvm::StringRef(message).starts_with("not supported yet")
                      ? CheckReport::Unknown
                      : CheckReport::Error;
}

/// Runs `body` on a fresh report, turning what it throws into Unknown/Error
/// (the public functions never throw) and timing it.
template <typename Body> CheckReport guarded(Body body) {
  CheckReport report;
  Clock::time_point start = Clock::now();
  try {
    body(report);
  } catch (const BindingError &e) {
    classify(e.what(), report);
  } catch (const z3::exception &e) {
    report.status = CheckReport::Error;
    report.reason = std::string("z3 error: ") + e.msg();
  } catch (const std::exception &e) {
    report.status = CheckReport::Error;
    report.reason = e.what();
  }
  report.seconds = secondsSince(start);
  return report;
}

/// checkObject, or with `handlers` false checkInit alone.
CheckReport checkElement(netfn::ProgramOp program,
                         llvm::ArrayRef<uint8_t> objectBytes,
                         const bpf::ProgramABI *givenABI,
                         const CheckOptions &options, bool handlers) {
  return guarded([&](CheckReport &report) {
    bc::ObjectParseResult parsed =
        bc::parseObject(objectBytes.data(), objectBytes.size());
    if (!parsed.ok()) {
      classify(parsed.error, report);
      return;
    }
    std::optional<bpf::ProgramABI> ownABI;
    if (!givenABI) {
      auto abi = embeddedABI(*parsed.object);
      if (!abi) {
        classify(llvm::toString(abi.takeError()), report);
        return;
      }
      ownABI = std::move(*abi);
      givenABI = &*ownABI;
    }
    std::string why;
    const bc::Program *prog = pickProgram(*parsed.object, givenABI->program, why);
    if (!prog) {
      classify(why, report);
      return;
    }
    // Z3 4.8.12 aborts the process (exit 114, "ast.cpp:432 UNEXPECTED CODE
    // WAS REACHED") in Z3_del_context once a context has held the lambdas of
    // the map binding and been used by a solver: the context is therefore
    // never freed (a few MB per check; every tool runs one or a few).
    auto *sc = new SemContext;
    // The init observable first (InitCheck.cpp): cheap, and the handlers'
    // proof from any state only matters from the state init makes.
    if (!checkInitState(*sc, program, *givenABI, *parsed.object, options,
                        report))
      return;
    if (!handlers) {
      report.status = CheckReport::Proven;
      return;
    }
    size_t initCalls = report.solverCalls;
    ElementCheck(*sc, program, *givenABI, *parsed.object, *prog, options)
        .run(report);
    report.solverCalls += initCalls;
  });
}

} // namespace

CheckReport sbpf::checker::checkObject(netfn::ProgramOp program,
                                       llvm::ArrayRef<uint8_t> object,
                                       const bpf::ProgramABI *abi,
                                       const CheckOptions &options) {
  return checkElement(program, object, abi, options, /*handlers=*/true);
}

CheckReport sbpf::checker::checkInit(netfn::ProgramOp program,
                                     llvm::ArrayRef<uint8_t> object,
                                     const bpf::ProgramABI *abi,
                                     const CheckOptions &options) {
  return checkElement(program, object, abi, options, /*handlers=*/false);
}

CheckReport sbpf::checker::checkObjects(llvm::ArrayRef<uint8_t> a,
                                        llvm::ArrayRef<uint8_t> b,
                                        const CheckOptions &options,
                                        const std::string &nameA,
                                        const std::string &nameB) {
  return guarded([&](CheckReport &report) {
    bc::ObjectParseResult pa = bc::parseObject(a.data(), a.size(), nameA);
    bc::ObjectParseResult pb = bc::parseObject(b.data(), b.size(), nameB);
    if (!pa.ok() || !pb.ok()) {
      classify(!pa.ok() ? pa.error : pb.error, report);
      return;
    }
    // With ABI records, the program they name; else the only program.
    std::string nameA, nameB, why;
    std::optional<bpf::ProgramABI> abiA;
    if (auto abi = embeddedABI(*pa.object)) {
      nameA = abi->program;
      abiA = std::move(*abi);
    } else {
      llvm::consumeError(abi.takeError());
    }
    if (auto abi = embeddedABI(*pb.object))
      nameB = abi->program;
    else
      llvm::consumeError(abi.takeError());
    const bc::Program *progA = pickProgram(*pa.object, nameA, why);
    const bc::Program *progB = progA ? pickProgram(*pb.object, nameB, why) : nullptr;
    if (!progA || !progB) {
      classify(why, report);
      return;
    }
    if (progA->hook != progB->hook) {
      classify("the programs attach to different hooks", report);
      return;
    }
    compareObjects(*pa.object, *progA, *pb.object, *progB, abiA, options,
                   report);
  });
}
