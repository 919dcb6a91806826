// The coordinated graceful drain on SIGTERM/SIGINT: in-flight work finishes, idle connections and
// listeners close, the deadline and a second signal cut it short.

#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "support/daemon.hpp"
#include "support/raw_client.hpp"

using namespace triserve::integration;
using namespace std::chrono_literals;

namespace {

const char* signal_name(int sig) {
  return sig == SIGINT ? "SIGINT" : "SIGTERM";
}

/// Where `needle` first appears in the log; npos when it does not.
std::size_t log_position(const daemon_process& daemon, const std::string& needle) {
  return daemon.log().find(needle);
}

/// An echo upload whose head and first half of the body are sent, the second half held back.
struct half_upload {
  std::string body;
  raw_client client;

  half_upload(const daemon_process& daemon, std::size_t size)
      : body(size, 'u'), client(daemon.port("echo")) {
    for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
    client.send_all("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body.substr(0, body.size() / 2));
    // Give the server time to read the head and start the exchange before the signal.
    std::this_thread::sleep_for(200ms);
  }
  void send_rest() { client.send_all(std::string_view(body).substr(body.size() / 2)); }
};

}  // namespace

TEST_CASE("a signal with nothing in flight drains and exits 0 quickly", "[drain]") {
  const int sig = GENERATE(SIGTERM, SIGINT);
  INFO("signal " << signal_name(sig));
  auto daemon = daemon_process::start();
  daemon->send_signal(sig);
  const auto status = daemon->wait_for_exit(3s);
  INFO("stderr:\n" << daemon->log());
  REQUIRE(status.has_value());
  INFO(status->describe());
  CHECK(status->exited);
  CHECK(status->code == 0);
  CHECK(status->elapsed_ms < 1000);

  const auto draining =
      log_position(*daemon, std::string("received ") + signal_name(sig) + ": draining");
  const auto everything = log_position(*daemon, "everything closed successfully");
  REQUIRE(draining != std::string::npos);
  REQUIRE(everything != std::string::npos);
  for (const char* closed :
       {"hello server closed", "hello-name server closed", "echo server closed"}) {
    INFO(closed);
    const auto at = log_position(*daemon, closed);
    CHECK(at != std::string::npos);
    CHECK(at > draining);
    CHECK(at < everything);
  }
}

TEST_CASE("an idle keep-alive connection does not delay the exit", "[drain]") {
  auto daemon = daemon_process::start();
  raw_client client(daemon->port("hello"));
  REQUIRE(client.round_trip("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status == 200);
  raw_client never_asked(daemon->port("hello-name"));  // connected, no request at all

  daemon->send_signal(SIGTERM);
  const auto status = daemon->wait_for_exit(3s);
  INFO("stderr:\n" << daemon->log());
  REQUIRE(status.has_value());
  INFO(status->describe());
  CHECK(status->code == 0);
  CHECK(status->elapsed_ms < 1000);
  CHECK(client.read_until_eof(1s).closed);
  CHECK(never_asked.read_until_eof(1s).closed);
}

TEST_CASE("an upload in flight finishes during the drain while new connections are refused",
          "[drain]") {
  auto daemon = daemon_process::start();
  half_upload upload(*daemon, 256 * 1024);
  // The echo streams: its head and the first half of the body leave before the signal, and a
  // head that has left cannot take back its keep-alive. What the drain owes this client is the
  // rest of its body and then a close.
  const auto before_signal = upload.client.read_some(300ms);
  REQUIRE(before_signal.rfind("HTTP/1.1 200", 0) == 0);

  daemon->send_signal(SIGTERM);
  REQUIRE(daemon->wait_for_log("received SIGTERM: draining", 2s));
  CHECK(all_ports_refuse(*daemon));
  REQUIRE(daemon->running());
  CHECK_FALSE(daemon->wait_for_exit(300ms).has_value());  // it waits for the upload

  upload.send_rest();
  const auto rest = upload.client.read_until_eof(5s);
  CHECK(rest.closed);  // the daemon closes once the upload is answered
  const auto received = before_signal + rest.data;
  const auto head_end = received.find("\r\n\r\n");
  REQUIRE(head_end != std::string::npos);
  const auto head = received.substr(0, head_end + 4);
  INFO("response head: " << printable(head));
  CHECK(head.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(head.find("\r\nContent-Length: " + std::to_string(upload.body.size()) + "\r\n") !=
        std::string::npos);
  const bool identical = received.substr(head_end + 4) == upload.body;
  CHECK(identical);

  const auto status = daemon->wait_for_exit(3s);
  INFO("stderr:\n" << daemon->log());
  REQUIRE(status.has_value());
  INFO(status->describe());
  CHECK(status->code == 0);
  CHECK(daemon->wait_for_log("everything closed successfully", 1s));
}

TEST_CASE("a stuck upload is cut at the drain deadline and the exit code is 1", "[drain]") {
  auto daemon = daemon_process::start({"--drain-timeout", "1s"});
  half_upload upload(*daemon, 64 * 1024);

  daemon->send_signal(SIGTERM);
  const auto status = daemon->wait_for_exit(4s);
  INFO("stderr:\n" << daemon->log());
  REQUIRE(status.has_value());
  INFO(status->describe());
  CHECK(status->exited);
  CHECK(status->code == 1);
  CHECK(status->elapsed_ms > 800);
  CHECK(status->elapsed_ms < 3000);

  const auto deadline_lines = daemon->log_lines_with("drain deadline reached");
  REQUIRE(deadline_lines.size() == 1);
  // Only the server that still had connections is named.
  CHECK(deadline_lines.front().find("echo") != std::string::npos);
  CHECK(deadline_lines.front().find("hello server") == std::string::npos);
  CHECK(deadline_lines.front().find("hello-name server") == std::string::npos);
  CHECK(daemon->log().find("everything closed successfully") == std::string::npos);
  CHECK(upload.client.read_until_eof(1s).closed);
}

TEST_CASE("the drain reports progress about once a second", "[drain]") {
  auto daemon = daemon_process::start({"--drain-timeout", "3s"});
  half_upload upload(*daemon, 64 * 1024);

  daemon->send_signal(SIGTERM);
  const auto status = daemon->wait_for_exit(8s);
  INFO("stderr:\n" << daemon->log());
  REQUIRE(status.has_value());
  CHECK(status->code == 1);
  // Lines are "[timestamp] [level] draining: ..."; the message starts right after "] ".
  const auto progress = daemon->log_lines_with("] draining:");
  CHECK(progress.size() >= 2);
  CHECK(progress.size() <= 5);
}

TEST_CASE("a second signal during the drain closes everything at once with exit 1", "[drain]") {
  const int sig = GENERATE(SIGTERM, SIGINT);
  INFO("signal " << signal_name(sig));
  auto daemon = daemon_process::start({"--drain-timeout", "10s"});
  half_upload upload(*daemon, 64 * 1024);

  daemon->send_signal(sig);
  REQUIRE(daemon->wait_for_log(std::string("received ") + signal_name(sig) + ": draining", 2s));
  std::this_thread::sleep_for(200ms);
  REQUIRE(daemon->running());
  daemon->send_signal(sig);
  const auto status = daemon->wait_for_exit(3s);
  INFO("stderr:\n" << daemon->log());
  REQUIRE(status.has_value());
  INFO(status->describe());
  CHECK(status->exited);
  CHECK(status->code == 1);
  CHECK(status->elapsed_ms < 1000);
  CHECK(daemon->log().find(std::string("received ") + signal_name(sig) + " again") !=
        std::string::npos);
  CHECK(upload.client.read_until_eof(1s).closed);
}

TEST_CASE("a request whose head completes during the drain is answered with Connection: close",
          "[drain]") {
  auto daemon = daemon_process::start();
  raw_client client(daemon->port("hello-name"));
  client.send_all("GET /?name=Late HTTP/1.1\r\nHost: x\r\n");  // half a head: not idle
  std::this_thread::sleep_for(200ms);

  daemon->send_signal(SIGTERM);
  REQUIRE(daemon->wait_for_log("received SIGTERM: draining", 2s));
  CHECK_FALSE(daemon->wait_for_exit(300ms).has_value());  // it waits for the request

  client.send_all("\r\n");
  const auto response = client.read_response(3s);
  CHECK(response.status == 200);
  CHECK(response.body == "Hello, Late!");
  CHECK(response.header("Connection").value_or("<absent>") == std::string("close"));
  CHECK(client.read_until_eof(2s).closed);

  const auto status = daemon->wait_for_exit(3s);
  INFO("stderr:\n" << daemon->log());
  REQUIRE(status.has_value());
  CHECK(status->code == 0);
}

TEST_CASE("idle connections are not counted as cut even with a zero drain timeout", "[drain]") {
  // Go's Shutdown closes idle connections before it looks at its context: so do we.
  auto daemon = daemon_process::start({"--drain-timeout", "0s"});
  std::vector<raw_client> idle;
  for (int i = 0; i < 20; ++i) {
    idle.emplace_back(daemon->port(i % 2 == 0 ? "hello" : "hello-name"));
    REQUIRE(idle.back().round_trip("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status == 200);
  }
  daemon->send_signal(SIGTERM);
  const auto status = daemon->wait_for_exit(2s);
  INFO("stderr:\n" << daemon->log());
  REQUIRE(status.has_value());
  INFO(status->describe());
  CHECK(status->code == 0);
  CHECK(daemon->wait_for_log("20 idle connection(s) closed", 1s));
  for (auto& client : idle) CHECK(client.read_until_eof(1s).closed);
}

TEST_CASE("a connection lingering after its last answer is not counted as cut", "[drain]") {
  // After `Connection: close` the server lingers for the client's FIN; a client that keeps its
  // socket open owes nothing and is owed nothing.
  auto daemon = daemon_process::start({"--drain-timeout", "0s"});
  raw_client client(daemon->port("hello"));
  const auto response = client.round_trip("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  REQUIRE(response.status == 200);
  daemon->send_signal(SIGTERM);
  const auto status = daemon->wait_for_exit(2s);
  INFO("stderr:\n" << daemon->log());
  REQUIRE(status.has_value());
  INFO(status->describe());
  CHECK(status->code == 0);
}
