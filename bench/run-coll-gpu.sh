#!/usr/bin/env bash
# run-coll-gpu.sh - collective read of a 3-D float32 array (8 GiB file, each
# rank one subarray) into GPU memory on the GPU machine, every method in one
# run, cold and warm page cache:
#   homi        MPICH + ad_homi, MPI_File_read_all straight into cudaMalloc memory
#               (default hints; default with HOMI_D2D_COPY=sm, i.e. the
#               window -> buffer copies on the SMs instead of the copy engines;
#               default with HOMI_ENGINE_CACHE_IDLE=0, i.e. every open sets up
#               a new libhomi engine (staging pool, streams) in its first read;
#               tuned hints; tuned without read-ahead of the next window; cold
#               only: tuned with homi_direct=on)
#   ompi-host   system Open MPI, MPI_File_read_all into pinned host memory + cudaMemcpy
#   mpich-ufs   MPICH's stock ufs driver into pinned host memory + cudaMemcpy
#   single      one process, homi-bench --gpu on the same file (64 MiB requests):
#               the single-process file -> GPU figure the issue compares against
# Prints a table and a summary and writes
# <OUTDIR>/<date>-coll-gpu-<hostname>[-<GPUS>gpu].{txt,csv,md}.
#
#   bench/run-coll-gpu.sh MPICH_PREFIX [HOMI_BUILD [OUTDIR]]
#
# MPICH_PREFIX: the prefix built by scripts/build-mpich-homi.sh (carried
#   from the build machine; nothing in it is path-dependent for this script,
#   which compiles with -I$MPICH_PREFIX/include itself).
# HOMI_BUILD: a CMake build of this tree with CUDA (default ./build; built
#   here when missing).  liburing/libnvme/json-c .so files may come from
#   $DEVLIBS (default ./devlibs), put on LD_LIBRARY_PATH.
# Environment: DIR (/var/tmp), N (2048,1024,1024 = 8 GiB), NP (4), ITERS (2),
#   CACHES ("cold warm"), GPUS (1; N > 1: rank r's buffer on GPU r % N),
#   SINGLE (1: also run the single-process homi-bench --gpu figure),
#   ONE_RANK (1: also MPICH+HOMI with one rank reading the whole array
#   through the collective engine (romio_cb_read=enable; without it one
#   rank takes the independent path): the engine without redistribution;
#   its row is not counted as the NP-rank HOMI figure of the summary),
#   HINTS2 (tuned hints; default cb_nodes=NP, 256 MiB windows),
#   HINTS_MORE (more HOMI rows: hint lists separated by spaces, e.g.
#   "cb_nodes=1,homi_coll_read_streams=8 homi_coll_read_streams=1"),
#   EXTRA (options for every run; EXTRA=--no-gpu smoke-tests the script on
#   a machine without a GPU).
#   OMPI_HOMI_PREFIX (issue 7: Open MPI's io/romio321 plugin with ad_homi,
#   built on this machine; adds OpenMPI+HOMI rows (default and tuned hints)
#   and Open MPI's stock romio321; bench/run-coll-gpu-ompi.sh sets it).
#   PMPI (issue 20; default 1): HOMI's PMPI layer libhomi_mpiio built with
#   the installed Open MPI's mpicc (mpiio-pmpi/build.sh) and preloaded into
#   the unmodified installed Open MPI: rows "installed MPI + libhomi_mpiio"
#   (default and tuned hints) and "installed MPI stock: host buffer +
#   cudaMemcpy" (labels are CSV fields: no commas), and a summary of the
#   layer against the ad_homi rows and stock.
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
CACHES=${CACHES:-cold warm}
GPUS=${GPUS:-1}
SINGLE=${SINGLE:-1}
ONE_RANK=${ONE_RANK:-0}
HINTS2=${HINTS2:-cb_nodes=$NP,cb_buffer_size=268435456,homi_gpu_buffer_size=268435456}
EXTRA=${EXTRA:-}
HINTS_MORE=${HINTS_MORE:-}
DEVLIBS=${DEVLIBS:-$(pwd)/devlibs}
say() { echo "run-coll-gpu.sh: $*" >&2; }

