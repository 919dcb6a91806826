#pragma once

#include <chrono>
#include <string>

namespace triserve::integration {

/// What a command printed (stdout and stderr together) and how it exited.
struct command_result {
  int exit_code = -1;  ///< -1 when it did not exit normally
  std::string output;
};

/// Runs `command` under /bin/sh, stdin from /dev/null, killed by `timeout` (exit code 124) after
/// `limit`. `command` must not contain a single quote.
command_result run_command(const std::string& command,
                           std::chrono::seconds limit = std::chrono::seconds{20});

/// The interpreter that has Debian's python3 modules (python3-h2, hpack, hyperframe): another
/// `python3` on PATH (pyenv, a virtualenv) may not.
inline constexpr const char* system_python = "/usr/bin/python3";

}  // namespace triserve::integration
