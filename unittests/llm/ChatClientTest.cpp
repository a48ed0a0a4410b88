//===- ChatClientTest.cpp - The client against a scripted local server ----===//
//
// Every test talks to a TestServer on 127.0.0.1 (or to a closed port there);
// nothing else is contacted. Delays are small: backoff in tens of ms, a 200 ms
// timeout.
//
//===----------------------------------------------------------------------===//
#include "TestServer.h"

#include "sbpf/LLM/ChatClient.h"
#include "sbpf/LLM/Extract.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <stdlib.h>

using namespace sbpf::llm;
using namespace sbpf::llm::test;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kKey = "sk-test-SECRET-123";
const std::string kAnswer =
    "Here is the program:\n\n```c\n#include <linux/bpf.h>\n"
    "int xdp_prog(struct xdp_md *ctx) { return XDP_PASS; }\n```\n"
    "It passes every packet.";

ClientConfig configFor(const std::string &url,
                       std::vector<std::string> *logs = nullptr) {
  ClientConfig c;
  c.baseUrl = url;
  c.apiKey = kKey;
  c.model = "test-model";
  c.connectTimeoutMs = 2'000;
  c.timeoutMs = 5'000;
  c.maxRetries = 2;
  c.initialBackoffMs = 10;
  c.maxBackoffMs = 100;
  c.maxRetryAfterMs = 100;
  if (logs)
    c.log = [logs](const std::string &line) { logs->push_back(line); };
  return c;
}

ChatRequest request(const std::string &prompt = "Write an XDP program.") {
  ChatRequest r;
  r.messages = {{"system", "You write eBPF C."}, {"user", prompt}};
  r.temperature = 0.2;
  return r;
}

long msSince(Clock::time_point t) {
  return long(std::chrono::duration_cast<std::chrono::milliseconds>(
                  Clock::now() - t)
                  .count());
}

ScriptedResponse ok(const std::string &content) {
  return {200, {}, TestServer::completion(content), false};
}

void expectNoKey(const std::string &text) {
  EXPECT_EQ(text.find(kKey), std::string::npos) << text;
  EXPECT_EQ(text.find("SECRET"), std::string::npos) << text;
}

/// A fresh directory under the test's temporary directory.
std::string makeTempDir() {
  std::string tmpl = (fs::path(::testing::TempDir()) / "sbpf-llm-XXXXXX").string();
  char *dir = ::mkdtemp(tmpl.data());
  return dir ? std::string(dir) : std::string();
}

std::string readFile(const fs::path &p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

} // namespace

TEST(ChatClient, CorrectAnswerAndTheRequestSent) {
  TestServer server({ok(kAnswer)});
  ASSERT_NE(server.port(), 0);
  ChatClient client(configFor(server.baseUrl()));
  auto answer = client.completeCode(request());
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_EQ(answer->code, "#include <linux/bpf.h>\n"
                          "int xdp_prog(struct xdp_md *ctx) { return XDP_PASS; }\n");
  EXPECT_EQ(answer->response.content, kAnswer);
  EXPECT_EQ(answer->response.model, "test-model");
  EXPECT_EQ(answer->response.finishReason, "stop");
  EXPECT_EQ(answer->response.attempts, 1);
  EXPECT_FALSE(answer->response.fromCache);
  EXPECT_EQ(answer->response.cacheKey.size(), 64u);
  server.join();

  ASSERT_EQ(server.requests().size(), 1u);
  const ReceivedRequest &req = server.requests()[0];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, "/v1/chat/completions");
  EXPECT_EQ(req.headers.at("authorization"), "Bearer " + kKey);
  EXPECT_EQ(req.headers.at("content-type"), "application/json");
  auto body = nlohmann::json::parse(req.body);
  EXPECT_EQ(body["model"], "test-model");
  EXPECT_EQ(body["temperature"], 0.2);
  EXPECT_EQ(body["stream"], false);
  ASSERT_EQ(body["messages"].size(), 2u);
  EXPECT_EQ(body["messages"][0]["role"], "system");
  EXPECT_EQ(body["messages"][0]["content"], "You write eBPF C.");
  EXPECT_EQ(body["messages"][1]["role"], "user");
  EXPECT_EQ(body["messages"][1]["content"], "Write an XDP program.");
  EXPECT_FALSE(body.contains("max_tokens"));
  // The key is in the Authorization header and nowhere else.
  EXPECT_EQ(req.body.find(kKey), std::string::npos);
  size_t first = req.raw.find(kKey);
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(req.raw.find(kKey, first + 1), std::string::npos);
}

