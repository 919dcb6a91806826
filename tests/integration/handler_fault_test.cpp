// A handler that throws costs its own request and nothing else: answered 500 while nothing of its
// response has left (else its connection is cut), logged once, counted in /metrics, and every
// other connection and server goes on. The faults come from triserve_fault_daemon
// (support/fault_daemon.cpp), the real daemon with its handlers wrapped by a test-only header.

#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <string>
#include <string_view>

#include "support/daemon.hpp"
#include "support/raw_client.hpp"

#ifndef TRISERVE_FAULT_DAEMON
#error "TRISERVE_FAULT_DAEMON must name the triserve_fault_daemon executable (CMake defines it)"
#endif

using namespace triserve::integration;
using namespace std::chrono_literals;

namespace {

/// Runs triserve_fault_daemon instead of the product's binary.
spawn_extras fault_daemon() {
  spawn_extras extras;
  extras.binary = TRISERVE_FAULT_DAEMON;
  return extras;
}

/// Reads the next response, which must be a 500 that closes, then the close itself.
void check_500_and_close(raw_client& client) {
  http_response response;
  REQUIRE_NOTHROW(response = client.read_response(3s));
  CHECK(response.status == 500);
  CHECK(response.header("Connection") == "close");
  CHECK(response.body.find("must never leave") == std::string::npos);
  CHECK(client.read_until_eof(3s).closed);
}

}  // namespace

