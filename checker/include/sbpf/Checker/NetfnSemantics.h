//===- NetfnSemantics.h - the SMT meaning of netfn ops ----------*- C++ -*-===//
//
// The meaning of every netfn op *is* its encoding here (DESIGN.md §7,
// docs/netfn-rationale.md): a handler becomes Z3 terms that relate its inputs
// (event fields, state before, the sequences of random draws and clock
// readings) to its outputs (verdict, new fields, new state, log records).
// The concrete evaluator (ConcreteEval.h) and the solver queries are built on
// this one encoding; there is no second interpreter.
//
// Design: one TypeSwitch over the ops (lib/NetfnSemantics.cpp, `Encoder`),
// not an op interface with external models. Reasons: (1) the encoding of the
// structured ops (if/match/foreach and early-exit verdicts) is a property of
// the symbolic executor's path state, not of a single op, so an interface
// method would need that whole state as an argument anyway; (2) keeping all
// op meanings in one file, next to each other, makes it easy to check them
// against NetfnOps.md word by word; (3) the dialect library never sees Z3.
// An unknown op is an error ("no SMT semantics for ..."), never ignored.
//
// Exceptions: this library is compiled with -fexceptions (Z3's C++ API).
// Every public function here is non-throwing: z3::exception and internal
// errors are caught and returned as llvm::Error / status strings.
//
// Representation (one z3::expr per netfn value):
//   i1                -> Bool
//   si<N>/ui<N>       -> BitVec N (signedness taken from the MLIR type)
//   !netfn.fixed<W,F> -> BitVec W (signed raw value)
//   f64               -> FloatingPoint(11, 53); arithmetic rounds RNE
//   !netfn.instant    -> BitVec 64 (ns, unsigned)
//   !netfn.string<N>  -> tuple "string<N>"(len: BitVec 32, data: BitVec 8N),
//                        byte i is data[8i+7:8i]; canonical form: len <= N
//                        and every byte at index >= len is 0, so content
//                        equality within one capacity is term equality
//   !netfn.pair<A,B>  -> tuple(first, second)
//   !netfn.option<T>  -> tuple(present: Bool, value: T); None has value 0
//   map<K,V,N> state  -> values: Array K V, present: Array K Bool,
//                        count: BitVec 64 (entries, <= N)
//   log<T...> state   -> records: Array (BitVec 64) record-tuple,
//                        size: BitVec 64; appends store at index size
//   verdict           -> BitVec 32: 0 = forward, k > 0 = reject with
//                        reason ReasonTable::name(k)
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_CHECKER_NETFNSEMANTICS_H
#define SBPF_CHECKER_NETFNSEMANTICS_H

#include "sbpf/Checker/FixedConstant.h"
#include "sbpf/Netfn/Netfn.h"

#include "llvm/Support/Error.h"

#include <z3++.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sbpf::checker {

/// Reject reasons <-> verdict codes. Code 0 is forward. Shared by every
/// handler encoded in one SemContext, so two handlers' verdicts compare.
class ReasonTable {
public:
  unsigned code(llvm::StringRef reason);
  /// "" for 0 (forward) and for unknown codes.
  std::string name(unsigned code) const;
  const std::vector<std::string> &reasons() const { return names; }

private:
  std::vector<std::string> names; // names[k-1] has code k
};

/// Owns the Z3 context, the sorts of netfn types and the reason table.
/// Every term made with it must be destroyed before it.
class SemContext {
public:
  SemContext();
  ~SemContext();
  SemContext(const SemContext &) = delete;
  SemContext &operator=(const SemContext &) = delete;

  z3::context &z3() { return *ctx; }
  ReasonTable &reasons() { return reasonTable; }

