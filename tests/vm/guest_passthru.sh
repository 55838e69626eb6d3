# guest_passthru.sh FSTYPE - runs inside the test VM: FSTYPE on all four
# namespaces (512 B and 4 KiB LBAs, whole disk and a partition starting at
# 3 MiB), the passthrough checks on each, then the shared-controller run
# and the 256 MiB read.
. /homi/guest_lib.sh
fs=$1
secs=${2:-20}
vm_partition /dev/nvme0n3 || echo "partitioning nvme0n3 failed"
vm_partition /dev/nvme0n4 || echo "partitioning nvme0n4 failed"
n=0
for dev in /dev/nvme0n1 /dev/nvme0n2 /dev/nvme0n3p1 /dev/nvme0n4p1; do
  n=$((n + 1))
  lbs=$(cat /sys/block/nvme0n$n/queue/logical_block_size)
  name="${fs}_$(basename $dev)_lba$lbs"
  if vm_mkfs "$fs" "$dev" "/mnt/t$n"; then
    vm_check "verify_$name" vm_passthru verify "/mnt/t$n"
  else
    vm_check "mkfs_$name" false
  fi
done
vm_check "homi_info_${fs}" sh -c "homi-info /mnt/t3/frag | tee /tmp/info | grep -q 'passthrough: usable' && grep -q 'passthru' /tmp/info"
vm_check "shared_${fs}_${secs}s" vm_passthru shared /mnt/t2 "$secs"
vm_check "big256M_${fs}" vm_passthru big /mnt/t4
for n in 1 2 3 4; do umount "/mnt/t$n" 2>/dev/null; done
vm_summary
