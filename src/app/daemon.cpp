#include "triserve/app/daemon.hpp"

#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <thread>
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

}  // namespace

int run_daemon(int argc, char** argv, const product_handlers& handlers) {
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
    std::map<std::string, int, std::less<>> passed;
    try {
      service = take_service_environment();
      passed = assign_passed_sockets(service.sockets);
    } catch (const std::invalid_argument& e) {
      spdlog::error("{}", e.what());
      return 1;
    }
    asio::io_context io{static_cast<int>(config.threads)};
    server::server_group group{io, config.server, config.drain_timeout, config.threads};
    // A socket the service manager passed wins over the configured address.
    const auto where =
        [&passed](std::string_view name,
                  const server::listen_address& configured) -> std::vector<server::listener> {
      if (const auto found = passed.find(name); found != passed.end())
        return {server::adopted_socket{found->second}};
      return {configured};
    };
    group.add("hello", where("hello", config.hello), handlers.hello);
    group.add("hello-name", where("hello-name", config.hello_name), handlers.hello_name);
    group.add("echo", where("echo", config.echo), handlers.echo);
    if (config.admin || passed.contains("admin"))
      group.add("admin", where("admin", config.admin.value_or(server::listen_address{})),
                handlers.admin(group), server::drain_order::after_the_others);
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
                   passed.size());
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
