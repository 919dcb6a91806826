#pragma once

#include <string_view>

namespace triserve::app {

/// Sends logs to stderr at `level` (trace, debug, info, warn, error, critical, off).
void set_up_logging(std::string_view level);

}  // namespace triserve::app
