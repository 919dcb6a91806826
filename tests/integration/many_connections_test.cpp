// Ten thousand keep-alive connections held at once: every one answered, counted by the daemon,
// cheap in memory while idle, and every descriptor given back once they close.

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "support/daemon.hpp"
#include "support/raw_client.hpp"

using namespace triserve::integration;
using namespace std::chrono_literals;

namespace {

using steady = std::chrono::steady_clock;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool address_sanitizer = true;
#else
constexpr bool address_sanitizer = false;
#endif

/// Connections held open at once, spread evenly over the three servers.
constexpr std::size_t connection_count = 10'000;
/// Descriptors this process needs beyond one per connection: stdio, the daemon's pipes, epoll.
constexpr std::size_t spare_descriptors = 200;
/// Connections between connect() and their complete response at any moment: a real burst, yet
/// about 340 per listener, far below the 4096 backlog Linux allows by default since 5.4, so a
/// full accept queue dropping SYNs (each retried after a second) never decides the timing.
/// Answered connections stay open, so in the end all of them are held at once.
constexpr std::size_t handshake_window = 1024;
/// The servers, in the order connections are dealt to them: connection i goes to servers[i % 3].
constexpr std::array<const char*, 3> servers = {"hello", "hello-name", "echo"};

/// Generous bounds, so that a slow CI host does not fail but a hang still does.
constexpr std::chrono::seconds open_deadline{60};
constexpr std::chrono::seconds count_deadline{30};
/// An idle keep-alive connection measures about 6 KiB of daemon memory, mostly coroutine frames;
/// its 16 KiB input buffer is released while idle, and keeping it would break this bound. Under
/// AddressSanitizer (about 23 KiB measured) allocations carry redzones and freed buffers sit in
/// quarantine.
constexpr std::size_t max_bytes_per_connection = address_sanitizer ? 64 * 1024 : 16 * 1024;

/// Raises this process's soft RLIMIT_NOFILE to its hard limit and restores it at scope exit.
class raised_file_limit {
 public:
  raised_file_limit() {
    if (::getrlimit(RLIMIT_NOFILE, &original_) != 0) return;
    rlimit raised = original_;
    raised.rlim_cur = original_.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) changed_ = true;
  }
  ~raised_file_limit() {
    if (changed_) ::setrlimit(RLIMIT_NOFILE, &original_);
  }
  raised_file_limit(const raised_file_limit&) = delete;
  raised_file_limit& operator=(const raised_file_limit&) = delete;

  /// The soft limit in force now.
  static rlim_t current() {
    rlimit limit{};
    return ::getrlimit(RLIMIT_NOFILE, &limit) == 0 ? limit.rlim_cur : 0;
  }
  /// The hard limit, the most the soft limit can be raised to.
  rlim_t hard() const { return original_.rlim_max; }

 private:
  rlimit original_{};
  bool changed_ = false;
};

/// What connection `i` sends and the body its response must carry.
struct planned_exchange {
  std::string request;
  std::string body;
};

