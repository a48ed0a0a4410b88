//===- SHA256.h - SHA-256 of a byte string ----------------------*- C++ -*-===//
//
// A small self-contained SHA-256 (FIPS 180-4) for the cache keys, so the
// client needs no crypto library. Not constant-time; not for secrets.
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_LLM_SHA256_H
#define SBPF_LLM_SHA256_H

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace sbpf::llm {

std::array<uint8_t, 32> sha256(std::string_view data);
/// The digest as 64 lowercase hex digits.
std::string sha256Hex(std::string_view data);

} // namespace sbpf::llm

#endif // SBPF_LLM_SHA256_H
