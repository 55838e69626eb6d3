# guest_homid_sriov.sh - runs inside the test VM with HOMI_VM_LAYOUT=sriov
# (issue 21): the node's homid makes its delegated controller out of an
# SR-IOV virtual function (homid --delegate-vf nvme0:1) with the queue
# resources the hints ask for (HOMI_VF_QUEUES), while the PF stays with the
# kernel and holds ext4 and xfs.  homictl shows the VF's queue pairs as the
# inventory; a user's client gets one of its own and reads its files
# through the VF byte for byte against pread; another asks for more than
# is left and is refused; homid started again with another hint resizes the
# VF (its inventory follows) and serves again.
. /homi/guest_lib.sh
ctrl=$(ls /sys/class/nvme | head -1)
echo "PF: $ctrl = $(basename "$(readlink /sys/class/nvme/$ctrl/device)")"
start_homid() { # VF queue pairs
  export HOMI_VF_QUEUES=$1
  vm_node_homid --delegate-vf "$ctrl:1" --path delegated
  r=$?
  grep -E "SR-IOV|delegated path|error" /tmp/node.log | tail -n 2
  return $r
}
stop_homid() {
  kill -TERM $npid
  wait $npid
}
vm_check "homid_makes_vf_2" start_homid 2
vm_subsys_fs
vm_user_files 6 1 4000 900
export HOMI_SOCKET=/run/homi/homid.sock
inventory() { # N: homictl shows N queue pairs, none granted
  homictl --socket $HOMI_SOCKET list | grep "^delegated queue pairs:" | tee /tmp/inv
  grep -q "^delegated queue pairs: 0 of $1 granted" /tmp/inv
}
vm_check "vf_inventory_2" inventory 2
vm_check "vf_own_queue_pair" test_homid client --as-uid 1001 --delegated --qpairs 1 \
  /mnt/ext4/u1001/f /mnt/xfs/u1001/h
test_homid client --as-uid 1001 --delegated --qpairs 1 --hold 60 /mnt/xfs/u1001/f >/tmp/qa 2>&1 &
qa=$!
held() {
  i=0
  while ! homictl --socket $HOMI_SOCKET list | grep -q "^delegated queue pairs: 1 of 2" &&
    [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
  done
  homictl --socket $HOMI_SOCKET list | grep "^delegated queue pairs: 1 of 2"
}
vm_check "vf_granted" held
vm_check "vf_refused_beyond" test_homid client --as-uid 1002 --delegated --qpairs 2 --refused \
  /mnt/ext4/u1002/f /mnt/xfs/u1002/h
kill -9 $qa
wait $qa
stop_homid
# the hint changed: the VF is given 3 queue pairs when homid starts again
vm_check "homid_resizes_vf_3" start_homid 3
vm_check "vf_inventory_3" inventory 3
vm_check "vf_reads_after_restart" test_homid client --as-uid 1002 --delegated --qpairs 3 \
  /mnt/ext4/u1002/h /mnt/xfs/u1002/f
stop_homid
umount /mnt/ext4 && umount /mnt/xfs
vm_check "umount_clean" sh -c "dmesg | grep -i -E 'I/O error|corrupt|EXT4-fs error|XFS.*(error|shutdown)' && exit 1 || exit 0"
vm_summary
