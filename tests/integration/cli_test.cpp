// The command line: --version, --help, bad values (exit 2, one line, nothing listens) and the
// accepted address and duration forms.

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "support/daemon.hpp"
#include "support/raw_client.hpp"

using namespace triserve::integration;
using namespace std::chrono_literals;

namespace {

/// Whether this machine can bind [::1]; containers often run without IPv6.
bool ipv6_loopback_available() {
  const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  const bool ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

/// The status of `GET /` on `port`.
int get_status(std::uint16_t port) {
  raw_client client(port);
  return client.round_trip("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status;
}

}  // namespace

TEST_CASE("the version flag prints the version and exits 0", "[cli]") {
  daemon_process daemon({"--version"});
  const auto status = daemon.wait_for_exit(3s);
  REQUIRE(status.has_value());
  CHECK(status->code == 0);
  const auto printed = daemon.out() + daemon.log();
  INFO("output: " << printed);
  const std::string expected = "triserve " TRISERVE_VERSION;
  REQUIRE(printed.rfind(expected, 0) == 0);
  // A build from a git checkout names its commit; one from a source tarball cannot.
  static const std::regex commit(R"(( \(git [0-9a-f]{7,}(-dirty)?\))?\n)");
  CHECK(std::regex_match(printed.substr(expected.size()), commit));
  CHECK(printed.find("listening") == std::string::npos);
}

TEST_CASE("the help flag describes the options and exits 0", "[cli]") {
  daemon_process daemon({"--help"});
  const auto status = daemon.wait_for_exit(3s);
  REQUIRE(status.has_value());
  CHECK(status->code == 0);
  const auto printed = daemon.out() + daemon.log();
  INFO("output: " << printed);
  for (const char* option : {"--hello", "--hello-name", "--echo", "--drain-timeout"}) {
    CHECK(printed.find(option) != std::string::npos);
  }
  CHECK(printed.find("listening") == std::string::npos);
}

TEST_CASE("a bad value is one line on stderr, exit 2, and nothing listens", "[cli]") {
  struct row {
    std::string flag;   ///< the option given a bad value, or the unknown flag itself
    std::string value;  ///< empty for a flag without a value
    std::string named;  ///< what the error line must mention
  };
  const row rows[] = {
      {"--drain-timeout", "5x", "5x"},
      {"--hello", "nonsense", "nonsense"},
      {"--hello", "127.0.0.1:70000", "70000"},
      {"--echo", "127.0.0.1:-1", "-1"},
      {"--header-timeout", "soon", "soon"},
      {"--max-header-bytes", "many", "many"},
      {"--threads", "0", "--threads"},
      {"--threads", "two", "two"},
      {"--threads", "5000", "5000"},
      {"--no-such-flag", "", "--no-such-flag"},
      {"--drain-delay", "later", "later"},
      {"--admin", "nowhere", "nowhere"},
      // A TLS listener without its certificate, or half of one: refused before anything binds.
      {"--echo", "tls://127.0.0.1:0", "--tls-cert and --tls-key are missing"},
      {"--tls-cert", "server.pem", "--tls-key is missing"},
      {"--tls-min-version", "1.1", "1.1"},
      {"--hello", "https://127.0.0.1:0", "tls://127.0.0.1:0"},
      // An option given twice: this row's flag and value are both --drain-timeout.
      {"--drain-timeout=1s", "--drain-timeout=2s", "--drain-timeout: given 2 times; give it once"},
  };
  for (const auto& r : rows) {
    INFO(r.flag << " " << r.value);
    std::map<std::string, std::string> addresses;
    for (const char* server : {"--hello", "--hello-name", "--echo"}) {
      addresses[server] = "127.0.0.1:" + std::to_string(reserve_free_port());
    }
    std::vector<std::string> args;
    for (const auto& [flag, address] : addresses) {
      if (flag == r.flag) continue;
      args.push_back(flag);
      args.push_back(address);
    }
    args.push_back(r.flag);
    if (!r.value.empty()) args.push_back(r.value);

    daemon_process daemon(args);
    bool something_listened = false;
    std::optional<exit_status> status;
    for (int attempt = 0; attempt < 100 && !status; ++attempt) {
      for (const auto& [flag, address] : addresses) {
        const auto port = static_cast<std::uint16_t>(std::stoul(address.substr(10)));
        if (flag != r.flag && port_accepts(port, 20ms)) something_listened = true;
      }
      status = daemon.wait_for_exit(5ms);
    }
    if (!status) status = daemon.wait_for_exit(2s);
    REQUIRE(status.has_value());
    INFO("stderr: " << daemon.log());
    INFO("stdout: " << daemon.out());
    CHECK(status->exited);
    CHECK(status->code == 2);
    CHECK_FALSE(something_listened);
    const auto lines = lines_of(daemon.log());
    REQUIRE(lines.size() == 1);
    CHECK(lines.front().rfind("triserve: ", 0) == 0);
    CHECK(lines.front().find(r.named) != std::string::npos);
  }
}

TEST_CASE("the documented address and duration forms are accepted", "[cli]") {
  SECTION("durations in s, ms and m") {
    auto daemon = daemon_process::start({"--drain-timeout", "1m", "--header-timeout", "500ms",
                                         "--idle-timeout", "30s", "--body-timeout", "2s",
                                         "--write-timeout", "1m"});
    daemon->send_signal(SIGTERM);
    const auto status = daemon->wait_for_exit(3s);
    REQUIRE(status.has_value());
    CHECK(status->code == 0);
  }

  SECTION("localhost:0") {
    daemon_process daemon(
        {"--hello", "localhost:0", "--hello-name", "127.0.0.1:0", "--echo", "127.0.0.1:0"});
    const bool started = daemon.wait_for_log("all servers are started", 10s);
    INFO("stderr:\n" << daemon.log());
    REQUIRE(started);
    REQUIRE(daemon.wait_for_ports(1s));
    INFO("hello listens on " << daemon.logged_address("hello"));
    CHECK(daemon.logged_address("hello").find(":0") == std::string::npos);
  }

  SECTION("[::1]:0 is logged in brackets with the bound port") {
    if (!ipv6_loopback_available()) {
      WARN("no IPv6 loopback on this machine: [::1] not tested");
      return;
    }
    daemon_process daemon(
        {"--hello", "[::1]:0", "--hello-name", "127.0.0.1:0", "--echo", "127.0.0.1:0"});
    const bool started = daemon.wait_for_log("all servers are started", 10s);
    INFO("stderr:\n" << daemon.log());
    REQUIRE(started);
    REQUIRE(daemon.wait_for_ports(1s));
    const auto address = daemon.logged_address("hello");
    CHECK(address.rfind("[::1]:", 0) == 0);
    CHECK(daemon.port("hello") != 0);
  }

  SECTION("--log-level and --access-log") {
    auto daemon = daemon_process::start({"--log-level", "debug", "--access-log"});
    raw_client client(daemon->port("hello"));
    CHECK(client.round_trip("GET /logged HTTP/1.1\r\nHost: x\r\n\r\n").status == 200);
    const bool logged = daemon->wait_for_log("/logged", 2s);
    INFO("stderr:\n" << daemon->log());
    CHECK(logged);
  }
}

TEST_CASE("the access log names the request even when its body arrives after the head", "[cli]") {
  // The head is pinned in the connection's buffer while the body streams through it; a body read
  // must never overwrite the method and target the access log prints.
  auto daemon = daemon_process::start({"--access-log"});
  raw_client client(daemon->port("echo"));
  client.send_all("POST /some/path?q=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n");
  std::this_thread::sleep_for(200ms);
  client.send_all(std::string(40, 'Z'));
  const auto response = client.read_response();
  CHECK(response.body == std::string(40, 'Z'));
  const bool logged = daemon->wait_for_log("POST /some/path?q=1 200 40", 2s);
  INFO("stderr:\n" << daemon->log());
  CHECK(logged);
}

TEST_CASE("the access log records rejected requests with the reason", "[cli]") {
  auto daemon = daemon_process::start({"--access-log"});
  raw_client client(daemon->port("hello"));
  client.send_all("GET /rejected HTTP/1.1\r\n\r\n");  // no Host
  CHECK(client.read_response().status == 400);
  const bool logged = daemon->wait_for_log("400 36", 2s);
  INFO("stderr:\n" << daemon->log());
  CHECK(logged);
  CHECK(daemon->wait_for_log("missing Host header", 1s));
}

TEST_CASE("a server repeated on two addresses serves on both and drains both", "[cli]") {
  daemon_process daemon({"--hello", "127.0.0.1:0", "--hello", "127.0.0.1:0", "--hello-name",
                         "127.0.0.1:0", "--echo", "127.0.0.1:0"});
  const bool started = daemon.wait_for_log("all servers are started", 10s);
  INFO("stderr:\n" << daemon.log());
  REQUIRE(started);
  REQUIRE(daemon.wait_for_ports(1s));
  const auto hello = daemon.endpoints("hello");
  REQUIRE(hello.size() == 2);
  CHECK(daemon.log_lines_with("hello server listening on 127.0.0.1:").size() == 2);
  CHECK(hello[0].port != hello[1].port);
  CHECK(daemon.port("hello") == hello[0].port);
  for (const auto& endpoint : hello) {
    INFO("port " << endpoint.port);
    CHECK_FALSE(endpoint.tls);
    raw_client client(endpoint.port);
    const auto response =
        client.round_trip("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK(response.status == 200);
    CHECK(response.body == "Hello, world!");
  }

  // An idle keep-alive connection on the second address is closed by the drain like any other.
  raw_client idle(hello[1].port);
  CHECK(idle.round_trip("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status == 200);
  daemon.send_signal(SIGTERM);
  CHECK(idle.read_until_eof(3s).closed);
  const auto status = daemon.wait_for_exit(5s);
  REQUIRE(status.has_value());
  CHECK(status->code == 0);
  for (const auto& endpoint : hello) CHECK_FALSE(port_accepts(endpoint.port, 200ms));
}

TEST_CASE("a certificate with no TLS address: one warning, and the daemon serves", "[cli]") {
  // The files are never read while no listener speaks TLS: these do not exist.
  auto daemon = daemon_process::start(
      {"--tls-cert", "/nonexistent/server.pem", "--tls-key", "/nonexistent/server.key"});
  INFO("stderr:\n" << daemon->log());
  const auto warnings = daemon->log_lines_with("--tls-cert and --tls-key are unused");
  REQUIRE(warnings.size() == 1);
  CHECK(warnings.front().find("[warning]") != std::string::npos);
  CHECK(get_status(daemon->port("hello")) == 200);
  daemon->send_signal(SIGTERM);
  const auto status = daemon->wait_for_exit(5s);
  REQUIRE(status.has_value());
  CHECK(status->code == 0);
}
