// Malformed and over-limit requests: the right status, then close, and the daemon keeps serving.

#include <catch2/catch.hpp>

#include <chrono>
#include <initializer_list>
#include <string>
#include <thread>
#include <utility>

#include "support/daemon.hpp"
#include "support/raw_client.hpp"

using namespace triserve::integration;
using namespace std::chrono_literals;

namespace {

/// One bad request, the server it is sent to, and the status it must get.
struct bad_request {
  const char* name;
  const char* server;
  std::string request;
  int status;
};

/// Sends `row.request`, requires its status and then the close, and proves the daemon still serves.
void check_rejected(daemon_process& daemon, const bad_request& row) {
  INFO(row.name << " -> " << row.status << " on the " << row.server << " server");
  INFO("request: " << printable(row.request, 200));
  {
    raw_client client(daemon.port(row.server));
    // The server may answer and close before it has read everything; a reset is fine then.
    client.try_send_all(row.request);
    http_response response;
    REQUIRE_NOTHROW(response = client.read_response(3s));
    CHECK(response.status == row.status);
    const auto rest = client.read_until_eof(3s);
    CHECK(rest.closed);
  }
  raw_client next(daemon.port("hello"));
  CHECK(next.round_trip("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status == 200);
}

}  // namespace

TEST_CASE("bad requests get their status and a close", "[bad-request]") {
  auto daemon = daemon_process::start({"--max-header-bytes", "16384"});
  const bad_request rows[] = {
      {"malformed request line", "hello", "GARBAGE\r\n\r\n", 400},
      {"request line without a version", "hello", "GET /\r\nHost: x\r\n\r\n", 400},
      {"request line with extra spaces", "hello", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      // RFC 9112 §6.3: both framings at once is how requests are smuggled.
      {"Content-Length with Transfer-Encoding", "echo",
       "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
       "0\r\n\r\n",
       400},
      {"two different Content-Length", "echo",
       "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400},
      {"non-numeric Content-Length", "echo",
       "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400},
      {"Transfer-Encoding gzip", "echo",
       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
      // RFC 9112 §5.2: obs-fold must be rejected (or replaced) in requests.
      {"obs-fold header", "hello", "GET / HTTP/1.1\r\nHost: x\r\nX-Long: a\r\n b\r\n\r\n", 400},
      // RFC 9112 §3.2: exactly one Host in an HTTP/1.1 request.
      {"missing Host on HTTP/1.1", "hello", "GET / HTTP/1.1\r\n\r\n", 400},
      {"duplicate Host", "hello", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"head over --max-header-bytes", "hello",
       "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n", 431},
      {"request line over 8 KiB", "hello",
       "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", 414},
      {"HTTP/2.0 version", "hello", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
      {"bare LF in a chunk-size line", "echo",
       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
       400},
  };
  for (const auto& row : rows) check_rejected(*daemon, row);
}

TEST_CASE("a request line over --max-request-line gets 414", "[bad-request]") {
  auto daemon = daemon_process::start({"--max-request-line", "100"});
  check_rejected(*daemon, {"request line over 100 bytes", "hello",
                           "GET /" + std::string(200, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", 414});
  raw_client client(daemon->port("hello"));
  CHECK(client.round_trip("GET /" + std::string(50, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n").status ==
        200);
}

TEST_CASE("a bare CR gets 400 at once without waiting for its line to end", "[bad-request]") {
  // RFC 9112 §2.2: a CR not followed by LF is invalid, and the byte after it says so. Waiting for
  // a line end that never comes would answer 408 at the header timeout (10 s by default).
  auto daemon = daemon_process::start();
  raw_client client(daemon->port("hello"));
  const auto start = std::chrono::steady_clock::now();
  client.send_all("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb");
  http_response response;
  REQUIRE_NOTHROW(response = client.read_response(3s));
  const auto waited = std::chrono::steady_clock::now() - start;
  CHECK(response.status == 400);
  CHECK(response.header("Connection") == "close");
  CHECK(waited < 1s);
  CHECK(client.read_until_eof(2s).closed);

  raw_client next(daemon->port("hello"));
  CHECK(next.round_trip("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status == 200);
}

TEST_CASE("a head that stalls past --header-timeout gets 408 and a close", "[bad-request]") {
  auto daemon = daemon_process::start({"--header-timeout", "1s"});
  raw_client client(daemon->port("hello"));
  client.send_all("GET / HTTP/1.1\r\nHost: x\r\n");
  const auto start = std::chrono::steady_clock::now();
  const auto response = client.read_response(5s);
  const auto waited = std::chrono::steady_clock::now() - start;
  CHECK(response.status == 408);
  CHECK(waited > 700ms);
  CHECK(waited < 3s);
  CHECK(client.read_until_eof(2s).closed);

  raw_client next(daemon->port("hello"));
  CHECK(next.round_trip("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status == 200);
}

TEST_CASE("a head trickled one byte at a time still gets 408 at the header timeout",
          "[bad-request]") {
  // Slowloris: every byte arriving in time must not extend the deadline of the whole head.
  auto daemon = daemon_process::start({"--header-timeout", "1s"});
  raw_client client(daemon->port("hello"));
  const std::string head = "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(64, 'a');
  const auto started = std::chrono::steady_clock::now();
  std::size_t sent = 0;
  std::string received;
  // One byte per 100 ms for at most 4 s, stopping as soon as the server answers.
  while (sent < head.size() && std::chrono::steady_clock::now() - started < 4s) {
    if (!client.try_send_all(head.substr(sent, 1), 1s)) break;
    ++sent;
    received = client.read_some(100ms);
    if (!received.empty()) break;
  }
  const auto elapsed = std::chrono::steady_clock::now() - started;
  INFO("sent " << sent << " bytes; received: " << printable(received));
  CHECK(received.rfind("HTTP/1.1 408", 0) == 0);
  CHECK(elapsed < 2500ms);
  CHECK(elapsed > 800ms);
}

TEST_CASE("the first head's header timeout runs from accept", "[bad-request]") {
  // Waiting before the first byte must not buy a slow client a second full header timeout.
  auto daemon = daemon_process::start({"--header-timeout", "1s"});
  const auto connected = std::chrono::steady_clock::now();
  raw_client client(daemon->port("hello"));
  std::this_thread::sleep_for(700ms);
  client.send_all("GET / HTTP/1.1\r\n");
  const auto answer = client.read_some(3s);
  const auto elapsed = std::chrono::steady_clock::now() - connected;
  INFO("received: " << printable(answer));
  CHECK(answer.rfind("HTTP/1.1 408", 0) == 0);
  CHECK(elapsed < 1500ms);
}

TEST_CASE("an error answering a HEAD request has a head and no content", "[bad-request]") {
  // RFC 9110 §9.3.2: no content in a response to HEAD, errors included. The error's head still
  // says how long the content would be, as for a GET.
  auto daemon = daemon_process::start();
  for (const auto& [request, status] : std::initializer_list<std::pair<std::string, int>>{
           {"HEAD / HTTP/1.1\r\nHost: x\r\nExpect: something\r\n\r\n", 417},
           {"HEAD / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400},
           {"HEAD / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400},
           {"HEAD / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501}}) {
    INFO(printable(request));
    raw_client client(daemon->port("hello"));
    client.send_all(request);
    const auto answer = client.read_until_eof(3s);
    CHECK(answer.closed);
    const auto head_end = answer.data.find("\r\n\r\n");
    REQUIRE(head_end != std::string::npos);
    CHECK(answer.data.rfind("HTTP/1.1 " + std::to_string(status) + " ", 0) == 0);
    CHECK(answer.data.find("\r\nContent-Length: ") != std::string::npos);
    CHECK(answer.data.size() == head_end + 4);
  }
  raw_client next(daemon->port("hello"));
  CHECK(next.round_trip("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status == 200);
}

TEST_CASE("a head with more fields than --max-header-fields gets 431", "[bad-request]") {
  auto daemon = daemon_process::start({"--max-header-fields", "10"});
  std::string head = "GET / HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 10; ++i) head += "A: b\r\n";
  check_rejected(*daemon, {"11 fields", "hello", head + "\r\n", 431});
  // Ten are fine.
  raw_client client(daemon->port("hello"));
  std::string ten = "GET / HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 9; ++i) ten += "A: b\r\n";
  CHECK(client.round_trip(ten + "\r\n").status == 200);
}
