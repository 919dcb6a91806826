#include "triserve/server/access_log.hpp"

#include <catch2/catch.hpp>

#include <string>

using triserve::server::access_entry;
using triserve::server::append_access_json;

TEST_CASE("an access-log entry as JSON members", "[access_log]") {
  access_entry entry;
  entry.server = "hello";
  entry.peer = "127.0.0.1:41234";
  entry.method = "GET";
  entry.target = "/a\"b\\c\xff";
  entry.status = 200;
  entry.bytes = 12;
  entry.duration_ms = 0.1234;

  SECTION("without a note") {
    std::string out;
    append_access_json(out, entry);
    CHECK(out == R"("msg":"request","server":"hello","peer":"127.0.0.1:41234","method":"GET",)"
                 R"("target":"/a\"b\\c\u00ff","status":200,"bytes":12,"duration_ms":0.123)");
  }

  SECTION("with the protocol, and TLS's version and ALPN") {
    entry.protocol = "h2";
    entry.tls = "TLSv1.3";
    entry.alpn = "h2";
    std::string out;
    append_access_json(out, entry);
    CHECK(out.ends_with(R"("duration_ms":0.123,"protocol":"h2","tls":"TLSv1.3","alpn":"h2")"));
  }

  SECTION("with a note, after what is already there") {
    entry.note = "missing Host header";
    entry.status = 400;
    entry.method = "-";
    std::string out = "x";
    append_access_json(out, entry);
    CHECK(out.rfind("x\"msg\":\"request\",", 0) == 0);
    CHECK(out.find(R"("status":400,)") != std::string::npos);
    CHECK(out.size() >= std::string(R"(,"note":"missing Host header")").size());
    CHECK(out.substr(out.size() - std::string(R"(,"note":"missing Host header")").size()) ==
          R"(,"note":"missing Host header")");
  }
}
