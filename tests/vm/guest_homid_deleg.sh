# guest_homid_deleg.sh - runs inside the test VM with HOMI_VM_LAYOUT=subsys
# (issue 21): homid as the node service owns the subsystem's second
# controller (0000:00:05.0, bound to vfio-pci) and serves the delegated
# path through its queue pairs.  Two unprivileged users (uid 1001, 1002)
# ask for that path and read their own 0600 files on ext4 (512 B LBAs,
# partition 3 MiB in) and xfs (4 KiB LBAs) through homid, byte for byte
# against pread, and are refused each other's; a client killed with -9 in
# the middle of its reads leaves the next clients' reads correct; homictl
# shows the clients' delegated bytes; homid's statistics show delegated
# bytes and the NVMe commands of its queue pairs; after homid stops, the
# controller can be owned again.
# Queue pairs of a client's own (homi_delegated_qpairs): granted all or
# none and shown by homictl; a client asking more than is free is refused
# (counted) and shares what is left; with every queue pair granted, a
# client without a grant reads through the kernel path; kill -9 of the
# holder gives them back and another client gets them; homictl's
# user-qpairs limit refuses beyond it.
. /homi/guest_lib.sh
deleg=0000:00:05.0
vm_subsys_fs
# f: 10 MiB; h: 2 MiB, a hole, 1.5 MB from 6 MB on (an unaligned tail)
vm_user_files 10 2 6000 1500
vm_check "bind_vfio" vm_bind_vfio $deleg
start_homid() {
  vm_node_homid --delegate $deleg --path delegated --stats /tmp/node.stats
}
vm_check "homid_owns_controller" start_homid
tail -n 3 /tmp/node.log
export HOMI_SOCKET=/run/homi/homid.sock
user_reads() { # uid other-uid
  test_homid client --as-uid $1 --delegated --denied /mnt/ext4/u$2/f --denied /mnt/xfs/u$2/h \
    /mnt/ext4/u$1/f /mnt/ext4/u$1/h /mnt/xfs/u$1/f /mnt/xfs/u$1/h >/tmp/u$1 2>&1
}
two_users() {
  user_reads 1001 1002 &
  q1=$!
  user_reads 1002 1001 &
  q2=$!
  rc=0
  wait $q1 || rc=1
  wait $q2 || rc=1
  cat /tmp/u1001 /tmp/u1002
  return $rc
}
vm_check "delegated_two_users" two_users
# a client killed in the middle of its reads; the next ones are unharmed
killed_client() {
  test_homid client --as-uid 1001 --delegated /mnt/xfs/u1001/f /mnt/ext4/u1001/f \
    /mnt/xfs/u1001/f /mnt/ext4/u1001/f >/tmp/victim 2>&1 &
  v=$!
  sleep 1
  kill -9 $v
  wait $v
  two_users
}
vm_check "delegated_after_kill9" killed_client
list_shows() {
  homictl --socket /run/homi/homid.sock list >/tmp/list 2>&1 || return 1
  cat /tmp/list
  grep -q "delegated" /tmp/list
}
# a client that stays while homictl looks
test_homid client --as-uid 1002 --delegated /mnt/xfs/u1002/f /mnt/ext4/u1002/f /mnt/xfs/u1002/f \
  >/tmp/lister 2>&1 &
lp=$!
sleep 1
vm_check "homictl_shows_delegated" list_shows
wait $lp

# ---- queue pairs of a client's own
hctl() { homictl --socket /run/homi/homid.sock "$@"; }
qp_line() { hctl list 2>/dev/null | grep "^delegated queue pairs:"; }
# "delegated queue pairs: G of T granted, S shared, N grants since start"
qp_granted() { qp_line | awk '{print $4}'; }
wait_granted() { # N: until homictl shows N granted (10 s)
  i=0
  while [ "$(qp_granted)" != "$1" ] && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
  done
  qp_line
  [ "$(qp_granted)" = "$1" ]
}
T=$(qp_line | awk '{print $6}')
echo "controller queue pairs: ${T:-none}"
vm_check "qpairs_inventory" sh -c "[ '${T:-0}' -ge 3 ] && [ '$(qp_granted)' = 0 ]"
T=${T:-4}
test_homid client --as-uid 1001 --delegated --qpairs $((T - 1)) --hold 120 /mnt/xfs/u1001/f \
  >/tmp/qa 2>&1 &
qa=$!
vm_check "qpairs_granted" wait_granted $((T - 1))
# asks for 2 with 1 free: refused, counted, served by the one shared
vm_check "qpairs_refused_shares_rest" test_homid client --as-uid 1002 --delegated --qpairs 2 \
  --refused /mnt/ext4/u1002/f /mnt/xfs/u1002/h
test_homid client --as-uid 1002 --delegated --qpairs 1 --hold 120 /mnt/ext4/u1002/h >/tmp/qc 2>&1 &
qc=$!
vm_check "qpairs_last_one" wait_granted $T
# none left: a client without a grant reads through the kernel path
vm_check "qpairs_none_free_kernel" test_homid client --as-uid 1002 --delegated --no-queue \
  /mnt/ext4/u1002/f /mnt/xfs/u1002/h
grep "queue pairs" /tmp/node.log | tail -n 4
kill -9 $qa
wait $qa
cat /tmp/qa
vm_check "qpairs_reclaimed_kill9" wait_granted 1
test_homid client --as-uid 1001 --delegated --qpairs $((T - 1)) /mnt/ext4/u1001/f \
  /mnt/xfs/u1001/h >/tmp/qe 2>&1 &
qe=$!
regranted() {
  wait $qe || { cat /tmp/qe; return 1; }
  grep -q "client pid $qe: $((T - 1)) queue pairs of its own" /tmp/node.log
}
vm_check "qpairs_regranted_after_kill" regranted
hctl limit user-qpairs 1
vm_check "qpairs_user_limit" test_homid client --as-uid 1001 --delegated --qpairs 2 --refused \
  /mnt/xfs/u1001/f
hctl limit user-qpairs 0
kill -9 $qc
wait $qc
vm_check "qpairs_all_back" wait_granted 0
kill -TERM $npid
wait $npid
cat /tmp/node.stats
vm_check "stats_delegated_bytes" grep -q "^node path delegated" /tmp/node.stats
vm_check "stats_nvme_commands" sh -c "grep '^delegated ' /tmp/node.stats | grep -qv ' cmds 0 '"
vm_check "stats_uid1001" grep -q "^client [0-9]* uid 1001 " /tmp/node.stats
vm_check "stats_uid1002" grep -q "^client [0-9]* uid 1002 " /tmp/node.stats
# the controller was given back: a new homid owns it again
vm_check "controller_released" start_homid
kill -TERM $npid
wait $npid
tail -n 5 /tmp/node.log
umount /mnt/ext4 && umount /mnt/xfs
vm_check "umount_clean" sh -c "dmesg | grep -i -E 'I/O error|corrupt|EXT4-fs error|XFS.*(error|shutdown)' && exit 1 || exit 0"
vm_summary
