//===- NetfnSemantics.cpp - the SMT encoding of netfn -----------*- C++ -*-===//
//
// Each netfn op's meaning, as written in docs/dialects/netfn/NetfnOps.md and
// NetfnTypes.md, encoded into Z3 (see NetfnSemantics.h for the value
// representation). A handler is executed symbolically over its structured
// regions: every path carries a path condition, structured ops merge their
// arms with `ite`, and a verdict in any region records an "exit" (its path
// condition, the state at that point and the verdict code). The handler's
// outputs are the ite chain over its exits, whose path conditions are
// mutually exclusive and cover every run.
//
//===----------------------------------------------------------------------===//
#include "sbpf/Checker/NetfnSemantics.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <functional>
#include <optional>
#include <unordered_map>

using namespace sbpf;
using namespace sbpf::checker;
using namespace sbpf::netfn;
using mlir::Type;

namespace {
/// An internal error: caught at the API boundary and turned into llvm::Error.
struct EncodeError {
  std::string message;
};

[[noreturn]] void fail(const llvm::Twine &msg) { throw EncodeError{msg.str()}; }

std::string typeName(Type type) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << type;
  return s;
}

llvm::Error makeError(const std::string &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s",
                                 msg.c_str());
}
} // namespace

//===----------------------------------------------------------------------===//
// ReasonTable
//===----------------------------------------------------------------------===//

unsigned ReasonTable::code(llvm::StringRef reason) {
  for (unsigned i = 0; i < names.size(); ++i)
    if (names[i] == reason)
      return i + 1;
  names.push_back(reason.str());
  return names.size();
}

std::string ReasonTable::name(unsigned code) const {
  if (code == 0 || code > names.size())
    return "";
  return names[code - 1];
}

//===----------------------------------------------------------------------===//
// SemContext: sorts and values of types
//===----------------------------------------------------------------------===//

struct SemContext::TupleInfo {
  z3::func_decl ctor;
  z3::func_decl_vector projs;
  TupleInfo(z3::func_decl c, z3::func_decl_vector p) : ctor(c), projs(p) {}
};

SemContext::SemContext() : ctx(std::make_unique<z3::context>()) {}
SemContext::~SemContext() {
  tuples.clear();
}

static unsigned stringDataBits(StringType st) {
  return 8 * std::max(1u, st.getCapacity());
}

SemContext::TupleInfo &SemContext::tuple(Type type) {
  std::string key = typeName(type);
  auto it = tuples.find(key);
  if (it != tuples.end())
    return *it->second;
  std::vector<std::string> names;
  std::vector<z3::sort> sorts;
  if (auto st = llvm::dyn_cast<StringType>(type)) {
    names = {key + ".len", key + ".data"};
    sorts = {ctx->bv_sort(32), ctx->bv_sort(stringDataBits(st))};
  } else if (auto pt = llvm::dyn_cast<PairType>(type)) {
    names = {key + ".first", key + ".second"};
    sorts = {sortOf(pt.getFirst()), sortOf(pt.getSecond())};
  } else if (auto ot = llvm::dyn_cast<OptionType>(type)) {
    names = {key + ".present", key + ".value"};
    sorts = {ctx->bool_sort(), sortOf(ot.getValueType())};
  } else if (auto lt = llvm::dyn_cast<LogType>(type)) {
    unsigned i = 0;
    for (Type f : lt.getFields()) {
      names.push_back(key + ".f" + std::to_string(i++));
      sorts.push_back(sortOf(f));
    }
  } else {
    fail("no tuple sort for " + key);
  }
  std::vector<const char *> cnames;
  for (auto &n : names)
    cnames.push_back(n.c_str());
  z3::func_decl_vector projs(*ctx);
  z3::func_decl ctor = ctx->tuple_sort(key.c_str(), names.size(), cnames.data(),
                                       sorts.data(), projs);
  auto info = std::make_unique<TupleInfo>(ctor, projs);
  auto &ref = *info;
  tuples.emplace(key, std::move(info));
  return ref;
}

z3::func_decl SemContext::tupleCtor(Type type) { return tuple(type).ctor; }
z3::func_decl SemContext::tupleProj(Type type, unsigned index) {
  return tuple(type).projs[index];
}

z3::sort SemContext::sortOf(Type type) {
  if (type.isInteger(1))
    return ctx->bool_sort();
  if (isNetfnInteger(type))
    return ctx->bv_sort(type.getIntOrFloatBitWidth());
  if (auto ft = llvm::dyn_cast<FixedType>(type))
    return ctx->bv_sort(ft.getWidth());
  if (type.isF64())
    return ctx->fpa_sort(11, 53);
  if (llvm::isa<InstantType>(type))
    return ctx->bv_sort(64);
  if (llvm::isa<StringType, PairType, OptionType, LogType>(type))
    return tuple(type).ctor.range();
  fail("no SMT sort for type " + typeName(type));
}

z3::expr SemContext::zero(Type type) {
  z3::context &c = *ctx;
  if (type.isInteger(1))
    return c.bool_val(false);
  if (isNetfnInteger(type) || llvm::isa<FixedType, InstantType>(type))
    return c.bv_val(0, sortOf(type).bv_size());
  if (type.isF64())
    return z3::expr(c, Z3_mk_fpa_numeral_double(c, 0.0, sortOf(type)));
  if (auto st = llvm::dyn_cast<StringType>(type))
    return tupleCtor(type)(c.bv_val(0, 32), c.bv_val(0, stringDataBits(st)));
  if (auto pt = llvm::dyn_cast<PairType>(type))
    return tupleCtor(type)(zero(pt.getFirst()), zero(pt.getSecond()));
  if (auto ot = llvm::dyn_cast<OptionType>(type))
    return tupleCtor(type)(c.bool_val(false), zero(ot.getValueType()));
  if (auto lt = llvm::dyn_cast<LogType>(type)) {
    z3::expr_vector args(c);
    for (Type f : lt.getFields())
      args.push_back(zero(f));
    return tupleCtor(type)(args);
  }
  fail("no zero value for type " + typeName(type));
}

/// data with every byte at index >= len (a bv32) set to 0.
static z3::expr maskBytes(z3::context &c, const z3::expr &data, unsigned nbytes,
                          const z3::expr &len) {
  z3::expr mask = z3::ite(z3::ult(c.bv_val(nbytes - 1, 32), len),
                          c.bv_val(0xFF, 8), c.bv_val(0, 8));
  for (int i = (int)nbytes - 2; i >= 0; --i)
    mask = z3::concat(mask, z3::ite(z3::ult(c.bv_val(i, 32), len),
                                    c.bv_val(0xFF, 8), c.bv_val(0, 8)));
  return data & mask;
}

z3::expr SemContext::canonical(Type type, const z3::expr &v) {
  if (!llvm::isa<StringType, PairType, OptionType, LogType>(type))
    return v;
  auto key = [&](const z3::expr &e) {
    return std::make_pair(type.getAsOpaquePointer(), Z3_get_ast_id(e.ctx(), e));
  };
  auto hit = canonicalCache.find(key(v));
  if (hit != canonicalCache.end())
    return hit->second.second;
  z3::expr r = canonicalUncached(type, v);
  canonicalCache.emplace(key(v), std::make_pair(v, r));
  canonicalCache.emplace(key(r), std::make_pair(r, r));
  return r;
}

z3::expr SemContext::canonicalUncached(Type type, const z3::expr &v) {
  z3::context &c = *ctx;
  if (auto st = llvm::dyn_cast<StringType>(type)) {
    z3::expr len = tupleProj(type, 0)(v);
    z3::expr cap = c.bv_val(st.getCapacity(), 32);
    z3::expr len2 = z3::ite(z3::ule(len, cap), len, cap);
    z3::expr data = maskBytes(c, tupleProj(type, 1)(v),
                              stringDataBits(st) / 8, len2);
    return tupleCtor(type)(len2, data);
  }
  if (auto pt = llvm::dyn_cast<PairType>(type))
    return tupleCtor(type)(canonical(pt.getFirst(), tupleProj(type, 0)(v)),
                           canonical(pt.getSecond(), tupleProj(type, 1)(v)));
  if (auto ot = llvm::dyn_cast<OptionType>(type)) {
    z3::expr p = tupleProj(type, 0)(v);
    return tupleCtor(type)(
        p, z3::ite(p, canonical(ot.getValueType(), tupleProj(type, 1)(v)),
                   zero(ot.getValueType())));
  }
  if (auto lt = llvm::dyn_cast<LogType>(type)) {
    z3::expr_vector args(c);
    unsigned i = 0;
    for (Type f : lt.getFields()) {
      args.push_back(canonical(f, tupleProj(type, i)(v)));
      ++i;
    }
    return tupleCtor(type)(args);
  }
  return v;
}

