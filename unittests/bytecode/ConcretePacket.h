//===- ConcretePacket.h - concrete packet bytes as executor input -*- C++ -*-===//
//
// The kernel differential tests (MemoryDifferentialTest, ObjectExecTest) run
// a program in the kernel (BPF_PROG_TEST_RUN) and in the executor on the
// same packet. This gives the executor those bytes: a byte array that holds
// them from index 0 (zero beyond them) and their length, so that every
// packet access and bounds check is decided.
//
//===----------------------------------------------------------------------===//
#ifndef SBPF_UNITTESTS_BYTECODE_CONCRETEPACKET_H
#define SBPF_UNITTESTS_BYTECODE_CONCRETEPACKET_H

#include "sbpf/Checker/Exec.h"

#include <cstdint>
#include <vector>

namespace sbpf::checker::bytecode::test {

/// Sets `in.packet` and `in.packetLen` to the concrete `packet`.
inline void setConcretePacket(z3::context &c, ExecInputs &in,
                              const std::vector<uint8_t> &packet) {
  z3::expr bytes = z3::const_array(c.bv_sort(64), c.bv_val(0, 8));
  for (size_t i = 0; i < packet.size(); ++i)
    bytes = z3::store(bytes, c.bv_val(uint64_t(i), 64), c.bv_val(packet[i], 8));
  in.packet = bytes;
  in.packetLen = c.bv_val(uint64_t(packet.size()), 64);
}

} // namespace sbpf::checker::bytecode::test

#endif // SBPF_UNITTESTS_BYTECODE_CONCRETEPACKET_H
