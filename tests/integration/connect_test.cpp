// CONNECT: every server answers 501 and closes; none ever says a tunnel is open.

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "support/daemon.hpp"
#include "support/raw_client.hpp"

using namespace triserve::integration;
using namespace std::chrono_literals;

TEST_CASE("CONNECT gets 501 and a close from every server", "[connect]") {
  // RFC 9110 §9.3.6: a 2xx to CONNECT means the tunnel is open, and the client starts talking
  // to the far end. No server here tunnels, for any target: §15.6.2's 501.
  auto daemon = daemon_process::start({"--admin", "127.0.0.1:0"});
  // What a client opening a TLS tunnel sends: the head, then its ClientHello without waiting.
  const std::string client_hello("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
  for (const char* server : {"hello", "hello-name", "echo", "admin"}) {
    INFO(server << " server");
    raw_client client(daemon->port(server));
    // The server may answer and close before it has read everything; a reset is fine then.
    client.try_send_all("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n" +
                        client_hello);
    http_response response;
    REQUIRE_NOTHROW(response = client.read_response(3s));
    CHECK(response.status == 501);
    CHECK(response.header("Connection") == "close");
    // Nothing after it: what followed the head was never taken for a next request.
    const auto rest = client.read_until_eof(3s);
    CHECK(rest.closed);
    CHECK(printable(rest.data) == "");
  }

  raw_client hello(daemon->port("hello"));
  CHECK(hello.round_trip("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status == 200);
  raw_client admin(daemon->port("admin"));
  CHECK(admin.round_trip("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").status == 200);
}
