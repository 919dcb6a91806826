#include "triserve/app/service_environment.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string_view>

#include <fmt/format.h>

namespace triserve::app {

namespace {

/// sd_listen_fds(3): passed descriptors start right after stdin, stdout and stderr.
constexpr int first_passed_fd = 3;
/// More than this is not a socket unit's doing.
constexpr long max_passed_fds = 64;

constexpr std::array<std::string_view, 3> servers_in_order{"hello", "hello-name", "echo"};
constexpr std::string_view admin_server = "admin";
/// Ends the name of a passed socket that speaks TLS: "hello.tls". systemd's FileDescriptorName=
/// cannot hold the ':' of "tls://".
constexpr std::string_view tls_suffix = ".tls";

std::optional<std::string> take_variable(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  std::string copy{value};
  ::unsetenv(name);
  return copy;
}

std::optional<long long> parse_number(std::string_view text) {
  long long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

void check_listening_socket(int fd) {
  struct stat status {};
  if (::fstat(fd, &status) != 0)
    throw std::invalid_argument(fmt::format("LISTEN_FDS: file descriptor {} is not open", fd));
  if (!S_ISSOCK(status.st_mode))
    throw std::invalid_argument(fmt::format("LISTEN_FDS: file descriptor {} is not a socket", fd));
  int type = 0;
  int listening = 0;
  socklen_t size = sizeof type;
  ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &size);
  size = sizeof listening;
  ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size);
  if (type != SOCK_STREAM || listening == 0)
    throw std::invalid_argument(fmt::format(
        "LISTEN_FDS: file descriptor {} is not a listening stream socket (ListenStream=)", fd));
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
}

}  // namespace

service_environment take_service_environment() {
  service_environment result;
  if (auto socket = take_variable("NOTIFY_SOCKET")) result.notify_socket = std::move(*socket);

  const auto watchdog_usec = take_variable("WATCHDOG_USEC");
  const auto watchdog_pid = take_variable("WATCHDOG_PID");
  if (watchdog_usec) {
    const auto usec = parse_number(*watchdog_usec);
    if (!usec || *usec <= 0)
      throw std::invalid_argument(fmt::format(
          "WATCHDOG_USEC \"{}\": expected a positive number of microseconds", *watchdog_usec));
    // The watchdog may be meant for another process of the service (WATCHDOG_PID).
    const bool ours = !watchdog_pid || parse_number(*watchdog_pid) == ::getpid();
    if (ours) result.watchdog_interval = std::chrono::microseconds{std::max(1LL, *usec / 2)};
  }

  const auto listen_pid = take_variable("LISTEN_PID");
  const auto listen_fds = take_variable("LISTEN_FDS");
  const auto listen_names = take_variable("LISTEN_FDNAMES");
  // Meant for another process (a parent that passed its environment on): not ours to take.
  if (!listen_pid || !listen_fds || parse_number(*listen_pid) != ::getpid()) return result;
  const auto count = parse_number(*listen_fds);
  if (!count || *count < 0 || *count > max_passed_fds)
    throw std::invalid_argument(
        fmt::format("LISTEN_FDS \"{}\": expected a number of sockets from 0 to {}", *listen_fds,
                    max_passed_fds));
  std::vector<std::string> names;
  if (listen_names) {
    std::string_view rest = *listen_names;
    for (;;) {
      const auto colon = rest.find(':');
      names.emplace_back(rest.substr(0, colon));
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
    if (names.size() != static_cast<std::size_t>(*count))
      throw std::invalid_argument(
          fmt::format("LISTEN_FDNAMES \"{}\" has {} name(s) for {} socket(s)", *listen_names,
                      names.size(), *count));
  }
  for (int i = 0; i < *count; ++i) {
    const int fd = first_passed_fd + i;
    check_listening_socket(fd);
    result.sockets.push_back(
        {fd, names.empty() ? std::string{} : names[static_cast<std::size_t>(i)]});
  }
  return result;
}

std::map<std::string, std::vector<assigned_socket>, std::less<>> assign_passed_sockets(
    const std::vector<passed_socket>& sockets) {
  std::map<std::string, std::vector<assigned_socket>, std::less<>> assigned;
  if (sockets.empty()) return assigned;
  const auto server_of = [](std::string_view name) -> std::optional<std::string_view> {
    if (name.ends_with(tls_suffix)) name.remove_suffix(tls_suffix.size());
    if (name == admin_server ||
        std::find(servers_in_order.begin(), servers_in_order.end(), name) != servers_in_order.end())
      return name;
    return std::nullopt;
  };
  const bool by_name = std::any_of(sockets.begin(), sockets.end(), [&](const passed_socket& s) {
    return server_of(s.name).has_value();
  });
  if (!by_name) {
    // One socket unit names all its sockets alike (FileDescriptorName=): their order decides.
    if (sockets.size() != servers_in_order.size())
      throw std::invalid_argument(fmt::format(
          "socket activation: {} socket(s) passed without our names; expected 3, in the order "
          "hello, hello-name, echo (or name them with FileDescriptorName=)",
          sockets.size()));
    for (std::size_t i = 0; i < sockets.size(); ++i)
      assigned[std::string(servers_in_order[i])].push_back({sockets[i].fd, false});
    return assigned;
  }
  for (const auto& socket : sockets) {
    const auto server = server_of(socket.name);
    if (!server)
      throw std::invalid_argument(fmt::format(
          "socket activation: the socket named \"{}\" (file descriptor {}) is for no server: "
          "expected hello, hello-name, echo or admin, each optionally ending .tls",
          socket.name, socket.fd));
    // Several sockets of one name are several addresses of one server, as repeated --hello.
    assigned[std::string(*server)].push_back({socket.fd, socket.name.ends_with(tls_suffix)});
  }
  for (const auto name : servers_in_order)
    if (!assigned.contains(name))
      throw std::invalid_argument(fmt::format(
          "socket activation: no socket named \"{}\" or \"{}{}\" was passed (LISTEN_FDNAMES)", name,
          name, tls_suffix));
  return assigned;
}

}  // namespace triserve::app
