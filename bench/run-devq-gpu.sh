#!/usr/bin/env bash
# run-devq-gpu.sh - the device-initiated path on a GPU machine: its test
# (10^6 verified GPU-issued reads, errors, timeouts), the gather example
# and the GPU-initiated vs host-issued random 4 KiB benchmark.
#
#   bench/run-devq-gpu.sh [BUILD_DIR [OUTDIR]]
#
# BUILD_DIR: a CUDA build of HOMI (default ./build); OUTDIR: where the logs
# and the CSV go (default bench/results).  Environment: DIR (data files,
# /var/tmp), SIZE_GIB (benchmark file, 4), READS (1048576), HOST_THREADS (4),
# GPU_THREADS (65536).
set -uo pipefail
build=${1:-build}
out=${2:-bench/results}
mkdir -p "$out"
DIR=${DIR:-/var/tmp}
stamp=$(date +%F)-$(hostname -s)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
echo "== test_devq"
HOMI_TEST_DIR=$DIR timeout 300 "$build/tests/test_devq" 2>&1 | tee "$out/$stamp-devq-test.txt"
echo "test_devq exit ${PIPESTATUS[0]}"
echo "== benchmark"
timeout 400 "$build/bench/devq/homi-bench-devq" --file "$DIR/homi-devq-bench.dat" \
  --size "${SIZE_GIB:-4}" --reads "${READS:-1048576}" --host-threads "${HOST_THREADS:-4}" \
  --gpu-threads "${GPU_THREADS:-65536}" --csv "$out/$stamp-devq-bench.csv" 2>&1 |
  tee "$out/$stamp-devq-bench.txt"
echo "== gather example"
timeout 120 "$build/examples/homi-example-gpu-gather" "$DIR/homi-devq-bench.dat" 1048576 4096 2>&1 |
  tee "$out/$stamp-devq-example.txt" || true
