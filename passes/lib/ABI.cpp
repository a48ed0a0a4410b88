//===- ABI.cpp - the BPF ABI record as JSON -------------------------------===//
#include "sbpf/BPF/ABI.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/JSON.h"

#include <cstring>

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
      // The note's last clause says whether entries are computed (records
      // without such entries keep the note they always had).
      bool computed = llvm::any_of(abi.loaderWork, [](const LoaderWork &w) {
        return !w.keyFrom.empty() || !w.valueFrom.empty();
      });
      j.attribute(
          "loader_note",
          std::string("sbpf's loader performs loader_work in this order "
                      "after the object is loaded and before any program "
                      "runs: map_entry inserts key -> value (BPF_ANY); "
                      "state_now writes clock_gettime(CLOCK_MONOTONIC) in ns "
                      "(the clock of bpf_ktime_get_ns); state_random writes "
                      "bytes from getrandom(2); ") +
              (computed ? "a map_entry's key_from/value_from (clock or "
                          "random) is read like them, key first, when the "
                          "loader reaches the entry"
                        : "every map_entry is constant (init's map writes of "
                          "computed values are rejected at compile time)"));
      j.attributeArray("loader_work", [&] {
        for (const LoaderWork &w : abi.loaderWork)
          j.object([&] {
            j.attribute("kind", w.kind);
            j.attribute("target", w.target);
            if (w.kind == "map_entry") {
              // A computed key or value: where the loader gets it instead.
              if (w.keyFrom.empty())
                j.attribute("key", w.key);
              else
                j.attribute("key_from", w.keyFrom);
              if (w.valueFrom.empty())
                j.attribute("value", w.value);
              else
                j.attribute("value_from", w.valueFrom);
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

//===----------------------------------------------------------------------===//
// Reading the record back (the inverse of writeABIJson)
//===----------------------------------------------------------------------===//
//
// llvm::json's ObjectMapper gives every error the JSON path of the field, so
// each struct gets one fromJSON (found by argument-dependent lookup) listing
// the keys writeABIJson writes for it.

namespace sbpf::bpf {

static bool fromJSON(const llvm::json::Value &v, ValueLayout &l,
                     llvm::json::Path p) {
  llvm::json::ObjectMapper o(v, p);
  return o && o.map("netfn_type", l.netfnType) && o.map("c_type", l.cType) &&
         o.map("encoding", l.encoding) && o.map("offset", l.offset) &&
         o.map("size", l.size);
}

static bool fromJSON(const llvm::json::Value &v, EventField &f,
                     llvm::json::Path p) {
  llvm::json::ObjectMapper o(v, p);
  // packet_type fields have no wire location: offset stays -1.
  return o && o.map("name", f.name) && o.map("netfn_type", f.netfnType) &&
         o.map("source", f.source) && o.mapOptional("offset", f.offset) &&
         o.mapOptional("size", f.size) && o.mapOptional("encoding", f.encoding);
}

static bool fromJSON(const llvm::json::Value &v, EventABI &e,
                     llvm::json::Path p) {
  llvm::json::ObjectMapper o(v, p);
  std::optional<std::string> handler; // null: the event has no handler
  if (!(o && o.map("symbol", e.symbol) && o.map("kind", e.kind) &&
        o.map("handler", handler) && o.map("packet_types", e.packetTypes) &&
        o.map("payload_bytes", e.payloadBytes) && o.map("fields", e.fields)))
    return false;
  e.handler = handler.value_or("");
  return true;
}

static bool fromJSON(const llvm::json::Value &v, ScalarABI &s,
                     llvm::json::Path p) {
  llvm::json::ObjectMapper o(v, p);
  return o && o.map("name", s.name) && fromJSON(v, s.layout, p);
}

static bool fromJSON(const llvm::json::Value &v, MapABI &m,
                     llvm::json::Path p) {
  llvm::json::ObjectMapper o(v, p);
  return o && o.map("name", m.name) && o.map("type", m.bpfType) &&
         o.map("capacity", m.capacity) && o.map("key", m.key) &&
         o.map("value", m.value);
}

static bool fromJSON(const llvm::json::Value &v, LogABI &l,
                     llvm::json::Path p) {
  llvm::json::ObjectMapper o(v, p);
  if (!(o && o.map("name", l.name) && o.map("ringbuf", l.ringbuf) &&
        o.map("ringbuf_bytes", l.ringbufBytes) &&
        o.map("record_size", l.recordSize) && o.map("record", l.record)))
    return false;
  const llvm::json::Object *counter =
      v.getAsObject()->getObject("size_counter");
  if (!counter) {
    p.field("size_counter").report("expected object");
    return false;
  }
  llvm::json::ObjectMapper c(*v.getAsObject()->get("size_counter"),
                             p.field("size_counter"));
  return c.map("scalar", l.sizeCounter) &&
         c.map("offset", l.sizeCounterOffset);
}

static bool fromJSON(const llvm::json::Value &v, LoaderWork &w,
                     llvm::json::Path p) {
  llvm::json::ObjectMapper o(v, p);
  if (!(o && o.map("kind", w.kind) && o.map("target", w.target)))
    return false;
  // key_text/value_text are for people: a hand-written record may omit
  // them (writeABIJson always writes them, so the round trip stays exact).
  if (w.kind == "map_entry") {
    if (!(o.mapOptional("key_from", w.keyFrom) &&
          o.mapOptional("value_from", w.valueFrom) &&
          (!w.keyFrom.empty() || o.map("key", w.key)) &&
          (!w.valueFrom.empty() || o.map("value", w.value)) &&
          o.mapOptional("key_text", w.keyText) &&
          o.mapOptional("value_text", w.valueText)))
      return false;
    for (auto [from, field] : {std::pair{&w.keyFrom, "key_from"},
                               std::pair{&w.valueFrom, "value_from"}})
      if (!from->empty() && *from != "clock" && *from != "random") {
        p.field(field).report("expected clock or random");
        return false;
      }
    return true;
  }
  if (w.kind == "state_now" || w.kind == "state_random")
    return o.map("offset", w.offset) && o.map("size", w.size) &&
           o.map("encoding", w.encoding);
  // Reported with the kind: the path mechanism keeps only a literal.
  p.field("kind").report("unknown loader work (expected map_entry, "
                         "state_now or state_random)");
  return false;
}

/// The scalars `init` sets to constants: {"scalar": NAME, "value": TEXT}.
struct InitialScalar {
  std::string name, text;
};
static bool fromJSON(const llvm::json::Value &v, InitialScalar &s,
                     llvm::json::Path p) {
  llvm::json::ObjectMapper o(v, p);
  return o && o.map("scalar", s.name) && o.map("value", s.text);
}

struct RejectSlot {
  std::string reason;
  uint64_t slot = 0;
};
static bool fromJSON(const llvm::json::Value &v, RejectSlot &r,
                     llvm::json::Path p) {
  llvm::json::ObjectMapper o(v, p);
  return o && o.map("reason", r.reason) && o.map("slot", r.slot);
}

static bool fromJSON(const llvm::json::Value &v, ProgramABI &abi,
                     llvm::json::Path p) {
  llvm::json::ObjectMapper o(v, p);
  std::string hook;
  uint64_t port = 0;
  if (!(o && o.map("program", abi.program) && o.map("hook", hook) &&
        o.map("rpc_port", port) && o.map("events", abi.events)))
    return false;
  if (hook != "xdp" && hook != "tc") {
    p.field("hook").report("expected xdp or tc");
    return false;
  }
  abi.hook = hook == "xdp" ? Hook::XDP : Hook::TC;
  if (port == 0 || port > 65535) {
    p.field("rpc_port").report("expected a port 1..65535");
    return false;
  }
  abi.rpcPort = uint16_t(port);

  const llvm::json::Object &root = *v.getAsObject();
  auto sub = [&](llvm::StringLiteral key) -> const llvm::json::Value * {
    const llvm::json::Value *s = root.get(key);
    if (!s || !s->getAsObject()) {
      p.field(key).report("expected object");
      return nullptr;
    }
    return s;
  };
  const llvm::json::Value *state = sub("state");
  if (!state)
    return false;
  llvm::json::ObjectMapper so(*state, p.field("state"));
  if (!(so.map("global", abi.globalName) &&
        so.map("section", abi.globalSection) &&
        so.map("size", abi.globalSize) && so.map("scalars", abi.scalars)))
    return false;
  if (!(o.map("maps", abi.maps) && o.map("logs", abi.logs)))
    return false;

  const llvm::json::Value *rejects = sub("rejects");
  if (!rejects)
    return false;
  llvm::json::ObjectMapper ro(*rejects, p.field("rejects"));
  std::optional<std::string> rejectMap;
  std::vector<RejectSlot> reasons;
  if (!(ro.map("map", rejectMap) && ro.map("reasons", reasons)))
    return false;
  abi.rejectMap = rejectMap.value_or("");
  for (size_t i = 0; i < reasons.size(); ++i) {
    // writeABIJson numbers the slots 0, 1, ...: a record saying otherwise
    // was not written by it.
    if (reasons[i].slot != i) {
      p.field("rejects").field("reasons").index(i).field("slot").report(
          "slots must be numbered 0, 1, ... in order");
      return false;
    }
    abi.rejects.push_back(reasons[i].reason);
  }

  const llvm::json::Value *init = sub("init");
  if (!init)
    return false;
  llvm::json::ObjectMapper io(*init, p.field("init"));
  std::vector<InitialScalar> initial;
  if (!(io.map("data_initializer", initial) &&
        io.map("loader_work", abi.loaderWork)))
    return false;
  for (InitialScalar &s : initial)
    abi.initialScalars.emplace_back(std::move(s.name), std::move(s.text));
  return true;
}

} // namespace sbpf::bpf

llvm::Expected<ProgramABI> sbpf::bpf::parseABIJson(llvm::StringRef json) {
  auto fail = [](const llvm::Twine &why) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "malformed ABI record: " + why);
  };
  llvm::Expected<llvm::json::Value> parsed = llvm::json::parse(json);
  if (!parsed)
    return fail("not valid JSON: " + llvm::toString(parsed.takeError()));
  const llvm::json::Object *root = parsed->getAsObject();
  if (!root)
    return fail("not a JSON object");
  // The version first: a record of another version may have any shape.
  const llvm::json::Value *versionValue = root->get("sbpf_abi_version");
  if (!versionValue)
    return fail("sbpf_abi_version: missing (not an sbpf ABI record?)");
  std::optional<int64_t> version = versionValue->getAsInteger();
  if (!version)
    return fail("sbpf_abi_version: expected an integer");
  if (*version != kABIVersion)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "ABI record version %lld is not supported (this sbpf reads version "
        "%d; recompile the element with this sbpf-opt)",
        (long long)*version, kABIVersion);
  ProgramABI abi;
  llvm::json::Path::Root pathRoot("ABI record");
  if (!fromJSON(*parsed, abi, pathRoot)) {
    // llvm::json says "WHY at ABI record.PATH"; the record's messages put
    // the path first ("init.loader_work[0].key: missing value"), as the
    // runtime's always did.
    std::string message = llvm::toString(pathRoot.getError());
    llvm::StringRef m(message);
    size_t at = m.rfind(" at ABI record.");
    if (at == llvm::StringRef::npos)
      return fail(message);
    return fail(m.substr(at + strlen(" at ABI record.")) + ": " +
                m.substr(0, at));
  }
  return abi;
}
