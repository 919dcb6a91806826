#include "triserve/app/option_sources.hpp"

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <catch2/catch.hpp>

#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using triserve::app::apply_option_sources;
using triserve::app::config_file;
using triserve::app::environment_variable;
using triserve::app::format_config;
using triserve::app::option_origins;
using triserve::app::parse_switch;

namespace {

/// A small command line shaped like triserve's: string settings, a flag and an action.
struct settings {
  CLI::App cli{"test", "test"};
  std::string hello = ":7000";
  std::string drain_timeout = "5s";
  std::string threads = "1";
  /// An address list, as triserve's --echo: repeatable, comma-separated.
  std::vector<std::string> echo{":9000"};
  bool access_log = false;
  bool version = false;
  std::map<std::string, std::string> environment;

  settings() {
    cli.add_option("--hello", hello)->capture_default_str();
    cli.add_option("--drain-timeout", drain_timeout)->capture_default_str();
    cli.add_option("--threads", threads)->capture_default_str();
    cli.add_option("--echo", echo)
        ->delimiter(',')
        ->allow_extra_args(false)
        ->default_function([this] { return fmt::format("{}", fmt::join(echo, ",")); })
        ->capture_default_str();
    cli.add_flag("--access-log", access_log);
    cli.add_flag("--version", version)->configurable(false);
  }

  /// Parses `args`, then applies the environment and, when given, the TOML `file_text`.
  option_origins apply(const std::string& args, std::optional<std::string> file_text = {}) {
    cli.parse(args, false);
    std::optional<config_file> file;
    if (file_text) {
      std::istringstream input(*file_text);
      file = config_file{"t.toml", cli.get_config_formatter()->from_config(input)};
    }
    const auto lookup = [this](const std::string& name) -> std::optional<std::string> {
      const auto found = environment.find(name);
      if (found == environment.end()) return std::nullopt;
      return found->second;
    };
    return apply_option_sources(cli, lookup, file ? &*file : nullptr);
  }
};

}  // namespace

TEST_CASE("environment variable names", "[option_sources]") {
  CHECK(environment_variable("hello") == "TRISERVE_HELLO");
  CHECK(environment_variable("drain-timeout") == "TRISERVE_DRAIN_TIMEOUT");
  CHECK(environment_variable("access-log") == "TRISERVE_ACCESS_LOG");
  CHECK(environment_variable("max-header-bytes") == "TRISERVE_MAX_HEADER_BYTES");
}

TEST_CASE("switch values", "[option_sources]") {
  for (const char* yes : {"true", "1", "yes", "on", "TRUE", "Yes", "ON"}) {
    INFO(yes);
    CHECK(parse_switch(yes));
  }
  for (const char* no : {"false", "0", "no", "off", "False", "NO", "Off"}) {
    INFO(no);
    CHECK_FALSE(parse_switch(no));
  }
  for (const char* bad : {"", "2", "y", "n", "enable", "truee", " true", "-1"}) {
    INFO(bad);
    CHECK_THROWS_AS(parse_switch(bad), std::invalid_argument);
  }
}

TEST_CASE("command line > environment > file > default", "[option_sources]") {
  struct row {
    const char* args;
    std::optional<std::string> variable;  ///< TRISERVE_THREADS
    std::optional<std::string> file;      ///< the file's threads
    std::string threads;
    std::optional<std::string> origin;
  };
  const row rows[] = {
      {"", {}, {}, "1", {}},
      {"", {}, "2", "2", "t.toml: threads"},
      {"", "3", {}, "3", "TRISERVE_THREADS"},
      {"", "3", "2", "3", "TRISERVE_THREADS"},
      {"--threads 4", "3", "2", "4", "--threads"},
      {"--threads 4", {}, "2", "4", "--threads"},
      {"--threads 4", "3", {}, "4", "--threads"},
      {"", "", "2", "2", "t.toml: threads"},  // an empty variable counts as unset
  };
  for (const auto& r : rows) {
    INFO("args '" << r.args << "', variable " << r.variable.value_or("(unset)") << ", file "
                  << r.file.value_or("(none)"));
    settings s;
    if (r.variable) s.environment["TRISERVE_THREADS"] = *r.variable;
    const auto origins =
        s.apply(r.args, r.file ? std::optional{"threads = " + *r.file + "\n"} : std::nullopt);
    CHECK(s.threads == r.threads);
    const auto origin = origins.find("threads");
    CHECK((origin == origins.end() ? std::nullopt : std::optional{origin->second}) == r.origin);
  }
}

