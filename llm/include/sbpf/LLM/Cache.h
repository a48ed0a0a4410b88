//===- Cache.h - Record and replay of chat completions ----------*- C++ -*-===//
//
// A directory of JSON files, one per answer, so a run can be reproduced
// exactly without the network:
//   off     the cache is not used;
//   record  every request goes to the endpoint and its answer is written;
//   replay  answers come from the directory only; an entry that was never
//           recorded is an ErrorKind::CacheMiss (nothing is sent).
//
// The key is the SHA-256 of the canonical request: a JSON object with sorted
// keys holding the URL *path* (not host or port), the model, the messages and
// the sampling parameters. The API key is never part of it. Because a run may
// send the same request several times (several candidates at a temperature
// above 0), entries are numbered by occurrence: the n-th time a client sends
// a request with key K it reads or writes `K-n.json` (n from 0). Replaying a
// run in the same order therefore returns the same answers in the same order.
//
// An entry holds {"format", "key", "occurrence", "request" (canonical),
// "response": {"content", "model", "finish_reason"}}; the content is exactly
// the string the client returned when it was recorded.
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_LLM_CACHE_H
#define SBPF_LLM_CACHE_H

#include "sbpf/LLM/Result.h"

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace sbpf::llm {

enum class CacheMode { Off, Record, Replay };

/// "off" | "record" | "replay"; std::nullopt otherwise.
std::optional<CacheMode> parseCacheMode(std::string_view text);
std::string_view cacheModeName(CacheMode mode);

/// What a cache entry keeps of an answer.
struct CachedAnswer {
  std::string content;
  std::string model;        ///< the model the endpoint reported ("" if none)
  std::string finishReason; ///< "" if the endpoint gave none
};

class ResponseCache {
public:
  explicit ResponseCache(std::string directory) : dir_(std::move(directory)) {}

  const std::string &directory() const { return dir_; }

  /// The entry for occurrence `n` of `key`: std::nullopt when the file does not
  /// exist; CacheError when it exists but cannot be read or parsed.
  Result<std::optional<CachedAnswer>> lookup(const std::string &key,
                                             unsigned n) const;
  /// Writes the entry for occurrence `n` of `key` (creating the directory;
  /// written to a temporary file, then renamed). Returns the file's path.
  Result<std::string> store(const std::string &key, unsigned n,
                            const std::string &canonicalRequest,
                            const CachedAnswer &answer) const;
  /// The file of occurrence `n` of `key`.
  std::string entryPath(const std::string &key, unsigned n) const;

  /// The next occurrence number for `key` in this session (0, 1, ...).
  unsigned nextOccurrence(const std::string &key);

private:
  std::string dir_;
  std::mutex mutex_;
  std::map<std::string, unsigned> seen_;
};

} // namespace sbpf::llm

#endif // SBPF_LLM_CACHE_H
