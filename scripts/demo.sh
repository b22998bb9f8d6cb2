#!/usr/bin/env bash
# The main job: a throwaway cluster with strata preloaded, a video-analytics schema with sample data,
# the background worker maintaining its partitions and an incremental rollup while you watch, and the
# dashboard query answered from the rollup. KEEP=1 leaves the cluster running.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh >/dev/null
make -s -j2 >/dev/null && make -s install >/dev/null
source test/cluster/lib.sh
DIR=${DEMO_DIR:-/tmp/strata-demo}
export PGPORT=${PGPORT:-25800} DB=videos
cluster_stop "$DIR" immediate 2>/dev/null || true
rm -rf "$DIR"
cluster_start "$DIR" "$PGPORT" "strata.naptime = 2" "strata.vacuum_cold_after = 30" "strata.vacuum_max_actions = 8" \
  "strata.vacuum_analyze_min_interval = 10" >/dev/null
[ "${KEEP:-0}" = 1 ] || trap 'cluster_stop "$DIR"; rm -rf "$DIR"' EXIT
show() { echo; echo "-- $1"; "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d videos -X -P pager=off -c "$2"; }

echo "== cluster on 127.0.0.1:$PGPORT with shared_preload_libraries = strata (naptime 2 s; partitions count as cold after 30 s)"
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
show "create_partition_set" "SELECT strata.create_partition_set('video_events', 'ts', '1 day', premake => 3,
        default_partition => true, partition_options => '{autovacuum_vacuum_scale_factor=0.02}',
        start_partition => (now() - interval '30 days')::text) AS partitions_created"

echo "== loading 50,000 videos and 1,000,000 events over the last 30 days (plus 500 late and 3 bogus far-future events)"
q "INSERT INTO videos SELECT g, g % 500, 'video ' || g, ARRAY['label' || g % 17], now() - random() * interval '90 days'
     FROM generate_series(1, 50000) g"
q "INSERT INTO video_events (video_id, viewer_id, channel_id, ts, kind, watch_ms) SELECT 1 + (random() * 49999)::int, (random() * 200000)::int, g % 500,
     now() - random() * interval '30 days', CASE WHEN g % 10 = 0 THEN 'like' ELSE 'view' END, (exp(random() * 14))::int
     FROM generate_series(1, 1000000) g"
q "DROP TABLE video_events_p$(date -u -d '-1 day' +%Y%m%d)"   # a gap: yesterday's partition went missing
q "INSERT INTO video_events (video_id, viewer_id, channel_id, ts, kind, watch_ms) SELECT 1, g, 1, now() - interval '1 day' - g * interval '1 second', 'view', 1000 FROM generate_series(1, 500) g"
q "INSERT INTO video_events (video_id, viewer_id, channel_id, ts, kind, watch_ms) VALUES (1, 1, 1, now() + interval '30 years', 'view', 5),
     (1, 2, 1, now() + interval '40 years', 'view', 5), (1, 3, 1, now() + interval '50 years', 'view', 5)"
echo "== an hourly rollup per channel (views, watch time, unique viewers, watch-time quantiles), owned by video_app"
show "create_rollup" "SET ROLE video_app; SELECT strata.create_rollup('channel_hourly', \$\$
        SELECT date_trunc('hour', ts) AS bucket, channel_id, count(*) AS views, sum(watch_ms) AS watch_ms,
               strata.hll_agg(viewer_id) AS viewers, strata.qsketch_agg(watch_ms) AS watch_q
        FROM video_events WHERE kind = 'view' GROUP BY 1, 2 \$\$, refresh_interval => '2 seconds') AS rollup_id"
q "SELECT strata.alter_partition_set('video_events', retention => '21 days')" >/dev/null
show "before the worker's next pass (retention just set to 21 days)" "SELECT parent, partition_count, oldest_bound, newest_bound,
        partitions_ahead, default_rows, actions_due FROM strata.partition_sets"

echo "== waiting for the worker (retention drops days older than 21; late rows go home; far-future rows stay)"
for i in $(seq 1 30); do
  [ "$(q "SELECT default_rows = 3 AND oldest_bound::timestamptz >= now() - interval '22 days' FROM strata.partition_sets")" = t ] && \
  [ "$(q "SELECT backfill_done AND lag_rows = 0 FROM strata.rollups")" = t ] && break
  sleep 1
done
show "strata.workers" "SELECT datname, pid, state, passes, naptime_ms, last_pass_at FROM strata.workers"
show "strata.partition_sets" "SELECT parent, partition_interval, premake, retention, partition_count, oldest_bound, newest_bound,
        partitions_ahead, default_rows, last_action, last_status FROM strata.partition_sets"