  /// The sort of a netfn value type (see the table above); for a log, the
  /// sort of one record. Throws on a non-netfn type (internal use).
  z3::sort sortOf(mlir::Type type);
  /// Constructor and projections of a tuple sort made by sortOf.
  z3::func_decl tupleCtor(mlir::Type type);
  z3::func_decl tupleProj(mlir::Type type, unsigned index);
  /// The zero value of a type: 0, false, +0.0, "", instant 0, pair of zeros,
  /// None. For a log type, the record of zeros.
  z3::expr zero(mlir::Type type);
  /// Rewrites a value of `type` into canonical form (strings: len clamped to
  /// the capacity, bytes past len zeroed; options: None's value zeroed).
  z3::expr canonical(mlir::Type type, const z3::expr &value);
  /// Well-formedness of an arbitrary term of `type` (strings: len <= N).
  z3::expr wellFormed(mlir::Type type, const z3::expr &value);
  /// netfn.cmp eq: content equality (strings by length and bytes whatever
  /// the capacities, pairs componentwise, f64 IEEE so NaN != NaN).
  z3::expr valueEq(mlir::Type lhsType, const z3::expr &lhs, mlir::Type rhsType,
                   const z3::expr &rhs);
  /// The string value of type `type` holding `bytes` (truncated to the
  /// capacity).
  z3::expr stringValue(netfn::StringType type, llvm::StringRef bytes);
  /// The string of type `type` that NUL-padded bytes hold (the wire's
  /// `str` encoding: the bytes before the first NUL; bytes past the
  /// capacity dropped): a canonical value, built in the shape compiled
  /// code normalises strings in (see the definition), and known to
  /// canonical() as canonical.
  z3::expr nulPadded(netfn::StringType type,
                     const std::vector<z3::expr> &bytes);
  /// netfn.cast between string types: the first `to` capacity bytes,
  /// len clamped to it.
  z3::expr castString(netfn::StringType from, netfn::StringType to,
                      const z3::expr &value);
  /// Whether `value` is a string built by nulPadded (or widened from one by
  /// castString): canonical, and no NUL among its first len bytes. For such
  /// a value, decoding its NUL-padded bytes gives the value back, and two
  /// of them are equal exactly when their bytes are (the checker reads map
  /// values and compares map keys through this).
  bool isNulFree(const z3::expr &value) const;
  /// Records `value` as its own canonical form: a value canonical by
  /// construction, or one whose canonical form the caller constrains it to
  /// be (binding::decodeCanonical, under isCanonical's assumption).
  z3::expr markCanonical(mlir::Type type, const z3::expr &value);

private:
  struct TupleInfo;
  std::unique_ptr<z3::context> ctx;
  ReasonTable reasonTable;
  std::map<std::string, std::unique_ptr<TupleInfo>> tuples;
  TupleInfo &tuple(mlir::Type type);
  z3::expr canonicalUncached(mlir::Type type, const z3::expr &value);
  /// canonical()'s answers by (type, input term), its outputs mapped to
  /// themselves: canonicalising a canonical value returns the same term, so
  /// two encodings of one input (both handlers of a rewrite proof) compare
  /// structurally. Holds the terms, so their ids stay unique.
  std::map<std::pair<const void *, unsigned>,
           std::pair<z3::expr, z3::expr>>
      canonicalCache;
  /// The values isNulFree answers true for, by term id (holding the terms
  /// keeps the ids unique).
  std::map<unsigned, z3::expr> nulFree;
};

struct MapTerms {
  z3::expr values;  ///< Array K V
  z3::expr present; ///< Array K Bool
  z3::expr count;   ///< BitVec 64
};

struct LogTerms {
  z3::expr records; ///< Array (BitVec 64) Record
  z3::expr size;    ///< BitVec 64
};

/// Program state as terms: one term per scalar, arrays per map, a bounded
/// list (array + length) per log.
struct SymbolicState {
  std::map<std::string, z3::expr> scalars;
  std::map<std::string, MapTerms> maps;
  std::map<std::string, LogTerms> logs;
};

/// A handler's inputs. Anything the encoding needs that is not here yet is
/// created on demand from fresh constants (named `prefix` + name) and added,
/// so encoding two handlers with one SymbolicInputs makes them share inputs.
/// Created field and scalar terms are in canonical form (strings compare by
/// content with SemContext::valueEq, or as terms).
struct SymbolicInputs {
  std::string prefix;
  std::map<std::string, z3::expr> fields;
  SymbolicState state;
  /// draws[i] is the i-th executed netfn.random (ui32); clocks[i] the i-th
  /// netfn.now (bv64). Grown on demand to the most any path can use.
  std::vector<z3::expr> draws;
  std::vector<z3::expr> clocks;
  /// Facts about the inputs: strings' len <= capacity, map counts <= their
  /// capacity, clock readings non-decreasing. Assert them in queries.
  std::vector<z3::expr> assumptions;
};

