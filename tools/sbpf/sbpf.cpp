//===- sbpf.cpp - the SimpleBPF driver: verify, measure, check objects ---===//
//
// `sbpf <command> ...` (shared/docs/cli.md). Implemented: `verify` (load
// every program of an object into the kernel verifier; the log of a rejected
// one on stderr), `stats` (per-program figures as a table or JSON lines),
// `check` (prove an object equivalent to its AppNet element) and `equiv`
// (prove two objects equivalent), both with the checker (docs/checker.md).
// verify and stats apply the initial state of an object that carries an ABI
// record (section .sbpf.abi, docs/bpf-abi.md) right after loading it.
// `build`, `testgen` and `run` say they are not implemented yet (exit 2).
// Hidden: `probe` tells lit whether this process may load BPF programs;
// `replay OBJ CX.json` runs a counterexample of `check --json` in the kernel
// (the mutation test uses it).
//
// Exit status: 0 success; 1 failure (rejected program, unreadable object, no
// permission); 2 usage error or a command not implemented yet. check and
// equiv: 0 equivalent, 1 counterexample, 2 unknown or error (with the
// reason), so that 1 always means "a difference was found".
//
//===----------------------------------------------------------------------===//
#include "sbpf/Checker/Check.h"
#include "sbpf/Element.h"
#include "sbpf/Runtime/ChosenInputs.h"
#include "sbpf/InitAll.h"
#include "sbpf/Runtime/InitialState.h"
#include "sbpf/Runtime/Loader.h"
#include "sbpf/Runtime/Metrics.h"
#include "sbpf/Runtime/Packet.h"
#include "sbpf/Runtime/TestRun.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <optional>
#include <string>
#include <vector>

using namespace sbpf::runtime;
using llvm::StringRef;

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr unsigned kDefaultRepeat = 10000;

struct Command {
  StringRef name;
  StringRef usage;
  StringRef summary;
  bool implemented;
};

// The commands of shared/docs/cli.md and DESIGN.md, in the order of the
// pipeline. Forms not yet fixed by the contract are shown as "...".
const Command kCommands[] = {
    {"build", "build ...", "compile a DSL source to an eBPF object", false},
    {"verify", "verify OBJ.bpf.o",
     "load every program into the kernel verifier; on rejection print the "
     "verifier log. An object with an ABI record (.sbpf.abi, from sbpf-opt "
     "--emit=c) then gets its initial state (init's map entries, clock and "
     "random scalars); a damaged record is an error",
     true},
    {"check", "check FILE.appnet OBJ.bpf.o [-O0]",
     "prove an object equivalent to its element (after the netfn passes of "
     "--appnet-to-bpf; the binding is the object's ABI record), first its "
     "initial state (init: .data bytes and the record's loader work), then "
     "every handler. Prints 'equivalent' (exit 0), a counterexample (exit "
     "1: input frame, state, random draws, both outcomes; or the initial "
     "states) or 'unknown: REASON' (exit 2)",
     true},
    {"equiv", "equiv A.bpf.o B.bpf.o",
     "prove two objects with the same maps equivalent: same return code, "
     "frame, global data, map contents, records, draws and clock readings "
     "for every input. Exit status as for check",
     true},
    {"stats", "stats OBJ.bpf.o [--json]",
     "per-program figures: instructions, JIT size and instructions, ns per "
     "run. The initial state of an ABI record is applied first, so ns per "
     "run measures the element in its real state",
     true},
    {"testgen", "testgen ...", "generate test cases by symbolic execution",
     false},
    {"run", "run ...", "run programs in the kernel on test packets", false},
};

// Writes `text` word-wrapped to 80 columns; the first line continues what
// is already on the line (`column` characters), the others start at
// `indent`.
void printWrapped(llvm::raw_ostream &os, StringRef text, size_t column,
                  size_t indent) {
  constexpr size_t kWidth = 80;
  bool lineStart = true;
  while (!text.empty()) {
    text = text.ltrim(' ');
    StringRef word = text.take_until([](char c) { return c == ' '; });
    text = text.drop_front(word.size());
    if (word.empty())
      break;
    if (!lineStart && column + 1 + word.size() > kWidth) {
      os << "\n" << std::string(indent, ' ');
      column = indent;
      lineStart = true;
    }
    if (!lineStart) {
      os << ' ';
      ++column;
    }
    os << word;
    column += word.size();
    lineStart = false;
  }
  os << "\n";
}

// One help entry: `name` indented by 2, `text` wrapped at `column`; a name
// too long for its column gets a line of its own.
void printEntry(llvm::raw_ostream &os, StringRef name, StringRef text,
                size_t column) {
  os << "  " << name;
  if (name.size() + 3 > column)
    os << "\n" << std::string(column, ' ');
  else
    os << std::string(column - 2 - name.size(), ' ');
  printWrapped(os, text, column, column);
}

