//===- InitialState.cpp - the embedded ABI record and init's loader work --===//
#include "sbpf/Runtime/InitialState.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Object/ELF.h"
#include "llvm/Object/ELFTypes.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include <sys/random.h>

using namespace sbpf::runtime;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;

namespace {

Error invalid(const llvm::Twine &message) {
  return llvm::createStringError(
      std::make_error_code(std::errc::invalid_argument), message.str());
}

Error fromErrno(int err, const llvm::Twine &message) {
  err = err < 0 ? -err : err;
  return llvm::createStringError(std::error_code(err, std::generic_category()),
                                 (message + ": " + std::strerror(err)).str());
}

// The contents of section `name`, or std::nullopt when there is none. The
// object was validated by ObjectFile (ELFFile's accessors check bounds).
Expected<std::optional<StringRef>> sectionContents(const ObjectFile &object,
                                                   StringRef name) {
  using ELFT = llvm::object::ELF64LE;
  llvm::ArrayRef<uint8_t> bytes = object.bytes();
  StringRef data(reinterpret_cast<const char *>(bytes.data()), bytes.size());
  auto file = llvm::object::ELFFile<ELFT>::create(data);
  if (!file)
    return file.takeError();
  auto sections = file->sections();
  if (!sections)
    return sections.takeError();
  std::optional<StringRef> found;
  for (const ELFT::Shdr &section : *sections) {
    auto sectionName = file->getSectionName(section);
    if (!sectionName)
      return sectionName.takeError();
    if (*sectionName != name)
      continue;
    if (found)
      return invalid(object.name() + ": two " + name + " sections");
    if (section.sh_type == llvm::ELF::SHT_NOBITS)
      return invalid(object.name() + ": section " + name + " has no contents");
    auto contents = file->getSectionContents(section);
    if (!contents)
      return contents.takeError();
    found = StringRef(reinterpret_cast<const char *>(contents->data()),
                      contents->size());
  }
  return found;
}

// "WHAT: malformed ABI record: PATH: WHY", the form of parseABIJson's
// messages, for the checks only the loader makes.
Error malformed(StringRef what, const llvm::Twine &path, const llvm::Twine &why) {
  return invalid(what + ": malformed ABI record: " + path + ": " + why);
}

// The bytes of a map_entry's hex `text`, exactly `size` of them.
Expected<std::vector<uint8_t>> entryBytes(StringRef what, const std::string &path,
                                          StringRef text, uint64_t size) {
  std::string bytes;
  if (text.size() % 2 != 0 || !llvm::tryGetFromHex(text, bytes))
    return malformed(what, path, "expected bytes in hex");
  if (bytes.size() != size)
    return malformed(what, path,
                     llvm::Twine(bytes.size()) +
                         " bytes where the map's layout has " +
                         llvm::Twine(size));
  return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

bool isIntegerEncoding(StringRef e) {
  return e == "u8" || e == "u16" || e == "u32" || e == "u64" || e == "s8" ||
         e == "s16" || e == "s32" || e == "s64";
}

uint64_t monotonicNanoseconds() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

Error randomBytes(uint8_t *out, size_t size) {
  while (size > 0) {
    ssize_t n = getrandom(out, size, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return fromErrno(errno, "getrandom");
    }
    out += n;
    size -= size_t(n);
  }
  return Error::success();
}

} // namespace

bool sbpf::runtime::hasEmbeddedABI(const ObjectFile &object) {
  auto contents = sectionContents(object, kEmbeddedABISection);
  if (!contents) {
    llvm::consumeError(contents.takeError());
    return true; // two sections or unreadable: readEmbeddedABI says why
  }
  return contents->has_value();
}

Expected<EmbeddedABI> sbpf::runtime::readEmbeddedABI(const ObjectFile &object) {
  auto contents = sectionContents(object, kEmbeddedABISection);
  if (!contents)
    return contents.takeError();
  if (!*contents)
    return llvm::createStringError(
        std::make_error_code(std::errc::no_message_available),
        "%s: no ABI record: the object has no %s section (objects compiled "
        "from sbpf-opt --emit=c carry one)",
        object.name().str().c_str(), kEmbeddedABISection);
  // A record written as a C string by hand may end with its NUL.
  return parseEmbeddedABI(
      (*contents)->rtrim(StringRef("\0", 1)),
      (object.name() + ": section " + kEmbeddedABISection).str());
}

Expected<EmbeddedABI> sbpf::runtime::parseEmbeddedABI(StringRef json,
                                                      StringRef what) {
  if (json.empty())
    return invalid(what + ": malformed ABI record: the section is empty");
  // The one reader of the record (passes/lib/ABI.cpp): every field is
  // checked, with the JSON path in the message.
  Expected<sbpf::bpf::ProgramABI> record = sbpf::bpf::parseABIJson(json);
  if (!record)
    return invalid(what + ": " + llvm::toString(record.takeError()));

  // What the loader needs, and the checks only the loader makes: entry
  // bytes that fit the map's layout, scalars it can write, inside the state.
  EmbeddedABI abi;
  abi.json = json.str();
  abi.version = sbpf::bpf::kABIVersion;
  abi.program = record->program;
  abi.dataMapSuffix = record->globalSection;
  abi.dataSize = record->globalSize;
  for (const sbpf::bpf::MapABI &m : record->maps)
    abi.maps.push_back({m.name, m.key.size, m.value.size});
  for (size_t i = 0; i < record->loaderWork.size(); ++i) {
    const sbpf::bpf::LoaderWork &w = record->loaderWork[i];
    std::string path = "init.loader_work[" + std::to_string(i) + "]";
    LoaderStep step;
    step.target = w.target;
    if (w.kind == "map_entry") {
      step.kind = LoaderStep::Kind::MapEntry;
      const sbpf::bpf::MapABI *layout = record->findMap(w.target);
      if (!layout)
        return malformed(what, path + ".target",
                         "'" + w.target + "' is not one of the record's maps");
      for (auto [from, hex, bytes, size, field] :
           {std::make_tuple(&w.keyFrom, &w.key, &step.key, layout->key.size,
                            "key"),
            std::make_tuple(&w.valueFrom, &w.value, &step.value,
                            layout->value.size, "value")}) {
        if (from->empty()) {
          auto b = entryBytes(what, path + "." + field, *hex, size);
          if (!b)
            return b.takeError();
          *bytes = std::move(*b);
          continue;
        }
        // Read at load time: a clock reading is a u64, random bytes fill
        // the layout.
        if (*from == "clock" ? size != 8 : size == 0 || size > 8)
          return malformed(what, path + "." + field + "_from",
                           "the map's " + llvm::Twine(field) + " of " +
                               llvm::Twine(size) + " bytes cannot hold " +
                               (*from == "clock" ? "a clock reading"
                                                 : "random bytes"));
        bytes->assign(size, 0);
      }
      step.keyFrom = w.keyFrom;
      step.valueFrom = w.valueFrom;
    } else {
      // parseABIJson accepts no other kinds.
      bool now = w.kind == "state_now";
      step.kind = now ? LoaderStep::Kind::StateNow
                      : LoaderStep::Kind::StateRandom;
      step.offset = w.offset;
      step.size = w.size;
      step.encoding = w.encoding;
      if (now ? (step.encoding != "u64" || step.size != 8)
              : (!isIntegerEncoding(step.encoding) || step.size == 0 ||
                 step.size > 8))
        return malformed(what, path,
                         "scalar '" + step.target + "' has encoding '" +
                             step.encoding + "' of " + llvm::Twine(step.size) +
                             " bytes, which " + w.kind + " cannot write");
      if (step.offset > abi.dataSize || step.size > abi.dataSize - step.offset)
        return malformed(what, path,
                         "scalar '" + step.target + "' at offset " +
                             llvm::Twine(step.offset) +
                             " is outside the state (" +
                             llvm::Twine(abi.dataSize) + " bytes)");
    }
    abi.loaderWork.push_back(std::move(step));
  }
  abi.record = std::move(*record);
  return abi;
}

std::string InitialStateReport::summary() const {
  std::vector<std::string> parts;
  auto count = [&](unsigned n, StringRef one, StringRef many) {
    if (n)
      parts.push_back(std::to_string(n) + " " + (n == 1 ? one : many).str());
  };
  count(mapEntries, "map entry", "map entries");
  count(mapEntriesLeftOut, "map entry left out of a full map",
        "map entries left out of a full map");
  count(scalarsNow, "scalar from the clock", "scalars from the clock");
  count(scalarsRandom, "random scalar", "random scalars");
  if (parts.empty())
    return "none needed";
  return llvm::join(parts, ", ");
}

Expected<InitialStateReport>
sbpf::runtime::applyInitialState(LoadedObject &object, const EmbeddedABI &abi) {
  struct bpf_object *obj = object.libbpfObject();
  InitialStateReport report;
  if (!obj)
    return invalid("applyInitialState: the object is not loaded");
  if (!object.find(abi.program))
    return invalid("the ABI record describes program '" + abi.program +
                   "', which the object does not have");

  // The global data map, when a step needs it.
  struct bpf_map *dataMap = nullptr;
  std::vector<uint8_t> data;
  bool needData = llvm::any_of(abi.loaderWork, [](const LoaderStep &s) {
    return s.kind != LoaderStep::Kind::MapEntry;
  });
  const uint32_t zero = 0;
  if (needData) {
    struct bpf_map *m;
    bpf_object__for_each_map(m, obj) {
      if (StringRef(bpf_map__name(m)).ends_with(abi.dataMapSuffix))
        dataMap = m;
    }
    if (!dataMap)
      return invalid("the object has no global data map ('*" +
                     abi.dataMapSuffix + "') for the record's state");
    data.resize(bpf_map__value_size(dataMap));
    if (data.size() < abi.dataSize)
      return invalid(llvm::Twine("the global data map '") +
                     bpf_map__name(dataMap) + "' has " +
                     llvm::Twine(data.size()) +
                     " bytes, less than the record's state (" +
                     llvm::Twine(abi.dataSize) + ")");
    if (bpf_map_lookup_elem(bpf_map__fd(dataMap), &zero, data.data()) != 0)
      return fromErrno(errno, llvm::Twine("reading the global data map '") +
                                  bpf_map__name(dataMap) + "'");
  }

  for (size_t i = 0; i < abi.loaderWork.size(); ++i) {
    const LoaderStep &step = abi.loaderWork[i];
    std::string where =
        "init.loader_work[" + std::to_string(i) + "] (" + step.target + ")";
    switch (step.kind) {
    case LoaderStep::Kind::MapEntry: {
      // Computed parts first, key before value (the order init's
      // encoding and the checker assume).
      std::vector<uint8_t> key = step.key, value = step.value;
      for (auto [from, bytes] : {std::pair{&step.keyFrom, &key},
                                 std::pair{&step.valueFrom, &value}}) {
        if (*from == "clock") {
          uint64_t now = monotonicNanoseconds();
          for (size_t k = 0; k < bytes->size(); ++k)
            (*bytes)[k] = uint8_t(now >> (8 * k));
        } else if (*from == "random") {
          if (Error err = randomBytes(bytes->data(), bytes->size()))
            return err;
        }
      }
      struct bpf_map *m =
          bpf_object__find_map_by_name(obj, step.target.c_str());
      if (!m)
        return invalid(where + ": the object has no map '" + step.target + "'");
      if (bpf_map__key_size(m) != step.key.size() ||
          bpf_map__value_size(m) != step.value.size())
        return invalid(where + ": map '" + step.target + "' has " +
                       llvm::Twine(bpf_map__key_size(m)) + "-byte keys and " +
                       llvm::Twine(bpf_map__value_size(m)) +
                       "-byte values; the record has " +
                       llvm::Twine(step.key.size()) + " and " +
                       llvm::Twine(step.value.size()));
      if (bpf_map_update_elem(bpf_map__fd(m), key.data(), value.data(),
                              BPF_ANY) != 0) {
        // A full map leaves a new key out, as netfn's map.set says.
        if (errno == E2BIG) {
          ++report.mapEntriesLeftOut;
          break;
        }
        return fromErrno(errno,
                         where + ": inserting into map '" + step.target + "'");
      }
      ++report.mapEntries;
      break;
    }
    case LoaderStep::Kind::StateNow: {
      if (step.offset + 8 > data.size())
        return invalid(where + ": outside the global data map");
      uint64_t now = monotonicNanoseconds();
      for (int k = 0; k < 8; ++k)
        data[step.offset + k] = uint8_t(now >> (8 * k));
      ++report.scalarsNow;
      break;
    }
    case LoaderStep::Kind::StateRandom: {
      if (step.offset + step.size > data.size())
        return invalid(where + ": outside the global data map");
      if (Error err = randomBytes(data.data() + step.offset, step.size))
        return err;
      ++report.scalarsRandom;
      break;
    }
    }
  }

  if (dataMap &&
      bpf_map_update_elem(bpf_map__fd(dataMap), &zero, data.data(), 0) != 0)
    return fromErrno(errno, llvm::Twine("writing the global data map '") +
                                bpf_map__name(dataMap) + "'");
  return report;
}

Expected<std::optional<InitialStateReport>>
sbpf::runtime::applyEmbeddedInitialState(const ObjectFile &file,
                                         LoadedObject &object) {
  if (!hasEmbeddedABI(file))
    return std::nullopt;
  auto abi = readEmbeddedABI(file);
  if (!abi)
    return abi.takeError();
  auto report = applyInitialState(object, *abi);
  if (!report)
    return invalid(file.name() +
                   ": initial state: " + llvm::toString(report.takeError()));
  return std::optional<InitialStateReport>(*report);
}
