#include "triserve/app/duration.hpp"

#include <cstdint>
#include <stdexcept>

namespace triserve::app {
namespace {

using nanoseconds = std::uint64_t;

constexpr nanoseconds ns_per_ms = 1'000'000;
constexpr nanoseconds ns_per_s = 1000 * ns_per_ms;
constexpr nanoseconds ns_per_m = 60 * ns_per_s;
constexpr nanoseconds ns_per_h = 60 * ns_per_m;
// No timeout needs more than a year; refusing beyond keeps every sum far from overflow.
constexpr nanoseconds max_duration = 365 * 24 * ns_per_h;

[[noreturn]] void reject(std::string_view text, std::string_view problem) {
  throw std::invalid_argument("invalid duration \"" + std::string(text) +
                              "\": " + std::string(problem));
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

/// The length of a unit in nanoseconds, or 0 for an unknown unit.
nanoseconds unit_length(std::string_view unit) {
  if (unit == "ms") return ns_per_ms;
  if (unit == "s") return ns_per_s;
  if (unit == "m") return ns_per_m;
  if (unit == "h") return ns_per_h;
  return 0;
}

}  // namespace

std::chrono::milliseconds parse_duration(std::string_view text) {
  if (text.empty()) reject(text, "empty");
  if (text.front() == '-') reject(text, "must not be negative");
  // As in Go, a bare zero needs no unit: it is zero in all of them.
  if (text == "0") return std::chrono::milliseconds{0};

  nanoseconds total = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    // <digits>[.<digits>], at least one digit on either side of the point (Go accepts ".5s").
    nanoseconds whole = 0;
    std::size_t digits = 0;
    for (; pos < text.size() && is_digit(text[pos]); ++pos, ++digits) {
      whole = whole * 10 + static_cast<nanoseconds>(text[pos] - '0');
      if (whole > max_duration) reject(text, "too long (at most a year)");
    }
    std::string_view fraction;
    if (pos < text.size() && text[pos] == '.') {
      const std::size_t start = ++pos;
      while (pos < text.size() && is_digit(text[pos])) ++pos;
      fraction = text.substr(start, pos - start);
      digits += fraction.size();
    }
    if (digits == 0) reject(text, "expected a number");

    const std::size_t unit_start = pos;
    while (pos < text.size() && !is_digit(text[pos]) && text[pos] != '.') ++pos;
    const std::string_view unit = text.substr(unit_start, pos - unit_start);
    if (unit.empty()) reject(text, "missing unit (use ms, s, m or h)");
    const nanoseconds length = unit_length(unit);
    if (length == 0) {
      reject(text, "unknown unit \"" + std::string(unit) + "\" (use ms, s, m or h)");
    }

    if (whole > max_duration / length) reject(text, "too long (at most a year)");
    nanoseconds value = whole * length;
    // Each fraction digit is worth a tenth of the previous one; digits below a nanosecond
    // cannot matter once the result is truncated to milliseconds.
    nanoseconds place = length;
    for (const char c : fraction) {
      place /= 10;
      value += static_cast<nanoseconds>(c - '0') * place;
    }
    total += value;
    if (total > max_duration) reject(text, "too long (at most a year)");
  }
  return std::chrono::milliseconds{static_cast<std::int64_t>(total / ns_per_ms)};
}

std::string format_duration(std::chrono::milliseconds duration) {
  if (duration.count() == 0) return "0s";
  std::string text;
  // Unsigned so that negating milliseconds::min() is defined.
  auto ms = static_cast<std::uint64_t>(duration.count());
  if (duration.count() < 0) {
    text.push_back('-');
    ms = 0 - ms;
  }
  if (ms < 1000) return text + std::to_string(ms) + "ms";

  // Largest units first, zero components left out: "1h", "1m30s", "1h0.5s" all parse back.
  const std::uint64_t hours = ms / 3'600'000;
  const std::uint64_t minutes = ms / 60'000 % 60;
  const std::uint64_t seconds = ms / 1000 % 60;
  const std::uint64_t millis = ms % 1000;
  if (hours != 0) text += std::to_string(hours) + "h";
  if (minutes != 0) text += std::to_string(minutes) + "m";
  if (seconds != 0 || millis != 0) {
    text += std::to_string(seconds);
    if (millis != 0) {
      std::string fraction = std::to_string(1000 + millis).substr(1);  // three digits
      while (fraction.back() == '0') fraction.pop_back();
      text += "." + fraction;
    }
    text += "s";
  }
  return text;
}

}  // namespace triserve::app
