#include "triserve/server/traffic_counters.hpp"

#include <algorithm>

namespace triserve::server {

void traffic_counters::observe_duration(std::chrono::steady_clock::duration took) {
  const auto us = static_cast<std::uint64_t>(std::max<std::int64_t>(
      0, std::chrono::duration_cast<std::chrono::microseconds>(took).count()));
  const auto bucket = static_cast<std::size_t>(
      std::lower_bound(duration_bucket_bounds_us.begin(), duration_bucket_bounds_us.end(), us) -
      duration_bucket_bounds_us.begin());
  add(duration_buckets_[bucket], 1);
  add(duration_sum_us_, us);
}

traffic_snapshot traffic_counters::snapshot() const {
  traffic_snapshot copy;
  for (std::size_t i = 0; i < responses_by_class_.size(); ++i)
    copy.responses_by_class[i] = responses_by_class_[i].load(std::memory_order_relaxed);
  copy.bytes_received = bytes_received_.load(std::memory_order_relaxed);
  copy.bytes_sent = bytes_sent_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < duration_buckets_.size(); ++i) {
    copy.duration_buckets[i] = duration_buckets_[i].load(std::memory_order_relaxed);
    copy.duration_count += copy.duration_buckets[i];
  }
  copy.duration_sum_us = duration_sum_us_.load(std::memory_order_relaxed);
  copy.too_slow_receiving = too_slow_receiving_.load(std::memory_order_relaxed);
  copy.too_slow_sending = too_slow_sending_.load(std::memory_order_relaxed);
  copy.handler_failures = handler_failures_.load(std::memory_order_relaxed);
  copy.connection_failures = connection_failures_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < handshakes_.size(); ++i)
    copy.handshakes[i] = handshakes_[i].load(std::memory_order_relaxed);
  copy.tls_connections = tls_connections_.load(std::memory_order_relaxed);
  const auto copy_all = [](const auto& from, auto& to) {
    for (std::size_t i = 0; i < from.size(); ++i) to[i] = from[i].load(std::memory_order_relaxed);
  };
  copy_all(responses_by_protocol_, copy.responses_by_protocol);
  copy.h2_streams_open = h2_streams_open_.load(std::memory_order_relaxed);
  copy.h2_streams_refused = h2_streams_refused_.load(std::memory_order_relaxed);
  copy_all(h2_goaways_sent_, copy.h2_goaways_sent);
  copy_all(h2_floods_stopped_, copy.h2_floods_stopped);
  return copy;
}

}  // namespace triserve::server
