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
. /homi/guest_lib.sh
deleg=0000:00:05.0
vm_subsys_fs
for fs in ext4 xfs; do
  for u in 1001 1002; do
    d=/mnt/$fs/u$u
    mkdir -p $d
    dd if=/dev/urandom of=$d/f bs=1M count=10 2>/dev/null
    # a file with a hole between two data extents, and an unaligned tail
    dd if=/dev/urandom of=$d/h bs=1M count=2 2>/dev/null
    dd if=/dev/urandom of=$d/h bs=1000 count=1500 seek=6000 conv=notrunc 2>/dev/null
    chown -R $u:$u $d
    chmod 700 $d
    chmod 600 $d/f $d/h
  done
done
sync
vm_check "bind_vfio" vm_bind_vfio $deleg
mkdir -p /run
start_homid() {
  rm -f /tmp/node.pid
  homid --node --runtime-dir /run/homi --delegate $deleg --path delegated --log /tmp/node.log \
    --stats /tmp/node.stats --pidfile /tmp/node.pid &
  npid=$!
  i=0
  while [ ! -e /tmp/node.pid ] && [ $i -lt 300 ] && kill -0 $npid 2>/dev/null; do
    sleep 0.1
    i=$((i + 1))
  done
  [ -e /tmp/node.pid ]
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