[ -e "$PREFIX/lib/libmpich.so.12" ] || { say "no libmpich.so.12 under $PREFIX/lib"; exit 1; }
if [ ! -e "$BUILD/src/libhomi.so" ]; then
  say "building HOMI in $BUILD"
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DHOMI_CUDA=ON -DHOMI_BUILD_TESTS=OFF
  cmake --build "$BUILD" -j"$(nproc)" --target homi homi-bench
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
[ "$GPUS" -gt 1 ] && stamp=$stamp-${GPUS}gpu
txt=$OUT/$stamp.txt
csv=$OUT/$stamp.csv
md=$OUT/$stamp.md
gpuopt=()
[ "$GPUS" -gt 1 ] && gpuopt=(--gpus "$GPUS")
{
  echo "# run-coll-gpu.sh $(date -u +%FT%TZ) on $(hostname -s)"
  (nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo none) | sed 's/^/# GPU: /'
  echo "# CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) x $(nproc), memory $(free -g | awk '/Mem:/{print $2}') GiB"
  echo "# file system of $DIR: $(df -T "$DIR" | awk 'NR==2{print $2, $1}')"
  echo "# Open MPI: $(mpirun --version 2>/dev/null | head -1 || true)"
  echo "# ranks $NP, GPUs used $GPUS, caches: $CACHES, iterations $ITERS"
} | tee "$txt"
if [ ! -e "$file" ]; then
  say "creating $file"
  "${MPICH_ENV[@]}" "$PREFIX/bin/mpiexec" -n "$NP" "$B/bench-mpich" --file "$file" --create \
    --n "$N" --mode host --iters 0 --no-gpu | tee -a "$txt"
fi
run_mpich() { "${MPICH_ENV[@]}" "$PREFIX/bin/mpiexec" -n "$NP" "$B/bench-mpich" "$@"; }
run_ompi() { mpirun --allow-run-as-root --oversubscribe -x LD_LIBRARY_PATH -n "$NP" "$B/bench-ompi" "$@"; }
# the installed Open MPI, unmodified, with HOMI's PMPI layer preloaded
PMPI=${PMPI:-1}
if [ "$PMPI" = 1 ]; then
  bash mpiio-pmpi/build.sh "$BUILD" "$B/libhomi_mpiio_ompi.so" mpicc
fi
run_ompi_pmpi() {
  mpirun --allow-run-as-root --oversubscribe -x LD_LIBRARY_PATH \
    -x LD_PRELOAD="$B/libhomi_mpiio_ompi.so" -x HOMI_MPIIO_STATS=1 -n "$NP" "$B/bench-ompi" "$@"
}
OMPI_HOMI_PREFIX=${OMPI_HOMI_PREFIX:-}
if [ -n "$OMPI_HOMI_PREFIX" ]; then
  [ -e "$OMPI_HOMI_PREFIX/lib/openmpi/mca_io_romio321.so" ] ||
    { say "no lib/openmpi/mca_io_romio321.so under OMPI_HOMI_PREFIX=$OMPI_HOMI_PREFIX"; exit 1; }
  OMPI_STOCK_DIR=$(ompi_info --path pkglibdir | sed 's/.*: *//')
