#pragma once

#include <string>

#include "triserve/server/handler.hpp"
#include "triserve/server/server_group.hpp"

namespace triserve::app {

/// The admin server's handler, about `group`: `GET /healthz` is 200 while the process runs,
/// `/readyz` 200 while serving and 503 from the moment a signal arrives (drain delay included),
/// `/metrics` the Prometheus text exposition of render_metrics(); anything else 404.
server::handler admin_handler(const server::server_group& group);

/// `report` in Prometheus' text format (version 0.0.4): requests by server and status class,
/// live and idle connections, bytes in and out, a request duration histogram, the drain's state
/// and what it closed or cut.
std::string render_metrics(const server::group_report& report);

}  // namespace triserve::app
