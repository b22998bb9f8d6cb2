#!/usr/bin/env bash
# The main job: a throwaway cluster with strata preloaded, a video-analytics schema with a month of events
# (50 channels, 5,000 videos, 2,000,000 events: dozens of rows per hour and channel), the background worker
# maintaining its partitions and an incremental rollup while you watch, and the payoff: the dashboard
# answered from the rollup's real-time view and from the raw events side by side (and the query on the raw
# events routed to the rollup by strata itself), timed, and checked to
# agree at one snapshot while new rows keep arriving. Fails (non-zero exit) when they do not agree.
# KEEP=1 leaves the cluster running; PGPORT and DEMO_DIR choose its port and directory.
set -euo pipefail
cd "$(dirname "$0")/.."
T0=$SECONDS
echo "== building and installing strata (dependencies first; make -s)"
bash scripts/install-deps.sh >/dev/null
make -s -j2 >/dev/null && make -s install >/dev/null
source test/cluster/lib.sh
DIR=${DEMO_DIR:-/tmp/strata-demo}
export PGPORT=${PGPORT:-25800} DB=videos
cluster_stop "$DIR" immediate 2>/dev/null || true
rm -rf "$DIR"
cluster_start "$DIR" "$PGPORT" "strata.naptime = 2" "strata.vacuum_cold_after = 30" "strata.vacuum_max_actions = 8" \
  "strata.vacuum_analyze_min_interval = 10" >/dev/null
WRITER_PID=""
cleanup() {
  # The writer is a psql session this script started: end it by its pid (its DO block stops itself too).
  if [ -n "$WRITER_PID" ] && kill -0 "$WRITER_PID" 2>/dev/null; then kill "$WRITER_PID" 2>/dev/null || true; fi
  if [ "${KEEP:-0}" != 1 ]; then cluster_stop "$DIR"; rm -rf "$DIR"; fi
}
trap cleanup EXIT
PSQL=("$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d videos -X -P pager=off -v ON_ERROR_STOP=1)
show() { echo; echo "-- $1"; "${PSQL[@]}" -q -c "$2"; }
took() { echo "   ($(($SECONDS - $1)) s)"; }

echo "== cluster on 127.0.0.1:$PGPORT, shared_preload_libraries = strata (worker naptime 2 s; partitions cold after 30 s)"
q -d postgres "CREATE DATABASE videos"
q "CREATE EXTENSION strata"
q "CREATE ROLE video_app"
# The worker maintains each table as its owner: the owner must be allowed to create its partitions.
q "GRANT CREATE ON SCHEMA public TO video_app"
q "CREATE TABLE videos (video_id bigint PRIMARY KEY, channel_id int NOT NULL, title text NOT NULL,
     ai_labels text[] NOT NULL DEFAULT '{}', published_at timestamptz NOT NULL)"
q "CREATE TABLE video_events (event_id bigint GENERATED ALWAYS AS IDENTITY, video_id bigint NOT NULL, viewer_id bigint NOT NULL, channel_id int NOT NULL,
     ts timestamptz NOT NULL, kind text NOT NULL, watch_ms int NOT NULL DEFAULT 0) PARTITION BY RANGE (ts)"
q "CREATE INDEX ON video_events (video_id, ts)"
q "CREATE INDEX ON video_events (event_id)"
q "ALTER TABLE video_events OWNER TO video_app"
q "GRANT SELECT ON video_events TO PUBLIC"

echo "== strata takes over video_events: daily partitions from 30 days back, 3 days premade, a default partition"
n=$(q "SELECT strata.create_partition_set('video_events', 'ts', '1 day', premake => 3, default_partition => true,
        partition_options => '{autovacuum_vacuum_scale_factor=0.02}', start_partition => (now() - interval '30 days')::text)")
echo "   $n partitions created"

# Events, set-based: channel popularity skewed (channel c gets a share ~ 1/sqrt(c)), 100 videos per channel
# (video v belongs to channel v % 50), 300,000 viewers, 10% likes, watch times spread over four decades.
# One event: the columns of a row drawn in a subquery, so each row's channel is drawn once.
EVENT_ROW="SELECT 50 * floor(100 * random() ^ 2)::int + c AS video_id, (random() * 299999)::int AS viewer_id, c AS channel_id,
             ts, CASE WHEN random() < 0.1 THEN 'like' ELSE 'view' END AS kind, (exp(4 + random() * 10))::int AS watch_ms"
