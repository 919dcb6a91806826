#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <spdlog/common.h>

namespace triserve::server {

/// The spdlog logger that carries access-log lines when logs are JSON. Its messages are not text
/// but the line's own JSON members (append_access_json), which the JSON formatter splices in after
/// "ts" and "level" instead of quoting them as "msg".
inline constexpr char access_logger_name[] = "access";

/// One request as the access log records it.
struct access_entry {
  std::string_view server;  ///< "hello", "hello-name", "echo"
  std::string_view peer;    ///< "127.0.0.1:41234"
  std::string_view method;  ///< "-" when the request was rejected before it had one
  std::string_view target;  ///< as the client sent it: any bytes at all
  int status = 0;
  std::uint64_t bytes = 0;    ///< body bytes sent
  double duration_ms = 0.0;   ///< from the request's first byte to its last byte written
  std::string_view note;      ///< "aborted", a rejection's reason, or empty
  std::string_view tls;       ///< "TLSv1.3" over TLS, empty over cleartext
  std::string_view alpn;      ///< what ALPN chose over TLS ("http/1.1"), empty when nothing
  std::string_view protocol;  ///< what carried the request: "http/1.1", "http/1.0", "h2", "h2c"
};

/// Appends the entry's JSON members, starting with `"msg":"request"`, then server, peer, method,
/// target, status, bytes, duration_ms, protocol, tls and alpn over TLS, and note when it is not
/// empty. No braces: the formatter adds "ts" and "level" around them.
void append_access_json(std::string& out, const access_entry& entry);

/// Logs the entry at `level`: a text line on the default logger ("hello 127.0.0.1:41234 GET / 200
/// 13 0.052ms h2c", the protocol after "TLSv1.3" over TLS, then the note), or, with `json`, its
/// members on the access logger (the default logger when there is none).
void log_access(const access_entry& entry, spdlog::level::level_enum level, bool json);

}  // namespace triserve::server
