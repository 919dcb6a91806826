#include "triserve/server/service_notifier.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace triserve::server {

service_notifier::service_notifier(std::string socket_name) {
  if (socket_name.empty() || (socket_name[0] != '/' && socket_name[0] != '@'))
    throw std::invalid_argument(fmt::format(
        "NOTIFY_SOCKET \"{}\": expected an absolute path or an @abstract name", socket_name));
  sockaddr_un address{};
  if (socket_name.size() > sizeof address.sun_path - (socket_name[0] == '/' ? 1 : 0))
    throw std::invalid_argument(
        fmt::format("NOTIFY_SOCKET \"{}\": longer than a socket address can hold", socket_name));
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, socket_name.data(), socket_name.size());
  // An abstract name starts with a NUL byte where the '@' stands, and has no terminator.
  if (socket_name[0] == '@') address.sun_path[0] = '\0';
  const auto length =
      offsetof(sockaddr_un, sun_path) + socket_name.size() + (socket_name[0] == '/' ? 1 : 0);
  address_.assign(reinterpret_cast<const char*>(&address), length);
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "notify socket");
}

service_notifier::~service_notifier() {
  if (fd_ >= 0) ::close(fd_);
}

service_notifier::service_notifier(service_notifier&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      address_(std::move(other.address_)),
      failure_logged_(other.failure_logged_) {}

service_notifier& service_notifier::operator=(service_notifier&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    address_ = std::move(other.address_);
    failure_logged_ = other.failure_logged_;
  }
  return *this;
}

void service_notifier::notify(std::string_view message) {
  if (fd_ < 0) return;
  const auto sent = ::sendto(fd_, message.data(), message.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
                             reinterpret_cast<const sockaddr*>(address_.data()),
                             static_cast<socklen_t>(address_.size()));
  if (sent < 0 && !failure_logged_) {
    failure_logged_ = true;
    spdlog::warn("cannot notify the service manager ({}): {}; later failures are not logged",
                 message.substr(0, message.find('\n')), std::strerror(errno));
  }
}

}  // namespace triserve::server
