#include "triserve/server/buffer_pool.hpp"

namespace triserve::server {

buffer_pool::buffer_pool(std::size_t block_size, std::size_t max_spare)
    : block_size_(block_size),
      blocks_([block_size] { return std::make_unique_for_overwrite<char[]>(block_size); },
              max_spare) {}

}  // namespace triserve::server
