-- Rollups and retention: retention waits for the rollups, then drops; the rollups keep the buckets;
-- later changes to rows of dropped buckets' days freeze those buckets. Then bucket expressions in each
-- time zone, over what retention left.
SET TimeZone = 'UTC';
SELECT test_make_ev();
-- Setup: ev_hourly (every measure) refreshed, then new, late, updated and deleted rows absorbed
-- (rollups_merge checks each step).
SELECT test_make_ev_hourly() AS created;
SELECT strata.refresh_rollup('ev_hourly') IS NOT NULL AS refreshed;
SELECT test_change_ev();
SELECT strata.refresh_rollup('ev_hourly') IS NOT NULL AS refreshed;
-- Setup: a daily rollup of ev_hourly, refreshed after a change (rollups_of_rollups checks it).
SELECT strata.create_rollup('ev_daily', $q$
  SELECT date_trunc('day', bucket) AS day, channel, sum(views) AS views, strata.merge(viewers) AS viewers,
         max(longest) AS longest FROM ev_hourly GROUP BY 1, 2 $q$) > 0 AS created;
SELECT strata.refresh_rollup('ev_daily') IS NOT NULL AS refreshed;
UPDATE ev SET viewer = 12345 WHERE id = 10;
SELECT strata.refresh_rollup('ev_hourly') IS NOT NULL AS refreshed;
SELECT strata.refresh_rollup('ev_daily') IS NOT NULL AS refreshed;

-- Retention waits for the rollups, then drops; the rollups keep the buckets; later changes to rows of
-- dropped buckets' days cannot be recomputed, so those buckets are frozen, not wiped.
INSERT INTO ev (ts, channel, viewer, watch_ms, kind, label) VALUES ('2026-01-01 05:00', 1, 1, 1, 'view', 'l1');
SELECT strata.create_partition_set('ev', 'ts', '1 day', premake => 1, retention => '3 days');
SELECT action, partition, status, message FROM strata.run_maintenance('ev') WHERE action = 'detach';
SELECT count(*) AS partitions_left, bool_or(inhrelid = 'ev_p20260101'::regclass) AS waiting_one_kept
  FROM pg_inherits WHERE inhparent = 'ev'::regclass;
SELECT (strata.refresh_rollup('ev_hourly') - 'duration_ms' - 'groups' - 'rows') AS absorbed;
SELECT action, status FROM strata.run_maintenance('ev') WHERE action = 'detach' ORDER BY partition;
SELECT frozen_before FROM strata.rollup WHERE view = 'ev_hourly'::regclass;
-- Changes queued for buckets whose raw rows are gone are not recomputed (that would wipe them): the
-- buckets are frozen and listed.
INSERT INTO ev_hourly_pending (b) VALUES ('2026-01-01 05:00'), ('2026-01-03 01:00');
SELECT (strata.refresh_rollup('ev_hourly') - 'duration_ms' - 'groups' - 'rows') AS frozen_refresh;
SELECT bucket FROM strata.rollup_frozen_bucket ORDER BY bucket;
SELECT name, frozen_buckets FROM strata.rollups WHERE name = 'ev_hourly'::regclass;
SELECT count(*) AS hourly_rows_kept, sum(views) AS views_kept FROM ev_hourly_data WHERE bucket < '2026-01-02';
SELECT count(*) AS daily_rows_kept FROM ev_daily WHERE day < '2026-01-02';

-- Bucket expressions: a fixed-width unit in a zone with a fixed UTC offset is stored as date_bin (the same
-- buckets, integer arithmetic); calendar units and zones with daylight saving time keep date_trunc in the
-- creator's zone. Each equals the GROUP BY in its creator's zone, read from a session in another zone.
SET TimeZone = 'Etc/GMT-5';
SELECT strata.create_rollup('ev_day_p5', $q$SELECT date_trunc('day', ts) AS d, count(*) AS n FROM ev GROUP BY 1$q$) > 0 AS created;
SET TimeZone = 'America/New_York';
SELECT strata.create_rollup('ev_day_ny', $q$SELECT date_trunc('day', ts) AS d, count(*) AS n FROM ev GROUP BY 1$q$) > 0 AS created;
SELECT strata.create_rollup('ev_week_ny', $q$SELECT date_trunc('week', ts) AS d, count(*) AS n FROM ev GROUP BY 1$q$) > 0 AS created;
SET TimeZone = 'UTC';
SELECT view, bucket_expr FROM strata.rollup WHERE view::text IN ('ev_hourly', 'ev_day_p5', 'ev_day_ny', 'ev_week_ny') ORDER BY view::text;
SELECT (strata.refresh_rollup(v) - 'duration_ms' - 'groups' - 'rows') AS r FROM unnest('{ev_day_p5,ev_day_ny,ev_week_ny}'::text[]) v;
SELECT z, count(n) AS mismatches FROM (
  (SELECT 'p5' AS z, d, n FROM ev_day_p5 EXCEPT SELECT 'p5', date_trunc('day', ts, 'Etc/GMT-5'), count(*) FROM ev GROUP BY 2)
  UNION ALL (SELECT 'p5', date_trunc('day', ts, 'Etc/GMT-5'), count(*) FROM ev GROUP BY 2 EXCEPT SELECT 'p5', d, n FROM ev_day_p5)
  UNION ALL (SELECT 'ny', d, n FROM ev_day_ny EXCEPT SELECT 'ny', date_trunc('day', ts, 'America/New_York'), count(*) FROM ev GROUP BY 2)
  UNION ALL (SELECT 'ny', date_trunc('day', ts, 'America/New_York'), count(*) FROM ev GROUP BY 2 EXCEPT SELECT 'ny', d, n FROM ev_day_ny)
  UNION ALL (SELECT 'wk', d, n FROM ev_week_ny EXCEPT SELECT 'wk', date_trunc('week', ts, 'America/New_York'), count(*) FROM ev GROUP BY 2)
  UNION ALL (SELECT 'wk', date_trunc('week', ts, 'America/New_York'), count(*) FROM ev GROUP BY 2 EXCEPT SELECT 'wk', d, n FROM ev_week_ny)
  UNION ALL SELECT z, NULL, NULL FROM unnest('{p5,ny,wk}'::text[]) z) m
GROUP BY z ORDER BY z;
SELECT strata.drop_rollup(v) FROM unnest('{ev_day_p5,ev_day_ny,ev_week_ny}'::text[]) v;
SELECT strata.drop_rollup('ev_daily'), strata.drop_rollup('ev_hourly');
DROP TABLE ev;
