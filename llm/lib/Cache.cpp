//===- Cache.cpp - Record and replay of chat completions ------------------===//
#include "sbpf/LLM/Cache.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include <unistd.h>

namespace fs = std::filesystem;
using nlohmann::json;

namespace sbpf::llm {

namespace {
constexpr int kFormat = 1;

Error cacheError(std::string msg) {
  return Error{ErrorKind::CacheError, std::move(msg)};
}
} // namespace

std::string ResponseCache::entryPath(const std::string &key,
                                     unsigned n) const {
  return (fs::path(dir_) / (key + "-" + std::to_string(n) + ".json")).string();
}

unsigned ResponseCache::nextOccurrence(const std::string &key) {
  std::lock_guard<std::mutex> lock(mutex_);
  return seen_[key]++;
}

Result<std::optional<CachedAnswer>>
ResponseCache::lookup(const std::string &key, unsigned n) const {
  try {
    std::string path = entryPath(key, n);
    std::error_code ec;
    if (!fs::exists(path, ec))
      return std::optional<CachedAnswer>();
    std::ifstream in(path, std::ios::binary);
    if (!in)
      return cacheError("cannot read cache entry " + path);
    std::stringstream buf;
    buf << in.rdbuf();
    json entry = json::parse(buf.str(), nullptr, /*allow_exceptions=*/false);
    if (entry.is_discarded() || !entry.is_object())
      return cacheError("cache entry " + path + " is not valid JSON");
    const json *resp = entry.contains("response") ? &entry["response"] : nullptr;
    if (entry.value("format", 0) != kFormat || !resp || !resp->is_object() ||
        !resp->contains("content") || !(*resp)["content"].is_string())
      return cacheError("cache entry " + path +
                        " is not a format-1 SimpleBPF cache entry");
    if (entry.value("key", std::string()) != key)
      return cacheError("cache entry " + path + " holds another key");
    CachedAnswer answer;
    answer.content = (*resp)["content"].get<std::string>();
    answer.model = resp->value("model", std::string());
    answer.finishReason = resp->value("finish_reason", std::string());
    return std::optional<CachedAnswer>(std::move(answer));
  } catch (const std::exception &e) {
    return cacheError(std::string("cache lookup failed: ") + e.what());
  } catch (...) {
    return cacheError("cache lookup failed");
  }
}

Result<std::string> ResponseCache::store(const std::string &key, unsigned n,
                                         const std::string &canonicalRequest,
                                         const CachedAnswer &answer) const {
  try {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec)
      return cacheError("cannot create cache directory " + dir_ + ": " +
                        ec.message());
    json entry;
    entry["format"] = kFormat;
    entry["key"] = key;
    entry["occurrence"] = n;
    entry["request"] = json::parse(canonicalRequest);
    entry["response"] = {{"content", answer.content},
                         {"model", answer.model},
                         {"finish_reason", answer.finishReason}};
    // Invalid UTF-8 from an endpoint is replaced rather than refused.
    std::string text =
        entry.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
    std::string path = entryPath(key, n);
    std::string tmp = path + ".tmp" + std::to_string(::getpid());
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      if (!out)
        return cacheError("cannot write cache entry " + tmp);
      out << text;
      out.flush();
      if (!out)
        return cacheError("cannot write cache entry " + tmp);
    }
    fs::rename(tmp, path, ec);
    if (ec) {
      fs::remove(tmp, ec);
      return cacheError("cannot write cache entry " + path);
    }
    return path;
  } catch (const std::exception &e) {
    return cacheError(std::string("cache store failed: ") + e.what());
  } catch (...) {
    return cacheError("cache store failed");
  }
}

} // namespace sbpf::llm
