//===- ABIJsonTest.cpp - the ABI record read back is the record written ---===//
//
// parseABIJson is the exact inverse of writeABIJson: every field of a
// hand-made record exercising each variant (tc hook, a handler-less event, a
// packet_type field, maps, logs, every kind of loader work) and the records
// of all AppNet examples survive write -> parse unchanged (compared field by
// field, and the re-written text byte for byte). Damaged records give errors
// naming the JSON path.
//
//===----------------------------------------------------------------------===//
#include "sbpf/BPF/ABI.h"
#include "sbpf/BPF/EmitC.h"
#include "sbpf/Element.h"
#include "sbpf/InitAll.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>

using namespace sbpf::bpf;

namespace {

std::string write(const ProgramABI &abi) {
  std::string s;
  llvm::raw_string_ostream os(s);
  writeABIJson(abi, os);
  return os.str();
}

// Field-by-field equality (no operator== in the header: only tests need it).
void expectLayoutEq(const ValueLayout &a, const ValueLayout &b) {
  EXPECT_EQ(a.netfnType, b.netfnType);
  EXPECT_EQ(a.cType, b.cType);
  EXPECT_EQ(a.encoding, b.encoding);
  EXPECT_EQ(a.offset, b.offset);
  EXPECT_EQ(a.size, b.size);
}

void expectABIEq(const ProgramABI &a, const ProgramABI &b) {
  EXPECT_EQ(a.program, b.program);
  EXPECT_EQ(a.hook, b.hook);
  EXPECT_EQ(a.rpcPort, b.rpcPort);
  ASSERT_EQ(a.events.size(), b.events.size());
  for (size_t i = 0; i < a.events.size(); ++i) {
    const EventABI &x = a.events[i], &y = b.events[i];
    EXPECT_EQ(x.symbol, y.symbol);
    EXPECT_EQ(x.kind, y.kind);
    EXPECT_EQ(x.handler, y.handler);
    EXPECT_EQ(x.packetTypes, y.packetTypes);
    EXPECT_EQ(x.payloadBytes, y.payloadBytes);
    ASSERT_EQ(x.fields.size(), y.fields.size());
    for (size_t j = 0; j < x.fields.size(); ++j) {
      EXPECT_EQ(x.fields[j].name, y.fields[j].name);
      EXPECT_EQ(x.fields[j].netfnType, y.fields[j].netfnType);
      EXPECT_EQ(x.fields[j].source, y.fields[j].source);
      EXPECT_EQ(x.fields[j].offset, y.fields[j].offset);
      EXPECT_EQ(x.fields[j].size, y.fields[j].size);
      EXPECT_EQ(x.fields[j].encoding, y.fields[j].encoding);
    }
  }
  EXPECT_EQ(a.globalName, b.globalName);
  EXPECT_EQ(a.globalSection, b.globalSection);
  EXPECT_EQ(a.globalSize, b.globalSize);
  ASSERT_EQ(a.scalars.size(), b.scalars.size());
  for (size_t i = 0; i < a.scalars.size(); ++i) {
    EXPECT_EQ(a.scalars[i].name, b.scalars[i].name);
    expectLayoutEq(a.scalars[i].layout, b.scalars[i].layout);
  }
  EXPECT_EQ(a.initialScalars, b.initialScalars);
  ASSERT_EQ(a.maps.size(), b.maps.size());
  for (size_t i = 0; i < a.maps.size(); ++i) {
    EXPECT_EQ(a.maps[i].name, b.maps[i].name);
    EXPECT_EQ(a.maps[i].bpfType, b.maps[i].bpfType);
    EXPECT_EQ(a.maps[i].capacity, b.maps[i].capacity);
    expectLayoutEq(a.maps[i].key, b.maps[i].key);
    expectLayoutEq(a.maps[i].value, b.maps[i].value);
  }
  ASSERT_EQ(a.logs.size(), b.logs.size());
  for (size_t i = 0; i < a.logs.size(); ++i) {
    const LogABI &x = a.logs[i], &y = b.logs[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.ringbuf, y.ringbuf);
    EXPECT_EQ(x.ringbufBytes, y.ringbufBytes);
    EXPECT_EQ(x.recordSize, y.recordSize);
    EXPECT_EQ(x.sizeCounter, y.sizeCounter);
    EXPECT_EQ(x.sizeCounterOffset, y.sizeCounterOffset);
    ASSERT_EQ(x.record.size(), y.record.size());
    for (size_t j = 0; j < x.record.size(); ++j)
      expectLayoutEq(x.record[j], y.record[j]);
  }
  EXPECT_EQ(a.rejectMap, b.rejectMap);
  EXPECT_EQ(a.rejects, b.rejects);
  ASSERT_EQ(a.loaderWork.size(), b.loaderWork.size());
  for (size_t i = 0; i < a.loaderWork.size(); ++i) {
    const LoaderWork &x = a.loaderWork[i], &y = b.loaderWork[i];
    EXPECT_EQ(x.kind, y.kind);
    EXPECT_EQ(x.target, y.target);
    EXPECT_EQ(x.key, y.key);
    EXPECT_EQ(x.value, y.value);
    EXPECT_EQ(x.keyFrom, y.keyFrom);
    EXPECT_EQ(x.valueFrom, y.valueFrom);
    EXPECT_EQ(x.keyText, y.keyText);
    EXPECT_EQ(x.valueText, y.valueText);
    EXPECT_EQ(x.offset, y.offset);
    EXPECT_EQ(x.size, y.size);
    EXPECT_EQ(x.encoding, y.encoding);
  }
}

ProgramABI richRecord() {
  ProgramABI abi;
  abi.program = "rich";
  abi.hook = Hook::TC;
  abi.rpcPort = 7777;
  EventABI req{"request", "rpc.request", "req", {1}, 72, {}};
  req.fields.push_back({"rpc_id", "ui64", "header", 1, 8, "u64"});
  req.fields.push_back({"body", "!netfn.string<64>", "payload", 0, 64, "str"});
  req.fields.push_back({"n", "si32", "payload", 64, 4, "s32"});
  EventABI resp{"response", "rpc.response", "", {2, 3}, 0, {}};
  resp.fields.push_back({"meta_status", "!netfn.string<16>", "packet_type",
                         -1, 0, ""});
  abi.events = {req, resp};
  abi.globalName = "sbpf_state";
  abi.globalSection = ".data";
  abi.globalSize = 40;
  abi.scalars.push_back({"limit", {"si32", "__s32", "s32", 0, 4}});
  abi.scalars.push_back({"seed", {"ui32", "__u32", "u32", 4, 4}});
  abi.scalars.push_back({"t", {"!netfn.instant", "__u64", "u64", 8, 8}});
  abi.scalars.push_back({"samples.size", {"ui64", "__u64", "u64", 16, 8}});
  abi.initialScalars = {{"limit", "8"}};
  abi.maps.push_back({"rules", "BPF_MAP_TYPE_HASH",
                      {"!netfn.string<8>", "struct sbpf_pad8", "str", 0, 8},
                      {"ui8", "__u8", "u8", 0, 1},
                      16});
  LogABI log;
  log.name = "samples";
  log.ringbuf = "samples";
  log.ringbufBytes = 262144;
  log.record = {{"ui32", "__u32", "u32", 0, 4}, {"i1", "__u8", "bool", 4, 1}};
  log.recordSize = 5;
  log.sizeCounter = "samples.size";
  log.sizeCounterOffset = 16;
  abi.logs.push_back(log);
  abi.rejectMap = "sbpf_rejects";
  abi.rejects = {"denied", "overload"};
  LoaderWork entry;
  entry.kind = "map_entry";
  entry.target = "rules";
  entry.key = "616c696365000000";
  entry.value = "01";
  entry.keyText = "alice";
  entry.valueText = "1";
  LoaderWork now;
  now.kind = "state_now";
  now.target = "t";
  now.offset = 8;
  now.size = 8;
  now.encoding = "u64";
  LoaderWork random;
  random.kind = "state_random";
  random.target = "seed";
  random.offset = 4;
  random.size = 4;
  random.encoding = "u32";
  // A computed entry: the value is the loader's clock reading.
  LoaderWork computed = entry;
  computed.key = "626f620000000000";
  computed.keyText = "bob";
  computed.value.clear();
  computed.valueFrom = "clock";
  computed.valueText = "current_time()";
  abi.loaderWork = {entry, now, random, computed};
  return abi;
}

TEST(ABIJsonTest, RichRecordRoundTrips) {
  ProgramABI abi = richRecord();
  std::string text = write(abi);
  auto parsed = parseABIJson(text);
  ASSERT_TRUE(bool(parsed)) << llvm::toString(parsed.takeError());
  expectABIEq(abi, *parsed);
  EXPECT_EQ(text, write(*parsed));
}

TEST(ABIJsonTest, EveryExampleRecordRoundTrips) {
  mlir::DialectRegistry registry;
  sbpf::registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();
  sbpf::DomainOptions options;
  options.eventSchemaPath = std::string(SBPF_EXAMPLES_DIR) + "/rpc.proto";
  std::error_code ec;
  unsigned records = 0;
  for (const char *dir : {"", "/kinds"})
    for (llvm::sys::fs::directory_iterator it(SBPF_EXAMPLES_DIR + std::string(dir), ec),
         end;
         it != end && !ec; it.increment(ec)) {
      if (llvm::sys::path::extension(it->path()) != ".appnet")
        continue;
      SCOPED_TRACE(it->path());
      auto module = sbpf::loadElementForBPF(it->path(), options, context);
      ASSERT_TRUE(bool(module));
      ProgramABI abi;
      std::string c;
      llvm::raw_string_ostream cOs(c);
      ASSERT_TRUE(mlir::succeeded(emitC(*module, BackendOptions{}, cOs, &abi)));
      std::string text = write(abi);
      auto parsed = parseABIJson(text);
      ASSERT_TRUE(bool(parsed)) << llvm::toString(parsed.takeError());
      expectABIEq(abi, *parsed);
      EXPECT_EQ(text, write(*parsed));
      ++records;
    }
  EXPECT_EQ(records, 18u); // 11 examples + 7 kinds
}

TEST(ABIJsonTest, DamagedRecordsNameThePath) {
  auto message = [](llvm::StringRef json) {
    auto parsed = parseABIJson(json);
    if (parsed)
      return std::string("parsed");
    return llvm::toString(parsed.takeError());
  };
  EXPECT_NE(message("{").find("malformed ABI record: not valid JSON"),
            std::string::npos);
  EXPECT_EQ(message("[]"), "malformed ABI record: not a JSON object");
  EXPECT_NE(message(R"({"sbpf_abi_version": 1})")
                .find("ABI record version 1 is not supported"),
            std::string::npos);
  std::string text = write(richRecord());
  std::string broken = text;
  broken.replace(broken.find("\"offset\": 64"), 12, "\"offset\": \"x\"");
  EXPECT_NE(message(broken).find("events[0].fields[2].offset"),
            std::string::npos)
      << message(broken);
  broken = text;
  broken.replace(broken.find("\"hook\": \"tc\""), 12, "\"hook\": \"kp\"");
  EXPECT_NE(message(broken).find("hook"), std::string::npos) << message(broken);
  broken = text;
  broken.replace(broken.find("\"kind\": \"state_now\""), 19,
                 "\"kind\": \"state_later\"");
  EXPECT_NE(message(broken).find("loader_work[1].kind"), std::string::npos)
      << message(broken);
}

} // namespace
