#!/usr/bin/env bash
# build-ompi-homi.sh - builds Open MPI's ROMIO component plugin
# (io/romio321, mca_io_romio321.so) with the HOMI driver ad_homi, for the
# Open MPI 4.1 installed on this machine, without replacing that MPI:
#   $HOMI_CACHE_DIR/openmpi-<installed version>-homi-<hash>/lib/openmpi/mca_io_romio321.so
# (HOMI_CACHE_DIR: /var/cache/homi).  <hash> covers the driver
# (romio-adio/), the collective engine (src/coll/), include/homi.h, this
# script and the installed Open MPI version, so the build runs once.
#
# How (docs/mpi-io.md, "Open MPI"): Debian's source package (apt-get source
# openmpi=<installed version>) gives ROMIO 3.2.1 and the component's glue;
# ad_homi is added and registered (romio-adio/patch-romio.py), ROMIO alone is
# autoreconf'd ("prepared tree": only config/opal_mca.m4, VERSION and
# ompi/mca/io/romio321/ are kept).  The plugin is then configured with the
# ROMIO configure arguments the installed component was built with (ompi_info
# io_romio321_complete_configure_params) and compiled against the installed
# Open MPI's own headers (libopenmpi-dev ships them: --with-devel-headers),
# i.e. its opal_config.h; it links the installed libmpi.so.40,
# libopen-pal.so.40 and libhomi.so.0.  No Open MPI configure/make at all.
#
# usage:
#   build-ompi-homi.sh [--libhomi DIR]          prepare + build + install into the cache
#   build-ompi-homi.sh --print-prefix           print the cache prefix and exit
#   build-ompi-homi.sh --prepare OUT            write the prepared tree to OUT (a directory,
#                                               or OUT.tar.gz when OUT ends in .tar.gz)
#   build-ompi-homi.sh --from-prepared SRC --prefix OUT [--libhomi DIR]
#                                               build the plugin from a prepared tree (dir or
#                                               .tar.gz; needs no autotools, no apt) against
#                                               the Open MPI found by ompi_info (OMPI_INFO=...)
#   --libhomi DIR  directory holding libhomi.so (default: build/src)
# The last line of output is the prefix (or the prepared tree).
set -euo pipefail
CALLER=$(pwd)
cd "$(dirname "$0")/.."
ROOT=$(pwd)
abspath() { case $1 in /*) echo "$1" ;; *) echo "$CALLER/$1" ;; esac; } # relative to the caller
. scripts/lib/build-cache.sh # CACHE, cache_hash, cache_exit_if_built, cache_lock, cache_source
. scripts/lib/romio-add-homi.sh # romio_add_homi
LIBHOMI_DIR=$ROOT/build/src
OMPI_INFO=${OMPI_INFO:-ompi_info}
MODE=cache PREPARE_OUT="" FROM="" OUTPREFIX=""
die() { echo "build-ompi-homi: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
  --print-prefix) MODE=print ;;
  --libhomi) LIBHOMI_DIR=$(cd "$(abspath "$2")" && pwd); shift ;;
  --prepare) MODE=prepare; PREPARE_OUT=$(abspath "$2"); shift ;;
  --from-prepared) MODE=from; FROM=$(abspath "$2"); shift ;;
  --prefix) OUTPREFIX=$(abspath "$2"); shift ;;
  *) echo "build-ompi-homi: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

# ------------------------------------------------------------ the installed Open MPI
ompi_param() { # value of an ompi_info --parsable line "KEY:value"
  "$OMPI_INFO" --parsable "${@:2}" 2>/dev/null | awk -v k="$1:" 'index($0, k) == 1 && !f { print substr($0, length(k) + 1); f = 1 }'
}
find_ompi() {
  command -v "$OMPI_INFO" >/dev/null || die "$OMPI_INFO not found (install openmpi-bin, libopenmpi-dev)"
  OMPI_VER=$(ompi_param ompi:version:full)
  [ -n "$OMPI_VER" ] || die "cannot read the Open MPI version from $OMPI_INFO"
  case $OMPI_VER in 4.1.*) ;; *) die "Open MPI $OMPI_VER: only 4.1.x (ROMIO 3.2.1, io/romio321) is supported" ;; esac
  OMPI_LIBDIR=$("$OMPI_INFO" --path libdir | sed 's/.*: *//')
  OMPI_INCDIR=$("$OMPI_INFO" --path incdir | sed 's/.*: *//')
  OMPI_PKGINCDIR=$("$OMPI_INFO" --path pkgincludedir | sed 's/.*: *//')
  OMPI_PKGLIBDIR=$("$OMPI_INFO" --path pkglibdir | sed 's/.*: *//')
}

