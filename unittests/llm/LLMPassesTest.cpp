//===- LLMPassesTest.cpp - Prompts, screening and report of the LLM passes ===//
//
// The parts of SBPFLLMPasses that need neither a model nor the kernel: the
// templates (every embedded one renders with the names prompts/README.md
// lists, and a missing name is an error, never a hole in a prompt), the ABI
// record's removal and recovery, the screening of untrusted C before clang
// sees it, and the report's JSON. The loop itself is tested end to end by
// lit-tests/llm against a scripted server.
//
//===----------------------------------------------------------------------===//
#include "sbpf/LLMPasses/LLMPasses.h"
#include "sbpf/LLMPasses/Prompts.h"

#include "llvm/Support/JSON.h"
#include "gtest/gtest.h"

using namespace sbpf::llm;

namespace {

std::map<std::string, std::string> allValues() {
  std::map<std::string, std::string> values;
  for (const char *name :
       {"DOMAIN", "HOOK", "HELPERS", "EXAMPLES", "PROGRAM_NAME", "DSL_SOURCE",
        "NETFN", "ABI", "FEEDBACK", "C_PROGRAM", "INSNS", "NAME", "EXPLANATION",
        "ROUND", "FAILURE", "DETAIL", "PREVIOUS_C"})
    values[name] = std::string("<") + name + ">";
  return values;
}

TEST(PromptTemplate, ReplacesNamesAndKeepsOtherBraces) {
  auto text = renderTemplate("a {{X}} b {{x}} c {{ X }} d {{X_Y}}{{",
                             {{"X", "1"}, {"X_Y", "2"}});
  ASSERT_TRUE(bool(text)) << llvm::toString(text.takeError());
  EXPECT_EQ(*text, "a 1 b {{x}} c {{ X }} d 2{{");
}

TEST(PromptTemplate, MissingValueIsAnError) {
  auto text = renderTemplate("a {{X}} {{MISSING}}", {{"X", "1"}});
  ASSERT_FALSE(bool(text));
  EXPECT_EQ(llvm::toString(text.takeError()),
            "prompt template: no value for {{MISSING}}");
}

TEST(PromptTemplate, EveryEmbeddedTemplateRendersWithoutHoles) {
  for (const char *name : {"generate.txt", "optimize.txt"}) {
    auto prompt = renderPrompt(name, allValues());
    ASSERT_TRUE(bool(prompt)) << name << ": "
                              << llvm::toString(prompt.takeError());
    EXPECT_NE(prompt->system.find("```c block"), std::string::npos) << name;
    EXPECT_NE(prompt->user.find("<NETFN>"), std::string::npos) << name;
    EXPECT_NE(prompt->user.find("<ABI>"), std::string::npos) << name;
    EXPECT_NE(prompt->user.find("<FEEDBACK>"), std::string::npos) << name;
    EXPECT_EQ(prompt->system.find("{{"), std::string::npos) << name;
    EXPECT_EQ(prompt->user.find("=== "), std::string::npos) << name;
  }
  for (const char *name :
       {"example.txt", "feedback.txt", "feedback-nocode.txt", "helpers.txt"}) {
    const char *text = embeddedPromptFile(name);
    ASSERT_NE(text, nullptr) << name;
    auto rendered = renderTemplate(text, allValues());
    ASSERT_TRUE(bool(rendered)) << name;
    EXPECT_EQ(rendered->find("{{"), std::string::npos) << name;
  }
  EXPECT_EQ(embeddedPromptFile("nonexistent.txt"), nullptr);
  // The generator shows the program and its examples; the optimiser the C.
  auto generate = renderPrompt("generate.txt", allValues());
  ASSERT_TRUE(bool(generate));
  EXPECT_NE(generate->system.find("<EXAMPLES>"), std::string::npos);
  EXPECT_NE(generate->user.find("<DSL_SOURCE>"), std::string::npos);
  auto optimize = renderPrompt("optimize.txt", allValues());
  ASSERT_TRUE(bool(optimize));
  EXPECT_NE(optimize->user.find("<C_PROGRAM>"), std::string::npos);
  EXPECT_NE(optimize->user.find("<INSNS> BPF instructions"),
            std::string::npos);
}

TEST(PromptTemplate, RenderingNeedsEveryName) {
  auto values = allValues();
  values.erase("ABI");
  auto prompt = renderPrompt("generate.txt", values);
  ASSERT_FALSE(bool(prompt));
  EXPECT_EQ(llvm::toString(prompt.takeError()),
            "prompt template: no value for {{ABI}}");
}

const char *kEmitted =
    "int x;\n\n"
    "/* The ABI record (docs/bpf-abi.md), byte for byte the --abi-out file; "
    "sbpf's loader reads it. */\n"
    "const char sbpf_abi[2] SEC(\".sbpf.abi\") = \"{}\";\n";

TEST(ABIRecord, StrippedAndFound) {
  EXPECT_EQ(stripABIRecord(kEmitted), "int x;\n");
  EXPECT_EQ(findABIRecord(kEmitted),
            "/* The ABI record (docs/bpf-abi.md), byte for byte the --abi-out "
            "file; sbpf's loader reads it. */\n"
            "const char sbpf_abi[2] SEC(\".sbpf.abi\") = \"{}\";\n");
  EXPECT_EQ(stripABIRecord("int y;\n"), "int y;\n");
  EXPECT_EQ(findABIRecord("int y;\n"), "");
  // Without the comment line, only the definition goes.
  EXPECT_EQ(stripABIRecord("int z;\nconst char a[1] SEC(\".sbpf.abi\") = "
                           "\"x\";\nint w;\n"),
            "int z;\nint w;\n");
}

TEST(Screening, AllowsTheBackendsOwnC) {
  EXPECT_EQ(screenCandidate("#include <linux/bpf.h>\n"
                            "#include <bpf/bpf_helpers.h>\n"
                            "  #  include <linux/if_ether.h>\n"
                            "#define SBPF_RPC_PORT 9000\n"
                            "#pragma clang loop unroll(full)\n"
                            "/* an important include of headers */\n"
                            "int f(void) { return 0; }\n"),
            "");
}

TEST(Screening, RefusesWhatCouldReadAFile) {
  for (const char *code : {
           "#include \"/etc/passwd\"\n",
           "#include </etc/passwd>\n",
           "#include <linux/../../../etc/passwd.h>\n",
           "#include <id_rsa>\n",
           "#define F \"/etc/passwd\"\n#include F\n",
           "# /**/ include \"x.h\"\n",
           "#\\\ninclude \"x.h\"\n",
           "#inc\\\nlude \"x.h\"\n",
           "%:include \"x.h\"\n",
           "#include_next <linux/bpf.h>\n",
           "#embed \"/etc/passwd\"\n",
           "#import \"x.h\"\n",
           "asm(\".incbin \\\"/etc/passwd\\\"\");\n",
           "#if __has_include(\"/home/me/.ssh/id_rsa\")\n#endif\n",
       })
    EXPECT_NE(screenCandidate(code), "") << code;
}

TEST(Modes, ParseAndName) {
  for (LLMMode mode :
       {LLMMode::Off, LLMMode::Generate, LLMMode::Optimize, LLMMode::Both})
    EXPECT_EQ(parseLLMMode(llmModeName(mode)), mode);
  EXPECT_EQ(parseLLMMode("optimise"), std::nullopt);
}

TEST(Report, IsJSONWithEveryCandidate) {
  LLMOutcome outcome;
  outcome.source = "llm-optimize";
  outcome.insns = 260;
  outcome.ruleInsns = 592;
  PassRecord pass;
  pass.pass = "optimize";
  pass.inputInsns = 592;
  pass.accepted = true;
  CandidateRecord rejected;
  rejected.pass = "optimize";
  rejected.round = 1;
  rejected.candidate = 1;
  rejected.promptBytes = 1234;
  rejected.model = "m";
  rejected.latencyMs = 12.6;
  rejected.attempts = 1;
  rejected.failure = "compile";
  rejected.detail = "bad byte \xff here"; // not UTF-8: fixed, not asserted
  rejected.decision = "rejected";
  CandidateRecord accepted = rejected;
  accepted.round = 2;
  accepted.failure = "";
  accepted.detail = "";
  accepted.insns = 260;
  accepted.decision = "accepted";
  pass.candidates = {rejected, accepted};
  outcome.passes = {pass};
  LLMOptions options;
  options.mode = LLMMode::Optimize;
  options.client.model = "m";

  std::string text;
  llvm::raw_string_ostream os(text);
  writeLLMReport(outcome, options, os);
  os.flush();
  auto json = llvm::json::parse(text);
  ASSERT_TRUE(bool(json)) << llvm::toString(json.takeError()) << text;
  const llvm::json::Object *root = json->getAsObject();
  ASSERT_NE(root, nullptr);
  EXPECT_EQ(root->getString("llm"), "optimize");
  const llvm::json::Array *passes = root->getArray("passes");
  ASSERT_TRUE(passes && passes->size() == 1);
  const llvm::json::Array *candidates =
      (*passes)[0].getAsObject()->getArray("candidates");
  ASSERT_TRUE(candidates && candidates->size() == 2);
  const llvm::json::Object *first = (*candidates)[0].getAsObject();
  EXPECT_EQ(first->getString("failure"), "compile");
  EXPECT_EQ(first->getInteger("latency_ms"), 13);
  EXPECT_EQ(first->getInteger("prompt_bytes"), 1234);
  EXPECT_TRUE(first->get("insns")->getAsNull());
  const llvm::json::Object *second = (*candidates)[1].getAsObject();
  EXPECT_TRUE(second->get("failure")->getAsNull());
  EXPECT_EQ(second->getInteger("insns"), 260);
  EXPECT_EQ(second->getString("decision"), "accepted");
  const llvm::json::Object *output = root->getObject("output");
  EXPECT_EQ(output->getString("source"), "llm-optimize");
  EXPECT_EQ(output->getInteger("insns"), 260);
  EXPECT_EQ(output->getInteger("rule_based_insns"), 592);

  EXPECT_EQ(summarizeOutcome(outcome),
            "llm optimize: accepted in round 2 (proven, 260 instructions, "
            "input 592)\n"
            "llm: output: from llm-optimize (260 instructions; rule-based 592 "
            "instructions)\n");
}

} // namespace
