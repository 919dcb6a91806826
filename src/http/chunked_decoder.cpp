#include "triserve/http/chunked_decoder.hpp"

#include "triserve/http/syntax.hpp"

#include <limits>

namespace triserve::http {
namespace {

using namespace syntax;

constexpr char cr = '\r';
constexpr char lf = '\n';

}  // namespace

chunked_result chunked_decoder::decode(std::string_view input) {
  if (state_ == state::failed) return {chunked_status::error, 0, {}, error_reason_};

  std::size_t pos = 0;
  while (pos < input.size() && state_ != state::done) {
    if (state_ == state::data) {
      // Hand out as much of this chunk as the input holds, as a view: no copy, and never more
      // than the chunk so the CRLF after it is still checked.
      const std::size_t available = input.size() - pos;
      const std::size_t n =
          chunk_remaining_ < available ? static_cast<std::size_t>(chunk_remaining_) : available;
      chunk_remaining_ -= n;
      if (chunk_remaining_ == 0) state_ = state::data_cr;
      return {chunked_status::data, pos + n, input.substr(pos, n), {}};
    }
    step(input[pos]);
    if (state_ == state::failed) return {chunked_status::error, pos, {}, error_reason_};
    ++pos;
  }
  if (state_ == state::done) return {chunked_status::done, pos, {}, {}};
  return {chunked_status::need_more, pos, {}, {}};
}

void chunked_decoder::reset() {
  state_ = state::size;
  extension_ = extension_part::before_semicolon;
  trailer_value_ = false;
  chunk_remaining_ = 0;
  line_bytes_ = 0;
  trailer_bytes_ = 0;
  error_reason_ = {};
}

void chunked_decoder::fail(std::string_view reason) {
  state_ = state::failed;
  error_reason_ = reason;
}

void chunked_decoder::step(char c) {
  switch (state_) {
    case state::size:
    case state::size_digits:
    case state::extension:
      // The chunk line's length excludes its CRLF; leading zeros count, so they are bounded too.
      if (c != cr && ++line_bytes_ > limits_.max_chunk_line) return fail("chunk line too long");
      break;
    default:
      break;
  }

  switch (state_) {
    case state::size:
      if (hex_value(c) < 0) return fail("chunk size is not a hex number");
      chunk_remaining_ = static_cast<std::uint64_t>(hex_value(c));
      state_ = state::size_digits;
      return;

    case state::size_digits:
      if (const int digit = hex_value(c); digit >= 0) {
        // Sizes beyond 2^63-1 are refused (Go does too) rather than wrapped, since a wrapped
        // size desynchronises us from the peer (request smuggling).
        if (chunk_remaining_ > (std::numeric_limits<std::int64_t>::max() >> 4)) {
          return fail("chunk size overflows");
        }
        chunk_remaining_ = (chunk_remaining_ << 4) | static_cast<std::uint64_t>(digit);
        return;
      }
      if (c == cr) {
        state_ = state::size_lf;
        return;
      }
      if (c == lf) return fail("bare LF in chunk line");
      // RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ).
      if (is_ows(c)) {
        state_ = state::extension;
        extension_ = extension_part::before_semicolon;
        return;
      }
      if (c == ';') {
        state_ = state::extension;
        extension_ = extension_part::name_start;
        return;
      }
      return fail("invalid character after chunk size");

    case state::extension:
      return step_extension(c);

    case state::size_lf:
      if (c != lf) return fail("CR not followed by LF in chunk line");
      line_bytes_ = 0;
      if (chunk_remaining_ == 0) {
        // RFC 9112 §7.1: the last chunk is followed by the trailer section.
        state_ = state::trailer_line_start;
        trailer_bytes_ = 0;
      } else {
        state_ = state::data;
      }
      return;

    case state::data_cr:
      if (c == cr) {
        state_ = state::data_lf;
        return;
      }
      if (c == lf) return fail("bare LF after chunk data");
      return fail("chunk data not followed by CRLF");

    case state::data_lf:
      if (c != lf) return fail("CR not followed by LF after chunk data");
      state_ = state::size;
      return;

    case state::trailer_line_start:
    case state::trailer_line:
    case state::trailer_lf:
      return step_trailer(c);

    case state::final_lf:
      if (c != lf) return fail("CR not followed by LF at end of trailers");
      state_ = state::done;
      return;

    case state::data:
    case state::done:
    case state::failed:
      // decode() never steps over these: data is sliced, done and failed stop the loop.
      return;
  }
}

void chunked_decoder::step_extension(char c) {
  if (c == lf) return fail("bare LF in chunk line");
  if (c == cr) {
    // BWS only precedes ';', so the line may end only after a name or a value.
    switch (extension_) {
      case extension_part::name:
      case extension_part::token_value:
      case extension_part::after_quoted:
        state_ = state::size_lf;
        return;
      case extension_part::quoted_value:
      case extension_part::quoted_pair:
        return fail("unterminated quoted string in chunk extension");
      default:
        return fail("chunk extension ends early");
    }
  }

  switch (extension_) {
    case extension_part::before_semicolon:
      if (is_ows(c)) return;
      if (c == ';') {
        extension_ = extension_part::name_start;
        return;
      }
      return fail("invalid character in chunk extension");

    case extension_part::name_start:
      if (is_ows(c)) return;
      if (is_tchar(c)) {
        extension_ = extension_part::name;
        return;
      }
      return fail("invalid chunk extension name");

    case extension_part::name:
    case extension_part::after_name:
      if (extension_ == extension_part::name && is_tchar(c)) return;
      if (is_ows(c)) {
        extension_ = extension_part::after_name;
        return;
      }
      if (c == '=') {
        extension_ = extension_part::value_start;
        return;
      }
      if (c == ';') {
        extension_ = extension_part::name_start;
        return;
      }
      return fail("invalid chunk extension name");

    case extension_part::value_start:
      if (is_ows(c)) return;
      if (c == '"') {
        extension_ = extension_part::quoted_value;
        return;
      }
      if (is_tchar(c)) {
        extension_ = extension_part::token_value;
        return;
      }
      return fail("invalid chunk extension value");

    case extension_part::token_value:
      if (is_tchar(c)) return;
      if (is_ows(c)) {
        extension_ = extension_part::before_semicolon;
        return;
      }
      if (c == ';') {
        extension_ = extension_part::name_start;
        return;
      }
      return fail("invalid chunk extension value");

    case extension_part::quoted_value:
      // qdtext (RFC 9110 §5.6.4): HTAB, SP, VCHAR except '"' and '\', obs-text.
      if (c == '"') {
        extension_ = extension_part::after_quoted;
        return;
      }
      if (c == '\\') {
        extension_ = extension_part::quoted_pair;
        return;
      }
      if (is_ows(c) || is_vchar(c) || is_obs_text(c)) return;
      return fail("control character in chunk extension");

    case extension_part::quoted_pair:
      if (is_ows(c) || is_vchar(c) || is_obs_text(c)) {
        extension_ = extension_part::quoted_value;
        return;
      }
      return fail("control character in chunk extension");

    case extension_part::after_quoted:
      if (is_ows(c)) {
        extension_ = extension_part::before_semicolon;
        return;
      }
      if (c == ';') {
        extension_ = extension_part::name_start;
        return;
      }
      return fail("invalid character after chunk extension value");
  }
}

void chunked_decoder::step_trailer(char c) {
  if (state_ == state::trailer_line_start && c == cr) {
    // The empty line that ends the trailer section; it does not count against the limit.
    state_ = state::final_lf;
    return;
  }
  if (++trailer_bytes_ > limits_.max_trailer_bytes) return fail("trailer section too large");

  switch (state_) {
    case state::trailer_line_start:
      // RFC 9112 §5.2: obs-fold is not accepted outside message/http.
      if (c == lf) return fail("bare LF in trailer");
      if (is_ows(c)) return fail("obsolete line folding in trailer");
      if (!is_tchar(c)) return fail("invalid trailer field name");
      state_ = state::trailer_line;
      trailer_value_ = false;
      return;

    case state::trailer_line:
      if (c == cr) {
        if (!trailer_value_) return fail("trailer field without ':'");
        state_ = state::trailer_lf;
        return;
      }
      if (c == lf) return fail("bare LF in trailer");
      if (!trailer_value_) {
        // RFC 9112 §5.1: no whitespace between the field name and the colon.
        if (c == ':') {
          trailer_value_ = true;
          return;
        }
        if (!is_tchar(c)) return fail("invalid trailer field name");
        return;
      }
      if (is_ows(c) || is_vchar(c) || is_obs_text(c)) return;
      return fail("control character in trailer");

    case state::trailer_lf:
      if (c != lf) return fail("CR not followed by LF in trailer");
      state_ = state::trailer_line_start;
      return;

    default:
      return;
  }
}

}  // namespace triserve::http
