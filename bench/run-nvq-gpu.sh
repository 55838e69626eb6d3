#!/usr/bin/env bash
# run-nvq-gpu.sh - the delegated-controller queue protocol (src/nvme/nvme_queue.h)
# as GPU device code on a GPU machine: test_nvq_device runs the device-side
# submit/poll kernel of src/nvme/nvme_queue_cuda.cu against a host thread
# that plays the NVMe controller (queues and doorbell page in mapped pinned
# memory; 20000 commands over 1250 CQ wraps, every buffer verified; queue 0
# refused on the device).  No NVMe device is touched.
#
#   bench/run-nvq-gpu.sh [BUILD_DIR [OUTDIR]]
#
# BUILD_DIR: a CUDA build of HOMI (default ./build, configured with
# -DHOMI_CUDA=ON or AUTO with nvcc found); OUTDIR: where the log goes
# (default bench/results).
set -uo pipefail
build=${1:-build}
out=${2:-bench/results}
mkdir -p "$out"
stamp=$(date +%F)-$(hostname -s)
if [ ! -x "$build/tests/test_nvq_device" ]; then
  cmake --build "$build" -j"$(nproc)" --target test_nvq_device || exit 1
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
echo "== test_nvq_device"
timeout 300 "$build/tests/test_nvq_device" 2>&1 | tee "$out/$stamp-nvq-device.txt"
rc=${PIPESTATUS[0]}
echo "test_nvq_device exit $rc"
exit "$rc"