fi
# Open MPI with HOMI's io/romio321 plugin first on the component path / its stock romio321
run_ompi_homi() {
  mpirun --allow-run-as-root --oversubscribe -x LD_LIBRARY_PATH --mca io romio321 \
    --mca mca_base_component_path "$OMPI_HOMI_PREFIX/lib/openmpi:$OMPI_STOCK_DIR" \
    -n "$NP" "$B/bench-ompi" "$@"
}
run_ompi_romio() { mpirun --allow-run-as-root --oversubscribe -x LD_LIBRARY_PATH --mca io romio321 -n "$NP" "$B/bench-ompi" "$@"; }
for cache in $CACHES; do
  copt=()
  [ "$cache" = warm ] && copt=(--warm)
  common=(--file "$file" --n "$N" --iters "$ITERS" "${copt[@]}" "${gpuopt[@]}")
  {
    run_mpich "${common[@]}" --mode homi --label "MPICH+HOMI default hints" $EXTRA ||
      echo "FAILED: MPICH+HOMI default"
    HOMI_D2D_COPY=sm run_mpich "${common[@]}" --mode homi \
      --label "MPICH+HOMI default hints d2d on SMs" $EXTRA ||
      echo "FAILED: MPICH+HOMI default d2d=sm"
    HOMI_ENGINE_CACHE_IDLE=0 run_mpich "${common[@]}" --mode homi \
      --label "MPICH+HOMI default hints engines not kept" $EXTRA ||
      echo "FAILED: MPICH+HOMI default, HOMI_ENGINE_CACHE_IDLE=0"
    run_mpich "${common[@]}" --mode homi --label "MPICH+HOMI ${HINTS2//,/ }" --hints "$HINTS2" \
      $EXTRA || echo "FAILED: MPICH+HOMI tuned"
    run_mpich "${common[@]}" --mode homi --label "MPICH+HOMI tuned no read-ahead" \
      --hints "$HINTS2,homi_coll_overlap=disable" $EXTRA || echo "FAILED: MPICH+HOMI no overlap"
    if [ "$ONE_RANK" = 1 ]; then
      "${MPICH_ENV[@]}" "$PREFIX/bin/mpiexec" -n 1 "$B/bench-mpich" "${common[@]}" --mode homi \
        --hints romio_cb_read=enable --label "MPICH+HOMI one rank (no redistribution)" $EXTRA ||
        echo "FAILED: MPICH+HOMI one rank"
    fi
    for h in $HINTS_MORE; do
      run_mpich "${common[@]}" --mode homi --label "MPICH+HOMI ${h//,/ }" --hints "$h" $EXTRA ||
        echo "FAILED: MPICH+HOMI $h"
    done
    if [ "$cache" = cold ]; then
      run_mpich "${common[@]}" --mode homi --label "MPICH+HOMI tuned homi_direct=on" \
        --hints "$HINTS2,homi_direct=on" $EXTRA || echo "FAILED: MPICH+HOMI direct"
    fi
    run_ompi "${common[@]}" --mode host --label "OpenMPI host+cudaMemcpy" $EXTRA ||
      echo "FAILED: Open MPI"
    run_ompi "${common[@]}" --mode host --label "OpenMPI cb_nodes=$NP host+cudaMemcpy" \
      --hints "cb_nodes=$NP" $EXTRA || echo "FAILED: Open MPI cb_nodes"
    if [ -n "$OMPI_HOMI_PREFIX" ]; then
      run_ompi_homi "${common[@]}" --mode homi --label "OpenMPI+HOMI default hints" $EXTRA ||
        echo "FAILED: OpenMPI+HOMI default"
      run_ompi_homi "${common[@]}" --mode homi --label "OpenMPI+HOMI ${HINTS2//,/ }" \
        --hints "$HINTS2" $EXTRA || echo "FAILED: OpenMPI+HOMI tuned"
      run_ompi_romio "${common[@]}" --mode host \
        --label "OpenMPI-romio321 host+cudaMemcpy" $EXTRA || echo "FAILED: Open MPI romio321"
    fi
    if [ "$PMPI" = 1 ]; then
      run_ompi_pmpi "${common[@]}" --mode homi --label "installed MPI + libhomi_mpiio default hints" \
        $EXTRA || echo "FAILED: installed MPI + libhomi_mpiio default"
      run_ompi_pmpi "${common[@]}" --mode homi --label "installed MPI + libhomi_mpiio ${HINTS2//,/ }" \
        --hints "$HINTS2" $EXTRA || echo "FAILED: installed MPI + libhomi_mpiio tuned"
      run_ompi "${common[@]}" --mode host --label "installed MPI stock: host buffer + cudaMemcpy" \
        $EXTRA || echo "FAILED: installed MPI stock"
    fi
    run_mpich "${common[@]}" --mode host --label "MPICH-ufs host+cudaMemcpy" --hints homi=disable \
      $EXTRA || echo "FAILED: MPICH ufs"
  } 2>&1 | tee -a "$txt"
