// Hostile clients: slowloris, a client that never reads, resets, half-closes and bytes that are not
// HTTP/1.x each cost the daemon bounded time and memory, and never the service of other clients.

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "support/daemon.hpp"
#include "support/daemon_checks.hpp"
#include "support/raw_client.hpp"

using namespace triserve::integration;
using namespace std::chrono_literals;

namespace {

using steady = std::chrono::steady_clock;

constexpr std::size_t mib = 1024 * 1024;

// How much a daemon's peak RSS may grow over a test that streams tens of MiB through it; its
// start-up RSS differs by build (a sanitizer's shadow memory alone is ~45 MiB) and is left out.
constexpr std::size_t peak_rss_growth_limit_kib = 16 * 1024;

/// The three servers, in the order the tests visit them.
constexpr const char* server_names[] = {"hello", "hello-name", "echo"};

long long ms(steady::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

/// A request a server must answer with 200, and the body it must answer with.
struct probe {
  const char* server;
  std::string request;
  std::string body;
};

/// One well-behaved request per server.
std::vector<probe> probes() {
  return {
      {"hello", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "Hello, world!"},
      {"hello-name", "GET /?name=Bystander HTTP/1.1\r\nHost: x\r\n\r\n", "Hello, Bystander!"},
      {"echo", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nprobe", "probe"},
  };
}

/// A new connection to every server and one request on each: all must be answered correctly.
void check_serves_every_port(const daemon_process& daemon) {
  for (const auto& p : probes()) {
    INFO("a new client of the " << p.server << " server");
    raw_client client(daemon.port(p.server));
    const auto response = client.round_trip(p.request, 3s);
    CHECK(response.status == 200);
    CHECK(response.body == p.body);
  }
}

/// Asks for the status until `live` connections are open and none of them is idle, i.e. each has
/// received bytes of a request; returns the last status seen.
daemon_status wait_for_busy_connections(daemon_process& daemon, std::size_t live) {
  const auto deadline = steady::now() + 3s;
  for (;;) {
    auto current = daemon.status();
    if ((current.live == live && current.idle == 0) || steady::now() >= deadline) return current;
    std::this_thread::sleep_for(20ms);
  }
}

/// Closes `client` with a reset instead of a FIN: SO_LINGER {on, 0 s}, then close.
void reset_connection(raw_client client) {
  const linger abort_on_close{1, 0};
  REQUIRE(::setsockopt(client.native_handle(), SOL_SOCKET, SO_LINGER, &abort_on_close,
                       sizeof abort_on_close) == 0);
  // The destructor of `client` closes the socket, and the kernel sends RST.
}

/// Raises this process's soft RLIMIT_NOFILE to its hard limit; fails the test when even that
/// is below `needed`.
void raise_descriptor_limit(std::size_t needed) {
  rlimit limit{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &limit) == 0);
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur < needed) {
    FAIL("this test needs " << needed << " file descriptors but RLIMIT_NOFILE is " << limit.rlim_cur
                            << " (hard limit " << limit.rlim_max
                            << "): raise the hard limit (ulimit -Hn) to run it");
  }
}

/// A socket descriptor owned by one object, closed when it goes.
class socket_handle {
 public:
  socket_handle() = default;
  explicit socket_handle(int fd) : fd_(fd) {}
  ~socket_handle() { close(); }
  socket_handle(socket_handle&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  socket_handle& operator=(socket_handle&& other) noexcept {
    if (this != &other) {
      close();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  socket_handle(const socket_handle&) = delete;
  socket_handle& operator=(const socket_handle&) = delete;

  int get() const { return fd_; }
  bool open() const { return fd_ >= 0; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

/// A blocking connect to 127.0.0.1:`port` (loopback completes at once), then non-blocking.
socket_handle connect_nonblocking(std::uint16_t port) {
  socket_handle socket(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!socket.open()) throw std::system_error(errno, std::generic_category(), "socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(socket.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::system_error(errno, std::generic_category(),
                            "connect to 127.0.0.1:" + std::to_string(port));
  }
  const int one = 1;
  ::setsockopt(socket.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::fcntl(socket.get(), F_SETFL, ::fcntl(socket.get(), F_GETFL) | O_NONBLOCK);
  return socket;
}

/// What a well-behaved client saw while a hostile one was at work.
struct bystander_report {
  int rounds = 0;  ///< rounds of one new connection and one request per server
  int failures = 0;
  steady::duration slowest{};  ///< slowest connect + request + response
  std::string first_failure;
};

/// A well-behaved client on its own thread: every `period`, a new connection and one request to
/// each server, each round trip timed, until stopped. Catch2 assertions are not thread-safe, so
/// it only records; the test checks the report.
class bystander {
 public:
  bystander(const daemon_process& daemon, std::chrono::milliseconds period) {
    std::vector<std::pair<std::uint16_t, probe>> targets;
    for (auto& p : probes()) targets.emplace_back(daemon.port(p.server), std::move(p));
    thread_ = std::thread([this, period, targets = std::move(targets)] {
      auto next_round = steady::now();
      while (!stop_) {
        for (const auto& [port, p] : targets) visit(port, p);
        ++report_.rounds;
        next_round += period;
        while (!stop_ && steady::now() < next_round) std::this_thread::sleep_for(5ms);
      }
    });
  }
  ~bystander() { finish(); }
  bystander(const bystander&) = delete;
  bystander& operator=(const bystander&) = delete;

  /// Stops the rounds and returns what they saw.
  bystander_report finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return report_;
  }

 private:
  void visit(std::uint16_t port, const probe& p) {
    const auto started = steady::now();
    std::string failure;
    try {
      raw_client client(port, 2s);
      const auto response = client.round_trip(p.request, 2s);
      if (response.status != 200 || response.body != p.body) {
        failure = std::to_string(response.status) + " \"" + printable(response.body) + "\"";
      }
    } catch (const std::exception& e) {
      failure = e.what();
    }
    report_.slowest = std::max(report_.slowest, steady::now() - started);
    if (failure.empty()) return;
    if (report_.failures++ == 0) report_.first_failure = std::string(p.server) + ": " + failure;
  }

  std::atomic<bool> stop_{false};
  bystander_report report_;  ///< written by thread_ only until it is joined
  std::thread thread_;
};

/// Checks what a bystander saw: every request answered correctly, and promptly.
void check_bystander(const bystander_report& report) {
  INFO("bystander: " << report.rounds << " round(s), " << report.failures
                     << " failure(s), slowest round trip " << ms(report.slowest) << " ms"
                     << (report.first_failure.empty() ? "" : "; first failure: ")
                     << report.first_failure);
  CHECK(report.rounds >= 3);
  CHECK(report.failures == 0);
  CHECK(report.slowest < 500ms);
}

/// One slowloris connection: it trickles a request head one byte a second and notes what the
/// server did about it and when.
struct trickling_client {
  socket_handle socket;
  steady::time_point connected_at;
  steady::time_point next_byte_at;
  std::size_t bytes_sent = 0;
  std::string received;
  std::optional<steady::time_point> answered_at;  ///< first byte of the server's answer
  std::optional<steady::time_point> closed_at;    ///< EOF or reset from the server
  bool reset = false;

  /// Sends the next byte of `head` when its second has come and nothing was answered yet.
  void trickle(std::string_view head, steady::time_point now) {
    if (answered_at || closed_at || bytes_sent >= head.size() || now < next_byte_at) return;
    const auto sent = ::send(socket.get(), head.data() + bytes_sent, 1, MSG_NOSIGNAL);
    if (sent == 1) {
      ++bytes_sent;
      next_byte_at += 1s;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      next_byte_at = steady::time_point::max();  // the reads will see why
    }
  }

  /// Reads what has arrived; on EOF or reset notes the time and closes our end.
  void receive(steady::time_point now) {
    char buffer[4096];
    for (;;) {
      const auto got = ::recv(socket.get(), buffer, sizeof buffer, 0);
      if (got > 0) {
        if (!answered_at) answered_at = now;
        received.append(buffer, static_cast<std::size_t>(got));
        continue;
      }
      if (got < 0 && errno == EINTR) continue;
      if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      reset = got < 0;
      closed_at = now;
      socket.close();
      return;
    }
  }
};

/// The TLS ClientHello a client sends first (RFC 8446 §4.1.2; RFC 5246 §7.4.1.2 for 1.2), with
/// the record-layer version 0x0301 real clients use, SNI and ALPN offering h2 and http/1.1.
std::string tls_client_hello(bool tls13) {
  const auto u8 = [](std::string& out, std::size_t v) {
    out += static_cast<char>(static_cast<unsigned char>(v & 0xff));
  };
  const auto u16 = [&](std::string& out, std::size_t v) {
    u8(out, v >> 8);
    u8(out, v);
  };
  const auto u24 = [&](std::string& out, std::size_t v) {
    u8(out, v >> 16);
    u16(out, v & 0xffff);
  };
  std::mt19937 generator(tls13 ? 13 : 12);
  const auto random_bytes = [&](std::string& out, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) u8(out, generator());
  };

  std::string extensions;
  const auto extension = [&](std::size_t type, const std::string& data) {
    u16(extensions, type);
    u16(extensions, data.size());
    extensions += data;
  };
  const std::string host = "localhost";
  std::string server_name;
  u16(server_name, host.size() + 3);
  u8(server_name, 0);  // host_name
  u16(server_name, host.size());
  server_name += host;
  extension(0x0000, server_name);
  std::string groups;
  u16(groups, 4);
  u16(groups, 0x001d);  // x25519
  u16(groups, 0x0017);  // secp256r1
  extension(0x000a, groups);
  std::string signatures;
  u16(signatures, 8);
  for (const std::size_t scheme : {0x0403, 0x0804, 0x0401, 0x0503}) u16(signatures, scheme);
  extension(0x000d, signatures);
  std::string alpn;
  u16(alpn, 1 + 2 + 1 + 8);
  u8(alpn, 2);
  alpn += "h2";
  u8(alpn, 8);
  alpn += "http/1.1";
  extension(0x0010, alpn);
  if (tls13) {
    std::string versions;
    u8(versions, 4);
    u16(versions, 0x0304);
    u16(versions, 0x0303);
    extension(0x002b, versions);
    std::string key_share;
    u16(key_share, 2 + 2 + 32);
    u16(key_share, 0x001d);
    u16(key_share, 32);
    random_bytes(key_share, 32);
    extension(0x0033, key_share);
  }

  std::string hello;
  u16(hello, 0x0303);  // legacy_version: TLS 1.2
  random_bytes(hello, 32);
  u8(hello, 32);  // legacy_session_id
  random_bytes(hello, 32);
  const std::vector<std::size_t> suites =
      tls13 ? std::vector<std::size_t>{0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f}
            : std::vector<std::size_t>{0xc02b, 0xc02f, 0xc02c, 0xc030, 0x009c};
  u16(hello, 2 * suites.size());
  for (const auto suite : suites) u16(hello, suite);
  u8(hello, 1);  // compression methods: null only
  u8(hello, 0);
  u16(hello, extensions.size());
  hello += extensions;

  std::string handshake;
  u8(handshake, 0x01);  // client_hello
  u24(handshake, hello.size());
  handshake += hello;

  std::string record;
  u8(record, 0x16);  // handshake
  u16(record, 0x0301);
  u16(record, handshake.size());
  record += handshake;
  return record;
}

/// Bytes from a fixed seed, so a failure can be replayed.
std::string random_garbage(std::size_t size, std::uint32_t seed) {
  std::mt19937 generator(seed);
  std::string bytes(size, '\0');
  for (auto& byte : bytes) byte = static_cast<char>(generator() & 0xff);
  return bytes;
}

/// How a client that sent a large body and never read the response got on.
struct unread_upload {
  std::atomic<std::uint64_t> sent{0};
  std::atomic<bool> finished{false};  ///< the sender gave up or was done
  bool completed = false;
  int error = 0;  ///< errno of the send that failed; 0 when none did
  steady::time_point last_progress;
  steady::time_point ended_at;
};

/// Sends `head` and then `body_size` bytes of body on `fd` as fast as the connection takes
/// them, without ever reading, until done, refused or `deadline`.
void send_without_reading(int fd, const std::string& head, std::uint64_t body_size,
                          steady::time_point deadline, unread_upload& outcome) {
  const std::string pattern = random_garbage(1 * mib, 64);
  const std::uint64_t total = head.size() + body_size;
  std::uint64_t done = 0;
  outcome.last_progress = steady::now();
  while (done < total && steady::now() < deadline) {
    std::string_view piece;
    if (done < head.size()) {
      piece = std::string_view(head).substr(static_cast<std::size_t>(done));
    } else {
      const auto at = static_cast<std::size_t>((done - head.size()) % pattern.size());
      piece = std::string_view(pattern).substr(at);
      piece = piece.substr(
          0, static_cast<std::size_t>(std::min<std::uint64_t>(piece.size(), total - done)));
    }
    const auto sent = ::send(fd, piece.data(), piece.size(), MSG_NOSIGNAL);
    if (sent > 0) {
      done += static_cast<std::uint64_t>(sent);
      outcome.sent = done;
      outcome.last_progress = steady::now();
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, 50);
      continue;
    }
    outcome.error = errno;
    break;
  }
  outcome.completed = done == total;
  outcome.ended_at = steady::now();
  outcome.finished = true;
}

}  // namespace

TEST_CASE("hostile clients: 500 slowloris connections get 408 at the header timeout", "[hostile]") {
  constexpr std::size_t crowd = 500;
  raise_descriptor_limit(crowd + 100);
  auto daemon = daemon_process::start({"--header-timeout", "2s"});
  const std::uint16_t ports[] = {daemon->port("hello"), daemon->port("hello-name"),
                                 daemon->port("echo")};
  const std::string head = "GET /?name=Loris HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n\r\n";

  bystander normal_client(*daemon, 200ms);
  std::vector<trickling_client> clients(crowd);
  for (std::size_t i = 0; i < crowd; ++i) {
    clients[i].socket = connect_nonblocking(ports[i % 3]);
    clients[i].connected_at = steady::now();
    clients[i].next_byte_at = clients[i].connected_at;
  }
  const auto connected = steady::now() - clients.front().connected_at;

  // One thread drives the whole crowd: a byte per client per second, and poll() for answers.
  const auto give_up = steady::now() + (sanitized ? 20s : 10s);
  std::vector<pollfd> waiting;
  std::vector<trickling_client*> owners;
  std::optional<daemon_status> midway;  // the daemon's own count, a second in
  for (;;) {
    const auto now = steady::now();
    if (!midway && now - clients.front().connected_at >= 1s) midway = daemon->status();
    waiting.clear();
    owners.clear();
    for (auto& client : clients) {
      if (client.closed_at) continue;
      client.trickle(head, now);
      waiting.push_back({client.socket.get(), POLLIN, 0});
      owners.push_back(&client);
    }
    if (waiting.empty() || now >= give_up) break;
    const int ready = ::poll(waiting.data(), waiting.size(), 20);
    REQUIRE((ready >= 0 || errno == EINTR));
    const auto polled = steady::now();
    for (std::size_t i = 0; i < waiting.size(); ++i) {
      if (waiting[i].revents != 0) owners[i]->receive(polled);
    }
  }
  const auto report = normal_client.finish();

  std::size_t answered_408 = 0;
  std::size_t closed = 0;
  std::size_t reset = 0;
  std::size_t most_bytes_sent = 0;
  auto earliest = steady::duration::max();
  auto latest = steady::duration::min();
  auto slowest_close = steady::duration::zero();
  std::string unexpected;
  for (const auto& client : clients) {
    most_bytes_sent = std::max(most_bytes_sent, client.bytes_sent);
    if (client.received.rfind("HTTP/1.1 408 ", 0) == 0) {
      ++answered_408;
    } else if (unexpected.empty()) {
      unexpected = printable(client.received);
    }
    if (client.answered_at) {
      earliest = std::min(earliest, *client.answered_at - client.connected_at);
      latest = std::max(latest, *client.answered_at - client.connected_at);
    }
    if (client.closed_at) {
      ++closed;
      if (client.reset) ++reset;
      if (client.answered_at)
        slowest_close = std::max(slowest_close, *client.closed_at - *client.answered_at);
    }
  }
  INFO(crowd << " connections opened in " << ms(connected) << " ms; " << (midway ? midway->live : 0)
             << " live a second in; at most " << most_bytes_sent
             << " byte(s) sent on one; 408 after " << ms(earliest) << " to " << ms(latest)
             << " ms; closed at most " << ms(slowest_close) << " ms after the 408; " << reset
             << " reset(s); first answer that was not a 408: \"" << unexpected << "\"");
  REQUIRE(midway.has_value());
  CHECK(midway->live >= crowd);
  CHECK(answered_408 == crowd);
  CHECK(closed == crowd);
  CHECK(reset == 0);
  CHECK(earliest >= 1900ms);
  CHECK(latest <= (sanitized ? 5s : 3500ms));
  CHECK(slowest_close < 1s);
  check_bystander(report);

  clients.clear();
  CHECK(daemon->wait_for_live_connections(0).live == 0);
  check_clean_exit(*daemon);
}

TEST_CASE("hostile clients: a 64 MiB echo never read is stalled then cut at the write timeout",
          "[hostile]") {
  auto daemon = daemon_process::start({"--write-timeout", "1s"});
  const auto start_kib = daemon->peak_rss_kib().value_or(0);
  raw_client client(daemon->port("echo"));
  constexpr std::uint64_t body_size = 64 * mib;
  const std::string head =
      "POST /never-read HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body_size) +
      "\r\n\r\n";

  bystander normal_client(*daemon, 200ms);
  unread_upload upload;
  const auto started = steady::now();
  std::thread sender([&, fd = client.native_handle()] {
    send_without_reading(fd, head, body_size, started + (sanitized ? 20s : 15s), upload);
  });
  // Once the upload has not moved for 300 ms while its connection is still open, the server
  // has stopped reading the body.
  std::optional<std::uint64_t> stalled_at;
  auto last_seen = upload.sent.load();
  auto last_change = steady::now();
  while (!upload.finished) {
    std::this_thread::sleep_for(20ms);
    const auto now_sent = upload.sent.load();
    if (now_sent != last_seen) {
      last_seen = now_sent;
      last_change = steady::now();
    } else if (!stalled_at && steady::now() - last_change >= 300ms) {
      stalled_at = now_sent;
    }
  }
  sender.join();
  const auto report = normal_client.finish();

  const auto stalled_for = upload.ended_at - upload.last_progress;
  INFO("sent " << upload.sent << " bytes (" << upload.sent / 1024 << " KiB) of "
               << head.size() + body_size << "; stall seen at "
               << (stalled_at ? std::to_string(*stalled_at) : std::string("<never>"))
               << " bytes; stalled for " << ms(stalled_for) << " ms; the send failed "
               << ms(upload.ended_at - started)
               << " ms after the start with: " << std::strerror(upload.error));
  CHECK_FALSE(upload.completed);
  // Cut by the server after the write timeout: the unread body makes its close a reset.
  CHECK((upload.error == EPIPE || upload.error == ECONNRESET));
  // Not before the write timeout (its last write began after `started`), and soon after the
  // upload stalled.
  CHECK(upload.ended_at - started >= 950ms);
  CHECK(stalled_for < (sanitized ? 5s : 3s));
  // The server stopped reading once its response could not leave: only the socket buffers
  // between the two hold the part that was sent.
  REQUIRE(stalled_at.has_value());
  CHECK(*stalled_at < 16 * mib);
  CHECK(upload.sent < 16 * mib);
  check_bystander(report);

  const auto peak_kib = daemon->peak_rss_kib();
  REQUIRE(peak_kib.has_value());
  INFO("daemon VmHWM: " << start_kib << " KiB after start, " << *peak_kib << " KiB at the end");
  CHECK(*peak_kib - start_kib < peak_rss_growth_limit_kib);

  CHECK(daemon->wait_for_live_connections(0).live == 0);
  check_serves_every_port(*daemon);
  check_clean_exit(*daemon);
}

TEST_CASE("hostile clients: a slow but steady reader is not cut by the write timeout",
          "[hostile]") {
  // The write timeout is for a client that stops reading, not for one that reads slowly: Linux
  // reports a full socket writable again only once half its send buffer has drained, which at
  // this pace takes longer than the timeout.
  auto daemon = daemon_process::start({"--write-timeout", "1s"});
  raw_client client(daemon->port("echo"));
  constexpr std::size_t body_size = 8 * mib;
  std::string body(body_size, '.');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 23);
  std::thread sender([&] {
    client.try_send_all("POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                            std::to_string(body_size) + "\r\n\r\n" + body,
                        30s);
  });

