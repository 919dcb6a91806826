// SIGUSR1: one status line with the live connections per server and the requests served, at any
// moment, without disturbing the daemon.

#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <thread>
#include <vector>

#include "support/daemon.hpp"
#include "support/raw_client.hpp"

using namespace triserve::integration;
using namespace std::chrono_literals;

TEST_CASE("SIGUSR1 reports live connections per server and requests served", "[status]") {
  auto daemon = daemon_process::start();
  INFO("stderr:\n" << daemon->log());
  const auto empty = daemon->status();
  CHECK(empty.state == "serving");
  CHECK(empty.live == 0);
  CHECK(empty.served == 0);

  std::vector<raw_client> clients;
  for (int i = 0; i < 2; ++i) clients.emplace_back(daemon->port("hello"));
  clients.emplace_back(daemon->port("echo"));
  for (auto& client : clients) {
    const auto response = client.round_trip("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(response.status == 200);
  }
  // A connection whose client has its response may not be idle yet: its coroutine returns to
  // waiting on its own strand (a moment later under ThreadSanitizer).
  auto busy = daemon->wait_for_live_connections(3);
  for (int attempt = 0; attempt < 100 && busy.idle != 3; ++attempt) {
    std::this_thread::sleep_for(20ms);
    busy = daemon->status();
  }
  CHECK(busy.live == 3);
  CHECK(busy.live_by_server.at("hello") == 2);
  CHECK(busy.live_by_server.at("hello-name") == 0);
  CHECK(busy.live_by_server.at("echo") == 1);
  CHECK(busy.idle == 3);
  CHECK(busy.served == 3);

  clients.clear();
  CHECK(daemon->wait_for_live_connections(0).live == 0);
  daemon->send_signal(SIGTERM);
  const auto status = daemon->wait_for_exit();
  REQUIRE(status.has_value());
  CHECK(status->code == 0);
  CHECK(daemon->wait_for_log("exiting with status 0: 0 connection(s) still open"));
}

TEST_CASE("SIGUSR1 during a drain reports it and does not end the daemon", "[status]") {
  auto daemon = daemon_process::start({"--drain-timeout", "5s"});
  INFO("stderr:\n" << daemon->log());
  raw_client upload(daemon->port("echo"));
  upload.send_all("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab");
  REQUIRE(daemon->wait_for_live_connections(1).live == 1);
  daemon->send_signal(SIGTERM);
  REQUIRE(daemon->wait_for_log("draining (deadline"));
  const auto draining = daemon->status();
  CHECK(draining.state == "draining");
  CHECK(draining.live_by_server.at("echo") == 1);
  CHECK(draining.idle == 0);
  CHECK(daemon->running());

  upload.send_all("cd");
  const auto response = upload.read_response();
  CHECK(response.body == "abcd");
  const auto status = daemon->wait_for_exit();
  REQUIRE(status.has_value());
  CHECK(status->exited);
  CHECK(status->code == 0);
}
