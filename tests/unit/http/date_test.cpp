#include "triserve/http/date.hpp"

#include <catch2/catch.hpp>

#include <ctime>
#include <string>
#include <string_view>

using triserve::http::date_cache;
using triserve::http::format_imf_fixdate;
using triserve::http::imf_fixdate_size;

namespace {

std::string fixdate(std::time_t when) {
  char buffer[imf_fixdate_size];
  format_imf_fixdate(when, buffer);
  return std::string(buffer, imf_fixdate_size);
}

}  // namespace

TEST_CASE("IMF-fixdate of known instants", "[date]") {
  struct row {
    std::time_t when;
    std::string_view text;
  };
  const row rows[] = {
      {784111777, "Sun, 06 Nov 1994 08:49:37 GMT"},  // RFC 9110 §5.6.7's own example
      {0, "Thu, 01 Jan 1970 00:00:00 GMT"},
      {951782400, "Tue, 29 Feb 2000 00:00:00 GMT"},  // leap day of a year divisible by 400
      {1709251199, "Thu, 29 Feb 2024 23:59:59 GMT"},
      {1709251200, "Fri, 01 Mar 2024 00:00:00 GMT"},
      {1000000000, "Sun, 09 Sep 2001 01:46:40 GMT"},
      {2147483647, "Tue, 19 Jan 2038 03:14:07 GMT"},
      {2147483648, "Tue, 19 Jan 2038 03:14:08 GMT"},  // past 32-bit time_t
      {-1, "Wed, 31 Dec 1969 23:59:59 GMT"},
      {1735689599, "Tue, 31 Dec 2024 23:59:59 GMT"},
      {1752000000, "Tue, 08 Jul 2025 18:40:00 GMT"},
  };
  for (const row& r : rows) {
    INFO("time " << r.when);
    CHECK(fixdate(r.when) == r.text);
  }
}

TEST_CASE("IMF-fixdate keeps four-digit years at the extremes", "[date]") {
  CHECK(fixdate(253402300799) == "Fri, 31 Dec 9999 23:59:59 GMT");
  CHECK(fixdate(253402300800 * 10) == "Fri, 31 Dec 9999 23:59:59 GMT");
}

TEST_CASE("date cache gives the current time as an IMF-fixdate", "[date]") {
  date_cache cache;
  const std::time_t before = std::time(nullptr);
  const std::string first(cache.now());
  const std::time_t after = std::time(nullptr);
  REQUIRE(first.size() == imf_fixdate_size);
  CHECK((first == fixdate(before) || first == fixdate(after)));
  // A second call within the same second returns the same text from the same storage.
  const std::string_view again = cache.now();
  CHECK(again.size() == imf_fixdate_size);
  CHECK(again.substr(again.size() - 4) == " GMT");
}