TEST(ChatClient, FullEndpointUrlAndOptionalParameters) {
  TestServer server({ok(kAnswer)});
  ClientConfig c = configFor(server.baseUrl() + "/chat/completions");
  c.apiKey.clear(); // local servers need none: no Authorization header
  ChatClient client(c);
  ChatRequest r = request();
  r.maxTokens = 512;
  r.seed = 7;
  ASSERT_TRUE(client.complete(r));
  server.join();
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].target, "/v1/chat/completions");
  EXPECT_EQ(server.requests()[0].headers.count("authorization"), 0u);
  auto body = nlohmann::json::parse(server.requests()[0].body);
  EXPECT_EQ(body["max_tokens"], 512);
  EXPECT_EQ(body["seed"], 7);
}

TEST(ChatClient, MalformedJson) {
  TestServer server({{200, {}, "{\"choices\": [ oops", false},
                     {200, {}, "{\"object\": \"list\"}", false}});
  ChatClient client(configFor(server.baseUrl()));
  auto bad = client.complete(request());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::MalformedJson);
  EXPECT_NE(bad.error().message.find("not JSON"), std::string::npos);
  EXPECT_NE(bad.error().message.find("oops"), std::string::npos);
  EXPECT_EQ(bad.error().attempts, 1);
  auto notChat = client.complete(request());
  ASSERT_FALSE(notChat);
  EXPECT_EQ(notChat.error().kind, ErrorKind::MalformedJson);
  EXPECT_NE(notChat.error().message.find("no \"choices\""), std::string::npos);
}

TEST(ChatClient, NoContent) {
  TestServer server(
      {{200, {}, R"({"choices":[{"message":{"role":"assistant","content":null},"finish_reason":"length"}]})", false},
       {200, {}, R"({"choices":[]})", false},
       {200, {}, R"({"error":{"message":"model not loaded"}})", false}});
  ChatClient client(configFor(server.baseUrl()));
  auto nullContent = client.complete(request());
  ASSERT_FALSE(nullContent);
  EXPECT_EQ(nullContent.error().kind, ErrorKind::NoContent);
  EXPECT_NE(nullContent.error().message.find("finish_reason: length"),
            std::string::npos);
  auto noChoices = client.complete(request());
  ASSERT_FALSE(noChoices);
  EXPECT_EQ(noChoices.error().kind, ErrorKind::NoContent);
  auto error = client.complete(request());
  ASSERT_FALSE(error);
  EXPECT_EQ(error.error().kind, ErrorKind::NoContent);
  EXPECT_NE(error.error().message.find("model not loaded"), std::string::npos);
}

TEST(ChatClient, AnswerWithoutCode) {
  TestServer server({ok("Sorry, I can only describe it in words.")});
  ChatClient client(configFor(server.baseUrl()));
  auto answer = client.completeCode(request());
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().kind, ErrorKind::NoCode);
  EXPECT_EQ(answer.error().attempts, 1);
  EXPECT_NE(answer.error().message.find("Sorry, I can only"), std::string::npos);
}

TEST(ChatClient, RetriesAfter429HonouringACappedRetryAfter) {
  // The server asks for 30 s; the client caps it at maxRetryAfterMs (100 ms).
  TestServer server(
      {{429, {{"Retry-After", "30"}}, R"({"error":{"message":"slow down"}})", false},
       ok(kAnswer)});
  std::vector<std::string> logs;
  ChatClient client(configFor(server.baseUrl(), &logs));
  auto start = Clock::now();
  auto answer = client.completeCode(request());
  long elapsed = msSince(start);
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_EQ(answer->response.attempts, 2);
  EXPECT_GE(elapsed, 90);   // it did wait (the cap, 100 ms)...
  EXPECT_LT(elapsed, 3000); // ...but not 30 s
  server.join();
  EXPECT_EQ(server.requests().size(), 2u);
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_NE(logs[0].find("HTTP 429"), std::string::npos);
  EXPECT_NE(logs[0].find("retrying in 100 ms"), std::string::npos);
}

