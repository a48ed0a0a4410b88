//===- ChatClient.cpp - OpenAI-compatible chat completions over libcurl ---===//
//
// Compiled with -fexceptions (nlohmann/json); every public function catches
// everything and returns an Error instead. Every string that leaves this file
// (error messages, log lines, answers, cache entries) goes through
// redactSecret with the API key.
//
// libcurl is loaded with dlopen the first time a request is made, not linked:
// it and the ~35 libraries it needs (TLS, Kerberos, LDAP, ...) took ~7 ms of
// every start of every tool that links this client, sbpf-opt's compiles
// included, although only --llm ever sends a request. Only its headers are
// used at build time (types and constants); the functions come from the
// Curl table below.
//
//===----------------------------------------------------------------------===//
#include "sbpf/LLM/ChatClient.h"
#include "sbpf/LLM/Extract.h"
#include "sbpf/LLM/Redact.h"
#include "sbpf/LLM/SHA256.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <mutex>
#include <thread>

using nlohmann::json;

namespace sbpf::llm {
namespace {

constexpr size_t kMaxBody = 16u << 20; // answers are a few KB; 16 MiB is plenty
constexpr size_t kExcerpt = 200;
constexpr int kCanonicalFormat = 1;

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

/// base + "/chat/completions", unless it already ends with it.
std::string endpointUrl(std::string base) {
  while (!base.empty() && base.back() == '/')
    base.pop_back();
  static constexpr std::string_view suffix = "/chat/completions";
  if (base.size() >= suffix.size() &&
      std::string_view(base).substr(base.size() - suffix.size()) == suffix)
    return base;
  return base + std::string(suffix);
}

/// "http://h:p/v1/chat/completions?x" -> "/v1/chat/completions".
std::string urlPath(const std::string &url) {
  size_t scheme = url.find("://");
  size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  size_t slash = url.find('/', start);
  if (slash == std::string::npos)
    return "/";
  size_t end = url.find_first_of("?#", slash);
  return url.substr(slash, end == std::string::npos ? std::string::npos
                                                    : end - slash);
}

/// The host of a URL, without user info, port or IPv6 brackets.
std::string urlHost(const std::string &url) {
  size_t scheme = url.find("://");
  size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  size_t end = url.find_first_of("/?#", start);
  std::string auth = url.substr(start, end == std::string::npos
                                           ? std::string::npos
                                           : end - start);
  if (size_t at = auth.rfind('@'); at != std::string::npos)
    auth = auth.substr(at + 1);
  if (!auth.empty() && auth[0] == '[') {
    size_t close = auth.find(']');
    return auth.substr(1, close == std::string::npos ? std::string::npos
                                                     : close - 1);
  }
  return auth.substr(0, auth.find(':'));
}

bool isLoopback(const std::string &host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

/// A short, single-line excerpt of `text` with the secret redacted first (so
/// that truncation cannot leave a piece of the key behind).
std::string excerpt(std::string_view text, std::string_view secret) {
  std::string r = redactSecret(text, secret);
  bool cut = r.size() > kExcerpt;
  if (cut)
    r.resize(kExcerpt);
  for (char &c : r)
    if (static_cast<unsigned char>(c) < 0x20)
      c = ' ';
  return cut ? r + "..." : r;
}

const char *reasonPhrase(long status) {
  switch (status) {
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 408: return "Request Timeout";
  case 413: return "Payload Too Large";
  case 422: return "Unprocessable Entity";
  case 429: return "Too Many Requests";
  case 500: return "Internal Server Error";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  default: return nullptr;
  }
}

/// The libcurl functions this client calls, from the shared library loaded
/// at the first request (the file comment says why).
struct Curl {
  decltype(&curl_global_init) globalInit = nullptr;
  decltype(&curl_easy_init) easyInit = nullptr;
  decltype(&curl_easy_setopt) easySetopt = nullptr;
  decltype(&curl_easy_perform) easyPerform = nullptr;
  decltype(&curl_easy_getinfo) easyGetinfo = nullptr;
  decltype(&curl_easy_strerror) easyStrerror = nullptr;
  decltype(&curl_easy_cleanup) easyCleanup = nullptr;
  decltype(&curl_slist_append) slistAppend = nullptr;
  decltype(&curl_slist_free_all) slistFreeAll = nullptr;
  decltype(&curl_getdate) getdate = nullptr;
  std::string error; ///< why it could not be loaded, else ""
};

/// libcurl, loaded and initialised once (the handle is never closed: the
/// library stays for the process). `error` says why it is unusable.
const Curl &curl() {
  static const Curl api = [] {
    Curl c;
    // The soname of libcurl's ABI 4 (every libcurl since 7.16).
    void *lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char *why = dlerror();
      c.error = std::string("cannot load libcurl.so.4: ") +
                (why ? why : "unknown error");
      return c;
    }
    bool missing = false;
    auto load = [&](auto &fn, const char *name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(
          dlsym(lib, name));
      if (!fn && !missing) {
        missing = true;
        c.error = std::string("libcurl.so.4 has no ") + name;
      }
    };
    load(c.globalInit, "curl_global_init");
    load(c.easyInit, "curl_easy_init");
    load(c.easySetopt, "curl_easy_setopt");
    load(c.easyPerform, "curl_easy_perform");
    load(c.easyGetinfo, "curl_easy_getinfo");
    load(c.easyStrerror, "curl_easy_strerror");
    load(c.easyCleanup, "curl_easy_cleanup");
    load(c.slistAppend, "curl_slist_append");
    load(c.slistFreeAll, "curl_slist_free_all");
    load(c.getdate, "curl_getdate");
    if (!missing && c.globalInit(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      c.error = "curl_global_init failed";
    return c;
  }();
  return api;
}

struct Reply {
  CURLcode code = CURLE_OK;
  long status = 0;
  long osErrno = 0;
  double connectMs = 0;
  std::string curlError;
  std::string body;
  bool tooBig = false;
  std::optional<long> retryAfterMs;
};

size_t onBody(char *data, size_t size, size_t n, void *user) {
  auto *reply = static_cast<Reply *>(user);
  size_t len = size * n;
  if (reply->body.size() + len > kMaxBody) {
    reply->tooBig = true;
    return 0; // makes curl fail with CURLE_WRITE_ERROR
  }
  reply->body.append(data, len);
  return len;
}

/// Retry-After: delta-seconds or an HTTP date.
std::optional<long> parseRetryAfter(std::string value) {
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back())))
    value.pop_back();
  size_t i = value.find_first_not_of(" \t");
  if (i == std::string::npos)
    return std::nullopt;
  value = value.substr(i);
  if (std::all_of(value.begin(), value.end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    if (value.size() > 9)
      return 999'999'999L * 1000; // absurdly long; capped by the caller
    return std::stol(value) * 1000;
  }
  // Only called from a response's headers: libcurl is loaded.
  time_t when = curl().getdate(value.c_str(), nullptr);
  if (when < 0)
    return std::nullopt;
  time_t now = std::time(nullptr);
  return when > now ? long(when - now) * 1000 : 0L;
}

size_t onHeader(char *data, size_t size, size_t n, void *user) {
  auto *reply = static_cast<Reply *>(user);
  size_t len = size * n;
  std::string line(data, len);
  if (line.rfind("HTTP/", 0) == 0) { // a new response (e.g. after 100 Continue)
    reply->retryAfterMs.reset();
    return len;
  }
  size_t colon = line.find(':');
  if (colon == std::string::npos)
    return len;
  std::string name = line.substr(0, colon);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (name == "retry-after")
    reply->retryAfterMs = parseRetryAfter(line.substr(colon + 1));
  return len;
}

Reply post(const ClientConfig &config, const std::string &url,
           const std::string &body) {
  Reply reply;
  const Curl &api = curl();
  if (!api.error.empty()) {
    reply.code = CURLE_FAILED_INIT;
    reply.curlError = api.error;
    return reply;
  }
  CURL *h = api.easyInit();
  if (!h) {
    reply.code = CURLE_FAILED_INIT;
    reply.curlError = "curl_easy_init failed";
    return reply;
  }
  char errbuf[CURL_ERROR_SIZE] = {};
  curl_slist *headers = nullptr;
  headers = api.slistAppend(headers, "Content-Type: application/json");
  headers = api.slistAppend(headers, "Accept: application/json");
  headers = api.slistAppend(headers, "Expect:"); // no 100-continue dance
  std::string auth;
  if (!config.apiKey.empty()) {
    auth = "Authorization: Bearer " + config.apiKey;
    headers = api.slistAppend(headers, auth.c_str());
  }
  api.easySetopt(h, CURLOPT_URL, url.c_str());
  api.easySetopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  api.easySetopt(h, CURLOPT_NOSIGNAL, 1L);
  api.easySetopt(h, CURLOPT_FOLLOWLOCATION, 0L); // never carry the key elsewhere
  api.easySetopt(h, CURLOPT_HTTPHEADER, headers);
  api.easySetopt(h, CURLOPT_POST, 1L);
  api.easySetopt(h, CURLOPT_POSTFIELDS, body.data());
  api.easySetopt(h, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.size()));
  api.easySetopt(h, CURLOPT_USERAGENT, "SimpleBPF-LLM/1");
  api.easySetopt(h, CURLOPT_ACCEPT_ENCODING, "");
  api.easySetopt(h, CURLOPT_CONNECTTIMEOUT_MS, config.connectTimeoutMs);
  api.easySetopt(h, CURLOPT_TIMEOUT_MS, config.timeoutMs);
  api.easySetopt(h, CURLOPT_ERRORBUFFER, errbuf);
  api.easySetopt(h, CURLOPT_WRITEFUNCTION, onBody);
  api.easySetopt(h, CURLOPT_WRITEDATA, &reply);
  api.easySetopt(h, CURLOPT_HEADERFUNCTION, onHeader);
  api.easySetopt(h, CURLOPT_HEADERDATA, &reply);
  // A local server (Ollama, llama.cpp, vLLM, the tests) never goes through
  // the proxy of the environment.
  if (isLoopback(urlHost(url)))
    api.easySetopt(h, CURLOPT_PROXY, "");

