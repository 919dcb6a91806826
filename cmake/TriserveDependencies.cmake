# Finds triserve's dependencies among Debian's packages and names the package when one is missing.

include_guard(GLOBAL)

find_package(Threads REQUIRED)

# Standalone Asio ships no CMake package: find its header and wrap it in an interface target.
find_path(TRISERVE_ASIO_INCLUDE_DIR asio.hpp)
if(NOT TRISERVE_ASIO_INCLUDE_DIR)
  message(FATAL_ERROR "standalone Asio (asio.hpp) not found: install the Debian package libasio-dev")
endif()
add_library(triserve_asio INTERFACE)
target_include_directories(triserve_asio SYSTEM INTERFACE ${TRISERVE_ASIO_INCLUDE_DIR})
# Asio decides between aligned_alloc and operator new per translation unit, depending on whether
# a libstdc++ header came first; frames allocated in one and freed in another then mismatch
# (AddressSanitizer: alloc-dealloc-mismatch). Pin the choice for every unit.
target_compile_definitions(triserve_asio INTERFACE ASIO_STANDALONE ASIO_NO_DEPRECATED
                                                   ASIO_DISABLE_STD_ALIGNED_ALLOC ASIO_RECYCLING_ALLOCATOR_CACHE_SIZE=16)
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  # clang 14 with libstdc++ 12 does not detect coroutine support on its own.
  target_compile_definitions(triserve_asio INTERFACE ASIO_HAS_CO_AWAIT=1 ASIO_HAS_STD_COROUTINE=1)
endif()
target_link_libraries(triserve_asio INTERFACE Threads::Threads)

macro(triserve_require_package name debian_package)
  find_package(${name} QUIET ${ARGN})
  if(NOT ${name}_FOUND)
    message(FATAL_ERROR "${name} not found: install the Debian package ${debian_package}")
  endif()
endmacro()

triserve_require_package(fmt libfmt-dev)
triserve_require_package(spdlog libspdlog-dev)
triserve_require_package(CLI11 libcli11-dev)
triserve_require_package(OpenSSL libssl-dev 3)

# libnghttp2 ships no CMake package (and pkg-config is not installed with it): find its header and
# library. The flood limits need Debian's security updates of 1.52 (deb12u1: the stream reset rate
# limit, CVE-2023-44487; deb12u2: the CONTINUATION limit, CVE-2024-28182).
find_path(TRISERVE_NGHTTP2_INCLUDE_DIR nghttp2/nghttp2.h)
find_library(TRISERVE_NGHTTP2_LIBRARY nghttp2)
if(NOT TRISERVE_NGHTTP2_INCLUDE_DIR OR NOT TRISERVE_NGHTTP2_LIBRARY)
  message(FATAL_ERROR "libnghttp2 not found: install the Debian package libnghttp2-dev")
endif()
include(CheckSymbolExists)
set(CMAKE_REQUIRED_INCLUDES ${TRISERVE_NGHTTP2_INCLUDE_DIR})
set(CMAKE_REQUIRED_LIBRARIES ${TRISERVE_NGHTTP2_LIBRARY})
check_symbol_exists(nghttp2_option_set_max_continuations nghttp2/nghttp2.h
                    TRISERVE_NGHTTP2_HAS_FLOOD_LIMITS)
unset(CMAKE_REQUIRED_INCLUDES)
unset(CMAKE_REQUIRED_LIBRARIES)
if(NOT TRISERVE_NGHTTP2_HAS_FLOOD_LIMITS)
  message(FATAL_ERROR "libnghttp2 lacks nghttp2_option_set_max_continuations (CVE-2024-28182): "
                      "install Debian 12's libnghttp2-dev 1.52.0-1+deb12u2 or later")
endif()
add_library(triserve_nghttp2 INTERFACE)
target_include_directories(triserve_nghttp2 SYSTEM INTERFACE ${TRISERVE_NGHTTP2_INCLUDE_DIR})
target_link_libraries(triserve_nghttp2 INTERFACE ${TRISERVE_NGHTTP2_LIBRARY})

# spdlog and fmt compiled into triserve from their headers: the shared libspdlog and libfmt would
# each pull in the shared libstdc++, whose pages alone are a third of an idle daemon's RSS.
add_library(triserve_logging INTERFACE)
get_target_property(TRISERVE_SPDLOG_INCLUDE_DIRS spdlog::spdlog_header_only INTERFACE_INCLUDE_DIRECTORIES)
target_include_directories(triserve_logging SYSTEM INTERFACE ${TRISERVE_SPDLOG_INCLUDE_DIRS})
target_compile_definitions(triserve_logging INTERFACE SPDLOG_FMT_EXTERNAL)
target_link_libraries(triserve_logging INTERFACE fmt::fmt-header-only Threads::Threads)

if(TRISERVE_BUILD_TESTS)
  triserve_require_package(Catch2 catch2 2)
endif()
