// Running under a service manager: systemd's notify protocol (a fake notify socket receives the
// datagrams), socket activation (this test passes pre-bound sockets as LISTEN_FDS), the admin
// listener's /healthz, /readyz and /metrics through a drain, and --drain-delay.

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/daemon.hpp"
#include "support/raw_client.hpp"
#include "support/test_certificates.hpp"

using namespace triserve::integration;
using namespace std::chrono_literals;

namespace {

/// A fake service manager's notify socket: an AF_UNIX datagram socket bound to a path or an
/// abstract name, collecting what the daemon sends.
class notify_listener {
 public:
  explicit notify_listener(bool abstract) {
    static int counter = 0;
    const auto unique = std::to_string(::getpid()) + "-" + std::to_string(++counter);
    name_ = abstract ? "@triserve-test-" + unique : "/tmp/triserve-notify-" + unique + ".sock";
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket(AF_UNIX) failed");
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, name_.data(), name_.size());
    if (abstract) address.sun_path[0] = '\0';
    if (!abstract) ::unlink(name_.c_str());
    const auto length =
        static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size() + (abstract ? 0 : 1));
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&address), length) != 0)
      throw std::runtime_error("bind(" + name_ + ") failed: " + std::strerror(errno));
  }
  ~notify_listener() {
    ::close(fd_);
    if (name_[0] == '/') ::unlink(name_.c_str());
  }
  notify_listener(const notify_listener&) = delete;
  notify_listener& operator=(const notify_listener&) = delete;

  /// NOTIFY_SOCKET's value for this socket.
  const std::string& name() const { return name_; }

  /// The next datagram, or nullopt when none comes in time.
  std::optional<std::string> next(std::chrono::milliseconds timeout = 5s) {
    pollfd ready{fd_, POLLIN, 0};
    if (::poll(&ready, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
    char datagram[4096];
    const auto size = ::recv(fd_, datagram, sizeof datagram, 0);
    if (size < 0) return std::nullopt;
    std::string message(datagram, static_cast<std::size_t>(size));
    received_.push_back(message);
    return message;
  }

  /// Reads datagrams until one contains `needle`; false when none does in time.
  bool wait_for(std::string_view needle, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      const auto message = next(left);
      if (!message) return false;
      if (message->find(needle) != std::string::npos) return true;
    }
  }

  /// Every datagram read so far, in order.
  const std::vector<std::string>& received() const { return received_; }
  /// Where the first datagram containing `needle` came; -1 when none did.
  long index_of(std::string_view needle) const {
    for (std::size_t i = 0; i < received_.size(); ++i)
      if (received_[i].find(needle) != std::string::npos) return static_cast<long>(i);
    return -1;
  }
  std::string transcript() const {
    std::string all;
    for (const auto& message : received_) all += "[" + printable(message) + "] ";
    return all;
  }

 private:
  std::string name_;
  int fd_ = -1;
  std::vector<std::string> received_;
};

/// A TCP socket listening on 127.0.0.1 with a port the kernel chose, as a socket unit opens it.
struct listening_socket {
  int fd = -1;
  std::uint16_t port = 0;

  listening_socket() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd < 0 || ::bind(fd, reinterpret_cast<const sockaddr*>(&address), length) != 0 ||
        ::listen(fd, 128) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
      throw std::runtime_error("cannot open a listening socket");
    port = ntohs(address.sin_port);
  }
  ~listening_socket() { close(); }
  listening_socket(const listening_socket&) = delete;
  listening_socket& operator=(const listening_socket&) = delete;
  /// Drops the test's copy: once the daemon closes its own, the port refuses.
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

http_response get(std::uint16_t port, const std::string& path) {
  raw_client client{port};
  return client.round_trip("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
}

/// Prometheus text exposition, strictly: every line is a comment or `name{labels} value`; the
/// samples by their full name with labels. Throws on a malformed line.
std::map<std::string, double> parse_metrics(const std::string& text) {
  std::map<std::string, double> samples;
  std::istringstream lines{text};
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) throw std::runtime_error("empty line in /metrics");
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) continue;
    const auto space = line.rfind(' ');
    if (space == std::string::npos) throw std::runtime_error("no value: " + line);
    const auto key = line.substr(0, space);
    std::size_t used = 0;
    const double value = std::stod(line.substr(space + 1), &used);
    if (used != line.size() - space - 1) throw std::runtime_error("bad value: " + line);
    for (const char c : key.substr(0, key.find('{')))
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_'))
        throw std::runtime_error("bad metric name: " + line);
    if (!samples.emplace(key, value).second) throw std::runtime_error("duplicate: " + line);
  }
  return samples;
}

