#include "triserve/server/tls_transport.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <string_view>

#include <spdlog/spdlog.h>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ssl/error.hpp>
#include <asio/use_awaitable.hpp>

#include "triserve/server/server.hpp"
#include "triserve/server/tcp_transport.hpp"

namespace triserve::server {

namespace {

constexpr auto as_result = asio::experimental::as_tuple(asio::use_awaitable);

/// Content type 22, handshake: the first byte of every TLS connection (RFC 8446 §5.1).
constexpr unsigned char handshake_record = 0x16;
/// Most plaintext one TLS record carries (RFC 8446 §5.1): small pieces (a chunk's size line, its
/// data, its CRLF) are gathered up to it, so that they leave as one record, not three.
constexpr std::size_t max_record_plaintext = 16384;
/// Most of a refused cleartext request read before closing, so that the close does not reset the
/// connection and destroy the answer before the client has read it.
constexpr std::size_t max_cleartext_drained = 64 * 1024;
// Go answers the same way ("Client sent an HTTP request to an HTTPS server."); HTTP/1.0, because
// nothing but this one answer will follow.
constexpr std::string_view cleartext_refusal_body =
    "Client sent an HTTP request to an HTTPS server: use https:// (TLS).\n";
constexpr std::string_view cleartext_refusal_head =
    "HTTP/1.0 400 Bad Request\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Connection: close\r\n"
    "Content-Length: 68\r\n"
    "\r\n";
static_assert(cleartext_refusal_body.size() == 68);

/// OpenSSL's first error on this thread as an error_code, the queue emptied for the next user.
std::error_code openssl_error() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return std::make_error_code(std::errc::protocol_error);
  return {static_cast<int>(code), asio::error::get_ssl_category()};
}

/// Reads and drops what the socket holds; `ended` once the client has closed or failed.
std::size_t discard_waiting(asio::ip::tcp::socket& socket, bool& ended) {
  std::array<char, 4096> room;
  std::error_code ec;
  const std::size_t got = socket.read_some(asio::buffer(room), ec);
  ended = ec && ec != asio::error::would_block;
  return got;
}

/// Whether a connection's first byte starts an HTTP request line: a method is a token, and every
/// registered one begins with a capital letter.
bool starts_http_request(unsigned char first) {
  return first >= 'A' && first <= 'Z';
}

}  // namespace

void tls_transport::ssl_free::operator()(SSL* ssl) const {
  SSL_free(ssl);
}

tls_transport::tls_transport(asio::ip::tcp::socket socket,
                             std::shared_ptr<const tls_context> context, traffic_counters& counters,
                             std::string_view server_name)
    : socket_(std::move(socket)),
      context_(std::move(context)),
      counters_(&counters),
      server_name_(server_name),
      ssl_(SSL_new(context_->native())) {
  std::error_code ignored;
  peer_ = socket_.remote_endpoint(ignored);
  // OpenSSL reads and writes the socket itself and hears "would block" rather than waiting.
  socket_.non_blocking(true, ignored);
  if (!ssl_) throw std::bad_alloc();
  SSL_set_fd(ssl_.get(), socket_.native_handle());
  SSL_set_accept_state(ssl_.get());
  counters_->count_tls_connection(+1);
}

tls_transport::tls_transport(tls_transport&& other) noexcept
    : socket_(std::move(other.socket_)),
      peer_(other.peer_),
      context_(std::move(other.context_)),
      counters_(std::exchange(other.counters_, nullptr)),
      server_name_(other.server_name_),
      ssl_(std::move(other.ssl_)),
      phase_(other.phase_),
      wanted_(other.wanted_),
      record_limit_(other.record_limit_),
      cut_(other.cut_),
      last_cut_(other.last_cut_),
      handshake_counted_(other.handshake_counted_) {}

tls_transport::~tls_transport() {
  if (counters_ != nullptr) counters_->count_tls_connection(-1);
}

void tls_transport::finish_handshake(handshake_result result) {
  if (handshake_counted_) return;
  handshake_counted_ = true;
  counters_->count_handshake(result);
}

void tls_transport::handshake_cut() {
  if (last_cut_ == cut_reason::deadline) finish_handshake(handshake_result::timed_out);
}

