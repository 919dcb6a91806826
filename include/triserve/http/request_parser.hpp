#pragma once

#include <cstddef>
#include <string_view>

#include "triserve/http/request.hpp"

namespace triserve::http {

/// Size limits on a request head; exceeding one is answered with the status beside it.
struct parser_limits {
  std::size_t max_request_line = 8 * 1024;   ///< request line, CRLF excluded -> 414
  std::size_t max_header_bytes = 64 * 1024;  ///< whole head, request line included -> 431
  std::size_t max_header_fields = 100;       ///< field lines -> 431
};

/// Whether a parse produced a request head, needs more bytes, or found the input invalid.
enum class parse_status { need_more, complete, error };

/// The outcome of one call to request_parser::parse.
struct parse_result {
  parse_status status = parse_status::need_more;
  std::size_t consumed = 0;       ///< bytes of the head, final empty line included (complete)
  int error_status = 0;           ///< 400, 414, 417, 431, 501 or 505 (error)
  std::string_view error_reason;  ///< a short static description for logs and the 4xx body
};

/// An incremental, strict, zero-copy parser of HTTP/1.x request heads. It never throws and never
/// reads past the bytes it is given.
class request_parser {
 public:
  explicit request_parser(parser_limits limits = {}) : limits_(limits) {}

  /// Parses the head at the start of `input`. After need_more, call again with the same bytes
  /// plus whatever arrived since; the parser remembers how far it has already looked. On complete,
  /// `out` describes the request with views into `input`; on an error found after the request
  /// line was accepted, `out.method` at least is set (a HEAD's error has no content).
  parse_result parse(std::string_view input, request& out);

  /// Forgets all progress, ready for the next request's bytes.
  void reset() { scanned_ = 0; }

  const parser_limits& limits() const { return limits_; }

 private:
  /// Forgets the line bookkeeping below; parse() calls it whenever `scanned_` is 0.
  void restart();

  /// Parses a whole head (final empty line included) whose request line is already checked.
  parse_result parse_head(std::string_view head, request& out) const;

  parser_limits limits_;
  std::size_t scanned_ = 0;             ///< bytes already searched for the end of the head
  std::size_t line_start_ = 0;          ///< start of the line whose end is being searched for
  std::size_t request_line_start_ = 0;  ///< where the request line begins, after empty lines
  std::size_t header_start_ = 0;        ///< first byte after the request line; 0 until it ends
  std::size_t fields_seen_ = 0;         ///< field lines ended so far
};

}  // namespace triserve::http
