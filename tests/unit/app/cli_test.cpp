#include "triserve/app/cli.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "shared/temporary_file.hpp"

using namespace std::chrono_literals;
using triserve::app::command_line;
using triserve::app::listen_address;
using triserve::app::parse_command_line;
using triserve::testing::temporary_file;

namespace {

/// Runs parse_command_line on `args` (program name added) with `environment` as the process's.
command_line parse(std::vector<std::string> args,
                   const std::map<std::string, std::string>& environment = {}) {
  args.insert(args.begin(), "triserve");
  std::vector<const char*> argv;
  for (const auto& arg : args) argv.push_back(arg.c_str());
  return parse_command_line(static_cast<int>(argv.size()), argv.data(),
                            [&](const std::string& name) -> std::optional<std::string> {
                              const auto found = environment.find(name);
                              if (found == environment.end()) return std::nullopt;
                              return found->second;
                            });
}

/// Addresses as written, which Catch can print.
using list = std::vector<std::string>;

list texts(const std::vector<listen_address>& addresses) {
  list result;
  for (const auto& address : addresses) result.push_back(triserve::app::to_string(address));
  return result;
}

}  // namespace

TEST_CASE("settings from the command line, the environment and a file", "[cli]") {
  temporary_file file(
      "hello = \":1001\"\nhello-name = \":1002\"\nthreads = 2\n"
      "idle-timeout = \"9s\"\nlog-format = \"json\"\n");
  const auto outcome =
      parse({"--config", file.path(), "--threads", "4"}, {{"TRISERVE_THREADS", "3"},
                                                          {"TRISERVE_HELLO_NAME", ":1003"},
                                                          {"TRISERVE_DRAIN_TIMEOUT", "7s"},
                                                          {"TRISERVE_ACCESS_LOG", "on"}});
  INFO(outcome.message);
  REQUIRE(outcome.run);
  const auto& config = *outcome.run;
  CHECK(config.threads == 4);                        // command line over environment and file
  CHECK(texts(config.hello_name) == list{":1003"});  // environment over file
  CHECK(texts(config.hello) == list{":1001"});       // file over default
  CHECK(texts(config.echo) == list{":9000"});        // default
  CHECK(config.admin.empty());                       // default
  CHECK(config.drain_timeout == 7s);                 // environment over default
  CHECK(config.server.idle_timeout == 9s);           // file over default
  CHECK(config.server.access_log);                   // a flag from the environment
  CHECK(config.log_format == triserve::app::log_format::json);
  CHECK(config.server.log_json);
}

TEST_CASE("TRISERVE_CONFIG names the file unless --config does", "[cli]") {
  temporary_file from_variable("threads = 5\n");
  temporary_file from_flag("threads = 6\n");
  const auto by_variable = parse({}, {{"TRISERVE_CONFIG", from_variable.path()}});
  REQUIRE(by_variable.run);
  CHECK(by_variable.run->threads == 5);
  const auto by_flag =
      parse({"--config", from_flag.path()}, {{"TRISERVE_CONFIG", from_variable.path()}});
  REQUIRE(by_flag.run);
  CHECK(by_flag.run->threads == 6);
}

