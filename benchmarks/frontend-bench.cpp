//===- frontend-bench.cpp - time parse + check + lower of AppNet elements ===//
//
// For each element in a directory (and a generated 100-line element), the
// median over repeated runs of the AppNet domain's parse: lexing, parsing,
// type checking, netfn emission and verification. Prints a table; the target
// (README) is under 10 ms for a 100-line element.
//
//===----------------------------------------------------------------------===//
#include "sbpf/AppNet/AppNetDomain.h"
#include "sbpf/InitAll.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace {

/// A synthetic element of exactly `lines` lines: counters, a map, nested
/// matches and arithmetic, the constructs real elements are made of.
std::string generateElement(unsigned lines) {
  std::vector<std::string> out = {"state:", "    table: Map<string, uint>",
                                  "    total: float"};
  unsigned counters = 8;
  for (unsigned i = 0; i < counters; ++i)
    out.push_back("    c" + std::to_string(i) + ": uint");
  out.push_back("init():");
  out.push_back("    total = 0.0");
  out.push_back("req(rpc):");
  unsigned i = 0;
  while (out.size() + 6 + 3 <= lines) {
    std::string c = "c" + std::to_string(i % counters);
    out.push_back("    match get(rpc, 'priority') > " + std::to_string(i) + ":");
    out.push_back("        true =>");
    out.push_back("            " + c + " = " + c + " + (get(rpc, 'kind') * 2)");
    out.push_back("            total = total + 0.5");
    out.push_back("        false =>");
    out.push_back("            set(table, get(rpc, 'user'), " + c + ")");
    ++i;
  }
  while (out.size() + 3 < lines)
    out.push_back("    total = total * 0.5");
  out.push_back("    send(rpc, Down)");
  out.push_back("resp(rpc):");
  out.push_back("    send(rpc, Up)");
  std::string text;
  for (auto &l : out)
    text += l + "\n";
  return text;
}

struct Row {
  std::string name;
  unsigned lines;
  bool ok;
  double medianUs;
  std::string firstError;
};

Row measure(const sbpf::Domain &domain, mlir::MLIRContext &context,
            const sbpf::DomainOptions &options, const std::string &name,
            const std::string &text) {
  unsigned lines = std::count(text.begin(), text.end(), '\n');
  std::vector<double> samples;
  bool ok = true;
  std::string firstError;
  for (unsigned run = 0; run < 41; ++run) {
    llvm::SourceMgr sourceMgr;
    sourceMgr.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(text, name),
                                 llvm::SMLoc());
    mlir::ScopedDiagnosticHandler quiet(&context, [&](mlir::Diagnostic &d) {
      if (d.getSeverity() == mlir::DiagnosticSeverity::Error && firstError.empty())
        firstError = d.str();
      return mlir::success();
    });
    auto start = std::chrono::steady_clock::now();
    auto module = domain.parse(sourceMgr, context, options);
    auto end = std::chrono::steady_clock::now();
    ok = ok && module;
    samples.push_back(std::chrono::duration<double, std::micro>(end - start).count());
  }
  std::nth_element(samples.begin(), samples.begin() + samples.size() / 2, samples.end());
  return {name, lines, ok, samples[samples.size() / 2], firstError};
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: sbpf-frontend-bench EXAMPLES_DIR [SCHEMA.proto]\n");
    return 1;
  }
  mlir::DialectRegistry registry;
  sbpf::registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();
  auto domain = sbpf::appnet::createAppNetDomain();
  sbpf::DomainOptions options;
  if (argc > 2)
    options.eventSchemaPath = argv[2];

  std::vector<std::filesystem::path> paths;
  for (const auto &entry : std::filesystem::directory_iterator(argv[1]))
    if (entry.path().extension() == ".appnet")
      paths.push_back(entry.path());
  std::sort(paths.begin(), paths.end());

  std::vector<Row> rows;
  for (const auto &path : paths) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    rows.push_back(measure(*domain, context, options, path.filename().string(),
                           text.str()));
  }
  rows.push_back(measure(*domain, context, options, "generated-100-lines.appnet",
                         generateElement(100)));

  std::printf("\nAppNet frontend: parse + type check + emit netfn + verify "
              "(median of 41 runs)\n\n");
  std::printf("| %-28s | %5s | %-8s | %12s |\n", "element", "lines", "result",
              "time (us)");
  std::printf("|------------------------------|-------|----------|--------------|\n");
  bool allOk = true;
  for (const Row &r : rows) {
    std::printf("| %-28s | %5u | %-8s | %12.1f |\n", r.name.c_str(), r.lines,
                r.ok ? "netfn" : "ERROR", r.medianUs);
    allOk = allOk && r.ok;
  }
  for (const Row &r : rows)
    if (!r.ok)
      std::printf("%s: error: %s\n", r.name.c_str(), r.firstError.c_str());
  const Row &big = rows.back();
  std::printf("\ntarget: a 100-line element under 10 ms: %s (%.2f ms)\n",
              big.ok && big.medianUs < 10000 ? "met" : "MISSED",
              big.medianUs / 1000);
  return allOk ? 0 : 1;
}