void printHelp(llvm::raw_ostream &os) {
  os << "OVERVIEW: sbpf, the SimpleBPF driver: verify, measure and check eBPF "
        "objects\n\n"
        "USAGE: sbpf <command> [options] <args>\n\nCOMMANDS:\n";
  constexpr size_t kColumn = 32;
  for (const Command &c : kCommands) {
    std::string summary = c.summary.str();
    if (!c.implemented)
      summary += " (not implemented yet)";
    printEntry(os, c.usage, summary, kColumn);
  }
  struct Entry {
    StringRef name;
    std::string text;
  };
  const Entry options[] = {
      {"--json", "stats: one JSON object per program and line, with the keys "
                 "name, insns, xlated_insns, jited_bytes, jited_insns, "
                 "ns_per_run. check, equiv: one JSON object with status "
                 "(equivalent, different, unknown, error), reason, paths, "
                 "solver_calls, seconds, init (check: the init observable) "
                 "and counterexample"},
      {"--init-only", "check: only whether the object starts in the state "
                      "the element's init produces (its .data bytes and the "
                      "ABI record's loader work), not the handlers"},
      {"-O0", "check: the object was built with sbpf-opt -O0: compare it with "
              "the element without the netfn optimisations (by default, "
              "with them, as sbpf-opt builds it; state that only init sets "
              "is then a constant, and an -O0 object, which reads it from "
              ".data, differs when .data holds another value)"},
      {"--rpc-schema S", "check: the message schema the element was compiled "
                         "with"},
      {"--timeout-ms N", "check, equiv: solver budget in milliseconds "
                         "(default 20000); past it the answer is unknown"},
      {"--no-sweep", "check, equiv: do not fall back to SAT sweeping (by "
                     "default, queries still open after 3 million of Z3's "
                     "resource units when they divide or multiply variables, "
                     "else 200 million, at most half the budget, are "
                     "rewritten with their proven-equal subterms shared and "
                     "asked again; docs/checker.md)"},
      {"--repeat N", "stats: test runs averaged for ns_per_run (default " +
                         std::to_string(kDefaultRepeat) + ")"},
      {"--payload-bytes N", "stats: aRPC payload size of the measured packet "
                            "(default 64; a handler only runs when the payload "
                            "covers its message layout)"},
      {"--jit-asm", "stats: also print each program's JIT image as assembly"},
      {"--verbose, -v", "show libbpf's own messages on stderr"},
      {"--help, -h", "show this help"},
      {"--version", "show the versions of sbpf, LLVM and libbpf"},
  };
  os << "\nOPTIONS:\n";
  for (const Entry &e : options)
    printEntry(os, e.name, e.text, 18);
  const Entry figures[] = {
      {"insns", "BPF instructions submitted to the kernel: the program's ELF "
                "code plus the BPF-to-BPF subprograms it calls; a 64-bit "
                "immediate load (ld_imm64) counts 2, as the kernel counts it"},
      {"xlated_insns", "instructions after the verifier's rewrites "
                       "(bpf_prog_info.xlated_prog_len / 8)"},
      {"jited_bytes", "size of the JIT image in bytes (0 when the JIT is "
                      "off)"},
      {"jited_insns", "machine instructions of the JIT image, counted with "
                      "LLVM's MC disassembler for the host (0 when the JIT "
                      "is off)"},
      {"ns_per_run", "mean ns per run of BPF_PROG_TEST_RUN over --repeat runs "
                     "on the representative packet: " +
                         representativePacketDescription().str() +
                         "; XDP and tc programs only, otherwise null (JSON) "
                         "or '-'"},
  };
  os << "\nFIGURES (stats):\n";
  for (const Entry &e : figures)
    printEntry(os, e.name, e.text, 16);
  os << "\nEXIT STATUS: 0 success; 1 failure (rejected program, unreadable "
        "object, no\npermission); 2 usage error or command not implemented "
        "yet.\ncheck, equiv: 0 equivalent; 1 counterexample; 2 unknown or "
        "error.\n";
}

int usageError(const llvm::Twine &message) {
  llvm::outs().flush();
  llvm::errs() << "sbpf: error: " << message << " (see 'sbpf --help')\n";
  return kExitUsage;
}

int failure(const llvm::Twine &message) {
  llvm::outs().flush();
  llvm::errs() << "sbpf: error: " << message << "\n";
  return kExitFailure;
}

// The object's embedded ABI record, if it has one; a damaged record is an
// error (reported before anything is loaded).
llvm::Expected<std::optional<EmbeddedABI>> readOptionalABI(const ObjectFile &file) {
  if (!hasEmbeddedABI(file))
    return std::optional<EmbeddedABI>();
  auto record = readEmbeddedABI(file);
  if (!record)
    return record.takeError();
  return std::optional<EmbeddedABI>(std::move(*record));
}

// Prints an error from the runtime: a rejection with its verifier log,
// anything else as one message.
int reportError(llvm::Error err) {
  llvm::outs().flush();
  llvm::handleAllErrors(
      std::move(err),
      [&](const VerifierRejection &rejection) {
        llvm::errs() << "sbpf: error: " << rejection.message() << "\n";
        llvm::errs() << "--- verifier log of '" << rejection.program
                     << "' ---\n";
        StringRef log = rejection.verifierLog;
        llvm::errs() << log;
        if (!log.endswith("\n"))
          llvm::errs() << "\n";
        llvm::errs() << "--- end of verifier log ---\n";
      },
      [&](const llvm::ErrorInfoBase &info) {
        llvm::errs() << "sbpf: error: " << info.message() << "\n";
      });
  return kExitFailure;
}

struct Arguments {
  std::vector<std::string> positional;
  bool json = false;
  bool verbose = false;
  bool help = false;
  bool jitAsm = false;
  bool initOnly = false;
  /// check -O0: the element as `sbpf-opt -O0 --appnet-to-bpf` builds it.
  bool optNone = false;
  unsigned repeat = kDefaultRepeat;
  unsigned payloadBytes = 64;
  unsigned timeoutMs = 20000;
  bool sweep = true;
  std::string rpcSchema;
  /// The first option given that only `stats` takes, for the error message.
  std::string statsOnlyOption;
  /// The first option given that only check/equiv take.
  std::string checkOnlyOption;
};

