#include "support/raw_client.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace triserve::integration {

using namespace std::chrono_literals;
namespace {

using steady = std::chrono::steady_clock;

/// Milliseconds left until `deadline`, clamped to what poll() accepts.
int remaining_ms(steady::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 60 * 60 * 1000));
}

[[noreturn]] void throw_errno(std::string_view what) {
  throw std::system_error(errno, std::generic_category(), std::string(what));
}

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

/// Starts a non-blocking connect to 127.0.0.1:`port` and waits for it. Returns the socket, or -1
/// with errno set when refused or timed out.
int connect_loopback(std::uint16_t port, std::chrono::milliseconds timeout) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_errno("socket");
  const auto addr = loopback(port);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return fd;
  if (errno != EINPROGRESS) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return -1;
  }
  pollfd p{fd, POLLOUT, 0};
  const int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
  int error = ETIMEDOUT;
  if (ready > 0) {
    socklen_t len = sizeof error;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
  }
  if (error != 0) {
    ::close(fd);
    errno = error;
    return -1;
  }
  return fd;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// Whether a comma-separated header value lists `token` (case-insensitive).
bool lists_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const auto comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

std::optional<std::string> http_response::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return value;
  }
  return std::nullopt;
}

std::size_t http_response::header_count(std::string_view name) const {
  return static_cast<std::size_t>(std::count_if(
      headers.begin(), headers.end(), [&](const auto& h) { return iequals(h.first, name); }));
}

struct raw_client::tls_session {
  struct context_free {
    void operator()(SSL_CTX* context) const { SSL_CTX_free(context); }
  };
  struct ssl_free {
    void operator()(SSL* ssl) const { SSL_free(ssl); }
  };
  std::unique_ptr<SSL_CTX, context_free> context;
  std::unique_ptr<SSL, ssl_free> ssl;
};

namespace {

/// OpenSSL's reason for the last failure on this thread, the queue emptied.
std::string openssl_reason() {
  const unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return "no OpenSSL error recorded";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

}  // namespace

void raw_client::start_tls(const tls_options& options, std::chrono::milliseconds timeout) {
  // OpenSSL writes with write(2): a daemon that died mid-test must fail the test, not kill it.
  std::signal(SIGPIPE, SIG_IGN);
  const auto deadline = steady::now() + timeout;
  auto session = std::make_unique<tls_session>();
  session->context.reset(SSL_CTX_new(TLS_client_method()));
  SSL_CTX* context = session->context.get();
  // send_some may offer the bytes of a write that would block again from another buffer.
  SSL_CTX_set_mode(context, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (options.min_version != 0) SSL_CTX_set_min_proto_version(context, options.min_version);
  if (options.max_fragment_length != 0)
    SSL_CTX_set_tlsext_max_fragment_length(context,
                                           static_cast<std::uint8_t>(options.max_fragment_length));
  if (options.max_version != 0) SSL_CTX_set_max_proto_version(context, options.max_version);
  // Old versions are what some tests offer on purpose: Debian's default security level would
  // refuse to even offer them.
  if (options.max_version != 0 && options.max_version < TLS1_2_VERSION)
    SSL_CTX_set_security_level(context, 0);
  if (!options.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(context, options.ca_file.c_str(), nullptr) != 1)
      throw std::runtime_error("cannot load CA " + options.ca_file + ": " + openssl_reason());
    SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nullptr);
  }
  if (!options.alpn.empty()) {
    std::string wire;
    for (const auto& protocol : options.alpn) {
      wire.push_back(static_cast<char>(protocol.size()));
      wire.append(protocol);
    }
    SSL_CTX_set_alpn_protos(context, reinterpret_cast<const unsigned char*>(wire.data()),
                            static_cast<unsigned>(wire.size()));
  }
  session->ssl.reset(SSL_new(context));
  SSL* ssl = session->ssl.get();
  SSL_set_fd(ssl, fd_);
  SSL_set_tlsext_host_name(ssl, options.server_name.c_str());
  if (!options.ca_file.empty()) SSL_set1_host(ssl, options.server_name.c_str());
  for (int attempt = 0; attempt < 100000; ++attempt) {
    ERR_clear_error();
    const int done = SSL_connect(ssl);
    if (done == 1) {
      tls_ = std::move(session);
      return;
    }
    const int error = SSL_get_error(ssl, done);
    if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE)
      throw std::runtime_error("TLS handshake failed: " + openssl_reason());
    if (!wait_for(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline))
      throw std::runtime_error("TLS handshake timed out");
  }
  throw std::runtime_error("TLS handshake did not finish");
}

