//===- InitialStateTest.cpp - embedded ABI records and init's loader work -===//
//
// Parsing needs no kernel; applying the initial state (KernelInitialState)
// needs BPF_PROG_LOAD and is skipped without it.
//
//===----------------------------------------------------------------------===//
#include "sbpf/Runtime/InitialState.h"
#include "sbpf/Runtime/Loader.h"
#include "sbpf/Runtime/Packet.h"
#include "sbpf/Runtime/TestRun.h"

#include "gtest/gtest.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cstring>
#include <time.h>

using namespace sbpf::runtime;

namespace {

std::string inputPath(llvm::StringRef name) {
  return std::string(SBPF_RUNTIME_INPUTS) + "/" + name.str();
}

std::string errorOf(llvm::Error err) { return llvm::toString(std::move(err)); }

// A record with one map entry and one scalar from the clock; `work` replaces
// the loader_work array when given.
std::string record(llvm::StringRef work = "", int version = 2) {
  std::string w = work.empty() ? R"([{"kind": "map_entry", "target": "m",
                             "key": "01000000", "value": "ff"},
                            {"kind": "state_now", "target": "t",
                             "offset": 8, "size": 8, "encoding": "u64"}])"
                               : work.str();
  // A whole record, as parseABIJson (the one reader) wants it.
  return R"({"sbpf_abi_version": )" + std::to_string(version) +
         R"(, "program": "p", "hook": "xdp", "rpc_port": 9000,
             "events": [],
             "state": {"global": "sbpf_state", "section": ".data",
                       "libbpf_map": ".data", "size": 16,
                       "scalars": [
               {"name": "t", "netfn_type": "!netfn.instant",
                "c_type": "__u64", "encoding": "u64", "offset": 8,
                "size": 8}]},
             "maps": [{"name": "m", "type": "BPF_MAP_TYPE_HASH",
                       "capacity": 4,
                       "key": {"netfn_type": "ui32", "c_type": "__u32",
                               "encoding": "u32", "offset": 0, "size": 4},
                       "value": {"netfn_type": "ui8", "c_type": "__u8",
                                 "encoding": "u8", "offset": 0, "size": 1}}],
             "logs": [],
             "rejects": {"map": null, "reasons": []},
             "init": {"data_initializer": [], "loader_work": )" +
         w + "}}";
}

std::string parseError(llvm::StringRef json) {
  auto abi = parseEmbeddedABI(json, "x.o");
  if (abi)
    return "<parsed>";
  return errorOf(abi.takeError());
}

TEST(InitialStateTest, ParsesARecord) {
  auto abi = parseEmbeddedABI(record(), "x.o");
  ASSERT_TRUE(bool(abi)) << errorOf(abi.takeError());
  EXPECT_EQ(abi->version, 2);
  EXPECT_EQ(abi->program, "p");
  EXPECT_EQ(abi->dataMapSuffix, ".data");
  EXPECT_EQ(abi->dataSize, 16u);
  ASSERT_EQ(abi->maps.size(), 1u);
  EXPECT_EQ(abi->maps[0].keySize, 4u);
  ASSERT_EQ(abi->loaderWork.size(), 2u);
  EXPECT_EQ(abi->loaderWork[0].kind, LoaderStep::Kind::MapEntry);
  EXPECT_EQ(abi->loaderWork[0].key, (std::vector<uint8_t>{1, 0, 0, 0}));
  EXPECT_EQ(abi->loaderWork[0].value, (std::vector<uint8_t>{0xff}));
  EXPECT_EQ(abi->loaderWork[1].kind, LoaderStep::Kind::StateNow);
  EXPECT_EQ(abi->loaderWork[1].offset, 8u);
  EXPECT_EQ(abi->json, record());
}

