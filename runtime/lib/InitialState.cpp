//===- InitialState.cpp - the embedded ABI record and init's loader work --===//
#include "sbpf/Runtime/InitialState.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Object/ELF.h"
#include "llvm/Object/ELFTypes.h"
#include "llvm/Support/JSON.h"

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

// Field access with the path of the field in messages.
class Reader {
public:
  explicit Reader(std::string what) : what_(std::move(what)) {}

  Error fail(const llvm::Twine &path, const llvm::Twine &why) const {
    return invalid(what_ + ": malformed ABI record: " + path + ": " + why);
  }

  Expected<const llvm::json::Object *> object(const llvm::json::Object &in,
                                              StringRef key,
                                              const std::string &path) const {
    const llvm::json::Value *v = in.get(key);
    if (!v)
      return fail(join(path, key), "missing");
    if (const auto *o = v->getAsObject())
      return o;
    return fail(join(path, key), "expected an object");
  }
  Expected<const llvm::json::Array *> array(const llvm::json::Object &in,
                                            StringRef key,
                                            const std::string &path) const {
    const llvm::json::Value *v = in.get(key);
    if (!v)
      return fail(join(path, key), "missing");
    if (const auto *a = v->getAsArray())
      return a;
    return fail(join(path, key), "expected an array");
  }
  Expected<std::string> string(const llvm::json::Object &in, StringRef key,
                               const std::string &path) const {
    const llvm::json::Value *v = in.get(key);
    if (!v)
      return fail(join(path, key), "missing");
    if (auto s = v->getAsString())
      return s->str();
    return fail(join(path, key), "expected a string");
  }
  Expected<uint64_t> unsignedInt(const llvm::json::Object &in, StringRef key,
                                 const std::string &path) const {
    const llvm::json::Value *v = in.get(key);
    if (!v)
      return fail(join(path, key), "missing");
    if (auto i = v->getAsInteger(); i && *i >= 0)
      return uint64_t(*i);
    return fail(join(path, key), "expected a non-negative integer");
  }
  Expected<std::vector<uint8_t>> hex(const llvm::json::Object &in,
                                     StringRef key, const std::string &path,
                                     uint64_t size) const {
    auto text = string(in, key, path);
    if (!text)
      return text.takeError();
    std::string bytes;
    if (text->size() % 2 != 0 || !llvm::tryGetFromHex(*text, bytes))
      return fail(join(path, key), "expected bytes in hex");
    if (bytes.size() != size)
      return fail(join(path, key), llvm::Twine(bytes.size()) +
                                       " bytes where the map's layout "
                                       "has " +
                                       llvm::Twine(size));
    return std::vector<uint8_t>(bytes.begin(), bytes.end());
  }

