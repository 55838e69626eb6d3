#!/usr/bin/env bash
# run-ckpt-gpu.sh - issue 22 on the GPU machine: writes from GPU memory.
#   1. test_gpu_write      (device-source writes vs pwrite, byte for byte)
#   2. test_h5_gpu_write   (H5FD_homi_dwrite vs sec2; built here with gcc
#                           against the machine's HDF5, when one is installed)
#   3. ckpt-gpu-bench      (checkpoint of a SIZE device buffer: ceilings,
#                           cudaMemcpy+pwrite, cuFileWrite, HOMI sync/async,
#                           buffered/O_DIRECT)
# and records <OUTDIR>/<date>-ckpt-gpu-<host>.{txt,csv,md}.
#
#   bench/run-ckpt-gpu.sh [BUILD_DIR [OUTDIR]]
#
# Run from the repository root.  BUILD_DIR (default ./build) holds a CUDA
# build of HOMI (src/libhomi.so, tests/test_gpu_write, bench/ckpt-gpu-bench);
# liburing, libnvme and json-c may come from devlibs/ (put on
# LD_LIBRARY_PATH when present).  libcufile: $HOMI_CUFILE_LIB, else the first
# libcufile.so* found (cuFile rows say n/a without one); udev data for the
# file system's block device is written when missing (cuFile needs
# ID_FS_USAGE; UDEV=0 skips it).
# Environment knobs (defaults finish in about 3-4 minutes on an H200 host):
#   DIR     where the checkpoint file lives   (/var/tmp)
#   SIZE    device buffer bytes               (8G)
#   BLOCK   request size of the baselines     (64M)
#   ITERS   timed runs per method             (2)
#   THREADS O_DIRECT ceiling threads          (4)
#   TESTS   0 skips steps 1 and 2             (1)
#   BENCH   0 skips step 3                    (1)
#   CUDA    CUDA toolkit root                 (/usr/local/cuda)
set -uo pipefail
build=${1:-./build}
outdir=${2:-bench/results}
DIR=${DIR:-/var/tmp} SIZE=${SIZE:-8G} BLOCK=${BLOCK:-64M} ITERS=${ITERS:-2} THREADS=${THREADS:-4}
TESTS=${TESTS:-1} BENCH=${BENCH:-1} CUDA=${CUDA:-/usr/local/cuda} UDEV=${UDEV:-1}
say() { echo "run-ckpt-gpu.sh: $*" >&2; }

