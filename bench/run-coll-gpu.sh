#!/usr/bin/env bash
# run-coll-gpu.sh - collective read of a 3-D float32 array (8 GiB file, each
# rank one subarray) into GPU memory with 4 ranks on the GPU machine:
#   homi        MPICH + ad_homi, MPI_File_read_all straight into cudaMalloc memory
#   ompi-host   system Open MPI, MPI_File_read_all into pinned host memory + cudaMemcpy
#   mpich-ufs   MPICH's stock ufs driver into pinned host memory + cudaMemcpy
# Cold page cache for every run (posix_fadvise DONTNEED by every rank).
# Prints a table and writes <OUTDIR>/<date>-coll-gpu-<hostname>.{txt,csv}.
#
#   bench/run-coll-gpu.sh MPICH_PREFIX [HOMI_BUILD [OUTDIR]]
#
# MPICH_PREFIX: the prefix built by scripts/build-mpich-homi.sh (carried
#   from the build machine; any path: nothing in it is path-dependent for
#   this script, which compiles with -I$MPICH_PREFIX/include itself).
# HOMI_BUILD: a CMake build of this tree with CUDA (default ./build; built
#   here with `cmake -S . -B build -DHOMI_CUDA=ON && cmake --build build`
#   when missing).  liburing/libnvme/json-c .so files may come from
#   $DEVLIBS (default ./devlibs), put on LD_LIBRARY_PATH.
# Environment: DIR (/var/tmp), N (2048,1024,1024 = 8 GiB), NP (4), ITERS (2),
#   HINTS (MPI-IO hints of the first homi run; default: none),
#   HINTS2 (of the second homi run; default cb_nodes=4,cb_buffer_size=268435456:
#   four aggregators with 256 MiB GPU windows), EXTRA (options for every run;
#   EXTRA=--no-gpu smoke-tests the script on a machine without a GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=${1:?usage: bench/run-coll-gpu.sh MPICH_PREFIX [HOMI_BUILD [OUTDIR]]}
PREFIX=$(cd "$PREFIX" && pwd)
BUILD=${2:-build}
OUT=${3:-bench/results}
DIR=${DIR:-/var/tmp}
N=${N:-2048,1024,1024}
NP=${NP:-4}
ITERS=${ITERS:-2}
HINTS=${HINTS:-}
HINTS2=${HINTS2:-cb_nodes=4,cb_buffer_size=268435456,homi_gpu_buffer_size=268435456}
EXTRA=${EXTRA:-} # extra benchmark options for every run (--no-gpu: host-only smoke run)
DEVLIBS=${DEVLIBS:-$(pwd)/devlibs}
say() { echo "run-coll-gpu.sh: $*" >&2; }

[ -e "$PREFIX/lib/libmpich.so.12" ] || { say "no libmpich.so.12 under $PREFIX/lib"; exit 1; }
if [ ! -e "$BUILD/src/libhomi.so" ]; then
  say "building HOMI in $BUILD"
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DHOMI_CUDA=ON -DHOMI_BUILD_TESTS=OFF
  cmake --build "$BUILD" -j"$(nproc)" --target homi
fi
LIBHOMI=$(cd "$BUILD/src" && pwd)
mkdir -p "$BUILD/bench-coll" "$OUT"
B=$BUILD/bench-coll
# one source, two MPI libraries
gcc -std=c11 -D_GNU_SOURCE -O2 -Iinclude -I"$PREFIX/include" bench/coll_gpu_bench.c \
  -L"$PREFIX/lib" -lmpich -L"$LIBHOMI" -lhomi -o "$B/bench-mpich"
mpicc -std=c11 -D_GNU_SOURCE -O2 -Iinclude bench/coll_gpu_bench.c -L"$LIBHOMI" -lhomi \
  -o "$B/bench-ompi"
export LD_LIBRARY_PATH="$LIBHOMI${DEVLIBS:+:$DEVLIBS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
MPICH_ENV=(env LD_LIBRARY_PATH="$PREFIX/lib:$LD_LIBRARY_PATH")
file=$DIR/homi-coll-bench-$(echo "$N" | tr , x).f32
stamp=$(date +%Y-%m-%d)-coll-gpu-$(hostname -s)
txt=$OUT/$stamp.txt
csv=$OUT/$stamp.csv
{
  echo "# run-coll-gpu.sh $(date -u +%FT%TZ) on $(hostname -s)"
  (nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo none) | sed 's/^/# GPU: /'
  echo "# CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) x $(nproc)"
  echo "# file system of $DIR: $(df -T "$DIR" | awk 'NR==2{print $2, $1}')"
  echo "# Open MPI: $(mpirun --version 2>/dev/null | head -1 || true)"
} | tee "$txt"
if [ ! -e "$file" ]; then
  say "creating $file"
  "${MPICH_ENV[@]}" "$PREFIX/bin/mpiexec" -n "$NP" "$B/bench-mpich" --file "$file" --create \
    --n "$N" --mode host --iters 0 --no-gpu | tee -a "$txt"
fi
run_mpich() { "${MPICH_ENV[@]}" "$PREFIX/bin/mpiexec" -n "$NP" "$B/bench-mpich" "$@"; }
run_ompi() { mpirun --allow-run-as-root --oversubscribe -x LD_LIBRARY_PATH -n "$NP" "$B/bench-ompi" "$@"; }
{
  run_mpich --file "$file" --n "$N" --mode homi --iters "$ITERS" --label "MPICH+HOMI" \
    ${HINTS:+--hints "$HINTS"} $EXTRA || echo "FAILED: MPICH+HOMI"
  run_mpich --file "$file" --n "$N" --mode homi --iters "$ITERS" --label "MPICH+HOMI ${HINTS2//,/ }" \
    --hints "$HINTS2" $EXTRA || echo "FAILED: MPICH+HOMI ${HINTS2//,/ }"
  run_ompi --file "$file" --n "$N" --mode host --iters "$ITERS" \
    --label "OpenMPI host+cudaMemcpy" $EXTRA || echo "FAILED: Open MPI"
  run_mpich --file "$file" --n "$N" --mode host --iters "$ITERS" \
    --label "MPICH-ufs host+cudaMemcpy" --hints homi=disable $EXTRA || echo "FAILED: MPICH ufs"
} 2>&1 | tee -a "$txt"
{
  echo "mode,label,ranks,bytes,seconds,gib_per_s,check"
  grep '^csv,' "$txt" | cut -d, -f2-
} >"$csv"
echo
echo "best per method (GiB/s):"
awk -F, 'NR>1 { if ($6 > best[$2]) best[$2] = $6 } END { for (k in best) printf "  %-28s %.2f\n", k, best[k] }' "$csv"
say "results: $txt $csv"
