#!/usr/bin/env bash
# Background workers on a real server: discovery, premake, retention, default moves, SIGHUP,
# strata.enabled, bounded lock waits, dropping the extension.
set -u
source "$(dirname "$0")/lib.sh"
DIR=$(mktemp -d /tmp/strata-t01.XXXXXX)
export PGPORT=${PGPORT_BASE:-26100}
trap 'cluster_stop "$DIR" immediate; rm -rf "$DIR"' EXIT
cluster_start "$DIR" "$PGPORT" "strata.lock_timeout = 100" || exit 1
q "CREATE DATABASE app"
export DB=app

q "CREATE EXTENSION strata"
check "a worker starts for a database within a naptime of CREATE EXTENSION" \
  wait_for 5 "SELECT state FROM strata.workers WHERE datname = 'app'" "running"

# Integer set: the worker premakes as the data advances, with no manual run_maintenance.
q "CREATE TABLE videos (video_id bigint NOT NULL, title text) PARTITION BY RANGE (video_id)"
q "SELECT strata.create_partition_set('videos', 'video_id', 1000, premake => 2)" >/dev/null
q "INSERT INTO videos SELECT g, 't' FROM generate_series(0, 2500) g"
check "the worker premakes integer partitions as data reaches the top" \
  wait_for 5 "SELECT count(*) FROM pg_inherits WHERE inhparent = 'videos'::regclass" "5"

# Time set: a premade partition that goes missing is recreated by the worker.
q "CREATE TABLE events (id bigint, ts timestamptz NOT NULL, payload text) PARTITION BY RANGE (ts)"
q "SELECT strata.create_partition_set('events', 'ts', '1 day', premake => 3)" >/dev/null
newest=$(q "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass ORDER BY c.relname DESC LIMIT 1")
q "DROP TABLE $newest"
check "the worker recreates a missing premade time partition within a naptime" \
  wait_for 5 "SELECT count(*) FROM pg_class WHERE relname = '$newest' AND relispartition" "1"

# Retention: exactly the partitions older than the cutoff go, concurrently detached, nothing else.
q "CREATE TABLE logs (id bigint, ts timestamptz NOT NULL) PARTITION BY RANGE (ts)"
q "SELECT strata.create_partition_set('logs', 'ts', '1 day', premake => 1, start_partition => (now() - interval '10 days')::text)" >/dev/null
q "INSERT INTO logs SELECT g, now() - (g || ' hours')::interval FROM generate_series(0, 239) g"
keep=$(q "SELECT count(*) FROM logs WHERE ts >= date_trunc('day', now() - interval '3 days', 'UTC')")
q "SELECT strata.alter_partition_set('logs', retention => '3 days')" >/dev/null
check "retention detaches and drops every partition entirely older than the cutoff" \
  wait_for 5 "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'logs'::regclass AND (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)'))[1]::timestamptz <= now() - interval '3 days'" "0"
check "retention keeps every row of the partitions it keeps" \
  test "$(q "SELECT count(*) FROM logs")" = "$keep"
check "retention dropped the detached tables (none left behind)" \
  test "$(q "SELECT count(*) FROM pg_class WHERE relname LIKE 'logs_p%' AND relkind = 'r' AND NOT relispartition")" = 0
check "the worker used DETACH CONCURRENTLY and recorded each detach" \
  test "$(q "SELECT count(*) > 0 AND bool_and(status = 'ok' AND details->>'mode' = 'concurrently') FROM strata.job_runs WHERE job_kind = 'partition_detach' AND target = '\"public\".\"logs\"'")" = t
check "the retained partition count is today plus three days back plus premake" \
  wait_for 3 "SELECT count(*) BETWEEN 4 AND 6 FROM pg_inherits WHERE inhparent = 'logs'::regclass" "t"

# Default partition: late rows are moved home by the worker; far-future rows stay and are shown.
q "CREATE TABLE late (id int, ts timestamptz NOT NULL) PARTITION BY RANGE (ts)"
q "SELECT strata.create_partition_set('late', 'ts', '1 day', premake => 1, default_partition => true)" >/dev/null
q "INSERT INTO late SELECT g, now() - interval '2 days' FROM generate_series(1, 500) g"
q "INSERT INTO late VALUES (0, now() + interval '50 years')"
check "rows in the default partition are moved home by the worker" \
  wait_for 5 "SELECT default_rows FROM strata.partition_sets WHERE parent = 'late'::regclass" "1"
