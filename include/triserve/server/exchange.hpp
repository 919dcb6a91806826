#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <asio/awaitable.hpp>

#include "triserve/http/chunked_decoder.hpp"
#include "triserve/http/request.hpp"
#include "triserve/http/response_head.hpp"

namespace triserve::server {

class connection;

/// One request and its response, as a handler sees them. Failures are sticky: once the body or
/// the socket fails, reads return nothing, writes do nothing, and the connection closes afterwards.
class exchange {
 public:
  exchange(connection& conn, const http::request& request);
  exchange(const exchange&) = delete;
  exchange& operator=(const exchange&) = delete;

  /// The request head. Its views stay valid for the whole exchange.
  const http::request& request() const { return request_; }

  /// A reusable string owned by the connection, for building small bodies without allocating.
  std::string& scratch();

  /// Queues a complete response whose body is the concatenation of `body_parts`. It leaves with
  /// the next write of the connection, together with other pipelined responses.
  void respond(int status, std::initializer_list<std::string_view> body_parts);

  /// Starts a streamed response: Content-Length when `content_length` is known, otherwise chunked
  /// (or close-delimited for an HTTP/1.0 client). The head leaves with the first body write.
  void begin_response(int status, std::optional<std::uint64_t> content_length);

  /// The next piece of the request body, empty at its end or on failure. The first call sends
  /// `100 Continue` when the client asked for it. The piece is valid until the next call.
  asio::awaitable<std::string_view> read_body_some();

  /// Writes one piece of a streamed response body and waits until the socket took it, so a
  /// handler never gets ahead of a slow client.
  asio::awaitable<void> write_body(std::string_view piece);

  /// Ends a streamed response body.
  void finish();

  /// True when the response is complete on the wire or queued.
  bool responded() const { return state_ == response_state::complete; }
  /// True once a read or write failed; the connection will be closed.
  bool failed() const { return failure_ != failure::none; }
  /// True when the whole request body has been received (or there was none).
  bool body_complete() const { return body_done_; }
  /// True once the response head is queued or sent: an error status can no longer replace it.
  bool head_queued() const { return head_queued_; }
  /// Status of the response started or queued, 0 before.
  int status() const { return status_; }
  /// Body bytes written or queued.
  std::uint64_t body_bytes_sent() const { return body_bytes_sent_; }

  /// What went wrong while reading the request body, so the connection can answer for it.
  enum class failure {
    none,
    bad_body,
    body_timeout,
    body_too_slow,  ///< below the minimum receive rate
    disconnected,
    write_failed,
    handler_bug
  };
  failure failure_kind() const { return failure_; }

  /// Reads and drops what is left of the body, up to `limit` bytes. True when the body ended.
  asio::awaitable<bool> discard_body(std::size_t limit);

  /// True when the response must carry `Connection: close`; decided when its head is written.
  bool closes_connection() const { return closes_; }

  /// After the handler failed: takes back everything this exchange queued, so that an error
  /// response can take its place, and returns true; returns false, taking back nothing, once part
  /// of its response head may have been handed to the socket (closing is all that is left then).
  bool withdraw_response();

 private:
  enum class response_state { none, streaming, complete };

  void append_head(int status, http::response_framing framing, std::uint64_t content_length);
  void queue_head_once();
  asio::awaitable<void> send_continue_if_expected();
  void fail(failure why);

  connection& conn_;
  const http::request& request_;
  http::chunked_decoder chunked_;
  std::uint64_t body_remaining_ = 0;
  bool body_done_ = false;
  bool continue_sent_ = false;
  bool body_read_started_ = false;
  response_state state_ = response_state::none;
  bool head_queued_ = false;
  http::response_framing framing_ = http::response_framing::content_length;
  std::uint64_t declared_length_ = 0;
  std::uint64_t body_bytes_sent_ = 0;
  int status_ = 0;
  bool closes_ = false;
  failure failure_ = failure::none;
  /// How much of the connection's output was queued before this exchange (responses to earlier
  /// pipelined requests); 0 once a write has sent it.
  std::size_t output_mark_ = 0;
  /// A write has carried the final response head, or part of it, to the socket (an interim
  /// `100 Continue` does not count).
  bool head_sent_ = false;
};

}  // namespace triserve::server
