// The echo handler: Content-Length and chunked bodies back byte for byte, with bounded memory.

#include <catch2/catch.hpp>

#include <sys/socket.h>

#include <atomic>
#include <cstddef>
#include <cstdio>
#include <random>
#include <string>
#include <thread>

#include "support/daemon.hpp"
#include "support/raw_client.hpp"

using namespace triserve::integration;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t mib = 1024 * 1024;

std::string random_bytes(std::size_t size, std::uint64_t seed) {
  std::mt19937_64 generator(seed);
  std::string bytes(size, '\0');
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    const auto word = generator();
    for (std::size_t b = 0; b < 8; ++b) bytes[i + b] = static_cast<char>((word >> (8 * b)) & 0xff);
  }
  for (; i < size; ++i) bytes[i] = static_cast<char>(generator() & 0xff);
  return bytes;
}

/// Chunked framing of `body` with chunk sizes drawn from [1, max_chunk].
std::string chunked(const std::string& body, std::size_t max_chunk, std::uint64_t seed) {
  std::mt19937_64 generator(seed);
  std::uniform_int_distribution<std::size_t> size_of(1, max_chunk);
  std::string out;
  out.reserve(body.size() + body.size() / 8 + 64);
  for (std::size_t at = 0; at < body.size();) {
    const auto size = std::min(size_of(generator), body.size() - at);
    char line[32];
    std::snprintf(line, sizeof line, "%zx\r\n", size);
    out += line;
    out.append(body, at, size);
    out += "\r\n";
    at += size;
  }
  out += "0\r\n\r\n";
  return out;
}

/// Where two byte strings first differ, for a failure message that does not print megabytes.
std::string first_difference(const std::string& got, const std::string& want) {
  if (got == want) return "identical";
  const auto limit = std::min(got.size(), want.size());
  std::size_t at = 0;
  while (at < limit && got[at] == want[at]) ++at;
  return "sizes " + std::to_string(got.size()) + " vs " + std::to_string(want.size()) +
         ", first difference at byte " + std::to_string(at);
}

/// Sends `request` from a second thread while the caller reads the response: the server echoes
/// as it reads, so a client that wrote everything first would deadlock on full socket buffers.
http_response upload_while_reading(raw_client& client, const std::string& request,
                                   std::chrono::milliseconds timeout) {
  std::atomic<bool> sent{false};
  std::thread sender([&] { sent = client.try_send_all(request, timeout); });
  http_response response;
  try {
    response = client.read_response(timeout);
  } catch (...) {
    // Unblock the sender before rethrowing so the join cannot wait for its whole timeout.
    ::shutdown(client.native_handle(), SHUT_RDWR);
    sender.join();
    throw;
  }
  sender.join();
  if (!sent) FAIL("the request was not completely sent");
  return response;
}

}  // namespace

TEST_CASE("echo returns a Content-Length body with the same Content-Length", "[echo]") {
  auto daemon = daemon_process::start();
  raw_client client(daemon->port("echo"));
  for (const std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{13},
                                 std::size_t{64 * 1024 + 1}, std::size_t{1 * mib}}) {
    INFO("body of " << size << " bytes");
    const auto body = random_bytes(size, size);
    const auto response = upload_while_reading(
        client,
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(size) + "\r\n\r\n" +
            body,
        10s);
    CHECK(response.status == 200);
    CHECK(response.header("Content-Length").value_or("<absent>") == std::to_string(size));
    CHECK_FALSE(response.chunked);
    INFO(first_difference(response.body, body));
    const bool identical = response.body == body;
    CHECK(identical);
  }
}

TEST_CASE("echo answers a chunked HTTP/1.1 request with a chunked response", "[echo]") {
  auto daemon = daemon_process::start();
  raw_client client(daemon->port("echo"));
  const auto response = client.round_trip(
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "7\r\nMozilla\r\n11;ext=1\r\nDeveloper Network\r\n0\r\nX-Trailer: t\r\n\r\n");
  CHECK(response.status == 200);
  CHECK(response.chunked);
  CHECK_FALSE(response.has_header("Content-Length"));
  CHECK(response.body == "MozillaDeveloper Network");
  // Still keep-alive after a chunked exchange with a trailer.
  CHECK(client.round_trip("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok").body ==
        "ok");
}