TEST_CASE("a bad value names where it came from", "[cli]") {
  temporary_file file("threads = \"x\"\nlog-format = \"yaml\"\n");
  struct row {
    std::vector<std::string> args;
    std::map<std::string, std::string> environment;
    std::string message;
  };
  const row rows[] = {
      {{"--threads", "x"},
       {},
       "triserve: --threads: invalid thread count \"x\": expected digits\n"},
      {{},
       {{"TRISERVE_THREADS", "x"}},
       "triserve: TRISERVE_THREADS: invalid thread count \"x\": expected digits\n"},
      {{"--config", file.path()},
       {},
       "triserve: " + file.path() + ": threads: invalid thread count \"x\": expected digits\n"},
      {{"--config", file.path(), "--threads", "2"},
       {},
       "triserve: " + file.path() +
           ": log-format: unknown log format \"yaml\" (use text or json)\n"},
      {{"--log-format", "xml"},
       {},
       "triserve: --log-format: unknown log format \"xml\" (use text or json)\n"},
      {{},
       {{"TRISERVE_LOG_LEVEL", "loud"}},
       "triserve: TRISERVE_LOG_LEVEL: unknown level \"loud\" (use trace, debug, info, warn, error, "
       "critical or off)\n"},
      {{},
       {{"TRISERVE_ACCESS_LOG", "maybe"}},
       "triserve: TRISERVE_ACCESS_LOG: invalid switch \"maybe\": expected true/false, 1/0, yes/no "
       "or on/off\n"},
      {{"--http2", "maybe"},
       {},
       "triserve: --http2: invalid switch \"maybe\": expected true/false, 1/0, yes/no or on/off\n"},
      {{"--h2-max-streams", "0"},
       {},
       "triserve: --h2-max-streams: stream count 0 out of range: must be 1-10000\n"},
      {{"--config", "/nonexistent/triserve.toml"},
       {},
       "triserve: /nonexistent/triserve.toml: cannot read: No such file or directory\n"},
      {{"--config", "/"}, {}, "triserve: /: cannot read: Is a directory\n"},
  };
  for (const auto& r : rows) {
    INFO(r.message);
    const auto outcome = parse(r.args, r.environment);
    CHECK_FALSE(outcome.run);
    CHECK(outcome.exit_code == 2);
    CHECK(outcome.message == r.message);
  }
}

TEST_CASE("HTTP/2 is on unless turned off, from every source", "[cli]") {
  const auto defaults = parse({});
  REQUIRE(defaults.run);
  CHECK(defaults.run->server.http2);
  CHECK(defaults.run->server.h2_max_streams == 128);
  temporary_file file("http2 = false\nh2-max-streams = 64\n");
  const auto from_file = parse({"--config", file.path()});
  INFO(from_file.message);
  REQUIRE(from_file.run);
  CHECK_FALSE(from_file.run->server.http2);
  CHECK(from_file.run->server.h2_max_streams == 64);
  const auto from_environment = parse({}, {{"TRISERVE_HTTP2", "off"}});
  REQUIRE(from_environment.run);
  CHECK_FALSE(from_environment.run->server.http2);
  const auto from_command_line =
      parse({"--http2", "on", "--h2-max-streams", "250"}, {{"TRISERVE_HTTP2", "off"}});
  REQUIRE(from_command_line.run);
  CHECK(from_command_line.run->server.http2);
  CHECK(from_command_line.run->server.h2_max_streams == 250);
}

TEST_CASE("what --print-config prints, --config reads back", "[cli]") {
  const auto printed = parse({"--print-config", "--hello", "127.0.0.1:0", "--access-log"},
                             {{"TRISERVE_DRAIN_TIMEOUT", "1m"}, {"TRISERVE_THREADS", "3"}});
  REQUIRE_FALSE(printed.run);
  REQUIRE(printed.exit_code == 0);
  INFO(printed.message);
  CHECK(printed.message.find("hello = \"127.0.0.1:0\"\n") != std::string::npos);
  CHECK(printed.message.find("drain-timeout = \"1m\"\n") != std::string::npos);
  CHECK(printed.message.find("threads = 3\n") != std::string::npos);
  CHECK(printed.message.find("access-log = true\n") != std::string::npos);
  CHECK(printed.message.find("log-format = \"text\"\n") != std::string::npos);
  for (const char* action : {"help", "version", "config", "print-config"})
    CHECK(printed.message.find(std::string("\n") + action + " =") == std::string::npos);

  temporary_file file(printed.message);
  const auto again = parse({"--config", file.path(), "--print-config"});
  CHECK(again.exit_code == 0);
  CHECK(again.message == printed.message);
  const auto run = parse({"--config", file.path()});
  REQUIRE(run.run);
  CHECK(run.run->threads == 3);
  CHECK(run.run->drain_timeout == 1min);
  CHECK(run.run->server.access_log);
}