z3::expr SemContext::wellFormed(Type type, const z3::expr &v) {
  z3::context &c = *ctx;
  if (auto st = llvm::dyn_cast<StringType>(type))
    return z3::ule(tupleProj(type, 0)(v), c.bv_val(st.getCapacity(), 32));
  if (auto pt = llvm::dyn_cast<PairType>(type))
    return wellFormed(pt.getFirst(), tupleProj(type, 0)(v)) &&
           wellFormed(pt.getSecond(), tupleProj(type, 1)(v));
  if (auto ot = llvm::dyn_cast<OptionType>(type))
    return wellFormed(ot.getValueType(), tupleProj(type, 1)(v));
  return c.bool_val(true);
}

z3::expr SemContext::valueEq(Type ta, const z3::expr &a, Type tb,
                             const z3::expr &b) {
  z3::context &c = *ctx;
  if (auto sa = llvm::dyn_cast<StringType>(ta)) {
    auto sb = llvm::cast<StringType>(tb);
    z3::expr da = tupleProj(ta, 1)(a), db = tupleProj(tb, 1)(b);
    unsigned wa = stringDataBits(sa), wb = stringDataBits(sb);
    if (wa < wb)
      da = z3::zext(da, wb - wa);
    else if (wb < wa)
      db = z3::zext(db, wa - wb);
    return tupleProj(ta, 0)(a) == tupleProj(tb, 0)(b) && da == db;
  }
  if (auto pa = llvm::dyn_cast<PairType>(ta)) {
    auto pb = llvm::cast<PairType>(tb);
    return valueEq(pa.getFirst(), tupleProj(ta, 0)(a), pb.getFirst(),
                   tupleProj(tb, 0)(b)) &&
           valueEq(pa.getSecond(), tupleProj(ta, 1)(a), pb.getSecond(),
                   tupleProj(tb, 1)(b));
  }
  if (auto oa = llvm::dyn_cast<OptionType>(ta)) {
    auto ob = llvm::cast<OptionType>(tb);
    z3::expr pa = tupleProj(ta, 0)(a), pb = tupleProj(tb, 0)(b);
    return pa == pb && z3::implies(pa, valueEq(oa.getValueType(),
                                               tupleProj(ta, 1)(a),
                                               ob.getValueType(),
                                               tupleProj(tb, 1)(b)));
  }
  if (ta.isF64())
    return z3::expr(c, Z3_mk_fpa_eq(c, a, b));
  return a == b;
}

z3::expr SemContext::stringValue(StringType st, llvm::StringRef bytes) {
  z3::context &c = *ctx;
  unsigned n = std::min<size_t>(bytes.size(), st.getCapacity());
  unsigned nbytes = stringDataBits(st) / 8;
  z3::expr data = c.bv_val(0, 8);
  for (int i = (int)nbytes - 1; i >= 0; --i) {
    unsigned b = (unsigned)i < n ? (unsigned char)bytes[i] : 0;
    if (i == (int)nbytes - 1)
      data = c.bv_val(b, 8);
    else
      data = z3::concat(data, c.bv_val(b, 8));
  }
  return tupleCtor(st)(c.bv_val(n, 32), data);
}

z3::expr SemContext::castString(StringType from, StringType to,
                                const z3::expr &v) {
  z3::context &c = *ctx;
  z3::expr len = tupleProj(from, 0)(v);
  z3::expr data = tupleProj(from, 1)(v);
  unsigned wf = stringDataBits(from), wt = stringDataBits(to);
  // Widening a canonical value (len <= its capacity, bytes from len on 0)
  // keeps len and the bytes: canonical again, the clamp below the
  // identity. Built without it, a string widened into a map key stays the
  // term of the field it came from (and its encoding the field's bytes).
  if (wt >= wf && to.getCapacity() >= from.getCapacity() &&
      z3::eq(canonical(from, v), v)) {
    z3::expr r = markCanonical(
        to, tupleCtor(to)(len, wt > wf ? z3::zext(data, wt - wf) : data));
    // Widening keeps the bytes, so a NUL-free value stays NUL-free.
    if (isNulFree(v))
      nulFree.emplace(Z3_get_ast_id(c, r), r);
    return r;
  }
  z3::expr cap = c.bv_val(to.getCapacity(), 32);
  z3::expr len2 = z3::ite(z3::ule(len, cap), len, cap);
  z3::expr data2 = wt < wf ? data.extract(wt - 1, 0)
                           : (wt > wf ? z3::zext(data, wt - wf) : data);
  return tupleCtor(to)(len2, data2);
}

z3::expr SemContext::markCanonical(Type type, const z3::expr &v) {
  canonicalCache.emplace(
      std::make_pair(type.getAsOpaquePointer(), Z3_get_ast_id(v.ctx(), v)),
      std::make_pair(v, v));
  return v;
}

z3::expr SemContext::nulPadded(StringType st,
                               const std::vector<z3::expr> &bytes) {
  z3::context &c = *ctx;
  unsigned n = std::min<size_t>(bytes.size(), st.getCapacity());
  // len: the index of the first NUL as an if-then-else chain, the shape of
  // an early-exit scan's merged exits (a sum of flags was measured 5x
  // slower to match).
  z3::expr len = c.bv_val(n, 32);
  for (unsigned i = n; i-- > 0;)
    len = z3::ite(bytes[i] == c.bv_val(0, 8), c.bv_val(i, 32), len);
  // Byte i kept when i < len, with the mask of the lowerings
  // (NetfnToLLVM's strNorm, EmitC's sbpf_strN_norm): (i - len) >> 31,
  // arithmetic, is all ones exactly when i < len (both below 2^31). The
  // same value as "byte i when bytes 0..i are all non-NUL", and, built in
  // the same operations as the object's, the same term once simplified.
  unsigned nbytes = stringDataBits(st) / 8;
  z3::expr data = c.bv_val(0, 8);
  for (unsigned i = 0; i < nbytes; ++i) {
    z3::expr b = c.bv_val(0, 8);
    if (i < n)
      b = bytes[i] & z3::ashr(c.bv_val(i, 32) - len, c.bv_val(31, 32))
                         .extract(7, 0);
    data = i == 0 ? b : z3::concat(b, data);
  }
  // Canonical by construction: len <= n <= capacity, bytes from len on 0;
  // and NUL-free: len is the first NUL.
  z3::expr r = markCanonical(st, tupleCtor(st)(len, data));
  nulFree.emplace(Z3_get_ast_id(c, r), r);
  return r;
}

bool SemContext::isNulFree(const z3::expr &value) const {
  return nulFree.count(Z3_get_ast_id(value.ctx(), value));
}

//===----------------------------------------------------------------------===//
// The symbolic executor
//===----------------------------------------------------------------------===//

