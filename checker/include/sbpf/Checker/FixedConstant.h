//===- FixedConstant.h - fixed-point products by a constant -----*- C++ -*-===//
//
// The split of a fixed-point constant that makes a product by it cheap and
// exact. netfn-simplify rewrites such a product into integer ops, and the
// checker's encoding of netfn.mul (arith::fixedMul) builds the same terms
// from the same split, so that the proof of the rewrite, and the check of
// the code compiled from it, compare identical terms. One definition of
// when the split applies, used by both (no Z3 here: the passes include it
// without exceptions).
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_CHECKER_FIXEDCONSTANT_H
#define SBPF_CHECKER_FIXEDCONSTANT_H

#include "llvm/ADT/APInt.h"

#include <algorithm>
#include <optional>

namespace sbpf::checker {

/// A fixed<W, F> constant c (raw value `raw`, c = raw / 2^F) written as
/// c = n + m / 2^t with n = floor(c), 0 <= m < 2^t, m odd (or m = 0 and
/// t = 0: a whole number). Then for every raw x (x = q * 2^t + r with
/// q = x >>a t, 0 <= r < 2^t)
///
///   floor(x * c) = x * n + q * m + ((r * m) >> t)
///
/// exactly (x * n + q * m is whole, and r * m / 2^t is the rest), and each
/// step is exact in W bits when r * m < 2^(W-1), i.e. 2t < W: the product's
/// definition ((x * raw) >> F in 2W bits, truncated to W bits) is the sum
/// mod 2^W. unittests/checker/ArithmeticTest.cpp proves it with Z3.
struct FixedConstantSplit {
  llvm::APInt whole;  ///< n, W bits, two's complement
  llvm::APInt odd;    ///< m, W bits (0 when t = 0)
  unsigned shift = 0; ///< t
};

/// The split of the raw W-bit constant `raw` of a fixed<W, F>, when it is
/// exact (2t < W), at any W.
inline std::optional<FixedConstantSplit>
splitFixedConstant(const llvm::APInt &raw, unsigned frac) {
  unsigned w = raw.getBitWidth();
  unsigned zeros = std::min<unsigned>(raw.countTrailingZeros(), frac);
  unsigned t = frac - zeros;
  if (2 * t >= w)
    return std::nullopt;
  FixedConstantSplit s;
  s.whole = raw.ashr(frac);
  s.shift = t;
  // The fraction bits, shifted down to their lowest set bit.
  llvm::APInt fracBits =
      frac ? raw & llvm::APInt::getLowBitsSet(w, frac) : llvm::APInt(w, 0);
  s.odd = fracBits.lshr(zeros);
  return s;
}

/// The split, when the short form is the better code: always for whole
/// numbers (t = 0: one multiply); with a fraction (0 < t < W / 2) at W = 64
/// only, where the backends' product otherwise takes four partial products
/// of 32-bit halves and a sign correction; below 64 bits it is one 64-bit
/// multiply and a shift, cheaper than the split's three.
inline std::optional<FixedConstantSplit>
cheapFixedConstantSplit(const llvm::APInt &raw, unsigned frac) {
  auto s = splitFixedConstant(raw, frac);
  if (s && s->shift != 0 && raw.getBitWidth() != 64)
    return std::nullopt;
  return s;
}

} // namespace sbpf::checker

#endif // SBPF_CHECKER_FIXEDCONSTANT_H