/// The numeric options of `stats`: name, bounds and the field they set.
std::optional<std::tuple<StringRef, unsigned, unsigned, unsigned Arguments::*>>
numericOption(StringRef arg) {
  for (auto option :
       {std::make_tuple(StringRef("--repeat"), 1u, 100000000u, &Arguments::repeat),
        std::make_tuple(StringRef("--payload-bytes"), 0u, 1400u,
                        &Arguments::payloadBytes),
       std::make_tuple(StringRef("--timeout-ms"), 1u, 3600000u,
                       &Arguments::timeoutMs)})
    if (arg == std::get<0>(option) ||
        arg.startswith((std::get<0>(option) + "=").str()))
      return option;
  return std::nullopt;
}

// Options may come anywhere after the command; `--` ends them.
std::optional<int> parseArguments(StringRef command, int argc, char **argv,
                                  Arguments &args) {
  bool optionsDone = false;
  for (int i = 0; i < argc; ++i) {
    StringRef arg(argv[i]);
    if (optionsDone || !arg.startswith("-") || arg == "-") {
      args.positional.push_back(arg.str());
      continue;
    }
    if (arg == "--") {
      optionsDone = true;
    } else if (arg == "--json") {
      args.json = true;
    } else if (arg == "--rpc-schema" || arg.startswith("--rpc-schema=")) {
      if (arg.consume_front("--rpc-schema="))
        args.rpcSchema = arg.str();
      else if (i + 1 < argc)
        args.rpcSchema = argv[++i];
      else
        return usageError("--rpc-schema needs a file");
      if (args.checkOnlyOption.empty())
        args.checkOnlyOption = "--rpc-schema";
    } else if (arg == "--no-sweep") {
      args.sweep = false;
      if (args.checkOnlyOption.empty())
        args.checkOnlyOption = "--no-sweep";
    } else if (arg == "-O0") {
      args.optNone = true;
    } else if (arg == "--init-only") {
      args.initOnly = true;
      if (args.checkOnlyOption.empty())
        args.checkOnlyOption = arg.str();
    } else if (arg == "--jit-asm") {
      args.jitAsm = true;
      if (args.statsOnlyOption.empty())
        args.statsOnlyOption = arg.str();
    } else if (arg == "--verbose" || arg == "-v") {
      args.verbose = true;
    } else if (arg == "--help" || arg == "-h") {
      args.help = true;
    } else if (auto numeric = numericOption(arg)) {
      // --repeat N / --payload-bytes N, also as --name=N.
      auto [name, low, high, target] = *numeric;
      StringRef value;
      if (arg.consume_front((name + "=").str()))
        value = arg;
      else if (i + 1 < argc)
        value = argv[++i];
      else
        return usageError(name + " needs a number");
      unsigned n;
      if (value.getAsInteger(10, n) || n < low || n > high)
        return usageError(name + " takes a number from " + llvm::Twine(low) + " to " +
                          llvm::Twine(high) + ", not '" + value + "'");
      args.*target = n;
      if (name == "--timeout-ms") {
        if (args.checkOnlyOption.empty())
          args.checkOnlyOption = name.str();
      } else if (args.statsOnlyOption.empty()) {
        args.statsOnlyOption = name.str();
      }
    } else {
      return usageError("unknown option '" + arg + "' for '" + command + "'");
    }
  }
  if (command != "stats" && !args.statsOnlyOption.empty())
    return usageError("'" + args.statsOnlyOption + "' is an option of 'stats'");
  if (command != "check" && command != "equiv" &&
      !args.checkOnlyOption.empty())
    return usageError("'" + args.checkOnlyOption +
                      "' is an option of 'check' and 'equiv'");
  if (command == "equiv" && (args.checkOnlyOption == "--rpc-schema" ||
                            args.checkOnlyOption == "--init-only" ||
                            args.initOnly))
    return usageError("'" +
                      (args.initOnly ? std::string("--init-only")
                                     : args.checkOnlyOption) +
                      "' is an option of 'check'");
  if (args.optNone && command != "check")
    return usageError("'-O0' is an option of 'check'");
  if (args.json && command != "stats" && command != "check" &&
      command != "equiv")
    return usageError("'--json' is an option of 'stats', 'check' and 'equiv'");
  if (args.json && args.jitAsm)
    return usageError("'--jit-asm' prints assembly after the table; it does "
                      "not combine with '--json'");
  return std::nullopt;
}

// Reads OBJ, loads it and applies the initial state of its ABI record when
// it has one (`initial` is then set); prints the error and returns the exit
// status on failure.
std::optional<int> loadOrReport(StringRef path, std::optional<ObjectFile> &file,
                                std::optional<LoadedObject> &loaded,
                                std::optional<InitialStateReport> &initial) {
  auto read = ObjectFile::read(path);
  if (!read)
    return reportError(read.takeError());
  file.emplace(std::move(*read));
  auto description = file->describePrograms();
  if (!description)
    return reportError(description.takeError());
  if (description->empty())
    return failure(path + ": the object has no BPF programs");
  // A damaged record is reported before anything is loaded.
  auto record = readOptionalABI(*file);
  if (!record)
    return reportError(record.takeError());
  std::optional<EmbeddedABI> abi = std::move(*record);
  auto result = loadObject(*file);
  if (!result)
    return reportError(result.takeError());
  loaded.emplace(std::move(*result));
  if (abi) {
    auto report = applyInitialState(*loaded, *abi);
    if (!report)
      return failure(path + ": initial state of the ABI record: " +
                     llvm::toString(report.takeError()));
    initial = *report;
  }
  return std::nullopt;
}

