//===- TestServer.h - A scripted OpenAI-compatible HTTP server --*- C++ -*-===//
//
// For the client's tests: listens on 127.0.0.1 on a port the kernel picks,
// answers one connection per scripted response, in order, and then stops by
// itself (or at its deadline, whatever happens). One thread, plain POSIX
// sockets, HTTP/1.1 with Connection: close. It records every request it read.
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_UNITTESTS_LLM_TESTSERVER_H
#define SBPF_UNITTESTS_LLM_TESTSERVER_H

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace sbpf::llm::test {

struct ScriptedResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// Read the request, then never answer: hold the connection until the
  /// client gives up (closes it) or the server's deadline.
  bool hang = false;
};

struct ReceivedRequest {
  std::string method;
  std::string target; ///< the request target, e.g. /v1/chat/completions
  std::map<std::string, std::string> headers; ///< names in lower case
  std::string body;
  std::string raw; ///< everything read, headers and body
};

class TestServer {
public:
  explicit TestServer(std::vector<ScriptedResponse> script,
                      std::chrono::milliseconds deadline =
                          std::chrono::milliseconds(10'000));
  ~TestServer();

  uint16_t port() const { return port_; }
  /// http://127.0.0.1:PORT/v1
  std::string baseUrl() const;
  /// Waits until the script is done (or the deadline), closes the socket.
  void join();
  /// Valid after join().
  const std::vector<ReceivedRequest> &requests() const { return requests_; }

  /// A chat completion body whose message content is `content`.
  static std::string completion(const std::string &content,
                                const std::string &model = "test-model");

private:
  void run();
  int listenFd_ = -1;
  uint16_t port_ = 0;
  std::vector<ScriptedResponse> script_;
  std::chrono::steady_clock::time_point deadline_;
  std::vector<ReceivedRequest> requests_;
  std::thread thread_;
};

/// A TCP port on 127.0.0.1 where nothing listens: the socket is bound (so no
/// one else gets the port) but not listening, so connecting is refused.
class ClosedPort {
public:
  ClosedPort();
  ~ClosedPort();
  uint16_t port() const { return port_; }

private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

} // namespace sbpf::llm::test

#endif
