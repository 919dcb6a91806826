#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "triserve/app/address.hpp"
#include "triserve/app/logging.hpp"
#include "triserve/server/server_options.hpp"
#include "triserve/server/tls_settings.hpp"

namespace triserve::app {

/// Default ports and the drain deadline of the Go program triserve re-creates.
inline constexpr std::uint16_t default_hello_port = 7000;
inline constexpr std::uint16_t default_hello_name_port = 8000;
inline constexpr std::uint16_t default_echo_port = 9000;
// The Go program gives Server.Shutdown a context with a 5-second timeout.
inline constexpr std::chrono::milliseconds default_drain_timeout{5000};

/// Everything the command line, the environment and the configuration file decide.
struct config {
  /// Where each server listens: one address or several (cleartext and TLS side by side).
  std::vector<listen_address> hello{{"", default_hello_port}};
  std::vector<listen_address> hello_name{{"", default_hello_name_port}};
  std::vector<listen_address> echo{{"", default_echo_port}};
  /// The internal admin listener (/healthz, /readyz, /metrics); none when empty, the default.
  std::vector<listen_address> admin;
  /// The certificate and key of every tls:// listener; both empty when none was given.
  server::tls_settings tls;
  std::chrono::milliseconds drain_timeout = default_drain_timeout;
  /// How long a signal leaves the servers up but not ready before the drain begins.
  std::chrono::milliseconds drain_delay{0};
  std::string log_level = "info";
  app::log_format log_format = app::log_format::text;
  /// Threads running the one io_context. One is the fastest per core; more spread connections.
  unsigned threads = 1;
  server::server_options server;  ///< limits and timeouts shared by the three servers
};

}  // namespace triserve::app
