//===- LLMPasses.cpp - LLM generation and optimisation, checked -----------===//
//
// The loop of LLMPasses.h: prompt -> answer -> gate (clang, ABI record,
// kernel verifier, checker) -> accept, or feed the failure into the next
// round. Decisions worth knowing:
// - Transport failures that will not go away by asking again (refused
//   connection, timeout, an HTTP error after the client's retries, a cache
//   miss) end the LLM passes at once: the rule-based C is used. A malformed
//   or empty completion only costs its round.
// - Only the last failure is fed back, so prompts do not grow with rounds.
// - The optimiser starts from the smaller proven program (generated or
//   rule-based), so its output is never larger than the rule-based C.
//
//===----------------------------------------------------------------------===//
#include "sbpf/LLMPasses/LLMPasses.h"
#include "sbpf/Runtime/CompileC.h"
#include "sbpf/Runtime/InitialState.h"
#include "sbpf/Runtime/Loader.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

using namespace sbpf;
using namespace sbpf::llm;

std::optional<LLMMode> sbpf::llm::parseLLMMode(llvm::StringRef text) {
  return llvm::StringSwitch<std::optional<LLMMode>>(text)
      .Case("off", LLMMode::Off)
      .Case("generate", LLMMode::Generate)
      .Case("optimize", LLMMode::Optimize)
      .Case("both", LLMMode::Both)
      .Default(std::nullopt);
}

llvm::StringRef sbpf::llm::llmModeName(LLMMode mode) {
  switch (mode) {
  case LLMMode::Off:
    return "off";
  case LLMMode::Generate:
    return "generate";
  case LLMMode::Optimize:
    return "optimize";
  case LLMMode::Both:
    return "both";
  }
  return "off";
}

// Why each rule: LLMPasses.h.
std::string sbpf::llm::screenCandidate(llvm::StringRef code) {
  // Line continuations could split a directive; join them first.
  std::string joined;
  for (size_t i = 0; i < code.size(); ++i) {
    if (code[i] == '\\' && i + 1 < code.size() &&
        (code[i + 1] == '\n' || code[i + 1] == '\r')) {
      i += (code[i + 1] == '\r' && i + 2 < code.size() && code[i + 2] == '\n')
               ? 2
               : 1;
      continue;
    }
    joined += code[i];
  }
  for (llvm::StringRef word : {"__has_include", "incbin"})
    if (llvm::StringRef(joined).contains(word))
      return "'" + word.str() + "' is not allowed in a candidate";
  llvm::SmallVector<llvm::StringRef> lines;
  llvm::StringRef(joined).split(lines, '\n');
  for (llvm::StringRef line : lines) {
    // A directive: `#` or its digraph `%:`. Whatever stands between it and
    // the directive's name (spaces, a comment), a directive mentioning
    // embed, import or include must be exactly `include <header.h>`.
    llvm::StringRef t = line.trim();
    if (!t.consume_front("#") && !t.consume_front("%:"))
      continue;
    t = t.ltrim();
    if (t.contains("embed") || t.contains("import"))
      return "#embed and #import are not allowed in a candidate, not: " +
             line.trim().str();
    if (!t.contains("include"))
      continue;
    bool named = t.consume_front("include");
    t = t.trim();
    bool ok = named && t.consume_front("<") && t.consume_back(">") && t.ends_with(".h") &&
              !t.contains("..") && !t.starts_with("/") &&
              llvm::all_of(t, [](char c) {
                return llvm::isAlnum(c) || c == '_' || c == '-' || c == '/' ||
                       c == '.';
              });
    if (!ok)
      return "only #include <header.h> of the system's headers is allowed "
             "in a candidate, not: " +
             line.trim().str();
  }
  return "";
}

