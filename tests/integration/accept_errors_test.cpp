// Out of file descriptors: the accept loop reports once per burst, backs off, keeps the
// connections it has, and accepts again once descriptors free up.

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/resource.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "support/daemon.hpp"
#include "support/raw_client.hpp"

using namespace triserve::integration;
using namespace std::chrono_literals;

namespace {

/// Occurrences of `needle` in `text`.
std::size_t count(const std::string& text, std::string_view needle) {
  std::size_t found = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++found;
  return found;
}

}  // namespace

TEST_CASE("running out of file descriptors is one log line and no lost service", "[accept]") {
  auto daemon = daemon_process::start();
  // Lower the running daemon's descriptor limit: its listeners, epoll and pipes already use
  // about a dozen, so a few dozen connections exhaust it.
  const rlimit low{32, 32};
  REQUIRE(prlimit(daemon->pid(), RLIMIT_NOFILE, &low, nullptr) == 0);

  raw_client kept(daemon->port("hello"));
  REQUIRE(kept.round_trip("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status == 200);

  std::vector<raw_client> flood;
  for (int i = 0; i < 60; ++i) flood.emplace_back(daemon->port("hello"), 1s);
  REQUIRE(daemon->wait_for_log("accept failed: Too many open files", 3s));

  // The connection it already had keeps working during the burst.
  CHECK(kept.round_trip("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status == 200);

  flood.clear();
  // Once descriptors are free again, new connections are served; the backoff is at most 1 s.
  raw_client after(daemon->port("hello"));
  const auto response = after.round_trip("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 5s);
  CHECK(response.status == 200);

  const auto log = daemon->log();
  INFO("stderr:\n" << log);
  CHECK(count(log, "accept failed") == 1);
  daemon->send_signal(SIGTERM);
  const auto status = daemon->wait_for_exit(3s);
  REQUIRE(status.has_value());
  CHECK(status->code == 0);
}
