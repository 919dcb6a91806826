# TRISERVE_SANITIZE=address,undefined (or thread) instruments every target of the build.

include_guard(GLOBAL)

set(TRISERVE_SANITIZE "" CACHE STRING "Sanitizers to build with, e.g. address,undefined")
if(TRISERVE_SANITIZE)
  add_compile_options(-fsanitize=${TRISERVE_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${TRISERVE_SANITIZE})
endif()