namespace {

bool isSignedInt(Type t) {
  if (auto it = llvm::dyn_cast<mlir::IntegerType>(t))
    return it.isSigned();
  return llvm::isa<FixedType>(t);
}

unsigned bitWidth(Type t) {
  if (isNetfnInteger(t) || t.isInteger(1))
    return t.getIntOrFloatBitWidth();
  if (auto ft = llvm::dyn_cast<FixedType>(t))
    return ft.getWidth();
  if (llvm::isa<InstantType>(t))
    return 64;
  return 0;
}

/// The path state: everything a run has produced so far on one merged path.
struct Env {
  z3::expr pc; ///< the path condition under which this state is reached
  std::map<std::string, z3::expr> fields;
  std::map<std::string, z3::expr> scalars;
  std::map<std::string, MapTerms> maps;
  std::map<std::string, LogTerms> logs;
  std::map<std::string, unsigned> appendHi; ///< max appends so far per log
  z3::expr drawIdx, clockIdx;               ///< bv32
  unsigned drawHi = 0, clockHi = 0;         ///< max value of the index
};

struct Exit {
  Env env;
  unsigned code;
};

struct RegionOut {
  std::optional<Env> env; ///< the fall-through state (none: every path exited)
  std::vector<z3::expr> yields;
};

z3::expr merge(const z3::expr &c, const z3::expr &a, const z3::expr &b) {
  if (z3::eq(a, b))
    return a;
  return z3::ite(c, a, b);
}

Env mergeEnv(const z3::expr &c, const Env &a, const Env &b) {
  Env r = a;
  r.pc = a.pc || b.pc;
  for (auto &[k, v] : r.fields)
    v = merge(c, a.fields.at(k), b.fields.at(k));
  for (auto &[k, v] : r.scalars)
    v = merge(c, a.scalars.at(k), b.scalars.at(k));
  for (auto &[k, m] : r.maps) {
    const MapTerms &bm = b.maps.at(k);
    m.values = merge(c, m.values, bm.values);
    m.present = merge(c, m.present, bm.present);
    m.count = merge(c, m.count, bm.count);
  }
  for (auto &[k, l] : r.logs) {
    const LogTerms &bl = b.logs.at(k);
    l.records = merge(c, l.records, bl.records);
    l.size = merge(c, l.size, bl.size);
  }
  for (auto &[k, n] : r.appendHi)
    n = std::max(n, b.appendHi.at(k));
  r.drawIdx = merge(c, a.drawIdx, b.drawIdx);
  r.clockIdx = merge(c, a.clockIdx, b.clockIdx);
  r.drawHi = std::max(a.drawHi, b.drawHi);
  r.clockHi = std::max(a.clockHi, b.clockHi);
  return r;
}

class Encoder {
public:
  Encoder(SemContext &sc, ProgramOp program, SymbolicInputs &inputs)
      : sc(sc), c(sc.z3()), program(program), in(inputs),
        rne(c, Z3_mk_fpa_rne(c)), rtz(c, Z3_mk_fpa_rtz(c)) {}

  /// The state declarations of the program, in order.
  std::vector<StateOp> states() {
    std::vector<StateOp> r;
    for (mlir::Operation &op : program.getBodyBlock())
      if (auto s = llvm::dyn_cast<StateOp>(op))
        r.push_back(s);
    return r;
  }

  Type stateType(llvm::StringRef name) {
    for (StateOp s : states())
      if (s.getSymName() == name)
        return s.getType();
    fail("no state @" + name);
  }

  z3::expr freshConst(const std::string &name, z3::sort s) {
    return c.constant((in.prefix + name).c_str(), s);
  }

  /// Looks up or creates the free input state of every declaration.
  void ensureFreeState() {
    for (StateOp s : states()) {
      std::string name = s.getSymName().str();
      Type t = s.getType();
      if (auto mt = llvm::dyn_cast<MapType>(t)) {
        if (in.state.maps.count(name))
          continue;
        z3::sort ks = sc.sortOf(mt.getKeyType());
        z3::expr vals = freshConst(name + ".values",
                                   c.array_sort(ks, sc.sortOf(mt.getValueType())));
        z3::expr pres = freshConst(name + ".present", c.array_sort(ks, c.bool_sort()));
        z3::expr cnt = freshConst(name + ".count", c.bv_sort(64));
        in.assumptions.push_back(z3::ule(cnt, c.bv_val((uint64_t)mt.getCapacity(), 64)));
        in.state.maps.emplace(name, MapTerms{vals, pres, cnt});
      } else if (auto lt = llvm::dyn_cast<LogType>(t)) {
        if (in.state.logs.count(name))
          continue;
        z3::expr recs = freshConst(name + ".records",
                                   c.array_sort(c.bv_sort(64), sc.sortOf(lt)));
        z3::expr size = freshConst(name + ".size", c.bv_sort(64));
        in.state.logs.emplace(name, LogTerms{recs, size});
      } else {
        if (in.state.scalars.count(name))
          continue;
        z3::expr v = freshConst(name, sc.sortOf(t));
        in.assumptions.push_back(sc.wellFormed(t, v));
        in.state.scalars.emplace(name, sc.canonical(t, v));
      }
    }
  }

  Env initialEnv(const SymbolicState &state) {
    Env env{c.bool_val(true), {}, {}, {}, {}, {}, c.bv_val(0, 32),
            c.bv_val(0, 32)};
    for (StateOp s : states()) {
      std::string name = s.getSymName().str();
      Type t = s.getType();
      if (llvm::isa<MapType>(t)) {
        auto it = state.maps.find(name);
        if (it == state.maps.end())
          fail("no terms for map @" + name);
        env.maps.emplace(name, it->second);
      } else if (llvm::isa<LogType>(t)) {
        auto it = state.logs.find(name);
        if (it == state.logs.end())
          fail("no terms for log @" + name);
        env.logs.emplace(name, it->second);
        env.appendHi[name] = 0;
      } else {
        auto it = state.scalars.find(name);
        if (it == state.scalars.end())
          fail("no term for state @" + name);
        env.scalars.emplace(name, it->second);
      }
    }
    return env;
  }

  SymbolicState stateOf(const Env &env) {
    SymbolicState s;
    for (auto &[k, v] : env.scalars)
      s.scalars.emplace(k, v);
    for (auto &[k, v] : env.maps)
      s.maps.emplace(k, v);
    for (auto &[k, v] : env.logs)
      s.logs.emplace(k, v);
    return s;
  }

  HandlerSemantics runHandler(HandlerOp handler) {
    EventOp event = handler.getEventDecl();
    if (!event)
      fail("handler @" + handler.getSymName() + " has no event declaration");
    ensureFreeState();
    Env env = initialEnv(in.state);
    for (auto [nameAttr, typeAttr] :
         llvm::zip(event.getFieldNames(), event.getFieldTypes())) {
      std::string name = llvm::cast<mlir::StringAttr>(nameAttr).getValue().str();
      Type t = llvm::cast<mlir::TypeAttr>(typeAttr).getValue();
      auto it = in.fields.find(name);
      if (it == in.fields.end()) {
        // Inputs are kept in canonical form, so that a query over
        // in.fields compares by content.
        z3::expr v = freshConst("field." + name, sc.sortOf(t));
        in.assumptions.push_back(sc.wellFormed(t, v));
        it = in.fields.emplace(name, sc.canonical(t, v)).first;
        env.fields.emplace(name, it->second);
      } else {
        env.fields.emplace(name, sc.canonical(t, it->second));
      }
    }
    std::map<std::string, z3::expr> priorSizes;
    for (auto &[k, l] : env.logs)
      priorSizes.emplace(k, l.size);

    RegionOut out = execRegion(handler.getBody(), env, {});
    if (out.env)
      fail("handler @" + handler.getSymName() +
           " can reach its end without a verdict");
    if (exits.empty())
      fail("handler @" + handler.getSymName() + " has no verdict");

    // The outputs: an ite chain over the exits (mutually exclusive paths).
    Env result = exits.back().env;
    z3::expr verdict = c.bv_val(exits.back().code, 32);
    for (int i = (int)exits.size() - 2; i >= 0; --i) {
      const Exit &e = exits[i];
      result = mergeEnv(e.env.pc, e.env, result);
      verdict = merge(e.env.pc, c.bv_val(e.code, 32), verdict);
    }
    HandlerSemantics sem{verdict, result.fields, stateOf(result), priorSizes,
                         {}, result.drawIdx, result.clockIdx};
    for (auto &[k, n] : result.appendHi)
      sem.maxAppends[k] = n;
    return sem;
  }

  SymbolicState runInit(InitOp init, const SymbolicState &zero) {
    Env env = initialEnv(zero);
    RegionOut out = execRegion(init.getBody(), env, {});
    if (!out.env)
      fail("netfn.init does not reach netfn.return");
    return stateOf(*out.env);
  }

private:
  SemContext &sc;
  z3::context &c;
  ProgramOp program;
  SymbolicInputs &in;
  z3::expr rne, rtz;
  std::unordered_map<void *, z3::expr> values;
  std::vector<Exit> exits;

  z3::expr get(mlir::Value v) {
    auto it = values.find(v.getAsOpaquePointer());
    if (it == values.end())
      fail("value used before it is defined");
    return it->second;
  }
  void set(mlir::Value v, const z3::expr &e) {
    auto it = values.find(v.getAsOpaquePointer());
    if (it != values.end())
      it->second = e;
    else
      values.emplace(v.getAsOpaquePointer(), e);
  }
  z3::expr wrap(Z3_ast a) {
    z3::expr e(c, a);
    c.check_error();
    return e;
  }

