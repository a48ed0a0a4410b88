//===- ConcreteEval.cpp - concrete runs through the SMT encoding -*- C++ -*-===//
#include "sbpf/Checker/ConcreteEval.h"
#include "sbpf/Checker/NetfnSemantics.h"

#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstring>

using namespace sbpf;
using namespace sbpf::checker;
using namespace sbpf::netfn;
using mlir::Type;

//===----------------------------------------------------------------------===//
// ConcreteValue
//===----------------------------------------------------------------------===//

ConcreteValue ConcreteValue::boolean(bool v) {
  ConcreteValue r;
  r.kind = Bool;
  r.b = v;
  return r;
}
ConcreteValue ConcreteValue::integer(uint64_t v) {
  ConcreteValue r;
  r.kind = Bits;
  r.bits = v;
  return r;
}
ConcreteValue ConcreteValue::f64(double v) {
  ConcreteValue r;
  r.kind = F64;
  r.f = v;
  return r;
}
ConcreteValue ConcreteValue::string(std::string bytes) {
  ConcreteValue r;
  r.kind = String;
  r.s = std::move(bytes);
  return r;
}
ConcreteValue ConcreteValue::pair(ConcreteValue a, ConcreteValue b) {
  ConcreteValue r;
  r.kind = Pair;
  r.elems = {std::move(a), std::move(b)};
  return r;
}
ConcreteValue ConcreteValue::none() {
  ConcreteValue r;
  r.kind = Option;
  return r;
}
ConcreteValue ConcreteValue::some(ConcreteValue v) {
  ConcreteValue r;
  r.kind = Option;
  r.b = true;
  r.elems = {std::move(v)};
  return r;
}

int64_t ConcreteValue::asSigned(unsigned width) const {
  if (width >= 64)
    return (int64_t)bits;
  uint64_t m = bits & ((1ULL << width) - 1);
  if (m & (1ULL << (width - 1)))
    m |= ~((1ULL << width) - 1);
  return (int64_t)m;
}

bool ConcreteValue::operator==(const ConcreteValue &o) const {
  if (kind != o.kind)
    return false;
  switch (kind) {
  case Bool: return b == o.b;
  case Bits: return bits == o.bits;
  case F64: {
    uint64_t x, y;
    std::memcpy(&x, &f, 8);
    std::memcpy(&y, &o.f, 8);
    return x == y || (std::isnan(f) && std::isnan(o.f));
  }
  case String: return s == o.s;
  case Pair: return elems == o.elems;
  case Option: return b == o.b && elems == o.elems;
  }
  return false;
}

std::string ConcreteValue::str() const {
  std::string out;
  llvm::raw_string_ostream os(out);
  switch (kind) {
  case Bool: os << (b ? "true" : "false"); break;
  case Bits: os << bits; break;
  case F64: os << llvm::format("%.17g", f); break;
  case String: os << '"'; os.write_escaped(s); os << '"'; break;
  case Pair: os << '(' << elems[0].str() << ", " << elems[1].str() << ')'; break;
  case Option: os << (b ? "Some(" + elems[0].str() + ")" : std::string("None")); break;
  }
  return os.str();
}

//===----------------------------------------------------------------------===//
// Conversions between concrete values and terms
//===----------------------------------------------------------------------===//

