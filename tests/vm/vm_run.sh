#!/usr/bin/env bash
# vm_run.sh - boot the distribution kernel in QEMU with an emulated NVMe
# controller and run a test script inside it; the guest's verdict becomes
# this script's exit status (0 pass, 1 fail, 77 skip: QEMU/kernel missing).
#
# usage: vm_run.sh NAME GUEST_SCRIPT [ARGS...] -- PROGRAM...
#   NAME          test name (log file prefix)
#   GUEST_SCRIPT  shell script run by the guest's /init as
#                 `sh /homi/GUEST_SCRIPT ARGS...`, with PROGRAM... copied
#                 to /homi/bin (their shared libraries to /lib, /usr/lib)
#
# The controller (serial homi-vm) has four namespaces on sparse images:
#   nsid 1: 512 B LBAs   nsid 2: 4 KiB LBAs   (used as whole disks)
#   nsid 3: 512 B LBAs   nsid 4: 4 KiB LBAs   (the guest partitions them)
# HOMI_VM_LAYOUT=subsys (issue 10) gives instead a q35 machine with a
# virtual IOMMU (intel-iommu, guest intel_iommu=on) and an NVMe subsystem
# (nvme-subsys, nqn homi-subsys) whose two controllers share its namespaces:
#   controller at PCI 0000:00:04.0 : stays with the kernel nvme driver
#   controller at PCI 0000:00:05.0 : for delegation (the guest binds it to vfio-pci)
# (QEMU gives the controllers of a subsystem one serial, homi-subsys)
#   nsid 1: 512 B LBAs   nsid 2: 4 KiB LBAs   (shared: the kernel sees one
#   multipath head /dev/nvmeXnY per namespace; X is the instance of the
#   controller that probed first, 0 or 1)
# and the vfio / vfio_iommu_type1 / vfio-pci modules in the initramfs.
# HOMI_VM_LAYOUT=sriov: the same, but one SR-IOV capable controller
# (0000:00:04.0, sriov_max_vfs=1; the guest creates VF 0000:00:04.1).
# Environment:
#   HOMI_VM_LAYOUT   single (default) | subsys | sriov
#   HOMI_VM_ACCEL    tcg (default) | kvm
#   HOMI_VM_TIMEOUT  seconds before the guest is killed (default 600)
#   HOMI_VM_MEM      guest memory, MiB (default 2048)
#   HOMI_VM_NS_SIZE  namespace size, MiB (default 1024)
#   HOMI_VM_CACHE    kernel cache (default /var/cache/homi/vm)
#   HOMI_VM_KEEP=1   keep the work directory (images, initramfs, console log)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
name=$1 script=$2
shift 2
gargs=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do gargs+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
progs=("$@")

skip() { echo "SKIP: $*"; exit 77; }
qemu=$(command -v qemu-system-x86_64 || true)
[ -n "$qemu" ] || skip "qemu-system-x86_64 not installed (apt-get install qemu-system-x86)"
[ -x /bin/busybox ] || skip "busybox-static not installed"
command -v cpio >/dev/null || skip "cpio not installed"
command -v modprobe >/dev/null || skip "kmod not installed"
kdir=$(bash "$here/vm_kernel.sh") || skip "no guest kernel (see vm_kernel.sh)"
kver=$(ls "$kdir/lib/modules")
vmlinuz=$(ls "$kdir"/boot/vmlinuz-*)

