#!/usr/bin/env bash
# run-gpu.sh - `homi-bench --gpu` on the GPU machine: file -> GPU memory for
# 1 GiB and 8 GiB files, cached and cold O_DIRECT, HOMI against the ceilings
# and the naive / cuFile baselines, recorded under bench/results/.
#
#   bench/run-gpu.sh [PATH/TO/homi-bench [OUTDIR]] [-- extra homi-bench --gpu options]
#
# Run from the repository root.  Builds nothing: $1 is an already built
# homi-bench with CUDA (default ./build/tools/homi-bench), $2 the output
# directory (default bench/results).  Before the run it
#   - writes udev data for the block device of $DIR's file system when it is
#     missing (/run/udev/data/b<major>:<minor> with E:ID_FS_USAGE=filesystem
#     and E:ID_FS_TYPE=<fstype>): libcufile refuses to register files
#     ("udev property not found: ID_FS_USAGE") without it (needs root;
#     UDEV=0 skips this);
#   - finds libcufile ($HOMI_CUFILE_LIB, else the first libcufile.so* on the
#     machine, e.g. from the nvidia-cufile Python wheel) and exports
#     HOMI_CUFILE_LIB; without one the cufile rows say n/a.
# Writes <OUTDIR>/<date>-gpu-<hostname>.txt (full output), .csv and .md
# (machine, table, acceptance lines); a rerun on the same day overwrites them.
#
# Environment knobs (defaults keep the run under ~7 minutes on a 16-core H100
# machine with a ~1.6 GB/s disk):
#   DIR              where the data files live        (/var/tmp)
#   SIZES            data files                       (1G,8G)
#   BLOCKS           request sizes                    (64K,1M,16M,64M)
#   MODES            cached,direct                    (cached,direct)
#   ITERS            timed runs per method            (2)
#   DIRECT_BLOCKS    request sizes, direct mode, files >= DIRECT_MIN_SIZE (16M,64M)
#   DIRECT_ITERS     timed runs there                 (1)
#   DIRECT_MIN_SIZE  what counts as a large file      (8G)
#   RUN_CAP          seconds after which a naive/cufile run stops (8; 0 = never)
#   UDEV             1 = write missing udev data for cuFile (1)
#   UDEV_DIR         where udev keeps it              (/run/udev/data)
#   TAG              names a variant: <date>-gpu-<TAG>-<hostname>.*
set -euo pipefail