planned_exchange plan_for(std::string_view server, std::size_t i) {
  const auto tag = "N" + std::to_string(i);
  if (server == "hello") return {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "Hello, world!"};
  if (server == "hello-name") {
    return {"GET /?name=" + tag + " HTTP/1.1\r\nHost: x\r\n\r\n", "Hello, " + tag + "!"};
  }
  const auto body = "echo body of " + tag;
  return {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
              "\r\n\r\n" + body,
          body};
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

/// How the bytes received so far on one connection read as the single response it asked for.
enum class verdict { incomplete, correct, wrong };

/// Judges `received` against a 200 response with a Content-Length body equal to `body`, that
/// keeps the connection open; on `wrong`, `problem` says why.
verdict judge_response(std::string_view received, std::string_view body, std::string& problem) {
  const auto head_end = received.find("\r\n\r\n");
  if (head_end == std::string_view::npos) {
    if (received.size() > 16 * 1024) {
      problem = "no end of the response head in 16 KiB";
      return verdict::wrong;
    }
    return verdict::incomplete;
  }
  if (received.rfind("HTTP/1.1 200 ", 0) != 0) {
    problem = "not an HTTP/1.1 200 response";
    return verdict::wrong;
  }
  std::optional<std::size_t> content_length;
  std::size_t lengths = 0;
  const auto head = received.substr(0, head_end + 2);
  for (auto at = head.find("\r\n") + 2; at < head.size();) {
    const auto end = head.find("\r\n", at);
    const auto line = head.substr(at, end - at);
    at = end + 2;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const auto name = line.substr(0, colon);
    auto value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
    if (equals_ignoring_case(name, "Content-Length")) {
      ++lengths;
      std::size_t parsed = 0;
      const auto [end_of_number, error] =
          std::from_chars(value.data(), value.data() + value.size(), parsed);
      if (error != std::errc{} || end_of_number != value.data() + value.size()) {
        problem = "unreadable Content-Length";
        return verdict::wrong;
      }
      content_length = parsed;
    } else if (equals_ignoring_case(name, "Connection") && equals_ignoring_case(value, "close")) {
      problem = "the response closes the keep-alive connection";
      return verdict::wrong;
    }
  }
  if (lengths != 1 || !content_length) {
    problem = "expected exactly one Content-Length, found " + std::to_string(lengths);
    return verdict::wrong;
  }
  const auto body_start = head_end + 4;
  if (received.size() < body_start + *content_length) return verdict::incomplete;
  if (received.size() > body_start + *content_length) {
    problem = "bytes after the response";
    return verdict::wrong;
  }
  if (received.substr(body_start) != body) {
    problem = "wrong body, expected \"" + std::string(body) + "\"";
    return verdict::wrong;
  }
  return verdict::correct;
}

/// Where one client connection stands.
enum class stage { waiting, connecting, sending, receiving, answered, failed };

/// One client connection: its socket, what it sends and what it must get back.
struct client_connection {
  int fd = -1;
  std::size_t server = 0;  ///< index into `servers`
  planned_exchange plan;
  std::size_t sent = 0;
  std::string received;
  stage at = stage::waiting;
};

/// Ten thousand non-blocking client connections driven by one epoll loop in this thread. It owns
/// their sockets and the epoll descriptor and closes whatever is still open when destroyed, so
/// a failed REQUIRE gives every descriptor back.
class connection_fleet {
 public:
  explicit connection_fleet(const std::array<std::uint16_t, 3>& ports) : ports_(ports) {
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    connections_.resize(connection_count);
    for (std::size_t i = 0; i < connection_count; ++i) {
      connections_[i].server = i % servers.size();
      connections_[i].plan = plan_for(servers[connections_[i].server], i);
    }
  }
  ~connection_fleet() {
    close_all();
    if (epoll_ >= 0) ::close(epoll_);
  }
  connection_fleet(const connection_fleet&) = delete;
  connection_fleet& operator=(const connection_fleet&) = delete;

  /// Connects every connection, sends its request and reads its response, with at most
  /// handshake_window of them in progress at once; answered ones stay open. Returns when each is
  /// answered or failed, or when `deadline` passes.
  void open_and_ask(steady::time_point deadline) {
    if (epoll_ < 0) {
      fail_setup("epoll_create1", errno);
      return;
    }
    std::array<epoll_event, 512> events{};
    std::size_t next = 0;
    // Each pass either starts connections or handles at least one event, or waits 50 ms.
    for (long pass = 0; pass < 10'000'000 && answered_ + failed_ < connection_count; ++pass) {
      if (steady::now() >= deadline) break;
      while (in_progress_ < handshake_window && next < connection_count) start(next++);
      const int ready = ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 50);
      if (ready < 0 && errno != EINTR) {
        fail_setup("epoll_wait", errno);
        return;
      }
      for (int e = 0; e < ready; ++e) advance(events[e].data.u32, events[e].events);
    }
  }

  /// Connections answered correctly (and still open unless closed since).
  std::size_t answered() const { return answered_; }
  /// Connections that failed.
  std::size_t failed() const { return failed_; }
  /// A summary of what did not go right, for a failure message.
  std::string problems() const {
    std::size_t by_stage[6] = {};
    for (const auto& c : connections_) ++by_stage[static_cast<int>(c.at)];
    std::string text = std::to_string(answered_) + " answered, " + std::to_string(failed_) +
                       " failed, " + std::to_string(by_stage[0]) + " never started, " +
                       std::to_string(by_stage[1]) + " still connecting, " +
                       std::to_string(by_stage[2]) + " still sending, " +
                       std::to_string(by_stage[3]) + " still waiting for a response";
    for (const auto& sample : samples_) text += "\n  " + sample;
    return text;
  }

  /// Checks, without reading, that each answered connection is still open and silent: the
  /// server neither closed it nor sent anything more. Returns how many are; adds samples.
  std::size_t count_open_and_silent() {
    std::size_t open = 0;
    for (std::size_t i = 0; i < connections_.size(); ++i) {
      auto& c = connections_[i];
      if (c.at != stage::answered) continue;
      char byte = 0;
      const auto got = ::recv(c.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        ++open;
      } else if (got == 0) {
        note(i, "closed by the server while idle");
      } else if (got > 0) {
        note(i, "the server sent bytes nobody asked for");
      } else {
        note(i, std::string("recv: ") + std::strerror(errno));
      }
    }
    return open;
  }

  /// Closes every connection still open; the daemon reads EOF on each.
  void close_all() {
    for (auto& c : connections_) {
      if (c.fd >= 0) ::close(c.fd);
      c.fd = -1;
    }
  }

 private:
  void start(std::size_t i) {
    auto& c = connections_[i];
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ++in_progress_;
    if (c.fd < 0) {
      fail(i, std::string("socket: ") + std::strerror(errno));
      return;
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(ports_[c.server]);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c.at = stage::connecting;
    if (::connect(c.fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 &&
        errno != EINPROGRESS) {
      fail(i, std::string("connect: ") + std::strerror(errno));
      return;
    }
    epoll_event interest{};
    interest.events = EPOLLOUT;
    interest.data.u32 = static_cast<std::uint32_t>(i);
    if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &interest) != 0) {
      fail(i, std::string("epoll_ctl: ") + std::strerror(errno));
    }
  }

  void advance(std::size_t i, std::uint32_t events) {
    auto& c = connections_[i];
    if (c.at == stage::connecting) {
      int error = 0;
      socklen_t size = sizeof error;
      if (::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0) error = errno;
      if (error != 0) {
        fail(i, std::string("connect: ") + std::strerror(error));
        return;
      }
      c.at = stage::sending;
    }
    if (c.at == stage::sending) send_request(i);
    if (c.at == stage::receiving && (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) != 0)
      receive_response(i);
  }

  void send_request(std::size_t i) {
    auto& c = connections_[i];
    const auto& request = c.plan.request;
    while (c.sent < request.size()) {
      const auto wrote =
          ::send(c.fd, request.data() + c.sent, request.size() - c.sent, MSG_NOSIGNAL);
      if (wrote < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (wrote < 0) {
        fail(i, std::string("send: ") + std::strerror(errno));
        return;
      }
      c.sent += static_cast<std::size_t>(wrote);
    }
    c.at = stage::receiving;
    epoll_event interest{};
    interest.events = EPOLLIN | EPOLLRDHUP;
    interest.data.u32 = static_cast<std::uint32_t>(i);
    if (::epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &interest) != 0)
      fail(i, std::string("epoll_ctl: ") + std::strerror(errno));
  }

  void receive_response(std::size_t i) {
    auto& c = connections_[i];
    bool closed = false;
    char chunk[4096];
    for (int reads = 0; reads < 64; ++reads) {
      const auto got = ::recv(c.fd, chunk, sizeof chunk, 0);
      if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (got < 0) {
        fail(i, std::string("recv: ") + std::strerror(errno));
        return;
      }
      if (got == 0) {
        closed = true;
        break;
      }
      c.received.append(chunk, static_cast<std::size_t>(got));
    }
    std::string problem;
    switch (judge_response(c.received, c.plan.body, problem)) {
      case verdict::incomplete:
        if (closed) fail(i, "closed before a complete response");
        return;
      case verdict::wrong:
        fail(i, problem);
        return;
      case verdict::correct:
        if (closed) {
          fail(i, "closed right after its response");
          return;
        }
        break;
    }
    // Answered: the socket stays open, but its idle silence is checked later, not watched.
    ::epoll_ctl(epoll_, EPOLL_CTL_DEL, c.fd, nullptr);
    c.at = stage::answered;
    --in_progress_;
    ++answered_;
  }

  void fail(std::size_t i, const std::string& why) {
    auto& c = connections_[i];
    note(i, why);
    if (c.fd >= 0) ::close(c.fd);
    c.fd = -1;
    c.at = stage::failed;
    --in_progress_;
    ++failed_;
  }

  void fail_setup(const char* what, int error) {
    samples_.push_back(std::string(what) + ": " + std::strerror(error));
  }

  void note(std::size_t i, const std::string& why) {
    if (samples_.size() >= 8) return;
    const auto& c = connections_[i];
    samples_.push_back("connection " + std::to_string(i) + " to " + servers[c.server] + ": " + why +
                       "; received: " + printable(c.received, 200));
  }

  std::array<std::uint16_t, 3> ports_;
  int epoll_ = -1;
  std::vector<client_connection> connections_;
  std::size_t in_progress_ = 0;  ///< started and neither answered nor failed
  std::size_t answered_ = 0;
  std::size_t failed_ = 0;
  std::vector<std::string> samples_;  ///< the first few problems, for failure messages
};

