#pragma once

#include <memory>
#include <string_view>

#include <asio/ip/tcp.hpp>

#include "triserve/server/tls_context.hpp"
#include "triserve/server/traffic_counters.hpp"
#include "triserve/server/transport.hpp"

#include <openssl/types.h>

namespace triserve::server {

/// A TLS connection: OpenSSL on the non-blocking socket itself, driven by Asio's readiness waits,
/// as nginx drives it. Not Asio's ssl::stream: that keeps four 17 KiB record buffers per
/// connection for its whole life, where OpenSSL here frees its buffers whenever they are empty
/// (an idle connection holds none), and its synchronous writes would lose ciphertext on a
/// non-blocking socket.
///
/// The handshake runs inside the first wait for a request (or the first read), so the connection's
/// header timeout covers it from accept on. A cleartext HTTP request arriving first is answered
/// with a cleartext 400.
class tls_transport final : public transport {
 public:
  /// `context` is the certificate new handshakes use now; the connection keeps it to its end.
  /// `counters` counts the handshake's result and the connection while it is open.
  /// `server_name` names the server in log lines and outlives the transport.
  tls_transport(asio::ip::tcp::socket socket, std::shared_ptr<const tls_context> context,
                traffic_counters& counters, std::string_view server_name);
  ~tls_transport() override;
  tls_transport(tls_transport&& other) noexcept;
  tls_transport& operator=(tls_transport&&) = delete;

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
  bool established() const override { return phase_ == tls_phase::open; }
  transport_security security() const override;

 private:
  /// Where the TLS session is in its life.
  enum class tls_phase {
    handshake_pending,  ///< nothing received yet
    open,               ///< handshake done: application data flows
    sending_closed,     ///< close_notify sent: reads only drain
    broken,  ///< a fatal error (a reset, a bad record, a failed handshake): no close_notify
  };

  /// Answers a cleartext request, or completes the handshake; an error ends the connection.
  asio::awaitable<std::error_code> handshake();
  /// Answers an HTTP request that came in cleartext, then lets the client read the answer.
  asio::awaitable<void> refuse_cleartext();
  /// Waits until the socket is ready for what OpenSSL asked (`ssl_error`: SSL_ERROR_WANT_READ or
  /// SSL_ERROR_WANT_WRITE); at once `operation_aborted` once cancel() cut this operation.
  asio::awaitable<std::error_code> wait_for(int ssl_error);
  /// What SSL_get_error's `ssl_error` means to a caller; a fatal one breaks the session.
  std::error_code outcome_of(int ssl_error);
  /// A public operation begins: a cut of the previous one no longer applies.
  void begin_operation() { cut_ = false; }
  /// Reads raw bytes after close_notify: what the client still sends is only drained.
  asio::awaitable<transfer_result> drain_some(std::span<char> room);
  /// Counts the handshake's end, once.
  void finish_handshake(handshake_result result);
  /// The handshake's wait was cut: by the deadline it timed out; a drain or forced close counts
  /// nothing (the handshake may yet finish if its bytes had arrived).
  void handshake_cut();

  asio::ip::tcp::socket socket_;
  asio::ip::tcp::endpoint peer_;
  std::shared_ptr<const tls_context> context_;
  traffic_counters* counters_;  ///< null once moved from
  std::string_view server_name_;
  struct ssl_free {
    void operator()(SSL* ssl) const;
  };
  std::unique_ptr<SSL, ssl_free> ssl_;
  tls_phase phase_ = tls_phase::handshake_pending;
  /// What the last operation that would block waited for: SSL_ERROR_WANT_READ or _WANT_WRITE.
  int wanted_ = 0;
  /// Most plaintext per record the client accepts (max_fragment_length), at most 16 KiB.
  std::size_t record_limit_ = 16384;
  /// cancel() cut the operation in progress: its later waits end at once too (a wait that had
  /// completed as the cut came would otherwise wait again, past the deadline).
  bool cut_ = false;
  cut_reason last_cut_ = cut_reason::closing;
  bool handshake_counted_ = false;
};

}  // namespace triserve::server
