#!/usr/bin/env bash
# run-coll-ucx-gpu.sh - the collective engine's UCX route on the GPU machine,
# with a CUDA-enabled UCX (scripts/build-ucx-cuda.sh, carried) first on the
# loader path:
#   1. tests: test_coll gpu (compiled here against UCX_PREFIX/include, so the
#      route is compiled in) on NP ranks sharing GPU 0; its scenarios include
#      virtual nodes of 2 with homi_coll_net=ucx, =mpi and auto, each
#      verified byte for byte against pread; HOMI_TEST_REQUIRE_UCX=1 makes a
#      UCX that cannot start a failure.  Checks that UCX carried bytes and
#      says whether it moved GPU memory directly ("ucx cuda") or staged it
#      through pinned host memory ("ucx host").
#   2. timing: bench/coll_gpu_bench.c (MPICH + ad_homi, MPI_File_read_all
#      straight into GPU memory, every element verified) with
#      --hints homi_node_size=NODE,homi_coll_net=ucx | mpi | auto, warm and
#      cold page cache; HOMI_COLL_TRACE=1 logs every rank's bytes per route.
# Prints a table and writes <OUTDIR>/<date>-coll-ucx-gpu-<host>.{txt,csv,md}
# and the trace (-trace.txt).
#
#   bench/run-coll-ucx-gpu.sh MPICH_PREFIX UCX_PREFIX [HOMI_BUILD [OUTDIR]]
#
# MPICH_PREFIX: scripts/build-mpich-homi.sh's prefix built from this tree
#   (its libmpich.so.12 has the engine with the UCX route compiled in).
# UCX_PREFIX: scripts/build-ucx-cuda.sh's prefix (relocatable; lib/ goes
#   first on LD_LIBRARY_PATH, UCX finds its modules in lib/ucx).
# HOMI_BUILD: a CMake build of this tree with CUDA (default ./build; built
#   here when missing).  liburing/libnvme/json-c .so files may come from
#   $DEVLIBS (default ./devlibs).
# Environment: NP (4), NODE (2: ranks per virtual node), N (1024,1024,1024 =
#   4 GiB), ITERS (3), CACHES ("warm cold"), NETS ("ucx mpi auto"), HINTS
#   (more hints for every timed run, k=v,...), DIR (/var/tmp), CUDA_HOME
#   (/usr/local/cuda: its lib64 goes on LD_LIBRARY_PATH for UCX's libcudart),
#   TESTS (1: run part 1), EXTRA (options for every bench run; EXTRA=--no-gpu
#   smoke-tests the script on a machine without a GPU: host buffers).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
say() { echo "run-coll-ucx-gpu.sh: $*" >&2; }
PREFIX=$(cd "${1:?usage: bench/run-coll-ucx-gpu.sh MPICH_PREFIX UCX_PREFIX [HOMI_BUILD [OUTDIR]]}" && pwd)
UCX=$(cd "${2:?usage: bench/run-coll-ucx-gpu.sh MPICH_PREFIX UCX_PREFIX [HOMI_BUILD [OUTDIR]]}" && pwd)
BUILD=${3:-build}
OUT=${4:-bench/results}
NP=${NP:-4}
NODE=${NODE:-2}
N=${N:-1024,1024,1024}
ITERS=${ITERS:-3}
CACHES=${CACHES:-warm cold}
NETS=${NETS:-ucx mpi auto}
HINTS=${HINTS:-}
DIR=${DIR:-/var/tmp}
TESTS=${TESTS:-1}
EXTRA=${EXTRA:-}
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
DEVLIBS=${DEVLIBS:-$ROOT/devlibs}
nogpu=0
[[ " $EXTRA " == *" --no-gpu "* ]] && nogpu=1

[ -e "$PREFIX/lib/libmpich.so.12" ] || { say "no libmpich.so.12 under $PREFIX/lib"; exit 1; }
UCXLIB=$UCX/lib
[ -e "$UCXLIB/libucp.so.0" ] || UCXLIB=$UCX/lib/x86_64-linux-gnu
[ -e "$UCXLIB/libucp.so.0" ] || { say "no libucp.so.0 under $UCX/lib"; exit 1; }
UCXINC=$UCX/include
[ -e "$UCXINC/ucp/api/ucp.h" ] || { say "no ucp/api/ucp.h under $UCXINC"; exit 1; }
if [ ! -e "$BUILD/src/libhomi.so" ]; then
  say "building HOMI in $BUILD"
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DHOMI_CUDA=ON -DHOMI_BUILD_TESTS=OFF || exit 1
  cmake --build "$BUILD" -j"$(nproc)" --target homi || exit 1
