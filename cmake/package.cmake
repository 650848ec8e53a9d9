# `cpack -G DEB` from a build folder (build/release): lrsched_<ver>_amd64.deb
# for Debian 12. Nothing is packaged at configure or build time; only cpack
# runs the install rules of cmake/install.cmake into a staging root.
# tests/package/run builds the package, installs it in a throw-away root
# and runs lintian on it.
#
# The package holds the default install plus the `deb` component (gzipped
# man page, copyright, changelog.Debian.gz, /etc/lrsched/), not the plain
# man page of the `man` component. DESTDIR staging with prefix /usr, so the
# install rules see the system layout (/lib/systemd/system, /etc/lrsched).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME lrsched)
set(CPACK_PACKAGE_VENDOR "lrsched maintainers")
set(CPACK_PACKAGE_CONTACT "lrsched maintainers <maintainers@users.noreply.h-seed-dae83921.example>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_CMAKE_PROJECTS
    "${CMAKE_BINARY_DIR};lrsched;Unspecified;/"
    "${CMAKE_BINARY_DIR};lrsched;deb;/")
set(CPACK_STRIP_FILES ON)

# Debian revision 1: the package is not native (its source is not a Debian
# source package), hence changelog.Debian.gz and lrsched_0.1.0-1_amd64.deb.
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# CPack indents the lines after the synopsis and turns an empty line into
# Debian's " ." paragraph break: write them flush left.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "Defender for Endpoint live response scheduler
lrsched runs Microsoft Defender for Endpoint live response commands across
a fleet, as a daemon. A YAML job file names the machines and the commands;
lrsched queues one session per machine in SQLite, submits them within the
API's limits, follows each session to its end and stores the evidence with
a SHA-256 manifest.

The package installs a hardened systemd unit and the lrsched system user,
and enables nothing: write /etc/lrsched/lrsched.yaml and the job files,
then run systemctl enable --now lrsched.")
# The library dependencies (libc, libstdc++, OpenSSL, SQLite, yaml-cpp,
# spdlog, fmt) come from dpkg-shlibdeps on the binary; adduser for the
# postinst's fallback when systemd-sysusers is missing (a container or a
# chroot without the systemd package).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# conffiles lists /etc/lrsched/lrsched.yaml: dpkg keeps the operator's edits.
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${CMAKE_CURRENT_SOURCE_DIR}/cmake/deb/conffiles"
    "${CMAKE_CURRENT_SOURCE_DIR}/cmake/deb/postinst"
    "${CMAKE_CURRENT_SOURCE_DIR}/cmake/deb/prerm"
    "${CMAKE_CURRENT_SOURCE_DIR}/cmake/deb/postrm")

include(CPack)
