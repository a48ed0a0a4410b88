//===- Extract.cpp - The first ```c block of an answer --------------------===//
#include "sbpf/LLM/Extract.h"

#include <optional>
#include <vector>

namespace sbpf::llm {
namespace {

struct Line {
  size_t begin; ///< offset of the first character
  size_t end;   ///< offset just past the '\n' (or the end of the text)
  std::string_view text; ///< without '\n' and a trailing '\r'
};

std::vector<Line> splitLines(std::string_view s) {
  std::vector<Line> lines;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t nl = s.find('\n', pos);
    size_t end = nl == std::string_view::npos ? s.size() : nl + 1;
    std::string_view text =
        s.substr(pos, (nl == std::string_view::npos ? s.size() : nl) - pos);
    if (!text.empty() && text.back() == '\r')
      text.remove_suffix(1);
    lines.push_back({pos, end, text});
    pos = end;
  }
  return lines;
}

std::string_view trimLeft(std::string_view s) {
  size_t i = s.find_first_not_of(" \t");
  return i == std::string_view::npos ? std::string_view() : s.substr(i);
}

/// The info string's first word when `line` is a fence, or nullopt.
std::optional<std::string_view> fence(std::string_view line) {
  line = trimLeft(line);
  if (line.substr(0, 3) != "```")
    return std::nullopt;
  std::string_view info = trimLeft(line.substr(3));
  size_t end = info.find_first_of(" \t{");
  return info.substr(0, end);
}

std::string quote(std::string_view answer) {
  std::string q(answer.substr(0, 80));
  for (char &c : q)
    if (c == '\n' || c == '\r' || c == '\t')
      c = ' ';
  if (answer.size() > 80)
    q += "...";
  return "\"" + q + "\"";
}

} // namespace

Result<std::string> extractCCode(std::string_view answer) {
  std::vector<Line> lines = splitLines(answer);
  bool sawOtherFence = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    auto info = fence(lines[i].text);
    if (!info)
      continue;
    bool isC = *info == "c" || *info == "C";
    // Find the closing fence of this block either way, to skip over it.
    size_t close = i + 1;
    while (close < lines.size() && !fence(lines[close].text))
      ++close;
    if (!isC) {
      sawOtherFence = true;
      i = close; // the closing fence (or the end)
      continue;
    }
    if (close == lines.size())
      return Error{ErrorKind::NoCode,
                   "the answer's ```c block is not closed: " + quote(answer)};
    size_t begin = lines[i].end, end = lines[close].begin;
    std::string code(answer.substr(begin, end - begin));
    if (code.find_first_not_of(" \t\r\n") == std::string::npos)
      return Error{ErrorKind::NoCode, "the answer's ```c block is empty"};
    return code;
  }
  return Error{ErrorKind::NoCode,
               std::string(sawOtherFence
                               ? "the answer has fenced blocks but none "
                                 "marked ```c: "
                               : "the answer has no fenced ```c block: ") +
                   quote(answer)};
}

} // namespace sbpf::llm
