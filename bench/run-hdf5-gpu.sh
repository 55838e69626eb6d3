#!/usr/bin/env bash
# run-hdf5-gpu.sh - H5FD_homi on the GPU machine: builds the HDF5 driver,
# its GPU test and the HDF5 -> GPU benchmark against the machine's own
# serial HDF5 (Ubuntu 24.04: libhdf5-dev, pkg-config hdf5-serial) and CUDA,
# linked to an already built libhomi, then runs
#   1. test_h5_gpu      (device-buffer H5Dread checks, byte-for-byte vs sec2)
#   2. hdf5-gpu-bench   (4 GiB chunked float32 dataset -> GPU: H5FD_homi vs
#                        sec2 + cudaMemcpy vs H5FD_core, and HOMI's raw
#                        file -> GPU figure; cached and cold)
#   3. hdf5-sel-bench   (selections with many pieces of a 160 MB 3-D dataset,
#                        chunked and contiguous: H5FD_homi vs sec2 + cudaMemcpy)
# and records <OUTDIR>/<date>-hdf5-gpu-<host>.{txt,csv,md}.
#
#   bench/run-hdf5-gpu.sh [BUILD_DIR [OUTDIR]]
#
# Run from the repository root.  BUILD_DIR (default ./build) must hold a
# CUDA build of libhomi (BUILD_DIR/src/libhomi.so); liburing, libnvme and
# json-c may come from devlibs/ (added to LD_LIBRARY_PATH when present).
# The driver is compiled here with gcc against this machine's HDF5 headers
# (not taken from BUILD_DIR) so that library and headers match.
# Environment knobs:
#   DIR    where the benchmark file lives      (/var/tmp)
#   SIZE   dataset bytes                       (4G)
#   CHUNK  chunk bytes                         (4M)
#   ITERS  timed runs per method and mode      (3)
#   MODES  cached,cold                         (cached,cold)
#   CUDA   CUDA toolkit root                   (/usr/local/cuda)
#   HDF5_PKG  pkg-config module of the HDF5    (hdf5-serial, else hdf5)
#   HDF5_ROOT an HDF5 install (include/, lib/) to use instead, e.g. 1.14
#             built by scripts/build-hdf5-114.sh and carried to the machine
#   TAG    added to the output names (e.g. hdf5-114)  (none)
set -euo pipefail
build=${1:-./build}
outdir=${2:-bench/results}
DIR=${DIR:-/var/tmp} SIZE=${SIZE:-4G} CHUNK=${CHUNK:-4M} ITERS=${ITERS:-3}
MODES=${MODES:-cached,cold} CUDA=${CUDA:-/usr/local/cuda}
say() { echo "run-hdf5-gpu.sh: $*" >&2; }

