#pragma once

#include <optional>
#include <string>

#include "triserve/app/config.hpp"

namespace triserve::app {

/// The outcome of reading the command line: a configuration to run, or an exit code with the
/// text to print (help, version, or a one-line error).
struct command_line {
  std::optional<config> run;
  int exit_code = 0;
  std::string message;  ///< printed to stdout for help/version, stderr for errors
};

/// Reads argv. Never throws; a bad value yields exit code 2 and `triserve: <problem>`.
command_line parse_command_line(int argc, const char* const* argv);

}  // namespace triserve::app
