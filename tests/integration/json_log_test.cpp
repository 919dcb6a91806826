// --log-format json: every line the daemon writes to stderr is one strict JSON object with ts,
// level and msg; access-log lines carry the request's fields, whatever bytes the client sent.

#include <catch2/catch.hpp>

#include <signal.h>
#include <time.h>

#include <chrono>
#include <ctime>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "support/daemon.hpp"
#include "support/json_object.hpp"
#include "support/raw_client.hpp"

using namespace triserve::integration;
using namespace std::chrono_literals;

namespace {

/// The port in a msg like "hello server listening on 127.0.0.1:41234", by server name.
std::map<std::string, std::uint16_t> listening_ports(const std::string& log) {
  static const std::regex listening{R"(^(\S+) server listening on 127\.0\.0\.1:(\d+)$)"};
  std::map<std::string, std::uint16_t> ports;
  for (const auto& line : lines_of(log)) {
    const auto object = parse_json_object(line);
    if (!object || object->count("msg") == 0) continue;
    std::smatch match;
    if (std::regex_match(object->at("msg"), match, listening))
      ports[match[1]] = static_cast<std::uint16_t>(std::stoul(match[2]));
  }
  return ports;
}

/// Seconds between an RFC 3339 UTC timestamp with milliseconds and now; nullopt if malformed.
std::optional<double> seconds_from_now(const std::string& ts) {
  static const std::regex rfc3339{R"(^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z$)"};
  std::smatch m;
  if (!std::regex_match(ts, m, rfc3339)) return std::nullopt;
  std::tm utc{};
  utc.tm_year = std::stoi(m[1]) - 1900;
  utc.tm_mon = std::stoi(m[2]) - 1;
  utc.tm_mday = std::stoi(m[3]);
  utc.tm_hour = std::stoi(m[4]);
  utc.tm_min = std::stoi(m[5]);
  utc.tm_sec = std::stoi(m[6]);
  const double logged = static_cast<double>(::timegm(&utc)) + std::stoi(m[7]) / 1000.0;
  const auto now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch());
  return now.count() - logged;
}

}  // namespace

TEST_CASE("the test's JSON reader is strict", "[json-log]") {
  struct row {
    std::string text;
    bool valid;
  };
  const row rows[] = {
      {R"({"a":"b","n":-1.5e3,"t":true,"z":null})", true},
      {R"( { "a" : "\u00ff\"\\\/\n" } )", true},
      {R"({"a":"\ud83d\ude00"})", true},
      {"{\"a\":\"\xc3\xbf\"}", true},
      {"{}", true},
      {"{\"a\":\"\xff\"}", false},          // not UTF-8
      {"{\"a\":\"\xc0\xaf\"}", false},      // overlong
      {"{\"a\":\"\xed\xa0\x80\"}", false},  // encoded surrogate
      {"{\"a\":\"tab\there\"}", false},     // raw control character
      {R"({"a":"\x41"})", false},
      {R"({"a":"\ud83d"})", false},  // lone surrogate
      {R"({"a":"b",})", false},
      {R"({"a":"b"} x)", false},
      {R"({"a":"b","a":"c"})", false},
      {R"({"a":01})", false},
      {R"({"a":1.})", false},
      {R"({"a":[1]})", false},
      {R"({"a":"b")", false},
      {R"({"a":"b" "c":1})", false},
      {R"(["a"])", false},
  };
  for (const auto& r : rows) {
    std::string error;
    const bool parsed = parse_json_object(r.text, &error).has_value();
    INFO(printable(r.text) << " -> " << (error.empty() ? "valid" : error));
    CHECK(parsed == r.valid);
  }
  CHECK(parse_json_object(R"({"a":"\u00ff\"\\"})")->at("a") == "\xc3\xbf\"\\");
}

TEST_CASE("JSON logs: every stderr line is a JSON object, access lines structured", "[json-log]") {
  auto args = default_daemon_args();
  for (const char* arg : {"--log-format", "json", "--access-log", "--log-level", "debug"})
    args.emplace_back(arg);
  daemon_process daemon(args);
  const bool started = daemon.wait_for_log("all servers are started", 10s);
  INFO("stderr:\n" << printable(daemon.log(), 20000));
  REQUIRE(started);
  const auto ports = listening_ports(daemon.log());
  REQUIRE(ports.count("hello") == 1);

  // A client-controlled target: a quote, a backslash and a byte that is not UTF-8.
  const std::string target = "/q\"b\\s\xff?x=1";
  raw_client client(ports.at("hello"));
  const auto response = client.round_trip("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
  raw_client rejected(ports.at("hello"));
  rejected.send_all("GET /no-host HTTP/1.1\r\n\r\n");
  CHECK(rejected.read_response().status == 400);
  CHECK(daemon.wait_for_log("\"status\":400", 2s));
  CHECK(daemon.wait_for_log("\"status\":" + std::to_string(response.status), 2s));

  daemon.send_signal(SIGTERM);
  const auto status = daemon.wait_for_exit(5s);
  REQUIRE(status.has_value());
  CHECK(status->code == 0);

  const auto log = daemon.log();
  REQUIRE_FALSE(log.empty());
  CHECK(log.back() == '\n');
  CHECK(log.find("\\u00ff") != std::string::npos);  // the raw byte, escaped
  std::vector<triserve::integration::json_object> requests;
  bool exit_line = false;
  for (const auto& line : lines_of(log)) {
    std::string error;
    const auto object = parse_json_object(line, &error);
    INFO("line: " << printable(line) << "\nerror: " << error);
    REQUIRE(object.has_value());
    REQUIRE(object->count("ts") == 1);
    const auto age = seconds_from_now(object->at("ts"));
    REQUIRE(age.has_value());
    CHECK(*age > -5.0);  // UTC, not local time, and now
    CHECK(*age < 120.0);
    CHECK((object->at("level") == "trace" || object->at("level") == "debug" ||
           object->at("level") == "info" || object->at("level") == "warning" ||
           object->at("level") == "error" || object->at("level") == "critical"));
    REQUIRE(object->count("msg") == 1);
    CHECK_FALSE(object->at("msg").empty());
    if (object->at("msg") == "request") requests.push_back(*object);
    if (object->at("msg").rfind("exiting with status 0", 0) == 0) exit_line = true;
  }
  CHECK(exit_line);

  REQUIRE(requests.size() == 2);
  const auto& served = requests[0].at("status") == "400" ? requests[1] : requests[0];
  const auto& refused = requests[0].at("status") == "400" ? requests[0] : requests[1];
  CHECK(served.at("server") == "hello");
  CHECK(served.at("peer").rfind("127.0.0.1:", 0) == 0);
  CHECK(served.at("method") == "GET");
  CHECK(served.at("target") == "/q\"b\\s\xc3\xbf?x=1");  // 0xff read as U+00FF
  CHECK(served.at("status") == std::to_string(response.status));
  CHECK(served.at("bytes") == std::to_string(response.body.size()));
  CHECK(std::regex_match(served.at("duration_ms"), std::regex{R"(\d+\.\d{3})"}));
  CHECK(served.count("note") == 0);
  CHECK(served.at("level") == "info");
  CHECK(refused.at("status") == "400");
  CHECK(refused.at("note") == "missing Host header");
  CHECK(refused.at("server") == "hello");
}
