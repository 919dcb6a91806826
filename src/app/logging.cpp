#include "triserve/app/logging.hpp"

#include <ctime>
#include <iterator>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <spdlog/formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "triserve/server/access_log.hpp"
#include "triserve/server/json_string.hpp"

namespace triserve::app {

namespace {

std::string_view view(spdlog::string_view_t text) {
  return {text.data(), text.size()};
}

/// Formats each record as one JSON object per line (append_json_record).
class json_formatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    line_.clear();
    append_json_record(line_, msg.time, view(spdlog::level::to_string_view(msg.level)),
                       view(msg.payload), view(msg.logger_name) == server::access_logger_name);
    dest.append(line_.data(), line_.data() + line_.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<json_formatter>();
  }

 private:
  std::string line_;  ///< reused from line to line: the sink formats under its lock
};

}  // namespace

void set_up_logging(std::string_view level, log_format format) {
  // Synchronised: with --threads, several threads log. An uncontended lock costs nothing next to
  // the write(2) of an unbuffered stderr line.
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("triserve", sink);
  const auto threshold = spdlog::level::from_str(std::string{level});
  logger->set_level(threshold);
  if (format == log_format::json) {
    logger->set_formatter(std::make_unique<json_formatter>());
    // The access logger shares the sink, and so the formatter, which tells its lines apart by
    // the logger's name.
    auto access = std::make_shared<spdlog::logger>(server::access_logger_name, sink);
    access->set_level(threshold);
    spdlog::register_logger(std::move(access));
  } else {
    logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
  }
  spdlog::set_default_logger(std::move(logger));
}

void append_json_record(std::string& out, std::chrono::system_clock::time_point time,
                        std::string_view level, std::string_view message, bool members) {
  const auto since_epoch = time.time_since_epoch();
  const auto seconds = std::chrono::floor<std::chrono::seconds>(since_epoch);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds);
  const std::time_t whole = seconds.count();
  std::tm utc{};
  ::gmtime_r(&whole, &utc);
  fmt::format_to(
      std::back_inserter(out),
      "{{\"ts\":\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z\",\"level\":", utc.tm_year + 1900,
      utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, millis.count());
  server::append_json_string(out, level);
  out.push_back(',');
  if (members) {
    out.append(message);
  } else {
    out.append("\"msg\":");
    server::append_json_string(out, message);
  }
  out.append("}\n");
}

}  // namespace triserve::app
