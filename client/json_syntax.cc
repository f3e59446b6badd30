#include "client/json_syntax.h"

#include <cstddef>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace dagd {
namespace {

// What the scanner expects next. Containers are tracked on an explicit stack
// instead of by recursion.
enum class Expect {
  kValue,         // after ':' or ',' in an array, and at the start
  kValueOrClose,  // just after '['
  kKey,           // after ',' in an object
  kKeyOrClose,    // just after '{'
  kColon,         // after an object key
  kCommaOrClose,  // after a value inside a container
  kEnd,           // after the top-level value
};

// Describes the character at `pos` for "found ..." in messages.
std::string Found(absl::string_view text, size_t pos) {
  if (pos >= text.size()) return "the end of the input";
  const unsigned char c = static_cast<unsigned char>(text[pos]);
  if (c == '\n') return "a line break";
  if (c < 0x20 || c >= 0x80) return absl::StrFormat("byte 0x%02x", c);
  return absl::StrCat("'", text.substr(pos, 1), "'");
}

class Scanner {
 public:
  explicit Scanner(absl::string_view text) : text_(text) {}

  std::optional<JsonSyntaxError> Run();

 private:
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return text_[pos_]; }
  void SkipWhitespace();
  // Each Scan* consumes one token starting at pos_ or records an error.
  bool ScanValueStart();
  bool ScanString();
  bool ScanNumber();
  bool ScanLiteral();
  bool ScanDigits();
  bool ScanKey();
  bool ScanColon();
  bool ScanCommaOrClose();
  // Consumes `close` if it is next, ending the innermost container.
  bool TryClose(char close);
  // Consumes the token expect_ asks for.
  bool Step();
  bool Fail(size_t pos, absl::string_view message);
  // 1-based line and column (in UTF-8 code points) of `pos`.
  std::pair<int, int> Position(size_t pos) const;
  // Records the key that ends at pos_ (its opening quote at `start`) in
  // its object; fails if the object has it already.
  bool NoteKey(size_t start);
  Expect AfterValue() const {
    return stack_.empty() ? Expect::kEnd : Expect::kCommaOrClose;
  }

  absl::string_view text_;
  size_t pos_ = 0;
  Expect expect_ = Expect::kValue;
  std::vector<char> stack_;  // '{' or '[' for each open container
  // Per open container (used for objects): each key as written, at the
  // position of its opening quote. Kept across containers at one depth, so
  // a file of a million small objects allocates a few maps, not a million.
  std::vector<absl::flat_hash_map<absl::string_view, size_t>> keys_;
  std::optional<JsonSyntaxError> error_;
};

void Scanner::SkipWhitespace() {
  while (!AtEnd() && (Peek() == ' ' || Peek() == '\t' || Peek() == '\n' ||
                      Peek() == '\r')) {
    ++pos_;
  }
}

std::pair<int, int> Scanner::Position(size_t pos) const {
  int line = 1;
  int column = 1;
  for (size_t i = 0; i < pos && i < text_.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text_[i]);
    if (c == '\n') {
      ++line;
      column = 1;
    } else if ((c & 0xC0) != 0x80) {  // not a UTF-8 continuation byte
      ++column;
    }
  }
  return {line, column};
}

bool Scanner::Fail(size_t pos, absl::string_view message) {
  JsonSyntaxError error;
  std::tie(error.line, error.column) = Position(pos);
  error.message = std::string(message);
  error_ = std::move(error);
  return false;
}

bool Scanner::NoteKey(size_t start) {
  const absl::string_view key = text_.substr(start + 1, pos_ - start - 2);
  auto [it, added] = keys_[stack_.size() - 1].try_emplace(key, start);
  if (added) return true;
  const auto [line, column] = Position(it->second);
  Fail(start, absl::StrCat("key \"", key,
                           "\" given twice in one object (first at line ", line,
                           ", column ", column, ")"));
  error_->duplicate_key = true;
  return false;
}

bool Scanner::ScanValueStart() {
  if (AtEnd())
    return Fail(pos_, "expected a value, found the end of the input");
  switch (Peek()) {
    case '{':
      stack_.push_back('{');
      if (keys_.size() < stack_.size()) keys_.resize(stack_.size());
      keys_[stack_.size() - 1].clear();
      ++pos_;
      expect_ = Expect::kKeyOrClose;
      return true;
    case '[':
      stack_.push_back('[');
      ++pos_;
      expect_ = Expect::kValueOrClose;
      return true;
    case '"':
      if (!ScanString()) return false;
      break;
    case 't':
    case 'f':
    case 'n':
      if (!ScanLiteral()) return false;
      break;
    default:
      if (Peek() == '-' || absl::ascii_isdigit(Peek())) {
        if (!ScanNumber()) return false;
        break;
      }
      return Fail(pos_,
                  absl::StrCat("expected a value, found ", Found(text_, pos_)));
  }
  expect_ = AfterValue();
  return true;
}

