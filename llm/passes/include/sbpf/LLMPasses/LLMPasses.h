//===- LLMPasses.h - LLM generation and optimisation, checked ---*- C++ -*-===//
//
// The LLM passes of the pipeline (issue 6, docs/llm.md). Generation: netfn ->
// candidate eBPF C. Optimisation: eBPF C -> smaller eBPF C. They run after
// the netfn passes and the rule-based backend (emitC), whose C is both the
// fallback and, for the optimiser, the program to beat. They are stages of
// the driver rather than mlir::Pass-es because their result is C text, not IR.
//
// Every candidate goes through the same gate: extract the ```c block ->
// append the ABI record when the model left it out -> compile with clang-16
// -> the object's `.sbpf.abi` must be byte for byte the backend's -> the
// kernel verifier -> checker::checkObject against the netfn program. Only
// Proven passes; Different, Unknown and Error never do. On failure the next
// round's prompt carries the compiler's diagnostics, the verifier log (its
// end) or the counterexample. The optimiser keeps a candidate only if it is
// proven and has fewer instructions than its input. Without an endpoint, on
// a transport failure, or when every round fails, the rule-based C is the
// output and the outcome says why.
//
// The model's C is untrusted text: it is only compiled (a subprocess in a
// private temporary directory, no shell) and loaded into the verifier.
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_LLMPASSES_LLMPASSES_H
#define SBPF_LLMPASSES_LLMPASSES_H

#include "sbpf/BPF/ABI.h"
#include "sbpf/Checker/Check.h"
#include "sbpf/LLM/ChatClient.h"
#include "sbpf/LLMPasses/Prompts.h"
#include "sbpf/Netfn/Netfn.h"

#include "llvm/Support/raw_ostream.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace sbpf::llm {

enum class LLMMode { Off, Generate, Optimize, Both };
std::optional<LLMMode> parseLLMMode(llvm::StringRef text);
llvm::StringRef llmModeName(LLMMode mode);

struct LLMOptions {
  LLMMode mode = LLMMode::Off;
  unsigned rounds = 3;     ///< rounds per pass (each with the last failure)
  unsigned candidates = 1; ///< candidates asked for per round
  ClientConfig client;
  checker::CheckOptions check;
  /// Readable progress lines (e.g. to stderr); none when empty.
  std::function<void(const std::string &)> progress;
  /// While waiting for the model, a "still waiting" line this often (0: none).
  unsigned heartbeatSeconds = 15;
};

/// What the passes work on: the program after the netfn passes and what the
/// rule-based backend made of it.
struct LLMInput {
  netfn::ProgramOp program;
  std::string domainName;  ///< e.g. "appnet"; "netfn" for MLIR input
  std::string dslSource;   ///< the source as written ("" for MLIR input)
  std::vector<FewShotPair> examples;
  bpf::BackendOptions backend;
  bpf::ProgramABI abi;
  std::string ruleC; ///< emitC's output, ABI record included
};

/// One candidate: what was asked, what came back, how it fared.
struct CandidateRecord {
  std::string pass; ///< "generate" or "optimize"
  unsigned round = 0, candidate = 0;
  size_t promptBytes = 0;
  std::string model; ///< as the endpoint reported it (else the configured)
  double latencyMs = 0;
  int attempts = 0;
  bool fromCache = false;
  /// "" when proven; else compile, abi, verifier, counterexample, unknown,
  /// no-code, transport, not-smaller.
  std::string failure;
  std::string detail; ///< what was fed back (trimmed), or the error
  std::optional<size_t> insns; ///< when the verifier accepted it
  /// "accepted", "rejected", or (optimiser, several candidates per round)
  /// "proven, a smaller one kept".
  std::string decision;
};

struct PassRecord {
  std::string pass;
  std::optional<size_t> inputInsns;
  bool accepted = false;
  std::string reason; ///< why nothing was accepted
  std::vector<CandidateRecord> candidates;
};

struct LLMOutcome {
  /// Where the output comes from: "rule-based", "llm-generate" or
  /// "llm-optimize".
  std::string source = "rule-based";
  std::string cProgram;           ///< the chosen C (ABI record included)
  /// The object clang-16 made of `cProgram` in the passes, which the kernel
  /// verifier accepted there; empty when the passes compiled nothing (no
  /// endpoint, --llm=off, ...). The driver writes it instead of compiling
  /// the C again.
  std::string object;
  /// Whether `object` was proven equivalent to the netfn program (the
  /// gate's checker::checkObject, Proven): true for an accepted candidate,
  /// false for the rule-based C, which the passes only compile and verify.
  /// The driver proves the object only when this is false, so an accepted
  /// candidate is proven once.
  bool proven = false;
  std::optional<size_t> insns;    ///< of the chosen C
  std::optional<size_t> ruleInsns; ///< of the rule-based C
  std::string fallbackReason; ///< when the rule-based C is used under --llm
  std::vector<PassRecord> passes;
};

/// Runs the passes `options.mode` asks for. Never fails: whatever goes wrong
/// ends in the rule-based C with a reason.
LLMOutcome runLLMPasses(const LLMInput &input, const LLMOptions &options);

/// Why a candidate is refused before it is compiled, or "". The model's C is
/// untrusted, and what clang says about it goes back to the endpoint: an
/// `#include "/home/me/.ssh/id_rsa"` would have clang quote the file into
/// the next prompt. So includes must be `#include <name.h>` (letters,
/// digits, `_ - . /`, no `..`, not absolute), and nothing may read a file in
/// another way (`__has_include`, `#embed`, `#import`, `#include_next`,
/// `.incbin` in inline assembly). Line continuations, comments and the `%:`
/// digraph do not get around it.
std::string screenCandidate(llvm::StringRef code);

/// The report (docs/llm.md): options, every candidate, the outcome; JSON
/// with keys in a fixed order.
void writeLLMReport(const LLMOutcome &outcome, const LLMOptions &options,
                    llvm::raw_ostream &os);

/// A few lines for stderr: what each pass did and where the output is from.
std::string summarizeOutcome(const LLMOutcome &outcome);

} // namespace sbpf::llm

#endif // SBPF_LLMPASSES_LLMPASSES_H
