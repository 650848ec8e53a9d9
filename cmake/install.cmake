# What `cmake --install` puts where: the daemon, its systemd unit and
# sysusers.d entry, the man page and the examples. Included from the top
# CMakeLists.txt after the targets exist; cmake/package.cmake builds the .deb
# from these same rules plus the `deb` component below.
#
# Two layouts, chosen when installing (not when configuring), so that
# `cmake --install build --prefix /tmp/x` never writes outside /tmp/x:
#   - prefix /usr (the package, or an operator's system install): the unit
#     and sysusers directories systemd's pkg-config file names, e.g. on
#     Debian 12 /lib/systemd/system and /usr/lib/sysusers.d;
#   - any other prefix: <prefix>/lib/systemd/system and
#     <prefix>/lib/sysusers.d (systemd also reads /usr/local/lib/...).
# Without pkg-config or systemd's .pc file (libsystemd-dev brings it), the
# system layout falls back to Debian 12's /lib/systemd/system and
# /usr/lib/sysusers.d; -DLRSCHED_SYSTEMD_UNITDIR= and -DLRSCHED_SYSUSERSDIR=
# override either.
include(GNUInstallDirs)

find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_get_variable(_lrsched_pc_unitdir systemd systemdsystemunitdir)
  pkg_get_variable(_lrsched_pc_sysusersdir systemd sysusersdir)
endif()
if(NOT _lrsched_pc_unitdir)
  set(_lrsched_pc_unitdir /lib/systemd/system)
endif()
if(NOT _lrsched_pc_sysusersdir)
  set(_lrsched_pc_sysusersdir /usr/lib/sysusers.d)
endif()
set(LRSCHED_SYSTEMD_UNITDIR "${_lrsched_pc_unitdir}" CACHE PATH
    "systemd system unit directory used when installing to prefix /usr")
set(LRSCHED_SYSUSERSDIR "${_lrsched_pc_sysusersdir}" CACHE PATH
    "sysusers.d directory used when installing to prefix /usr")

install(TARGETS lrsched RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The unit and the sysusers entry: file(INSTALL) applies DESTDIR itself, and
# CMAKE_INSTALL_PREFIX here is the prefix of this install, --prefix included.
set(_lrsched_unit "${CMAKE_CURRENT_SOURCE_DIR}/systemd/lrsched.service")
set(_lrsched_sysusers "${CMAKE_CURRENT_SOURCE_DIR}/systemd/lrsched.sysusers")
install(CODE "
  if(CMAKE_INSTALL_PREFIX STREQUAL \"/usr\")
    set(_unitdir \"${LRSCHED_SYSTEMD_UNITDIR}\")
    set(_sysusersdir \"${LRSCHED_SYSUSERSDIR}\")
  else()
    set(_unitdir \"\${CMAKE_INSTALL_PREFIX}/lib/systemd/system\")
    set(_sysusersdir \"\${CMAKE_INSTALL_PREFIX}/lib/sysusers.d\")
  endif()
  file(INSTALL DESTINATION \"\${_unitdir}\" TYPE FILE FILES \"${_lrsched_unit}\")
  file(INSTALL DESTINATION \"\${_sysusersdir}\" TYPE FILE
       FILES \"${_lrsched_sysusers}\" RENAME lrsched.conf)
")

# The man page as written; the package ships it gzipped instead (below).
install(FILES docs/lrsched.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8 COMPONENT man)

set(_lrsched_examples ${CMAKE_INSTALL_DATAROOTDIR}/doc/lrsched/examples)
install(FILES config/lrsched.yaml DESTINATION ${_lrsched_examples})
install(DIRECTORY jobs/ DESTINATION ${_lrsched_examples}/jobs)

# Component `deb`: only cpack installs it (cmake/package.cmake), never a
# plain `cmake --install`. Debian wants the man page and the changelog
# compressed with gzip -9n (no name, no time stamp: reproducible), the
# copyright file in the doc folder, and /etc/lrsched/ as configuration: the
# commented example as lrsched.yaml (a conffile: dpkg keeps the operator's
# edits on upgrade) and an empty jobs/ folder.
set(_lrsched_gz "${CMAKE_CURRENT_BINARY_DIR}/deb")
add_custom_command(
  OUTPUT ${_lrsched_gz}/lrsched.8.gz ${_lrsched_gz}/changelog.Debian.gz
  COMMAND ${CMAKE_COMMAND} -E make_directory ${_lrsched_gz}
  COMMAND sh -c "gzip -9n < '${CMAKE_CURRENT_SOURCE_DIR}/docs/lrsched.8' > lrsched.8.gz"
  COMMAND sh -c "gzip -9n < '${CMAKE_CURRENT_SOURCE_DIR}/cmake/deb/changelog' > changelog.Debian.gz"
  DEPENDS docs/lrsched.8 cmake/deb/changelog
  WORKING_DIRECTORY ${_lrsched_gz}
  COMMENT "gzip -9n the man page and the Debian changelog"
  VERBATIM)
add_custom_target(lrsched_deb_files ALL
  DEPENDS ${_lrsched_gz}/lrsched.8.gz ${_lrsched_gz}/changelog.Debian.gz)

install(FILES ${_lrsched_gz}/lrsched.8.gz
  DESTINATION ${CMAKE_INSTALL_MANDIR}/man8 COMPONENT deb EXCLUDE_FROM_ALL)
install(FILES cmake/deb/copyright ${_lrsched_gz}/changelog.Debian.gz
  DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/lrsched COMPONENT deb EXCLUDE_FROM_ALL)
install(FILES config/lrsched.yaml DESTINATION /etc/lrsched COMPONENT deb EXCLUDE_FROM_ALL)
install(DIRECTORY DESTINATION /etc/lrsched/jobs COMPONENT deb EXCLUDE_FROM_ALL)
install(FILES cmake/deb/lintian-overrides DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides
  RENAME lrsched COMPONENT deb EXCLUDE_FROM_ALL)