namespace {
struct EvalError {
  std::string message;
};
[[noreturn]] void efail(const std::string &m) { throw EvalError{m}; }

std::string tname(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << t;
  return s;
}

unsigned widthOf(Type t) {
  if (auto ft = llvm::dyn_cast<FixedType>(t))
    return ft.getWidth();
  if (llvm::isa<InstantType>(t))
    return 64;
  return t.getIntOrFloatBitWidth();
}

z3::expr toExpr(SemContext &sc, Type t, const ConcreteValue &v) {
  z3::context &c = sc.z3();
  if (t.isInteger(1)) {
    if (v.kind != ConcreteValue::Bool && v.kind != ConcreteValue::Bits)
      efail("expected a bool for " + tname(t));
    return c.bool_val(v.kind == ConcreteValue::Bool ? v.b : v.bits != 0);
  }
  if (isNetfnInteger(t) || llvm::isa<FixedType, InstantType>(t)) {
    if (v.kind != ConcreteValue::Bits)
      efail("expected an integer for " + tname(t));
    return c.bv_val(v.bits, 64).extract(widthOf(t) - 1, 0).simplify();
  }
  if (t.isF64()) {
    if (v.kind != ConcreteValue::F64)
      efail("expected an f64 for " + tname(t));
    return z3::expr(c, Z3_mk_fpa_numeral_double(c, v.f, c.fpa_sort(11, 53)));
  }
  if (auto st = llvm::dyn_cast<StringType>(t)) {
    if (v.kind != ConcreteValue::String)
      efail("expected a string for " + tname(t));
    return sc.stringValue(st, v.s);
  }
  if (auto pt = llvm::dyn_cast<PairType>(t)) {
    if (v.kind != ConcreteValue::Pair || v.elems.size() != 2)
      efail("expected a pair for " + tname(t));
    return sc.tupleCtor(t)(toExpr(sc, pt.getFirst(), v.elems[0]),
                           toExpr(sc, pt.getSecond(), v.elems[1]));
  }
  if (auto ot = llvm::dyn_cast<OptionType>(t)) {
    if (v.kind != ConcreteValue::Option)
      efail("expected an option for " + tname(t));
    if (!v.b)
      return sc.zero(t);
    return sc.tupleCtor(t)(c.bool_val(true),
                           toExpr(sc, ot.getValueType(), v.elems.at(0)));
  }
  efail("no concrete values of type " + tname(t));
}

z3::expr recordExpr(SemContext &sc, LogType lt, const ConcreteRecord &rec) {
  z3::expr_vector args(sc.z3());
  auto fields = lt.getFields();
  if (rec.size() != fields.size())
    efail("log record has the wrong number of fields");
  for (unsigned i = 0; i < fields.size(); ++i)
    args.push_back(toExpr(sc, fields[i], rec[i]));
  return sc.tupleCtor(lt)(args);
}

z3::expr ground(const z3::expr &e) {
  z3::expr s = e.simplify();
  return s;
}

ConcreteValue fromExpr(SemContext &sc, Type t, const z3::expr &e0) {
  z3::context &c = sc.z3();
  z3::expr e = ground(e0);
  if (t.isInteger(1)) {
    if (e.is_true())
      return ConcreteValue::boolean(true);
    if (e.is_false())
      return ConcreteValue::boolean(false);
    efail("a " + tname(t) + " did not evaluate to a constant: " + e.to_string());
  }
  if (isNetfnInteger(t) || llvm::isa<FixedType, InstantType>(t)) {
    uint64_t u;
    if (!e.is_numeral() || !e.is_numeral_u64(u))
      efail("a " + tname(t) + " did not evaluate to a constant: " + e.to_string());
    return ConcreteValue::integer(u);
  }
  if (t.isF64()) {
    z3::expr nan = ground(z3::expr(c, Z3_mk_fpa_is_nan(c, e)));
    if (nan.is_true())
      return ConcreteValue::f64(std::nan(""));
    z3::expr bits = ground(z3::expr(c, Z3_mk_fpa_to_ieee_bv(c, e)));
    uint64_t u;
    if (!bits.is_numeral() || !bits.is_numeral_u64(u))
      efail("an f64 did not evaluate to a constant: " + e.to_string());
    double d;
    std::memcpy(&d, &u, 8);
    return ConcreteValue::f64(d);
  }
  if (auto st = llvm::dyn_cast<StringType>(t)) {
    ConcreteValue len = fromExpr(sc, mlir::IntegerType::get(t.getContext(), 32,
                                                            mlir::IntegerType::Unsigned),
                                 sc.tupleProj(t, 0)(e));
    z3::expr data = ground(sc.tupleProj(t, 1)(e));
    std::string bytes;
    for (unsigned i = 0; i < len.bits && i < st.getCapacity(); ++i) {
      z3::expr b = ground(data.extract(8 * i + 7, 8 * i));
      uint64_t u;
      if (!b.is_numeral() || !b.is_numeral_u64(u))
        efail("a string did not evaluate to a constant");
      bytes.push_back((char)u);
    }
    return ConcreteValue::string(bytes);
  }
  if (auto pt = llvm::dyn_cast<PairType>(t))
    return ConcreteValue::pair(fromExpr(sc, pt.getFirst(), sc.tupleProj(t, 0)(e)),
                               fromExpr(sc, pt.getSecond(), sc.tupleProj(t, 1)(e)));
  if (auto ot = llvm::dyn_cast<OptionType>(t)) {
    ConcreteValue p = fromExpr(sc, mlir::IntegerType::get(t.getContext(), 1),
                               sc.tupleProj(t, 0)(e));
    if (!p.b)
      return ConcreteValue::none();
    return ConcreteValue::some(fromExpr(sc, ot.getValueType(), sc.tupleProj(t, 1)(e)));
  }
  efail("cannot read a value of type " + tname(t));
}

uint64_t readU64(const z3::expr &e0) {
  z3::expr e = ground(e0);
  uint64_t u;
  if (!e.is_numeral() || !e.is_numeral_u64(u))
    efail("a count did not evaluate to a constant: " + e.to_string());
  return u;
}

/// Fixes every state of the program to the given concrete contents.
SymbolicState stateToExprs(SemContext &sc, ProgramOp program,
                           const ConcreteState &cs) {
  z3::context &c = sc.z3();
  SymbolicState s;
  for (StateOp st : program.getStateOps()) {
    std::string name = st.getSymName().str();
    Type t = st.getType();
    if (auto mt = llvm::dyn_cast<MapType>(t)) {
      z3::sort ks = sc.sortOf(mt.getKeyType());
      z3::expr vals = z3::const_array(ks, sc.zero(mt.getValueType()));
      z3::expr pres = z3::const_array(ks, c.bool_val(false));
      uint64_t n = 0;
      auto it = cs.maps.find(name);
      if (it != cs.maps.end())
        for (auto &[k, v] : it->second) {
          z3::expr ke = toExpr(sc, mt.getKeyType(), k);
          vals = z3::store(vals, ke, toExpr(sc, mt.getValueType(), v));
          pres = z3::store(pres, ke, c.bool_val(true));
          ++n;
        }
      if (n > mt.getCapacity())
        efail("map @" + name + " holds more entries than its capacity");
      s.maps.emplace(name, MapTerms{vals.simplify(), pres.simplify(), c.bv_val(n, 64)});
    } else if (auto lt = llvm::dyn_cast<LogType>(t)) {
      z3::expr recs = z3::const_array(c.bv_sort(64), sc.zero(lt));
      uint64_t n = 0;
      auto it = cs.logs.find(name);
      if (it != cs.logs.end())
        for (auto &rec : it->second)
          recs = z3::store(recs, c.bv_val(n++, 64), recordExpr(sc, lt, rec));
      s.logs.emplace(name, LogTerms{recs, c.bv_val(n, 64)});
    } else {
      auto it = cs.scalars.find(name);
      s.scalars.emplace(name, it == cs.scalars.end() ? sc.zero(t)
                                                     : toExpr(sc, t, it->second));
    }
  }
  return s;
}

ConcreteLog readLog(SemContext &sc, LogType lt, const LogTerms &l, uint64_t from) {
  ConcreteLog log;
  uint64_t size = readU64(l.size);
  z3::context &c = sc.z3();
  for (uint64_t i = from; i < size; ++i) {
    z3::expr rec = ground(z3::select(l.records, c.bv_val(i, 64)));
    ConcreteRecord r;
    unsigned fi = 0;
    for (Type f : lt.getFields()) {
      r.push_back(fromExpr(sc, f, sc.tupleProj(lt, fi)(rec)));
      ++fi;
    }
    log.push_back(std::move(r));
  }
  return log;
}

ConcreteState readState(SemContext &sc, ProgramOp program,
                        const SymbolicState &s) {
  ConcreteState cs;
  for (StateOp st : program.getStateOps()) {
    std::string name = st.getSymName().str();
    Type t = st.getType();
    if (auto mt = llvm::dyn_cast<MapType>(t)) {
      const MapTerms &m = s.maps.at(name);
      // The candidate keys are the indices stored into `present`.
      z3::expr pres = ground(m.present);
      std::vector<z3::expr> keys;
      z3::expr a = pres;
      while (a.is_app() && a.decl().decl_kind() == Z3_OP_STORE) {
        z3::expr k = a.arg(1);
        bool dup = false;
        for (auto &o : keys)
          dup |= z3::eq(o, k);
        if (!dup)
          keys.push_back(k);
        a = a.arg(0);
      }
      if (!(a.is_app() && a.decl().decl_kind() == Z3_OP_CONST_ARRAY))
        efail("map @" + name + " did not evaluate to a finite map: " +
              pres.to_string());
      ConcreteMap entries;
      for (auto it = keys.rbegin(); it != keys.rend(); ++it) {
        z3::expr p = ground(z3::select(m.present, *it));
        if (!p.is_true())
          continue;
        entries.emplace_back(fromExpr(sc, mt.getKeyType(), *it),
                             fromExpr(sc, mt.getValueType(),
                                      z3::select(m.values, *it)));
      }
      cs.maps.emplace(name, std::move(entries));
    } else if (auto lt = llvm::dyn_cast<LogType>(t)) {
      cs.logs.emplace(name, readLog(sc, lt, s.logs.at(name), 0));
    } else {
      cs.scalars.emplace(name, fromExpr(sc, t, s.scalars.at(name)));
    }
  }
  return cs;
}

void fixNondet(SemContext &sc, SymbolicInputs &in,
               const std::vector<uint32_t> &draws,
               const std::vector<uint64_t> &clocks) {
  z3::context &c = sc.z3();
  for (uint32_t d : draws)
    in.draws.push_back(c.bv_val(d, 32));
  for (uint64_t t : clocks)
    in.clocks.push_back(c.bv_val(t, 64));
}

void checkNondet(uint64_t used, size_t given, const char *what) {
  if (used > given)
    efail("the run needs " + std::to_string(used) + " " + what + " but " +
          std::to_string(given) + " were given");
}

llvm::Error err(const std::string &m) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s", m.c_str());
}
} // namespace

