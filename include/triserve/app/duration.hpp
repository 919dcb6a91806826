#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace triserve::app {

/// Parses a duration such as "5s", "500ms", "1m", "1.5s", "1m30s" or "0" (units: ms, s, m, h).
/// Throws std::invalid_argument naming the problem for anything else (no unit, negative, junk,
/// overflow). Sub-millisecond remainders are truncated.
std::chrono::milliseconds parse_duration(std::string_view text);

/// Formats a duration compactly for logs and help: "5s", "500ms", "1m", "1.5s".
std::string format_duration(std::chrono::milliseconds duration);

}  // namespace triserve::app
