#include "triserve/http/date.hpp"

#include <algorithm>

namespace triserve::http {
namespace {

constexpr const char* day_names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// IMF-fixdate has a four-digit year: clamp to 0000-01-01T00:00:00Z .. 9999-12-31T23:59:59Z.
constexpr std::time_t earliest_fixdate = -62167219200;
constexpr std::time_t latest_fixdate = 253402300799;

/// Writes `value` as exactly `width` decimal digits, zero-padded, and returns the end.
char* write_digits(char* out, int value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  return out + width;
}

char* write_text(char* out, const char* text, std::size_t size) {
  return std::copy(text, text + size, out);
}

}  // namespace

void format_imf_fixdate(std::time_t when, char* out) {
  // Hand-written rather than strftime: "%a" and "%b" follow the locale, the header must not.
  when = std::clamp(when, earliest_fixdate, latest_fixdate);
  std::tm utc{};
  gmtime_r(&when, &utc);
  char* p = write_text(out, day_names[utc.tm_wday], 3);
  p = write_text(p, ", ", 2);
  p = write_digits(p, utc.tm_mday, 2);
  *p++ = ' ';
  p = write_text(p, month_names[utc.tm_mon], 3);
  *p++ = ' ';
  p = write_digits(p, utc.tm_year + 1900, 4);
  *p++ = ' ';
  p = write_digits(p, utc.tm_hour, 2);
  *p++ = ':';
  p = write_digits(p, utc.tm_min, 2);
  *p++ = ':';
  p = write_digits(p, utc.tm_sec, 2);
  write_text(p, " GMT", 4);
}

std::string_view date_cache::now() {
  const std::time_t current = std::time(nullptr);
  if (current != formatted_at_) {
    format_imf_fixdate(current, text_);
    formatted_at_ = current;
  }
  return {text_, imf_fixdate_size};
}

}  // namespace triserve::http
