#pragma once

#include <cstdio>
#include <cstdlib>

/// Aborts with the failed condition and its location when an invariant does not hold. Unlike
/// assert() it stays on under NDEBUG, so RelWithDebInfo fuzz builds still check everything.
#define FUZZ_CHECK(condition)                                                                \
  do {                                                                                       \
    if (!(condition)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (false)