done
# the single-process file -> GPU figure on the same file (HOMI's own
# benchmark; cached = warm, direct = cold)
single_csv=$B/single.csv
rm -f "$single_csv"
if [ "$SINGLE" = 1 ] && [ -x "$BUILD/tools/homi-bench" ] && [[ " $EXTRA " != *" --no-gpu "* ]]; then
  modes=$(echo "$CACHES" | sed 's/cold/direct/; s/warm/cached/' | tr ' ' ,)
  "$BUILD/tools/homi-bench" --gpu --blocks 64M --modes "$modes" --iters "$ITERS" \
    --direct-iters 1 --run-cap 8 --quiet --csv "$single_csv" "$file" 2>&1 | tee -a "$txt" ||
    echo "FAILED: single-process homi-bench --gpu" | tee -a "$txt"
fi
{
  echo "mode,cache,gpus,label,ranks,bytes,seconds,gib_per_s,check,open_close_seconds"
  grep '^csv,' "$txt" | cut -d, -f2-
} >"$csv"
# summary: best per method and cache; HOMI against the better baseline and
# against the single-process figure (GB/s there, converted to GiB/s)
{
  echo "# Collective read into GPU memory — $(hostname -s), $(date -u +%F)"
  echo
  echo "Recorded by \`bench/run-coll-gpu.sh\` (raw log: \`$(basename "$txt")\`, CSV: \`$(basename "$csv")\`)."
  echo "$NP ranks, $GPUS GPU(s), array $N float32, every run verified element by element."
  echo
  echo "| cache | method | best GiB/s |"
  echo "| --- | --- | ---: |"
  awk -F, 'NR>1 && $9=="verified" { k=$2 "|" $4; if ($8 > b[k]) b[k]=$8 } END { for (k in b) { split(k, p, "|"); printf "| %s | %s | %.2f |\n", p[1], p[2], b[k] } }' "$csv" | sort
  echo
  echo "| cache | HOMI best | better baseline | HOMI / baseline | single-process file->GPU | HOMI / single |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: |"
  for cache in $CACHES; do
    h=$(awk -F, -v c="$cache" -v np="$NP" 'NR>1 && $2==c && $1=="homi" && $5==np && $9=="verified" && $8>b {b=$8} END{print b+0}' "$csv")
    base=$(awk -F, -v c="$cache" -v np="$NP" 'NR>1 && $2==c && $1=="host" && $5==np && $9=="verified" && $8>b {b=$8} END{print b+0}' "$csv")
    single=0
    if [ -s "$single_csv" ]; then
      m=$([ "$cache" = cold ] && echo direct || echo cached)
      single=$(awk -F, -v m="$m" 'NR>1 && $1==m && ($4=="homi" || $4=="homi-async") && $5>b {b=$5} END{print b/1.073741824}' "$single_csv")
    fi
    awk -v c="$cache" -v h="$h" -v b="$base" -v s="$single" 'BEGIN { printf "| %s | %.2f | %.2f | %s | %s | %s |\n", c, h, b, (b > 0 ? sprintf("%.2fx", h / b) : "-"), (s > 0 ? sprintf("%.2f", s) : "-"), (s > 0 ? sprintf("%.2fx", h / s) : "-") }'
  done
  if [ "$PMPI" = 1 ]; then
    # issue 20 targets: the layer >= 0.95x the ad_homi plugin row, >= 10x stock
    echo
    echo "| cache | installed MPI + libhomi_mpiio | OpenMPI+HOMI (ad_homi plugin) | MPICH+HOMI | installed MPI stock | layer / plugin | layer / stock |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    for cache in $CACHES; do
      best() { awk -F, -v c="$cache" -v np="$NP" -v pre="$1" 'NR>1 && $2==c && $5==np && $9=="verified" && index($4, pre)==1 && $8>b {b=$8} END{print b+0}' "$csv"; }
      l=$(best "installed MPI + libhomi_mpiio")
      pl=$(best "OpenMPI+HOMI")
      mh=$(best "MPICH+HOMI")
      st=$(best "installed MPI stock")
      awk -v c="$cache" -v l="$l" -v p="$pl" -v m="$mh" -v s="$st" 'BEGIN { printf "| %s | %.2f | %s | %.2f | %.2f | %s | %s |\n", c, l, (p > 0 ? sprintf("%.2f", p) : "-"), m, s, (p > 0 ? sprintf("%.2fx", l / p) : "-"), (s > 0 ? sprintf("%.2fx", l / s) : "-") }'
    done
  fi
} >"$md"
echo
cat "$md"
say "results: $txt $csv $md"
