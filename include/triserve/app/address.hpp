#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "triserve/server/listen_address.hpp"

namespace triserve::app {

/// Where a server listens, as the user wrote it on the command line.
using listen_address = server::listen_address;

/// Parses ":7000", "127.0.0.1:7000", "[::1]:7000" or "localhost:7000", each optionally prefixed
/// "tls://" for a listener speaking TLS. Throws std::invalid_argument with a message naming what
/// is wrong (missing port, bad port, unclosed bracket, another scheme...). No name resolution
/// happens here.
listen_address parse_listen_address(std::string_view text);

/// Formats an address back the way it is accepted: ":7000", "[::1]:7000", "tls://localhost:7000".
std::string to_string(const listen_address& address);

}  // namespace triserve::app
