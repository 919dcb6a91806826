#include "triserve/app/logging.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

using namespace std::chrono_literals;
using triserve::app::append_json_record;

namespace {

/// 2026-12-01T13:40:00 UTC plus `extra`.
std::chrono::system_clock::time_point december_first(std::chrono::milliseconds extra) {
  using namespace std::chrono;
  return sys_days{year{2026} / December / 1} + 13h + 40min + extra;
}

}  // namespace

TEST_CASE("a log record as a JSON line", "[logging]") {
  struct row {
    std::chrono::milliseconds after;
    const char* level;
    const char* message;
    bool members;
    const char* line;
  };
  const row rows[] = {
      {123ms, "info", "all servers are started", false,
       R"({"ts":"2026-12-01T13:40:00.123Z","level":"info","msg":"all servers are started"})"
       "\n"},
      {0ms, "warning", "a \"quoted\" \\ and \x01", false,
       R"({"ts":"2026-12-01T13:40:00.000Z","level":"warning","msg":"a \"quoted\" \\ and \u0001"})"
       "\n"},
      // Milliseconds are truncated; minutes, hours and days roll over.
      {1'999ms + 20min + 10h, "error", "x", false,
       R"({"ts":"2026-12-02T00:00:01.999Z","level":"error","msg":"x"})"
       "\n"},
      {7ms, "info", R"("msg":"request","status":200)", true,
       R"({"ts":"2026-12-01T13:40:00.007Z","level":"info","msg":"request","status":200})"
       "\n"},
  };
  for (const auto& r : rows) {
    INFO(r.message);
    std::string out;
    append_json_record(out, december_first(r.after), r.level, r.message, r.members);
    CHECK(out == r.line);
  }
}

TEST_CASE("a JSON record before the epoch's second boundary keeps whole milliseconds",
          "[logging]") {
  std::string out;
  append_json_record(out, std::chrono::system_clock::time_point{} + 1500us, "info", "m", false);
  CHECK(out == R"({"ts":"1970-01-01T00:00:00.001Z","level":"info","msg":"m"})"
               "\n");
}
