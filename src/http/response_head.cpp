#include "triserve/http/response_head.hpp"

#include <charconv>

#include "triserve/http/status.hpp"

namespace triserve::http {
namespace {

/// Appends an integer without a temporary string: `out` is reused across responses.
template <typename Integer>
void append_number(std::string& out, Integer value) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out.append(digits, static_cast<std::size_t>(end - digits));
}

}  // namespace

void append_response_head(std::string& out, const response_head& head) {
  out.append("HTTP/1.1 ");
  append_number(out, head.status);
  out.push_back(' ');
  out.append(reason_phrase(head.status));
  out.append("\r\nContent-Type: ");
  out.append(head.content_type);
  out.append("\r\nDate: ");
  out.append(head.date);
  out.append("\r\nX-Content-Type-Options: nosniff\r\n");
  switch (head.framing) {
    case response_framing::content_length:
      out.append("Content-Length: ");
      append_number(out, head.content_length);
      out.append("\r\n");
      break;
    case response_framing::chunked:
      out.append("Transfer-Encoding: chunked\r\n");
      break;
    case response_framing::until_close:
      // RFC 9112 §6.3 rule 8: without a length the body runs until the connection closes.
      break;
  }
  if (head.close) {
    out.append("Connection: close\r\n");
  } else if (head.keep_alive_1_0) {
    // RFC 9112 §9.3: HTTP/1.0 persistence must be confirmed explicitly.
    out.append("Connection: keep-alive\r\n");
  }
  out.append("\r\n");
}

}  // namespace triserve::http
