#!/usr/bin/env bash
# build.sh - builds libhomi_mpiio against the MPI whose compiler wrapper is
# given (default mpicc), without CMake: for machines that run a carried or
# installed MPI (the GPU machine's Open MPI 4.1.6).  The collective engine
# (src/coll) is compiled in, libhomi is linked from HOMI_BUILD/src (rpath).
#
#   mpiio-pmpi/build.sh HOMI_BUILD OUT.so [MPICC]
#
# CMake builds the same library per MPI flavour found (mpiio-pmpi/CMakeLists.txt).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:?usage: build.sh HOMI_BUILD OUT.so [MPICC]}" && pwd)
OUT=${2:?usage: build.sh HOMI_BUILD OUT.so [MPICC]}
MPICC=${3:-mpicc}
"$MPICC" -std=c11 -D_GNU_SOURCE -O2 -fPIC -shared -Wall -I"$ROOT/include" \
  -I"$ROOT/src/coll" -I"$ROOT/mpiio-pmpi" "$ROOT"/mpiio-pmpi/*.c "$ROOT"/src/coll/coll_*.c \
  -L"$BUILD/src" -lhomi -lpthread -ldl -Wl,-rpath,"$BUILD/src" -o "$OUT"
echo "build.sh: $OUT ($("$MPICC" --showme:version 2>/dev/null || "$MPICC" -v 2>&1 | head -1))"
