#include "triserve/server/input_buffer.hpp"

#include <algorithm>
#include <cstring>

namespace triserve::server {

input_buffer::~input_buffer() {
  release_storage();
}

void input_buffer::consume(std::size_t count) {
  begin_ += std::min(count, end_ - begin_);
  if (begin_ == end_ && !pinned_) begin_ = end_ = 0;
}

void input_buffer::consume_and_pin(std::size_t head_size) {
  begin_ += std::min(head_size, end_ - begin_);
  pinned_ = true;
  pin_end_ = begin_;
}

void input_buffer::unpin() {
  pinned_ = false;
  pin_end_ = 0;
  if (begin_ == end_) begin_ = end_ = 0;
}

std::span<char> input_buffer::prepare(std::size_t minimum, std::size_t limit) {
  if (!storage_) {
    storage_ = pool_.acquire();
    capacity_ = pool_.block_size();
  }
  if (capacity_ - end_ < minimum && begin_ > pin_end_) {
    const std::size_t unread = end_ - begin_;
    std::memmove(storage_.get() + pin_end_, storage_.get() + begin_, unread);
    begin_ = pin_end_;
    end_ = pin_end_ + unread;
  }
  if (capacity_ - end_ < minimum && !pinned_ && capacity_ < limit) {
    const std::size_t grown = std::min(limit, std::max(capacity_ * 2, end_ + minimum));
    auto bigger = std::make_unique_for_overwrite<char[]>(grown);
    std::memcpy(bigger.get(), storage_.get(), end_);
    // The pool's block goes back to it: the pool counts what it has lent.
    if (capacity_ == pool_.block_size()) pool_.release(std::move(storage_));
    storage_ = std::move(bigger);
    capacity_ = grown;
  }
  return {storage_.get() + end_, capacity_ - end_};
}

void input_buffer::release_if_empty() {
  if (begin_ != end_ || pinned_) return;
  release_storage();
  begin_ = end_ = 0;
}

void input_buffer::release_storage() {
  if (capacity_ == pool_.block_size())
    pool_.release(std::move(storage_));
  else
    storage_.reset();
  capacity_ = 0;
}

}  // namespace triserve::server
