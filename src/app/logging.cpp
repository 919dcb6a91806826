#include "triserve/app/logging.hpp"

#include <string>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace triserve::app {

void set_up_logging(std::string_view level) {
  // Unsynchronised: one io_context thread logs. stderr is unbuffered, so each line leaves whole.
  auto logger = spdlog::stderr_logger_st("triserve");
  logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
  logger->set_level(spdlog::level::from_str(std::string{level}));
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace triserve::app
