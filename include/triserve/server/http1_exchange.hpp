#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string_view>

#include <asio/awaitable.hpp>

#include "triserve/http/chunked_decoder.hpp"
#include "triserve/http/request.hpp"
#include "triserve/http/response_head.hpp"
#include "triserve/server/exchange.hpp"

namespace triserve::server {

class connection;

/// An exchange carried by an HTTP/1.1 connection: the body is read from the connection's input
/// (Content-Length or chunked), the response is framed into its output, and whatever the
/// exchange leaves behind (an unread body, a response to withdraw) is the connection's to settle.
class http1_exchange final : public exchange {
 public:
  http1_exchange(connection& conn, const http::request& request);

  void respond(int status, std::initializer_list<std::string_view> body_parts) override;
  /// Without a length, the body is chunked (or close-delimited for an HTTP/1.0 client).
  void begin_response(int status, std::optional<std::uint64_t> content_length) override;
  asio::awaitable<std::string_view> read_body_some() override;
  asio::awaitable<void> write_body(std::string_view piece) override;
  void finish() override;

  /// Reads and drops what is left of the body, up to `limit` bytes. True when the body ended.
  asio::awaitable<bool> discard_body(std::size_t limit);

  /// True when the response must carry `Connection: close`; decided when its head is written.
  bool closes_connection() const { return closes_; }

  /// After the handler failed: takes back everything this exchange queued, so that an error
  /// response can take its place, and returns true; returns false, taking back nothing, once part
  /// of its response head may have been handed to the socket (closing is all that is left then).
  bool withdraw_response();

 private:
  void append_head(int status, http::response_framing framing, std::uint64_t content_length);
  void queue_head_once();
  asio::awaitable<void> send_continue_if_expected();

  connection& conn_;
  http::chunked_decoder chunked_;
  std::uint64_t body_remaining_ = 0;
  bool continue_sent_ = false;
  bool body_read_started_ = false;
  http::response_framing framing_ = http::response_framing::content_length;
  std::uint64_t declared_length_ = 0;
  bool closes_ = false;
  /// How much of the connection's output was queued before this exchange (responses to earlier
  /// pipelined requests); 0 once a write has sent it.
  std::size_t output_mark_ = 0;
  /// A write has carried the final response head, or part of it, to the socket (an interim
  /// `100 Continue` does not count).
  bool head_sent_ = false;
};

}  // namespace triserve::server
