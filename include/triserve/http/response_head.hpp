#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace triserve::http {

/// How a response body is delimited on the wire.
enum class response_framing {
  content_length,  ///< Content-Length: n
  chunked,         ///< Transfer-Encoding: chunked (HTTP/1.1 clients only)
  until_close      ///< no length; the body ends when the connection closes (HTTP/1.0 clients)
};

/// Everything the serializer needs to write a response's status line and header section.
struct response_head {
  int status = 200;
  response_framing framing = response_framing::content_length;
  std::uint64_t content_length = 0;  ///< with framing == content_length
  std::string_view content_type = "text/plain; charset=utf-8";
  std::string_view date;  ///< an IMF-fixdate
  bool close = false;     ///< send `Connection: close`
  bool keep_alive_1_0 =
      false;  ///< an HTTP/1.0 client asked to keep alive: `Connection: keep-alive`
};

/// Appends the serialized head, final empty line included, to `out`. Every response carries
/// Content-Type, Date and `X-Content-Type-Options: nosniff`.
void append_response_head(std::string& out, const response_head& head);

/// The interim `100 Continue` response (RFC 9110 §15.2.1).
inline constexpr std::string_view continue_response = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace triserve::http
