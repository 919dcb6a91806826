#include "triserve/app/cli.hpp"

#include <charconv>
#include <cstdlib>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "triserve/app/address.hpp"
#include "triserve/app/duration.hpp"
#include "triserve/app/option_sources.hpp"

namespace triserve::app {

namespace {

constexpr std::string_view log_levels[] = {"trace", "debug",    "info", "warn",
                                           "error", "critical", "off"};

/// More threads than this is a typo, not a machine.
constexpr std::size_t max_threads = 1024;
/// A minimum rate above 1 GiB/s is a typo: no client could be held to it.
constexpr std::size_t max_min_rate = std::size_t{1} << 30;

/// A count (`what`: "byte count", "thread count"): decimal digits, within [minimum, maximum].
std::size_t parse_count(std::string_view text, std::string_view what, std::size_t minimum,
                        std::size_t maximum) {
  std::size_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size())
    throw std::invalid_argument(fmt::format("invalid {} \"{}\": expected digits", what, text));
  if (value < minimum || value > maximum)
    throw std::invalid_argument(
        fmt::format("{} {} out of range: must be {}-{}", what, value, minimum, maximum));
  return value;
}

std::size_t parse_byte_count(std::string_view text, std::size_t minimum, std::size_t maximum) {
  return parse_count(text, "byte count", minimum, maximum);
}

/// A bad value of `option` ("--threads"); parse_command_line names where the value came from.
struct option_error : std::invalid_argument {
  option_error(std::string_view name, const char* problem)
      : std::invalid_argument(problem), option(name) {}
  std::string option;
};

/// Applies `parse` to an option's text; a failure names the option.
template <typename Parse>
auto parse_option(std::string_view option, const std::string& text, Parse parse) {
  try {
    return parse(text);
  } catch (const std::invalid_argument& e) {
    throw option_error(option, e.what());
  }
}

std::string check_log_level(const std::string& level) {
  if (std::find(std::begin(log_levels), std::end(log_levels), level) == std::end(log_levels))
    throw std::invalid_argument(fmt::format(
        "unknown level \"{}\" (use trace, debug, info, warn, error, critical or off)", level));
  return level;
}

log_format parse_log_format(std::string_view text) {
  if (text == "text") return log_format::text;
  if (text == "json") return log_format::json;
  throw std::invalid_argument(fmt::format("unknown log format \"{}\" (use text or json)", text));
}

std::optional<std::string> process_environment(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  return value != nullptr ? std::optional<std::string>{value} : std::nullopt;
}

/// Two servers on one port would both bind (SO_REUSEADDR) and only fail at listen, after the
/// first had started listening: refuse the configuration instead.
void reject_shared_ports(
    std::initializer_list<std::pair<std::string_view, listen_address>> servers) {
  for (auto first = servers.begin(); first != servers.end(); ++first)
    for (auto second = std::next(first); second != servers.end(); ++second) {
      const auto& [first_option, first_address] = *first;
      const auto& [second_option, second_address] = *second;
      const bool overlap = first_address.host.empty() || second_address.host.empty() ||
                           first_address.host == second_address.host;
      if (first_address.port != 0 && first_address.port == second_address.port && overlap)
        throw std::invalid_argument(fmt::format("{} and {} both use port {}", first_option,
                                                second_option, first_address.port));
    }
}

}  // namespace

command_line parse_command_line(int argc, const char* const* argv) {
  return parse_command_line(argc, argv, process_environment);
}

