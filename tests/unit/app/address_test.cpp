#include "triserve/app/address.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <string_view>

using triserve::app::listen_address;
using triserve::app::parse_listen_address;
using triserve::app::to_string;

TEST_CASE("listen addresses that parse", "[address]") {
  struct row {
    std::string_view text;
    std::string_view host;
    std::uint16_t port;
    bool tls = false;
  };
  const row rows[] = {
      {":7000", "", 7000},
      {"127.0.0.1:7000", "127.0.0.1", 7000},
      {"[::1]:7000", "::1", 7000},
      {"[::]:0", "::", 0},
      {"localhost:7000", "localhost", 7000},
      {"0.0.0.0:7000", "0.0.0.0", 7000},
      {":0", "", 0},
      {":65535", "", 65535},
      {":00080", "", 80},
      {"my-host.example.com:8080", "my-host.example.com", 8080},
      {"[2001:db8::1]:443", "2001:db8::1", 443},
      {"[::ffff:127.0.0.1]:9000", "::ffff:127.0.0.1", 9000},
      {"tls://:7443", "", 7443, true},
      {"tls://127.0.0.1:7443", "127.0.0.1", 7443, true},
      {"tls://[::1]:7443", "::1", 7443, true},
      {"tls://localhost:7443", "localhost", 7443, true},
      {"tls://:0", "", 0, true},
      {"tls:7443", "tls", 7443},  // a host named tls, as any other name
  };
  for (const row& r : rows) {
    INFO("address " << r.text);
    const listen_address address = parse_listen_address(r.text);
    CHECK(address.host == r.host);
    CHECK(address.port == r.port);
    CHECK(address.tls == r.tls);
  }
}

TEST_CASE("listen addresses that are rejected, and why", "[address]") {
  struct row {
    std::string_view text;
    std::string_view message;
  };
  const row rows[] = {
      {"", R"(invalid address "": expected HOST:PORT or :PORT)"},
      {"7000", R"(invalid address "7000": expected HOST:PORT or :PORT)"},
      {"localhost", R"(invalid address "localhost": expected HOST:PORT or :PORT)"},
      {"localhost:", R"(invalid address "localhost:": missing port after ':')"},
      {":", R"(invalid address ":": missing port after ':')"},
      {"localhost:70000", R"(invalid port "70000" in "localhost:70000": must be 0-65535)"},
      {":65536", R"(invalid port "65536" in ":65536": must be 0-65535)"},
      {":123456", R"(invalid port "123456" in ":123456": must be 0-65535)"},
      {":http", R"(invalid port "http" in ":http": must be 0-65535)"},
      {":-1", R"(invalid port "-1" in ":-1": must be 0-65535)"},
      {":+80", R"(invalid port "+80" in ":+80": must be 0-65535)"},
      {"[::1:7000", R"(invalid address "[::1:7000": unclosed '[')"},
      {"[::1]7000", R"(invalid address "[::1]7000": expected ':PORT' after ']')"},
      {"[::1]", R"(invalid address "[::1]": expected ':PORT' after ']')"},
      {"[::1]:", R"(invalid address "[::1]:": missing port after ':')"},
      {"[localhost]:80", R"(invalid address "[localhost]:80": brackets must hold an IPv6 address)"},
      {"[127.0.0.1]:80", R"(invalid address "[127.0.0.1]:80": brackets must hold an IPv6 address)"},
      {"[]:80", R"(invalid address "[]:80": brackets must hold an IPv6 address)"},
      {"::1:7000", R"(invalid address "::1:7000": IPv6 addresses need brackets, e.g. [::1]:7000)"},
      {" :7000", R"(invalid address " :7000": must not contain whitespace)"},
      {"localhost :7000", R"(invalid address "localhost :7000": must not contain whitespace)"},
      {":7000\n", "invalid address \":7000\n\": must not contain whitespace"},
      {"local_host:80",
       R"(invalid address "local_host:80": host may hold only letters, digits, '-' and '.')"},
      {"a/b:80", R"(invalid address "a/b:80": host may hold only letters, digits, '-' and '.')"},
      {"tls://", R"(invalid address "tls://": expected HOST:PORT or :PORT)"},
      {"tls://7443", R"(invalid address "tls://7443": expected HOST:PORT or :PORT)"},
      {"tls://:", R"(invalid address "tls://:": missing port after ':')"},
      {"tls://::1:7443",
       R"(invalid address "tls://::1:7443": IPv6 addresses need brackets, e.g. [::1]:7000)"},
      {"tls://[::1:7443", R"(invalid address "tls://[::1:7443": unclosed '[')"},
      {"tls://:7443/", R"(invalid port "7443/" in "tls://:7443/": must be 0-65535)"},
      {"tls://tls://:7443", R"(invalid address "tls://tls://:7443": expected at most one scheme)"},
      {"tls:// :7443", R"(invalid address "tls:// :7443": must not contain whitespace)"},
      {"https://:7443",
       R"(invalid address "https://:7443": for a TLS listener write "tls://:7443")"},
      {"HTTPS://[::1]:7443",
       R"(invalid address "HTTPS://[::1]:7443": for a TLS listener write "tls://[::1]:7443")"},
      {"TLS://:7443",
       R"(invalid address "TLS://:7443": write the scheme in lowercase: "tls://:7443")"},
      {"Tls://:7443",
       R"(invalid address "Tls://:7443": write the scheme in lowercase: "tls://:7443")"},
      {"http://localhost:7000",
       R"(invalid address "http://localhost:7000": a cleartext listener takes no scheme: write "localhost:7000")"},
      {"ssl://:7443",
       R"(invalid address "ssl://:7443": unknown scheme "ssl://": write HOST:PORT, or tls://HOST:PORT for TLS)"},
      {"://:7443",
       R"(invalid address "://:7443": unknown scheme "://": write HOST:PORT, or tls://HOST:PORT for TLS)"},
  };
  for (const row& r : rows) {
    INFO("address " << r.text);
    CHECK_THROWS_MATCHES(parse_listen_address(r.text), std::invalid_argument,
                         Catch::Matchers::Message(std::string(r.message)));
  }
}

TEST_CASE("listen addresses format back the way they are accepted", "[address]") {
  const std::string_view texts[] = {":7000",
                                    "[::1]:7000",
                                    "localhost:7000",
                                    "127.0.0.1:7000",
                                    "[::]:0",
                                    "0.0.0.0:65535",
                                    "[2001:db8::1]:443",
                                    "tls://:7443",
                                    "tls://[::1]:7443",
                                    "tls://localhost:7443"};
  for (const std::string_view text : texts) {
    INFO("address " << text);
    CHECK(to_string(parse_listen_address(text)) == text);
  }
  CHECK(to_string(listen_address{"", 8000}) == ":8000");
  CHECK(to_string(listen_address{"::1", 8000}) == "[::1]:8000");
  CHECK(to_string(listen_address{"::1", 8443, true}) == "tls://[::1]:8443");
}
