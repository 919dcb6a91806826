#include "triserve/http/request_parser.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace std::literals;
using triserve::http::body_framing;
using triserve::http::parse_result;
using triserve::http::parse_status;
using triserve::http::parser_limits;
using triserve::http::request;
using triserve::http::request_parser;

/// `s` with CR, LF and other non-printable bytes escaped, for readable failure messages.
std::string printable(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (u < 0x20 || u >= 0x7f) {
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

/// Everything a parse decided, as one comparable string.
std::string summary(const request& r) {
  std::string s;
  s.append(r.method).append(" ").append(r.target).append(" path=").append(r.path);
  s.append(" query=").append(r.query).append(" minor=").append(std::to_string(r.version_minor));
  s.append(" framing=").append(std::to_string(static_cast<int>(r.framing)));
  s.append(" length=").append(std::to_string(r.content_length));
  s.append(r.keep_alive ? " keep-alive" : " close");
  s.append(r.expect_continue ? " expect-100" : "");
  for (const auto& field : r.headers)
    s.append(" [").append(field.name).append(": ").append(field.value).append("]");
  return s;
}

bool points_into(std::string_view view, std::string_view buffer) {
  return view.data() >= buffer.data() && view.data() + view.size() <= buffer.data() + buffer.size();
}

/// Parses `head` in one call with a fresh parser and checks that all of it was the head.
request parse_whole(std::string_view head) {
  request_parser parser;
  request req;
  const parse_result r = parser.parse(head, req);
  INFO(printable(head) << " -> " << r.error_status << " " << r.error_reason);
  REQUIRE(r.status == parse_status::complete);
  CHECK(r.consumed == head.size());
  return req;
}

parse_result parse_once(std::string_view head, parser_limits limits = {}) {
  request_parser parser(limits);
  request req;
  return parser.parse(head, req);
}

/// What a parse fed one byte at a time said first, and after how many bytes.
struct bytewise_outcome {
  parse_result result;
  std::size_t fed = 0;
};

/// Feeds `input` to one parser a byte at a time, as a trickling client would, until it answers
/// something other than need_more or the input runs out.
bytewise_outcome parse_bytewise(std::string_view input, parser_limits limits = {}) {
  request_parser parser(limits);
  request req;
  std::string buffer;  // grows and moves like a connection's buffer
  bytewise_outcome out;
  for (char c : input) {
    buffer += c;
    ++out.fed;
    out.result = parser.parse(buffer, req);
    if (out.result.status != parse_status::need_more) break;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Valid inputs

/// A request line; the tests append "\r\nHost: h\r\n\r\n".
struct line_case {
  std::string_view line;
  std::string_view method, target, path, query;
  int version_minor;
};

constexpr line_case valid_lines[] = {
    {"GET / HTTP/1.1", "GET", "/", "/", "", 1},
    {"GET /a/b?x=1&y HTTP/1.1", "GET", "/a/b?x=1&y", "/a/b", "x=1&y", 1},
    {"GET /a?b?c HTTP/1.1", "GET", "/a?b?c", "/a", "b?c", 1},
    {"GET /a? HTTP/1.1", "GET", "/a?", "/a", "", 1},
    {"GET /a?x#frag HTTP/1.1", "GET", "/a?x#frag", "/a", "x#frag", 1},  // Go keeps '#' in RawQuery
    {"GET /a#frag HTTP/1.1", "GET", "/a#frag", "/a#frag", "", 1},
    {"GET /caf\xc3\xa9 HTTP/1.1", "GET", "/caf\xc3\xa9", "/caf\xc3\xa9", "", 1},  // obs-text
    {"POST /x HTTP/1.0", "POST", "/x", "/x", "", 0},
    {"GET / HTTP/1.2", "GET", "/", "/", "", 2},
    {"get / HTTP/1.1", "get", "/", "/", "", 1},  // methods are case-sensitive tokens
    {"X-M!#$%&'*+.^_`|~9 / HTTP/1.1", "X-M!#$%&'*+.^_`|~9", "/", "/", "", 1},
    {"OPTIONS * HTTP/1.1", "OPTIONS", "*", "", "", 1},
    {"GET http://example.com/a?b HTTP/1.1", "GET", "http://example.com/a?b", "/a", "b", 1},
    {"GET http://example.com HTTP/1.1", "GET", "http://example.com", "", "", 1},
    {"GET http://example.com?q HTTP/1.1", "GET", "http://example.com?q", "", "q", 1},
    {"GET https://[::1]:8443/x HTTP/1.1", "GET", "https://[::1]:8443/x", "/x", "", 1},
    {"GET svn+ssh.1://h/x HTTP/1.1", "GET", "svn+ssh.1://h/x", "/x", "", 1},
    {"OPTIONS http://h HTTP/1.1", "OPTIONS", "http://h", "", "", 1},
};

/// A whole head and what it means for the body and the connection.
struct head_case {
  std::string_view head;
  body_framing framing;
  std::uint64_t content_length;
  bool keep_alive;
  bool expect_continue;
};

constexpr auto none = body_framing::none;
constexpr auto length = body_framing::content_length;
constexpr auto chunked = body_framing::chunked;

constexpr head_case valid_heads[] = {
    {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", none, 0, true, false},
    {"GET / HTTP/1.0\r\n\r\n", none, 0, false, false},  // no Host needed in 1.0
    {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", none, 0, true, false},
    {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", none, 0, true, false},
    {"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", none, 0, false, false},
    {"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", none, 0, false, false},
    {"GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade ,, CLOSE\r\n\r\n", none, 0, false, false},
    {"GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", none, 0,
     false, false},
    {"GET / HTTP/1.9\r\nHost: h\r\n\r\n", none, 0, true, false},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n", length, 5, true, false},
    {"POST / HTTP/1.1\r\nHost: h\r\ncontent-length:0\r\n\r\n", length, 0, true, false},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 007\r\n\r\n", length, 7, true, false},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775807\r\n\r\n", length,
     9223372036854775807u, true, false},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0000000000000000000000005\r\n\r\n", length, 5,
     true, false},
    {"POST / HTTP/1.1\r\nHost: h\r\nExpect:\r\n\r\n", none, 0, true, false},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", length, 5,
     true, false},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", chunked, 0, true, false},
    {"POST / HTTP/1.1\r\nHost: h\r\ntransfer-encoding: , CHUNKED ,\r\n\r\n", chunked, 0, true,
     false},
    // RFC 9112 §6.1: chunked in HTTP/1.0 is decoded, but the connection closes after it.
    {"POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n", chunked, 0,
     false, false},
    {"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", length, 1,
     true, true},
    {"POST / HTTP/1.1\r\nHost: h\r\nExpect:  100-Continue \r\n\r\n", none, 0, true, true},
    {"POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", none, 0, false, false},  // ignored in 1.0
    {"GET / HTTP/1.1\r\nHost:\r\n\r\n", none, 0, true, false},  // an empty Host is allowed
    {"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", none, 0, true, false},
    {"GET / HTTP/1.1\r\nHost: a-b.c_d~!$&'()*+,;=%20:80\r\n\r\n", none, 0, true, false},
    {"\r\n\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", none, 0, true, false},  // RFC 9112 §2.2
    {"GET / HTTP/1.1\nHost: h\n\n", none, 0, true, false},                  // bare LF
    {"GET / HTTP/1.1\nHost: h\r\n\n", none, 0, true, false},
};

std::string with_host(std::string_view line) {
  return std::string(line) + "\r\nHost: h\r\n\r\n";
}

TEST_CASE("request_parser: request line forms", "[parser]") {
  for (const line_case& c : valid_lines) {
    const std::string head = with_host(c.line);
    INFO(printable(head));
    const request req = parse_whole(head);
    CHECK(req.method == c.method);
    CHECK(req.target == c.target);
    CHECK(req.path == c.path);
    CHECK(req.query == c.query);
    CHECK(req.version_minor == c.version_minor);
  }
}

TEST_CASE("request_parser: framing, persistence and expectation", "[parser]") {
  for (const head_case& c : valid_heads) {
    INFO(printable(c.head));
    const request req = parse_whole(c.head);
    CHECK(req.framing == c.framing);
    CHECK(req.content_length == c.content_length);
    CHECK(req.keep_alive == c.keep_alive);
    CHECK(req.expect_continue == c.expect_continue);
  }
}

TEST_CASE("request_parser: header fields are trimmed and kept in order", "[parser]") {
  const std::string_view head =
      "GET / HTTP/1.1\r\nHost: h\r\nX-A:  v1 \t\r\nx-a: v2\r\nX-Empty:\r\n"
      "X-High: \xff\xfe\r\nX-Tab:\ta\tb\t\r\n\r\n";
  const request req = parse_whole(head);
  REQUIRE(req.headers.size() == 6);
  CHECK(req.headers[1].name == "X-A");
  CHECK(req.headers[1].value == "v1");
  CHECK(req.headers[2].value == "v2");
  CHECK(req.headers[3].value == "");
  CHECK(req.headers[4].value == "\xff\xfe");
  CHECK(req.headers[5].value == "a\tb");
  CHECK(req.header("X-A") == "v1");  // the first of several
  CHECK(req.header("x-empty") == "");
  CHECK(req.header("HOST") == "h");
  CHECK_FALSE(req.header("X-Missing").has_value());
  CHECK_FALSE(req.header("X-").has_value());
}

TEST_CASE("request_parser: iequals compares ASCII case-insensitively", "[parser]") {
  using triserve::http::iequals;
  CHECK(iequals("Content-Length", "content-LENGTH"));
  CHECK(iequals("", ""));
  CHECK_FALSE(iequals("chunked", "chunke"));
  CHECK_FALSE(iequals("a", "b"));
  CHECK_FALSE(iequals("\xc3\xa9", "\xc3\x89"));  // no Unicode folding
  CHECK_FALSE(iequals("[", "{"));                // 0x5b and 0x7b differ by 0x20 but are no letters
}

// ---------------------------------------------------------------------------------------------
// Invalid inputs

struct error_case {
  std::string_view input;
  int status;
  std::string_view reason;
};

/// Bad request lines; the tests append "\r\nHost: h\r\n\r\n".
constexpr error_case bad_lines[] = {
    {"GET  / HTTP/1.1", 400, "invalid request target"},
    {"GET / HTTP/1.1 ", 400, "invalid HTTP version"},
    {"GET /  HTTP/1.1", 400, "invalid HTTP version"},
    {" GET / HTTP/1.1", 400, "invalid method"},
    {"GET /", 400, "invalid request line"},
    {"GET", 400, "invalid request line"},
    {"GET\t/ HTTP/1.1", 400, "invalid method"},  // as when its line end has not arrived yet
    {"G(T / HTTP/1.1", 400, "invalid method"},
    {"GET /a\x01 HTTP/1.1", 400, "invalid request target"},
    {"GET /a\x7f HTTP/1.1", 400, "invalid request target"},
    {"GET /a\tb HTTP/1.1", 400, "invalid request target"},
    {"GET /a\0b HTTP/1.1"sv, 400, "invalid request target"},
    {"GET /\r HTTP/1.1", 400, "bare CR in the request head"},  // RFC 9112 §2.2
    {"GET / HTTP/1.1\r", 400, "bare CR in the request head"},  // "\r\r\n"
    {"GET / HTTP/1", 400, "invalid HTTP version"},
    {"GET / HTTP/1.10", 400, "invalid HTTP version"},
    {"GET / HTTP/11.1", 400, "invalid HTTP version"},
    {"GET / http/1.1", 400, "invalid HTTP version"},
    {"GET / HTTP/1.x", 400, "invalid HTTP version"},
    {"GET / HTTP/1,1", 400, "invalid HTTP version"},
    {"GET / HTTP/2.0", 505, "HTTP version not supported"},
    {"GET / HTTP/0.9", 505, "HTTP version not supported"},
    {"GET / HTTP/3.0", 505, "HTTP version not supported"},
    {"PRI * HTTP/2.0", 505, "HTTP version not supported"},  // the HTTP/2 preface
    {"GET * HTTP/1.1", 400, "invalid request target"},
    {"OPTIONS *x HTTP/1.1", 400, "invalid request target"},
    {"GET example.com:80 HTTP/1.1", 400, "invalid request target"},
    {"GET a/b HTTP/1.1", 400, "invalid request target"},
    {"GET http:/a HTTP/1.1", 400, "invalid request target"},
    {"GET 1http://a/ HTTP/1.1", 400, "invalid request target"},
    {"GET ://a/ HTTP/1.1", 400, "invalid request target"},
    {"GET http:///path HTTP/1.1", 400, "invalid request target"},
    {"GET http://user@host/ HTTP/1.1", 400, "invalid request target"},  // RFC 9110 §4.2.4
    // RFC 9110 §9.3.6: a 2xx to CONNECT opens a tunnel, which no server here does; §15.6.2: 501
    // for a method not supported for any resource. A CONNECT without an authority stays 400.
    {"CONNECT example.com:443 HTTP/1.1", 501, "CONNECT is not supported: no server here tunnels"},
    {"CONNECT [::1]:443 HTTP/1.1", 501, "CONNECT is not supported: no server here tunnels"},
    {"CONNECT example.com:443 HTTP/1.0", 501, "CONNECT is not supported: no server here tunnels"},
    {"CONNECT / HTTP/1.1", 400, "invalid request target"},
    {"CONNECT http://a:1/ HTTP/1.1", 400, "invalid request target"},
    {"CONNECT example.com HTTP/1.1", 400, "invalid request target"},
    {"CONNECT example.com: HTTP/1.1", 400, "invalid request target"},
    {"CONNECT :443 HTTP/1.1", 400, "invalid request target"},
    {"CONNECT ::1:443 HTTP/1.1", 400, "invalid request target"},
    {"CONNECT a@b:443 HTTP/1.1", 400, "invalid request target"},
};

/// Bad field sections; the tests wrap them as "GET / HTTP/1.1\r\n" + fields + "\r\n".
constexpr error_case bad_fields[] = {
    {"Host : h\r\n", 400, "invalid header name"},  // RFC 9112 §5.1
    {"Host\t: h\r\n", 400, "invalid header name"},
    {": v\r\nHost: h\r\n", 400, "invalid header name"},
    {"X(: v\r\nHost: h\r\n", 400, "invalid header name"},
    {"X\xc3\xa9: v\r\nHost: h\r\n", 400, "invalid header name"},
    {"NoColon\r\nHost: h\r\n", 400, "header line without colon"},
    {" Host: h\r\n", 400, "obs-fold not allowed"},  // RFC 9112 §2.2, right after the request line
    {"Host: h\r\nX: a\r\n b\r\n", 400, "obs-fold not allowed"},  // RFC 9112 §5.2
    {"Host: h\r\nX: a\r\n\tb\r\n", 400, "obs-fold not allowed"},
    {"Host: h\r\nX: a\x01"
     "b\r\n",
     400, "invalid header value"},
    {"Host: h\r\nX: a\x7f\r\n", 400, "invalid header value"},
    {"Host: h\r\nX: a\0b\r\n"sv, 400, "invalid header value"},
    {"Host: h\r\nX: a\rb\r\n", 400, "bare CR in the request head"},  // RFC 9112 §2.2
    {"Host: h\r\nX: a\r\r\n", 400, "bare CR in the request head"},
    {"Host: h\r\n\r", 400, "bare CR in the request head"},  // "\r\r\n" is no empty line
    {"X: v\r\n", 400, "missing Host header"},               // RFC 9112 §3.2
    {"Host: a\r\nhost: a\r\n", 400, "duplicate Host header"},
    {"Host: a b\r\n", 400, "invalid Host header"},
    {"Host: a/b\r\n", 400, "invalid Host header"},
    {"Host: user@h\r\n", 400, "invalid Host header"},
    {"Host: h\xc3\xa9\r\n", 400, "invalid Host header"},
    {"Host: h\r\nContent-Length: +5\r\n", 400, "invalid Content-Length"},
    {"Host: h\r\nContent-Length: -1\r\n", 400, "invalid Content-Length"},
    {"Host: h\r\nContent-Length: 5 5\r\n", 400, "invalid Content-Length"},
    {"Host: h\r\nContent-Length: 5, 5\r\n", 400, "invalid Content-Length"},
    {"Host: h\r\nContent-Length: 0x5\r\n", 400, "invalid Content-Length"},
    {"Host: h\r\nContent-Length:\r\n", 400, "invalid Content-Length"},
    {"Host: h\r\nContent-Length: 18446744073709551615\r\n", 400, "invalid Content-Length"},
    {"Host: h\r\nContent-Length: 9223372036854775808\r\n", 400, "invalid Content-Length"},
    {"Host: h\r\nContent-Length: 9999999999999999999\r\n", 400, "invalid Content-Length"},
    {"Host: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n", 400, "conflicting Content-Length"},
    {"Host: h\r\nContent-Length: 5\r\nContent-Length: 05\r\n", 400, "conflicting Content-Length"},
    {"Host: h\r\nTransfer-Encoding: gzip\r\n", 501, "unsupported transfer coding"},
    {"Host: h\r\nTransfer-Encoding: identity\r\n", 501, "unsupported transfer coding"},
    {"Host: h\r\nTransfer-Encoding: x-foo\r\n", 501, "unsupported transfer coding"},
    {"Host: h\r\nTransfer-Encoding: gzip, chunked\r\n", 501, "unsupported transfer coding"},
    {"Host: h\r\nTransfer-Encoding: chunked, gzip\r\n", 501, "unsupported transfer coding"},
    {"Host: h\r\nTransfer-Encoding: chunked;x=1\r\n", 501, "unsupported transfer coding"},
    {"Host: h\r\nTransfer-Encoding: chunked, chunked\r\n", 400, "invalid Transfer-Encoding"},
    {"Host: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", 400,
     "invalid Transfer-Encoding"},
    {"Host: h\r\nTransfer-Encoding: ,\r\n", 400, "invalid Transfer-Encoding"},
    // RFC 9112 §6.3: both framings at once is how requests are smuggled.
    {"Host: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n", 400,
     "both Transfer-Encoding and Content-Length"},
    {"Host: h\r\nContent-Length: 0\r\nTransfer-Encoding: gzip\r\n", 400,
     "both Transfer-Encoding and Content-Length"},
    {"Host: h\r\nExpect: foo\r\n", 417, "unsupported expectation"},
    {"Host: h\r\nExpect: 100-continue, foo\r\n", 417, "unsupported expectation"},
};

/// Bad heads that need a version or a shape the two tables above cannot express.
constexpr error_case bad_heads[] = {
    {"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", 400, "duplicate Host header"},
    {"GET / HTTP/1.0\r\nExpect: foo\r\n\r\n", 417, "unsupported expectation"},
    {"GET / HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "unsupported transfer coding"},
    // "\r\r\n" is no empty line: a CR where the method should be is judged before the bare CR,
    // as it is when the second CR has not arrived yet.
    {"\r\r\nGET / HTTP/1.0\r\n\r\n", 400, "invalid method"},
    {"GET / HTTP/1.1\r\rHost: h\r\n\r\n", 400, "bare CR in the request head"},
};

void check_error(std::string_view input, const error_case& c) {
  INFO(printable(input));
  const parse_result r = parse_once(input);
  CHECK(r.status == parse_status::error);
  CHECK(r.error_status == c.status);
  CHECK(r.error_reason == c.reason);
}

TEST_CASE("request_parser: invalid request lines", "[parser]") {
  for (const error_case& c : bad_lines) {
    check_error(with_host(c.input), c);
    // Refused as soon as the line ends, without waiting for the rest of the head.
    check_error(std::string(c.input) + "\r\n", c);
  }
}

TEST_CASE("request_parser: invalid header fields", "[parser]") {
  for (const error_case& c : bad_fields) {
    check_error("GET / HTTP/1.1\r\n" + std::string(c.input) + "\r\n", c);
  }
  for (const error_case& c : bad_heads) check_error(c.input, c);

  // A malformed field line is refused as soon as it ends, without waiting for the rest.
  check_error("GET / HTTP/1.1\r\nHost : h\r\n", {"", 400, "invalid header name"});
  check_error("GET / HTTP/1.1\r\nHost: h\r\nX: y\r\r\n", {"", 400, "bare CR in the request head"});
}

/// Heads that end with the byte after a bare CR: refused at that byte, with no line end.
constexpr error_case bare_crs[] = {
    {"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb", 400, "bare CR in the request head"},
    {"GET / HTTP/1.1\r\nHost: x\r\nX-A: \r\r", 400, "bare CR in the request head"},
    {"GET / HTTP/1.1\r\nHost: x\r\n\r\r", 400, "bare CR in the request head"},
    {"GET / HTTP/1.1\r\nHost: x\r\n\rX", 400, "bare CR in the request head"},
    {"GET / HTTP/1.1\r\nX-\rA", 400, "bare CR in the request head"},  // in a field name
    {"GET / HTTP/1.1\r\n\r ", 400, "bare CR in the request head"},
    {"GET /a\rb", 400, "bare CR in the request head"},
    {"GET / \rH", 400, "bare CR in the request head"},
    {"GET / HTTP/1.1\rX", 400, "bare CR in the request head"},
    {"GET / HTTP/2.0\r\r", 400, "bare CR in the request head"},  // before the 505 of its line
    {"\r\n\nGET / HTTP/1.1\r ", 400, "bare CR in the request head"},
    // Where the method should be, a CR is no tchar: the method check comes first, as it does
    // for any other byte there.
    {"GE\rT", 400, "invalid method"},
    {"\r\r", 400, "invalid method"},
};

TEST_CASE("request_parser: a bare CR is refused as soon as the byte after it arrives",
          "[parser][bare-cr]") {
  // RFC 9112 §2.2: a CR not followed by LF is invalid. Waiting for a line end that may never come
  // would answer it at the header timeout instead.
  for (const error_case& c : bare_crs) {
    INFO(printable(c.input));
    // One byte earlier the CR is the last byte, and may yet be half of a CRLF.
    CHECK(parse_once(c.input.substr(0, c.input.size() - 1)).status == parse_status::need_more);
    check_error(c.input, c);
    const bytewise_outcome slow = parse_bytewise(c.input);
    CHECK(slow.result.status == parse_status::error);
    CHECK(slow.result.error_status == c.status);
    CHECK(slow.result.error_reason == c.reason);
    CHECK(slow.fed == c.input.size());
  }
}

// ---------------------------------------------------------------------------------------------
// Incremental input, pipelining and buffers

std::vector<std::string> all_valid_heads() {
  std::vector<std::string> heads;
  for (const line_case& c : valid_lines) heads.push_back(with_host(c.line));
  for (const head_case& c : valid_heads) heads.emplace_back(c.head);
  return heads;
}

TEST_CASE("request_parser: a head split at every byte parses as a whole one", "[parser]") {
  for (const std::string& head : all_valid_heads()) {
    const std::string expected = summary(parse_whole(head));
    for (std::size_t split = 0; split < head.size(); ++split) {
      INFO(printable(head) << " split at " << split);
      request_parser parser;
      request req;
      CHECK(parser.parse(std::string_view(head).substr(0, split), req).status ==
            parse_status::need_more);
      const parse_result r = parser.parse(head, req);
      REQUIRE(r.status == parse_status::complete);
      CHECK(r.consumed == head.size());
      CHECK(summary(req) == expected);
    }
  }
}

TEST_CASE("request_parser: a head fed byte by byte parses as a whole one", "[parser]") {
  for (const std::string& head : all_valid_heads()) {
    INFO(printable(head));
    const std::string expected = summary(parse_whole(head));
    request_parser parser;
    request req;
    std::string buffer;  // grows and moves like a connection's buffer: views must follow it
    parse_result r;
    for (char c : head) {
      REQUIRE(r.status == parse_status::need_more);
      buffer += c;
      r = parser.parse(buffer, req);
    }
    REQUIRE(r.status == parse_status::complete);
    CHECK(r.consumed == head.size());
    CHECK(summary(req) == expected);
  }
}

TEST_CASE("request_parser: pipelined requests parse one after another", "[parser]") {
  const std::string_view heads[] = {
      "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n",
      "\r\nPOST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
      "GET /3?x HTTP/1.1\nHost: h\nConnection: close\n\n",
  };
  const std::string_view targets[] = {"/1", "/2", "/3?x"};
  std::string input;
  for (std::string_view h : heads) input += h;
  input += "GET /4";  // a fourth, still arriving

  request_parser parser;
  request req;
  std::size_t offset = 0;
  for (std::size_t i = 0; i < std::size(heads); ++i) {
    const std::string_view rest = std::string_view(input).substr(offset);
    const parse_result r = parser.parse(rest, req);
    REQUIRE(r.status == parse_status::complete);
    CHECK(r.consumed == heads[i].size());
    CHECK(req.target == targets[i]);
    CHECK(points_into(req.target, rest));
    CHECK(req.keep_alive == (i != 2));
    offset += r.consumed;
    parser.reset();
  }
  CHECK(parser.parse(std::string_view(input).substr(offset), req).status ==
        parse_status::need_more);
}

TEST_CASE("request_parser: every view points into the input buffer", "[parser]") {
  const std::string head =
      "GET http://h/p?q HTTP/1.1\r\nHost: h\r\nX-Long-Name: some value\r\n\r\nbody";
  request_parser parser;
  request req;
  const parse_result r = parser.parse(head, req);
  REQUIRE(r.status == parse_status::complete);
  CHECK(r.consumed == head.size() - 4);
  for (std::string_view view : {req.method, req.target, req.path, req.query}) {
    CHECK(points_into(view, head));
  }
  for (const auto& field : req.headers) {
    CHECK(points_into(field.name, head));
    CHECK(points_into(field.value, head));
  }
  CHECK(req.path.data() == head.data() + 12);
}

TEST_CASE("request_parser: clear() keeps the headers' capacity", "[parser]") {
  request_parser parser;
  request req;
  const std::string_view big =
      "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\n\r\n";
  REQUIRE(parser.parse(big, req).status == parse_status::complete);
  const std::size_t capacity = req.headers.capacity();
  const auto* storage = req.headers.data();
  req.clear();
  CHECK(req.headers.empty());
  CHECK(req.headers.capacity() == capacity);
  CHECK(req.method.empty());
  CHECK(req.keep_alive);

  // The next parse clears the request itself and reuses the same storage.
  REQUIRE(parser.parse("GET / HTTP/1.0\r\nX: y\r\n\r\n", req).status == parse_status::complete);
  CHECK(req.headers.size() == 1);
  CHECK(req.headers.data() == storage);
  CHECK_FALSE(req.keep_alive);
}

TEST_CASE("request_parser: parsing the same bytes twice gives the same answer", "[parser]") {
  const std::string_view head = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
  request_parser parser;
  request req;
  REQUIRE(parser.parse(head, req).status == parse_status::complete);
  const parse_result again = parser.parse(head, req);
  CHECK(again.status == parse_status::complete);
  CHECK(again.consumed == head.size());
}

// ---------------------------------------------------------------------------------------------
// Limits

constexpr parser_limits small{20, 64};

/// A request line of exactly `n` bytes: "GET /aaa... HTTP/1.1".
std::string line_of(std::size_t n) {
  return "GET /" + std::string(n - 14, 'a') + " HTTP/1.1";
}

/// A whole head of exactly `n` bytes, padded with an X header.
std::string head_of(std::size_t n, std::string_view prefix = "") {
  const std::string start = std::string(prefix) + "GET / HTTP/1.1\r\nHost: h\r\nX: ";
  return start + std::string(n - start.size() - 4, 'x') + "\r\n\r\n";
}

TEST_CASE("request_parser: the request line limit is exact", "[parser]") {
  const parser_limits limits{20, 1024};
  CHECK(parse_once(with_host(line_of(20)), limits).status == parse_status::complete);
  CHECK(parse_once("\r\n" + with_host(line_of(20)), limits).status == parse_status::complete);
  CHECK(parse_once(line_of(20) + "\nHost: h\n\n", limits).status == parse_status::complete);

  const parse_result too_long = parse_once(with_host(line_of(21)), limits);
  CHECK(too_long.status == parse_status::error);
  CHECK(too_long.error_status == 414);
  CHECK(too_long.error_reason == "request line too long");

  // An unfinished line is judged as soon as it passes the limit; a final CR may be half a CRLF.
  CHECK(parse_once(line_of(20), limits).status == parse_status::need_more);
  CHECK(parse_once(line_of(20) + "\r", limits).status == parse_status::need_more);
  CHECK(parse_once("\r\n\r\n" + line_of(20) + "\r", limits).status == parse_status::need_more);
  CHECK(parse_once(line_of(21), limits).error_status == 414);
  CHECK(parse_once(line_of(20) + "\r\r", limits).error_status == 414);
  CHECK(parse_once(std::string(21, 'G'), limits).error_status == 414);
}

TEST_CASE("request_parser: the header section limit is exact", "[parser]") {
  const std::string at_limit = head_of(64);
  REQUIRE(at_limit.size() == 64);
  CHECK(parse_once(at_limit, small).status == parse_status::complete);
  CHECK(parse_once(head_of(64, "\r\n"), small).status == parse_status::complete);

  // Bytes after the head are the next request's, not this one's.
  CHECK(parse_once(at_limit + "GET / HTTP/1.1\r\n", small).status == parse_status::complete);

  const parse_result over = parse_once(head_of(65), small);
  CHECK(over.status == parse_status::error);
  CHECK(over.error_status == 431);
  CHECK(over.error_reason == "header section too large");
  CHECK(parse_once("\n" + at_limit, small).error_status == 431);  // leading empty lines count

  // An unfinished head is refused once it reaches the limit without its empty line.
  CHECK(parse_once(at_limit.substr(0, 63), small).status == parse_status::need_more);
  CHECK(parse_once(at_limit.substr(0, 62) + "xx", small).error_status == 431);
  // A bare CR the limit's last byte reveals is judged first, as on a line that ends there.
  CHECK(parse_once(at_limit.substr(0, 62) + "\r\r", small).error_status == 400);
  // A CR that is the limit's last byte is followed by nothing the parser looks at.
  CHECK(parse_once(at_limit.substr(0, 62) + "x\ry", small).error_status == 431);
  CHECK(parse_once(std::string(64, '\n'), small).error_status == 431);
  CHECK(parse_once(std::string(63, '\n'), small).status == parse_status::need_more);
}

TEST_CASE("request_parser: limits hold when the head arrives slowly", "[parser]") {
  request_parser parser(small);
  request req;
  std::string buffer = "GET / HTTP/1.1\r\nHost: h\r\n";
  parse_result r = parser.parse(buffer, req);
  while (r.status == parse_status::need_more) {
    REQUIRE(buffer.size() < small.max_header_bytes);
    buffer += "X: y\r\n";
    r = parser.parse(buffer, req);
  }
  CHECK(r.error_status == 431);
}

}  // namespace

TEST_CASE("request_parser: binary garbage is refused from its first bytes", "[parser]") {
  // A TLS ClientHello or any non-token byte before the first space cannot start a request: no
  // need to wait for a line end that may never come.
  struct garbage_case {
    const char* name;
    std::string bytes;
  };
  const garbage_case cases[] = {
      {"TLS ClientHello", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)},
      {"NUL", std::string("\0", 1)},
      {"method with a slash", "GE/"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    request_parser parser;
    request req;
    const auto result = parser.parse(c.bytes, req);
    CHECK(result.status == parse_status::error);
    CHECK(result.error_status == 400);
  }
  request_parser parser;
  request req;
  CHECK(parser.parse("\r", req).status == parse_status::need_more);  // maybe an empty line
  parser.reset();
  CHECK(parser.parse("GET", req).status == parse_status::need_more);
}

TEST_CASE("request_parser: the same bytes get the same status however they are split", "[parser]") {
  // Found by request_parser_fuzz: an over-long line whose method is not a token was 414 when it
  // arrived whole and 400 when its start arrived first.
  const std::string line = std::string(9000, '\xff') + " / HTTP/1.1\r\nHost: h\r\n\r\n";
  request_parser whole_parser;
  request req;
  const auto whole = whole_parser.parse(line, req);
  request_parser split_parser;
  const auto start = split_parser.parse(std::string_view(line).substr(0, 10), req);
  const auto split = start.status == parse_status::error ? start : split_parser.parse(line, req);
  CHECK(whole.status == parse_status::error);
  CHECK(whole.error_status == 400);
  CHECK(split.error_status == whole.error_status);
}

TEST_CASE("request_parser: a bare CR gets the same status however the bytes are split",
          "[parser][bare-cr]") {
  // The checks that need no line end (method, request line length, bare CR) and the ones made
  // when it comes (request line, field lines, 505, 431) race: whichever the bytes arriving one at
  // a time reveal first must win when they arrive at once too.
  struct split_case {
    const char* name;
    std::string input;
    parser_limits limits;
    int status;
    std::string_view reason;
  };
  const parser_limits line_20{20, 1024};
  const std::string at_limit = head_of(64);
  const split_case cases[] = {
      {"bare CR ahead of the request line's limit",
       "GET /a\rb" + std::string(100, 'c') + " HTTP/1.1\r\nHost: h\r\n\r\n", line_20, 400,
       "bare CR in the request head"},
      {"bare CR whose successor is the byte past the request line's limit",
       line_of(19) + "\rX\r\nHost: h\r\n\r\n", line_20, 414, "request line too long"},
      {"bare CR whose successor is the request line's last allowed byte",
       line_of(18) + "\rX\r\nHost: h\r\n\r\n", line_20, 400, "bare CR in the request head"},
      {"bare CR after an over-long request line", line_of(21) + "\rX\r\nHost: h\r\n\r\n", line_20,
       414, "request line too long"},
      {"bare CR in the method", "G\rT / HTTP/1.1\r\nHost: h\r\n\r\n", {}, 400, "invalid method"},
      {"bare CR before a 505 version",
       "GET / HTTP/2.0\r\r\nHost: h\r\n\r\n",
       {},
       400,
       "bare CR in the request head"},
      {"bare CR after a 505 version",
       "GET / HTTP/2.0\r\nX: \r\r\n\r\n",
       {},
       505,
       "HTTP version not supported"},
      {"bare CR in a field that never ends",
       "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb" + std::string(100, 'c') + "\r\n\r\n", small, 400,
       "bare CR in the request head"},
      {"bare CR revealed by the header section's last byte",
       at_limit.substr(0, 62) + "\r\r\r\n\r\n", small, 400, "bare CR in the request head"},
      {"CR as the header section's last byte", at_limit.substr(0, 62) + "x\ry\r\n\r\n", small, 431,
       "header section too large"},
      {"bare CR beyond the header section's limit", at_limit.substr(0, 62) + "xy\rz\r\n\r\n", small,
       431, "header section too large"},
      {"bare CR in a field that ends",
       "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n",
       {},
       400,
       "bare CR in the request head"},
  };
  for (const split_case& c : cases) {
    INFO(c.name << ": " << printable(c.input));
    const parse_result whole = parse_once(c.input, c.limits);
    CHECK(whole.status == parse_status::error);
    CHECK(whole.error_status == c.status);
    CHECK(whole.error_reason == c.reason);
    const bytewise_outcome slow = parse_bytewise(c.input, c.limits);
    CHECK(slow.result.error_status == c.status);
    CHECK(slow.result.error_reason == c.reason);
    for (std::size_t split = 1; split < c.input.size(); ++split) {
      INFO("split at " << split);
      request_parser parser(c.limits);
      request req;
      parse_result r = parser.parse(std::string_view(c.input).substr(0, split), req);
      if (r.status == parse_status::need_more) r = parser.parse(c.input, req);
      REQUIRE(r.error_status == c.status);
    }
  }
}

TEST_CASE("request_parser: every invalid head gets the same status whole and byte by byte",
          "[parser]") {
  std::vector<std::string> inputs;
  for (const error_case& c : bad_lines) inputs.push_back(with_host(c.input));
  for (const error_case& c : bad_fields)
    inputs.push_back("GET / HTTP/1.1\r\n" + std::string(c.input) + "\r\n");
  for (const error_case& c : bad_heads) inputs.emplace_back(c.input);
  for (const error_case& c : bare_crs) inputs.emplace_back(c.input);
  for (const std::string& input : inputs) {
    INFO(printable(input));
    const parse_result whole = parse_once(input);
    const bytewise_outcome slow = parse_bytewise(input);
    CHECK(slow.result.status == whole.status);
    CHECK(slow.result.error_status == whole.error_status);
  }
}

TEST_CASE("a head refused after its request line still tells its method", "[request_parser]") {
  // The error answering a HEAD must carry no content (RFC 9110 §9.3.2), whichever line was bad.
  for (const std::string head :
       {"HEAD / HTTP/1.1\r\nBad Name: x\r\n\r\n", "HEAD / HTTP/1.1\r\n folded\r\n\r\n",
        "HEAD / HTTP/1.1\r\nX: a\rb", "HEAD / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"}) {
    INFO(head);
    triserve::http::request_parser parser{{}};
    triserve::http::request req;
    const auto result = parser.parse(head, req);
    REQUIRE(result.status == triserve::http::parse_status::error);
    CHECK(req.is_head());
  }
  triserve::http::request_parser parser{{}};
  triserve::http::request req;
  REQUIRE(parser.parse("GE\x01 / HTTP/1.1\r\n\r\n", req).status ==
          triserve::http::parse_status::error);
  CHECK(req.method.empty());
}

TEST_CASE("more header fields than max_header_fields get 431, whole or byte by byte",
          "[request_parser]") {
  const auto head_with = [](int fields) {
    std::string head = "GET / HTTP/1.1\r\nHost: x\r\n";
    for (int i = 1; i < fields; ++i) head += "A: b\r\n";
    return head + "\r\n";
  };
  // The default: 100, as Apache's LimitRequestFields.
  CHECK(parse_once(head_with(100)).status == parse_status::complete);
  const parse_result over = parse_once(head_with(101));
  CHECK(over.status == parse_status::error);
  CHECK(over.error_status == 431);
  CHECK(parse_bytewise(head_with(101)).result.error_status == 431);
  // Refused as the excess field's line ends, before the head does.
  CHECK(parse_once(head_with(101).substr(0, head_with(101).size() - 2)).error_status == 431);
  parser_limits three;
  three.max_header_fields = 3;
  CHECK(parse_once(head_with(3), three).status == parse_status::complete);
  CHECK(parse_once(head_with(4), three).error_status == 431);
}
