#pragma once

#include <cstddef>
#include <memory>

#include "triserve/server/spare_pool.hpp"

namespace triserve::server {

/// Receive buffers of one size, lent to connections while they read a request and taken back when
/// they fall idle; see spare_pool for how many it keeps.
class buffer_pool {
 public:
  buffer_pool(std::size_t block_size, std::size_t max_spare);

  /// The size of every block the pool lends.
  std::size_t block_size() const { return block_size_; }

  /// A block of block_size() bytes, uninitialised: a spare one when there is one.
  std::unique_ptr<char[]> acquire() { return blocks_.acquire(); }
  /// Takes back a block of block_size() bytes that acquire() lent; frees it when enough are spare.
  void release(std::unique_ptr<char[]> block) { blocks_.release(std::move(block)); }

  /// Frees the spare blocks unused since the last trim, keeping at least `keep`; returns how
  /// many it freed.
  std::size_t trim_unused(std::size_t keep) { return blocks_.trim_unused(keep); }
  /// Frees spare blocks down to `keep`; returns how many it freed.
  std::size_t trim_to(std::size_t keep) { return blocks_.trim_to(keep); }

  /// Blocks lent out right now.
  std::size_t lent_count() const { return blocks_.lent_count(); }

  /// Spare blocks held right now.
  std::size_t spare_count() const { return blocks_.spare_count(); }

 private:
  const std::size_t block_size_;
  spare_pool<char[]> blocks_;
};

}  // namespace triserve::server