fi
LIBHOMI=$(cd "$BUILD/src" && pwd)
B=$BUILD/bench-coll-ucx
mkdir -p "$B" "$OUT"
export LD_LIBRARY_PATH="$UCXLIB:$PREFIX/lib:$LIBHOMI${DEVLIBS:+:$DEVLIBS}:$CUDA_HOME/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# libhomi links CUDA's runtime statically: UCX's CUDA memory hooks cannot see
# its cudaFree, so UCX's memory-type cache could keep stale ranges (the
# engine passes every buffer's memory type explicitly anyway)
export UCX_MEMTYPE_CACHE=${UCX_MEMTYPE_CACHE:-n}
stamp=$(date +%Y-%m-%d)-coll-ucx-gpu-$(hostname -s)
txt=$OUT/$stamp.txt
csv=$OUT/$stamp.csv
md=$OUT/$stamp.md
trace=$OUT/$stamp-trace.txt
: >"$trace"
ucx_info=$UCX/bin/ucx_info
{
  echo "# run-coll-ucx-gpu.sh $(date -u +%FT%TZ) on $(hostname -s), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  (nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo none) | sed 's/^/# GPU: /'
  echo "# CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) x $(nproc)"
  echo "# MPICH: $PREFIX"
  echo "# UCX: $UCX ($UCXLIB first on LD_LIBRARY_PATH)${UCX_TLS:+, UCX_TLS=$UCX_TLS}, UCX_MEMTYPE_CACHE=$UCX_MEMTYPE_CACHE"
  if [ -x "$ucx_info" ]; then
    "$ucx_info" -v 2>&1 | sed -n '1p' | sed 's/^# */# UCX /'
    "$ucx_info" -d 2>&1 | grep -E 'Memory domain|memory types|Transport:' | sed 's/^#/# ucx_info -d:/' | sort -u
  fi
  echo "# ranks $NP, virtual nodes of $NODE, array $N float32, caches: $CACHES, iterations $ITERS"
} | tee "$txt"
if [ -x "$ucx_info" ] && [ $nogpu = 0 ] && ! "$ucx_info" -d 2>/dev/null | grep -q 'Transport: cuda_copy'; then
  say "WARNING: this UCX lists no cuda_copy transport (libuct_cuda.so not loaded? needs libcuda.so.1 and libcudart.so.13): GPU memory will be staged through host memory"
fi
fails=0

# ---- 1. tests
if [ "$TESTS" = 1 ]; then
  cc=(gcc -std=c11 -D_GNU_SOURCE -O2 -Wall -Werror -Iinclude -Isrc/coll -Itests/common
    -I"$PREFIX/include" -I"$UCXINC")
  if ! "${cc[@]}" tests/mpi/test_coll.c src/coll/coll_*.c -L"$PREFIX/lib" -lmpich \
    -L"$LIBHOMI" -lhomi -lpthread -ldl -o "$B/test_coll"; then
    say "test_coll does not compile"
    exit 1
  fi
  targ=gpu
  [ $nogpu = 1 ] && targ=
  t0=$SECONDS
  HOMI_TEST_REQUIRE_UCX=1 timeout -k 10 900 "$PREFIX/bin/mpiexec" -n "$NP" "$B/test_coll" $targ \
    >"$B/test.log" 2>&1
  rc=$?
  sed 's/^/      /' "$B/test.log" | tee -a "$txt"
  if [ $rc = 0 ]; then
    echo "PASS  test_coll $targ, $NP ranks ($((SECONDS - t0)) s)" | tee -a "$txt"
  else
    echo "FAIL  test_coll $targ, $NP ranks, exit $rc ($((SECONDS - t0)) s)" | tee -a "$txt"
    fails=$((fails + 1))
  fi
  # rank 0's line of the scenario "ucx: virtual nodes of 2": UCX bytes, route
  line=$(grep '^ucx: virtual nodes of 2 ' "$B/test.log" || true)
  ub=$(echo "$line" | sed -n 's/.* ucx \([0-9]*\).*/\1/p')
  if [ -n "$ub" ] && [ "$ub" -gt 0 ]; then
    echo "CHECK ucx_bytes > 0 with homi_coll_net=ucx, virtual nodes of 2: $ub (rank 0)" | tee -a "$txt"
  else
    echo "FAIL  ucx_bytes with homi_coll_net=ucx: '${ub:-none}'" | tee -a "$txt"
    fails=$((fails + 1))
  fi
  if echo "$line" | grep -q '(ucx cuda)'; then
    echo "CHECK UCX moved GPU memory directly (CUDA memory supported)" | tee -a "$txt"
  else
    echo "NOTE  UCX staged through pinned host memory (no CUDA memory support in this UCX, or host buffers)" | tee -a "$txt"
  fi
