#pragma once

#include <optional>
#include <string>

#include "triserve/app/config.hpp"
#include "triserve/app/option_sources.hpp"

namespace triserve::app {

/// The outcome of reading the command line: a configuration to run, or an exit code with the
/// text to print (help, version, or a one-line error).
struct command_line {
  std::optional<config> run;
  int exit_code = 0;
  std::string message;  ///< printed to stdout for help/version, stderr for errors
};

/// Reads argv, then the settings it left unset from the process environment and the --config
/// file (option_sources.hpp). Never throws; a bad value yields exit code 2 and
/// `triserve: <where>: <problem>`, where names the option, variable, or file and key.
command_line parse_command_line(int argc, const char* const* argv);

/// As above, with the environment read through `environment`.
command_line parse_command_line(int argc, const char* const* argv,
                                const environment_lookup& environment);

}  // namespace triserve::app
