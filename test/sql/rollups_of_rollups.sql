-- Rollups of rollups: a daily rollup of an hourly one, refreshed from the hourly rollup's changes.
SET TimeZone = 'UTC';
SELECT test_make_ev();
-- Setup: ev_hourly (every measure) refreshed, then new, late, updated and deleted rows absorbed
-- (rollups_merge checks each step).
SELECT test_make_ev_hourly() AS created;
SELECT strata.refresh_rollup('ev_hourly') IS NOT NULL AS refreshed;
SELECT test_change_ev();
SELECT strata.refresh_rollup('ev_hourly') IS NOT NULL AS refreshed;
-- Setup: rollup ids show in results below (create_rollup's result); they continue from 6, as in one run of
-- every rollup test in one file.
SELECT setval('strata.rollup_id_seq', 6) AS last_rollup_id;

-- Rollup of a rollup: daily from hourly, refreshed from the hourly rollup's changes.
SELECT strata.create_rollup('ev_daily', $q$
  SELECT date_trunc('day', bucket) AS day, channel, sum(views) AS views, strata.merge(viewers) AS viewers,
         max(longest) AS longest FROM ev_hourly GROUP BY 1, 2 $q$);
SELECT (strata.refresh_rollup('ev_daily') - 'duration_ms') AS daily_first;
CREATE VIEW ev_daily_direct AS
  SELECT date_trunc('day', ts) AS day, channel, count(*) AS views, strata.hll_agg(viewer)::text AS viewers,
         max(watch_ms) AS longest FROM ev WHERE kind = 'view' GROUP BY 1, 2;
UPDATE ev SET viewer = 12345 WHERE id = 10;
SELECT (strata.refresh_rollup('ev_hourly') - 'duration_ms' - 'groups' - 'rows') AS hourly;
SELECT (strata.refresh_rollup('ev_daily') - 'duration_ms') AS daily;
SELECT count(*) AS daily_diff FROM ((SELECT day, channel, views, viewers::text, longest FROM ev_daily
  EXCEPT ALL SELECT * FROM ev_daily_direct) UNION ALL (SELECT * FROM ev_daily_direct
  EXCEPT ALL SELECT day, channel, views, viewers::text, longest FROM ev_daily)) d;
SELECT name, source_rollup, level FROM strata.rollups ORDER BY level;
SELECT strata.drop_rollup('ev_daily'), strata.drop_rollup('ev_hourly');
DROP VIEW ev_daily_direct;
DROP TABLE ev;