hash_inputs() {
  local files
  files=$(ls romio-adio/ad_homi/*.[ch] src/coll/*.[ch] | LC_ALL=C sort)
  # shellcheck disable=SC2086
  cache_hash "$OMPI_VER" $files include/homi.h romio-adio/patch-romio.py scripts/build-ompi-homi.sh \
    scripts/lib/romio-add-homi.sh
}

# ------------------------------------------------------------ prepare: source -> prepared tree
# prepare_tree DIR: DIR gets config/opal_mca.m4, VERSION, ompi/mca/io/romio321
# (ROMIO with ad_homi added, registered and autoreconf'd) and HOMI-PREPARED.
prepare_tree() {
  local out=$1 deb_ver src work R
  # the source package of the installed version (Debian: 4.1.4-3; the binary
  # may carry a binNMU suffix +bN that the source does not)
  deb_ver=$(dpkg-query -W -f '${source:Version}' libopenmpi3 2>/dev/null || true)
  [ -n "$deb_ver" ] || deb_ver=$(dpkg-query -W -f '${source:Version}' openmpi-bin 2>/dev/null || true)
  [ -n "$deb_ver" ] || die "cannot find the installed Open MPI package (libopenmpi3)"
  cache_source build-ompi-homi openmpi "$deb_ver"
  src=$CACHE/src
  if [ -e "$out" ] && [ ! -e "$out/HOMI-PREPARED" ] && [ -n "$(ls -A "$out")" ]; then
    die "$out exists and is not a prepared tree: not overwriting it"
  fi
  work=$(mktemp -d "$CACHE/prep-ompi.XXXXXX")
  (cd "$work" && dpkg-source -x -q "$src/openmpi_$deb_ver.dsc" openmpi >/dev/null 2>&1) ||
    die "dpkg-source -x openmpi_$deb_ver.dsc failed"
  rm -rf "$out"
  mkdir -p "$out/config" "$out/ompi/mca/io"
  cp "$work/openmpi/config/opal_mca.m4" "$out/config/"
  cp "$work/openmpi/VERSION" "$out/"
  cp -a "$work/openmpi/ompi/mca/io/romio321" "$out/ompi/mca/io/"
  rm -rf "$work"
  R=$out/ompi/mca/io/romio321/romio
  romio_add_homi "$R" build-ompi-homi.sh
  echo "build-ompi-homi: autoreconf ompi/mca/io/romio321/romio"
  (cd "$R" && autoreconf -if -I confdb >"$out/autoreconf.log" 2>&1) || {
    tail -30 "$out/autoreconf.log"
    die "autoreconf failed (install autoconf, automake, libtool: scripts/install-deps.sh)"
  }
  rm -rf "$R/autom4te.cache"
  printf 'openmpi-source %s\nhomi-hash %s\n' "$deb_ver" "$HASH" >"$out/HOMI-PREPARED"
}

# ------------------------------------------------------------ build: prepared tree -> plugin
# build_plugin TREE PREFIX: configures ROMIO like the installed component,
# builds libromio_dist.la, compiles the component glue, links and installs
# PREFIX/lib/openmpi/mca_io_romio321.so and PREFIX/share/romio-test.
build_plugin() {
  local tree=$1 prefix=$2 R log params cflags cppflags inc jobs
  [ -e "$tree/HOMI-PREPARED" ] || die "$tree is not a prepared tree (build-ompi-homi.sh --prepare)"
  [ -e "$LIBHOMI_DIR/libhomi.so" ] || die "no libhomi.so in $LIBHOMI_DIR (build HOMI first or pass --libhomi)"
  [ -e "$OMPI_PKGINCDIR/opal_config.h" ] && [ -e "$OMPI_PKGINCDIR/ompi/mca/io/io.h" ] ||
    die "Open MPI's internal headers are missing in $OMPI_PKGINCDIR (install libopenmpi-dev)"
  rm -f "$prefix/.complete"
  R=$tree/ompi/mca/io/romio321/romio
  log=$tree/build.log
  : >"$log"
  # the ROMIO configure arguments of the installed component, less its prefix
  params=$(ompi_param "mca:io:romio321:param:io_romio321_complete_configure_params:value" \
    --param io romio321 --level 9)
  cflags=$(sed -n "s/.* CFLAGS='\([^']*\)'.*/\1/p" <<<"$params")
  cppflags=$(sed -n "s/.* CPPFLAGS='\([^']*\)'.*/\1/p" <<<"$params")
  [ -n "$cflags" ] || cflags="-O3 -g -fno-strict-aliasing -D__EXTENSIONS__"
  # no link-time optimisation for the plugin (Ubuntu's flags carry -flto=auto)
  cflags=$(tr ' ' '\n' <<<"$cflags" | grep -v -e '^-flto' -e '^-ffat-lto-objects$' | tr '\n' ' ')
  inc="-I$OMPI_INCDIR -I$OMPI_PKGINCDIR"
  echo "build-ompi-homi: configure ROMIO 3.2.1 + homi for Open MPI $OMPI_VER (log: $log)"
  (cd "$R" && ./configure FROM_OMPI=yes CC="${CC:-gcc}" CFLAGS="$cflags" CPPFLAGS="$cppflags $inc" \
    HOMI_LIBS="-L$LIBHOMI_DIR -lhomi" --enable-shared --disable-static --disable-aio \
    --disable-weak-symbols --enable-strict --disable-f77 --disable-f90 \
    --with-file-system=ufs+nfs+homi >>"$log" 2>&1) || {
    tail -40 "$log"
    die "ROMIO configure failed"
  }
  grep -q "ROMIO_HOMI 1" "$R/adio/include/romioconf.h" || die "ROMIO did not enable the homi file system"
  # ROMIO's Makefile points at an Open MPI build tree (OMPI_TOP_SRCDIR,
  # OMPI_TOP_BUILDDIR): point it at the installed headers instead
  jobs=${HOMI_BUILD_JOBS:-2}
  echo "build-ompi-homi: make libromio_dist.la -j$jobs"
  (cd "$R" && make -j"$jobs" OMPI_TOP_SRCDIR="$OMPI_PKGINCDIR" OMPI_TOP_BUILDDIR="$OMPI_PKGINCDIR" \
    libromio_dist.la >>"$log" 2>&1) || {
    grep -n "error" "$log" | tail -20
    die "ROMIO build failed (log: $log)"
  }
  echo "build-ompi-homi: compile the io/romio321 component and link mca_io_romio321.so"
  local objs=() c o
  for c in "$tree"/ompi/mca/io/romio321/src/*.c; do
    o=${c%.c}.o
    # shellcheck disable=SC2086
    ${CC:-gcc} $cflags $cppflags $inc -I"$tree/ompi/mca/io/romio321" -DOMPI_BUILDING=1 \
      -fPIC -c "$c" -o "$o" >>"$log" 2>&1 || {
      tail -20 "$log"
      die "compiling $(basename "$c") failed"
    }
    objs+=("$o")
  done
  mkdir -p "$prefix/lib/openmpi"
  # -z defs: every symbol resolves in the installed Open MPI or libhomi
  ${CC:-gcc} -shared -fPIC -o "$prefix/lib/openmpi/mca_io_romio321.so" \
    -Wl,-soname,mca_io_romio321.so -Wl,-z,defs -Wl,-z,relro "${objs[@]}" \
    -Wl,--whole-archive "$R/.libs/libromio_dist.a" -Wl,--no-whole-archive \
    -L"$LIBHOMI_DIR" -lhomi -L"$OMPI_LIBDIR" -lmpi -lopen-rte -lopen-pal -lpthread >>"$log" 2>&1 || {
    tail -20 "$log"
    die "linking mca_io_romio321.so failed"
  }
  local dyn syms
  dyn=$(readelf -d "$prefix/lib/openmpi/mca_io_romio321.so")
  syms=$(nm -D --defined-only "$prefix/lib/openmpi/mca_io_romio321.so")
  grep -q 'libhomi.so' <<<"$dyn" || die "mca_io_romio321.so does not link libhomi"
  grep -q ' mca_io_romio321_component$' <<<"$syms" ||
    die "mca_io_romio321.so does not export mca_io_romio321_component"
  grep -q ' ADIO_HOMI_operations$' <<<"$syms" || die "mca_io_romio321.so lacks the homi driver"
  # ROMIO's test programs, sources kept for the CTest suite (tests/mpi)
  mkdir -p "$prefix/share/romio-test"
  cp "$R"/test/*.c "$R"/test/*.h "$R"/test/*.in "$prefix/share/romio-test/" 2>/dev/null || true
  {
    echo "built-against-openmpi $OMPI_VER"
    echo "openmpi-libdir $OMPI_LIBDIR"
    echo "openmpi-component-dir $OMPI_PKGLIBDIR"
    cat "$tree/HOMI-PREPARED"
  } >"$prefix/BUILDINFO"
  cp "$log" "$prefix/build.log"
  touch "$prefix/.complete"
}

# ------------------------------------------------------------ modes
case $MODE in
from)
  [ -n "$OUTPREFIX" ] || die "--from-prepared needs --prefix OUT"
  find_ompi
  mkdir -p "$OUTPREFIX"
  OUTPREFIX=$(cd "$OUTPREFIX" && pwd)
  tree=$(mktemp -d "${TMPDIR:-/tmp}/homi-ompi-build.XXXXXX")
  [ -n "${HOMI_KEEP_OMPI_BUILD:-}" ] || trap 'rm -rf "$tree"' EXIT
  if [ -f "$FROM" ]; then tar -xzf "$FROM" -C "$tree" --strip-components=1
  else cp -a "$FROM"/. "$tree"/
  fi
  build_plugin "$tree" "$OUTPREFIX"
  echo "build-ompi-homi: built $OUTPREFIX/lib/openmpi/mca_io_romio321.so for Open MPI $OMPI_VER"
  echo "$OUTPREFIX"
  exit 0
  ;;
esac

find_ompi
HASH=$(hash_inputs)
PREFIX=$CACHE/openmpi-$OMPI_VER-homi-$HASH
if [ $MODE = print ]; then
  echo "$PREFIX"
  exit 0
fi
if [ $MODE = prepare ]; then
  mkdir -p "$CACHE" "$(dirname "$PREPARE_OUT")"
  case $PREPARE_OUT in
  *.tar.gz)
    d=$(mktemp -d "${TMPDIR:-/tmp}/homi-ompi-prep.XXXXXX")
    prepare_tree "$d/openmpi-romio321-homi"
    tar -czf "$PREPARE_OUT" -C "$d" openmpi-romio321-homi
    rm -rf "$d"
    ;;
  *) prepare_tree "$PREPARE_OUT" ;;
  esac
  echo "build-ompi-homi: prepared tree: $PREPARE_OUT"
  echo "$PREPARE_OUT"
  exit 0
fi
cache_exit_if_built build-ompi-homi "$PREFIX" "$PREFIX"
[ -e "$LIBHOMI_DIR/libhomi.so" ] || die "no libhomi.so in $LIBHOMI_DIR (build HOMI first or pass --libhomi)"
cache_lock ompi-build.lock "$PREFIX" "$PREFIX"
WORK=$CACHE/build-ompi-$HASH
rm -rf "$WORK" "$PREFIX"
prepare_tree "$WORK"
build_plugin "$WORK" "$PREFIX"
[ -n "${HOMI_KEEP_OMPI_BUILD:-}" ] || rm -rf "$WORK"
echo "build-ompi-homi: built $PREFIX"
echo "$PREFIX"
