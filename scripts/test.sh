#!/usr/bin/env bash
# Runs every test layer of strata and ends with one line "N passed, N failed" across all layers:
#   1. GoogleTest unit tests of src/core (ctest), also under AddressSanitizer + UBSan; libFuzzer on every
#      sketch reader, the keyset reader and the column batch decoder for a bounded time
#   2. pg_regress (test/sql, test/expected, in test/schedule's order; the schedule checked against the
#      files) on a throwaway cluster with shared_preload_libraries = strata
#   3. pg_isolation_regress specs (test/isolation/)
#   4. cluster scripts (test/cluster/t*.sh): workers, SIGHUP, SIGKILL, restarts, standby
# Usage: scripts/test.sh            (installs dependencies, builds and installs the extension first)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
bash scripts/install-deps.sh
export PATH="$(pg_config --bindir):$PATH"

PASSED=0
FAILED=0
add() { PASSED=$((PASSED + $1)); FAILED=$((FAILED + $2)); }
section() { printf '\n==== %s\n' "$*"; }

section "build and install"
make -s -j2 >/tmp/strata-build.log 2>&1 || { cat /tmp/strata-build.log; echo "0 passed, 1 failed"; exit 1; }
make -s install >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
echo "built and installed strata"

section "layering check (scripts/check_layers.sh)"
if bash scripts/check_layers.sh; then add 1 0; else add 0 1; fi

section "unit tests (GoogleTest via ctest)"
for variant in plain sanitize; do
  dir=build/unit; [ $variant = sanitize ] && dir=build/unit-sanitize
  flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
  [ $variant = sanitize ] && flags+=(-DSTRATA_SANITIZE=ON)
  if cmake -S . -B $dir "${flags[@]}" >/dev/null && cmake --build $dir -j2 >/tmp/strata-cmake-$variant.log 2>&1; then
    out=$(cd $dir && ctest --output-on-failure 2>&1)
    echo "$out" | tail -3
    total=$(echo "$out" | sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2/p')
    bad=$(echo "$out" | sed -n 's/.*tests passed, \([0-9]*\) tests failed out of.*/\1/p')
    add $((${total:-0} - ${bad:-0})) ${bad:-1}
  else
    cat /tmp/strata-cmake-$variant.log | tail -20
    add 0 1
  fi
done

section "fuzzing (libFuzzer + ASan/UBSan, ${STRATA_FUZZ_SECONDS:-20}s per reader)"
out=$(bash test/fuzz/run.sh "${STRATA_FUZZ_SECONDS:-20}" 2>&1)
echo "$out" | grep -E "^(ok|not ok)|ERROR|SUMMARY"
res=$(echo "$out" | sed -n 's/^fuzz-result: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p')
if [ -n "$res" ]; then add $res; else echo "$out" | tail -20; add 0 1; fi

source test/cluster/lib.sh
TMP=$(mktemp -d /tmp/strata-test.XXXXXX)
export PGPORT=${STRATA_TEST_PORT:-25999}
trap 'cluster_stop "$TMP" immediate; rm -rf "$TMP"' EXIT

section "pg_regress"
if bash test/check_schedule.sh; then add 1 0; else add 0 1; fi
cluster_start "$TMP" "$PGPORT" "$(grep -v '^#' test/regress.conf)" || { echo "0 passed, 1 failed"; exit 1; }
out=$(make -s installcheck ISOLATION= PGHOST=127.0.0.1 PGPORT=$PGPORT PGUSER=postgres 2>&1)
echo "$out" | grep -E "^(ok|not ok|test) " || echo "$out" | tail -20
add "$(echo "$out" | grep -cE "^(ok|test .*\.\.\. ok)")" "$(echo "$out" | grep -cE "^not ok|\.\.\. FAILED")"
[ -f regression.diffs ] && head -60 regression.diffs

section "isolation specs"
out=$(make -s isolationcheck PGHOST=127.0.0.1 PGPORT=$PGPORT PGUSER=postgres 2>&1)
echo "$out" | grep -E "^(ok|not ok|test) " || echo "$out" | tail -20
add "$(echo "$out" | grep -cE "^(ok|test .*\.\.\. ok)")" "$(echo "$out" | grep -cE "^not ok|\.\.\. FAILED")"
[ -f output_iso/regression.diffs ] && head -60 output_iso/regression.diffs
cluster_stop "$TMP"

section "cluster scripts"
port=26000
for t in test/cluster/t*.sh; do
  port=$((port + 100))
  echo "-- $t"
  out=$(PGPORT_BASE=$port bash "$t" 2>&1)
  echo "$out" | grep -E "^(ok|not ok|# )|timed out|ERROR|psql: error" 
  res=$(echo "$out" | sed -n 's/^cluster-result: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p')
  if [ -n "$res" ]; then add $res; else echo "$out" | tail -20; add 0 1; fi
done

echo
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
