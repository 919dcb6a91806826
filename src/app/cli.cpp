#include "triserve/app/cli.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

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
  option_error(std::string_view name, const std::string& problem)
      : std::invalid_argument(problem), option(name) {}
  std::string option;
};

/// Applies `parse` to an option's text (or texts); a failure names the option.
template <typename Text, typename Parse>
auto parse_option(std::string_view option, const Text& text, Parse parse) {
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

/// Adds the address option `name` of a server. It may be repeated, or given a comma-separated
/// list (what one environment variable can hold), so that the server listens on several
/// addresses; given at all, it replaces the default.
CLI::Option* add_address_option(CLI::App& cli, const std::string& name,
                                std::vector<std::string>& texts, const std::string& description) {
  return cli.add_option(name, texts, description)
      ->delimiter(',')
      // One address per occurrence: in `--hello :7000 :7001` the second is a mistake.
      ->allow_extra_args(false)
      ->type_name("ADDR")
      // The default as it is written (":7000"), not as CLI11 prints a list ("[:7000]"): --help
      // and --print-config show it.
      ->default_function([&texts] { return fmt::format("{}", fmt::join(texts, ",")); });
}

/// A server's addresses as an address option takes them.
std::vector<std::string> texts_of(const std::vector<listen_address>& addresses) {
  std::vector<std::string> texts;
  for (const auto& address : addresses) texts.push_back(to_string(address));
  return texts;
}

/// Parses each address of a server.
std::vector<listen_address> parse_addresses(const std::vector<std::string>& texts) {
  std::vector<listen_address> addresses;
  for (const auto& text : texts) addresses.push_back(parse_listen_address(text));
  return addresses;
}

/// Parses the admin server's addresses, where an empty one means none (`--admin ""` turns off an
/// admin server that the environment or the file configured).
std::vector<listen_address> parse_admin_addresses(const std::vector<std::string>& texts) {
  std::vector<listen_address> addresses;
  for (const auto& text : texts)
    if (!text.empty()) addresses.push_back(parse_listen_address(text));
  return addresses;
}

/// The oldest TLS version as --tls-min-version writes it.
std::string format_tls_version(server::tls_version version) {
  return version == server::tls_version::v1_3 ? "1.3" : "1.2";
}

/// The oldest TLS version as --tls-min-version takes it: "1.2" or "1.3".
server::tls_version parse_tls_version(std::string_view text) {
  if (text == "1.2") return server::tls_version::v1_2;
  if (text == "1.3") return server::tls_version::v1_3;
  throw std::invalid_argument(fmt::format("unknown TLS version \"{}\" (use 1.2 or 1.3)", text));
}

/// Where the value of `option` ("--hello") came from, as an error names it.
std::string origin_of(const option_origins& origins, std::string_view option) {
  const auto origin = origins.find(option.substr(2));
  return origin != origins.end() ? origin->second : std::string(option);
}

/// Every server's addresses, each list named by its option.
std::vector<std::pair<std::string_view, const std::vector<listen_address>*>> addresses_of(
    const config& settings) {
  return {{"--hello", &settings.hello},
          {"--hello-name", &settings.hello_name},
          {"--echo", &settings.echo},
          {"--admin", &settings.admin}};
}

/// Two listeners on one port would both bind (SO_REUSEADDR) and only fail at listen, after the
/// first had started listening: refuse the configuration instead. Every address of every server
/// counts, two of the same server too.
void reject_shared_ports(const config& settings, const option_origins& origins) {
  struct placed {
    std::string_view option;
    const listen_address* address;
  };
  std::vector<placed> all;
  for (const auto& [option, addresses] : addresses_of(settings))
    for (const auto& address : *addresses) all.push_back({option, &address});
  for (auto first = all.begin(); first != all.end(); ++first)
    for (auto second = std::next(first); second != all.end(); ++second) {
      const listen_address& one = *first->address;
      const listen_address& other = *second->address;
      const bool overlap = one.host.empty() || other.host.empty() || one.host == other.host;
      if (one.port == 0 || one.port != other.port || !overlap) continue;
      if (first->option == second->option)
        throw option_error(first->option, fmt::format("\"{}\" and \"{}\" both use port {}",
                                                      to_string(one), to_string(other), one.port));
      throw std::invalid_argument(fmt::format(
          "{} \"{}\" and {} \"{}\" both use port {}", origin_of(origins, first->option),
          to_string(one), origin_of(origins, second->option), to_string(other), one.port));
    }
}

/// A tls:// address needs a certificate and its key, and either alone is a mistake. Both given
/// while no address speaks TLS is allowed (the daemon warns): a socket the service manager passes
/// may still speak TLS.
void check_tls_settings(const config& settings, const option_origins& origins) {
  const bool has_cert = !settings.tls.certificate_file.empty();
  const bool has_key = !settings.tls.key_file.empty();
  const char* missing = !has_cert && !has_key ? "--tls-cert and --tls-key are missing"
                        : !has_cert           ? "--tls-cert is missing"
                        : !has_key            ? "--tls-key is missing"
                                              : nullptr;
  if (missing == nullptr) return;
  for (const auto& [option, addresses] : addresses_of(settings))
    for (const auto& address : *addresses)
      if (address.tls)
        throw option_error(option,
                           fmt::format("\"{}\" speaks TLS but {}", to_string(address), missing));
  if (has_cert)
    throw std::invalid_argument(fmt::format("{} is given but {}: a certificate needs its key",
                                            origin_of(origins, "--tls-cert"), missing));
  if (has_key)
    throw std::invalid_argument(fmt::format("{} is given but {}: a key needs its certificate",
                                            origin_of(origins, "--tls-key"), missing));
}

/// CLI11's message, but for an option given more than once, which it words as "--x: At Most 1
/// required but received 2".
std::string describe_parse_error(const CLI::ParseError& error) {
  const std::string_view text = error.what();
  constexpr std::string_view repeated = ": At Most 1 required but received ";
  const auto at = text.find(repeated);
  if (at == std::string_view::npos) return std::string{text};
  return fmt::format("{}: given {} times; give it once", text.substr(0, at),
                     text.substr(at + repeated.size()));
}

}  // namespace

