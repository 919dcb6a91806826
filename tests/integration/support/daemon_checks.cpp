#include "support/daemon_checks.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <string>

namespace triserve::integration {

using namespace std::chrono_literals;

void check_clean_exit(daemon_process& daemon, std::size_t expected_errors,
                      std::chrono::milliseconds exit_within) {
  daemon.send_signal(SIGTERM);
  const auto status = daemon.wait_for_exit(exit_within);
  INFO("stderr:\n" << daemon.log());
  REQUIRE(status.has_value());
  INFO(status->describe());
  CHECK(status->exited);
  CHECK(status->code == 0);
  CHECK(daemon.wait_for_log("exiting with status 0: 0 connection(s) still open", 1s));
  const auto log = daemon.log();
  std::size_t errors = 0;
  for (auto at = log.find("[error]"); at != std::string::npos; at = log.find("[error]", at + 1))
    ++errors;
  CHECK(errors == expected_errors);
  CHECK(log.find("[critical]") == std::string::npos);
}

}  // namespace triserve::integration
