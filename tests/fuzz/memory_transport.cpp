#include "memory_transport.hpp"

#include <algorithm>

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

namespace triserve::fuzz {

namespace {

constexpr auto as_result = asio::experimental::as_tuple(asio::use_awaitable);

}  // namespace

memory_transport::memory_transport(asio::any_io_executor executor)
    : tick_(executor), reading_(executor), writing_(executor) {
  harness_clock::restart();
}

asio::ip::tcp::endpoint memory_transport::peer() const {
  return {asio::ip::address_v4::loopback(), 1};
}

asio::awaitable<bool> memory_transport::wait_for_harness(direction& side) {
  side.waiting = true;
  side.wake.expires_at(asio::steady_timer::time_point::max());
  co_await side.wake.async_wait(as_result);
  side.waiting = false;
  const bool cancelled = side.cancelled;
  side.cancelled = false;
  co_return !cancelled;
}

void memory_transport::wake(direction& side) {
  if (side.waiting) side.wake.cancel();
}

void memory_transport::cancel(server::cut_reason) {
  for (direction* side : {&reading_, &writing_}) {
    if (!side->waiting) continue;
    side->cancelled = true;
    side->wake.cancel();
  }
}

void memory_transport::advance(clock::duration by) {
  harness_clock::advance(by);
  // asio's reactor looks at its timers when a timerfd it armed in real time fires. A timer due
  // at once makes it arm that for now, and the next poll then finds every timer the jump made due.
  tick_.expires_at(clock::time_point::min());
  tick_.async_wait([](std::error_code) {});
}

asio::awaitable<server::transfer_result> memory_transport::read_some(std::span<char> room) {
  while (incoming_.empty() && !input_closed_) {
    if (!co_await wait_for_harness(reading_))
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
    if (!co_await wait_for_harness(reading_))
      co_return std::tuple<std::error_code>{asio::error::operation_aborted};
  }
  co_return std::tuple<std::error_code>{};
}

asio::awaitable<server::transfer_result> memory_transport::write_some(
    std::span<const asio::const_buffer> pieces) {
  while (write_room_ == 0) {
    if (!co_await wait_for_harness(writing_))
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
  wake(reading_);
}

void memory_transport::close_input() {
  input_closed_ = true;
  wake(reading_);
}

void memory_transport::set_write_room(std::size_t bytes) {
  write_room_ = bytes;
  wake(writing_);
}

}  // namespace triserve::fuzz
