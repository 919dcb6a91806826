# TRISERVE_SANITIZE=address,undefined (or thread) instruments every target of the build.

include_guard(GLOBAL)

set(TRISERVE_SANITIZE "" CACHE STRING "Sanitizers to build with, e.g. address,undefined")
if(TRISERVE_SANITIZE)
  add_compile_options(-fsanitize=${TRISERVE_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${TRISERVE_SANITIZE})
  if(TRISERVE_SANITIZE MATCHES "undefined")
    # UBSan's vptr check probes memory through a pipe(): in a process out of file descriptors
    # (which the accept-error test causes on purpose) every virtual call then "fails". The
    # other UB checks need no descriptors.
    add_compile_options(-fno-sanitize=vptr)
    add_link_options(-fno-sanitize=vptr)
  endif()
  if(TRISERVE_SANITIZE MATCHES "thread")
    # ThreadSanitizer does not model std::atomic_thread_fence, which Asio's handler completions
    # use on top of the scheduler's mutexes; those mutexes already order every hand-over it sees.
    add_compile_definitions(ASIO_DISABLE_FENCED_BLOCK)
  endif()
endif()
