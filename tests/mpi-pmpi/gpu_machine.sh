#!/usr/bin/env bash
# gpu_machine.sh - libhomi_mpiio on a GPU machine with the installed,
# unmodified Open MPI (e.g. 4.1.6, not CUDA-aware): builds the layer with
# that Open MPI's mpicc (mpiio-pmpi/build.sh) and the test programs, then
# runs them with the layer preloaded (run_pmpi.sh): host buffers, CUDA
# device buffers with several ranks sharing GPU 0 (reads land in device
# memory; writes from device memory are HOMI's, test_writes compares them
# with Open MPI's own writes; test_coll_write: the collective write engine
# with device buffers, through CUDA IPC), selection by HOMI_MPIIO_PATHS, bad input.  Every test
# compares every byte with Open MPI's own reads (device data copied back)
# and checks that HOMI served the reads (per-path statistics).
#
#   tests/mpi-pmpi/gpu_machine.sh HOMI_BUILD
#
# HOMI_BUILD: a CMake build of this tree with CUDA (libhomi.so in src/).
# Exit status: 0 when every run passed, 1 otherwise; 77 without a GPU.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=$(cd "${1:?usage: gpu_machine.sh HOMI_BUILD}" && pwd)
ngpu=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
if [ "${ngpu:-0}" -lt 1 ]; then
  echo "SKIP: no NVIDIA GPU (nvidia-smi -L lists none)"
  exit 77
fi
out=$BUILD/mpi-pmpi-gpu
mkdir -p "$out"
lib=$out/libhomi_mpiio_ompi.so
bash "$ROOT/mpiio-pmpi/build.sh" "$BUILD" "$lib" mpicc || exit 1
cc=(mpicc -std=c11 -D_GNU_SOURCE -O2 -Wall -Werror -I"$ROOT/include" -I"$ROOT/tests/common")
libs=(-L"$BUILD/src" -lhomi -lpthread -ldl -Wl,-rpath,"$BUILD/src")
"${cc[@]}" "$ROOT/tests/mpi/test_mpiio.c" "${libs[@]}" -o "$out/test_mpiio" || exit 1
"${cc[@]}" "$HERE/test_bad_input.c" "${libs[@]}" -o "$out/test_bad_input" || exit 1
"${cc[@]}" "$ROOT/tests/mpi/test_writes.c" "${libs[@]}" -o "$out/test_writes" || exit 1
# the collective engine itself (compiled in, as the layer does)
"${cc[@]}" -I"$ROOT/src/coll" "$ROOT/tests/mpi/test_coll_write.c" "$ROOT"/src/coll/coll_*.c \
  "${libs[@]}" -o "$out/test_coll_write" || exit 1
export HOMI_LIBDIR=$BUILD/src HOMI_PMPI_EXPECT_SERVED=1 HOMI_MPI_TIMEOUT=600
fails=0
run() { # label np program args...
  local label=$1 np=$2
  shift 2
  local t0=$SECONDS
  if bash "$HERE/run_pmpi.sh" ompi "${RUN_LIB:-$lib}" "$np" "$@" >"$out/log" 2>&1; then
    echo "PASS  $label ($((SECONDS - t0)) s)"
  else
    echo "FAIL  $label ($((SECONDS - t0)) s)"
    fails=$((fails + 1))
  fi
  sed 's/^/      /' "$out/log"
}
echo "# $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1) x $ngpu, $(mpirun --version | head -1), libhomi_mpiio preloaded, $(date -u +%FT%TZ)"
for np in 1 4 8; do
  run "test_mpiio hint pmpi (host buffers), $np ranks" "$np" "$out/test_mpiio" hint pmpi
done
for np in 1 4 8; do
  run "test_mpiio hint gpu pmpi, $np ranks on GPU 0" "$np" "$out/test_mpiio" hint gpu pmpi
done
run "test_mpiio env gpu pmpi (HOMI_MPIIO_PATHS), 4 ranks" 4 "$out/test_mpiio" env gpu pmpi
run "test_mpiio prefix gpu pmpi, 3 ranks" 3 "$out/test_mpiio" prefix gpu pmpi
run "test_bad_input, 3 ranks" 3 "$out/test_bad_input"
for np in 1 4; do
  run "test_writes gpu (device buffers written by HOMI), $np ranks on GPU 0" "$np" "$out/test_writes" gpu
done
run "test_writes (host buffers, HOMI_MPIIO_WRITES=all), 4 ranks" 4 "$out/test_writes"
for np in 1 4 8; do # no MPI-IO calls: nothing to preload
  RUN_LIB=- HOMI_PMPI_EXPECT_SERVED=0 run "test_coll_write gpu (two-phase writes from device buffers), $np ranks on GPU 0" "$np" \
    "$out/test_coll_write" gpu
done
echo "# $fails failed"
[ "$fails" = 0 ]
