#include "triserve/server/http1_exchange.hpp"

#include <algorithm>
#include <array>

#include "triserve/http/chunked_encoder.hpp"
#include "triserve/server/body_pieces.hpp"
#include "triserve/server/connection.hpp"
#include "triserve/server/server.hpp"

namespace triserve::server {

http1_exchange::http1_exchange(connection& conn, const http::request& request)
    : exchange(request, conn.work_->scratch), conn_(conn), output_mark_(conn.work_->output.size()) {
  switch (request.framing) {
    case http::body_framing::none:
      body_done_ = true;
      break;
    case http::body_framing::content_length:
      body_remaining_ = request.content_length;
      body_done_ = body_remaining_ == 0;
      break;
    case http::body_framing::chunked:
    case http::body_framing::stream_end:  // never from the HTTP/1.1 parser
      break;
  }
}

void http1_exchange::append_head(int status, http::response_framing framing,
                                 std::uint64_t content_length) {
  status_ = status;
  bool close = conn_.must_close() || framing == http::response_framing::until_close;
  if (!body_done_) {
    // RFC 9110 §10.1.1: the client may never send a body it was not asked to continue, so the
    // connection cannot be reused when we answer without having read it.
    if (request_.expect_continue && !continue_sent_ && !body_read_started_) close = true;
    // A body too large to discard cheaply ends the connection instead (Go does the same).
    if (!body_read_started_ && request_.framing == http::body_framing::content_length &&
        body_remaining_ > conn_.server_.options().max_discard_bytes)
      close = true;
  }
  closes_ = close;
  http::response_head head;
  head.status = status;
  head.framing = framing;
  head.content_length = content_length;
  head.date = conn_.work_->dates.now();
  head.close = close;
  head.keep_alive_1_0 = !close && request_.version_minor == 0;
  http::append_response_head(conn_.work_->output, head);
}

void http1_exchange::respond(int status, std::initializer_list<std::string_view> body_parts) {
  if (state_ != response_state::none) return fail(failure::handler_bug);
  std::uint64_t length = 0;
  for (auto part : body_parts) length += part.size();
  head_queued_ = true;
  append_head(status, http::response_framing::content_length, length);
  if (!request_.is_head())
    for (auto part : body_parts) conn_.work_->output.append(part);
  body_bytes_sent_ = length;
  state_ = response_state::complete;
}

void http1_exchange::begin_response(int status, std::optional<std::uint64_t> content_length) {
  if (state_ != response_state::none) return fail(failure::handler_bug);
  status_ = status;
  declared_length_ = content_length.value_or(0);
  framing_ = http::response_framing::content_length;
  if (!content_length)
    framing_ = request_.version_minor >= 1 ? http::response_framing::chunked
                                           : http::response_framing::until_close;
  state_ = response_state::streaming;
  // The head waits for the first body bytes: a `100 Continue` may still have to go before it.
  if (request_.is_head()) {
    queue_head_once();
    state_ = response_state::complete;
  }
}

void http1_exchange::queue_head_once() {
  if (head_queued_) return;
  head_queued_ = true;
  append_head(status_, framing_, declared_length_);
}

asio::awaitable<void> http1_exchange::send_continue_if_expected() {
  // After the final response head (HEAD) a 100 would come too late; so would it once the client
  // has started sending anyway.
  if (!request_.expect_continue || continue_sent_ || head_queued_ || conn_.input_.size() > 0)
    co_return;
  continue_sent_ = true;
  conn_.work_->output.append(http::continue_response);
  const bool written = co_await conn_.write();
  // Earlier pipelined responses went with it: nothing queued before this exchange is left.
  output_mark_ = 0;
  if (!written) fail(failure::write_failed);
}

asio::awaitable<std::string_view> http1_exchange::read_body_some() {
  if (body_done_ || failed()) co_return std::string_view{};
  // The final response went out without asking for the body: the client will not send it.
  if (request_.expect_continue && !continue_sent_ && head_queued_ && !body_read_started_)
    co_return std::string_view{};
  body_read_started_ = true;
  co_await send_continue_if_expected();
  const auto& options = conn_.server_.options();
  for (;;) {
    if (failed()) co_return std::string_view{};
    auto buffered = conn_.input_.data();
    if (request_.framing == http::body_framing::content_length) {
      if (!buffered.empty()) {
        const auto take =
            static_cast<std::size_t>(std::min<std::uint64_t>(buffered.size(), body_remaining_));
        conn_.input_.consume(take);
        body_remaining_ -= take;
        body_done_ = body_remaining_ == 0;
        co_return buffered.substr(0, take);
      }
    } else if (!buffered.empty()) {
      const auto step = chunked_.decode(buffered);
      conn_.input_.consume(step.consumed);
      switch (step.status) {
        case http::chunked_status::data:
          co_return step.data;
        case http::chunked_status::done:
          body_done_ = true;
          co_return std::string_view{};
        case http::chunked_status::error:
          fail(failure::bad_body);
          co_return std::string_view{};
        case http::chunked_status::need_more:
          break;
      }
    }
    // Each read waits at most the body timeout, and less once the body's pace so far would fall
    // below the minimum receive rate.
    auto& pace = conn_.work_->receive_pace;
    const auto began = conn_.transport_.now();
    const auto timeout_at = began + options.body_read_timeout;
    const auto too_slow_at = pace.too_slow_at(began);
    const std::size_t received = co_await conn_.read_more(std::min(timeout_at, too_slow_at), 0);
    pace.add_wait(began, conn_.transport_.now(), received);
    if (received == 0) {
      if (conn_.timed_out_ && too_slow_at < timeout_at) {
        conn_.count_too_slow(transfer_direction::receive);
        fail(failure::body_too_slow);
      } else {
        fail(conn_.timed_out_ ? failure::body_timeout : failure::disconnected);
      }
      co_return std::string_view{};
    }
  }
}

asio::awaitable<void> http1_exchange::write_body(std::string_view piece) {
  if (state_ != response_state::streaming || failed() || piece.empty()) co_return;
  if (framing_ == http::response_framing::content_length &&
      piece.size() > declared_length_ - body_bytes_sent_) {
    // Writing past the declared length would corrupt the framing of the next response.
    fail(failure::handler_bug);
    co_return;
  }
  std::array<char, http::max_chunk_header_size> chunk_header{};
  const bool chunked = framing_ == http::response_framing::chunked;
  const body_pieces pieces =
      chunked ? body_pieces{{chunk_header.data(),
                             http::write_chunk_header(piece.size(), chunk_header.data())},
                            piece,
                            http::chunk_trailer}
              : body_pieces{piece};
  queue_head_once();
  body_bytes_sent_ += piece.size();
  // From here the client may have some of the head: an error response can no longer replace it.
  head_sent_ = true;
  const bool written = co_await conn_.write(&pieces);
  if (!written) fail(failure::write_failed);
}

void http1_exchange::finish() {
  if (state_ != response_state::streaming || failed()) return;
  if (framing_ == http::response_framing::content_length && body_bytes_sent_ != declared_length_)
    return fail(failure::handler_bug);
  queue_head_once();
  if (framing_ == http::response_framing::chunked) conn_.work_->output.append(http::last_chunk);
  state_ = response_state::complete;
}

asio::awaitable<bool> http1_exchange::discard_body(std::size_t limit) {
  std::size_t dropped = 0;
  while (!body_done_ && !failed() && dropped <= limit) {
    // Reading it ourselves must not make a client that waits for 100 Continue start sending.
    if (request_.expect_continue && !continue_sent_ && !body_read_started_) co_return false;
    const std::string_view piece = co_await read_body_some();
    dropped += piece.size();
  }
  co_return body_done_ && !failed();
}

bool http1_exchange::withdraw_response() {
  if (head_sent_) return false;
  // Only what this exchange queued: the responses to earlier pipelined requests still go out.
  auto& output = conn_.work_->output;
  output.resize(std::min(output.size(), output_mark_));
  forget_response();
  return true;
}

}  // namespace triserve::server