t=$SECONDS
echo "== loading 5,000 videos on 50 channels and 2,000,000 events over the last 30 days (~55 per hour and channel)"
q "SELECT setseed(0.25);
   INSERT INTO videos SELECT g, g % 50, 'video ' || g, ARRAY['label' || g % 17], now() - random() * interval '90 days'
     FROM generate_series(0, 4999) g;
   INSERT INTO video_events (video_id, viewer_id, channel_id, ts, kind, watch_ms)
     $EVENT_ROW FROM (SELECT floor(50 * random() ^ 2)::int AS c, now() - random() * interval '30 days' AS ts
                      FROM generate_series(1, 2000000)) e" >/dev/null
echo "   plus a gap (yesterday's partition dropped), 500 late rows for it and 3 bogus far-future rows: all land in the default partition"
q "DROP TABLE video_events_p$(date -u -d '-1 day' +%Y%m%d)"
q "INSERT INTO video_events (video_id, viewer_id, channel_id, ts, kind, watch_ms)
     SELECT 1, g, 1, now() - interval '1 day' - g * interval '1 second', 'view', 1000 FROM generate_series(1, 500) g"
q "INSERT INTO video_events (video_id, viewer_id, channel_id, ts, kind, watch_ms) VALUES (1, 1, 1, now() + interval '30 years', 'view', 5),
     (1, 2, 1, now() + interval '40 years', 'view', 5), (1, 3, 1, now() + interval '50 years', 'view', 5)"
took $t

echo "== an hourly rollup per channel (views, watch time, unique viewers as hll, watch-time quantiles as qsketch), owned by"
echo "   video_app, refreshed by the worker every 2 s; retention of the events set to 21 days"
# Right after the load the worker is analyzing the new partitions: wait up to 10 s for the table's lock
# (strata.lock_timeout, 200 ms by default, bounds every lock wait of strata's own DDL).
q "SET strata.lock_timeout = '10s'; SET ROLE video_app; SELECT strata.create_rollup('channel_hourly', \$\$
     SELECT date_trunc('hour', ts) AS bucket, channel_id, count(*) AS views, sum(watch_ms) AS watch_ms,
            strata.hll_agg(viewer_id) AS viewers, strata.qsketch_agg(watch_ms) AS watch_q
     FROM video_events WHERE kind = 'view' GROUP BY 1, 2 \$\$, refresh_interval => '2 seconds')" >/dev/null
q "SELECT strata.alter_partition_set('video_events', retention => '21 days')" >/dev/null
echo "   strata.partition_sets before the worker's next pass: $(q "SELECT partition_count || ' partitions from ' || oldest_bound::date
        || ', ' || actions_due || ' actions due, ' || default_rows || ' rows in the default partition' FROM strata.partition_sets")"

t=$SECONDS
echo
echo "== the worker at work: retention detaches days older than 21, late rows go home, far-future rows stay in the"
echo "   default partition, the rollup is built in the background"
settled=0
for _ in $(seq 1 120); do
  [ "$(q "SELECT default_rows = 3 AND oldest_bound::timestamptz >= now() - interval '22 days' FROM strata.partition_sets")" = t ] && \
  [ "$(q "SELECT backfill_done AND lag_rows = 0 FROM strata.rollups")" = t ] && { settled=1; break; }
  sleep 1
done
[ $settled = 1 ] || { echo "the worker did not finish its work within 120 s; see $DIR/server.log"; exit 1; }
took $t
show "strata.partition_sets" "SELECT parent, partition_count, oldest_bound::date, newest_bound::date, partitions_ahead,
        default_rows, last_action, last_status FROM strata.partition_sets"
# Routine refresh steps write no job_runs row (strata.rollups counts them); a skipped action says why.
show "what the worker did (strata.job_runs; routine refresh steps are counted in strata.rollups.refresh_steps)" \
  "SELECT job_kind, count(*) FILTER (WHERE status = 'ok') AS ok, count(*) FILTER (WHERE status = 'skipped') AS skipped,
        count(*) FILTER (WHERE status IN ('failed', 'crashed')) AS failed, max(run_as) AS run_as,
        left((array_agg(message ORDER BY id DESC) FILTER (WHERE status IN ('skipped', 'failed', 'crashed')))[1], 70) AS last_reason_not_ok
        FROM strata.job_runs GROUP BY 1 ORDER BY 1"
