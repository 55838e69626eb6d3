#!/usr/bin/env bash
# run-coll-write-gpu.sh - collective checkpoint of a 3-D float32 array
# (8 GiB, each rank one part) from GPU memory on the GPU machine (issue 22),
# every method in one run, on the installed, unmodified Open MPI:
#   homi   libhomi_mpiio preloaded: MPI_File_write_all straight from the
#          cudaMalloc'd buffer: two-phase where the ranks' ranges interleave
#          (pieces gather into the aggregator's GPU window through CUDA IPC,
#          the window is written device -> pinned staging -> io_uring)
#   homi every rank aggregates   two-phase with cb_nodes=NP: every rank
#          writes a file domain (several writers into the file)
#   homi per rank   the same with romio_cb_write=disable: every rank writes
#          its own pieces (HOMI's method before two-phase writes)
#   stock  Open MPI's own MPI-IO: cudaMemcpy to pinned memory, then
#          MPI_File_write_all from it
# Each run writes a new file (the old one removed), is timed without and
# with MPI_File_sync, and every element is read back and checked.  Prints a
# table and writes <OUTDIR>/<date>-coll-write-gpu-<hostname>.{txt,csv,md}.
#
#   bench/run-coll-write-gpu.sh HOMI_BUILD [OUTDIR]
#
# HOMI_BUILD: a CMake build of this tree with CUDA (libhomi.so in src/);
#   liburing/libnvme .so files may come from $DEVLIBS (default ./devlibs).
# Environment: DIR (/var/tmp), N (2048,1024,1024 = 8 GiB), NP (4), ITERS (2),
#   DECOMPS ("subarray3d vector64k"), EXTRA (options for every run;
#   EXTRA=--no-gpu smoke-tests the script without a GPU, then HOMI writes
#   host buffers: HOMI_MPIIO_WRITES=all).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=$(cd "${1:?usage: bench/run-coll-write-gpu.sh HOMI_BUILD [OUTDIR]}" && pwd)
OUT=${2:-bench/results}
DIR=${DIR:-/var/tmp}
N=${N:-2048,1024,1024}
NP=${NP:-4}
ITERS=${ITERS:-2}
DECOMPS=${DECOMPS:-subarray3d vector64k}
EXTRA=${EXTRA:-}
DEVLIBS=${DEVLIBS:-$(pwd)/devlibs}
export LD_LIBRARY_PATH="$BUILD/src${DEVLIBS:+:$DEVLIBS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
B=$BUILD/bench-coll-write
mkdir -p "$B" "$OUT"
bash mpiio-pmpi/build.sh "$BUILD" "$B/libhomi_mpiio_ompi.so" mpicc
mpicc -std=c11 -D_GNU_SOURCE -O2 -Iinclude bench/coll_gpu_bench.c -L"$BUILD/src" -lhomi \
  -Wl,-rpath,"$BUILD/src" -o "$B/bench-ompi"
stamp=$(date -u +%F)
base=$OUT/$stamp-coll-write-gpu-$(hostname -s)
txt=$base.txt
csv=$base.csv
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 || echo "no GPU")
{
  echo "# collective checkpoint from GPU memory: $(date -u +%FT%TZ), $(hostname -s), $gpu,"
  echo "# $(nproc) CPUs, $(mpirun --version 2>/dev/null | head -1), array $N float32, $NP ranks, file in $DIR"
} | tee "$txt"
file=$DIR/homi-coll-write.bin
wflags=()
case " $EXTRA " in *" --no-gpu "*) wflags=(-x HOMI_MPIIO_WRITES=all) ;; esac
run() { # label preload? args...
  local label=$1 pre=$2
  shift 2
  local x=(--allow-run-as-root --oversubscribe --bind-to none -x LD_LIBRARY_PATH)
  [ "$pre" = 1 ] && x+=(-x LD_PRELOAD="$B/libhomi_mpiio_ompi.so" -x HOMI_MPIIO_STATS=1 "${wflags[@]}")
  # shellcheck disable=SC2086
  mpirun "${x[@]}" -n "$NP" "$B/bench-ompi" --file "$file" --n "$N" --iters "$ITERS" --write \
    --label "$label" "$@" $EXTRA 2>&1 | tee -a "$txt" | grep -E "^(homi|host) " || true
}
for d in $DECOMPS; do
  run "installed MPI + libhomi_mpiio" 1 --mode homi --decomp "$d"
  run "installed MPI + libhomi_mpiio every rank aggregates" 1 --mode homi --decomp "$d" \
    --hints "cb_nodes=$NP"
  run "installed MPI + libhomi_mpiio per rank" 1 --mode homi --decomp "$d" \
    --hints romio_cb_write=disable
  run "installed MPI stock + cudaMemcpy" 0 --mode host --decomp "$d"
done
rm -f "$file"
grep '^csv,' "$txt" | sed 's/^csv,//' >"$csv"
# summary: best of the iterations per method and decomposition
python3 - "$csv" "$base.md" <<'EOF'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
best = {}
for r in rows:
    mode, _, label, np_, byts, t, gbs, ts, gbss, ok, dec = r
    k = (dec, label)
    if ok != "verified": best[k] = ("WRONG", "WRONG"); continue
    g, s = float(gbs), float(gbss)
    if k not in best or (isinstance(best[k][0], float) and g > best[k][0]):
        best[k] = (g, s)
stock = "installed MPI stock + cudaMemcpy"
out = ["| decomposition | method | GiB/s | / stock | with MPI_File_sync | / stock |",
       "| --- | --- | ---: | ---: | ---: | ---: |"]
for dec in sorted({k[0] for k in best}):
    s = best.get((dec, stock))
    for (d, label), v in sorted(best.items(), key=lambda kv: (kv[0][0], kv[0][1] == stock)):
        if d != dec: continue
        if v[0] == "WRONG" or not s or s[0] == "WRONG":
            out.append(f"| {dec} | {label} | {v[0]} | - | {v[1]} | - |"); continue
        out.append(f"| {dec} | {label} | {v[0]:.2f} | {v[0]/s[0]:.2f}x | {v[1]:.2f} | {v[1]/s[1]:.2f}x |")
open(sys.argv[2], "w").write("\n".join(out) + "\n")
print("\n".join(out))
EOF
