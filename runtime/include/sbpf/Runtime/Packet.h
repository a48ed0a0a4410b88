//===- Packet.h - test packets: Ethernet/IPv4/UDP and aRPC ------*- C++ -*-===//
//
// Builds the exact bytes of the packets that in-kernel test runs feed to a
// program (BPF_PROG_TEST_RUN): Ethernet II + IPv4 (20-byte header, valid
// checksum) + UDP (valid checksum) + an optional aRPC header and payload.
//
// The aRPC header follows shared/docs/appnet-language.md §6: 31 bytes, every
// multi-byte field little-endian. IPv4 addresses are held as numbers in the
// usual reading order (10.0.0.2 is 0x0A000002): the IPv4 header stores them
// big-endian, as on the wire, and the aRPC header stores the same number
// little-endian, as the contract says for every field of that header.
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_RUNTIME_PACKET_H
#define SBPF_RUNTIME_PACKET_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sbpf::runtime {

/// The UDP port aRPC elements listen on unless configured otherwise.
inline constexpr uint16_t kDefaultArpcPort = 9000;
/// Size of the aRPC header in bytes (contract §6).
inline constexpr size_t kArpcHeaderSize = 31;
/// Ethernet (14) + IPv4 without options (20) + UDP (8).
inline constexpr size_t kUdpHeadersSize = 42;

using MacAddress = std::array<uint8_t, 6>;

/// Makes an IPv4 address number from its dotted parts: ipv4(10, 0, 0, 2).
constexpr uint32_t ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return (uint32_t(a) << 24) | (uint32_t(b) << 16) | (uint32_t(c) << 8) | d;
}

/// The Ethernet/IPv4/UDP part of a packet. The defaults describe a request
/// from 10.0.0.1:50000 to 10.0.0.2:9000 between locally administered MACs.
struct UdpPacketSpec {
  MacAddress srcMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
  MacAddress dstMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
  uint32_t srcIp = ipv4(10, 0, 0, 1);
  uint32_t dstIp = ipv4(10, 0, 0, 2);
  uint16_t srcPort = 50000;
  uint16_t dstPort = kDefaultArpcPort;
  uint8_t ttl = 64;
  uint16_t ipId = 0;
};

/// aRPC packet types (contract §6, offset 0).
enum class ArpcType : uint8_t { Request = 1, Response = 2, Error = 3 };

/// The aRPC header. Addresses, ports and the payload length default to the
/// values of the enclosing packet (UDP spec and payload) when not set, so a
/// test only states what it means to vary.
struct ArpcHeader {
  ArpcType type = ArpcType::Request;
  uint64_t rpcId = 1;
  uint16_t totalPackets = 1;
  uint16_t sequence = 0;
  uint8_t moreFragments = 0;
  uint8_t fragmentIndex = 0;
  std::optional<uint32_t> dstIp;
  std::optional<uint16_t> dstPort;
  std::optional<uint32_t> srcIp;
  std::optional<uint16_t> srcPort;
  std::optional<uint32_t> payloadLength;
};

/// The Internet checksum (RFC 1071) of `bytes`, as stored in a header.
uint16_t internetChecksum(llvm::ArrayRef<uint8_t> bytes);

/// Ethernet + IPv4 + UDP carrying `udpPayload`. Payloads too large for one
/// IPv4 datagram are cut to fit (65,507 bytes) rather than wrapping lengths.
std::vector<uint8_t> buildUdpPacket(const UdpPacketSpec &spec,
                                    llvm::ArrayRef<uint8_t> udpPayload);

/// The 31 bytes of an aRPC header; unset fields take their values from
/// `spec` and `payloadSize`.
std::vector<uint8_t> encodeArpcHeader(const ArpcHeader &header,
                                      const UdpPacketSpec &spec,
                                      size_t payloadSize);

/// A whole aRPC packet: UDP packet whose payload is the header + `payload`.
std::vector<uint8_t> buildArpcPacket(const UdpPacketSpec &spec,
                                     const ArpcHeader &header,
                                     llvm::ArrayRef<uint8_t> payload);

/// The packet `sbpf stats` measures with: an aRPC request (rpc id 1) from
/// 10.0.0.1:50000 to 10.0.0.2:9000 with a payload of the bytes 0x00, 0x01,
/// ... (mod 256); with the default 64-byte payload, 137 bytes in all.
std::vector<uint8_t> representativePacket(size_t payloadBytes = 64);
/// One line describing representativePacket(), for help texts.
llvm::StringRef representativePacketDescription();

/// Lower-case hex of `bytes`, no separators (for tests and diagnostics).
std::string toHex(llvm::ArrayRef<uint8_t> bytes);

} // namespace sbpf::runtime

#endif // SBPF_RUNTIME_PACKET_H
