// Expect: 100-continue on a handler that reads the body (echo) and on one that ignores it (hello).

#include <catch2/catch.hpp>

#include <string>
#include <thread>

#include "support/daemon.hpp"
#include "support/raw_client.hpp"

using namespace triserve::integration;
using namespace std::chrono_literals;

TEST_CASE("echo sends 100 Continue before reading the body", "[continue]") {
  auto daemon = daemon_process::start();
  raw_client client(daemon->port("echo"));
  const std::string body = "the body the client held back";
  client.send_all("POST /upload HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: " +
                  std::to_string(body.size()) + "\r\n\r\n");

  // Nothing of the body has been sent: only the interim response can come now.
  const auto interim = client.read_response(2s, /*skip_interim=*/false);
  CHECK(interim.version == "HTTP/1.1");
  REQUIRE(interim.status == 100);
  CHECK(interim.reason == "Continue");

  client.send_all(body);
  const auto final_response = client.read_response(2s, /*skip_interim=*/false);
  CHECK(final_response.status == 200);
  CHECK(final_response.body == body);
  CHECK(final_response.header("Content-Length").value_or("<absent>") ==
        std::to_string(body.size()));

  // The connection is still usable afterwards.
  const auto next =
      client.round_trip("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nnext");
  CHECK(next.body == "next");
}

TEST_CASE("echo with 100-continue and a chunked body", "[continue]") {
  auto daemon = daemon_process::start();
  raw_client client(daemon->port("echo"));
  client.send_all(
      "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n");
  const auto interim = client.read_response(2s, /*skip_interim=*/false);
  REQUIRE(interim.status == 100);
  client.send_all("4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n");
  const auto final_response = client.read_response(2s);
  CHECK(final_response.status == 200);
  CHECK(final_response.body == "Wikipedia");
}

TEST_CASE("hello answers 100-continue requests without waiting for the body", "[continue]") {
  auto daemon = daemon_process::start();
  for (const char* server : {"hello", "hello-name"}) {
    INFO(server << " server");
    raw_client client(daemon->port(server));
    client.send_all(
        "POST /?name=Eve HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1000\r\n"
        "\r\n");
    // An interim 100 is allowed but not required; the final answer must come without the body.
    const auto response = client.read_response(2s, /*skip_interim=*/true);
    CHECK(response.status == 200);
    CHECK(response.body.find("Hello, ") == 0);
  }
}

TEST_CASE("HEAD with Expect: 100-continue gets its final head and no late 100", "[continue]") {
  auto daemon = daemon_process::start();
  raw_client client(daemon->port("echo"));
  client.send_all(
      "HEAD / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  const auto response = client.read_response(default_io_timeout, false, true);
  CHECK(response.status == 200);
  // The server cannot reuse a connection whose announced body it never asked for.
  const auto rest = client.read_until_eof(3s);
  CHECK(rest.closed);
  INFO("after the response: " << printable(rest.data));
  CHECK(rest.data.empty());
}

TEST_CASE("a client that sends its body without waiting for 100 Continue gets all of it back",
          "[continue]") {
  // No 100 is due once body bytes are here; the rest of the body must still be read and echoed.
  auto daemon = daemon_process::start();
  raw_client client(daemon->port("echo"));
  const std::string first_half(1000, 'a');
  const std::string second_half(1000, 'b');
  client.send_all(
      "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3e8\r\n" +
      first_half + "\r\n");
  std::this_thread::sleep_for(100ms);
  client.send_all("3e8\r\n" + second_half + "\r\n0\r\n\r\n");
  const auto response = client.read_response();
  CHECK(response.status == 200);
  CHECK(response.body == first_half + second_half);
}
