//===- Diagnostics.cpp - the diagnostic sink of the AppNet frontend -------===//
#include "sbpf/AppNet/Diagnostics.h"

using namespace sbpf::appnet;

std::string SourceLoc::str() const {
  return std::to_string(line) + ":" + std::to_string(col);
}

void DiagnosticSink::report(Severity severity, SourceLoc loc,
                            std::string message) {
  if (limitReached)
    return;
  if (severity == Severity::Error && numErrors == maxErrors) {
    // One final error says why the report stops here.
    limitReached = true;
    ++numErrors;
    diags.push_back({Severity::Error, loc,
                     "too many errors (" + std::to_string(maxErrors) +
                         "); stopping"});
    return;
  }
  if (severity == Severity::Error)
    ++numErrors;
  diags.push_back({severity, loc, std::move(message)});
}

void DiagnosticSink::error(SourceLoc loc, std::string message) {
  report(Severity::Error, loc, std::move(message));
}
void DiagnosticSink::warning(SourceLoc loc, std::string message) {
  report(Severity::Warning, loc, std::move(message));
}
void DiagnosticSink::note(SourceLoc loc, std::string message) {
  report(Severity::Note, loc, std::move(message));
}

const Diagnostic *DiagnosticSink::firstError() const {
  for (const Diagnostic &d : diags)
    if (d.severity == Severity::Error)
      return &d;
  return nullptr;
}

void DiagnosticSink::clear() {
  diags.clear();
  numErrors = 0;
  limitReached = false;
}

const char *sbpf::appnet::severityName(Severity severity) {
  switch (severity) {
  case Severity::Error:
    return "error";
  case Severity::Warning:
    return "warning";
  case Severity::Note:
    return "note";
  }
  return "error";
}

std::string sbpf::appnet::formatDiagnostic(const Diagnostic &diag,
                                           std::string_view fileName) {
  std::string out;
  if (!fileName.empty()) {
    out += fileName;
    out += ':';
  }
  if (diag.loc.isValid()) {
    out += diag.loc.str();
    out += ": ";
  } else if (!fileName.empty()) {
    out += ' ';
  }
  out += severityName(diag.severity);
  out += ": ";
  out += diag.message;
  return out;
}