  // About 1.3 MB/s, never pausing for more than 50 ms.
  const auto started = steady::now();
  std::string received;
  bool closed = false;
  const std::size_t expected = body_size + 200;
  while (received.size() < expected && !closed && steady::now() - started < 30s) {
    std::this_thread::sleep_for(50ms);
    pollfd readable{client.native_handle(), POLLIN, 0};
    if (::poll(&readable, 1, 1000) <= 0) continue;
    char chunk[64 * 1024];
    const auto got = ::recv(client.native_handle(), chunk, sizeof chunk, 0);
    if (got > 0)
      received.append(chunk, static_cast<std::size_t>(got));
    else if (got == 0 || (errno != EAGAIN && errno != EINTR))
      closed = true;
    const auto head_end = received.find("\r\n\r\n");
    if (head_end != std::string::npos && received.size() == head_end + 4 + body_size) break;
  }
  sender.join();
  const auto took = steady::now() - started;
  const auto head_end = received.find("\r\n\r\n");
  INFO("received " << received.size() << " bytes in " << ms(took) << " ms"
                   << (closed ? ", then the server closed" : ""));
  REQUIRE(head_end != std::string::npos);
  CHECK(received.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(received.size() - head_end - 4 == body_size);
  CHECK(received.compare(head_end + 4, std::string::npos, body) == 0);
  // Several write timeouts long: the deadline moved with the client's progress.
  CHECK(took > 3s);
  check_clean_exit(*daemon);
}

TEST_CASE("hostile clients: a reset mid-request or mid-response leaves no connection behind",
          "[hostile]") {
  auto daemon = daemon_process::start();

  SECTION("in the middle of a request head, on each server") {
    for (const char* server : server_names) {
      INFO("the " << server << " server");
      raw_client client(daemon->port(server));
      client.send_all("GET /?name=Reset HTTP/1.1\r\nHost: x\r\nX-Half: ha");
      const auto busy = wait_for_busy_connections(*daemon, 1);
      REQUIRE(busy.live == 1);
      REQUIRE(busy.idle == 0);
      reset_connection(std::move(client));
      CHECK(daemon->wait_for_live_connections(0).live == 0);
    }
  }

  SECTION("in the middle of an echo request body") {
    raw_client client(daemon->port("echo"));
    client.send_all("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(1 * mib) +
                    "\r\n\r\n" + std::string(64 * 1024, 'b'));
    // The echo has begun: 64 KiB of the 1 MiB body are in, and its 200 is on the way back.
    const auto first = client.read_some(3s);
    REQUIRE(first.rfind("HTTP/1.1 200", 0) == 0);
    REQUIRE(daemon->wait_for_live_connections(1).live == 1);
    reset_connection(std::move(client));
  }

  SECTION("in the middle of an 8 MiB echo response") {
    raw_client client(daemon->port("echo"));
    const int fd = client.native_handle();
    const std::string request =
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(8 * mib) + "\r\n\r\n" +
        std::string(8 * mib, 'r');
    // Send and read on one thread, non-blocking, until a MiB of the response is in.
    std::size_t sent = 0;
    std::size_t received = 0;
    char buffer[64 * 1024];
    const auto deadline = steady::now() + 10s;
    while (received < 1 * mib && steady::now() < deadline) {
      pollfd p{fd, static_cast<short>(POLLIN | (sent < request.size() ? POLLOUT : 0)), 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      if ((p.revents & POLLOUT) != 0) {
        const auto n =
            ::send(fd, request.data() + sent,
                   std::min<std::size_t>(request.size() - sent, 256 * 1024), MSG_NOSIGNAL);
        if (n > 0) sent += static_cast<std::size_t>(n);
      }
      if ((p.revents & POLLIN) != 0) {
        const auto n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) break;
        received += static_cast<std::size_t>(n);
      }
      if ((p.revents & (POLLERR | POLLHUP)) != 0) break;
    }
    INFO("sent " << sent << " bytes, received " << received << " bytes of the response");
    REQUIRE(received >= 1 * mib);
    REQUIRE(received < 8 * mib);
    REQUIRE(daemon->wait_for_live_connections(1).live == 1);
    reset_connection(std::move(client));
  }

  CHECK(daemon->wait_for_live_connections(0).live == 0);
  check_serves_every_port(*daemon);
  check_clean_exit(*daemon);
}

TEST_CASE("hostile clients: a request followed by a half-close gets its whole response then EOF",
          "[hostile]") {
  auto daemon = daemon_process::start();
  const std::string large_body = random_garbage(256 * 1024, 4);
  struct row {
    const char* name;
    const char* server;
    std::string request;
    std::string body;
  };
  const row rows[] = {
      {"hello", "hello", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "Hello, world!"},
      {"hello-name", "hello-name", "GET /?name=Half+Closed HTTP/1.1\r\nHost: x\r\n\r\n",
       "Hello, Half Closed!"},
      {"echo, small body", "echo",
       "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 14\r\n\r\nthen I hang up", "then I hang up"},
      {"echo, chunked body", "echo",
       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
       "5\r\nhalf \r\n6\r\nclosed\r\n0\r\n\r\n",
       "half closed"},
      {"echo, 256 KiB body", "echo",
       "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(large_body.size()) +
           "\r\n\r\n" + large_body,
       large_body},
  };
  for (const auto& r : rows) {
    INFO(r.name);
    raw_client client(daemon->port(r.server));
    // The server answers as it reads: a large body is sent from a second thread.
    std::atomic<bool> sent{false};
    std::thread sender([&] {
      sent = client.try_send_all(r.request);
      if (sent) ::shutdown(client.native_handle(), SHUT_WR);
    });
    http_response response;
    try {
      response = client.read_response(5s);
    } catch (...) {
      ::shutdown(client.native_handle(), SHUT_RDWR);
      sender.join();
      throw;
    }
    sender.join();
    REQUIRE(sent);
    CHECK(response.status == 200);
    CHECK(response.body.size() == r.body.size());
    const bool identical = response.body == r.body;
    CHECK(identical);
    const auto rest = client.read_until_eof(2s);
    CHECK(rest.closed);
    CHECK_FALSE(rest.reset);
    CHECK(rest.data.empty());
  }
  CHECK(daemon->wait_for_live_connections(0).live == 0);
  check_clean_exit(*daemon);
}

TEST_CASE("hostile clients: binary garbage and TLS get an error and a close at once", "[hostile]") {
  const std::string server = GENERATE(as<std::string>{}, "hello", "hello-name", "echo");
  INFO("the " << server << " server");
  auto daemon = daemon_process::start({"--header-timeout", "10s"});
  // The HTTP/2 preface starts an HTTP/2 connection, and garbage after it is answered with GOAWAY
  // (http2_test.cpp); with --http2 off it is an HTTP/1.1 request line of version 2.0 (505).
  struct row {
    const char* name;
    std::string bytes;
    int status;
  };
  const row rows[] = {
      {"4 KiB of random bytes", random_garbage(4096, 5), 400},
      {"a TLS 1.2 ClientHello", tls_client_hello(false), 400},
      {"a TLS 1.3 ClientHello", tls_client_hello(true), 400},
  };
  for (const auto& r : rows) {
    INFO(r.name << ": " << printable(r.bytes, 80));
    const auto started = steady::now();
    {
      raw_client client(daemon->port(server));
      client.try_send_all(r.bytes, 2s);
      http_response response;
      REQUIRE_NOTHROW(response = client.read_response(2s));
      CHECK(response.status == r.status);
      CHECK(response.header("Connection").value_or("<absent>") == std::string("close"));
      CHECK(client.read_until_eof(2s).closed);
    }
    const auto elapsed = steady::now() - started;
    INFO("answered and closed in " << ms(elapsed) << " ms");
    CHECK(elapsed < 1s);
    check_serves_every_port(*daemon);
  }
  CHECK(daemon->wait_for_live_connections(0).live == 0);
  check_clean_exit(*daemon);
}

namespace {

/// Sends `body` on `client` in pieces of `piece` bytes, one every `pause`, until all is sent or
/// the server closes; returns how much was sent.
std::size_t trickle(raw_client& client, std::string_view body, std::size_t piece,
                    std::chrono::milliseconds pause, steady::time_point deadline) {
  std::size_t sent = 0;
  while (sent < body.size() && steady::now() < deadline) {
    const auto part = body.substr(sent, piece);
    if (!client.try_send_all(part, 1s)) break;
    sent += part.size();
    std::this_thread::sleep_for(pause);
  }
  return sent;
}

}  // namespace

TEST_CASE(
    "hostile clients: a request body arriving below --min-receive-rate is cut after the "
    "grace, while a fast upload beside it completes",
    "[hostile][min-rate]") {
  // Each piece of the slow bodies comes well within the 30 s body timeout: only the rate can stop
  // them.
  auto daemon = daemon_process::start(
      {"--min-rate-grace", "1s", "--min-receive-rate", "240", "--admin", "127.0.0.1:0"});
  bystander normal_client(*daemon, 200ms);

  // A head announcing a body that never comes: nothing has been answered yet, so 408.
  raw_client silent(daemon->port("echo"));
  const auto silent_since = steady::now();
  silent.send_all("POST /silent HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");

  // A body at 20 bytes/s: echo has started its 200 with the first piece, so the body it echoes
  // is cut short and the connection closed.
  raw_client slow(daemon->port("echo"));
  const std::string body(1000, 's');
  slow.send_all("POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
  const auto slow_since = steady::now();
  std::size_t trickled = 0;
  // Joined however the test ends: a failed check below must not leave it running.
  std::jthread trickler([&] { trickled = trickle(slow, body, 10, 500ms, slow_since + 8s); });

  // Beside them, an upload at a normal pace: 64 KiB in 1 KiB pieces over about 1.5 s.
  raw_client steady_client(daemon->port("echo"));
  std::string steady_body(64 * 1024, 'f');
  steady_client.send_all("POST /steady HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                         std::to_string(steady_body.size()) + "\r\n\r\n");
  const auto sent = trickle(steady_client, steady_body, 1024, 25ms, steady::now() + 10s);

  const auto silent_answer = silent.read_response_or_close(sanitized ? 10s : 6s);
  const auto silent_after = steady::now() - silent_since;
  const auto slow_answer = slow.read_until_eof(sanitized ? 10s : 6s);
  const auto slow_after = steady::now() - slow_since;
  trickler.join();
  CHECK(sent == steady_body.size());
  const auto fast_response = steady_client.read_response_or_close();
  REQUIRE(fast_response.has_value());
  CHECK(fast_response->status == 200);
  CHECK(fast_response->body == steady_body);
  const auto report = normal_client.finish();

  REQUIRE(silent_answer.has_value());
  INFO("the silent upload was answered after "
       << ms(silent_after) << " ms: " << silent_answer->status << " " << silent_answer->body);
  CHECK(silent_answer->status == 408);
  CHECK(silent_answer->header("Connection") == "close");
  CHECK(silent_answer->body.find("minimum rate") != std::string::npos);
  // After the grace, long before the 30 s body timeout.
  CHECK(silent_after >= 950ms);
  CHECK(silent_after < (sanitized ? 8s : 4s));

  INFO("the slow upload sent " << trickled << " bytes; its connection ended after "
                               << ms(slow_after) << " ms with " << printable(slow_answer.data));
  CHECK(slow_answer.closed);
  CHECK(slow_answer.data.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(slow_answer.data.find("Content-Length: 1000\r\n") != std::string::npos);
  // Cut short: the 1000 bytes would have taken 50 s.
  CHECK(slow_answer.data.size() - slow_answer.data.find("\r\n\r\n") - 4 < 1000);
  CHECK(slow_after < (sanitized ? 8s : 4s));

  check_bystander(report);
  CHECK(scrape_metric(*daemon,
                      "triserve_slow_clients_cut_total{server=\"echo\",direction=\"receive\"}") ==
        2);
  CHECK(scrape_metric(*daemon,
                      "triserve_slow_clients_cut_total{server=\"echo\",direction=\"send\"}") == 0);
  check_clean_exit(*daemon);
}

TEST_CASE("hostile clients: --min-receive-rate 0 lets a slow request body finish",
          "[hostile][min-rate]") {
  auto daemon = daemon_process::start({"--min-rate-grace", "1s", "--min-receive-rate", "0"});
  raw_client slow(daemon->port("echo"));
  const std::string body(300, 's');
  slow.send_all("POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 300\r\n\r\n");
  // 100 bytes/s for three seconds: at the default 240 bytes/s, its 1 s of slack would be gone
  // after 1.7 s.
  CHECK(trickle(slow, body, 10, 100ms, steady::now() + 5s) == body.size());
  const auto response = slow.read_response();
  CHECK(response.status == 200);
  CHECK(response.body == body);
  check_clean_exit(*daemon);
}

TEST_CASE(
    "hostile clients: a response read below --min-send-rate is cut after the grace, while a "
    "steady reader beside it is served",
    "[hostile][min-rate]") {
  // The write timeout (30 s by default) never fires: the client reads a little every 200 ms,
  // which is progress; only the minimum rate stops it.
  auto daemon = daemon_process::start(
      {"--min-rate-grace", "1s", "--min-send-rate", "240", "--admin", "127.0.0.1:0"});
  bystander normal_client(*daemon, 200ms);
  raw_client slow(daemon->port("echo"));
  // What the client's kernel takes counts as read (the server sees acknowledgements, not the
  // client's reads): keep that small, and the response larger than the server's socket buffer,
  // so that the server's writes wait on the client's pace.
  const int small_buffer = 4096;
  ::setsockopt(slow.native_handle(), SOL_SOCKET, SO_RCVBUF, &small_buffer, sizeof small_buffer);
  constexpr std::size_t body_size = 32 * mib;
  unread_upload upload;
  const auto started = steady::now();
  std::jthread sender([&, fd = slow.native_handle()] {
    send_without_reading(fd,
                         "POST /slow-reader HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                             std::to_string(body_size) + "\r\n\r\n",
                         body_size, started + 12s, upload);
  });
  // 40 bytes every 200 ms: 200 bytes/s, until the server has cut the connection.
  const auto sample = "triserve_slow_clients_cut_total{server=\"echo\",direction=\"send\"}";
  std::size_t received = 0;
  std::optional<steady::duration> cut_after;
  while (!cut_after && steady::now() - started < 12s) {
    std::this_thread::sleep_for(200ms);
    char piece[40];
    const auto got = ::recv(slow.native_handle(), piece, sizeof piece, MSG_DONTWAIT);
    if (got > 0) received += static_cast<std::size_t>(got);
    if (scrape_metric(*daemon, sample) == 1) cut_after = steady::now() - started;
  }
  // The server is gone: the sender's last write fails now if it has not already.
  ::shutdown(slow.native_handle(), SHUT_RDWR);
  sender.join();
  const auto report = normal_client.finish();
  INFO("read " << received << " bytes at 200 bytes/s; sent " << upload.sent << " bytes");
  REQUIRE(cut_after.has_value());
  INFO("cut after " << ms(*cut_after) << " ms");
  CHECK(received < body_size);
  // The grace, counted from when the server's first write waited, and a few sweeps.
  CHECK(*cut_after < (sanitized ? 10s : 6s));
  check_bystander(report);
  CHECK(scrape_metric(*daemon,
                      "triserve_slow_clients_cut_total{server=\"echo\",direction=\"receive\"}") ==
        0);
  check_clean_exit(*daemon);
}