TEST(InitialStateTest, ExplainsMalformedRecords) {
  EXPECT_EQ(parseError(""), "x.o: malformed ABI record: the section is empty");
  EXPECT_EQ(parseError("{\"sbpf_abi_version\": 2,"),
            "x.o: malformed ABI record: not valid JSON: [1:23, byte=23]: "
            "Expected object key");
  EXPECT_EQ(parseError("[]"), "x.o: malformed ABI record: not a JSON object");
  EXPECT_EQ(parseError("{}"), "x.o: malformed ABI record: sbpf_abi_version: "
                              "missing (not an sbpf ABI record?)");
  EXPECT_EQ(parseError(record("", 1)),
            "x.o: ABI record version 1 is not supported (this sbpf reads "
            "version 2; recompile the element with this sbpf-opt)");
  EXPECT_EQ(parseError(R"({"sbpf_abi_version": 2})"),
            "x.o: malformed ABI record: program: missing value");
  EXPECT_EQ(parseError(record(R"([{"kind": "map_entry", "target": "m",
                                   "key": "0100000g", "value": "ff"}])")),
            "x.o: malformed ABI record: init.loader_work[0].key: expected "
            "bytes in hex");
  EXPECT_EQ(parseError(record(R"([{"kind": "map_entry", "target": "m",
                                   "key": "01000000", "value": "ffff"}])")),
            "x.o: malformed ABI record: init.loader_work[0].value: 2 bytes "
            "where the map's layout has 1");
  EXPECT_EQ(parseError(record(R"([1])")),
            "x.o: malformed ABI record: init.loader_work[0]: expected "
            "object");
  EXPECT_EQ(parseError(record(R"([{"kind": "teleport", "target": "m"}])")),
            "x.o: malformed ABI record: init.loader_work[0].kind: unknown "
            "loader work (expected map_entry, state_now or state_random)");
  EXPECT_EQ(parseError(record(R"([{"kind": "state_now", "target": "t",
                                   "offset": 0, "size": 4,
                                   "encoding": "u32"}])")),
            "x.o: malformed ABI record: init.loader_work[0]: scalar 't' has "
            "encoding 'u32' of 4 bytes, which state_now cannot write");
  EXPECT_EQ(parseError(record(R"([{"kind": "state_random", "target": "r",
                                   "offset": 12, "size": 8,
                                   "encoding": "u64"}])")),
            "x.o: malformed ABI record: init.loader_work[0]: scalar 'r' at "
            "offset 12 is outside the state (16 bytes)");
  EXPECT_EQ(parseError(record(R"([{"kind": "state_random", "target": "r",
                                   "offset": -4, "size": 4,
                                   "encoding": "u32"}])")),
            "x.o: malformed ABI record: init.loader_work[0].offset: expected "
            "uint64_t");
}

TEST(InitialStateTest, ComputedEntryParts) {
  // A key or value the loader reads itself: no bytes in the record.
  auto abi = parseEmbeddedABI(record(R"([{"kind": "map_entry", "target": "m",
                                          "key_from": "random",
                                          "value": "ff"}])"),
                              "x.o");
  ASSERT_TRUE(bool(abi)) << errorOf(abi.takeError());
  EXPECT_EQ(abi->loaderWork[0].keyFrom, "random");
  EXPECT_EQ(abi->loaderWork[0].key.size(), 4u);
  EXPECT_EQ(abi->loaderWork[0].value, (std::vector<uint8_t>{0xff}));
  // A clock reading needs 8 bytes; the value of `m` has 1.
  EXPECT_EQ(parseError(record(R"([{"kind": "map_entry", "target": "m",
                                   "key": "01000000",
                                   "value_from": "clock"}])")),
            "x.o: malformed ABI record: init.loader_work[0].value_from: the "
            "map's value of 1 bytes cannot hold a clock reading");
  EXPECT_EQ(parseError(record(R"([{"kind": "map_entry", "target": "m",
                                   "key": "01000000",
                                   "value_from": "sundial"}])")),
            "x.o: malformed ABI record: init.loader_work[0].value_from: "
            "expected clock or random");
}

TEST(InitialStateTest, PlainObjectsHaveNoRecord) {
  auto file = ObjectFile::read(inputPath("pass.bpf.o"));
  ASSERT_TRUE(bool(file)) << errorOf(file.takeError());
  EXPECT_FALSE(hasEmbeddedABI(*file));
  auto abi = readEmbeddedABI(*file);
  ASSERT_FALSE(bool(abi));
  EXPECT_NE(errorOf(abi.takeError())
                .find("pass.bpf.o: no ABI record: the object has no "
                      ".sbpf.abi section"),
            std::string::npos);
}

TEST(InitialStateTest, ReadsTheRecordOfAnObject) {
  auto file = ObjectFile::read(inputPath("with-abi.bpf.o"));
  ASSERT_TRUE(bool(file)) << errorOf(file.takeError());
  EXPECT_TRUE(hasEmbeddedABI(*file));
  auto abi = readEmbeddedABI(*file);
  ASSERT_TRUE(bool(abi)) << errorOf(abi.takeError());
  EXPECT_EQ(abi->program, "with_abi");
  EXPECT_EQ(abi->loaderWork.size(), 5u);
}

uint64_t monotonicNow() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

