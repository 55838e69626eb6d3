#!/usr/bin/env bash
# homi_run_preload.sh FLAVOUR HOMI_RUN LIB PROGRAM - an unmodified MPI-IO
# program under homi-run --preload=LIB on Debian's MPI (FLAVOUR ompi or
# mpich), no hint in the program (HOMI_MPIIO_PATHS selects its files: the
# test's env mode): it must pass, and homid, counting the libhomi clients it
# served and their bytes per path, proves HOMI did the reads.
set -uo pipefail
flavour=$1 hr=$2 lib=$3 prog=$4
case $flavour in
ompi)
  launcher=(mpirun.openmpi --oversubscribe)
  [ "$(id -u)" = 0 ] && launcher+=(--allow-run-as-root)
  ;;
*) launcher=(mpiexec.mpich) ;;
esac
command -v "${launcher[0]}" >/dev/null || { echo "SKIP: no ${launcher[0]}"; exit 77; }
out=$(mktemp "${TMPDIR:-/tmp}/homi-preload.XXXXXX")
trap 'rm -f "$out"' EXIT
HOMI_MPIIO_STATS=1 timeout -k 10 240 "$hr" --preload="$lib" --summary -- "${launcher[@]}" -n 2 \
  "$prog" env pmpi >"$out" 2>&1
rc=$?
cat "$out"
[ $rc = 0 ] || { echo "FAIL: job exited $rc"; exit 1; }
grep -q "all checks passed" "$out" || { echo "FAIL: test_mpiio did not pass"; exit 1; }
grep -Eq "homid pid [0-9]+, [1-9][0-9]* client\(s\)" "$out" || { echo "FAIL: no client reached homid"; exit 1; }
grep -Eq "^  (kernel|passthru) +[1-9][0-9]* +[0-9.]+ +[0-9]+" "$out" || { echo "FAIL: homid served no bytes"; exit 1; }
echo "homi_run_preload: homi-run --preload served the unmodified program's reads through HOMI"
