// The drain under load: every request that reached the daemon before the signal is answered in
// full, and the daemon's own final accounting matches what its clients saw.

#include <catch2/catch.hpp>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "support/daemon.hpp"
#include "support/raw_client.hpp"

using namespace triserve::integration;
using namespace std::chrono_literals;

namespace {

using steady = std::chrono::steady_clock;

constexpr int clients_per_server = 8;
constexpr std::size_t echo_body_size = 3000;
/// An echo client pauses this long between the two halves of each upload, so that at any moment
/// most uploads are in progress.
constexpr auto upload_pause = 40ms;
/// No client runs longer than this, whatever the daemon does.
constexpr auto client_time_limit = 20s;

enum class endpoint { hello, hello_name, echo };

/// What one keep-alive client saw, from its first request until the daemon closed its connection.
struct client_record {
  std::uint64_t responses = 0;        ///< complete, correct responses
  std::uint64_t answered_across = 0;  ///< first byte sent before the signal, answer after it
  bool closed_by_response = false;    ///< the last response said `Connection: close`
  bool closed_unanswered = false;     ///< the daemon closed with no request pending an answer
  std::vector<std::string> violations;
};

/// The moment just before the test sends its signal; max until then.
class signal_clock {
 public:
  void mark() { at_.store(steady::now().time_since_epoch().count()); }
  bool before_signal(steady::time_point when) const {
    return when.time_since_epoch().count() < at_.load();
  }