std::map<std::string, double> scrape(std::uint16_t admin_port) {
  const auto response = get(admin_port, "/metrics");
  REQUIRE(response.status == 200);
  return parse_metrics(response.body);
}

}  // namespace

TEST_CASE("service: the notify socket gets READY, WATCHDOG, STOPPING and STATUS, in order",
          "[service]") {
  const bool abstract = GENERATE(true, false);
  INFO((abstract ? "abstract socket name" : "socket path"));
  notify_listener manager{abstract};
  // Pings every half of WATCHDOG_USEC: every 100 ms here.
  auto daemon = daemon_process::start(
      {}, 10s, with_environment({{"NOTIFY_SOCKET", manager.name()}, {"WATCHDOG_USEC", "200000"}}));
  REQUIRE(manager.wait_for("READY=1"));
  const auto& ready = manager.received().back();
  CHECK(ready.find("STATUS=serving: hello on 127.0.0.1:" + std::to_string(daemon->port("hello"))) !=
        std::string::npos);
  // Three pings in well under a second; a stuck event loop would send none.
  for (int ping = 0; ping < 3; ++ping) REQUIRE(manager.wait_for("WATCHDOG=1", 2s));

  daemon->send_signal(SIGTERM);
  REQUIRE(manager.wait_for("STOPPING=1"));
  CHECK(manager.received().back().find("STATUS=draining: hello 0, hello-name 0, echo 0") !=
        std::string::npos);
  REQUIRE(manager.wait_for("STATUS=stopped: 0 request(s) served, 0 cut"));
  const auto status = daemon->wait_for_exit(5s);
  REQUIRE(status);
  CHECK(status->code == 0);
  INFO(manager.transcript());
  CHECK(manager.index_of("READY=1") == 0);
  CHECK(manager.index_of("WATCHDOG=1") > manager.index_of("READY=1"));
  CHECK(manager.index_of("STOPPING=1") > manager.index_of("WATCHDOG=1"));
  CHECK(manager.index_of("STATUS=stopped") > manager.index_of("STOPPING=1"));
}

TEST_CASE("service: a watchdog meant for another process gets no pings", "[service]") {
  notify_listener manager{true};
  auto daemon = daemon_process::start(
      {}, 10s,
      with_environment(
          {{"NOTIFY_SOCKET", manager.name()}, {"WATCHDOG_USEC", "100000"}, {"WATCHDOG_PID", "1"}}));
  REQUIRE(manager.wait_for("READY=1"));
  CHECK_FALSE(manager.wait_for("WATCHDOG=1", 500ms));
  daemon->send_signal(SIGTERM);
  REQUIRE(daemon->wait_for_exit(5s));
}

TEST_CASE("service: malformed service manager variables stop the start with one line",
          "[service]") {
  struct bad_case {
    std::string variable, value, message;
  };
  const auto bad = GENERATE(
      bad_case{"NOTIFY_SOCKET", "relative/path",
               "NOTIFY_SOCKET \"relative/path\": expected an "
               "absolute path or an @abstract name"},
      bad_case{"WATCHDOG_USEC", "soon", "WATCHDOG_USEC \"soon\": expected a positive number"});
  daemon_process daemon{default_daemon_args(), with_environment({{bad.variable, bad.value}})};
  const auto status = daemon.wait_for_exit(5s);
  REQUIRE(status);
  INFO(daemon.log());
  CHECK(status->code == 1);
  CHECK(daemon.log().find(bad.message) != std::string::npos);
  CHECK(daemon.log().find("listening on") == std::string::npos);
}