namespace {

/// At most `maxLines` lines and `maxBytes` bytes from the start of `text`
/// (compiler diagnostics: the first error matters most).
std::string headOf(llvm::StringRef text, unsigned maxLines, size_t maxBytes) {
  llvm::SmallVector<llvm::StringRef> lines;
  text.rtrim().split(lines, '\n');
  std::string out;
  unsigned n = 0;
  for (llvm::StringRef line : lines) {
    if (n == maxLines || out.size() + line.size() + 1 > maxBytes) {
      out += "[... " + std::to_string(lines.size() - n) + " more lines]\n";
      break;
    }
    out += line.str() + "\n";
    ++n;
  }
  return out;
}

/// The end of `text` (a verifier log: the reason is at its end).
std::string tailOf(llvm::StringRef text, unsigned maxLines, size_t maxBytes) {
  llvm::SmallVector<llvm::StringRef> lines;
  text.rtrim().split(lines, '\n');
  size_t first = lines.size(), bytes = 0;
  while (first > 0 && lines.size() - first < maxLines &&
         bytes + lines[first - 1].size() + 1 <= maxBytes)
    bytes += lines[--first].size() + 1;
  std::string out;
  if (first > 0)
    out += "[... " + std::to_string(first) + " earlier lines]\n";
  for (size_t i = first; i < lines.size(); ++i)
    out += lines[i].str() + "\n";
  return out;
}

/// Prints "still waiting" lines while the model thinks.
class Heartbeat {
public:
  Heartbeat(const std::function<void(const std::string &)> &progress,
            unsigned seconds, std::string what)
      : progress_(progress) {
    if (!progress || seconds == 0)
      return;
    thread_ = std::thread([this, seconds, what] {
      std::unique_lock<std::mutex> lock(mutex_);
      unsigned waited = 0;
      while (!cv_.wait_for(lock, std::chrono::seconds(seconds),
                           [this] { return done_; })) {
        waited += seconds;
        progress_(what + ": still waiting for the model (" +
                  std::to_string(waited) + " s)");
      }
    });
  }
  ~Heartbeat() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable())
      thread_.join();
  }

private:
  const std::function<void(const std::string &)> &progress_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

/// How a candidate fared at the gate.
struct Evaluation {
  std::string failure; ///< "" when proven
  std::string detail;
  std::optional<size_t> insns;
  std::string c; ///< what was compiled (the ABI record appended if missing)
  std::string object; ///< clang's object of `c`, when it compiled
};

bool endsThePasses(ErrorKind kind) {
  switch (kind) {
  case ErrorKind::MalformedJson:
  case ErrorKind::NoContent:
  case ErrorKind::NoCode:
    return false;
  default:
    return true;
  }
}

class Runner {
public:
  Runner(const LLMInput &in, const LLMOptions &opt)
      : in(in), opt(opt), client(opt.client) {
    llvm::raw_string_ostream abiOs(abiJson);
    bpf::writeABIJson(in.abi, abiOs);
    abiOs.flush();
    abiRecord = findABIRecord(in.ruleC);
    llvm::raw_string_ostream netfnOs(netfnText);
    netfn::ProgramOp(in.program)->print(netfnOs);
    netfnOs.flush();
    name = netfn::ProgramOp(in.program).getSymName().str();
  }

  Evaluation evaluate(llvm::StringRef code);
  /// On acceptance, `accepted` is the chosen candidate's C, object and
  /// instruction count (proven in the gate).
  PassRecord runPass(llvm::StringRef pass, llvm::StringRef inputC,
                     std::optional<size_t> inputInsns, Evaluation &accepted);
  bool transportDead = false;

private:
  void progress(const std::string &line) {
    if (opt.progress)
      opt.progress(line);
  }
  llvm::Expected<RenderedPrompt> prompt(llvm::StringRef pass,
                                        llvm::StringRef inputC,
                                        std::optional<size_t> inputInsns,
                                        const std::string &feedback);
  const LLMInput &in;
  const LLMOptions &opt;
  ChatClient client;
  std::string abiJson, abiRecord, netfnText, name;
};