[[ -e $build/src/libhomi.so ]] || { say "$build/src/libhomi.so not found (build HOMI with CUDA first)"; exit 2; }
build=$(cd "$build" && pwd)
[[ -d devlibs ]] && export LD_LIBRARY_PATH=$PWD/devlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH=$build/src${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

pkg=${HDF5_PKG:-}
if [[ -n ${HDF5_ROOT:-} ]]; then
    HDF5_ROOT=$(cd "$HDF5_ROOT" && pwd)
    pkg="HDF5_ROOT=$HDF5_ROOT"
    h5cflags=-I$HDF5_ROOT/include h5libs="-L$HDF5_ROOT/lib -lhdf5 -Wl,-rpath,$HDF5_ROOT/lib"
    if grep -q 'define H5_HAVE_PARALLEL 1' "$HDF5_ROOT/include/H5pubconf.h"; then
        # a parallel build's hdf5.h includes mpi.h: compile and link with the MPI's flags
        h5cflags="$h5cflags $(mpicc --showme:compile 2>/dev/null || mpicc -compile-info | cut -d' ' -f2-)"
        h5libs="$h5libs $(mpicc --showme:link 2>/dev/null || mpicc -link-info | cut -d' ' -f2-)"
    fi
elif [[ -z $pkg ]]; then
    for p in hdf5-serial hdf5; do pkg-config --exists $p 2>/dev/null && { pkg=$p; break; }; done
fi
if [[ -n ${HDF5_ROOT:-} ]]; then
    :
elif [[ -n $pkg ]]; then
    h5cflags=$(pkg-config --cflags $pkg) h5libs=$(pkg-config --libs $pkg)
elif [[ -e /usr/include/hdf5/serial/hdf5.h ]]; then
    h5cflags=-I/usr/include/hdf5/serial h5libs=-lhdf5_serial
else
    say "no HDF5 found (apt-get install libhdf5-dev)"; exit 2
fi
cudainc=$CUDA/include cudalib=$CUDA/lib64
[[ -e $cudalib/libcudart_static.a ]] || cudalib=$CUDA/targets/x86_64-linux/lib

work=$(mktemp -d /tmp/homi-hdf5-gpu.XXXXXX)
trap 'rm -rf "$work"' EXIT
cflags=(-O2 -g -std=c11 -D_GNU_SOURCE -DHOMI_HAVE_CUDA -Iinclude -Ihdf5-vfd -Itests/common -Itests/hdf5
        -I"$cudainc" $h5cflags)
cudart=(-L"$cudalib" -lcudart_static -ldl -lrt -lpthread)
say "compiling H5FD_homi against $pkg ($h5cflags)"
gcc "${cflags[@]}" -fPIC -shared -o "$work/libhomi_hdf5.so" hdf5-vfd/H5FDhomi*.c \
    -L"$build/src" -lhomi $h5libs "${cudart[@]}"
for prog in tests/hdf5/test_h5_gpu.c bench/hdf5_gpu_bench.c bench/hdf5_sel_bench.c \
    examples/hdf5_read_to_gpu.c; do
    gcc "${cflags[@]}" -o "$work/$(basename "$prog" .c)" "$prog" -L"$work" -lhomi_hdf5 \
        -L"$build/src" -lhomi $h5libs "${cudart[@]}" -Wl,-rpath,"$work"
done

mkdir -p "$outdir" "$DIR"
host=$(hostname -s 2>/dev/null || hostname)
base="$outdir/$(date +%F)-hdf5-gpu-$host${TAG:+-$TAG}"
txt=$base.txt csv=$base.csv md=$base.md
{
    echo "== test_h5_gpu"
    set +e
    "$work/test_h5_gpu"; trc=$?
    echo "test_h5_gpu exit $trc"
    echo
    echo "== hdf5-gpu-bench --size $SIZE --chunk $CHUNK --iters $ITERS --modes $MODES"
    "$work/hdf5_gpu_bench" --file "$DIR/homi-hdf5-bench.h5" --size "$SIZE" --chunk "$CHUNK" \
        --iters "$ITERS" --modes "$MODES" --csv "$csv"; brc=$?
    echo "hdf5-gpu-bench exit $brc"
    echo
    echo "== hdf5-sel-bench: selections with many pieces (issue 25), cached"
    "$work/hdf5_sel_bench" --file "$DIR/homi-hdf5-sel.h5" --iters "$ITERS" --csv "$base-sel.csv"
    src=$?
    echo "hdf5-sel-bench exit $src"
    echo
    echo "== example: hdf5_read_to_gpu (rows 1000..1999 of a small file)"
    "$work/hdf5_gpu_bench" --file "$DIR/homi-hdf5-example.h5" --size 64M --chunk 1M --iters 1 \
        --modes cached --keep > /dev/null && \
        "$work/hdf5_read_to_gpu" "$DIR/homi-hdf5-example.h5" /data 1000 1000; erc=$?
    rm -f "$DIR/homi-hdf5-example.h5"
    set -e
    echo "exit codes: test $trc, bench $brc, selections $src, example $erc"
} 2>&1 | tee "$txt"
{
    echo "# H5FD_homi: HDF5 dataset -> GPU memory — $host, $(date +%F)"
    echo
    echo "| | |"
    echo "| --- | --- |"
    echo "| GPU | $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1) |"
    echo "| CPU | $(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo), nproc $(nproc) |"
    echo "| HDF5 | $(grep -m1 '^hdf5:' "$txt" | cut -d' ' -f2) ($pkg) |"
    echo "| file system | $(findmnt -no FSTYPE,SOURCE -T "$DIR" | head -1) for $DIR |"
    echo
    echo "## Results (GB = 10^9 bytes; each run opens and closes the file)"
    echo
    echo "| mode | method | GB/s best | GB/s mean |"
    echo "| --- | --- | ---: | ---: |"
    awk -F, 'NR > 1 { printf "| %s | %s | %.2f | %.2f |\n", $1, $2, $8, $9 }' "$csv" 2>/dev/null || true
    echo
    grep '^goal\|^verify' "$txt" | sed 's/^/- /' || true
    echo
    echo "## Full output"
    echo
    echo '```'
    cat "$txt"
    echo '```'
} > "$md"
say "wrote $md, $csv and $txt"