bench=./build/tools/homi-bench
outdir=bench/results
if [[ $# -gt 0 && $1 != -- ]]; then bench=$1; shift; fi
if [[ $# -gt 0 && $1 != -- ]]; then outdir=$1; shift; fi
[[ ${1:-} == -- ]] && shift
extra=("$@")

DIR=${DIR:-/var/tmp}
SIZES=${SIZES:-1G,8G}
BLOCKS=${BLOCKS:-64K,1M,16M,64M}
MODES=${MODES:-cached,direct}
ITERS=${ITERS:-2}
DIRECT_BLOCKS=${DIRECT_BLOCKS:-16M,64M}
DIRECT_ITERS=${DIRECT_ITERS:-1}
DIRECT_MIN_SIZE=${DIRECT_MIN_SIZE:-8G}
RUN_CAP=${RUN_CAP:-8}
UDEV=${UDEV:-1}
UDEV_DIR=${UDEV_DIR:-/run/udev/data}
TAG=${TAG:-}

say() { echo "run-gpu.sh: $*" >&2; }

if [[ ! -x $bench ]]; then
    say "$bench is not an executable homi-bench (build it first, or pass its path)"
    exit 2
fi
mkdir -p "$outdir" "$DIR"
host=$(hostname -s 2>/dev/null || hostname)
day=$(date +%F)
base="$outdir/$day-gpu-${TAG:+$TAG-}$host"
txt=$base.txt csv=$base.csv md=$base.md
t_start=$(date +%s)

# ---- udev data for libcufile (compat mode needs ID_FS_USAGE / ID_FS_TYPE)
fstype=$(findmnt -no FSTYPE -T "$DIR" 2>/dev/null | head -1 || true)
fssrc=$(findmnt -no SOURCE -T "$DIR" 2>/dev/null | head -1 || true)
majmin=$(findmnt -no MAJ:MIN -T "$DIR" 2>/dev/null | head -1 | tr -d ' ' || true)
if [[ -z $majmin ]]; then
    dev=$(stat -c %d "$DIR")
    majmin="$(( ((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfff) )):$(( (dev & 0xff) | ((dev >> 12) & ~0xff) ))"
fi
[[ -z $fstype ]] && fstype=$(stat -f -c %T "$DIR" 2>/dev/null || echo unknown)
udev_note="not touched (UDEV=0)"
if [[ $UDEV == 1 ]]; then
    udevf=$UDEV_DIR/b$majmin
    if [[ ${majmin%%:*} == 0 ]]; then
        udev_note="$DIR is on $fstype ($fssrc), no block device: cuFile will likely refuse to register files"
        say "warning: $udev_note"
    elif [[ -f $udevf ]] && grep -q '^E:ID_FS_USAGE=' "$udevf" && grep -q '^E:ID_FS_TYPE=' "$udevf"; then
        udev_note="$udevf already has ID_FS_USAGE and ID_FS_TYPE"
    elif mkdir -p "$UDEV_DIR" 2>/dev/null && touch "$udevf" 2>/dev/null; then
        grep -q '^E:ID_FS_USAGE=' "$udevf" || echo "E:ID_FS_USAGE=filesystem" >> "$udevf"
        grep -q '^E:ID_FS_TYPE=' "$udevf" || echo "E:ID_FS_TYPE=$fstype" >> "$udevf"
        udev_note="wrote ID_FS_USAGE=filesystem, ID_FS_TYPE=$fstype to $udevf ($fssrc)"
        say "$udev_note"
    else
        udev_note="cannot write $udevf (not root?): cuFile may refuse to register files"
        say "warning: $udev_note"
    fi
fi

# ---- libcufile
if [[ -n ${HOMI_CUFILE_LIB:-} && ! -e $HOMI_CUFILE_LIB ]]; then
    say "warning: HOMI_CUFILE_LIB=$HOMI_CUFILE_LIB does not exist; searching"
    unset HOMI_CUFILE_LIB
fi
if [[ -z ${HOMI_CUFILE_LIB:-} ]]; then
    lib=$( (ldconfig -p 2>/dev/null | awk '/libcufile\.so/ {print $NF}';
            ls /usr/local/cuda*/lib64/libcufile.so* /usr/local/cuda*/targets/*/lib/libcufile.so* 2>/dev/null) |
           head -1 || true)
    if [[ -z $lib ]]; then
        say "searching / for libcufile.so* (set HOMI_CUFILE_LIB to skip this)"
        lib=$(timeout 120 find / \( -path /proc -o -path /sys -o -path /dev \) -prune -o \
                  -name 'libcufile.so*' -print 2>/dev/null | head -1 || true)
    fi
    if [[ -n $lib ]]; then export HOMI_CUFILE_LIB=$lib; fi
fi
if [[ -n ${HOMI_CUFILE_LIB:-} ]]; then
    say "libcufile: $HOMI_CUFILE_LIB"
else
    say "warning: no libcufile found: the cufile rows will say n/a"
fi
cflog=$(mktemp /tmp/homi-bench-cufile.XXXXXX.log)
export CUFILE_LOGFILE_PATH=$cflog
trap 'rm -f "$cflog"' EXIT

# ---- the run
rm -f "$csv"
cmd=("$bench" --gpu --dir "$DIR" --sizes "$SIZES" --blocks "$BLOCKS" --modes "$MODES"
     --iters "$ITERS" --direct-blocks "$DIRECT_BLOCKS" --direct-iters "$DIRECT_ITERS"
     --direct-min-size "$DIRECT_MIN_SIZE" --run-cap "$RUN_CAP" --csv "$csv" "${extra[@]}")
say "+ ${cmd[*]}"
set +e
"${cmd[@]}" 2>&1 | tee "$txt"
rc=${PIPESTATUS[0]}
set -e
secs=$(( $(date +%s) - t_start ))
if [[ $rc -ne 0 ]]; then
    [[ $rc -eq 77 ]] && say "no usable CUDA device here (exit 77)"
    say "homi-bench failed (exit $rc) after ${secs}s; output kept in $txt, no .md written"
    exit "$rc"
fi

# ---- machine description
cpu=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)
mem=$(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)
disk=""
if [[ -n $fssrc && -b $fssrc ]]; then
    pk=$(lsblk -no PKNAME "$fssrc" 2>/dev/null | head -1 || true)
    name=${pk:-$(basename "$fssrc")}
    disk=$(lsblk -dno NAME,SIZE,ROTA,MODEL "/dev/$name" 2>/dev/null |
           awk '{r=$3=="1"?"rotational":"non-rotational"; $3=r; print}' || true)
fi
gpuinfo=$(nvidia-smi --query-gpu=name,memory.total,driver_version,pcie.link.gen.current,pcie.link.width.current \
          --format=csv,noheader 2>/dev/null | head -1 || true)
nvfs=absent
[[ -e /proc/driver/nvidia-fs/version ]] && nvfs="present ($(head -1 /proc/driver/nvidia-fs/version))"
hdr() { grep -m1 "^$1" "$txt" | sed "s/^$1 *//" || true; }

{
    echo "# HOMI file -> GPU benchmark — $host, $day${TAG:+ ($TAG)}"
    echo
    echo "Recorded by \`bench/run-gpu.sh\` in ${secs} s (see \`bench/README.md\`, section"
    echo "\"GPU benchmark\", for what each method measures)."
    echo
    echo "## Machine"
    echo
    echo "| | |"
    echo "| --- | --- |"
    echo "| host | $host |"
    echo "| CPU | $cpu, nproc $(nproc) |"
    echo "| memory | $mem |"
    echo "| kernel | $(uname -srm) |"
    echo "| GPU | $(hdr 'gpu:') |"
    [[ -n $gpuinfo ]] && echo "| nvidia-smi | $gpuinfo |"
    echo "| file system | $fstype ($fssrc, $majmin) for $DIR |"
    [[ -n $disk ]] && echo "| disk | $disk |"
    echo "| nvidia-fs | $nvfs |"
    echo "| libcufile | ${HOMI_CUFILE_LIB:-not found} |"
    echo "| udev data | $udev_note |"
    echo "| HOMI | $(hdr 'homi:') |"
    echo "| cuFile baseline | $(hdr 'cufile baseline:') |"
    echo "| date | $(date -Iseconds) |"
    echo
    echo "## Run"
    echo
    echo '```'
    echo "${cmd[*]}"
    echo '```'
    echo
    grep '^file:\|^run:' "$txt" | sed 's/^/- /' || true
    echo
    echo "## Results"
    echo
    echo "| mode | file | request | method | GB/s best | GB/s mean | vs ceiling | vs naive | vs cufile | path | runs |"
    echo "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |"
    awk '
    function parse(line,   n, i, ch, f, q) {
        n = 0; f = ""; q = 0
        for (i = 1; i <= length(line); i++) {
            ch = substr(line, i, 1)
            if (q) {
                if (ch == "\"") { if (substr(line, i + 1, 1) == "\"") { f = f "\""; i++ } else q = 0 }
                else f = f ch
            } else if (ch == "\"") q = 1
            else if (ch == ",") { F[++n] = f; f = "" }
            else f = f ch
        }
        F[++n] = f
        return n
    }
    function hsize(b) {
        if (b == 0) return "-"
        if (b % 1073741824 == 0) return (b / 1073741824) "G"
        if (b % 1048576 == 0) return (b / 1048576) "M"
        if (b % 1024 == 0) return (b / 1024) "K"
        return b
    }
    function num(v, fmt) { return v == "" ? "-" : sprintf(fmt, v) }
    NR > 1 {
        parse($0)
        best = F[5] == "" ? "n/a" : sprintf("%.2f%s", F[5], F[12] == "1" ? "*" : "")
        mean = F[6] == "" ? "n/a" : sprintf("%.2f", F[6])
        path = F[10]; if (path == "n/a" && F[24] != "") path = "n/a: " F[24]
        gsub(/\|/, "\\|", path)
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", F[1], hsize(F[2]), hsize(F[3]),
               F[4], best, mean, num(F[7], "%.2fx"), num(F[8], "%.2fx"), num(F[9], "%.2fx"), path, F[11]
    }' "$csv"
    echo
    echo "GB = 10^9 bytes; each timed run includes open/close. Ceilings: \`h2d-pinned\` (pinned"
    echo "host -> GPU copy), \`pagecache-pin\` / \`odirect-pin\` (all host threads reading the file into"
    echo "pinned memory, cached / O_DIRECT). vs ceiling = best GB/s over min(h2d-pinned, the mode's"
    echo "host ceiling at the same request size); vs naive / vs cufile = over theirs at the same"
    echo "request size. \`*\`: a naive/cufile run stopped at --run-cap ${RUN_CAP}s and is rated by"
    echo "the bytes it read."
    echo
    echo "## Acceptance (issue 3)"
    echo
    grep '^goal\|^direct mode:' "$txt" | sed 's/^/- /' || true
    echo
    echo "## Full output"
    echo
    echo '```'
    cat "$txt"
    echo '```'
    if [[ -s $cflog ]]; then
        echo
        echo "## cuFile log (last 30 lines)"
        echo
        echo '```'
        tail -30 "$cflog"
        echo '```'
    fi
} > "$md"

say "wrote $md, $csv and $txt (${secs}s)"
