#!/usr/bin/env bash
# build-hdf5-114.sh - builds HDF5 1.14 (C library + its C test programs, parallel
# against Open MPI) from Debian trixie's source package into a cache outside the
# source tree, for the hdf5-conformance tests (issue 11, docs/hdf5-conformance.md).
#
#   bash scripts/build-hdf5-114.sh        # prints the install prefix on the last line
#
# Cache: ${HOMI_CACHE_DIR:-/var/cache/homi}/hdf5-1.14-<key>/{src,build,install}, where
# <key> hashes the source package version, the build recipe below (between the
# RECIPE markers) and the patches in scripts/hdf5-114-patches/, so CI on the same machine reuses it and a fresh machine builds
# once (~10-30 min on 2 cores, depending on load).
#
# Patches (scripts/hdf5-114-patches/*.patch, applied with patch -p1 after
# Debian's): only to HDF5's test harness, never to the library:
#   h5test-plugin-driver.patch - h5_fileaccess() knows sec2, core, family, ...
#     by name and fails on any other HDF5_DRIVER; the patch hands other names
#     to H5Pset_driver_by_name (the plugin route the library itself uses for
#     HDF5_DRIVER), so the test files are opened with the plugin driver too. Needs root the first time (adds a deb-src line for
# trixie next to the Debian mirror already configured, runs apt-get source).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/lib/build-cache.sh" # CACHE, cache_exit_if_built, cache_lock
JOBS="${HOMI_HDF5_JOBS:-2}"
# --- RECIPE begin (hashed into the cache key) ---
H5_SRCPKG_VERSION="1.14.5+repack-3"
H5_CMAKE_OPTS=(
  -DCMAKE_BUILD_TYPE=RelWithDebInfo
  -DCMAKE_C_COMPILER=mpicc
  -DBUILD_SHARED_LIBS=ON -DBUILD_STATIC_LIBS=OFF
  -DHDF5_ENABLE_PARALLEL=ON
  -DHDF5_BUILD_CPP_LIB=OFF -DHDF5_BUILD_FORTRAN=OFF -DHDF5_BUILD_JAVA=OFF
  -DHDF5_BUILD_HL_LIB=OFF -DHDF5_BUILD_TOOLS=OFF -DHDF5_BUILD_UTILS=OFF
  -DHDF5_BUILD_EXAMPLES=OFF -DHDF5_BUILD_DOC=OFF
  -DBUILD_TESTING=ON -DHDF5_TEST_SERIAL=ON -DHDF5_TEST_PARALLEL=ON
  -DHDF5_TEST_VFD=OFF -DHDF5_TEST_PASSTHROUGH_VOL=OFF -DHDF5_TEST_API=OFF
  -DHDF5_TEST_TOOLS=OFF -DHDF5_TEST_EXAMPLES=OFF
  -DHDF5_ENABLE_Z_LIB_SUPPORT=ON -DHDF5_ENABLE_SZIP_SUPPORT=OFF
  -DHDF5_ALLOW_EXTERNAL_SUPPORT=NO
)
# --- RECIPE end ---
PATCHES=("$HERE"/hdf5-114-patches/*.patch)
KEY=$( (echo "$H5_SRCPKG_VERSION"; sed -n '/^# --- RECIPE begin/,/^# --- RECIPE end/p' "$0"
  cat "${PATCHES[@]}") |
  sha256sum | cut -c1-12)
ROOT="$CACHE/hdf5-1.14-$KEY"
PREFIX="$ROOT/install"

cache_exit_if_built build-hdf5-114 "$ROOT" "$PREFIX"
cache_lock hdf5-1.14.lock "$ROOT" "$PREFIX"

for tool in mpicc dpkg-source apt-get cmake patch flock; do
  command -v "$tool" >/dev/null || { echo "build-hdf5-114: $tool missing (run scripts/install-deps.sh)" >&2; exit 1; }
done

# deb-src line for trixie, same mirror and keyring as the configured bookworm sources
LIST=/etc/apt/sources.list.d/homi-trixie-src.sources
if ! apt-cache showsrc "hdf5=$H5_SRCPKG_VERSION" 2>/dev/null | grep -q "^Version: $H5_SRCPKG_VERSION"; then
  if [ ! -f "$LIST" ]; then
    # shellcheck source=lib/apt-mirror.sh
    source "$HERE/lib/apt-mirror.sh"
    MIRROR=$(apt_debian_mirror)
    cat >"$LIST" <<SRC
Types: deb-src
URIs: $MIRROR
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  fi
  apt-get update -qq -o Dir::Etc::sourcelist="$LIST" -o Dir::Etc::sourceparts=- \
    -o APT::Get::List-Cleanup=0
fi

rm -rf "$ROOT"
mkdir -p "$ROOT/dl"
(cd "$ROOT/dl" && apt-get source --download-only "hdf5=$H5_SRCPKG_VERSION")
# dpkg-source applies Debian's patches (the same source Debian builds)
dpkg-source -x "$ROOT/dl/hdf5_${H5_SRCPKG_VERSION}.dsc" "$ROOT/src"
rm -rf "$ROOT/dl" "$ROOT"/hdf5_*.orig.tar.*
for p in "${PATCHES[@]}"; do
  patch -d "$ROOT/src" -p1 --forward <"$p"
done

cmake -S "$ROOT/src" -B "$ROOT/build" -DCMAKE_INSTALL_PREFIX="$PREFIX" "${H5_CMAKE_OPTS[@]}" \
  >"$ROOT/configure.log" 2>&1 || { tail -40 "$ROOT/configure.log" >&2; exit 1; }
cmake --build "$ROOT/build" -j"$JOBS" >"$ROOT/build.log" 2>&1 || { tail -60 "$ROOT/build.log" >&2; exit 1; }
cmake --install "$ROOT/build" >"$ROOT/install.log" 2>&1
touch "$ROOT/.complete"
echo "build-hdf5-114: built into $ROOT"
echo "$PREFIX"
