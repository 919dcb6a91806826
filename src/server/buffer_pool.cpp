#include "triserve/server/buffer_pool.hpp"

namespace triserve::server {

buffer_pool::buffer_pool(std::size_t block_size, std::size_t max_free)
    : block_size_(block_size), max_free_(max_free) {
  free_.reserve(max_free_);
}

std::unique_ptr<char[]> buffer_pool::acquire() {
  {
    std::lock_guard lock(mutex_);
    if (!free_.empty()) {
      auto block = std::move(free_.back());
      free_.pop_back();
      return block;
    }
  }
  return std::make_unique_for_overwrite<char[]>(block_size_);
}

void buffer_pool::release(std::unique_ptr<char[]> block) {
  if (!block) return;
  std::lock_guard lock(mutex_);
  // Beyond the spares a burst left behind, memory goes back to the allocator.
  if (free_.size() < max_free_) free_.push_back(std::move(block));
}

std::size_t buffer_pool::spare_count() const {
  std::lock_guard lock(mutex_);
  return free_.size();
}

}  // namespace triserve::server
