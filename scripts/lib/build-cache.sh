# build-cache.sh - sourced by the scripts that build dependencies into the
# cache (build-mpich-homi.sh, build-ompi-homi.sh, build-ucx-cuda.sh,
# build-hdf5-114.sh): where the cache is, the content hash that names a
# cached build, the "already built" exit, the build lock, and the one-time
# download of a Debian source package.  A cached build is complete when its
# directory holds .complete (written last by the build).
# shellcheck shell=bash

# HOMI_CACHE_DIR moves the cache (HOMI_CACHE: the older name, still read).
CACHE=${HOMI_CACHE_DIR:-${HOMI_CACHE:-/var/cache/homi}}

# cache_hash EXTRA FILE...: 12 hex digits over the files' contents and the
# string EXTRA (e.g. a version the build depends on; may be empty).
cache_hash() {
  local extra=$1
  shift
  { cat "$@"; [ -z "$extra" ] || echo "$extra"; } | sha256sum | cut -c1-12
}

# cache_exit_if_built NAME DIR PRINT: when DIR is complete, say so (NAME is
# the script's name) and exit 0 printing PRINT (the last line of output).
cache_exit_if_built() {
  if [ -e "$2/.complete" ]; then
    echo "$1: cached: $2"
    echo "$3"
    exit 0
  fi
}

# cache_lock LOCKNAME DIR PRINT: hold $CACHE/LOCKNAME (fd 9) for the rest of
# the script, so one build runs at a time; exit 0 printing PRINT when
# another run completed DIR while this one waited.
cache_lock() {
  mkdir -p "$CACHE"
  exec 9>"$CACHE/$1"
  flock 9
  if [ -e "$2/.complete" ]; then
    echo "$3"
    exit 0
  fi
}

# cache_unpack NAME PKG DEBVER DIR: the source package (cache_source)
# unpacked into DIR/PKG, DIR emptied first.
cache_unpack() {
  cache_source "$1" "$2" "$3"
  rm -rf "$4"
  mkdir -p "$4"
  echo "$1: unpacking into $4"
  (cd "$4" && dpkg-source -x -q "$CACHE/src/${2}_$3.dsc" "$2" >/dev/null)
}

# cache_source NAME PKG DEBVER: Debian's source package PKG=DEBVER (its
# .dsc, upstream tarball and Debian changes) in $CACHE/src, downloaded once.
cache_source() {
  local src=$CACHE/src
  [ -e "$src/${2}_$3.dsc" ] && return 0
  mkdir -p "$src"
  (cd "$src" && apt-get source --download-only -qq "$2=$3") || {
    echo "$1: apt-get source $2=$3 failed: run scripts/install-deps.sh (adds deb-src)" >&2
    exit 1
  }
}