fi

# ---- 2. timing
gcc -std=c11 -D_GNU_SOURCE -O2 -Iinclude -I"$PREFIX/include" bench/coll_gpu_bench.c \
  -L"$PREFIX/lib" -lmpich -L"$LIBHOMI" -lhomi -o "$B/bench-mpich" || exit 1
file=$DIR/homi-coll-bench-$(echo "$N" | tr , x).f32
if [ ! -e "$file" ]; then
  say "creating $file"
  "$PREFIX/bin/mpiexec" -n "$NP" "$B/bench-mpich" --file "$file" --create --n "$N" --mode host \
    --iters 0 --no-gpu | tee -a "$txt"
fi
for cache in $CACHES; do
  copt=()
  [ "$cache" = warm ] && copt=(--warm)
  for net in $NETS; do
    h=homi_node_size=$NODE,homi_coll_net=$net${HINTS:+,$HINTS}
    echo "== $cache, $h" >>"$trace"
    HOMI_COLL_TRACE=1 "$PREFIX/bin/mpiexec" -n "$NP" "$B/bench-mpich" --file "$file" --n "$N" \
      --iters "$ITERS" "${copt[@]}" --mode homi --label "net=$net node_size=$NODE" --hints "$h" \
      $EXTRA 2>>"$trace" | tee -a "$txt" || {
      echo "FAILED: net=$net $cache" | tee -a "$txt"
      fails=$((fails + 1))
    }
    # the route of the last read, from the trace (every rank)
    tail -n "$NP" "$trace" | sed -n 's/.*bytes ipc \([0-9]*\) mpi \([0-9]*\) self \([0-9]*\) ucx \([0-9]*\); net \(.*\)$/\1 \2 \3 \4|\5/p' |
      awk -F'|' -v l="net=$net $cache" '{split($1, b, " "); i+=b[1]; m+=b[2]; s+=b[3]; u+=b[4]; r=$2} END {printf "route %s: bytes ipc %d mpi %d self %d ucx %d, net %s\n", l, i, m, s, u, r}' |
      tee -a "$txt"
  done
done
{
  echo "mode,cache,gpus,label,ranks,bytes,seconds,gib_per_s,check,open_close_seconds"
  grep '^csv,' "$txt" | cut -d, -f2-
} >"$csv"
{
  echo "# Collective read, UCX vs MPI between virtual nodes — $(hostname -s), $(date -u +%F)"
  echo
  echo "Recorded by \`bench/run-coll-ucx-gpu.sh\` (log \`$(basename "$txt")\`, CSV \`$(basename "$csv")\`)."
  echo "$NP ranks on one GPU in virtual nodes of $NODE (homi_node_size), array $N float32,"
  echo "MPI_File_read_all into $([ $nogpu = 1 ] && echo "host memory (--no-gpu smoke run)" || echo "GPU memory"), every element verified; $ITERS iterations."
  echo
  echo "| cache | route | best GiB/s | mean GiB/s | runs |"
  echo "| --- | --- | ---: | ---: | ---: |"
  awk -F, 'NR>1 && $9=="verified" { k=$2 "|" $4; s[k]+=$8; n[k]++; if ($8 > b[k]) b[k]=$8 } END { for (k in b) { split(k, p, "|"); printf "| %s | %s | %.2f | %.2f | %d |\n", p[1], p[2], b[k], s[k]/n[k], n[k] } }' "$csv" | sort
  echo
  grep '^route ' "$txt" | sed 's/^/    /'
} >"$md"
echo
cat "$md"
say "results: $txt $csv $md $trace; $fails failure(s)"
[ $fails = 0 ]
