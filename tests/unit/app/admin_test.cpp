#include "triserve/app/admin.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <sstream>
#include <string>

using triserve::app::render_metrics;
namespace server = triserve::server;

namespace {

/// Every sample line of a Prometheus text exposition, by name with labels.
std::map<std::string, std::string> samples(const std::string& text) {
  std::map<std::string, std::string> found;
  std::istringstream lines{text};
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with("#")) continue;
    const auto space = line.rfind(' ');
    REQUIRE(space != std::string::npos);
    CHECK(found.emplace(line.substr(0, space), line.substr(space + 1)).second);
  }
  return found;
}

}  // namespace

TEST_CASE("metrics: counts, histogram and drain state in Prometheus text format", "[metrics]") {
  server::group_report report;
  report.phase = server::group_phase::draining;
  report.seconds_to_deadline = 2.5;
  server::server_report hello;
  hello.name = "hello";
  hello.live = 3;
  hello.idle = 1;
  hello.cut = 2;
  hello.idle_closed = 4;
  hello.traffic.responses_by_class = {0, 7, 0, 2, 1};
  hello.traffic.bytes_received = 1234;
  hello.traffic.bytes_sent = 5678;
  hello.traffic.duration_buckets[0] = 5;      // up to 0.5 ms
  hello.traffic.duration_buckets[2] = 3;      // up to 2.5 ms
  hello.traffic.duration_buckets.back() = 2;  // beyond 10 s
  hello.traffic.duration_count = 10;
  hello.traffic.duration_sum_us = 20'004'000;
  hello.traffic.handler_failures = 3;
  hello.traffic.connection_failures = 1;
  hello.traffic.responses_by_protocol = {6, 1, 3};
  hello.traffic.h2_streams_open = 5;
  hello.traffic.h2_streams_refused = 9;
  hello.traffic.h2_goaways_sent[11] = 2;  // ENHANCE_YOUR_CALM
  hello.traffic.h2_goaways_sent.back() = 1;
  hello.traffic.h2_floods_stopped = {1, 0, 4, 2};
  report.servers.push_back(hello);

  const auto text = render_metrics(report);
  const auto s = samples(text);
  CHECK(s.at("triserve_requests_total{server=\"hello\",code=\"2xx\"}") == "7");
  CHECK(s.at("triserve_requests_total{server=\"hello\",code=\"4xx\"}") == "2");
  CHECK(s.at("triserve_requests_total{server=\"hello\",code=\"5xx\"}") == "1");
  CHECK(s.at("triserve_connections{server=\"hello\",state=\"active\"}") == "2");
  CHECK(s.at("triserve_connections{server=\"hello\",state=\"idle\"}") == "1");
  CHECK(s.at("triserve_received_bytes_total{server=\"hello\"}") == "1234");
  CHECK(s.at("triserve_sent_bytes_total{server=\"hello\"}") == "5678");
  // Buckets are cumulative, and +Inf holds every observation.
  CHECK(s.at("triserve_request_duration_seconds_bucket{server=\"hello\",le=\"0.0005\"}") == "5");
  CHECK(s.at("triserve_request_duration_seconds_bucket{server=\"hello\",le=\"0.001\"}") == "5");
  CHECK(s.at("triserve_request_duration_seconds_bucket{server=\"hello\",le=\"0.0025\"}") == "8");
  CHECK(s.at("triserve_request_duration_seconds_bucket{server=\"hello\",le=\"10\"}") == "8");
  CHECK(s.at("triserve_request_duration_seconds_bucket{server=\"hello\",le=\"+Inf\"}") == "10");
  CHECK(s.at("triserve_request_duration_seconds_count{server=\"hello\"}") == "10");
  CHECK(s.at("triserve_request_duration_seconds_sum{server=\"hello\"}") == "20.004");
  CHECK(s.at("triserve_connections_cut_total{server=\"hello\"}") == "2");
  CHECK(s.at("triserve_idle_connections_closed_total{server=\"hello\"}") == "4");
  CHECK(s.at("triserve_handler_failures_total{server=\"hello\"}") == "3");
  CHECK(s.at("triserve_connection_failures_total{server=\"hello\"}") == "1");
  CHECK(text.find("# TYPE triserve_handler_failures_total counter\n") <
        text.find("triserve_handler_failures_total{"));
  CHECK(s.at("triserve_requests_by_protocol_total{server=\"hello\",protocol=\"http/1.1\"}") == "6");
  CHECK(s.at("triserve_requests_by_protocol_total{server=\"hello\",protocol=\"h2\"}") == "1");
  CHECK(s.at("triserve_requests_by_protocol_total{server=\"hello\",protocol=\"h2c\"}") == "3");
  CHECK(s.at("triserve_http2_streams{server=\"hello\"}") == "5");
  CHECK(s.at("triserve_http2_streams_refused_total{server=\"hello\"}") == "9");
  // NO_ERROR always; other codes once sent.
  CHECK(s.at("triserve_http2_goaways_sent_total{server=\"hello\",code=\"NO_ERROR\"}") == "0");
  CHECK(s.at("triserve_http2_goaways_sent_total{server=\"hello\",code=\"ENHANCE_YOUR_CALM\"}") ==
        "2");
  CHECK(s.at("triserve_http2_goaways_sent_total{server=\"hello\",code=\"OTHER\"}") == "1");
  CHECK(s.count("triserve_http2_goaways_sent_total{server=\"hello\",code=\"PROTOCOL_ERROR\"}") ==
        0);
  CHECK(s.at("triserve_http2_floods_stopped_total{server=\"hello\",kind=\"rapid_reset\"}") == "1");
  CHECK(s.at("triserve_http2_floods_stopped_total{server=\"hello\",kind=\"continuation\"}") == "0");
  CHECK(s.at("triserve_http2_floods_stopped_total{server=\"hello\",kind=\"control\"}") == "4");
  CHECK(s.at("triserve_http2_floods_stopped_total{server=\"hello\",kind=\"header_bomb\"}") == "2");
  CHECK(s.at("triserve_ready") == "0");
  CHECK(s.at("triserve_draining") == "1");
  CHECK(s.at("triserve_phase{phase=\"draining\"}") == "1");
  CHECK(s.at("triserve_phase{phase=\"serving\"}") == "0");
  CHECK(s.at("triserve_drain_deadline_seconds") == "2.500");
  // Every family is declared once, before its samples.
  CHECK(text.find("# TYPE triserve_request_duration_seconds histogram\n") <
        text.find("triserve_request_duration_seconds_bucket"));
  CHECK(text.ends_with("\n"));
}