TEST_CASE("the version and help flags ignore the environment and the file", "[cli]") {
  const std::map<std::string, std::string> broken{{"TRISERVE_THREADS", "x"},
                                                  {"TRISERVE_CONFIG", "/nonexistent"}};
  const auto version = parse({"--version"}, broken);
  CHECK(version.exit_code == 0);
  CHECK(version.message.rfind("triserve ", 0) == 0);
  const auto help = parse({"--help"}, broken);
  CHECK(help.exit_code == 0);
  CHECK(help.message.find("--config") != std::string::npos);
  CHECK(help.message.find("--print-config") != std::string::npos);
  CHECK(help.message.find("--log-format") != std::string::npos);
  CHECK(help.message.find("TRISERVE_<NAME>") != std::string::npos);
  CHECK(help.message.find("command line > environment > file > default") != std::string::npos);
  for (const char* text : {"--tls-cert", "--tls-key", "--tls-min-version", "tls://"})
    CHECK(help.message.find(text) != std::string::npos);
}

TEST_CASE("a server listens on every address given, and they replace its default", "[cli]") {
  temporary_file array("hello = [\":1001\", \"tls://:1002\"]\necho = \"tls://[::1]:1003\"\n");
  temporary_file listed("hello = \":1001,tls://:1002\"\nadmin = \"\"\n");
  const std::map<std::string, std::string> certificate{{"TRISERVE_TLS_CERT", "c.pem"},
                                                       {"TRISERVE_TLS_KEY", "k.pem"}};
  struct row {
    std::vector<std::string> args;
    std::map<std::string, std::string> environment;
    list hello;
    list echo;
    list admin;
  };
  const row rows[] = {
      {{}, {}, {":7000"}, {":9000"}, {}},
      {{"--hello", ":1001"}, {}, {":1001"}, {":9000"}, {}},
      {{"--hello", ":1001", "--hello", "127.0.0.1:1002", "--hello", "[::1]:1003"},
       {},
       {":1001", "127.0.0.1:1002", "[::1]:1003"},
       {":9000"},
       {}},
      {{"--hello", ":1001,tls://:1002", "--echo", "tls://localhost:1003"},
       certificate,
       {":1001", "tls://:1002"},
       {"tls://localhost:1003"},
       {}},
      {{},
       {{"TRISERVE_HELLO", ":1001,127.0.0.1:1002"}},
       {":1001", "127.0.0.1:1002"},
       {":9000"},
       {}},
      {{"--hello", ":1005"}, {{"TRISERVE_HELLO", ":1001,:1002"}}, {":1005"}, {":9000"}, {}},
      {{"--config", array.path()}, certificate, {":1001", "tls://:1002"}, {"tls://[::1]:1003"}, {}},
      {{"--config", array.path(), "--echo", ":1004"},
       {{"TRISERVE_HELLO", ":1005"}, {"TRISERVE_TLS_CERT", "c"}, {"TRISERVE_TLS_KEY", "k"}},
       {":1005"},
       {":1004"},
       {}},
      {{"--config", listed.path(), "--tls-cert", "c", "--tls-key", "k"},
       {},
       {":1001", "tls://:1002"},
       {":9000"},
       {}},
      {{"--admin", "127.0.0.1:1006", "--admin", "tls://127.0.0.1:1007"},
       certificate,
       {":7000"},
       {":9000"},
       {"127.0.0.1:1006", "tls://127.0.0.1:1007"}},
      {{"--admin", ""}, {{"TRISERVE_ADMIN", ":1006"}}, {":7000"}, {":9000"}, {}},
      {{}, {{"TRISERVE_ADMIN", ":1006"}}, {":7000"}, {":9000"}, {":1006"}},
      // Port 0 twice is two ports the kernel picks.
      {{"--hello", "127.0.0.1:0", "--hello", "127.0.0.1:0"},
       {},
       {"127.0.0.1:0", "127.0.0.1:0"},
       {":9000"},
       {}},
  };
  for (const auto& r : rows) {
    std::string described;
    for (const auto& arg : r.args) described += arg + " ";
    for (const auto& [name, value] : r.environment) described += name + "=" + value + " ";
    INFO(described);
    const auto outcome = parse(r.args, r.environment);
    INFO(outcome.message);
    REQUIRE(outcome.run);
    CHECK(texts(outcome.run->hello) == r.hello);
    CHECK(texts(outcome.run->hello_name) == list{":8000"});
    CHECK(texts(outcome.run->echo) == r.echo);
    CHECK(texts(outcome.run->admin) == r.admin);
  }
}