TEST_CASE("each setting takes its own source", "[option_sources]") {
  settings s;
  s.environment["TRISERVE_DRAIN_TIMEOUT"] = "7s";
  s.environment["TRISERVE_VERSION"] = "true";  // an action: never read
  const auto origins = s.apply("--hello :1",
                               "hello = \":2\"\ndrain-timeout = \"9s\"\n"
                               "threads = 2 # a comment\naccess-log = true\n");
  CHECK(s.hello == ":1");
  CHECK(s.drain_timeout == "7s");
  CHECK(s.threads == "2");
  CHECK(s.access_log);
  CHECK_FALSE(s.version);
  CHECK(origins.at("hello") == "--hello");
  CHECK(origins.at("drain-timeout") == "TRISERVE_DRAIN_TIMEOUT");
  CHECK(origins.at("access-log") == "t.toml: access-log");
  CHECK(origins.count("version") == 0);
}

TEST_CASE("flags from the environment", "[option_sources]") {
  struct row {
    const char* value;
    bool access_log;
  };
  for (const row& r : {row{"yes", true}, row{"1", true}, row{"off", false}, row{"false", false}}) {
    INFO(r.value);
    settings s;
    s.environment["TRISERVE_ACCESS_LOG"] = r.value;
    s.apply("", "access-log = true\n");
    CHECK(s.access_log == r.access_log);
  }
  settings s;
  s.environment["TRISERVE_ACCESS_LOG"] = "maybe";
  CHECK_THROWS_WITH(s.apply(""), Catch::Contains("TRISERVE_ACCESS_LOG: invalid switch \"maybe\""));
}

TEST_CASE("file items that are refused, and how they are named", "[option_sources]") {
  struct row {
    const char* text;
    const char* message;
  };
  const row rows[] = {
      {"thread = 2\n", "t.toml: unknown key \"thread\""},
      {"--threads = 2\n", "t.toml: unknown key \"--threads\""},
      {"[server]\nthreads = 2\n", "t.toml: unknown section [server]"},
      {"server.threads = 2\n", "t.toml: unknown key \"server.threads\""},
      {"version = true\n", "t.toml: version: cannot be set in a configuration file"},
      {"threads = 2\nhello = \":1\"\nthreads = 3\n", "t.toml: threads: given twice"},
      {"threads = [2, 3]\n", "t.toml: threads: expected one value, got 2"},
      {"hello = [\":1\", \":2\"]\n", "t.toml: hello: expected one value, got 2"},
      {"echo = [\":1\"]\nthreads = 2\necho = \":2\"\n", "t.toml: echo: given twice"},
      {"access-log = sometimes\n", "t.toml: access-log: invalid switch \"sometimes\""},
  };
  for (const auto& r : rows) {
    INFO(r.text);
    settings s;
    CHECK_THROWS_WITH(s.apply("", r.text), Catch::StartsWith(r.message));
  }
}

TEST_CASE("the printed configuration reads back to the same settings", "[option_sources]") {
  settings first;
  first.environment["TRISERVE_DRAIN_TIMEOUT"] = "1m";
  first.apply("--hello 127.0.0.1:0 --access-log", "threads = 3\n");
  const auto printed = format_config(first.cli);
  CHECK(printed ==
        "hello = \"127.0.0.1:0\"\ndrain-timeout = \"1m\"\nthreads = 3\necho = \":9000\"\n"
        "access-log = true\n");

  settings second;
  second.apply("", printed);
  CHECK(second.hello == "127.0.0.1:0");
  CHECK(second.drain_timeout == "1m");
  CHECK(second.threads == "3");
  CHECK(second.access_log);
  CHECK(format_config(second.cli) == printed);

  settings defaults;
  defaults.apply("");
  CHECK(format_config(defaults.cli) ==
        "hello = \":7000\"\ndrain-timeout = \"5s\"\nthreads = 1\n"
        "echo = \":9000\"\naccess-log = false\n");
}

