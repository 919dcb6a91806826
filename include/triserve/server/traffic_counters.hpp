#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace triserve::server {

/// Upper bounds of the request duration histogram, in microseconds (Prometheus' default buckets,
/// 0.5 ms to 10 s; a last, unbounded bucket holds the rest).
inline constexpr std::array<std::uint64_t, 14> duration_bucket_bounds_us{
    500,     1'000,   2'500,   5'000,     10'000,    25'000,    50'000,
    100'000, 250'000, 500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000};

/// Which way data moved too slowly for a minimum rate.
enum class transfer_direction { receive, send };

/// How a TLS handshake ended.
enum class handshake_result {
  ok,
  failed,     ///< the client's bytes were no acceptable TLS, or it left mid-handshake
  timed_out,  ///< cut by the header timeout (or the drain's deadline)
  cleartext   ///< an HTTP request sent in cleartext to a TLS port, answered 400
};
inline constexpr std::size_t handshake_result_count = 4;

/// The protocol a request came by: HTTP/1.x, HTTP/2 over TLS, HTTP/2 in cleartext.
enum class wire_protocol : std::uint8_t { http1, h2, h2c };
inline constexpr std::size_t wire_protocol_count = 3;
/// The protocol's name as ALPN spells it ("http/1.1", "h2", "h2c"; RFC 9113 §3.1).
constexpr std::string_view protocol_name(wire_protocol protocol) {
  return protocol == wire_protocol::h2 ? "h2" : protocol == wire_protocol::h2c ? "h2c" : "http/1.1";
}

/// A flood an HTTP/2 connection was ended for, with GOAWAY.
enum class h2_flood : std::uint8_t {
  rapid_reset,   ///< streams opened and reset past nghttp2's rate limit (CVE-2023-44487)
  continuation,  ///< a header section in too many CONTINUATION frames (CVE-2024-28182)
  control,       ///< SETTINGS, PING or other frames whose answers pile up (nghttp2's FLOODED)
  header_bomb    ///< a header block decoding to far more than the header limit (CVE-2016-6581)
};
inline constexpr std::size_t h2_flood_count = 4;
/// GOAWAY error codes counted one by one (RFC 9113 §7: NO_ERROR to HTTP_1_1_REQUIRED); any
/// other is counted in the last slot.
inline constexpr std::size_t h2_error_code_count = 14;
/// Their names, as RFC 9113 §7 spells them.
inline constexpr std::array<std::string_view, h2_error_code_count> h2_error_code_names{
    "NO_ERROR",
    "PROTOCOL_ERROR",
    "INTERNAL_ERROR",
    "FLOW_CONTROL_ERROR",
    "SETTINGS_TIMEOUT",
    "STREAM_CLOSED",
    "FRAME_SIZE_ERROR",
    "REFUSED_STREAM",
    "CANCEL",
    "COMPRESSION_ERROR",
    "CONNECT_ERROR",
    "ENHANCE_YOUR_CALM",
    "INADEQUATE_SECURITY",
    "HTTP_1_1_REQUIRED"};

/// A copy of one server's traffic counters, for /metrics.
struct traffic_snapshot {
  /// Responses by status class: [0] 1xx ... [4] 5xx.
  std::array<std::uint64_t, 5> responses_by_class{};
  std::uint64_t bytes_received = 0;
  std::uint64_t bytes_sent = 0;
  /// Answered requests per duration bucket (not cumulative); the last has no upper bound.
  std::array<std::uint64_t, duration_bucket_bounds_us.size() + 1> duration_buckets{};
  std::uint64_t duration_sum_us = 0;
  std::uint64_t duration_count = 0;
  /// Connections cut for a request body arriving below the minimum receive rate.
  std::uint64_t too_slow_receiving = 0;
  /// Connections cut for a client reading below the minimum send rate.
  std::uint64_t too_slow_sending = 0;
  /// Requests whose handler threw: answered 500, or their connection cut.
  std::uint64_t handler_failures = 0;
  /// Connections lost to an exception outside any handler.
  std::uint64_t connection_failures = 0;
  /// TLS handshakes by handshake_result.
  std::array<std::uint64_t, handshake_result_count> handshakes{};
  /// TLS connections open now.
  std::uint64_t tls_connections = 0;
  /// Responses by wire_protocol.
  std::array<std::uint64_t, wire_protocol_count> responses_by_protocol{};
  /// HTTP/2 streams open now, and refused (RST_STREAM REFUSED_STREAM: over the concurrency limit,
  /// or opened after the drain's last GOAWAY).
  std::uint64_t h2_streams_open = 0;
  std::uint64_t h2_streams_refused = 0;
  /// GOAWAY frames sent, by error code; the last slot holds codes RFC 9113 does not define.
  std::array<std::uint64_t, h2_error_code_count + 1> h2_goaways_sent{};
  /// HTTP/2 connections ended for a flood, by h2_flood.
  std::array<std::uint64_t, h2_flood_count> h2_floods_stopped{};
};

