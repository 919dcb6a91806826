#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace triserve::integration {

/// The timeout of one client operation when a test does not name one: long enough for a daemon
/// built with AddressSanitizer, short enough that a hang fails the test instead of the CI job.
inline constexpr std::chrono::milliseconds default_io_timeout = std::chrono::seconds{5};

/// One HTTP/1.x response as read off the wire: status line, headers in order, decoded body.
struct http_response {
  std::string version;  ///< "HTTP/1.1" or "HTTP/1.0"
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;  ///< names as sent, values trimmed
  std::string body;                                          ///< de-chunked when chunked
  bool chunked = false;          ///< the body was framed by Transfer-Encoding: chunked
  bool close_delimited = false;  ///< the body had no length and ended with the connection

  /// The first value of header `name`, compared case-insensitively; nullopt when absent.
  std::optional<std::string> header(std::string_view name) const;
  /// How many header lines are named `name`, case-insensitively.
  std::size_t header_count(std::string_view name) const;
  /// Whether a header named `name` exists.
  bool has_header(std::string_view name) const { return header_count(name) > 0; }
};

/// What read_until_eof saw: the bytes, and whether the peer closed (EOF or reset) in time.
struct eof_result {
  std::string data;
  bool closed = false;  ///< false means the deadline passed with the connection still open
  bool reset = false;   ///< the peer closed with a reset (ECONNRESET) rather than a FIN
};

/// What a client asks for in a TLS handshake (raw_client::start_tls).
struct tls_options {
  /// The CA the server's certificate must chain to; empty: any certificate is accepted.
  std::string ca_file;
  /// Sent by SNI and checked against the certificate.
  std::string server_name = "localhost";
  /// The oldest and newest versions offered (TLS1_2_VERSION = 0x0303, ...); 0: OpenSSL's choice.
  int min_version = 0;
  int max_version = 0;
  /// RFC 6066's max_fragment_length mode asked for (TLSEXT_max_fragment_length_512 = 1 ...); 0:
  /// none.
  int max_fragment_length = 0;
  /// Protocols offered by ALPN, most wanted first; none: no ALPN extension.
  std::vector<std::string> alpn{"http/1.1"};
};

/// A blocking TCP client to 127.0.0.1 that speaks raw bytes and never hangs: every operation
/// takes a timeout and is driven by poll(). It owns one socket and the bytes received but not
/// yet consumed, so pipelined responses can be read one after the other. One thread may send
/// while another reads; nothing else is thread-safe.
class raw_client {
 public:
  /// Connects to 127.0.0.1:`port`; throws std::runtime_error when refused or timed out.
  explicit raw_client(std::uint16_t port, std::chrono::milliseconds timeout = default_io_timeout);
  ~raw_client();
  raw_client(const raw_client&) = delete;
  raw_client& operator=(const raw_client&) = delete;
  raw_client(raw_client&& other) noexcept;
  raw_client& operator=(raw_client&& other) noexcept;

  /// Sends every byte of `bytes`; throws when the deadline passes or the peer resets.
  void send_all(std::string_view bytes, std::chrono::milliseconds timeout = default_io_timeout);
  /// Like send_all but returns false instead of throwing (the peer may legitimately have closed).
  bool try_send_all(std::string_view bytes,
                    std::chrono::milliseconds timeout = default_io_timeout) noexcept;
  /// Sends what the connection takes now, waiting at most `timeout` for room; returns how many
  /// bytes left (0 when none fit in time). Over TLS, a call after one that sent nothing must
  /// offer at least the same bytes again (OpenSSL holds the record it made of them).
  std::size_t send_some(std::string_view bytes, std::chrono::milliseconds timeout);
  /// Half-closes the connection: the server reads EOF, we can still read.
  void shutdown_write();

  /// Makes this a TLS connection: handshakes now, and every later send and read is encrypted.
  /// Throws std::runtime_error with OpenSSL's reason when the handshake fails or times out.
  void start_tls(const tls_options& options = {},
                 std::chrono::milliseconds timeout = default_io_timeout);
  /// After start_tls: the version agreed ("TLSv1.3").
  std::string tls_version() const;
  /// After start_tls: what ALPN chose; empty when nothing.
  std::string tls_protocol() const;
  /// After start_tls: the server certificate's subject ("CN=server").
  std::string tls_peer_subject() const;
  /// After start_tls: whether the server's close_notify has arrived.
  bool received_close_notify() const;

