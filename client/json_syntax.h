// Locates the first syntax error in a JSON text.
//
// Protobuf 3.21's JSON parser reports "Unexpected token." with a snippet of
// its current input chunk, not a position in the whole text, so a user
// cannot find the mistake in a 2,000-task job file. This scanner checks the
// grammar only (RFC 8259) and knows nothing about JobSpec; callers run it
// after protobuf has rejected a text, to say where the text went wrong.
// It also finds a key given twice in one object, which RFC 8259 leaves to
// the reader and protobuf takes silently (the last one, for a field):
// callers run it on accepted texts for that.
#ifndef DAGD_CLIENT_JSON_SYNTAX_H_
#define DAGD_CLIENT_JSON_SYNTAX_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace dagd {

struct JsonSyntaxError {
  int line = 0;    // 1-based
  int column = 0;  // 1-based, in characters (UTF-8 code points)
  std::string message;
  // The text is well-formed up to here, and this is a key its object
  // already has (compared as written: "a" and "\u0061" differ).
  bool duplicate_key = false;
};

// Returns the first syntax error (or key given twice) in `text`, or nullopt
// when `text` is one well-formed JSON value (surrounded by optional
// whitespace) with each key once per object. Iterative, so deeply nested
// input cannot overflow the stack.
std::optional<JsonSyntaxError> FindJsonSyntaxError(absl::string_view text);

// "line 3, column 14: <message>", for error statuses.
std::string FormatJsonSyntaxError(const JsonSyntaxError& error);

}  // namespace dagd

#endif  // DAGD_CLIENT_JSON_SYNTAX_H_