Evaluation Runner::evaluate(llvm::StringRef code) {
  Evaluation e;
  e.c = code.str();
  // The record is the backend's, not the model's to write: append it when
  // missing; when present it must be the same bytes (checked below).
  if (!code.contains(bpf::kABISection) && !abiRecord.empty())
    e.c = llvm::StringRef(e.c).rtrim().str() + "\n\n" + abiRecord;
  if (std::string refused = screenCandidate(e.c); !refused.empty()) {
    e.failure = "compile";
    e.detail = "refused before compiling: " + refused;
    return e;
  }
  runtime::CompiledC compiled = runtime::compileBPFC(e.c, name);
  if (!compiled.ok) {
    e.failure = "compile";
    e.detail = "clang-16 rejected it (" + compiled.error + "):\n" +
               headOf(compiled.diagnostics, 40, 4000);
    return e;
  }
  e.object = std::move(compiled.object);
  llvm::ArrayRef<uint8_t> bytes((const uint8_t *)e.object.data(),
                                e.object.size());
  auto file = runtime::ObjectFile::fromBytes(bytes, name + ".bpf.o");
  if (!file) {
    e.failure = "compile";
    e.detail = llvm::toString(file.takeError());
    return e;
  }
  auto embedded = runtime::readEmbeddedABI(*file);
  if (!embedded) {
    e.failure = "abi";
    e.detail = llvm::toString(embedded.takeError());
    return e;
  }
  if (llvm::StringRef(embedded->json).rtrim(llvm::StringRef("\0\n ", 3)) !=
      llvm::StringRef(abiJson).rtrim(llvm::StringRef("\0\n ", 3))) {
    e.failure = "abi";
    e.detail = "the object's .sbpf.abi section is not the backend's ABI "
               "record; do not define sbpf_abi, the compiler appends it";
    return e;
  }
  runtime::KernelVerdict verdict =
      runtime::kernelVerifyObject(bytes, name + ".bpf.o");
  switch (verdict.kind) {
  case runtime::KernelVerdict::Accepted:
    e.insns = verdict.insns;
    break;
  case runtime::KernelVerdict::Rejected:
    e.failure = "verifier";
    e.detail = "the kernel verifier rejected program '" + verdict.program +
               "'; the end of its log:\n" + tailOf(verdict.log, 30, 3000);
    return e;
  case runtime::KernelVerdict::NotChecked:
    // Never accept what the verifier has not seen.
    e.failure = "verifier";
    e.detail = "not checked by the kernel verifier: " + verdict.message;
    return e;
  case runtime::KernelVerdict::Error:
    e.failure = "verifier";
    e.detail = "loading the object failed: " + verdict.message;
    return e;
  }
  checker::CheckReport report =
      checker::checkObject(in.program, bytes, &in.abi, opt.check);
  switch (report.status) {
  case checker::CheckReport::Proven:
    return e;
  case checker::CheckReport::Different:
    e.failure = "counterexample";
    e.detail = "it is not equivalent to the netfn program; a counterexample:\n" +
               headOf(report.counterexample.text, 80, 6000);
    return e;
  case checker::CheckReport::Unknown:
    e.failure = "unknown";
    e.detail = "the checker could not prove it equivalent to the netfn "
               "program (" + report.reason + ")";
    return e;
  case checker::CheckReport::Error:
    e.failure = "unknown";
    e.detail = "the checker failed on it: " + report.reason;
    return e;
  }
  return e;
}

llvm::Expected<RenderedPrompt>
Runner::prompt(llvm::StringRef pass, llvm::StringRef inputC,
               std::optional<size_t> inputInsns, const std::string &feedback) {
  std::map<std::string, std::string> values = {
      {"DOMAIN", in.domainName},
      {"HOOK", in.backend.hook == bpf::Hook::XDP
                   ? "XDP (SEC(\"xdp\"), struct xdp_md *ctx, XDP_PASS / "
                     "XDP_DROP)"
                   : "tc (SEC(\"tc\"), struct __sk_buff *skb, TC_ACT_OK / "
                     "TC_ACT_SHOT)"},
      {"HELPERS", llvm::StringRef(embeddedPromptFile("helpers.txt")).rtrim().str()},
      {"PROGRAM_NAME", name},
      {"DSL_SOURCE", in.dslSource.empty()
                         ? "(none: the program was given in netfn)"
                         : llvm::StringRef(in.dslSource).rtrim().str()},
      {"NETFN", llvm::StringRef(netfnText).rtrim().str()},
      {"ABI", llvm::StringRef(abiJson).rtrim().str()},
      {"C_PROGRAM", llvm::StringRef(stripABIRecord(inputC)).rtrim().str()},
      {"INSNS", inputInsns ? std::to_string(*inputInsns) : "an unknown number of"},
      {"FEEDBACK", feedback},
  };
  std::string examples;
  for (const FewShotPair &pair : in.examples) {
    auto text = renderTemplate(
        embeddedPromptFile("example.txt"),
        {{"NAME", pair.name},
         {"EXPLANATION", pair.explanation},
         {"DSL_SOURCE", llvm::StringRef(pair.dslSource).rtrim().str()},
         {"C_PROGRAM", llvm::StringRef(pair.cProgram).rtrim().str()}});
    if (!text)
      return text.takeError();
    examples += *text + "\n";
  }
  values["EXAMPLES"] =
      examples.empty() ? "(no examples for this domain)" : examples;
  return renderPrompt(pass == "generate" ? "generate.txt" : "optimize.txt",
                      values);
}

