// The hello and hello-name handlers, and the headers every response carries.

#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include "support/daemon.hpp"
#include "support/raw_client.hpp"

using namespace triserve::integration;
using namespace std::chrono_literals;

namespace {

/// RFC 9110 §5.6.7: IMF-fixdate, always 29 characters: "Sun, 06 Nov 1994 08:49:37 GMT".
bool is_imf_fixdate(std::string_view value) {
  constexpr std::string_view days = "Mon,Tue,Wed,Thu,Fri,Sat,Sun,";
  constexpr std::string_view months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec ";
  constexpr std::string_view shape = "Ddd, 00 Mmm 0000 00:00:00 GMT";
  if (value.size() != shape.size()) return false;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    const bool digit = value[i] >= '0' && value[i] <= '9';
    if (shape[i] == '0' ? !digit
                        : (shape[i] != 'D' && shape[i] != 'd' && shape[i] != 'M' &&
                           shape[i] != 'm' && value[i] != shape[i])) {
      return false;
    }
  }
  const auto day = days.find(value.substr(0, 4));
  const auto month = months.find(value.substr(8, 4));
  return day != std::string_view::npos && day % 4 == 0 && month != std::string_view::npos &&
         month % 4 == 0;
}

}  // namespace

TEST_CASE("hello answers every method and path with Hello, world!", "[hello]") {
  auto daemon = daemon_process::start();
  struct row {
    const char* request;
  };
  const row rows[] = {
      {"GET / HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"GET /some/deep/path?query=1 HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"POST /submit HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"},
      {"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"},
      {"DELETE /thing HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"PATCH /p HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"},
      {"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"GET / HTTP/1.0\r\n\r\n"},
  };
  for (const auto& r : rows) {
    INFO("request: " << printable(r.request));
    raw_client client(daemon->port("hello"));
    const auto response = client.round_trip(r.request);
    CHECK(response.status == 200);
    CHECK(response.body == "Hello, world!");
    CHECK(response.header("Content-Length").value_or("<absent>") == "13");
  }
}

TEST_CASE("HEAD on hello gets the GET head and no body", "[hello]") {
  auto daemon = daemon_process::start();
  raw_client client(daemon->port("hello"));
  // The GET behind the HEAD shows that no body bytes followed the HEAD response.
  client.send_all("HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto head = client.read_response(default_io_timeout, true, /*head_request=*/true);
  CHECK(head.status == 200);
  CHECK(head.header("Content-Length").value_or("<absent>") == "13");
  CHECK(head.header("Content-Type").value_or("<absent>") == "text/plain; charset=utf-8");
  CHECK(head.body.empty());
  const auto get = client.read_response();
  CHECK(get.status == 200);
  CHECK(get.body == "Hello, world!");
}

TEST_CASE("hello-name greets the first name query parameter, decoded like url.ParseQuery",
          "[hello]") {
  auto daemon = daemon_process::start();
  struct row {
    const char* target;
    std::string body;
  };
  const row rows[] = {
      {"/?name=Alex", "Hello, Alex!"},
      {"/?name=Alex+Smith", "Hello, Alex Smith!"},
      {"/?name=Alex%20Smith", "Hello, Alex Smith!"},
      {"/?name=%E4%B8%96", "Hello, \xE4\xB8\x96!"},
      {"/", "Hello, !"},
      {"/?", "Hello, !"},
      {"/?name=", "Hello, !"},
      {"/?other=1", "Hello, !"},
      {"/?name=First&name=Second", "Hello, First!"},
      {"/?a=1&name=Bo&b=2", "Hello, Bo!"},
      {"/any/path?name=Path", "Hello, Path!"},
      {"/?name=%26%3D%2B", "Hello, &=+!"},
      {"/?na%6De=Encoded", "Hello, Encoded!"},
  };
  for (const auto& r : rows) {
    INFO("target: " << r.target);
    raw_client client(daemon->port("hello-name"));
    const auto response =
        client.round_trip(std::string("GET ") + r.target + " HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(response.status == 200);
    CHECK(response.body == r.body);
    CHECK(response.header("Content-Length").value_or("<absent>") == std::to_string(r.body.size()));
  }
}

TEST_CASE("hello-name accepts an absolute-form request target", "[hello]") {
  auto daemon = daemon_process::start();
  raw_client client(daemon->port("hello-name"));
  const auto response =
      client.round_trip("GET http://example.com/?name=Zed HTTP/1.1\r\nHost: example.com\r\n\r\n");
  CHECK(response.status == 200);
  CHECK(response.body == "Hello, Zed!");
}

TEST_CASE("every response carries Content-Type, Date and X-Content-Type-Options", "[hello]") {
  auto daemon = daemon_process::start();
  struct row {
    const char* server;
    const char* request;
  };
  const row rows[] = {
      {"hello", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"hello-name", "GET /?name=Alex HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"echo", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"},
      {"echo",
       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
  };
  for (const auto& r : rows) {
    INFO(r.server << " server, request: " << printable(r.request));
    raw_client client(daemon->port(r.server));
    const auto response = client.round_trip(r.request);
    CHECK(response.status == 200);
    CHECK(response.header("Content-Type").value_or("<absent>") == "text/plain; charset=utf-8");
    CHECK(response.header("X-Content-Type-Options").value_or("<absent>") == "nosniff");
    CHECK(response.header_count("Date") == 1);
    const auto date = response.header("Date").value_or("");
    INFO("Date: " << date);
    CHECK(is_imf_fixdate(date));
  }
}

TEST_CASE("hello discards an unread body and keeps the connection", "[hello]") {
  auto daemon = daemon_process::start();
  struct row {
    const char* name;
    std::string request;
  };
  const row rows[] = {
      {"Content-Length body",
       "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n" + std::string(4096, 'b')},
      {"chunked body",
       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
       "a\r\n0123456789\r\n400\r\n" +
           std::string(1024, 'c') + "\r\n0\r\n\r\n"},
  };
  for (const auto& r : rows) {
    INFO(r.name);
    raw_client client(daemon->port("hello"));
    const auto first = client.round_trip(r.request);
    CHECK(first.status == 200);
    CHECK(first.body == "Hello, world!");
    CHECK_FALSE(first.header("Connection").value_or("<absent>") == "close");
    // The next request on the same socket proves the body was consumed, not parsed as a request.
    const auto second = client.round_trip("GET /again HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(second.status == 200);
    CHECK(second.body == "Hello, world!");
  }
}
