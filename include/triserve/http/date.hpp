#pragma once

#include <ctime>
#include <string_view>

namespace triserve::http {

/// Length of an IMF-fixdate such as "Sun, 06 Nov 1994 08:49:37 GMT".
inline constexpr std::size_t imf_fixdate_size = 29;

/// Writes `when` as an IMF-fixdate (RFC 9110 §5.6.7) into `out`, which has imf_fixdate_size bytes.
void format_imf_fixdate(std::time_t when, char* out);

/// The current time as an IMF-fixdate, formatted at most once per second.
class date_cache {
 public:
  /// The Date header value for now; valid until the next call.
  std::string_view now();

 private:
  std::time_t formatted_at_ = -1;
  char text_[imf_fixdate_size] = {};
};

}  // namespace triserve::http
