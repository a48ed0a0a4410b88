//===- Diagnostics.h - located errors, warnings and notes of the frontend -===//
//
// The AppNet frontend does not depend on MLIR: it collects its diagnostics in
// a DiagnosticSink, and the caller (the netfn emitter, the tests) turns them
// into MLIR diagnostics or prints them as FILE:LINE:COL: error: message.
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_APPNET_DIAGNOSTICS_H
#define SBPF_APPNET_DIAGNOSTICS_H

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sbpf::appnet {

/// A position in the source. Both are 1-based; `col` counts bytes from the
/// start of the line, so a tab is one column here (the 4-column tab rule only
/// defines indentation width). line == 0 means "no location".
struct SourceLoc {
  uint32_t line = 0, col = 0;

  bool isValid() const { return line != 0; }
  friend bool operator==(SourceLoc a, SourceLoc b) {
    return a.line == b.line && a.col == b.col;
  }
  friend bool operator<(SourceLoc a, SourceLoc b) {
    return a.line != b.line ? a.line < b.line : a.col < b.col;
  }
  /// "LINE:COL", e.g. "12:5".
  std::string str() const;
};

enum class Severity { Error, Warning, Note };

struct Diagnostic {
  Severity severity;
  SourceLoc loc;
  std::string message; ///< Lowercase, no trailing period.
};

/// Collects diagnostics in order of emission. After `maxErrors` errors it
/// records one last "too many errors" error and drops everything else, so a
/// pathological input cannot flood the caller.
class DiagnosticSink {
public:
  explicit DiagnosticSink(unsigned maxErrors = 20) : maxErrors(maxErrors) {}

  void error(SourceLoc loc, std::string message);
  void warning(SourceLoc loc, std::string message);
  void note(SourceLoc loc, std::string message);

  bool hasErrors() const { return numErrors != 0; }
  unsigned errorCount() const { return numErrors; }
  /// True once the error limit is reached: further diagnostics are dropped,
  /// and long-running consumers may stop early.
  bool reachedErrorLimit() const { return limitReached; }

  const std::vector<Diagnostic> &diagnostics() const { return diags; }
  /// The first error, or null. Handy in tests and for one-line reports.
  const Diagnostic *firstError() const;
  void clear();

private:
  void report(Severity severity, SourceLoc loc, std::string message);

  std::vector<Diagnostic> diags;
  unsigned maxErrors;
  unsigned numErrors = 0;
  bool limitReached = false;
};

const char *severityName(Severity severity);

/// "FILE:LINE:COL: error: message" (the conventional compiler format; the
/// file part is omitted when `fileName` is empty).
std::string formatDiagnostic(const Diagnostic &diag, std::string_view fileName);

} // namespace sbpf::appnet

#endif // SBPF_APPNET_DIAGNOSTICS_H
