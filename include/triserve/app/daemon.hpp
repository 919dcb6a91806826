#pragma once

#include <functional>

#include "triserve/app/admin.hpp"
#include "triserve/app/handlers.hpp"
#include "triserve/server/handler.hpp"
#include "triserve/server/server_group.hpp"

namespace triserve::app {

/// The handlers a daemon answers with: the product's own, unless a caller (a test) wraps them.
struct product_handlers {
  server::handler hello = app::hello;            ///< the hello server's
  server::handler hello_name = app::hello_name;  ///< the hello-name server's
  server::handler echo = app::echo;              ///< the echo server's
  /// Makes the admin server's handler, about the group it reports on.
  std::function<server::handler(const server::server_group&)> admin = app::admin_handler;
};

/// The whole daemon: reads the command line, the environment and the configuration file, starts
/// the servers with `handlers` and serves until the drain ends. Returns the process's exit code.
int run_daemon(int argc, char** argv, const product_handlers& handlers);

}  // namespace triserve::app
