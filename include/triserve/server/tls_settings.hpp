#pragma once

#include <string>

namespace triserve::server {

/// The oldest TLS version a handshake may settle on.
enum class tls_version { v1_2, v1_3 };

/// Where the certificate and key of every TLS listener are, and what handshakes may use. Read at
/// start-up and again on SIGHUP.
struct tls_settings {
  /// PEM: the leaf certificate first, then its chain.
  std::string certificate_file;
  /// PEM: an RSA, ECDSA or Ed25519 private key, unencrypted.
  std::string key_file;
  /// Mozilla's "intermediate" profile: TLS 1.2 still serves old clients; 1.0 and 1.1 are broken.
  tls_version min_version = tls_version::v1_2;
  /// ALPN offers `h2` before `http/1.1` (the servers' http2 option); http/1.1 alone when false.
  bool http2 = false;
};

}  // namespace triserve::server
