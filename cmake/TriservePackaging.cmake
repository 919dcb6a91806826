# What `cmake --install` puts where, and how `cpack` turns that into triserve_<version>_amd64.deb.
#
# The layout is Debian's, for CMAKE_INSTALL_PREFIX=/usr (the `package` preset):
#   /usr/bin/triserve
#   /usr/share/man/man1/triserve.1.gz            generated from --help by help2man
#   /usr/lib/systemd/system/triserve.{service,socket}
#   /etc/triserve/triserve.toml                  a conffile: the service's --config
#   /usr/share/doc/triserve/                     README.md, examples/triserve.toml
# The units name /usr/bin/triserve and /etc/triserve/triserve.toml as they stand: installed under
# another prefix, point ExecStart= there with a drop-in.

include_guard(GLOBAL)
include(GNUInstallDirs)

install(TARGETS triserve RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

find_program(TRISERVE_HELP2MAN help2man)
find_program(TRISERVE_GZIP gzip)
# Not for sanitizer builds: their binary may refuse to run on some hosts (ThreadSanitizer and
# the memory layout), which would fail the build rather than a test; the page is the same.
if(TRISERVE_HELP2MAN AND TRISERVE_GZIP AND NOT TRISERVE_SANITIZE)
  # Built from the binary's own --help, so the options in the man page are the ones it takes.
  # The version string leaves the commit out: the page describes the release, not the build.
  set(triserve_man_page ${CMAKE_CURRENT_BINARY_DIR}/triserve.1)
  add_custom_command(
    OUTPUT ${triserve_man_page}.gz
    COMMAND ${TRISERVE_HELP2MAN} --no-info "--name=three HTTP/1.1 servers, one graceful drain"
            --version-string=${PROJECT_VERSION}
            --include=${PROJECT_SOURCE_DIR}/contrib/triserve.h2m --output=${triserve_man_page}
            $<TARGET_FILE:triserve>
    # -n: no name or time stamp inside, so the same page gives the same bytes.
    COMMAND ${TRISERVE_GZIP} -n -9 -f ${triserve_man_page}
    DEPENDS triserve ${PROJECT_SOURCE_DIR}/contrib/triserve.h2m
    COMMENT "Generating the man page triserve.1.gz with help2man"
    VERBATIM)
  add_custom_target(triserve_man_page ALL DEPENDS ${triserve_man_page}.gz)
  install(FILES ${triserve_man_page}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
elseif(NOT TRISERVE_SANITIZE)
  message(STATUS "help2man or gzip missing: no man page is built or installed")
endif()

# /usr/lib/systemd/system rather than /lib: systemd 252 reads both, they are one directory on
# Debian 12's merged /usr, and it is where Debian moves packaged units next.
install(FILES contrib/systemd/triserve.service contrib/systemd/triserve.socket
        DESTINATION lib/systemd/system)

# The service reads its configuration from /etc (CMAKE_INSTALL_FULL_SYSCONFDIR is /etc for the
# prefix /usr), where dpkg treats it as a conffile and keeps the administrator's edits across
# upgrades. The untouched copy under examples/ is what to diff against.
install(FILES contrib/triserve.toml DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/triserve)
install(FILES contrib/triserve.toml DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME triserve)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT
    "triserve maintainers <maintainers@users.noreply.b-seed-0614379b.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
# The summary above is the first line of Description; this is the rest.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "triserve runs three HTTP/1.1 servers in one process: hello (port 7000), hello-name (port 8000,
answering with the name in the query string) and echo (port 9000, streaming the request body
back). SIGTERM drains all three together: the listeners close, requests in flight finish, and a
deadline bounds the wait.

The package ships a systemd service (Type=notify, sandboxed, dynamic user) and a socket unit
for the three ports; neither is enabled on installation.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# dpkg-shlibdeps fills Depends from the shared libraries the binary needs. Today that is libc6
# alone: fmt and spdlog are compiled in from their headers (TriserveDependencies), libstdc++ and
# libgcc are linked in statically.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/contrib/debian/conffiles ${PROJECT_SOURCE_DIR}/contrib/debian/postinst
    ${PROJECT_SOURCE_DIR}/contrib/debian/prerm ${PROJECT_SOURCE_DIR}/contrib/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
# cpack reads this before packing: it refuses a .deb whose files would not be where the units
# and the conffile list say.
set(CPACK_PROJECT_CONFIG_FILE ${PROJECT_SOURCE_DIR}/cmake/TriservePackageChecks.cmake)
include(CPack)
