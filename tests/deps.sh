# Sourced by tests/run and tests/demo: installs the Debian 12 packages lrsched
# builds with, when any is missing. Idempotent and non-interactive; as root it
# runs apt-get itself, otherwise through sudo when there is one.
lrsched_packages=(
  g++ cmake ninja-build pkg-config clang-format
  libboost1.81-dev libssl-dev libsqlite3-dev nlohmann-json3-dev libyaml-cpp-dev
  libspdlog-dev doctest-dev libsystemd-dev tzdata openssl python3
  libzip-dev  # evidence/zip_content.cpp: GetFile ZIPs compared by content
  clang-14 libclang-rt-14-dev
  python3-prometheus-client  # parses /metrics in tests/page/page_sweep_e2e.py
  chromium  # headless, for the status page's browser test (tests/page/page_test.py)
  dpkg-dev lintian mandoc groff-base  # tests/package/run: dpkg-shlibdeps for cpack, lints the .deb and lrsched(8)
)

lrsched_install_deps() {
  local missing=()
  local p
  for p in "${lrsched_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "Installing Debian packages: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo=(sudo); else
      echo "Missing packages (${missing[*]}) and not root: install them with apt-get." >&2
      return 1
    fi
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
