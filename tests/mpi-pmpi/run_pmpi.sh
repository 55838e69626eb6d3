#!/usr/bin/env bash
# run_pmpi.sh FLAVOUR LIB NP PROGRAM [ARGS...] - runs an MPI test program on
# NP ranks of Debian's unmodified MPI (FLAVOUR ompi: Open MPI's mpirun, its
# default io component OMPIO; mpich: MPICH's mpiexec with the libmpich.so.12
# Debian ships) with HOMI's PMPI layer LIB (libhomi_mpiio_<flavour>.so) in
# LD_PRELOAD of the ranks, HOMI_MPIIO_STATS=1 (per-path bytes printed at
# MPI_Finalize).  LIB "-": nothing preloaded (a program linked with the
# layer).  libhomi comes from HOMI_LIBDIR.  HOMI_PMPI_EXPECT_SERVED=1:
# fail unless some rank reports bytes HOMI served.
set -uo pipefail
flavour=$1 lib=$2 np=$3
shift 3
flags=()
case $flavour in
ompi)
  launcher=$(command -v mpirun.openmpi || command -v mpirun) || { echo "SKIP: no Open MPI mpirun"; exit 77; }
  flags=(--oversubscribe -x LD_PRELOAD="$lib" -x HOMI_MPIIO_STATS=1)
  [ "$(id -u)" = 0 ] && flags+=(--allow-run-as-root)
  ;;
mpich)
  launcher=$(command -v mpiexec.mpich || command -v mpiexec) || { echo "SKIP: no MPICH mpiexec"; exit 77; }
  flags=(-genv LD_PRELOAD "$lib" -genv HOMI_MPIIO_STATS 1)
  ;;
*) echo "run_pmpi.sh: flavour ompi or mpich"; exit 2 ;;
esac
if [ "$lib" = - ]; then # no preload: keep only the statistics switch
  case $flavour in
  ompi) flags=(--oversubscribe -x HOMI_MPIIO_STATS=1) && [ "$(id -u)" = 0 ] && flags+=(--allow-run-as-root) ;;
  mpich) flags=(-genv HOMI_MPIIO_STATS 1) ;;
  esac
fi
export LD_LIBRARY_PATH="${HOMI_LIBDIR:+$HOMI_LIBDIR:}${LD_LIBRARY_PATH:-}"
out=$(mktemp "${TMPDIR:-/tmp}/homi-pmpi.XXXXXX")
trap 'rm -f "$out"' EXIT
timeout -k 10 "${HOMI_MPI_TIMEOUT:-240}" "$launcher" "${flags[@]}" -n "$np" "$@" >"$out" 2>&1
rc=$?
cat "$out"
[ $rc = 0 ] || exit $rc
if [ "${HOMI_PMPI_EXPECT_SERVED:-0}" = 1 ]; then
  if ! grep -Eq "^homi_mpiio: rank [0-9]+ served [1-9][0-9]* bytes" "$out"; then
    echo "FAIL: no rank reports bytes served by HOMI (libhomi_mpiio not used?)"
    exit 1
  fi
  grep -E "^homi_mpiio: rank [0-9]+ path " "$out" | sort | uniq -c | head -20
fi
exit 0
