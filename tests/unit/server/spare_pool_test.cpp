#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include "triserve/server/spare_pool.hpp"

using triserve::server::spare_pool;

namespace {

/// A pool of ints that counts how many it made.
struct counting_pool {
  int made = 0;
  spare_pool<int> pool{[this] { return std::make_unique<int>(++made); }, 8};

  /// Acquires `count` objects at once, then gives them all back: a burst of that concurrency.
  void burst(int count) {
    std::vector<std::unique_ptr<int>> held;
    for (int i = 0; i < count; ++i) held.push_back(pool.acquire());
    for (auto& object : held) pool.release(std::move(object));
  }
};

}  // namespace

TEST_CASE("spare_pool reuses what it got back, up to its cap", "[unit][pool]") {
  counting_pool p;
  p.burst(5);
  CHECK(p.made == 5);
  CHECK(p.pool.spare_count() == 5);
  p.burst(5);
  CHECK(p.made == 5);  // steady load: nothing new
  p.burst(12);
  CHECK(p.made == 12);
  CHECK(p.pool.spare_count() == 8);  // the cap
}

TEST_CASE("spare_pool trims only what went unused since the last trim", "[unit][pool]") {
  counting_pool p;
  p.burst(8);
  REQUIRE(p.pool.spare_count() == 8);
  p.pool.trim_unused(2);  // starts the measurement: nothing acquired before it counts
  p.burst(3);             // the load since needed three at once
  CHECK(p.pool.trim_unused(2) == 5);
  CHECK(p.pool.spare_count() == 3);
  // Nothing acquired at all: everything above `keep` goes.
  CHECK(p.pool.trim_unused(2) == 1);
  CHECK(p.pool.spare_count() == 2);
  CHECK(p.pool.trim_unused(2) == 0);
}

TEST_CASE("spare_pool trim_to frees down to what it keeps", "[unit][pool]") {
  counting_pool p;
  p.burst(6);
  auto held = p.pool.acquire();  // in use: not the pool's to free
  CHECK(p.pool.trim_to(1) == 4);
  CHECK(p.pool.spare_count() == 1);
  p.pool.release(std::move(held));
  CHECK(p.pool.spare_count() == 2);
}
