#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace triserve::server {

/// Receive buffers of one size, lent to connections while they read a request and taken back when
/// they fall idle: idle keep-alive connections hold no buffer, and a busy daemon does not go to the
/// heap for every request. Keeps at most `max_free` spare blocks; safe to share between threads.
class buffer_pool {
 public:
  buffer_pool(std::size_t block_size, std::size_t max_free);
  buffer_pool(const buffer_pool&) = delete;
  buffer_pool& operator=(const buffer_pool&) = delete;

  /// The size of every block the pool lends.
  std::size_t block_size() const { return block_size_; }

  /// A block of block_size() bytes, uninitialised: a spare one when there is one.
  std::unique_ptr<char[]> acquire();
  /// Takes back a block of block_size() bytes that acquire() lent; frees it when enough are spare.
  void release(std::unique_ptr<char[]> block);

  /// Spare blocks held right now.
  std::size_t spare_count() const;

 private:
  const std::size_t block_size_;
  const std::size_t max_free_;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<char[]>> free_;  ///< guarded by mutex_
};

}  // namespace triserve::server