TEST_CASE("a handler that throws costs its own request and nothing else", "[handler-fault]") {
  auto daemon = daemon_process::start({"--admin", "127.0.0.1:0"}, 10s, fault_daemon());
  const auto hello = daemon->port("hello");
  const auto echo = daemon->port("echo");
  const auto admin = daemon->port("admin");
  const std::string get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

  // Bystanders: a kept-alive connection idle between requests, and an echo upload half sent.
  raw_client idle(hello);
  REQUIRE(idle.round_trip(get).status == 200);
  const std::string upload_body(64 * 1024, 'u');
  raw_client upload(echo);
  upload.send_all(
      "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(upload_body.size()) +
      "\r\n\r\n" + upload_body.substr(0, upload_body.size() / 2));

  // Nothing queued yet: 500.
  {
    INFO("before-response");
    raw_client client(hello);
    client.send_all("GET /before HTTP/1.1\r\nHost: x\r\nX-Test-Fault: before-response\r\n\r\n");
    check_500_and_close(client);
  }
  // A response queued but not sent: replaced by the 500, while the response to the request
  // pipelined before it, queued in the same buffer, still arrives whole.
  {
    INFO("after-queued, behind a pipelined request");
    raw_client client(hello);
    client.send_all(
        "GET /first HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /queued HTTP/1.1\r\nHost: x\r\nX-Test-Fault: after-queued\r\n\r\n");
    http_response first;
    REQUIRE_NOTHROW(first = client.read_response(3s));
    CHECK(first.status == 200);
    CHECK(first.body == "Hello, world!");
    check_500_and_close(client);
  }
  // The same after reading the body: the `100 Continue` that asked for it took the response
  // pipelined before along, and only what was queued since is replaced.
  {
    INFO("after-body, with 100 Continue");
    raw_client client(hello);
    client.send_all(
        "GET /first HTTP/1.1\r\nHost: x\r\n\r\n"
        "POST /continued HTTP/1.1\r\nHost: x\r\nX-Test-Fault: after-body\r\n"
        "Expect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    http_response first;
    REQUIRE_NOTHROW(first = client.read_response(3s));
    CHECK(first.body == "Hello, world!");
    http_response interim;
    REQUIRE_NOTHROW(interim = client.read_response(3s, false));
    CHECK(interim.status == 100);
    client.send_all("hello");
    check_500_and_close(client);
  }
  // Part of the response has left: too late for a 500, the client sees a short body and a close.
  {
    INFO("mid-body");
    raw_client client(echo);
    client.send_all(
        "POST /mid HTTP/1.1\r\nHost: x\r\nX-Test-Fault: mid-body\r\nContent-Length: 1000\r\n\r\n" +
        std::string(100, 'm'));
    const auto received = client.read_until_eof(3s);
    CHECK(received.closed);
    const auto head_end = received.data.find("\r\n\r\n");
    REQUIRE(head_end != std::string::npos);
    const std::string head = received.data.substr(0, head_end);
    const std::string body = received.data.substr(head_end + 4);
    INFO(printable(head));
    CHECK(head.starts_with("HTTP/1.1 200 "));
    CHECK(head.find("Content-Length: 1000") != std::string::npos);
    CHECK(!body.empty());
    CHECK(body.size() <= 100);
    CHECK(body == std::string(body.size(), 'm'));
  }
  // The admin server's handler failing to render the metrics.
  {
    INFO("/metrics");
    raw_client client(admin);
    client.send_all("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Test-Fault: render\r\n\r\n");
    check_500_and_close(client);
  }

  // One error line per fault, naming the server, the request line and the peer.
  const char* expected[] = {
      R"(hello server: handler failed on "GET /before HTTP/1.1" from 127.0.0.1:)",
      R"(hello server: handler failed on "GET /queued HTTP/1.1" from 127.0.0.1:)",
      R"(hello server: handler failed on "POST /continued HTTP/1.1" from 127.0.0.1:)",
      R"(echo server: handler failed on "POST /mid HTTP/1.1" from 127.0.0.1:)",
      R"(admin server: handler failed on "GET /metrics HTTP/1.1" from 127.0.0.1:)",
  };
  for (const char* line : expected) {
    INFO(line);
    REQUIRE(daemon->wait_for_log(line, 3s));
    const auto found = daemon->log_lines_with(line);
    REQUIRE(found.size() == 1);
    CHECK(found[0].find("[error]") != std::string::npos);
  }
  INFO(daemon->log());
  CHECK(daemon->log_lines_with("handler failed").size() == 5);
  CHECK(daemon->log_lines_with("[error]").size() == 5);
  CHECK(daemon->log_lines_with("std::bad_alloc; answered 500").size() == 3);
  CHECK(daemon->log_lines_with("rendering the metrics failed (test fault); answered 500").size() ==
        1);
  CHECK(daemon->log_lines_with("std::bad_alloc; part of the response had left").size() == 1);

  // Counted, by server.
  raw_client scraper(admin);
  const auto metrics = scraper.round_trip("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(metrics.status == 200);
  CHECK(metric_sample(metrics.body, R"(triserve_handler_failures_total{server="hello"})") == "3");
  CHECK(metric_sample(metrics.body, R"(triserve_handler_failures_total{server="hello-name"})") ==
        "0");
  CHECK(metric_sample(metrics.body, R"(triserve_handler_failures_total{server="echo"})") == "1");
  CHECK(metric_sample(metrics.body, R"(triserve_handler_failures_total{server="admin"})") == "1");
  CHECK(metric_sample(metrics.body, R"(triserve_requests_total{server="hello",code="5xx"})") ==
        "3");

  // Everything else goes on: the idle connection, the upload, the other servers.
  CHECK(idle.round_trip(get).status == 200);
  upload.send_all(upload_body.substr(upload_body.size() / 2));
  http_response echoed;
  REQUIRE_NOTHROW(echoed = upload.read_response(5s));
  CHECK(echoed.status == 200);
  CHECK(echoed.body == upload_body);
  raw_client hello_name(daemon->port("hello-name"));
  CHECK(hello_name.round_trip("GET /?name=fault HTTP/1.1\r\nHost: x\r\n\r\n").body ==
        "Hello, fault!");
  CHECK(raw_client(hello).round_trip(get).status == 200);

  // And the drain is a clean one.
  daemon->send_signal(SIGTERM);
  const auto status = daemon->wait_for_exit(5s);
  REQUIRE(status);
  INFO(status->describe());
  CHECK(status->exited);
  CHECK(status->code == 0);
}
