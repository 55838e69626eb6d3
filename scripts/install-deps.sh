#!/usr/bin/env bash
# install-deps.sh - installs every build/test dependency of HOMI from the
# distribution (Debian 12 / Ubuntu 24.04), by package name. Needs root.
# Skips apt entirely when everything is already installed.
set -euo pipefail
PKGS=(
  build-essential cmake pkg-config git
  liburing-dev libnvme-dev libjson-c-dev
  libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools libucx-dev
  libhdf5-dev
  xfsprogs e2fsprogs util-linux mount fdisk
  qemu-system-x86 seabios busybox-static kmod cpio
  clang-format
  clang libclang-rt-14-dev
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
