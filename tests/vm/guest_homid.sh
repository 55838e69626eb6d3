# guest_homid.sh FSTYPE - runs inside the test VM: homid holds the NVMe
# passthrough path; three client processes read files on the emulated
# namespace through it (byte-for-byte against pread); homid's statistics
# must show passthrough bytes and NVMe commands; SIGTERM stops it cleanly.
# Then homid as the node service (--node): two unprivileged users (uid 1001
# and 1002) read their own 0600 files through its passthrough path, each is
# refused the other's file, and the statistics show both users' clients.
. /homi/guest_lib.sh
fs=${1:-ext4}
vm_mkfs "$fs" /dev/nvme0n2 /mnt/t || { vm_check "mkfs_$fs" false; vm_summary; exit 1; }
dd if=/dev/urandom of=/mnt/t/a bs=1M count=48 2>/dev/null
dd if=/dev/urandom of=/mnt/t/b bs=1000 count=20011 2>/dev/null
# a file with a hole between two data extents
dd if=/dev/urandom of=/mnt/t/c bs=1M count=4 2>/dev/null
dd if=/dev/urandom of=/mnt/t/c bs=1M count=4 seek=12 conv=notrunc 2>/dev/null
sync
mkdir -p /tmp/job && chmod 700 /tmp/job
homid --runtime-dir /tmp/job/run --path passthru --log /tmp/job/homid.log \
  --stats /tmp/job/homid.stats --pidfile /tmp/job/homid.pid &
hpid=$!
i=0
while [ ! -e /tmp/job/homid.pid ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
export HOMI_SOCKET=/tmp/job/run/homid.sock
run_clients() {
  test_homid client --passthru /mnt/t/a /mnt/t/c >/tmp/c1 2>&1 &
  p1=$!
  test_homid client --passthru /mnt/t/b /mnt/t/a >/tmp/c2 2>&1 &
  p2=$!
  test_homid client --passthru /mnt/t/c /mnt/t/b >/tmp/c3 2>&1 &
  p3=$!
  rc=0
  wait $p1 || rc=1
  wait $p2 || rc=1
  wait $p3 || rc=1
  cat /tmp/c1 /tmp/c2 /tmp/c3
  return $rc
}
vm_check "homid_3clients_${fs}" run_clients
kill -TERM $hpid
wait $hpid
vm_check "homid_stopped_${fs}" test ! -e /tmp/job/homid.pid
cat /tmp/job/homid.stats
vm_check "homid_stats_passthru_${fs}" grep -q "^node path passthru" /tmp/job/homid.stats
vm_check "homid_stats_nvme_${fs}" sh -c "grep '^node totals' /tmp/job/homid.stats | grep -qv 'nvme_cmds 0 '"
vm_check "homid_stats_clients_${fs}" grep -q "^clients 3" /tmp/job/homid.stats
tail -n 5 /tmp/job/homid.log

# ---- the node service for two users
for u in 1001 1002; do
  mkdir -p /mnt/t/u$u
  dd if=/dev/urandom of=/mnt/t/u$u/f bs=1M count=24 2>/dev/null
  chown -R $u:$u /mnt/t/u$u
  chmod 700 /mnt/t/u$u
  chmod 600 /mnt/t/u$u/f
done
sync
mkdir -p /run
homid --node --runtime-dir /run/homi --path passthru --log /tmp/node.log \
  --stats /tmp/node.stats --pidfile /tmp/node.pid &
npid=$!
i=0
while [ ! -e /tmp/node.pid ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
export HOMI_SOCKET=/run/homi/homid.sock
two_users() {
  test_homid client --as-uid 1001 --passthru --denied /mnt/t/u1002/f /mnt/t/u1001/f >/tmp/u1 2>&1 &
  q1=$!
  test_homid client --as-uid 1002 --passthru --denied /mnt/t/u1001/f /mnt/t/u1002/f >/tmp/u2 2>&1 &
  q2=$!
  rc=0
  wait $q1 || rc=1
  wait $q2 || rc=1
  cat /tmp/u1 /tmp/u2
  return $rc
}
vm_check "homid_node_two_users_${fs}" two_users
kill -TERM $npid
wait $npid
cat /tmp/node.stats
vm_check "homid_node_passthru_${fs}" grep -q "^node path passthru" /tmp/node.stats
vm_check "homid_node_uid1001_${fs}" grep -q "^client [0-9]* uid 1001 " /tmp/node.stats
vm_check "homid_node_uid1002_${fs}" grep -q "^client [0-9]* uid 1002 " /tmp/node.stats
tail -n 5 /tmp/node.log
umount /mnt/t
vm_summary
