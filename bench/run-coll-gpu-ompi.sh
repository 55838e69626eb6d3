#!/usr/bin/env bash
# run-coll-gpu-ompi.sh - the collective GPU benchmark (bench/run-coll-gpu.sh)
# with Open MPI + HOMI's io/romio321 plugin (issue 7) next to the existing
# rows in one run: it gets the plugin (a prefix built on this machine, or
# builds one from a prepared tree against the installed Open MPI), proves
# that HOMI's plugin is the one that reads (tests/mpi-ompi/homi_used.sh:
# homid must count libhomi clients with it and none with the stock plugin),
# then runs run-coll-gpu.sh with OMPI_HOMI_PREFIX set, which adds the rows
# "OpenMPI+HOMI default hints", "OpenMPI+HOMI <HINTS2>" (MPI_File_read_all
# straight into cudaMalloc memory) and "OpenMPI-romio321 host+cudaMemcpy".
#
#   bench/run-coll-gpu-ompi.sh PLUGIN MPICH_PREFIX [HOMI_BUILD [OUTDIR]]
#
# PLUGIN: a plugin prefix (holding lib/openmpi/mca_io_romio321.so, built by
#   scripts/build-ompi-homi.sh against THIS machine's Open MPI), or a
#   prepared tree (directory or .tar.gz of `scripts/build-ompi-homi.sh
#   --prepare`): the plugin is then built into HOMI_BUILD/ompi-homi against
#   the installed Open MPI (gcc, make, libopenmpi-dev; no autotools/network).
# MPICH_PREFIX, HOMI_BUILD, OUTDIR and the environment (DIR, N, NP, ITERS,
#   CACHES, GPUS, SINGLE, HINTS2, EXTRA, DEVLIBS): as bench/run-coll-gpu.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
usage="usage: bench/run-coll-gpu-ompi.sh PLUGIN_PREFIX|PREPARED_TREE MPICH_PREFIX [HOMI_BUILD [OUTDIR]]"
PLUGIN=${1:?$usage}
MPICH_PREFIX=${2:?$usage}
BUILD=${3:-build}
OUT=${4:-bench/results}
DEVLIBS=${DEVLIBS:-$(pwd)/devlibs}
say() { echo "run-coll-gpu-ompi.sh: $*" >&2; }

mpirun=$(command -v mpirun.openmpi || command -v mpirun) || { say "no Open MPI mpirun"; exit 1; }
"$mpirun" --version 2>&1 | grep -Eq "Open MPI|OpenRTE" || { say "$mpirun is not Open MPI's"; exit 1; }
if [ ! -e "$BUILD/src/libhomi.so" ] || [ ! -e "$BUILD/tools/homid" ]; then
  say "building HOMI in $BUILD"
  [ -e "$BUILD/CMakeCache.txt" ] ||
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DHOMI_CUDA=ON -DHOMI_BUILD_TESTS=OFF
  cmake --build "$BUILD" -j"$(nproc)" --target homi homi-bench
  cmake --build "$BUILD" -j"$(nproc)" --target homid || say "homid not built: the plugin check is skipped"
fi
BUILD=$(cd "$BUILD" && pwd)
LIBHOMI=$BUILD/src
export LD_LIBRARY_PATH="$LIBHOMI${DEVLIBS:+:$DEVLIBS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# the plugin: given, or built here from the prepared tree
if [ -e "$PLUGIN/lib/openmpi/mca_io_romio321.so" ]; then
  OMPI_HOMI=$(cd "$PLUGIN" && pwd)
else
  OMPI_HOMI=$BUILD/ompi-homi
  say "building the io/romio321 plugin from $PLUGIN against $(ompi_info --version | head -1)"
  rm -rf "$OMPI_HOMI"
  bash scripts/build-ompi-homi.sh --from-prepared "$PLUGIN" --prefix "$OMPI_HOMI" --libhomi "$LIBHOMI" | tail -3
fi
have=$(ompi_info --parsable | awk -F: '$1 == "ompi" && $2 == "version" && $3 == "full" { print $4; exit }')
built=$(awk '$1 == "built-against-openmpi" { print $2 }' "$OMPI_HOMI/BUILDINFO" 2>/dev/null || true)
[ "$built" = "$have" ] || say "WARNING: the plugin was built against Open MPI ${built:-?}, this is $have"

# proof that HOMI's plugin is the one that reads
mkdir -p "$BUILD/bench-coll" "$OUT"
mpicc -std=c11 -D_GNU_SOURCE -O2 tests/daemon/e2e_mpiio.c -o "$BUILD/bench-coll/e2e-mpiio-ompi"
check=$OUT/$(date +%Y-%m-%d)-coll-gpu-ompi-check-$(hostname -s).txt
if [ ! -x "$BUILD/tools/homid" ]; then
  say "check SKIPPED: no homid in $BUILD/tools"
elif ! HOMI_OMPI_PREFIX=$OMPI_HOMI HOMI_HOMID=$BUILD/tools/homid \
  bash tests/mpi-ompi/homi_used.sh tools/homi-run "$BUILD/bench-coll/e2e-mpiio-ompi" >"$check" 2>&1; then
  cat "$check"
  say "HOMI's plugin was not used: see $check"
  exit 1
else
  say "$(tail -1 "$check") ($check)"
fi

OMPI_HOMI_PREFIX=$OMPI_HOMI exec bash bench/run-coll-gpu.sh "$MPICH_PREFIX" "$BUILD" "$OUT"
