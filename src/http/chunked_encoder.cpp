#include "triserve/http/chunked_encoder.hpp"

#include <charconv>

namespace triserve::http {

std::size_t write_chunk_header(std::size_t size, char* out) {
  // RFC 9112 §7.1: chunk-size is hex; a size_t needs at most 16 digits, leaving room for CRLF.
  char* end = std::to_chars(out, out + max_chunk_header_size - 2, size, 16).ptr;
  *end++ = '\r';
  *end++ = '\n';
  return static_cast<std::size_t>(end - out);
}

}  // namespace triserve::http
