-- Rollups of rollups: a daily rollup of an hourly one, refreshed from the hourly rollup's changes.
SET TimeZone = 'UTC';
CREATE TABLE ev (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, channel int, viewer bigint,
                 watch_ms int, kind text, label text) PARTITION BY RANGE (ts);
CREATE TABLE ev_p20260101 PARTITION OF ev FOR VALUES FROM ('2026-01-01') TO ('2026-01-02');
CREATE TABLE ev_p20260102 PARTITION OF ev FOR VALUES FROM ('2026-01-02') TO ('2026-01-03');
CREATE TABLE ev_p20260103 PARTITION OF ev FOR VALUES FROM ('2026-01-03') TO ('2026-01-04');
CREATE TABLE ev_p20260104 PARTITION OF ev FOR VALUES FROM ('2026-01-04') TO ('2026-01-05');
CREATE INDEX ON ev (id);
INSERT INTO ev (ts, channel, viewer, watch_ms, kind, label)
SELECT timestamptz '2026-01-01' + (g % 96) * interval '1 hour' + (g % 7) * interval '1 minute', g % 3, g % 41,
       (g * 37) % 5000, CASE WHEN g % 9 = 0 THEN 'ad' ELSE 'view' END, 'l' || (g % 4)
FROM generate_series(1, 3000) g;
-- Setup: ev_hourly (every measure) refreshed, then new, late, updated and deleted rows absorbed
-- (rollups_merge checks each step).
SELECT strata.create_rollup('ev_hourly', $q$
  SELECT date_trunc('hour', ts) AS bucket, channel, count(*) AS views, count(watch_ms) AS watched,
         sum(watch_ms) AS watch, min(watch_ms) AS shortest, max(watch_ms) AS longest, avg(watch_ms) AS avg_watch,
         strata.hll_agg(viewer) AS viewers, strata.qsketch_agg(watch_ms) AS watch_q, strata.topk_agg(label, 3) AS labels
  FROM ev WHERE kind = 'view' GROUP BY 1, 2 $q$, batch_size => 1000) > 0 AS created;
SELECT strata.refresh_rollup('ev_hourly') IS NOT NULL AS refreshed;
INSERT INTO ev (ts, channel, viewer, watch_ms, kind, label) VALUES
  ('2026-01-04 10:05', 1, 7, 100, 'view', 'l1'), ('2026-01-01 00:10', 2, 900, 10, 'view', 'l9');
INSERT INTO ev_p20260102 (ts, channel, viewer, watch_ms, kind, label) VALUES ('2026-01-02 03:00', 0, 901, 5, 'view', 'l0');
UPDATE ev SET watch_ms = watch_ms + 1 WHERE id % 50 = 0;
UPDATE ev SET channel = NULL WHERE id = 4;
DELETE FROM ev WHERE id % 97 = 0;
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
