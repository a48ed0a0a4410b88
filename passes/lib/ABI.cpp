//===- ABI.cpp - the BPF ABI record as JSON -------------------------------===//
#include "sbpf/BPF/ABI.h"

#include "llvm/Support/JSON.h"

using namespace sbpf::bpf;

const ScalarABI *ProgramABI::findScalar(llvm::StringRef name) const {
  for (const ScalarABI &s : scalars)
    if (s.name == name)
      return &s;
  return nullptr;
}

const MapABI *ProgramABI::findMap(llvm::StringRef name) const {
  for (const MapABI &m : maps)
    if (m.name == name)
      return &m;
  return nullptr;
}

int ProgramABI::rejectSlot(llvm::StringRef reason) const {
  for (size_t i = 0; i < rejects.size(); ++i)
    if (rejects[i] == reason)
      return int(i);
  return -1;
}

static void writeLayout(llvm::json::OStream &j, const ValueLayout &l) {
  j.object([&] {
    j.attribute("netfn_type", l.netfnType);
    j.attribute("c_type", l.cType);
    j.attribute("encoding", l.encoding);
    j.attribute("offset", int64_t(l.offset));
    j.attribute("size", int64_t(l.size));
  });
}

void sbpf::bpf::writeABIJson(const ProgramABI &abi, llvm::raw_ostream &os) {
  llvm::json::OStream j(os, 2);
  j.object([&] {
    j.attribute("sbpf_abi_version", kABIVersion);
    j.attribute("program", abi.program);
    j.attribute("hook", abi.hook == Hook::XDP ? "xdp" : "tc");
    j.attribute("section", abi.hook == Hook::XDP ? "xdp" : "tc");
    j.attribute("rpc_port", int64_t(abi.rpcPort));
    j.attribute("arpc_header_size", 31);
    j.attributeArray("events", [&] {
      for (const EventABI &e : abi.events)
        j.object([&] {
          j.attribute("symbol", e.symbol);
          j.attribute("kind", e.kind);
          if (e.handler.empty())
            j.attribute("handler", nullptr);
          else
            j.attribute("handler", e.handler);
          j.attributeArray("packet_types", [&] {
            for (int t : e.packetTypes)
              j.value(t);
          });
          j.attribute("payload_bytes", int64_t(e.payloadBytes));
          j.attributeArray("fields", [&] {
            for (const EventField &f : e.fields)
              j.object([&] {
                j.attribute("name", f.name);
                j.attribute("netfn_type", f.netfnType);
                j.attribute("source", f.source);
                if (f.offset >= 0) {
                  j.attribute("offset", f.offset);
                  j.attribute("size", f.size);
                  j.attribute("encoding", f.encoding);
                }
              });
          });
        });
    });
    j.attributeObject("state", [&] {
      j.attribute("global", abi.globalName);
      j.attribute("section", abi.globalSection);
      j.attribute("libbpf_map", abi.globalSection);
      j.attribute("size", int64_t(abi.globalSize));
      j.attributeArray("scalars", [&] {
        for (const ScalarABI &s : abi.scalars)
          j.object([&] {
            j.attribute("name", s.name);
            j.attribute("netfn_type", s.layout.netfnType);
            j.attribute("c_type", s.layout.cType);
            j.attribute("encoding", s.layout.encoding);
            j.attribute("offset", int64_t(s.layout.offset));
            j.attribute("size", int64_t(s.layout.size));
          });
      });
    });
    j.attributeArray("maps", [&] {
      for (const MapABI &m : abi.maps)
        j.object([&] {
          j.attribute("name", m.name);
          j.attribute("type", m.bpfType);
          j.attribute("capacity", int64_t(m.capacity));
          j.attributeBegin("key");
          writeLayout(j, m.key);
          j.attributeEnd();
          j.attributeBegin("value");
          writeLayout(j, m.value);
          j.attributeEnd();
        });
    });
    j.attributeArray("logs", [&] {
      for (const LogABI &l : abi.logs)
        j.object([&] {
          j.attribute("name", l.name);
          j.attribute("ringbuf", l.ringbuf);
          j.attribute("ringbuf_bytes", int64_t(l.ringbufBytes));
          j.attribute("record_size", int64_t(l.recordSize));
          j.attributeArray("record", [&] {
            for (const ValueLayout &f : l.record)
              writeLayout(j, f);
          });
          j.attributeObject("size_counter", [&] {
            j.attribute("scalar", l.sizeCounter);
            j.attribute("offset", int64_t(l.sizeCounterOffset));
            j.attribute("encoding", "u64");
          });
        });
    });
    j.attributeObject("rejects", [&] {
      if (abi.rejectMap.empty())
        j.attribute("map", nullptr);
      else
        j.attribute("map", abi.rejectMap);
      j.attribute("type", "BPF_MAP_TYPE_PERCPU_ARRAY");
      j.attribute("value", "u64 per CPU; sum over CPUs");
      j.attributeArray("reasons", [&] {
        for (size_t i = 0; i < abi.rejects.size(); ++i)
          j.object([&] {
            j.attribute("reason", abi.rejects[i]);
            j.attribute("slot", int64_t(i));
          });
      });
    });
    j.attributeObject("init", [&] {
      j.attributeArray("data_initializer", [&] {
        for (const auto &[name, text] : abi.initialScalars)
          j.object([&] {
            j.attribute("scalar", name);
            j.attribute("value", text);
          });
      });
      j.attribute("loader_implemented", true);
      j.attribute("loader_note",
                  "sbpf's loader performs loader_work in this order after "
                  "the object is loaded and before any program runs: "
                  "map_entry inserts key -> value (BPF_ANY); state_now "
                  "writes clock_gettime(CLOCK_MONOTONIC) in ns (the clock of "
                  "bpf_ktime_get_ns); state_random writes bytes from "
                  "getrandom(2); every map_entry is constant (init's map "
                  "writes of computed values are rejected at compile time)");
      j.attributeArray("loader_work", [&] {
        for (const LoaderWork &w : abi.loaderWork)
          j.object([&] {
            j.attribute("kind", w.kind);
            j.attribute("target", w.target);
            if (w.kind == "map_entry") {
              j.attribute("key", w.key);
              j.attribute("value", w.value);
              j.attribute("key_text", w.keyText);
              j.attribute("value_text", w.valueText);
            } else {
              j.attribute("offset", int64_t(w.offset));
              j.attribute("size", int64_t(w.size));
              j.attribute("encoding", w.encoding);
              j.attribute("source", w.kind == "state_now"
                                        ? "clock_gettime(CLOCK_MONOTONIC)"
                                        : "getrandom");
            }
          });
      });
    });
  });
  os << "\n";
}