int runVerify(const Arguments &args) {
  if (args.positional.size() != 1)
    return usageError("'verify' takes one object file: sbpf verify OBJ.bpf.o");
  StringRef path = args.positional[0];
  std::optional<ObjectFile> file;
  std::optional<LoadedObject> loaded;
  std::optional<InitialStateReport> initial;
  if (auto status = loadOrReport(path, file, loaded, initial))
    return *status;

  llvm::raw_ostream &os = llvm::outs();
  size_t n = loaded->programs().size();
  os << path << ": " << n << (n == 1 ? " program" : " programs")
     << " accepted by the kernel verifier\n";
  for (const LoadedProgram &program : loaded->programs()) {
    auto info = queryProgramInfo(program.fd, /*fetchJitImage=*/false);
    os << "  " << program.name << " (" << program.section << "): ";
    if (info)
      os << info->xlatedInsns << " xlated insns\n";
    else
      os << "xlated insns unknown (" << llvm::toString(info.takeError())
         << ")\n";
  }
  if (initial)
    os << "  initial state from the ABI record: " << initial->summary()
       << "\n";
  return 0;
}

void printJson(llvm::raw_ostream &os, const ProgramFigures &f) {
  // OStream writes keys in call order: the order of shared/docs/cli.md.
  llvm::json::OStream json(os);
  json.object([&] {
    json.attribute("name", f.name);
    json.attribute("insns", int64_t(f.insns));
    json.attribute("xlated_insns", int64_t(f.xlatedInsns));
    json.attribute("jited_bytes", int64_t(f.jitedBytes));
    json.attribute("jited_insns", int64_t(f.jitedInsns));
    if (f.nsPerRun)
      json.attribute("ns_per_run", int64_t(*f.nsPerRun));
    else
      json.attribute("ns_per_run", nullptr);
  });
  os << "\n";
}

void printTable(llvm::raw_ostream &os,
                const std::vector<ProgramFigures> &rows) {
  const char *headers[] = {"PROGRAM",     "TYPE",        "INSNS", "XLATED",
                           "JITED_BYTES", "JITED_INSNS", "NS/RUN"};
  std::vector<std::vector<std::string>> cells;
  for (const ProgramFigures &f : rows)
    cells.push_back({f.name, f.typeName, std::to_string(f.insns),
                     std::to_string(f.xlatedInsns),
                     std::to_string(f.jitedBytes), std::to_string(f.jitedInsns),
                     f.nsPerRun ? std::to_string(*f.nsPerRun) : "-"});
  size_t widths[7];
  for (size_t c = 0; c < 7; ++c) {
    widths[c] = StringRef(headers[c]).size();
    for (const auto &row : cells)
      widths[c] = std::max(widths[c], row[c].size());
  }
  auto printRow = [&](auto cell) {
    for (size_t c = 0; c < 7; ++c) {
      if (c)
        os << "  ";
      // Names left-aligned, numbers right-aligned.
      if (c < 2)
        os << llvm::left_justify(cell(c), c == 6 ? 0 : widths[c]);
      else
        os << llvm::right_justify(cell(c), widths[c]);
    }
    os << "\n";
  };
  printRow([&](size_t c) { return StringRef(headers[c]); });
  for (const auto &row : cells)
    printRow([&](size_t c) { return StringRef(row[c]); });
}

// The JIT image of `program`, disassembled, after a header line.
void printJitAssembly(llvm::raw_ostream &os, const LoadedProgram &program) {
  os << "\nJIT image of '" << program.name << "'";
  auto info = queryProgramInfo(program.fd, /*fetchJitImage=*/true);
  if (!info) {
    os << ": " << llvm::toString(info.takeError()) << "\n";
    return;
  }
  if (info->jitImage.empty()) {
    os << ": not available\n";
    return;
  }
  os << " (" << info->jitImage.size() << " bytes, "
     << info->jitFunctionSizes.size()
     << (info->jitFunctionSizes.size() == 1 ? " function" : " functions")
     << "):\n";
  auto text = disassembleMachineCode(info->jitImage, info->jitFunctionSizes);
  if (!text)
    os << llvm::toString(text.takeError()) << "\n";
  else
    os << *text;
}

int runStats(const Arguments &args) {
  if (args.positional.size() != 1)
    return usageError(
        "'stats' takes one object file: sbpf stats OBJ.bpf.o [--json]");
  StringRef path = args.positional[0];
  std::optional<ObjectFile> file;
  std::optional<LoadedObject> loaded;
  std::optional<InitialStateReport> initial;
  if (auto status = loadOrReport(path, file, loaded, initial))
    return *status;

  MeasureOptions options;
  options.repeat = args.repeat;
  options.packet = representativePacket(args.payloadBytes);
  std::vector<ProgramFigures> rows;
  for (const LoadedProgram &program : loaded->programs()) {
    auto figures = measureProgram(program, options);
    if (!figures)
      return failure(path + ": program '" + program.name +
                     "': " + llvm::toString(figures.takeError()));
    rows.push_back(std::move(*figures));
  }

  llvm::raw_ostream &os = llvm::outs();
  if (args.json) {
    for (const ProgramFigures &f : rows)
      printJson(os, f);
    // Notes stay off stdout so that it holds JSON lines only.
    os.flush();
    if (initial)
      llvm::errs() << "sbpf: note: initial state from the ABI record applied "
                      "before measuring: "
                   << initial->summary() << "\n";
    for (const ProgramFigures &f : rows)
      for (const std::string &note : f.notes)
        llvm::errs() << "sbpf: note: " << f.name << ": " << note << "\n";
    return 0;
  }
  printTable(os, rows);
  if (initial)
    os << "note: initial state from the ABI record applied before measuring: "
       << initial->summary() << "\n";
  for (const ProgramFigures &f : rows)
    for (const std::string &note : f.notes)
      os << "note: " << f.name << ": " << note << "\n";
  if (args.jitAsm)
    for (const LoadedProgram &program : loaded->programs())
      printJitAssembly(os, program);
  return 0;
}

