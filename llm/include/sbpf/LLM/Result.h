//===- Result.h - Errors of the LLM client, without exceptions --*- C++ -*-===//
//
// Every public function of SBPFLLM returns a value or an Error; nothing
// throws across the API (the library is compiled with exceptions because
// nlohmann/json needs them, its callers are not). An Error has a kind the
// caller can act on (retry later, fall back to the rule-based path, fix the
// configuration) and a one-line message for people. Messages never hold the
// API key: the client redacts it before an Error is built.
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_LLM_RESULT_H
#define SBPF_LLM_RESULT_H

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace sbpf::llm {

enum class ErrorKind {
  InvalidConfig,     ///< no URL or model, bad URL, bad cache mode
  ConnectionRefused, ///< nothing listens at the endpoint's host and port
  ConnectionFailed,  ///< DNS, TLS, reset connection, other transport errors
  Timeout,           ///< connect or total timeout elapsed
  HttpStatus,        ///< a status other than 2xx (after retries for 429/5xx)
  MalformedJson,     ///< the body is not JSON, or not a chat completion
  NoContent,         ///< a completion without choices[0].message.content
  NoCode,            ///< the answer holds no fenced ```c block
  CacheMiss,         ///< replay mode and the entry was never recorded
  CacheError,        ///< the cache directory or an entry cannot be used
  Internal,          ///< anything else (out of memory, library failures)
};

/// "connection-refused", "timeout", ... (stable; used in reports).
std::string_view errorKindName(ErrorKind kind);

struct Error {
  ErrorKind kind = ErrorKind::Internal;
  std::string message;
  /// The HTTP status for HttpStatus (and the last status seen otherwise), or 0.
  int httpStatus = 0;
  /// Requests sent before giving up (0 when none was sent).
  int attempts = 0;
};

/// A value or an Error. Check ok() before value().
template <typename T> class Result {
public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T &value() {
    assert(ok() && "value() of a failed Result");
    return *std::get_if<0>(&v_);
  }
  const T &value() const {
    assert(ok() && "value() of a failed Result");
    return *std::get_if<0>(&v_);
  }
  T *operator->() { return &value(); }
  const T *operator->() const { return &value(); }
  T &operator*() { return value(); }
  const T &operator*() const { return value(); }

  const Error &error() const {
    assert(!ok() && "error() of a successful Result");
    return *std::get_if<1>(&v_);
  }

private:
  std::variant<T, Error> v_;
};

} // namespace sbpf::llm

#endif // SBPF_LLM_RESULT_H
