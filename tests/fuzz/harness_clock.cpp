#include "harness_clock.hpp"

namespace triserve::fuzz::harness_clock {

namespace {

clock::time_point harness_now{};

}  // namespace

void restart() {
  // Any fixed start will do; deadlines are only ever compared with this clock.
  harness_now = clock::time_point{} + std::chrono::hours{1};
}

void advance(clock::duration by) {
  harness_now += by;
}

}  // namespace triserve::fuzz::harness_clock

// The program's definition takes the place of libstdc++'s for every call in the program (asio's
// timer queues call it from the headers we compile): the harness's time is the only time there is.
std::chrono::steady_clock::time_point std::chrono::steady_clock::now() noexcept {
  return triserve::fuzz::harness_clock::harness_now;
}