int runProbe(const Arguments &args) {
  if (llvm::Error err = probeProgramLoad())
    return reportError(std::move(err));
  llvm::outs() << "BPF_PROG_LOAD is permitted\n";
  return 0;
}

//===- check, equiv, replay -------------------------------------------------===//

constexpr int kExitUnknown = 2;

std::optional<std::vector<uint8_t>> readBytes(StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false);
  if (!buffer) {
    llvm::errs() << "sbpf: error: " << path << ": "
                 << buffer.getError().message() << "\n";
    return std::nullopt;
  }
  StringRef b = (*buffer)->getBuffer();
  return std::vector<uint8_t>(b.begin(), b.end());
}

const char *statusName(sbpf::checker::CheckReport::Status s) {
  using R = sbpf::checker::CheckReport;
  switch (s) {
  case R::Proven: return "equivalent";
  case R::Different: return "different";
  case R::Unknown: return "unknown";
  case R::Error: return "error";
  }
  return "error";
}

// The counterexample as JSON: what `sbpf replay` reads back.
void counterexampleJson(llvm::json::OStream &j,
                        const sbpf::checker::Counterexample &cx) {
  auto hex = [](llvm::ArrayRef<uint8_t> b) { return llvm::toHex(b, true); };
  j.object([&] {
    j.attribute("event", cx.event);
    j.attribute("packet", hex(cx.packet));
    j.attribute("global_data", hex(cx.globalData));
    j.attributeObject("maps", [&] {
      for (const auto &[name, entries] : cx.mapEntries)
        j.attributeArray(name, [&] {
          for (const auto &[k, v] : entries)
            j.array([&] {
              j.value(hex(k));
              j.value(hex(v));
            });
        });
    });
    j.attributeArray("draws", [&] {
      for (uint32_t d : cx.draws)
        j.value(int64_t(d));
    });
    j.attributeArray("clocks", [&] {
      for (uint64_t t : cx.clocks)
        j.value(std::to_string(t)); // u64 does not fit a JSON number
    });
    j.attribute("depends_on_draws_or_clocks", cx.dependsOnDrawsOrClocks);
    j.attribute("actual_draws_used", int64_t(cx.actualDraws));
    j.attribute("actual_clocks_used", int64_t(cx.actualClocks));
    j.attribute("expected", cx.expected);
    j.attribute("actual", cx.actual);
    j.attribute("expected_action", int64_t(cx.expectedAction));
    j.attribute("actual_action", int64_t(cx.actualAction));
    j.attribute("expected_global_data_after", hex(cx.expectedGlobalDataAfter));
    j.attribute("actual_global_data_after", hex(cx.actualGlobalDataAfter));
    j.attributeArray("expected_rejects", [&] {
      for (uint64_t r : cx.expectedRejects)
        j.value(int64_t(r));
    });
    j.attributeArray("actual_rejects", [&] {
      for (uint64_t r : cx.actualRejects)
        j.value(int64_t(r));
    });
    j.attribute("actual_packet_after", hex(cx.actualPacketAfter));
    j.attribute("init", cx.init);
    // [key, element's value, object's value]; null: the key is absent.
    auto valueOrNull = [&](const std::optional<std::vector<uint8_t>> &v) {
      if (v)
        j.value(hex(*v));
      else
        j.value(nullptr);
    };
    j.attributeObject("maps_after", [&] {
      for (const auto &[name, entries] : cx.mapsAfter)
        j.attributeArray(name, [&] {
          for (const auto &e : entries)
            j.array([&] {
              j.value(hex(e.key));
              valueOrNull(e.expected);
              valueOrNull(e.actual);
            });
        });
    });
    for (auto [key, records] :
         {std::pair{"expected_records", &cx.expectedRecords},
          std::pair{"actual_records", &cx.actualRecords}})
      j.attributeObject(key, [&] {
        for (const auto &[name, list] : *records)
          j.attributeArray(name, [&] {
            for (const auto &r : list)
              j.value(hex(r));
          });
      });
    j.attribute("text", cx.text);
  });
}