work=$(mktemp -d "${TMPDIR:-/tmp}/homi-vm-$name.XXXXXX")
cleanup() {
  [ -n "${qpid:-}" ] && kill "$qpid" 2>/dev/null || true
  if [ "${HOMI_VM_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
root=$work/root
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,mnt,homi/bin,homi/lib,lib64,etc}

# --- programs and their libraries (host binaries: same distribution)
copy_elf() { # copy $1 to $2 and every library ldd names (to the same path)
  local src=$1 dst=$2
  mkdir -p "$(dirname "$dst")"
  cp -L "$src" "$dst"
  local libs
  libs=$(ldd "$src" 2>/dev/null | awk '/=> \// {print $3} /^\t\/lib/ {print $1}' || true)
  for lib in $libs; do
    [ -e "$root$lib" ] && continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
    # libraries from build trees (anywhere, /tmp included) also go to
    # /homi/lib, which the guest puts first on the loader path
    case $lib in /lib/* | /usr/lib/* | /lib64/*) ;; *) cp -L "$lib" "$root/homi/lib/" ;; esac
  done
}
# --- busybox and its applets
copy_elf /bin/busybox "$root/bin/busybox"
for a in sh ash mount umount insmod mkdir cat echo ls sleep poweroff sync dd cmp head tail \
         grep sed awk tr wc stat rm cp mv seq date uname dmesg timeout kill ps true false \
         test expr printf mknod ln blockdev readlink basename find; do
  ln -sf busybox "$root/bin/$a"
done

for t in mkfs.ext4 mkfs.xfs sfdisk xfs_io; do
  p=$(command -v "$t" || true)
  [ -n "$p" ] || skip "$t not installed (e2fsprogs, xfsprogs, fdisk)"
  copy_elf "$p" "$root/sbin/$t"
done
for p in "${progs[@]}"; do copy_elf "$p" "$root/homi/bin/$(basename "$p")"; done
cp "$here/$script" "$root/homi/$script"
cp "$here/guest_lib.sh" "$root/homi/guest_lib.sh"
# mke2fs reads its defaults from /etc/mke2fs.conf
[ -f /etc/mke2fs.conf ] && cp /etc/mke2fs.conf "$root/etc/"

layout=${HOMI_VM_LAYOUT:-single}
case $layout in
single) mods=(crc32c_generic crc32c-intel nvme ext4 xfs) waitdev=/dev/ng0n4 ;;
subsys) mods=(crc32c_generic crc32c-intel nvme ext4 xfs vfio vfio_iommu_type1 vfio-pci)
        waitdev='/dev/ng[0-9]n2' ;; # the head's name follows the controller that probed first
sriov) mods=(crc32c_generic crc32c-intel nvme ext4 xfs vfio vfio_iommu_type1 vfio-pci)
       waitdev='/dev/ng0n2' ;;
*) echo "HOMI_VM_LAYOUT must be single, subsys or sriov" >&2; exit 1 ;;
esac
# the delegation layouts need the guest kernel's vfio modules
if [ "$layout" != single ]; then
  for m in vfio vfio_iommu_type1 vfio-pci; do
    modprobe -d "$kdir" -S "$kver" --show-depends "$m" >/dev/null 2>&1 ||
      skip "guest kernel $kver has no $m module"
  done
fi
# --- kernel modules, in load order
modlist=$root/homi/modules
: >"$modlist"
for m in "${mods[@]}"; do
  modprobe -d "$kdir" -S "$kver" --show-depends "$m" 2>/dev/null | awk '$1=="insmod" {print $2}'
done | awk '!seen[$0]++' | while read -r ko; do
  rel=${ko#"$kdir"}
  mkdir -p "$root$(dirname "$rel")"
  cp "$ko" "$root$rel"
  echo "$rel" >>"$modlist"
done

# --- /init
cat >"$root/init" <<INIT
#!/bin/sh
export PATH=/bin:/sbin:/homi/bin
export LD_LIBRARY_PATH=/homi/lib
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r ko; do insmod "\$ko" 2>/dev/null || echo "insmod \$ko failed"; done </homi/modules
i=0
while ! ls $waitdev >/dev/null 2>&1 && [ \$i -lt 200 ]; do sleep 0.1; i=\$((i+1)); done
ls /dev/nvme* /dev/ng* | tr '\n' ' '; echo
cd /homi
sh /homi/$script ${gargs[*]}
rc=\$?
sync
echo "HOMI-VM-EXIT \$rc"
poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet) >"$work/initrd"

# --- NVMe namespaces (sparse) and the controller(s)
size=${HOMI_VM_NS_SIZE:-1024}
qns=()
i=1
if [ "$layout" = single ]; then
  machine=(-device nvme,id=nvme0,serial=homi-vm,mdts=7)
  lbss=(512 4096 512 4096)
  nsopt=
  kopt=
elif [ "$layout" = sriov ]; then
  # one physical function that can create one VF: 8 I/O queue pairs, of
  # which 4 VQ and 1 VI are flexible (for secondary controllers)
  machine=(-machine q35 -device intel-iommu
           -device nvme-subsys,id=subsys0,nqn=homi-subsys
           -device "nvme,id=nvme0,serial=homi-subsys,subsys=subsys0,mdts=7,addr=04.0,sriov_max_vfs=1,sriov_vq_flexible=4,sriov_vi_flexible=1,max_ioqpairs=8,msix_qsize=4")
  lbss=(512 4096)
  nsopt=,shared=on
  kopt=" intel_iommu=on"
else
  # the IOMMU comes before the devices it translates for
  machine=(-machine q35 -device intel-iommu
           -device nvme-subsys,id=subsys0,nqn=homi-subsys
           -device nvme,id=nvme0,serial=homi-subsys,subsys=subsys0,mdts=7,addr=04.0
           -device nvme,id=nvme1,serial=homi-subsys,subsys=subsys0,mdts=7,addr=05.0)
  lbss=(512 4096)
  nsopt=,shared=on
  kopt=" intel_iommu=on"
fi
for lbs in "${lbss[@]}"; do
  truncate -s "${size}M" "$work/ns$i.img"
  qns+=(-drive "file=$work/ns$i.img,if=none,id=d$i,format=raw,cache=writeback"
        -device "nvme-ns,drive=d$i,bus=nvme0,nsid=$i,logical_block_size=$lbs,physical_block_size=$lbs$nsopt")
  i=$((i + 1))
done

# TCG by default: it needs no KVM, and nested KVM on CI hosts was seen to
# hang in early boot.
accel=${HOMI_VM_ACCEL:-tcg}
case $accel in
kvm) accel_args=(-accel kvm -cpu host) ;;
tcg) accel_args=(-accel tcg -cpu max) ;;
*) echo "HOMI_VM_ACCEL must be tcg or kvm" >&2; exit 1 ;;
esac
log=$work/console.log
: >"$log"
echo "vm_run: $name: layout $layout, kernel $kver, accel ${accel_args[*]}, $(du -sh "$work/initrd" | cut -f1) initramfs"
start=$(date +%s)
"$qemu" "${accel_args[@]}" -smp 2 -m "${HOMI_VM_MEM:-2048}" -nographic -no-reboot \
  -kernel "$vmlinuz" -initrd "$work/initrd" \
  -append "console=ttyS0 panic=-1 quiet loglevel=3 nvme.io_queue_depth=256$kopt" \
  "${machine[@]}" "${qns[@]}" \
  -nic none -serial "file:$log" -monitor none -display none </dev/null &
qpid=$!
tmo=${HOMI_VM_TIMEOUT:-600}
shown=0
while kill -0 "$qpid" 2>/dev/null; do
  if [ $(($(date +%s) - start)) -gt "$tmo" ]; then
    echo "vm_run: $name: guest timed out after ${tmo}s" >&2
    kill "$qpid"
    break
  fi
  # stream the console while waiting
  n=$(wc -l <"$log" 2>/dev/null || echo 0)
  if [ "$n" -gt "$shown" ]; then sed -n "$((shown + 1)),${n}p" "$log" | tr -d '\r'; shown=$n; fi
  sleep 0.5
done
wait "$qpid" 2>/dev/null || true
qpid=
n=$(wc -l <"$log")
[ "$n" -gt "$shown" ] && sed -n "$((shown + 1)),${n}p" "$log" | tr -d '\r'
echo "vm_run: $name: guest ran $(($(date +%s) - start)) s"
rc=$(tr -d '\r' <"$log" | awk '/^HOMI-VM-EXIT/ {print $2}' | tail -1)
if [ -z "$rc" ]; then
  echo "vm_run: $name: no verdict from the guest (crash or timeout); console: $log" >&2
  HOMI_VM_KEEP=1
  exit 1
fi
exit "$rc"