  //===--------------------------------------------------------------------===//
  // Regions
  //===--------------------------------------------------------------------===//

  RegionOut execRegion(mlir::Region &region, Env env,
                       llvm::ArrayRef<z3::expr> args) {
    if (region.empty())
      fail("empty region");
    mlir::Block &block = region.front();
    if (block.getNumArguments() != args.size())
      fail("region expects " + llvm::Twine(block.getNumArguments()) +
           " arguments");
    for (auto [arg, val] : llvm::zip(block.getArguments(), args))
      set(arg, val);
    for (mlir::Operation &op : block) {
      if (auto y = llvm::dyn_cast<YieldOp>(op)) {
        RegionOut out{std::move(env), {}};
        for (mlir::Value v : y.getValues())
          out.yields.push_back(get(v));
        return out;
      }
      if (llvm::isa<ReturnOp>(op))
        return RegionOut{std::move(env), {}};
      if (llvm::isa<ForwardOp>(op)) {
        exits.push_back(Exit{std::move(env), 0});
        return RegionOut{};
      }
      if (auto r = llvm::dyn_cast<RejectOp>(op)) {
        exits.push_back(Exit{std::move(env), sc.reasons().code(r.getReason())});
        return RegionOut{};
      }
      if (!execOp(op, env))
        return RegionOut{}; // every path through `op` ended the handler
    }
    fail("region does not end in a terminator");
  }

  /// Runs two alternatives under `cond` and merges them; the result values
  /// are assigned to `results`. False when no path falls through.
  bool branch(const z3::expr &cond, Env &env, mlir::ValueRange results,
              const std::function<RegionOut(Env)> &thenFn,
              const std::function<RegionOut(Env)> &elseFn) {
    Env te = env, ee = env;
    te.pc = env.pc && cond;
    ee.pc = env.pc && !cond;
    RegionOut t = thenFn(std::move(te));
    RegionOut e = elseFn(std::move(ee));
    if (t.env && e.env) {
      env = mergeEnv(cond, *t.env, *e.env);
      for (unsigned i = 0; i < results.size(); ++i)
        set(results[i], merge(cond, t.yields.at(i), e.yields.at(i)));
      return true;
    }
    RegionOut &live = t.env ? t : e;
    if (!live.env)
      return false;
    env = std::move(*live.env);
    for (unsigned i = 0; i < results.size(); ++i)
      set(results[i], live.yields.at(i));
    return true;
  }

  //===--------------------------------------------------------------------===//
  // Values of types
  //===--------------------------------------------------------------------===//

  z3::expr constValue(Type type, mlir::Attribute attr) {
    if (type.isInteger(1)) {
      auto i = llvm::dyn_cast<mlir::IntegerAttr>(attr);
      if (!i)
        fail("bad i1 constant");
      return c.bool_val(!i.getValue().isZero());
    }
    if (isNetfnInteger(type)) {
      auto i = llvm::dyn_cast<mlir::IntegerAttr>(attr);
      if (!i)
        fail("bad integer constant");
      unsigned w = type.getIntOrFloatBitWidth();
      return c.bv_val((uint64_t)i.getValue().zextOrTrunc(64).getZExtValue(), 64)
          .extract(w - 1, 0)
          .simplify();
    }
    if (auto ft = llvm::dyn_cast<FixedType>(type)) {
      auto i = llvm::dyn_cast<mlir::IntegerAttr>(attr);
      if (!i)
        fail("bad fixed-point constant");
      return c.bv_val((uint64_t)i.getValue().sextOrTrunc(64).getZExtValue(), 64)
          .extract(ft.getWidth() - 1, 0)
          .simplify();
    }
    if (type.isF64()) {
      auto f = llvm::dyn_cast<mlir::FloatAttr>(attr);
      if (!f)
        fail("bad f64 constant");
      return fpConst(f.getValueAsDouble());
    }
    if (auto st = llvm::dyn_cast<StringType>(type)) {
      auto s = llvm::dyn_cast<mlir::StringAttr>(attr);
      if (!s)
        fail("bad string constant");
      return sc.stringValue(st, s.getValue());
    }
    fail("no constants of type " + typeName(type));
  }

  z3::expr fpConst(double d) {
    return wrap(Z3_mk_fpa_numeral_double(c, d, c.fpa_sort(11, 53)));
  }

  z3::expr ordered(CmpPredicate p, Type t, const z3::expr &a,
                   const z3::expr &b) {
    if (t.isF64()) {
      switch (p) {
      case CmpPredicate::lt: return wrap(Z3_mk_fpa_lt(c, a, b));
      case CmpPredicate::le: return wrap(Z3_mk_fpa_leq(c, a, b));
      case CmpPredicate::gt: return wrap(Z3_mk_fpa_gt(c, a, b));
      case CmpPredicate::ge: return wrap(Z3_mk_fpa_geq(c, a, b));
      default: break;
      }
    } else if (isSignedInt(t)) {
      switch (p) {
      case CmpPredicate::lt: return z3::slt(a, b);
      case CmpPredicate::le: return z3::sle(a, b);
      case CmpPredicate::gt: return z3::sgt(a, b);
      case CmpPredicate::ge: return z3::sge(a, b);
      default: break;
      }
    } else if (isNetfnInteger(t) || llvm::isa<InstantType>(t)) {
      switch (p) {
      case CmpPredicate::lt: return z3::ult(a, b);
      case CmpPredicate::le: return z3::ule(a, b);
      case CmpPredicate::gt: return z3::ugt(a, b);
      case CmpPredicate::ge: return z3::uge(a, b);
      default: break;
      }
    }
    fail("no order on " + typeName(t));
  }

  /// Integer (bv of type `from`) to integer type of width `w`.
  z3::expr resize(const z3::expr &v, unsigned from, bool isSigned,
                  unsigned to) {
    if (to == from)
      return v;
    if (to < from)
      return v.extract(to - 1, 0);
    return isSigned ? z3::sext(v, to - from) : z3::zext(v, to - from);
  }

  /// f64 to a W-bit integer: toward zero, saturating, NaN to 0.
  z3::expr fpToInt(const z3::expr &v, unsigned w, bool isSigned) {
    z3::expr t = wrap(Z3_mk_fpa_round_to_integral(c, rtz, v));
    z3::expr nan = wrap(Z3_mk_fpa_is_nan(c, v));
    z3::expr zero = c.bv_val(0, w);
    if (isSigned) {
      z3::expr lo = fpConst(-std::ldexp(1.0, w - 1));
      z3::expr hi = fpConst(std::ldexp(1.0, w - 1));
      z3::expr minv = z3::shl(c.bv_val(1, w), c.bv_val(w - 1, w));
      z3::expr maxv = ~minv;
      z3::expr conv = wrap(Z3_mk_fpa_to_sbv(c, rtz, t, w));
      return z3::ite(nan, zero,
                     z3::ite(wrap(Z3_mk_fpa_lt(c, t, lo)), minv,
                             z3::ite(wrap(Z3_mk_fpa_geq(c, t, hi)), maxv, conv)));
    }
    z3::expr hi = fpConst(std::ldexp(1.0, w));
    z3::expr conv = wrap(Z3_mk_fpa_to_ubv(c, rtz, t, w));
    return z3::ite(nan, zero,
                   z3::ite(wrap(Z3_mk_fpa_lt(c, t, fpConst(0.0))), zero,
                           z3::ite(wrap(Z3_mk_fpa_geq(c, t, hi)), ~zero, conv)));
  }

