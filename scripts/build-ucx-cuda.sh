#!/usr/bin/env bash
# build-ucx-cuda.sh - builds UCX 1.13.1 (Debian's own source package) with
# CUDA transports (cuda_copy, cuda_ipc) into a prefix cached outside the
# source tree, for the collective engine's UCX route (src/coll/coll_ucx.c):
#   $HOMI_CACHE_DIR/ucx-cuda-<hash>        (HOMI_CACHE_DIR: /var/cache/homi)
# <hash> covers this script, scripts/ucx-cuda13.patch and the CUDA toolkit's
# version, so the build (about 10 minutes on 2 cores) runs once.  Optional:
# not part of CI (Debian's libucx0 has no CUDA transports; no GPU here).
# No GPU is needed to build.
#
# The prefix is relocatable: copy it anywhere (e.g. to the GPU machine) and
# put <prefix>/lib first on LD_LIBRARY_PATH; UCX finds its transport modules
# in <libdir>/ucx next to libucs.so.  <prefix>/include has the UCX headers
# (the engine compiles its UCX route against them where no libucx-dev is).
#
# Patch (scripts/ucx-cuda13.patch), two small fixes:
#  - UCX 1.13 requires the NVML development files (nvml.h) for CUDA support,
#    used only by cuda_ipc to count NVLinks for its bandwidth estimate; a
#    plain CUDA 13 toolkit has no nvml.h.  NVML becomes optional (without
#    it, cuda_ipc assumes PCIe; the transport itself is unchanged).
#  - test/apps/test_cuda_hook.c calls cuCtxCreate with CUDA 12's arguments;
#    CUDA 13 maps cuCtxCreate to cuCtxCreate_v4 (an extra params argument).
#
# usage: build-ucx-cuda.sh [--print-prefix] [--cuda DIR]
#   --print-prefix  print the prefix and exit (builds nothing)
#   --cuda DIR      CUDA toolkit (default: $CUDA_HOME or /usr/local/cuda)
# The last line of output is the prefix.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
. scripts/lib/build-cache.sh # CACHE, cache_hash, cache_exit_if_built, cache_lock, cache_unpack
UCX_VER=1.13.1
DEB_VER=1.13.1-1
CUDA_DIR=${CUDA_HOME:-/usr/local/cuda}
PRINT=0
while [ $# -gt 0 ]; do
  case "$1" in
  --print-prefix) PRINT=1 ;;
  --cuda) CUDA_DIR=$2; shift ;;
  *) echo "build-ucx-cuda: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
NVCC_VER=$("$CUDA_DIR/bin/nvcc" --version 2>/dev/null | tail -n 1 || echo "no nvcc")
HASH=$(cache_hash "$DEB_VER $CUDA_DIR $NVCC_VER" scripts/build-ucx-cuda.sh scripts/ucx-cuda13.patch)
PREFIX=$CACHE/ucx-cuda-$HASH
if [ $PRINT -eq 1 ]; then
  echo "$PREFIX"
  exit 0
fi
cache_exit_if_built build-ucx-cuda "$PREFIX" "$PREFIX"
[ -e "$CUDA_DIR/include/cuda.h" ] || {
  echo "build-ucx-cuda: no CUDA toolkit at $CUDA_DIR (pass --cuda DIR)" >&2
  exit 1
}
cache_lock ucx-build.lock "$PREFIX" "$PREFIX"

# 1. Debian's source package (upstream tarball + Debian patches), downloaded once
WORK=$CACHE/build-ucx-$HASH
cache_unpack build-ucx-cuda ucx "$DEB_VER" "$WORK"
U=$WORK/ucx
(cd "$U" && patch -p1 -s <"$ROOT/scripts/ucx-cuda13.patch")

# 2. configure: release flags (as contrib/configure-release), CUDA, nothing
#    the GPU machine may lack (verbs, rdmacm, numa, knem, xpmem, gdrcopy)
echo "build-ucx-cuda: autogen + configure (log: $WORK/configure.log)"
(cd "$U" && ./autogen.sh >"$WORK/autogen.log" 2>&1) || {
  tail -30 "$WORK/autogen.log"
  exit 1
}
(cd "$U" && ./configure --prefix="$PREFIX" --with-cuda="$CUDA_DIR" --enable-cma --enable-mt \
  --disable-logging --disable-debug --disable-assertions --disable-params-check \
  --without-verbs --without-rdmacm --without-knem --without-xpmem --without-gdrcopy \
  --without-rocm --without-java --without-go --disable-numa --disable-doxygen-doc \
  --disable-backtrace-detail >"$WORK/configure.log" 2>&1) || {
  tail -40 "$WORK/configure.log"
  exit 1
}
grep -q "^#define HAVE_CUDA 1" "$U/config.h" || {
  echo "build-ucx-cuda: configure did not enable CUDA (see $WORK/configure.log)" >&2
  exit 1
}

# 3. build and install
JOBS=${HOMI_BUILD_JOBS:-2}
echo "build-ucx-cuda: make -j$JOBS (log: $WORK/make.log)"
(cd "$U" && make -j"$JOBS" >"$WORK/make.log" 2>&1 && make install >"$WORK/install.log" 2>&1) || {
  grep -n "error" "$WORK/make.log" | tail -20
  tail -20 "$WORK/make.log"
  exit 1
}
rm -f "$PREFIX"/lib/*.la "$PREFIX"/lib/ucx/*.la "$PREFIX"/lib/*.a "$PREFIX"/lib/ucx/*.a
find "$PREFIX/lib" "$PREFIX/bin" -type f \( -name '*.so*' -o -perm -u+x \) -exec strip --strip-debug {} + 2>/dev/null || true

# 4. checks: the CUDA transport modules exist, ucx_info runs and lists them
for m in libuct_cuda.so libucx_perftest_cuda.so; do
  ls "$PREFIX"/lib/ucx/$m* >/dev/null 2>&1 || {
    echo "build-ucx-cuda: $m was not built" >&2
    exit 1
  }
done
LD_LIBRARY_PATH=$PREFIX/lib "$PREFIX/bin/ucx_info" -v
[ -n "${HOMI_KEEP_UCX_BUILD:-}" ] || rm -rf "$WORK"
touch "$PREFIX/.complete"
echo "build-ucx-cuda: built $PREFIX (modules: $(cd "$PREFIX/lib/ucx" && ls *.so | tr '\n' ' '))"
echo "$PREFIX"
