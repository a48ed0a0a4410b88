//===- Sweep.cpp - term-level SAT sweeping (see Sweep.h) ------*- C++ -*-===//
//
// Three parts: a concrete evaluator of Z3 terms (bit-vectors of any width as
// llvm::APInt, Booleans, arrays as store chains over random or model-given
// contents, lambdas as closures, one-constructor datatypes as tuples), the
// simulation table (a value per subterm per input vector), and the sweep
// proper (candidates by signature, cut and cone queries, rewriting).
//
// What the evaluator does not know (floating point, other theories) is
// "unknown": such subterms and everything above them are never candidates.
// A wrong value can only cost a failed query, never a wrong merge: every
// merge is a Z3 proof.
//
//===----------------------------------------------------------------------===//
#include "sbpf/Checker/Sweep.h"
#include "sbpf/Checker/Normalize.h"

#include "llvm/ADT/APInt.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/Hashing.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

using namespace sbpf::checker;
using llvm::APInt;

namespace {

using Clock = std::chrono::steady_clock;

uint64_t mix(uint64_t x) { // splitmix64's finaliser
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
uint64_t mix(uint64_t a, uint64_t b) { return mix(a ^ mix(b)); }

//===----------------------------------------------------------------------===//
// Values
//===----------------------------------------------------------------------===//

struct ArrVal;

struct Val {
  enum Kind : uint8_t { None, Bits, Bool, Arr, Tup };
  Kind kind = None;
  bool b = false;
  APInt bits;
  std::shared_ptr<const ArrVal> arr;
  std::shared_ptr<const std::vector<Val>> tup;

  bool known() const { return kind != None; }
  static Val boolean(bool v) {
    Val r;
    r.kind = Bool;
    r.b = v;
    return r;
  }
  static Val bitvec(APInt v) {
    Val r;
    r.kind = Bits;
    r.bits = std::move(v);
    return r;
  }
};

bool sameVal(const Val &a, const Val &b) {
  if (a.kind != b.kind)
    return false;
  switch (a.kind) {
  case Val::Bits:
    return a.bits.getBitWidth() == b.bits.getBitWidth() && a.bits == b.bits;
  case Val::Bool:
    return a.b == b.b;
  case Val::Tup: {
    if (a.tup->size() != b.tup->size())
      return false;
    for (size_t i = 0; i < a.tup->size(); ++i)
      if (!sameVal((*a.tup)[i], (*b.tup)[i]))
        return false;
    return true;
  }
  case Val::Arr:
    return a.arr == b.arr;
  case Val::None:
    return false;
  }
  return false;
}

uint64_t hashVal(const Val &v) {
  switch (v.kind) {
  case Val::Bits:
    return uint64_t(llvm::hash_value(v.bits));
  case Val::Bool:
    return v.b ? 0x1234567 : 0x7654321;
  case Val::Tup: {
    uint64_t h = 0x7a9;
    for (const Val &e : *v.tup)
      h = mix(h, hashVal(e));
    return h;
  }
  default:
    return 0;
  }
}

/// An array: a chain of stores over a base that is an input (random
/// contents from a seed, or a model's), a constant array or a lambda.
struct ArrVal {
  enum Kind { Input, Const, Store, Lambda, Model } kind = Input;
  uint64_t seed = 0;        // Input
  unsigned style = 0;       // Input: 0 biased, 1 no NUL bytes, 2 uniform
  Z3_sort range = nullptr;  // Input
  Val value;                // Const: every element; Store: the element
  std::vector<Val> index;   // Store
  std::shared_ptr<const ArrVal> base; // Store
  Z3_ast body = nullptr;    // Lambda (its bound variables follow env)
  std::shared_ptr<const std::vector<Val>> env;
  Z3_ast constant = nullptr; // Model: the input array constant
  unsigned vector = 0;       // Model: whose model
};

using Env = std::vector<Val>;

//===----------------------------------------------------------------------===//
// The sweeper
//===----------------------------------------------------------------------===//

class Sweeper {
public:
  Sweeper(z3::context &c, const SweepOptions &opt, SweepStats &st)
      : c(c), opt(opt), st(st) {}
  void run(std::vector<z3::expr> &goals,
           const std::vector<z3::expr> &assumptions);

private:
  z3::context &c;
  const SweepOptions &opt;
  SweepStats &st;

  // The DAG, post-order (children first).
  std::vector<z3::expr> nodes;
  llvm::DenseMap<unsigned, unsigned> index;
  std::vector<llvm::SmallVector<unsigned, 3>> kids;

  // Simulation: sim[k][i] is node i's value on vector k. Vector k draws its
  // inputs at random (models[k] empty) or from a counterexample.
  std::vector<std::vector<Val>> sim;
  std::vector<std::optional<z3::model>> models;
  std::vector<std::unordered_map<unsigned, Val>> inputs;
  llvm::DenseMap<unsigned, unsigned> accessorField;

  // Sweeping.
  std::vector<z3::expr> rebuilt;
  std::vector<unsigned> reps;
  std::unordered_map<uint64_t, llvm::SmallVector<unsigned, 2>> buckets;

  void collect(const std::vector<z3::expr> &goals);
  void findLemmas();
  std::optional<z3::expr> remainderDivisor(const z3::expr &n);
  std::vector<std::pair<z3::expr, z3::expr>>
  remaindersInCone(const z3::expr &x, const z3::expr &y);
  /// Remainder node id -> its divisor (a remainder is below it, or the
  /// divisor is 0).
  llvm::DenseMap<unsigned, z3::expr> lemmas;
  void guide(const std::vector<z3::expr> &assumptions);
  /// A model of the assumptions and `extra` (for a simulation vector).
  std::optional<z3::model> modelUnder(const std::vector<z3::expr> &assumptions,
                                      const std::vector<z3::expr> &extra);
  void divide(const std::vector<z3::expr> &assumptions);
  void pass(bool full, std::vector<int> &mergedInto);
  /// `regions`: large circuit regions are cut; `products`: products of
  /// two variables are, whatever their size; `dividers`: every division
  /// and remainder is (see the definition).
  bool provenWithCircuitsCut(const z3::expr &goal,
                             const std::vector<z3::expr> &assumptions,
                             bool regions, bool products,
                             bool dividers = false);
  /// Ids of the subterms of n up to six levels down (at most a few hundred).
  llvm::DenseSet<unsigned> near(const z3::expr &n);
  /// The rare conditions guide() drew vectors for (negated where the
  /// vectors took the other way).
  std::vector<z3::expr> guidedConditions;
  void addVector(std::optional<z3::model> model);
  Val leaf(Z3_ast n, unsigned k, const Env *env);
  Val apply(Z3_ast n, llvm::ArrayRef<Val> args, unsigned k);
  Val evalRec(Z3_ast n, unsigned k, const Env &env,
              std::unordered_map<unsigned, Val> &memo);
  Val select(const ArrVal *a, llvm::ArrayRef<Val> idx, unsigned k);
  Val input(Z3_ast n, unsigned k);
  Val randomVal(Z3_sort s, uint64_t h);
  Val fromModel(const z3::expr &value, unsigned k);
  std::optional<z3::expr> toExpr(const Val &v, Z3_sort s);

  bool candidate(unsigned i) const;
  uint64_t signature(unsigned i) const;
  bool sameSignature(unsigned i, unsigned j) const;
  void rebucket();
  enum Outcome { Proven, Refuted, Unknown };
  Outcome prove(const z3::expr &x, const z3::expr &y);
  /// Cut proofs of 3, 7 and 16 levels, in that order, up to `maxDepth`
  /// (deeper than 3 only in thorough sweeps).
  bool provenByCut(const z3::expr &x, const z3::expr &y,
                   unsigned maxDepth = 3);
  /// A query under a resource limit in proportion to `ms` (see the
  /// definition); unknown without asking once the deadline has passed.
  z3::check_result check(const z3::expr &cond, unsigned ms,
                         std::optional<z3::model> *model);
  /// A fresh solver suited to the assertions (see the definition).
  z3::solver solverFor(const std::vector<z3::expr> &assertions);
  std::optional<z3::tactic> qfbvTactic, qfaufbvTactic;
  void commute(const z3::expr &n, std::vector<Z3_ast> &args);
  /// Milliseconds to the deadline, 0 when it has passed.
  unsigned msLeft() const;
  /// A query's limits: Z3 resource units in proportion to `ms` nominal
  /// milliseconds, wall time ten times as long but at most `left` ms.
  z3::params limits(unsigned ms, unsigned left);
  /// x != y with subterms cut (see the definition), or nullopt.
  struct Cut {
    z3::expr query;
    /// The replaced subterms without a definition in the query.
    std::vector<Z3_ast> free;
  };
  std::optional<Cut> cut(const z3::expr &x, const z3::expr &y,
                         unsigned depth);
  bool refutedBySampling(const z3::expr &x, const z3::expr &y,
                         const std::vector<Z3_ast> &free);
};

void Sweeper::collect(const std::vector<z3::expr> &goals) {
  // Iterative post-order; quantifiers (lambdas) are leaves.
  std::vector<std::pair<z3::expr, bool>> stack;
  for (const z3::expr &g : goals)
    stack.emplace_back(g, false);
  while (!stack.empty()) {
    auto [e, expanded] = stack.back();
    stack.pop_back();
    unsigned id = Z3_get_ast_id(c, e);
    if (index.count(id))
      continue;
    if (expanded || !e.is_app() || e.num_args() == 0) {
      llvm::SmallVector<unsigned, 3> ks;
      if (e.is_app())
        for (unsigned a = 0; a < e.num_args(); ++a)
          ks.push_back(index.lookup(Z3_get_ast_id(c, e.arg(a))));
      index[id] = nodes.size();
      nodes.push_back(e);
      kids.push_back(std::move(ks));
      continue;
    }
    stack.emplace_back(e, true);
    for (unsigned a = e.num_args(); a-- > 0;) {
      z3::expr arg = e.arg(a);
      if (!index.count(Z3_get_ast_id(c, arg)))
        stack.emplace_back(arg, false);
    }
  }
}

Val Sweeper::randomVal(Z3_sort s, uint64_t h) {
  switch (Z3_get_sort_kind(c, s)) {
  case Z3_BOOL_SORT:
    return Val::boolean(mix(h) & 1);
  case Z3_BV_SORT: {
    unsigned w = Z3_get_bv_sort_size(c, s);
    uint64_t r = mix(h);
    switch (r % 10) {
    case 0:
      return Val::bitvec(APInt(w, 0));
    case 1:
      return Val::bitvec(APInt(w, 1));
    case 2:
      return Val::bitvec(APInt::getAllOnes(w));
    case 3:
      return Val::bitvec(APInt(w, (r >> 8) % 17));
    case 4:
      return Val::bitvec(APInt::getSignMask(w));
    case 5:
      return Val::bitvec(APInt::getSignedMaxValue(w));
    case 6: { // bytes, a third of them NUL (strings, keys)
      APInt v(w, 0);
      for (unsigned at = 0; at < w; at += 8) {
        uint64_t byte = mix(h, at + 1);
        if (byte % 3 == 0)
          continue;
        unsigned n = std::min(8u, w - at);
        v.insertBits(APInt(n, (byte >> 8) & ((1u << n) - 1)), at);
      }
      return Val::bitvec(v);
    }
    default: {
      llvm::SmallVector<uint64_t, 4> words((w + 63) / 64);
      for (size_t i = 0; i < words.size(); ++i)
        words[i] = mix(h, i + 17);
      return Val::bitvec(APInt(w, words));
    }
    }
  }
  case Z3_ARRAY_SORT: {
    auto a = std::make_shared<ArrVal>();
    a->kind = ArrVal::Input;
    a->seed = mix(h);
    a->style = h % 3;
    a->range = Z3_get_array_sort_range(c, s);
    Val v;
    v.kind = Val::Arr;
    v.arr = std::move(a);
    return v;
  }
  case Z3_DATATYPE_SORT: {
    if (Z3_get_datatype_sort_num_constructors(c, s) != 1)
      return Val();
    Z3_func_decl ctor = Z3_get_datatype_sort_constructor(c, s, 0);
    auto fields = std::make_shared<std::vector<Val>>();
    for (unsigned f = 0; f < Z3_get_domain_size(c, ctor); ++f) {
      fields->push_back(randomVal(Z3_get_domain(c, ctor, f), mix(h, f)));
      if (!fields->back().known())
        return Val();
    }
    Val v;
    v.kind = Val::Tup;
    v.tup = std::move(fields);
    return v;
  }
  default:
    return Val();
  }
}

std::optional<z3::expr> Sweeper::toExpr(const Val &v, Z3_sort s) {
  switch (v.kind) {
  case Val::Bool:
    return c.bool_val(v.b);
  case Val::Bits: {
    llvm::SmallString<40> str;
    v.bits.toStringUnsigned(str, 10);
    return z3::expr(c, Z3_mk_numeral(c, str.c_str(), s));
  }
  case Val::Tup: {
    if (Z3_get_sort_kind(c, s) != Z3_DATATYPE_SORT)
      return std::nullopt;
    Z3_func_decl ctor = Z3_get_datatype_sort_constructor(c, s, 0);
    std::vector<z3::expr> args;
    for (unsigned f = 0; f < v.tup->size(); ++f) {
      auto e = toExpr((*v.tup)[f], Z3_get_domain(c, ctor, f));
      if (!e)
        return std::nullopt;
      args.push_back(*e);
    }
    std::vector<Z3_ast> raw(args.begin(), args.end());
    return z3::expr(c, Z3_mk_app(c, ctor, raw.size(), raw.data()));
  }
  default:
    return std::nullopt;
  }
}

Val Sweeper::fromModel(const z3::expr &value, unsigned k) {
  // A model value is a ground term of numerals and constructors.
  Env none;
  std::unordered_map<unsigned, Val> memo;
  return evalRec(value, k, none, memo);
}

Val Sweeper::input(Z3_ast n, unsigned k) {
  unsigned id = Z3_get_ast_id(c, n);
  auto it = inputs[k].find(id);
  if (it != inputs[k].end())
    return it->second;
  Z3_sort s = Z3_get_sort(c, n);
  Val v;
  if (!models[k]) {
    v = randomVal(s, mix(opt.seed, mix(id, k)));
  } else if (Z3_get_sort_kind(c, s) == Z3_ARRAY_SORT) {
    auto a = std::make_shared<ArrVal>();
    a->kind = ArrVal::Model;
    a->constant = n;
    a->vector = k;
    v.kind = Val::Arr;
    v.arr = std::move(a);
  } else {
    v = fromModel(models[k]->eval(z3::expr(c, n), true), k);
  }
  inputs[k].emplace(id, v);
  return v;
}

Val Sweeper::select(const ArrVal *a, llvm::ArrayRef<Val> idx, unsigned k) {
  for (const Val &i : idx)
    if (!i.known())
      return Val();
  while (a) {
    switch (a->kind) {
    case ArrVal::Store: {
      bool same = a->index.size() == idx.size();
      for (size_t i = 0; same && i < idx.size(); ++i) {
        if (!a->index[i].known())
          return Val();
        same = sameVal(a->index[i], idx[i]);
      }
      if (same)
        return a->value;
      a = a->base.get();
      continue;
    }
    case ArrVal::Const:
      return a->value;
    case ArrVal::Input: {
      uint64_t h = a->seed;
      for (const Val &i : idx)
        h = mix(h, hashVal(i));
      // Bytes of frames and keys: a third of the arrays NUL-free (whole
      // strings), a third uniform, a third biased to special values.
      if (a->style != 0 && Z3_get_sort_kind(c, a->range) == Z3_BV_SORT &&
          Z3_get_bv_sort_size(c, a->range) <= 8) {
        unsigned w = Z3_get_bv_sort_size(c, a->range);
        uint64_t r = mix(h) & ((1u << w) - 1);
        if (a->style == 1 && r == 0)
          r = 1;
        return Val::bitvec(APInt(w, r));
      }
      return randomVal(a->range, h);
    }
    case ArrVal::Lambda: {
      Env env = a->env ? *a->env : Env();
      for (const Val &i : idx)
        env.push_back(i);
      std::unordered_map<unsigned, Val> memo;
      return evalRec(a->body, k, env, memo);
    }
    case ArrVal::Model: {
      z3::expr arr(c, a->constant);
      z3::sort s = arr.get_sort();
      if (idx.size() != 1)
        return Val();
      auto i = toExpr(idx[0], s.array_domain());
      if (!i)
        return Val();
      return fromModel(models[a->vector]->eval(z3::select(arr, *i), true), k);
    }
    }
  }
  return Val();
}

Val Sweeper::leaf(Z3_ast n, unsigned k, const Env *env) {
  switch (Z3_get_ast_kind(c, n)) {
  case Z3_NUMERAL_AST: {
    Z3_sort s = Z3_get_sort(c, n);
    if (Z3_get_sort_kind(c, s) != Z3_BV_SORT)
      return Val();
    return Val::bitvec(
        APInt(Z3_get_bv_sort_size(c, s),
              llvm::StringRef(Z3_get_numeral_string(c, n)), 10));
  }
  case Z3_QUANTIFIER_AST: {
    if (!Z3_is_lambda(c, n))
      return Val();
    auto a = std::make_shared<ArrVal>();
    a->kind = ArrVal::Lambda;
    a->body = Z3_get_quantifier_body(c, n);
    if (env)
      a->env = std::make_shared<Env>(*env);
    Val v;
    v.kind = Val::Arr;
    v.arr = std::move(a);
    return v;
  }
  case Z3_VAR_AST: {
    unsigned i = Z3_get_index_value(c, n);
    if (!env || i >= env->size())
      return Val();
    return (*env)[env->size() - 1 - i];
  }
  case Z3_APP_AST: {
    Z3_func_decl d = Z3_get_app_decl(c, Z3_to_app(c, n));
    switch (Z3_get_decl_kind(c, d)) {
    case Z3_OP_TRUE:
      return Val::boolean(true);
    case Z3_OP_FALSE:
      return Val::boolean(false);
    case Z3_OP_BNUM:
      return leaf(n, k, env); // not reached: numerals are NUMERAL_AST
    case Z3_OP_UNINTERPRETED:
      return input(n, k);
    default:
      return apply(n, {}, k);
    }
  }
  default:
    return Val();
  }
}

Val Sweeper::evalRec(Z3_ast n, unsigned k, const Env &env,
                     std::unordered_map<unsigned, Val> &memo) {
  unsigned id = Z3_get_ast_id(c, n);
  if (auto it = memo.find(id); it != memo.end())
    return it->second;
  Val v;
  if (Z3_get_ast_kind(c, n) == Z3_APP_AST &&
      Z3_get_app_num_args(c, Z3_to_app(c, n)) > 0) {
    Z3_app app = Z3_to_app(c, n);
    llvm::SmallVector<Val, 3> args;
    for (unsigned a = 0; a < Z3_get_app_num_args(c, app); ++a)
      args.push_back(evalRec(Z3_get_app_arg(c, app, a), k, env, memo));
    v = apply(n, args, k);
  } else {
    v = leaf(n, k, &env);
  }
  memo.emplace(id, v);
  return v;
}

Val Sweeper::apply(Z3_ast n, llvm::ArrayRef<Val> args, unsigned k) {
  Z3_func_decl d = Z3_get_app_decl(c, Z3_to_app(c, n));
  Z3_decl_kind kind = Z3_get_decl_kind(c, d);
  // ite needs only the chosen branch.
  if (kind == Z3_OP_ITE) {
    if (args[0].kind != Val::Bool)
      return Val();
    return args[0].b ? args[1] : args[2];
  }
  for (const Val &a : args)
    if (!a.known())
      return Val();
  auto param = [&](unsigned i) { return Z3_get_decl_int_parameter(c, d, i); };
  auto bits = [&](unsigned i) -> const APInt & { return args[i].bits; };
  auto bv = [](APInt v) { return Val::bitvec(std::move(v)); };
  auto boolean = [](bool b) { return Val::boolean(b); };
  unsigned w = args.empty() || args[0].kind != Val::Bits
                   ? 0
                   : args[0].bits.getBitWidth();
  auto udiv = [&](const APInt &a, const APInt &b) {
    return b.isZero() ? APInt::getAllOnes(a.getBitWidth()) : a.udiv(b);
  };
  auto urem = [&](const APInt &a, const APInt &b) {
    return b.isZero() ? a : a.urem(b);
  };
  switch (kind) {
  // Booleans.
  case Z3_OP_AND: {
    bool r = true;
    for (const Val &a : args)
      r = r && a.b;
    return boolean(r);
  }
  case Z3_OP_OR: {
    bool r = false;
    for (const Val &a : args)
      r = r || a.b;
    return boolean(r);
  }
  case Z3_OP_NOT:
    return boolean(!args[0].b);
  case Z3_OP_XOR:
    return boolean(args[0].b != args[1].b);
  case Z3_OP_IMPLIES:
    return boolean(!args[0].b || args[1].b);
  case Z3_OP_IFF:
  case Z3_OP_EQ:
    if (args[0].kind == Val::Arr)
      return Val();
    return boolean(sameVal(args[0], args[1]));
  case Z3_OP_DISTINCT:
    for (size_t i = 0; i < args.size(); ++i) {
      if (args[i].kind == Val::Arr)
        return Val();
      for (size_t j = i + 1; j < args.size(); ++j)
        if (sameVal(args[i], args[j]))
          return boolean(false);
    }
    return boolean(true);

  // Bit-vector arithmetic.
  case Z3_OP_BADD: {
    APInt r = bits(0);
    for (size_t i = 1; i < args.size(); ++i)
      r += bits(i);
    return bv(r);
  }
  case Z3_OP_BMUL: {
    APInt r = bits(0);
    for (size_t i = 1; i < args.size(); ++i)
      r *= bits(i);
    return bv(r);
  }
  case Z3_OP_BSUB:
    return bv(bits(0) - bits(1));
  case Z3_OP_BNEG:
    return bv(-bits(0));
  case Z3_OP_BUDIV:
  case Z3_OP_BUDIV_I:
    return bv(udiv(bits(0), bits(1)));
  case Z3_OP_BUREM:
  case Z3_OP_BUREM_I:
    return bv(urem(bits(0), bits(1)));
  case Z3_OP_BSDIV:
  case Z3_OP_BSDIV_I: {
    const APInt &s = bits(0), &t = bits(1);
    bool ns = s.isNegative(), nt = t.isNegative();
    APInt q = udiv(ns ? -s : s, nt ? -t : t);
    return bv(ns != nt ? -q : q);
  }
  case Z3_OP_BSREM:
  case Z3_OP_BSREM_I: {
    const APInt &s = bits(0), &t = bits(1);
    APInt r = urem(s.isNegative() ? -s : s, t.isNegative() ? -t : t);
    return bv(s.isNegative() ? -r : r);
  }
  case Z3_OP_BSMOD:
  case Z3_OP_BSMOD_I: {
    const APInt &s = bits(0), &t = bits(1);
    bool ns = s.isNegative(), nt = t.isNegative();
    APInt u = urem(ns ? -s : s, nt ? -t : t);
    if (u.isZero() || t.isZero())
      return bv(t.isZero() ? s : u);
    if (!ns && !nt)
      return bv(u);
    if (ns && !nt)
      return bv(-u + t);
    if (!ns && nt)
      return bv(u + t);
    return bv(-u);
  }

  // Bitwise.
  case Z3_OP_BAND: {
    APInt r = bits(0);
    for (size_t i = 1; i < args.size(); ++i)
      r &= bits(i);
    return bv(r);
  }
  case Z3_OP_BOR: {
    APInt r = bits(0);
    for (size_t i = 1; i < args.size(); ++i)
      r |= bits(i);
    return bv(r);
  }
  case Z3_OP_BXOR: {
    APInt r = bits(0);
    for (size_t i = 1; i < args.size(); ++i)
      r ^= bits(i);
    return bv(r);
  }
  case Z3_OP_BNOT:
    return bv(~bits(0));
  case Z3_OP_BNAND:
    return bv(~(bits(0) & bits(1)));
  case Z3_OP_BNOR:
    return bv(~(bits(0) | bits(1)));
  case Z3_OP_BXNOR:
    return bv(~(bits(0) ^ bits(1)));
  case Z3_OP_BREDOR:
    return bv(APInt(1, !bits(0).isZero()));
  case Z3_OP_BREDAND:
    return bv(APInt(1, bits(0).isAllOnes()));
  case Z3_OP_BCOMP:
    return bv(APInt(1, bits(0) == bits(1)));

  // Shifts and rotations.
  case Z3_OP_BSHL:
  case Z3_OP_BLSHR:
  case Z3_OP_BASHR: {
    const APInt &a = bits(0), &s = bits(1);
    bool big = s.uge(APInt(s.getBitWidth(), w));
    unsigned n = big ? w : unsigned(s.getZExtValue());
    if (kind == Z3_OP_BSHL)
      return bv(big ? APInt(w, 0) : a.shl(n));
    if (kind == Z3_OP_BLSHR)
      return bv(big ? APInt(w, 0) : a.lshr(n));
    return bv(big ? (a.isNegative() ? APInt::getAllOnes(w) : APInt(w, 0))
                  : a.ashr(n));
  }
  case Z3_OP_ROTATE_LEFT:
    return bv(bits(0).rotl(param(0) % w));
  case Z3_OP_ROTATE_RIGHT:
    return bv(bits(0).rotr(param(0) % w));
  case Z3_OP_EXT_ROTATE_LEFT:
    return bv(bits(0).rotl(bits(1).urem(APInt(bits(1).getBitWidth(), w))));
  case Z3_OP_EXT_ROTATE_RIGHT:
    return bv(bits(0).rotr(bits(1).urem(APInt(bits(1).getBitWidth(), w))));

  // Structure.
  case Z3_OP_CONCAT: {
    APInt r = bits(0);
    for (size_t i = 1; i < args.size(); ++i)
      r = r.concat(bits(i));
    return bv(r);
  }
  case Z3_OP_EXTRACT: {
    unsigned hi = param(0), lo = param(1);
    return bv(bits(0).extractBits(hi - lo + 1, lo));
  }
  case Z3_OP_ZERO_EXT:
    return bv(bits(0).zext(w + param(0)));
  case Z3_OP_SIGN_EXT:
    return bv(bits(0).sext(w + param(0)));
  case Z3_OP_REPEAT: {
    APInt r = bits(0);
    for (int i = 1; i < param(0); ++i)
      r = r.concat(bits(0));
    return bv(r);
  }

  // Comparisons.
  case Z3_OP_ULEQ:
    return boolean(bits(0).ule(bits(1)));
  case Z3_OP_UGEQ:
    return boolean(bits(0).uge(bits(1)));
  case Z3_OP_ULT:
    return boolean(bits(0).ult(bits(1)));
  case Z3_OP_UGT:
    return boolean(bits(0).ugt(bits(1)));
  case Z3_OP_SLEQ:
    return boolean(bits(0).sle(bits(1)));
  case Z3_OP_SGEQ:
    return boolean(bits(0).sge(bits(1)));
  case Z3_OP_SLT:
    return boolean(bits(0).slt(bits(1)));
  case Z3_OP_SGT:
    return boolean(bits(0).sgt(bits(1)));

  // Arrays.
  case Z3_OP_SELECT:
    if (args[0].kind != Val::Arr)
      return Val();
    return select(args[0].arr.get(), args.drop_front(), k);
  case Z3_OP_STORE: {
    if (args[0].kind != Val::Arr)
      return Val();
    auto a = std::make_shared<ArrVal>();
    a->kind = ArrVal::Store;
    a->base = args[0].arr;
    a->index.assign(args.begin() + 1, args.end() - 1);
    a->value = args.back();
    Val v;
    v.kind = Val::Arr;
    v.arr = std::move(a);
    return v;
  }
  case Z3_OP_CONST_ARRAY: {
    auto a = std::make_shared<ArrVal>();
    a->kind = ArrVal::Const;
    a->value = args[0];
    Val v;
    v.kind = Val::Arr;
    v.arr = std::move(a);
    return v;
  }

  // One-constructor datatypes (tuples).
  case Z3_OP_DT_CONSTRUCTOR: {
    auto fields = std::make_shared<std::vector<Val>>(args.begin(), args.end());
    Val v;
    v.kind = Val::Tup;
    v.tup = std::move(fields);
    return v;
  }
  case Z3_OP_DT_ACCESSOR: {
    if (args[0].kind != Val::Tup)
      return Val();
    unsigned did = Z3_get_ast_id(c, Z3_func_decl_to_ast(c, d));
    auto it = accessorField.find(did);
    if (it == accessorField.end()) {
      Z3_sort s = Z3_get_domain(c, d, 0);
      Z3_func_decl ctor = Z3_get_datatype_sort_constructor(c, s, 0);
      unsigned field = ~0u;
      for (unsigned f = 0; f < Z3_get_domain_size(c, ctor); ++f)
        if (Z3_is_eq_func_decl(
                c, Z3_get_datatype_sort_constructor_accessor(c, s, 0, f), d))
          field = f;
      it = accessorField.try_emplace(did, field).first;
    }
    if (it->second >= args[0].tup->size())
      return Val();
    return (*args[0].tup)[it->second];
  }
  case Z3_OP_DT_IS:
  case Z3_OP_DT_RECOGNISER: {
    Z3_sort s = Z3_get_domain(c, d, 0);
    if (Z3_get_datatype_sort_num_constructors(c, s) != 1)
      return Val();
    return boolean(true);
  }
  default:
    return Val();
  }
}

void Sweeper::addVector(std::optional<z3::model> model) {
  unsigned k = sim.size();
  models.push_back(std::move(model));
  inputs.emplace_back();
  sim.emplace_back(nodes.size());
  std::vector<Val> &col = sim.back();
  for (size_t i = 0; i < nodes.size(); ++i) {
    Z3_ast n = nodes[i];
    if (kids[i].empty()) {
      col[i] = leaf(n, k, nullptr);
      continue;
    }
    llvm::SmallVector<Val, 3> args;
    for (unsigned ch : kids[i])
      args.push_back(col[ch]);
    col[i] = apply(n, args, k);
  }
}

bool Sweeper::candidate(unsigned i) const {
  if (kids[i].empty())
    return false; // inputs and numerals
  Z3_sort_kind sk = Z3_get_sort_kind(c, Z3_get_sort(c, nodes[i]));
  if (sk != Z3_BV_SORT && sk != Z3_BOOL_SORT && sk != Z3_DATATYPE_SORT)
    return false;
  for (const auto &col : sim)
    if (!col[i].known())
      return false;
  return true;
}

uint64_t Sweeper::signature(unsigned i) const {
  uint64_t h = Z3_get_sort_id(c, Z3_get_sort(c, nodes[i]));
  for (const auto &col : sim)
    h = mix(h, hashVal(col[i]));
  return h;
}

bool Sweeper::sameSignature(unsigned i, unsigned j) const {
  if (!Z3_is_eq_sort(c, Z3_get_sort(c, nodes[i]), Z3_get_sort(c, nodes[j])))
    return false;
  for (const auto &col : sim)
    if (!sameVal(col[i], col[j]))
      return false;
  return true;
}

void Sweeper::rebucket() {
  buckets.clear();
  for (unsigned r : reps)
    buckets[signature(r)].push_back(r);
}

unsigned Sweeper::msLeft() const { return msUntil(opt.deadline); }

z3::params Sweeper::limits(unsigned ms, unsigned left) {
  // The limit is Z3's resource count, not wall-clock time, so what a sweep
  // merges does not depend on the machine's load (with a time limit, one
  // latency_log run in four left a division step unmerged). 10,000 units
  // per nominal millisecond: with 1,000 (about what a cone query used per
  // millisecond of wall time here) latency_log's first sweep left 23
  // candidates unknown instead of 1-3 and its proof took 52 s instead of
  // 4 s. The time limit, ten times longer, is only a backstop, and never
  // reaches past the sweep's deadline.
  constexpr uint64_t kUnitsPerMs = 10000;
  z3::params p(c);
  p.set("rlimit", unsigned(std::min<uint64_t>(ms * kUnitsPerMs, UINT32_MAX)));
  p.set("timeout", unsigned(std::min<uint64_t>(10ull * ms, left)));
  return p;
}

z3::solver Sweeper::solverFor(const std::vector<z3::expr> &assertions) {
  // Z3's default solver sets up the tactics of every logic and the SMT
  // core for each instance: about 7 ms before the first step, which was
  // most of the sweep's small queries (success_ratio: ~400 a sweep). A
  // tactic solver for the query's logic, its tactic built once, costs
  // 0.1-1 ms: qfbv (bit-blasting) for pure bit-vector and Boolean queries
  // (the cut ones mostly), qfaufbv (the SMT core after Z3's bit-vector
  // preprocessing) for those with arrays and uninterpreted functions
  // too (the packet, the global data, string fields). Datatypes,
  // quantifiers and lambdas take the default solver.
  enum { PureBV, ArraysUF, Other } logic = PureBV;
  std::vector<Z3_ast> stack(assertions.begin(), assertions.end());
  llvm::DenseSet<unsigned> seen;
  while (!stack.empty() && logic != Other) {
    Z3_ast n = stack.back();
    stack.pop_back();
    if (!seen.insert(Z3_get_ast_id(c, n)).second)
      continue;
    Z3_ast_kind ak = Z3_get_ast_kind(c, n);
    if (ak != Z3_APP_AST && ak != Z3_NUMERAL_AST) {
      logic = Other;
      break;
    }
    Z3_sort_kind sk = Z3_get_sort_kind(c, Z3_get_sort(c, n));
    if (sk == Z3_ARRAY_SORT)
      logic = ArraysUF;
    else if (sk != Z3_BV_SORT && sk != Z3_BOOL_SORT)
      logic = Other;
    if (ak != Z3_APP_AST)
      continue;
    Z3_app app = Z3_to_app(c, n);
    unsigned args = Z3_get_app_num_args(c, app);
    if (args && Z3_get_decl_kind(c, Z3_get_app_decl(c, app)) ==
                    Z3_OP_UNINTERPRETED && logic == PureBV)
      logic = ArraysUF;
    for (unsigned a = 0; a < args; ++a)
      stack.push_back(Z3_get_app_arg(c, app, a));
  }
  if (logic == Other)
    return z3::solver(c);
  std::optional<z3::tactic> &t = logic == PureBV ? qfbvTactic : qfaufbvTactic;
  if (!t)
    t.emplace(c, logic == PureBV ? "qfbv" : "qfaufbv");
  return t->mk_solver();
}

z3::check_result Sweeper::check(const z3::expr &cond, unsigned ms,
                                std::optional<z3::model> *model) {
  // Past the deadline no query is asked: every query of a sweep ends by
  // it (a sweep of scramble's -O0 query overran a 240 s budget by 280 s).
  unsigned left = msLeft();
  if (!left) {
    st.outOfTime = true;
    return z3::unknown;
  }
  // Z3's rewriter decides many of the small identities on its own.
  z3::expr simple = cond.simplify();
  if (z3::eq(simple, c.bool_val(false)))
    return z3::unsat;
  z3::solver s = solverFor({simple});
  s.set(limits(ms, left));
  s.add(simple);
  ++st.solverCalls;
  z3::check_result r = s.check();
  if (r == z3::sat && model)
    model->emplace(s.get_model());
  return r;
}

/// x != y with every subterm x and y share, and every subterm `depth`
/// levels below them, replaced by a fresh constant (one per subterm), and,
/// for a replaced subterm whose arguments are all replaced, numerals or
/// inputs, its one-level definition over them (v = f(v1, v2)): the steps of
/// a long division share the remainder r' and the next remainder
/// r = (r' << 1) | bit, and a step compiled as ~(r' << 1) & b against one
/// written as ~r & b is equal only through that definition. The definitions
/// are true equalities, so the query still only generalises the original.
/// Nullopt when nothing would be replaced.
std::optional<Sweeper::Cut>
Sweeper::cut(const z3::expr &x, const z3::expr &y, unsigned depth) {
  constexpr size_t kMaxVisit = 4000;
  auto walk = [&](const z3::expr &root, llvm::DenseMap<unsigned, Z3_ast> &seen,
                  llvm::DenseSet<unsigned> &boundary) {
    std::vector<Z3_ast> level = {root};
    seen[Z3_get_ast_id(c, root)] = root;
    for (unsigned d = 0; d < depth && !level.empty(); ++d) {
      std::vector<Z3_ast> next;
      for (Z3_ast n : level) {
        if (Z3_get_ast_kind(c, n) != Z3_APP_AST)
          continue;
        Z3_app app = Z3_to_app(c, n);
        for (unsigned a = 0; a < Z3_get_app_num_args(c, app); ++a) {
          Z3_ast ch = Z3_get_app_arg(c, app, a);
          if (seen.try_emplace(Z3_get_ast_id(c, ch), ch).second)
            next.push_back(ch);
        }
      }
      level = std::move(next);
      if (seen.size() > kMaxVisit)
        break;
    }
    for (Z3_ast n : level)
      boundary.insert(Z3_get_ast_id(c, n));
  };
  llvm::DenseMap<unsigned, Z3_ast> sx, sy;
  llvm::DenseSet<unsigned> boundary;
  walk(x, sx, boundary);
  walk(y, sy, boundary);
  unsigned xid = Z3_get_ast_id(c, x), yid = Z3_get_ast_id(c, y);
  std::vector<z3::expr> from, to;
  auto consider = [&](unsigned id, Z3_ast n) {
    if (id == xid || id == yid)
      return;
    Z3_ast_kind ak = Z3_get_ast_kind(c, n);
    if (ak == Z3_NUMERAL_AST || ak == Z3_VAR_AST)
      return;
    if (ak == Z3_APP_AST && Z3_get_app_num_args(c, Z3_to_app(c, n)) == 0)
      return; // an input already
    z3::expr e(c, n);
    from.push_back(e);
    to.push_back(z3::expr(
        c, Z3_mk_fresh_const(c, "sweep.cut", Z3_get_sort(c, n))));
  };
  for (auto &[id, n] : sx)
    if (sy.count(id) || boundary.count(id))
      consider(id, n);
  for (auto &[id, n] : sy)
    if (!sx.count(id) && boundary.count(id))
      consider(id, n);
  if (from.empty())
    return std::nullopt;
  z3::expr_vector f(c), t(c);
  llvm::DenseSet<unsigned> replaced;
  for (size_t i = 0; i < from.size(); ++i) {
    f.push_back(from[i]);
    t.push_back(to[i]);
    replaced.insert(Z3_get_ast_id(c, from[i]));
  }
  z3::expr cx = x, cy = y;
  Cut out{cx.substitute(f, t) != cy.substitute(f, t), {}};
  for (size_t i = 0; i < from.size(); ++i) {
    const z3::expr &n = from[i];
    bool closed = n.is_app() && n.num_args() > 0;
    for (unsigned a = 0; closed && a < n.num_args(); ++a) {
      z3::expr arg = n.arg(a);
      closed = arg.is_numeral() ||
               (arg.is_app() && arg.num_args() == 0) ||
               replaced.count(Z3_get_ast_id(c, arg));
    }
    if (!closed || !opt.thorough) {
      out.free.push_back(n);
      continue;
    }
    // n's operator over its arguments' replacements (substituting n itself
    // would give its own replacement).
    std::vector<Z3_ast> args;
    for (unsigned a = 0; a < n.num_args(); ++a) {
      z3::expr arg = n.arg(a);
      args.push_back(arg.substitute(f, t));
    }
    z3::expr def(c, Z3_update_term(c, n, args.size(), args.data()));
    out.query = out.query && to[i] == def;
  }
  return out;
}

/// Whether x and y differ when the free subterms of a cut take random
/// values (everything above them, the defined cut subterms included,
/// computed from those): then the cut query is satisfiable and need not be
/// asked. Most cut queries of wrong partners end so, for microseconds
/// instead of the ~10 ms a solver call costs.
bool Sweeper::refutedBySampling(const z3::expr &x, const z3::expr &y,
                                const std::vector<Z3_ast> &free) {
  constexpr unsigned kSamples = 4;
  Env env;
  for (unsigned k = 0; k < kSamples && k < opt.vectors; ++k) {
    std::unordered_map<unsigned, Val> memo;
    for (Z3_ast n : free) {
      unsigned id = Z3_get_ast_id(c, n);
      memo.emplace(id, randomVal(Z3_get_sort(c, n), mix(opt.seed ^ 0xc07,
                                                        mix(id, k))));
    }
    Val vx = evalRec(x, k, env, memo), vy = evalRec(y, k, env, memo);
    if (vx.known() && vy.known() && !sameVal(vx, vy))
      return true;
  }
  return false;
}

bool Sweeper::provenByCut(const z3::expr &x, const z3::expr &y,
                          unsigned maxDepth) {
  // Three levels: enough for the local rewrites compilers make (an abs by
  // xor/sub against an ite, a mask against shifts). Seven when three fail:
  // a division step's "no borrow" bit is computed from the remainder
  // before the shift on one side, after it on the other, and the bit
  // shifted in (0 or 1) is seven levels down. Sixteen for the second
  // pass's candidates (outcomes comparing a shared quotient). Without the
  // thorough mode's definitions deeper cuts mostly failed (12 was tried)
  // and cost more than the cone query, hence three only there.
  if (!opt.thorough)
    maxDepth = 3;
  for (unsigned depth : {3u, 7u, 16u}) {
    if (depth > maxDepth)
      break;
    std::optional<Cut> q = cut(x, y, depth);
    if (!q && depth > 3)
      break; // nothing more to cut than before
    if (q && opt.thorough && refutedBySampling(x, y, q->free)) {
      ++st.sampled;
      continue;
    }
    // Nothing to cut: the terms are small, the whole query is as cheap.
    Clock::time_point t0 = Clock::now();
    z3::check_result r =
        check(q ? q->query : x != y, opt.cutTimeoutMs, nullptr);
    if (getenv("SBPF_SWEEP_TRACE"))
      llvm::errs() << "sweep: cut " << depth << " -> " << int(r) << " in "
                   << std::chrono::duration<double>(Clock::now() - t0).count()
                   << " s\n";
    if (r == z3::unsat)
      return true;
    if (!q)
      break;
  }
  return false;
}

Sweeper::Outcome Sweeper::prove(const z3::expr &x, const z3::expr &y) {
  static bool trace = getenv("SBPF_SWEEP_TRACE");
  Clock::time_point t0 = Clock::now();
  auto since = [&] {
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  if (provenByCut(x, y, /*maxDepth=*/16)) {
    ++st.mergedByCut;
    return Proven;
  }
  std::optional<z3::model> m;
  // Remainders in the cone abstracted to fresh values below their divisors:
  // the range the code may rely on, without the divider circuits. Only a
  // generalisation, so unsat is a proof.
  auto rems = remaindersInCone(x, y);
  if (!rems.empty()) {
    z3::expr_vector from(c), to(c);
    for (auto &[term, divisor] : rems) {
      from.push_back(term);
      to.push_back(z3::expr(
          c, Z3_mk_fresh_const(c, "sweep.rem", Z3_get_sort(c, term))));
    }
    z3::expr q = x != y;
    q = q.substitute(from, to);
    for (unsigned i = 0; i < to.size(); ++i) {
      z3::expr b = rems[i].second;
      b = b.substitute(from, to);
      q = q && (b == c.bv_val(0, b.get_sort().bv_size()) || z3::ult(to[i], b));
    }
    z3::check_result rr = check(q, opt.coneTimeoutMs, nullptr);
    if (trace)
      llvm::errs() << "sweep: remainders abstracted (" << rems.size()
                   << ") -> " << int(rr) << " in " << since() << " s\n";
    if (rr == z3::unsat) {
      ++st.mergedByCut;
      return Proven;
    }
  }
  // A pair that differs only when a quotient is large (its high bits, an
  // outcome decided by a threshold the quotient sets) is hard to refute on
  // the whole cone: the solver has to invert the divider. With the divisor
  // fixed to a small value it is not, and any model is a real
  // counterexample. Only refutations count here.
  z3::check_result r = z3::unknown;
  llvm::DenseSet<unsigned> tried;
  for (auto &[term, divisor] : rems) {
    (void)term;
    if (!opt.thorough)
      break;
    if (r == z3::sat || tried.size() >= 2 ||
        !tried.insert(Z3_get_ast_id(c, divisor)).second)
      continue;
    for (uint64_t v : {1, 3}) {
      z3::expr d = divisor;
      if (check(x != y && d == c.bv_val(v, d.get_sort().bv_size()),
                opt.cutTimeoutMs, &m) == z3::sat) {
        r = z3::sat;
        break;
      }
    }
  }
  if (trace && r == z3::sat)
    llvm::errs() << "sweep: refuted with a small divisor in " << since()
                 << " s\n";
  if (r != z3::sat)
    r = check(x != y, opt.coneTimeoutMs, &m);
  if (trace) {
    llvm::errs() << "sweep: cone -> " << int(r) << " in " << since() << " s";
    if (r != z3::unsat) {
      std::string sx = x.to_string(), sy = y.to_string();
      llvm::errs() << "\n  x = " << sx.substr(0, 600) << "\n  y = "
                   << sy.substr(0, 600);
    }
    llvm::errs() << "\n";
  }
  switch (r) {
  case z3::unsat:
    return Proven;
  case z3::sat:
    ++st.refuted;
    if (st.refinements < opt.maxRefinements) {
      ++st.refinements;
      addVector(std::move(m));
      rebucket();
      if (trace) {
        // The new vector must split the pair, else the evaluator is wrong.
        auto ix = index.find(Z3_get_ast_id(c, x));
        llvm::errs() << "sweep: refinement vector " << sim.size() - 1
                     << (ix == index.end() ? " (x not an original node)" : "")
                     << "\n";
      }
    }
    return Refuted;
  default:
    ++st.unknown;
    return Unknown;
  }
}

/// Whether `cond` is `b == 0` (either side).
static bool isZeroTest(const z3::expr &cond, const z3::expr &b) {
  if (!cond.is_app() || cond.decl().decl_kind() != Z3_OP_EQ ||
      cond.num_args() != 2)
    return false;
  auto isZero = [](const z3::expr &e) {
    uint64_t v;
    return e.is_numeral() && e.is_numeral_u64(v) && v == 0;
  };
  return (z3::eq(cond.arg(0), b) && isZero(cond.arg(1))) ||
         (z3::eq(cond.arg(1), b) && isZero(cond.arg(0)));
}

/// Valid facts the solver would otherwise have to rediscover through a
/// divider circuit: a remainder a - (a / b) * b (the shape both the netfn
/// encoding and the executor give remainders) is below b unless b is 0.
/// Compilers use this range (e.g. a sign test of `rem << 32` becomes one of
/// `rem` when |rem| < 2^31), so some equivalences depend on it. Added only
/// to the cone queries whose cone holds the remainder: dividers in every
/// query would slow all of them down.
std::optional<z3::expr> Sweeper::remainderDivisor(const z3::expr &n) {
  if (!n.is_app() || n.decl().decl_kind() != Z3_OP_BSUB || n.num_args() != 2)
    return std::nullopt;
  z3::expr a = n.arg(0), p = n.arg(1);
  if (!p.is_app() || p.decl().decl_kind() != Z3_OP_BMUL || p.num_args() != 2)
    return std::nullopt;
  for (int side = 0; side < 2; ++side) {
    z3::expr q = p.arg(side), b = p.arg(1 - side);
    // q is udiv(a, b), possibly guarded as ite(b == 0, X, udiv(a, b)):
    // the guard must be b == 0 (the lemma says nothing when b is 0, so X
    // does not matter); under any other guard q may be X with b != 0 and
    // a - X * b need not be below b.
    if (q.is_app() && q.decl().decl_kind() == Z3_OP_ITE) {
      if (!isZeroTest(q.arg(0), b))
        continue;
      q = q.arg(2);
    }
    if (!q.is_app() || (q.decl().decl_kind() != Z3_OP_BUDIV &&
                        q.decl().decl_kind() != Z3_OP_BUDIV_I) ||
        !z3::eq(q.arg(0), a) || !z3::eq(q.arg(1), b))
      continue;
    return b;
  }
  return std::nullopt;
}

void Sweeper::findLemmas() {
  for (const z3::expr &n : nodes)
    if (auto b = remainderDivisor(n))
      lemmas.try_emplace(Z3_get_ast_id(c, n), *b);
}

std::vector<std::pair<z3::expr, z3::expr>>
Sweeper::remaindersInCone(const z3::expr &x, const z3::expr &y) {
  std::vector<std::pair<z3::expr, z3::expr>> found;
  if (lemmas.empty())
    return found;
  constexpr size_t kMaxVisit = 20000;
  llvm::DenseSet<unsigned> seen;
  std::vector<Z3_ast> stack = {x, y};
  while (!stack.empty() && seen.size() < kMaxVisit) {
    Z3_ast n = stack.back();
    stack.pop_back();
    unsigned id = Z3_get_ast_id(c, n);
    if (!seen.insert(id).second)
      continue;
    if (auto it = lemmas.find(id); it != lemmas.end()) {
      found.emplace_back(z3::expr(c, n), it->second);
      continue; // the divider below is what the abstraction removes
    }
    if (Z3_get_ast_kind(c, n) != Z3_APP_AST)
      continue;
    Z3_app app = Z3_to_app(c, n);
    for (unsigned a = 0; a < Z3_get_app_num_args(c, app); ++a)
      stack.push_back(Z3_get_app_arg(c, app, a));
  }
  return found;
}

std::optional<z3::model>
Sweeper::modelUnder(const std::vector<z3::expr> &assumptions,
                    const std::vector<z3::expr> &extra) {
  unsigned left = msLeft();
  if (!left)
    return std::nullopt;
  // A resource limit as for the queries: with a wall-clock one the models
  // drawn, and so the vectors, the merges and the time of the queries
  // after the sweep, varied with the machine's load. A tenth of a cone
  // query's (150,000 units, about what the 150 ms wall-clock limit used
  // before gave on a quiet machine): with the cone query's limit the
  // conditions without a quick model took success_ratio's sweep from 13 to
  // 37 s before its first pass.
  std::vector<z3::expr> all = assumptions;
  all.insert(all.end(), extra.begin(), extra.end());
  z3::solver s = solverFor(all);
  s.set(limits(opt.coneTimeoutMs / 10, left));
  for (const z3::expr &a : all)
    s.add(a);
  ++st.solverCalls;
  if (s.check() != z3::sat)
    return std::nullopt;
  return s.get_model();
}

void Sweeper::guide(const std::vector<z3::expr> &assumptions) {
  // Conditions of if-then-else terms: the executor's path conditions and
  // the element's branches. Random frames fail the parse steps, so the
  // values computed on the element's own path would never be simulated;
  // a model of each rare condition (under the caller's assumptions, so the
  // state is a real one) adds a vector that takes it.
  llvm::DenseSet<unsigned> conditions;
  for (unsigned i = 0; i < nodes.size(); ++i) {
    if (!nodes[i].is_app())
      continue;
    Z3_decl_kind k = nodes[i].decl().decl_kind();
    if (k == Z3_OP_ITE) {
      conditions.insert(kids[i][0]);
    } else if ((k == Z3_OP_AND || k == Z3_OP_OR) && opt.thorough) {
      // The operands of a condition: a random draw below a computed
      // threshold is one conjunct of the outcome's test.
      for (unsigned ch : kids[i])
        conditions.insert(ch);
    }
  }
  unsigned added = 0;
  for (unsigned i = nodes.size(); i-- > 0 && added < opt.guidedVectors;) {
    if (!conditions.count(i) || Clock::now() >= opt.deadline)
      continue;
    size_t trues = 0, known = 0;
    for (const auto &col : sim)
      if (col[i].kind == Val::Bool) {
        ++known;
        trues += col[i].b;
      }
    if (known != sim.size() || (trues > 1 && trues + 1 < known))
      continue;
    z3::expr cond = trues <= 1 ? nodes[i] : !nodes[i];
    std::optional<z3::model> m = modelUnder(assumptions, {cond});
    if (!m)
      continue;
    guidedConditions.push_back(cond);
    addVector(std::move(m));
    ++added;
  }
  st.guided = added;
}

void Sweeper::divide(const std::vector<z3::expr> &assumptions) {
  // A quotient's high bits are 1 only when the divisor is far below the
  // dividend, which random inputs (and the state they give) almost never
  // produce: on every vector those bits, the borrows that decide them and
  // the remainders they shape are 0, so they share one signature with every
  // other always-0 subterm and are paired wrongly (cut proofs fail, and the
  // cone query has to invert the divider to refute the pair). Models in
  // which each divisor takes a small value make them vary.
  // Per divisor: (dividend, divisor) pairs with the divisor of every
  // magnitude (1 up to 64 bits) and a random dividend, tried as given and
  // then with the dividend left to the solver.
  llvm::DenseSet<unsigned> seen;
  unsigned added = 0;
  for (auto &[id, divisor] : lemmas) {
    // findLemmas() ran over the nodes: every key is a node's.
    z3::expr dividend = nodes[index.lookup(id)].arg(0);
    if (!seen.insert(Z3_get_ast_id(c, divisor)).second)
      continue;
    unsigned w = divisor.get_sort().bv_size();
    for (unsigned j = 0; j < opt.dividerVectors; ++j) {
      if (added >= opt.dividerVectors || Clock::now() >= opt.deadline)
        break;
      uint64_t h = mix(opt.seed, mix(id, j));
      uint64_t bv = (mix(h) >> (j % 64)) | 1;
      if (j % 4 == 0)
        bv = j / 4 + 1; // small divisors first
      uint64_t av = mix(h + 1) >> (mix(h + 2) % 64);
      // On the path of one of the rare conditions guide() satisfied (else
      // the frame fails to parse and the quotient reaches no outcome),
      // then without it.
      std::optional<z3::expr> path;
      if (!guidedConditions.empty())
        path = guidedConditions[j % guidedConditions.size()];
      for (int attempt = 0; attempt < 4; ++attempt) {
        bool withPath = attempt < 2, free = attempt % 2;
        if (withPath && !path)
          continue;
        std::vector<z3::expr> extra = {divisor == c.bv_val(bv, w)};
        if (!free)
          extra.push_back(dividend == c.bv_val(av, w));
        if (withPath)
          extra.push_back(*path);
        std::optional<z3::model> m = modelUnder(assumptions, extra);
        if (!m)
          continue;
        addVector(std::move(m));
        ++added;
        break;
      }
    }
  }
  st.dividerVectors = added;
}

void Sweeper::run(std::vector<z3::expr> &goals,
                  const std::vector<z3::expr> &assumptions) {
  Clock::time_point start = Clock::now();
  static bool trace = getenv("SBPF_SWEEP_TRACE");
  auto since = [&] {
    return std::chrono::duration<double>(Clock::now() - start).count();
  };
  if (!msLeft()) {
    st.outOfTime = true;
    return;
  }
  collect(goals);
  st.nodes = nodes.size();
  findLemmas();
  // Simulating a large query costs time too: past the deadline no query is
  // asked, so no more vectors are drawn.
  for (unsigned k = 0; k < opt.vectors && (k < 2 || msLeft()); ++k)
    addVector(std::nullopt);
  guide(assumptions);
  if (trace)
    llvm::errs() << "sweep: simulated and guided at " << since() << " s\n";
  if (opt.thorough)
    divide(assumptions);
  if (trace)
    llvm::errs() << "sweep: divider vectors done at " << since() << " s\n";
  // Two passes in the same order. The first tries cut proofs only: they
  // are cheap and decide the step-by-step equalities (a division step
  // whose remainder and divisor are already shared). The second tries the
  // expensive queries on what is left. In one pass, wrong candidates early
  // in the order (two quotient bits of the same loop that are 0 on every
  // vector) took the cone query's whole timeout each, and the sweep ran
  // out of time before it reached the other side's loop.
  std::vector<int> mergedInto(nodes.size(), -1);
  // Each goal as the last pass rebuilt it, asked with its circuits cut
  // (thorough sweeps); true when every goal is proven.
  std::vector<char> done(goals.size(), 0);
  auto cutGoals = [&] {
    bool all = true;
    for (size_t k = 0; k < goals.size(); ++k) {
      if (done[k])
        continue;
      z3::expr g = rebuilt[index.lookup(Z3_get_ast_id(c, goals[k]))];
      // Thorough sweeps cut large regions, then also every product of two
      // variables; plain sweeps only the products (none, and so no query,
      // in most elements). Then, for a goal still open, every divider too:
      // once the sweep has shared the arithmetic, what differs is often
      // only the path logic above a small division by a constant
      // (token_bucket's time conversion, by 10^9 twice: its state query,
      // 38 million units on the swept goal, is then a few thousand), which
      // the region cut leaves (its regions are below 200 subterms). Each
      // attempt asks nothing when it would cut nothing new.
      if (z3::eq(g, c.bool_val(false)) ||
          (opt.thorough && provenWithCircuitsCut(g, assumptions, true, false)) ||
          provenWithCircuitsCut(g, assumptions, opt.thorough, true) ||
          provenWithCircuitsCut(g, assumptions, opt.thorough, true, true)) {
        st.goalsByCircuitCut += !z3::eq(g, c.bool_val(false));
        done[k] = 1;
        continue;
      }
      all = false;
    }
    return all;
  };
  // What the cut pass shared is often all the goals need (success_ratio:
  // both long divisions merged step by step, the logic above them proven
  // with the quotient cut): then the full pass, whose cone queries on
  // wrong candidates run until the deadline (success_ratio: 30 s of a
  // 60 s budget, 118 s of 240 s), is skipped.
  bool allProven = false;
  if (opt.thorough) {
    pass(/*full=*/false, mergedInto);
    if (trace)
      llvm::errs() << "sweep: cut pass done at " << since() << " s, "
                   << st.merged << " merged\n";
    allProven = cutGoals();
  }
  if (!allProven) {
    pass(/*full=*/true, mergedInto);
    cutGoals();
  }
  for (size_t k = 0; k < goals.size(); ++k)
    goals[k] = done[k] ? c.bool_val(false)
                       : rebuilt[index.lookup(Z3_get_ast_id(c, goals[k]))];
  st.seconds = since();
}

/// Whether `goal` is unsatisfiable (under the assumptions) with each
/// arithmetic circuit it holds replaced by a fresh value. A circuit is the
/// region of the goal's DAG that one subterm dominates (every use of the
/// region goes through it: the quotient of a long division dominates its
/// 64 steps) when the region is large and holds a divider or a product of
/// variables; the lowest such dominators are replaced. Once a sweep has
/// made both sides share the circuit, what differs is usually the light
/// logic above it (admission_control: `-q + 1.0 > draw` against
/// `draw < 1.0 - q`), true for every value of the circuit, which the
/// solver would otherwise bit-blast whole. A generalisation, so unsat is a
/// proof. With `products`, every product of two variables is cut as well,
/// whatever its size (false when the goal has none): a 64-bit multiply is
/// a few terms but thousands of adders once bit-blasted (a -O0 fixed-point
/// product of two state values, shared by the sweep, under the path logic
/// that decides whether the object stores it: token_bucket,
/// success_ratio). With `dividers`, every division and remainder too
/// (false when the goal has none), whatever its divisor: a sign or range
/// fact of a remainder is then lost, and such goals stay open here.
bool Sweeper::provenWithCircuitsCut(const z3::expr &goal,
                                    const std::vector<z3::expr> &assumptions,
                                    bool regions, bool products,
                                    bool dividers) {
  constexpr size_t kMinRegion = 200;
  // The DAG in reverse post-order (parents before children).
  std::vector<Z3_ast> order;
  llvm::DenseMap<unsigned, unsigned> pos;
  std::vector<llvm::SmallVector<unsigned, 3>> children;
  {
    std::vector<std::pair<Z3_ast, bool>> stack = {{goal, false}};
    llvm::DenseSet<unsigned> visited;
    while (!stack.empty()) {
      auto [n, expanded] = stack.back();
      stack.pop_back();
      unsigned id = Z3_get_ast_id(c, n);
      if (expanded) {
        pos[id] = order.size();
        order.push_back(n);
        continue;
      }
      if (!visited.insert(id).second)
        continue;
      stack.push_back({n, true});
      if (Z3_get_ast_kind(c, n) != Z3_APP_AST)
        continue;
      Z3_app app = Z3_to_app(c, n);
      for (unsigned a = 0; a < Z3_get_app_num_args(c, app); ++a)
        stack.push_back({Z3_get_app_arg(c, app, a), false});
    }
    std::reverse(order.begin(), order.end());
    for (auto &[id, p] : pos)
      p = order.size() - 1 - p;
    children.resize(order.size());
    for (unsigned i = 0; i < order.size(); ++i) {
      if (Z3_get_ast_kind(c, order[i]) != Z3_APP_AST)
        continue;
      Z3_app app = Z3_to_app(c, order[i]);
      for (unsigned a = 0; a < Z3_get_app_num_args(c, app); ++a)
        children[i].push_back(pos.lookup(Z3_get_ast_id(
            c, Z3_get_app_arg(c, app, a))));
    }
  }
  size_t n = order.size();
  // Immediate dominators (Cooper, Harvey, Kennedy; one pass suffices on a
  // DAG in reverse post-order).
  constexpr unsigned kUndef = ~0u;
  std::vector<unsigned> idom(n, kUndef);
  idom[0] = 0;
  auto intersect = [&](unsigned a, unsigned b) {
    while (a != b) {
      while (a > b)
        a = idom[a];
      while (b > a)
        b = idom[b];
    }
    return a;
  };
  for (unsigned i = 0; i < n; ++i)
    for (unsigned ch : children[i])
      idom[ch] = idom[ch] == kUndef ? i : intersect(idom[ch], i);
  // Region sizes and whether a region holds a circuit, bottom-up.
  std::vector<size_t> size(n, 1);
  std::vector<char> circuit(n, 0), circuitBelow(n, 0), product(n, 0),
      divider(n, 0);
  for (unsigned i = 0; i < n; ++i) {
    z3::expr e(c, order[i]);
    if (!e.is_app())
      continue;
    Z3_decl_kind k = e.decl().decl_kind();
    if (k == Z3_OP_BUDIV || k == Z3_OP_BUDIV_I || k == Z3_OP_BUREM ||
        k == Z3_OP_BUREM_I)
      circuit[i] = divider[i] = 1;
    else if (k == Z3_OP_BMUL && e.num_args() == 2 && !e.arg(0).is_numeral() &&
             !e.arg(1).is_numeral())
      circuit[i] = product[i] = 1;
  }
  for (unsigned i = n; i-- > 1;) {
    size[idom[i]] += size[i];
    circuit[idom[i]] |= circuit[i];
  }
  // A dominator of a large circuit region none of whose dominated subterms
  // is one too.
  for (unsigned i = 1; i < n; ++i)
    if (size[i] >= kMinRegion && circuit[i])
      circuitBelow[idom[i]] = 1;
  z3::expr_vector from(c), to(c);
  for (unsigned i = 1; i < n; ++i) {
    bool region = regions && size[i] >= kMinRegion && circuit[i] &&
                  !circuitBelow[i];
    if (!(region || (products && product[i]) || (dividers && divider[i])) ||
        Z3_get_sort_kind(c, Z3_get_sort(c, order[i])) != Z3_BV_SORT)
      continue;
    from.push_back(z3::expr(c, order[i]));
    to.push_back(z3::expr(
        c, Z3_mk_fresh_const(c, "sweep.circuit", Z3_get_sort(c, order[i]))));
  }
  // Nothing to cut, or (with dividers) nothing the attempt without them
  // did not: no query.
  if (from.empty() ||
      (products && !dividers &&
       llvm::find(product, char(1)) == product.end()) ||
      (dividers && llvm::find(divider, char(1)) == divider.end()))
    return false;
  z3::expr q = goal;
  q = q.substitute(from, to);
  for (const z3::expr &a : assumptions)
    q = q && a;
  z3::check_result r = check(q, 4 * opt.coneTimeoutMs, nullptr);
  if (getenv("SBPF_SWEEP_TRACE"))
    llvm::errs() << "sweep: goal with " << from.size()
                 << " circuits cut -> " << int(r) << "\n";
  return r == z3::unsat;
}

/// The operands of a commutative operator in Normalize's order
/// (operandBefore). The normalizer ordered the original terms; a node
/// rebuilt over merged children can differ from its partner only in that
/// order (a long-division step's `(r << 1) | bit` against `bit | (r << 1)`
/// once both sides' remainders are one term), and reordered it is the
/// same term, merged without a query: success_ratio 4.2 -> 3.6 s,
/// admission_control 4.4 -> 3.9 s of CPU (three runs each). Only in
/// thorough sweeps: in the plain ones the reordered cones changed Z3's
/// search (latency_log: one proven pair left unknown, 0.8 -> 1.2 s;
/// token_bucket 2.2 -> 2.9 s).
void Sweeper::commute(const z3::expr &n, std::vector<Z3_ast> &args) {
  if (commutative(n.decl().decl_kind()))
    std::stable_sort(args.begin(), args.end(), [&](Z3_ast a, Z3_ast b) {
      return operandBefore(c, a, b);
    });
}

llvm::DenseSet<unsigned> Sweeper::near(const z3::expr &n) {
  constexpr unsigned kDepth = 6;
  constexpr size_t kMax = 400;
  llvm::DenseSet<unsigned> seen;
  std::vector<Z3_ast> level = {n};
  for (unsigned d = 0; d <= kDepth && !level.empty() && seen.size() < kMax;
       ++d) {
    std::vector<Z3_ast> next;
    for (Z3_ast a : level) {
      if (!seen.insert(Z3_get_ast_id(c, a)).second ||
          Z3_get_ast_kind(c, a) != Z3_APP_AST)
        continue;
      Z3_app app = Z3_to_app(c, a);
      for (unsigned k = 0; k < Z3_get_app_num_args(c, app); ++k)
        next.push_back(Z3_get_app_arg(c, app, k));
    }
    level = std::move(next);
  }
  return seen;
}

void Sweeper::pass(bool full, std::vector<int> &mergedInto) {
  constexpr unsigned kMaxCutPartners = 3;
  constexpr int kConstant = -2, kNone = -1;
  static bool trace = getenv("SBPF_SWEEP_TRACE");
  // Pass 1 records what it proved: node i equals node mergedInto[i] (or
  // its simulated constant); both equalities hold of the original nodes,
  // so pass 2 takes them over without a proof.
  if (!full)
    mergedInto.assign(nodes.size(), kNone);
  rebuilt.clear();
  reps.clear();
  buckets.clear();
  rebuilt.reserve(nodes.size());
  for (unsigned i = 0; i < nodes.size(); ++i) {
    z3::expr n = nodes[i];
    if (!kids[i].empty()) {
      bool changed = false;
      std::vector<Z3_ast> args;
      for (unsigned ch : kids[i]) {
        args.push_back(rebuilt[ch]);
        changed |= Z3_get_ast_id(c, rebuilt[ch]) !=
                   Z3_get_ast_id(c, nodes[ch]);
      }
      if (changed) {
        if (opt.thorough)
          commute(n, args);
        n = z3::expr(c, Z3_update_term(c, n, args.size(), args.data()));
      }
    }
    rebuilt.push_back(n);
    if (!z3::eq(n, nodes[i]) && lemmas.count(Z3_get_ast_id(c, nodes[i])))
      if (auto b = remainderDivisor(n))
        lemmas.try_emplace(Z3_get_ast_id(c, n), *b);
    if (!candidate(i))
      continue;
    if (full && mergedInto[i] != kNone) {
      if (mergedInto[i] != kConstant) {
        rebuilt[i] = rebuilt[mergedInto[i]];
        continue;
      }
      if (auto v = toExpr(sim[0][i], Z3_get_sort(c, n))) {
        rebuilt[i] = *v;
        continue;
      }
    }
    if (Clock::now() >= opt.deadline) {
      st.outOfTime = true;
      continue;
    }
    // A constant on every vector: try the constant first.
    bool constant = true;
    for (size_t k = 1; k < sim.size() && constant; ++k)
      constant = sameVal(sim[k][i], sim[0][i]);
    // Booleans true (or false) on almost every vector are mostly rare
    // events (a parse step that random frames fail): their signatures say
    // little, and pairing them costs a refuted query each.
    // Those constant on every vector are still tried against the constant,
    // on a short limit: a divisor's zero test that is never true (the
    // divisor was replaced by 1 when 0) guards one side's quotient and not
    // the other's. The first pass tries the cut proof only, the second the
    // whole cone: most such Booleans are rare events, not constants, and
    // their cone queries end unknown after setting up the whole cone
    // (success_ratio: 16 of 19 unknown, 2.2 s of its 5-6 s check; the
    // first pass proves its goals without the 3 they proved).
    if (sim[0][i].kind == Val::Bool) {
      size_t trues = 0;
      for (const auto &col : sim)
        trues += col[i].b;
      if (constant && (trues == 0 || trues == sim.size()) &&
          opt.thorough) {
        z3::expr v = c.bool_val(trues != 0);
        bool proven = full ? check(rebuilt[i] != v, opt.cutTimeoutMs,
                                   nullptr) == z3::unsat
                           : provenByCut(rebuilt[i], v);
        if (proven) {
          ++st.candidates;
          ++st.merged;
          ++st.mergedByCut;
          rebuilt[i] = v;
          if (!full)
            mergedInto[i] = kConstant;
        }
        continue;
      }
      if (trues < 3 || trues + 3 > sim.size())
        continue;
    }
    if (constant && sim[0][i].kind != Val::Tup) {
      if (auto v = toExpr(sim[0][i], Z3_get_sort(c, n))) {
        if (!z3::eq(*v, rebuilt[i])) {
          // Pass 1 counts only what it merges (a failed cut proof is
          // tried again in pass 2); prove() counts its own outcomes.
          bool proven = full ? prove(rebuilt[i], *v) == Proven
                             : provenByCut(rebuilt[i], *v);
          if (full || proven)
            ++st.candidates;
          if (!full && proven) {
            ++st.mergedByCut;
            mergedInto[i] = kConstant;
          }
          if (proven) {
            ++st.merged;
            rebuilt[i] = *v;
            continue;
          }
        }
      }
    }
    bool placed = false;
    // Subterms that are 0 on every vector (high quotient bits, the borrows
    // deciding them) share a signature however different they are; the
    // first of them is rarely the partner. The cheap cut proof against
    // every earlier subterm of the signature first (pass 1 only), then the
    // full proof (whose cone query can take the whole timeout on a wrong
    // partner) against the first (pass 2 only).
    if (auto it = buckets.find(signature(i));
        it != buckets.end() && !full) {
      // Partners in the order of how many subterms (six levels down) they
      // share with this one: the real partner of a division step shares
      // the remainders and the divisor, another step only the divisor.
      llvm::SmallVector<std::pair<size_t, unsigned>, 8> partners;
      llvm::DenseSet<unsigned> mine = near(rebuilt[i]);
      for (unsigned r : it->second) {
        if (!sameSignature(i, r))
          continue;
        if (z3::eq(rebuilt[r], rebuilt[i])) {
          placed = true;
          break;
        }
        size_t shared = 0;
        for (unsigned id : near(rebuilt[r]))
          shared += mine.count(id);
        partners.push_back({shared, r});
      }
      std::stable_sort(partners.begin(), partners.end(),
                       [](auto &a, auto &b) { return a.first > b.first; });
      if (partners.size() > kMaxCutPartners)
        partners.resize(kMaxCutPartners);
      for (auto [shared, r] : partners) {
        // Only the partners sharing the most; the deeper cut for the first.
        if (placed || shared < partners.front().first)
          break;
        if (provenByCut(rebuilt[i], rebuilt[r],
                        r == partners.front().second ? 7 : 3)) {
          ++st.candidates;
          ++st.merged;
          ++st.mergedByCut;
          rebuilt[i] = rebuilt[r];
          if (!full)
            mergedInto[i] = r;
          placed = true;
          break;
        }
      }
    }
    for (int attempt = 0; attempt < 3 && !placed && full; ++attempt) {
      auto it = buckets.find(signature(i));
      unsigned match = ~0u;
      if (it != buckets.end())
        for (unsigned r : it->second)
          if (sameSignature(i, r)) {
            match = r;
            break;
          }
      if (match == ~0u)
        break;
      if (z3::eq(rebuilt[match], rebuilt[i])) {
        placed = true; // already the same term
        break;
      }
      ++st.candidates;
      size_t before = sim.size();
      Outcome o = prove(rebuilt[i], rebuilt[match]);
      if (trace)
        llvm::errs() << "sweep: pair " << i << " " << match << " -> " << int(o)
                     << " sort " << nodes[i].get_sort().to_string() << "\n";
      if (o == Refuted && sim.size() > before &&
          sameVal(sim.back()[i], sim.back()[match]) && trace)
        llvm::errs() << "sweep: EVALUATOR DISAGREES with the model on\n  "
                     << nodes[i].to_string().substr(0, 600) << "\n  "
                     << nodes[match].to_string().substr(0, 600) << "\n";
      if (o == Proven) {
        ++st.merged;
        rebuilt[i] = rebuilt[match];
        placed = true;
      } else if (o == Unknown) {
        break;
      }
    }
    if (!placed) {
      reps.push_back(i);
      buckets[signature(i)].push_back(i);
    }
  }
}

} // namespace

void sbpf::checker::sweep(z3::context &c, std::vector<z3::expr> &goals,
                          const std::vector<z3::expr> &assumptions,
                          const SweepOptions &options, SweepStats &stats) {
  std::vector<z3::expr> original = goals;
  try {
    Sweeper(c, options, stats).run(goals, assumptions);
  } catch (const z3::exception &e) {
    if (getenv("SBPF_SWEEP_TRACE"))
      llvm::errs() << "sweep: z3 error, goals left as they were: " << e.msg()
                   << "\n";
    goals = original;
  }
}

//===----------------------------------------------------------------------===//
// Case splits on divisors (Sweep.h)
//===----------------------------------------------------------------------===//

bool sbpf::checker::isDivision(const z3::expr &e) {
  if (!e.is_app())
    return false;
  switch (e.decl().decl_kind()) {
  case Z3_OP_BUDIV:
  case Z3_OP_BUDIV_I:
  case Z3_OP_BUREM:
  case Z3_OP_BUREM_I:
  case Z3_OP_BSDIV:
  case Z3_OP_BSDIV_I:
  case Z3_OP_BSREM:
  case Z3_OP_BSREM_I:
  case Z3_OP_BSMOD:
  case Z3_OP_BSMOD_I:
    return true;
  default:
    return false;
  }
}

/// The distinct variable divisors of the queries (at most `limit`; none
/// when there are more), and how many divisions are by one of them.
static std::vector<z3::expr>
variableDivisors(const std::vector<z3::expr> &goals, size_t limit,
                 size_t &divisions) {
  std::vector<z3::expr> stack, divisors;
  std::unordered_set<unsigned> seen, seenDivisor;
  divisions = 0;
  stack = goals;
  while (!stack.empty()) {
    z3::expr e = stack.back();
    stack.pop_back();
    if (!e.is_app() || !seen.insert(e.id()).second)
      continue;
    if (isDivision(e) && e.num_args() == 2 && !e.arg(1).is_numeral()) {
      ++divisions;
      if (seenDivisor.insert(e.arg(1).id()).second) {
        if (divisors.size() == limit)
          return {};
        divisors.push_back(e.arg(1));
      }
    }
    for (unsigned i = 0; i < e.num_args(); ++i)
      stack.push_back(e.arg(i));
  }
  return divisors;
}

std::optional<std::vector<DivisorCase>>
sbpf::checker::divisorCases(z3::context &c,
                            const std::vector<z3::expr> &goals,
                            const std::vector<z3::expr> &assumptions,
                            std::chrono::steady_clock::time_point deadline,
                            size_t &solverCalls, size_t minDivisions) try {
  constexpr size_t kMaxCases = 128, kMaxDivisors = 8;
  size_t divisions = 0;
  std::vector<z3::expr> divisors =
      variableDivisors(goals, kMaxDivisors, divisions);
  if (divisors.empty() || divisions < minDivisions)
    return std::nullopt;
  // The values: models of the assumptions, each excluded in turn.
  std::vector<std::vector<z3::expr>> values;
  z3::solver s(c);
  for (const z3::expr &a : assumptions)
    s.add(a);
  while (true) {
    unsigned left = msUntil(deadline);
    if (!left || values.size() > kMaxCases)
      return std::nullopt;
    z3::params p(c);
    p.set("timeout", left);
    s.set(p);
    ++solverCalls;
    z3::check_result r = s.check();
    if (r == z3::unsat)
      break;
    if (r != z3::sat)
      return std::nullopt;
    z3::model m = s.get_model();
    std::vector<z3::expr> v;
    z3::expr other = c.bool_val(false);
    for (const z3::expr &d : divisors) {
      v.push_back(m.eval(d, /*model_completion=*/true));
      other = other || d != v.back();
    }
    values.push_back(std::move(v));
    s.add(other);
  }
  z3::expr_vector from(c);
  for (const z3::expr &d : divisors)
    from.push_back(d);
  std::vector<DivisorCase> cases;
  for (const std::vector<z3::expr> &v : values) {
    z3::expr_vector to(c);
    DivisorCase k{{}, {}, c.bool_val(true)};
    for (size_t j = 0; j < divisors.size(); ++j) {
      to.push_back(v[j]);
      k.equal = k.equal && divisors[j] == v[j];
    }
    k.assumptions.push_back(k.equal);
    for (const z3::expr &a : assumptions)
      k.assumptions.push_back(z3::expr(a).substitute(from, to).simplify());
    for (const z3::expr &g : goals)
      k.goals.push_back(z3::expr(g).substitute(from, to).simplify());
    cases.push_back(std::move(k));
  }
  if (getenv("SBPF_CHECK_TRACE"))
    llvm::errs() << "check: " << divisors.size()
                 << " variable divisors take " << cases.size()
                 << " values: a case each\n";
  return cases;
} catch (const z3::exception &) {
  return std::nullopt;
}

unsigned sbpf::checker::msUntil(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  deadline - Clock::now())
                  .count();
  return unsigned(std::clamp<int64_t>(left, 0, UINT32_MAX));
}