bool Scanner::ScanString() {
  const size_t start = pos_++;
  while (!AtEnd()) {
    const unsigned char c = static_cast<unsigned char>(Peek());
    if (c == '"') {
      ++pos_;
      return true;
    }
    if (c < 0x20) {
      return Fail(pos_, c == '\n' ? "line break inside a string (a string "
                                    "must end on its line; write \\n)"
                                  : "control character inside a string");
    }
    if (c == '\\') {
      ++pos_;
      if (AtEnd()) break;
      const char e = Peek();
      if (e == 'u') {
        for (int i = 1; i <= 4; ++i) {
          if (pos_ + i >= text_.size() ||
              !absl::ascii_isxdigit(text_[pos_ + i])) {
            return Fail(pos_ - 1, "\\u must be followed by 4 hex digits");
          }
        }
        pos_ += 4;
      } else if (absl::string_view("\"\\/bfnrt").find(e) ==
                 absl::string_view::npos) {
        return Fail(pos_ - 1,
                    absl::StrCat("invalid escape \\", text_.substr(pos_, 1)));
      }
    }
    ++pos_;
  }
  return Fail(start, "string is never closed (missing '\"')");
}

bool Scanner::ScanDigits() {
  if (AtEnd() || !absl::ascii_isdigit(Peek())) {
    return Fail(pos_, absl::StrCat("expected a digit in the number, found ",
                                   Found(text_, pos_)));
  }
  while (!AtEnd() && absl::ascii_isdigit(Peek())) ++pos_;
  return true;
}

bool Scanner::ScanNumber() {
  if (Peek() == '-') ++pos_;
  if (!AtEnd() && Peek() == '0') {
    ++pos_;
    if (!AtEnd() && absl::ascii_isdigit(Peek())) {
      return Fail(pos_ - 1, "numbers must not have leading zeros");
    }
  } else if (!ScanDigits()) {
    return false;
  }
  if (!AtEnd() && Peek() == '.') {
    ++pos_;
    if (!ScanDigits()) return false;
  }
  if (!AtEnd() && (Peek() == 'e' || Peek() == 'E')) {
    ++pos_;
    if (!AtEnd() && (Peek() == '+' || Peek() == '-')) ++pos_;
    if (!ScanDigits()) return false;
  }
  return true;
}

bool Scanner::ScanLiteral() {
  for (absl::string_view literal : {"true", "false", "null"}) {
    if (text_.substr(pos_, literal.size()) != literal) continue;
    const size_t end = pos_ + literal.size();
    if (end < text_.size() &&
        (absl::ascii_isalnum(text_[end]) || text_[end] == '_')) {
      break;  // "nullx", "trueish"
    }
    pos_ = end;
    return true;
  }
  return Fail(pos_,
              "invalid literal: expected true, false, null, a number, a "
              "string (in double quotes), an object or an array");
}

bool Scanner::TryClose(char close) {
  if (AtEnd() || Peek() != close) return false;
  ++pos_;
  stack_.pop_back();
  expect_ = AfterValue();
  return true;
}

bool Scanner::ScanKey() {
  if (AtEnd() || Peek() != '"') {
    return Fail(pos_, absl::StrCat("expected a field name in double quotes, "
                                   "found ",
                                   Found(text_, pos_)));
  }
  expect_ = Expect::kColon;
  const size_t start = pos_;
  return ScanString() && NoteKey(start);
}

bool Scanner::ScanColon() {
  if (AtEnd() || Peek() != ':') {
    return Fail(pos_, absl::StrCat("expected ':' after the field name, found ",
                                   Found(text_, pos_)));
  }
  ++pos_;
  expect_ = Expect::kValue;
  return true;
}

bool Scanner::ScanCommaOrClose() {
  const char open = stack_.back();
  const char close = open == '{' ? '}' : ']';
  if (TryClose(close)) return true;
  if (AtEnd() || Peek() != ',') {
    return Fail(pos_, absl::StrCat("expected ',' or '", std::string(1, close),
                                   "', found ", Found(text_, pos_)));
  }
  ++pos_;
  expect_ = open == '{' ? Expect::kKey : Expect::kValue;
  return true;
}

bool Scanner::Step() {
  switch (expect_) {
    case Expect::kValueOrClose:
      return TryClose(']') || ScanValueStart();
    case Expect::kValue:
      return ScanValueStart();
    case Expect::kKeyOrClose:
      return TryClose('}') || ScanKey();
    case Expect::kKey:
      return ScanKey();
    case Expect::kColon:
      return ScanColon();
    case Expect::kCommaOrClose:
      return ScanCommaOrClose();
    case Expect::kEnd:
      return Fail(pos_, absl::StrCat("unexpected ", Found(text_, pos_),
                                     " after the end of the JSON value"));
  }
  return false;
}

std::optional<JsonSyntaxError> Scanner::Run() {
  while (true) {
    SkipWhitespace();
    if (expect_ == Expect::kEnd && AtEnd()) return std::nullopt;
    if (!Step()) return error_;
  }
}

}  // namespace

std::optional<JsonSyntaxError> FindJsonSyntaxError(absl::string_view text) {
  return Scanner(text).Run();
}

std::string FormatJsonSyntaxError(const JsonSyntaxError& error) {
  return absl::StrCat("line ", error.line, ", column ", error.column, ": ",
                      error.message);
}

}  // namespace dagd
