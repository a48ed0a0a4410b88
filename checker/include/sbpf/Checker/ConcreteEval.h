//===- ConcreteEval.h - running netfn on concrete values --------*- C++ -*-===//
//
// Evaluation of a handler (or init) on concrete inputs, built on the SMT
// encoding of NetfnSemantics.h: the inputs are fixed to constants, the
// encoding's outputs are simplified to constants and read back. It is not a
// second interpreter, so it cannot disagree with the checker. Tests, the
// kernel differential tests and the test generator use it.
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_CHECKER_CONCRETEEVAL_H
#define SBPF_CHECKER_CONCRETEEVAL_H

#include "sbpf/Netfn/Netfn.h"

#include "llvm/Support/Error.h"

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace sbpf::checker {

/// A concrete netfn value. Its netfn type is known from context (the field,
/// state or record declaration), so integers are stored as raw bits.
struct ConcreteValue {
  enum Kind { Bool, Bits, F64, String, Pair, Option };
  Kind kind = Bits;
  bool b = false;       ///< Bool; Option: present
  uint64_t bits = 0;    ///< Bits: integers, fixed (raw), instants; two's complement
  double f = 0;         ///< F64
  std::string s;        ///< String: the bytes
  std::vector<ConcreteValue> elems; ///< Pair: 2; Option: 1 when present

  static ConcreteValue boolean(bool v);
  static ConcreteValue integer(uint64_t rawBits);
  static ConcreteValue sinteger(int64_t v) { return integer((uint64_t)v); }
  static ConcreteValue f64(double v);
  static ConcreteValue string(std::string bytes);
  static ConcreteValue pair(ConcreteValue a, ConcreteValue b);
  static ConcreteValue none();
  static ConcreteValue some(ConcreteValue v);

  /// The value as a signed number of `width` bits (sign-extended).
  int64_t asSigned(unsigned width) const;
  bool operator==(const ConcreteValue &o) const;
  bool operator!=(const ConcreteValue &o) const { return !(*this == o); }
  std::string str() const;
};

using ConcreteMap = std::vector<std::pair<ConcreteValue, ConcreteValue>>;
using ConcreteRecord = std::vector<ConcreteValue>;
using ConcreteLog = std::vector<ConcreteRecord>;

struct ConcreteState {
  /// Missing scalars are zero, missing maps and logs empty.
  std::map<std::string, ConcreteValue> scalars;
  std::map<std::string, ConcreteMap> maps;
  std::map<std::string, ConcreteLog> logs;
};

struct ConcreteInputs {
  /// Missing fields are zero.
  std::map<std::string, ConcreteValue> fields;
  ConcreteState state;
  /// The sequence of random draws / clock readings the run consumes.
  std::vector<uint32_t> draws;
  std::vector<uint64_t> clocks;
};

struct ConcreteOutputs {
  bool forwarded = false;
  std::string rejectReason; ///< when rejected
  std::map<std::string, ConcreteValue> fields;
  ConcreteState state; ///< after the run; maps sorted by key order of discovery
  /// Records this run appended, per log.
  std::map<std::string, ConcreteLog> appended;
  unsigned drawsUsed = 0, clocksUsed = 0;
};

/// Runs `handler` on `inputs`. Errors: no semantics for an op, a run that
/// needs more draws/clock readings than given, a solver failure.
llvm::Expected<ConcreteOutputs> evaluateHandler(netfn::HandlerOp handler,
                                                const ConcreteInputs &inputs);

/// Runs the program's init from the zero state with the given draws/clocks.
llvm::Expected<ConcreteState> evaluateInit(netfn::ProgramOp program,
                                           const std::vector<uint32_t> &draws = {},
                                           const std::vector<uint64_t> &clocks = {});

} // namespace sbpf::checker

#endif // SBPF_CHECKER_CONCRETEEVAL_H
