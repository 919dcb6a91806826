#pragma once

#include <asio/ip/tcp.hpp>

#include "triserve/server/transport.hpp"

namespace triserve::server {

/// A plain TCP connection: the socket in non-blocking mode, so that write_now and read_now offer
/// and take bytes without waiting, while the asynchronous operations behave as always.
class tcp_transport final : public transport {
 public:
  explicit tcp_transport(asio::ip::tcp::socket socket);

  asio::any_io_executor executor() override { return socket_.get_executor(); }
  asio::ip::tcp::endpoint peer() const override { return peer_; }
  clock::time_point now() const override { return clock::now(); }

  asio::awaitable<transfer_result> read_some(std::span<char> room) override;
  std::size_t read_now(std::span<char> room, std::error_code& ec) override;
  asio::awaitable<std::tuple<std::error_code>> wait_readable() override;
  bool has_pending_input() const override;

  asio::awaitable<transfer_result> write_some(std::span<const asio::const_buffer> pieces) override;
  std::size_t write_now(std::span<const asio::const_buffer> pieces, std::error_code& ec) override;
  std::size_t unacknowledged_bytes() const override;

  asio::awaitable<void> shutdown_send() override;
  void cancel(cut_reason why) override;

 private:
  asio::ip::tcp::socket socket_;
  asio::ip::tcp::endpoint peer_;
};

/// Linux's SIOCOUTQ: bytes in `socket`'s send queue the peer has not acknowledged; 0 when the
/// kernel cannot tell.
std::size_t unacknowledged_bytes_of(const asio::ip::tcp::socket& socket);

}  // namespace triserve::server
