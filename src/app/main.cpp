#include <cstdio>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>
#include <asio/io_context.hpp>

#include "triserve/app/cli.hpp"
#include "triserve/app/file_limit.hpp"
#include "triserve/app/handlers.hpp"
#include "triserve/app/logging.hpp"
#include "triserve/server/server_group.hpp"

namespace {

/// Runs the io_context on this thread until it has no work left. An exception escaping a handler
/// is a failure of the group (errgroup): close everything and keep running until every
/// connection has unwound, so nothing outlives its server.
void serve(asio::io_context& io, triserve::server::server_group& group) {
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

int main(int argc, char** argv) {
  using namespace triserve;
  const auto command = app::parse_command_line(argc, argv);
  if (!command.run) {
    std::fputs(command.message.c_str(), command.exit_code == 0 ? stdout : stderr);
    return command.exit_code;
  }
  const app::config& config = *command.run;
  app::set_up_logging(config.log_level, config.log_format);
  try {
    asio::io_context io{static_cast<int>(config.threads)};
    server::server_group group{io, config.server, config.drain_timeout, config.threads};
    group.add("hello", config.hello, app::hello);
    group.add("hello-name", config.hello_name, app::hello_name);
    group.add("echo", config.echo, app::echo);
    spdlog::info("triserve {} starting", TRISERVE_VERSION);
    if (const auto limit = app::raise_open_file_limit())
      spdlog::debug("open file limit: {}", *limit);
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
