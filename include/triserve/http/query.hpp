#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace triserve::http {

/// Decodes one query component as Go's url.QueryUnescape does: '+' is a space, %XX is a byte,
/// any other byte passes through. Returns false (and leaves `out` unspecified) on a malformed
/// escape. `out` is overwritten, so a caller can reuse its capacity.
bool query_unescape(std::string_view text, std::string& out);

/// Finds the first value of `key` in a raw query as Go's url.ParseQuery(query).Get(key) does:
/// pairs split on '&', a pair containing ';' or failing to decode is skipped, a pair without '='
/// has an empty value. Writes the decoded value to `out` and returns true when found; otherwise
/// `out` is empty and it returns false.
bool first_query_value(std::string_view query, std::string_view key, std::string& out);

}  // namespace triserve::http
