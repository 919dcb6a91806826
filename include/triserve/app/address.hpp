#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace triserve::app {

/// Where a server listens, as the user wrote it: a host (empty for all interfaces) and a port.
struct listen_address {
  std::string host;  ///< "" (all interfaces), an IPv4/IPv6 literal without brackets, or a name
  std::uint16_t port = 0;  ///< 0 lets the kernel pick a free port
};

/// Parses ":7000", "127.0.0.1:7000", "[::1]:7000" or "localhost:7000". Throws
/// std::invalid_argument with a message naming what is wrong (missing port, bad port, unclosed
/// bracket...). No name resolution happens here.
listen_address parse_listen_address(std::string_view text);

/// Formats an address back the way it is accepted: ":7000", "[::1]:7000", "localhost:7000".
std::string to_string(const listen_address& address);

}  // namespace triserve::app
