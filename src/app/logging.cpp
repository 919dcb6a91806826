#include "triserve/app/logging.hpp"

#include <string>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace triserve::app {

void set_up_logging(std::string_view level) {
  // Synchronised: with --threads, several threads log. An uncontended lock costs nothing next to
  // the write(2) of an unbuffered stderr line.
  auto logger = spdlog::stderr_logger_mt("triserve");
  logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
  logger->set_level(spdlog::level::from_str(std::string{level}));
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace triserve::app
