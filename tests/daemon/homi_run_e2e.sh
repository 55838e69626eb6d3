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
#      ranks 0-1 on simnode0, 2-3 on simnode1), without the daemon step
#      (--per-node none): the first rank of each node starts that node's
#      homid on demand, each rank is served by its node's homid, homi-run's
#      summary shows both nodes and it stops both
#   7. homid (the node service) killed with -9 under a running MPI job and
#      started again: every rank finishes its reads in-process meanwhile
#      (counted), reattaches to the new homid, and no byte is wrong
#   8. the daemon step on the two simulated nodes (--per-node: the launcher
#      runs homi-node-daemon through as_node.sh --ranks-per-node 1): both
#      homids are ready before the job (every rank finds its node's socket
#      when it starts), each rank is served by its node's daemon-step homid
#      and no rank started one on demand, both are stopped and gone after
#      homi-run returns, the summary (statistics collected through the
#      launcher's output) shows both nodes
#   9. the daemon step's homid fails to start on simnode1: homi-run reports
#      it, simnode1's first rank starts one on demand, the job is served on
#      both nodes and homi-run stops both homids
#  10. the daemon step detected from the launcher itself (no as_node.sh):
#      Open MPI (--map-by ppr:1:node) and MPICH Hydra (-ppn 1, where one is
#      found: HOMI_MPICH_PREFIX or mpiexec.hydra) start one homid on this
#      host before the job, and it serves every rank
# Cases 1-4 and 8-10 run with HOMI_NODE_SOCKET naming no socket (a private
# homid even where the machine has a node service).  Cases 1, 2 and 4 get
# the daemon step too (their launchers are recognised); case 3 (sleep as
# the launcher) gets homid on homi-run's node.  $HOMI_HOMID and
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

# a process that is gone (a zombie counts: whoever adopted it reaps it)
gone() { [ ! -r "/proc/$1/stat" ] || awk '{ exit $3 == "Z" ? 0 : 1 }' "/proc/$1/stat"; }