TEST(ChatClient, RetriesAfter500WithBackoff) {
  TestServer server({{500, {}, "internal error", false}, ok(kAnswer)});
  ClientConfig c = configFor(server.baseUrl());
  c.initialBackoffMs = 50;
  ChatClient client(c);
  auto start = Clock::now();
  auto answer = client.complete(request());
  long elapsed = msSince(start);
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_EQ(answer->attempts, 2);
  EXPECT_GE(elapsed, 45);
  EXPECT_LT(elapsed, 3000);
  server.join();
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST(ChatClient, RetriesAreBounded) {
  // maxRetries = 2: three attempts, backoff 10 then 20 ms, then the error.
  TestServer server({{503, {}, "busy", false},
                     {503, {}, "busy", false},
                     {503, {}, "still busy", false},
                     ok(kAnswer)}, std::chrono::milliseconds(600));
  std::vector<std::string> logs;
  ChatClient client(configFor(server.baseUrl(), &logs));
  auto start = Clock::now();
  auto answer = client.complete(request());
  long elapsed = msSince(start);
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().kind, ErrorKind::HttpStatus);
  EXPECT_EQ(answer.error().httpStatus, 503);
  EXPECT_EQ(answer.error().attempts, 3);
  EXPECT_NE(answer.error().message.find("HTTP 503 Service Unavailable"),
            std::string::npos);
  EXPECT_NE(answer.error().message.find("after 3 attempts"), std::string::npos);
  EXPECT_NE(answer.error().message.find("still busy"), std::string::npos);
  EXPECT_GE(elapsed, 25);
  EXPECT_LT(elapsed, 3000);
  ASSERT_EQ(logs.size(), 2u);
  EXPECT_NE(logs[0].find("retrying in 10 ms"), std::string::npos);
  EXPECT_NE(logs[1].find("retrying in 20 ms"), std::string::npos);
  server.join(); // at its deadline: no fourth request came
  EXPECT_EQ(server.requests().size(), 3u);
}

TEST(ChatClient, OtherStatusesAreNotRetried) {
  TestServer server(
      {{404, {}, R"({"error":{"message":"model 'x' not found"}})", false}});
  ChatClient client(configFor(server.baseUrl()));
  auto answer = client.complete(request());
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().kind, ErrorKind::HttpStatus);
  EXPECT_EQ(answer.error().httpStatus, 404);
  EXPECT_EQ(answer.error().attempts, 1);
  EXPECT_NE(answer.error().message.find("HTTP 404 Not Found from http://127.0.0.1:"),
            std::string::npos);
  EXPECT_NE(answer.error().message.find("model 'x' not found"), std::string::npos);
}

TEST(ChatClient, TimeoutWithinItsLimit) {
  TestServer server({{200, {}, "", true}}, std::chrono::milliseconds(3000));
  ClientConfig c = configFor(server.baseUrl());
  c.timeoutMs = 200;
  ChatClient client(c);
  auto start = Clock::now();
  auto answer = client.complete(request());
  long elapsed = msSince(start);
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().kind, ErrorKind::Timeout);
  EXPECT_NE(answer.error().message.find("within 200 ms"), std::string::npos);
  EXPECT_EQ(answer.error().attempts, 1); // timeouts are not retried
  EXPECT_GE(elapsed, 150);
  EXPECT_LT(elapsed, 1500);
  server.join();
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(ChatClient, ConnectionRefused) {
  ClosedPort closed;
  ASSERT_NE(closed.port(), 0);
  ChatClient client(configFor("http://127.0.0.1:" +
                              std::to_string(closed.port()) + "/v1"));
  auto answer = client.complete(request());
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().kind, ErrorKind::ConnectionRefused);
  EXPECT_EQ(answer.error().attempts, 1);
  EXPECT_NE(answer.error().message.find("connection refused"), std::string::npos);
  EXPECT_EQ(errorKindName(answer.error().kind), "connection-refused");
}

TEST(ChatClient, InvalidConfigSendsNothing) {
  ClientConfig c = configFor("");
  ChatClient client(c);
  auto answer = client.complete(request());
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().kind, ErrorKind::InvalidConfig);
  EXPECT_EQ(answer.error().attempts, 0);
}