/// What a handler run means.
struct HandlerSemantics {
  z3::expr verdict; ///< BitVec 32, see ReasonTable
  std::map<std::string, z3::expr> fields;
  SymbolicState state; ///< after the run; logs include appended records
  /// Log sizes before the run: the records appended by this run are
  /// state.logs[n].records[priorLogSize[n] .. state.logs[n].size).
  std::map<std::string, z3::expr> priorLogSize;
  /// Upper bound (over all paths) of records appended per log.
  std::map<std::string, unsigned> maxAppends;
  z3::expr drawsUsed;  ///< BitVec 32: how many draws this run made
  z3::expr clocksUsed; ///< BitVec 32: how many clock readings
};

/// Encodes `handler`. Inputs missing from `inputs` are created there.
llvm::Expected<HandlerSemantics> encodeHandler(SemContext &sc,
                                               netfn::HandlerOp handler,
                                               SymbolicInputs &inputs);

/// Encodes the program's netfn.init from the all-zero/empty state (draws
/// and clocks from `inputs`). A program without init gives the zero state.
/// Init's draws and readings are a sequence of their own (they happen at
/// install time): give it a SymbolicInputs (with its own prefix) separate
/// from the handlers', and put the result in the handlers' inputs' `state`.
llvm::Expected<SymbolicState> encodeInit(SemContext &sc,
                                         netfn::ProgramOp program,
                                         SymbolicInputs &inputs);

/// The zero/empty state of every `netfn.state` of the program.
llvm::Expected<SymbolicState> zeroState(SemContext &sc,
                                        netfn::ProgramOp program);

//===----------------------------------------------------------------------===//
// Solver queries (bounded time, non-throwing)
//===----------------------------------------------------------------------===//

enum class SolverStatus { Sat, Unsat, Unknown };

struct SolverResult {
  SolverStatus status = SolverStatus::Unknown;
  /// Why Unknown (Z3's reason, e.g. "timeout", or an error).
  std::string reason;
  /// When Sat: the model, printed by Z3.
  std::string model;
};

/// Checks the conjunction of `constraints` within `timeoutMs`; when Sat and
/// `modelOut` is non-null, stores the model there.
SolverResult solve(SemContext &sc, const std::vector<z3::expr> &constraints,
                   unsigned timeoutMs, std::optional<z3::model> *modelOut = nullptr);

struct EquivalenceResult {
  enum Status { Equivalent, Different, Unknown } status = Unknown;
  std::string reason;
  /// When Different: the inputs of one run that tells them apart, and what
  /// differs.
  std::string counterexample;
};

/// Are two handlers (possibly of different programs that declare the same
/// event fields and state) the same function of their inputs? Compares the
/// verdict, the final field values, every scalar state, every map (present
/// keys and their values), the records appended to each log and the number
/// of draws and clock readings made.
EquivalenceResult checkEquivalence(netfn::HandlerOp a, netfn::HandlerOp b,
                                   unsigned timeoutMs = 10000);

/// What an equivalence query may assume about the inputs, and what it
/// reports.
struct EquivalenceOptions {
  /// A scalar state variable that no handler of either program writes, and
  /// that is not `configurable` (set at deployment), holds the value that
  /// the first program's init gives it (init runs once, so
  /// it never changes). This is the invariant under which a state the
  /// optimiser made a constant is the same program; both programs must have
  /// the same init for it to be sound, which the caller guarantees.
  bool unwrittenStateIsInitial = false;
  /// When Different, describe the counterexample (evaluating every input in
  /// the model: the costly part of a Different answer). Speculating callers
  /// that only need the status turn it off.
  bool counterexample = true;
  /// Decide by simplification alone: Proven when every difference
  /// simplifies to false (the rewrite only replaced terms by terms that the
  /// simplifier shows equal, e.g. a state read by init's constant), else
  /// Unknown without asking the solver. For handlers whose queries a
  /// bit-blasting solver cannot be expected to answer in an optimiser's
  /// time (wide multiplication and division).
  bool structuralOnly = false;
};

