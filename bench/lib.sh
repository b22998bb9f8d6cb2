#!/usr/bin/env bash
# Shared helpers of the benchmarks (sourced from the project root after test/cluster/lib.sh; the
# timing helpers need PGPORT and DB set).

# bench_prepare [PKG...]: installs strata's dependencies and the Debian packages a benchmark compares
# against, then builds and installs strata (MAKE_JOBS parallel jobs, default 2).
bench_prepare() {
  bash scripts/install-deps.sh >/dev/null
  bench_packages "$@"
  make -s -j"${MAKE_JOBS:-2}" >/dev/null && make -s install >/dev/null
}

# bench_packages PKG...: installs Debian packages a benchmark compares against, when missing.
bench_packages() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null
  done
}

# session_times SCRIPT: runs a psql script in one session and prints the "Time:" values (ms) of the
# statements run with \timing on, one per line; connection start-up is never counted.
session_times() {
  "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d "$DB" -X -q -At -v ON_ERROR_STOP=1 -o /dev/null <<<"$1" |
    sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'
}

# median: the median of numbers on stdin.
median() { sort -n | awk '{a[NR]=$1} END {printf "%.1f\n", a[int((NR+1)/2)]}'; }
