#!/usr/bin/env bash
# h5_mpio_route.sh - collective parallel-HDF5 reads through H5FD_mpio and
# ROMIO's ad_homi (issue 5): the distribution's MPICH-built parallel HDF5
# (libhdf5-mpich-dev) run against issue 5's ABI-compatible libmpich.so.12
# that carries ad_homi, with the MPI-IO hint homi=enable.
#   h5_mpio_route.sh [PATH/TO/test_h5_mpio]
# Needs HOMI_MPICH_PREFIX (issue 5's MPICH prefix, e.g. under
# /var/cache/homi/); exits 77 (skipped) saying what is missing.
set -euo pipefail
bin=${1:-}
prefix=${HOMI_MPICH_PREFIX:-}
if [[ -z $bin || ! -x $bin ]]; then
    echo "SKIP: test_h5_mpio not built: needs the MPICH-flavoured parallel HDF5 (pkg-config hdf5-mpich, libhdf5-mpich-dev) at configure time"
    exit 77
fi
if [[ -z $prefix || ! -e $prefix/lib/libmpich.so.12 ]]; then
    echo "SKIP: HOMI_MPICH_PREFIX must name issue 5's MPICH with ROMIO ad_homi (lib/libmpich.so.12); got '${prefix}'"
    exit 77
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/homi-h5mpio-XXXXXX")
trap 'rm -rf "$dir"' EXIT
export LD_LIBRARY_PATH=$prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export HOMI_THREADS=${HOMI_THREADS:-1}
exec "$prefix/bin/mpiexec" -n 4 "$bin" "homi:$dir/route.h5"
