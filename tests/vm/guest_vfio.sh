# guest_vfio.sh SECS - runs inside the test VM with HOMI_VM_LAYOUT=subsys:
# ext4 (512 B LBAs, partition at 3 MiB) and xfs (4 KiB LBAs, whole
# namespace) on the subsystem's shared namespaces, mounted through the
# kernel's controller (0000:00:04.0; multipath heads /dev/nvmeXn1, n2); the
# second controller (0000:00:05.0) is unbound from nvme, bound to vfio-pci
# and driven by HOMI (vm_vfio) on each file system in turn.
. /homi/guest_lib.sh
secs=${1:-15}
deleg=0000:00:05.0
vm_subsys_fs
echo "iommu groups: $(ls /sys/kernel/iommu_groups | tr '\n' ' ')"
vm_check "bind_vfio" vm_bind_vfio $deleg
# the kernel keeps its path to both namespaces through the first controller
kernel_ctrl() {
  for c in /sys/class/nvme/nvme*; do echo "$(basename $c): $(basename "$(readlink $c/device)")"; done
  [ "$(ls /sys/class/nvme | wc -l)" -eq 1 ] && readlink /sys/class/nvme/nvme*/device | grep -q 0000:00:04.0 &&
    dd if="$n2" of=/dev/null bs=64k count=16 2>/dev/null
}
vm_check "kernel_path_kept" kernel_ctrl
vm_check "delegated_ext4" vm_vfio $deleg "$secs" /mnt/ext4
vm_check "delegated_xfs" vm_vfio $deleg "$secs" /mnt/xfs
umount /mnt/ext4 && umount /mnt/xfs
vm_check "umount_clean" sh -c "dmesg | grep -i -E 'I/O error|corrupt|EXT4-fs error|XFS.*(error|shutdown)' && exit 1 || exit 0"
vm_summary