  z3::expr cast(Type from, Type to, const z3::expr &v) {
    if (from == to)
      return v;
    // instant <-> ui64: the nanosecond count.
    if (llvm::isa<InstantType>(from) || llvm::isa<InstantType>(to))
      return v;
    if (from.isInteger(1) && isNetfnInteger(to))
      return z3::ite(v, c.bv_val(1, bitWidth(to)), c.bv_val(0, bitWidth(to)));
    if (isNetfnInteger(from)) {
      unsigned fw = bitWidth(from);
      bool s = isSignedInt(from);
      if (isNetfnInteger(to))
        return resize(v, fw, s, bitWidth(to));
      if (to.isF64())
        return s ? wrap(Z3_mk_fpa_to_fp_signed(c, rne, v, c.fpa_sort(11, 53)))
                 : wrap(Z3_mk_fpa_to_fp_unsigned(c, rne, v, c.fpa_sort(11, 53)));
      if (auto ft = llvm::dyn_cast<FixedType>(to)) {
        unsigned w = ft.getWidth();
        z3::expr r = resize(v, fw, s, w);
        return z3::shl(r, c.bv_val(ft.getFrac(), w));
      }
    }
    if (from.isF64()) {
      if (isNetfnInteger(to))
        return fpToInt(v, bitWidth(to), isSignedInt(to));
      if (auto ft = llvm::dyn_cast<FixedType>(to)) {
        z3::expr scaled = wrap(Z3_mk_fpa_mul(
            c, rne, v, fpConst(std::ldexp(1.0, ft.getFrac()))));
        return fpToInt(scaled, ft.getWidth(), /*isSigned=*/true);
      }
    }
    if (auto ff = llvm::dyn_cast<FixedType>(from)) {
      unsigned w = ff.getWidth(), f = ff.getFrac();
      if (isNetfnInteger(to)) {
        z3::expr i = z3::ashr(v, c.bv_val(f, w));
        return resize(i, w, /*isSigned=*/true, bitWidth(to));
      }
      if (to.isF64()) {
        z3::expr r = wrap(Z3_mk_fpa_to_fp_signed(c, rne, v, c.fpa_sort(11, 53)));
        return wrap(Z3_mk_fpa_div(c, rne, r, fpConst(std::ldexp(1.0, f))));
      }
      if (auto ft = llvm::dyn_cast<FixedType>(to)) {
        unsigned w2 = ft.getWidth(), f2 = ft.getFrac();
        z3::expr r = v;
        if (f2 >= f) {
          unsigned big = std::max(w, w2);
          r = resize(v, w, true, big);
          r = z3::shl(r, c.bv_val(f2 - f, big));
          r = resize(r, big, true, w2);
        } else {
          r = resize(z3::ashr(v, c.bv_val(f - f2, w)), w, true, w2);
        }
        // A constant rescaled (netfn-float-to-fixed's state at a larger
        // scale than its use) stays a numeral, so that a product by it
        // is encoded by its split as netfn-simplify's folded form is.
        return v.is_numeral() ? r.simplify() : r;
      }
    }
    if (auto sf = llvm::dyn_cast<StringType>(from)) {
      if (auto st = llvm::dyn_cast<StringType>(to))
        return sc.castString(sf, st, v);
    }
    fail("no conversion from " + typeName(from) + " to " + typeName(to));
  }

  z3::expr nextDraw(Env &env) {
    while (in.draws.size() <= env.drawHi)
      in.draws.push_back(
          freshConst("draw" + std::to_string(in.draws.size()), c.bv_sort(32)));
    z3::expr v = select(env.drawIdx, env.drawHi, in.draws);
    env.drawIdx = (env.drawIdx + 1).simplify();
    env.drawHi += 1;
    return v;
  }

  z3::expr nextClock(Env &env) {
    while (in.clocks.size() <= env.clockHi) {
      z3::expr t = freshConst("clock" + std::to_string(in.clocks.size()),
                              c.bv_sort(64));
      if (!in.clocks.empty())
        in.assumptions.push_back(z3::ule(in.clocks.back(), t));
      in.clocks.push_back(t);
    }
    z3::expr v = select(env.clockIdx, env.clockHi, in.clocks);
    env.clockIdx = (env.clockIdx + 1).simplify();
    env.clockHi += 1;
    return v;
  }

  /// seq[idx] where idx <= hi.
  z3::expr select(const z3::expr &idx, unsigned hi,
                  const std::vector<z3::expr> &seq) {
    z3::expr s = idx.simplify();
    if (s.is_numeral())
      return seq.at(s.get_numeral_uint());
    z3::expr r = seq.at(hi);
    for (int i = (int)hi - 1; i >= 0; --i)
      r = z3::ite(s == c.bv_val(i, 32), seq.at(i), r);
    return r;
  }

  //===--------------------------------------------------------------------===//
  // Ops
  //===--------------------------------------------------------------------===//

