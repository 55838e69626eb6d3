#!/usr/bin/env bash
# run_ompi.sh [--no-plugin] NP PROGRAM [ARGS...] - runs an MPI test program
# (built with Open MPI's mpicc) on NP ranks of the installed Open MPI with
# HOMI's io/romio321 plugin (scripts/build-ompi-homi.sh, cached prefix)
# selected the way homi-run selects it: OMPI_MCA_io=romio321 and
# OMPI_MCA_mca_base_component_path=<prefix>/lib/openmpi:<Open MPI's own
# component directory> (the first directory holding a component wins).
# libhomi comes from HOMI_LIBDIR.  Exits 77 (skip) when the plugin has not
# been built.  --no-plugin: plain Open MPI (programs that need no MPI-IO
# driver, e.g. the collective engine's own test).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
plugin=1
if [ "${1:-}" = --no-plugin ]; then plugin=0; shift; fi
np=$1
shift
mpirun=$(command -v mpirun.openmpi || command -v mpirun) || { echo "SKIP: no Open MPI mpirun"; exit 77; }
flags=(--oversubscribe)
[ "$(id -u)" = 0 ] && flags+=(--allow-run-as-root)
export LD_LIBRARY_PATH="${HOMI_LIBDIR:+$HOMI_LIBDIR:}${LD_LIBRARY_PATH:-}"
if [ $plugin = 1 ]; then
  prefix=${HOMI_OMPI_PREFIX:-$(bash "$ROOT/scripts/build-ompi-homi.sh" --print-prefix)}
  if [ ! -e "$prefix/.complete" ]; then
    echo "SKIP: Open MPI's io/romio321 with the HOMI driver is not built at $prefix"
    echo "      (build it: bash scripts/build-ompi-homi.sh --libhomi <dir of libhomi.so>)"
    exit 77
  fi
  export OMPI_MCA_io=romio321
  stock=$(ompi_info --path pkglibdir | sed 's/.*: *//')
  export OMPI_MCA_mca_base_component_path="$prefix/lib/openmpi:$stock"
fi
exec timeout -k 10 "${HOMI_MPI_TIMEOUT:-240}" "$mpirun" "${flags[@]}" -n "$np" "$@"
