#!/usr/bin/env bash
# Rollups under fire: four writers with random commit delays, rollbacks, late timestamps, updates and
# deletes while the worker refreshes an hourly rollup and a daily rollup of it every few hundred ms;
# a backend killed with SIGKILL in the middle (the postmaster resets the whole server: crash recovery).
# At the end every exact measure equals GROUP BY over the raw rows and every sketch is bitwise equal
# to the sketch built directly from them.
set -u
source "$(dirname "$0")/lib.sh"
DIR=$(mktemp -d /tmp/strata-t04.XXXXXX)
export PGPORT=${PGPORT_BASE:-26400}
trap 'for p in $(jobs -p); do kill $p 2>/dev/null; done; cluster_stop "$DIR" immediate; rm -rf "$DIR"' EXIT
cluster_start "$DIR" "$PGPORT" "strata.naptime = 1" || exit 1
q "CREATE DATABASE app"
export DB=app
q "CREATE EXTENSION strata"
q "SET TimeZone = 'UTC'; CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, channel int,
     viewer bigint, watch_ms int, label text) PARTITION BY RANGE (ts)"
q "SELECT strata.create_partition_set('events', 'ts', '1 day', premake => 2, start_partition => (now() - interval '4 days')::text)" >/dev/null
q "CREATE INDEX ON events (id)"
q "INSERT INTO events (ts, channel, viewer, watch_ms, label) SELECT now() - random() * interval '3 days', g % 5, g % 700,
     (random() * 10000)::int, 'l' || (g % 6) FROM generate_series(1, 20000) g"
q "SELECT strata.create_rollup('hourly', \$\$SELECT date_trunc('hour', ts) AS bucket, channel, count(*) AS views,
     sum(watch_ms) AS watch, min(watch_ms) AS shortest, max(watch_ms) AS longest, avg(watch_ms) AS avg_watch,
     strata.hll_agg(viewer) AS viewers, strata.qsketch_agg(watch_ms) AS watch_q, strata.topk_agg(label, 8) AS labels
     FROM events GROUP BY 1, 2\$\$, refresh_interval => '200 ms', batch_size => 5000)" >/dev/null
# A second rollup of the raw rows with no rollup reading it: its appends take the split path (groups in
# new buckets written directly, the others merged), where the hourly one (read by daily) takes the
# one-statement path. Ten-minute buckets: most batches touch both the newest stored bucket and new ones.
q "SELECT strata.create_rollup('tenmin', \$\$SELECT date_bin('10 minutes', ts, timestamptz '2000-01-01 00:00+00') AS bucket,
     channel, count(*) AS views, sum(watch_ms) AS watch, min(watch_ms) AS shortest, avg(watch_ms) AS avg_watch,
     strata.hll_agg(viewer) AS viewers, strata.qsketch_agg(watch_ms) AS watch_q, strata.topk_agg(label, 8) AS labels
     FROM events GROUP BY 1, 2\$\$, refresh_interval => '250 ms', batch_size => 700)" >/dev/null
q "SELECT strata.create_rollup('daily', \$\$SELECT date_trunc('day', bucket) AS day, channel, sum(views) AS views,
     strata.merge(viewers) AS viewers, max(longest) AS longest FROM hourly GROUP BY 1, 2\$\$, refresh_interval => '300 ms')" >/dev/null

# One writer: transactions of a few rows (some hours or days late), with a random delay before the
# end, sometimes an UPDATE or DELETE, and one in five rolled back.
writer() {
  local n=$1
  for i in $(seq 1 "$n"); do
    local fin=COMMIT
    [ $((RANDOM % 5)) = 0 ] && fin=ROLLBACK
    echo "BEGIN;"
    echo "INSERT INTO events (ts, channel, viewer, watch_ms, label) SELECT now() - CASE WHEN random() < 0.2 THEN random() * interval '3 days' ELSE random() * interval '5 minutes' END, (random() * 5)::int, (random() * 1000)::int, (random() * 10000)::int, 'l' || (random() * 5)::int FROM generate_series(1, 1 + (random() * 20)::int);"
    [ $((RANDOM % 4)) = 0 ] && echo "UPDATE events SET watch_ms = watch_ms + 1, channel = (channel + 1) % 5 WHERE id IN (SELECT (random() * (SELECT max(id) FROM events))::bigint FROM generate_series(1, 3));"
    [ $((RANDOM % 6)) = 0 ] && echo "DELETE FROM events WHERE id IN (SELECT (random() * (SELECT max(id) FROM events))::bigint FROM generate_series(1, 3));"
    echo "SELECT pg_sleep(random() * 0.03);"
    echo "$fin;"
  done | "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d app -X -q >/dev/null 2>&1
}

run_writers() {
  local pids=()
  for w in 1 2 3 4; do writer "$1" & pids+=($!); done
  echo "${pids[@]}"
}

pids=$(run_writers 150)
sleep 3
check "the worker refreshes while writers run" \
  wait_for 10 "SELECT sum(refresh_steps) > 0 FROM strata.rollups" "t"
# SIGKILL of the worker in the middle of refreshes: the postmaster resets every backend and recovers.
wpid=$(q "SELECT pid FROM strata.workers WHERE datname = 'app'")
kill -9 "$wpid"
wait $pids 2>/dev/null
check "the server came back after the SIGKILL" wait_for 30 "SELECT state FROM strata.workers WHERE datname = 'app'" "running"
pids=$(run_writers 100)
wait $pids 2>/dev/null

