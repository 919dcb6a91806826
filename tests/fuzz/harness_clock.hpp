#pragma once

#include <chrono>

namespace triserve::fuzz {

/// The fuzz process's steady clock, which only the harness moves. A harness that links
/// memory_transport gets std::chrono::steady_clock::now() replaced by it (harness_clock.cpp), so
/// that asio's timers (the HTTP/2 session's idle GOAWAY, its drain round trip, its linger) run on
/// the same time as the transport's deadlines, and an input replays the same on any machine.
namespace harness_clock {

using clock = std::chrono::steady_clock;

/// Sets the time back to the start every input begins at.
void restart();
/// Moves the time on.
void advance(clock::duration by);

}  // namespace harness_clock

}  // namespace triserve::fuzz
