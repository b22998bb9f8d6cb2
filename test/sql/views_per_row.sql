-- The catalog views degrade per row: a rollup whose live figures cannot be computed shows NULL figures
-- and why in figures_error; the other rows are listed as usual.
SET TimeZone = 'UTC';
CREATE TABLE cv_ok (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, v int);
CREATE INDEX ON cv_ok (id);
INSERT INTO cv_ok (ts, v) SELECT timestamptz '2026-01-01' + g * interval '1 hour', g FROM generate_series(1, 10) g;
SELECT strata.create_rollup('cv_ok_hourly', $$SELECT date_trunc('hour', ts) AS b, count(*) AS n FROM cv_ok GROUP BY 1$$) > 0 AS created;
-- A materialized-only rollup (its view reads only the data table, so the order column can be dropped).
CREATE TABLE cv_broken (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, v int);
CREATE INDEX ON cv_broken (id);
INSERT INTO cv_broken (ts, v) SELECT timestamptz '2026-01-01' + g * interval '1 hour', g FROM generate_series(1, 5) g;
SELECT strata.create_rollup('cv_broken_hourly', $$SELECT date_trunc('hour', ts) AS b, count(*) AS n FROM cv_broken GROUP BY 1$$,
                            realtime => false) > 0 AS created;
SELECT name, lag_rows, pending_buckets, lag_time > interval '0' AS lagging, figures_error FROM strata.rollups ORDER BY name::text;
-- Break it: its pending table dropped behind strata's back (event triggers off, so nothing unregisters it).
SET session_replication_role = replica;
DROP TABLE cv_broken_hourly_pending;
RESET session_replication_role;
SELECT name, lag_rows, pending_buckets, lag_time IS NULL AS no_lag_time, backfill_done, figures_error FROM strata.rollups ORDER BY name::text;
SELECT count(*) AS rollups_listed FROM strata.rollups;
-- The per-row function by itself.
SELECT lag_rows, pending_buckets, figures_error IS NOT NULL AS has_error
FROM strata._rollup_live((SELECT id FROM strata.rollup WHERE view = 'cv_broken_hourly'::regclass));
-- Still one unbroken row; drop_rollup cleans the broken one up.
SELECT strata.drop_rollup('cv_broken_hourly');
SELECT name, lag_rows, figures_error FROM strata.rollups ORDER BY name::text;
SELECT strata.drop_rollup('cv_ok_hourly');
DROP TABLE cv_ok, cv_broken;
-- partition_sets has a figures_error column too (NULL when its figures are computed).
CREATE TABLE cv_pt (ts timestamptz NOT NULL) PARTITION BY RANGE (ts);
SELECT strata.create_partition_set('cv_pt', 'ts', '1 day', premake => 1, start_partition => '2026-01-01') > 0 AS created;
SELECT parent, partition_count > 0 AS has_partitions, figures_error FROM strata.partition_sets WHERE parent = 'cv_pt'::regclass;
SELECT strata.undo_partition_set('cv_pt');
DROP TABLE cv_pt;
