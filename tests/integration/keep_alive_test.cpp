// Persistent connections: HTTP/1.1 keep-alive, pipelining, HTTP/1.0 and Connection: close.

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "support/daemon.hpp"
#include "support/raw_client.hpp"

using namespace triserve::integration;
using namespace std::chrono_literals;

TEST_CASE("HTTP/1.1 keeps the connection open between requests", "[keep-alive]") {
  auto daemon = daemon_process::start();
  raw_client client(daemon->port("hello"));
  for (int i = 0; i < 5; ++i) {
    INFO("request " << i);
    const auto response = client.round_trip("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(response.status == 200);
    CHECK(response.body == "Hello, world!");
    CHECK(response.header("Connection").value_or("<absent>") != "close");
  }
}

TEST_CASE("pipelined requests in one write are answered in order", "[keep-alive]") {
  auto daemon = daemon_process::start();

  SECTION("hello-name") {
    raw_client client(daemon->port("hello-name"));
    client.send_all(
        "GET /?name=One HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /?name=Two HTTP/1.1\r\nHost: x\r\n\r\n"
        "HEAD /?name=Three HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /?name=Four HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(client.read_response().body == "Hello, One!");
    CHECK(client.read_response().body == "Hello, Two!");
    const auto head = client.read_response(default_io_timeout, true, /*head_request=*/true);
    CHECK(head.header("Content-Length").value_or("<absent>") == std::string("13"));
    CHECK(client.read_response().body == "Hello, Four!");
  }

  SECTION("echo, Content-Length and chunked bodies mixed") {
    raw_client client(daemon->port("echo"));
    client.send_all(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nfirst"
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nsec\r\n3\r\nond\r\n0\r\n\r\n"
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nthird");
    CHECK(client.read_response().body == "first");
    CHECK(client.read_response().body == "second");
    CHECK(client.read_response().body.empty());
    CHECK(client.read_response().body == "third");
  }

  SECTION("the last request asks to close") {
    raw_client client(daemon->port("hello"));
    client.send_all(
        "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK(client.read_response().status == 200);
    const auto last = client.read_response();
    CHECK(last.status == 200);
    CHECK(last.header("Connection").value_or("<absent>") == std::string("close"));
    const auto rest = client.read_until_eof(2s);
    CHECK(rest.closed);
    CHECK(rest.data.empty());
  }
}

TEST_CASE("HTTP/1.0 closes the connection unless it asks for keep-alive", "[keep-alive]") {
  auto daemon = daemon_process::start();

  SECTION("plain HTTP/1.0") {
    raw_client client(daemon->port("hello"));
    const auto response = client.round_trip("GET / HTTP/1.0\r\n\r\n");
    CHECK(response.status == 200);
    CHECK(response.body == "Hello, world!");
    CHECK(response.header("Connection").value_or("<absent>") != "keep-alive");
    const auto rest = client.read_until_eof(2s);
    CHECK(rest.closed);
    CHECK(rest.data.empty());
  }

  SECTION("HTTP/1.0 with Connection: keep-alive") {
    raw_client client(daemon->port("hello-name"));
    const auto first =
        client.round_trip("GET /?name=Ann HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    CHECK(first.status == 200);
    CHECK(first.body == "Hello, Ann!");
    CHECK(first.header("Connection").value_or("<absent>") == std::string("keep-alive"));
    const auto second =
        client.round_trip("GET /?name=Bob HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    CHECK(second.body == "Hello, Bob!");
    CHECK(second.header("Connection").value_or("<absent>") == std::string("keep-alive"));
    // Without the token the HTTP/1.0 default applies again.
    const auto third = client.round_trip("GET /?name=Cy HTTP/1.0\r\n\r\n");
    CHECK(third.body == "Hello, Cy!");
    CHECK(client.read_until_eof(2s).closed);
  }
}

TEST_CASE("Connection: close on HTTP/1.1 is echoed and the server closes", "[keep-alive]") {
  auto daemon = daemon_process::start();
  for (const char* server : {"hello", "hello-name", "echo"}) {
    INFO(server << " server");
    raw_client client(daemon->port(server));
    const auto response = client.round_trip(
        "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi");
    CHECK(response.status == 200);
    CHECK(response.header("Connection").value_or("<absent>") == std::string("close"));
    const auto rest = client.read_until_eof(2s);
    CHECK(rest.closed);
    CHECK(rest.data.empty());
  }
}

TEST_CASE("an idle keep-alive connection is closed after --idle-timeout", "[keep-alive]") {
  auto daemon = daemon_process::start({"--idle-timeout", "1s"});
  raw_client client(daemon->port("hello"));
  CHECK(client.round_trip("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status == 200);
  const auto start = std::chrono::steady_clock::now();
  const auto rest = client.read_until_eof(5s);
  const auto waited = std::chrono::steady_clock::now() - start;
  CHECK(rest.closed);
  CHECK(waited > 700ms);
  CHECK(waited < 4s);
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool measures_memory = false;  // a sanitizer's allocator keeps what is freed
#else
constexpr bool measures_memory = true;
#endif

TEST_CASE("busy connections left idle give their buffers back and still serve their next request",
          "[keep-alive][memory]") {
  // A connection that has made a few requests waits for the next holding its receive buffer (a
  // read, which needs no epoll_ctl); one left idle gives the buffer back to the pool within two
  // sweeps and waits on without it. Its next request must not notice.
  auto daemon = daemon_process::start();
  constexpr int connection_count = 400;
  const auto baseline_kib = daemon->rss_kib().value_or(0);
  std::vector<raw_client> clients;
  for (int i = 0; i < connection_count; ++i) {
    clients.emplace_back(daemon->port("hello-name"));
    for (int round = 0; round < 3; ++round)
      REQUIRE(clients.back().round_trip("GET /?name=busy HTTP/1.1\r\nHost: x\r\n\r\n").body ==
              "Hello, busy!");
  }
  const auto busy_kib = daemon->rss_kib().value_or(0);
  // Right after their requests, the last ones hold their buffers (the sweep may have taken some).
  CHECK(daemon->status().buffers_in_use > 0u);
  // Two sweeps later every buffer is back; a second or two later the pools' spares are freed.
  std::this_thread::sleep_for(2500ms);
  const auto idle_kib = daemon->rss_kib().value_or(0);
  const auto idle = daemon->status();
  CHECK(idle.buffers_in_use == 0u);
  CHECK(idle.idle == static_cast<std::size_t>(connection_count));
  INFO("RSS: " << baseline_kib << " KiB at start, " << busy_kib << " KiB with " << connection_count
               << " connections just served, " << idle_kib << " KiB once they were idle");
  if (measures_memory) {
    // A held buffer costs the one page a request touched: bounded per connection, and nothing
    // grows while they sit idle.
    CHECK((busy_kib - baseline_kib) * 1024 / connection_count < 8 * 1024);
    CHECK(idle_kib <= busy_kib + 64);
  }
  for (auto& client : clients)
    CHECK(client.round_trip("GET /?name=again HTTP/1.1\r\nHost: x\r\n\r\n").body ==
          "Hello, again!");
  CHECK(daemon->status().live == static_cast<std::size_t>(connection_count));
}