check "no row was lost or duplicated by the move" test "$(q "SELECT count(*), count(DISTINCT id) FROM late")" = "501|501"

# SIGHUP: naptime changes without restart.
q "ALTER SYSTEM SET strata.naptime = 3" && q "SELECT pg_reload_conf()" >/dev/null
check "SIGHUP changes the naptime in force" wait_for 8 "SELECT naptime_ms FROM strata.workers WHERE datname = 'app'" "3000"
q "ALTER SYSTEM SET strata.naptime = 1" && q "SELECT pg_reload_conf()" >/dev/null
wait_for 8 "SELECT naptime_ms FROM strata.workers WHERE datname = 'app'" "1000" >/dev/null

# strata.enabled = off: the worker stays but does nothing.
q "ALTER SYSTEM SET strata.enabled = off" && q "SELECT pg_reload_conf()" >/dev/null
sleep 2
before=$(q "SELECT count(*) FROM pg_inherits WHERE inhparent = 'videos'::regclass")
q "INSERT INTO videos SELECT g, 't' FROM generate_series(2501, 3500) g"
sleep 3
check "with strata.enabled = off no maintenance happens" \
  test "$(q "SELECT count(*) FROM pg_inherits WHERE inhparent = 'videos'::regclass")" = "$before"
q "ALTER SYSTEM SET strata.enabled = on" && q "SELECT pg_reload_conf()" >/dev/null
check "turning it back on resumes maintenance" \
  wait_for 8 "SELECT count(*) > $before FROM pg_inherits WHERE inhparent = 'videos'::regclass" "t"

# A long reader on a set with a default partition: the worker's detach (ACCESS EXCLUSIVE) gives up
# after strata.lock_timeout and retries later; inserts are never stuck behind it.
q "CREATE TABLE busy (id int NOT NULL) PARTITION BY RANGE (id)"
q "SELECT strata.create_partition_set('busy', 'id', 100, premake => 1, default_partition => true)" >/dev/null
q "INSERT INTO busy SELECT g FROM generate_series(0, 150) g"
sleep 2
"$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d app -X -q -c "BEGIN; SELECT count(*) FROM busy; SELECT pg_sleep(6); COMMIT;" >/dev/null &
reader=$!
sleep 0.5
q "SELECT strata.alter_partition_set('busy', retention => '50')" >/dev/null
inserts_ok=1
for i in $(seq 1 20); do
  q "SET statement_timeout = '3s'; INSERT INTO busy VALUES (150 + $i % 40)" >/dev/null 2>&1 || inserts_ok=0
  sleep 0.2
done
check "inserts never wait behind a detach that is blocked by a long reader" test "$inserts_ok" = 1
check "the blocked detach was recorded as skipped, not failed" \
  wait_for 5 "SELECT count(*) > 0 FROM strata.job_runs WHERE job_kind = 'partition_detach' AND target = '\"public\".\"busy\"' AND status = 'skipped'" "t"
wait "$reader"
check "after the reader ends the detach goes through" \
  wait_for 8 "SELECT count(*) FROM strata.job_runs WHERE job_kind = 'partition_detach' AND target = '\"public\".\"busy\"' AND status = 'ok'" "1"

# One bad set does not stop the others.
q "CREATE TABLE badset (id int NOT NULL) PARTITION BY RANGE (id)"
q "SELECT strata.create_partition_set('badset', 'id', 10, premake => 1)" >/dev/null
q "CREATE TABLE badset_p20 (x int)"   # squats on the name of the next partition
q "INSERT INTO badset VALUES (5), (15)"
q "INSERT INTO videos SELECT g, 't' FROM generate_series(3501, 5500) g"
check "a failing set is recorded as failed" \
  wait_for 5 "SELECT count(*) > 0 FROM strata.job_runs WHERE target = '\"public\".\"badset\"' AND status = 'failed'" "t"
check "other sets are still maintained in the same passes" \
  wait_for 5 "SELECT count(*) >= 8 FROM pg_inherits WHERE inhparent = 'videos'::regclass" "t"

# Dropping the extension is noticed within a naptime.
q "DROP EXTENSION strata"
check "dropping the extension stops its worker within a naptime" \
  wait_for 5 "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'strata worker' AND datname = 'app'" "0"
DB=postgres q "CREATE EXTENSION strata"
check "workers are not started where the extension is not installed" \
  wait_for 3 "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'strata worker' AND datname = 'app'" "0"
finish
