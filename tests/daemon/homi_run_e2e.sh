#!/usr/bin/env bash
# homi_run_e2e.sh - homi-run end to end with 4 MPI ranks:
#   1. an MPI program reading through libhomi (served by homid, checked
#      byte for byte), summary printed, no homid left afterwards
#   2. a failing job: homi-run returns its failure, homid stopped
#   3. homi-run interrupted by SIGTERM / SIGINT: job and homid stopped
#   4. where the components exist (arguments after --): an MPI-IO program
#      through ad_homi (MPICH-with-HOMI prefix) and an HDF5 program through
#      H5FD_homi, each under homi-run with 4 ranks
#   5. a node service answers (homid --node, HOMI_NODE_SOCKET): homi-run
#      starts no homid, the job's reads are served by the node service and
#      counted under the job's name; it keeps running after the job
#   6. a job on several nodes, one machine standing for two (as_node.sh:
#      ranks 0-1 on simnode0, 2-3 on simnode1): the first rank of each node
#      starts that node's homid, each rank is served by its node's homid,
#      homi-run's summary shows both nodes and it stops both
#   7. homid (the node service) killed with -9 under a running MPI job and
#      started again: every rank finishes its reads in-process meanwhile
#      (counted), reattaches to the new homid, and no byte is wrong
# Cases 1-4 run with HOMI_NODE_SOCKET naming no socket (a private homid
# even where the machine has a node service).  $HOMI_HOMID and
# $HOMI_HOMICTL name the binaries.
# usage: homi_run_e2e.sh HOMI_RUN MPIEXEC MPI_PROG [-- NAME=CMD ...]
#   NAME=CMD  an extra job (CMD gets FILE appended), run as
#             homi-run --summary -- CMD FILE; it must exit 0 and be served by homid
set -uo pipefail
hr=$1 mpiexec=$2 prog=$3
shift 3
[ "${1:-}" = "--" ] && shift
extra=("$@")
command -v "$mpiexec" >/dev/null || { echo "SKIP: $mpiexec not found"; exit 77; }

export HOMI_NODE_SOCKET=/nonexistent/homid.sock
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
work=$(mktemp -d "${TMPDIR:-/tmp}/homi-run-e2e.XXXXXX")
trap 'rm -rf "$work"' EXIT
data=$work/data.bin
head -c $((48 * 1024 * 1024 + 4321)) /dev/urandom >"$data"

flags=()
if "$mpiexec" --version 2>&1 | grep -Eq "Open MPI|OpenRTE"; then
  flags+=(--oversubscribe)
  [ "$(id -u)" = 0 ] && flags+=(--allow-run-as-root)
fi

# homid's pid from homi-run's "homid pid N serving" line; it must be gone
daemon_gone() {
  local pid
  pid=$(sed -n 's/.*homid pid \([0-9]*\) serving.*/\1/p' "$1" | head -1)
  [ -n "$pid" ] || { fail "$2: homi-run did not report homid's pid"; return; }
  grep -q "homid pid $pid stopped" "$1" || fail "$2: homi-run did not report stopping homid"
  if kill -0 "$pid" 2>/dev/null; then
    fail "$2: homid pid $pid still running"
    kill -TERM "$pid"
  fi
}

echo "== 1. MPI program through libhomi, 4 ranks"
out=$work/run1.txt
"$hr" --summary -- "$mpiexec" "${flags[@]}" -n 4 "$prog" --expect-daemon "$data" >"$out" 2>&1
rc=$?
cat "$out"
[ $rc = 0 ] || fail "job exited $rc"
grep -q "all bytes equal to pread" "$out" || fail "no verdict from the MPI program"
grep -q "4 client(s)" "$out" || fail "summary does not show 4 clients"
grep -Eq "^  (kernel|passthru) +[0-9]+ +[0-9.]+ +[0-9]+" "$out" || fail "no per-path line in summary"
grep -q "fallbacks in homid" "$out" || fail "no fallback line in summary"
daemon_gone "$out" run1

echo "== 2. failing job"
out=$work/run2.txt
"$hr" --summary -- "$mpiexec" "${flags[@]}" -n 4 "$prog" --fail "$data" >"$out" 2>&1
rc=$?
tail -n 12 "$out"
[ $rc != 0 ] || fail "failing job: homi-run returned 0"
daemon_gone "$out" run2

# job control: background jobs get their own process group and keep SIGINT
# (a non-interactive shell otherwise starts them with SIGINT ignored)
set -m
for s in TERM INT; do
  echo "== 3. homi-run interrupted by SIG$s"
  out=$work/run3$s.txt
  timeout 60 "$hr" -- sleep 300 >"$out" 2>&1 &
  hpid=$!
  for _ in $(seq 100); do grep -q serving "$out" && break; sleep 0.1; done
  hrpid=$(pgrep -P "$hpid" | head -1) # timeout -> homi-run -> sleep
  spid=$(pgrep -P "${hrpid:-0}" -x sleep || true)
  [ -n "$spid" ] || fail "SIG$s: the job was not found running"
  kill -s "$s" "$hpid"
  wait "$hpid"
  rc=$?
  cat "$out"
  case $s in TERM) want=143 ;; INT) want=130 ;; esac
  [ "$rc" = "$want" ] || fail "SIG$s: homi-run returned $rc, expected $want"
  daemon_gone "$out" "run3-$s"
  [ -n "$spid" ] && kill -0 "$spid" 2>/dev/null && { fail "SIG$s: the job (pid $spid) survived"; kill "$spid"; }
done
set +m

