#include "triserve/app/admin.hpp"

#include <iterator>
#include <string_view>

#include <fmt/format.h>

#include "triserve/server/exchange.hpp"

namespace triserve::app {

namespace {

std::string_view phase_name(server::group_phase phase) {
  switch (phase) {
    case server::group_phase::starting:
      return "starting";
    case server::group_phase::serving:
      return "serving";
    case server::group_phase::delaying_drain:
      return "delaying_drain";
    case server::group_phase::draining:
      return "draining";
    case server::group_phase::stopped:
      return "stopped";
  }
  return "unknown";
}

std::string_view handshake_result_name(server::handshake_result result) {
  switch (result) {
    case server::handshake_result::ok:
      return "ok";
    case server::handshake_result::failed:
      return "failed";
    case server::handshake_result::timed_out:
      return "timed_out";
    case server::handshake_result::cleartext:
      return "cleartext";
  }
  return "unknown";
}

std::string_view h2_flood_name(server::h2_flood flood) {
  switch (flood) {
    case server::h2_flood::rapid_reset:
      return "rapid_reset";
    case server::h2_flood::continuation:
      return "continuation";
    case server::h2_flood::control:
      return "control";
    case server::h2_flood::header_bomb:
      return "header_bomb";
  }
  return "unknown";
}

/// Appends a metric family's HELP and TYPE lines.
void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

std::string render_metrics(const server::group_report& report) {
  std::string out;
  const auto to = std::back_inserter(out);

  family(out, "triserve_requests_total", "counter", "Responses sent, by server and status class.");
  for (const auto& s : report.servers)
    for (std::size_t i = 0; i < s.traffic.responses_by_class.size(); ++i)
      fmt::format_to(to, "triserve_requests_total{{server=\"{}\",code=\"{}xx\"}} {}\n", s.name,
                     i + 1, s.traffic.responses_by_class[i]);

  family(out, "triserve_connections", "gauge",
         "Live connections by server: active ones owe or are reading a request, idle ones wait "
         "for the next.");
  for (const auto& s : report.servers) {
    const auto idle = std::min(s.idle, s.live);
    fmt::format_to(to, "triserve_connections{{server=\"{}\",state=\"active\"}} {}\n", s.name,
                   s.live - idle);
    fmt::format_to(to, "triserve_connections{{server=\"{}\",state=\"idle\"}} {}\n", s.name, idle);
  }

  family(out, "triserve_received_bytes_total", "counter", "Bytes read from clients.");
  for (const auto& s : report.servers)
    fmt::format_to(to, "triserve_received_bytes_total{{server=\"{}\"}} {}\n", s.name,
                   s.traffic.bytes_received);
  family(out, "triserve_sent_bytes_total", "counter", "Bytes written to clients.");
  for (const auto& s : report.servers)
    fmt::format_to(to, "triserve_sent_bytes_total{{server=\"{}\"}} {}\n", s.name,
                   s.traffic.bytes_sent);

  family(out, "triserve_request_duration_seconds", "histogram",
         "Time from a request head parsed to its response handed to the kernel.");
  for (const auto& s : report.servers) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < server::duration_bucket_bounds_us.size(); ++i) {
      cumulative += s.traffic.duration_buckets[i];
      fmt::format_to(to, "triserve_request_duration_seconds_bucket{{server=\"{}\",le=\"{}\"}} {}\n",
                     s.name, static_cast<double>(server::duration_bucket_bounds_us[i]) / 1e6,
                     cumulative);
    }
    fmt::format_to(to, "triserve_request_duration_seconds_bucket{{server=\"{}\",le=\"+Inf\"}} {}\n",
                   s.name, s.traffic.duration_count);
    fmt::format_to(to, "triserve_request_duration_seconds_sum{{server=\"{}\"}} {}\n", s.name,
                   static_cast<double>(s.traffic.duration_sum_us) / 1e6);
    fmt::format_to(to, "triserve_request_duration_seconds_count{{server=\"{}\"}} {}\n", s.name,
                   s.traffic.duration_count);
  }

