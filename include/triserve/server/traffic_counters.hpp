#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

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
};

/// What a server's connections did on the wire, counted from any thread (relaxed atomics: each
/// counter is exact, a snapshot of several is not taken at one instant).
class traffic_counters {
 public:
  /// A response with `status` was queued, whether from a handler or for a rejected request.
  void count_response(int status) {
    const int index = status / 100 - 1;
    if (index >= 0 && index < 5) add(responses_by_class_[static_cast<std::size_t>(index)], 1);
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
};

}  // namespace triserve::server
