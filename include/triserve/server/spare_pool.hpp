#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace triserve::server {

/// Objects lent to connections while they serve a request and taken back when they fall idle:
/// idle keep-alive connections hold none, and a busy daemon does not go to the heap for every
/// request. Keeps what the busiest moment needed (up to `max_spare`), most recently returned
/// first (likeliest in cache), and gives back by trim() what has gone unused since: a burst's
/// memory returns once the burst is over, while steady load never allocates. Guarded by a mutex,
/// uncontended on one thread, so the pools stay correct once the io_context runs on several.
template <typename T>
class spare_pool {
 public:
  using factory = std::function<std::unique_ptr<T>()>;

  spare_pool(factory make, std::size_t max_spare) : make_(std::move(make)), max_spare_(max_spare) {
    spares_.reserve(std::min<std::size_t>(max_spare_, 64));
  }
  spare_pool(const spare_pool&) = delete;
  spare_pool& operator=(const spare_pool&) = delete;

  /// A spare object when there is one, else a new one from the factory.
  std::unique_ptr<T> acquire() {
    {
      std::lock_guard lock(mutex_);
      lent_.fetch_add(1, std::memory_order_relaxed);
      if (!spares_.empty()) {
        auto spare = std::move(spares_.back());
        spares_.pop_back();
        unused_ = std::min(unused_, spares_.size());
        return spare;
      }
      unused_ = 0;
    }
    return make_();
  }

  /// Takes an object back; destroys it when `max_spare` are spare already.
  void release(std::unique_ptr<T> object) {
    if (!object) return;
    std::lock_guard lock(mutex_);
    lent_.fetch_sub(1, std::memory_order_relaxed);
    if (spares_.size() < max_spare_) spares_.push_back(std::move(object));
  }

  /// Objects acquired and not released yet; exact when nothing is in flight.
  std::size_t lent_count() const { return lent_.load(std::memory_order_relaxed); }

  /// Destroys the spares that no acquire() needed since the last trim, keeping at least `keep`;
  /// returns how many it destroyed.
  std::size_t trim_unused(std::size_t keep) {
    std::unique_lock lock(mutex_);
    return trim(lock, std::min(unused_, spares_.size()), keep);
  }

  /// Destroys spares down to `keep` (nothing is in use); returns how many it destroyed.
  std::size_t trim_to(std::size_t keep) {
    std::unique_lock lock(mutex_);
    return trim(lock, spares_.size(), keep);
  }

  /// Spares held right now.
  std::size_t spare_count() const {
    std::lock_guard lock(mutex_);
    return spares_.size();
  }

 private:
  /// Destroys up to `count` spares, keeping at least `keep`. Takes them out under `lock` and
  /// destroys them after releasing it: other threads need not wait for the frees.
  std::size_t trim(std::unique_lock<std::mutex>& lock, std::size_t count, std::size_t keep) {
    const std::size_t above_keep = spares_.size() > keep ? spares_.size() - keep : 0;
    const std::size_t surplus = std::min(count, above_keep);
    if (surplus == 0) {
      unused_ = spares_.size();
      return 0;
    }
    // The coldest spares are at the front.
    const auto first_kept = spares_.begin() + static_cast<std::ptrdiff_t>(surplus);
    std::vector<std::unique_ptr<T>> doomed(std::make_move_iterator(spares_.begin()),
                                           std::make_move_iterator(first_kept));
    spares_.erase(spares_.begin(), first_kept);
    unused_ = spares_.size();
    lock.unlock();
    return doomed.size();
  }

  const factory make_;
  const std::size_t max_spare_;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<T>> spares_;  ///< guarded by mutex_
  /// The fewest spares held since the last trim: that many went unused. Guarded by mutex_.
  std::size_t unused_ = 0;
  /// Changed under mutex_, readable without it.
  std::atomic<std::size_t> lent_{0};
};

}  // namespace triserve::server