/// The end of the daemon's log, enough for a failure message.
std::string log_tail(const daemon_process& daemon) {
  const auto log = daemon.log();
  return log.size() > 3000 ? "..." + log.substr(log.size() - 3000) : log;
}

/// How many connections go to servers[s]: 3334, 3333, 3333.
std::size_t dealt_to(std::size_t s) {
  return (connection_count - s + servers.size() - 1) / servers.size();
}

long milliseconds_since(steady::time_point start) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start).count());
}

}  // namespace

TEST_CASE("scale: 10000 keep-alive connections at once are all answered, counted and released",
          "[scale]") {
  const auto test_start = steady::now();
  raised_file_limit limit;
  const auto needed = static_cast<rlim_t>(connection_count + spare_descriptors);
  if (raised_file_limit::current() < needed) {
    FAIL("this test holds " << connection_count << " connections and needs RLIMIT_NOFILE of at "
                            << "least " << needed << ", but the hard limit is " << limit.hard()
                            << " (soft " << raised_file_limit::current()
                            << "); raise it (ulimit -Hn, docker --ulimit nofile=...)");
  }

  auto daemon = daemon_process::start();
  // The daemon raises its own soft limit to the hard one it inherited from us.
  rlimit daemon_limit{};
  REQUIRE(::prlimit(daemon->pid(), RLIMIT_NOFILE, nullptr, &daemon_limit) == 0);
  INFO("daemon RLIMIT_NOFILE soft " << daemon_limit.rlim_cur);
  REQUIRE(daemon_limit.rlim_cur >= needed);

  const auto rss_before = daemon->rss_kib();
  const auto descriptors_before = daemon->open_descriptors();
  REQUIRE(rss_before.has_value());
  REQUIRE(descriptors_before.has_value());

  connection_fleet fleet({daemon->port("hello"), daemon->port("hello-name"), daemon->port("echo")});
  const auto open_start = steady::now();
  fleet.open_and_ask(open_start + open_deadline);
  const auto open_ms = milliseconds_since(open_start);
  {
    INFO("opened and answered in " << open_ms << " ms: " << fleet.problems());
    INFO("daemon stderr:\n" << log_tail(*daemon));
    REQUIRE(fleet.answered() == connection_count);
  }

  // All of them open at once and idle: the daemon counts each on its server, none busy.
  const auto held = daemon->wait_for_live_connections(connection_count, count_deadline);
  const auto rss_held = daemon->rss_kib();
  const auto descriptors_held = daemon->open_descriptors();
  const auto still_open = fleet.count_open_and_silent();
  INFO("daemon stderr:\n" << log_tail(*daemon));
  INFO(fleet.problems());
  CHECK(still_open == connection_count);
  CHECK(held.state == "serving");
  CHECK(held.live == connection_count);
  for (std::size_t s = 0; s < servers.size(); ++s) {
    INFO(servers[s] << " server");
    CHECK(held.live_by_server.at(servers[s]) == dealt_to(s));
  }
  CHECK(held.idle == connection_count);
  CHECK(held.served == connection_count);
  REQUIRE(rss_held.has_value());
  REQUIRE(descriptors_held.has_value());
  CHECK(*descriptors_held == *descriptors_before + connection_count);

  const auto grown_kib = *rss_held > *rss_before ? *rss_held - *rss_before : 0;
  const auto bytes_per_connection = grown_kib * 1024 / connection_count;

  const auto close_start = steady::now();
  fleet.close_all();
  const auto after = daemon->wait_for_live_connections(0, count_deadline);
  const auto close_ms = milliseconds_since(close_start);
  CHECK(after.live == 0);
  CHECK(after.idle == 0);
  CHECK(after.served == connection_count);
  // The sockets close as their connections unwind; allow the last few a moment.
  auto descriptors_after = daemon->open_descriptors();
  for (int attempt = 0; attempt < 100 && descriptors_after != descriptors_before; ++attempt) {
    std::this_thread::sleep_for(50ms);
    descriptors_after = daemon->open_descriptors();
  }
  const auto rss_after = daemon->rss_kib();
  CHECK(descriptors_after == descriptors_before);

  std::cout << "scale" << (address_sanitizer ? " (AddressSanitizer)" : "") << ": "
            << connection_count << " connections opened and answered in " << open_ms
            << " ms, all closed and counted down in " << close_ms << " ms; daemon RSS "
            << *rss_before << " KiB before, " << *rss_held << " KiB with " << connection_count
            << " open (" << bytes_per_connection << " bytes per connection), "
            << rss_after.value_or(0) << " KiB after; descriptors " << *descriptors_before
            << " before, " << *descriptors_held << " with them open, "
            << descriptors_after.value_or(0) << " after\n";
  INFO("daemon RSS " << *rss_before << " KiB before, " << *rss_held << " KiB with "
                     << connection_count << " connections open");
  CHECK(bytes_per_connection < max_bytes_per_connection);

  daemon->send_signal(SIGTERM);
  const auto status = daemon->wait_for_exit(10s);
  REQUIRE(status.has_value());
  INFO(status->describe() << "; daemon stderr:\n" << log_tail(*daemon));
  CHECK(status->exited);
  CHECK(status->code == 0);
  CHECK(daemon->wait_for_log("exiting with status 0: 0 connection(s) still open"));
  std::cout << "scale: the whole test took " << milliseconds_since(test_start) << " ms\n";
}
