#!/usr/bin/env bash
# build-mpich-homi.sh - builds the installed MPICH's version (Debian's
# source package of libmpich12: 4.0.2-3 on Debian 12) with the HOMI ROMIO
# driver ad_homi into a prefix cached outside the source tree:
#   $HOMI_CACHE_DIR/mpich-<version>-homi-<hash>  (HOMI_CACHE_DIR: /var/cache/homi)
# <hash> covers the driver (romio-adio/: its sources and patch-romio.py),
# the collective engine (src/coll/), include/homi.h, this script and
# scripts/lib/romio-add-homi.sh, so the ~10 minute build runs only when one
# of them changes (scripts/lib/build-cache.sh: cache, lock, source download).  The result, <prefix>/lib/libmpich.so.12, is ABI-compatible
# with Debian's libmpich12: programs linked against Debian's MPICH (and
# Debian's MPICH-built parallel HDF5) use it through LD_LIBRARY_PATH.
# libmpich.so.12 links libhomi.so.0 (shared); put libhomi's directory on
# LD_LIBRARY_PATH too.
#
# usage: build-mpich-homi.sh [--print-prefix] [--libhomi DIR]
#   --print-prefix  print the prefix this tree maps to and exit (builds nothing)
#   --libhomi DIR   directory holding libhomi.so to link against (default: build/src)
# The last line of output is the prefix.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
. scripts/lib/build-cache.sh # CACHE, cache_hash, cache_exit_if_built, cache_lock, cache_unpack
. scripts/lib/romio-add-homi.sh # romio_add_homi
# the installed MPICH's source version (Debian 12: 4.0.2-3; Debian 13:
# 4.3.0+really4.2.1-1), Debian 12's when none is installed
DEB_VER=$(dpkg-query -W -f '${source:Version}' libmpich12 2>/dev/null || true)
[ -n "$DEB_VER" ] || DEB_VER=4.0.2-3
MPICH_VER=${DEB_VER#*:}
MPICH_VER=${MPICH_VER%-*}
MPICH_VER=${MPICH_VER##*really}
LIBHOMI_DIR=$ROOT/build/src
PRINT=0
while [ $# -gt 0 ]; do
  case "$1" in
  --print-prefix) PRINT=1 ;;
  --libhomi) LIBHOMI_DIR=$(cd "$2" && pwd); shift ;;
  *) echo "build-mpich-homi: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

DRIVER_FILES=$(ls romio-adio/ad_homi/*.[ch] src/coll/*.[ch] | LC_ALL=C sort)
# shellcheck disable=SC2086
HASH=$(cache_hash "" $DRIVER_FILES include/homi.h scripts/build-mpich-homi.sh \
  scripts/lib/romio-add-homi.sh romio-adio/patch-romio.py)
PREFIX=$CACHE/mpich-$MPICH_VER-homi-$HASH
if [ $PRINT -eq 1 ]; then
  echo "$PREFIX"
  exit 0
fi
cache_exit_if_built build-mpich-homi "$PREFIX" "$PREFIX"
[ -e "$LIBHOMI_DIR/libhomi.so" ] || {
  echo "build-mpich-homi: no libhomi.so in $LIBHOMI_DIR (build HOMI first or pass --libhomi)" >&2
  exit 1
}
cache_lock mpich-build.lock "$PREFIX" "$PREFIX"

# 1. the source package, downloaded once
WORK=$CACHE/build-mpich-$HASH
cache_unpack build-mpich-homi mpich "$DEB_VER" "$WORK"
M=$WORK/mpich
R=$M/src/mpi/romio

# 2. add the driver: sources, Makefile fragment, registration
romio_add_homi "$R" build-mpich-homi.sh

# 3. regenerate ROMIO's build system (only ROMIO changed)
echo "build-mpich-homi: autoreconf src/mpi/romio"
(cd "$R" && autoreconf -if -I confdb >"$WORK/autoreconf.log" 2>&1) || {
  tail -30 "$WORK/autoreconf.log"
  exit 1
}

# 4. configure: Debian's ABI (library name libmpich.so.12, no Fortran/C++
#    bindings needed: those live in libmpichfort/libmpichcxx), ch3:nemesis
#    (Debian uses ch4:ucx; the MPI ABI does not depend on the device)
export HOMI_LIBS="-L$LIBHOMI_DIR -lhomi"
export LD_LIBRARY_PATH=$LIBHOMI_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export MPILIBNAME=mpich
echo "build-mpich-homi: configure (log: $WORK/configure.log)"
(cd "$M" && ./configure --prefix="$PREFIX" --with-device=ch3:nemesis --with-pm=hydra \
  --with-hwloc-prefix=/usr --without-yaksa --enable-shared --disable-static \
  --disable-fortran --disable-cxx --disable-doc --enable-fast=O2 \
  --with-file-system=ufs+homi --with-wrapper-dl-type=none --disable-wrapper-rpath \
  >"$WORK/configure.log" 2>&1) || {
  tail -40 "$WORK/configure.log"
  exit 1
}
grep -q "ROMIO_HOMI 1" "$R/adio/include/romioconf.h" || {
  echo "build-mpich-homi: ROMIO did not enable the homi file system" >&2
  exit 1
}
JOBS=${HOMI_BUILD_JOBS:-2}
echo "build-mpich-homi: make -j$JOBS (log: $WORK/make.log)"
(cd "$M" && make -j"$JOBS" >"$WORK/make.log" 2>&1 && make install >"$WORK/install.log" 2>&1) || {
  grep -n "error" "$WORK/make.log" | tail -20
  tail -20 "$WORK/make.log"
  exit 1
}
readelf -d "$PREFIX/lib/libmpich.so.12" | grep -q 'libhomi.so' || {
  echo "build-mpich-homi: libmpich.so.12 does not link libhomi" >&2
  exit 1
}
# ROMIO's test programs, sources kept for the CTest suite (tests/mpi)
mkdir -p "$PREFIX/share/romio-test"
cp "$R"/test/*.c "$R"/test/*.h "$PREFIX/share/romio-test/" 2>/dev/null || true
cp "$R"/test/*.in "$PREFIX/share/romio-test/" 2>/dev/null || true
touch "$PREFIX/.complete"
[ -n "${HOMI_KEEP_MPICH_BUILD:-}" ] || rm -rf "$WORK"
echo "build-mpich-homi: built $PREFIX"
echo "$PREFIX"
