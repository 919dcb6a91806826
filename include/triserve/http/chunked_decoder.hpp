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
  /// Where in `*( BWS ";" BWS name [ BWS "=" BWS value ] )` the extension state is.
  enum class extension_part {
    before_semicolon,  ///< BWS seen after the size or a value; only ';' may follow
    name_start,        ///< after ';' (and BWS)
    name,
    after_name,   ///< BWS after a name: '=' or ';' may follow
    value_start,  ///< after '=' (and BWS)
    token_value,
    quoted_value,
    quoted_pair,  ///< after a backslash inside a quoted value
    after_quoted
  };

  /// Advances the state machine over one metadata byte; sets state::failed on invalid input.
  void step(char c);
  /// step() for the chunk-ext part of a chunk line.
  void step_extension(char c);
  /// step() for the trailer section after the last chunk.
  void step_trailer(char c);
  /// Enters state::failed, remembering `reason` (a static string) for every later call.
  void fail(std::string_view reason);

  chunked_limits limits_;
  state state_ = state::size;
  extension_part extension_ = extension_part::before_semicolon;
  bool trailer_value_ = false;  ///< past the ':' of the current trailer field
  std::uint64_t chunk_remaining_ = 0;
  std::size_t line_bytes_ = 0;
  std::size_t trailer_bytes_ = 0;
  std::string_view error_reason_;  ///< a static string, repeated by every call after an error
};

}  // namespace triserve::http
