#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace triserve::http {

/// One header field as received; `value` has its surrounding whitespace trimmed.
struct header_field {
  std::string_view name;
  std::string_view value;
};

/// How the body of a request is delimited: RFC 9112 §6.3 for HTTP/1.1; an HTTP/2 request body is
/// its stream's DATA frames, with or without a content-length (RFC 9113 §8.1).
enum class body_framing {
  none,            ///< no body (HTTP/2: the HEADERS frame carried END_STREAM)
  content_length,  ///< `content_length` bytes
  chunked,         ///< HTTP/1.1 chunked transfer coding
  stream_end       ///< HTTP/2 without content-length: the body ends with its stream
};

/// A parsed request head. Every view points into the bytes handed to the parser and is valid only
/// while those bytes stay where they are.
struct request {
  std::string_view method;
  std::string_view target;  ///< the request-target exactly as sent
  std::string_view path;    ///< path of an origin- or absolute-form target ("" for "*"/authority)
  std::string_view query;   ///< text after the first '?', without it; empty when there is none
  int version_major = 1;    ///< 1 for HTTP/1.x, 2 for HTTP/2
  int version_minor = 1;    ///< the x of HTTP/1.x; 0 for HTTP/2
  std::vector<header_field> headers;
  body_framing framing = body_framing::none;
  std::uint64_t content_length = 0;  ///< meaningful when framing == content_length
  bool keep_alive = true;            ///< from the version's default and the Connection header
  bool expect_continue = false;      ///< the client sent `Expect: 100-continue`

  /// The first value of the header named `name` (compared case-insensitively), if any.
  std::optional<std::string_view> header(std::string_view name) const;

  /// True for HEAD, whose response carries a head but no body.
  bool is_head() const { return method == "HEAD"; }

  /// True when the request announces a body (a content length above zero, chunked, or an HTTP/2
  /// stream that goes on after its head).
  bool has_body() const {
    return framing == body_framing::chunked || framing == body_framing::stream_end ||
           (framing == body_framing::content_length && content_length > 0);
  }

  /// Forgets the previous request but keeps the header vector's capacity for the next one.
  void clear();
};

/// ASCII case-insensitive equality, as header names and tokens compare (RFC 9110 §5.1).
bool iequals(std::string_view a, std::string_view b);

}  // namespace triserve::http