command_line parse_command_line(int argc, const char* const* argv,
                                const environment_lookup& environment) {
  config result;
  CLI::App cli{
      "triserve: three HTTP/1.1 servers (hello, hello-name, echo) in one process, "
      "drained together on SIGINT/SIGTERM.",
      "triserve"};
  cli.get_formatter()->column_width(34);
  std::string config_path;
  bool print_config = false;
  std::string log_format_name{"text"};
  cli.add_option("--config", config_path, "TOML file of settings (see below)")->option_text("FILE");
  cli.add_flag("--print-config", print_config,
               "Print the effective settings as TOML for --config, and exit");
  std::string hello = ":7000", hello_name = ":8000", echo = ":9000";
  std::string admin;
  std::string drain_timeout = format_duration(result.drain_timeout);
  std::string drain_delay = format_duration(result.drain_delay);
  std::string header_timeout = format_duration(result.server.header_timeout);
  std::string idle_timeout = format_duration(result.server.idle_timeout);
  std::string body_timeout = format_duration(result.server.body_read_timeout);
  std::string write_timeout = format_duration(result.server.write_timeout);
  std::string min_receive_rate = std::to_string(result.server.min_receive_rate);
  std::string min_send_rate = std::to_string(result.server.min_send_rate);
  std::string min_rate_grace = format_duration(result.server.min_rate_grace);
  std::string max_header_bytes = std::to_string(result.server.max_header_bytes);
  std::string max_request_line = std::to_string(result.server.max_request_line);
  std::string max_header_fields = std::to_string(result.server.max_header_fields);
  std::string threads = std::to_string(result.threads);
  bool show_version = false;

  cli.add_option("--hello", hello, "Address of the hello server")->capture_default_str();
  cli.add_option("--hello-name", hello_name, "Address of the hello-name server")
      ->capture_default_str();
  cli.add_option("--echo", echo, "Address of the echo server")->capture_default_str();
  cli.add_option("--admin", admin,
                 "Address of the admin server (/healthz, /readyz, /metrics); off when empty");
  cli.add_option("--drain-timeout", drain_timeout,
                 "How long a drain waits for requests in flight before closing them")
      ->capture_default_str();
  cli.add_option("--drain-delay", drain_delay,
                 "On a signal, keep serving but report not ready this long before draining")
      ->capture_default_str();
  cli.add_option("--log-level", result.log_level,
                 "trace, debug, info, warn, error, critical or off")
      ->capture_default_str();
  cli.add_flag("--access-log", result.server.access_log, "Log one line per request");
  cli.add_option("--log-format", log_format_name, "text, or json: one JSON object per line")
      ->capture_default_str();
  cli.add_option("--max-header-bytes", max_header_bytes,
                 "Largest request head, request line included (larger: 431)")
      ->capture_default_str();
  cli.add_option("--max-request-line", max_request_line, "Longest request line (longer: 414)")
      ->capture_default_str();
  cli.add_option("--max-header-fields", max_header_fields,
                 "Most header fields in a request head (more: 431)")
      ->capture_default_str();
  cli.add_option("--header-timeout", header_timeout,
                 "Time to receive a request head once it has begun (then 408)")
      ->capture_default_str();
  cli.add_option("--idle-timeout", idle_timeout,
                 "How long a keep-alive connection may wait for its next request")
      ->capture_default_str();
  cli.add_option("--body-timeout", body_timeout, "Longest pause while receiving a request body")
      ->capture_default_str();
  cli.add_option("--write-timeout", write_timeout,
                 "Longest pause while a client does not read the response")
      ->capture_default_str();
  cli.add_option(
         "--min-receive-rate", min_receive_rate,
         "Slowest a request body may arrive, in bytes/s, after the grace (then 408); 0: off")
      ->capture_default_str();
  cli.add_option("--min-send-rate", min_send_rate,
                 "Slowest a client may read a response, in bytes/s, after the grace; 0: off")
      ->capture_default_str();
  cli.add_option("--min-rate-grace", min_rate_grace,
                 "How far behind the minimum rates a client may fall (at least 1s)")
      ->capture_default_str();
  cli.add_option("--threads", threads,
                 "Threads serving the connections (each connection on one strand)")
      ->capture_default_str();
  cli.add_flag("--version", show_version, "Print the version and exit");
  cli.footer(
      "ADDR is :PORT, HOST:PORT or [IPv6]:PORT; port 0 picks a free port. DUR is like 5s, 500ms, "
      "1m.\n"
      "Every setting can also come from the environment as TRISERVE_<NAME> (--drain-timeout:\n"
      "TRISERVE_DRAIN_TIMEOUT; a flag takes true/false, 1/0, yes/no or on/off) or from the TOML\n"
      "file of --config or TRISERVE_CONFIG as NAME = VALUE (drain-timeout = \"5s\", threads = 2,\n"
      "access-log = true). Precedence: command line > environment > file > default.\n"
      "Exit codes: 0 clean drain, 1 start-up failure, drain deadline or forced close, 2 "
      "usage.");
  // Actions, not settings: no variable or file key sets them, and --print-config leaves them out.
  for (const char* action : {"--help", "--version", "--config", "--print-config"})
    if (auto* option = cli.get_option_no_throw(action)) option->configurable(false);
  // --print-config writes every setting, so each needs its default as text.
  for (auto* option : cli.get_options())
    if (is_setting(*option) && option->get_expected_min() > 0) option->capture_default_str();

  command_line outcome;
  option_origins origins;
  try {
    cli.parse(argc, argv);
    if (show_version) {
      outcome.message = fmt::format("triserve {}\n", TRISERVE_VERSION_DESCRIPTION);
      return outcome;
    }
    if (config_path.empty()) config_path = environment(environment_variable("config")).value_or("");
    const auto file =
        config_path.empty() ? std::nullopt : std::optional{read_config_file(cli, config_path)};
    origins = apply_option_sources(cli, environment, file ? &*file : nullptr);
    result.hello = parse_option("--hello", hello, parse_listen_address);
    result.hello_name = parse_option("--hello-name", hello_name, parse_listen_address);
    result.echo = parse_option("--echo", echo, parse_listen_address);
    if (!admin.empty()) result.admin = parse_option("--admin", admin, parse_listen_address);
    result.drain_timeout = parse_option("--drain-timeout", drain_timeout, parse_duration);
    result.drain_delay = parse_option("--drain-delay", drain_delay, parse_duration);
    result.server.header_timeout = parse_option("--header-timeout", header_timeout, parse_duration);
    result.server.idle_timeout = parse_option("--idle-timeout", idle_timeout, parse_duration);
    result.server.body_read_timeout = parse_option("--body-timeout", body_timeout, parse_duration);
    result.server.write_timeout = parse_option("--write-timeout", write_timeout, parse_duration);
    const auto parse_rate = [](const std::string& text) {
      return static_cast<std::uint64_t>(parse_count(text, "rate in bytes/s", 0, max_min_rate));
    };
    result.server.min_receive_rate =
        parse_option("--min-receive-rate", min_receive_rate, parse_rate);
    result.server.min_send_rate = parse_option("--min-send-rate", min_send_rate, parse_rate);
    result.server.min_rate_grace =
        parse_option("--min-rate-grace", min_rate_grace, [](const std::string& text) {
          const auto grace = parse_duration(text);
          // Below a second, a body whose first bytes take a round trip or two, or a sweep
          // (every 100 ms) arriving late, would count as a slow client.
          if (grace < std::chrono::seconds{1})
            throw std::invalid_argument(
                fmt::format("grace {} too short: must be at least 1s", text));
          return grace;
        });
    // A head must hold at least a request line and a Host header; 16 MiB is far beyond any client.
    result.server.max_header_bytes =
        parse_option("--max-header-bytes", max_header_bytes,
                     [](const std::string& text) { return parse_byte_count(text, 256, 16 << 20); });
    result.server.max_request_line =
        parse_option("--max-request-line", max_request_line,
                     [](const std::string& text) { return parse_byte_count(text, 64, 16 << 20); });
    // A request needs a Host field; ten thousand is far beyond any client.
    result.server.max_header_fields = parse_option(
        "--max-header-fields", max_header_fields,
        [](const std::string& text) { return parse_count(text, "field count", 1, 10'000); });
    result.threads = parse_option("--threads", threads, [](const std::string& text) {
      return static_cast<unsigned>(parse_count(text, "thread count", 1, max_threads));
    });
    result.log_level = parse_option("--log-level", result.log_level, check_log_level);
    result.log_format = parse_option("--log-format", log_format_name, parse_log_format);
    result.server.log_json = result.log_format == log_format::json;
    reject_shared_ports({{"--hello", result.hello},
                         {"--hello-name", result.hello_name},
                         {"--echo", result.echo},
                         {"--admin", result.admin.value_or(listen_address{"", 0})}});
    if (print_config) {
      outcome.message = format_config(cli);
      return outcome;
    }
  } catch (const CLI::CallForHelp&) {
    outcome.message = cli.help();
    return outcome;
  } catch (const CLI::ParseError& e) {
    outcome.exit_code = 2;
    outcome.message = fmt::format("triserve: {} (see --help)\n", e.what());
    return outcome;
  } catch (const option_error& e) {
    const auto origin = origins.find(std::string_view{e.option}.substr(2));
    outcome.exit_code = 2;
    outcome.message = fmt::format("triserve: {}: {}\n",
                                  origin != origins.end() ? origin->second : e.option, e.what());
    return outcome;
  } catch (const std::invalid_argument& e) {
    outcome.exit_code = 2;
    outcome.message = fmt::format("triserve: {}\n", e.what());
    return outcome;
  }
  outcome.run = std::move(result);
  return outcome;
}

}  // namespace triserve::app
