#include "triserve/server/transfer_pace.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>

using triserve::server::transfer_pace;
using namespace std::chrono_literals;

namespace {

const transfer_pace::clock::time_point t0 = transfer_pace::clock::time_point{} + 1h;

}  // namespace

TEST_CASE("transfer_pace: a client that moves nothing is too slow once the grace is used up",
          "[transfer_pace]") {
  transfer_pace pace{240, 5s};
  CHECK(pace.too_slow_at(t0) == t0 + 5s);
  // A later wait has only what is left of the grace.
  pace.add_wait(t0, t0 + 2s, 0);
  CHECK(pace.too_slow_at(t0 + 10s) == t0 + 13s);
  pace.add_wait(t0 + 10s, t0 + 13s, 0);
  CHECK(pace.too_slow_at(t0 + 13s) <= t0 + 13s);
}

TEST_CASE("transfer_pace: bytes buy time at the minimum rate, up to the grace", "[transfer_pace]") {
  transfer_pace pace{240, 5s};
  // 2 s of waiting that moved 240 bytes (1 s at the minimum): 4 s of slack left.
  pace.add_wait(t0, t0 + 2s, 240);
  CHECK(pace.too_slow_at(t0 + 2s) == t0 + 6s);
  // A fast client never has more than the grace in hand: a gigabyte moved fast does not license
  // a byte a minute afterwards.
  pace.add_wait(t0 + 2s, t0 + 3s, std::uint64_t{1} << 30);
  CHECK(pace.too_slow_at(t0 + 3s) == t0 + 8s);
  pace.add_wait(t0 + 3s, t0 + 7s, 1);
  pace.add_wait(t0 + 7s, t0 + 9s, 1);
  CHECK(pace.too_slow_at(t0 + 9s) < t0 + 9s);
}

TEST_CASE("transfer_pace: a client just above the rate keeps up, one just below falls behind",
          "[transfer_pace]") {
  transfer_pace above{240, 5s};
  transfer_pace below{240, 5s};
  auto now = t0;
  for (int second = 0; second < 600; ++second) {
    above.add_wait(now, now + 1s, 250);
    below.add_wait(now, now + 1s, 230);
    now += 1s;
  }
  CHECK(above.too_slow_at(now) == now + 5s);
  // 10 bytes/s short: the 5 s of slack is gone after 120 s.
  CHECK(below.too_slow_at(now) < now);
}

TEST_CASE("transfer_pace: restart refills, 0 disables, a huge count never overflows",
          "[transfer_pace]") {
  transfer_pace pace{240, 5s};
  pace.add_wait(t0, t0 + 60s, 0);
  pace.restart();
  CHECK(pace.too_slow_at(t0) == t0 + 5s);
  transfer_pace off{0, 5s};
  off.add_wait(t0, t0 + 60s, 0);
  CHECK(off.too_slow_at(t0) == transfer_pace::clock::time_point::max());
  // At the largest rate the command line takes, and with more bytes than any transfer moves.
  transfer_pace fast{std::uint64_t{1} << 30, 5s};
  fast.add_wait(t0, t0 + 20s, ~std::uint64_t{0});
  CHECK(fast.too_slow_at(t0 + 20s) == t0 + 25s);
  transfer_pace exact{std::uint64_t{1} << 30, 5s};
  exact.add_wait(t0, t0 + 4s, (std::uint64_t{1} << 30) + 7);
  // One second (and 7 bytes, less than a microsecond) earned, four spent.
  CHECK(exact.too_slow_at(t0 + 4s) == t0 + 6s);
}
