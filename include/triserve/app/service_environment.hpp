#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace triserve::app {

/// A listening socket the service manager passed (socket activation), with its LISTEN_FDNAMES
/// name ("" when none was given).
struct passed_socket {
  int fd = -1;
  std::string name;
};

/// What a service manager (systemd) told the daemon through its environment.
struct service_environment {
  /// NOTIFY_SOCKET: where to send READY=1 and friends; empty when not run as Type=notify.
  std::string notify_socket;
  /// Half of WATCHDOG_USEC, when the watchdog is meant for this process; zero when none.
  std::chrono::microseconds watchdog_interval{0};
  /// LISTEN_FDS sockets, from file descriptor 3 on, when LISTEN_PID is this process.
  std::vector<passed_socket> sockets;
};

/// Reads NOTIFY_SOCKET, WATCHDOG_USEC/WATCHDOG_PID and LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES, then
/// removes them from the environment so that nothing the daemon starts inherits them. Checks that
/// every passed descriptor is a listening stream socket and marks it close-on-exec. Throws
/// std::invalid_argument, with one line naming the variable or descriptor, when they are malformed.
service_environment take_service_environment();

/// A passed socket as one server listens on it.
struct assigned_socket {
  int fd = -1;
  bool tls = false;  ///< its name ended ".tls": clients speak TLS on it
};

/// Which passed sockets serve which server. By name when LISTEN_FDNAMES names our servers
/// (`hello`, `hello-name`, `echo`, and `admin` optionally), each name optionally ending `.tls`
/// for a socket speaking TLS (FileDescriptorName= cannot hold "tls://"); a server may get several
/// sockets, of one name or both. Otherwise by order: exactly three, for hello, hello-name and echo,
/// all cleartext. Empty when nothing was passed. Throws std::invalid_argument for a missing,
/// extra or unknown socket.
std::map<std::string, std::vector<assigned_socket>, std::less<>> assign_passed_sockets(
    const std::vector<passed_socket>& sockets);

}  // namespace triserve::app
