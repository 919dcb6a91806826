#include "memory_transport.hpp"

#include <algorithm>

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

namespace triserve::fuzz {

namespace {

constexpr auto as_result = asio::experimental::as_tuple(asio::use_awaitable);

}  // namespace

memory_transport::memory_transport(asio::any_io_executor executor)
    // Any fixed start will do; deadlines are only ever compared with this clock.
    : wake_(std::move(executor)), now_(clock::time_point{} + std::chrono::hours{1}) {}

asio::ip::tcp::endpoint memory_transport::peer() const {
  return {asio::ip::address_v4::loopback(), 1};
}

asio::awaitable<bool> memory_transport::wait_for_harness() {
  waiting_ = true;
  wake_.expires_at(asio::steady_timer::time_point::max());
  co_await wake_.async_wait(as_result);
  waiting_ = false;
  const bool cancelled = cancelled_;
  cancelled_ = false;
  co_return !cancelled;
}

void memory_transport::wake() {
  if (waiting_) wake_.cancel();
}

void memory_transport::cancel(server::cut_reason) {
  if (!waiting_) return;
  cancelled_ = true;
  wake_.cancel();
}

asio::awaitable<server::transfer_result> memory_transport::read_some(std::span<char> room) {
  while (incoming_.empty() && !input_closed_) {
    if (!co_await wait_for_harness())
      co_return server::transfer_result{asio::error::operation_aborted, 0};
  }
  std::error_code ec;
  const std::size_t taken = read_now(room, ec);
  co_return server::transfer_result{ec, taken};
}

std::size_t memory_transport::read_now(std::span<char> room, std::error_code& ec) {
  ec.clear();
  if (incoming_.empty()) {
    ec = input_closed_ ? std::error_code{asio::error::eof} : asio::error::would_block;
    return 0;
  }
  const std::size_t taken = std::min(room.size(), incoming_.size());
  std::copy_n(incoming_.data(), taken, room.data());
  incoming_.erase(0, taken);
  return taken;
}

asio::awaitable<std::tuple<std::error_code>> memory_transport::wait_readable() {
  while (incoming_.empty() && !input_closed_) {
    if (!co_await wait_for_harness())
      co_return std::tuple<std::error_code>{asio::error::operation_aborted};
  }
  co_return std::tuple<std::error_code>{};
}

asio::awaitable<server::transfer_result> memory_transport::write_some(
    std::span<const asio::const_buffer> pieces) {
  while (write_room_ == 0) {
    if (!co_await wait_for_harness())
      co_return server::transfer_result{asio::error::operation_aborted, 0};
  }
  co_return server::transfer_result{std::error_code{}, take_output(pieces)};
}

std::size_t memory_transport::write_now(std::span<const asio::const_buffer> pieces,
                                        std::error_code& ec) {
  ec.clear();
  if (write_room_ == 0) {
    ec = asio::error::would_block;
    return 0;
  }
  return take_output(pieces);
}

std::size_t memory_transport::take_output(std::span<const asio::const_buffer> pieces) {
  if (send_shut_down_) wrote_after_shutdown_ = true;
  std::size_t taken = 0;
  for (const auto& piece : pieces) {
    const std::size_t n = std::min(piece.size(), write_room_);
    output_.append(static_cast<const char*>(piece.data()), n);
    taken += n;
    if (write_room_ != unlimited) write_room_ -= n;
    if (n < piece.size()) break;
  }
  return taken;
}

void memory_transport::deliver(std::string_view bytes) {
  incoming_.append(bytes);
  wake();
}

void memory_transport::close_input() {
  input_closed_ = true;
  wake();
}

void memory_transport::set_write_room(std::size_t bytes) {
  write_room_ = bytes;
  wake();
}

}  // namespace triserve::fuzz