  reply.code = api.easyPerform(h);
  api.easyGetinfo(h, CURLINFO_RESPONSE_CODE, &reply.status);
  api.easyGetinfo(h, CURLINFO_OS_ERRNO, &reply.osErrno);
  double connect = 0;
  api.easyGetinfo(h, CURLINFO_CONNECT_TIME, &connect);
  reply.connectMs = connect * 1000;
  reply.curlError = errbuf[0] ? errbuf : api.easyStrerror(reply.code);
  api.easyCleanup(h);
  api.slistFreeAll(headers);
  std::fill(auth.begin(), auth.end(), '\0');
  return reply;
}

/// The message of an OpenAI-style error body ({"error": {"message": ...}}).
std::string errorBodyMessage(const std::string &body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("error"))
    return "";
  const json &e = j["error"];
  if (e.is_string())
    return e.get<std::string>();
  if (e.is_object() && e.contains("message") && e["message"].is_string())
    return e["message"].get<std::string>();
  return "";
}

std::string buildBody(const ClientConfig &config, const ChatRequest &request) {
  json body;
  body["model"] = config.model;
  json messages = json::array();
  for (const Message &m : request.messages)
    messages.push_back({{"role", m.role}, {"content", m.content}});
  body["messages"] = std::move(messages);
  body["temperature"] = request.temperature;
  if (request.maxTokens)
    body["max_tokens"] = *request.maxTokens;
  if (request.seed)
    body["seed"] = *request.seed;
  body["stream"] = false;
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace

std::string canonicalRequest(const ClientConfig &config,
                             const ChatRequest &request) {
  try {
    json c; // nlohmann's objects are std::maps: keys come out sorted
    c["format"] = kCanonicalFormat;
    c["path"] = config.baseUrl.empty() ? std::string("/chat/completions")
                                       : urlPath(endpointUrl(config.baseUrl));
    c["model"] = config.model;
    json messages = json::array();
    for (const Message &m : request.messages)
      messages.push_back({{"role", m.role}, {"content", m.content}});
    c["messages"] = std::move(messages);
    c["temperature"] = request.temperature;
    if (request.maxTokens)
      c["max_tokens"] = *request.maxTokens;
    if (request.seed)
      c["seed"] = *request.seed;
    return c.dump(-1, ' ', false, json::error_handler_t::replace);
  } catch (...) {
    return "";
  }
}

std::string cacheKey(const ClientConfig &config, const ChatRequest &request) {
  return sha256Hex(canonicalRequest(config, request));
}

ChatClient::ChatClient(ClientConfig config) : config_(std::move(config)) {
  if (config_.cacheMode != CacheMode::Off && !config_.cacheDir.empty())
    cache_ = std::make_unique<ResponseCache>(config_.cacheDir);
}

ChatClient::~ChatClient() = default;

Result<ChatResponse> ChatClient::complete(const ChatRequest &request) {
  const std::string &key = config_.apiKey;
  auto fail = [&](ErrorKind kind, const std::string &msg, int attempts = 0,
                  int status = 0) -> Error {
    return Error{kind, redactSecret(msg, key), status, attempts};
  };
  auto log = [&](const std::string &msg) {
    if (config_.log)
      config_.log(redactSecret(msg, key));
  };
  try {
    auto start = Clock::now();
    if (auto valid = config_.validate(); !valid)
      return fail(valid.error().kind, valid.error().message);

    std::string canonical = canonicalRequest(config_, request);
    if (canonical.empty())
      return fail(ErrorKind::Internal, "cannot build the canonical request");
    ChatResponse response;
    response.cacheKey = sha256Hex(canonical);
    unsigned occurrence = 0;
    if (cache_)
      occurrence = cache_->nextOccurrence(response.cacheKey);

    if (config_.cacheMode == CacheMode::Replay) {
      auto hit = cache_->lookup(response.cacheKey, occurrence);
      if (!hit)
        return fail(hit.error().kind, hit.error().message);
      if (!*hit)
        return fail(ErrorKind::CacheMiss,
                    "replay: no recorded answer for this request (" +
                        cache_->entryPath(response.cacheKey, occurrence) +
                        " does not exist); nothing was sent");
      response.content = (*hit)->content;
      response.model = (*hit)->model;
      response.finishReason = (*hit)->finishReason;
      response.fromCache = true;
      response.latencyMs = msSince(start);
      return response;
    }

    std::string url = endpointUrl(config_.baseUrl);
    std::string body = buildBody(config_, request);
    Reply reply;
    int attempts = 0;
    for (;; ) {
      ++attempts;
      auto t0 = Clock::now();
      reply = post(config_, url, body);
      if (reply.code != CURLE_OK) {
        if (reply.tooBig)
          return fail(ErrorKind::ConnectionFailed,
                      "the answer from " + url + " is larger than " +
                          std::to_string(kMaxBody >> 20) + " MiB",
                      attempts);
        if (reply.code == CURLE_OPERATION_TIMEDOUT) {
          bool connecting = reply.connectMs == 0;
          return fail(ErrorKind::Timeout,
                      connecting
                          ? "could not connect to " + url + " within " +
                                std::to_string(config_.connectTimeoutMs) + " ms"
                          : "no answer from " + url + " within " +
                                std::to_string(config_.timeoutMs) + " ms",
                      attempts);
        }
        if (reply.code == CURLE_COULDNT_CONNECT &&
            reply.osErrno == ECONNREFUSED)
          return fail(ErrorKind::ConnectionRefused,
                      "connection refused by " + url +
                          " (is the server running?)",
                      attempts);
        return fail(ErrorKind::ConnectionFailed,
                    "request to " + url + " failed: " + reply.curlError,
                    attempts);
      }
      if (reply.status >= 200 && reply.status < 300)
        break;
      bool retryable = reply.status == 429 || reply.status >= 500;
      if (!retryable || attempts > config_.maxRetries) {
        const char *reason = reasonPhrase(reply.status);
        std::string detail = errorBodyMessage(reply.body);
        std::string msg = "HTTP " + std::to_string(reply.status) +
                          (reason ? std::string(" ") + reason : "") + " from " +
                          url;
        if (attempts > 1)
          msg += " after " + std::to_string(attempts) + " attempts";
        msg += ": " + excerpt(detail.empty() ? reply.body : detail, key);
        return fail(ErrorKind::HttpStatus, msg, attempts, int(reply.status));
      }
      long backoff = config_.initialBackoffMs;
      for (int i = 1; i < attempts && backoff < config_.maxBackoffMs; ++i)
        backoff *= 2;
      long delay = std::min(backoff, config_.maxBackoffMs);
      if (reply.retryAfterMs)
        delay = std::min(*reply.retryAfterMs, config_.maxRetryAfterMs);
      log("LLM: HTTP " + std::to_string(reply.status) + " from " + url +
          " after " + std::to_string(long(msSince(t0))) + " ms; retrying in " +
          std::to_string(delay) + " ms (attempt " +
          std::to_string(attempts + 1) + " of " +
          std::to_string(config_.maxRetries + 1) + ")");
      std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    }

    json j = json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded())
      return fail(ErrorKind::MalformedJson,
                  "the answer from " + url + " is not JSON: " +
                      excerpt(reply.body, key),
                  attempts, int(reply.status));
    if (!j.is_object() || !j.contains("choices")) {
      std::string detail = errorBodyMessage(reply.body);
      if (!detail.empty())
        return fail(ErrorKind::NoContent,
                    "the endpoint " + url + " answered with an error: " +
                        excerpt(detail, key),
                    attempts, int(reply.status));
      return fail(ErrorKind::MalformedJson,
                  "the answer from " + url +
                      " is not a chat completion (no \"choices\"): " +
                      excerpt(reply.body, key),
                  attempts, int(reply.status));
    }
    const json &choices = j["choices"];
    if (!choices.is_array())
      return fail(ErrorKind::MalformedJson,
                  "the answer from " + url + " has a \"choices\" that is not "
                  "an array", attempts, int(reply.status));
    if (choices.empty())
      return fail(ErrorKind::NoContent,
                  "the answer from " + url + " has no choices", attempts,
                  int(reply.status));
    const json &choice = choices[0];
    std::string finish;
    if (choice.is_object() && choice.contains("finish_reason") &&
        choice["finish_reason"].is_string())
      finish = choice["finish_reason"].get<std::string>();
    const json *content = nullptr;
    if (choice.is_object() && choice.contains("message") &&
        choice["message"].is_object() &&
        choice["message"].contains("content") &&
        choice["message"]["content"].is_string())
      content = &choice["message"]["content"];
    if (!content || content->get_ref<const std::string &>().empty())
      return fail(ErrorKind::NoContent,
                  "the answer from " + url +
                      " has no message content" +
                      (finish.empty() ? "" : " (finish_reason: " +
                                                 excerpt(finish, key) + ")"),
                  attempts, int(reply.status));

    response.content = redactSecret(content->get<std::string>(), key);
    if (j.contains("model") && j["model"].is_string())
      response.model = redactSecret(j["model"].get<std::string>(), key);
    response.finishReason = redactSecret(finish, key);
    response.attempts = attempts;

    if (config_.cacheMode == CacheMode::Record) {
      CachedAnswer answer{response.content, response.model,
                          response.finishReason};
      // The canonical request holds only the prompt and parameters; redact
      // anyway in case a prompt quotes the key.
      auto stored = cache_->store(response.cacheKey, occurrence,
                                  redactSecret(canonical, key), answer);
      if (!stored)
        return fail(stored.error().kind, stored.error().message, attempts);
      log("LLM: recorded " + *stored);
    }
    response.latencyMs = msSince(start);
    return response;
  } catch (const std::exception &e) {
    return fail(ErrorKind::Internal, std::string("LLM client: ") + e.what());
  } catch (...) {
    return fail(ErrorKind::Internal, "LLM client: unknown failure");
  }
}

Result<CodeAnswer> ChatClient::completeCode(const ChatRequest &request) {
  auto response = complete(request);
  if (!response)
    return response.error();
  auto code = extractCCode(response->content);
  if (!code) {
    Error e = code.error();
    e.attempts = response->attempts;
    e.message = redactSecret(e.message, config_.apiKey);
    return e;
  }
  return CodeAnswer{std::move(*response), std::move(*code)};
}

} // namespace sbpf::llm