command_line parse_command_line(int argc, const char* const* argv) {
  return parse_command_line(argc, argv, process_environment);
}

command_line parse_command_line(int argc, const char* const* argv,
                                const environment_lookup& environment) {
  config result;
  CLI::App cli{
      "triserve: three HTTP servers (hello, hello-name, echo) in one process, "
      "drained together on SIGINT/SIGTERM.",
      "triserve"};
  cli.get_formatter()->column_width(34);
  std::string config_path;
  bool print_config = false;
  std::string log_format_name{"text"};
  cli.add_option("--config", config_path, "TOML file of settings (see below)")->option_text("FILE");
  cli.add_flag("--print-config", print_config,
               "Print the effective settings as TOML for --config, and exit");
  std::vector<std::string> hello = texts_of(result.hello);
  std::vector<std::string> hello_name = texts_of(result.hello_name);
  std::vector<std::string> echo = texts_of(result.echo);
  std::vector<std::string> admin = texts_of(result.admin);
  std::string tls_min_version = format_tls_version(result.tls.min_version);
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
  std::string http2 = result.server.http2 ? "on" : "off";
  std::string h2_max_streams = std::to_string(result.server.h2_max_streams);
  bool show_version = false;

  add_address_option(cli, "--hello", hello, "Address of the hello server");
  add_address_option(cli, "--hello-name", hello_name, "Address of the hello-name server");
  add_address_option(cli, "--echo", echo, "Address of the echo server");
  add_address_option(cli, "--admin", admin,
                     "Address of the admin server (/healthz, /readyz, /metrics); off when empty");
  cli.add_option("--tls-cert", result.tls.certificate_file,
                 "PEM certificate (leaf first, then its chain) of every tls:// address")
      ->type_name("FILE");
  cli.add_option("--tls-key", result.tls.key_file,
                 "PEM private key (RSA, ECDSA or Ed25519) of --tls-cert")
      ->type_name("FILE");
  cli.add_option("--tls-min-version", tls_min_version, "Oldest TLS version accepted: 1.2 or 1.3")
      ->capture_default_str();
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
  cli.add_option("--http2", http2,
                 "Serve HTTP/2 too: h2c by its preface, h2 by ALPN on TLS (on or off)")
      ->capture_default_str();
  cli.add_option("--h2-max-streams", h2_max_streams,
                 "Streams one HTTP/2 connection may have open at once")
      ->capture_default_str();
  cli.add_option("--threads", threads,
                 "Threads serving the connections (each connection on one strand)")
      ->capture_default_str();
  cli.add_flag("--version", show_version, "Print the version and exit");
  cli.footer(
      "ADDR is :PORT, HOST:PORT or [IPv6]:PORT; port 0 picks a free port. tls://ADDR speaks TLS,\n"
      "with the certificate of --tls-cert and --tls-key (given while no address speaks TLS, they\n"
      "are unused: a warning). Repeat an ADDR option, or give ADDR,ADDR, for a server to listen\n"
      "on several addresses. DUR is like 5s, 500ms, 1m.\n"
      "Every setting can also come from the environment as TRISERVE_<NAME> (--drain-timeout:\n"
      "TRISERVE_DRAIN_TIMEOUT; a flag takes true/false, 1/0, yes/no or on/off; addresses a\n"
      "comma-separated list) or from the TOML file of --config or TRISERVE_CONFIG as NAME = VALUE\n"
      "(drain-timeout = \"5s\", threads = 2, access-log = true, hello = [\":7000\", "
      "\"tls://:7443\"]).\n"
      "Precedence: command line > environment > file > default.\n"
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
    result.hello = parse_option("--hello", hello, parse_addresses);
    result.hello_name = parse_option("--hello-name", hello_name, parse_addresses);
    result.echo = parse_option("--echo", echo, parse_addresses);
    result.admin = parse_option("--admin", admin, parse_admin_addresses);
    result.tls.min_version = parse_option("--tls-min-version", tls_min_version, parse_tls_version);
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
    result.server.http2 = parse_option("--http2", http2, parse_switch);
    // RFC 9113 §6.5.2 advises no fewer than 100; a client needs one at least. Above ten thousand,
    // one connection could hold more than the whole server should.
    result.server.h2_max_streams =
        parse_option("--h2-max-streams", h2_max_streams, [](const std::string& text) {
          return static_cast<std::uint32_t>(parse_count(text, "stream count", 1, 10'000));
        });
    result.threads = parse_option("--threads", threads, [](const std::string& text) {
      return static_cast<unsigned>(parse_count(text, "thread count", 1, max_threads));
    });
    result.log_level = parse_option("--log-level", result.log_level, check_log_level);
    result.log_format = parse_option("--log-format", log_format_name, parse_log_format);
    result.server.log_json = result.log_format == log_format::json;
    reject_shared_ports(result, origins);
    check_tls_settings(result, origins);
    if (print_config) {
      outcome.message = format_config(cli);
      return outcome;
    }
  } catch (const CLI::CallForHelp&) {
    outcome.message = cli.help();
    return outcome;
  } catch (const CLI::ParseError& e) {
    outcome.exit_code = 2;
    outcome.message = fmt::format("triserve: {} (see --help)\n", describe_parse_error(e));
    return outcome;
  } catch (const option_error& e) {
    outcome.exit_code = 2;
    outcome.message = fmt::format("triserve: {}: {}\n", origin_of(origins, e.option), e.what());
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