# homid's pid from homi-run's "homid pid N serving" line (its own homid or
# the daemon step's); it must be gone
daemon_gone() {
  local pid
  pid=$(sed -n 's/.*homid pid \([0-9]*\) serving.*/\1/p' "$1" | head -1)
  [ -n "$pid" ] || { fail "$2: homi-run did not report homid's pid"; return; }
  grep -Eq "homid pid $pid (of node [^ ]+ )?stopped" "$1" || fail "$2: homi-run did not report stopping homid"
  if ! gone "$pid"; then
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

echo "== 6. several nodes on one machine, homid started on demand"
out=$work/run6.txt
HOMI_HOMID_IDLE_EXIT=60 "$hr" --summary --keep --per-node none -- "$mpiexec" "${flags[@]}" -n 4 \
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
  if [ -n "$p" ] && ! gone "$p"; then
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

as_node="$(cd "$(dirname "$0")" && pwd)/as_node.sh"
# every rank checks, as it starts, that its node's homid socket is there
# (HOMI_RUNTIME_DIR=<dir>/%h/run), then runs the program
cat >"$work/socket_there.sh" <<'EOF'
#!/bin/sh
d=$(printf '%s\n' "$HOMI_RUNTIME_DIR" | sed "s|%h|${HOMI_NODE_NAME:-$(hostname)}|")
[ -S "$d/homid.sock" ] || echo "NO-HOMID-AT-START on ${HOMI_NODE_NAME:-$(hostname)}: $d"
exec "$@"
EOF

# the daemon step's homid of node $2 in homi-run's output $1 (check name $4):
# its pid on stdout; fails unless it was reported ready before the job's
# verdict, served $3 ranks, was stopped and is gone
step_node() {
  local out=$1 n=$2 clients=$3 p rl vl
  p=$(sed -n "s/.*homid pid \([0-9]*\) serving .*\/$n\/run\/homid.sock on $n (daemon step).*/\1/p" "$out" | head -1)
  [ -n "$p" ] || { fail "$4: no daemon-step homid reported ready on $n"; return; }
  rl=$(grep -n "homid pid $p serving" "$out" | head -1 | cut -d: -f1)
  vl=$(grep -n "all bytes equal to pread" "$out" | head -1 | cut -d: -f1)
  [ -n "$vl" ] && [ "$rl" -lt "$vl" ] || fail "$4: $n's homid was not reported ready before the job's output"
  grep -q "^node $n: homid pid $p, $clients client(s)" "$out" ||
    fail "$4: $n: the daemon step's homid $p did not serve $clients ranks"
  grep -Eq "homid pid $p of node $n stopped" "$out" || fail "$4: homi-run did not report stopping $n's homid"
  gone "$p" || { fail "$4: $n's homid $p still runs"; kill "$p"; }
  echo "$p"
}

echo "== 8. the daemon step on two simulated nodes"
out=$work/run8.txt
t0=$(date +%s.%N)
"$hr" --summary --keep --nodes 2 \
  --per-node "$mpiexec ${flags[*]} -n 2 sh $as_node --ranks-per-node 1" -- \
  "$mpiexec" "${flags[@]}" -n 4 sh "$as_node" sh "$work/socket_there.sh" \
  "$prog" --expect-daemon "$data" >"$out" 2>&1
rc=$?
echo "(homi-run took $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s)"
cat "$out"
kept=$(sed -n 's/.*runtime directory kept: //p' "$out")
[ $rc = 0 ] || fail "daemon step: job exited $rc"
grep -q "all bytes equal to pread" "$out" || fail "daemon step: no verdict from the MPI program"
grep -q "NO-HOMID-AT-START" "$out" && fail "daemon step: a rank started before its node's homid was ready"
for n in simnode0 simnode1; do
  p=$(step_node "$out" $n 2 "daemon step")
  [ -n "$p" ] || continue
  # one homid ever served that node: the daemon step's, none started on demand
  s=$(grep -c "serving .*/$n/run/homid.sock" "$kept/$n/homid.log" 2>/dev/null)
  grep -q "pid $p serving" "$kept/$n/homid.log" 2>/dev/null && [ "$s" = 1 ] ||
    fail "daemon step: $n's log shows ${s:-no} homid(s), not only the daemon step's $p"
done
[ -n "$kept" ] && rm -rf "$kept"

echo "== 9. the daemon step's homid fails on one node: it starts on demand there"
# a homid that fails once on simnode1 (the daemon step's start), then is homid
cat >"$work/homid_fails_once.sh" <<'EOF'
#!/bin/sh
if [ "${HOMI_NODE_NAME:-}" = simnode1 ] && mkdir "$HOMID_FAILED_MARK" 2>/dev/null; then
  echo "simulated failure of homid on simnode1" >&2
  exit 1
fi
exec "$REAL_HOMID" "$@"
EOF
chmod +x "$work/homid_fails_once.sh"
out=$work/run9.txt
REAL_HOMID=$HOMI_HOMID HOMID_FAILED_MARK=$work/failed9 \
  "$hr" --summary --homid "$work/homid_fails_once.sh" --nodes 2 \
  --per-node "$mpiexec ${flags[*]} -n 2 sh $as_node --ranks-per-node 1" -- \
  "$mpiexec" "${flags[@]}" -n 4 sh "$as_node" "$prog" --expect-daemon "$data" >"$out" 2>&1
rc=$?
cat "$out"
[ $rc = 0 ] || fail "failed node: job exited $rc"
grep -q "all bytes equal to pread" "$out" || fail "failed node: no verdict from the MPI program"
grep -q "node simnode1: homid failed to start" "$out" || fail "failed node: the failure was not reported"
grep -q "simulated failure of homid on simnode1" "$out" || fail "failed node: its homid's words not shown"
step_node "$out" simnode0 2 "failed node" >/dev/null
p=$(sed -n 's/.*homid pid \([0-9]*\) of node simnode1 stopped.*/\1/p' "$out")
[ -n "$p" ] || fail "failed node: simnode1's homid (started on demand) was not stopped"
grep -q "^node simnode1: homid pid $p, 2 client(s)" "$out" ||
  fail "failed node: simnode1's homid started on demand did not serve 2 ranks"
[ -n "$p" ] && ! gone "$p" && { fail "failed node: simnode1's homid $p still runs"; kill "$p"; }

echo "== 10. the daemon step detected from the launcher"
hydra=""
if [ -n "${HOMI_MPICH_PREFIX:-}" ] && [ -x "$HOMI_MPICH_PREFIX/bin/mpiexec" ]; then
  hydra=$HOMI_MPICH_PREFIX/bin/mpiexec
else hydra=$(command -v mpiexec.hydra || true)
fi
host=$(hostname)
for l in "$mpiexec" "$hydra"; do
  [ -n "$l" ] || { echo "(MPICH Hydra not found: skipped)"; continue; }
  out=$work/run10-$(basename "$l").txt
  if "$l" --version 2>&1 | grep -Eq "Open MPI|OpenRTE"; then
    lf=("${flags[@]}") want="--map-by ppr:1:node" n=4
  else
    # an Open MPI program under Hydra: 2 singletons, each its own MPI job
    lf=() want="-ppn 1 -n 1" n=2
  fi
  "$hr" --summary -- "$l" "${lf[@]}" -n $n sh "$work/socket_there.sh" "$prog" --expect-daemon "$data" \
    >"$out" 2>&1
  rc=$?
  cat "$out"
  [ $rc = 0 ] || fail "$l: job exited $rc"
  grep -q "daemon step: .*$want" "$out" || fail "$l: no daemon step with $want"
  [ "$(grep -c "(daemon step)" "$out")" = 1 ] || fail "$l: not exactly one node daemon"
  grep -q "NO-HOMID-AT-START" "$out" && fail "$l: a rank started before homid was ready"
  step_node "$out" "$host" $n "$l" >/dev/null
done

if [ $fails -gt 0 ]; then
  echo "homi_run_e2e: $fails failure(s)"
  exit 1
fi
echo "homi_run_e2e: all checks passed"
