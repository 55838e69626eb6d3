#!/usr/bin/env bash
# run-coll-gpu-ompi.sh - the collective benchmark of run-coll-gpu.sh (3-D
# float32 array, 8 GiB file, each rank one subarray, cold page cache) on the
# installed Open MPI, with HOMI's io/romio321 plugin (issue 7), next to the
# baselines in one run:
#   OpenMPI+HOMI                Open MPI + HOMI's plugin: MPI_File_read_all (homi=enable)
#                               straight into cudaMalloc memory (default hints)
#   OpenMPI+HOMI <HINTS2>       the same with four aggregators and 256 MiB GPU windows
#   OpenMPI host+cudaMemcpy     Open MPI's default io (ompio) into pinned host memory + cudaMemcpy
#   OpenMPI-romio321 host+cudaMemcpy   Open MPI's stock romio321 (ufs), same
#   MPICH+HOMI, MPICH-ufs host+cudaMemcpy   only when MPICH_PREFIX is set (prefix of
#                               scripts/build-mpich-homi.sh), as in run-coll-gpu.sh
# Before the timed runs it proves that HOMI's plugin is the one loaded: an
# MPI-IO program under homi-run --summary must be served by homid, and not
# with the stock plugin (tests/mpi-ompi/homi_used.sh).
#
#   bench/run-coll-gpu-ompi.sh PLUGIN [HOMI_BUILD [OUTDIR]]
#
# PLUGIN: either a plugin prefix (holding lib/openmpi/mca_io_romio321.so,
#   built by scripts/build-ompi-homi.sh against THIS machine's Open MPI), or
#   a prepared tree (directory or .tar.gz from `scripts/build-ompi-homi.sh
#   --prepare`): the plugin is then built here into HOMI_BUILD/ompi-homi
#   against the installed Open MPI (needs gcc, make, libopenmpi-dev; no
#   autotools, no network).
# HOMI_BUILD: a CMake build of this tree with CUDA (default ./build; built
#   when missing, with homid for the check).  liburing/libnvme/json-c .so
#   files may come from $DEVLIBS (default ./devlibs).
# Environment: DIR (/var/tmp), N (2048,1024,1024 = 8 GiB), NP (4), ITERS (2),
#   HINTS, HINTS2 (as in run-coll-gpu.sh), MPICH_PREFIX (optional MPICH rows),
#   EXTRA (options for every run; EXTRA=--no-gpu smoke-tests on a host
#   without a GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
PLUGIN=${1:?usage: bench/run-coll-gpu-ompi.sh PLUGIN_PREFIX|PREPARED_TREE [HOMI_BUILD [OUTDIR]]}
BUILD=${2:-build}
OUT=${3:-bench/results}
DIR=${DIR:-/var/tmp}
N=${N:-2048,1024,1024}
NP=${NP:-4}
ITERS=${ITERS:-2}
HINTS=${HINTS:-}
HINTS2=${HINTS2:-cb_nodes=4,cb_buffer_size=268435456,homi_gpu_buffer_size=268435456}
EXTRA=${EXTRA:-}
DEVLIBS=${DEVLIBS:-$(pwd)/devlibs}
MPICH_PREFIX=${MPICH_PREFIX:-}
say() { echo "run-coll-gpu-ompi.sh: $*" >&2; }

mpirun=$(command -v mpirun.openmpi || command -v mpirun) || { say "no Open MPI mpirun"; exit 1; }
"$mpirun" --version 2>&1 | grep -Eq "Open MPI|OpenRTE" || { say "$mpirun is not Open MPI's"; exit 1; }
if [ ! -e "$BUILD/src/libhomi.so" ] || [ ! -e "$BUILD/tools/homid" ]; then
  say "building HOMI in $BUILD"
  [ -e "$BUILD/CMakeCache.txt" ] ||
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DHOMI_CUDA=ON -DHOMI_BUILD_TESTS=OFF
  cmake --build "$BUILD" -j"$(nproc)" --target homi
  cmake --build "$BUILD" -j"$(nproc)" --target homid || say "homid not built: the plugin check will be skipped"
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
STOCK_DIR=$(ompi_info --path pkglibdir | sed 's/.*: *//')

mkdir -p "$BUILD/bench-coll" "$OUT"
B=$BUILD/bench-coll
mpicc -std=c11 -D_GNU_SOURCE -O2 -Iinclude bench/coll_gpu_bench.c -L"$LIBHOMI" -lhomi -o "$B/bench-ompi"
mpicc -std=c11 -D_GNU_SOURCE -O2 tests/daemon/e2e_mpiio.c -o "$B/e2e-mpiio-ompi"
if [ -n "$MPICH_PREFIX" ]; then
  gcc -std=c11 -D_GNU_SOURCE -O2 -Iinclude -I"$MPICH_PREFIX/include" bench/coll_gpu_bench.c \
    -L"$MPICH_PREFIX/lib" -lmpich -L"$LIBHOMI" -lhomi -o "$B/bench-mpich"
