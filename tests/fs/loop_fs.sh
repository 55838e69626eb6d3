#!/usr/bin/env bash
# loop_fs.sh FSTYPE BINARY [ARGS...]
#
# Make a fresh FSTYPE (ext4 or xfs) file system on a loop device backed by a
# sparse image file, mount it, run "BINARY [ARGS...] MOUNTPOINT", and tear
# everything down again (umount, losetup -d, rm) whatever happens.
#
# Exit status: BINARY's, or 77 (CTest SKIP_RETURN_CODE) with the reason on
# stdout when the test cannot run here: not root, no losetup/mkfs/mount, no
# free loop device, or the kernel refuses the mount (no such fs, no
# CAP_SYS_ADMIN in a container...).  Any other setup error exits 1.
#
# Environment:
#   HOMI_FS_IMAGE_MB   image size in MiB (default 512; xfs needs > 300)
#   HOMI_FS_TIMEOUT    seconds BINARY may run (default 150); it is killed
#                      after that so that the cleanup still runs before
#                      CTest's own TIMEOUT (which would SIGKILL us)
#   TMPDIR             where the image lives (default /tmp)
set -u

fstype=${1:-}
binary=${2:-}
if [[ -z "$fstype" || -z "$binary" ]]; then
    echo "usage: $0 ext4|xfs BINARY [ARGS...]" >&2
    exit 2
fi
shift 2

skip() { echo "SKIP: $*"; exit 77; }

[[ $(id -u) -eq 0 ]] || skip "needs root (loop devices, mkfs, mount)"

case "$fstype" in
    ext4) mkfs=(mkfs.ext4 -q -F) ;;
    xfs)  mkfs=(mkfs.xfs -q -f) ;;
    *)    echo "unsupported file system type '$fstype'" >&2; exit 2 ;;
esac
for tool in losetup mount umount "${mkfs[0]}"; do
    command -v "$tool" >/dev/null 2>&1 || skip "$tool not installed"
done
[[ -x "$binary" ]] || { echo "not executable: $binary" >&2; exit 1; }

image_mb=${HOMI_FS_IMAGE_MB:-512}
run_timeout=${HOMI_FS_TIMEOUT:-150}

work=$(mktemp -d "${TMPDIR:-/tmp}/homi-fs-$fstype.XXXXXX") || { echo "mktemp failed" >&2; exit 1; }
image="$work/image"
mnt="$work/mnt"
loopdev=""
mounted=0
child=""

cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    if [[ -n "$child" ]]; then
        kill -TERM "$child" 2>/dev/null
        wait "$child" 2>/dev/null
    fi
    if (( mounted )); then
        # a process still holding a file keeps the mount busy: retry, then lazy
        for _ in 1 2 3 4 5; do
            umount "$mnt" 2>/dev/null && { mounted=0; break; }
            sleep 0.5
        done
        (( mounted )) && umount -l "$mnt" 2>/dev/null
    fi
    [[ -n "$loopdev" ]] && losetup -d "$loopdev" 2>/dev/null
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

truncate -s "${image_mb}M" "$image" || { echo "cannot create $image" >&2; exit 1; }
mkdir "$mnt"

if ! loopdev=$(losetup -f --show "$image" 2>"$work/losetup.err"); then
    loopdev=""
    skip "losetup failed: $(cat "$work/losetup.err")"
fi
# in some containers losetup works but the device node is missing
[[ -b "$loopdev" ]] || skip "$loopdev is not a block device node here"
if ! "${mkfs[@]}" "$loopdev" >"$work/mkfs.log" 2>&1; then
    echo "mkfs on $loopdev failed:" >&2
    cat "$work/mkfs.log" >&2
    exit 1
fi
if ! mount -t "$fstype" "$loopdev" "$mnt" 2>"$work/mount.err"; then
    skip "mount -t $fstype $loopdev failed: $(cat "$work/mount.err")"
fi
mounted=1

echo "loop_fs: $fstype on $loopdev (${image_mb} MiB image in $work), mounted at $mnt"
# Run in the background and wait, so that a signal to this script runs the
# cleanup at once (bash defers traps while a foreground child runs); stop
# the binary after run_timeout so that the cleanup runs before CTest's
# TIMEOUT would SIGKILL us.
if command -v timeout >/dev/null 2>&1; then
    timeout --kill-after=10 "$run_timeout" "$binary" "$@" "$mnt" &
else
    "$binary" "$@" "$mnt" &
fi
child=$!
wait "$child"
rc=$?
child=""
if (( rc == 124 || rc == 137 )); then
    echo "loop_fs: $binary timed out after ${run_timeout}s" >&2
fi
exit "$rc"