  family(out, "triserve_idle_connections_closed_total", "counter",
         "Connections a drain closed between requests.");
  for (const auto& s : report.servers)
    fmt::format_to(to, "triserve_idle_connections_closed_total{{server=\"{}\"}} {}\n", s.name,
                   s.idle_closed);
  family(out, "triserve_connections_cut_total", "counter",
         "Connections closed with a request in flight, at the drain deadline or on a second "
         "signal.");
  for (const auto& s : report.servers)
    fmt::format_to(to, "triserve_connections_cut_total{{server=\"{}\"}} {}\n", s.name, s.cut);

  family(out, "triserve_slow_clients_cut_total", "counter",
         "Connections cut for moving data below a minimum rate: a request body arriving below "
         "--min-receive-rate, a response read below --min-send-rate.");
  for (const auto& s : report.servers) {
    fmt::format_to(to,
                   "triserve_slow_clients_cut_total{{server=\"{}\",direction=\"receive\"}} {}\n",
                   s.name, s.traffic.too_slow_receiving);
    fmt::format_to(to, "triserve_slow_clients_cut_total{{server=\"{}\",direction=\"send\"}} {}\n",
                   s.name, s.traffic.too_slow_sending);
  }
  family(out, "triserve_handler_failures_total", "counter",
         "Requests whose handler failed (threw): answered 500, or their connection closed when "
         "part of the response had left.");
  for (const auto& s : report.servers)
    fmt::format_to(to, "triserve_handler_failures_total{{server=\"{}\"}} {}\n", s.name,
                   s.traffic.handler_failures);
  family(out, "triserve_connection_failures_total", "counter",
         "Connections closed by an unexpected failure outside any handler.");
  for (const auto& s : report.servers)
    fmt::format_to(to, "triserve_connection_failures_total{{server=\"{}\"}} {}\n", s.name,
                   s.traffic.connection_failures);
  family(out, "triserve_tls_handshakes_total", "counter",
         "TLS handshakes by result: ok, failed (no acceptable TLS, or the client left), "
         "timed_out (cut by the header timeout), cleartext (HTTP sent to a TLS port: 400).");
  for (const auto& s : report.servers)
    for (const auto result :
         {server::handshake_result::ok, server::handshake_result::failed,
          server::handshake_result::timed_out, server::handshake_result::cleartext})
      fmt::format_to(to, "triserve_tls_handshakes_total{{server=\"{}\",result=\"{}\"}} {}\n",
                     s.name, handshake_result_name(result),
                     s.traffic.handshakes[static_cast<std::size_t>(result)]);
  family(out, "triserve_requests_by_protocol_total", "counter",
         "Responses sent, by server and the protocol that carried them: http/1.1 (HTTP/1.0 and "
         "1.1), h2 (HTTP/2 over TLS), h2c (HTTP/2 in cleartext).");
  for (const auto& s : report.servers)
    for (const auto protocol :
         {server::wire_protocol::http1, server::wire_protocol::h2, server::wire_protocol::h2c})
      fmt::format_to(to,
                     "triserve_requests_by_protocol_total{{server=\"{}\",protocol=\"{}\"}} {}\n",
                     s.name, server::protocol_name(protocol),
                     s.traffic.responses_by_protocol[static_cast<std::size_t>(protocol)]);
  family(out, "triserve_http2_streams", "gauge", "HTTP/2 streams open now.");
  for (const auto& s : report.servers)
    fmt::format_to(to, "triserve_http2_streams{{server=\"{}\"}} {}\n", s.name,
                   s.traffic.h2_streams_open);
  family(out, "triserve_http2_streams_refused_total", "counter",
         "HTTP/2 streams refused with REFUSED_STREAM: over --h2-max-streams, or opened after the "
         "drain's last GOAWAY.");
  for (const auto& s : report.servers)
    fmt::format_to(to, "triserve_http2_streams_refused_total{{server=\"{}\"}} {}\n", s.name,
                   s.traffic.h2_streams_refused);
  family(out, "triserve_http2_goaways_sent_total", "counter",
         "GOAWAY frames sent, by error code: NO_ERROR always, other codes once sent (OTHER: "
         "codes RFC 9113 does not define).");
  for (const auto& s : report.servers)
    for (std::size_t code = 0; code < s.traffic.h2_goaways_sent.size(); ++code) {
      const auto sent = s.traffic.h2_goaways_sent[code];
      if (code != 0 && sent == 0) continue;
      fmt::format_to(
          to, "triserve_http2_goaways_sent_total{{server=\"{}\",code=\"{}\"}} {}\n", s.name,
          code < server::h2_error_code_names.size() ? server::h2_error_code_names[code] : "OTHER",
          sent);
    }
  family(out, "triserve_http2_floods_stopped_total", "counter",
         "HTTP/2 connections ended with GOAWAY for a flood: rapid_reset (CVE-2023-44487), "
         "continuation (CVE-2024-28182), control (SETTINGS, PING and other frames whose answers "
         "pile up), header_bomb (a header block decoding to far more than the header limit, "
         "CVE-2016-6581).");
  for (const auto& s : report.servers)
    for (const auto flood : {server::h2_flood::rapid_reset, server::h2_flood::continuation,
                             server::h2_flood::control, server::h2_flood::header_bomb})
      fmt::format_to(to, "triserve_http2_floods_stopped_total{{server=\"{}\",kind=\"{}\"}} {}\n",
                     s.name, h2_flood_name(flood),
                     s.traffic.h2_floods_stopped[static_cast<std::size_t>(flood)]);
  family(out, "triserve_tls_connections", "gauge", "TLS connections open now.");
  for (const auto& s : report.servers)
    fmt::format_to(to, "triserve_tls_connections{{server=\"{}\"}} {}\n", s.name,
                   s.traffic.tls_connections);
  if (report.certificate_not_after != 0) {
    family(out, "triserve_tls_certificate_not_after_seconds", "gauge",
           "When the TLS certificate new handshakes use expires, in seconds since the Unix epoch.");
    fmt::format_to(to, "triserve_tls_certificate_not_after_seconds {}\n",
                   report.certificate_not_after);
  }

