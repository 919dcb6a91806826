#include <cstdio>

#include <spdlog/spdlog.h>
#include <asio/io_context.hpp>

#include "triserve/app/cli.hpp"
#include "triserve/app/file_limit.hpp"
#include "triserve/app/handlers.hpp"
#include "triserve/app/logging.hpp"
#include "triserve/server/server_group.hpp"

int main(int argc, char** argv) {
  using namespace triserve;
  const auto command = app::parse_command_line(argc, argv);
  if (!command.run) {
    std::fputs(command.message.c_str(), command.exit_code == 0 ? stdout : stderr);
    return command.exit_code;
  }
  const app::config& config = *command.run;
  app::set_up_logging(config.log_level);
  try {
    asio::io_context io{1};
    server::server_group group{io, config.server, config.drain_timeout};
    group.add("hello", config.hello, app::hello);
    group.add("hello-name", config.hello_name, app::hello_name);
    group.add("echo", config.echo, app::echo);
    spdlog::info("triserve {} starting", TRISERVE_VERSION);
    if (const auto limit = app::raise_open_file_limit())
      spdlog::debug("open file limit: {}", *limit);
    group.start();
    // An exception escaping a handler is a failure of the group (errgroup): close everything
    // and keep running until every connection has unwound, so nothing outlives its server.
    for (;;) {
      try {
        io.run();
        break;
      } catch (const std::exception& e) {
        spdlog::critical("unexpected failure: {}", e.what());
        group.force_close("unexpected failure");
      }
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
