// A port that cannot be bound: one error line naming the server and address, exit 1, and no
// other server ever accepts a connection.

#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <string>

#include "support/daemon.hpp"
#include "support/raw_client.hpp"

using namespace triserve::integration;
using namespace std::chrono_literals;

TEST_CASE("a port in use fails the start with exit 1 and nothing else listening", "[bind]") {
  const std::string taken = GENERATE(as<std::string>{}, "hello", "hello-name", "echo");
  INFO("the " << taken << " server's port is taken");

  occupied_port blocker;
  std::map<std::string, std::uint16_t> ports;
  for (const char* server : {"hello", "hello-name", "echo"}) {
    ports[server] = server == taken ? blocker.port() : reserve_free_port();
  }
  daemon_process daemon({"--hello", "127.0.0.1:" + std::to_string(ports["hello"]), "--hello-name",
                         "127.0.0.1:" + std::to_string(ports["hello-name"]), "--echo",
                         "127.0.0.1:" + std::to_string(ports["echo"])});

  // Probe the other two ports for as long as the daemon lives: none may ever accept.
  bool another_port_accepted = false;
  std::optional<exit_status> status;
  for (int attempt = 0; attempt < 200 && !status; ++attempt) {
    for (const auto& [server, port] : ports) {
      if (server != taken && port_accepts(port, 20ms)) another_port_accepted = true;
    }
    status = daemon.wait_for_exit(5ms);
  }
  if (!status) status = daemon.wait_for_exit(1s);
  INFO("stderr:\n" << daemon.log());
  REQUIRE(status.has_value());
  INFO(status->describe());
  CHECK(status->exited);
  CHECK(status->code == 1);
  CHECK_FALSE(another_port_accepted);
  CHECK(daemon.log().find("all servers are started") == std::string::npos);

  const auto expected = taken +
                        " server: cannot listen on 127.0.0.1:" + std::to_string(blocker.port()) +
                        ": Address already in use";
  INFO("expected: " << expected);
  CHECK(daemon.log_lines_with(expected).size() == 1);
  CHECK(daemon.log_lines_with("cannot listen").size() == 1);
}

TEST_CASE("the bind failure exits fast", "[bind]") {
  occupied_port blocker;
  const auto started = std::chrono::steady_clock::now();
  daemon_process daemon({"--hello", "127.0.0.1:0", "--hello-name", "127.0.0.1:0", "--echo",
                         "127.0.0.1:" + std::to_string(blocker.port())});
  const auto status = daemon.wait_for_exit(3s);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  INFO("stderr:\n" << daemon.log());
  REQUIRE(status.has_value());
  CHECK(status->code == 1);
  // About 100 ms on a normal build; a second leaves room for sanitizers and a loaded CI machine.
  CHECK(elapsed < 1s);
}

TEST_CASE("an address that is not local fails like a port in use", "[bind]") {
  // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never assigned to this machine.
  daemon_process daemon(
      {"--hello", "192.0.2.1:0", "--hello-name", "127.0.0.1:0", "--echo", "127.0.0.1:0"});
  const auto status = daemon.wait_for_exit(3s);
  INFO("stderr:\n" << daemon.log());
  REQUIRE(status.has_value());
  CHECK(status->code == 1);
  CHECK(daemon.log_lines_with("hello server: cannot listen on 192.0.2.1:0").size() == 1);
}
