#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <asio/awaitable.hpp>

#include "triserve/http/request.hpp"

namespace triserve::server {

/// One request and its response, as a handler sees them, whichever protocol carried them: an
/// HTTP/1.1 connection serves one at a time (http1_exchange), an HTTP/2 session one per stream.
/// Failures are sticky: once the body or the transport fails, reads return nothing, writes do
/// nothing, and the protocol ends what carried the exchange afterwards. Every call runs on the
/// executor of the connection that carries it.
class exchange {
 public:
  /// What kept an exchange from completing, so that its protocol can answer for it.
  enum class failure {
    none,
    bad_body,       ///< the request body's framing was malformed
    body_timeout,   ///< no body bytes came for the body timeout
    body_too_slow,  ///< below the minimum receive rate
    disconnected,   ///< the client left, or reset the stream
    write_failed,   ///< the response could not be written
    handler_bug     ///< the handler broke the exchange's rules (two responses, a wrong length)
  };

  /// An error response: its status and the reason given in its body and the access log.
  struct error_answer {
    int status;
    std::string_view reason;
  };

  /// What answers a handler that threw while no byte of its response had left (Go's net/http
  /// recovers a handler's panic the same way).
  static constexpr error_answer handler_fault{500, "the handler failed"};

  /// The error response owed to a request its handler did not answer because of `why`, while no
  /// response head has left; nothing when no one is left to hear it.
  static std::optional<error_answer> answer_for(failure why);

  virtual ~exchange() = default;
  exchange(const exchange&) = delete;
  exchange& operator=(const exchange&) = delete;

  /// The request head. Its views stay valid for the whole exchange.
  const http::request& request() const { return request_; }

  /// The length the request body announced: 0 without a body, nothing when it is delimited by
  /// its end (HTTP/1.1 chunked, or an HTTP/2 stream without content-length).
  std::optional<std::uint64_t> body_length() const;

  /// A reusable string owned by the connection, for building small bodies without allocating.
  std::string& scratch() { return scratch_; }

  /// Queues a complete response whose body is the concatenation of `body_parts`. It leaves with
  /// the next write of the connection.
  virtual void respond(int status, std::initializer_list<std::string_view> body_parts) = 0;

  /// Starts a streamed response whose body is `content_length` bytes when known, and ends where
  /// finish() says otherwise. The head leaves with the first body write or with finish().
  virtual void begin_response(int status, std::optional<std::uint64_t> content_length) = 0;

  /// The next piece of the request body, empty at its end or on failure. The first call tells a
  /// client waiting for it to go on (`100 Continue`). The piece is valid until the next call.
  virtual asio::awaitable<std::string_view> read_body_some() = 0;

  /// Writes one piece of a streamed response body and waits until the transport took it (or, in
  /// HTTP/2, the stream's window let it go), so a handler never gets ahead of a slow client.
  virtual asio::awaitable<void> write_body(std::string_view piece) = 0;

  /// Ends a streamed response body.
  virtual void finish() = 0;

  /// True when the response is complete on the wire or queued.
  bool responded() const { return state_ == response_state::complete; }
  /// True once a read or write failed; what carries the exchange will be ended.
  bool failed() const { return failure_ != failure::none; }
  /// What failed, failure::none while nothing has.
  failure failure_kind() const { return failure_; }
  /// True when the whole request body has been received (or there was none).
  bool body_complete() const { return body_done_; }
  /// True once the response head is queued or sent: an error status can no longer replace it.
  bool head_queued() const { return head_queued_; }
  /// Status of the response started or queued, 0 before.
  int status() const { return status_; }
  /// Body bytes written or queued.
  std::uint64_t body_bytes_sent() const { return body_bytes_sent_; }

 protected:
  enum class response_state { none, streaming, complete };

  exchange(const http::request& request, std::string& scratch);

  /// Records the first failure; a streamed response whose head was never queued can still be
  /// replaced by an error response.
  void fail(failure why);
  /// Forgets the response begun or queued, so that an error response can take its place.
  void forget_response();

  const http::request& request_;
  std::string& scratch_;
  response_state state_ = response_state::none;
  bool body_done_ = false;
  bool head_queued_ = false;
  int status_ = 0;
  std::uint64_t body_bytes_sent_ = 0;

 private:
  failure failure_ = failure::none;
};

}  // namespace triserve::server
