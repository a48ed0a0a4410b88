//===- Equivalence.cpp - are two handlers the same function? ----*- C++ -*-===//
#include "sbpf/Checker/NetfnSemantics.h"

#include "llvm/Support/raw_ostream.h"

#include <set>

using namespace sbpf;
using namespace sbpf::checker;
using namespace sbpf::netfn;
using mlir::Type;

namespace {
z3::expr recordEq(SemContext &sc, LogType lt, const z3::expr &a,
                  const z3::expr &b) {
  z3::expr r = sc.z3().bool_val(true);
  unsigned i = 0;
  for (Type f : lt.getFields()) {
    r = r && sc.valueEq(f, sc.tupleProj(lt, i)(a), f, sc.tupleProj(lt, i)(b));
    ++i;
  }
  return r;
}
} // namespace

/// Scalar state that no handler of `program` writes and that is not set at
/// deployment (`configurable`: an AppNet init parameter).
static std::set<std::string> unwrittenScalars(ProgramOp program) {
  std::set<std::string> names;
  for (StateOp s : program.getStateOps())
    if (!llvm::isa<MapType, LogType>(s.getType()) &&
        !s->hasAttr("configurable"))
      names.insert(s.getSymName().str());
  for (HandlerOp h : program.getBodyBlock().getOps<HandlerOp>())
    h.walk([&](StateWriteOp w) { names.erase(w.getState().str()); });
  return names;
}

EquivalenceResult sbpf::checker::checkEquivalence(HandlerOp a, HandlerOp b,
                                                  unsigned timeoutMs) {
  return checkEquivalence(a, b, EquivalenceOptions(), timeoutMs);
}

EquivalenceResult
sbpf::checker::checkEquivalence(HandlerOp a, HandlerOp b,
                                const EquivalenceOptions &options,
                                unsigned timeoutMs) {
  try {
    SemContext sc;
    return checkEquivalence(sc, a, b, options, timeoutMs);
  } catch (const std::exception &e) {
    EquivalenceResult res;
    res.reason = e.what();
    return res;
  }
}

