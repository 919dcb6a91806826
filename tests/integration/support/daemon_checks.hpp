#pragma once

#include <cstddef>

#include "support/daemon.hpp"

namespace triserve::integration {

/// SIGTERM, then exit 0 within 5 s with no connection left behind, nothing critical logged, and
/// exactly `expected_errors` lines logged as errors (those the test provoked).
void check_clean_exit(daemon_process& daemon, std::size_t expected_errors = 0);

}  // namespace triserve::integration
