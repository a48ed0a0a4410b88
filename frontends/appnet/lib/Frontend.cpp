//===- Frontend.cpp - lex, parse and check one AppNet element -------------===//
#include "sbpf/AppNet/Frontend.h"

#include "sbpf/AppNet/Parser.h"
#include "sbpf/AppNet/Sema.h"

using namespace sbpf::appnet;

std::unique_ptr<Element>
sbpf::appnet::parseAndCheck(std::string_view source,
                            const FrontendOptions &options,
                            DiagnosticSink &diags) {
  unsigned errorsBefore = diags.errorCount();
  std::unique_ptr<Element> element = parseElement(source, diags);
  if (!element || diags.errorCount() != errorsBefore)
    return nullptr;
  if (!checkElement(*element, options, diags))
    return nullptr;
  return element;
}
