#include "triserve/app/daemon.hpp"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>
#include <asio/io_context.hpp>

#include "triserve/app/cli.hpp"
#include "triserve/app/file_limit.hpp"
#include "triserve/app/logging.hpp"
#include "triserve/app/service_environment.hpp"
#include "triserve/server/server_group.hpp"

namespace triserve::app {

namespace {

/// Runs the io_context on this thread until it has no work left. An exception escaping the event
/// loop (a handler's stays with its connection) is a failure of the group (errgroup): close
/// everything and keep running until every connection has unwound, so nothing outlives its
/// server.
void serve(asio::io_context& io, server::server_group& group) {
  for (;;) {
    try {
      io.run();
      return;
    } catch (const std::exception& e) {
      spdlog::critical("unexpected failure: {}", e.what());
      group.abort("unexpected failure");
    }
  }
}

/// Every server's listeners by its name; admin only when it has some.
using server_listeners = std::map<std::string, std::vector<server::listener>, std::less<>>;

/// Where each server listens: the sockets the service manager passed for it, which win over all
/// its configured addresses, else those addresses.
server_listeners listeners_of(
    const app::config& config,
    const std::map<std::string, std::vector<assigned_socket>, std::less<>>& passed) {
  server_listeners listeners;
  const std::pair<std::string_view, const std::vector<listen_address>*> servers[] = {
      {"hello", &config.hello},
      {"hello-name", &config.hello_name},
      {"echo", &config.echo},
      {"admin", &config.admin}};
  for (const auto& [name, configured] : servers) {
    std::vector<server::listener> where;
    if (const auto found = passed.find(name); found != passed.end()) {
      for (const auto& socket : found->second)
        where.emplace_back(server::adopted_socket{socket.fd, socket.tls});
    } else {
      where.assign(configured->begin(), configured->end());
    }
    if (!where.empty()) listeners.emplace(name, std::move(where));
  }
  return listeners;
}

bool any_tls(const server_listeners& listeners) {
  return std::any_of(listeners.begin(), listeners.end(), [](const auto& server) {
    return std::any_of(server.second.begin(), server.second.end(),
                       [](const server::listener& where) { return server::speaks_tls(where); });
  });
}

bool has_certificate(const server::tls_settings& tls) {
  return !tls.certificate_file.empty() && !tls.key_file.empty();
}

/// The command line has checked its tls:// addresses against --tls-cert and --tls-key, but a
/// passed socket named ".tls" is known only now: logs an error and returns false when a TLS
/// listener has no certificate.
bool check_tls(const server_listeners& listeners, const server::tls_settings& tls) {
  if (has_certificate(tls)) return true;
  for (const auto& [name, where] : listeners)
    if (std::any_of(where.begin(), where.end(),
                    [](const server::listener& one) { return server::speaks_tls(one); })) {
      spdlog::error(
          "socket activation: a socket passed for the {} server speaks TLS (its name ends .tls) "
          "but --tls-cert and --tls-key are not both given",
          name);
      return false;
    }
  return true;
}

}  // namespace

int run_daemon(int argc, char** argv, const product_handlers& handlers) {
  // OpenSSL writes to TLS sockets with write(2): a client's reset must be an EPIPE, not a signal
  // that ends the process. Before any thread starts, so that every thread inherits it.
  std::signal(SIGPIPE, SIG_IGN);
  const auto command = parse_command_line(argc, argv);
  if (!command.run) {
    std::fputs(command.message.c_str(), command.exit_code == 0 ? stdout : stderr);
    return command.exit_code;
  }
  const app::config& config = *command.run;
  set_up_logging(config.log_level, config.log_format);
  try {
    // Read before anything else can start a process, and malformed values stop the start.
    service_environment service;
    std::map<std::string, std::vector<assigned_socket>, std::less<>> passed;
    try {
      service = take_service_environment();
      passed = assign_passed_sockets(service.sockets);
    } catch (const std::invalid_argument& e) {
      spdlog::error("{}", e.what());
      return 1;
    }
    const server_listeners listeners = listeners_of(config, passed);
    if (!check_tls(listeners, config.tls)) return 1;

    asio::io_context io{static_cast<int>(config.threads)};
    server::server_group group{io, config.server, config.drain_timeout, config.threads};
    group.add("hello", listeners.at("hello"), handlers.hello);
    group.add("hello-name", listeners.at("hello-name"), handlers.hello_name);
    group.add("echo", listeners.at("echo"), handlers.echo);
    if (listeners.contains("admin"))
      group.add("admin", listeners.at("admin"), handlers.admin(group),
                server::drain_order::after_the_others);
    if (any_tls(listeners)) {
      auto tls = config.tls;
      tls.http2 = config.server.http2;
      group.use_tls(std::move(tls));
    }
    if (!service.notify_socket.empty()) {
      try {
        group.report_to(server::service_notifier{service.notify_socket}, service.watchdog_interval);
      } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
      }
    }
    group.set_drain_delay(config.drain_delay);
    spdlog::info("triserve {} starting", TRISERVE_VERSION_DESCRIPTION);
    if (!passed.empty())
      spdlog::info("socket activation: {} listening socket(s) passed by the service manager",
                   service.sockets.size());
    // Allowed, so that a configuration may hold a certificate before any listener uses it.
    if (has_certificate(config.tls) && !any_tls(listeners))
      spdlog::warn("--tls-cert and --tls-key are unused: no address speaks TLS (tls://HOST:PORT)");
    if (const auto limit = raise_open_file_limit()) spdlog::debug("open file limit: {}", *limit);
    group.start();
    {
      std::vector<std::jthread> helpers;
      for (unsigned i = 1; i < config.threads; ++i)
        helpers.emplace_back([&io, &group] { serve(io, group); });
      serve(io, group);
    }
    // Every connection has unwound by now; a count above zero would be a leak.
    spdlog::info("exiting with status {}: {} connection(s) still open", group.exit_code(),
                 group.connection_count());
    return group.exit_code();
  } catch (const server::startup_error& e) {
    spdlog::error("{}", e.what());
    return 1;
  } catch (const std::exception& e) {
    spdlog::critical("unexpected failure: {}", e.what());
    return 1;
  }
}

}  // namespace triserve::app
