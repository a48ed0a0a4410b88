//===- ForwardRefCheck.cpp - refuse what MLIR 16's parser cannot clean up -===//
//
// MLIR 16's parser crashes or corrupts the heap on one kind of invalid
// input (mlir-opt 16 does the same; found by fuzzing sbpf-opt with mutated
// netfn): a value used before its definition, where the definition that
// resolves the forward reference lies in a nested region that does not
// enclose the use. Resolving the reference points the use at the nested
// value. When that region belongs to the op that uses the value, creating
// the op crashes; after a later parse error, the failed parse frees the
// nested region first and destroying the use then unlinks it from the freed
// value's use list (valgrind: invalid write in
// Operation::dropAllReferences; glibc aborts some runs with
// "malloc_consolidate(): unaligned fastbin chunk").
//
// Such a use is invalid MLIR whatever follows (a region's values are not
// visible outside it), so this lexical pass over the text refuses it, with
// both locations, before the parser runs. It tracks brace nesting, `%name`
// definitions (`%a = `, `%a, %b = `, `%a:2 = `, block arguments
// `^bb(%a: t)`, lists right before a region `some(%x) {`, arguments printed
// `%a: t`) and uses. A use sees the earlier definitions in regions that
// enclose it (names are reused across isolated regions); one that sees
// none waits for the next definition of its name, and is refused when that
// lies in a region that does not enclose it. Uses of `%argN` (the printer's
// names of arguments) never wait: an argument list of a custom syntax not
// recognised above must not make a later result of that name look like
// its definition.
// Chunks separated by `// -----` (--split-input-file) are checked apart.
//
//===----------------------------------------------------------------------===//
#include "ForwardRefCheck.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/SourceMgr.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <vector>

namespace {

struct Occurrence {
  size_t at;                  // offset in the buffer
  std::vector<unsigned> path; // ids of the enclosing braces, outermost first
};

bool isNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
         c == '$' || c == '.' || c == '-';
}

class Scanner {
public:
  Scanner(llvm::StringRef text, size_t base) : text(text), base(base) {}

  /// The first offending use and its definition, if any.
  std::optional<std::pair<Occurrence, Occurrence>> run();

private:
  llvm::StringRef text;
  size_t base;
  size_t pos = 0;
  std::vector<unsigned> path;
  unsigned nextBrace = 0;
  // The brace paths of the definitions of each name seen so far: a use sees
  // the ones in regions that enclose it (names are reused in other
  // isolated regions, e.g. every netfn.handler starts at %0).
  llvm::StringMap<std::vector<std::vector<unsigned>>> defined;
  llvm::StringMap<std::vector<Occurrence>> pending; // forward uses

  static bool encloses(const std::vector<unsigned> &outer,
                       const std::vector<unsigned> &inner) {
    return outer.size() <= inner.size() &&
           std::equal(outer.begin(), outer.end(), inner.begin());
  }

  void skipSpace() {
    while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos])))
      ++pos;
  }
  llvm::StringRef name() {
    size_t start = pos;
    while (pos < text.size() && isNameChar(text[pos]))
      ++pos;
    return text.slice(start, pos);
  }
  void skipResultCount() { // `:2` of `%a:2 =`
    size_t save = pos;
    skipSpace();
    if (pos < text.size() && text[pos] == ':') {
      ++pos;
      skipSpace();
      size_t digits = pos;
      while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos])))
        ++pos;
      if (pos > digits)
        return;
    }
    pos = save;
  }
  /// After `%a` at `pos`: is it the first of the results `%a, %b:2, ... =`?
  bool startsDefinitionList() {
    size_t save = pos;
    bool result = false;
    for (;;) {
      skipResultCount();
      skipSpace();
      if (pos + 1 < text.size() && text[pos] == '=' && text[pos + 1] != '=') {
        result = true;
        break;
      }
      if (pos >= text.size() || text[pos] != ',')
        break;
      ++pos;
      skipSpace();
      if (pos >= text.size() || text[pos] != '%')
        break;
      ++pos;
      if (name().empty())
        break;
    }
    pos = save;
    return result;
  }
  std::optional<std::pair<Occurrence, Occurrence>>
  define(llvm::StringRef n, size_t at) {
    Occurrence def{base + at, path};
    auto it = pending.find(n);
    if (it != pending.end()) {
      for (const Occurrence &use : it->second)
        if (!encloses(def.path, use.path))
          return std::make_pair(use, def);
      pending.erase(it);
    }
    defined[n].push_back(path);
    return std::nullopt;
  }
};

