//===- Redact.h - Keep the API key out of text ------------------*- C++ -*-===//
//
// The client passes every message, log line, answer and cache entry through
// redactSecret before it leaves the library, so an endpoint that echoes the
// key back (some do, in 401 bodies) cannot make it appear anywhere.
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_LLM_REDACT_H
#define SBPF_LLM_REDACT_H

#include <string>
#include <string_view>

namespace sbpf::llm {

/// What replaces the key.
inline constexpr std::string_view kRedacted = "[REDACTED]";

/// `text` with every occurrence of `secret` replaced by kRedacted. An empty
/// secret leaves the text as it is.
std::string redactSecret(std::string_view text, std::string_view secret);

} // namespace sbpf::llm

#endif // SBPF_LLM_REDACT_H
