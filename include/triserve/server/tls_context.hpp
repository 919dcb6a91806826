#pragma once

#include <chrono>
#include <stdexcept>
#include <string>

#include <memory>

#include <openssl/types.h>

#include "triserve/server/tls_settings.hpp"

namespace triserve::server {

/// A certificate or key that cannot serve: one line naming the file and the problem.
class tls_setup_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A certificate, its key and the rules every TLS handshake follows: what new TLS connections
/// start from. OpenSSL's own context (no Asio ssl::context: the transport drives OpenSSL itself).
/// Immutable once loaded, so any thread may start handshakes with it; a reload loads a new one, and
/// connections made with the old one keep it (OpenSSL counts its users).
class tls_context {
 public:
  /// Loads and checks the files of `settings`; throws tls_setup_error naming the file and the
  /// problem: unreadable, no PEM, an encrypted or mismatched key, an expired certificate.
  explicit tls_context(const tls_settings& settings);
  tls_context(const tls_context&) = delete;
  tls_context& operator=(const tls_context&) = delete;

  /// The OpenSSL context new connections are made from.
  SSL_CTX* native() const { return context_.get(); }
  /// The leaf certificate's subject, as RFC 4514 writes it ("CN=example.com").
  const std::string& subject() const { return subject_; }
  /// When the leaf certificate expires.
  std::chrono::system_clock::time_point not_after() const { return not_after_; }
  /// "expires 2027-03-01 12:00:00 UTC (in 84 days)", or "expired ... (3 days ago)"
  std::string describe_expiry() const;

 private:
  struct context_free {
    void operator()(SSL_CTX* context) const;
  };
  std::unique_ptr<SSL_CTX, context_free> context_;
  std::string subject_;
  std::chrono::system_clock::time_point not_after_;
};

/// Within this, a certificate's coming expiry is worth a warning at start and at each reload:
/// certbot renews 30 days ahead, so one 14 days from expiry is a renewal that failed.
inline constexpr std::chrono::hours expiry_warning_window{14 * 24};

}  // namespace triserve::server
