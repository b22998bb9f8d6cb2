-- A refresh's aggregation runs with work_mem lowered so that its hash table stays about
-- strata.rollup_hash_table in size (the rest partitioned, as past work_mem); work_mem is restored after,
-- error or not. A probe in the rollup's WHERE clause records the work_mem the aggregation saw.
SET TimeZone = 'UTC';
CREATE TABLE mem_src (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, ch int, viewer bigint, w int);
CREATE INDEX ON mem_src (id);
-- Declared immutable only because a rollup's filter must be (it is not: test use only); its argument
-- keeps it from being folded at plan time, so the executor calls it for each row.
CREATE FUNCTION mem_probe(timestamptz) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $f$
BEGIN
  IF current_setting('mem_test.fail', true) = 'on' THEN
    RAISE EXCEPTION 'probe failure';
  END IF;
  PERFORM set_config('mem_test.seen', current_setting('work_mem'), false);
  RETURN true;
END $f$;
-- 200 hours x 50 channels and a NULL channel: 10,200 groups.
INSERT INTO mem_src (ts, ch, viewer, w)
SELECT timestamptz '2026-03-01' + (g % 200) * interval '1 hour', NULLIF((g / 200) % 51, 50), g % 997, (g * 31) % 7000
FROM generate_series(1, 20000) g;
CREATE VIEW mem_direct AS
  SELECT date_trunc('hour', ts) AS bucket, ch, count(*) AS n, sum(w) AS w, strata.hll_agg(viewer)::text AS viewers,
         strata.qsketch_agg(w)::text AS wq
  FROM mem_src GROUP BY 1, 2;

SET work_mem = '64MB';
SET strata.rollup_hash_table = '64kB';
BEGIN;
SELECT strata.create_rollup('mem_hourly', $q$
  SELECT date_trunc('hour', ts) AS bucket, ch, count(*) AS n, sum(w) AS w, strata.hll_agg(viewer) AS viewers,
         strata.qsketch_agg(w) AS wq
  FROM mem_src WHERE mem_probe(ts) GROUP BY 1, 2 $q$, batch_size => 100000) IS NOT NULL AS created;
SELECT (strata.refresh_rollup('mem_hourly'))->>'rows' AS first_build_rows;
COMMIT;
CREATE FUNCTION mem_diff() RETURNS bigint LANGUAGE sql AS $f$
  SELECT count(*) FROM (
    (SELECT bucket, ch, n, w, viewers::text, wq::text FROM mem_hourly_data EXCEPT SELECT * FROM mem_direct)
    UNION ALL
    (SELECT * FROM mem_direct EXCEPT SELECT bucket, ch, n, w, viewers::text, wq::text FROM mem_hourly_data)) d $f$;
-- The build's aggregation ran in a few hundred kB (64 kB of real groups, each counted by the planner
-- at its sketches' dense size); the session's work_mem is as it was.
SELECT current_setting('mem_test.seen') AS aggregation_work_mem, current_setting('work_mem') AS session_work_mem;
SELECT count(*) AS groups, mem_diff() AS differences FROM mem_hourly_data;

-- New rows into every stored group, in random order: merged into the stored rows (in key order).
INSERT INTO mem_src (ts, ch, viewer, w)
SELECT timestamptz '2026-03-01' + ((g * 7919) % 200) * interval '1 hour', NULLIF((g * 104729) % 51, 50), g % 1499, g % 9000
FROM generate_series(1, 15000) g;
SELECT set_config('mem_test.seen', '', false) IS NOT NULL AS reset;
SELECT (strata.refresh_rollup('mem_hourly'))->>'rows' AS appended_rows;
SELECT current_setting('mem_test.seen') AS aggregation_work_mem, current_setting('work_mem') AS session_work_mem;
SELECT mem_diff() AS differences;

-- UPDATE: the recomputed buckets are aggregated within the same budget.
UPDATE mem_src SET w = w + 1 WHERE ts < timestamptz '2026-03-01 03:00';
SELECT set_config('mem_test.seen', '', false) IS NOT NULL AS reset;
SELECT (strata.refresh_rollup('mem_hourly'))->>'buckets_recomputed' AS recomputed;
SELECT current_setting('mem_test.seen') AS aggregation_work_mem, mem_diff() AS differences;

