//===- Config.cpp - Client configuration from flags and the environment ---===//
#include "sbpf/LLM/ChatClient.h"

#include <cstdlib>

namespace sbpf::llm {

std::string_view errorKindName(ErrorKind kind) {
  switch (kind) {
  case ErrorKind::InvalidConfig: return "invalid-config";
  case ErrorKind::ConnectionRefused: return "connection-refused";
  case ErrorKind::ConnectionFailed: return "connection-failed";
  case ErrorKind::Timeout: return "timeout";
  case ErrorKind::HttpStatus: return "http-status";
  case ErrorKind::MalformedJson: return "malformed-json";
  case ErrorKind::NoContent: return "no-content";
  case ErrorKind::NoCode: return "no-code";
  case ErrorKind::CacheMiss: return "cache-miss";
  case ErrorKind::CacheError: return "cache-error";
  case ErrorKind::Internal: return "internal";
  }
  return "internal";
}

std::optional<CacheMode> parseCacheMode(std::string_view text) {
  if (text == "off")
    return CacheMode::Off;
  if (text == "record")
    return CacheMode::Record;
  if (text == "replay")
    return CacheMode::Replay;
  return std::nullopt;
}

std::string_view cacheModeName(CacheMode mode) {
  switch (mode) {
  case CacheMode::Off: return "off";
  case CacheMode::Record: return "record";
  case CacheMode::Replay: return "replay";
  }
  return "off";
}

ClientConfig resolveConfig(const ConfigFlags &flags, const EnvLookup &env) {
  auto get = [&](const char *name) -> std::string {
    const char *v = env ? env(name) : std::getenv(name);
    return v ? std::string(v) : std::string();
  };
  ClientConfig config;
  config.baseUrl = get("SBPF_LLM_URL");
  if (config.baseUrl.empty())
    config.baseUrl = get("OPENAI_BASE_URL");
  config.apiKey = get("OPENAI_API_KEY");
  config.model = get("SBPF_LLM_MODEL");
  if (flags.url)
    config.baseUrl = *flags.url;
  if (flags.model)
    config.model = *flags.model;
  if (flags.cacheDir)
    config.cacheDir = *flags.cacheDir;
  if (flags.cacheMode)
    config.cacheMode = *flags.cacheMode;
  if (flags.timeoutMs)
    config.timeoutMs = *flags.timeoutMs;
  return config;
}

bool ClientConfig::hasEndpoint() const {
  if (model.empty())
    return false;
  return cacheMode == CacheMode::Replay || !baseUrl.empty();
}

Result<bool> ClientConfig::validate() const {
  auto bad = [](std::string msg) {
    return Error{ErrorKind::InvalidConfig, std::move(msg)};
  };
  if (model.empty())
    return bad("no model: set SBPF_LLM_MODEL or pass a model name");
  if (baseUrl.empty() && cacheMode != CacheMode::Replay)
    return bad("no endpoint: set SBPF_LLM_URL (or OPENAI_BASE_URL) to an "
               "OpenAI-compatible base URL, e.g. http://localhost:11434/v1");
  if (!baseUrl.empty() && baseUrl.rfind("http://", 0) != 0 &&
      baseUrl.rfind("https://", 0) != 0)
    return bad("the endpoint URL must start with http:// or https://");
  if (cacheMode != CacheMode::Off && cacheDir.empty())
    return bad(std::string("cache mode '") +
               std::string(cacheModeName(cacheMode)) +
               "' needs a cache directory");
  if (connectTimeoutMs <= 0 || timeoutMs <= 0)
    return bad("timeouts must be positive");
  if (maxRetries < 0 || initialBackoffMs < 0 || maxBackoffMs < 0 ||
      maxRetryAfterMs < 0)
    return bad("retry settings must not be negative");
  return true;
}

} // namespace sbpf::llm
