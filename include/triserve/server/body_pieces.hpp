#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string_view>

#include <asio/buffer.hpp>

namespace triserve::server {

/// What one write of a streamed response body sends after the bytes already queued: the data
/// alone, or one chunk (its size line, the data, its CRLF). Built only by these two constructors,
/// so it never holds more than `capacity` pieces, and a write sized for
/// 1 + body_pieces::capacity buffers cannot overflow.
class body_pieces {
 public:
  static constexpr std::size_t capacity = 3;

  /// The data alone (Content-Length or close-delimited framing).
  explicit body_pieces(std::string_view data) : pieces_{asio::buffer(data)}, count_(1) {}
  /// One chunk of a chunked body.
  body_pieces(std::string_view size_line, std::string_view data, std::string_view chunk_end)
      : pieces_{asio::buffer(size_line), asio::buffer(data), asio::buffer(chunk_end)}, count_(3) {}

  /// The pieces, in order.
  std::span<const asio::const_buffer> buffers() const { return {pieces_.data(), count_}; }

 private:
  std::array<asio::const_buffer, capacity> pieces_;
  std::size_t count_;
};

}  // namespace triserve::server