class KernelInitialState : public ::testing::Test {
protected:
  void SetUp() override {
    if (llvm::Error err = probeProgramLoad())
      GTEST_SKIP() << llvm::toString(std::move(err));
    auto f = ObjectFile::read(inputPath("with-abi.bpf.o"));
    ASSERT_TRUE(bool(f)) << errorOf(f.takeError());
    file.emplace(std::move(*f));
    auto loaded = loadObject(*file);
    ASSERT_TRUE(bool(loaded)) << errorOf(loaded.takeError());
    object.emplace(std::move(*loaded));
    auto a = readEmbeddedABI(*file);
    ASSERT_TRUE(bool(a)) << errorOf(a.takeError());
    abi = std::move(*a);
  }

  std::vector<uint8_t> data() {
    bpf_map *m;
    bpf_object__for_each_map(m, object->libbpfObject()) {
      if (llvm::StringRef(bpf_map__name(m)).ends_with(".data")) {
        std::vector<uint8_t> bytes(bpf_map__value_size(m));
        uint32_t zero = 0;
        EXPECT_EQ(bpf_map_lookup_elem(bpf_map__fd(m), &zero, bytes.data()), 0);
        return bytes;
      }
    }
    ADD_FAILURE() << "no .data map";
    return {};
  }

  uint32_t runOnce() {
    auto r = testRunPacket(object->programs()[0].fd,
                           buildUdpPacket(UdpPacketSpec{}, {1, 2, 3}));
    EXPECT_TRUE(bool(r)) << (r ? "" : errorOf(r.takeError()));
    return r ? r->retval : ~0u;
  }

  std::optional<ObjectFile> file;
  std::optional<LoadedObject> object;
  EmbeddedABI abi;
};

TEST_F(KernelInitialState, AppliesTheLoaderWorkInOrder) {
  EXPECT_EQ(runOnce(), uint32_t(XDP_DROP)); // before: empty map, t = 0
  uint64_t before = monotonicNow();
  auto report = applyInitialState(*object, abi);
  uint64_t after = monotonicNow();
  ASSERT_TRUE(bool(report)) << errorOf(report.takeError());
  EXPECT_EQ(report->mapEntries, 2u);
  // The map holds 2 entries: the third new key is left out, as map.set does.
  EXPECT_EQ(report->mapEntriesLeftOut, 1u);
  EXPECT_EQ(report->scalarsNow, 1u);
  EXPECT_EQ(report->scalarsRandom, 1u);
  EXPECT_EQ(report->summary(),
            "2 map entries, 1 map entry left out of a full map, 1 scalar from "
            "the clock, 1 random scalar");
  std::vector<uint8_t> bytes = data();
  ASSERT_EQ(bytes.size(), 16u);
  uint64_t t;
  uint32_t k;
  std::memcpy(&t, bytes.data(), 8);
  std::memcpy(&k, bytes.data() + 12, 4);
  EXPECT_GE(t, before);
  EXPECT_LE(t, after);
  EXPECT_EQ(k, 7u); // the .data initializer is untouched
  EXPECT_EQ(runOnce(), uint32_t(XDP_PASS));
}

TEST_F(KernelInitialState, RefusesRecordsThatDoNotFitTheObject) {
  EmbeddedABI wrong = abi;
  wrong.program = "other";
  auto r = applyInitialState(*object, wrong);
  ASSERT_FALSE(bool(r));
  EXPECT_EQ(errorOf(r.takeError()),
            "the ABI record describes program 'other', which the object does "
            "not have");

  wrong = abi;
  wrong.loaderWork[0].target = "absent";
  r = applyInitialState(*object, wrong);
  ASSERT_FALSE(bool(r));
  EXPECT_EQ(errorOf(r.takeError()),
            "init.loader_work[0] (absent): the object has no map 'absent'");

  wrong = abi;
  wrong.loaderWork[0].key.push_back(0);
  r = applyInitialState(*object, wrong);
  ASSERT_FALSE(bool(r));
  EXPECT_EQ(errorOf(r.takeError()),
            "init.loader_work[0] (entries): map 'entries' has 4-byte keys and "
            "8-byte values; the record has 5 and 8");

  wrong = abi;
  wrong.dataSize = 64;
  r = applyInitialState(*object, wrong);
  ASSERT_FALSE(bool(r));
  EXPECT_NE(errorOf(r.takeError())
                .find("has 16 bytes, less than the "
                      "record's state (64)"),
            std::string::npos);
}

} // namespace
