//===- ConfigTest.cpp - Configuration from flags and the environment ------===//
#include "sbpf/LLM/ChatClient.h"

#include <gtest/gtest.h>

#include <map>

using namespace sbpf::llm;

namespace {
EnvLookup fakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char *name) -> const char * {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}
} // namespace

TEST(Config, FromEnvironment) {
  ClientConfig c = resolveConfig({}, fakeEnv({{"SBPF_LLM_URL", "http://a/v1"},
                                              {"OPENAI_BASE_URL", "http://b/v1"},
                                              {"OPENAI_API_KEY", "sk-x"},
                                              {"SBPF_LLM_MODEL", "m"}}));
  EXPECT_EQ(c.baseUrl, "http://a/v1");
  EXPECT_EQ(c.apiKey, "sk-x");
  EXPECT_EQ(c.model, "m");
  EXPECT_TRUE(c.hasEndpoint());
  EXPECT_TRUE(c.validate());
}

TEST(Config, FallbackAndEmptyVariables) {
  ClientConfig c = resolveConfig({}, fakeEnv({{"SBPF_LLM_URL", ""},
                                              {"OPENAI_BASE_URL", "http://b/v1"}}));
  EXPECT_EQ(c.baseUrl, "http://b/v1");
  EXPECT_FALSE(c.hasEndpoint()); // no model
  auto v = c.validate();
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().kind, ErrorKind::InvalidConfig);
  EXPECT_NE(v.error().message.find("SBPF_LLM_MODEL"), std::string::npos);
}

TEST(Config, FlagsOverrideEnvironment) {
  ConfigFlags flags;
  flags.url = "http://localhost:11434/v1";
  flags.model = "qwen";
  flags.cacheDir = "/tmp/x";
  flags.cacheMode = CacheMode::Replay;
  flags.timeoutMs = 1234;
  ClientConfig c = resolveConfig(
      flags, fakeEnv({{"SBPF_LLM_URL", "http://a/v1"}, {"SBPF_LLM_MODEL", "m"}}));
  EXPECT_EQ(c.baseUrl, "http://localhost:11434/v1");
  EXPECT_EQ(c.model, "qwen");
  EXPECT_EQ(c.cacheDir, "/tmp/x");
  EXPECT_EQ(c.cacheMode, CacheMode::Replay);
  EXPECT_EQ(c.timeoutMs, 1234);
}

TEST(Config, Validation) {
  ClientConfig c;
  c.model = "m";
  EXPECT_FALSE(c.hasEndpoint());
  EXPECT_FALSE(c.validate()); // no URL
  c.cacheMode = CacheMode::Replay;
  EXPECT_TRUE(c.hasEndpoint()); // replay needs no URL...
  EXPECT_FALSE(c.validate());   // ...but a directory
  c.cacheDir = "/tmp/d";
  EXPECT_TRUE(c.validate());
  c.baseUrl = "ftp://x";
  EXPECT_FALSE(c.validate());
}

TEST(Config, CacheModes) {
  EXPECT_EQ(parseCacheMode("off"), CacheMode::Off);
  EXPECT_EQ(parseCacheMode("record"), CacheMode::Record);
  EXPECT_EQ(parseCacheMode("replay"), CacheMode::Replay);
  EXPECT_FALSE(parseCacheMode("Replay"));
  EXPECT_EQ(cacheModeName(CacheMode::Record), "record");
}

TEST(Config, CacheKeyIgnoresHostPortAndApiKey) {
  ClientConfig a;
  a.baseUrl = "http://127.0.0.1:1111/v1";
  a.model = "m";
  a.apiKey = "sk-test-SECRET-123";
  ClientConfig b = a;
  b.baseUrl = "http://localhost:2222/v1/";
  b.apiKey = "another";
  ChatRequest r;
  r.messages = {{"user", "hello"}};
  EXPECT_EQ(cacheKey(a, r), cacheKey(b, r));
  EXPECT_EQ(canonicalRequest(a, r).find("SECRET"), std::string::npos);
  EXPECT_EQ(canonicalRequest(a, r),
            "{\"format\":1,\"messages\":[{\"content\":\"hello\",\"role\":"
            "\"user\"}],\"model\":\"m\",\"path\":\"/v1/chat/completions\","
            "\"temperature\":0.0}");
  // What changes the answer changes the key.
  ClientConfig c = a;
  c.baseUrl = "http://127.0.0.1:1111/other";
  EXPECT_NE(cacheKey(a, r), cacheKey(c, r));
  c = a;
  c.model = "m2";
  EXPECT_NE(cacheKey(a, r), cacheKey(c, r));
  ChatRequest r2 = r;
  r2.temperature = 0.7;
  EXPECT_NE(cacheKey(a, r), cacheKey(a, r2));
  r2 = r;
  r2.messages[0].role = "system";
  EXPECT_NE(cacheKey(a, r), cacheKey(a, r2));
  r2 = r;
  r2.seed = 1;
  EXPECT_NE(cacheKey(a, r), cacheKey(a, r2));
}