TEST_CASE("the TLS settings", "[cli]") {
  const auto defaults = parse({});
  REQUIRE(defaults.run);
  CHECK(defaults.run->tls.certificate_file.empty());
  CHECK(defaults.run->tls.key_file.empty());
  CHECK(defaults.run->tls.min_version == triserve::server::tls_version::v1_2);

  temporary_file file("tls-cert = \"/etc/file.pem\"\ntls-min-version = \"1.3\"\n");
  const auto given = parse({"--config", file.path(), "--hello", "tls://:7443"},
                           {{"TRISERVE_TLS_KEY", "/etc/env.key"}});
  INFO(given.message);
  REQUIRE(given.run);
  CHECK(given.run->tls.certificate_file == "/etc/file.pem");
  CHECK(given.run->tls.key_file == "/etc/env.key");
  CHECK(given.run->tls.min_version == triserve::server::tls_version::v1_3);

  // Accepted without a TLS address: the daemon warns that they are unused.
  const auto unused = parse({"--tls-cert", "c.pem", "--tls-key", "k.pem"});
  REQUIRE(unused.run);
  CHECK(unused.run->tls.certificate_file == "c.pem");
}

TEST_CASE("addresses and TLS settings that do not fit together", "[cli]") {
  temporary_file file("hello = [\":7000\", \"tls://:7443\"]\ntls-key = \"k.pem\"\n");
  temporary_file same_port("echo = [\":9000\", \"127.0.0.1:9000\"]\n");
  struct row {
    std::vector<std::string> args;
    std::map<std::string, std::string> environment;
    std::string message;
  };
  const row rows[] = {
      {{"--hello", "tls://:7443"},
       {},
       "triserve: --hello: \"tls://:7443\" speaks TLS but --tls-cert and --tls-key are missing\n"},
      {{"--hello", ":7000", "--hello", "tls://127.0.0.1:7443", "--tls-cert", "c.pem"},
       {},
       "triserve: --hello: \"tls://127.0.0.1:7443\" speaks TLS but --tls-key is missing\n"},
      {{"--tls-key", "k.pem"},
       {{"TRISERVE_ECHO", "tls://[::1]:9443"}},
       "triserve: TRISERVE_ECHO: \"tls://[::1]:9443\" speaks TLS but --tls-cert is missing\n"},
      {{"--config", file.path()},
       {},
       "triserve: " + file.path() +
           ": hello: \"tls://:7443\" speaks TLS but --tls-cert is missing\n"},
      {{"--admin", "tls://127.0.0.1:9443"},
       {},
       "triserve: --admin: \"tls://127.0.0.1:9443\" speaks TLS but --tls-cert and --tls-key are "
       "missing\n"},
      {{"--tls-cert", "c.pem"},
       {},
       "triserve: --tls-cert is given but --tls-key is missing: a certificate needs its key\n"},
      {{},
       {{"TRISERVE_TLS_KEY", "k.pem"}},
       "triserve: TRISERVE_TLS_KEY is given but --tls-cert is missing: a key needs its "
       "certificate\n"},
      {{"--tls-min-version", "1.1"},
       {},
       "triserve: --tls-min-version: unknown TLS version \"1.1\" (use 1.2 or 1.3)\n"},
      {{},
       {{"TRISERVE_TLS_MIN_VERSION", "TLSv1.3"}},
       "triserve: TRISERVE_TLS_MIN_VERSION: unknown TLS version \"TLSv1.3\" (use 1.2 or 1.3)\n"},
      {{"--hello", "https://:7443"},
       {},
       "triserve: --hello: invalid address \"https://:7443\": for a TLS listener write "
       "\"tls://:7443\"\n"},
      {{},
       {{"TRISERVE_HELLO_NAME", ":8000,TLS://:8443"}},
       "triserve: TRISERVE_HELLO_NAME: invalid address \"TLS://:8443\": write the scheme in "
       "lowercase: \"tls://:8443\"\n"},
      {{"--hello", ":7000", "--hello", "nonsense"},
       {},
       "triserve: --hello: invalid address \"nonsense\": expected HOST:PORT or :PORT\n"},
      {{"--hello", ""},
       {},
       "triserve: --hello: invalid address \"\": expected HOST:PORT or :PORT\n"},
      {{"--echo", ":7000"},
       {},
       "triserve: --hello \":7000\" and --echo \":7000\" both use port 7000\n"},
      {{"--hello", "127.0.0.1:7001", "--hello-name", "tls://:7001", "--tls-cert", "c", "--tls-key",
        "k"},
       {},
       "triserve: --hello \"127.0.0.1:7001\" and --hello-name \"tls://:7001\" both use port "
       "7001\n"},
      {{"--hello", ":7000", "--hello", "tls://:7000", "--tls-cert", "c", "--tls-key", "k"},
       {},
       "triserve: --hello: \":7000\" and \"tls://:7000\" both use port 7000\n"},
      {{"--config", same_port.path()},
       {},
       "triserve: " + same_port.path() +
           ": echo: \":9000\" and \"127.0.0.1:9000\" both use port "
           "9000\n"},
      {{"--admin", "127.0.0.1:9100"},
       {{"TRISERVE_ECHO", ":9001,127.0.0.1:9100"}},
       "triserve: TRISERVE_ECHO \"127.0.0.1:9100\" and --admin \"127.0.0.1:9100\" both use port "
       "9100\n"},
      {{"--hello", ":7000", ":7001"},
       {},
       "triserve: The following argument was not expected: :7001 (see --help)\n"},
  };
  for (const auto& r : rows) {
    INFO(r.message);
    const auto outcome = parse(r.args, r.environment);
    CHECK_FALSE(outcome.run);
    CHECK(outcome.exit_code == 2);
    CHECK(outcome.message == r.message);
  }
}