  /// Encodes one non-terminator op; false when no path continues after it.
  bool execOp(mlir::Operation &op, Env &env) {
    bool live = true;
    llvm::TypeSwitch<mlir::Operation *>(&op)
        .Case<ConstOp>([&](ConstOp o) {
          set(o.getResult(), constValue(o.getType(), o.getValue()));
        })
        .Case<AddOp, SubOp, MulOp, DivOp, RemOp, AndOp, OrOp, XorOp, MinOp,
              MaxOp>([&](auto o) {
          set(o.getResult(), binary(o.getOperation(), o.getType(),
                                    get(o.getLhs()), get(o.getRhs())));
        })
        .Case<NotOp>([&](NotOp o) { set(o.getResult(), !get(o.getOperand())); })
        .Case<CmpOp>([&](CmpOp o) {
          Type t = o.getLhs().getType();
          z3::expr a = get(o.getLhs()), b = get(o.getRhs());
          z3::expr r = c.bool_val(true);
          switch (o.getPredicate()) {
          case CmpPredicate::eq: r = sc.valueEq(t, a, t, b); break;
          case CmpPredicate::ne: r = !sc.valueEq(t, a, t, b); break;
          default: r = ordered(o.getPredicate(), t, a, b); break;
          }
          set(o.getResult(), r);
        })
        .Case<SelectOp>([&](SelectOp o) {
          set(o.getResult(), merge(get(o.getCondition()), get(o.getTrueValue()),
                                   get(o.getFalseValue())));
        })
        .Case<CastOp>([&](CastOp o) {
          set(o.getResult(), cast(o.getInput().getType(), o.getType(),
                                  get(o.getInput())));
        })
        .Case<BitcastOp>([&](BitcastOp o) {
          // Integer <-> fixed point of the same width: the same bits.
          set(o.getResult(), get(o.getInput()));
        })
        .Case<PairMakeOp>([&](PairMakeOp o) {
          set(o.getResult(), sc.tupleCtor(o.getType())(get(o.getFirst()),
                                                       get(o.getSecond())));
        })
        .Case<FirstOp>([&](FirstOp o) {
          set(o.getResult(), sc.tupleProj(o.getPair().getType(), 0)(get(o.getPair())));
        })
        .Case<SecondOp>([&](SecondOp o) {
          set(o.getResult(), sc.tupleProj(o.getPair().getType(), 1)(get(o.getPair())));
        })
        .Case<StringLenOp>([&](StringLenOp o) {
          set(o.getResult(), sc.tupleProj(o.getInput().getType(), 0)(get(o.getInput())));
        })
        .Case<StringXorOp>([&](StringXorOp o) {
          set(o.getResult(),
              stringXor(sc, llvm::cast<StringType>(o.getInput().getType()),
                        get(o.getInput()),
                        llvm::cast<StringType>(o.getKey().getType()),
                        get(o.getKey())));
        })
        .Case<RandomOp>([&](RandomOp o) { set(o.getResult(), nextDraw(env)); })
        .Case<NowOp>([&](NowOp o) { set(o.getResult(), nextClock(env)); })
        .Case<FieldGetOp>([&](FieldGetOp o) {
          auto it = env.fields.find(o.getField().str());
          if (it == env.fields.end())
            fail("no field \"" + o.getField() + "\" in this event");
          set(o.getResult(), it->second);
        })
        .Case<FieldSetOp>([&](FieldSetOp o) {
          auto it = env.fields.find(o.getField().str());
          if (it == env.fields.end())
            fail("no field \"" + o.getField() + "\" in this event");
          it->second = get(o.getValue());
        })
        .Case<StateReadOp>([&](StateReadOp o) {
          auto it = env.scalars.find(o.getState().str());
          if (it == env.scalars.end())
            fail("no scalar state @" + o.getState());
          set(o.getResult(), it->second);
        })
        .Case<StateWriteOp>([&](StateWriteOp o) {
          auto it = env.scalars.find(o.getState().str());
          if (it == env.scalars.end())
            fail("no scalar state @" + o.getState());
          it->second = get(o.getValue());
        })
        .Case<MapGetOp>([&](MapGetOp o) {
          auto mt = llvm::cast<MapType>(stateType(o.getMap()));
          MapTerms &m = mapOf(env, o.getMap());
          z3::expr k = get(o.getKey());
          z3::expr present = z3::select(m.present, k);
          z3::expr value = sc.canonical(mt.getValueType(), z3::select(m.values, k));
          // The payload is the stored value whether or not the key is
          // present: None's payload is never observed (match_option binds it
          // only under Some; valueEq of options ignores it), and an
          // unconditional payload is what compiled code reads after its
          // null check, so the two are the same term for the sweep.
          set(o.getResult(), sc.tupleCtor(o.getType())(present, value));
        })
        .Case<MapSetOp>([&](MapSetOp o) {
          auto mt = llvm::cast<MapType>(stateType(o.getMap()));
          MapTerms &m = mapOf(env, o.getMap());
          z3::expr k = get(o.getKey()), v = get(o.getValue());
          z3::expr had = z3::select(m.present, k);
          z3::expr room = z3::ult(m.count, c.bv_val((uint64_t)mt.getCapacity(), 64));
          z3::expr ok = had || room;
          m.values = z3::ite(ok, z3::store(m.values, k, v), m.values);
          m.present = z3::ite(ok, z3::store(m.present, k, c.bool_val(true)),
                              m.present);
          m.count = z3::ite(!had && room, m.count + 1, m.count);
        })
        .Case<MapDeleteOp>([&](MapDeleteOp o) {
          MapTerms &m = mapOf(env, o.getMap());
          z3::expr k = get(o.getKey());
          z3::expr had = z3::select(m.present, k);
          m.present = z3::store(m.present, k, c.bool_val(false));
          m.count = z3::ite(had, m.count - 1, m.count);
        })
        .Case<LogAppendOp>([&](LogAppendOp o) {
          Type lt = stateType(o.getLog());
          LogTerms &l = logOf(env, o.getLog());
          z3::expr_vector args(c);
          for (mlir::Value v : o.getValues())
            args.push_back(get(v));
          l.records = z3::store(l.records, l.size, sc.tupleCtor(lt)(args));
          l.size = l.size + 1;
          env.appendHi[o.getLog().str()] += 1;
        })
        .Case<LogSizeOp>([&](LogSizeOp o) {
          set(o.getResult(), logOf(env, o.getLog()).size);
        })
        .Case<IfOp>([&](IfOp o) {
          live = branch(
              get(o.getCondition()), env, o.getResults(),
              [&](Env e) { return execRegion(o.getThenRegion(), std::move(e), {}); },
              [&](Env e) { return execRegion(o.getElseRegion(), std::move(e), {}); });
        })
        .Case<MatchOp>([&](MatchOp o) {
          Type t = o.getScrutinee().getType();
          z3::expr s = get(o.getScrutinee());
          auto cases = o.getCases().getValue();
          auto regions = o.getCaseRegions();
          // case 0 ? r0 : (case 1 ? r1 : ... default), in order.
          std::function<RegionOut(Env, unsigned)> arm =
              [&](Env e, unsigned i) -> RegionOut {
            if (i == cases.size())
              return execRegion(o.getDefaultRegion(), std::move(e), {});
            z3::expr eq = sc.valueEq(t, s, t, constValue(t, cases[i]));
            RegionOut out;
            std::vector<z3::expr> ys;
            // Use a scratch result binding: results are set by the outermost
            // branch, so collect yields explicitly here.
            Env te = e, ee = e;
            te.pc = e.pc && eq;
            ee.pc = e.pc && !eq;
            RegionOut tOut = execRegion(regions[i], std::move(te), {});
            RegionOut eOut = arm(std::move(ee), i + 1);
            if (tOut.env && eOut.env) {
              out.env = mergeEnv(eq, *tOut.env, *eOut.env);
              for (unsigned j = 0; j < tOut.yields.size(); ++j)
                out.yields.push_back(merge(eq, tOut.yields[j], eOut.yields.at(j)));
              return out;
            }
            return tOut.env ? tOut : eOut;
          };
          RegionOut out = arm(env, 0);
          if (!out.env) {
            live = false;
            return;
          }
          env = std::move(*out.env);
          for (unsigned j = 0; j < o.getNumResults(); ++j)
            set(o.getResult(j), out.yields.at(j));
        })
        .Case<MatchOptionOp>([&](MatchOptionOp o) {
          Type t = o.getOptional().getType();
          z3::expr opt = get(o.getOptional());
          z3::expr present = sc.tupleProj(t, 0)(opt);
          z3::expr value = sc.tupleProj(t, 1)(opt);
          live = branch(
              present, env, o.getResults(),
              [&](Env e) {
                return execRegion(o.getSomeRegion(), std::move(e), {value});
              },
              [&](Env e) { return execRegion(o.getNoneRegion(), std::move(e), {}); });
        })
        .Case<ForeachOp>([&](ForeachOp o) { live = foreach(o, env); })
        .Default([&](mlir::Operation *other) {
          fail("no SMT semantics for op '" +
               other->getName().getStringRef() + "'");
        });
    return live;
  }

  MapTerms &mapOf(Env &env, llvm::StringRef name) {
    auto it = env.maps.find(name.str());
    if (it == env.maps.end())
      fail("no map @" + name);
    return it->second;
  }
  LogTerms &logOf(Env &env, llvm::StringRef name) {
    auto it = env.logs.find(name.str());
    if (it == env.logs.end())
      fail("no log @" + name);
    return it->second;
  }

  /// Runs the body once per record of the log as it is when the loop starts:
  /// the first min(size, bound) records, oldest first, unrolled to the bound.
  bool foreach(ForeachOp o, Env &env) {
    auto lt = llvm::cast<LogType>(stateType(o.getLog()));
    LogTerms start = logOf(env, o.getLog());
    std::vector<z3::expr> carried;
    for (mlir::Value v : o.getIterInits())
      carried.push_back(get(v));
    uint64_t bound = o.getBound();
    for (uint64_t i = 0; i < bound; ++i) {
      z3::expr idx = c.bv_val(i, 64);
      z3::expr guard = z3::ult(idx, start.size);
      z3::expr rec = sc.canonical(lt, z3::select(start.records, idx));
      std::vector<z3::expr> args;
      unsigned fi = 0;
      for (Type f : lt.getFields()) {
        (void)f;
        args.push_back(sc.tupleProj(lt, fi++)(rec));
      }
      for (auto &v : carried)
        args.push_back(v);
      Env te = env, ee = env;
      te.pc = env.pc && guard;
      ee.pc = env.pc && !guard;
      z3::expr g = guard.simplify();
      if (g.is_false())
        break;
      RegionOut t = execRegion(o.getBody(), std::move(te), args);
      if (!t.env) {
        // Every run that reaches record i ends the handler: the loop ends
        // here for the runs that have fewer records.
        if (g.is_true())
          return false;
        env = std::move(ee);
        break;
      }
      std::vector<z3::expr> next;
      for (unsigned j = 0; j < carried.size(); ++j)
        next.push_back(merge(guard, t.yields.at(j), carried[j]));
      env = mergeEnv(guard, *t.env, ee);
      carried = std::move(next);
    }
    for (unsigned j = 0; j < o.getNumResults(); ++j)
      set(o.getResult(j), carried.at(j));
    return true;
  }

  z3::expr binary(mlir::Operation *op, Type t, const z3::expr &a,
                  const z3::expr &b) {
    bool isF = t.isF64();
    auto fixed = llvm::dyn_cast<FixedType>(t);
    bool s = isSignedInt(t);
    if (llvm::isa<AddOp>(op))
      return isF ? wrap(Z3_mk_fpa_add(c, rne, a, b)) : a + b;
    if (llvm::isa<SubOp>(op))
      return isF ? wrap(Z3_mk_fpa_sub(c, rne, a, b)) : a - b;
    // Products and quotients: see arith:: (NetfnSemantics.h) for why they
    // are built step by step.
    if (llvm::isa<MulOp>(op)) {
      if (isF)
        return wrap(Z3_mk_fpa_mul(c, rne, a, b));
      if (fixed)
        return arith::fixedMul(a, b, fixed.getFrac());
      return a * b;
    }
    if (llvm::isa<DivOp>(op)) {
      if (isF)
        return wrap(Z3_mk_fpa_div(c, rne, a, b));
      if (fixed)
        return arith::fixedDiv(a, b, fixed.getFrac());
      return s ? arith::sdiv(a, b) : arith::udiv(a, b);
    }
    if (llvm::isa<RemOp>(op))
      return arith::rem(a, b, s);
    if (llvm::isa<AndOp>(op))
      return t.isInteger(1) ? (a && b) : (a & b);
    if (llvm::isa<OrOp>(op))
      return t.isInteger(1) ? (a || b) : (a | b);
    if (llvm::isa<XorOp>(op))
      return t.isInteger(1) ? (a != b) : (a ^ b);
    if (llvm::isa<MinOp>(op))
      return z3::ite(ordered(CmpPredicate::lt, t, a, b), a, b);
    if (llvm::isa<MaxOp>(op))
      return z3::ite(ordered(CmpPredicate::gt, t, a, b), a, b);
    fail("unknown binary op");
  }
};

} // namespace