std::string raw_client::tls_version() const {
  return SSL_get_version(tls_->ssl.get());
}

std::string raw_client::tls_protocol() const {
  const unsigned char* protocol = nullptr;
  unsigned int length = 0;
  SSL_get0_alpn_selected(tls_->ssl.get(), &protocol, &length);
  return std::string(reinterpret_cast<const char*>(protocol), length);
}

std::string raw_client::tls_peer_subject() const {
  X509* certificate = SSL_get1_peer_certificate(tls_->ssl.get());
  if (certificate == nullptr) return {};
  char text[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(certificate), NID_commonName, text, sizeof text);
  X509_free(certificate);
  return std::string("CN=") + text;
}

bool raw_client::received_close_notify() const {
  return tls_ && (SSL_get_shutdown(tls_->ssl.get()) & SSL_RECEIVED_SHUTDOWN) != 0;
}

long raw_client::receive(char* room, std::size_t size, short& wait) {
  wait = POLLIN;
  if (!tls_) {
    const auto got = ::recv(fd_, room, size, 0);
    if (got >= 0) return static_cast<long>(got);
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return -1;
    if (errno == ECONNRESET) {
      reset_ = true;
      return 0;
    }
    throw_errno("recv");
  }
  ERR_clear_error();
  errno = 0;
  std::size_t got = 0;
  const int done = SSL_read_ex(tls_->ssl.get(), room, size, &got);
  if (done == 1) return static_cast<long>(got);
  switch (SSL_get_error(tls_->ssl.get(), done)) {
    case SSL_ERROR_WANT_READ:
      return -1;
    case SSL_ERROR_WANT_WRITE:
      wait = POLLOUT;
      return -1;
    case SSL_ERROR_ZERO_RETURN:
      return 0;
    default: {
      // A reset, or the stream ending without close_notify: both end it.
      const int error = errno;
      reset_ = error == ECONNRESET;
      ERR_clear_error();
      return 0;
    }
  }
}

raw_client::raw_client(std::uint16_t port, std::chrono::milliseconds timeout) {
  fd_ = connect_loopback(port, timeout);
  if (fd_ < 0) {
    throw std::system_error(errno, std::generic_category(),
                            "connect to 127.0.0.1:" + std::to_string(port));
  }
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

raw_client::~raw_client() {
  if (fd_ >= 0) ::close(fd_);
}

raw_client::raw_client(raw_client&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      tls_(std::move(other.tls_)),
      buffer_(std::move(other.buffer_)),
      consumed_(other.consumed_),
      eof_(other.eof_),
      reset_(other.reset_) {}

raw_client& raw_client::operator=(raw_client&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    tls_ = std::move(other.tls_);
    buffer_ = std::move(other.buffer_);
    consumed_ = other.consumed_;
    eof_ = other.eof_;
    reset_ = other.reset_;
  }
  return *this;
}

bool raw_client::wait_for(short events, steady::time_point deadline) const {
  for (int attempt = 0; attempt < 1000; ++attempt) {
    pollfd p{fd_, events, 0};
    const int ready = ::poll(&p, 1, remaining_ms(deadline));
    if (ready > 0) return true;
    if (ready == 0) return false;
    if (errno != EINTR) throw_errno("poll");
  }
  return false;
}

bool raw_client::try_send_all(std::string_view bytes, std::chrono::milliseconds timeout) noexcept {
  const auto deadline = steady::now() + timeout;
  while (!bytes.empty()) {
    if (tls_) {
      ERR_clear_error();
      std::size_t written = 0;
      const int done = SSL_write_ex(tls_->ssl.get(), bytes.data(), bytes.size(), &written);
      if (done == 1) {
        bytes.remove_prefix(written);
        continue;
      }
      const int error = SSL_get_error(tls_->ssl.get(), done);
      ERR_clear_error();
      if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) return false;
      try {
        if (wait_for(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) continue;
      } catch (...) {
      }
      errno = ETIMEDOUT;
      return false;
    }
    const auto sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(sent));
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      try {
        if (wait_for(POLLOUT, deadline)) continue;
      } catch (...) {
      }
      errno = ETIMEDOUT;
    }
    return false;
  }
  return true;
}

