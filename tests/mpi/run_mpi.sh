#!/usr/bin/env bash
# run_mpi.sh NP PROGRAM [ARGS...] - runs an MPI test program on NP ranks with
# the MPICH + ad_homi built by scripts/build-mpich-homi.sh (cached prefix):
# its mpiexec (hydra), its libmpich.so.12 first on LD_LIBRARY_PATH (the
# programs are linked against Debian's libmpich), libhomi from HOMI_LIBDIR.
# Exits 77 (skip) when that MPICH has not been built.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
prefix=${HOMI_MPICH_PREFIX:-$(bash "$ROOT/scripts/build-mpich-homi.sh" --print-prefix)}
if [ ! -e "$prefix/.complete" ]; then
  echo "SKIP: MPICH with the HOMI driver is not built at $prefix"
  echo "      (build it: bash scripts/build-mpich-homi.sh --libhomi <dir of libhomi.so>)"
  exit 77
fi
np=$1
shift
export LD_LIBRARY_PATH="$prefix/lib${HOMI_LIBDIR:+:$HOMI_LIBDIR}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec timeout -k 10 "${HOMI_MPI_TIMEOUT:-240}" "$prefix/bin/mpiexec" -n "$np" "$@"