/// The offset of the `)` matching the `(` at `open` and the first character
/// after it that is not a space (0 when there is none).
std::pair<size_t, char> closeParen(llvm::StringRef text, size_t open) {
  size_t close = open;
  for (int depth = 0; close < text.size(); ++close) {
    if (text[close] == '(')
      ++depth;
    else if (text[close] == ')' && --depth == 0)
      break;
  }
  size_t after = close + 1;
  while (after < text.size() &&
         std::isspace(static_cast<unsigned char>(text[after])))
    ++after;
  return {close, after < text.size() ? text[after] : 0};
}

std::optional<std::pair<Occurrence, Occurrence>> Scanner::run() {
  // Offsets before `argsEnd` are in an argument list: a block's label
  // `^bb(%a: t):` (a successor `^bb(%x : t)` has no colon after it and
  // passes uses), or a list right before a region, `some(%x) {`.
  size_t argsEnd = 0;
  while (pos < text.size()) {
    char c = text[pos];
    if (c == '"') { // string literal
      for (++pos; pos < text.size() && text[pos] != '"'; ++pos)
        if (text[pos] == '\\')
          ++pos;
      ++pos;
      continue;
    }
    if (c == '/' && text.substr(pos).startswith("//")) {
      pos = text.find('\n', pos);
      if (pos == llvm::StringRef::npos)
        break;
      continue;
    }
    if (c == '{') {
      path.push_back(nextBrace++);
      ++pos;
      continue;
    }
    if (c == '}') {
      if (!path.empty())
        path.pop_back();
      ++pos;
      continue;
    }
    if (c == '^') {
      ++pos;
      name();
      if (pos < text.size() && text[pos] == '(') {
        auto [close, next] = closeParen(text, pos);
        if (next == ':')
          argsEnd = std::max(argsEnd, close);
      }
      continue;
    }
    if (c == '(' && pos >= argsEnd) {
      auto [close, next] = closeParen(text, pos);
      if (next == '{')
        argsEnd = close;
    }
    if (c != '%') {
      ++pos;
      continue;
    }
    size_t at = pos++;
    llvm::StringRef n = name();
    if (n.empty())
      continue;
    // `%a: t` (a colon right after the name, then no digit) is an argument
    // in the printer's style (`func.func @f(%a: i32)`); a use is printed
    // `%a : t`, a result count `%a:2`.
    bool argument = at < argsEnd ||
                    (pos + 1 < text.size() && text[pos] == ':' &&
                     !std::isdigit(static_cast<unsigned char>(text[pos + 1])));
    if (argument || startsDefinitionList()) {
      if (auto bad = define(n, at))
        return bad;
      continue;
    }
    // The printer names arguments %argN; a use of one whose definition
    // was not recognised is not taken for a forward reference.
    if (n.startswith("arg") && n.size() > 3 &&
        llvm::all_of(n.drop_front(3), [](char d) { return std::isdigit(d); }))
      continue;
    auto it = defined.find(n);
    if (it == defined.end() ||
        llvm::none_of(it->second, [&](const std::vector<unsigned> &def) {
          return encloses(def, path);
        }))
      pending[n].push_back({base + at, path});
  }
  return std::nullopt;
}

} // namespace

bool sbpf::checkForwardReferences(llvm::SourceMgr &sourceMgr) {
  const llvm::MemoryBuffer *buffer =
      sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID());
  llvm::StringRef all = buffer->getBuffer();
  size_t start = 0;
  while (start <= all.size()) {
    size_t split = all.find("// -----", start);
    size_t end = split == llvm::StringRef::npos ? all.size() : split;
    Scanner scanner(all.slice(start, end), start);
    if (auto bad = scanner.run()) {
      auto loc = [&](size_t at) {
        return llvm::SMLoc::getFromPointer(all.data() + at);
      };
      auto [line, col] = sourceMgr.getLineAndColumn(loc(bad->second.at));
      sourceMgr.PrintMessage(
          loc(bad->first.at), llvm::SourceMgr::DK_Error,
          "use of a value before its definition at line " +
              llvm::Twine(line) + ", column " + llvm::Twine(col) +
              ", which is inside a region that does not enclose this use");
      return false;
    }
    if (split == llvm::StringRef::npos)
      break;
    start = split + 1;
  }
  return true;
}
