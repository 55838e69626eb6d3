#!/usr/bin/env bash
# run-coll-decomp-gpu.sh - collective reads into GPU memory by decomposition
# (issue 23) and through the PMPI layer (issue 20), on the GPU machine: for
# every decomposition of coll_gpu_bench.c (--decomp) and call size (the
# whole part in one call, and calls of 4 MiB per rank) it runs
#   MPICH+ad_homi   MPICH built with HOMI's ROMIO driver, hint homi=enable,
#                   MPI_File_read_all straight into cudaMalloc memory
#   OMPI+pmpi       the installed Open MPI, unmodified, with libhomi_mpiio
#                   preloaded (built here with its mpicc), same hint
#   OMPI stock      the installed Open MPI into pinned host memory +
#                   cudaMemcpy (the naive way)
# then HOMI's single-process file -> GPU figure on the same file
# (homi-bench --gpu, 64 MiB requests, homi-async), and prints a table with
# the ratios the issues set targets for (also as CSV and markdown):
# HOMI / single >= 0.9, HOMI / stock >= 10, 4 MiB calls / whole >= 0.8,
# layer / ad_homi >= 0.95.  Page cache warm (the file is read once first).
#
#   bench/run-coll-decomp-gpu.sh MPICH_PREFIX HOMI_BUILD [OUTDIR]
#
# MPICH_PREFIX: scripts/build-mpich-homi.sh's prefix, or - for none (then
# METHODS defaults to "pmpi stock" and the ratios use pmpi); HOMI_BUILD: a CUDA
# build with src/libhomi.so and tools/homi-bench; devlibs/ (liburing,
# libnvme, json-c) is put on LD_LIBRARY_PATH when present.  Knobs: DIR
# (/var/tmp), N (1024,1024,1024 = 4 GiB), NPS ("4 8"), DECOMPS (all five),
# CALLS ("0 4M"), ITERS (1; the table takes the last iteration of each
# process: ITERS=2 gives the steady state), METHODS ("adhomi pmpi stock"), TAG (name
# suffix), EXTRA (options for every run; EXTRA=--no-gpu smoke-tests the
# script on a machine without a GPU).  Exit status 1 when a run failed or read wrong data.
set -uo pipefail
cd "$(dirname "$0")/.."
PREFIX=${1:?usage: run-coll-decomp-gpu.sh MPICH_PREFIX|- HOMI_BUILD [OUTDIR]}
[ "$PREFIX" = - ] || PREFIX=$(cd "$PREFIX" && pwd)
BUILD=$(cd "${2:?HOMI_BUILD}" && pwd)
OUT=${3:-bench/results}
DIR=${DIR:-/var/tmp} N=${N:-1024,1024,1024} NPS=${NPS:-4 8} ITERS=${ITERS:-1}
DECOMPS=${DECOMPS:-subarray3d block2d cyclic2d vector64k indexed}
if [ "$PREFIX" = - ]; then METHODS=${METHODS:-pmpi stock}; else METHODS=${METHODS:-adhomi pmpi stock}; fi
CALLS=${CALLS:-0 4M} EXTRA=${EXTRA:-}
case " $METHODS " in *" adhomi "*) [ "$PREFIX" != - ] || { echo "adhomi needs MPICH_PREFIX" >&2; exit 2; } ;; esac
mkdir -p "$OUT"
B=$(mktemp -d /tmp/homi-decomp.XXXXXX)
trap 'rm -rf "$B"' EXIT
export LD_LIBRARY_PATH="$BUILD/src${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
[ -d devlibs ] && export LD_LIBRARY_PATH="$PWD/devlibs:$LD_LIBRARY_PATH"
if [ "$PREFIX" != - ]; then
  gcc -std=c11 -D_GNU_SOURCE -O2 -Iinclude -I"$PREFIX/include" bench/coll_gpu_bench.c \
    -L"$PREFIX/lib" -lmpich -L"$BUILD/src" -lhomi -o "$B/bench-mpich" || exit 1
fi
mpicc -std=c11 -D_GNU_SOURCE -O2 -Iinclude bench/coll_gpu_bench.c -L"$BUILD/src" -lhomi \
  -o "$B/bench-ompi" || exit 1
bash mpiio-pmpi/build.sh "$BUILD" "$B/libhomi_mpiio_ompi.so" mpicc >"$B/pmpi-build.log" 2>&1 ||
  { cat "$B/pmpi-build.log"; exit 1; }
