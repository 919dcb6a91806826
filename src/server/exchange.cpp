#include "triserve/server/exchange.hpp"

#include "triserve/server/handler.hpp"

namespace triserve::server {

exchange::exchange(const http::request& request, std::string& scratch)
    : request_(request), scratch_(scratch) {}

std::optional<std::uint64_t> exchange::body_length() const {
  switch (request_.framing) {
    case http::body_framing::none:
      return 0;
    case http::body_framing::content_length:
      return request_.content_length;
    case http::body_framing::chunked:
    case http::body_framing::stream_end:
      break;
  }
  return std::nullopt;
}

std::optional<exchange::error_answer> exchange::answer_for(failure why) {
  switch (why) {
    case failure::bad_body:
      return error_answer{400, "malformed chunked body"};
    case failure::body_timeout:
      return error_answer{408, "timed out reading the request body"};
    case failure::body_too_slow:
      return error_answer{408, "request body arrived below the minimum rate"};
    case failure::none:
    case failure::handler_bug:
      return error_answer{500, "the handler did not answer"};
    case failure::disconnected:
    case failure::write_failed:
      break;
  }
  return std::nullopt;
}

void exchange::fail(failure why) {
  if (failure_ != failure::none) return;
  failure_ = why;
  if (state_ == response_state::streaming && !head_queued_) {
    state_ = response_state::none;
    status_ = 0;
  }
}

void exchange::forget_response() {
  state_ = response_state::none;
  head_queued_ = false;
  status_ = 0;
  body_bytes_sent_ = 0;
}

asio::awaitable<std::exception_ptr> run_handler(const handler& answer, exchange& ex) {
  // Returned past the catch block, where co_await is allowed to follow.
  std::exception_ptr fault;
  try {
    co_await answer(ex);
  } catch (...) {
    fault = std::current_exception();
  }
  co_return fault;
}

}  // namespace triserve::server
