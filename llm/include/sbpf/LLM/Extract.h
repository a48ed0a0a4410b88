//===- Extract.h - The C program in a model's answer ------------*- C++ -*-===//
//
// The model is asked to answer with its program in a fenced ```c block.
// extractCCode takes the first such block: an opening fence at the start of a
// line (spaces before it allowed) whose info string's first word is `c` or
// `C`, up to the next line that starts with ``` (spaces allowed). Other blocks
// (```cpp, ```text, bare ```) are skipped. The code is returned with its
// final newline; \r\n line ends are kept as they are.
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_LLM_EXTRACT_H
#define SBPF_LLM_EXTRACT_H

#include "sbpf/LLM/Result.h"

#include <string>
#include <string_view>

namespace sbpf::llm {

/// The first ```c block of `answer`; ErrorKind::NoCode when there is none, it
/// is not closed, or it is empty (the message says which).
Result<std::string> extractCCode(std::string_view answer);

} // namespace sbpf::llm

#endif // SBPF_LLM_EXTRACT_H
