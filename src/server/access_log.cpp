#include "triserve/server/access_log.hpp"

#include <iterator>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "triserve/server/json_string.hpp"

namespace triserve::server {

void append_access_json(std::string& out, const access_entry& entry) {
  const auto member = [&out](std::string_view name, std::string_view value) {
    out.append(",\"").append(name).append("\":");
    append_json_string(out, value);
  };
  out.append("\"msg\":\"request\"");
  member("server", entry.server);
  member("peer", entry.peer);
  member("method", entry.method);
  member("target", entry.target);
  fmt::format_to(std::back_inserter(out), ",\"status\":{},\"bytes\":{},\"duration_ms\":{:.3f}",
                 entry.status, entry.bytes, entry.duration_ms);
  if (!entry.protocol.empty()) member("protocol", entry.protocol);
  if (!entry.tls.empty()) {
    member("tls", entry.tls);
    member("alpn", entry.alpn);
  }
  if (!entry.note.empty()) member("note", entry.note);
}

void log_access(const access_entry& entry, spdlog::level::level_enum level, bool json) {
  if (!json) {
    const bool tls = !entry.tls.empty();
    spdlog::log(level, "{} {} {} {} {} {} {:.3f}ms{}{}{}{}{}{}", entry.server, entry.peer,
                entry.method, entry.target, entry.status, entry.bytes, entry.duration_ms,
                tls ? " " : "", entry.tls, entry.protocol.empty() ? "" : " ", entry.protocol,
                entry.note.empty() ? "" : " ", entry.note);
    return;
  }
  auto logger = spdlog::get(access_logger_name);
  if (!logger) logger = spdlog::default_logger();
  if (!logger->should_log(level)) return;
  std::string members;
  append_access_json(members, entry);
  logger->log(level, members);
}

}  // namespace triserve::server
