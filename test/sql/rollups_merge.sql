-- Rollups, refreshed: the backfill by refreshes, new, late, updated and deleted rows in both view modes,
-- and appends merged into the stored groups without SQL.
SET TimeZone = 'UTC';
SELECT test_make_ev();
-- Setup: the rollup with every measure (rollups_define shows it).
SELECT test_make_ev_hourly() AS created;
SELECT test_make_ev_direct();
-- Real-time mode: correct before any refresh (everything is still tail).
SELECT rollup_diff('ev_hourly') AS realtime_diff_before_refresh;
SELECT (strata.refresh_rollup('ev_hourly') - 'duration_ms') AS first_refresh;
SELECT name, lag_rows, pending_buckets, backfill_done, backfill_progress, rows_processed FROM strata.rollups;
SELECT rollup_diff('ev_hourly') AS realtime_diff;
SELECT strata.alter_rollup('ev_hourly', realtime => false);
SELECT rollup_diff('ev_hourly') AS materialized_diff;

-- New rows, late rows (an old hour), a direct insert into a partition, updates and deletes.
INSERT INTO ev (ts, channel, viewer, watch_ms, kind, label) VALUES
  ('2026-01-04 10:05', 1, 7, 100, 'view', 'l1'), ('2026-01-01 00:10', 2, 900, 10, 'view', 'l9');
INSERT INTO ev_p20260102 (ts, channel, viewer, watch_ms, kind, label) VALUES ('2026-01-02 03:00', 0, 901, 5, 'view', 'l0');
UPDATE ev SET watch_ms = watch_ms + 1 WHERE id % 50 = 0;
UPDATE ev SET channel = NULL WHERE id = 4;
DELETE FROM ev WHERE id % 97 = 0;
SELECT rollup_diff('ev_hourly') AS stale_materialized_diff_is_nonzero_before_refresh;
SELECT (strata.refresh_rollup('ev_hourly') - 'duration_ms' - 'groups') AS refresh_after_changes;
SELECT rollup_diff('ev_hourly') AS materialized_diff_after_refresh;
SELECT strata.alter_rollup('ev_hourly', realtime => true);
SELECT rollup_diff('ev_hourly') AS realtime_diff_after_refresh;
-- A NULL dimension is one group (NULLS NOT DISTINCT key), merged like any other.
SELECT bucket, channel, views FROM ev_hourly WHERE channel IS NULL;

-- Appends merge a batch's groups into the stored ones without SQL (key index probe, update in place,
-- insert when the group is new in an old bucket), as the ON CONFLICT merge would: NULL dimensions are
-- one group, sums add with a NULL side giving the other, min/max ignore NULLs, sketches merge (NULL
-- sketches included). Batches: newest bucket first, then an older bucket (all merged), with NULL and
-- non-NULL values on either side, each checked against the direct GROUP BY (sketches bitwise).
CREATE TABLE mrg (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamp NOT NULL, d int, x int, v bigint);
CREATE INDEX ON mrg (id);
SELECT strata.create_rollup('mrg_h', $q$SELECT date_trunc('hour', ts) AS b, d, count(*) AS n, count(x) AS nx,
  sum(x) AS s, min(x) AS lo, max(x) AS hi, avg(x) AS a, strata.hll_agg(v) AS u, strata.qsketch_agg(x) AS q,
  strata.topk_agg(x, 2) AS t FROM mrg GROUP BY 1, 2$q$, realtime => false) > 0 AS created;
CREATE VIEW mrg_direct AS SELECT date_trunc('hour', ts) AS b, d, count(*) AS n, count(x) AS nx, sum(x) AS s,
  min(x) AS lo, max(x) AS hi, avg(x) AS a, strata.hll_agg(v)::text AS u, strata.qsketch_agg(x)::text AS q,
  strata.topk_agg(x, 2)::text AS t FROM mrg GROUP BY 1, 2;
CREATE FUNCTION mrg_diff() RETURNS bigint LANGUAGE sql AS $f$
  SELECT count(*) FROM ((SELECT b, d, n, nx, s, lo, hi, a, u::text, q::text, t::text FROM mrg_h EXCEPT ALL
    SELECT * FROM mrg_direct) UNION ALL (SELECT * FROM mrg_direct EXCEPT ALL
    SELECT b, d, n, nx, s, lo, hi, a, u::text, q::text, t::text FROM mrg_h)) x $f$;
INSERT INTO mrg (ts, d, x, v) VALUES ('2026-01-01 05:10', 1, 10, 1), ('2026-01-01 05:20', NULL, NULL, NULL),
  ('2026-01-01 04:00', 2, NULL, NULL), ('2026-01-01 04:30', NULL, 7, 3), ('2026-01-01 04:40', 3, -2, 9);
SELECT (strata.refresh_rollup('mrg_h') - 'duration_ms') AS first, mrg_diff() AS diff;
-- Into stored groups (an older bucket than the newest: no group is "past the newest"), and new groups there.
INSERT INTO mrg (ts, d, x, v) VALUES ('2026-01-01 04:05', 2, 5, 4), ('2026-01-01 04:50', NULL, NULL, NULL),
  ('2026-01-01 04:55', 3, NULL, NULL), ('2026-01-01 04:15', 4, 1, 1), ('2026-01-01 05:30', NULL, -4, 2),
  ('2026-01-01 05:40', 1, NULL, NULL), ('2026-01-01 03:00', NULL, 0, 0);
BEGIN;
SELECT (strata.refresh_rollup('mrg_h') - 'duration_ms') AS merged, mrg_diff() AS diff;
SELECT n_tup_upd AS stored_groups_updated FROM pg_stat_xact_user_tables WHERE relname = 'mrg_h_data';
COMMIT;
-- An index someone added on a measure gets the new versions' entries (read through it, it still
-- finds every group); a second unique index leaves the append to the ON CONFLICT statement.
CREATE INDEX mrg_h_s ON mrg_h_data (s);
INSERT INTO mrg (ts, d, x, v) SELECT '2026-01-01 04:00'::timestamp + g * interval '1 minute', NULLIF(g % 5, 0), g, g % 7
  FROM generate_series(1, 50) g;
SELECT (strata.refresh_rollup('mrg_h') - 'duration_ms') AS again, mrg_diff() AS diff;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM mrg_h_data WHERE s > -1000000;
SELECT count(*) AS through_added_index FROM mrg_h_data WHERE s > -1000000;
RESET enable_seqscan;
RESET enable_bitmapscan;
SELECT count(*) AS groups_with_sum FROM mrg_h_data WHERE s IS NOT NULL;
CREATE UNIQUE INDEX mrg_h_u ON mrg_h_data (b, d, n) NULLS NOT DISTINCT;
INSERT INTO mrg (ts, d, x, v) VALUES ('2026-01-01 04:59', 1, 3, 3), ('2026-01-01 05:59', NULL, 4, 4);
SELECT (strata.refresh_rollup('mrg_h') - 'duration_ms') AS with_second_unique_index, mrg_diff() AS diff;
SELECT b, d, n, nx, s, lo, hi, a FROM mrg_h WHERE b = '2026-01-01 04:00' ORDER BY d NULLS FIRST;
SELECT strata.drop_rollup('mrg_h');
DROP FUNCTION mrg_diff();
DROP VIEW mrg_direct;
DROP TABLE mrg;
SELECT strata.drop_rollup('ev_hourly');
DROP VIEW ev_direct;
DROP TABLE ev;
