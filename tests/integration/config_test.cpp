// Settings from the environment (TRISERVE_<NAME>) and a --config TOML file: their precedence
// (command line > environment > file > default) as the daemon behaves and as --print-config
// shows it, the round trip of --print-config, and the errors each source can cause.

#include <catch2/catch.hpp>

#include <signal.h>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "shared/temporary_file.hpp"
#include "support/daemon.hpp"
#include "support/raw_client.hpp"

using namespace triserve::integration;
using namespace std::chrono_literals;
using triserve::testing::temporary_file;

namespace {

/// What a daemon that exits on its own (usage error, --print-config) printed.
struct finished_run {
  int code = -1;
  std::string out;
  std::string err;
};

finished_run run_to_exit(std::vector<std::string> args, const spawn_extras& extras = {}) {
  daemon_process daemon(std::move(args), extras);
  const auto status = daemon.wait_for_exit(5s);
  INFO("stderr: " << daemon.log() << "\nstdout: " << daemon.out());
  REQUIRE(status.has_value());
  REQUIRE(status->exited);
  return {status->code, daemon.out(), daemon.log()};
}

/// The `key = value` lines of --print-config's output, by key.
std::map<std::string, std::string> settings_of(const std::string& toml) {
  std::map<std::string, std::string> settings;
  std::size_t start = 0;
  while (start < toml.size()) {
    auto end = toml.find('\n', start);
    if (end == std::string::npos) end = toml.size();
    const auto line = toml.substr(start, end - start);
    const auto equals = line.find(" = ");
    if (equals != std::string::npos) settings[line.substr(0, equals)] = line.substr(equals + 3);
    start = end + 1;
  }
  return settings;
}

/// Stops the daemon with SIGTERM and checks that it drained cleanly.
void stop(daemon_process& daemon) {
  daemon.send_signal(SIGTERM);
  const auto status = daemon.wait_for_exit(5s);
  REQUIRE(status.has_value());
  CHECK(status->code == 0);
}

}  // namespace