  family(out, "triserve_ready", "gauge", "1 while serving and not about to drain (/readyz).");
  fmt::format_to(to, "triserve_ready {}\n", report.phase == server::group_phase::serving ? 1 : 0);
  family(out, "triserve_draining", "gauge", "1 from the start of the drain until the exit.");
  fmt::format_to(to, "triserve_draining {}\n",
                 report.phase == server::group_phase::draining ? 1 : 0);
  family(out, "triserve_phase", "gauge", "The group's phase: 1 for the current one.");
  for (const auto phase : {server::group_phase::starting, server::group_phase::serving,
                           server::group_phase::delaying_drain, server::group_phase::draining,
                           server::group_phase::stopped})
    fmt::format_to(to, "triserve_phase{{phase=\"{}\"}} {}\n", phase_name(phase),
                   phase == report.phase ? 1 : 0);
  family(out, "triserve_drain_deadline_seconds", "gauge",
         "Seconds left until the drain deadline closes what is still open (0 when not draining).");
  fmt::format_to(to, "triserve_drain_deadline_seconds {:.3f}\n", report.seconds_to_deadline);
  return out;
}

server::handler admin_handler(const server::server_group& group) {
  return [&group](server::exchange& ex) -> asio::awaitable<void> {
    const auto path = ex.request().path;
    if (path == "/healthz") {
      ex.respond(200, {"ok\n"});
    } else if (path == "/readyz") {
      if (group.ready())
        ex.respond(200, {"ready\n"});
      else
        ex.respond(503, {"not ready: ", phase_name(group.report().phase), "\n"});
    } else if (path == "/metrics") {
      auto& body = ex.scratch();
      body = render_metrics(group.report());
      ex.respond(200, {body});
    } else {
      ex.respond(404, {"not found: try /healthz, /readyz or /metrics\n"});
    }
    co_return;
  };
}

}  // namespace triserve::app
