//===- Report.cpp - The --report file and the stderr summary --------------===//
//
// The report records every candidate of every LLM pass (docs/llm.md, "The
// report"). Keys are in a fixed order; the texts come from the model, the
// compiler and the checker, so they are made valid UTF-8 before they go into
// JSON. The client redacts the API key from everything it returns, so none
// of these texts can hold it.
//
//===----------------------------------------------------------------------===//
#include "sbpf/LLMPasses/LLMPasses.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

using namespace sbpf;
using namespace sbpf::llm;

static std::string utf8(llvm::StringRef text) {
  return llvm::json::isUTF8(text) ? text.str() : llvm::json::fixUTF8(text);
}

static void optionalCount(llvm::json::OStream &j, llvm::StringRef key,
                          std::optional<size_t> value) {
  if (value)
    j.attribute(key, int64_t(*value));
  else
    j.attribute(key, nullptr);
}

void sbpf::llm::writeLLMReport(const LLMOutcome &outcome,
                               const LLMOptions &options,
                               llvm::raw_ostream &os) {
  llvm::json::OStream j(os, 2);
  j.object([&] {
    j.attribute("format", 1);
    j.attribute("llm", llmModeName(options.mode));
    j.attribute("model", utf8(options.client.model));
    j.attribute("endpoint_configured", options.client.hasEndpoint());
    j.attribute("cache_mode", std::string(cacheModeName(options.client.cacheMode)));
    j.attribute("rounds", int64_t(options.rounds));
    j.attribute("candidates_per_round", int64_t(options.candidates));
    j.attributeArray("passes", [&] {
      for (const PassRecord &pass : outcome.passes) {
        j.object([&] {
          j.attribute("pass", pass.pass);
          optionalCount(j, "input_insns", pass.inputInsns);
          j.attribute("accepted", pass.accepted);
          if (!pass.accepted)
            j.attribute("reason", utf8(pass.reason));
          j.attributeArray("candidates", [&] {
            for (const CandidateRecord &c : pass.candidates) {
              j.object([&] {
                j.attribute("round", int64_t(c.round));
                j.attribute("candidate", int64_t(c.candidate));
                j.attribute("prompt_bytes", int64_t(c.promptBytes));
                j.attribute("model", utf8(c.model));
                j.attribute("latency_ms", int64_t(std::llround(c.latencyMs)));
                j.attribute("attempts", int64_t(c.attempts));
                j.attribute("from_cache", c.fromCache);
                j.attribute("failure", c.failure.empty()
                                           ? llvm::json::Value(nullptr)
                                           : llvm::json::Value(c.failure));
                optionalCount(j, "insns", c.insns);
                j.attribute("decision", c.decision);
                j.attribute("detail", utf8(c.detail));
              });
            }
          });
        });
      }
    });
    j.attributeObject("output", [&] {
      j.attribute("source", outcome.source);
      optionalCount(j, "insns", outcome.insns);
      optionalCount(j, "rule_based_insns", outcome.ruleInsns);
      if (!outcome.fallbackReason.empty())
        j.attribute("fallback_reason", utf8(outcome.fallbackReason));
    });
  });
  os << "\n";
}

std::string sbpf::llm::summarizeOutcome(const LLMOutcome &outcome) {
  std::string out;
  for (const PassRecord &pass : outcome.passes) {
    out += "llm " + pass.pass + ": ";
    if (pass.accepted) {
      const CandidateRecord *accepted = nullptr;
      for (const CandidateRecord &c : pass.candidates)
        if (c.decision == "accepted")
          accepted = &c;
      out += "accepted in round " + std::to_string(accepted->round) +
             " (proven, " + std::to_string(*accepted->insns) +
             " instructions";
      if (pass.inputInsns)
        out += ", input " + std::to_string(*pass.inputInsns);
      out += ")\n";
    } else {
      out += pass.reason + "\n";
    }
  }
  auto count = [](std::optional<size_t> n) {
    return n ? std::to_string(*n) + " instructions" : std::string("not measured");
  };
  if (outcome.source == "rule-based") {
    out += "llm: output: the rule-based C (" + count(outcome.ruleInsns) + ")";
    if (!outcome.fallbackReason.empty())
      out += ": " + outcome.fallbackReason;
    out += "\n";
  } else {
    out += "llm: output: from " + outcome.source + " (" +
           count(outcome.insns) + "; rule-based " + count(outcome.ruleInsns) +
           ")\n";
  }
  return out;
}
