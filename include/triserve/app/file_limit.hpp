#pragma once

#include <cstdint>
#include <optional>

namespace triserve::app {

/// Raises the soft limit on open files to the hard limit, as Go's runtime does at start-up: every
/// connection holds a descriptor, and the usual soft limit of 1024 is far below what one process
/// can serve. Returns the limit in force afterwards; nullopt when it cannot be read.
std::optional<std::uint64_t> raise_open_file_limit();

}  // namespace triserve::app