int reportCheck(const sbpf::checker::CheckReport &r, bool json) {
  using R = sbpf::checker::CheckReport;
  llvm::raw_ostream &os = llvm::outs();
  if (json) {
    llvm::json::OStream j(os);
    j.object([&] {
      j.attribute("status", statusName(r.status));
      j.attribute("reason", r.reason);
      j.attribute("paths", int64_t(r.paths));
      j.attribute("solver_calls", int64_t(r.solverCalls));
      j.attribute("seconds", r.seconds);
      j.attribute("init", r.init);
      if (r.status == R::Different) {
        j.attributeBegin("counterexample");
        counterexampleJson(j, r.counterexample);
        j.attributeEnd();
      }
    });
    os << "\n";
  } else if (r.status == R::Proven) {
    os << "equivalent\n"
       << "  " << r.paths << (r.paths == 1 ? " path, " : " paths, ")
       << r.solverCalls << " solver calls, "
       << llvm::format("%.2f", r.seconds) << " s\n";
    if (!r.init.empty())
      os << "  init: " << r.init << "\n";
  } else if (r.status == R::Different) {
    os << r.counterexample.text;
  } else if (r.status == R::Unknown) {
    os << "unknown: " << r.reason << "\n";
  } else {
    os.flush();
    llvm::errs() << "sbpf: error: " << r.reason << "\n";
  }
  switch (r.status) {
  case R::Proven: return 0;
  case R::Different: return kExitFailure;
  default: return kExitUnknown;
  }
}

int runCheck(const Arguments &args) {
  if (args.positional.size() != 2)
    return usageError("'check' takes an element and an object: sbpf check "
                      "FILE.appnet OBJ.bpf.o [--rpc-schema S]");
  mlir::DialectRegistry registry;
  sbpf::registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();
  context.printOpOnDiagnostic(false);
  sbpf::DomainOptions options;
  options.eventSchemaPath = args.rpcSchema;
  if (!args.rpcSchema.empty() && !llvm::sys::fs::exists(args.rpcSchema)) {
    llvm::errs() << "sbpf: error: cannot read --rpc-schema '" << args.rpcSchema
                 << "'\n";
    return kExitUnknown;
  }
  // The element as the object was built from it: -O0 objects read state
  // that the default level turns into constants, so against the optimised
  // element they differ on .data bytes init never leaves.
  auto module = sbpf::loadElementForBPF(args.positional[0], options, context,
                                        args.optNone ? 0 : 2);
  if (!module)
    return kExitUnknown; // the frontend printed FILE:LINE:COL: error: ...
  sbpf::netfn::ProgramOp program;
  module->walk([&](sbpf::netfn::ProgramOp p) { program = p; });
  if (!program) {
    llvm::errs() << "sbpf: error: " << args.positional[0]
                 << ": no netfn.program\n";
    return kExitUnknown;
  }
  auto object = readBytes(args.positional[1]);
  if (!object)
    return kExitUnknown;
  sbpf::checker::CheckOptions checkOptions;
  checkOptions.timeoutMs = args.timeoutMs;
  checkOptions.sweep = args.sweep;
  auto report =
      args.initOnly
          ? sbpf::checker::checkInit(program, *object, nullptr, checkOptions)
          : sbpf::checker::checkObject(program, *object, nullptr, checkOptions);
  if (report.status == sbpf::checker::CheckReport::Error)
    report.reason = args.positional[1] + ": " + report.reason;
  return reportCheck(report, args.json);
}

int runEquiv(const Arguments &args) {
  if (args.positional.size() != 2)
    return usageError("'equiv' takes two objects: sbpf equiv A.bpf.o B.bpf.o");
  auto a = readBytes(args.positional[0]);
  auto b = readBytes(args.positional[1]);
  if (!a || !b)
    return kExitUnknown;
  sbpf::checker::CheckOptions checkOptions;
  checkOptions.timeoutMs = args.timeoutMs;
  checkOptions.sweep = args.sweep;
  return reportCheck(sbpf::checker::checkObjects(*a, *b, checkOptions,
                                                 args.positional[0],
                                                 args.positional[1]),
                     args.json);
}

