//===- FrontendRobustnessTest.cpp - mutated inputs never crash the frontend ===//
//
// Feeds more than 20,000 deterministic mutations of the example elements
// (byte flips, truncations, token shuffles, line edits, splices, random bytes)
// to the AppNet domain and requires, for each, either a netfn module that
// verifies and prints back, or at least one error located at FILE:LINE:COL.
// A crash or an assertion fails the run; a watchdog turns a hang into one.
//
//===----------------------------------------------------------------------===//
#include "sbpf/AppNet/AppNetDomain.h"
#include "sbpf/InitAll.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <unistd.h>

namespace {

std::vector<std::string> loadExamples() {
  std::vector<std::string> sources;
  std::vector<std::filesystem::path> paths;
  for (const char *dir : {SBPF_EXAMPLES_DIR "/appnet", SBPF_EXAMPLES_DIR "/appnet/invalid"})
    for (const auto &entry : std::filesystem::directory_iterator(dir))
      if (entry.path().extension() == ".appnet")
        paths.push_back(entry.path());
  std::sort(paths.begin(), paths.end()); // Deterministic order.
  for (const auto &path : paths) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    sources.push_back(text.str());
  }
  return sources;
}

/// Splits into tokens and the whitespace between them, so that shuffles keep
/// the layout mostly intact and reach deeper into the parser than byte noise.
std::vector<std::string> tokenize(const std::string &s) {
  std::vector<std::string> tokens;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i + 1;
    auto isWord = [](char c) { return std::isalnum((unsigned char)c) || c == '_'; };
    if (isWord(s[i]))
      while (j < s.size() && isWord(s[j]))
        ++j;
    else if (s[i] == ' ' || s[i] == '\t')
      while (j < s.size() && (s[j] == ' ' || s[j] == '\t'))
        ++j;
    tokens.push_back(s.substr(i, j - i));
    i = j;
  }
  return tokens;
}

class Mutator {
public:
  explicit Mutator(const std::vector<std::string> &corpus) : corpus(corpus) {}

  std::string next() {
    const std::string &base = corpus[pick(corpus.size())];
    std::string s = base;
    unsigned edits = 1 + pick(3);
    for (unsigned e = 0; e < edits; ++e)
      mutate(s);
    return s;
  }

private:
  size_t pick(size_t n) { return n ? rng() % n : 0; }

  void mutate(std::string &s) {
    switch (pick(9)) {
    case 0: // Flip one bit.
      if (!s.empty())
        s[pick(s.size())] ^= char(1u << pick(8));
      break;
    case 1: // Replace a byte with an interesting one.
      if (!s.empty()) {
        static const char interesting[] = "\t\n\r \\:()<>,=#'\"@_0.9e-+*/\x80\xff";
        s[pick(s.size())] = interesting[pick(sizeof(interesting))];
      }
      break;
    case 2: // Truncate.
      s.resize(pick(s.size() + 1));
      break;
    case 3: { // Swap two tokens.
      auto tokens = tokenize(s);
      if (tokens.size() > 1)
        std::swap(tokens[pick(tokens.size())], tokens[pick(tokens.size())]);
      s = join(tokens);
      break;
    }
    case 4: { // Duplicate or delete a token.
      auto tokens = tokenize(s);
      if (!tokens.empty()) {
        size_t i = pick(tokens.size());
        if (pick(2))
          tokens.insert(tokens.begin() + i, tokens[pick(tokens.size())]);
        else
          tokens.erase(tokens.begin() + i);
      }
      s = join(tokens);
      break;
    }
    case 5: { // Re-indent, duplicate or delete a line.
      std::vector<std::string> lines;
      std::stringstream in(s);
      for (std::string line; std::getline(in, line);)
        lines.push_back(line);
      if (lines.empty())
        break;
      size_t i = pick(lines.size());
      switch (pick(3)) {
      case 0: lines[i].insert(0, pick(2) ? "\t" : "  "); break;
      case 1: lines.insert(lines.begin() + i, lines[pick(lines.size())]); break;
      default: lines.erase(lines.begin() + i); break;
      }
      s.clear();
      for (auto &line : lines)
        s += line + "\n";
      break;
    }
    case 6: { // Splice the head of this input onto the tail of another.
      const std::string &other = corpus[pick(corpus.size())];
      s = s.substr(0, pick(s.size() + 1)) + other.substr(pick(other.size() + 1));
      break;
    }
    case 7: // Insert random bytes.
      for (unsigned n = 1 + pick(8); n; --n)
        s.insert(s.begin() + pick(s.size() + 1), char(pick(256)));
      break;
    default: // Deep nesting, to probe recursion limits.
      s.insert(pick(s.size() + 1), std::string(1 + pick(400), "(["[pick(2)]));
      break;
    }
  }