-- A batch too small to make more than a few tables of that size (at most 4 x ~30 groups here) keeps
-- work_mem as it is: partitioning it would cost more than it saves.
INSERT INTO mem_src (ts, ch, viewer, w) SELECT '2026-03-02', g % 5, g, g FROM generate_series(1, 100) g;
SELECT (strata.refresh_rollup('mem_hourly'))->>'rows' AS rows, current_setting('mem_test.seen') AS aggregation_work_mem;
-- work_mem already below the budget: left as it is. Budget off: work_mem as set.
INSERT INTO mem_src (ts, ch, viewer, w) SELECT '2026-03-02', g % 5, g, g FROM generate_series(1, 500) g;
SET work_mem = '128kB';
SELECT (strata.refresh_rollup('mem_hourly'))->>'rows' AS rows, current_setting('mem_test.seen') AS aggregation_work_mem;
RESET work_mem;
SET strata.rollup_hash_table = 0;
INSERT INTO mem_src (ts, ch, viewer, w) SELECT '2026-03-02', g % 5, g, g FROM generate_series(1, 500) g;
SELECT (strata.refresh_rollup('mem_hourly'))->>'rows' AS rows, current_setting('mem_test.seen') AS aggregation_work_mem;
SET strata.rollup_hash_table = '64kB';
-- With temp_file_limit set the partitions (temporary files) could hit it: work_mem as set.
SET temp_file_limit = '1GB';
INSERT INTO mem_src (ts, ch, viewer, w) SELECT '2026-03-02', g % 5, g, g FROM generate_series(1, 500) g;
SELECT (strata.refresh_rollup('mem_hourly'))->>'rows' AS rows, current_setting('mem_test.seen') AS aggregation_work_mem;
RESET temp_file_limit;
-- The same batch without the limit: lowered.
INSERT INTO mem_src (ts, ch, viewer, w) SELECT '2026-03-02', g % 5, g, g FROM generate_series(1, 500) g;
SELECT (strata.refresh_rollup('mem_hourly'))->>'rows' AS rows, current_setting('mem_test.seen') AS aggregation_work_mem;

-- An error inside the aggregation: the savepoint's rollback restores work_mem; nothing was absorbed.
SET work_mem = '64MB';
INSERT INTO mem_src (ts, ch, viewer, w) SELECT '2026-03-02', g % 5, g, g FROM generate_series(1, 500) g;
BEGIN;
SAVEPOINT s;
SET LOCAL mem_test.fail = on;
SELECT strata.refresh_rollup('mem_hourly');
ROLLBACK TO SAVEPOINT s;
SELECT current_setting('work_mem') AS session_work_mem;
COMMIT;
SELECT lag_rows FROM strata.rollups WHERE name = 'mem_hourly'::regclass;
SELECT (strata.refresh_rollup('mem_hourly'))->>'rows' AS rows, mem_diff() AS differences,
       current_setting('work_mem') AS session_work_mem;

