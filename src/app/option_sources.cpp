#include "triserve/app/option_sources.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

namespace triserve::app {

namespace {

/// A flag takes no value on the command line; CLI11's own config reader tells them apart so.
bool is_flag(const CLI::Option& option) {
  return option.get_expected_min() == 0;
}

/// An address option takes several values: a file may give it an array.
bool takes_several(const CLI::Option& option) {
  return option.get_items_expected_max() > 1;
}

const std::string& key_of(const CLI::Option& option) {
  return option.get_lnames().front();
}

std::string lower(std::string_view text) {
  std::string result(text);
  std::transform(result.begin(), result.end(), result.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return result;
}

/// Hands `values` to the option as if the command line had given them, so its callback stores
/// them.
void give(CLI::Option& option, std::vector<std::string> values, std::string_view origin) {
  if (is_flag(option)) {
    try {
      for (auto& value : values) value = parse_switch(value) ? "true" : "false";
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(fmt::format("{}: {}", origin, e.what()));
    }
  }
  try {
    // An option with a delimiter splits each value: an address list from the environment.
    for (auto& value : values) option.add_result(std::move(value));
    option.run_callback();
  } catch (const CLI::Error& e) {
    throw std::invalid_argument(fmt::format("{}: {}", origin, e.what()));
  }
}

/// A file's values of each setting, by key.
using file_settings = std::map<std::string, std::vector<std::string>, std::less<>>;

/// The file's items by key, each checked: a known setting, once, with one value (or, for an
/// address option, an array of them).
file_settings file_values(CLI::App& cli, const config_file& file) {
  file_settings values;
  for (const auto& item : file.items) {
    // CLI11 reports a [section] as items named "++" (opened) and "--" (closed); "++" comes first.
    if (item.name == "++" || item.name == "--")
      throw std::invalid_argument(
          fmt::format("{}: unknown section [{}]", file.path, fmt::join(item.parents, ".")));
    const auto key = item.fullname();
    const auto* option = item.parents.empty() ? cli.get_option_no_throw("--" + key) : nullptr;
    if (option == nullptr || key_of(*option) != key)
      throw std::invalid_argument(fmt::format("{}: unknown key \"{}\"", file.path, key));
    if (!is_setting(*option))
      throw std::invalid_argument(
          fmt::format("{}: {}: cannot be set in a configuration file", file.path, key));
    if (item.inputs.empty() && takes_several(*option))
      throw std::invalid_argument(
          fmt::format("{}: {}: expected at least one value", file.path, key));
    if (item.inputs.size() != 1 && !takes_several(*option))
      throw std::invalid_argument(
          fmt::format("{}: {}: expected one value, got {}", file.path, key, item.inputs.size()));
    if (!values.emplace(key, item.inputs).second)
      throw std::invalid_argument(fmt::format("{}: {}: given twice", file.path, key));
  }
  return values;
}

/// A value as TOML: a count as an integer, anything else a string CLI11 reads back as it is (it
/// does not unescape, so a value holding `"` or `\` goes in a literal '...' string).
std::string toml_value(std::string_view key, const std::string& text) {
  // TOML integers are 64-bit and have no leading zeros.
  const bool integer =
      !text.empty() && text.size() < 19 && (text.size() == 1 || text.front() != '0') &&
      std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
  if (integer) return text;
  // CLI11's reader ends a line's value at the first '#', quoted or not.
  const bool readable = std::none_of(
      text.begin(), text.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f || c == '#'; });
  if (readable && text.find_first_of("\"\\") == std::string::npos) return '"' + text + '"';
  if (readable && text.find('\'') == std::string::npos) return '\'' + text + '\'';
  throw std::invalid_argument(
      fmt::format("--{}: value \"{}\" cannot be written to a configuration file", key, text));
}

}  // namespace

std::string environment_variable(std::string_view name) {
  std::string variable = "TRISERVE_";
  for (const char c : name)
    variable.push_back(c == '-' ? '_'
                                : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return variable;
}

bool parse_switch(std::string_view text) {
  const auto word = lower(text);
  if (word == "true" || word == "1" || word == "yes" || word == "on") return true;
  if (word == "false" || word == "0" || word == "no" || word == "off") return false;
  throw std::invalid_argument(
      fmt::format("invalid switch \"{}\": expected true/false, 1/0, yes/no or on/off", text));
}

config_file read_config_file(const CLI::App& cli, const std::string& path) {
  const auto cannot_read = [&](int error) {
    return std::invalid_argument(fmt::format("{}: cannot read: {}", path, std::strerror(error)));
  };
  // A directory opens, then reads as an empty file.
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored)) throw cannot_read(EISDIR);
  errno = 0;
  std::ifstream input(path);
  if (!input) throw cannot_read(errno != 0 ? errno : EIO);
  return {path, cli.get_config_formatter()->from_config(input)};
}

bool is_setting(const CLI::Option& option) {
  return option.get_configurable() && !option.get_lnames().empty();
}

option_origins apply_option_sources(CLI::App& cli, const environment_lookup& environment,
                                    const config_file* file) {
  const auto from_file = file != nullptr ? file_values(cli, *file) : file_settings{};
  option_origins origins;
  for (auto* option : cli.get_options()) {
    if (!is_setting(*option)) continue;
    const auto& key = key_of(*option);
    if (option->count() > 0) {
      origins.emplace(key, "--" + key);
      continue;
    }
    const auto variable = environment_variable(key);
    if (auto value = environment(variable); value && !value->empty()) {
      give(*option, {std::move(*value)}, variable);
      origins.emplace(key, variable);
    } else if (const auto found = from_file.find(key); found != from_file.end()) {
      auto origin = fmt::format("{}: {}", file->path, key);
      give(*option, found->second, origin);
      origins.emplace(key, std::move(origin));
    }
  }
  return origins;
}

std::string format_config(const CLI::App& cli) {
  std::string toml;
  for (const auto* option : cli.get_options()) {
    if (!is_setting(*option)) continue;
    const auto& key = key_of(*option);
    std::string value;
    if (is_flag(*option)) {
      value = option->count() > 0 && option->as<bool>() ? "true" : "false";
    } else {
      const auto results =
          option->count() > 0 ? option->reduced_results() : std::vector{option->get_default_str()};
      std::vector<std::string> values;
      for (const auto& result : results) values.push_back(toml_value(key, result));
      value = values.size() == 1 ? values.front() : fmt::format("[{}]", fmt::join(values, ", "));
    }
    toml += fmt::format("{} = {}\n", key, value);
  }
  return toml;
}

}  // namespace triserve::app
