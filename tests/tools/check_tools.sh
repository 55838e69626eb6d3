#!/usr/bin/env bash
# check_tools.sh HOMI_INFO HOMI_BENCH DIR - runs homi-info and homi-bench on
# files in DIR (a loop-mounted ext4/xfs from loop_fs.sh, or a temp dir) and
# checks what they print: the extent map classes and path choices, the
# benchmark table, CSV rows and verification.
set -u
info=$1 bench=$2 dir=$3
fail=0
check() { # check DESCRIPTION PATTERN FILE
    if grep -Eq -- "$2" "$3"; then echo "ok   $1"; else echo "FAIL $1: no /$2/ in output:"; cat "$3"; fail=1; fi
}
f="$dir/homi-tools-sparse.dat"
truncate -s 64M "$f"
dd if=/dev/urandom of="$f" bs=1M count=2 seek=8 conv=notrunc status=none
fallocate -o 32M -l 4M "$f" 2>/dev/null || true
sync "$f"
"$info" --hints "$f" >"$dir/info.out" 2>&1 || { echo "FAIL homi-info exit $?"; cat "$dir/info.out"; fail=1; }
check "homi-info lists the kernel path" '^  kernel +available' "$dir/info.out"
check "homi-info lists configuration keys" 'homi_chunk_size' "$dir/info.out"
check "homi-info shows a hole served without I/O" 'hole +hole +hole: zeros without I/O' "$dir/info.out"
check "homi-info shows data read by the kernel path" ' data +kernel ' "$dir/info.out"
check "homi-info names the loop device / reason" 'raw LBA translation: ' "$dir/info.out"
if fallocate -o 0 -l 1 "$dir/.probe" 2>/dev/null; then
    check "homi-info classifies fallocated range" 'unwritten +kernel +unwritten extent' "$dir/info.out"
fi
rm -f "$dir/.probe"
"$info" /nonexistent/file >"$dir/info.err" 2>&1 && { echo "FAIL homi-info on a missing file exited 0"; fail=1; }
check "homi-info reports a missing file" 'No such file' "$dir/info.err"
"$info" --max x "$f" >"$dir/info.err" 2>&1; [ $? -eq 2 ] || { echo "FAIL homi-info --max x should exit 2"; fail=1; }

b="$dir/homi-tools-bench.dat"
"$bench" --size 48M --create --block 4M --iters 1 --mode both --verify --csv "$dir/bench.csv" "$b" \
    >"$dir/bench.out" 2>&1 || { echo "FAIL homi-bench exit $?"; cat "$dir/bench.out"; fail=1; }
check "homi-bench verified HOMI's bytes" 'verify: OK' "$dir/bench.out"
check "homi-bench table has cached homi row" '^cached +homi ' "$dir/bench.out"
check "homi-bench table has direct dd-direct row" '^direct +dd-direct ' "$dir/bench.out"
check "homi-bench prints the per-path summary" 'kernel +[0-9]+ bytes' "$dir/bench.out"
check "homi-bench wrote CSV rows" 'homi-async' "$dir/bench.csv"
"$bench" --block 0 "$b" >"$dir/bench.err" 2>&1; [ $? -eq 2 ] || { echo "FAIL homi-bench --block 0 should exit 2"; fail=1; }
rm -f "$f" "$b" "$dir"/info.out "$dir"/info.err "$dir"/bench.out "$dir"/bench.err "$dir"/bench.csv
[ $fail -eq 0 ] && echo "check_tools: all checks passed" || echo "check_tools: FAILED"
exit $fail