for x in "${extra[@]}"; do
  name=${x%%=*} cmd=${x#*=}
  echo "== 4. $name under homi-run"
  out=$work/run4-$name.txt
  # shellcheck disable=SC2086
  "$hr" --summary -- $cmd "$data" >"$out" 2>&1
  rc=$?
  cat "$out"
  [ $rc = 0 ] || fail "$name: exited $rc"
  grep -Eq "^  (kernel|passthru) +[0-9]+ +[0-9.]+ +[0-9]+" "$out" || fail "$name: homid served nothing"
  daemon_gone "$out" "$name"
done

echo "== 5. the node service"
if [ -x "${HOMI_HOMID:-}" ] && [ -x "${HOMI_HOMICTL:-}" ]; then
  "$HOMI_HOMID" --node --runtime-dir "$work/node" --log "$work/node.log" </dev/null &
  npid=$!
  for _ in $(seq 100); do [ -S "$work/node/homid.sock" ] && break; sleep 0.05; done
  out=$work/run5.txt
  HOMI_NODE_SOCKET=$work/node/homid.sock "$hr" --summary -- "$mpiexec" "${flags[@]}" -n 4 "$prog" \
    --expect-daemon "$data" >"$out" 2>&1
  rc=$?
  cat "$out"
  [ $rc = 0 ] || fail "node service: job exited $rc"
  grep -q "using the node service at $work/node/homid.sock" "$out" || fail "node service not used"
  grep -q "all bytes equal to pread" "$out" || fail "node service: no verdict from the MPI program"
  grep -q "serving" "$out" && fail "node service: homi-run started a homid of its own"
  "$HOMI_HOMICTL" --socket "$work/node/homid.sock" list >"$work/list5.txt" 2>&1
  cat "$work/list5.txt"
  grep -q "homi-run-" "$work/list5.txt" || fail "node service: the job is not in homictl list"
  grep -q "4 since start" "$work/list5.txt" || fail "node service: did not serve 4 clients"
  kill -0 $npid 2>/dev/null || fail "node service: homid is gone after the job"
  kill -TERM $npid
  wait $npid
  echo "node service log:"
  tail -n 5 "$work/node.log"
else
  echo "(skipped: HOMI_HOMID and HOMI_HOMICTL not given)"
fi

echo "== 6. several nodes on one machine"
out=$work/run6.txt
HOMI_HOMID_IDLE_EXIT=60 "$hr" --summary --keep -- "$mpiexec" "${flags[@]}" -n 4 \
  sh "$(dirname "$0")/as_node.sh" "$prog" --expect-daemon "$data" >"$out" 2>&1
rc=$?
cat "$out"
[ $rc = 0 ] || fail "several nodes: job exited $rc"
grep -q "all bytes equal to pread" "$out" || fail "several nodes: no verdict from the MPI program"
for n in simnode0 simnode1; do
  grep -q "^node $n: homid pid [0-9]*, 2 client(s)" "$out" || fail "several nodes: $n's homid did not serve 2 ranks"
  p=$(sed -n "s/.*homid pid \([0-9]*\) of node $n stopped.*/\1/p" "$out")
  [ -n "$p" ] || fail "several nodes: homi-run did not stop $n's homid"
  # (detached: once it exits it may linger as a zombie of whoever adopted it)
  if [ -n "$p" ] && [ -r /proc/$p/stat ] && ! awk '{ exit $3 == "Z" ? 0 : 1 }' /proc/$p/stat; then
    fail "several nodes: $n's homid $p still runs"
    kill "$p"
  fi
done
kept=$(sed -n 's/.*runtime directory kept: //p' "$out")
[ -n "$kept" ] && rm -rf "$kept"

echo "== 7. homid killed (-9) and restarted under a running MPI job"
if [ -x "${HOMI_HOMID:-}" ] && [ -x "${HOMI_HOMICTL:-}" ]; then
  node=$work/node7
  start_node() {
    "$HOMI_HOMID" --node --runtime-dir "$node" --log "$work/node7.log" </dev/null &
    npid=$!
    for _ in $(seq 100); do [ -S "$node/homid.sock" ] && break; sleep 0.05; done
  }
  start_node
  out=$work/run7.txt
  HOMI_DAEMON_RETRY=1 HOMI_NODE_SOCKET=$node/homid.sock "$hr" --summary -- "$mpiexec" \
    "${flags[@]}" -n 4 "$prog" --seconds 6 --expect-restart "$data" >"$out" 2>&1 &
  jpid=$!
  # kill it once the 4 ranks are its clients
  for _ in $(seq 200); do
    "$HOMI_HOMICTL" --socket "$node/homid.sock" list 2>/dev/null | grep -q "clients 4 now" && break
    sleep 0.05
  done
  sleep 0.5
  kill -9 $npid
  wait $npid 2>/dev/null
  echo "homid $npid killed (-9) under the job"
  sleep 1
  start_node
  echo "homid started again: pid $npid"
  wait $jpid
  rc=$?
  cat "$out"
  [ $rc = 0 ] || fail "restart: job exited $rc"
  grep -q "all bytes equal to pread" "$out" || fail "restart: no verdict from the MPI program"
  n=$(grep -c "reads finished in-process while homid was lost" "$out")
  [ "$n" = 4 ] || fail "restart: $n of 4 ranks report the loss and the reattach"
  kill -TERM $npid
  wait $npid
else
  echo "(skipped: HOMI_HOMID and HOMI_HOMICTL not given)"
fi

if [ $fails -gt 0 ]; then
  echo "homi_run_e2e: $fails failure(s)"
  exit 1
fi
echo "homi_run_e2e: all checks passed"
