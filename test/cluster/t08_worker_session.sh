#!/usr/bin/env bash
# The worker's transactions do not inherit session defaults a database or role sets: with
# default_transaction_isolation = 'repeatable read' and default_transaction_read_only = on for the
# database, the worker still refreshes at READ COMMITTED (a refresh that reads with a snapshot older than
# the writers it waited for would skip their rows and move its watermark past them) and still writes
# (partitions, rollup rows, job_runs).
set -u
source "$(dirname "$0")/lib.sh"
DIR=$(mktemp -d /tmp/strata-t06.XXXXXX)
export PGPORT=${PGPORT_BASE:-26600}
trap 'for p in $(jobs -p); do kill $p 2>/dev/null; done; cluster_stop "$DIR" immediate; rm -rf "$DIR"' EXIT
cluster_start "$DIR" "$PGPORT" "strata.naptime = 1" || exit 1
q "CREATE DATABASE app"
q "ALTER DATABASE app SET default_transaction_isolation = 'repeatable read'"
q "ALTER ROLE postgres IN DATABASE app SET default_transaction_isolation = 'serializable'"
export DB=app
# Our own sessions write: they turn the database's read-only default off for themselves.
export PGOPTIONS="-c default_transaction_read_only=off"
check "client sessions of app default to a snapshot isolation" \
  test "$(q "SHOW transaction_isolation")" = "serializable"
q "CREATE EXTENSION strata"
q "CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, channel int, watch_ms int)
     PARTITION BY RANGE (ts)"
q "SELECT strata.create_partition_set('events', 'ts', '1 day', premake => 1, start_partition => (now() - interval '2 days')::text)" >/dev/null
q "CREATE INDEX ON events (id)"
q "SELECT strata.create_rollup('hourly', \$\$SELECT date_trunc('hour', ts) AS bucket, channel, count(*) AS views,
     sum(watch_ms) AS watch FROM events GROUP BY 1, 2\$\$, refresh_interval => '100 ms')" >/dev/null
check "the worker runs in app" wait_for 10 "SELECT state FROM strata.workers WHERE datname = 'app'" "running"

# Writers whose transactions stay open a while after their insert: the refresh waits them out and
# must then see their rows.
writer() {
  for i in $(seq 1 8); do
    echo "BEGIN;"
    echo "INSERT INTO events (ts, channel, watch_ms) SELECT now() - random() * interval '1 day', g % 3, g FROM generate_series(1, 50) g;"
    echo "SELECT pg_sleep(0.2 + random() * 0.2);"
    echo "COMMIT;"
  done | "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d app -X -q >/dev/null 2>&1
}
writer & p1=$!
writer & p2=$!
wait $p1 $p2
check "800 rows were written" test "$(q "SELECT count(*) FROM events")" = 800

diff_sql="SELECT count(*) FROM (
  (SELECT bucket, channel, views, watch FROM hourly_data
   EXCEPT ALL SELECT date_trunc('hour', ts), channel, count(*), sum(watch_ms) FROM events GROUP BY 1, 2)
  UNION ALL
  (SELECT date_trunc('hour', ts), channel, count(*), sum(watch_ms) FROM events GROUP BY 1, 2
   EXCEPT ALL SELECT bucket, channel, views, watch FROM hourly_data)) d"
check "the worker absorbs every committed row: the rollup equals GROUP BY of the raw table" wait_for 30 "$diff_sql" "0"
check "... and its rows add up to the raw count" test "$(q "SELECT sum(views) FROM hourly_data")" = 800
check "... and says it is caught up" test "$(q "SELECT lag_rows FROM strata.rollups")" = 0
check "the worker's refreshes are counted in strata.rollup (it writes despite the read-only default)" \
  test "$(q "SELECT refresh_steps > 0 FROM strata.rollups")" = t

# A read-only default: the worker still writes (job_runs, rollup rows, partitions). A new worker
# session picks up the database's new defaults.
q "ALTER DATABASE app SET default_transaction_read_only = on"
wpid=$(q "SELECT pid FROM strata.workers WHERE datname = 'app'")
q "SELECT pg_terminate_backend($wpid)" >/dev/null
check "a new worker starts under the read-only default" \
  wait_for 20 "SELECT state = 'running' AND pid <> $wpid FROM strata.workers WHERE datname = 'app'" "t"
wpid2=$(q "SELECT pid FROM strata.workers WHERE datname = 'app'")
writer
check "the worker absorbs rows written under the read-only default" wait_for 30 "$diff_sql" "0"
check "... all 1,200 of them" test "$(q "SELECT sum(views) FROM hourly_data")" = 1200
# Partition maintenance writes too: a larger premake is made by the worker.
q "SELECT strata.alter_partition_set('events', premake => 4)" >/dev/null
check "the worker creates the partitions a larger premake asks for" \
  wait_for 15 "SELECT partitions_ahead >= 4 FROM strata.partition_sets" "t"
check "no worker pass failed" test "$(q "SELECT count(*) FROM strata.workers WHERE datname = 'app' AND last_error IS NOT NULL")" = 0
check "no worker error in the server log" \
  bash -c "! grep -q 'strata worker: maintenance pass failed\|refresh of rollup .* failed' '$DIR/server.log'"
check "the worker started under the read-only default is still the one running" \
  test -n "$wpid2" -a "$(q "SELECT pid FROM strata.workers WHERE datname = 'app' AND state = 'running'")" = "$wpid2"
finish
