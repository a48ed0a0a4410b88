//===- PacketTest.cpp - exact bytes of the runtime's test packets --------===//
#include "sbpf/Runtime/Packet.h"

#include "gtest/gtest.h"

using namespace sbpf::runtime;

namespace {

// Big-endian 16-bit field at `at`.
uint16_t be16(const std::vector<uint8_t> &p, size_t at) {
  return uint16_t(p[at] << 8 | p[at + 1]);
}

// The expected bytes were computed independently with Python's struct module
// (RFC 1071 checksums, the aRPC header packed '<BQHHBB' + '<IHIHI').
TEST(PacketTest, SmallRequestHasExactBytes) {
  ArpcHeader header;
  header.rpcId = 0x1122334455667788;
  const uint8_t payload[] = {'p', 'i', 'n', 'g'};
  std::vector<uint8_t> packet =
      buildArpcPacket(UdpPacketSpec{}, header, payload);
  EXPECT_EQ(toHex(packet),
            // Ethernet: dst 02:00:00:00:00:02, src 02:00:00:00:00:01, IPv4
            "020000000002"
            "020000000001"
            "0800"
            // IPv4: len 63, ttl 64, UDP, checksum 0x66ac, 10.0.0.1 > .2
            "4500003f00000000401166ac0a0000010a000002"
            // UDP: 50000 > 9000, len 43, checksum 0x2768
            "c3502328002b2768"
            // aRPC: request, rpc id, 1 packet, seq 0, no more, index 0,
            // dst 10.0.0.2:9000, src 10.0.0.1:50000, payload length 4 (LE)
            "01"
            "8877665544332211"
            "0100"
            "0000"
            "00"
            "00"
            "0200000a"
            "2823"
            "0100000a"
            "50c3"
            "04000000"
            // payload
            "70696e67");
}

TEST(PacketTest, ChecksumsVerify) {
  std::vector<uint8_t> packet = representativePacket();
  // A header with its checksum in place sums to zero.
  EXPECT_EQ(internetChecksum(llvm::ArrayRef<uint8_t>(packet).slice(14, 20)), 0);
  // UDP: pseudo-header (addresses, protocol, length) + datagram.
  std::vector<uint8_t> sum(packet.begin() + 26, packet.begin() + 34);
  sum.push_back(0);
  sum.push_back(17);
  sum.push_back(packet[38]);
  sum.push_back(packet[39]);
  sum.insert(sum.end(), packet.begin() + 34, packet.end());
  EXPECT_EQ(internetChecksum(sum), 0);
}

TEST(PacketTest, RepresentativePacketIsAnArpcRequestToPort9000) {
  std::vector<uint8_t> packet = representativePacket();
  ASSERT_EQ(packet.size(), 137u);
  EXPECT_EQ(be16(packet, 12), 0x0800);      // IPv4
  EXPECT_EQ(packet[23], 17);                // UDP
  EXPECT_EQ(be16(packet, 36), 9000);        // destination port
  EXPECT_EQ(be16(packet, 38), 8 + 31 + 64); // UDP length
  EXPECT_EQ(packet[42], 1);                 // aRPC request
  EXPECT_EQ(packet[42 + 27], 64);           // payload length, LE
  for (size_t i = 0; i < 64; ++i)
    EXPECT_EQ(packet[42 + 31 + i], i);
}

TEST(PacketTest, HeaderFieldsCanBeOverridden) {
  UdpPacketSpec spec;
  spec.dstPort = 53;
  ArpcHeader header;
  header.type = ArpcType::Error;
  header.totalPackets = 3;
  header.sequence = 2;
  header.moreFragments = 1;
  header.fragmentIndex = 2;
  header.dstPort = 9000; // aRPC's view may differ from the UDP header's
  header.payloadLength = 1000;
  std::vector<uint8_t> h = encodeArpcHeader(header, spec, 5);
  ASSERT_EQ(h.size(), kArpcHeaderSize);
  EXPECT_EQ(toHex(h), "03"
                      "0100000000000000"
                      "0300"
                      "0200"
                      "01"
                      "02"
                      "0200000a"
                      "2823"
                      "0100000a"
                      "50c3"
                      "e8030000");
  std::vector<uint8_t> packet = buildArpcPacket(spec, header, {});
  EXPECT_EQ(be16(packet, 36), 53);
  EXPECT_EQ(packet.size(), kUdpHeadersSize + kArpcHeaderSize);
}

TEST(PacketTest, OddPayloadAndOversizedPayload) {
  const uint8_t odd[] = {1, 2, 3};
  std::vector<uint8_t> packet = buildUdpPacket(UdpPacketSpec{}, odd);
  EXPECT_EQ(packet.size(), kUdpHeadersSize + 3);
  // Lengths never wrap: the payload is cut to what IPv4 can carry.
  std::vector<uint8_t> huge(70000, 0xab);
  packet = buildUdpPacket(UdpPacketSpec{}, huge);
  EXPECT_EQ(be16(packet, 16), 65535); // IPv4 total length
  EXPECT_EQ(packet.size(), 14u + 65535u);
}

} // namespace

TEST(PacketTest, RepresentativePacketTakesAPayloadSize) {
  // `sbpf stats --payload-bytes 256`: the payload covers a message layout.
  std::vector<uint8_t> packet = representativePacket(256);
  ASSERT_EQ(packet.size(), 42u + 31u + 256u);
  EXPECT_EQ(be16(packet, 38), 8 + 31 + 256); // UDP length
  EXPECT_EQ(packet[42 + 27], 0);             // payload length 256, LE
  EXPECT_EQ(packet[42 + 28], 1);
  EXPECT_EQ(packet[42 + 31 + 255], 255);
}
