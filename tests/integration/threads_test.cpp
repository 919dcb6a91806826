// --threads N: the one io_context run on N threads, each connection on its own strand. The same
// answers, timeouts and drain as on one thread; the ThreadSanitizer run repeats the whole suite
// this way.

#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "support/daemon.hpp"
#include "support/raw_client.hpp"

using namespace triserve::integration;
using namespace std::chrono_literals;

namespace {

#if defined(__SANITIZE_THREAD__)
/// ThreadSanitizer runs a background thread of its own in the daemon.
constexpr std::size_t sanitizer_threads = 1;
#else
constexpr std::size_t sanitizer_threads = 0;
#endif

constexpr int clients_per_server = 4;
constexpr int requests_per_client = 150;
/// Each client starts a new connection this often, so accepts and teardowns overlap requests.
constexpr int requests_per_connection = 40;

/// A request whose answer is fully determined by (server, client, round), and that answer.
struct exchange_plan {
  std::string request;
  std::string expected_body;
};

exchange_plan plan(const std::string& server, int client, int round) {
  const std::string tag = std::to_string(client) + "-" + std::to_string(round);
  if (server == "hello") return {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "Hello, world!"};
  if (server == "hello-name")
    return {"GET /?name=client+" + tag + " HTTP/1.1\r\nHost: x\r\n\r\n",
            "Hello, client " + tag + "!"};
  // Echo bodies of many sizes, some larger than one read, some sent chunked.
  std::string body(static_cast<std::size_t>(1 + (client * 7919 + round * 104729) % 40000), '.');
  for (std::size_t i = 0; i < body.size(); ++i)
    body[i] = static_cast<char>('a' + (i + static_cast<std::size_t>(round)) % 26);
  body.replace(0, std::min(tag.size(), body.size()), tag.substr(0, body.size()));
  if (round % 3 == 0) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx", body.size());
    return {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + std::string(size) +
                "\r\n" + body + "\r\n0\r\n\r\n",
            body};
  }
  return {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
              "\r\n\r\n" + body,
          body};
}

/// What one client saw.
struct client_outcome {
  int correct = 0;
  std::vector<std::string> problems;
};

void run_client(std::uint16_t port, const std::string& server, int id, client_outcome& outcome) {
  std::unique_ptr<raw_client> client;
  for (int round = 0; round < requests_per_client; ++round) {
    if (round % requests_per_connection == 0) client = std::make_unique<raw_client>(port);
    const auto exchange = plan(server, id, round);
    const auto response = client->round_trip(exchange.request);
    if (response.status == 200 && response.body == exchange.expected_body)
      ++outcome.correct;
    else
      outcome.problems.push_back(server + " client " + std::to_string(id) + " round " +
                                 std::to_string(round) + ": " + std::to_string(response.status) +
                                 " " + printable(response.body, 80));
  }
}

}  // namespace

TEST_CASE("threads: --threads 4 runs four threads that answer every client on all three servers",
          "[threads]") {
  auto daemon = daemon_process::start({"--threads", "4"});
  // The helper threads start right after the servers are: give them a moment.
  constexpr std::size_t expected_threads = 4 + sanitizer_threads;
  std::optional<std::size_t> threads;
  for (int attempt = 0; attempt < 100 && threads != expected_threads; ++attempt) {
    threads = daemon->thread_count();
    if (threads != expected_threads) std::this_thread::sleep_for(10ms);
  }
  CHECK(threads.value_or(0) == expected_threads);

  std::vector<client_outcome> outcomes(3 * clients_per_server);
  {
    std::vector<std::jthread> clients;
    int id = 0;
    for (const std::string server : {"hello", "hello-name", "echo"})
      for (int i = 0; i < clients_per_server; ++i, ++id)
        clients.emplace_back([&, server, id, port = daemon->port(server)] {
          auto& outcome = outcomes[static_cast<std::size_t>(id)];
          try {
            run_client(port, server, id, outcome);
          } catch (const std::exception& e) {
            outcome.problems.push_back(e.what());
          }
        });
  }
  int correct = 0;
  for (const auto& outcome : outcomes) {
    correct += outcome.correct;
    for (const auto& problem : outcome.problems) FAIL_CHECK(problem);
  }
  const int expected = 3 * clients_per_server * requests_per_client;
  CHECK(correct == expected);
  // Every connection the clients closed is gone, and the daemon counted what they saw.
  const auto status = daemon->wait_for_live_connections(0);
  CHECK(status.live == 0u);
  CHECK(status.served == static_cast<std::uint64_t>(expected));

  daemon->send_signal(SIGTERM);
  const auto ended = daemon->wait_for_exit(5s);
  INFO("stderr:\n" << daemon->log());
  REQUIRE(ended.has_value());
  CHECK(ended->exited);
  CHECK(ended->code == 0);
  CHECK(daemon->wait_for_log("everything closed successfully: " + std::to_string(expected) +
                             " request(s) served, 0 idle connection(s) closed, 0 cut"));
}

