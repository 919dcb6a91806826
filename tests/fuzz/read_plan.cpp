#include "read_plan.hpp"

#include <algorithm>

namespace triserve::fuzz {

namespace {

std::uint64_t fnv1a(const std::uint8_t* data, std::size_t size) {
  std::uint64_t h = 0xcbf29ce484222325u;
  for (std::size_t i = 0; i < size; ++i) {
    h ^= data[i];
    h *= 0x100000001b3u;
  }
  return h;
}

std::uint64_t splitmix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15u;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
  return x ^ (x >> 31);
}

}  // namespace

std::uint64_t read_plan::draw(std::uint64_t salt) const {
  return splitmix(seed ^ splitmix(salt));
}

std::vector<std::size_t> read_plan::prefix_ends(std::size_t max_reads) const {
  std::vector<std::size_t> ends;
  std::size_t end = 0;
  for (std::size_t i = 0; end < payload.size(); ++i) {
    if (ends.size() + 1 >= max_reads) {
      end = payload.size();
    } else {
      end = std::min(payload.size(), end + read_sizes[i % read_sizes.size()]);
    }
    ends.push_back(end);
  }
  if (ends.empty()) ends.push_back(0);
  return ends;
}

read_plan make_read_plan(const std::uint8_t* data, std::size_t size) {
  read_plan plan;
  if (size > 0 && (data[0] & 0x80) != 0) {
    const std::size_t count = std::min<std::size_t>((data[0] & 0x0fu) + 1u, size - 1);
    for (std::size_t i = 0; i < count; ++i) plan.read_sizes.push_back(data[1 + i] + 1u);
    const std::size_t header = 1 + count;
    plan.payload = {reinterpret_cast<const char*>(data) + header, size - header};
    plan.seed = fnv1a(data, header);
  } else {
    plan.payload = {reinterpret_cast<const char*>(data), size};
    plan.seed = fnv1a(data, size);
  }
  if (plan.read_sizes.empty()) {
    // A mix of tiny reads (a CR apart from its LF) and ordinary ones.
    for (std::uint64_t i = 0; i < 4; ++i) {
      const std::uint64_t r = plan.draw(i);
      plan.read_sizes.push_back(
          static_cast<std::size_t>(r % 4 == 0 ? 1 + (r >> 8) % 3 : 1 + (r >> 8) % 200));
    }
  }
  return plan;
}

std::vector<std::size_t> bytewise_ends(std::size_t size) {
  std::vector<std::size_t> ends;
  for (std::size_t i = 1; i <= size; ++i) ends.push_back(i);
  if (ends.empty()) ends.push_back(0);
  return ends;
}

}  // namespace triserve::fuzz
