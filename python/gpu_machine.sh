#!/usr/bin/env bash
# gpu_machine.sh - the Python module's GPU checks and benchmark on a GPU
# machine (issue 24), run from the repository root there:
#
#   BUILD=./build-gpu DEVLIBS=./devlibs OUT=$OUT bash python/gpu_machine.sh
#
# BUILD    a CUDA build of libhomi carried from the development machine
#          (<BUILD>/src/libhomi.so; <BUILD>/bench/python_c_ref if built)
# DEVLIBS  liburing.so.2, libnvme.so.1, libjson-c.so.5 (put on LD_LIBRARY_PATH)
# OUT      where the logs, the benchmark table and CSV go (default ./py-gpu-out)
# PYTHON   the interpreter with CuPy / PyTorch (default python3)
# HOMI_PY_BENCH_GIB  benchmark file size in GiB (default 8); HOMI_PY_BENCH_FILE
#          its path (default /var/tmp/homi-py-bench.dat, removed afterwards)
#
# Steps: build homi._homi with gcc against that Python's headers (no pip, no
# network) into a temporary package dir; the CPU and GPU pytest files; the
# benchmark (bench/python_gpu_bench.py).  Exit status: 0 when both test files
# passed (or skipped) and the benchmark ran.
set -uo pipefail
BUILD=$(realpath -m "${BUILD:-./build-gpu}")
DEVLIBS=$(realpath -m "${DEVLIBS:-./devlibs}")
OUT=$(realpath -m "${OUT:-./py-gpu-out}")
PY=${PYTHON:-python3}
GIB=${HOMI_PY_BENCH_GIB:-8}
FILE=${HOMI_PY_BENCH_FILE:-/var/tmp/homi-py-bench.dat}
mkdir -p "$OUT"
if ! ls "$BUILD"/src/libhomi.so* >/dev/null 2>&1; then
  echo "FAIL: no libhomi.so in $BUILD/src (set BUILD to a CUDA build of HOMI)"
  exit 1
fi
: >"$OUT/summary.txt"
export LD_LIBRARY_PATH="$DEVLIBS:$BUILD/src${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
stage=$(mktemp -d /tmp/homi-py.XXXXXX)
trap 'rm -rf "$stage"' EXIT
t0=$SECONDS
log() { echo "== $* ($((SECONDS - t0)) s)"; }

log "machine"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1; "$PY" --version;
  "$PY" -c 'import numpy; print("numpy", numpy.__version__)';
  "$PY" -c 'import cupy; print("cupy", cupy.__version__)' 2>&1 | tail -1;
  "$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1 | tail -1;
  "$PY" -c 'import kvikio; print("kvikio", kvikio.__version__)' 2>&1 | tail -1; } | tee "$OUT/machine.txt"

log "build the extension for $("$PY" -c 'import sys; print(sys.version.split()[0])')"
inc=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
suffix=$("$PY" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
if [ ! -f "$inc/Python.h" ]; then
  echo "FAIL: $inc/Python.h missing: install the Python development headers (python3-dev)"
  exit 1
fi
mkdir -p "$stage/homi"
cp python/homi/*.py "$stage/homi/"
gcc -std=c11 -O2 -g -fPIC -shared -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter \
  -I"$inc" -Iinclude python/src/*.c -L"$BUILD/src" -lhomi -Wl,-rpath,"$BUILD/src" \
  -o "$stage/homi/_homi$suffix" 2>&1 | tee "$OUT/build.log"
[ -f "$stage/homi/_homi$suffix" ] || { echo "FAIL: extension build"; exit 1; }
cref="$BUILD/bench/python_c_ref"
if [ ! -x "$cref" ]; then
  cref="$stage/python_c_ref"
  gcc -std=c11 -O2 -D_GNU_SOURCE -Iinclude bench/python_c_ref.c -L"$BUILD/src" -lhomi \
    -Wl,-rpath,"$BUILD/src" -o "$cref" || { echo "FAIL: python_c_ref build"; exit 1; }
fi
export PYTHONPATH="$stage${PYTHONPATH:+:$PYTHONPATH}"
"$PY" -c 'import homi; print("homi", homi.__version__, "cuda_available", homi.cuda_available()); print(homi.info())' \
  2>&1 | tee "$OUT/info.txt"

rc=0
for t in test_cpu test_gpu; do
  log "pytest $t"
  timeout 240 "$PY" tests/python/run_pytest.py "$t.py" -v 2>&1 | tee "$OUT/$t.log"
  r=${PIPESTATUS[0]}
  echo "$t exit $r" | tee -a "$OUT/summary.txt"
  [ "$r" -eq 0 ] || [ "$r" -eq 77 ] || rc=1
done

log "benchmark: ${GIB} GiB file -> CuPy / torch, cached and cold"
timeout 300 "$PY" bench/python_gpu_bench.py --size-gib "$GIB" --file "$FILE" --c-ref "$cref" \
  --out "$OUT" 2>&1 | tee "$OUT/bench.txt"
r=${PIPESTATUS[0]}
echo "bench exit $r" | tee -a "$OUT/summary.txt"
[ "$r" -eq 0 ] || rc=1
rm -f "$FILE"
log "done, exit $rc (logs in $OUT)"
exit $rc
