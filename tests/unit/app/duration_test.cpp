#include "triserve/app/duration.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using triserve::app::format_duration;
using triserve::app::parse_duration;

TEST_CASE("durations that parse", "[duration]") {
  struct row {
    std::string_view text;
    milliseconds value;
  };
  const row rows[] = {
      {"0", 0ms},         {"0s", 0ms},
      {"5s", 5s},         {"500ms", 500ms},
      {"1m", 1min},       {"2h", 2h},
      {"1.5s", 1500ms},   {"1m30s", 90s},
      {"1h30m", 90min},   {"1h1m1s1ms", 3'661'001ms},
      {"0.5m", 30s},      {".5s", 500ms},
      {"1.s", 1s},        {"1.0005s", 1000ms},  // sub-millisecond remainders are truncated
      {"0.1h", 6min},     {"1.5ms", 1ms},
      {"007s", 7s},       {"8760h", 8760h},  // a year, the largest accepted
      {"525600m", 8760h}, {"31536000s", 8760h},
      {"1s1s", 2s},
  };
  for (const row& r : rows) {
    INFO("duration " << r.text);
    CHECK(parse_duration(r.text) == r.value);
  }
}

TEST_CASE("durations that are rejected, and why", "[duration]") {
  struct row {
    std::string_view text;
    std::string_view message;
  };
  const row rows[] = {
      {"", R"(invalid duration "": empty)"},
      {"5", R"(invalid duration "5": missing unit (use ms, s, m or h))"},
      {"1m30", R"(invalid duration "1m30": missing unit (use ms, s, m or h))"},
      {"00", R"(invalid duration "00": missing unit (use ms, s, m or h))"},
      {"-5s", R"(invalid duration "-5s": must not be negative)"},
      {"5x", R"(invalid duration "5x": unknown unit "x" (use ms, s, m or h))"},
      {"5d", R"(invalid duration "5d": unknown unit "d" (use ms, s, m or h))"},
      {"5us", R"(invalid duration "5us": unknown unit "us" (use ms, s, m or h))"},
      {"5S", R"(invalid duration "5S": unknown unit "S" (use ms, s, m or h))"},
      {"5 s", R"(invalid duration "5 s": unknown unit " s" (use ms, s, m or h))"},
      {"5s ", R"(invalid duration "5s ": unknown unit "s " (use ms, s, m or h))"},
      {"s", R"(invalid duration "s": expected a number)"},
      {".s", R"(invalid duration ".s": expected a number)"},
      {" 5s", R"(invalid duration " 5s": expected a number)"},
      {"+5s", R"(invalid duration "+5s": expected a number)"},
      {"abc", R"(invalid duration "abc": expected a number)"},
      {"1.2.3s", R"(invalid duration "1.2.3s": missing unit (use ms, s, m or h))"},
      {"8761h", R"(invalid duration "8761h": too long (at most a year))"},
      {"8760h1ms", R"(invalid duration "8760h1ms": too long (at most a year))"},
      {"99999999999999999999999s",
       R"(invalid duration "99999999999999999999999s": too long (at most a year))"},
  };
  for (const row& r : rows) {
    INFO("duration " << r.text);
    CHECK_THROWS_MATCHES(parse_duration(r.text), std::invalid_argument,
                         Catch::Matchers::Message(std::string(r.message)));
  }
}

TEST_CASE("durations format compactly", "[duration]") {
  struct row {
    milliseconds value;
    std::string_view text;
  };
  const row rows[] = {
      {0ms, "0s"},        {1ms, "1ms"},     {500ms, "500ms"},        {999ms, "999ms"},
      {1s, "1s"},         {5s, "5s"},       {1500ms, "1.5s"},        {1250ms, "1.25s"},
      {1001ms, "1.001s"}, {1min, "1m"},     {90s, "1m30s"},          {60500ms, "1m0.5s"},
      {1h, "1h"},         {90min, "1h30m"}, {3'600'500ms, "1h0.5s"}, {8760h, "8760h"},
      {-5s, "-5s"},
  };
  for (const row& r : rows) {
    INFO("milliseconds " << r.value.count());
    CHECK(format_duration(r.value) == r.text);
  }
}

TEST_CASE("formatted durations parse back to themselves", "[duration]") {
  const milliseconds values[] = {0ms, 1ms,         999ms, 1s,  1001ms,      59'999ms, 1min,
                                 61s, 3'599'999ms, 1h,    25h, 3'723'004ms, 8760h};
  for (const milliseconds value : values) {
    INFO("milliseconds " << value.count());
    CHECK(parse_duration(format_duration(value)) == value);
  }
  for (std::int64_t ms = 0; ms < 200'000; ms += 997) {
    INFO("milliseconds " << ms);
    CHECK(parse_duration(format_duration(milliseconds{ms})) == milliseconds{ms});
  }
}
