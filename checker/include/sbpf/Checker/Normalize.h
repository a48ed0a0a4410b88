//===- Normalize.h - local rewriting of query terms to one shape -*- C++ -*-===//
//
// The two sides of an equivalence query compute the same values in
// different shapes: the executor reads a byte as
// extract(31,0, zero_extend(56, b)) where the netfn encoding has
// zero_extend(24, b); clang writes a bit's complement as x ^ -1 and
// reassociates a mask the encoding applies the other way round; path
// conditions start as (and true ...). Z3 shares only identical terms, so
// each such pair was a candidate the sweep had to find by simulation and
// prove with a solver call (success_ratio: 649 of them, most of its 16 s
// sweep).
//
// Normalizer rebuilds terms bottom-up and rewrites each node, once its
// children are in normal form, by a fixed list of local identities (unit
// laws, double negation, comparison direction, commutative operands
// ordered, extract/extend composition, a sign-mask absolute value as the
// encoding's ite, ...; Normalize.cpp lists them). Every rule is an
// identity for all values of its variables, so a normalized query is
// equivalent to the original (its models are the original's models and
// counterexamples read from them are exact). No rule makes a term larger
// than a few new nodes over existing children, so the result is never
// larger than the input by more than a constant factor (unlike Z3's
// simplify, which bit-blasts shifts by constants into concatenations:
// success_ratio's goal, 3,068 subterms, became 36,000).
//
// NormalizeTest proves each rule with Z3 on fresh variables.
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_CHECKER_NORMALIZE_H
#define SBPF_CHECKER_NORMALIZE_H

#include <z3++.h>

#include <unordered_map>
#include <vector>

namespace sbpf::checker {

/// Rewrites terms to their normal form; one Normalizer keeps its memo, so
/// the goals of a query normalized by the same instance share their
/// rewritten subterms. An instance serves the terms of one Z3 context.
class Normalizer {
public:
  z3::expr operator()(const z3::expr &e);
  /// Nodes a rule rewrote (for traces and tests).
  size_t rewrites() const { return rewritten; }

private:
  z3::expr top(const z3::expr &e, unsigned depth = 0);
  /// Normal form by ast id; the keys' terms are kept alive in `held` so
  /// that their ids are not reused.
  std::unordered_map<unsigned, z3::expr> memo;
  std::vector<z3::expr> held;
  size_t rewritten = 0;
};

} // namespace sbpf::checker

#endif
