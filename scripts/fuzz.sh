#!/usr/bin/env bash
# fuzz.sh - libFuzzer run of homid's protocol parser and checks
# (tests/fuzz/fuzz_proto.c over src/cplane/homid_proto.c) for a bounded
# time: clang -fsanitize=fuzzer,address,undefined, seeded with one valid
# record of every message type.
#   usage: scripts/fuzz.sh [SECONDS]   (default 60; HOMI_FUZZ_SECONDS too)
# Exits non-zero on a crash, leak or sanitizer report (the crashing input is
# left in build-fuzz/).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-${HOMI_FUZZ_SECONDS:-60}}
CC=${HOMI_FUZZ_CC:-$(command -v clang || command -v clang-14 || true)}
if [ -z "$CC" ]; then
  echo "fuzz.sh: clang not installed (apt-get install clang libclang-rt-14-dev)" >&2
  exit 1
fi
out=build-fuzz
mkdir -p "$out/corpus"
flags=(-std=c11 -D_GNU_SOURCE -g -O1 -Iinclude -Isrc -Wall -Wextra -Werror
       -fsanitize=address,undefined -fno-sanitize-recover=undefined)
"$CC" "${flags[@]}" -fsanitize=fuzzer -DHOMI_LIBFUZZER \
  tests/fuzz/fuzz_proto.c src/cplane/homid_proto.c src/cplane/homid_devq.c -o "$out/fuzz_proto"
# the same file without libFuzzer writes the seeds
"$CC" "${flags[@]}" tests/fuzz/fuzz_proto.c src/cplane/homid_proto.c src/cplane/homid_devq.c -o "$out/fuzz_proto_seeds"
"$out/fuzz_proto_seeds" --seeds "$out/corpus" >/dev/null
echo "== libFuzzer: homid protocol, ${secs} s"
cd "$out"
./fuzz_proto -max_total_time="$secs" -max_len=2048 -timeout=10 -rss_limit_mb=1024 \
  -print_final_stats=1 corpus 2>&1 | tail -n 25
