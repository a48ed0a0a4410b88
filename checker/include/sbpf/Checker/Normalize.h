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
// children are in normal form, by a fixed list of identities (unit laws,
// double negation, comparison direction, commutative operands ordered,
// constant folding, a canonical bit-slice form of extracts, concats,
// shifts and masks, addresses as base + offset, read over write at known
// indices, a few distributions over concatenations and choices, ...;
// Normalize.cpp lists them). Every rule is an identity for all values of
// its variables, so a normalized query is equivalent to the original (its
// models are the original's models and counterexamples read from them are
// exact). The local rules add a few nodes over existing children; the
// distributing ones a node per part or branch (a bitwise operator over two
// 64-part concatenations, an extract of a 65-leaf length chain), never
// across the whole term, unlike Z3's simplify, which bit-blasts shifts by
// constants into concatenations and pushes operators through them
// (success_ratio's goal, 3,068 subterms, became 36,000).
//
// NormalizeTest proves each rule with Z3 on fresh variables.
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_CHECKER_NORMALIZE_H
#define SBPF_CHECKER_NORMALIZE_H

#include <z3++.h>

#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sbpf::checker {

/// Whether the operator's operands may be put in any order (Normalizer
/// orders them by operandBefore: and, or, =, bvand, bvor, bvxor, bvadd,
/// bvmul).
bool commutative(Z3_decl_kind k);
/// The normal order of a commutative operator's operands: numerals first,
/// then by ast id.
bool operandBefore(Z3_context c, Z3_ast a, Z3_ast b);

/// Rewrites terms to their normal form; one Normalizer keeps its memo, so
/// the goals of a query normalized by the same instance share their
/// rewritten subterms. An instance serves the terms of one Z3 context.
class Normalizer {
public:
  z3::expr operator()(const z3::expr &e);
  /// Nodes a rule rewrote (for traces and tests).
  size_t rewrites() const { return rewritten; }

private:
  /// The normal form of `e`, whose children are normal (memoized).
  z3::expr top(const z3::expr &e, unsigned depth = 0);
  /// The rules at e's root.
  z3::expr rewrite(const z3::expr &e, unsigned depth);
  /// The leaves of `e` as a constant tree (a bit-vector numeral, or an
  /// ite of constant trees, at most 128 leaves), their least and largest
  /// values in `min` and `max`; 0 when it is none.
  unsigned treeLeaves(const z3::expr &e, uint64_t *min = nullptr,
                      uint64_t *max = nullptr);
  /// Normal form by ast id; the keys' terms are kept alive in `held` so
  /// that their ids are not reused.
  std::unordered_map<unsigned, z3::expr> memo;
  std::vector<z3::expr> held;
  struct Tree {
    unsigned leaves = 0;
    uint64_t min = 0, max = 0;
  };
  /// treeLeaves by ast id.
  std::unordered_map<unsigned, Tree> trees;
  size_t rewritten = 0;
};

} // namespace sbpf::checker

#endif