show "what the worker did (strata.job_runs)" "SELECT job_kind, status, count(*), min(started_at)::time(0) AS first, max(finished_at)::time(0) AS last,
        max(details->>'rows') AS rows_moved, max(details->>'mode') AS detach_mode FROM strata.job_runs GROUP BY 1, 2 ORDER BY 1, 2"
show "a new partition got the template (owner, grants, reloptions)" "SELECT c.relname, c.relowner::regrole, c.reloptions, c.relacl
        FROM pg_class c WHERE c.relname = 'video_events_p$(date -u -d '-1 day' +%Y%m%d)'"
show "strata.rollups (backfilled in the background, newest first; refreshed every 2 s)" "SELECT name, source, watermark, lag_rows,
        lag_time, pending_buckets, backfill_done, rows_processed, last_duration_ms, last_error FROM strata.rollups"
echo
echo "== 2,000 new events arrive, one late by 20 hours; rollup view first (real-time: the unrefreshed tail is merged in)"
q "INSERT INTO video_events (video_id, viewer_id, channel_id, ts, kind, watch_ms) SELECT 7, 900000 + g, 7, now(), 'view', 60000
     FROM generate_series(1, 1999) g"
q "INSERT INTO video_events (video_id, viewer_id, channel_id, ts, kind, watch_ms) VALUES (7, 1, 7, now() - interval '20 hours', 'view', 1)"
DASH="SELECT channel_id, sum(views) AS views, round(sum(watch_ms) / 3600000.0, 1) AS watch_hours,
        strata.distinct_count(strata.merge(viewers)) AS unique_viewers,
        round(strata.quantile(strata.merge(watch_q), 0.99)) AS p99_watch_ms
   FROM channel_hourly WHERE bucket >= date_trunc('hour', now()) - interval '7 days' GROUP BY 1 ORDER BY views DESC LIMIT 5"
RAW="SELECT channel_id, count(*) AS views, round(sum(watch_ms) / 3600000.0, 1) AS watch_hours, count(DISTINCT viewer_id) AS unique_viewers,
        percentile_disc(0.99) WITHIN GROUP (ORDER BY watch_ms) AS p99_watch_ms
   FROM video_events WHERE kind = 'view' AND ts >= date_trunc('hour', now()) - interval '7 days' GROUP BY 1 ORDER BY views DESC LIMIT 5"
timed() { echo; echo "-- $1"; "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d videos -X -P pager=off -c '\timing on' -c "$2" | grep -v '^Timing is on'; }
timed "dashboard from the rollup view channel_hourly (views, watch hours, unique viewers, p99 watch time)" "$DASH"
timed "the same dashboard from the raw events (exact count(DISTINCT) and percentile_disc)" "$RAW"
echo "(This sample has ~2 events per hour and channel, so the rollup barely condenses it and the dashboard merges"
echo " ~60,000 stored sketches; a rollup pays off as groups fill up: see bench/README.md, raw/view 5x.)"
sleep 3
show "after the worker's next refresh (the late row went into its own hour, nothing else was recomputed)" \
  "SELECT name, watermark, lag_rows, pending_buckets, last_rows, rows_processed FROM strata.rollups"
show "what the worker did (strata.job_runs, rollups)" "SELECT job_kind, status, count(*), sum((details->>'rows')::bigint) AS rows,
        max(run_as) AS run_as FROM strata.job_runs WHERE job_kind LIKE 'rollup%' GROUP BY 1, 2 ORDER BY 1, 2"
show "the vacuum scheduler: what it did (strata.vacuum_activity; autovacuum never analyzes partitioned parents)" \
  "SELECT action, count(*), min(relation) AS first_relation, sum((buffers->>'dirtied')::int) AS pages_dirtied,
          max(duration)::interval(0) AS longest, max(reason) FILTER (WHERE action = 'analyze_parent') AS why_parent
     FROM strata.vacuum_activity WHERE status = 'ok' GROUP BY 1 ORDER BY 1"
# The scheduler may first have analyzed the parent while the load was still uncommitted (it saw no rows);
# a parent without statistics is analyzed again as soon as its partitions changed.
for _ in $(seq 1 40); do
  [ "$(q -d videos "SELECT count(*) FROM pg_stats WHERE tablename = 'video_events'")" != 0 ] && break
  sleep 1
done
show "the parent video_events has planner statistics now, without anyone running ANALYZE" \
  "SELECT attname, n_distinct, inherited FROM pg_stats WHERE tablename = 'video_events' ORDER BY attname LIMIT 4"
show "what it would do next and why (strata.vacuum_plan(), a dry run)" \
  "SELECT priority, action, relation, decision, left(reason, 90) AS reason FROM strata.vacuum_plan() LIMIT 5"
echo
[ "${KEEP:-0}" = 1 ] && echo "Cluster left running: psql -h 127.0.0.1 -p $PGPORT -U postgres videos   (stop: pg_ctl -D $DIR/data stop)"
exit 0
