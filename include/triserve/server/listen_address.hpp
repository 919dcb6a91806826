#pragma once

#include <cstdint>
#include <string>

namespace triserve::server {

/// Where a server listens: a host (empty for all interfaces), a port (0 lets the kernel pick) and
/// whether clients speak TLS there.
struct listen_address {
  std::string host;  ///< "", an IPv4/IPv6 literal without brackets, or a name to resolve
  std::uint16_t port = 0;
  bool tls = false;  ///< written "tls://HOST:PORT"
};

}  // namespace triserve::server
