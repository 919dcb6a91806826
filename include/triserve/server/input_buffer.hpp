#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string_view>

#include "triserve/server/buffer_pool.hpp"

namespace triserve::server {

/// The bytes a connection has received and not yet consumed. The head of the request in progress
/// can be pinned: compaction then moves unread bytes only down to the end of the pinned head, so
/// the request's views into it stay valid while its body streams through the rest of the buffer.
/// Its first block of storage is borrowed from a pool; a grown one is its own.
class input_buffer {
 public:
  explicit input_buffer(buffer_pool& pool) : pool_(pool) {}
  ~input_buffer();
  input_buffer(const input_buffer&) = delete;
  input_buffer& operator=(const input_buffer&) = delete;

  /// Unconsumed received bytes.
  std::string_view data() const { return {storage_.get() + begin_, end_ - begin_}; }
  bool empty() const { return begin_ == end_; }
  std::size_t size() const { return end_ - begin_; }
  std::size_t capacity() const { return capacity_; }

  /// Drops `count` bytes from the front of data().
  void consume(std::size_t count);

  /// Consumes the `head_size` bytes of the current request's head and keeps them in place, with
  /// everything before them, until unpin().
  void consume_and_pin(std::size_t head_size);
  /// The head is no longer needed: its bytes may be overwritten.
  void unpin();

  /// Room to receive into, at least `minimum` bytes when the buffer may grow to `limit` bytes.
  /// Compacts first; grows (moving pinned bytes too) only when nothing is pinned. Empty when full.
  std::span<char> prepare(std::size_t minimum, std::size_t limit);

  /// Marks `count` bytes received into the span prepare() returned.
  void commit(std::size_t count) { end_ += count; }

  /// Gives the storage back when nothing is buffered, so an idle connection costs no buffer.
  void release_if_empty();

 private:
  void release_storage();

  buffer_pool& pool_;
  std::unique_ptr<char[]> storage_;
  std::size_t capacity_ = 0;
  bool pinned_ = false;
  std::size_t pin_end_ = 0;  ///< first byte after the pinned head
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace triserve::server