show "strata.rollups" "SELECT name, watermark, lag_rows, backfill_done, rows_processed, last_duration_ms, last_error FROM strata.rollups"
echo "   a partition the worker made has the template: $(q "SELECT relowner::regrole || ', ' || array_to_string(reloptions, ',') || ', ' || relacl::text
        FROM pg_class WHERE relname = 'video_events_p$(date -u -d '-1 day' +%Y%m%d)'")"

# Rows keep arriving from here on: a writer commits 40 events every 0.1 s, mostly now, 5% late by up to
# 3 days (they change hours the rollup has stored), until told to stop (or after 3 minutes at most).
q "CREATE TABLE demo_stop ()"
read -r steps0 rows0 wm0 <<<"$(q "SELECT refresh_steps, rows_processed, watermark FROM strata.rollups" | tr '|' ' ')"
"${PSQL[@]}" -q -c "DO \$\$ BEGIN
    FOR i IN 1..1800 LOOP
      EXIT WHEN EXISTS (SELECT FROM demo_stop);
      INSERT INTO video_events (video_id, viewer_id, channel_id, ts, kind, watch_ms)
        $EVENT_ROW FROM (SELECT floor(50 * random() ^ 2)::int AS c,
                                clock_timestamp() - CASE WHEN random() < 0.05 THEN random() * interval '3 days' ELSE '0' END AS ts
                         FROM generate_series(1, 40)) e;
      COMMIT;
      PERFORM pg_sleep(0.1);
    END LOOP; END \$\$" &
WRITER_PID=$!
sleep 2

# The dashboard: top 10 channels of the last 7 days by views, with watch time, unique viewers and p95 watch time.
DASH="SELECT channel_id, sum(views) AS views, sum(watch_ms) AS watch_ms,
        strata.distinct_count(strata.merge(viewers)) AS viewers, strata.quantile(strata.merge(watch_q), 0.95) AS p95_watch_ms
   FROM channel_hourly WHERE bucket >= date_trunc('hour', now()) - interval '7 days' GROUP BY 1 ORDER BY views DESC, channel_id LIMIT 10"
RAW="SELECT channel_id, count(*) AS views, sum(watch_ms) AS watch_ms,
        count(DISTINCT viewer_id) AS viewers, percentile_disc(0.95) WITHIN GROUP (ORDER BY watch_ms) AS p95_watch_ms
   FROM video_events WHERE kind = 'view' AND ts >= date_trunc('hour', now()) - interval '7 days' GROUP BY 1 ORDER BY views DESC, channel_id LIMIT 10"
echo
echo "== THE PAYOFF: the dashboard (top 10 channels of the last 7 days: views, watch hours, unique viewers, p95 watch"
echo "   time) from the rollup's real-time view channel_hourly and from the raw events, while new rows keep arriving"
echo "   ($(q "SELECT count(*) FROM video_events WHERE kind = 'view' AND ts >= date_trunc('hour', now()) - interval '7 days'") raw rows against $(q "SELECT count(*) FROM channel_hourly_data WHERE bucket >= date_trunc('hour', now()) - interval '7 days'") stored groups)"