PassRecord Runner::runPass(llvm::StringRef pass, llvm::StringRef inputC,
                           std::optional<size_t> inputInsns,
                           Evaluation &accepted) {
  PassRecord record;
  record.pass = pass.str();
  record.inputInsns = inputInsns;
  std::string feedback;
  std::optional<size_t> chosen; // index of the accepted candidate
  for (unsigned round = 1; round <= opt.rounds && !record.accepted; ++round) {
    std::string nextFeedback;
    for (unsigned cand = 1; cand <= opt.candidates; ++cand) {
      std::string what = "llm " + pass.str() + ": round " +
                         std::to_string(round) + "/" +
                         std::to_string(opt.rounds);
      if (opt.candidates > 1)
        what += ", candidate " + std::to_string(cand) + "/" +
                std::to_string(opt.candidates);
      CandidateRecord c;
      c.pass = pass.str();
      c.round = round;
      c.candidate = cand;
      c.model = opt.client.model;
      auto rendered = prompt(pass, inputC, inputInsns, feedback);
      if (!rendered) {
        // A template without a value is our bug; nothing is sent.
        c.failure = "transport";
        c.detail = llvm::toString(rendered.takeError());
        c.decision = "rejected";
        record.candidates.push_back(c);
        record.reason = c.detail;
        transportDead = true;
        return record;
      }
      c.promptBytes = rendered->bytes();
      ChatRequest request;
      request.messages = {{"system", rendered->system},
                          {"user", rendered->user}};
      // Several candidates per round need different answers.
      request.temperature = opt.candidates > 1 ? 0.8 : 0.2;
      progress(what + ": asking " + opt.client.model + " (prompt " +
               std::to_string(c.promptBytes) + " bytes)");
      Result<CodeAnswer> answer = [&] {
        Heartbeat heartbeat(opt.progress, opt.heartbeatSeconds, what);
        return client.completeCode(request);
      }();
      if (!answer) {
        const Error &err = answer.error();
        c.attempts = err.attempts;
        c.failure = err.kind == ErrorKind::NoCode ? "no-code" : "transport";
        c.detail = std::string(errorKindName(err.kind)) + ": " + err.message;
        c.decision = "rejected";
        progress(what + ": " + c.detail);
        record.candidates.push_back(c);
        if (err.kind == ErrorKind::NoCode) {
          auto text = renderTemplate(
              embeddedPromptFile("feedback-nocode.txt"),
              {{"ROUND", std::to_string(round)},
               {"FAILURE", "no ```c block"},
               {"DETAIL", "Your answer held no fenced ```c block, so there "
                          "was no program to compile."}});
          if (text)
            nextFeedback = "\n" + *text;
        } else if (endsThePasses(err.kind)) {
          record.reason = "the endpoint failed (" + c.detail + ")";
          transportDead = true;
          return record;
        }
        continue;
      }
      c.model = answer->response.model.empty() ? opt.client.model
                                               : answer->response.model;
      c.latencyMs = answer->response.latencyMs;
      c.attempts = answer->response.attempts;
      c.fromCache = answer->response.fromCache;
      progress(what + ": answered" +
               (c.fromCache ? std::string(" from the cache")
                            : " in " + llvm::formatv("{0:f1}", c.latencyMs / 1000)
                                           .str() +
                                  " s") +
               "; compiling, verifying, checking");
      Evaluation e = evaluate(answer->code);
      c.insns = e.insns;
      c.failure = e.failure;
      c.detail = e.detail;
      if (e.failure.empty() && pass == "optimize" && inputInsns &&
          !(*e.insns < *inputInsns)) {
        c.failure = "not-smaller";
        c.detail = "it is proven equivalent, but it has " +
                   std::to_string(*e.insns) + " instructions, not fewer than " +
                   std::to_string(*inputInsns);
      }
      if (c.failure.empty()) {
        // The optimiser asks the round's other candidates too and keeps the
        // smallest; a proven candidate that is not kept says so.
        progress(what + ": proven, " + std::to_string(*e.insns) +
                 " instructions: accepted");
        if (!chosen || *e.insns < *accepted.insns) {
          if (chosen)
            record.candidates[*chosen].decision = "proven, a smaller one kept";
          accepted = std::move(e);
          chosen = record.candidates.size();
          c.decision = "accepted";
        } else {
          c.decision = "proven, a smaller one kept";
        }
        record.accepted = true;
        record.candidates.push_back(std::move(c));
        if (pass == "generate")
          break; // the first proven program is the answer
        continue;
      } else {
        c.decision = "rejected";
        progress(what + ": rejected: " + c.failure +
                 (round < opt.rounds ? " (fed back)" : ""));
        auto text = renderTemplate(
            embeddedPromptFile("feedback.txt"),
            {{"ROUND", std::to_string(round)},
             {"FAILURE", c.failure},
             {"DETAIL", llvm::StringRef(c.detail).rtrim().str()},
             {"PREVIOUS_C",
              llvm::StringRef(stripABIRecord(answer->code)).rtrim().str()}});
        if (text)
          nextFeedback = "\n" + *text;
      }
      record.candidates.push_back(std::move(c));
    }
    feedback = nextFeedback;
  }
  if (!record.accepted) {
    llvm::SmallVector<std::string> kinds;
    for (const CandidateRecord &c : record.candidates)
      kinds.push_back(c.failure);
    record.reason = "no candidate was accepted in " +
                    std::to_string(opt.rounds) + " round(s) (" +
                    llvm::join(kinds, ", ") + ")";
  }
  return record;
}

} // namespace

