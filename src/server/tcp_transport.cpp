#include "triserve/server/tcp_transport.hpp"

#include <linux/sockios.h>
#include <sys/ioctl.h>

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

namespace triserve::server {

namespace {

constexpr auto as_result = asio::experimental::as_tuple(asio::use_awaitable);

}  // namespace

tcp_transport::tcp_transport(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {
  std::error_code ignored;
  peer_ = socket_.remote_endpoint(ignored);
  // Lets write_now and read_now return at once; asynchronous operations are unaffected.
  socket_.non_blocking(true, ignored);
}

asio::awaitable<transfer_result> tcp_transport::read_some(std::span<char> room) {
  return socket_.async_read_some(asio::buffer(room.data(), room.size()), as_result);
}

std::size_t tcp_transport::read_now(std::span<char> room, std::error_code& ec) {
  return socket_.read_some(asio::buffer(room.data(), room.size()), ec);
}

asio::awaitable<std::tuple<std::error_code>> tcp_transport::wait_readable() {
  return socket_.async_wait(asio::ip::tcp::socket::wait_read, as_result);
}

bool tcp_transport::has_pending_input() const {
  std::error_code ec;
  return socket_.available(ec) > 0;
}

asio::awaitable<transfer_result> tcp_transport::write_some(
    std::span<const asio::const_buffer> pieces) {
  return socket_.async_write_some(pieces, as_result);
}

std::size_t tcp_transport::write_now(std::span<const asio::const_buffer> pieces,
                                     std::error_code& ec) {
  return socket_.write_some(pieces, ec);
}

std::size_t unacknowledged_bytes_of(const asio::ip::tcp::socket& socket) {
  int unacknowledged = 0;
  if (::ioctl(const_cast<asio::ip::tcp::socket&>(socket).native_handle(), SIOCOUTQ,
              &unacknowledged) != 0)
    return 0;
  return static_cast<std::size_t>(unacknowledged);
}

std::size_t tcp_transport::unacknowledged_bytes() const {
  return unacknowledged_bytes_of(socket_);
}

asio::awaitable<void> tcp_transport::shutdown_send() {
  std::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  co_return;
}

void tcp_transport::cancel(cut_reason) {
  std::error_code ignored;
  socket_.cancel(ignored);
}

}  // namespace triserve::server
