//===- TestServer.cpp - A scripted OpenAI-compatible HTTP server ----------===//
#include "TestServer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace sbpf::llm::test {
namespace {

using Clock = std::chrono::steady_clock;

int remainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  deadline - Clock::now())
                  .count();
  return left > 0 ? int(std::min<long long>(left, 1'000'000)) : 0;
}

/// Waits for `events` on `fd` until the deadline; false on timeout/error.
bool waitFor(int fd, short events, Clock::time_point deadline) {
  while (true) {
    int ms = remainingMs(deadline);
    if (ms == 0)
      return false;
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, ms);
    if (r > 0)
      return true;
    if (r == 0)
      return false;
    if (errno != EINTR)
      return false;
  }
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return s;
}

/// Reads one HTTP request (headers, then Content-Length bytes of body).
bool readRequest(int fd, Clock::time_point deadline, ReceivedRequest &req) {
  std::string &raw = req.raw;
  size_t headerEnd = std::string::npos;
  size_t need = std::string::npos;
  char buf[4096];
  while (true) {
    if (headerEnd == std::string::npos) {
      headerEnd = raw.find("\r\n\r\n");
      if (headerEnd != std::string::npos) {
        std::string head = raw.substr(0, headerEnd);
        size_t lineEnd = head.find("\r\n");
        std::string first = head.substr(0, lineEnd);
        size_t sp1 = first.find(' '), sp2 = first.rfind(' ');
        if (sp1 == std::string::npos || sp2 <= sp1)
          return false;
        req.method = first.substr(0, sp1);
        req.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
        size_t pos = lineEnd == std::string::npos ? head.size() : lineEnd + 2;
        while (pos < head.size()) {
          size_t e = head.find("\r\n", pos);
          if (e == std::string::npos)
            e = head.size();
          std::string line = head.substr(pos, e - pos);
          size_t colon = line.find(':');
          if (colon != std::string::npos) {
            std::string value = line.substr(colon + 1);
            value.erase(0, value.find_first_not_of(" \t"));
            req.headers[lower(line.substr(0, colon))] = value;
          }
          pos = e + 2;
        }
        auto cl = req.headers.find("content-length");
        need = headerEnd + 4 +
               (cl == req.headers.end() ? 0 : std::stoul(cl->second));
        if (req.headers.count("expect")) {
          static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
          (void)!::send(fd, cont, sizeof(cont) - 1, MSG_NOSIGNAL);
        }
      }
    }
    if (need != std::string::npos && raw.size() >= need) {
      req.body = raw.substr(headerEnd + 4, need - headerEnd - 4);
      return true;
    }
    if (!waitFor(fd, POLLIN, deadline))
      return false;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      return false;
    raw.append(buf, size_t(n));
  }
}

void sendAll(int fd, const std::string &data, Clock::time_point deadline) {
  size_t off = 0;
  while (off < data.size()) {
    if (!waitFor(fd, POLLOUT, deadline))
      return;
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0)
      return;
    off += size_t(n);
  }
}

const char *reason(int status) {
  switch (status) {
  case 200: return "OK";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 429: return "Too Many Requests";
  case 500: return "Internal Server Error";
  case 503: return "Service Unavailable";
  default: return "Status";
  }
}

} // namespace

TestServer::TestServer(std::vector<ScriptedResponse> script,
                       std::chrono::milliseconds deadline)
    : script_(std::move(script)), deadline_(Clock::now() + deadline) {
  listenFd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0; // the kernel picks a free port
  socklen_t len = sizeof addr;
  if (listenFd_ < 0 ||
      ::bind(listenFd_, reinterpret_cast<sockaddr *>(&addr), sizeof addr) ||
      ::listen(listenFd_, 8) ||
      ::getsockname(listenFd_, reinterpret_cast<sockaddr *>(&addr), &len)) {
    if (listenFd_ >= 0)
      ::close(listenFd_);
    listenFd_ = -1;
    return;
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { run(); });
}

TestServer::~TestServer() { join(); }

std::string TestServer::baseUrl() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/v1";
}

void TestServer::join() {
  if (thread_.joinable())
    thread_.join();
  if (listenFd_ >= 0) {
    ::close(listenFd_);
    listenFd_ = -1;
  }
}

void TestServer::run() {
  for (const ScriptedResponse &resp : script_) {
    if (!waitFor(listenFd_, POLLIN, deadline_))
      break;
    int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0)
      break;
    ReceivedRequest req;
    bool ok = readRequest(fd, deadline_, req);
    requests_.push_back(std::move(req));
    if (ok && resp.hang) {
      // Hold the connection, answering nothing, until the client hangs up.
      char buf[256];
      while (waitFor(fd, POLLIN, deadline_) &&
             ::recv(fd, buf, sizeof buf, 0) > 0) {
      }
    } else if (ok) {
      std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " " +
                        reason(resp.status) + "\r\n";
      out += "Content-Type: application/json\r\n";
      for (const auto &[name, value] : resp.headers)
        out += name + ": " + value + "\r\n";
      out += "Content-Length: " + std::to_string(resp.body.size()) + "\r\n";
      out += "Connection: close\r\n\r\n";
      out += resp.body;
      sendAll(fd, out, deadline_);
      ::shutdown(fd, SHUT_WR);
      // Let the client read everything before the socket goes away.
      char buf[256];
      auto linger = std::min(deadline_, Clock::now() + std::chrono::seconds(2));
      while (waitFor(fd, POLLIN, linger) && ::recv(fd, buf, sizeof buf, 0) > 0) {
      }
    }
    ::close(fd);
  }
  ::close(listenFd_);
  listenFd_ = -1;
}

std::string TestServer::completion(const std::string &content,
                                   const std::string &model) {
  nlohmann::json j = {
      {"id", "chatcmpl-test"},
      {"object", "chat.completion"},
      {"created", 1700000000},
      {"model", model},
      {"choices",
       {{{"index", 0},
         {"message", {{"role", "assistant"}, {"content", content}}},
         {"finish_reason", "stop"}}}},
      {"usage",
       {{"prompt_tokens", 10}, {"completion_tokens", 20}, {"total_tokens", 30}}}};
  return j.dump();
}

ClosedPort::ClosedPort() {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd_ >= 0 &&
      ::bind(fd_, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd_, reinterpret_cast<sockaddr *>(&addr), &len) == 0)
    port_ = ntohs(addr.sin_port);
}

ClosedPort::~ClosedPort() {
  if (fd_ >= 0)
    ::close(fd_);
}

} // namespace sbpf::llm::test