/// checkEquivalence with `options`.
EquivalenceResult checkEquivalence(netfn::HandlerOp a, netfn::HandlerOp b,
                                   const EquivalenceOptions &options,
                                   unsigned timeoutMs = 10000);
/// The same in a context the caller keeps: many queries in one context
/// avoid Z3's context teardown, which costs far more than a small query
/// (about 100 ms with string-typed events). Terms of earlier queries may
/// stay alive in `sc`; reject reason codes are shared.
EquivalenceResult checkEquivalence(SemContext &sc, netfn::HandlerOp a,
                                   netfn::HandlerOp b,
                                   const EquivalenceOptions &options,
                                   unsigned timeoutMs = 10000);

/// netfn.string.xor of `s` (type `st`) with `key` (type `kt`) as the
/// encoding builds it: byte i is s[i] ^ key[i mod len(key)] below len(s),
/// 0 from there, s itself with an empty key — the op's definition applied
/// to the canonical key (len clamped to the capacity; a well-formed key is
/// its own) — but built through the steps the backends take: the key's
/// length clamped and 1 when empty, the index i % len as arith::rem (the
/// executor's `mod`), the key byte selected at that index. So the object's
/// key index is the same term and the sweep (Sweep.h) matches the key
/// bytes it loads. unittests/checker ArithmeticTest `StringXorProof`
/// proves it equal to the definition for every input.
z3::expr stringXor(SemContext &sc, netfn::StringType st, const z3::expr &s,
                   netfn::StringType kt, const z3::expr &key);

/// The arithmetic of netfn.div / netfn.rem / netfn.mul on W-bit operands,
/// as the encoding builds it. Each computes the function the op's
/// description defines (x / 0 = 0, x % 0 = x, signed division truncating
/// toward zero with MIN / -1 = MIN; fixed point: the 2W-bit product shifted
/// right by F, and (a << F) / b in 2W bits, truncated to W bits), but
/// *through the steps eBPF code takes* — a quotient of magnitudes negated,
/// a remainder as a - (a / b) * b, a product from W/2-bit halves, a
/// quotient by W steps of long division — so that the checker's sweep
/// (Sweep.h) finds the compiled code's intermediate values in it instead of
/// comparing two different divider circuits. The definitional forms and
/// these are proven equal at small widths and tested at 64 bits
/// (unittests/checker ArithmeticEncodingTest).
namespace arith {
z3::expr udiv(const z3::expr &a, const z3::expr &b);
z3::expr sdiv(const z3::expr &a, const z3::expr &b);
/// a - (a / b) * b, `div` being udiv or sdiv.
z3::expr rem(const z3::expr &a, const z3::expr &b, bool isSigned);
z3::expr fixedMul(const z3::expr &a, const z3::expr &b, unsigned frac);
z3::expr fixedDiv(const z3::expr &a, const z3::expr &b, unsigned frac);
/// The algorithms fixedMul / fixedDiv use at W = 64, for any even W (so
/// that tests can prove them at small widths): partial products of W/2-bit
/// halves; the remainder of the high word, then W steps of long division.
z3::expr fixedMulHalves(const z3::expr &a, const z3::expr &b, unsigned frac);
/// x times the constant `s` stands for (FixedConstant.h): x * n + (x >>a t)
/// * m + (((x & (2^t - 1)) * m) >>a t), any W; fixedMul's form for the
/// constants cheapFixedConstantSplit accepts.
z3::expr fixedMulBySplit(const z3::expr &x, const FixedConstantSplit &s);
z3::expr fixedDivLong(const z3::expr &a, const z3::expr &b, unsigned frac);
} // namespace arith

} // namespace sbpf::checker

#endif // SBPF_CHECKER_NETFNSEMANTICS_H