//===----------------------------------------------------------------------===//
// netfn.string.xor (NetfnSemantics.h)
//===----------------------------------------------------------------------===//

z3::expr sbpf::checker::stringXor(SemContext &sc, StringType st,
                                  const z3::expr &s, StringType kt,
                                  const z3::expr &key) {
  z3::context &c = sc.z3();
  unsigned n = stringDataBits(st) / 8;
  unsigned k = kt.getCapacity();
  unsigned p = 1, lg = 0; // the backends' key buffer: 2^lg >= k bytes
  while (p < k) {
    p *= 2;
    ++lg;
  }
  z3::expr len = sc.tupleProj(st, 0)(s);
  z3::expr data = sc.tupleProj(st, 1)(s);
  z3::expr klen = sc.tupleProj(kt, 0)(key);
  z3::expr kdata = sc.tupleProj(kt, 1)(key);
  z3::expr zero32 = c.bv_val(0, 32);
  z3::expr kzero = klen == zero32;
  // The key's length as the backends take it (NetfnToLLVM's string.xor,
  // EmitC's sbpf_xor_N_K): clamped to the capacity (the canonical key's
  // length), 1 when empty (the divisor is never 0; `keep` drops the key).
  z3::expr kcap = c.bv_val(k, 32);
  z3::expr klenC =
      z3::ite(kzero, c.bv_val(1, 32), z3::ite(z3::ule(klen, kcap), klen, kcap));
  z3::expr keep = z3::ite(kzero, c.bv_val(0, 8), c.bv_val(0xff, 8));
  // Byte b of the buffer: key byte b, 0 past the key (never read).
  auto bufferByte = [&](unsigned b) {
    return b < k ? kdata.extract(8 * b + 7, 8 * b) : c.bv_val(0, 8);
  };
  std::optional<z3::expr> out;
  for (unsigned i = 0; i < n; ++i) {
    z3::expr sb = data.extract(8 * i + 7, 8 * i);
    // The key index as the object computes it: i % klen through the
    // quotient (arith::rem, the executor's BPF `mod`), masked to the
    // buffer (a no-op: it is below klen <= k <= p), and the key byte there
    // chosen by a multiplexer over the index's lg low bits: how the
    // executor reads the object's load at that index (readThroughIndexBits
    // in Exec.cpp). Its conditions are single bits, which random inputs set
    // half the time (a chain of `j == b` tests is a chain of rare
    // conditions, for each of which the sweep looks for a model: Sweep.h).
    z3::expr j = arith::rem(c.bv_val(i, 32), klenC, false);
    std::function<z3::expr(unsigned, unsigned)> mux = [&](unsigned bit,
                                                          unsigned base) {
      if (bit == 0)
        return bufferByte(base);
      unsigned half = 1u << (bit - 1);
      if (base + half >= k) // the upper half is past the key
        return mux(bit - 1, base);
      return z3::ite(j.extract(bit - 1, bit - 1) == c.bv_val(1, 1),
                     mux(bit - 1, base + half), mux(bit - 1, base));
    };
    z3::expr kb = mux(lg, 0);
    z3::expr byte = z3::ite(z3::ult(c.bv_val(i, 32), len), sb ^ (kb & keep),
                            c.bv_val(0, 8));
    out = out ? z3::concat(byte, *out) : byte;
  }
  return sc.tupleCtor(st)(len, *out);
}

//===----------------------------------------------------------------------===//
// Arithmetic (NetfnSemantics.h, arith::)
//===----------------------------------------------------------------------===//

z3::expr sbpf::checker::arith::udiv(const z3::expr &a, const z3::expr &b) {
  z3::expr zero = a.ctx().bv_val(0, a.get_sort().bv_size());
  return z3::ite(b == zero, zero, z3::udiv(a, b));
}

namespace {
/// The operands of a signed division as the backends take them: signs and
/// magnitudes (|MIN| = MIN, read unsigned: 2^(W-1)), the divisor's replaced
/// by 1 when it is zero (LLVM's udiv by zero is undefined; the result is
/// then chosen by `isZero` anyway).
struct Magnitudes {
  z3::expr aNeg, bNeg, ua, ub, isZero;
};
Magnitudes magnitudes(const z3::expr &a, const z3::expr &b) {
  z3::context &c = a.ctx();
  unsigned w = a.get_sort().bv_size();
  z3::expr zero = c.bv_val(0, w);
  z3::expr aNeg = a < zero, bNeg = b < zero, isZero = b == zero;
  return {aNeg, bNeg, z3::ite(aNeg, zero - a, a),
          z3::ite(isZero, c.bv_val(1, w), z3::ite(bNeg, zero - b, b)),
          isZero};
}
z3::expr negateIf(const z3::expr &cond, const z3::expr &v) {
  return z3::ite(cond, v.ctx().bv_val(0, v.get_sort().bv_size()) - v, v);
}
} // namespace

z3::expr sbpf::checker::arith::sdiv(const z3::expr &a, const z3::expr &b) {
  Magnitudes m = magnitudes(a, b);
  z3::expr q = arith::udiv(m.ua, m.ub);
  return z3::ite(m.isZero, a.ctx().bv_val(0, a.get_sort().bv_size()),
                 negateIf(m.aNeg != m.bNeg, q));
}

z3::expr sbpf::checker::arith::rem(const z3::expr &a, const z3::expr &b,
                                   bool isSigned) {
  // a - (a / b) * b; with x / 0 = 0 that is also x % 0 = x. Signed: the
  // remainder of the magnitudes with the dividend's sign (MIN % -1 = 0).
  if (!isSigned)
    return a - arith::udiv(a, b) * b;
  Magnitudes m = magnitudes(a, b);
  z3::expr r = m.ua - arith::udiv(m.ua, m.ub) * m.ub;
  return z3::ite(m.isZero, a, negateIf(m.aNeg, r));
}

z3::expr sbpf::checker::arith::fixedMul(const z3::expr &a, const z3::expr &b,
                                        unsigned frac) {
  unsigned w = a.get_sort().bv_size();
  // By a constant c = n + m / 2^t that cheapFixedConstantSplit accepts (whole
  // numbers, and at W = 64 those with a short fraction): x * n + (x >>a t)
  // * m + (((x & (2^t - 1)) * m) >>a t) in W bits, the definition's value
  // (FixedConstant.h), built step by step exactly as netfn-simplify's
  // integer rewrite of such a product is encoded (the same terms, so its
  // proof and the check of the code compiled from it are by simplification;
  // steps with n or m in {0, 1} are left out there and here alike). The
  // constant on the right is tried first, as the rewrite does.
  for (int i = 0; i < 2; ++i) {
    const z3::expr &k = i ? a : b, &x = i ? b : a;
    if (!k.is_numeral())
      continue;
    auto split =
        cheapFixedConstantSplit(llvm::APInt(w, k.get_numeral_uint64()), frac);
    if (!split)
      continue;
    return fixedMulBySplit(x, *split);
  }
  if (w < 64) {
    // Fits a 64-bit product (the backends multiply sign-extended operands).
    z3::expr p = z3::sext(a, w) * z3::sext(b, w);
    return z3::ashr(p, a.ctx().bv_val(frac, 2 * w)).extract(w - 1, 0);
  }
  return fixedMulHalves(a, b, frac);
}

z3::expr sbpf::checker::arith::fixedMulBySplit(const z3::expr &x,
                                               const FixedConstantSplit &s) {
  z3::context &c = x.ctx();
  unsigned w = x.get_sort().bv_size();
  auto num = [&](const llvm::APInt &v) {
    return c.bv_val(static_cast<uint64_t>(v.getZExtValue()), w);
  };
  // Term by term, skipping what the rewrite skips: x * 0 and q * 0 are
  // absent, a product by 1 is its operand, (r * 1) >> t = 0 (r < 2^t).
  std::optional<z3::expr> sum;
  auto add = [&](const z3::expr &v) { sum = sum ? *sum + v : v; };
  if (!s.whole.isZero())
    add(s.whole.isOne() ? x : x * num(s.whole));
  if (s.shift) {
    z3::expr t = c.bv_val(s.shift, w);
    z3::expr q = z3::ashr(x, t);
    add(s.odd.isOne() ? q : q * num(s.odd));
    if (!s.odd.isOne()) {
      llvm::APInt mask = llvm::APInt::getLowBitsSet(w, s.shift);
      add(z3::ashr((x & num(mask)) * num(s.odd), t));
    }
  }
  return sum ? *sum : c.bv_val(0, w);
}