  static std::string join(const std::string &path, StringRef key) {
    return path.empty() ? key.str() : path + "." + key.str();
  }
  static std::string index(const std::string &path, StringRef key, size_t i) {
    return join(path, key) + "[" + std::to_string(i) + "]";
  }

private:
  std::string what_;
};

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
  Reader r(what.str());
  if (json.empty())
    return invalid(what + ": malformed ABI record: the section is empty");
  auto parsed = llvm::json::parse(json);
  if (!parsed)
    return invalid(what + ": malformed ABI record: not valid JSON: " +
                   llvm::toString(parsed.takeError()));
  const llvm::json::Object *root = parsed->getAsObject();
  if (!root)
    return invalid(what + ": malformed ABI record: not a JSON object");

  EmbeddedABI abi;
  abi.json = json.str();
  // The version first: a record of another version may have any shape.
  const llvm::json::Value *version = root->get("sbpf_abi_version");
  if (!version)
    return r.fail("sbpf_abi_version", "missing (not an sbpf ABI record?)");
  auto v = version->getAsInteger();
  if (!v)
    return r.fail("sbpf_abi_version", "expected an integer");
  if (*v != kEmbeddedABIVersion)
    return invalid(what + ": ABI record version " + llvm::Twine(*v) +
                   " is not supported (this sbpf reads version " +
                   llvm::Twine(kEmbeddedABIVersion) +
                   "; recompile the element with this sbpf-opt)");
  abi.version = int(*v);

  auto program = r.string(*root, "program", "");
  if (!program)
    return program.takeError();
  abi.program = *program;

  auto state = r.object(*root, "state", "");
  if (!state)
    return state.takeError();
  auto dataMap = r.string(**state, "libbpf_map", "state");
  if (!dataMap)
    return dataMap.takeError();
  abi.dataMapSuffix = *dataMap;
  auto dataSize = r.unsignedInt(**state, "size", "state");
  if (!dataSize)
    return dataSize.takeError();
  abi.dataSize = *dataSize;

  auto maps = r.array(*root, "maps", "");
  if (!maps)
    return maps.takeError();
  for (size_t i = 0; i < (*maps)->size(); ++i) {
    std::string path = Reader::index("", "maps", i);
    const llvm::json::Object *m = (**maps)[i].getAsObject();
    if (!m)
      return r.fail(path, "expected an object");
    EmbeddedABI::MapLayout layout;
    auto name = r.string(*m, "name", path);
    if (!name)
      return name.takeError();
    layout.name = *name;
    for (auto [part, size] : {std::pair{"key", &layout.keySize},
                              std::pair{"value", &layout.valueSize}}) {
      auto o = r.object(*m, part, path);
      if (!o)
        return o.takeError();
      auto n = r.unsignedInt(**o, "size", Reader::join(path, part));
      if (!n)
        return n.takeError();
      *size = *n;
    }
    abi.maps.push_back(std::move(layout));
  }

  auto init = r.object(*root, "init", "");
  if (!init)
    return init.takeError();
  auto work = r.array(**init, "loader_work", "init");
  if (!work)
    return work.takeError();
  for (size_t i = 0; i < (*work)->size(); ++i) {
    std::string path = Reader::index("init", "loader_work", i);
    const llvm::json::Object *w = (**work)[i].getAsObject();
    if (!w)
      return r.fail(path, "expected an object");
    LoaderStep step;
    auto kind = r.string(*w, "kind", path);
    if (!kind)
      return kind.takeError();
    auto target = r.string(*w, "target", path);
    if (!target)
      return target.takeError();
    step.target = *target;
    if (*kind == "map_entry") {
      step.kind = LoaderStep::Kind::MapEntry;
      const EmbeddedABI::MapLayout *layout = nullptr;
      for (const auto &m : abi.maps)
        if (m.name == step.target)
          layout = &m;
      if (!layout)
        return r.fail(Reader::join(path, "target"),
                      "'" + step.target + "' is not one of the record's maps");
      auto key = r.hex(*w, "key", path, layout->keySize);
      if (!key)
        return key.takeError();
      auto value = r.hex(*w, "value", path, layout->valueSize);
      if (!value)
        return value.takeError();
      step.key = std::move(*key);
      step.value = std::move(*value);
    } else if (*kind == "state_now" || *kind == "state_random") {
      step.kind = *kind == "state_now" ? LoaderStep::Kind::StateNow
                                       : LoaderStep::Kind::StateRandom;
      auto offset = r.unsignedInt(*w, "offset", path);
      if (!offset)
        return offset.takeError();
      auto size = r.unsignedInt(*w, "size", path);
      if (!size)
        return size.takeError();
      auto encoding = r.string(*w, "encoding", path);
      if (!encoding)
        return encoding.takeError();
      step.offset = *offset;
      step.size = *size;
      step.encoding = *encoding;
      if (step.kind == LoaderStep::Kind::StateNow
              ? (step.encoding != "u64" || step.size != 8)
              : (!isIntegerEncoding(step.encoding) || step.size == 0 ||
                 step.size > 8))
        return r.fail(path, "scalar '" + step.target + "' has encoding '" +
                                step.encoding + "' of " +
                                llvm::Twine(step.size) + " bytes, which " +
                                *kind + " cannot write");
      if (step.offset > abi.dataSize || step.size > abi.dataSize - step.offset)
        return r.fail(path, "scalar '" + step.target + "' at offset " +
                                llvm::Twine(step.offset) +
                                " is outside the state (" +
                                llvm::Twine(abi.dataSize) + " bytes)");
    } else {
      return r.fail(Reader::join(path, "kind"),
                    "unknown loader work '" + *kind + "'");
    }
    abi.loaderWork.push_back(std::move(step));
  }
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
      if (bpf_map_update_elem(bpf_map__fd(m), step.key.data(),
                              step.value.data(), BPF_ANY) != 0) {
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
