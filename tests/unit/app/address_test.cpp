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
  };
  for (const row& r : rows) {
    INFO("address " << r.text);
    const listen_address address = parse_listen_address(r.text);
    CHECK(address.host == r.host);
    CHECK(address.port == r.port);
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
  };
  for (const row& r : rows) {
    INFO("address " << r.text);
    CHECK_THROWS_MATCHES(parse_listen_address(r.text), std::invalid_argument,
                         Catch::Matchers::Message(std::string(r.message)));
  }
}

TEST_CASE("listen addresses format back the way they are accepted", "[address]") {
  const std::string_view texts[] = {":7000",  "[::1]:7000",    "localhost:7000",   "127.0.0.1:7000",
                                    "[::]:0", "0.0.0.0:65535", "[2001:db8::1]:443"};
  for (const std::string_view text : texts) {
    INFO("address " << text);
    CHECK(to_string(parse_listen_address(text)) == text);
  }
  CHECK(to_string(listen_address{"", 8000}) == ":8000");
  CHECK(to_string(listen_address{"::1", 8000}) == "[::1]:8000");
}
