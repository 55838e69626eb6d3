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
  # MPI-IO driver (issue 5): Debian's MPICH (headers/ABI the tests link against),
  # and what scripts/build-mpich-homi.sh needs to rebuild MPICH from its source package
  libmpich-dev mpich libhwloc-dev autoconf automake libtool dpkg-dev
  libhdf5-mpich-dev
  # Python module homi (issue 24): headers, and what its tests and pip install use
  python3-dev python3-numpy python3-pytest python3-setuptools python3-wheel python3-pip python3-venv
  # libhomi_mpiio (issue 20): Debian's mpi4py and NumPy as a real client of the PMPI layer,
  # and debootstrap for the Debian 13 lane (scripts/debian13-lane.sh: Open MPI 5, MPICH 4.2)
  python3-mpi4py debootstrap
  # homid as the node service (issue 21): systemd-analyze, -sysusers and
  # -socket-activate check packaging/; useradd makes the tests' two users
  systemd passwd
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# deb-src for `apt-get source mpich` (scripts/build-mpich-homi.sh): the
# mirror of the configured binary entries (lib/apt-mirror.sh), added once.
debian_src=/etc/apt/sources.list.d/homi-debian-src.sources
need_src=0
if [ -r /etc/os-release ] && grep -q '^ID=debian' /etc/os-release && ! [ -e "$debian_src" ] &&
   ! grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  need_src=1
fi
if [ ${#missing[@]} -eq 0 ] && [ $need_src -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
if [ $need_src -eq 1 ]; then
  # shellcheck source=lib/apt-mirror.sh
  source "$(dirname "$0")/lib/apt-mirror.sh"
  mirror=$(apt_debian_mirror)
  echo "install-deps: adding deb-src entries for $mirror ($debian_src)"
  $SUDO tee "$debian_src" >/dev/null <<SRC
Types: deb-src
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
echo "install-deps: installing ${missing[*]:-nothing}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
