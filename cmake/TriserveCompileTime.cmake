# Unity batches for the test programs, which the test, asan and tsan presets turn on: a Catch2
# test file spends most of its compile time on catch2/catch.hpp and the headers it shares with its
# neighbours, so compiling six files as one costs little more than compiling the largest alone
# (six integration test files: 27 s of CPU one by one, 11 s as one batch). Off by default, so the
# release and package builds compile each file on its own.
#
# The test, asan, tsan and fuzz presets also ask for line tables only (-g1; clang reads it as
# -gline-tables-only) instead of -g: sanitizer reports and gdb backtraces keep every frame, file
# and line, inlined frames included, but gdb shows no local variables. Full -g (types, locals and
# their locations) was a third of the compile time of the Asio files (server_group.cpp: 21.6 s
# of CPU with -g, 14.3 s with -g1). For locals, configure a build with
# -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g -DNDEBUG" (asan: -DCMAKE_CXX_FLAGS_DEBUG=-g).

include_guard(GLOBAL)

option(TRISERVE_UNITY_BUILD "Compile the test programs' files in batches (CMake unity builds)" OFF)

# triserve_unity_build(<target> <files per batch>): <target>'s files compiled <files per batch> at
# a time, one translation unit a batch. Names in the anonymous namespaces of a batch's files then
# meet: a clash is a compile error in the unity presets ("redefinition of ..."), fixed by renaming
# or by set_source_files_properties(<file> PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON).
function(triserve_unity_build target batch_size)
  if(TRISERVE_UNITY_BUILD)
    set_target_properties(${target} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE ${batch_size})
  endif()
endfunction()
