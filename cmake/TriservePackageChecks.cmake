# Read by cpack (CPACK_PROJECT_CONFIG_FILE) before it packs, with the values of TriservePackaging.

if(CPACK_GENERATOR STREQUAL "DEB" AND NOT CPACK_PACKAGING_INSTALL_PREFIX STREQUAL "/usr")
  message(FATAL_ERROR
    "a .deb installs under /usr, this build under ${CPACK_PACKAGING_INSTALL_PREFIX}: "
    "configure with `cmake --preset package` (CMAKE_INSTALL_PREFIX=/usr)")
endif()
