#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace triserve::app {

/// How log lines are written: `[time] [level] message` for people, or one JSON object per line.
enum class log_format { text, json };

/// Sends logs to stderr at `level` (trace, debug, info, warn, error, critical, off) in `format`.
/// With JSON, lines of the access logger (server/access_log.hpp) carry their own members.
void set_up_logging(std::string_view level, log_format format);

/// Appends one log record as a JSON line: {"ts":"2026-12-01T13:40:00.123Z","level":"info",
/// "msg":"..."} and a newline. `ts` is RFC 3339 in UTC with milliseconds. When `members` is set,
/// `message` is already a list of JSON members ("msg":...,"server":...) and goes in as it is.
void append_json_record(std::string& out, std::chrono::system_clock::time_point time,
                        std::string_view level, std::string_view message, bool members);

}  // namespace triserve::app
