//===- Redact.cpp - Keep the API key out of text --------------------------===//
#include "sbpf/LLM/Redact.h"

namespace sbpf::llm {

std::string redactSecret(std::string_view text, std::string_view secret) {
  if (secret.empty())
    return std::string(text);
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (true) {
    size_t hit = text.find(secret, pos);
    if (hit == std::string_view::npos)
      break;
    out.append(text.substr(pos, hit - pos));
    out.append(kRedacted);
    pos = hit + secret.size();
  }
  out.append(text.substr(pos));
  return out;
}

} // namespace sbpf::llm