TEST_CASE("several addresses print as a TOML array that --config reads back", "[cli]") {
  const auto printed =
      parse({"--print-config", "--hello", "127.0.0.1:0", "--hello", "tls://127.0.0.1:0",
             "--tls-cert", "/etc/triserve/cert.pem", "--tls-min-version", "1.3"},
            {{"TRISERVE_ECHO", ":9001,[::1]:9002"}, {"TRISERVE_TLS_KEY", "/etc/triserve/key.pem"}});
  REQUIRE_FALSE(printed.run);
  REQUIRE(printed.exit_code == 0);
  INFO(printed.message);
  CHECK(printed.message.find("hello = [\"127.0.0.1:0\", \"tls://127.0.0.1:0\"]\n") !=
        std::string::npos);
  CHECK(printed.message.find("hello-name = \":8000\"\n") != std::string::npos);
  CHECK(printed.message.find("echo = [\":9001\", \"[::1]:9002\"]\n") != std::string::npos);
  CHECK(printed.message.find("admin = \"\"\n") != std::string::npos);
  CHECK(printed.message.find("tls-cert = \"/etc/triserve/cert.pem\"\n") != std::string::npos);
  CHECK(printed.message.find("tls-key = \"/etc/triserve/key.pem\"\n") != std::string::npos);
  CHECK(printed.message.find("tls-min-version = \"1.3\"\n") != std::string::npos);

  temporary_file file(printed.message);
  const auto again = parse({"--config", file.path(), "--print-config"});
  CHECK(again.exit_code == 0);
  CHECK(again.message == printed.message);
  const auto run = parse({"--config", file.path()});
  INFO(run.message);
  REQUIRE(run.run);
  CHECK(texts(run.run->hello) == list{"127.0.0.1:0", "tls://127.0.0.1:0"});
  CHECK(texts(run.run->echo) == list{":9001", "[::1]:9002"});
  CHECK(run.run->admin.empty());
  CHECK(run.run->tls.key_file == "/etc/triserve/key.pem");
  CHECK(run.run->tls.min_version == triserve::server::tls_version::v1_3);

  const auto defaults = parse({"--print-config"});
  CHECK(defaults.message.find("tls-cert = \"\"\n") != std::string::npos);
  CHECK(defaults.message.find("tls-min-version = \"1.2\"\n") != std::string::npos);
}
