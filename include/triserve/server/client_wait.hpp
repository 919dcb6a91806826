#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "triserve/server/transfer_pace.hpp"

namespace triserve::server {

/// One way an HTTP/2 stream or connection waits on its client (a request body's DATA, window for a
/// response, the socket taking our frames), timed as HTTP/1.1 times its reads and writes: cut after
/// a pause without progress, or once the client has moved data below a minimum rate for longer
/// than the grace period (transfer_pace). Many such waits share one sweep, so each only says
/// when it is due; whoever owns it acts.
class client_wait {
 public:
  using clock = transfer_pace::clock;

  /// `pause`: the longest wait without progress; `min_rate` bytes per second (0: none) after
  /// `grace`.
  client_wait(clock::duration pause, std::uint64_t min_rate, clock::duration grace)
      : pause_(pause), pace_(min_rate, grace) {}

  /// The client now owes us something, from `now`; a wait already in progress goes on.
  void begin(clock::time_point now) {
    if (!waiting()) began_ = now;
  }
  /// `bytes` moved: the pause starts again, and the pace is credited.
  void progress(clock::time_point now, std::uint64_t bytes) {
    if (!waiting()) return;
    pace_.add_wait(began_, now, bytes);
    began_ = now;
  }
  /// The client owes nothing more for now.
  void end(clock::time_point now) {
    progress(now, 0);
    began_ = clock::time_point::max();
  }

  bool waiting() const { return began_ != clock::time_point::max(); }
  /// When the wait is cut unless something moves first; time_point::max() while none is waited.
  clock::time_point deadline() const {
    if (!waiting()) return clock::time_point::max();
    return std::min(began_ + pause_, pace_.too_slow_at(began_));
  }
  /// Whether the wait, due at `now`, is cut for the rate rather than for a pause.
  bool too_slow(clock::time_point now) const { return now < began_ + pause_; }

 private:
  clock::duration pause_;
  transfer_pace pace_;
  clock::time_point began_ = clock::time_point::max();
};

}  // namespace triserve::server
