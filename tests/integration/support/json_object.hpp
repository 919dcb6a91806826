#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace triserve::integration {

/// One flat JSON object: member name -> value. Strings are decoded to UTF-8; numbers, true,
/// false and null are kept as written.
using json_object = std::map<std::string, std::string, std::less<>>;

/// Parses `text` strictly as one JSON object of scalar members (RFC 8259): the text must be
/// well-formed UTF-8, strings may hold no raw control characters and only the standard escapes
/// (a \u surrogate must be half of a pair), numbers follow the grammar, no member is repeated,
/// and nothing but whitespace follows. Nested objects and arrays are refused too (no log line
/// has them). On failure returns nullopt and says why in `error`.
std::optional<json_object> parse_json_object(std::string_view text, std::string* error = nullptr);

}  // namespace triserve::integration
