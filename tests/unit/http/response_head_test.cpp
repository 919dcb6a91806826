#include "triserve/http/response_head.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include "triserve/http/status.hpp"

using triserve::http::append_response_head;
using triserve::http::reason_phrase;
using triserve::http::response_framing;
using triserve::http::response_head;

namespace {

constexpr std::string_view date = "Sun, 06 Nov 1994 08:49:37 GMT";

std::string serialize(const response_head& head) {
  std::string out;
  append_response_head(out, head);
  return out;
}

}  // namespace

TEST_CASE("response head: exact bytes for each framing and connection choice", "[response]") {
  struct row {
    const char* name;
    response_framing framing;
    bool close;
    bool keep_alive_1_0;
    std::string_view tail;  ///< everything after X-Content-Type-Options
  };
  const row rows[] = {
      {"length", response_framing::content_length, false, false, "Content-Length: 13\r\n\r\n"},
      {"length, close", response_framing::content_length, true, false,
       "Content-Length: 13\r\nConnection: close\r\n\r\n"},
      {"length, 1.0 keep-alive", response_framing::content_length, false, true,
       "Content-Length: 13\r\nConnection: keep-alive\r\n\r\n"},
      {"length, close wins over keep-alive", response_framing::content_length, true, true,
       "Content-Length: 13\r\nConnection: close\r\n\r\n"},
      {"chunked", response_framing::chunked, false, false, "Transfer-Encoding: chunked\r\n\r\n"},
      {"chunked, close", response_framing::chunked, true, false,
       "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"},
      {"until close", response_framing::until_close, true, false, "Connection: close\r\n\r\n"},
      {"until close, no connection header", response_framing::until_close, false, false, "\r\n"},
  };
  for (const row& r : rows) {
    INFO(r.name);
    response_head head;
    head.framing = r.framing;
    head.content_length = 13;
    head.date = date;
    head.close = r.close;
    head.keep_alive_1_0 = r.keep_alive_1_0;
    CHECK(serialize(head) == std::string("HTTP/1.1 200 OK\r\n"
                                         "Content-Type: text/plain; charset=utf-8\r\n"
                                         "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                                         "X-Content-Type-Options: nosniff\r\n") +
                                 std::string(r.tail));
  }
}

TEST_CASE("response head: status lines", "[response]") {
  struct row {
    int status;
    std::string_view line;
  };
  const row rows[] = {
      {100, "HTTP/1.1 100 Continue\r\n"},
      {200, "HTTP/1.1 200 OK\r\n"},
      {400, "HTTP/1.1 400 Bad Request\r\n"},
      {404, "HTTP/1.1 404 Not Found\r\n"},
      {408, "HTTP/1.1 408 Request Timeout\r\n"},
      {413, "HTTP/1.1 413 Content Too Large\r\n"},
      {414, "HTTP/1.1 414 URI Too Long\r\n"},
      {417, "HTTP/1.1 417 Expectation Failed\r\n"},
      {431, "HTTP/1.1 431 Request Header Fields Too Large\r\n"},
      {500, "HTTP/1.1 500 Internal Server Error\r\n"},
      {501, "HTTP/1.1 501 Not Implemented\r\n"},
      {503, "HTTP/1.1 503 Service Unavailable\r\n"},
      {505, "HTTP/1.1 505 HTTP Version Not Supported\r\n"},
      {299, "HTTP/1.1 299 Unknown\r\n"},
  };
  for (const row& r : rows) {
    INFO("status " << r.status);
    response_head head;
    head.status = r.status;
    head.date = date;
    CHECK(serialize(head).substr(0, r.line.size()) == r.line);
  }
}

TEST_CASE("reason phrases", "[response]") {
  CHECK(reason_phrase(200) == "OK");
  CHECK(reason_phrase(413) == "Content Too Large");
  CHECK(reason_phrase(0) == "Unknown");
  CHECK(reason_phrase(418) == "Unknown");
  CHECK(reason_phrase(-1) == "Unknown");
}

TEST_CASE("response head: content type, large lengths and appending", "[response]") {
  response_head head;
  head.content_type = "application/octet-stream";
  head.content_length = 18446744073709551615u;
  head.date = date;
  std::string out = "earlier bytes|";
  append_response_head(out, head);
  CHECK(out ==
        "earlier bytes|"
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: application/octet-stream\r\n"
        "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "Content-Length: 18446744073709551615\r\n"
        "\r\n");
}

TEST_CASE("response head: the 100 Continue interim response", "[response]") {
  CHECK(triserve::http::continue_response == "HTTP/1.1 100 Continue\r\n\r\n");
}
