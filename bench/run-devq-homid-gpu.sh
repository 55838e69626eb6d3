#!/usr/bin/env bash
# run-devq-homid-gpu.sh - issue 21's GPU figure: an unprivileged user's CUDA kernels read
# through a GPU device queue served by the node's homid, against the same kernels on an
# in-process queue, same run.  Starts `homid --node` (as root) in a private runtime
# directory, creates the user homi-gpu when missing, runs test_devq (10^6 verified GPU-issued
# reads, error cases) through homid and in-process, then homi-bench-devq (random 4 KiB
# GPU-initiated reads, page cache) alternating in-process / homid ROUNDS times, and prints
# the IOPS of each and their ratio (target >= 0.8x), also as CSV.
#
#   bench/run-devq-homid-gpu.sh [BUILD_DIR [OUTDIR]]     (root, a GPU)
#
# BUILD_DIR: a CUDA build of HOMI (default ./build; its tools/homid, tools/homictl,
# tests/test_devq, bench/devq/homi-bench-devq); OUTDIR: logs and CSV (default bench/results).
# Environment: DIR (/var/tmp/homi-devq-homid), ROUNDS (3), SIZE_GIB (4), READS (1048576),
# HOST_THREADS (4: the queue's service threads and homid's engine threads), GPU_THREADS (65536).
set -uo pipefail
build=$(realpath "${1:-build}")
out=$(realpath -m "${2:-bench/results}")
mkdir -p "$out"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (homid --node, a test user)"; exit 77; }
nvidia-smi -L >/dev/null 2>&1 || { echo "SKIP: no GPU"; exit 77; }
D=${DIR:-/var/tmp/homi-devq-homid} H=${HOST_THREADS:-4}
stamp=$(date +%F)-$(hostname -s)
U=homi-gpu
id $U >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin $U
rm -rf "$D"; mkdir -p "$D/data"; chown $U "$D/data"; chmod 755 "$D"
printf 'homi_threads %s\nhomi_queue_depth 128\n' "$H" > "$D/hints"
"$build/tools/homid" --node --runtime-dir "$D/run" --log "$out/$stamp-devq-homid.log" \
  --pidfile "$D/homid.pid" --hints "$D/hints" &
hp=$!
trap 'kill $hp 2>/dev/null; wait $hp 2>/dev/null' EXIT
for _ in $(seq 100); do [ -e "$D/homid.pid" ] && break; sleep 0.1; done
S=$D/run/homid.sock
asu() { setpriv --reuid=$U --regid="$(id -g $U)" --clear-groups env HOME=/tmp "$@"; }
ctl() { HOMI_SOCKET=$S "$build/tools/homictl" list; }
rc=0
for m in homid in-process; do
  e=(HOMI_TEST_DEVQ_HOMID=0); [ $m = homid ] && e=(HOMI_SOCKET=$S HOMI_TEST_DEVQ_HOMID=1)
  asu env "${e[@]}" HOMI_TEST_DIR="$D/data" timeout 300 "$build/tests/test_devq" \
    > "$out/$stamp-devq-homid-test-$m.txt" 2>&1
  r=$?; echo "test_devq, queue $m: exit $r"; [ $r = 0 ] || rc=1
done
ctl > "$out/$stamp-devq-homid-list.txt" 2>&1
b=(--file "$D/data/bench.dat" --size "${SIZE_GIB:-4}" --reads "${READS:-1048576}"
   --host-threads "$H" --gpu-threads "${GPU_THREADS:-65536}" --mode cached)
csv=$out/$stamp-devq-homid.csv
echo "round,queue,iops,errors" > "$csv"
for i in $(seq "${ROUNDS:-3}"); do
  for m in in-process homid; do
    e=(); [ $m = homid ] && e=(HOMI_SOCKET=$S)
    f=$out/$stamp-devq-homid-bench-$m-$i.txt
    asu env "${e[@]}" timeout 300 "$build/bench/devq/homi-bench-devq" "${b[@]}" > "$f" 2>&1 || rc=1
    line=$(grep -E '^cached +GPU-initiated' "$f" | head -1)
    [ $m = homid ] && ! grep -q "served by homid" <<< "$line" && { echo "round $i: not served by homid"; rc=1; }
    echo "$i,$m,$(awk '{print $(NF-2)}' <<< "$line"),$(awk '{print $NF}' <<< "$line")" >> "$csv"
  done
done
echo; echo "| round | in-process IOPS | homid IOPS | homid / in-process | errors |"
echo "| ---: | ---: | ---: | ---: | ---: |"
awk -F, 'NR>1 { v[$1","$2]=$3; e[$1]+=$4; n=$1 } END {
  for (i = 1; i <= n; i++) { a = v[i",in-process"]; h = v[i",homid"];
    printf "| %d | %.0f | %.0f | %.2fx | %d |\n", i, a, h, (a > 0 ? h / a : 0), e[i] } }' "$csv"
echo "(target >= 0.8x; CSV $csv)"
exit $rc
