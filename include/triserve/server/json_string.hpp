#pragma once

#include <string>
#include <string_view>

namespace triserve::server {

/// Appends `text` to `out` as a JSON string literal, quotes included, that is valid JSON whatever
/// the bytes: `"` and `\` are escaped, control characters and DEL become \u00XX, well-formed
/// UTF-8 passes through, and every byte that is not part of well-formed UTF-8 becomes \u00XX (its
/// Latin-1 reading), so a client's bytes are neither dropped nor able to break the line.
void append_json_string(std::string& out, std::string_view text);

}  // namespace triserve::server