TEST_CASE("metrics: a server's durations land in the bucket whose bound they do not exceed",
          "[metrics]") {
  server::traffic_counters counters;
  counters.observe_duration(std::chrono::microseconds{500});  // le 0.0005
  counters.observe_duration(std::chrono::microseconds{501});  // le 0.001
  counters.observe_duration(std::chrono::seconds{11});        // +Inf
  counters.count_response(200, server::wire_protocol::http1);
  counters.count_response(404, server::wire_protocol::h2c);
  counters.count_response(99, server::wire_protocol::h2);  // not a status: not counted
  counters.count_handler_failure();
  counters.count_handler_failure();
  counters.count_connection_failure();
  const auto copy = counters.snapshot();
  CHECK(copy.duration_buckets[0] == 1);
  CHECK(copy.duration_buckets[1] == 1);
  CHECK(copy.duration_buckets.back() == 1);
  CHECK(copy.duration_count == 3);
  CHECK(copy.duration_sum_us == 11'001'001);
  CHECK(copy.responses_by_class[1] == 1);
  CHECK(copy.responses_by_class[3] == 1);
  CHECK(copy.responses_by_class[0] == 0);
  CHECK(copy.responses_by_protocol[static_cast<std::size_t>(server::wire_protocol::http1)] == 1);
  CHECK(copy.responses_by_protocol[static_cast<std::size_t>(server::wire_protocol::h2c)] == 1);
  CHECK(copy.responses_by_protocol[static_cast<std::size_t>(server::wire_protocol::h2)] == 0);
  CHECK(copy.handler_failures == 2);
  CHECK(copy.connection_failures == 1);
}
