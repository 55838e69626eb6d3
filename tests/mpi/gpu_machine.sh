#!/usr/bin/env bash
# gpu_machine.sh - the MPI-IO tests with CUDA device buffers on a GPU machine
# that has no MPICH development package: compiles test_coll and test_mpiio
# against the carried MPICH + ad_homi prefix (its include/ and
# libmpich.so.12) and runs them with several ranks sharing one GPU and, when
# the machine has more GPUs, with the ranks spread over them
# (HOMI_TEST_GPUS=n: rank r on GPU r % n).  Every test verifies every byte
# it read into device memory against pread (copied back from the device).
#
#   tests/mpi/gpu_machine.sh MPICH_PREFIX HOMI_BUILD
#
# Environment: NPS (rank counts on GPU 0, default "1 2 4 8"); UCX_PREFIX (a
# UCX install, e.g. scripts/build-ucx-cuda.sh's carried prefix: the engine's
# UCX route is compiled against its headers, its lib/ goes first on
# LD_LIBRARY_PATH and test_coll must be able to start UCX).
# Exit status: 0 when every run passed, 1 otherwise; 77 without a GPU.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PREFIX=$(cd "${1:?usage: gpu_machine.sh MPICH_PREFIX HOMI_BUILD}" && pwd)
BUILD=$(cd "${2:?usage: gpu_machine.sh MPICH_PREFIX HOMI_BUILD}" && pwd)
ngpu=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
if [ "${ngpu:-0}" -lt 1 ]; then
  echo "SKIP: no NVIDIA GPU (nvidia-smi -L lists none)"
  exit 77
fi
out=$BUILD/mpi-gpu
mkdir -p "$out"
cc=(gcc -std=c11 -D_GNU_SOURCE -O2 -Wall -Werror -I"$ROOT/include" -I"$ROOT/src/coll"
  -I"$ROOT/tests/common" -I"$PREFIX/include")
libs=(-L"$PREFIX/lib" -lmpich -L"$BUILD/src" -lhomi -lpthread)
if [ -n "${UCX_PREFIX:-}" ]; then
  UCX_PREFIX=$(cd "$UCX_PREFIX" && pwd)
  cc+=(-I"$UCX_PREFIX/include")
  export LD_LIBRARY_PATH="$UCX_PREFIX/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export HOMI_TEST_REQUIRE_UCX=1
fi
"${cc[@]}" "$ROOT/tests/mpi/test_coll.c" "$ROOT"/src/coll/coll_*.c "${libs[@]}" \
  -o "$out/test_coll" || exit 1
"${cc[@]}" "$ROOT/tests/mpi/test_mpiio.c" "${libs[@]}" -o "$out/test_mpiio" || exit 1
export LD_LIBRARY_PATH="$PREFIX/lib:$BUILD/src${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fails=0
run() { # label np gpus program args...
  local label=$1 np=$2 g=$3
  shift 3
  local t0=$SECONDS
  if HOMI_TEST_GPUS=$g timeout -k 10 600 "$PREFIX/bin/mpiexec" -n "$np" "$@" >"$out/log" 2>&1; then
    echo "PASS  $label ($((SECONDS - t0)) s)"
  else
    echo "FAIL  $label ($((SECONDS - t0)) s)"
    fails=$((fails + 1))
  fi
  sed 's/^/      /' "$out/log"
}
echo "# $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1) x $ngpu, $(date -u +%FT%TZ)"
NPS=${NPS:-1 2 4 8}
for np in $NPS; do
  run "test_coll gpu, $np ranks on GPU 0" "$np" 0 "$out/test_coll" gpu
done
for np in $NPS; do
  run "test_mpiio hint gpu, $np ranks on GPU 0" "$np" 0 "$out/test_mpiio" hint gpu
done
if [ "$ngpu" -gt 1 ]; then
  for np in $((2 * ngpu)); do
    run "test_coll gpu, $np ranks over $ngpu GPUs" "$np" "$ngpu" "$out/test_coll" gpu
  done
fi
echo "# $fails failed"
[ "$fails" = 0 ]
