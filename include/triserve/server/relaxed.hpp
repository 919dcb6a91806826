#pragma once

#include <atomic>

namespace triserve::server {

/// A value one thread writes and others only glance at (status lines, the deadline sweep), where a
/// stale read is harmless: plain-looking reads and writes, relaxed ordering, and on x86 the same
/// instructions as a plain variable.
template <typename T>
class relaxed {
 public:
  constexpr relaxed(T initial) noexcept : value_(initial) {}  // NOLINT: converts like a T
  relaxed(const relaxed&) = delete;
  relaxed& operator=(const relaxed&) = delete;

  relaxed& operator=(T desired) noexcept {
    value_.store(desired, std::memory_order_relaxed);
    return *this;
  }
  operator T() const noexcept { return load(); }  // NOLINT
  /// The value, where a conversion would not be found (templated operators).
  T load() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<T> value_;
};

}  // namespace triserve::server