std::size_t raw_client::send_some(std::string_view bytes, std::chrono::milliseconds timeout) {
  const auto deadline = steady::now() + timeout;
  for (int attempt = 0; attempt < 2; ++attempt) {
    short wait = POLLOUT;
    if (tls_) {
      ERR_clear_error();
      std::size_t written = 0;
      const int done = SSL_write_ex(tls_->ssl.get(), bytes.data(), bytes.size(), &written);
      if (done == 1) return written;
      const int error = SSL_get_error(tls_->ssl.get(), done);
      ERR_clear_error();
      if (error == SSL_ERROR_WANT_READ)
        wait = POLLIN;
      else if (error != SSL_ERROR_WANT_WRITE)
        throw std::runtime_error("TLS send failed");
    } else {
      const auto sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (sent >= 0) return static_cast<std::size_t>(sent);
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) throw_errno("send");
    }
    if (attempt == 0 && !wait_for(wait, deadline)) return 0;
  }
  return 0;
}

void raw_client::send_all(std::string_view bytes, std::chrono::milliseconds timeout) {
  const auto size = bytes.size();
  if (!try_send_all(bytes, timeout)) {
    throw std::system_error(errno, std::generic_category(),
                            "send of " + std::to_string(size) + " bytes");
  }
}

void raw_client::shutdown_write() {
  if (::shutdown(fd_, SHUT_WR) != 0) throw_errno("shutdown(SHUT_WR)");
}

long raw_client::fill(steady::time_point deadline, std::size_t max) {
  if (eof_) return 0;
  // Keep the buffer from growing without bound while a large body streams through it.
  if (consumed_ > 0 && consumed_ >= buffer_.size() / 2) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const auto old_size = buffer_.size();
    buffer_.resize(old_size + max);
    short wait = POLLIN;
    const long got = receive(buffer_.data() + old_size, max, wait);
    buffer_.resize(old_size + static_cast<std::size_t>(std::max(got, 0L)));
    if (got > 0) return got;
    if (got == 0) {
      eof_ = true;
      return 0;
    }
    if (!wait_for(wait, deadline)) return -1;
  }
  return -1;
}

std::string_view raw_client::pending() const {
  return std::string_view(buffer_).substr(consumed_);
}

void raw_client::consume(std::size_t n) {
  consumed_ += std::min(n, buffer_.size() - consumed_);
}

std::string raw_client::read_some(std::chrono::milliseconds timeout) {
  if (pending().empty()) fill(steady::now() + timeout);
  std::string out(pending());
  consume(out.size());
  return out;
}

eof_result raw_client::read_until_eof(std::chrono::milliseconds timeout) {
  const auto deadline = steady::now() + timeout;
  eof_result result;
  for (;;) {
    result.data.append(pending());
    consume(pending().size());
    if (eof_) break;
    if (fill(deadline) < 0) break;
  }
  result.closed = eof_;
  result.reset = reset_;
  return result;
}

void raw_client::fail(std::string_view what) const {
  const auto start = consumed_ > 200 ? consumed_ - 200 : 0;
  throw std::runtime_error(std::string(what) + (eof_ ? " (connection closed" : " (still open") +
                           (reset_ ? " by reset)" : ")") + "; bytes near the read position: \"" +
                           printable(std::string_view(buffer_).substr(start)) + "\"");
}

std::string raw_client::read_line(steady::time_point deadline, std::string_view what) {
  for (int attempt = 0; attempt < 100000; ++attempt) {
    const auto data = pending();
    const auto end = data.find("\r\n");
    if (end != std::string_view::npos) {
      std::string line(data.substr(0, end));
      consume(end + 2);
      return line;
    }
    if (data.size() > 1024 * 1024) fail(std::string(what) + ": line longer than 1 MiB");
    const auto got = fill(deadline);
    if (got == 0) fail(std::string(what) + ": connection closed before the end of the line");
    if (got < 0) fail(std::string(what) + ": timed out");
  }
  fail(std::string(what) + ": too many reads");
}

void raw_client::read_exact(std::size_t n, std::string& out, steady::time_point deadline) {
  out.reserve(out.size() + n);
  while (n > 0) {
    const auto data = pending().substr(0, n);
    out.append(data);
    consume(data.size());
    n -= data.size();
    if (n == 0) break;
    const auto got = fill(deadline);
    if (got == 0) fail("body: connection closed with " + std::to_string(n) + " bytes missing");
    if (got < 0) fail("body: timed out with " + std::to_string(n) + " bytes missing");
  }
}

std::optional<http_response> raw_client::read_response_or_close(std::chrono::milliseconds timeout) {
  const auto deadline = steady::now() + timeout;
  if (pending().empty()) {
    const auto got = fill(deadline);
    if (got == 0) return std::nullopt;
    if (got < 0) fail("response: timed out before its first byte");
  }
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
  return read_response(std::max(left, std::chrono::milliseconds{1}));
}

