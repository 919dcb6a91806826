#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace triserve::http {

/// Limits on the metadata of a chunked body; the data itself is unlimited.
struct chunked_limits {
  std::size_t max_chunk_line = 4096;      ///< chunk-size line with its extensions
  std::size_t max_trailer_bytes = 16384;  ///< all trailer fields together
};

/// What a call to chunked_decoder::decode produced.
enum class chunked_status {
  need_more,  ///< all input was consumed as metadata; give it more bytes
  data,       ///< `data` holds body bytes (a view into the input)
  done,       ///< the last chunk and the trailer section are consumed
  error       ///< the input is not a valid chunked body
};

/// The outcome of one decode call: `consumed` bytes of the input may be dropped by the caller.
struct chunked_result {
  chunked_status status = chunked_status::need_more;
  std::size_t consumed = 0;
  std::string_view data;
  std::string_view error_reason;
};

/// A byte-wise state machine for the chunked transfer coding (RFC 9112 §7.1). Extensions and
/// trailer fields are validated and ignored. Lines must end in CRLF: a bare LF is an error, since
/// lax chunk parsing is a request-smuggling vector.
class chunked_decoder {
 public:
  explicit chunked_decoder(chunked_limits limits = {}) : limits_(limits) {}

  /// Consumes metadata from `input` and returns at most one slice of body data. Never consumes
  /// beyond the end of the chunked body.
  chunked_result decode(std::string_view input);

  /// True once the whole body, trailers included, has been consumed.
  bool done() const { return state_ == state::done; }

  /// Ready for a new body.
  void reset();

 private:
  enum class state {
    size,
    size_digits,
    extension,
    size_lf,
    data,
    data_cr,
    data_lf,
    trailer_line_start,
    trailer_line,
    trailer_lf,
    final_lf,
    done,
    failed
  };
  chunked_limits limits_;
  state state_ = state::size;
  std::uint64_t chunk_remaining_ = 0;
  std::size_t line_bytes_ = 0;
  std::size_t trailer_bytes_ = 0;
};

}  // namespace triserve::http
