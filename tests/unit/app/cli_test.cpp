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
  CHECK(config.threads == 4);               // command line over environment and file
  CHECK(config.hello_name.port == 1003);    // environment over file
  CHECK(config.hello.port == 1001);         // file over default
  CHECK(config.echo.port == 9000);          // default
  CHECK(config.drain_timeout == 7s);        // environment over default
  CHECK(config.server.idle_timeout == 9s);  // file over default
  CHECK(config.server.access_log);          // a flag from the environment
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
}
