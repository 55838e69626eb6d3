#!/usr/bin/env bash
# writes_kill.sh - a checkpoint killed mid-write (issue 22): 3 ranks write
# and sync checkpoint 1 through HOMI, then rank 1 is killed (-9) while
# checkpoint 2 is being written; the next job (1 rank) must read
# checkpoint 1 intact through HOMI (test_writes kill-write / kill-check).
#
#   writes_kill.sh PROG ADHOMI RUNNER [RUNNER_ARGS...]
#
# PROG: test_writes built for the MPI; ADHOMI: 1 when the MPI has ad_homi
# (MPICH + ad_homi, the Open MPI plugin), 0 for libhomi_mpiio; RUNNER: the
# MPI test runner with its arguments up to the rank count (run_mpi.sh,
# tests/mpi-ompi/run_ompi.sh, or tests/mpi-pmpi/run_pmpi.sh FLAVOUR LIB).
set -u
prog=${1:?usage: writes_kill.sh PROG ADHOMI RUNNER [ARGS...]}
adhomi=${2:?}
shift 2
mode=()
[ "$adhomi" = 1 ] && mode=(adhomi)
dir=$(mktemp -d "${TMPDIR:-/tmp}/homi-writes-kill.XXXXXX")
trap 'rm -rf "$dir"' EXIT
out=$dir/job1.txt
HOMI_MPI_TIMEOUT=120 "$@" 3 "$prog" "${mode[@]}" kill-write "$dir" >"$out" 2>&1
rc=$?
cat "$out"
case $rc in 77) exit 77 ;; 0)
  echo "FAIL: the job whose rank 1 was killed exited 0"
  exit 1
  ;;
esac
grep -q "checkpoint 1 written and synced" "$out" || { echo "FAIL: checkpoint 1 was not synced"; exit 1; }
echo "job 1 exited $rc (rank 1 killed with -9 while writing checkpoint 2)"
"$@" 1 "$prog" "${mode[@]}" kill-check "$dir" 3
