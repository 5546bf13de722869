#!/usr/bin/env bash
# Installs everything Custodia needs to build, test and run its interop checks
# on a bare Debian 12 machine. Idempotent: packages already present are kept.
# Only Debian's own archive is used; nothing is downloaded from anywhere else.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git clang libclang-rt-14-dev
  clang-format clang-tidy
  # libraries (DESIGN.md §2)
  libsodium-dev libssl-dev libsqlcipher-dev libzstd-dev libarchive-dev
  nlohmann-json3-dev libcli11-dev libcurl4-openssl-dev libcpp-httplib-dev
  libgtest-dev libgmock-dev
  # independent tools the tests check our formats against
  age minisign zstd tar coreutils openssl zlib1g-dev argon2 sqlcipher
  # a real SOCKS5 proxy for the sync tests (Tor stand-in on loopback)
  microsocks
  # terminal QR codes for enrolment (custodia-intake enroll --qr)
  libqrencode-dev
  # zbarimg: the QR test decodes the terminal drawing of an enrolment code
  zbar-tools
  # extracts fuzz seeds from the age test vectors (tests/fuzz/make_seeds.py)
  python3
  # the desktop app (app/desktop) and its Qt Quick Test suite; tests run on
  # the offscreen platform, so no X server is needed
  qt6-base-dev qt6-declarative-dev qt6-multimedia-dev
  qml6-module-qtqml qml6-module-qtqml-workerscript qml6-module-qtquick
  qml6-module-qtquick-templates qml6-module-qtquick-controls
  qml6-module-qtquick-layouts qml6-module-qtquick-window qml6-module-qtquick-dialogs
  qml6-module-qt-labs-folderlistmodel qml6-module-qttest
  # the desktop app's translations: lupdate/lrelease and their CMake functions
  qt6-l10n-tools qt6-tools-dev qt6-tools-dev-tools
  # a PulseAudio server with a null source, started by the audio recording test
  pulseaudio pulseaudio-utils
  # gcore: the memory tests dump a live, locked process and search the core for secrets
  gdb
)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
as_root apt-get update -q
as_root apt-get install -y -q --no-install-recommends "${missing[@]}"
