# guest_smoke.sh - boot check of the VM test bed (runs inside the guest).
. /homi/guest_lib.sh
vm_check devices test -c /dev/ng0n1 -a -b /dev/nvme0n2 -a -c /dev/ng0n4
vm_check partition vm_partition /dev/nvme0n4
vm_check mkfs_xfs vm_mkfs xfs /dev/nvme0n4p1 /mnt/x
vm_check mkfs_ext4 vm_mkfs ext4 /dev/nvme0n1 /mnt/e
cat /sys/block/nvme0n2/queue/logical_block_size /sys/block/nvme0n2/queue/max_hw_sectors_kb /sys/block/nvme0n2/queue/max_segments
vm_summary
