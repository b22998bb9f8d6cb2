#!/usr/bin/env bash
# Throwaway PostgreSQL clusters on loopback for strata's tests, demo and benchmarks.
# Usage: source this file, then `cluster_start DIR PORT [extra postgresql.conf lines...]`, `q SQL`,
# `cluster_stop DIR`. The server runs as the invoking user, or as `postgres` when invoked as root.
PGBIN=${PGBIN:-$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)}
if [ "$(id -u)" = 0 ]; then AS_PG=(runuser -u postgres --); else AS_PG=(); fi

# Ports of the test and bench clusters are below 32768, outside Linux's ephemeral range (32768-60999 by
# default): a listener there can collide with the local port of some outgoing connection (CI once
# failed to start a cluster on 56300 that way).
cluster_start() {
  local dir=$1 port=$2; shift 2
  mkdir -p "$dir"
  chmod 755 "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  "${AS_PG[@]}" "$PGBIN/initdb" -D "$dir/data" -A trust -U postgres --no-sync -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log"; return 1; }
  {
    echo "listen_addresses = '127.0.0.1'"
    echo "port = $port"
    echo "unix_socket_directories = '$dir'"
    echo "shared_preload_libraries = 'strata'"
    echo "max_worker_processes = 16"
    echo "fsync = off"  # safe for process kills (the OS keeps the WAL); commits stay synchronous
    echo "strata.naptime = 1"
    echo "log_min_messages = log"
    for line in "$@"; do echo "$line"; done
  } >>"$dir/data/postgresql.conf"
  cluster_startonly "$dir"
}

cluster_startonly() {
  local dir=$1
  "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null || {
    tail -30 "$dir/server.log"; return 1; }
}

cluster_stop() {
  local dir=$1 mode=${2:-fast}
  [ -f "$dir/data/postmaster.pid" ] && "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$dir/data" -m "$mode" -w stop >/dev/null 2>&1
  return 0
}

# Postmaster pid of a cluster started here (for kill tests: we only signal what we started).
cluster_pid() { head -1 "$1/data/postmaster.pid"; }

# q [-d DB] SQL: runs SQL, prints unaligned tuples-only output, stops on error.
q() {
  local db=${DB:-postgres}
  if [ "$1" = -d ]; then db=$2; shift 2; fi
  "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d "$db" -X -q -At -v ON_ERROR_STOP=1 -c "$1"
}

# wait_for SECONDS SQL EXPECTED: polls until SQL prints EXPECTED; returns 1 on timeout.
wait_for() {
  local secs=$1 sql=$2 want=$3 got="" err
  local end=$((SECONDS + secs))
  err=$(mktemp)
  while [ $SECONDS -lt $end ]; do
    got=$(q "$sql" 2>"$err" || true)
    [ "$got" = "$want" ] && { rm -f "$err"; return 0; }
    sleep 0.2
  done
  echo "wait_for timed out after ${secs}s: [$sql] gave [$got], wanted [$want]; last error: [$(head -c 300 "$err" | tr '\n' ' ')]" >&2
  rm -f "$err"
  return 1
}

# set_dbs PREMAKE DB...: creates each database with strata and an integer partition set "ev" (interval 10,
# that premake) whose maintenance only the worker does.
set_dbs() {
  local premake=$1 d; shift
  for d in "$@"; do
    q "CREATE DATABASE $d"
    q -d "$d" "CREATE EXTENSION strata"
    q -d "$d" "CREATE TABLE ev (id bigint NOT NULL) PARTITION BY RANGE (id)"
    q -d "$d" "SELECT strata.create_partition_set('ev', 'id', 10, premake => $premake)" >/dev/null
  done
}

# hourly_rollup: in $DB, a daily-partitioned "events" table (two days of history) and a real-time rollup
# "hourly" of it per channel, refreshed every 100 ms.
hourly_rollup() {
  q "CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, channel int, watch_ms int)
       PARTITION BY RANGE (ts)"
  q "SELECT strata.create_partition_set('events', 'ts', '1 day', premake => 1, start_partition => (now() - interval '2 days')::text)" >/dev/null
  q "CREATE INDEX ON events (id)"
  q "SELECT strata.create_rollup('hourly', \$\$SELECT date_trunc('hour', ts) AS bucket, channel, count(*) AS views,
       sum(watch_ms) AS watch FROM events GROUP BY 1, 2\$\$, refresh_interval => '100 ms')" >/dev/null
}

# TAP-like checks: `check "description" command...` prints ok/not ok and counts.
PASS=0
FAIL=0
check() {
  local desc=$1; shift
  if "$@"; then PASS=$((PASS + 1)); echo "ok - $desc"; else FAIL=$((FAIL + 1)); echo "not ok - $desc"; fi
}
# Last line of every cluster script, parsed by scripts/test.sh.
# After a failure it shows the tail of the script's server log (scripts keep their cluster in $DIR).
finish() {
  if [ "$FAIL" != 0 ] && [ -f "${DIR:-}/server.log" ]; then
    echo "# server log, last 40 lines:"
    tail -40 "$DIR/server.log" | sed 's/^/# /'
  fi
  echo "cluster-result: $PASS passed, $FAIL failed"
  [ "$FAIL" = 0 ]
}
