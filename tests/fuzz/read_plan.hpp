#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace triserve::fuzz {

/// How a harness cuts its input into the reads a socket would deliver. A first byte with its high
/// bit set is a header: its low four bits plus one give how many read sizes follow, one byte each
/// (the size is the byte plus one), and the rest is the payload. Any other input is all payload,
/// cut at sizes drawn from a hash of it, so seed files stay plain HTTP.
struct read_plan {
  std::string_view payload;
  std::vector<std::size_t> read_sizes;  ///< cycled until the payload is used up; none is zero
  std::uint64_t seed = 0;               ///< for the harness's other choices (limits)

  /// The ends of the successive prefixes a reader would see, strictly increasing and ending at
  /// payload.size(). Beyond `max_reads` reads, the last one takes the rest.
  std::vector<std::size_t> prefix_ends(std::size_t max_reads) const;

  /// A pseudo-random number derived from `seed` and `salt`.
  std::uint64_t draw(std::uint64_t salt) const;
};

/// Splits a fuzzer input into a payload and its read sizes as described on read_plan.
read_plan make_read_plan(const std::uint8_t* data, std::size_t size);

/// The ends of one-byte reads over `size` bytes: 1, 2, ..., size (or {0} when size is 0).
std::vector<std::size_t> bytewise_ends(std::size_t size);

}  // namespace triserve::fuzz