EquivalenceResult
sbpf::checker::checkEquivalence(SemContext &sc, HandlerOp a, HandlerOp b,
                                const EquivalenceOptions &options,
                                unsigned timeoutMs) {
  EquivalenceResult res;
  try {
    z3::context &c = sc.z3();
    SymbolicInputs in;
    if (options.unwrittenStateIsInitial) {
      // Init's own draws and clock readings are inputs of their own.
      SymbolicInputs initInputs;
      initInputs.prefix = "init.";
      auto progA = a->getParentOfType<ProgramOp>();
      auto initial = encodeInit(sc, progA, initInputs);
      if (!initial) {
        res.reason = "init: " + llvm::toString(initial.takeError());
        return res;
      }
      std::set<std::string> fixed = unwrittenScalars(progA);
      std::set<std::string> fixedB =
          unwrittenScalars(b->getParentOfType<ProgramOp>());
      for (const std::string &name : fixed)
        if (fixedB.count(name) && initial->scalars.count(name))
          in.state.scalars.emplace(name, initial->scalars.at(name));
      in.assumptions.insert(in.assumptions.end(),
                            initInputs.assumptions.begin(),
                            initInputs.assumptions.end());
    }
    auto semA = encodeHandler(sc, a, in);
    if (!semA) {
      res.reason = "first handler: " + llvm::toString(semA.takeError());
      return res;
    }
    auto semB = encodeHandler(sc, b, in);
    if (!semB) {
      res.reason = "second handler: " + llvm::toString(semB.takeError());
      return res;
    }
    auto progA = a->getParentOfType<ProgramOp>();
    auto progB = b->getParentOfType<ProgramOp>();
    EventOp evA = a.getEventDecl(), evB = b.getEventDecl();
    if (evA.getFieldNames() != evB.getFieldNames() ||
        evA.getFieldTypes() != evB.getFieldTypes()) {
      res.reason = "the handlers' events declare different fields";
      return res;
    }

    // Named differences, each a Bool that holds when the runs differ there.
    std::vector<std::pair<std::string, z3::expr>> diffs;
    z3::expr bothForward = semA->verdict == c.bv_val(0, 32) &&
                           semB->verdict == c.bv_val(0, 32);
    diffs.emplace_back("verdict", semA->verdict != semB->verdict);
    // Field values matter when the event goes on (both forward).
    for (auto [nameAttr, typeAttr] :
         llvm::zip(evA.getFieldNames(), evA.getFieldTypes())) {
      std::string name = llvm::cast<mlir::StringAttr>(nameAttr).getValue().str();
      Type t = llvm::cast<mlir::TypeAttr>(typeAttr).getValue();
      // The same term on both sides (a field neither handler changes
      // differently) cannot differ: leaving it out keeps strings' bytes out
      // of the query, which makes it several times faster.
      if (z3::eq(semA->fields.at(name), semB->fields.at(name)))
        continue;
      diffs.emplace_back("field " + name,
                         bothForward && !sc.valueEq(t, semA->fields.at(name), t,
                                                    semB->fields.at(name)));
    }
    // State: every declaration of either program; a handler whose program
    // lacks a declaration leaves it as it was.
    std::map<std::string, Type> decls;
    for (StateOp s : progA.getStateOps())
      decls.emplace(s.getSymName().str(), s.getType());
    for (StateOp s : progB.getStateOps()) {
      auto [it, added] = decls.emplace(s.getSymName().str(), s.getType());
      if (!added && it->second != s.getType()) {
        res.reason = "state @" + it->first + " has different types";
        return res;
      }
    }
    auto pick = [](const SymbolicState &s, const SymbolicState &def,
                   const std::string &n, auto member) {
      auto &m = s.*member;
      auto it = m.find(n);
      return it != m.end() ? it->second : (def.*member).at(n);
    };
    for (auto &[name, t] : decls) {
      if (auto mt = llvm::dyn_cast<MapType>(t)) {
        MapTerms ma = pick(semA->state, in.state, name, &SymbolicState::maps);
        MapTerms mb = pick(semB->state, in.state, name, &SymbolicState::maps);
        z3::expr k = c.constant(("witness_key." + name).c_str(),
                                sc.sortOf(mt.getKeyType()));
        z3::expr pa = z3::select(ma.present, k), pb = z3::select(mb.present, k);
        diffs.emplace_back(
            "map @" + name,
            pa != pb || ma.count != mb.count ||
                (pa && !sc.valueEq(mt.getValueType(), z3::select(ma.values, k),
                                   mt.getValueType(), z3::select(mb.values, k))));
      } else if (auto lt = llvm::dyn_cast<LogType>(t)) {
        LogTerms la = pick(semA->state, in.state, name, &SymbolicState::logs);
        LogTerms lb = pick(semB->state, in.state, name, &SymbolicState::logs);
        z3::expr prior = in.state.logs.at(name).size;
        unsigned hi = 0;
        if (semA->maxAppends.count(name))
          hi = std::max(hi, semA->maxAppends.at(name));
        if (semB->maxAppends.count(name))
          hi = std::max(hi, semB->maxAppends.at(name));
        z3::expr d = la.size != lb.size;
        for (unsigned j = 0; j < hi; ++j) {
          z3::expr idx = prior + c.bv_val(j, 64);
          d = d || (z3::ult(idx, la.size) &&
                    !recordEq(sc, lt, z3::select(la.records, idx),
                              z3::select(lb.records, idx)));
        }
        diffs.emplace_back("log @" + name, d);
      } else {
        z3::expr va = pick(semA->state, in.state, name, &SymbolicState::scalars);
        z3::expr vb = pick(semB->state, in.state, name, &SymbolicState::scalars);
        if (!z3::eq(va, vb))
          diffs.emplace_back("state @" + name, !sc.valueEq(t, va, t, vb));
      }
    }
    diffs.emplace_back("number of random draws", semA->drawsUsed != semB->drawsUsed);
    diffs.emplace_back("number of clock readings",
                       semA->clocksUsed != semB->clocksUsed);

    // Differences that simplify to false cannot happen (the rewrite left
    // that observable's term unchanged up to simplification): they stay out
    // of the query.
    z3::expr any = c.bool_val(false);
    std::string open;
    for (auto &[n, d] : diffs) {
      if (d.simplify().is_false())
        continue;
      any = any || d;
      open += (open.empty() ? "" : ", ") + n;
    }
    if (open.empty()) {
      res.status = EquivalenceResult::Equivalent;
      return res;
    }
    if (options.structuralOnly) {
      res.status = EquivalenceResult::Unknown;
      res.reason = "not equal by simplification (" + open +
                   "), and the solver is not asked";
      return res;
    }
    std::vector<z3::expr> query = in.assumptions;
    query.push_back(any);
    std::optional<z3::model> model;
    SolverResult r =
        solve(sc, query, timeoutMs, options.counterexample ? &model : nullptr);
    if (r.status == SolverStatus::Unsat) {
      res.status = EquivalenceResult::Equivalent;
      return res;
    }
    if (r.status == SolverStatus::Unknown) {
      res.status = EquivalenceResult::Unknown;
      res.reason = r.reason.empty() ? "unknown" : r.reason;
      return res;
    }
    res.status = EquivalenceResult::Different;
    if (!options.counterexample)
      return res;
    std::string s;
    llvm::raw_string_ostream os(s);
    z3::model &m = *model;
    os << "differs in:";
    for (auto &[n, d] : diffs)
      if (m.eval(d, true).is_true())
        os << " " << n << ";";
    os << "\ninputs:\n";
    for (auto &[n, v] : in.fields)
      os << "  field " << n << " = " << m.eval(v, true).to_string() << "\n";
    for (auto &[n, v] : in.state.scalars)
      os << "  state @" << n << " = " << m.eval(v, true).to_string() << "\n";
    for (unsigned i = 0; i < in.draws.size(); ++i)
      os << "  draw " << i << " = " << m.eval(in.draws[i], true).to_string() << "\n";
    for (unsigned i = 0; i < in.clocks.size(); ++i)
      os << "  clock " << i << " = " << m.eval(in.clocks[i], true).to_string() << "\n";
    auto verdictName = [&](const z3::expr &v) {
      z3::expr e = m.eval(v, true);
      unsigned code = e.is_numeral() ? e.get_numeral_uint() : 0;
      return code == 0 ? std::string("forward")
                       : "reject \"" + sc.reasons().name(code) + "\"";
    };
    os << "verdicts: " << verdictName(semA->verdict) << " vs "
       << verdictName(semB->verdict) << "\n";
    res.counterexample = os.str();
  } catch (const z3::exception &e) {
    res.status = EquivalenceResult::Unknown;
    res.reason = std::string("z3 error: ") + e.msg();
  } catch (const std::exception &e) {
    res.status = EquivalenceResult::Unknown;
    res.reason = e.what();
  }
  return res;
}
