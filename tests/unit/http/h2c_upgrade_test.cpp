#include "triserve/http/h2c_upgrade.hpp"

#include <catch2/catch.hpp>

#include <string>

using triserve::http::body_framing;
using triserve::http::h2c_upgrade_settings;
using triserve::http::request;

namespace {

/// What `curl --http2 http://host/path` sends: its settings are MAX_CONCURRENT_STREAMS 100,
/// INITIAL_WINDOW_SIZE 10 MiB and ENABLE_PUSH 0.
request curl_upgrade() {
  request req;
  req.method = "GET";
  req.target = "/path?q=1";
  req.headers = {{"Host", "127.0.0.1:8000"},
                 {"Connection", "Upgrade, HTTP2-Settings"},
                 {"Upgrade", "h2c"},
                 {"HTTP2-Settings", "AAMAAABkAAQAoAAAAAIAAAAA"}};
  return req;
}

}  // namespace

TEST_CASE("h2c upgrade: curl's request gives its SETTINGS payload", "[h2c]") {
  const auto payload = h2c_upgrade_settings(curl_upgrade());
  REQUIRE(payload.has_value());
  const std::string expected{
      "\x00\x03\x00\x00\x00\x64"
      "\x00\x04\x00\xa0\x00\x00"
      "\x00\x02\x00\x00\x00\x00",
      18};
  CHECK(*payload == expected);
}

TEST_CASE("h2c upgrade: tokens compare case-insensitively, in any field of the list", "[h2c]") {
  auto req = curl_upgrade();
  req.headers = {{"connection", "keep-alive, upgrade"},
                 {"CONNECTION", "http2-settings"},
                 {"upgrade", "websocket, H2C"},
                 {"http2-settings", ""}};
  const auto payload = h2c_upgrade_settings(req);
  REQUIRE(payload.has_value());
  CHECK(payload->empty());  // no settings at all is a valid payload
}

TEST_CASE("h2c upgrade: anything amiss and the request is served as HTTP/1.1", "[h2c]") {
  auto req = curl_upgrade();
  SECTION("no h2c in Upgrade") {
    req.headers[2].value = "websocket";
  }
  SECTION("Upgrade not named in Connection (RFC 9110 §7.6.1)") {
    req.headers[1].value = "HTTP2-Settings";
  }
  SECTION("HTTP2-Settings not named in Connection") {
    req.headers[1].value = "Upgrade";
  }
  SECTION("no HTTP2-Settings field") {
    req.headers.pop_back();
  }
  SECTION("two HTTP2-Settings fields (RFC 7540 §3.2.1)") {
    req.headers.push_back({"HTTP2-Settings", "AAMAAABk"});
  }
  SECTION("padding, or a character outside base64url") {
    req.headers[3].value = "AAMAAABkAA==";
    CHECK_FALSE(h2c_upgrade_settings(req).has_value());
    req.headers[3].value = "AAMAAABk+AAA";
  }
  SECTION("a payload that is not whole 6-byte settings") {
    req.headers[3].value = "AAMAAABkAA";
  }
  SECTION("a lone trailing base64 character") {
    req.headers[3].value = "AAMAAABkA";
  }
  SECTION("HTTP/1.0 (RFC 9110 §7.8)") {
    req.version_minor = 0;
  }
  SECTION("a request body") {
    req.framing = body_framing::content_length;
    req.content_length = 5;
  }
  SECTION("chunked") {
    req.framing = body_framing::chunked;
  }
  SECTION("an absolute-form target") {
    req.target = "http://127.0.0.1:8000/path";
  }
  CHECK_FALSE(h2c_upgrade_settings(req).has_value());
}

TEST_CASE("h2c upgrade: an empty body is no body", "[h2c]") {
  auto req = curl_upgrade();
  req.framing = body_framing::content_length;
  req.content_length = 0;
  CHECK(h2c_upgrade_settings(req).has_value());
}