TEST_CASE("TRISERVE_HELLO sets the address the hello server listens on", "[config]") {
  const auto port = reserve_free_port();
  daemon_process daemon(
      {"--hello-name", "127.0.0.1:0", "--echo", "127.0.0.1:0"},
      with_environment({{"TRISERVE_HELLO", "127.0.0.1:" + std::to_string(port)}}));
  const bool started = daemon.wait_for_log("all servers are started", 10s);
  INFO("stderr:\n" << daemon.log());
  REQUIRE(started);
  REQUIRE(daemon.wait_for_ports(1s));
  CHECK(daemon.port("hello") == port);
  raw_client client(port);
  CHECK(client.round_trip("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status == 200);
  stop(daemon);
}

TEST_CASE("TRISERVE_IDLE_TIMEOUT closes an idle keep-alive connection", "[config]") {
  // The default (60 s) would keep the connection for the whole wait below.
  auto daemon =
      daemon_process::start({}, 10s, with_environment({{"TRISERVE_IDLE_TIMEOUT", "500ms"}}));
  raw_client client(daemon->port("hello"));
  CHECK(client.round_trip("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status == 200);
  const auto started = std::chrono::steady_clock::now();
  const auto rest = client.read_until_eof(4s);
  const auto waited = std::chrono::steady_clock::now() - started;
  CHECK(rest.closed);
  CHECK(waited > 300ms);
  CHECK(waited < 3s);
  stop(*daemon);
}

TEST_CASE("a file named by TRISERVE_CONFIG configures the daemon", "[config]") {
  const auto port = reserve_free_port();
  temporary_file file(
      "# triserve\nhello = \"127.0.0.1:" + std::to_string(port) +
      "\"\nhello-name = \"127.0.0.1:0\"\necho = \"127.0.0.1:0\"\naccess-log = true\n");
  daemon_process daemon({}, with_environment({{"TRISERVE_CONFIG", file.path()}}));
  const bool started = daemon.wait_for_log("all servers are started", 10s);
  INFO("stderr:\n" << daemon.log());
  REQUIRE(started);
  REQUIRE(daemon.wait_for_ports(1s));
  CHECK(daemon.port("hello") == port);
  raw_client client(port);
  CHECK(client.round_trip("GET /from-the-file HTTP/1.1\r\nHost: x\r\n\r\n").status == 200);
  CHECK(daemon.wait_for_log("GET /from-the-file 200", 2s));  // access-log = true
  stop(daemon);
}

TEST_CASE("command line > environment > file > default, as --print-config shows", "[config]") {
  temporary_file file(
      "threads = 2\ndrain-timeout = \"2s\"\nidle-timeout = \"11s\"\nhello = \":1111\"\n"
      "log-level = \"debug\"\n");
  const auto environment = with_environment({{"TRISERVE_THREADS", "3"},
                                             {"TRISERVE_DRAIN_TIMEOUT", "3s"},
                                             {"TRISERVE_HEADER_TIMEOUT", "4s"},
                                             {"TRISERVE_LOG_LEVEL", "warn"},
                                             {"TRISERVE_ACCESS_LOG", "yes"}});
  const auto run = run_to_exit(
      {"--config", file.path(), "--threads", "4", "--log-level", "error", "--print-config"},
      environment);
  INFO("stdout:\n" << run.out << "\nstderr:\n" << run.err);
  CHECK(run.code == 0);
  CHECK(run.err.empty());
  const auto settings = settings_of(run.out);
  CHECK(settings.at("threads") == "4");                // command line over environment, file
  CHECK(settings.at("log-level") == "\"error\"");      // command line over environment, file
  CHECK(settings.at("drain-timeout") == "\"3s\"");     // environment over file
  CHECK(settings.at("header-timeout") == "\"4s\"");    // environment over default
  CHECK(settings.at("access-log") == "true");          // environment over default
  CHECK(settings.at("idle-timeout") == "\"11s\"");     // file over default
  CHECK(settings.at("hello") == "\":1111\"");          // file over default
  CHECK(settings.at("echo") == "\":9000\"");           // default
  CHECK(settings.at("tls-min-version") == "\"1.2\"");  // default
  CHECK(settings.at("tls-cert") == "\"\"");            // default: none
  CHECK(settings.at("write-timeout") == "\"30s\"");    // default
  CHECK(settings.at("log-format") == "\"text\"");      // default
  CHECK(settings.count("config") == 0);
  CHECK(settings.count("print-config") == 0);
  CHECK(settings.count("version") == 0);
}

TEST_CASE("a value the command line overrides is never read", "[config]") {
  temporary_file file("threads = \"many\"\n");
  const auto run = run_to_exit(
      {"--config", file.path(), "--threads", "2", "--drain-timeout", "1s", "--print-config"},
      with_environment({{"TRISERVE_DRAIN_TIMEOUT", "soon"}}));
  INFO("stderr:\n" << run.err);
  CHECK(run.code == 0);
  CHECK(settings_of(run.out).at("threads") == "2");
  CHECK(settings_of(run.out).at("drain-timeout") == "\"1s\"");
}

TEST_CASE("the output of --print-config fed back through --config prints the same", "[config]") {
  const auto first =
      run_to_exit({"--hello", "127.0.0.1:0", "--hello", "tls://127.0.0.1:0", "--access-log",
                   "--log-format", "json", "--max-header-bytes", "4096", "--tls-cert",
                   "/etc/triserve/server.pem", "--tls-min-version", "1.3", "--print-config"},
                  with_environment({{"TRISERVE_BODY_TIMEOUT", "45s"},
                                    {"TRISERVE_THREADS", "2"},
                                    {"TRISERVE_ECHO", "127.0.0.1:0,[::1]:0"},
                                    {"TRISERVE_TLS_KEY", "/etc/triserve/server.key"}}));
  REQUIRE(first.code == 0);
  const auto printed = first.out;
  INFO("printed:\n" << printed);
  const auto settings = settings_of(printed);
  CHECK(settings.at("body-timeout") == "\"45s\"");
  CHECK(settings.at("threads") == "2");
  CHECK(settings.at("hello") == "[\"127.0.0.1:0\", \"tls://127.0.0.1:0\"]");
  CHECK(settings.at("hello-name") == "\":8000\"");
  CHECK(settings.at("echo") == "[\"127.0.0.1:0\", \"[::1]:0\"]");
  CHECK(settings.at("admin") == "\"\"");
  CHECK(settings.at("tls-cert") == "\"/etc/triserve/server.pem\"");
  CHECK(settings.at("tls-key") == "\"/etc/triserve/server.key\"");
  CHECK(settings.at("tls-min-version") == "\"1.3\"");
  CHECK(settings.at("max-header-bytes") == "4096");
  CHECK(settings.at("log-format") == "\"json\"");

  temporary_file file(printed);
  const auto again = run_to_exit({"--config", file.path(), "--print-config"});
  CHECK(again.code == 0);
  CHECK(again.err.empty());
  CHECK(again.out == printed);
  // The defaults alone print something different: the file really was read.
  CHECK(run_to_exit({"--print-config"}).out != printed);
}

TEST_CASE("a bad setting from a file or the environment: exit 2, one line naming where",
          "[config]") {
  temporary_file unknown_key("threads = 2\nthread = 2\n");
  temporary_file bad_value("hello = \"127.0.0.1:0\"\nthreads = \"x\"\n");
  temporary_file bad_address("hello = \"nonsense\"\n");
  temporary_file section("[server]\nthreads = 2\n");
  const std::string missing = "/nonexistent/triserve.toml";
  struct row {
    std::vector<std::pair<std::string, std::string>> environment;
    std::vector<std::string> args;
    std::string line;  ///< the whole stderr line, newline excluded
  };
  const row rows[] = {
      {{{"TRISERVE_THREADS", "x"}},
       {},
       "triserve: TRISERVE_THREADS: invalid thread count \"x\": expected digits"},
      {{{"TRISERVE_ACCESS_LOG", "maybe"}},
       {},
       "triserve: TRISERVE_ACCESS_LOG: invalid switch \"maybe\": expected true/false, 1/0, "
       "yes/no or on/off"},
      {{{"TRISERVE_LOG_FORMAT", "yaml"}},
       {},
       "triserve: TRISERVE_LOG_FORMAT: unknown log format \"yaml\" (use text or json)"},
      {{},
       {"--log-format", "xml"},
       "triserve: --log-format: unknown log format \"xml\" (use text or json)"},
      {{},
       {"--config", unknown_key.path()},
       "triserve: " + unknown_key.path() + ": unknown key \"thread\""},
      {{},
       {"--config", bad_value.path()},
       "triserve: " + bad_value.path() + ": threads: invalid thread count \"x\": expected digits"},
      {{},
       {"--config", bad_address.path()},
       "triserve: " + bad_address.path() +
           ": hello: invalid address \"nonsense\": expected HOST:PORT or :PORT"},
      {{},
       {"--config", section.path()},
       "triserve: " + section.path() + ": unknown section [server]"},
      {{},
       {"--config", missing},
       "triserve: " + missing + ": cannot read: No such file or directory"},
      {{{"TRISERVE_CONFIG", missing}},
       {},
       "triserve: " + missing + ": cannot read: No such file or directory"},
  };
  for (const auto& r : rows) {
    INFO("expected: " << r.line);
    auto args = default_daemon_args();
    if (!r.args.empty() && r.args.front() == "--config") args.clear();  // the file's to decide
    args.insert(args.end(), r.args.begin(), r.args.end());
    const auto run = run_to_exit(args, with_environment(r.environment));
    INFO("stderr: " << run.err << "\nstdout: " << run.out);
    CHECK(run.code == 2);
    CHECK(run.out.empty());
    CHECK(run.err == r.line + "\n");
  }
}

TEST_CASE("a TOML array or a comma-separated variable gives a server several addresses",
          "[config]") {
  temporary_file file(
      "hello = [\"127.0.0.1:0\", \"127.0.0.1:0\"]\nhello-name = \"127.0.0.1:0\"\n"
      "echo = \"127.0.0.1:0\"\n");
  const std::pair<std::string, spawn_extras> sources[] = {
      {"TOML array", with_environment({{"TRISERVE_CONFIG", file.path()}})},
      {"TRISERVE_HELLO list", with_environment({{"TRISERVE_HELLO", "127.0.0.1:0,127.0.0.1:0"},
                                                {"TRISERVE_HELLO_NAME", "127.0.0.1:0"},
                                                {"TRISERVE_ECHO", "127.0.0.1:0"}})},
  };
  for (const auto& [source, extras] : sources) {
    INFO(source);
    daemon_process daemon({}, extras);
    const bool started = daemon.wait_for_log("all servers are started", 10s);
    INFO("stderr:\n" << daemon.log());
    REQUIRE(started);
    REQUIRE(daemon.wait_for_ports(1s));
    const auto hello = daemon.endpoints("hello");
    REQUIRE(hello.size() == 2);
    CHECK(daemon.endpoints("echo").size() == 1);
    for (const auto& endpoint : hello) {
      CHECK_FALSE(endpoint.tls);
      raw_client client(endpoint.port);
      const auto response =
          client.round_trip("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      CHECK(response.status == 200);
      CHECK(response.body == "Hello, world!");
    }
    stop(daemon);
  }
}

TEST_CASE("addresses and TLS settings that do not fit: exit 2, one line naming where", "[config]") {
  temporary_file tls_without_key(
      "hello = [\"127.0.0.1:0\", \"tls://127.0.0.1:0\"]\nhello-name = \"127.0.0.1:0\"\n"
      "echo = \"127.0.0.1:0\"\ntls-cert = \"server.pem\"\n");
  const auto port = std::to_string(reserve_free_port());
  temporary_file same_port("hello-name = [\"127.0.0.1:" + port + "\", \"tls://:" + port +
                           "\"]\nhello = \"127.0.0.1:0\"\necho = \"127.0.0.1:0\"\n");
  temporary_file https("hello = \"https://127.0.0.1:0\"\n");
  struct row {
    std::vector<std::pair<std::string, std::string>> environment;
    std::vector<std::string> args;
    std::string line;  ///< the whole stderr line, newline excluded
  };
  const row rows[] = {
      {{{"TRISERVE_HELLO", "127.0.0.1:0,tls://127.0.0.1:0"}},
       {"--hello-name", "127.0.0.1:0", "--echo", "127.0.0.1:0"},
       "triserve: TRISERVE_HELLO: \"tls://127.0.0.1:0\" speaks TLS but --tls-cert and --tls-key "
       "are missing"},
      {{},
       {"--config", tls_without_key.path()},
       "triserve: " + tls_without_key.path() +
           ": hello: \"tls://127.0.0.1:0\" speaks TLS but --tls-key is missing"},
      {{{"TRISERVE_TLS_KEY", "server.key"}},
       default_daemon_args(),
       "triserve: TRISERVE_TLS_KEY is given but --tls-cert is missing: a key needs its "
       "certificate"},
      {{{"TRISERVE_TLS_MIN_VERSION", "1.0"}},
       default_daemon_args(),
       "triserve: TRISERVE_TLS_MIN_VERSION: unknown TLS version \"1.0\" (use 1.2 or 1.3)"},
      {{{"TRISERVE_TLS_CERT", "c.pem"}, {"TRISERVE_TLS_KEY", "k.pem"}},
       {"--config", same_port.path()},
       "triserve: " + same_port.path() + ": hello-name: \"127.0.0.1:" + port +
           "\" and \"tls://:" + port + "\" both use port " + port},
      {{},
       {"--hello", "127.0.0.1:" + port, "--hello-name", "127.0.0.1:0", "--echo", "127.0.0.1:0",
        "--admin", ":" + port},
       "triserve: --hello \"127.0.0.1:" + port + "\" and --admin \":" + port + "\" both use port " +
           port},
      {{},
       {"--config", https.path()},
       "triserve: " + https.path() +
           ": hello: invalid address \"https://127.0.0.1:0\": for a TLS listener write "
           "\"tls://127.0.0.1:0\""},
  };
  for (const auto& r : rows) {
    INFO("expected: " << r.line);
    const auto run = run_to_exit(r.args, with_environment(r.environment));
    INFO("stderr: " << run.err << "\nstdout: " << run.out);
    CHECK(run.code == 2);
    CHECK(run.out.empty());
    CHECK(run.err == r.line + "\n");
  }
}