 private:
  std::atomic<steady::rep> at_{steady::time_point::max().time_since_epoch().count()};
};

/// One client on its own connection, making requests back to back until the daemon closes it.
void run_client(std::uint16_t port, endpoint kind, int id, const signal_clock& signal,
                client_record& record) {
  raw_client client(port);
  const auto give_up_at = steady::now() + client_time_limit;
  for (std::uint64_t round = 0; steady::now() < give_up_at; ++round) {
    const std::string tag = "c" + std::to_string(id) + "r" + std::to_string(round);
    std::string expected_body;
    steady::time_point first_byte_sent;
    bool sent = false;
    if (kind == endpoint::echo) {
      std::string body(echo_body_size, '.');
      for (std::size_t i = 0; i < body.size(); ++i)
        body[i] = static_cast<char>('a' + (i * 7 + round + static_cast<std::uint64_t>(id)) % 26);
      body.replace(0, tag.size(), tag);
      const std::string head =
          "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\n\r\n";
      sent = client.try_send_all(head + body.substr(0, body.size() / 2));
      first_byte_sent = steady::now();
      if (sent) {
        std::this_thread::sleep_for(upload_pause);
        sent = client.try_send_all(std::string_view(body).substr(body.size() / 2));
        // The first half reached the daemon: it owes an answer even if the rest cannot be sent.
        if (!sent && signal.before_signal(first_byte_sent))
          record.violations.push_back(tag + ": the daemon closed in the middle of an upload");
      }
      expected_body = body;
    } else {
      const std::string target = kind == endpoint::hello ? "/?round=" + tag : "/?name=" + tag;
      sent = client.try_send_all("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
      first_byte_sent = steady::now();
      expected_body = kind == endpoint::hello ? "Hello, world!" : "Hello, " + tag + "!";
    }

    std::optional<http_response> response;
    try {
      response = client.read_response_or_close(8s);
    } catch (const std::exception& e) {
      record.violations.push_back(tag + ": " + e.what());
      return;
    }
    if (!response) {
      if (signal.before_signal(first_byte_sent))
        record.violations.push_back(tag + ": sent before the signal, closed without an answer" +
                                    (sent ? "" : " (sending failed)"));
      record.closed_unanswered = true;
      return;
    }
    if (response->status != 200 || response->body != expected_body) {
      record.violations.push_back(tag + ": wrong response " + std::to_string(response->status) +
                                  " \"" + printable(response->body, 80) + "\"");
      return;
    }
    ++record.responses;
    if (signal.before_signal(first_byte_sent) && !signal.before_signal(steady::now()))
      ++record.answered_across;
    if (response->header("Connection") == std::optional<std::string>{"close"}) {
      const auto rest = client.read_until_eof(2s);
      if (!rest.closed || !rest.data.empty())
        record.violations.push_back(tag + ": `Connection: close` but the connection went on");
      record.closed_by_response = true;
      return;
    }
  }
  record.violations.push_back("client " + std::to_string(id) + " was never closed by the daemon");
}

/// Clients on all three servers, each on its own thread and connection.
class load {
 public:
  explicit load(const daemon_process& daemon) {
    const std::pair<std::string, endpoint> servers[] = {
        {"hello", endpoint::hello}, {"hello-name", endpoint::hello_name}, {"echo", endpoint::echo}};
    records_.resize(3 * clients_per_server);
    int id = 0;
    for (const auto& [name, kind] : servers)
      for (int i = 0; i < clients_per_server; ++i, ++id)
        threads_.emplace_back([this, port = daemon.port(name), kind = kind, id] {
          try {
            run_client(port, kind, id, signal_, records_[static_cast<std::size_t>(id)]);
          } catch (const std::exception& e) {
            records_[static_cast<std::size_t>(id)].violations.push_back(e.what());
          }
        });
  }
  ~load() { join(); }

  /// Marks the moment of the signal, then sends it.
  void signal(daemon_process& daemon, int sig) {
    signal_.mark();
    daemon.send_signal(sig);
  }
  void join() {
    for (auto& thread : threads_)
      if (thread.joinable()) thread.join();
  }
  const std::vector<client_record>& records() const { return records_; }

  std::uint64_t total(std::uint64_t client_record::*field) const {
    std::uint64_t sum = 0;
    for (const auto& record : records_) sum += record.*field;
    return sum;
  }
  std::size_t count(bool client_record::*flag) const {
    return static_cast<std::size_t>(std::count_if(
        records_.begin(), records_.end(), [flag](const client_record& r) { return r.*flag; }));
  }
  std::vector<std::string> violations() const {
    std::vector<std::string> all;
    for (const auto& record : records_)
      all.insert(all.end(), record.violations.begin(), record.violations.end());
    return all;
  }

 private:
  signal_clock signal_;
  std::vector<client_record> records_;
  std::vector<std::thread> threads_;
};

/// The numbers of the daemon's final log line, or nullopt when it is missing.
struct final_accounting {
  std::uint64_t served = 0;
  std::uint64_t idle_closed = 0;
  std::uint64_t cut = 0;
};

std::optional<final_accounting> clean_accounting(const daemon_process& daemon) {
  const std::regex pattern(
      R"(everything closed successfully: (\d+) request\(s\) served, (\d+) idle connection\(s\) closed, (\d+) cut)");
  std::smatch match;
  const auto log = daemon.log();
  if (!std::regex_search(log, match, pattern)) return std::nullopt;
  return final_accounting{std::stoull(match[1]), std::stoull(match[2]), std::stoull(match[3])};
}

std::optional<final_accounting> cut_accounting(const daemon_process& daemon) {
  const std::regex pattern(
      R"(shutdown incomplete: (\d+) connection\(s\) cut, (\d+) request\(s\) served)");
  std::smatch match;
  const auto log = daemon.log();
  if (!std::regex_search(log, match, pattern)) return std::nullopt;
  return final_accounting{std::stoull(match[2]), 0, std::stoull(match[1])};
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

}  // namespace

TEST_CASE("SIGTERM under load loses no request and its accounting matches the clients'",
          "[drain][load]") {
  // On one thread and on four, where each connection drains on its own strand.
  const std::string threads = GENERATE("1", "4");
  INFO("--threads " << threads);
  auto daemon = daemon_process::start({"--threads", threads});
  load clients(*daemon);
  // Let every client get going, several rounds each.
  REQUIRE(daemon->wait_for_live_connections(3 * clients_per_server).live == 3 * clients_per_server);
  std::this_thread::sleep_for(300ms);
  const auto before = daemon->status();
  CHECK(before.served > 3 * clients_per_server);

  clients.signal(*daemon, SIGTERM);
  REQUIRE(daemon->wait_for_log("received SIGTERM: draining"));
  CHECK(all_ports_refuse(*daemon));
  const auto status = daemon->wait_for_exit(8s);
  clients.join();
  INFO("stderr:\n" << daemon->log());
  REQUIRE(status.has_value());
  INFO(status->describe());
  CHECK(status->exited);
  CHECK(status->code == 0);
  CHECK(status->elapsed_ms < 5000);

  const auto violations = clients.violations();
  INFO("violations:\n" << join_lines(violations));
  CHECK(violations.empty());

  const auto accounting = clean_accounting(*daemon);
  REQUIRE(accounting.has_value());
  const auto responses = clients.total(&client_record::responses);
  const auto closed_by_response = clients.count(&client_record::closed_by_response);
  const auto closed_unanswered = clients.count(&client_record::closed_unanswered);
  const auto answered_across = clients.total(&client_record::answered_across);
  WARN("drain under load, --threads "
       << threads << ": " << responses << " responses (" << answered_across
       << " sent before the signal and answered after it), " << closed_by_response
       << " connections closed by a response, " << closed_unanswered << " closed idle; daemon: "
       << accounting->served << " served, " << accounting->idle_closed << " idle closed, "
       << accounting->cut << " cut, exit after " << status->elapsed_ms << " ms");
  CHECK(accounting->served == responses);
  CHECK(accounting->idle_closed == closed_unanswered);
  CHECK(accounting->cut == 0);
  CHECK(closed_by_response + closed_unanswered == 3 * clients_per_server);
  // The echo clients spend most of their time mid-upload: some were caught by the signal.
  CHECK(answered_across > 0);
  CHECK(daemon->wait_for_log("exiting with status 0: 0 connection(s) still open", 1s));
}

TEST_CASE("a request held past the drain deadline is the only one cut", "[drain][load]") {
  const std::string threads = GENERATE("1", "4");
  INFO("--threads " << threads);
  auto daemon = daemon_process::start({"--drain-timeout", "1s", "--threads", threads});
  raw_client stuck(daemon->port("echo"));
  stuck.send_all("POST /stuck HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhalf!");
  load clients(*daemon);
  REQUIRE(daemon->wait_for_live_connections(3 * clients_per_server + 1).live ==
          3 * clients_per_server + 1);
  std::this_thread::sleep_for(300ms);

  const auto signalled = steady::now();
  clients.signal(*daemon, SIGTERM);
  const auto ended = stuck.read_until_eof(5s);
  const auto cut_after = steady::now() - signalled;
  const auto status = daemon->wait_for_exit(5s);
  clients.join();
  INFO("stderr:\n" << daemon->log());
  REQUIRE(status.has_value());
  INFO(status->describe());
  CHECK(status->exited);
  CHECK(status->code == 1);

  // The held request is cut at the deadline: echo had streamed the head and what body it got, so
  // the client sees a response shorter than its Content-Length, and no more.
  CHECK(ended.closed);
  INFO("the held request received: " << printable(ended.data));
  CHECK(ended.data.find("Content-Length: 10\r\n") != std::string::npos);
  CHECK(ended.data.size() >= 5);
  CHECK(ended.data.substr(ended.data.size() - 5) == "half!");
  CHECK(cut_after >= 900ms);
  CHECK(cut_after < 3s);

  const auto violations = clients.violations();
  INFO("violations:\n" << join_lines(violations));
  CHECK(violations.empty());
  CHECK(daemon->wait_for_log("drain deadline reached: echo server still had 1 connection(s)"));
  const auto accounting = cut_accounting(*daemon);
  REQUIRE(accounting.has_value());
  const auto responses = clients.total(&client_record::responses);
  WARN("deadline under load, --threads "
       << threads << ": " << responses << " responses, daemon: " << accounting->served
       << " served, " << accounting->cut << " cut; held request closed "
       << std::chrono::duration_cast<std::chrono::milliseconds>(cut_after).count()
       << " ms after the signal");
  CHECK(accounting->cut == 1);
  CHECK(accounting->served == responses);
  CHECK(clients.count(&client_record::closed_by_response) +
            clients.count(&client_record::closed_unanswered) ==
        3 * clients_per_server);
  CHECK(daemon->wait_for_log("exiting with status 1: 0 connection(s) still open", 1s));
  CHECK(daemon->log().find("LeakSanitizer") == std::string::npos);
}