[[ -e $build/src/libhomi.so ]] || { say "$build/src/libhomi.so not found (build HOMI with CUDA first)"; exit 2; }
build=$(cd "$build" && pwd)
[[ -d devlibs ]] && export LD_LIBRARY_PATH=$PWD/devlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH=$build/src${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
mkdir -p "$outdir" "$DIR"
host=$(hostname -s 2>/dev/null || hostname)
base="$outdir/$(date +%F)-ckpt-gpu-$host"
txt=$base.txt csv=$base.csv md=$base.md

# ---- udev data for libcufile, and libcufile itself
majmin=$(findmnt -no MAJ:MIN -T "$DIR" 2>/dev/null | head -1 | tr -d ' ')
fstype=$(findmnt -no FSTYPE -T "$DIR" 2>/dev/null | head -1)
if [[ $UDEV == 1 && -n $majmin && ${majmin%%:*} != 0 ]]; then
    f=/run/udev/data/b$majmin
    if mkdir -p /run/udev/data 2>/dev/null && touch "$f" 2>/dev/null; then
        grep -q '^E:ID_FS_USAGE=' "$f" || echo "E:ID_FS_USAGE=filesystem" >> "$f"
        grep -q '^E:ID_FS_TYPE=' "$f" || echo "E:ID_FS_TYPE=$fstype" >> "$f"
    fi
fi
if [[ -z ${HOMI_CUFILE_LIB:-} || ! -e ${HOMI_CUFILE_LIB:-} ]]; then
    lib=$( (ldconfig -p 2>/dev/null | awk '/libcufile\.so/ {print $NF}';
            ls "$CUDA"/lib64/libcufile.so* /usr/local/cuda*/targets/*/lib/libcufile.so* 2>/dev/null) | head -1)
    [[ -z $lib ]] && lib=$(timeout 60 find / \( -path /proc -o -path /sys -o -path /dev \) -prune -o \
                               -name 'libcufile.so*' -print 2>/dev/null | head -1)
    [[ -n $lib ]] && export HOMI_CUFILE_LIB=$lib
fi
say "libcufile: ${HOMI_CUFILE_LIB:-none}"
export CUFILE_LOGFILE_PATH=$(mktemp /tmp/homi-ckpt-cufile.XXXXXX.log)

work=$(mktemp -d /tmp/homi-ckpt-gpu.XXXXXX)
trap 'rm -rf "$work"' EXIT
h5rc=skipped trc=skipped
{
    if [[ $TESTS == 1 ]]; then
        echo "== test_gpu_write"
        timeout 150 "$build/tests/test_gpu_write"; trc=$?
        echo "test_gpu_write exit $trc"
        echo
        pkg=
        for p in hdf5-serial hdf5; do pkg-config --exists $p 2>/dev/null && { pkg=$p; break; }; done
        if [[ -n $pkg ]]; then
            h5c=$(pkg-config --cflags $pkg) h5l=$(pkg-config --libs $pkg)
        elif [[ -e /usr/include/hdf5/serial/hdf5.h ]]; then
            h5c=-I/usr/include/hdf5/serial h5l=-lhdf5_serial
        else
            h5c= h5l=
        fi
        if [[ -n $h5l ]]; then
            echo "== test_h5_gpu_write ($pkg)"
            cudalib=$CUDA/lib64
            [[ -e $cudalib/libcudart_static.a ]] || cudalib=$CUDA/targets/x86_64-linux/lib
            cflags=(-O2 -g -std=c11 -D_GNU_SOURCE -DHOMI_HAVE_CUDA -Iinclude -Ihdf5-vfd -Itests/common
                    -Itests/hdf5 -I"$CUDA/include" $h5c)
            cudart=(-L"$cudalib" -lcudart_static -ldl -lrt -lpthread)
            if gcc "${cflags[@]}" -fPIC -shared -o "$work/libhomi_hdf5.so" hdf5-vfd/H5FDhomi*.c \
                   -L"$build/src" -lhomi $h5l "${cudart[@]}" &&
               gcc "${cflags[@]}" -o "$work/test_h5_gpu_write" tests/hdf5/test_h5_gpu_write.c \
                   -L"$work" -lhomi_hdf5 -L"$build/src" -lhomi $h5l "${cudart[@]}" -Wl,-rpath,"$work"; then
                timeout 150 "$work/test_h5_gpu_write"; h5rc=$?
            else
                h5rc=build-failed
            fi
            echo "test_h5_gpu_write exit $h5rc"
        else
            echo "== test_h5_gpu_write: no HDF5 here (libhdf5-dev), skipped"
        fi
        echo
    fi
    brc=skipped
    if [[ $BENCH == 1 ]]; then
    echo "== ckpt-gpu-bench --size $SIZE --block $BLOCK --iters $ITERS --threads $THREADS (file in $DIR: $fstype)"
    "$build/bench/ckpt-gpu-bench" --file "$DIR/homi-ckpt.bin" --size "$SIZE" --block "$BLOCK" \
        --iters "$ITERS" --threads "$THREADS" --csv "$csv"; brc=$?
    fi
    echo "ckpt-gpu-bench exit $brc"
    echo "exit codes: test_gpu_write $trc, test_h5_gpu_write $h5rc, bench $brc"
} 2>&1 | tee "$txt"
{
    echo "# Checkpoint of a GPU buffer (issue 22) — $host, $(date +%F)"
    echo
    echo "| | |"
    echo "| --- | --- |"
    echo "| GPU | $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1) |"
    echo "| CPU | $(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo), nproc $(nproc) |"
    echo "| file system | $(findmnt -no FSTYPE,SOURCE -T "$DIR" | head -1) for $DIR |"
    echo "| size | $SIZE, block $BLOCK, $ITERS iterations |"
    echo
    sed -n '/^| kind/,/^$/p' "$txt"
    grep '^goal\|^verify\|^exit codes' "$txt" | sed 's/^/- /'
    echo
    echo "## Full output"
    echo
    echo '```'
    cat "$txt"
    echo '```'
} > "$md"
say "wrote $md, $csv and $txt"
