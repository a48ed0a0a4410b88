//===- TestFiles.h - reading the example inputs in the AppNet unit tests ---===//
#ifndef SBPF_UNITTESTS_APPNET_TESTFILES_H
#define SBPF_UNITTESTS_APPNET_TESTFILES_H

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace sbpf::appnet::test {

/// The whole file, bytes as they are (CRLF and tabs kept).
inline std::string readFile(const std::filesystem::path &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// The `.appnet` files directly in `dir`, sorted so runs are deterministic.
inline std::vector<std::filesystem::path> exampleFiles(const std::string &dir) {
  std::vector<std::filesystem::path> paths;
  for (const auto &entry : std::filesystem::directory_iterator(dir))
    if (entry.path().extension() == ".appnet")
      paths.push_back(entry.path());
  std::sort(paths.begin(), paths.end());
  return paths;
}

} // namespace sbpf::appnet::test

#endif // SBPF_UNITTESTS_APPNET_TESTFILES_H
