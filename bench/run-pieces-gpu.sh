#!/usr/bin/env bash
# run-pieces-gpu.sh - scattered reads into GPU memory on the GPU machine
# (issue 25), with an already built CUDA tree of libhomi:
#   1. test_gpu_pieces  (homi_read_pieces into device memory, byte for byte
#                        against pread: random, strided, EOF, shrinking file)
#   2. pieces-gpu-bench (homi_read_pieces vs pread + cudaMemcpy, and the MPI-IO
#                        driver's independent strided read homi_coll_read_indep
#                        when BENCH_COLL names a build of it with -DHAVE_COLL)
# and records <OUTDIR>/<date>-pieces-gpu-<host>.{txt,csv}.
#
#   bench/run-pieces-gpu.sh [BUILD_DIR [OUTDIR]]
#
# BUILD_DIR (default ./build) holds src/libhomi.so, tests/test_gpu_pieces and
# bench/pieces-gpu-bench; liburing, libnvme and json-c may come from
# devlibs/ (put on LD_LIBRARY_PATH when present).  Knobs: DIR (/var/tmp),
# SIZE (1G), ITERS (3), BENCH_COLL (a pieces-gpu-bench built with the
# collective engine, e.g. mpicc -DHAVE_COLL ... src/coll/coll_*.c).
set -uo pipefail
build=$(cd "${1:-./build}" && pwd)
outdir=${2:-bench/results}
DIR=${DIR:-/var/tmp} SIZE=${SIZE:-1G} ITERS=${ITERS:-3}
[[ -d devlibs ]] && export LD_LIBRARY_PATH=$PWD/devlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH=$build/src${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
mkdir -p "$outdir"
host=$(hostname -s 2>/dev/null || hostname)
base="$outdir/$(date +%F)-pieces-gpu-$host"
bench=${BENCH_COLL:-$build/bench/pieces-gpu-bench}
{
    echo "== $(date -u '+%F %T UTC') $host: $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
    echo "== test_gpu_pieces"
    "$build/tests/test_gpu_pieces"; trc=$?
    echo "test_gpu_pieces exit $trc"
    echo "== pieces-gpu-bench --size $SIZE ($bench)"
    "$bench" --file "$DIR/homi-pieces-bench.dat" --size "$SIZE" --iters "$ITERS" \
        --csv "$base.csv"; brc=$?
    echo "pieces-gpu-bench exit $brc"
    echo "exit codes: test $trc, bench $brc"
} 2>&1 | tee "$base.txt"
