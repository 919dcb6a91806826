#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace triserve::server {

/// The average pace of one direction of a transfer, over the time spent waiting on the client
/// alone (a request body's reads, a response's blocked writes), against a minimum rate that
/// applies once a grace period of such waiting is over, as Kestrel's MinDataRate does. Time the
/// server spends elsewhere (a handler writing while no read waits) is not the client's to pay.
class transfer_pace {
 public:
  using clock = std::chrono::steady_clock;

  /// `min_bytes_per_second` 0: no minimum.
  transfer_pace(std::uint64_t min_bytes_per_second, clock::duration grace)
      : min_rate_(min_bytes_per_second), grace_(grace) {}

  /// Forgets earlier waits: a new request or response starts its own account.
  void restart() {
    bytes_ = 0;
    waited_ = clock::duration::zero();
  }

  /// A wait that began at `began` ended at `ended` having moved `bytes`.
  void add_wait(clock::time_point began, clock::time_point ended, std::uint64_t bytes) {
    bytes_ += bytes;
    waited_ += std::max(ended - began, clock::duration::zero());
  }

  /// When a wait that began at `began` and has moved `bytes` so far takes the transfer below the
  /// minimum if nothing more moves: once the waiting adds up to both the grace period and the
  /// time the minimum rate needs for every byte so far. time_point::max() without a minimum.
  clock::time_point too_slow_at(clock::time_point began, std::uint64_t bytes = 0) const {
    if (min_rate_ == 0) return clock::time_point::max();
    const std::uint64_t moved = bytes_ + bytes;
    const std::uint64_t seconds = moved / min_rate_;
    // A day of credit is as good as none: beyond it the other timeouts decide.
    if (seconds >= 86'400) return clock::time_point::max();
    // In two parts, so that nothing overflows whatever the rate.
    const std::chrono::microseconds earned{seconds * 1'000'000 +
                                           moved % min_rate_ * 1'000'000 / min_rate_};
    const auto needed = std::max<clock::duration>(grace_, earned);
    return began + (needed - waited_);
  }

  /// Whether there is a minimum at all.
  bool enforced() const { return min_rate_ != 0; }
  /// The minimum, in bytes per second.
  std::uint64_t min_rate() const { return min_rate_; }

 private:
  std::uint64_t min_rate_;
  clock::duration grace_;
  std::uint64_t bytes_ = 0;
  clock::duration waited_{};
};

}  // namespace triserve::server
