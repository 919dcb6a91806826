#pragma once

#include <chrono>
#include <cstddef>

#include "support/daemon.hpp"

namespace triserve::integration {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
/// Built with a sanitizer: RSS means nothing (shadow memory), and the slower code needs looser
/// timing bounds.
inline constexpr bool sanitized = true;
#else
inline constexpr bool sanitized = false;
#endif

/// SIGTERM, then exit 0 within `exit_within` with no connection left behind, nothing critical
/// logged, and exactly `expected_errors` lines logged as errors (those the test provoked).
void check_clean_exit(daemon_process& daemon, std::size_t expected_errors = 0,
                      std::chrono::milliseconds exit_within = std::chrono::seconds{5});

}  // namespace triserve::integration