http_response raw_client::read_response(std::chrono::milliseconds timeout, bool skip_interim,
                                        bool head_request) {
  const auto deadline = steady::now() + timeout;
  for (int interim = 0; interim < 16; ++interim) {
    http_response r;
    const auto status_line = read_line(deadline, "status line");
    // "HTTP/1.1 200 OK": version, three digits, optional reason.
    const auto sp1 = status_line.find(' ');
    if (sp1 == std::string::npos || status_line.size() < sp1 + 4 ||
        status_line.compare(0, 5, "HTTP/") != 0) {
      fail("malformed status line \"" + printable(status_line) + "\"");
    }
    r.version = status_line.substr(0, sp1);
    try {
      r.status = std::stoi(status_line.substr(sp1 + 1, 3));
    } catch (const std::exception&) {
      fail("malformed status code in \"" + printable(status_line) + "\"");
    }
    if (status_line.size() > sp1 + 5) r.reason = status_line.substr(sp1 + 5);
    for (int count = 0;; ++count) {
      if (count > 1000) fail("more than 1000 header lines");
      const auto line = read_line(deadline, "header line");
      if (line.empty()) break;
      const auto colon = line.find(':');
      if (colon == std::string::npos) fail("header line without a colon: " + printable(line));
      r.headers.emplace_back(line.substr(0, colon),
                             std::string(trim(std::string_view(line).substr(colon + 1))));
    }
    if (r.status >= 100 && r.status < 200) {
      if (skip_interim) continue;
      return r;
    }
    if (head_request || r.status == 204 || r.status == 304) return r;

    const auto te = r.header("Transfer-Encoding");
    const auto cl = r.header("Content-Length");
    if (te && lists_token(*te, "chunked")) {
      r.chunked = true;
      for (int chunk = 0;; ++chunk) {
        if (chunk > 10'000'000) fail("too many chunks");
        const auto size_line = read_line(deadline, "chunk size");
        std::size_t size = 0;
        const auto digits = size_line.substr(0, size_line.find(';'));
        if (digits.empty() || digits.size() > 15 ||
            std::sscanf(digits.c_str(), "%zx", &size) != 1) {
          fail("malformed chunk size line \"" + printable(size_line) + "\"");
        }
        if (size == 0) break;
        read_exact(size, r.body, deadline);
        if (!read_line(deadline, "chunk end").empty()) fail("chunk data longer than its size");
      }
      // Trailer section, then the final empty line.
      for (int count = 0; count < 1000; ++count) {
        if (read_line(deadline, "trailer").empty()) break;
      }
    } else if (cl) {
      std::size_t length = 0;
      try {
        length = std::stoull(*cl);
      } catch (const std::exception&) {
        fail("malformed Content-Length \"" + printable(*cl) + "\"");
      }
      read_exact(length, r.body, deadline);
    } else {
      r.close_delimited = true;
      auto rest = read_until_eof(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()));
      if (!rest.closed) fail("close-delimited body: timed out before the connection closed");
      r.body = std::move(rest.data);
    }
    return r;
  }
  fail("more than 16 interim responses");
}

http_response raw_client::round_trip(std::string_view request, std::chrono::milliseconds timeout) {
  send_all(request, timeout);
  return read_response(timeout);
}

bool port_accepts(std::uint16_t port, std::chrono::milliseconds timeout) {
  const int fd = connect_loopback(port, timeout);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

std::uint16_t reserve_free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_errno("socket");
  auto addr = loopback(0);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    throw_errno("reserve a port on 127.0.0.1");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

occupied_port::occupied_port(std::uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw_errno("socket");
  auto addr = loopback(port);
  socklen_t len = sizeof addr;
  if (::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd_, 16) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int saved = errno;
    ::close(fd_);
    errno = saved;
    throw_errno("listen on 127.0.0.1:" + std::to_string(port));
  }
  port_ = ntohs(addr.sin_port);
}

occupied_port::~occupied_port() {
  if (fd_ >= 0) ::close(fd_);
}

std::string printable(std::string_view bytes, std::size_t max) {
  std::string out;
  for (const char c : bytes.substr(0, max)) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += c;
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned char>(c));
      out += hex;
    }
  }
  if (bytes.size() > max) out += "...(" + std::to_string(bytes.size()) + " bytes)";
  return out;
}

}  // namespace triserve::integration
