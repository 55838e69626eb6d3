#!/usr/bin/env bash
# packaging.sh - the node service's packaging (packaging/): the systemd
# units pass systemd-analyze verify (ExecStart pointed at the built homid),
# the sysusers.d file parses (systemd-sysusers --dry-run), and socket
# activation works: systemd-socket-activate hands homid a listening
# SOCK_SEQPACKET socket, homid (--node) serves it (homictl ping/list), and
# leaves the socket file in place when it stops (systemd owns it).
#
#   packaging.sh HOMID HOMICTL
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
homid=$(realpath "$1") homictl=$(realpath "$2")
for t in systemd-analyze systemd-sysusers systemd-socket-activate; do
  command -v $t >/dev/null || { echo "SKIP: $t not found (package systemd)"; exit 77; }
done
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
work=$(mktemp -d "${TMPDIR:-/tmp}/homi-pkg.XXXXXX")
trap 'kill $apid 2>/dev/null; rm -rf "$work"' EXIT
apid=""

echo "== units"
cp "$ROOT"/packaging/systemd/homid.socket "$ROOT"/packaging/systemd/homid.service "$work/"
sed -i "s|/usr/bin/homid|$homid|" "$work/homid.service"
systemd-analyze verify "$work/homid.socket" "$work/homid.service" >"$work/verify.txt" 2>&1 ||
  fail "systemd-analyze verify: $(cat "$work/verify.txt")"
grep -q '^ListenSequentialPacket=/run/homi/homid.sock' "$work/homid.socket" ||
  fail "homid.socket does not listen on /run/homi/homid.sock"
grep -q '^SocketMode=0666' "$work/homid.socket" || fail "homid.socket is not open to every user"
echo "== sysusers.d"
systemd-sysusers --dry-run "$ROOT/packaging/sysusers.d/homi.conf" >"$work/sysusers.txt" 2>&1 ||
  fail "systemd-sysusers: $(cat "$work/sysusers.txt")"
grep -q 'GROUP="homi"' "$ROOT/packaging/udev/70-homi.rules" || fail "udev rule without group homi"

echo "== socket activation"
sock=$work/run/homid.sock
mkdir -p "$work/run"
systemd-socket-activate --seqpacket -l "$sock" "$homid" --node --log "$work/homid.log" &
apid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
out=$("$homictl" --socket "$sock" ping 2>&1) || fail "ping through the activated socket: $out"
echo "$out"
echo "$out" | grep -q ' node$' || fail "the activated homid is not the node service"
"$homictl" --socket "$sock" list >"$work/list.txt" 2>&1 || fail "list: $(cat "$work/list.txt")"
grep -q "socket $sock" "$work/list.txt" || fail "list does not name the activated socket"
grep -q "socket from systemd" "$work/homid.log" || fail "homid did not log the socket from systemd"
"$homictl" --socket "$sock" stop >/dev/null 2>&1 || fail "stop"
for _ in $(seq 100); do kill -0 $apid 2>/dev/null || break; sleep 0.05; done
kill -0 $apid 2>/dev/null && fail "homid did not stop"
wait $apid
rc=$?
apid=""
[ $rc = 0 ] || fail "homid exited $rc"
[ -S "$sock" ] || fail "homid removed the socket that systemd owns"
tail -n 3 "$work/homid.log"

if [ $fails -gt 0 ]; then
  echo "packaging: $fails failure(s)"
  exit 1
fi
echo "packaging: all checks passed"
