//===- Sweep.h - term-level SAT sweeping for equivalence queries -*- C++ -*-===//
//
// The equivalence queries of the checker put two computations of the same
// function side by side: the netfn encoding of a handler and the symbolic
// execution of its bytecode. They agree step by step (the same byte of a
// key, the same partial product, the same remainder of a long division) but
// are built of different operations, so their terms differ and a
// bit-blasting solver must rediscover every internal equivalence at once —
// hopeless for multipliers, dividers and long byte loops, fast when the
// equal intermediate values are known.
//
// sweep() finds them the way hardware equivalence checkers do (SAT sweeping,
// "fraiging"), on Z3 terms:
//   1. simulate: every bit-vector / Boolean subterm is evaluated on a few
//      dozen input assignments (random values biased to 0, 1, -1, the sign
//      bit and small numbers, NUL-heavy bytes), giving it a signature;
//   2. in topological order, a subterm whose signature equals an earlier
//      subterm's (or a constant's) is a candidate; the pair is proven equal
//      by a small query: first with the subterms they share, and those three
//      levels down, cut (replaced by fresh variables, which only
//      generalises: a proof of the cut query is a proof of the original);
//      then with every remainder a - (a / b) * b below them replaced by a
//      fresh value below b (the range compiled code relies on, without the
//      divider); then on the whole cone under a short timeout. A
//      counterexample of the last becomes a new simulation vector that
//      splits the pair;
//   3. each proven subterm is replaced by its representative, so later
//      subterms are built over shared children and their own proofs stay
//      local.
// Every replacement is an equality proven for all values of the inputs, so
// the rewritten goals are equivalent to the originals (not only
// equisatisfiable): a model of a rewritten goal is a model of the original,
// and counterexamples read from it are exact. Simulation only chooses what
// to try; nothing is assumed from it.
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_CHECKER_SWEEP_H
#define SBPF_CHECKER_SWEEP_H

#include <z3++.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

namespace sbpf::checker {

/// Whole milliseconds from now to `deadline` (at most UINT32_MAX, what Z3's
/// timeout parameter takes); 0 once it has passed or is under 1 ms away.
unsigned msUntil(std::chrono::steady_clock::time_point deadline);

struct SweepOptions {
  /// Random simulation vectors before any refinement.
  unsigned vectors = 48;
  /// Vectors drawn as models of rare branch conditions, at most.
  unsigned guidedVectors = 24;
  /// Vectors drawn as models in which a divisor is small, at most.
  unsigned dividerVectors = 28;
  /// Counterexamples added as vectors at most. Each splits the classes of
  /// wrong candidates that agree on every vector so far (scramble: 2,550
  /// candidates refuted one query each and 88 s with 48; 135 refuted and
  /// 46 s with 512, the limit no longer reached).
  unsigned maxRefinements = 512;
  /// Per candidate: the cut query, and the remainder-abstracted and
  /// whole-cone queries. Nominal milliseconds: each query gets a Z3
  /// resource limit in proportion (so that what is merged does not depend
  /// on the machine's load), and ten times as long as a wall-clock
  /// backstop.
  unsigned cutTimeoutMs = 50;
  unsigned coneTimeoutMs = 150;
  /// No query is asked after this point, and every query ends by it (the
  /// goals are still rewritten with what was proven before).
  std::chrono::steady_clock::time_point deadline =
      std::chrono::steady_clock::time_point::max();
  uint64_t seed = 0x5eed;
  /// Vectors with small divisors, operands of conditions guided too, a
  /// first pass of cut proofs only (partners ordered by shared subterms),
  /// cut subterms with their one-level definitions, cut queries refuted by
  /// evaluation first, deeper cuts, a small divisor to refute with, and
  /// each goal asked with its arithmetic circuits cut. Check.cpp uses it
  /// for every sweep of a query dividing by a variable and for the later
  /// sweeps of the others (latency_log: 3.5 s every run with a plain first
  /// sweep, 5-49 s with a thorough one). docs/checker.md, "Sweeping".
  bool thorough = false;
};

/// What one sweep() did. Every candidate pair ends in exactly one of
/// merged, refuted and unknown, so candidates = merged + refuted + unknown.
struct SweepStats {
  size_t nodes = 0;      ///< distinct subterms of the goals
  size_t candidates = 0; ///< pairs tried (a subterm and a constant included)
  size_t merged = 0;     ///< proven equal and replaced
  /// Of `merged`, those proven by the cut or the remainder-abstracted query
  /// (the rest by the whole-cone query).
  size_t mergedByCut = 0;
  size_t guided = 0;     ///< vectors from models of rare conditions
  size_t dividerVectors = 0; ///< vectors from models with a small divisor
  /// The whole-cone query found a counterexample (the pair differs),
  /// whether or not it became a vector.
  size_t refuted = 0;
  /// Of `refuted`, the counterexamples added as simulation vectors: at most
  /// SweepOptions::maxRefinements; past it a refuted pair adds none.
  size_t refinements = 0;
  size_t unknown = 0;    ///< no query decided within its timeout
  size_t solverCalls = 0;
  /// Cut queries found satisfiable by evaluation, without a solver call.
  size_t sampled = 0;
  /// Goals proven with their arithmetic circuits cut (large regions in
  /// thorough sweeps; products of two variables and dividers in every
  /// sweep).
  size_t goalsByCircuitCut = 0;
  double seconds = 0;
  /// The deadline passed before the sweep was done.
  bool outOfTime = false;
};

/// Rewrites each of `goals` into an equivalent term in which subterms proven
/// equal share one representative. `assumptions` only shape the simulation
/// (models of rare branch conditions are drawn under them); merges are
/// proven without them, for every input. Never throws; on any Z3 error the
/// goals are left as they were.
void sweep(z3::context &c, std::vector<z3::expr> &goals,
           const std::vector<z3::expr> &assumptions,
           const SweepOptions &options, SweepStats &stats);

/// Whether `e` divides (a division, remainder or modulus of any kind).
bool isDivision(const z3::expr &e);

/// One case of divisorCases: the goals and assumptions with the divisors
/// replaced by one of their values, and the divisors' equalities with it.
struct DivisorCase {
  std::vector<z3::expr> goals;
  /// The assumptions with the divisors replaced, and `equal`.
  std::vector<z3::expr> assumptions;
  /// Every divisor equals its value in this case.
  z3::expr equal;
};

/// The case split for divisors that take few values. scramble at -O0
/// indexes its key by `i % len(key)`, len read from global data: its
/// object and the element each hold 64 dividers by a variable, whose steps
/// the sweep must match bit by bit (docs/checker.md, "Divisor cases").
/// When the goals divide at least `minDivisions` times by variable
/// divisors (a few distinct terms) that take at most 128 values together
/// under `assumptions`, one case per value, with the divisors replaced by
/// numerals so that the dividers fold away. Sound and complete: the
/// enumeration ends with an unsat query (no other values satisfy the
/// assumptions), and each case keeps the divisors' equalities, so the
/// goals are unsatisfiable exactly when every case's are, and a model of a
/// case is a model of the original goals. Nullopt when the split does not
/// apply (no variable divisor or too few divisions, too many divisors or
/// values, or the enumeration not decided by `deadline`). Never throws
/// (a Z3 error gives nullopt).
std::optional<std::vector<DivisorCase>>
divisorCases(z3::context &c, const std::vector<z3::expr> &goals,
             const std::vector<z3::expr> &assumptions,
             std::chrono::steady_clock::time_point deadline,
             size_t &solverCalls, size_t minDivisions = 16);

} // namespace sbpf::checker

#endif // SBPF_CHECKER_SWEEP_H
