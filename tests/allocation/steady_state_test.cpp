// Counts heap allocations made by the server's thread while real clients make 10,000 keep-alive
// requests through the real code path (sockets, parser, handlers, response heads): in steady
// state there must be none. A test executable of its own, because it replaces operator new.

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

#include <spdlog/spdlog.h>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include "triserve/app/handlers.hpp"
#include "triserve/server/server_group.hpp"

namespace {

std::atomic<std::uint64_t> server_allocations{0};
/// Set on the server's thread only: the test's own client allocates freely.
thread_local bool count_allocations = false;

void* counted_allocation(std::size_t size) {
  if (count_allocations) server_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* block = std::malloc(size == 0 ? 1 : size)) return block;
  throw std::bad_alloc();
}

}  // namespace

void* operator new(std::size_t size) {
  return counted_allocation(size);
}
void* operator new[](std::size_t size) {
  return counted_allocation(size);
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return counted_allocation(size);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept {
  return operator new(size, tag);
}
void operator delete(void* block) noexcept {
  std::free(block);
}
void operator delete[](void* block) noexcept {
  std::free(block);
}
void operator delete(void* block, std::size_t) noexcept {
  std::free(block);
}
void operator delete[](void* block, std::size_t) noexcept {
  std::free(block);
}

namespace {

/// A blocking keep-alive client on one loopback socket.
class client {
 public:
  explicit client(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    if (fd_ < 0) throw std::runtime_error("socket failed");
    timeval timeout{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
      throw std::runtime_error("connect failed");
  }
  ~client() { ::close(fd_); }
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  void send(std::string_view bytes) {
    while (!bytes.empty()) {
      const auto sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (sent <= 0) throw std::runtime_error("send failed");
      bytes.remove_prefix(static_cast<std::size_t>(sent));
    }
  }

  /// Reads one response with a Content-Length or chunked body; returns the body as sent.
  std::string read_response() {
    const auto head_end = fill_until("\r\n\r\n");
    const std::string head = buffer_.substr(0, head_end);
    if (head.rfind("HTTP/1.1 200 OK\r\n", 0) != 0)
      throw std::runtime_error("unexpected response: " + head);
    buffer_.erase(0, head_end + 4);
    constexpr std::string_view length_field = "Content-Length: ";
    const auto length_at = head.find(length_field);
    if (length_at != std::string::npos) {
      const std::size_t length = std::stoul(head.substr(length_at + length_field.size()));
      while (buffer_.size() < length) receive();
      std::string body = buffer_.substr(0, length);
      buffer_.erase(0, length);
      return body;
    }
    // Chunked: keep the framing, up to the last chunk.
    const auto end = fill_until("0\r\n\r\n");
    std::string body = buffer_.substr(0, end + 5);
    buffer_.erase(0, end + 5);
    return body;
  }

 private:
  std::size_t fill_until(std::string_view marker) {
    for (;;) {
      const auto at = buffer_.find(marker);
      if (at != std::string::npos) return at;
      receive();
    }
  }
  void receive() {
    char chunk[16384];
    const auto got = ::recv(fd_, chunk, sizeof chunk, 0);
    if (got <= 0) throw std::runtime_error("connection closed or timed out");
    buffer_.append(chunk, static_cast<std::size_t>(got));
  }

  int fd_;
  std::string buffer_;
};

/// The real server group on loopback ports, run on a thread whose allocations are counted.
class running_group {
 public:
  running_group() : group_(io_, triserve::server::server_options{}, std::chrono::seconds{5}) {
    const std::vector<triserve::server::listener> loopback{
        triserve::server::listen_address{"127.0.0.1", 0}};
    group_.add("hello", loopback, triserve::app::hello);
    group_.add("hello-name", loopback, triserve::app::hello_name);
    group_.add("echo", loopback, triserve::app::echo);
    group_.start();
    runner_ = std::thread([this] {
      count_allocations = true;
      io_.run();
    });
  }
  ~running_group() {
    asio::post(io_, [this] { group_.begin_drain("test finished"); });
    runner_.join();
  }
  std::uint16_t port(std::string_view name) const { return group_.local_endpoint(name).port(); }

 private:
  asio::io_context io_{1};
  triserve::server::server_group group_;
  std::thread runner_;
};

/// One round of requests on each server, every response checked.
void make_requests(client& hello, client& hello_name, client& echo, int round) {
  hello.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(hello.read_response() == "Hello, world!");

  const std::string name = "Alex+" + std::to_string(round);
  hello_name.send("GET /?name=" + name + "&x=%41 HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n");
  REQUIRE(hello_name.read_response() == "Hello, Alex " + std::to_string(round) + "!");

  if (round % 4 == 0) {
    echo.send(
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    REQUIRE(echo.read_response() == "5\r\nhello\r\n0\r\n\r\n");
  } else {
    const std::string body(static_cast<std::size_t>(100 + round % 900), 'e');
    echo.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
              "\r\n\r\n" + body);
    REQUIRE(echo.read_response() == body);
  }

  if (round % 100 == 0) {
    // Pipelined: sixteen requests in one write, answered in one.
    std::string burst;
    for (int i = 0; i < 16; ++i) burst += "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    hello.send(burst);
    for (int i = 0; i < 16; ++i) REQUIRE(hello.read_response() == "Hello, world!");
  }
}

}  // namespace

TEST_CASE("keep-alive requests in steady state allocate nothing on the server's thread",
          "[allocation]") {
  spdlog::set_level(spdlog::level::warn);
  running_group group;
  client hello(group.port("hello"));
  client hello_name(group.port("hello-name"));
  client echo(group.port("echo"));

  // Warm-up: caches, pools and buffers reach their working size.
  for (int round = 0; round < 200; ++round) make_requests(hello, hello_name, echo, round);

  const auto before = server_allocations.load();
  constexpr int rounds = 3334;  // three requests a round, plus the pipelined bursts
  for (int round = 0; round < rounds; ++round) make_requests(hello, hello_name, echo, round);
  const auto during = server_allocations.load() - before;

  INFO(during << " allocation(s) during " << rounds * 3 + (rounds / 100 + 1) * 16
              << " keep-alive requests");
  CHECK(during == 0);
  // The counter counts: opening a connection does allocate.
  client another(group.port("hello"));
  another.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(another.read_response() == "Hello, world!");
  CHECK(server_allocations.load() > before + during);
}