  /// Returns buffered bytes, or waits for some to arrive. Empty means EOF, reset or timeout.
  std::string read_some(std::chrono::milliseconds timeout = default_io_timeout);
  /// Reads until the peer closes or the deadline passes; buffered bytes come first.
  eof_result read_until_eof(std::chrono::milliseconds timeout = default_io_timeout);

  /// Reads one response. Interim 1xx responses are skipped unless `skip_interim` is false, in
  /// which case one is returned on its own. `head_request` says the response has no body.
  /// Throws std::runtime_error (with what was received) on timeout, EOF or a malformed response.
  http_response read_response(std::chrono::milliseconds timeout = default_io_timeout,
                              bool skip_interim = true, bool head_request = false);

  /// Like read_response, but returns nullopt when the connection ends (EOF or reset) before the
  /// first byte of a response: the server closed without answering. Anything else that is not a
  /// complete response still throws.
  std::optional<http_response> read_response_or_close(
      std::chrono::milliseconds timeout = default_io_timeout);

  /// Sends `request` and reads the final response to it.
  http_response round_trip(std::string_view request,
                           std::chrono::milliseconds timeout = default_io_timeout);

  /// The socket, for tests that need an option this class does not offer.
  int native_handle() const { return fd_; }

 private:
  /// Waits for `events` on the socket until `deadline`; false on timeout.
  bool wait_for(short events, std::chrono::steady_clock::time_point deadline) const;
  /// Receives at most `max` bytes into the buffer. Returns bytes read; 0 on EOF; -1 on timeout.
  long fill(std::chrono::steady_clock::time_point deadline, std::size_t max = 256 * 1024);
  /// Unconsumed bytes in the buffer.
  std::string_view pending() const;
  /// Drops `n` consumed bytes from the front of the buffer.
  void consume(std::size_t n);
  /// Reads until the buffer holds a line ending in CRLF; returns it without the CRLF.
  std::string read_line(std::chrono::steady_clock::time_point deadline, std::string_view what);
  /// Reads exactly `n` body bytes and appends them to `out`.
  void read_exact(std::size_t n, std::string& out, std::chrono::steady_clock::time_point deadline);
  /// Throws with `what` and a printable excerpt of what was received.
  [[noreturn]] void fail(std::string_view what) const;

  /// Reads or writes through TLS: OpenSSL's state, absent until start_tls.
  struct tls_session;
  /// Receives into `room` over TLS or TCP: bytes, 0 for EOF (eof_ set), -1 to wait for POLLIN
  /// (or POLLOUT in `wait`), or throws.
  long receive(char* room, std::size_t size, short& wait);

  int fd_ = -1;
  std::unique_ptr<tls_session> tls_;
  std::string buffer_;
  std::size_t consumed_ = 0;  ///< bytes at the front of buffer_ already handed out
  bool eof_ = false;
  bool reset_ = false;
};

/// Whether 127.0.0.1:`port` accepts a TCP connection within `timeout` (refused -> false).
bool port_accepts(std::uint16_t port,
                  std::chrono::milliseconds timeout = std::chrono::milliseconds{500});

/// Binds 127.0.0.1:0, reads the port the kernel chose and closes the socket, so a test can name
/// a port on the command line before the daemon starts.
std::uint16_t reserve_free_port();

/// A socket listening on 127.0.0.1, held so that the daemon cannot bind the same port.
class occupied_port {
 public:
  /// Binds and listens on 127.0.0.1:`port` (0 picks one); throws on failure.
  explicit occupied_port(std::uint16_t port = 0);
  ~occupied_port();
  occupied_port(const occupied_port&) = delete;
  occupied_port& operator=(const occupied_port&) = delete;

  /// The port held.
  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

/// Renders bytes for a failure message: printable ASCII as is, the rest as \xNN, cut at `max`.
std::string printable(std::string_view bytes, std::size_t max = 400);

}  // namespace triserve::integration