TEST(ChatClient, TheKeyNeverAppearsInMessagesLogsOrAnswers) {
  // An endpoint that echoes the key: in a 401 body, in a malformed body, in a
  // retried 500, and in the answer itself.
  TestServer server(
      {{401, {}, R"({"error":{"message":"Incorrect API key provided: )" + kKey + R"("}})", false},
       {200, {}, "not json; your key is " + kKey, false},
       {500, {}, "oops " + kKey, false},
       ok("Your key is " + kKey + ".\n```c\nint key_is_" + kKey.substr(0, 2) +
          ";\n```\n")});
  std::vector<std::string> logs;
  ChatClient client(configFor(server.baseUrl(), &logs));

  auto unauthorized = client.complete(request());
  ASSERT_FALSE(unauthorized);
  EXPECT_EQ(unauthorized.error().httpStatus, 401);
  EXPECT_NE(unauthorized.error().message.find("Incorrect API key provided: [REDACTED]"),
            std::string::npos) << unauthorized.error().message;
  expectNoKey(unauthorized.error().message);

  auto malformed = client.complete(request());
  ASSERT_FALSE(malformed);
  EXPECT_EQ(malformed.error().kind, ErrorKind::MalformedJson);
  expectNoKey(malformed.error().message);

  auto echoed = client.complete(request());
  ASSERT_TRUE(echoed) << echoed.error().message;
  expectNoKey(echoed->content);
  EXPECT_NE(echoed->content.find("Your key is [REDACTED]."), std::string::npos);

  ASSERT_FALSE(logs.empty());
  for (const std::string &line : logs)
    expectNoKey(line);
}

TEST(ChatClient, RecordThenReplayWithTheServerStopped) {
  std::string dir = makeTempDir();
  ASSERT_FALSE(dir.empty());
  // Same request twice (two candidates), then another one.
  const std::string a1 = "first\n```c\nint a = 1;\n```\n";
  const std::string a2 = "second \xc3\xa9\n```c\nint a = 2;\n```\n";
  const std::string b = "```c\nint b;\n```";
  std::vector<std::string> recorded;
  std::string url;
  {
    TestServer server({ok(a1), ok(a2), ok(b)});
    url = server.baseUrl();
    ClientConfig c = configFor(url);
    c.cacheMode = CacheMode::Record;
    c.cacheDir = dir;
    ChatClient client(c);
    for (const ChatRequest &r : {request(), request(), request("other")}) {
      auto answer = client.complete(r);
      ASSERT_TRUE(answer) << answer.error().message;
      EXPECT_FALSE(answer->fromCache);
      recorded.push_back(answer->content);
    }
    server.join();
    EXPECT_EQ(server.requests().size(), 3u);
  }
  EXPECT_EQ(recorded, (std::vector<std::string>{a1, a2, b}));

  // The server is gone: its port refuses connections now, so any request
  // the replaying client sent would fail.
  ClientConfig c = configFor(url);
  c.cacheMode = CacheMode::Replay;
  c.cacheDir = dir;
  ChatClient replay(c);
  std::vector<std::string> replayed;
  for (const ChatRequest &r : {request(), request(), request("other")}) {
    auto answer = replay.complete(r);
    ASSERT_TRUE(answer) << answer.error().message;
    EXPECT_TRUE(answer->fromCache);
    EXPECT_EQ(answer->attempts, 0);
    EXPECT_EQ(answer->model, "test-model");
    replayed.push_back(answer->content);
  }
  EXPECT_EQ(replayed, recorded); // byte for byte

  // A third occurrence, or a request never recorded, is a miss.
  auto third = replay.complete(request());
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().kind, ErrorKind::CacheMiss);
  EXPECT_NE(third.error().message.find("nothing was sent"), std::string::npos);
  auto unknown = replay.complete(request("never asked"));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().kind, ErrorKind::CacheMiss);

  // A second replaying client starts counting again from the first entry.
  ChatClient again(c);
  auto code = again.completeCode(request());
  ASSERT_TRUE(code);
  EXPECT_EQ(code->code, "int a = 1;\n");

  // The cache holds three entries named <sha256>-<n>.json; neither their
  // names nor their contents hold the key; each is the canonical request.
  std::regex name("[0-9a-f]{64}-[0-9]+\\.json");
  int entries = 0;
  for (const auto &e : fs::directory_iterator(dir)) {
    ++entries;
    std::string file = e.path().filename().string();
    EXPECT_TRUE(std::regex_match(file, name)) << file;
    expectNoKey(file);
    std::string text = readFile(e.path());
    expectNoKey(text);
    auto j = nlohmann::json::parse(text);
    EXPECT_EQ(j["format"], 1);
    EXPECT_EQ(j["request"]["path"], "/v1/chat/completions");
    EXPECT_EQ(j["request"]["model"], "test-model");
    EXPECT_FALSE(j["request"].contains("api_key"));
  }
  EXPECT_EQ(entries, 3);
  fs::remove_all(dir);
}