  static std::string join(const std::vector<std::string> &tokens) {
    std::string s;
    for (const auto &t : tokens)
      s += t;
    return s;
  }

  const std::vector<std::string> &corpus;
  std::mt19937_64 rng{0x5b9f0a11ULL}; // Fixed seed: the run is reproducible.
};

TEST(FrontendRobustness, MutatedInputsGiveNetfnOrALocatedError) {
  constexpr unsigned kInputs = 20000;
  alarm(300); // A hang anywhere kills the test rather than stalling CI.
  auto corpus = loadExamples();
  ASSERT_GE(corpus.size(), 10u);

  mlir::DialectRegistry registry;
  sbpf::registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();
  auto domain = sbpf::appnet::createAppNetDomain();
  sbpf::DomainOptions options;

  Mutator mutator(corpus);
  unsigned accepted = 0, rejected = 0;
  for (unsigned i = 0; i < kInputs; ++i) {
    std::string input = i < corpus.size() ? corpus[i] : mutator.next();
    llvm::SourceMgr sourceMgr;
    sourceMgr.AddNewSourceBuffer(
        llvm::MemoryBuffer::getMemBufferCopy(input, "fuzz.appnet"), llvm::SMLoc());
    unsigned errors = 0, unlocated = 0;
    std::string firstUnlocated;
    mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
      if (d.getSeverity() != mlir::DiagnosticSeverity::Error)
        return mlir::success();
      ++errors;
      auto loc = d.getLocation().dyn_cast<mlir::FileLineColLoc>();
      if (!loc || loc.getFilename() != "fuzz.appnet" || loc.getLine() == 0 ||
          loc.getColumn() == 0) {
        if (!unlocated++)
          firstUnlocated = d.str();
      }
      return mlir::success();
    });
    auto module = domain->parse(sourceMgr, context, options);
    if (module) {
      ++accepted;
      ASSERT_EQ(errors, 0u) << "module returned despite errors; input #" << i
                            << ":\n" << input;
      ASSERT_TRUE(mlir::succeeded(mlir::verify(*module)))
          << "emitted netfn does not verify; input #" << i << ":\n" << input;
      std::string text;
      llvm::raw_string_ostream os(text);
      module->print(os);
      auto reparsed = mlir::parseSourceString<mlir::ModuleOp>(text, &context);
      ASSERT_TRUE(reparsed) << "emitted netfn does not parse back; input #"
                            << i << ":\n" << input << "\nnetfn:\n" << text;
    } else {
      ++rejected;
      ASSERT_GT(errors, 0u) << "rejected without an error; input #" << i
                            << ":\n" << input;
      ASSERT_EQ(unlocated, 0u) << "error without FILE:LINE:COL (" << firstUnlocated
                               << "); input #" << i << ":\n" << input;
    }
  }
  alarm(0);
  // Both outcomes must be exercised, or the mutations are not doing their job.
  EXPECT_GT(accepted, 100u);
  EXPECT_GT(rejected, kInputs / 2);
  std::printf("robustness: %u inputs, %u accepted, %u rejected with a located "
              "error\n", kInputs, accepted, rejected);
}

} // namespace