TEST_CASE("echo answers a chunked HTTP/1.0 request with a close-delimited body", "[echo]") {
  auto daemon = daemon_process::start();
  raw_client client(daemon->port("echo"));
  const auto response = client.round_trip(
      "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n "
      "world\r\n0\r\n\r\n");
  CHECK(response.status == 200);
  CHECK(response.close_delimited);
  CHECK_FALSE(response.has_header("Content-Length"));
  CHECK_FALSE(response.has_header("Transfer-Encoding"));
  CHECK(response.body == "hello world");
}

TEST_CASE("a 64 MiB echo is byte-exact and the daemon's memory stays bounded", "[echo]") {
  auto daemon = daemon_process::start();
  const auto start_kib = daemon->peak_rss_kib().value_or(0);
  const auto body = random_bytes(64 * mib, 64);
  raw_client client(daemon->port("echo"));
  const auto response = upload_while_reading(client,
                                             "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                                                 std::to_string(body.size()) + "\r\n\r\n" + body,
                                             60s);
  CHECK(response.status == 200);
  CHECK(response.header("Content-Length").value_or("<absent>") == std::to_string(body.size()));
  const bool identical = response.body == body;
  INFO(first_difference(response.body, body));
  CHECK(identical);

  const auto peak_kib = daemon->peak_rss_kib();
  REQUIRE(peak_kib.has_value());
  INFO("daemon VmHWM: " << start_kib << " KiB after start, " << *peak_kib << " KiB at the end");
  // Growth, not the total: start-up RSS differs by build (a sanitizer's shadow memory alone is
  // ~45 MiB). A daemon that kept a quarter of the body would be above this.
  CHECK(*peak_kib - start_kib < 16 * 1024);
}

TEST_CASE("a chunked echo of a few MiB is byte-exact", "[echo]") {
  auto daemon = daemon_process::start();
  const auto body = random_bytes(4 * mib + 123, 4);
  raw_client client(daemon->port("echo"));
  const auto response =
      upload_while_reading(client,
                           "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                               chunked(body, 64 * 1024, 7),
                           30s);
  CHECK(response.status == 200);
  CHECK(response.chunked);
  const bool identical = response.body == body;
  INFO(first_difference(response.body, body));
  CHECK(identical);
}

TEST_CASE("a malformed chunk after echo has started answering closes without a second status",
          "[echo]") {
  // The 200 head and the first chunk are on the wire: an error response now would be read as
  // part of the echoed body. The truncated chunked body and the close are the only answer.
  auto daemon = daemon_process::start();
  raw_client client(daemon->port("echo"));
  client.send_all("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
  const auto first = client.read_some();
  REQUIRE(first.rfind("HTTP/1.1 200", 0) == 0);
  client.try_send_all("zz\r\nbad\r\n");
  const auto rest = client.read_until_eof(3s);
  const auto all = first + rest.data;
  INFO("received: " << printable(all));
  CHECK(rest.closed);
  CHECK(all.find("HTTP/1.1 400") == std::string::npos);
  CHECK(all.find("0\r\n\r\n") == std::string::npos);  // never claims the body ended well
}

TEST_CASE("an echo larger than the discard limit keeps the connection alive", "[echo]") {
  // Echo reads the whole body, so its size alone is no reason to close.
  auto daemon = daemon_process::start();
  raw_client client(daemon->port("echo"));
  const std::string body(300 * 1024, 'e');
  std::string request =
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  std::thread sender([&client, request, &body] {
    client.try_send_all(request);
    client.try_send_all(body);
  });
  const auto response = client.read_response(10s);
  sender.join();
  CHECK(response.status == 200);
  CHECK(response.body.size() == body.size());
  CHECK_FALSE(response.has_header("Connection"));
  CHECK(client.round_trip("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status == 200);
}
