#!/usr/bin/env bash
# The worker's transactions do not inherit session defaults a database or role sets: with
# default_transaction_isolation = 'repeatable read' and default_transaction_read_only = on for the
# database, the worker still refreshes at READ COMMITTED (a refresh that reads with a snapshot older than
# the writers it waited for would skip their rows and move its watermark past them) and still writes
# (partitions, rollup rows, job_runs). Nor other settings that would change what it does: with the
# database setting session_replication_role = replica, statement and idle timeouts, DateStyle,
# IntervalStyle, extra_float_digits and a hostile search_path, the worker runs with its own (seen by an
# event trigger that fires on its DDL), while TimeZone and work_mem stay the database's (buckets follow
# the zone the database's sessions use). A worker that cannot work says why in strata.workers.last_error,
# also when the error ends it outside a pass.
set -u
source "$(dirname "$0")/lib.sh"
DIR=$(mktemp -d /tmp/strata-t06.XXXXXX)
export PGPORT=${PGPORT_BASE:-26600}
trap 'for p in $(jobs -p); do kill $p 2>/dev/null; done; cluster_stop "$DIR" immediate; rm -rf "$DIR"' EXIT
cluster_start "$DIR" "$PGPORT" "strata.naptime = 1" || exit 1
q "CREATE DATABASE app"
q "ALTER DATABASE app SET default_transaction_isolation = 'repeatable read'"
q "ALTER ROLE postgres IN DATABASE app SET default_transaction_isolation = 'serializable'"
q "ALTER DATABASE app SET session_replication_role = replica"
q "ALTER DATABASE app SET statement_timeout = '20ms'"
q "ALTER DATABASE app SET idle_in_transaction_session_timeout = '20ms'"
q "ALTER DATABASE app SET DateStyle = 'SQL, DMY'"
q "ALTER DATABASE app SET IntervalStyle = 'sql_standard'"
q "ALTER DATABASE app SET extra_float_digits = -15"
q "ALTER DATABASE app SET TimeZone = 'Pacific/Chatham'"
q "ALTER DATABASE app SET work_mem = '64kB'"
q "ALTER DATABASE app SET search_path = nowhere, public"
export DB=app
# Our own sessions write: they turn the database's read-only default off for themselves, and keep
# triggers and no timeouts (the other settings they share with the worker's database).
export PGOPTIONS="-c default_transaction_read_only=off -c session_replication_role=origin -c statement_timeout=0 -c idle_in_transaction_session_timeout=0"
check "client sessions of app default to a snapshot isolation" \
  test "$(q "SHOW transaction_isolation")" = "serializable"
q "CREATE EXTENSION strata"
hourly_rollup
check "the worker runs in app" wait_for 10 "SELECT state FROM strata.workers WHERE datname = 'app'" "running"
# What the worker's session is set to, as its own DDL sees it (ALWAYS: fires in every replication role).
q "CREATE TABLE public.worker_settings AS SELECT current_setting('session_replication_role') AS srr,
     current_setting('statement_timeout') AS st, current_setting('idle_in_transaction_session_timeout') AS iit,
     current_setting('DateStyle') AS ds, current_setting('IntervalStyle') AS ist,
     current_setting('extra_float_digits') AS efd, current_setting('TimeZone') AS tz,
     current_setting('work_mem') AS wm, current_setting('search_path') AS sp WITH NO DATA"
q "CREATE FUNCTION public.note_worker_settings() RETURNS event_trigger LANGUAGE plpgsql AS \$\$
   BEGIN
     IF pg_catalog.current_setting('application_name') = 'strata worker' THEN
       INSERT INTO public.worker_settings SELECT pg_catalog.current_setting('session_replication_role'),
         pg_catalog.current_setting('statement_timeout'), pg_catalog.current_setting('idle_in_transaction_session_timeout'),
         pg_catalog.current_setting('DateStyle'), pg_catalog.current_setting('IntervalStyle'),
         pg_catalog.current_setting('extra_float_digits'), pg_catalog.current_setting('TimeZone'),
         pg_catalog.current_setting('work_mem'), pg_catalog.current_setting('search_path');
     END IF;
   END \$\$"
q "CREATE EVENT TRIGGER note_worker_settings ON ddl_command_end EXECUTE FUNCTION public.note_worker_settings()"
q "ALTER EVENT TRIGGER note_worker_settings ENABLE ALWAYS"
q "SELECT strata.alter_partition_set('events', premake => 2)" >/dev/null
check "the worker makes a partition (its DDL is seen by the event trigger)" \
  wait_for 15 "SELECT count(*) > 0 FROM public.worker_settings" t
check "the worker pins what would change what it does, and keeps the database's TimeZone and work_mem" \
  test "$(q "SELECT DISTINCT srr || '|' || st || '|' || iit || '|' || ds || '|' || ist || '|' || efd || '|' || tz || '|' || wm || '|' || sp FROM public.worker_settings")" \
  = "origin|0|0|ISO, YMD|postgres|1|Pacific/Chatham|64kB|pg_catalog, pg_temp"

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

# A worker that cannot work says why, also when the error ends it before any pass: with strata.job_runs
# locked, a new worker's first write (marking jobs a killed worker left running) times out.
locker() {
  "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d app -X -q \
    -c "BEGIN" -c "LOCK strata.job_runs IN ACCESS EXCLUSIVE MODE" -c "SELECT pg_sleep(8)" -c "COMMIT" >/dev/null 2>&1
}
locker & lp=$!
sleep 0.5
q "SELECT pg_terminate_backend($wpid2)" >/dev/null
check "a worker that ends on an error outside a pass says why in last_error" \
  wait_for 10 "SELECT state LIKE 'failed%' AND last_error LIKE '%lock timeout%' FROM strata.workers WHERE datname = 'app'" t
wait $lp
check "once the lock is gone the worker runs again and its error is cleared" \
  wait_for 30 "SELECT state = 'running' AND last_error IS NULL AND passes > 0 FROM strata.workers WHERE datname = 'app'" t
finish
