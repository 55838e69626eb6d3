#!/usr/bin/env bash
# homi_used.sh HOMI_RUN E2E_PROG - proves that an unmodified MPI-IO program
# linked against the installed Open MPI reads through HOMI's io/romio321
# plugin, and that this check tells HOMI's plugin from the stock one.  The
# program (tests/daemon/e2e_mpiio.c built with Open MPI) reads a 24 MiB
# random file collectively with the hint homi=enable and compares with
# pread; it runs under homi-run --summary, whose node daemon homid counts
# the libhomi clients it served and the bytes per path:
#   1. HOMI_OMPI_PREFIX set: data equal, >= 1 client, bytes served by homid
#   2. the stock plugin (Open MPI's own romio321): data equal (ufs) but no
#      client and nothing served: HOMI was not used
#   3. component path with Open MPI's directory first: its romio321 wins
#      (duplicate component names: the first directory scanned wins)
# Exits 77 when the plugin is not built.
set -uo pipefail
hr=$1 prog=$2
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
prefix=${HOMI_OMPI_PREFIX:-$(bash "$ROOT/scripts/build-ompi-homi.sh" --print-prefix)}
if [ ! -e "$prefix/.complete" ]; then
  echo "SKIP: Open MPI's io/romio321 with the HOMI driver is not built at $prefix"
  exit 77
fi
mpirun=$(command -v mpirun.openmpi || command -v mpirun) || { echo "SKIP: no Open MPI mpirun"; exit 77; }
flags=(--oversubscribe)
[ "$(id -u)" = 0 ] && flags+=(--allow-run-as-root)
stock=$(ompi_info --path pkglibdir | sed 's/.*: *//')
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
work=$(mktemp -d "${TMPDIR:-/tmp}/homi-ompi-used.XXXXXX")
trap 'rm -rf "$work"' EXIT
data=$work/data.bin
head -c $((24 * 1024 * 1024 + 777)) /dev/urandom >"$data"
served() { grep -Eq "^  (kernel|passthru) +[1-9][0-9]* +[0-9.]+ +[0-9]+" "$1"; }

echo "== 1. HOMI's plugin (HOMI_OMPI_PREFIX=$prefix), 4 ranks"
out=$work/1.txt
HOMI_OMPI_PREFIX=$prefix "$hr" --summary -- "$mpirun" "${flags[@]}" -n 4 "$prog" "$data" >"$out" 2>&1
rc=$?
cat "$out"
[ $rc = 0 ] || fail "1: job exited $rc"
grep -q "equal to pread" "$out" || fail "1: data not equal to pread"
grep -Eq "homid pid [0-9]+, [1-9][0-9]* client\(s\)" "$out" || fail "1: no libhomi client reached homid"
served "$out" || fail "1: homid served no bytes: HOMI's driver did not read"

echo "== 2. the stock plugin (OMPI_MCA_io=romio321, default component path)"
out=$work/2.txt
(unset HOMI_OMPI_PREFIX ROMIO_FSTYPE_FORCE; export OMPI_MCA_io=romio321
  "$hr" --summary -- "$mpirun" "${flags[@]}" -n 4 "$prog" "$data") >"$out" 2>&1
rc=$?
cat "$out"
[ $rc = 0 ] || fail "2: job exited $rc"
grep -q "equal to pread" "$out" || fail "2: data not equal to pread"
grep -Eq "homid pid [0-9]+, 0 client\(s\)" "$out" || fail "2: the stock plugin reached homid?"
served "$out" && fail "2: homid served bytes with the stock plugin"

echo "== 3. Open MPI's directory first on the component path: the stock romio321 wins"
out=$work/3.txt
(unset HOMI_OMPI_PREFIX ROMIO_FSTYPE_FORCE; export OMPI_MCA_io=romio321
  export OMPI_MCA_mca_base_component_path="$stock:$prefix/lib/openmpi"
  "$hr" --summary -- "$mpirun" "${flags[@]}" -n 2 "$prog" "$data") >"$out" 2>&1
rc=$?
cat "$out"
[ $rc = 0 ] || fail "3: job exited $rc"
grep -Eq "homid pid [0-9]+, 0 client\(s\)" "$out" || fail "3: HOMI's plugin was used although listed second"

if [ $fails -gt 0 ]; then
  echo "homi_used: $fails failure(s)"
  exit 1
fi
echo "homi_used: HOMI's plugin reads through libhomi; the stock one does not"