std::error_code tls_transport::outcome_of(int ssl_error) {
  switch (ssl_error) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      return asio::error::would_block;
    // close_notify, or (SSL_OP_IGNORE_UNEXPECTED_EOF) a plain end of the stream.
    case SSL_ERROR_ZERO_RETURN:
      return asio::error::eof;
    case SSL_ERROR_SYSCALL: {
      // errno was cleared before the call: only a failure of the call itself sets it.
      const int error = errno;
      phase_ = tls_phase::broken;
      if (ERR_peek_error() != 0) return openssl_error();
      if (error != 0 && error != EAGAIN && error != EWOULDBLOCK)
        return {error, std::system_category()};
      return asio::error::eof;
    }
    default:
      // No SSL_shutdown after a fatal error (OpenSSL's rule): the session is done.
      phase_ = tls_phase::broken;
      return openssl_error();
  }
}

asio::awaitable<std::error_code> tls_transport::wait_for(int ssl_error) {
  if (cut_) co_return asio::error::operation_aborted;
  if (ssl_error == SSL_ERROR_WANT_WRITE) {
    auto [ec] = co_await socket_.async_wait(asio::ip::tcp::socket::wait_write, as_result);
    co_return ec;
  }
  // A peek rather than a readiness wait: a readiness wait re-arms the socket in epoll
  // (epoll_ctl) every time, a read waits for the socket's next edge as it is registered. The
  // byte stays for OpenSSL; an end of stream is for OpenSSL's read to meet too.
  char first = 0;
  auto [ec, peeked] = co_await socket_.async_receive(
      asio::buffer(&first, 1), asio::ip::tcp::socket::message_peek, as_result);
  if (ec == asio::error::eof) ec.clear();
  co_return ec;
}

asio::awaitable<std::error_code> tls_transport::handshake() {
  // The first byte tells a TLS client from one speaking HTTP in cleartext, which gets an answer
  // it can read rather than an alert it cannot.
  for (;;) {
    unsigned char first = 0;
    const auto peeked = ::recv(socket_.native_handle(), &first, 1, MSG_PEEK);
    if (peeked == 1) {
      if (first == handshake_record || !starts_http_request(first)) break;
      phase_ = tls_phase::broken;
      finish_handshake(handshake_result::cleartext);
      counters_->count_response(400, wire_protocol::http1);
      spdlog::debug("{} server: {} sent cleartext HTTP to a TLS port; answered 400", server_name_,
                    to_string(peer_));
      co_await refuse_cleartext();
      co_return std::make_error_code(std::errc::protocol_not_supported);
    }
    // A client that connects and leaves without a byte (a port probe) began no handshake.
    if (peeked == 0) co_return asio::error::eof;
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      const int error = errno;
      phase_ = tls_phase::broken;
      finish_handshake(handshake_result::failed);
      co_return std::error_code{error, std::system_category()};
    }
    if (const auto waited = co_await wait_for(SSL_ERROR_WANT_READ)) {
      handshake_cut();
      co_return waited;
    }
  }
  for (;;) {
    ERR_clear_error();
    errno = 0;
    const int done = SSL_do_handshake(ssl_.get());
    if (done == 1) {
      phase_ = tls_phase::open;
      // Modes 1-4 stand for 2^9 to 2^12 bytes (RFC 6066 §4); 0: none asked for.
      const auto mode = SSL_SESSION_get_max_fragment_length(SSL_get_session(ssl_.get()));
      if (mode >= TLSEXT_max_fragment_length_512 && mode <= TLSEXT_max_fragment_length_4096)
        record_limit_ = std::size_t{256} << mode;
      finish_handshake(handshake_result::ok);
      co_return std::error_code{};
    }
    const int ssl_error = SSL_get_error(ssl_.get(), done);
    if (ssl_error == SSL_ERROR_WANT_READ || ssl_error == SSL_ERROR_WANT_WRITE) {
      if (const auto waited = co_await wait_for(ssl_error)) {
        handshake_cut();
        co_return waited;
      }
      continue;
    }
    // OpenSSL has sent the client its alert already.
    const auto failure = outcome_of(ssl_error);
    phase_ = tls_phase::broken;
    finish_handshake(handshake_result::failed);
    spdlog::debug("{} server: TLS handshake with {} failed: {}", server_name_, to_string(peer_),
                  failure.message());
    co_return failure ? failure : asio::error::eof;
  }
}