llvm::Expected<ConcreteOutputs>
sbpf::checker::evaluateHandler(HandlerOp handler, const ConcreteInputs &inputs) {
  try {
    SemContext sc;
    auto program = handler->getParentOfType<ProgramOp>();
    EventOp event = handler.getEventDecl();
    if (!program || !event)
      return err("handler has no program or event");
    SymbolicInputs in;
    in.prefix = "concrete.";
    in.state = stateToExprs(sc, program, inputs.state);
    for (auto [nameAttr, typeAttr] :
         llvm::zip(event.getFieldNames(), event.getFieldTypes())) {
      std::string name = llvm::cast<mlir::StringAttr>(nameAttr).getValue().str();
      Type t = llvm::cast<mlir::TypeAttr>(typeAttr).getValue();
      auto it = inputs.fields.find(name);
      in.fields.emplace(name, it == inputs.fields.end() ? sc.zero(t)
                                                        : toExpr(sc, t, it->second));
    }
    for (auto &[name, v] : inputs.fields)
      if (!in.fields.count(name))
        return err("event @" + event.getSymName().str() + " has no field \"" +
                   name + "\"");
    fixNondet(sc, in, inputs.draws, inputs.clocks);

    auto sem = encodeHandler(sc, handler, in);
    if (!sem)
      return sem.takeError();

    ConcreteOutputs out;
    out.drawsUsed = readU64(z3::zext(sem->drawsUsed, 32));
    out.clocksUsed = readU64(z3::zext(sem->clocksUsed, 32));
    checkNondet(out.drawsUsed, inputs.draws.size(), "random draws");
    checkNondet(out.clocksUsed, inputs.clocks.size(), "clock readings");
    uint64_t code = readU64(z3::zext(sem->verdict, 32));
    out.forwarded = code == 0;
    out.rejectReason = sc.reasons().name(code);
    for (auto [nameAttr, typeAttr] :
         llvm::zip(event.getFieldNames(), event.getFieldTypes())) {
      std::string name = llvm::cast<mlir::StringAttr>(nameAttr).getValue().str();
      Type t = llvm::cast<mlir::TypeAttr>(typeAttr).getValue();
      out.fields.emplace(name, fromExpr(sc, t, sem->fields.at(name)));
    }
    out.state = readState(sc, program, sem->state);
    for (StateOp st : program.getStateOps())
      if (auto lt = llvm::dyn_cast<LogType>(st.getType())) {
        std::string name = st.getSymName().str();
        out.appended.emplace(name, readLog(sc, lt, sem->state.logs.at(name),
                                           readU64(sem->priorLogSize.at(name))));
      }
    return out;
  } catch (const EvalError &e) {
    return err("evaluation: " + e.message);
  } catch (const z3::exception &e) {
    return err(std::string("z3: ") + e.msg());
  } catch (const std::exception &e) {
    return err(std::string("evaluation: ") + e.what());
  }
}

llvm::Expected<ConcreteState>
sbpf::checker::evaluateInit(ProgramOp program, const std::vector<uint32_t> &draws,
                            const std::vector<uint64_t> &clocks) {
  try {
    SemContext sc;
    SymbolicInputs in;
    in.prefix = "concrete.";
    fixNondet(sc, in, draws, clocks);
    auto state = encodeInit(sc, program, in);
    if (!state)
      return state.takeError();
    // A run that uses a draw or reading that was not given leaves a free
    // term in the state, which readState reports as not constant.
    return readState(sc, program, *state);
  } catch (const EvalError &e) {
    return err("evaluation: " + e.message);
  } catch (const z3::exception &e) {
    return err(std::string("z3: ") + e.msg());
  } catch (const std::exception &e) {
    return err(std::string("evaluation: ") + e.what());
  }
}
