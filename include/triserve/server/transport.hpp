#pragma once

#include <chrono>
#include <cstddef>
#include <span>
#include <string_view>
#include <system_error>
#include <tuple>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/ip/tcp.hpp>

namespace triserve::server {

/// What an asynchronous read or write completed with: an error (end of stream, cancellation, a
/// reset) or none, and how many bytes moved.
using transfer_result = std::tuple<std::error_code, std::size_t>;

/// Why a connection cuts the operation in progress on its transport.
enum class cut_reason {
  deadline,  ///< its timeout (or a minimum rate) passed
  closing,   ///< the drain closes it idle, or a forced close
  shedding   ///< an idle wait gives its buffer back and waits on without one
};

/// What protects a connection, for the access log: both empty over cleartext.
struct transport_security {
  std::string_view version;   ///< "TLSv1.3"
  std::string_view protocol;  ///< what ALPN chose ("http/1.1"), empty when the client offered none
};

/// The byte stream under one connection: a TCP socket, a TLS stream over one, or bytes in memory
/// that a fuzzer feeds. The connection speaks HTTP over it and knows nothing else of it; a
/// transport knows nothing of HTTP. Every member runs on the connection's executor.
///
/// Besides bytes in and out, a transport is the connection's clock: the time its deadlines are
/// measured in, which a fuzzer drives by hand.
class transport {
 public:
  using clock = std::chrono::steady_clock;

  virtual ~transport() = default;

  /// Where the connection's work runs: its strand when the io_context runs on several threads.
  virtual asio::any_io_executor executor() = 0;
  /// The client's address, for logs; unspecified when unknown.
  virtual asio::ip::tcp::endpoint peer() const = 0;
  /// The time now, as the connection's deadlines are measured.
  virtual clock::time_point now() const = 0;

  /// Receives at least one byte into `room`. `asio::error::eof` when the client has finished
  /// sending; `operation_aborted` when cancel() cut the wait.
  virtual asio::awaitable<transfer_result> read_some(std::span<char> room) = 0;
  /// Receives what has already arrived, without waiting: `asio::error::would_block` when
  /// nothing has. A transport that cannot tell (TLS: bytes on the socket may be half a record)
  /// returns 0 bytes and no error, and the caller reads with read_some.
  virtual std::size_t read_now(std::span<char> room, std::error_code& ec) = 0;
  /// Waits until something arrives (or the client closes), without holding a buffer meanwhile.
  virtual asio::awaitable<std::tuple<std::error_code>> wait_readable() = 0;
  /// Whether bytes from the client wait to be read.
  virtual bool has_pending_input() const = 0;

  /// Sends part of `pieces`, at least one byte. `operation_aborted` when cancel() cut the wait.
  virtual asio::awaitable<transfer_result> write_some(
      std::span<const asio::const_buffer> pieces) = 0;
  /// Sends what can be sent without waiting: `asio::error::would_block` when nothing can.
  virtual std::size_t write_now(std::span<const asio::const_buffer> pieces,
                                std::error_code& ec) = 0;
  /// Bytes written that the client has not acknowledged yet (the kernel's send queue); 0 when
  /// the transport cannot tell. Progress of a slow reader shows here before a write completes.
  virtual std::size_t unacknowledged_bytes() const = 0;

  /// Tells the client that nothing more will be sent (TLS close_notify, then TCP FIN), while
  /// still receiving; never waits for the client's reply. May wait for room to send close_notify:
  /// cancel() cuts that wait.
  virtual asio::awaitable<void> shutdown_send() = 0;
  /// Whether an answer can be sent: false while a TLS handshake has not completed.
  virtual bool established() const { return true; }
  /// TLS version and ALPN protocol, once the handshake is done.
  virtual transport_security security() const { return {}; }
  /// Cuts the read, write or wait in progress, and every wait it would still make before
  /// returning: it completes with `operation_aborted`.
  virtual void cancel(cut_reason why) = 0;
};

}  // namespace triserve::server