TEST_CASE("printed values CLI11 reads back as they are", "[option_sources]") {
  for (const std::string value : {"a b", "a,b", "say \"hi\"", "back\\slash", "", "0x10", "007"}) {
    INFO("value [" << value << "]");
    settings first;
    first.apply("");
    first.hello = value;
    first.cli.get_option("--hello")->add_result(value);
    const auto printed = format_config(first.cli);
    settings second;
    second.apply("", printed);
    CHECK(second.hello == value);
  }
  settings s;
  s.apply("");
  s.cli.get_option("--hello")->add_result("has # a hash");
  CHECK_THROWS_WITH(format_config(s.cli), Catch::Contains("--hello"));
}

TEST_CASE("an address list from each source", "[option_sources]") {
  struct row {
    const char* args;
    std::optional<std::string> variable;  ///< TRISERVE_ECHO
    std::optional<std::string> file;      ///< the file's echo = ...
    std::vector<std::string> echo;
    std::string printed;  ///< format_config's echo line
  };
  const row rows[] = {
      {"", {}, {}, {":9000"}, "echo = \":9000\""},
      {"--echo :1", {}, {}, {":1"}, "echo = \":1\""},
      {"--echo :1 --echo tls://:2", {}, {}, {":1", "tls://:2"}, "echo = [\":1\", \"tls://:2\"]"},
      {"--echo :1,tls://:2", {}, {}, {":1", "tls://:2"}, "echo = [\":1\", \"tls://:2\"]"},
      {"", ":1,tls://:2", {}, {":1", "tls://:2"}, "echo = [\":1\", \"tls://:2\"]"},
      {"", ":1", {}, {":1"}, "echo = \":1\""},
      {"",
       {},
       "[\":1\", \"tls://:2\", \"[::1]:3\"]",
       {":1", "tls://:2", "[::1]:3"},
       "echo = [\":1\", \"tls://:2\", \"[::1]:3\"]"},
      {"", {}, "[\":1\"]", {":1"}, "echo = \":1\""},
      {"", {}, "\":1,:2\"", {":1", ":2"}, "echo = [\":1\", \":2\"]"},
      {"", ":3", "[\":1\", \":2\"]", {":3"}, "echo = \":3\""},
      {"--echo :4", ":3", "[\":1\", \":2\"]", {":4"}, "echo = \":4\""},
  };
  for (const auto& r : rows) {
    INFO("args '" << r.args << "', variable " << r.variable.value_or("(unset)") << ", file "
                  << r.file.value_or("(none)"));
    settings s;
    if (r.variable) s.environment["TRISERVE_ECHO"] = *r.variable;
    s.apply(r.args, r.file ? std::optional{"echo = " + *r.file + "\n"} : std::nullopt);
    CHECK(s.echo == r.echo);
    const auto printed = format_config(s.cli);
    CHECK(printed.find("\n" + r.printed + "\n") != std::string::npos);

    settings again;
    again.apply("", printed);
    CHECK(again.echo == r.echo);
  }
}

TEST_CASE("an address list that is empty is refused", "[option_sources]") {
  settings from_file;
  CHECK_THROWS_WITH(from_file.apply("", "echo = []\n"),
                    Catch::StartsWith("t.toml: echo: expected at least one value"));
  settings from_variable;
  from_variable.environment["TRISERVE_ECHO"] = ",";
  CHECK_THROWS_WITH(from_variable.apply(""), Catch::StartsWith("TRISERVE_ECHO: "));
}
