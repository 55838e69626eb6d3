#!/usr/bin/env bash
# vm_kernel.sh - the guest kernel of the VM test bed: Debian's own kernel
# package, downloaded with apt and unpacked with dpkg -x (never installed),
# cached outside the source tree.  Prints the cache directory of the
# unpacked kernel (boot/vmlinuz-*, lib/modules/<ver>/ with modules.dep).
#
#   HOMI_VM_CACHE   cache root (default /var/cache/homi/vm)
#   HOMI_VM_KPKG    kernel package (default: what linux-image-amd64 depends on)
set -euo pipefail
cache=${HOMI_VM_CACHE:-/var/cache/homi/vm}
mkdir -p "$cache"

pkg=${HOMI_VM_KPKG:-}
if [ -z "$pkg" ]; then
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
fi
if [ -z "$pkg" ]; then
  # no package lists: use the newest kernel already unpacked in the cache
  kdir=$(ls -d "$cache"/kernel-linux-image-* 2>/dev/null | sort -V | tail -1 || true)
  [ -n "$kdir" ] && [ -f "$kdir/.ready" ] && { echo "$kdir"; exit 0; }
  echo "vm_kernel: cannot resolve linux-image-amd64 (run apt-get update)" >&2
  exit 1
fi
kdir=$cache/kernel-$pkg
if [ ! -f "$kdir/.ready" ]; then
  echo "vm_kernel: fetching and unpacking $pkg into $kdir" >&2
  tmp=$(mktemp -d "$cache/dl.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && apt-get download "$pkg" >&2)
  rm -rf "$kdir"
  mkdir -p "$kdir"
  dpkg -x "$tmp"/"$pkg"_*.deb "$kdir"
  ver=$(ls "$kdir/lib/modules")
  depmod -b "$kdir" "$ver"
  touch "$kdir/.ready"
fi
echo "$kdir"
