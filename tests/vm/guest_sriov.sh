# guest_sriov.sh SECS - runs inside the test VM with HOMI_VM_LAYOUT=sriov:
# one SR-IOV capable controller (PF 0000:00:04.0) stays with the kernel and
# holds ext4 (512 B LBAs, partition at 3 MiB) and xfs (4 KiB LBAs); the
# control plane (vm_vfio --sriov) gives VF 1 queue and interrupt resources
# with Virtualization Management through the PF, brings it online and
# binds it to vfio-pci; then vm_vfio drives the VF on each file system.
. /homi/guest_lib.sh
secs=${1:-10}
ctrl=$(ls /sys/class/nvme | head -1)
echo "PF: $ctrl = $(basename "$(readlink /sys/class/nvme/$ctrl/device)")"
vm_check "sriov_setup" vm_vfio --sriov "$ctrl" /tmp/vf
vf=$(cat /tmp/vf 2>/dev/null)
echo "VF: ${vf:-none}, IOMMU group $(basename "$(readlink /sys/bus/pci/devices/$vf/iommu_group)")"
vm_subsys_fs
vm_check "vf_delegated_ext4" vm_vfio "$vf" "$secs" /mnt/ext4
vm_check "vf_delegated_xfs" vm_vfio "$vf" "$secs" /mnt/xfs
umount /mnt/ext4 && umount /mnt/xfs
vm_check "umount_clean" sh -c "dmesg | grep -i -E 'I/O error|corrupt|EXT4-fs error|XFS.*(error|shutdown)' && exit 1 || exit 0"
vm_summary