stamp=$(date +%F)-coll-decomp-gpu-$(hostname -s)${TAG:+-$TAG}
txt=$OUT/$stamp.txt csv=$OUT/$stamp.csv md=$OUT/$stamp.md
file=$DIR/homi-decomp-$(echo "$N" | tr , x).f32
np0=${NPS%% *}
{
  echo "# run-coll-decomp-gpu.sh $(date -u +%FT%TZ) on $(hostname -s)"
  echo "# GPU: $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | head -1)"
  echo "# CPU: $(nproc) cores; Open MPI $(mpirun --version 2>/dev/null | head -1 | awk '{print $NF}'); array $N float32; warm"
} | tee "$txt"
mpich=(env LD_LIBRARY_PATH="$PREFIX/lib:$LD_LIBRARY_PATH" "$PREFIX/bin/mpiexec")
ompi=(mpirun --allow-run-as-root --oversubscribe -x LD_LIBRARY_PATH)
maker=("${ompi[@]}" -n "$np0" "$B/bench-ompi")
[ "$PREFIX" = - ] || maker=("${mpich[@]}" -n "$np0" "$B/bench-mpich")
[ -e "$file" ] || "${maker[@]}" --file "$file" --create --n "$N" --mode host --iters 0 --no-gpu >>"$txt" 2>&1
fails=0
for np in $NPS; do
  for d in $DECOMPS; do
    for cb in $CALLS; do
      common=(--file "$file" --n "$N" --iters "$ITERS" --warm --decomp "$d" --call-bytes "$cb" $EXTRA)
      for m in $METHODS; do
        case $m in
          adhomi) cmd=("${mpich[@]}" -n "$np" "$B/bench-mpich" "${common[@]}" --mode homi --label "MPICH+ad_homi") ;;
          pmpi) cmd=("${ompi[@]}" -x LD_PRELOAD="$B/libhomi_mpiio_ompi.so" -n "$np" "$B/bench-ompi" "${common[@]}"
            --mode homi --label "OMPI+pmpi") ;;
          stock) cmd=("${ompi[@]}" -n "$np" "$B/bench-ompi" "${common[@]}" --mode host --label "OMPI stock") ;;
        esac
        if ! timeout 300 "${cmd[@]}" >"$B/run.log" 2>&1 || ! grep -q '^csv,.*,verified,' "$B/run.log"; then
          echo "FAILED: $m np $np $d calls $cb" | tee -a "$txt"
          tail -5 "$B/run.log" | tee -a "$txt"
          fails=$((fails + 1))
        fi
        grep -v '^csv,' "$B/run.log" | grep -v '^homi_mpiio' >>"$txt"
        grep '^csv,' "$B/run.log" | sed "s/^csv,/csv,$m,/" >>"$B/rows.csv"
      done
    done
  done
done
# the single-process figure on the same (warm) file
"$BUILD/tools/homi-bench" --gpu --blocks 64M --modes cached --iters 2 --quiet \
  --csv "$B/single.csv" "$file" >>"$txt" 2>&1 || echo "FAILED: homi-bench --gpu" | tee -a "$txt"
single=$(awk -F, 'NR>1 && $1=="cached" && ($4=="homi" || $4=="homi-async") && $5>b {b=$5} END{print b/1.073741824}' "$B/single.csv" 2>/dev/null)
# rows.csv: method,mode,cache,gpus,label,ranks,bytes,seconds,gib_per_s,check,open,decomp,call_bytes
{
  echo "method,ranks,decomp,call_bytes,gib_per_s,check,open_close_s"
  awk -F, '{print $2","$7","$13","$14","$10","$11","$12}' "$B/rows.csv"
} >"$csv"
{
  echo "# Collective reads into GPU memory by decomposition — $(hostname -s), $(date -u +%F)"
  echo
  echo "\`bench/run-coll-decomp-gpu.sh\`; array $N float32, page cache warm, every run verified"
  echo "element by element. Single-process file -> GPU (homi-bench --gpu, 64 MiB, best of"
  echo "homi/homi-async): **${single:-n/a} GiB/s**. GiB/s = 2^30 bytes/s."
  echo
  echo "| ranks | decomposition | calls | MPICH+ad_homi | OMPI+pmpi | OMPI stock | ad_homi / single | ad_homi / stock | pmpi / ad_homi | pmpi / single | pmpi / stock | 4M / whole |"
  echo "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  # 4M / whole: ad_homi's, or pmpi's without ad_homi
  awk -F, -v s="${single:-0}" -v wm="$(case " $METHODS " in *" adhomi "*) echo adhomi ;; *) echo pmpi ;; esac)" '
    NR > 1 { k = $2 "|" $3 "|" $4; if ($6 == "verified") v[$1 "|" k] = $5; keys[k] = 1
             if ($4 == 0 && $1 == wm) whole[$2 "|" $3] = $5 }
    END {
      for (k in keys) {
        split(k, p, "|"); a = v["adhomi|" k]; q = v["pmpi|" k]; st = v["stock|" k]
        w = whole[p[1] "|" p[2]]; m = v[wm "|" k]
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", p[1], p[2],
          (p[3] == 0 ? "whole" : p[3]), f(a), f(q), f(st), r(a, s), r(a, st), r(q, a), r(q, s),
          r(q, st), (p[3] == 0 ? "-" : r(m, w))
      }
    }
    function f(x) { return x > 0 ? sprintf("%.2f", x) : "n/a" }
    function r(x, y) { return (x > 0 && y > 0) ? sprintf("%.2fx", x / y) : "-" }' "$csv" | sort -t'|' -k2,2n -k3,3 -k4,4r
  echo
  echo "Targets: issue 23 ad_homi / single >= 0.9x, / stock >= 10x, 4M / whole >= 0.8x; issue 20"
  echo "pmpi / ad_homi >= 0.95x, pmpi / stock >= 10x."
} >"$md"
cat "$md"
echo "results: $txt $csv $md"
[ "$fails" -eq 0 ]