TEST_CASE(
    "threads: --threads 4 closes idle keep-alive connections at the drain and counts each once",
    "[threads][drain]") {
  auto daemon = daemon_process::start({"--threads", "4"});
  std::vector<raw_client> idle;
  // Three requests each: their connections then wait holding their buffers (hot), which the
  // drain must end as surely as a plain readiness wait.
  for (const std::string server : {"hello", "hello-name", "echo"})
    for (int i = 0; i < 10; ++i) {
      idle.emplace_back(daemon->port(server));
      for (int round = 0; round < 3; ++round) {
        const auto response = idle.back().round_trip(
            server == "echo" ? "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
                             : "GET /?name=idle HTTP/1.1\r\nHost: x\r\n\r\n");
        REQUIRE(response.status == 200);
      }
    }
  // The last response may still be on its way out: wait until all thirty are idle.
  std::size_t idle_count = 0;
  for (int attempt = 0; attempt < 50 && idle_count != 30u; ++attempt) {
    idle_count = daemon->status().idle;
    if (idle_count != 30u) std::this_thread::sleep_for(20ms);
  }
  REQUIRE(idle_count == 30u);

  daemon->send_signal(SIGTERM);
  for (auto& client : idle) {
    const auto closed = client.read_until_eof(3s);
    CHECK(closed.closed);
    CHECK(closed.data.empty());
  }
  const auto ended = daemon->wait_for_exit(5s);
  INFO("stderr:\n" << daemon->log());
  REQUIRE(ended.has_value());
  CHECK(ended->code == 0);
  CHECK(daemon->wait_for_log(
      "everything closed successfully: 90 request(s) served, 30 idle connection(s) closed, 0 cut"));
}

TEST_CASE("threads: --threads 4 enforces header and idle timeouts on every connection's strand",
          "[threads][timeouts]") {
  auto daemon = daemon_process::start(
      {"--threads", "4", "--header-timeout", "300ms", "--idle-timeout", "300ms"});
  std::vector<raw_client> slow;
  std::vector<raw_client> idle;
  for (int i = 0; i < 12; ++i) {
    slow.emplace_back(daemon->port("hello"));
    slow.back().send_all("GET / HTTP/1.1\r\nHost:");
    idle.emplace_back(daemon->port("echo"));
    // Every other one waits hot (three requests): the idle timeout ends both kinds of wait.
    for (int round = 0; round < (i % 2 == 0 ? 3 : 1); ++round)
      REQUIRE(idle.back().round_trip("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status == 200);
  }
  for (auto& client : slow) {
    const auto ended = client.read_until_eof(3s);
    CHECK(ended.closed);
    CHECK(ended.data.rfind("HTTP/1.1 408 ", 0) == 0);
  }
  for (auto& client : idle) {
    const auto ended = client.read_until_eof(3s);
    CHECK(ended.closed);
    INFO("an idle connection received: " << printable(ended.data));
    CHECK(ended.data.empty());
  }
  CHECK(daemon->wait_for_live_connections(0).live == 0u);
  // The daemon still serves after cutting all of them.
  raw_client fresh(daemon->port("hello-name"));
  CHECK(fresh.round_trip("GET /?name=after HTTP/1.1\r\nHost: x\r\n\r\n").body == "Hello, after!");
}
