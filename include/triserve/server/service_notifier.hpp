#pragma once

#include <string>
#include <string_view>

namespace triserve::server {

/// Tells a service manager how the daemon is doing, in systemd's notify protocol: one datagram of
/// newline-separated assignments ("READY=1", "STATUS=...") per change, sent to the AF_UNIX socket
/// named by NOTIFY_SOCKET. Nothing to link: the protocol is the datagram.
class service_notifier {
 public:
  /// Does nothing: no service manager asked to be told.
  service_notifier() = default;
  /// `socket_name`: NOTIFY_SOCKET's value, a path or, with a leading '@', an abstract socket
  /// name. Throws std::invalid_argument when it is neither, or too long for a socket address.
  explicit service_notifier(std::string socket_name);
  ~service_notifier();
  service_notifier(service_notifier&& other) noexcept;
  service_notifier& operator=(service_notifier&& other) noexcept;
  service_notifier(const service_notifier&) = delete;
  service_notifier& operator=(const service_notifier&) = delete;

  bool enabled() const { return fd_ >= 0; }

  /// Sends `message`. Never blocks; a manager that is gone or slow misses the message, which
  /// is logged (the first time) as a warning: reporting must never stop the daemon.
  void notify(std::string_view message);

 private:
  int fd_ = -1;
  std::string address_;  ///< the sockaddr_un bytes, ready for sendto
  bool failure_logged_ = false;
};

}  // namespace triserve::server
