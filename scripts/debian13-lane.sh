#!/usr/bin/env bash
# debian13-lane.sh - the current-generation MPI lane (issue 20): HOMI and
# libhomi_mpiio built with Debian 13's compiler and packages inside a
# Debian 13 (trixie) chroot, and the PMPI layer's MPI-IO suite (the
# pmpi_* CTest tests: test_mpiio with every read form and view, flattener,
# bad input, threads, selection, stand-aside, linked, homi-run --preload)
# run on its unmodified Open MPI 5.0 (OMPIO) and MPICH 4.2.
#
#   scripts/debian13-lane.sh            (root: debootstrap, chroot, mounts)
#
# The chroot is made once with debootstrap (minbase) from the Debian
# archive the machine's apt sources name (scripts/lib/apt-mirror.sh), then
# the packages below are installed in it with its own apt; it is cached as
# $HOMI_CACHE_DIR/debian13-<hash> (hash of this script), older ones are
# removed.  Each run bind-mounts the source tree read-only at /src, builds
# into the chroot's /work (emptied first) and runs ctest -R '^pmpi_' there
# (not the _writes_full_ tests: the chroot has no loop devices or mkfs; the
# main lane runs them).
# Exit status: ctest's; 77 when not root or debootstrap is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
. scripts/lib/build-cache.sh # CACHE, cache_hash
. scripts/lib/apt-mirror.sh  # apt_debian_mirror
SUITE=trixie
PKGS=(build-essential cmake pkg-config liburing-dev libnvme-dev libjson-c-dev
  libopenmpi-dev openmpi-bin libmpich-dev mpich)
say() { echo "debian13-lane: $*"; }
[ "$(id -u)" = 0 ] || { say "SKIP: needs root (debootstrap, chroot, mounts)"; exit 77; }
command -v debootstrap >/dev/null || { say "SKIP: debootstrap missing (apt-get install debootstrap)"; exit 77; }

CH=$CACHE/debian13-$(cache_hash "" scripts/debian13-lane.sh)
mkdir -p "$CACHE"
exec 9>"$CACHE/debian13.lock"
flock 9
mounted=()
cleanup() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
mnt() { # mnt TARGET MOUNT-ARGS...: mount and remember for cleanup
  local t=$1
  shift
  mount "$@" "$t"
  mounted+=("$t")
}

if [ ! -e "$CH/.complete" ]; then
  for old in "$CACHE"/debian13-*; do [ -d "$old" ] && [ "$old" != "$CH" ] && rm -rf "$old"; done
  rm -rf "$CH"
  mirror=$(apt_debian_mirror) || { say "no Debian archive in the apt sources"; exit 1; }
  say "debootstrap $SUITE into $CH (from the configured archive)"
  t0=$SECONDS
  debootstrap --variant=minbase "$SUITE" "$CH" "$mirror" >"$CACHE/debian13-debootstrap.log" 2>&1 || {
    tail -20 "$CACHE/debian13-debootstrap.log"
    exit 1
  }
  mnt "$CH/proc" -t proc proc
  say "installing ${PKGS[*]}"
  chroot "$CH" /bin/sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install \
    -y -qq --no-install-recommends ${PKGS[*]} && apt-get clean" >"$CACHE/debian13-apt.log" 2>&1 || {
    tail -20 "$CACHE/debian13-apt.log"
    exit 1
  }
  umount -l "$CH/proc"
  mounted=()
  touch "$CH/.complete"
  say "chroot ready in $((SECONDS - t0)) s"
fi

mkdir -p "$CH/src" "$CH/work"
mnt "$CH/proc" -t proc proc
mnt "$CH/dev" --bind /dev
mnt "$CH/dev/shm" -t tmpfs tmpfs
mnt "$CH/tmp" -t tmpfs tmpfs
mnt "$CH/src" --bind "$ROOT"
mount -o remount,bind,ro "$CH/src"
say "$(chroot "$CH" sh -c '. /etc/os-release; echo "$PRETTY_NAME"'), $(chroot "$CH" gcc --version | head -1)"
say "$(chroot "$CH" mpirun.openmpi --version | head -1); MPICH $(chroot "$CH" mpichversion | awk '/Version:/ {print $3}')"
chroot "$CH" /bin/bash -c '
  set -e
  rm -rf /work/b
  cmake -S /src -B /work/b -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHOMI_WERROR=ON -DHOMI_CUDA=OFF \
    -DHOMI_PYTHON=OFF -DHOMI_HDF5=OFF > /work/cmake.log 2>&1 || { tail -30 /work/cmake.log; exit 1; }
  grep "PMPI layer" /work/cmake.log
  cmake --build /work/b -j"$(nproc)" > /work/build.log 2>&1 || { grep -E "error|warning" /work/build.log | head -40; exit 1; }
  echo "debian13-lane: built (warnings are errors)"
  cd /work/b && ctest -R "^pmpi_" -E "_writes_full_" --output-on-failure'
