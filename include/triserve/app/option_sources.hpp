#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/ConfigFwd.hpp>

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace triserve::app {

/// Looks up an environment variable: std::getenv in the daemon, a table in tests.
using environment_lookup = std::function<std::optional<std::string>(const std::string& name)>;

/// The environment variable that sets the option with long name `name`: "drain-timeout" ->
/// "TRISERVE_DRAIN_TIMEOUT".
std::string environment_variable(std::string_view name);

/// Reads a flag's value as the environment or a file gives it: true/false, 1/0, yes/no or on/off,
/// in any case. Throws std::invalid_argument for anything else.
bool parse_switch(std::string_view text);

/// A configuration file's `key = value` items, as CLI11's TOML parser reads them.
struct config_file {
  std::string path;                    ///< as given, to name the file in errors
  std::vector<CLI::ConfigItem> items;  ///< in file order
};

/// Reads the TOML file at `path` with `cli`'s config formatter; throws std::invalid_argument
/// ("PATH: cannot read: No such file or directory") when it cannot be read.
config_file read_config_file(const CLI::App& cli, const std::string& path);

/// Whether `option` is a setting: one the environment, a file and --print-config know. Options
/// marked not configurable (help, version, config, print-config) are actions, not settings.
bool is_setting(const CLI::Option& option);

/// Where each setting's value came from, keyed by its long name ("threads") and named as an error
/// about that value should name it: "--threads", "TRISERVE_THREADS" or "triserve.toml: threads".
/// Settings left at their default are absent.
using option_origins = std::map<std::string, std::string, std::less<>>;

/// Gives each setting the command line left unset its value from `environment`, else from
/// `file` (when there is one): command line > environment > file > default. An empty variable
/// counts as unset. An option that takes several values (an address list) splits a variable at
/// its delimiter and takes a file's array. Throws std::invalid_argument naming the variable, or
/// the file and key, for an unknown key, a key given twice, several values (or none) where one is
/// expected, or a flag value parse_switch refuses.
option_origins apply_option_sources(CLI::App& cli, const environment_lookup& environment,
                                    const config_file* file);

/// The settings' effective values as TOML, one `key = value` line per setting in --help's order
/// (an array where an option holds several values), which read_config_file and
/// apply_option_sources read back to the same values. Throws
/// std::invalid_argument for a value no TOML string CLI11 reads could hold.
std::string format_config(const CLI::App& cli);

}  // namespace triserve::app
