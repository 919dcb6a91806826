#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace triserve::server {

/// Objects lent to connections while they serve a request and taken back when they fall idle:
/// idle keep-alive connections hold none, and a busy daemon does not go to the heap for every
/// request. Keeps at most `max_spare` spares, most recently returned first (likeliest in cache).
/// Guarded by a mutex, uncontended on one thread, so the pools stay correct once the io_context
/// runs on several.
template <typename T>
class spare_pool {
 public:
  using factory = std::function<std::unique_ptr<T>()>;

  spare_pool(factory make, std::size_t max_spare) : make_(std::move(make)), max_spare_(max_spare) {
    spares_.reserve(max_spare_);
  }
  spare_pool(const spare_pool&) = delete;
  spare_pool& operator=(const spare_pool&) = delete;

  /// A spare object when there is one, else a new one from the factory.
  std::unique_ptr<T> acquire() {
    {
      std::lock_guard lock(mutex_);
      if (!spares_.empty()) {
        auto spare = std::move(spares_.back());
        spares_.pop_back();
        return spare;
      }
    }
    return make_();
  }

  /// Takes an object back; destroys it when enough are spare (what a burst left behind).
  void release(std::unique_ptr<T> object) {
    if (!object) return;
    std::lock_guard lock(mutex_);
    if (spares_.size() < max_spare_) spares_.push_back(std::move(object));
  }

  /// Spares held right now.
  std::size_t spare_count() const {
    std::lock_guard lock(mutex_);
    return spares_.size();
  }

 private:
  const factory make_;
  const std::size_t max_spare_;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<T>> spares_;  ///< guarded by mutex_
};

}  // namespace triserve::server
