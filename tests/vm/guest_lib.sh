# guest_lib.sh - helpers for scripts that run inside the test VM (busybox sh):
# file systems on the emulated NVMe namespaces, a controller handed to
# vfio-pci, and per-test verdicts.
HOMI_VM_FAILS=0
HOMI_VM_PASSES=0

# vm_check NAME CMD...: run one in-guest test, print its verdict.
vm_check() {
  name=$1
  shift
  echo "=== $name: $*"
  if "$@"; then
    echo "HOMI-VM-TEST $name PASS"
    HOMI_VM_PASSES=$((HOMI_VM_PASSES + 1))
  else
    echo "HOMI-VM-TEST $name FAIL (exit $?)"
    HOMI_VM_FAILS=$((HOMI_VM_FAILS + 1))
  fi
}

# vm_summary: the line CTest's log shows, and the script's exit status.
vm_summary() {
  echo "$HOMI_VM_PASSES passed, $HOMI_VM_FAILS failed"
  [ "$HOMI_VM_FAILS" -eq 0 ]
}

# vm_partition DEV: one partition starting 3 MiB into DEV (so that the
# partition offset is not the usual 1 MiB), covering the rest.
vm_partition() {
  ss=$(blockdev --getss "$1")
  echo "start=$((3 * 1024 * 1024 / ss)), type=83" | sfdisk -q "$1" >/dev/null
  i=0
  while [ ! -e "${1}p1" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  [ -e "${1}p1" ]
}

# vm_bind_vfio BDF: take the PCI function BDF from its driver and bind it
# to vfio-pci (for delegation).
vm_bind_vfio() {
  [ -e /sys/bus/pci/devices/$1/driver ] && echo "$1" >/sys/bus/pci/devices/$1/driver/unbind
  echo vfio-pci >/sys/bus/pci/devices/$1/driver_override
  echo "$1" >/sys/bus/pci/drivers_probe
  drv=$(basename "$(readlink /sys/bus/pci/devices/$1/driver)")
  echo "$1: driver $drv, IOMMU group $(basename "$(readlink /sys/bus/pci/devices/$1/iommu_group)")"
  [ "$drv" = vfio-pci ]
}

# vm_subsys_fs: in the HOMI_VM_LAYOUT=subsys (or sriov) guest, find the
# heads of the namespaces (n1, n2: named after the controller that probed
# first, X = 0 or 1), then ext4 on a partition of n1 at /mnt/ext4 and xfs on
# n2 at /mnt/xfs; one verdict per step.
vm_subsys_fs() {
  n1=$(ls /dev/nvme[0-9]n1 2>/dev/null | head -1)
  n2=$(ls /dev/nvme[0-9]n2 2>/dev/null | head -1)
  echo "namespace heads: ${n1:-none} ${n2:-none}"
  vm_check "heads" test -n "$n1" -a -n "$n2"
  vm_check "partition_ext4" vm_partition "$n1"
  vm_check "mkfs_ext4" vm_mkfs ext4 "${n1}p1" /mnt/ext4
  vm_check "mkfs_xfs" vm_mkfs xfs "$n2" /mnt/xfs
}

# vm_user_files F_MIB H_MIB H_SEEK H_TAIL: for uid 1001 and 1002, on
# /mnt/ext4 and /mnt/xfs, a directory uUID only that user may enter, holding
# f (F_MIB MiB of random data) and h (H_MIB MiB of data, a hole, then H_TAIL
# blocks of 1000 bytes from block H_SEEK: an unaligned tail), both 0600.
vm_user_files() {
  for fs in ext4 xfs; do
    for u in 1001 1002; do
      d=/mnt/$fs/u$u
      mkdir -p $d
      dd if=/dev/urandom of=$d/f bs=1M count="$1" 2>/dev/null
      dd if=/dev/urandom of=$d/h bs=1M count="$2" 2>/dev/null
      dd if=/dev/urandom of=$d/h bs=1000 count="$4" seek="$3" conv=notrunc 2>/dev/null
      chown -R $u:$u $d
      chmod 700 $d
      chmod 600 $d/f $d/h
    done
  done
  sync
}

# vm_node_homid ARGS...: the node's homid (--node --runtime-dir /run/homi,
# log /tmp/node.log, pid file /tmp/node.pid, ARGS added) in the background,
# its pid in npid; true once it accepts clients (30 s at most).
vm_node_homid() {
  rm -f /tmp/node.pid
  mkdir -p /run
  homid --node --runtime-dir /run/homi --log /tmp/node.log --pidfile /tmp/node.pid "$@" &
  npid=$!
  i=0
  while [ ! -e /tmp/node.pid ] && [ $i -lt 300 ] && kill -0 $npid 2>/dev/null; do
    sleep 0.1
    i=$((i + 1))
  done
  [ -e /tmp/node.pid ]
}

# vm_mkfs FSTYPE DEV MOUNTPOINT
vm_mkfs() {
  case $1 in
  ext4) mkfs.ext4 -q -F "$2" >/dev/null ;;
  xfs) mkfs.xfs -q -f "$2" >/dev/null ;;
  *) echo "unknown fs $1"; return 1 ;;
  esac
  mkdir -p "$3" && mount -t "$1" "$2" "$3"
}