// Replays a counterexample (the "counterexample" object of `check --json`,
// or the whole output) in the kernel: loads OBJ with its draw and clock
// helper calls redirected to the counterexample's `draws` and `clocks`
// (runtime/ChosenInputs.h), writes the global data and the map entries,
// runs the frame once with BPF_PROG_TEST_RUN and prints one JSON object:
// action, global data after, reject counter increments, the frame after,
// how many draws and clock readings the run took, the hash-map entries at
// the keys of `maps_after` (value in hex, or null when absent) and the
// records the run appended to each ring buffer. An init counterexample (`"init": true`) has no frame: the
// object is loaded, the loader does the ABI record's init work, and the
// state is read back (action null).
int runReplay(const Arguments &args) {
  if (args.positional.size() != 2)
    return usageError("'replay' takes OBJ.bpf.o CX.json");
  auto text = llvm::MemoryBuffer::getFile(args.positional[1]);
  if (!text)
    return failure(args.positional[1] + ": " + text.getError().message());
  auto parsed = llvm::json::parse((*text)->getBuffer());
  if (!parsed)
    return failure(args.positional[1] + ": " + llvm::toString(parsed.takeError()));
  const llvm::json::Object *cx = parsed->getAsObject();
  if (cx && cx->getObject("counterexample"))
    cx = cx->getObject("counterexample");
  if (!cx)
    return failure(args.positional[1] + ": not a counterexample");
  auto unhex = [](std::optional<StringRef> s) {
    std::string out;
    if (!s || !llvm::tryGetFromHex(*s, out))
      return std::optional<std::vector<uint8_t>>();
    return std::optional<std::vector<uint8_t>>(
        std::vector<uint8_t>(out.begin(), out.end()));
  };
  bool init = cx->getBoolean("init").value_or(false);
  auto packet = unhex(cx->getString("packet"));
  auto data = unhex(cx->getString(init ? "expected_global_data_after"
                                       : "global_data"));
  if (!packet || !data)
    return failure("the counterexample has no packet / global_data in hex");

  auto read = ObjectFile::read(args.positional[0]);
  if (!read)
    return reportError(read.takeError());
  auto record = readOptionalABI(*read);
  if (!record)
    return reportError(record.takeError());
  std::optional<EmbeddedABI> abi = std::move(*record);
  if (init && !abi)
    return failure("an init counterexample needs the object's ABI record");
  // The counterexample's draws and clock readings: the program's calls of
  // those helpers are redirected to them (ChosenInputs.h).
  std::vector<uint32_t> draws;
  std::vector<uint64_t> clocks;
  if (const llvm::json::Array *list = cx->getArray("draws"))
    for (const llvm::json::Value &v : *list) {
      std::optional<int64_t> d = v.getAsInteger();
      if (!d || *d < 0 || *d > int64_t(UINT32_MAX))
        return failure("the counterexample's draws are not 32-bit numbers");
      draws.push_back(uint32_t(*d));
    }
  if (const llvm::json::Array *list = cx->getArray("clocks"))
    for (const llvm::json::Value &v : *list) {
      std::optional<StringRef> t = v.getAsString();
      uint64_t n = 0;
      if (!t || t->getAsInteger(10, n))
        return failure("the counterexample's clock readings are not decimal "
                       "64-bit numbers in strings");
      clocks.push_back(n);
    }
  auto chosen = ChosenInputs::create(draws, clocks);
  if (!chosen)
    return reportError(chosen.takeError());
  LoadOptions loadOptions;
  loadOptions.beforeLoad = [&](struct bpf_program *p) {
    return chosen->rewrite(p);
  };
  auto loaded = loadObject(*read, loadOptions);
  if (!loaded)
    return reportError(loaded.takeError());
  struct bpf_object *obj = loaded->libbpfObject();
  const LoadedProgram *program =
      abi ? loaded->find(abi->program) : &loaded->programs()[0];
  if (!program)
    return failure("the object has no program '" + abi->program + "'");

  struct bpf_map *dataMap = nullptr, *rejectMap = nullptr;
  struct bpf_map *m;
  bpf_object__for_each_map(m, obj) {
    StringRef name = bpf_map__name(m);
    if (name.endswith(".data"))
      dataMap = m;
    if (name == "sbpf_rejects")
      rejectMap = m;
  }
  uint32_t zero = 0;
  std::vector<uint8_t> dataValue;
  if (init) {
    // The state the loader makes: what the counterexample is about.
    if (auto report = applyInitialState(*loaded, *abi); !report)
      return failure("initial state of the ABI record: " +
                     llvm::toString(report.takeError()));
    if (dataMap)
      dataValue.resize(bpf_map__value_size(dataMap));
  } else if (dataMap) {
    // The state of the counterexample replaces the loader's.
    dataValue.resize(bpf_map__value_size(dataMap));
    if (bpf_map_lookup_elem(bpf_map__fd(dataMap), &zero, dataValue.data()))
      return failure("cannot read the global data map");
    std::copy(data->begin(),
              data->begin() + std::min(data->size(), dataValue.size()),
              dataValue.begin());
    if (bpf_map_update_elem(bpf_map__fd(dataMap), &zero, dataValue.data(), 0))
      return failure("cannot write the global data map");
  } else if (!data->empty()) {
    return failure("the object has no global data map");
  }
  // Each [key, value, ...] entry of `field` (a map name -> list object),
  // checked against the kernel map's sizes; `fn(map, key, rest)`.
  auto forEntries = [&](StringRef field, auto fn) -> std::optional<int> {
    const llvm::json::Object *maps = cx->getObject(field);
    if (!maps)
      return std::nullopt;
    for (const auto &[name, entries] : *maps) {
      struct bpf_map *target =
          bpf_object__find_map_by_name(obj, name.str().c_str());
      if (!target)
        return failure("the object has no map '" + name.str() + "'");
      const llvm::json::Array *list = entries.getAsArray();
      for (size_t i = 0; list && i < list->size(); ++i) {
        const llvm::json::Array *e = (*list)[i].getAsArray();
        auto k = e && !e->empty() ? unhex((*e)[0].getAsString()) : std::nullopt;
        if (!k || k->size() != bpf_map__key_size(target))
          return failure("a malformed entry of map '" + name.str() + "'");
        if (std::optional<int> status = fn(target, *k, *e))
          return status;
      }
    }
    return std::nullopt;
  };
  if (!init)
    if (auto status = forEntries(
            "maps", [&](struct bpf_map *target, const std::vector<uint8_t> &k,
                        const llvm::json::Array &e) -> std::optional<int> {
              auto v = e.size() == 2 ? unhex(e[1].getAsString()) : std::nullopt;
              if (!v || v->size() != bpf_map__value_size(target))
                return failure("a malformed entry of map '" +
                               std::string(bpf_map__name(target)) + "'");
              if (bpf_map_update_elem(bpf_map__fd(target), k.data(), v->data(),
                                      BPF_ANY))
                return failure("cannot insert into map '" +
                               std::string(bpf_map__name(target)) + "'");
              return std::nullopt;
            }))
      return *status;
  // Reject counters are per-CPU: the sum over CPUs, before and after.
  int cpus = libbpf_num_possible_cpus();
  auto rejectSums = [&]() {
    std::vector<uint64_t> sums;
    if (!rejectMap || cpus <= 0)
      return sums;
    std::vector<uint64_t> perCpu(cpus);
    for (uint32_t k = 0; k < bpf_map__max_entries(rejectMap); ++k) {
      uint64_t sum = 0;
      if (!bpf_map_lookup_elem(bpf_map__fd(rejectMap), &k, perCpu.data()))
        for (uint64_t v : perCpu)
          sum += v;
      sums.push_back(sum);
    }
    return sums;
  };
  std::vector<uint64_t> before = rejectSums();
  std::optional<TestRunResult> run;
  if (!init) {
    auto result = testRunPacket(program->fd, *packet);
    if (!result)
      return reportError(result.takeError());
    run = std::move(*result);
  }
  std::vector<uint64_t> after = rejectSums();
  std::vector<uint8_t> dataAfter(dataValue.size());
  if (dataMap)
    bpf_map_lookup_elem(bpf_map__fd(dataMap), &zero, dataAfter.data());
  dataAfter.resize(std::min(dataAfter.size(), data->size()));

  // The hash-map entries the counterexample predicts, read back.
  std::map<std::string, std::vector<std::pair<std::vector<uint8_t>,
                                              std::optional<std::vector<uint8_t>>>>>
      mapsAfter;
  if (auto status = forEntries(
          "maps_after", [&](struct bpf_map *target,
                            const std::vector<uint8_t> &k,
                            const llvm::json::Array &) -> std::optional<int> {
            std::vector<uint8_t> v(bpf_map__value_size(target));
            auto &list = mapsAfter[bpf_map__name(target)];
            if (bpf_map_lookup_elem(bpf_map__fd(target), k.data(), v.data()))
              list.emplace_back(k, std::nullopt);
            else
              list.emplace_back(k, std::move(v));
            return std::nullopt;
          }))
    return *status;
  // Every ring buffer's records (the object was loaded for this run, so
  // they are the run's).
  std::map<std::string, std::vector<std::vector<uint8_t>>> records;
  bpf_object__for_each_map(m, obj) {
    if (bpf_map__type(m) != BPF_MAP_TYPE_RINGBUF)
      continue;
    auto &list = records[bpf_map__name(m)];
    auto collect = [](void *ctx, void *rec, size_t size) {
      auto *out = static_cast<std::vector<std::vector<uint8_t>> *>(ctx);
      auto *bytes = static_cast<uint8_t *>(rec);
      out->emplace_back(bytes, bytes + size);
      return 0;
    };
    struct ring_buffer *rb =
        ring_buffer__new(bpf_map__fd(m), collect, &list, nullptr);
    if (!rb)
      return failure("cannot read ring buffer '" +
                     std::string(bpf_map__name(m)) + "'");
    int n = ring_buffer__consume(rb);
    ring_buffer__free(rb);
    if (n < 0)
      return failure("cannot read ring buffer '" +
                     std::string(bpf_map__name(m)) + "'");
  }

  auto used = chosen->used();
  if (!used)
    return reportError(used.takeError());

  llvm::json::OStream j(llvm::outs());
  auto hex = [](llvm::ArrayRef<uint8_t> b) { return llvm::toHex(b, true); };
  j.object([&] {
    if (run)
      j.attribute("action", int64_t(run->retval));
    else
      j.attribute("action", nullptr);
    j.attribute("global_data_after", hex(dataAfter));
    j.attributeArray("rejects", [&] {
      for (size_t k = 0; k < after.size(); ++k)
        j.value(int64_t(after[k] - before[k]));
    });
    j.attribute("packet_after", run ? hex(run->packetOut) : "");
    j.attribute("draws_used", int64_t(used->draws));
    j.attribute("clocks_used", int64_t(used->clocks));
    j.attributeObject("maps_after", [&] {
      for (const auto &[name, entries] : mapsAfter)
        j.attributeArray(name, [&] {
          for (const auto &[k, v] : entries)
            j.array([&] {
              j.value(hex(k));
              if (v)
                j.value(hex(*v));
              else
                j.value(nullptr);
            });
        });
    });
    j.attributeObject("records", [&] {
      for (const auto &[name, list] : records)
        j.attributeArray(name, [&] {
          for (const auto &r : list)
            j.value(hex(r));
        });
    });
  });
  llvm::outs() << "\n";
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  if (argc < 2)
    return usageError("no command given");
  StringRef command(argv[1]);
  if (command == "--help" || command == "-h" || command == "help") {
    printHelp(llvm::outs());
    return 0;
  }
  if (command == "--version") {
    llvm::outs() << "sbpf (SimpleBPF) 0.1; LLVM " LLVM_VERSION_STRING
                 << "; libbpf " << libbpf_version_string() << "\n";
    return 0;
  }

  // Commands the contract lists but this driver does not do yet, and
  // unknown ones, are reported before their arguments are looked at.
  bool known = command == "probe" || command == "replay";
  for (const Command &c : kCommands) {
    if (c.name != command)
      continue;
    known = true;
    if (!c.implemented) {
      llvm::errs() << "sbpf: error: '" << command
                   << "' is not implemented yet\n";
      return kExitUsage;
    }
  }
  if (!known)
    return usageError("unknown command '" + command + "'");

  Arguments args;
  if (auto status = parseArguments(command, argc - 2, argv + 2, args))
    return *status;
  if (args.help) {
    printHelp(llvm::outs());
    return 0;
  }
  setLibbpfVerbose(args.verbose);

  if (command == "verify")
    return runVerify(args);
  if (command == "stats")
    return runStats(args);
  if (command == "check")
    return runCheck(args);
  if (command == "equiv")
    return runEquiv(args);
  if (command == "replay")
    return runReplay(args);
  return runProbe(args);
}
