#!/usr/bin/env bash
# h5_tools.sh - files written through H5FD_homi are ordinary HDF5 files:
# h5dump and h5ls (stock tools, sec2 driver) read the one written through
# the driver, and print exactly what they print for the sec2-written twin.
#   h5_tools.sh PATH/TO/test_h5_interop
set -euo pipefail
interop=$1
for t in h5dump h5ls; do
    command -v $t >/dev/null || { echo "FAIL: $t not installed (scripts/install-deps.sh installs hdf5-tools)"; exit 1; }
done
dir=$(mktemp -d "${TMPDIR:-/tmp}/homi-h5tools-XXXXXX")
trap 'rm -rf "$dir"' EXIT
"$interop" --write-only "$dir"
cd "$dir"
h5dump homi.h5 | sed 's/"homi.h5"/"F"/' > homi.dump
h5dump sec2.h5 | sed 's/"sec2.h5"/"F"/' > sec2.dump
diff -q homi.dump sec2.dump || { diff homi.dump sec2.dump | head -20; echo "FAIL: h5dump output differs"; exit 1; }
h5ls -r homi.h5 > homi.ls
h5ls -r sec2.h5 > sec2.ls
diff -q homi.ls sec2.ls || { echo "FAIL: h5ls -r output differs"; exit 1; }
for obj in /g1/g2/g3/deep /ranks/r4_chunk /types/compound_compact /holes/chunk_late_fill; do
    grep -q "^$obj " homi.ls || { echo "FAIL: h5ls -r lacks $obj"; cat homi.ls; exit 1; }
done
grep -q 'ATTRIBUTE "title"' homi.dump || { echo "FAIL: h5dump lacks the title attribute"; exit 1; }
echo "h5dump ($(wc -l < homi.dump) lines) and h5ls -r ($(wc -l < homi.ls) objects) agree for the homi and sec2 files"