z3::expr sbpf::checker::arith::fixedMulHalves(const z3::expr &a,
                                              const z3::expr &b,
                                              unsigned frac) {
  // The 2W-bit signed product from W/2-bit halves (eBPF has no wider
  // multiply): unsigned partial products, then the two's complement
  // correction of the high half. The step order and shapes are the
  // backends' (NetfnToLLVM fxMul64, EmitC sbpf_fx_mul64), which pin them
  // with optimisation barriers, so that compiled code computes these very
  // terms: the high half's sum left to right, then each correction as a
  // mask (x >>a (W-1) is all ones exactly when x < 0), not a select.
  z3::context &c = a.ctx();
  unsigned w = a.get_sort().bv_size();
  unsigned h = w / 2;
  z3::expr mask = c.bv_val((uint64_t(1) << h) - 1, w); // w <= 64
  auto shr = [&](const z3::expr &v, unsigned n) {
    return z3::lshr(v, c.bv_val(n, w));
  };
  auto shl = [&](const z3::expr &v, unsigned n) {
    return z3::shl(v, c.bv_val(n, w));
  };
  z3::expr al = a & mask, ah = shr(a, h), bl = b & mask, bh = shr(b, h);
  z3::expr ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
  z3::expr mid = shr(ll, h) + (lh & mask) + (hl & mask);
  z3::expr lo = shl(mid, h) | (ll & mask);
  z3::expr hi = hh + shr(lh, h) + shr(hl, h) + shr(mid, h);
  z3::expr signBit = c.bv_val(w - 1, w);
  hi = hi - (z3::ashr(a, signBit) & b);
  hi = hi - (z3::ashr(b, signBit) & a);
  if (frac == 0)
    return lo;
  return shr(lo, frac) | shl(hi, w - frac);
}

z3::expr sbpf::checker::arith::fixedDiv(const z3::expr &a, const z3::expr &b,
                                        unsigned frac) {
  unsigned w = a.get_sort().bv_size();
  if (w < 64) {
    // (a << F) / b fits 64 bits (the backends divide sign-extended values).
    z3::expr num = z3::shl(z3::sext(a, w), a.ctx().bv_val(frac, 2 * w));
    return arith::sdiv(num, z3::sext(b, w)).extract(w - 1, 0);
  }
  return fixedDivLong(a, b, frac);
}

z3::expr sbpf::checker::arith::fixedDivLong(const z3::expr &a,
                                            const z3::expr &b,
                                            unsigned frac) {
  z3::context &c = a.ctx();
  unsigned w = a.get_sort().bv_size();
  z3::expr zero = c.bv_val(0, w), one = c.bv_val(1, w);
  // |a| << F is hi:lo; the remainder of hi first, then W steps of restoring
  // long division give the low W bits of the quotient. r < |b| <= 2^(W-1)
  // throughout, so r << 1 never overflows; "r >= |b|" is the absence of a
  // borrow out of r - |b|, computed without a branch as the code does.
  Magnitudes m = magnitudes(a, b);
  z3::expr hi = frac ? z3::lshr(m.ua, c.bv_val(w - frac, w)) : zero;
  z3::expr lo = z3::shl(m.ua, c.bv_val(frac, w));
  z3::expr r = arith::rem(hi, m.ub, /*isSigned=*/false);
  z3::expr q = zero;
  for (unsigned i = w; i-- > 0;) {
    r = z3::shl(r, one) | (z3::lshr(lo, c.bv_val(i, w)) & one);
    z3::expr d = r - m.ub;
    z3::expr borrow = (~r & m.ub) | (~(r ^ m.ub) & d);
    z3::expr ge = one ^ z3::lshr(borrow, c.bv_val(w - 1, w));
    r = r - (m.ub & (zero - ge));
    q = z3::shl(q, one) | ge;
  }
  return z3::ite(m.isZero, zero, negateIf(m.aNeg != m.bNeg, q));
}

namespace {

template <typename Fn>
auto guarded(Fn &&fn) -> llvm::Expected<decltype(fn())> {
  try {
    return fn();
  } catch (const EncodeError &e) {
    return makeError("netfn semantics: " + e.message);
  } catch (const z3::exception &e) {
    return makeError(std::string("z3: ") + e.msg());
  } catch (const std::exception &e) {
    return makeError(std::string("netfn semantics: ") + e.what());
  }
}

} // namespace

llvm::Expected<HandlerSemantics>
sbpf::checker::encodeHandler(SemContext &sc, HandlerOp handler,
                             SymbolicInputs &inputs) {
  return guarded([&] {
    auto program = handler->getParentOfType<ProgramOp>();
    if (!program)
      fail("handler is not inside a netfn.program");
    Encoder enc(sc, program, inputs);
    return enc.runHandler(handler);
  });
}

static SymbolicState zeroStateImpl(SemContext &sc, ProgramOp program) {
  z3::context &c = sc.z3();
  SymbolicState s;
  for (mlir::Operation &op : program.getBodyBlock()) {
    auto st = llvm::dyn_cast<StateOp>(op);
    if (!st)
      continue;
    std::string name = st.getSymName().str();
    Type t = st.getType();
    if (auto mt = llvm::dyn_cast<MapType>(t)) {
      z3::sort ks = sc.sortOf(mt.getKeyType());
      s.maps.emplace(name, MapTerms{z3::const_array(ks, sc.zero(mt.getValueType())),
                                    z3::const_array(ks, c.bool_val(false)),
                                    c.bv_val(0, 64)});
    } else if (auto lt = llvm::dyn_cast<LogType>(t)) {
      s.logs.emplace(name, LogTerms{z3::const_array(c.bv_sort(64), sc.zero(lt)),
                                    c.bv_val(0, 64)});
    } else {
      s.scalars.emplace(name, sc.zero(t));
    }
  }
  return s;
}

llvm::Expected<SymbolicState> sbpf::checker::zeroState(SemContext &sc,
                                                       ProgramOp program) {
  return guarded([&] { return zeroStateImpl(sc, program); });
}

llvm::Expected<SymbolicState> sbpf::checker::encodeInit(SemContext &sc,
                                                        ProgramOp program,
                                                        SymbolicInputs &inputs) {
  return guarded([&] {
    SymbolicState zero = zeroStateImpl(sc, program);
    InitOp init;
    for (mlir::Operation &op : program.getBodyBlock())
      if (auto i = llvm::dyn_cast<InitOp>(op))
        init = i;
    if (!init)
      return zero;
    Encoder enc(sc, program, inputs);
    return enc.runInit(init, zero);
  });
}

//===----------------------------------------------------------------------===//
// Solver queries
//===----------------------------------------------------------------------===//

SolverResult sbpf::checker::solve(SemContext &sc,
                                  const std::vector<z3::expr> &constraints,
                                  unsigned timeoutMs,
                                  std::optional<z3::model> *modelOut) {
  SolverResult r;
  try {
    z3::context &c = sc.z3();
    z3::solver s(c);
    z3::params p(c);
    p.set("timeout", timeoutMs);
    s.set(p);
    for (const z3::expr &e : constraints)
      s.add(e);
    switch (s.check()) {
    case z3::sat: {
      r.status = SolverStatus::Sat;
      z3::model m = s.get_model();
      r.model = m.to_string();
      if (modelOut)
        modelOut->emplace(m);
      break;
    }
    case z3::unsat:
      r.status = SolverStatus::Unsat;
      break;
    case z3::unknown:
      r.status = SolverStatus::Unknown;
      r.reason = s.reason_unknown();
      break;
    }
  } catch (const z3::exception &e) {
    r.status = SolverStatus::Unknown;
    r.reason = std::string("z3 error: ") + e.msg();
  } catch (const std::exception &e) {
    r.status = SolverStatus::Unknown;
    r.reason = e.what();
  }
  return r;
}
