//===- Packet.cpp - Ethernet/IPv4/UDP and aRPC test packet bytes ---------===//
#include "sbpf/Runtime/Packet.h"

#include <algorithm>

using namespace sbpf::runtime;

namespace {
// Appends integers in network (big-endian) or aRPC (little-endian) order.
void putBE16(std::vector<uint8_t> &out, uint16_t v) {
  out.push_back(uint8_t(v >> 8));
  out.push_back(uint8_t(v));
}
void putBE32(std::vector<uint8_t> &out, uint32_t v) {
  putBE16(out, uint16_t(v >> 16));
  putBE16(out, uint16_t(v));
}
template <typename T> void putLE(std::vector<uint8_t> &out, T v) {
  for (size_t i = 0; i < sizeof(T); ++i)
    out.push_back(uint8_t(uint64_t(v) >> (8 * i)));
}
void storeBE16(std::vector<uint8_t> &out, size_t at, uint16_t v) {
  out[at] = uint8_t(v >> 8);
  out[at + 1] = uint8_t(v);
}

// One's-complement sum of 16-bit big-endian words, not yet folded.
uint32_t onesSum(llvm::ArrayRef<uint8_t> bytes, uint32_t sum = 0) {
  size_t i = 0;
  for (; i + 1 < bytes.size(); i += 2)
    sum += (uint32_t(bytes[i]) << 8) | bytes[i + 1];
  if (i < bytes.size())
    sum += uint32_t(bytes[i]) << 8; // odd length: pad with a zero byte
  // Fold now so that long inputs cannot overflow 32 bits.
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}

constexpr size_t kEthSize = 14, kIpSize = 20, kUdpSize = 8;
// Largest UDP payload one IPv4 datagram can hold: 65535 - 20 - 8.
constexpr size_t kMaxUdpPayload = 65507;
} // namespace

uint16_t sbpf::runtime::internetChecksum(llvm::ArrayRef<uint8_t> bytes) {
  return uint16_t(~onesSum(bytes) & 0xffff);
}

std::vector<uint8_t>
sbpf::runtime::buildUdpPacket(const UdpPacketSpec &spec,
                              llvm::ArrayRef<uint8_t> udpPayload) {
  udpPayload = udpPayload.take_front(kMaxUdpPayload);
  const uint16_t udpLen = uint16_t(kUdpSize + udpPayload.size());
  const uint16_t ipLen = uint16_t(kIpSize + udpLen);

  std::vector<uint8_t> p;
  p.reserve(kEthSize + ipLen);
  // Ethernet II.
  p.insert(p.end(), spec.dstMac.begin(), spec.dstMac.end());
  p.insert(p.end(), spec.srcMac.begin(), spec.srcMac.end());
  putBE16(p, 0x0800); // ETH_P_IP
  // IPv4: version 4, IHL 5, no options, no fragmentation.
  const size_t ip = p.size();
  p.push_back(0x45);
  p.push_back(0); // DSCP/ECN
  putBE16(p, ipLen);
  putBE16(p, spec.ipId);
  putBE16(p, 0); // flags and fragment offset
  p.push_back(spec.ttl);
  p.push_back(17); // IPPROTO_UDP
  putBE16(p, 0);   // checksum, filled below
  putBE32(p, spec.srcIp);
  putBE32(p, spec.dstIp);
  storeBE16(p, ip + 10,
            internetChecksum(llvm::ArrayRef<uint8_t>(p).slice(ip, kIpSize)));
  // UDP.
  const size_t udp = p.size();
  putBE16(p, spec.srcPort);
  putBE16(p, spec.dstPort);
  putBE16(p, udpLen);
  putBE16(p, 0); // checksum, filled below
  p.insert(p.end(), udpPayload.begin(), udpPayload.end());
  // The UDP checksum covers a pseudo-header of addresses, protocol, length.
  std::vector<uint8_t> pseudo;
  putBE32(pseudo, spec.srcIp);
  putBE32(pseudo, spec.dstIp);
  putBE16(pseudo, 17);
  putBE16(pseudo, udpLen);
  uint32_t sum = onesSum(pseudo);
  sum = onesSum(llvm::ArrayRef<uint8_t>(p).drop_front(udp), sum);
  uint16_t check = uint16_t(~sum & 0xffff);
  // 0 means "no checksum" in IPv4 UDP, so a computed 0 is sent as 0xffff.
  storeBE16(p, udp + 6, check == 0 ? 0xffff : check);
  return p;
}

std::vector<uint8_t> sbpf::runtime::encodeArpcHeader(const ArpcHeader &h,
                                                     const UdpPacketSpec &spec,
                                                     size_t payloadSize) {
  std::vector<uint8_t> out;
  out.reserve(kArpcHeaderSize);
  out.push_back(uint8_t(h.type));
  putLE<uint64_t>(out, h.rpcId);
  putLE<uint16_t>(out, h.totalPackets);
  putLE<uint16_t>(out, h.sequence);
  out.push_back(h.moreFragments);
  out.push_back(h.fragmentIndex);
  putLE<uint32_t>(out, h.dstIp.value_or(spec.dstIp));
  putLE<uint16_t>(out, h.dstPort.value_or(spec.dstPort));
  putLE<uint32_t>(out, h.srcIp.value_or(spec.srcIp));
  putLE<uint16_t>(out, h.srcPort.value_or(spec.srcPort));
  putLE<uint32_t>(out, h.payloadLength.value_or(uint32_t(payloadSize)));
  return out;
}

std::vector<uint8_t>
sbpf::runtime::buildArpcPacket(const UdpPacketSpec &spec,
                               const ArpcHeader &header,
                               llvm::ArrayRef<uint8_t> payload) {
  payload = payload.take_front(kMaxUdpPayload - kArpcHeaderSize);
  std::vector<uint8_t> udpPayload =
      encodeArpcHeader(header, spec, payload.size());
  udpPayload.insert(udpPayload.end(), payload.begin(), payload.end());
  return buildUdpPacket(spec, udpPayload);
}

std::vector<uint8_t> sbpf::runtime::representativePacket(size_t payloadBytes) {
  std::vector<uint8_t> payload(payloadBytes);
  for (size_t i = 0; i < payload.size(); ++i)
    payload[i] = uint8_t(i);
  return buildArpcPacket(UdpPacketSpec{}, ArpcHeader{}, payload);
}

llvm::StringRef sbpf::runtime::representativePacketDescription() {
  return "an aRPC request (rpc id 1) from 10.0.0.1:50000 to UDP port 9000 of "
         "10.0.0.2 with a 64-byte payload (bytes 0x00..0x3f), 137 bytes (--payload-bytes changes the "
         "payload size)";
}

std::string sbpf::runtime::toHex(llvm::ArrayRef<uint8_t> bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    s.push_back(digits[b >> 4]);
    s.push_back(digits[b & 15]);
  }
  return s;
}
