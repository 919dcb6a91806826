# Compiler warnings every triserve target builds clean with.

include_guard(GLOBAL)

function(triserve_enable_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wconversion -Wshadow)
  if(TRISERVE_SANITIZE AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC's flow analysis under -fsanitize reports uninitialised reads in libstdc++'s own
    # std::regex and std::function (used by Catch2) that do not exist.
    target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
  endif()
  if(TRISERVE_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
