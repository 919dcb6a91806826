#pragma once

#include <cstddef>
#include <string_view>

namespace triserve::http {

/// Enough room for the size line of any chunk: 16 hex digits and CRLF.
inline constexpr std::size_t max_chunk_header_size = 18;

/// The CRLF that ends each chunk's data.
inline constexpr std::string_view chunk_trailer = "\r\n";

/// The last chunk with an empty trailer section, which ends a chunked body.
inline constexpr std::string_view last_chunk = "0\r\n\r\n";

/// Writes the size line of a chunk of `size` bytes (lowercase hex and CRLF) into `out`, which
/// has room for max_chunk_header_size bytes, and returns its length. `size` must not be zero.
std::size_t write_chunk_header(std::size_t size, char* out);

}  // namespace triserve::http