fi

stamp=$(date +%Y-%m-%d)-coll-gpu-ompi-$(hostname -s)
txt=$OUT/$stamp.txt
csv=$OUT/$stamp.csv
{
  echo "# run-coll-gpu-ompi.sh $(date -u +%FT%TZ) on $(hostname -s)"
  (nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo none) | sed 's/^/# GPU: /'
  echo "# CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) x $(nproc)"
  echo "# file system of $DIR: $(df -T "$DIR" | awk 'NR==2{print $2, $1}')"
  echo "# Open MPI: $("$mpirun" --version 2>/dev/null | head -1); HOMI plugin: $OMPI_HOMI (built against ${built:-?})"
} | tee "$txt"

echo "== check: HOMI's plugin is the one that reads (homid counts its clients)" | tee -a "$txt"
if [ ! -x "$BUILD/tools/homid" ]; then
  echo "check SKIPPED: no homid in $BUILD/tools" | tee -a "$txt"
elif ! HOMI_OMPI_PREFIX=$OMPI_HOMI HOMI_HOMID=$BUILD/tools/homid \
  bash tests/mpi-ompi/homi_used.sh tools/homi-run "$B/e2e-mpiio-ompi" 2>&1 | tee -a "$txt" | tail -1; then
  say "HOMI's plugin was not used: see $txt"
  exit 1
fi

flags=(--oversubscribe -x LD_LIBRARY_PATH)
[ "$(id -u)" = 0 ] && flags+=(--allow-run-as-root)
run_homi() {
  "$mpirun" "${flags[@]}" --mca io romio321 --mca mca_base_component_path "$OMPI_HOMI/lib/openmpi:$STOCK_DIR" \
    -n "$NP" "$B/bench-ompi" "$@"
}
run_ompio() { "$mpirun" "${flags[@]}" -n "$NP" "$B/bench-ompi" "$@"; }
run_romio() { "$mpirun" "${flags[@]}" --mca io romio321 -n "$NP" "$B/bench-ompi" "$@"; }
run_mpich() { env LD_LIBRARY_PATH="$MPICH_PREFIX/lib:$LD_LIBRARY_PATH" "$MPICH_PREFIX/bin/mpiexec" -n "$NP" "$B/bench-mpich" "$@"; }

file=$DIR/homi-coll-bench-$(echo "$N" | tr , x).f32
if [ ! -e "$file" ]; then
  say "creating $file"
  run_ompio --file "$file" --create --n "$N" --mode host --iters 0 --no-gpu | tee -a "$txt"
fi
{
  # shellcheck disable=SC2086
  run_homi --file "$file" --n "$N" --mode homi --iters "$ITERS" --label "OpenMPI+HOMI" \
    ${HINTS:+--hints "$HINTS"} $EXTRA || echo "FAILED: OpenMPI+HOMI"
  # shellcheck disable=SC2086
  run_homi --file "$file" --n "$N" --mode homi --iters "$ITERS" --label "OpenMPI+HOMI ${HINTS2//,/ }" \
    --hints "$HINTS2" $EXTRA || echo "FAILED: OpenMPI+HOMI ${HINTS2//,/ }"
  # shellcheck disable=SC2086
  run_ompio --file "$file" --n "$N" --mode host --iters "$ITERS" \
    --label "OpenMPI host+cudaMemcpy" $EXTRA || echo "FAILED: Open MPI (ompio)"
  # shellcheck disable=SC2086
  run_romio --file "$file" --n "$N" --mode host --iters "$ITERS" \
    --label "OpenMPI-romio321 host+cudaMemcpy" $EXTRA || echo "FAILED: Open MPI romio321"
  if [ -n "$MPICH_PREFIX" ]; then
    # shellcheck disable=SC2086
    run_mpich --file "$file" --n "$N" --mode homi --iters "$ITERS" --label "MPICH+HOMI" \
      ${HINTS:+--hints "$HINTS"} $EXTRA || echo "FAILED: MPICH+HOMI"
    # shellcheck disable=SC2086
    run_mpich --file "$file" --n "$N" --mode host --iters "$ITERS" \
      --label "MPICH-ufs host+cudaMemcpy" --hints homi=disable $EXTRA || echo "FAILED: MPICH ufs"
  fi
} 2>&1 | tee -a "$txt"
{
  echo "mode,label,ranks,bytes,seconds,gib_per_s,check"
  grep '^csv,' "$txt" | cut -d, -f2-
} >"$csv"
echo
echo "best per method (GiB/s):"
awk -F, 'NR>1 { if ($6 > best[$2]) best[$2] = $6 } END { for (k in best) printf "  %-36s %.2f\n", k, best[k] }' "$csv"
say "results: $txt $csv"