asio::awaitable<void> tls_transport::refuse_cleartext() {
  // The answer fits an empty send buffer: sent at once or not at all.
  std::error_code ignored;
  const std::array refusal{asio::buffer(cleartext_refusal_head),
                           asio::buffer(cleartext_refusal_body)};
  socket_.write_some(refusal, ignored);
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  // What the client sent is read and dropped, so that the close does not reset the connection
  // and destroy the answer before the client has read it.
  for (std::size_t drained = 0; drained < max_cleartext_drained;) {
    if (co_await wait_for(SSL_ERROR_WANT_READ)) break;
    bool ended = false;
    drained += discard_waiting(socket_, ended);
    if (ended) break;
  }
}

asio::awaitable<transfer_result> tls_transport::drain_some(std::span<char> room) {
  return socket_.async_read_some(asio::buffer(room.data(), room.size()), as_result);
}

asio::awaitable<transfer_result> tls_transport::read_some(std::span<char> room) {
  begin_operation();
  if (phase_ == tls_phase::handshake_pending) {
    if (const auto failed = co_await handshake()) co_return transfer_result{failed, 0};
  }
  if (phase_ == tls_phase::sending_closed || phase_ == tls_phase::broken)
    co_return co_await drain_some(room);
  for (;;) {
    std::error_code ec;
    const std::size_t got = read_now(room, ec);
    if (ec != asio::error::would_block) co_return transfer_result{ec, got};
    if (const auto waited = co_await wait_for(wanted_)) co_return transfer_result{waited, 0};
  }
}

std::size_t tls_transport::read_now(std::span<char> room, std::error_code& ec) {
  ec.clear();
  // Before the handshake (or after close_notify) only read_some knows what to do.
  if (phase_ != tls_phase::open) return 0;
  ERR_clear_error();
  errno = 0;
  std::size_t got = 0;
  const int done = SSL_read_ex(ssl_.get(), room.data(), room.size(), &got);
  if (done == 1) return got;
  wanted_ = SSL_get_error(ssl_.get(), done);
  ec = outcome_of(wanted_);
  return 0;
}

asio::awaitable<std::tuple<std::error_code>> tls_transport::wait_readable() {
  begin_operation();
  // A new connection waits for its first request here, idle as far as the drain is concerned:
  // the handshake happens in this wait, so that a client that has shaken hands but sent nothing
  // is closed by a drain like any idle one.
  if (phase_ == tls_phase::handshake_pending) {
    if (const auto failed = co_await handshake()) co_return std::tuple{failed};
  }
  // Bytes OpenSSL read ahead are no longer in the socket: readiness would never come for them.
  // Peeking decrypts a whole record that waits there; half a record waits for the rest.
  if (phase_ == tls_phase::open && SSL_has_pending(ssl_.get()) == 1) {
    ERR_clear_error();
    char probe = 0;
    std::size_t got = 0;
    const int done = SSL_peek_ex(ssl_.get(), &probe, 1, &got);
    const int ssl_error = done == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_.get(), done);
    ERR_clear_error();
    // Data, an end or an error: the read that follows takes it.
    if (ssl_error != SSL_ERROR_WANT_READ && ssl_error != SSL_ERROR_WANT_WRITE)
      co_return std::tuple<std::error_code>{};
    // A reply OpenSSL must send first (a KeyUpdate's) waits for room; then the read goes on.
    if (ssl_error == SSL_ERROR_WANT_WRITE) co_return std::tuple{co_await wait_for(ssl_error)};
  }
  co_return std::tuple{co_await wait_for(SSL_ERROR_WANT_READ)};
}

bool tls_transport::has_pending_input() const {
  if (phase_ == tls_phase::open && SSL_has_pending(ssl_.get()) == 1) return true;
  std::error_code ec;
  return socket_.available(ec) > 0;
}