caught_up="SELECT bool_and(lag_rows IS NOT DISTINCT FROM 0 OR lag_rows IS NULL) AND bool_and(pending_buckets = 0) AND bool_and(backfill_done) FROM strata.rollups"
check "the worker catches up with every rollup" wait_for 60 "$caught_up" "t"
# The daily rollup reads the hourly one: one more interval for its last recompute.
sleep 1
wait_for 20 "$caught_up" "t"

hourly_diff="SET TimeZone = 'UTC'; SELECT count(*) FROM (
  (SELECT bucket, channel, views, watch, shortest, longest, round(avg_watch__sum::numeric / avg_watch__count, 6),
          viewers::text, watch_q::text, labels::text FROM hourly_data
   EXCEPT ALL
   SELECT date_trunc('hour', ts), channel, count(*), sum(watch_ms), min(watch_ms), max(watch_ms), round(avg(watch_ms), 6),
          strata.hll_agg(viewer)::text, strata.qsketch_agg(watch_ms)::text, strata.topk_agg(label, 8)::text
   FROM events GROUP BY 1, 2)
  UNION ALL
  (SELECT date_trunc('hour', ts), channel, count(*), sum(watch_ms), min(watch_ms), max(watch_ms), round(avg(watch_ms), 6),
          strata.hll_agg(viewer)::text, strata.qsketch_agg(watch_ms)::text, strata.topk_agg(label, 8)::text
   FROM events GROUP BY 1, 2
   EXCEPT ALL
   SELECT bucket, channel, views, watch, shortest, longest, round(avg_watch__sum::numeric / avg_watch__count, 6),
          viewers::text, watch_q::text, labels::text FROM hourly_data)) d"
check "hourly rollup table equals GROUP BY over the raw rows (exact measures and bitwise sketches)" \
  test "$(q "$hourly_diff")" = 0
tenmin_diff="SELECT count(*) FROM (
  (SELECT bucket, channel, views, watch, shortest, round(avg_watch__sum::numeric / avg_watch__count, 6),
          viewers::text, watch_q::text, labels::text FROM tenmin_data
   EXCEPT ALL
   SELECT date_bin('10 minutes', ts, timestamptz '2000-01-01 00:00+00'), channel, count(*), sum(watch_ms), min(watch_ms),
          round(avg(watch_ms), 6), strata.hll_agg(viewer)::text, strata.qsketch_agg(watch_ms)::text,
          strata.topk_agg(label, 8)::text
   FROM events GROUP BY 1, 2)
  UNION ALL
  (SELECT date_bin('10 minutes', ts, timestamptz '2000-01-01 00:00+00'), channel, count(*), sum(watch_ms), min(watch_ms),
          round(avg(watch_ms), 6), strata.hll_agg(viewer)::text, strata.qsketch_agg(watch_ms)::text,
          strata.topk_agg(label, 8)::text
   FROM events GROUP BY 1, 2
   EXCEPT ALL
   SELECT bucket, channel, views, watch, shortest, round(avg_watch__sum::numeric / avg_watch__count, 6),
          viewers::text, watch_q::text, labels::text FROM tenmin_data)) d"
check "ten-minute rollup (appends split into direct inserts and merges) equals GROUP BY over the raw rows" \
  test "$(q "$tenmin_diff")" = 0
daily_diff="SET TimeZone = 'UTC'; SELECT count(*) FROM (
  (SELECT day, channel, views, viewers::text, longest FROM daily_data EXCEPT ALL
   SELECT date_trunc('day', ts), channel, count(*), strata.hll_agg(viewer)::text, max(watch_ms) FROM events GROUP BY 1, 2)
  UNION ALL
  (SELECT date_trunc('day', ts), channel, count(*), strata.hll_agg(viewer)::text, max(watch_ms) FROM events GROUP BY 1, 2
   EXCEPT ALL SELECT day, channel, views, viewers::text, longest FROM daily_data)) d"
check "daily rollup of the hourly rollup equals GROUP BY over the raw rows" test "$(q "$daily_diff")" = 0
check "some late rows, updates, deletes and rollbacks happened (the test exercised them)" \
  test "$(q "SELECT buckets_recomputed > 0 AND rows_processed > 20000 FROM strata.rollups WHERE name = 'hourly'::regclass")" = t
check "the worker replaced the real-time views by their form without the backfill arm once the backfill was done" \
  test "$(q "SELECT count(*) FROM strata.rollup r WHERE r.realtime AND r.source_rollup IS NULL AND EXISTS (
              SELECT 1 FROM pg_rewrite w JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid
              WHERE w.ev_class = r.view AND d.refobjid = 'strata.rollup_backfill_cursor(integer)'::regprocedure)")" = 0
check "the replacement is recorded in job_runs" \
  test "$(q "SELECT count(DISTINCT target) FROM strata.job_runs WHERE job_kind = 'rollup_refresh'
              AND details->>'note' = 'backfill done: view replaced without its backfill arm'")" = 2
check "no refresh failed" test "$(q "SELECT count(*) FROM strata.job_runs WHERE job_kind = 'rollup_refresh' AND status = 'failed'")" = 0
# The real-time view is exact too, with rows the worker has not seen yet.
q "INSERT INTO events (ts, channel, viewer, watch_ms, label) VALUES (now(), 1, 1, 1, 'l1')"
check "the real-time view counts rows inserted a moment ago, before any refresh" \
  test "$(q "SELECT v.views = d.n FROM hourly v, (SELECT count(*) AS n FROM events WHERE channel = 1
              AND date_trunc('hour', ts, current_setting('TimeZone')) = date_trunc('hour', now(), current_setting('TimeZone'))) d
            WHERE v.bucket = date_trunc('hour', now(), current_setting('TimeZone')) AND v.channel = 1")" = t
finish
