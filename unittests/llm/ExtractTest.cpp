//===- ExtractTest.cpp - The first ```c block of an answer ----------------===//
#include "sbpf/LLM/Extract.h"
#include "sbpf/LLM/Redact.h"

#include <gtest/gtest.h>

using namespace sbpf::llm;

TEST(Extract, FirstCBlock) {
  auto code = extractCCode("Here it is:\n```c\nint x;\nint y;\n```\nand\n"
                           "```c\nint z;\n```\n");
  ASSERT_TRUE(code) << code.error().message;
  EXPECT_EQ(*code, "int x;\nint y;\n");
}

TEST(Extract, SkipsOtherLanguagesAndKeepsCRLF) {
  auto code = extractCCode("```text\nnot this\n```\r\n  ```C\r\nint a;\r\n"
                           "  ```\r\n");
  ASSERT_TRUE(code) << code.error().message;
  EXPECT_EQ(*code, "int a;\r\n");
}

TEST(Extract, InfoStringWithMore) {
  auto code = extractCCode("```c title=\"x.bpf.c\"\nint a;\n```");
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, "int a;\n");
}

TEST(Extract, NoCode) {
  auto none = extractCCode("I cannot help with that.");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().kind, ErrorKind::NoCode);
  EXPECT_NE(none.error().message.find("no fenced ```c block"),
            std::string::npos);
  EXPECT_NE(none.error().message.find("I cannot help"), std::string::npos);

  auto cpp = extractCCode("```cpp\nint a;\n```\n```\nint b;\n```\n");
  ASSERT_FALSE(cpp);
  EXPECT_EQ(cpp.error().kind, ErrorKind::NoCode);
  EXPECT_NE(cpp.error().message.find("none marked ```c"), std::string::npos);

  auto open = extractCCode("```c\nint a;\n");
  ASSERT_FALSE(open);
  EXPECT_NE(open.error().message.find("not closed"), std::string::npos);

  auto empty = extractCCode("```c\n\n```\n");
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error().message.find("empty"), std::string::npos);

  // "```c" inside a line is not a fence.
  EXPECT_FALSE(extractCCode("use ```c blocks\n"));
}

TEST(Redact, EveryOccurrence) {
  EXPECT_EQ(redactSecret("k=abc, again abcabc", "abc"),
            "k=[REDACTED], again [REDACTED][REDACTED]");
  EXPECT_EQ(redactSecret("nothing", ""), "nothing");
}
