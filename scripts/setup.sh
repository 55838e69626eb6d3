#!/usr/bin/env bash
# setup.sh - the first README command: install dependencies, build HOMI
# (Release) into ./build, then run the main job on its built-in default:
# create a 1 GiB sample dataset on local disk (/var/tmp), read it back
# through HOMI, verify it, and print which path served how many bytes and
# the throughput next to the baselines.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
./build/tools/homi-bench "$@"
