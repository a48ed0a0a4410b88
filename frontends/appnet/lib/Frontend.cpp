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
  SemaOptions semaOptions;
  semaOptions.schema = options.schema;
  semaOptions.defaultStringCapacity = options.defaultStringCapacity;
  semaOptions.kernelTarget = options.kernelTarget;
  if (!checkElement(*element, semaOptions, diags))
    return nullptr;
  return element;
}
