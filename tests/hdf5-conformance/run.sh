#!/usr/bin/env bash
# run.sh - runs HDF5 1.14's own C test programs (its CTest tests, serial part:
# test/ and the plugin/shell tests) twice, with the default sec2 driver and
# with H5FD_homi loaded as a plugin (HDF5_DRIVER=homi, HDF5_PLUGIN_PATH), and
# checks the results against the committed expectation list.
#
#   run.sh --hdf5-build <dir> --plugin-dir <dir> --expected <expected.txt>
#          [--suite ci|full] [--out <dir>] [--drivers "sec2 homi"]
#
# expected.txt: one line per HDF5 test, "<name> <sec2> <homi> <ci|full> [reason]",
# status pass|fail|skip; a reason is required where homi differs from sec2
# or is not pass.  The 4th column says whether the test is in the CI subset
# (--suite ci) or only in the full run (--suite full).  The run fails when a test expected to pass does not,
# when a test is missing from the list, or when the driver was not loaded.
set -euo pipefail
H5BUILD="" PLUGIN="" EXPECTED="" SUITE=full OUT="" DRIVERS="sec2 homi"
while [ $# -gt 0 ]; do
  case "$1" in
    --hdf5-build) H5BUILD=$2; shift 2 ;;
    --plugin-dir) PLUGIN=$2; shift 2 ;;
    --expected) EXPECTED=$2; shift 2 ;;
    --suite) SUITE=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --drivers) DRIVERS=$2; shift 2 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
for v in H5BUILD PLUGIN EXPECTED; do
  [ -n "${!v}" ] || { echo "run.sh: --${v,,} missing" >&2; exit 2; }
done
[ -f "$H5BUILD/CTestTestfile.cmake" ] || { echo "run.sh: $H5BUILD is not an HDF5 build dir" >&2; exit 2; }
ls "$PLUGIN"/*.so >/dev/null 2>&1 || { echo "run.sh: no plugin library in $PLUGIN" >&2; exit 2; }
case "$SUITE" in ci | full) ;; *) echo "run.sh: --suite ci|full" >&2; exit 2 ;; esac
PLUGIN=$(cd "$PLUGIN" && pwd) # HDF5 resolves it from the tests' working directory
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
JOBS=${HOMI_HDF5_CONFORMANCE_JOBS:-2}
# a runaway test (one looping on an error) must not fill the disk: the run is
# stopped when HDF5's test directory holds more than this (allocated blocks;
# H5TEST-big's sparse files allocate little)
LIMIT_KB=$((${HOMI_HDF5_CONFORMANCE_DISK_GB:-16} * 1024 * 1024))
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

# the tests to run: the expectation list's names (all, or those marked ci);
# CTest adds each one's fixture (the *-clear-objects / *-clean-objects steps)
names=$(awk -v s="$SUITE" '!/^#/ && NF >= 3 && (s == "full" || $4 == "ci") {print $1}' "$EXPECTED")
[ -n "$names" ] || { echo "run.sh: no tests selected from $EXPECTED" >&2; exit 2; }
regex="^($(echo "$names" | sed 's/[.+]/\\&/g' | paste -sd'|'))\$"

# every serial HDF5 test must be in the list (a new HDF5 release adds tests)
fail=0
ctest --test-dir "$H5BUILD" -N | awk '/Test +#/{print $3}' |
  grep -v -e '^MPI_' -e '-clear-objects$' -e '-clean-objects$' >"$OUT/all-tests.txt"
while read -r t; do
  grep -q "^$t " "$EXPECTED" || { echo "run.sh: HDF5 test $t is not in $EXPECTED"; fail=1; }
done <"$OUT/all-tests.txt"

# The test directory lives in the shared HDF5 cache: one run at a time.
exec 9>"$H5BUILD/.homi-conformance.lock"
flock 9

# negative control: with the plugin directory empty, HDF5_DRIVER=homi must
# fail (proves the passes below went through the plugin, not sec2)
empty=$(mktemp -d)
if HDF5_DRIVER=homi HDF5_PLUGIN_PATH=$empty ctest --test-dir "$H5BUILD" -R '^H5TEST-lheap$' \
  --timeout 120 >"$OUT/negative-control.log" 2>&1; then
  echo "run.sh: HDF5_DRIVER=homi passed without the plugin: the driver is not being selected"
  exit 1
fi
rmdir "$empty"

run_driver() { # $1 = sec2 | homi
  local d=$1 t0=$SECONDS
  local -a envv=(env -u HDF5_DRIVER -u HDF5_TEST_DRIVER -u HDF5_PLUGIN_PATH)
  [ "$d" = homi ] && envv+=(HDF5_DRIVER=homi HDF5_PLUGIN_PATH="$PLUGIN")
  echo "== HDF5 tests with $d ($SUITE suite, -j$JOBS)"
  setsid "${envv[@]}" ctest --test-dir "$H5BUILD" -R "$regex" -j"$JOBS" --timeout 1800 \
    --output-on-failure >"$OUT/$d.log" 2>&1 &
  local cpid=$! used
  while kill -0 "$cpid" 2>/dev/null; do
    sleep 5
    used=$(du -sk "$H5BUILD/test" 2>/dev/null | cut -f1)
    if [ "${used:-0}" -gt "$LIMIT_KB" ]; then
      echo "run.sh: HDF5's test directory holds ${used} KiB (> $LIMIT_KB): stopping the $d run"
      kill -- -"$cpid" 2>/dev/null || true
      fail=1
    fi
  done
  wait "$cpid" || true
  # "  1/93 Test  #3: H5TEST-testhdf5-base .....   Passed   12.3 sec"
  sed -n 's/^ *[0-9]*\/[0-9]* Test *#[0-9]*: \([^ ]*\) .*\(Passed\|Failed\|Skipped\|Timeout\|Not Run\|Exception\).*/\1 \2/p' \
    "$OUT/$d.log" | grep -v -e '-clear-objects ' -e '-clean-objects ' |
    awk '{s = $2 == "Passed" ? "pass" : $2 == "Skipped" || $2 == "Not" ? "skip" : "fail"; print $1, s}' |
    sort >"$OUT/$d.txt"
  echo "   $(grep -c ' pass$' "$OUT/$d.txt" || true) pass, $(grep -c ' fail$' "$OUT/$d.txt" || true) fail," \
    "$(grep -c ' skip$' "$OUT/$d.txt" || true) skip of $(wc -l <"$OUT/$d.txt") in $((SECONDS - t0)) s"
}

col() { case "$1" in sec2) echo 2 ;; homi) echo 3 ;; esac; }
for d in $DRIVERS; do
  run_driver "$d"
  c=$(col "$d")
  for t in $names; do
    want=$(awk -v t="$t" -v c="$c" '$1 == t {print $c}' "$EXPECTED")
    got=$(awk -v t="$t" '$1 == t {print $2}' "$OUT/$d.txt")
    got=${got:-missing}
    if [ "$want" = pass ] && [ "$got" != pass ]; then
      echo "FAIL  $d $t: expected pass, got $got (see $OUT/$d.log)"
      fail=1
    elif [ "$want" != "$got" ]; then
      echo "NOTE  $d $t: expected $want, got $got (update $EXPECTED with a reason)"
    fi
  done
done
echo "results: $OUT"
exit $fail