/// What a server's connections did on the wire, counted from any thread (relaxed atomics: each
/// counter is exact, a snapshot of several is not taken at one instant).
class traffic_counters {
 public:
  /// A response with `status` was queued over `protocol`, whether from a handler or for a
  /// rejected request.
  void count_response(int status, wire_protocol protocol) {
    const int index = status / 100 - 1;
    if (index < 0 || index >= 5) return;
    add(responses_by_class_[static_cast<std::size_t>(index)], 1);
    add(responses_by_protocol_[static_cast<std::size_t>(protocol)], 1);
  }
  /// A handler answered a request in `took`, from its head parsed to its response queued or sent.
  void observe_duration(std::chrono::steady_clock::duration took);
  void count_received(std::size_t bytes) { add(bytes_received_, bytes); }
  void count_sent(std::size_t bytes) { add(bytes_sent_, bytes); }
  /// A connection was cut for moving data below a minimum rate.
  void count_too_slow(transfer_direction direction) {
    add(direction == transfer_direction::receive ? too_slow_receiving_ : too_slow_sending_, 1);
  }
  /// A handler threw while answering a request.
  void count_handler_failure() { add(handler_failures_, 1); }
  /// A connection's coroutine ended with an exception from outside its handler.
  void count_connection_failure() { add(connection_failures_, 1); }

  /// A TLS handshake ended with `result`.
  void count_handshake(handshake_result result) {
    add(handshakes_[static_cast<std::size_t>(result)], 1);
  }
  /// A TLS connection was accepted (`+1`) or closed (`-1`).
  void count_tls_connection(int change) {
    tls_connections_.fetch_add(static_cast<std::uint64_t>(change), std::memory_order_relaxed);
  }

  /// An HTTP/2 stream was opened (`+1`) or closed (`-1`).
  void count_h2_stream(int change) {
    h2_streams_open_.fetch_add(static_cast<std::uint64_t>(change), std::memory_order_relaxed);
  }
  /// An HTTP/2 stream was refused with RST_STREAM(REFUSED_STREAM).
  void count_h2_refused() { add(h2_streams_refused_, 1); }
  /// A GOAWAY with `error_code` was sent.
  void count_h2_goaway(std::uint32_t error_code) {
    add(h2_goaways_sent_[std::min<std::size_t>(error_code, h2_error_code_count)], 1);
  }
  /// An HTTP/2 connection was ended for `flood`.
  void count_h2_flood(h2_flood flood) {
    add(h2_floods_stopped_[static_cast<std::size_t>(flood)], 1);
  }

  traffic_snapshot snapshot() const;

 private:
  static void add(std::atomic<std::uint64_t>& counter, std::uint64_t amount) {
    counter.fetch_add(amount, std::memory_order_relaxed);
  }

  std::array<std::atomic<std::uint64_t>, 5> responses_by_class_{};
  std::atomic<std::uint64_t> bytes_received_{0};
  std::atomic<std::uint64_t> bytes_sent_{0};
  std::array<std::atomic<std::uint64_t>, duration_bucket_bounds_us.size() + 1> duration_buckets_{};
  std::atomic<std::uint64_t> duration_sum_us_{0};
  std::atomic<std::uint64_t> too_slow_receiving_{0};
  std::atomic<std::uint64_t> too_slow_sending_{0};
  std::atomic<std::uint64_t> handler_failures_{0};
  std::atomic<std::uint64_t> connection_failures_{0};
  std::array<std::atomic<std::uint64_t>, handshake_result_count> handshakes_{};
  std::atomic<std::uint64_t> tls_connections_{0};
  std::array<std::atomic<std::uint64_t>, wire_protocol_count> responses_by_protocol_{};
  std::atomic<std::uint64_t> h2_streams_open_{0};
  std::atomic<std::uint64_t> h2_streams_refused_{0};
  std::array<std::atomic<std::uint64_t>, h2_error_code_count + 1> h2_goaways_sent_{};
  std::array<std::atomic<std::uint64_t>, h2_flood_count> h2_floods_stopped_{};
};

}  // namespace triserve::server
