#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace triserve::server {

/// Whether one direction of a transfer keeps up with a minimum rate, counted only over the time
/// spent waiting on the client (a request body's reads, a response's blocked writes): time the
/// server spends elsewhere is not the client's to pay. A leaky bucket of time: it starts full
/// with the grace period, every byte moved adds what the minimum rate allows for it, every
/// second of waiting takes a second, and it never holds more than the grace. Once it is empty
/// the client is too slow. So a client may fall behind the rate by the grace at most, and what
/// it moved fast earlier buys no more than that: reading the first gigabyte of a response fast
/// does not license reading the rest a byte a minute. Kestrel's MinDataRate, with the same
/// defaults (240 bytes/s, 5 s).
class transfer_pace {
 public:
  using clock = std::chrono::steady_clock;

  /// `min_bytes_per_second` 0: no minimum.
  transfer_pace(std::uint64_t min_bytes_per_second, clock::duration grace)
      : min_rate_(min_bytes_per_second), grace_(grace), credit_(grace) {}

  /// A new request or response starts with a full bucket.
  void restart() { credit_ = grace_; }

  /// Waiting from `began` to `ended` moved `bytes`.
  void add_wait(clock::time_point began, clock::time_point ended, std::uint64_t bytes) {
    if (min_rate_ == 0) return;
    const auto waited = std::max(ended - began, clock::duration::zero());
    credit_ = std::min<clock::duration>(grace_, credit_ + earned(bytes) - waited);
  }

  /// When a wait that begins at `began` empties the bucket if nothing moves meanwhile (at or
  /// before `began` when it already is); time_point::max() without a minimum.
  clock::time_point too_slow_at(clock::time_point began) const {
    if (min_rate_ == 0) return clock::time_point::max();
    return began + credit_;
  }

  /// The minimum, in bytes per second; 0 when there is none.
  std::uint64_t min_rate() const { return min_rate_; }

 private:
  /// What `bytes` buy at the minimum rate, up to a day: far more than any one wait lasts, and
  /// the bucket keeps no more than the grace of it anyway.
  clock::duration earned(std::uint64_t bytes) const {
    const std::uint64_t seconds = bytes / min_rate_;
    if (seconds >= 86'400) return std::chrono::hours{24};
    // In two parts, so that nothing overflows whatever the rate.
    return std::chrono::microseconds{seconds * 1'000'000 +
                                     bytes % min_rate_ * 1'000'000 / min_rate_};
  }

  std::uint64_t min_rate_;
  clock::duration grace_;
  clock::duration credit_;
};

}  // namespace triserve::server