LLMOutcome sbpf::llm::runLLMPasses(const LLMInput &in,
                                   const LLMOptions &opt) {
  LLMOutcome out;
  out.cProgram = in.ruleC;
  if (opt.mode == LLMMode::Off)
    return out;
  auto fallBack = [&](std::string reason) {
    out.fallbackReason = std::move(reason); // summarizeOutcome says it
    return out;
  };
  if (!opt.client.hasEndpoint())
    return fallBack("no endpoint (set SBPF_LLM_URL or OPENAI_BASE_URL and "
                    "SBPF_LLM_MODEL, or --llm-model with "
                    "--llm-cache-mode=replay)");
  if (auto valid = opt.client.validate(); !valid)
    return fallBack(valid.error().message);
  if (opt.rounds == 0 || opt.candidates == 0)
    return fallBack("--llm-rounds and --llm-candidates must be at least 1");

  // The rule-based program is the fallback and the size to beat.
  std::string name = netfn::ProgramOp(in.program).getSymName().str();
  runtime::CompiledC rule = runtime::compileBPFC(in.ruleC, name);
  if (!rule.ok)
    return fallBack("the rule-based C does not compile (" + rule.error + ")");
  runtime::KernelVerdict ruleVerdict = runtime::kernelVerifyObject(
      llvm::ArrayRef<uint8_t>((const uint8_t *)rule.object.data(),
                              rule.object.size()),
      name + ".bpf.o");
  if (ruleVerdict.kind != runtime::KernelVerdict::Accepted)
    return fallBack("the kernel verifier cannot check candidates (" +
                    (ruleVerdict.message.empty() ? ruleVerdict.program
                                                 : ruleVerdict.message) +
                    ")");
  out.ruleInsns = out.insns = ruleVerdict.insns;
  // The rule-based object is what the driver writes unless a candidate is
  // accepted: compiled and verified here, proven by the driver.
  out.object = rule.object;

  Runner runner(in, opt);
  Evaluation generated;
  bool wantGenerate = opt.mode == LLMMode::Generate || opt.mode == LLMMode::Both;
  bool wantOptimize = opt.mode == LLMMode::Optimize || opt.mode == LLMMode::Both;
  auto choose = [&](const char *source, const Evaluation &e) {
    out.source = source;
    out.cProgram = e.c;
    out.object = e.object;
    out.proven = true; // the gate's checkObject said Proven
    out.insns = e.insns;
  };
  if (wantGenerate) {
    out.passes.push_back(
        runner.runPass("generate", "", std::nullopt, generated));
    if (out.passes.back().accepted)
      choose("llm-generate", generated);
  }
  if (wantOptimize && !runner.transportDead) {
    // Start from the smaller proven program: the result is then never larger
    // than the rule-based C.
    bool fromGenerated = out.source == "llm-generate" &&
                         *generated.insns <= *out.ruleInsns;
    Evaluation optimized;
    out.passes.push_back(runner.runPass(
        "optimize", fromGenerated ? llvm::StringRef(generated.c) : in.ruleC,
        fromGenerated ? *generated.insns : *out.ruleInsns, optimized));
    if (out.passes.back().accepted) {
      choose("llm-optimize", optimized);
    } else if (!fromGenerated && out.source == "llm-generate") {
      out.source = "rule-based"; // the generated program was larger
      out.cProgram = in.ruleC;
      out.object = std::move(rule.object);
      out.proven = false;
      out.insns = out.ruleInsns;
      out.fallbackReason = "the generated program has more instructions (" +
                           std::to_string(*generated.insns) +
                           ") than the rule-based one";
    }
  }
  if (out.source == "rule-based" && out.fallbackReason.empty()) {
    llvm::SmallVector<std::string> reasons;
    for (const PassRecord &pass : out.passes)
      reasons.push_back(pass.pass + ": " + pass.reason);
    out.fallbackReason = llvm::join(reasons, "; ");
  }
  return out;
}