std::size_t tls_transport::write_now(std::span<const asio::const_buffer> pieces,
                                     std::error_code& ec) {
  ec.clear();
  if (phase_ != tls_phase::open) {
    ec = asio::error::broken_pipe;
    return 0;
  }
  std::size_t taken = 0;
  std::size_t index = 0;
  std::size_t offset = 0;
  std::array<char, max_record_plaintext> gathered;
  // A client may have asked for small records (RFC 6066's max_fragment_length: 512 bytes and up):
  // gathering more than one record's worth would copy the same bytes again for every record.
  const std::size_t record_size = std::min(max_record_plaintext, record_limit_);
  while (index < pieces.size()) {
    const auto* start = static_cast<const char*>(pieces[index].data()) + offset;
    std::size_t size = pieces[index].size() - offset;
    // A piece that fills a record alone (or the last one) goes as it is; smaller ones are gathered
    // into one record. After a write that would block, OpenSSL holds the record it made and
    // expects the same bytes again: the same pieces from the same place gather the same way.
    if (size < record_size && index + 1 < pieces.size()) {
      std::size_t filled = 0;
      for (std::size_t i = index, skip = offset; i < pieces.size() && filled < record_size;
           ++i, skip = 0) {
        const std::size_t part = std::min(pieces[i].size() - skip, record_size - filled);
        std::memcpy(gathered.data() + filled, static_cast<const char*>(pieces[i].data()) + skip,
                    part);
        filled += part;
      }
      start = gathered.data();
      size = filled;
    }
    ERR_clear_error();
    errno = 0;
    std::size_t written = 0;
    const int done = SSL_write_ex(ssl_.get(), start, size, &written);
    if (done != 1) {
      wanted_ = SSL_get_error(ssl_.get(), done);
      const auto failure = outcome_of(wanted_);
      // What was taken is reported; a would-block after it is no news.
      if (taken == 0 || failure != asio::error::would_block) ec = failure;
      return taken;
    }
    taken += written;
    for (; index < pieces.size() && written >= pieces[index].size() - offset; ++index) {
      written -= pieces[index].size() - offset;
      offset = 0;
    }
    offset += written;
  }
  return taken;
}

asio::awaitable<transfer_result> tls_transport::write_some(
    std::span<const asio::const_buffer> pieces) {
  begin_operation();
  for (;;) {
    std::error_code ec;
    const std::size_t written = write_now(pieces, ec);
    if (written > 0 || ec != asio::error::would_block) co_return transfer_result{ec, written};
    if (const auto waited = co_await wait_for(wanted_)) co_return transfer_result{waited, 0};
  }
}

std::size_t tls_transport::unacknowledged_bytes() const {
  // Ciphertext, a few bytes per record more than the plaintext it carries: progress reads
  // slightly low.
  return unacknowledged_bytes_of(socket_);
}

asio::awaitable<void> tls_transport::shutdown_send() {
  begin_operation();
  if (phase_ == tls_phase::open) {
    phase_ = tls_phase::sending_closed;
    for (;;) {
      ERR_clear_error();
      errno = 0;
      // One call sends close_notify; waiting for the client's would let a silent client hold
      // the drain (SSL_shutdown's second call, and Asio's async_shutdown, wait for it).
      const int done = SSL_shutdown(ssl_.get());
      if (done >= 0) break;
      const int ssl_error = SSL_get_error(ssl_.get(), done);
      ERR_clear_error();
      if (ssl_error != SSL_ERROR_WANT_WRITE) break;
      if (co_await wait_for(ssl_error)) break;
    }
  }
  if (phase_ != tls_phase::broken) phase_ = tls_phase::sending_closed;
  std::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}

void tls_transport::cancel(cut_reason why) {
  cut_ = true;
  last_cut_ = why;
  std::error_code ignored;
  socket_.cancel(ignored);
}

transport_security tls_transport::security() const {
  if (phase_ == tls_phase::handshake_pending || !handshake_counted_) return {};
  const unsigned char* protocol = nullptr;
  unsigned int length = 0;
  SSL_get0_alpn_selected(ssl_.get(), &protocol, &length);
  return {SSL_get_version(ssl_.get()),
          std::string_view(reinterpret_cast<const char*>(protocol), length)};
}

}  // namespace triserve::server
