//===- ChatClient.h - OpenAI-compatible chat completions --------*- C++ -*-===//
//
// A client for any endpoint that speaks OpenAI's chat-completions protocol
// (OpenAI, Ollama, llama.cpp server, vLLM): POST {base}/chat/completions with
// {"model", "messages", "temperature", ...}; the answer is
// choices[0].message.content. See docs/llm.md.
//
// - Timeouts: connect and total, per attempt.
// - Retries: on 429 and 5xx only, at most maxRetries times, waiting
//   initialBackoffMs * 2^i (capped by maxBackoffMs), or the Retry-After the
//   endpoint sent (seconds or an HTTP date; capped by maxRetryAfterMs).
//   Refused connections, timeouts and other statuses are not retried.
// - Errors are values (Result<T>), never exceptions.
// - The API key goes only into the Authorization header. It is redacted from
//   every error message, log line, answer and cache entry, and it is not part
//   of the cache key.
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_LLM_CHATCLIENT_H
#define SBPF_LLM_CHATCLIENT_H

#include "sbpf/LLM/Cache.h"
#include "sbpf/LLM/Result.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sbpf::llm {

struct ClientConfig {
  /// Base URL, e.g. https://api.openai.com/v1 or http://localhost:11434/v1.
  /// "/chat/completions" is appended unless the URL already ends with it.
  std::string baseUrl;
  /// Sent as "Authorization: Bearer <key>" when not empty; nothing else.
  std::string apiKey;
  std::string model;

  long connectTimeoutMs = 10'000;
  long timeoutMs = 300'000; ///< whole request, per attempt
  int maxRetries = 3;       ///< extra attempts after a 429 or 5xx
  long initialBackoffMs = 1'000;
  long maxBackoffMs = 30'000;
  long maxRetryAfterMs = 60'000; ///< cap on the endpoint's Retry-After

  CacheMode cacheMode = CacheMode::Off;
  std::string cacheDir; ///< required unless cacheMode is Off

  /// Progress and retry notices (already redacted); none when empty.
  std::function<void(const std::string &)> log;

  /// Whether an endpoint is configured at all (a URL and a model). Without
  /// one the caller takes the rule-based path. Replay needs only a model.
  bool hasEndpoint() const;
  /// InvalidConfig when something required is missing or malformed.
  Result<bool> validate() const;
};

/// Settings from the command line; each one set overrides the environment.
/// There is deliberately no flag for the API key: command lines are visible
/// to other users (ps), so the key comes from OPENAI_API_KEY only.
struct ConfigFlags {
  std::optional<std::string> url;
  std::optional<std::string> model;
  std::optional<std::string> cacheDir;
  std::optional<CacheMode> cacheMode;
  std::optional<long> timeoutMs;
};

/// Looks an environment variable up (nullptr when unset); ::getenv by default.
using EnvLookup = std::function<const char *(const char *)>;

/// The configuration from the environment — SBPF_LLM_URL, falling back to
/// OPENAI_BASE_URL; OPENAI_API_KEY; SBPF_LLM_MODEL — with `flags` on top.
/// Empty variables count as unset.
ClientConfig resolveConfig(const ConfigFlags &flags = {},
                           const EnvLookup &env = nullptr);

struct Message {
  std::string role; ///< "system", "user" or "assistant"
  std::string content;
};

struct ChatRequest {
  std::vector<Message> messages;
  double temperature = 0.0;
  std::optional<int> maxTokens; ///< sent as max_tokens when set
  std::optional<int64_t> seed;  ///< sent as seed when set
};

struct ChatResponse {
  std::string content;      ///< choices[0].message.content, key redacted
  std::string model;        ///< as the endpoint reported it
  std::string finishReason; ///< "" when not reported
  bool fromCache = false;
  int attempts = 0;       ///< requests sent (0 when replayed)
  double latencyMs = 0;   ///< wall time of complete()
  std::string cacheKey;   ///< SHA-256 of the canonical request
};

/// A chat answer with the C program taken out of it.
struct CodeAnswer {
  ChatResponse response;
  std::string code; ///< extractCCode(response.content)
};

/// The canonical request the cache key is computed from (compact JSON with
/// sorted keys; the URL path, model, messages and parameters; never the key).
std::string canonicalRequest(const ClientConfig &config,
                             const ChatRequest &request);
/// SHA-256 (hex) of canonicalRequest().
std::string cacheKey(const ClientConfig &config, const ChatRequest &request);

class ChatClient {
public:
  explicit ChatClient(ClientConfig config);
  ~ChatClient();
  ChatClient(const ChatClient &) = delete;
  ChatClient &operator=(const ChatClient &) = delete;

  const ClientConfig &config() const { return config_; }

  /// One chat completion, through the cache as configured.
  Result<ChatResponse> complete(const ChatRequest &request);
  /// complete(), then extractCCode(); NoCode when the answer has no ```c block
  /// (the error message quotes the start of the answer).
  Result<CodeAnswer> completeCode(const ChatRequest &request);

private:
  ClientConfig config_;
  std::unique_ptr<ResponseCache> cache_;
};

} // namespace sbpf::llm

#endif // SBPF_LLM_CHATCLIENT_H