# Timings: one psql session (no connection start in them), a warm-up run of each, then 5 runs of each in
# turn; \timing prints to stdout, the results go to /dev/null.
RUNS=5
times=$({ echo '\o /dev/null'; echo '\timing on'; echo "$DASH;"; echo "$RAW;"
          for _ in $(seq 1 $RUNS); do echo "$DASH;"; echo "$RAW;"; done; } | "${PSQL[@]}" -q | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
view_ms=$(echo "$times" | tail -n +3 | awk 'NR % 2 == 1' | median)
raw_ms=$(echo "$times" | tail -n +3 | awk 'NR % 2 == 0' | median)
[ -n "$view_ms" ] && [ -n "$raw_ms" ] || { echo "timing failed: [$times]"; exit 1; }

# Agreement: both results at one snapshot (REPEATABLE READ: the view's stored groups, its tail above the
# watermark and the raw rows are all read as of the first statement), for every channel.
# Bounds: views and watch time exact; p95 within qsketch's relative accuracy (0.005: |sketch - percentile_disc|
# <= 0.5% of percentile_disc, guaranteed; 1e-9 for float rounding); unique viewers within 4 standard errors of
# a precision-14 hll (1.04 / sqrt(16384) = 0.81%, so 3.25%; a statistical bound, checked on the 10 shown).
out=$("${PSQL[@]}" -q -At <<SQL
BEGIN ISOLATION LEVEL REPEATABLE READ;
CREATE TEMP TABLE from_view AS ${DASH% LIMIT 10};
CREATE TEMP TABLE from_raw AS ${RAW% LIMIT 10};
CREATE TEMP TABLE tail AS SELECT count(*) AS n FROM video_events
  WHERE event_id > (SELECT watermark FROM strata.rollups WHERE name = 'channel_hourly'::regclass);
COMMIT;
CREATE TEMP TABLE cmp AS
  SELECT channel_id, v.views AS v_views, r.views AS r_views, v.watch_ms AS v_watch, r.watch_ms AS r_watch,
         v.viewers AS v_viewers, r.viewers AS r_viewers, v.p95_watch_ms AS v_p95, r.p95_watch_ms AS r_p95,
         abs(v.viewers - r.viewers)::numeric / r.viewers AS viewers_err, abs(v.p95_watch_ms - r.p95_watch_ms)::numeric / r.p95_watch_ms AS p95_err,
         row_number() OVER (ORDER BY r.views DESC, r.channel_id) AS rank
  FROM from_raw r FULL JOIN from_view v USING (channel_id);
SELECT 'tail=' || n FROM tail;
SELECT 'channels=' || count(*) FROM cmp;
SELECT 'bad=' || channel_id FROM cmp WHERE v_views IS DISTINCT FROM r_views OR v_watch IS DISTINCT FROM r_watch
  OR NOT p95_err <= 0.005 * (1 + 1e-9) OR (rank <= 10 AND NOT viewers_err <= 4 * 1.04 / sqrt(16384));
SELECT 'maxerr=' || round(100 * max(viewers_err) FILTER (WHERE rank <= 10), 2) || ' ' || round(100 * max(p95_err), 3) FROM cmp;
\pset format aligned
\pset tuples_only off
SELECT channel_id AS channel, v_views AS "views: view", r_views AS "raw",
       round(v_watch / 3600000.0, 1) AS "watch h: view", round(r_watch / 3600000.0, 1) AS "raw",
       v_viewers AS "viewers: view (hll)", r_viewers AS "raw (exact)", round(100 * viewers_err, 2) AS "err %",
       round(v_p95) AS "p95 ms: view", r_p95 AS "raw (exact)", round(100 * p95_err, 3) AS "err %"
  FROM cmp WHERE rank <= 10 ORDER BY rank;
SQL
)
echo
echo "$out" | sed -n '/^ channel/,$p'
tail_rows=$(echo "$out" | sed -n 's/^tail=//p')
channels=$(echo "$out" | sed -n 's/^channels=//p')
bad=$(echo "$out" | sed -n 's/^bad=//p' | paste -sd, -)
read -r hll_err q_err <<<"$(echo "$out" | sed -n 's/^maxerr=//p')"
echo "time, median of $RUNS runs in one session: real-time view $view_ms ms, raw events $raw_ms ms:" \
     "the rollup is $(awk -v a="$raw_ms" -v b="$view_ms" 'BEGIN { printf "%.1f", a / b }')x faster"
echo "checked at one snapshot on all $channels channels ($tail_rows rows not yet refreshed, merged in by the view):"
echo "  views, watch time: exact, must be equal"
echo "  p95 watch time: within qsketch's relative accuracy 0.5% (guaranteed); largest error $q_err%"
echo "  unique viewers (the 10 shown): within 4 standard errors of hll precision 14 (3.25%); largest error $hll_err%"
if [ -n "$bad" ] || [ "$channels" != 50 ]; then
  echo "agree: NO (channels $bad; $channels channels compared)"
  exit 1
fi
echo "agree: yes"

# Routing: the ordinary query on the raw table, planned against the rollup by strata itself (exact: rows
# the rollup has not absorbed yet and hours changed since their refresh are read raw).
ROUTED="SELECT channel_id, count(*) AS views, sum(watch_ms) AS watch_ms FROM video_events
   WHERE kind = 'view' AND ts >= date_trunc('hour', now()) - interval '7 days' GROUP BY 1 ORDER BY views DESC, channel_id LIMIT 10"
echo
echo "== ROUTING: the dashboard's views and watch time written against the raw events, answered from the rollup by itself"
show "strata.explain_routing(that query): which rollup answers it, and why the query as written does not" \
  "SELECT rollup, decision, reason_code, round(est_cost) AS est_cost FROM strata.explain_routing(\$\$$ROUTED\$\$)"
rtimes=$({ echo '\o /dev/null'; echo '\timing on'; echo "SET strata.routing = on;"; echo "$ROUTED;"
           for _ in $(seq 1 $RUNS); do echo "SET strata.routing = on;"; echo "$ROUTED;"; echo "SET strata.routing = off;"; echo "$ROUTED;"; done; } |
         "${PSQL[@]}" -q | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
# Lines: SET, warm-up, then per run: SET, routed, SET, as written.
routed_ms=$(echo "$rtimes" | tail -n +3 | awk 'NR % 4 == 2' | median)
written_ms=$(echo "$rtimes" | tail -n +3 | awk 'NR % 4 == 0' | median)
same=$("${PSQL[@]}" -q -At <<SQL
BEGIN ISOLATION LEVEL REPEATABLE READ;
CREATE TEMP TABLE routed AS ${ROUTED% LIMIT 10};
SET LOCAL strata.routing = off;
CREATE TEMP TABLE written AS ${ROUTED% LIMIT 10};
SELECT NOT EXISTS (SELECT * FROM routed EXCEPT ALL SELECT * FROM written)
   AND NOT EXISTS (SELECT * FROM written EXCEPT ALL SELECT * FROM routed);
COMMIT;
SQL
)
echo "time, median of $RUNS runs in one session: routed $routed_ms ms, as written (strata.routing = off) $written_ms ms:" \
     "$(awk -v a="$written_ms" -v b="$routed_ms" 'BEGIN { printf "%.1f", a / b }')x faster"
echo "the same rows routed and as written, at one snapshot, every channel: $([ "$same" = t ] && echo yes || echo NO)"
[ "$same" = t ] || exit 1

t=$SECONDS
q "INSERT INTO demo_stop DEFAULT VALUES"
for _ in $(seq 1 50); do kill -0 "$WRITER_PID" 2>/dev/null || break; sleep 0.2; done
wait "$WRITER_PID" || { echo "the writer failed"; exit 1; }
WRITER_PID=""
q "DROP TABLE demo_stop"
for _ in $(seq 1 30); do [ "$(q "SELECT lag_rows = 0 AND pending_buckets = 0 FROM strata.rollups")" = t ] && break; sleep 1; done
show "the writer stopped; meanwhile the worker absorbed its rows in steps of 2 s (late rows recompute only their hours)" \
  "SELECT name, watermark, lag_rows, pending_buckets, refresh_steps - $steps0 AS steps_meanwhile,
          rows_processed - $rows0 AS views_absorbed,
          (SELECT count(*) FROM video_events WHERE event_id > $wm0 AND kind = 'view') AS views_written,
          last_duration_ms FROM strata.rollups"

echo
echo "== the vacuum scheduler (autovacuum never analyzes partitioned parents; strata does)"
# The scheduler may first have analyzed the parent while the load was still uncommitted (it saw no rows);
# a parent without statistics is analyzed again as soon as its partitions changed.
for _ in $(seq 1 40); do
  [ "$(q "SELECT count(*) FROM pg_stats WHERE tablename = 'video_events'")" != 0 ] && break
  sleep 1
done
show "what it did (strata.vacuum_activity)" "SELECT action, count(*), min(relation) AS first_relation,
        sum((buffers->>'dirtied')::int) AS pages_dirtied, max(duration)::interval(0) AS longest
     FROM strata.vacuum_activity WHERE status = 'ok' GROUP BY 1 ORDER BY 1"
echo "   video_events (the parent) has planner statistics for $(q "SELECT count(*) FROM pg_stats WHERE tablename = 'video_events' AND inherited") columns, without anyone running ANALYZE"
if [ "$(q "SELECT count(*) FROM strata.vacuum_plan()")" = 0 ]; then
  echo "   strata.vacuum_plan() (a dry run of its next pass): nothing due"
else
  show "what it would do next and why (strata.vacuum_plan(), a dry run)" \
    "SELECT priority, action, relation, decision, left(reason, 80) AS reason FROM strata.vacuum_plan() LIMIT 3"
fi
echo
echo "== COLD HISTORY: the worker compresses the days older than 14 into column batches (segment by channel, time"
echo "   order); the same SQL reads them, and totals per channel are added up batch by batch"
q "SELECT strata.alter_partition_set('video_events', compress_after => '14 days', compress_segment_by => '{channel_id}',
     compress_order_by => 'ts')" >/dev/null
# The partitions wholly older than 14 days (and kept by the 21-day retention): the worker takes a few per pass.
due=$(q "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'video_events'::regclass AND c.relname ~ '^video_events_p[0-9]{8}$'
           AND to_date(right(c.relname, 8), 'YYYYMMDD') + 1 <= (now() - interval '14 days')::date")
t=$SECONDS
for _ in $(seq 1 90); do
  [ "$(q "SELECT count(*) FROM strata.compressed_partitions WHERE parent = 'video_events'::regclass")" -ge "$due" ] && break
  sleep 1
done
took $t
show "strata.compressed_partitions (bytes with indexes and TOAST)" \
  "SELECT count(*) AS partitions, sum(rows) AS rows, sum(batches) AS batches, pg_size_pretty(sum(bytes_before)) AS before,
          pg_size_pretty(sum(bytes_now)) AS now, round(sum(bytes_before)::numeric / sum(bytes_now), 1) AS smaller
     FROM strata.compressed_partitions WHERE parent = 'video_events'::regclass"
# A time 15 days back: every row before it is in a compressed partition.
CUT=$(q "SELECT now() - interval '15 days'")
OLD="SELECT channel_id, count(*) AS events, sum(watch_ms) AS watch_ms, max(ts) AS last FROM %s
     WHERE ts < '$CUT' GROUP BY channel_id ORDER BY watch_ms DESC LIMIT 5"
q "CREATE TABLE video_events_heap AS SELECT * FROM video_events WHERE ts < '$CUT'"
q "ANALYZE video_events_heap"
ctimes=$({ echo '\o /dev/null'; echo '\timing on'; printf "$OLD;\n" video_events; printf "$OLD;\n" video_events_heap
           for _ in $(seq 1 $RUNS); do printf "$OLD;\n" video_events; printf "$OLD;\n" video_events_heap; done; } |
         "${PSQL[@]}" -q | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
cmp_ms=$(echo "$ctimes" | tail -n +3 | awk 'NR % 2 == 1' | median)
heap_ms=$(echo "$ctimes" | tail -n +3 | awk 'NR % 2 == 0' | median)
show "the top channels of the compressed days, from the compressed partitions" "$(printf "$OLD" video_events)"
echo "   the plan: $(q "EXPLAIN $(printf "$OLD" video_events)" | grep -o 'StrataColumnarAggregate' | sort | uniq -c | awk '{print $1 " partitions read by " $2}')"
same=$(q "SELECT count(*) = 0 FROM ((($(printf "$OLD" video_events)) EXCEPT ALL ($(printf "$OLD" video_events_heap)))
          UNION ALL (($(printf "$OLD" video_events_heap)) EXCEPT ALL ($(printf "$OLD" video_events)))) d")
echo "time, median of $RUNS runs in one session: compressed partitions $cmp_ms ms, a heap copy of the same rows $heap_ms ms;" \
     "the same rows: $([ "$same" = t ] && echo yes || echo NO)"
[ "$same" = t ] || exit 1

echo
echo "demo done in $(($SECONDS - T0)) s"
if [ "${KEEP:-0}" = 1 ]; then
  # The server runs as postgres when the demo runs as root (lib.sh): pg_ctl must too (it refuses root).
  if [ "$(id -u)" = 0 ]; then stop="runuser -u postgres -- $PGBIN/pg_ctl -D $DIR/data stop"; else stop="$PGBIN/pg_ctl -D $DIR/data stop"; fi
  echo "Cluster left running: $PGBIN/psql -h 127.0.0.1 -p $PGPORT -U postgres videos"
  echo "Stop it with: $stop"
fi
exit 0
