#!/usr/bin/env bash
# run-kernel-path.sh - HOMI kernel path vs plain-POSIX baselines on a 4 GiB
# file, cached and direct modes, recorded under bench/results/.
#
#   bench/run-kernel-path.sh [PATH/TO/homi-bench] [-- extra homi-bench options]
#
# Builds nothing: it runs an already built homi-bench (default
# ./build/tools/homi-bench).  Environment knobs:
#   FILE   data file        (default /var/tmp/homi-bench-4g.dat)
#   SIZE   its size         (default 4G; the file is (re)created when its size differs)
#   BLOCK  request size     (default 16M)
#   ITERS  runs per method  (default 5; virtual machines are noisy)
#   VERIFY 1 = compare HOMI's bytes with pread after the timed runs (default 1)
#   KEEP   1 = keep the data file afterwards (default 1: reruns skip creation)
#   TAG    names a variant run: <date>-kernel-path-<TAG>-<hostname>.* (e.g. TAG=thp ... -- --thp)
# Writes bench/results/<date>-kernel-path-<hostname>.md and .csv
# (a second run on the same day and host overwrites them).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bench=./build/tools/homi-bench
if [[ $# -gt 0 && $1 != -- ]]; then bench=$1; shift; fi
[[ ${1:-} == -- ]] && shift
extra=("$@")

FILE=${FILE:-/var/tmp/homi-bench-4g.dat}
SIZE=${SIZE:-4G}
BLOCK=${BLOCK:-16M}
ITERS=${ITERS:-5}
VERIFY=${VERIFY:-1}
KEEP=${KEEP:-1}
TAG=${TAG:-}

if [[ ! -x $bench ]]; then
    echo "run-kernel-path.sh: $bench is not an executable homi-bench (build it first, or pass its path)" >&2
    exit 2
fi

to_bytes() { # 4G -> 4294967296
    local v=${1%[iI][bB]}; v=${v%[bB]}
    case $v in
        *[kK]) echo $(( ${v%?} << 10 )) ;;
        *[mM]) echo $(( ${v%?} << 20 )) ;;
        *[gG]) echo $(( ${v%?} << 30 )) ;;
        *[tT]) echo $(( ${v%?} << 40 )) ;;
        *) echo $(( v )) ;;
    esac
}
want=$(to_bytes "$SIZE")
create=()
if [[ ! -f $FILE ]] || [[ $(stat -c %s "$FILE") -ne $want ]]; then create=(--create); fi
verify=(--no-verify); [[ $VERIFY == 1 ]] && verify=(--verify)

host=$(hostname -s 2>/dev/null || hostname)
day=$(date +%F)
mkdir -p "$here/results"
base="$here/results/$day-kernel-path-${TAG:+$TAG-}$host"
md=$base.md csv=$base.csv log=$(mktemp) csvtmp=$(mktemp)
trap 'rm -f "$log" "$csvtmp"' EXIT

cmd=("$bench" --size "$SIZE" "${create[@]}" --block "$BLOCK" --iters "$ITERS" --mode both
     "${verify[@]}" --verbose --csv "$csvtmp" "${extra[@]}" "$FILE")
echo "+ ${cmd[*]}" >&2
set +e
"${cmd[@]}" 2>&1 | tee "$log"   # --verbose: every timed run is logged (stderr)
rc=${PIPESTATUS[0]}
set -e
if [[ $rc -ne 0 ]]; then
    echo "run-kernel-path.sh: homi-bench failed (exit $rc); nothing recorded" >&2
    exit "$rc"
fi
cat "$csvtmp" > "$csv"   # not cp: keep the umask mode, not mktemp's 0600

# ---- machine description
cpu=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)
[[ -z $cpu ]] && cpu=$(awk -F': *' '/^(Hardware|cpu model|uarch)/ {print $2; exit}' /proc/cpuinfo)
mem=$(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)
fs=$(findmnt -no FSTYPE,SOURCE,TARGET -T "$FILE" 2>/dev/null | awk 'NR==1 {print $1 " (" $2 " on " $3 ")"}' || true)
[[ -z $fs ]] && fs=$(df -T "$FILE" | awk 'NR==2 {print $2 " (" $1 " on " $7 ")"}')
dev=$(findmnt -no SOURCE -T "$FILE" 2>/dev/null | head -1 || true)
disk=""
if [[ -n $dev && -b $dev ]]; then
    pk=$(lsblk -no PKNAME "$dev" 2>/dev/null | head -1 || true)
    name=${pk:-$(basename "$dev")}
    disk=$(lsblk -dno NAME,SIZE,ROTA,MODEL "/dev/$name" 2>/dev/null | awk '{r=$3=="1"?"rotational":"non-rotational"; $3=r; print}' || true)
    sched=$(cat "/sys/block/$name/queue/scheduler" 2>/dev/null || true)
    ra=$(cat "/sys/block/$name/queue/read_ahead_kb" 2>/dev/null || true)
    [[ -n $sched ]] && disk="$disk; scheduler $sched; read_ahead_kb $ra"
fi
ver=$(awk -F, 'NR==2 {print $14}' "$csv")

{
    echo "# HOMI kernel path vs baselines — $host, $day${TAG:+ ($TAG)}"
    echo
    echo "Recorded by \`bench/run-kernel-path.sh\` (see \`bench/README.md\` for what each method measures)."
    echo
    echo "## Machine"
    echo
    echo "| | |"
    echo "| --- | --- |"
    echo "| host | $host |"
    echo "| nproc | $(nproc) |"
    echo "| CPU | $cpu |"
    echo "| memory | $mem |"
    echo "| kernel | $(uname -srm) |"
    echo "| file system | $fs |"
    [[ -n $disk ]] && echo "| disk | $disk |"
    echo "| date | $(date -Iseconds) |"
    echo "| HOMI | $ver |"
    echo
    echo "## Run"
    echo
    echo "File \`$FILE\`, $SIZE, block $BLOCK, $ITERS timed runs per method (best and mean), verify $([[ $VERIFY == 1 ]] && echo on || echo off)."
    echo
    echo '```'
    echo "${cmd[*]}" | sed "s|$csvtmp|$(basename "$csv")|"
    echo '```'
    echo
    echo "## Results"
    echo
    echo "| mode | method | GB/s (best) | GB/s (mean) | ratio vs best baseline | GB/s (median) | paired ratio | CPU s/GB |"
    echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    awk -F, 'NR>1 { r = ($5 == "") ? "-" : sprintf("%.2fx", $5); p = ($20 == "") ? "-" : sprintf("%.2fx", $20);
                    printf "| %s | %s | %.2f | %.2f | %s | %.2f | %s | %.3f |\n", $1, $2, $3, $4, r, $19, p, $11 }' "$csv"
    echo
    echo "GB = 10^9 bytes. Ratio = the method's best GB/s over the best GB/s of the best baseline of"
    echo "that mode (cached: \`pread\`; direct: the better of \`pread\` after a cache drop and \`dd-direct\`)."
    echo "Paired ratio = median over iterations of (the better baseline's time in that iteration / the"
    echo "method's time); the methods of one iteration run back to back, so drift of a shared host cancels."
    echo "Acceptance goal: \`homi\` >= 0.95x in both modes."
    echo
    grep '^goal' "$log" | sed 's/^/- /' || true
    echo
    echo "## Full output"
    echo
    echo '```'
    cat "$log"
    echo '```'
} > "$md"

if [[ $KEEP != 1 ]]; then rm -f "$FILE"; fi
echo "wrote $md and $csv" >&2