TEST_CASE("service: socket activation serves on the passed sockets and drains them", "[service]") {
  // Named as three socket units would name them, in another order; or one unit for all three
  // (one name for all), matched by order.
  const bool by_name = GENERATE(true, false);
  INFO((by_name ? "matched by LISTEN_FDNAMES" : "matched by order"));
  listening_socket hello, hello_name, echo;
  auto extras = with_environment({{"LISTEN_FDS", "3"}});
  extras.listen_pid = true;
  if (by_name) {
    extras.passed_fds = {echo.fd, hello.fd, hello_name.fd};
    extras.environment.emplace_back("LISTEN_FDNAMES", "echo:hello:hello-name");
  } else {
    extras.passed_fds = {hello.fd, hello_name.fd, echo.fd};
    extras.environment.emplace_back("LISTEN_FDNAMES",
                                    "triserve.socket:triserve.socket:triserve.socket");
  }
  // The configured addresses would bind elsewhere: the passed sockets win.
  auto daemon = daemon_process::start({}, 10s, extras);
  for (auto* socket : {&hello, &hello_name, &echo}) socket->close();
  INFO(daemon->log());
  CHECK(daemon->log().find("socket activation: 3 listening socket(s) passed") != std::string::npos);
  CHECK(daemon->port("hello") == hello.port);
  CHECK(daemon->port("hello-name") == hello_name.port);
  CHECK(daemon->port("echo") == echo.port);

  CHECK(get(hello.port, "/").body == "Hello, world!");
  CHECK(get(hello_name.port, "/?name=Alex").body == "Hello, Alex!");
  raw_client client{echo.port};
  const auto echoed = client.round_trip(
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhowdy");
  CHECK(echoed.body == "howdy");

  raw_client idle{hello.port};
  CHECK(idle.round_trip("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status == 200);
  daemon->send_signal(SIGTERM);
  CHECK(idle.read_until_eof(3s).closed);
  const auto status = daemon->wait_for_exit(5s);
  REQUIRE(status);
  CHECK(status->code == 0);
  CHECK(all_ports_refuse(*daemon));
}

TEST_CASE("service: a server serves on every socket passed under its name", "[service]") {
  listening_socket hello, second_hello, hello_name, echo;
  auto extras =
      with_environment({{"LISTEN_FDS", "4"}, {"LISTEN_FDNAMES", "hello:echo:hello:hello-name"}});
  extras.listen_pid = true;
  extras.passed_fds = {hello.fd, echo.fd, second_hello.fd, hello_name.fd};
  // The configured addresses would bind elsewhere: the passed sockets replace all of them.
  auto daemon = daemon_process::start({"--hello", "127.0.0.1:0"}, 10s, extras);
  for (auto* socket : {&hello, &second_hello, &hello_name, &echo}) socket->close();
  INFO(daemon->log());
  CHECK(daemon->log().find("socket activation: 4 listening socket(s) passed") != std::string::npos);
  CHECK(daemon->endpoints("hello") ==
        std::vector<logged_endpoint>{{hello.port, false}, {second_hello.port, false}});
  CHECK(daemon->endpoints("echo") == std::vector<logged_endpoint>{{echo.port, false}});
  CHECK(get(hello.port, "/").body == "Hello, world!");
  CHECK(get(second_hello.port, "/").body == "Hello, world!");
  daemon->send_signal(SIGTERM);
  const auto status = daemon->wait_for_exit(5s);
  REQUIRE(status);
  CHECK(status->code == 0);
}

TEST_CASE("service: a socket passed as NAME.tls speaks TLS beside a cleartext one",
          "[service][tls]") {
  test_certificates certificates;
  listening_socket hello, hello_tls, hello_name, echo;
  auto extras = with_environment(
      {{"LISTEN_FDS", "4"}, {"LISTEN_FDNAMES", "hello:hello.tls:hello-name:echo"}});
  extras.listen_pid = true;
  extras.passed_fds = {hello.fd, hello_tls.fd, hello_name.fd, echo.fd};
  auto daemon = daemon_process::start(
      {"--tls-cert", certificates.path("server.pem"), "--tls-key", certificates.path("server.key")},
      10s, extras);
  for (auto* socket : {&hello, &hello_tls, &hello_name, &echo}) socket->close();
  INFO(daemon->log());
  CHECK(daemon->endpoints("hello") ==
        std::vector<logged_endpoint>{{hello.port, false}, {hello_tls.port, true}});
  CHECK(get(hello.port, "/").body == "Hello, world!");
  raw_client secure(hello_tls.port);
  tls_options options;
  options.ca_file = certificates.path("ca.pem");
  secure.start_tls(options);
  CHECK(secure.round_trip("GET / HTTP/1.1\r\nHost: x\r\n\r\n").body == "Hello, world!");
  daemon->send_signal(SIGTERM);
  const auto status = daemon->wait_for_exit(5s);
  REQUIRE(status);
  CHECK(status->code == 0);
}

TEST_CASE("service: a missing, extra, unknown or unusable passed socket stops the start",
          "[service]") {
  struct bad_case {
    int sockets;
    std::string names;  // empty: LISTEN_FDNAMES unset
    std::string message;
  };
  const auto bad = GENERATE(
      bad_case{2, "", "2 socket(s) passed without our names; expected 3"},
      bad_case{4, "", "4 socket(s) passed without our names; expected 3"},
      bad_case{2, "hello:hello-name", "no socket named \"echo\" or \"echo.tls\" was passed"},
      bad_case{4, "hello:hello-name:echo:metrics",
               "the socket named \"metrics\" (file descriptor 6) is for no server"},
      bad_case{3, "hello:hello:echo", "no socket named \"hello-name\" or \"hello-name.tls\""},
      bad_case{3, "hello.tls:hello-name:echo",
               "socket activation: a socket passed for the hello server speaks TLS (its name ends "
               ".tls) but --tls-cert and --tls-key are not both given"},
      bad_case{3, "hello:echo", "LISTEN_FDNAMES \"hello:echo\" has 2 name(s) for 3 socket(s)"},
      bad_case{-1, "", "file descriptor 3 is not a listening stream socket"});
  INFO(bad.message);
  std::vector<std::unique_ptr<listening_socket>> sockets;
  spawn_extras extras;
  extras.listen_pid = true;
  int unbound = -1;
  if (bad.sockets < 0) {
    // A socket that does not listen: a .socket unit with the wrong kind of socket.
    unbound = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    extras.passed_fds = {unbound};
    extras.environment.emplace_back("LISTEN_FDS", "1");
  } else {
    for (int i = 0; i < bad.sockets; ++i) {
      sockets.push_back(std::make_unique<listening_socket>());
      extras.passed_fds.push_back(sockets.back()->fd);
    }
    extras.environment.emplace_back("LISTEN_FDS", std::to_string(bad.sockets));
  }
  if (!bad.names.empty()) extras.environment.emplace_back("LISTEN_FDNAMES", bad.names);
  daemon_process daemon{default_daemon_args(), extras};
  const auto status = daemon.wait_for_exit(5s);
  if (unbound >= 0) ::close(unbound);
  REQUIRE(status);
  INFO(daemon.log());
  CHECK(status->code == 1);
  CHECK(daemon.log().find(bad.message) != std::string::npos);
  CHECK(daemon.log().find("listening on") == std::string::npos);
}

TEST_CASE("service: LISTEN_FDS meant for another process is left alone", "[service]") {
  listening_socket stray;
  // No LISTEN_PID of ours: the variables belong to whoever set them, and the daemon binds its
  // configured addresses.
  auto extras = with_environment({{"LISTEN_FDS", "1"}, {"LISTEN_PID", "1"}});
  extras.passed_fds = {stray.fd};
  auto daemon = daemon_process::start({}, 10s, extras);
  CHECK(daemon->port("hello") != stray.port);
  CHECK(get(daemon->port("hello"), "/").status == 200);
  daemon->send_signal(SIGTERM);
  const auto status = daemon->wait_for_exit(5s);
  REQUIRE(status);
  CHECK(status->code == 0);
}

TEST_CASE("admin: /readyz turns 503 at the signal, /metrics follows the drain, admin closes last",
          "[service][admin]") {
  auto daemon = daemon_process::start({"--admin", "127.0.0.1:0", "--drain-delay", "3s"});
  const auto admin = daemon->port("admin");
  INFO(daemon->log());
  CHECK(get(admin, "/healthz").status == 200);
  const auto ready = get(admin, "/readyz");
  CHECK(ready.status == 200);
  CHECK(ready.body == "ready\n");
  CHECK(get(admin, "/nope").status == 404);

  CHECK(get(daemon->port("hello"), "/").status == 200);
  CHECK(get(daemon->port("hello-name"), "/?name=x").status == 200);
  {
    raw_client bad{daemon->port("hello")};
    CHECK(bad.round_trip("GET / HTTP/1.1\r\n\r\n").status == 400);  // no Host
  }
  auto before = scrape(admin);
  CHECK(before.at("triserve_ready") == 1);
  CHECK(before.at("triserve_draining") == 0);
  CHECK(before.at("triserve_requests_total{server=\"hello\",code=\"2xx\"}") == 1);
  CHECK(before.at("triserve_requests_total{server=\"hello\",code=\"4xx\"}") == 1);
  CHECK(before.at("triserve_requests_total{server=\"hello-name\",code=\"2xx\"}") == 1);
  CHECK(before.at("triserve_request_duration_seconds_count{server=\"hello\"}") == 1);
  CHECK(before.at("triserve_request_duration_seconds_bucket{server=\"hello\",le=\"+Inf\"}") == 1);
  CHECK(before.at("triserve_received_bytes_total{server=\"hello\"}") > 0);
  CHECK(before.at("triserve_sent_bytes_total{server=\"hello\"}") > 0);

  // An upload in flight holds the drain open.
  const std::string body(1000, 'b');
  raw_client upload{daemon->port("echo")};
  upload.send_all("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" +
                  body.substr(0, 500));
  std::this_thread::sleep_for(100ms);

  daemon->send_signal(SIGTERM);
  REQUIRE(daemon->wait_for_log("reporting not ready, still serving"));
  // The drain delay: not ready, yet still serving new connections.
  const auto not_ready = get(admin, "/readyz");
  CHECK(not_ready.status == 503);
  CHECK(get(daemon->port("hello"), "/").status == 200);
  CHECK(scrape(admin).at("triserve_phase{phase=\"delaying_drain\"}") == 1);

  REQUIRE(daemon->wait_for_log("drain delay over: draining", 6s));
  // Logged as the listeners close: they refuse a moment later.
  CHECK(all_ports_refuse(*daemon));
  // The admin server outlives the others' listeners, and sees the drain.
  const auto draining = scrape(admin);
  CHECK(get(admin, "/readyz").status == 503);
  CHECK(draining.at("triserve_draining") == 1);
  CHECK(draining.at("triserve_phase{phase=\"draining\"}") == 1);
  CHECK(draining.at("triserve_connections{server=\"echo\",state=\"active\"}") == 1);
  CHECK(draining.at("triserve_drain_deadline_seconds") > 0);
  CHECK(draining.at("triserve_drain_deadline_seconds") <= 5);
  CHECK(draining.at("triserve_requests_total{server=\"hello\",code=\"2xx\"}") == 2);

  upload.send_all(body.substr(500));
  const auto echoed = upload.read_response();
  CHECK(echoed.body == body);
  const auto status = daemon->wait_for_exit(5s);
  REQUIRE(status);
  CHECK(status->code == 0);
}

TEST_CASE("admin: an idle scraper's connection is not cut at the deadline", "[service][admin]") {
  auto daemon = daemon_process::start({"--admin", "127.0.0.1:0", "--drain-timeout", "1s"});
  raw_client scraper{daemon->port("admin")};
  CHECK(scraper.round_trip("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").status == 200);
  // One request really held past the deadline.
  raw_client upload{daemon->port("echo")};
  upload.send_all("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhalf!");
  std::this_thread::sleep_for(100ms);
  daemon->send_signal(SIGTERM);
  const auto status = daemon->wait_for_exit(5s);
  REQUIRE(status);
  INFO(daemon->log());
  CHECK(status->code == 1);
  CHECK(daemon->log().find("echo server still had 1 connection(s); closing them now") !=
        std::string::npos);
  CHECK(daemon->log().find("admin server still had") == std::string::npos);
  CHECK(daemon->log().find("shutdown incomplete: 1 connection(s) cut") != std::string::npos);
  CHECK(scraper.read_until_eof(2s).closed);
}

TEST_CASE("admin: a port taken aborts the whole group", "[service][admin]") {
  occupied_port taken;
  daemon_process daemon{[&] {
    auto args = default_daemon_args();
    args.insert(args.end(), {"--admin", "127.0.0.1:" + std::to_string(taken.port())});
    return args;
  }()};
  const auto status = daemon.wait_for_exit(5s);
  REQUIRE(status);
  INFO(daemon.log());
  CHECK(status->code == 1);
  CHECK(daemon.log().find("admin server: cannot listen on 127.0.0.1:" +
                          std::to_string(taken.port())) != std::string::npos);
  CHECK(daemon.log().find("all servers are started") == std::string::npos);
}

TEST_CASE("drain delay: a second signal drains at once", "[service]") {
  auto daemon = daemon_process::start({"--drain-delay", "30s"});
  daemon->send_signal(SIGTERM);
  REQUIRE(daemon->wait_for_log("draining in 30.0s"));
  CHECK(get(daemon->port("hello"), "/").status == 200);
  daemon->send_signal(SIGINT);
  const auto status = daemon->wait_for_exit(3s);
  REQUIRE(status);
  INFO(daemon->log());
  CHECK(status->code == 0);
  CHECK(status->elapsed_ms < 2000);
}