TEST(ChatClient, RecordRedactsAnEchoedKeyInTheCache) {
  std::string dir = makeTempDir();
  TestServer server({ok("key " + kKey + "\n```c\nint x;\n```\n")});
  ClientConfig c = configFor(server.baseUrl());
  c.cacheMode = CacheMode::Record;
  c.cacheDir = dir;
  ChatClient client(c);
  auto answer = client.complete(request("the prompt mentions " + kKey));
  ASSERT_TRUE(answer) << answer.error().message;
  server.join();
  int entries = 0;
  for (const auto &e : fs::recursive_directory_iterator(dir)) {
    ++entries;
    expectNoKey(e.path().string());
    expectNoKey(readFile(e.path()));
  }
  EXPECT_EQ(entries, 1);
  fs::remove_all(dir);
}

TEST(ChatClient, CorruptOrUnwritableCache) {
  std::string dir = makeTempDir();
  ClientConfig c = configFor("http://127.0.0.1:9/v1"); // never contacted
  c.cacheMode = CacheMode::Replay;
  c.cacheDir = dir;
  std::string key = cacheKey(c, request());
  std::ofstream(fs::path(dir) / (key + "-0.json")) << "{ broken";
  ChatClient replay(c);
  auto answer = replay.complete(request());
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().kind, ErrorKind::CacheError);

  // Recording into a path below a regular file cannot create the directory.
  TestServer server({ok(kAnswer)});
  ClientConfig r = configFor(server.baseUrl());
  r.cacheMode = CacheMode::Record;
  r.cacheDir = (fs::path(dir) / (key + "-0.json") / "sub").string();
  ChatClient record(r);
  auto stored = record.complete(request());
  ASSERT_FALSE(stored);
  EXPECT_EQ(stored.error().kind, ErrorKind::CacheError);
  server.join();
  fs::remove_all(dir);
}

TEST(ChatClient, RetryAfterAsAnHttpDate) {
  // A date in the past means "now": no wait, not the 2 s backoff.
  TestServer server(
      {{429, {{"Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"}}, "{}", false},
       ok(kAnswer)});
  std::vector<std::string> logs;
  ClientConfig c = configFor(server.baseUrl(), &logs);
  c.initialBackoffMs = 2'000;
  c.maxBackoffMs = 2'000;
  ChatClient client(c);
  auto start = Clock::now();
  auto answer = client.complete(request());
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_LT(msSince(start), 1'500);
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_NE(logs[0].find("retrying in 0 ms"), std::string::npos) << logs[0];
}

TEST(ChatClient, LoopbackBypassesTheEnvironmentsProxy) {
  // A proxy variable pointing at a closed port: were it used, the request
  // would be refused.
  ClosedPort proxy;
  std::string proxyUrl = "http://127.0.0.1:" + std::to_string(proxy.port());
  const char *saved = ::getenv("http_proxy");
  std::string savedValue = saved ? saved : "";
  ::setenv("http_proxy", proxyUrl.c_str(), 1);
  TestServer server({ok(kAnswer)});
  ChatClient client(configFor(server.baseUrl()));
  auto answer = client.complete(request());
  if (saved)
    ::setenv("http_proxy", savedValue.c_str(), 1);
  else
    ::unsetenv("http_proxy");
  ASSERT_TRUE(answer) << answer.error().message;
  server.join();
  EXPECT_EQ(server.requests().size(), 1u);
}
