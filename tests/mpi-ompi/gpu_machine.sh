#!/usr/bin/env bash
# gpu_machine.sh - the Open MPI route's MPI-IO tests on a GPU machine
# without the CTest tree: compiles test_mpiio, test_coll and e2e_mpiio with
# the installed Open MPI's mpicc and runs them on the installed Open MPI with
# HOMI's io/romio321 plugin (PLUGIN_PREFIX, built on this machine by
# scripts/build-ompi-homi.sh --from-prepared): host buffers, then CUDA
# device buffers with several ranks sharing GPU 0 and, with more GPUs, the
# collective engine's test spread over them (HOMI_TEST_GPUS=n: rank r on
# GPU r % n), then the proof
# that HOMI's plugin did the reads (homi_used.sh, when homid is built).
# Every test verifies every byte against pread (device data copied back).
#
#   tests/mpi-ompi/gpu_machine.sh PLUGIN_PREFIX HOMI_BUILD
#
# Exit status: 0 when every run passed, 1 otherwise; 77 without a GPU.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PREFIX=$(cd "${1:?usage: gpu_machine.sh PLUGIN_PREFIX HOMI_BUILD}" && pwd)
BUILD=$(cd "${2:?usage: gpu_machine.sh PLUGIN_PREFIX HOMI_BUILD}" && pwd)
ngpu=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
if [ "${ngpu:-0}" -lt 1 ]; then
  echo "SKIP: no NVIDIA GPU (nvidia-smi -L lists none)"
  exit 77
fi
out=$BUILD/mpi-ompi-gpu
mkdir -p "$out"
cc=(mpicc -std=c11 -D_GNU_SOURCE -O2 -Wall -Werror -I"$ROOT/include" -I"$ROOT/src/coll"
  -I"$ROOT/tests/common")
libs=(-L"$BUILD/src" -lhomi -lpthread -ldl)
"${cc[@]}" "$ROOT/tests/mpi/test_coll.c" "$ROOT"/src/coll/coll_*.c "${libs[@]}" \
  -o "$out/test_coll" || exit 1
"${cc[@]}" "$ROOT/tests/mpi/test_mpiio.c" "${libs[@]}" -o "$out/test_mpiio" || exit 1
"${cc[@]}" "$ROOT/tests/daemon/e2e_mpiio.c" -o "$out/e2e_mpiio" || exit 1
export HOMI_LIBDIR=$BUILD/src HOMI_OMPI_PREFIX=$PREFIX
fails=0
run() { # label np gpus [--no-plugin] program args...
  local label=$1 np=$2 g=$3 opt=()
  shift 3
  if [ "$1" = --no-plugin ]; then opt=(--no-plugin); shift; fi
  local t0=$SECONDS
  if HOMI_TEST_GPUS=$g HOMI_MPI_TIMEOUT=600 bash "$HERE/run_ompi.sh" "${opt[@]}" "$np" "$@" >"$out/log" 2>&1; then
    echo "PASS  $label ($((SECONDS - t0)) s)"
  else
    echo "FAIL  $label ($((SECONDS - t0)) s)"
    fails=$((fails + 1))
  fi
  sed 's/^/      /' "$out/log"
}
echo "# $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1) x $ngpu, $(mpirun --version | head -1), plugin $PREFIX, $(date -u +%FT%TZ)"
for np in 1 4 8; do
  run "test_mpiio hint (host buffers), $np ranks" "$np" 0 "$out/test_mpiio" hint
done
run "test_mpiio prefix (host buffers), 3 ranks" 3 0 "$out/test_mpiio" prefix
for np in 1 4 8; do
  run "test_mpiio hint gpu, $np ranks on GPU 0" "$np" 0 "$out/test_mpiio" hint gpu
done
for np in 1 2 4 8; do
  run "test_coll gpu (Open MPI), $np ranks on GPU 0" "$np" 0 --no-plugin "$out/test_coll" gpu
done
if [ "$ngpu" -gt 1 ]; then
  for np in $ngpu $((2 * ngpu)); do
    run "test_coll gpu (Open MPI), $np ranks over $ngpu GPUs" "$np" "$ngpu" --no-plugin "$out/test_coll" gpu
  done
fi
if [ -x "$BUILD/tools/homid" ]; then
  t0=$SECONDS
  if HOMI_HOMID=$BUILD/tools/homid LD_LIBRARY_PATH="$BUILD/src${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    bash "$HERE/homi_used.sh" "$ROOT/tools/homi-run" "$out/e2e_mpiio" >"$out/log" 2>&1; then
    echo "PASS  homi_used: HOMI's plugin read (homid counted it), the stock one did not ($((SECONDS - t0)) s)"
  else
    echo "FAIL  homi_used ($((SECONDS - t0)) s)"
    fails=$((fails + 1))
  fi
  sed 's/^/      /' "$out/log"
else
  echo "SKIP  homi_used: no homid in $BUILD/tools"
fi
echo "# $fails failed"
[ "$fails" = 0 ]
