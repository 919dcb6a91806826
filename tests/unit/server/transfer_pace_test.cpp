#include "triserve/server/transfer_pace.hpp"

#include <catch2/catch.hpp>

#include <chrono>

using triserve::server::transfer_pace;
using namespace std::chrono_literals;

namespace {

const transfer_pace::clock::time_point t0 = transfer_pace::clock::time_point{} + 1h;

}  // namespace

TEST_CASE("transfer_pace: a wait with nothing moved is too slow once the grace is over",
          "[transfer_pace]") {
  transfer_pace pace{240, 5s};
  CHECK(pace.too_slow_at(t0) == t0 + 5s);
  // A later wait has only what is left of the grace.
  pace.add_wait(t0, t0 + 2s, 0);
  CHECK(pace.too_slow_at(t0 + 10s) == t0 + 13s);
}

TEST_CASE("transfer_pace: bytes moved earn time at the minimum rate", "[transfer_pace]") {
  transfer_pace pace{240, 5s};
  // 2400 bytes in 1 s of waiting: 10 s of credit at 240 bytes/s, 9 s of it still unused.
  pace.add_wait(t0, t0 + 1s, 2400);
  CHECK(pace.too_slow_at(t0 + 1s) == t0 + 10s);
  // Bytes of the wait in progress count too.
  CHECK(pace.too_slow_at(t0 + 1s, 240) == t0 + 11s);
  // 120 bytes in 20 s is 6 bytes/s: past the grace and below the rate, so already too slow.
  transfer_pace slow{240, 5s};
  slow.add_wait(t0, t0 + 20s, 120);
  CHECK(slow.too_slow_at(t0 + 20s) <= t0 + 20s);
}

TEST_CASE("transfer_pace: restart forgets, 0 disables, huge credit never overflows",
          "[transfer_pace]") {
  transfer_pace pace{240, 5s};
  pace.add_wait(t0, t0 + 60s, 0);
  pace.restart();
  CHECK(pace.too_slow_at(t0) == t0 + 5s);
  const transfer_pace off{0, 5s};
  CHECK_FALSE(off.enforced());
  CHECK(off.too_slow_at(t0) == transfer_pace::clock::time_point::max());
  // More than a day of credit (here at the largest rate the command line takes) is none at all.
  transfer_pace fast{1u << 30, 5s};
  fast.add_wait(t0, t0 + 1s, ~std::uint64_t{0} / 2);
  CHECK(fast.too_slow_at(t0 + 1s) == transfer_pace::clock::time_point::max());
  transfer_pace rate{1u << 30, 5s};
  rate.add_wait(t0, t0 + 1s, (std::uint64_t{1} << 30) * 10 + 7);
  // Ten seconds earned (the 7 bytes are worth less than a microsecond), one of them used.
  CHECK(rate.too_slow_at(t0 + 1s) == t0 + 10s);
}
