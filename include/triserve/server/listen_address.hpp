#pragma once

#include <cstdint>
#include <string>

namespace triserve::server {

/// Where a server listens: a host (empty for all interfaces) and a port (0 lets the kernel pick).
struct listen_address {
  std::string host;  ///< "", an IPv4/IPv6 literal without brackets, or a name to resolve
  std::uint16_t port = 0;
};

}  // namespace triserve::server