-- Groups of stored buckets are merged in the key index's order. Keys of integer, date and timestamp
-- columns are sorted in memory by their values; past the sort memory (the larger of work_mem and
-- maintenance_work_mem) the groups go to a tuplesort, as do more than 10,000 groups of keys of other
-- types (fewer are merged in arrival order, each found by its own descent of the key index). The DEBUG
-- line says which; a key out of the index's order would show as a duplicate key error or a difference.
SET client_min_messages = debug1;
INSERT INTO mem_src (ts, ch, viewer, w)
SELECT timestamptz '2026-03-01' + ((g * 7919) % 200) * interval '1 hour', NULLIF((g * 104729) % 51, 50), g % 1499, g % 9000
FROM generate_series(1, 15000) g;
SELECT (strata.refresh_rollup('mem_hourly'))->>'rows' AS in_memory_rows;
SET work_mem = '64kB';
SET maintenance_work_mem = '1MB';
INSERT INTO mem_src (ts, ch, viewer, w)
SELECT timestamptz '2026-03-01' + ((g * 7919) % 200) * interval '1 hour', NULLIF((g * 104729) % 51, 50), g % 1499, g % 9000
FROM generate_series(1, 15000) g;
SELECT (strata.refresh_rollup('mem_hourly'))->>'rows' AS past_sort_memory_rows;
RESET maintenance_work_mem;
RESET client_min_messages;
SELECT mem_diff() AS differences;
SELECT strata.drop_rollup('mem_hourly');
RESET work_mem;
-- Every integer width, at its extremes and negative, NULLs; and a text key (few groups: arrival order).
CREATE TABLE mem_k (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamp NOT NULL, s smallint, b bigint, k varchar(100));
CREATE INDEX ON mem_k (id);
INSERT INTO mem_k (ts, s, b, k)
SELECT timestamp '2026-03-01' + (g % 7) * interval '1 hour',
       (ARRAY[-32768, 32767, -1, 0, 1, NULL])[1 + g % 6]::smallint,
       (ARRAY[-9223372036854775808, 9223372036854775807, -5, 0, 5, NULL, 4294967296])[1 + (g / 6) % 7]::bigint,
       (ARRAY['a', 'B', 'ä', '', NULL])[1 + g % 5]
FROM generate_series(1, 400) g;
SELECT strata.create_rollup('mem_ki', $q$SELECT date_trunc('hour', ts) AS bucket, s, b, count(*) AS n
  FROM mem_k GROUP BY 1, 2, 3$q$, realtime => false) > 0 AS created;
SELECT strata.create_rollup('mem_kt', $q$SELECT date_trunc('hour', ts) AS bucket, k, s, count(*) AS n
  FROM mem_k GROUP BY 1, 2, 3$q$, realtime => false) > 0 AS created;
SELECT (strata.refresh_rollup('mem_ki'))->>'rows' AS ki_rows, (strata.refresh_rollup('mem_kt'))->>'rows' AS kt_rows;
-- Into every stored bucket (none past the newest), stored groups and new ones.
INSERT INTO mem_k (ts, s, b, k)
SELECT timestamp '2026-03-01' + (g % 7) * interval '1 hour',
       (ARRAY[-32768, 32767, -1, 0, 1, NULL, 7])[1 + g % 7]::smallint,
       (ARRAY[-9223372036854775808, 9223372036854775807, -5, 0, 5, NULL, 4294967296, -4294967296])[1 + (g / 7) % 8]::bigint,
       (ARRAY['a', 'B', 'ä', '', NULL, 'z'])[1 + g % 6]
FROM generate_series(1, 700) g;
SET client_min_messages = debug1;
SELECT (strata.refresh_rollup('mem_ki'))->>'rows' AS ki_rows;
SELECT (strata.refresh_rollup('mem_kt'))->>'rows' AS kt_rows;
RESET client_min_messages;
-- Rows of a data table (bucket, two dimensions, n) that the GROUP BY over mem_k does not give, and back.
CREATE FUNCTION mem_k_diff(rollup text, d1 text, d2 text) RETURNS bigint LANGUAGE plpgsql AS $f$
DECLARE n bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM ((SELECT bucket, %2$I, %3$I, n FROM %1$I EXCEPT ALL %4$s) UNION ALL
                    (%4$s EXCEPT ALL SELECT bucket, %2$I, %3$I, n FROM %1$I)) d', rollup || '_data', d1, d2,
                 format('SELECT date_trunc(''hour'', ts), %I, %I, count(*) FROM mem_k GROUP BY 1, 2, 3', d1, d2))
    INTO n;
  RETURN n;
END $f$;
SELECT mem_k_diff('mem_ki', 's', 'b') AS ki_differences, mem_k_diff('mem_kt', 'k', 's') AS kt_differences;
DROP FUNCTION mem_k_diff(text, text, text);
SELECT strata.drop_rollup('mem_ki'), strata.drop_rollup('mem_kt');
DROP TABLE mem_k;
DROP FUNCTION mem_diff();
DROP VIEW mem_direct;
DROP TABLE mem_src;
DROP FUNCTION mem_probe(timestamptz);
