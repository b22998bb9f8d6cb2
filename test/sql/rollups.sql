-- Incremental rollups: the API, every measure, both view modes, change handling, retention, refusals.
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

-- A rollup with every measure; history is backfilled by refreshes, newest first.
SELECT strata.create_rollup('ev_hourly', $q$
  SELECT date_trunc('hour', ts) AS bucket, channel, count(*) AS views, count(watch_ms) AS watched,
         sum(watch_ms) AS watch, min(watch_ms) AS shortest, max(watch_ms) AS longest, avg(watch_ms) AS avg_watch,
         strata.hll_agg(viewer) AS viewers, strata.qsketch_agg(watch_ms) AS watch_q, strata.topk_agg(label, 3) AS labels
  FROM ev WHERE kind = 'view' GROUP BY 1, 2 $q$, batch_size => 1000);
SELECT name, source, level, realtime, watermark, lag_rows, backfill_done FROM strata.rollups;
\d ev_hourly
-- What the rollup must equal: the same query over the raw rows.
CREATE VIEW ev_direct AS
  SELECT date_trunc('hour', ts) AS bucket, channel, count(*) AS views, count(watch_ms) AS watched,
         sum(watch_ms) AS watch, min(watch_ms) AS shortest, max(watch_ms) AS longest, avg(watch_ms) AS avg_watch,
         strata.hll_agg(viewer)::text AS viewers, strata.qsketch_agg(watch_ms)::text AS watch_q,
         strata.topk_agg(label, 3)::text AS labels
  FROM ev WHERE kind = 'view' GROUP BY 1, 2;
CREATE FUNCTION rollup_diff(v regclass) RETURNS bigint LANGUAGE plpgsql AS $f$
DECLARE n bigint; cols text := 'bucket, channel, views, watched, watch, shortest, longest, avg_watch, '
                                'viewers::text, watch_q::text, labels::text';
BEGIN
  EXECUTE format('SELECT count(*) FROM ((SELECT %s FROM %s EXCEPT ALL SELECT * FROM ev_direct) UNION ALL '
                 '(SELECT * FROM ev_direct EXCEPT ALL SELECT %s FROM %s)) d', cols, v, cols, v) INTO n;
  RETURN n;
END $f$;
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

-- First build: a rollup created and refreshed in one transaction is bulk-loaded (the groups go from the
-- executor into heap pages, no INSERT statement) and its unique key is built afterwards. It must equal
-- the direct GROUP BY (sketches bitwise, NULL dimension included) and have its key. A second rollup
-- made in the same transaction over the first one (a dependent to queue buckets for) takes the SQL path.
-- The query of ev_hourly, as the direct GROUP BY it must equal.
CREATE TEMP TABLE once_query AS SELECT $q$
  SELECT date_trunc('hour', ts) AS bucket, channel, count(*) AS views, count(watch_ms) AS watched,
         sum(watch_ms) AS watch, min(watch_ms) AS shortest, max(watch_ms) AS longest, avg(watch_ms) AS avg_watch,
         strata.hll_agg(viewer) AS viewers, strata.qsketch_agg(watch_ms) AS watch_q, strata.topk_agg(label, 3) AS labels
  FROM ev WHERE kind = 'view' GROUP BY 1, 2 $q$ AS q;
BEGIN;
SELECT strata.create_rollup('ev_once', (SELECT q FROM once_query), batch_size => 1000000, realtime => false);
CREATE TEMP TABLE key_before AS SELECT indexrelid AS k FROM pg_index WHERE indrelid = 'ev_once_data'::regclass;
SELECT (strata.refresh_rollup('ev_once') - 'duration_ms') AS first_build;
SELECT (SELECT count(*) FROM ev_once_data) AS groups, (SELECT count(*) FROM ev WHERE kind = 'view') AS rows;
COMMIT;
SELECT rollup_diff('ev_once') AS first_build_diff;
SELECT indexdef FROM pg_indexes WHERE tablename = 'ev_once_data';
-- The key index got no entry per group but was rebuilt in place (made in the same subtransaction): it
-- holds every row (amcheck, heapallindexed) and is still the constraint's, enforced.
CREATE EXTENSION IF NOT EXISTS amcheck;
SELECT bt_index_check(indexrelid, true) AS key_index_checked FROM pg_index WHERE indrelid = 'ev_once_data'::regclass;
SELECT conname, contype, conindid = (SELECT k FROM key_before) AS same_index FROM pg_constraint
  WHERE conrelid = 'ev_once_data'::regclass;
INSERT INTO ev_once_data (bucket, channel) SELECT bucket, channel FROM ev_once_data LIMIT 1;
-- Refreshed in a subtransaction of the one that made it: the key cannot be rebuilt in place there (an
-- error would leave it truncated in the outer transaction), so it is dropped and re-added; rolled back,
-- nothing of the load stays, and a later refresh builds it.
BEGIN;
SELECT strata.create_rollup('ev_once3', (SELECT q FROM once_query), batch_size => 1000000, realtime => false) > 0 AS created;
TRUNCATE key_before;
INSERT INTO key_before SELECT indexrelid FROM pg_index WHERE indrelid = 'ev_once3_data'::regclass;
SAVEPOINT s;
SELECT (strata.refresh_rollup('ev_once3') -> 'groups')::int > 0 AS loaded_in_savepoint;
ROLLBACK TO SAVEPOINT s;
SELECT count(*) AS rows_after_rollback FROM ev_once3_data;
SAVEPOINT s2;
SELECT (strata.refresh_rollup('ev_once3') -> 'groups')::int > 0 AS loaded_again;
RELEASE SAVEPOINT s2;
COMMIT;
SELECT rollup_diff('ev_once3') AS savepoint_build_diff;
SELECT bt_index_check(indexrelid, true) AS key_index_checked, indexrelid = (SELECT k FROM key_before) AS same_index
  FROM pg_index WHERE indrelid = 'ev_once3_data'::regclass;
SELECT strata.drop_rollup('ev_once3');
DROP TABLE key_before;
-- The first build reads every source row without testing the order range per row only while the
-- creating transaction's locks keep writers out and no order value was handed out past the creation
-- point. Rows this transaction inserts after create_rollup take values past it: they are new rows of
-- the same refresh, and counted once.
CREATE TABLE once_src (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz, c int, v int);
CREATE INDEX ON once_src (id);
INSERT INTO once_src (ts, c, v) SELECT timestamptz '2026-01-01' + g * interval '7 minutes', g % 5, g FROM generate_series(1, 500) g;
BEGIN;
SELECT strata.create_rollup('once_src_r', $q$SELECT date_trunc('hour', ts) AS b, c, count(*) AS n, sum(v) AS s
  FROM once_src GROUP BY 1, 2$q$) > 0 AS created;
INSERT INTO once_src (ts, c, v) VALUES ('2026-01-01 00:30', 1, 1000), ('2026-01-05', 2, 2000), (NULL, 3, 3000);
SELECT (strata.refresh_rollup('once_src_r') ->> 'rows')::int AS rows_read;
COMMIT;
SELECT count(*) AS inserted_in_build_txn_diff FROM (
  (SELECT b, c, n, s FROM once_src_r_data EXCEPT ALL SELECT date_trunc('hour', ts), c, count(*), sum(v) FROM once_src GROUP BY 1, 2)
  UNION ALL
  (SELECT date_trunc('hour', ts), c, count(*), sum(v) FROM once_src GROUP BY 1, 2 EXCEPT ALL SELECT b, c, n, s FROM once_src_r_data)) d;
SELECT strata.drop_rollup('once_src_r');
DROP TABLE once_src;
-- Its groups are written in bucket order (the aggregation emits them in hash order), NULL bucket last.
SELECT count(*) AS out_of_bucket_order FROM (
  SELECT bucket, lag(bucket) OVER w AS prev, row_number() OVER w AS n FROM ev_once_data WINDOW w AS (ORDER BY ctid)) s
  WHERE n > 1 AND ((prev IS NULL AND bucket IS NOT NULL) OR bucket < prev);
BEGIN;
SELECT strata.create_rollup('ev_once2', (SELECT q FROM once_query), batch_size => 1000000, realtime => false);
SELECT strata.create_rollup('ev_once2_daily', $q$
  SELECT date_trunc('day', bucket) AS day, sum(views) AS views FROM ev_once2 GROUP BY 1 $q$);
SELECT (strata.refresh_rollup('ev_once2') - 'duration_ms') AS first_build_with_dependent;
SELECT (strata.refresh_rollup('ev_once2_daily') - 'duration_ms') AS dependent_refresh;
COMMIT;
SELECT rollup_diff('ev_once2') AS first_build_with_dependent_diff;
SELECT count(*) AS daily_diff FROM (
  (SELECT day, views FROM ev_once2_daily EXCEPT ALL
   SELECT date_trunc('day', ts), count(*) FROM ev WHERE kind = 'view' GROUP BY 1) UNION ALL
  (SELECT date_trunc('day', ts), count(*) FROM ev WHERE kind = 'view' GROUP BY 1 EXCEPT ALL
   SELECT day, views FROM ev_once2_daily)) d;
SELECT strata.drop_rollup('ev_once2_daily'), strata.drop_rollup('ev_once2'), strata.drop_rollup('ev_once');
DROP TABLE once_query;

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

-- Refusals, each naming the unsupported part.
CREATE TABLE plain (id bigserial, ts timestamp NOT NULL, d date, a int, b text);
CREATE TABLE noseq (id bigint NOT NULL, ts timestamp);
CREATE TABLE cached (id bigint GENERATED ALWAYS AS IDENTITY (CACHE 20), ts timestamp);
CREATE TABLE nullable (id bigint DEFAULT 0, ts timestamp);
CREATE SEQUENCE nullable_seq OWNED BY nullable.id;
SELECT test_err($$SELECT strata.create_rollup('r1', 'SELECT 1')$$);
SELECT test_err($$SELECT strata.create_rollup('r1', 'SELECT a, count(*) FROM plain GROUP BY a')$$);
SELECT test_err($$SELECT strata.create_rollup('r1', 'SELECT date_trunc(''hour'', ts), count(DISTINCT a) AS n FROM plain GROUP BY 1')$$);
SELECT test_err($$SELECT strata.create_rollup('r1', 'SELECT date_trunc(''hour'', ts) AS h, percentile_cont(0.5) WITHIN GROUP (ORDER BY a) AS p FROM plain GROUP BY 1')$$);
SELECT test_err($$SELECT strata.create_rollup('r1', 'SELECT date_trunc(''hour'', ts) AS h, string_agg(b, '','') AS s FROM plain GROUP BY 1')$$);
SELECT test_err($$SELECT strata.create_rollup('r1', 'SELECT date_trunc(''hour'', ts) AS h, sum(a) / count(*) AS r FROM plain GROUP BY 1')$$);
SELECT test_err($$SELECT strata.create_rollup('r1', 'SELECT date_trunc(''hour'', ts) AS h, count(*) AS n FROM plain WHERE ts > now() - interval ''1 day'' GROUP BY 1')$$);
SELECT test_err($$SELECT strata.create_rollup('r1', 'SELECT date_trunc(''hour'', ts) AS h, count(*) AS n FROM plain p JOIN noseq n USING (ts) GROUP BY 1')$$);
SELECT test_err($$SELECT strata.create_rollup('r1', 'SELECT date_trunc(''hour'', ts) AS h, count(*) AS n FROM plain GROUP BY 1 HAVING count(*) > 1')$$);
SELECT test_err($$SELECT strata.create_rollup('r1', 'SELECT date_trunc(''hour'', ts) AS h, lower(b) AS lb, count(*) AS n FROM plain GROUP BY 1, 2')$$);
SELECT test_err($$SELECT strata.create_rollup('r1', 'SELECT date_trunc(''hour'', d) AS h, count(*) AS n FROM plain GROUP BY 1')$$);
SELECT test_err($$SELECT strata.create_rollup('r1', 'SELECT a, date_trunc(''hour'', ts) AS h, count(*) AS n FROM plain GROUP BY 1, 2')$$);
SELECT test_err($$SELECT strata.create_rollup('r1', 'SELECT date_trunc(''hour'', ts) AS h, count(*) FILTER (WHERE a > 1) AS n FROM plain GROUP BY 1')$$);
SELECT test_err($$SELECT strata.create_rollup('r1', 'SELECT date_trunc(''hour'', ts) AS h, count(*) AS n FROM plain GROUP BY 1; SELECT 1')$$);
SELECT test_err($$SELECT strata.create_rollup('r1', 'SELECT date_trunc(''hour'', ts) AS h, count(*) AS n FROM noseq GROUP BY 1')$$);
SELECT test_err($$SELECT strata.create_rollup('r1', 'SELECT date_trunc(''hour'', ts) AS h, count(*) AS n FROM cached GROUP BY 1')$$);
SELECT test_err($$SELECT strata.create_rollup('r1', 'SELECT date_trunc(''hour'', ts) AS h, count(*) AS n FROM nullable GROUP BY 1', order_column => 'id')$$);
SELECT test_err($$SELECT strata.create_rollup('ev_hourly', 'SELECT date_trunc(''hour'', ts) AS h, count(*) AS n FROM plain GROUP BY 1')$$);
SELECT test_err($$SELECT strata.create_rollup('r1', 'SELECT date_trunc(''hour'', ts) AS h, count(*) AS n FROM plain GROUP BY 1', batch_size => 0)$$);
SELECT test_err($$SELECT strata.create_rollup('r2', 'SELECT date_trunc(''day'', bucket) AS d, sum(avg_watch) AS s FROM ev_hourly GROUP BY 1')$$);
SELECT test_err($$SELECT strata.refresh_rollup('nope')$$);
SELECT test_err($$SELECT strata.drop_rollup('ev_hourly')$$);
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT test_err($$SELECT strata.refresh_rollup('ev_hourly')$$);
ROLLBACK;
-- A date_bin bucket and a plain table work too; the change of CACHE is caught at refresh.
SELECT strata.create_rollup('plain_15m', $q$SELECT date_bin('15 minutes', ts, '2000-01-01') AS b, a, count(*) AS n
  FROM plain GROUP BY 1, 2$q$, realtime => false) > 0 AS created;
INSERT INTO plain (ts, a) SELECT timestamp '2026-01-01' + g * interval '4 minutes', g % 2 FROM generate_series(1, 20) g;
SELECT (strata.refresh_rollup('plain_15m') - 'duration_ms') AS r;
SELECT b, a, n FROM plain_15m ORDER BY b, a LIMIT 4;
ALTER SEQUENCE plain_id_seq CACHE 10;
SELECT test_err($$SELECT strata.refresh_rollup('plain_15m')$$);
-- Stored SQL names everything qualified: a WHERE calling a function of the caller's search_path still
-- works in the change trigger and the worker, which run with search_path pinned to pg_catalog. The
-- source is a plain (unpartitioned) table: its UPDATEs are tracked too.
ALTER SEQUENCE plain_id_seq CACHE 1;
CREATE FUNCTION public.is_even(int) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT $1 % 2 = 0';
SELECT strata.create_rollup('even_15m', $q$SELECT date_bin('15 minutes', ts, '2000-01-01') AS b, count(*) AS n
  FROM plain WHERE is_even(a) GROUP BY 1$q$, realtime => false) > 0 AS created;
SELECT where_clause FROM strata.rollup WHERE view = 'even_15m'::regclass;
SELECT (strata.refresh_rollup('even_15m') - 'duration_ms') AS r;
UPDATE plain SET a = a + 1 WHERE id % 4 = 0;
SELECT (strata.refresh_rollup('even_15m') - 'duration_ms') AS after_update;
SELECT count(*) AS mismatches FROM ((SELECT b, n FROM even_15m EXCEPT
  SELECT date_bin('15 minutes', ts, '2000-01-01'), count(*) FROM plain WHERE a % 2 = 0 GROUP BY 1) UNION ALL
  (SELECT date_bin('15 minutes', ts, '2000-01-01'), count(*) FROM plain WHERE a % 2 = 0 GROUP BY 1 EXCEPT
  SELECT b, n FROM even_15m)) d;
SELECT strata.drop_rollup('even_15m');
DROP FUNCTION public.is_even(int);
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
-- The real-time view reads stored groups of buckets the tail does not touch as they are and re-aggregates
-- the rest; NULL buckets (a nullable time column) always take the re-aggregated way, groups with a NULL
-- dimension go by bucket. It equals the GROUP BY
-- during the backfill, after it, with a tail in old, new and NULL buckets, and after the tail is absorbed.
CREATE TABLE nts (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamp, a int);
CREATE INDEX ON nts (id);
INSERT INTO nts (ts, a) SELECT CASE WHEN g % 10 = 0 THEN NULL ELSE timestamp '2026-01-01' + g * interval '7 minutes' END,
  NULLIF(g % 4, 3) FROM generate_series(1, 200) g;
SELECT strata.create_rollup('nts_h', $q$SELECT date_trunc('hour', ts) AS h, a, count(*) AS n, sum(a) AS s FROM nts GROUP BY 1, 2$q$,
  batch_size => 50) > 0 AS created;
CREATE VIEW nts_direct AS SELECT date_trunc('hour', ts) AS h, a, count(*) AS n, sum(a) AS s FROM nts GROUP BY 1, 2;
CREATE FUNCTION nts_diff() RETURNS bigint LANGUAGE sql AS $f$
  SELECT count(*) FROM ((SELECT * FROM nts_h EXCEPT ALL SELECT * FROM nts_direct) UNION ALL
                        (SELECT * FROM nts_direct EXCEPT ALL SELECT * FROM nts_h)) d $f$;
SELECT nts_diff() AS during_backfill;
-- While a backfill is left the view's arms are gated on the backfill cursor and it has the arm that
-- re-aggregates everything; the refresh that finishes the backfill replaces it by the form without
-- them (its note says so).
CREATE FUNCTION view_gated(v regclass) RETURNS boolean LANGUAGE sql AS $f$
  SELECT EXISTS (SELECT 1 FROM pg_rewrite w JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid
                 WHERE w.ev_class = v AND d.refobjid = 'strata.rollup_backfill_cursor(integer)'::regprocedure) $f$;
SELECT view_gated('nts_h') AS gated_during_backfill;
SELECT (strata.refresh_rollup('nts_h') - 'duration_ms' - 'steps' - 'rows' - 'groups') AS r;
SELECT view_gated('nts_h') AS gated_after_backfill, pg_get_viewdef('nts_h') LIKE '%__strata_all%' AS backfill_arm;
SELECT nts_diff() AS after_backfill;
INSERT INTO nts (ts, a) VALUES ('2026-01-01 01:10', 1), ('2026-02-01 00:00', 2), (NULL, 0), (NULL, 2), ('2026-01-01 05:00', 0),
  ('2026-01-01 07:40', NULL), ('2026-01-01 09:05', 2), (NULL, NULL);
SELECT nts_diff() AS with_tail, (SELECT lag_rows FROM strata.rollups WHERE name = 'nts_h'::regclass) AS tail_rows;
SELECT (strata.refresh_rollup('nts_h') - 'duration_ms' - 'steps' - 'rows' - 'groups') AS r;
SELECT nts_diff() AS absorbed;
-- A tail of more than 1,000 groups is joined over the buckets it touches instead of looked up group by
-- group (stored groups updated, new ones, a NULL dimension).
INSERT INTO nts (ts, a) SELECT timestamp '2026-01-01' + (g % 20) * interval '1 hour', NULLIF(g % 1100, 7) FROM generate_series(1, 1500) g;
SELECT nts_diff() AS with_big_tail, (SELECT count(*) FROM (SELECT DISTINCT date_trunc('hour', ts), a FROM nts
  WHERE id > (SELECT watermark FROM strata.rollups WHERE name = 'nts_h'::regclass)) g) AS tail_groups;
SELECT (strata.refresh_rollup('nts_h') - 'duration_ms' - 'steps' - 'rows' - 'groups') AS r;
SELECT nts_diff() AS absorbed_big;
-- An infinite bucket: an empty tail lets stored groups through below 'infinity', the group at it too.
INSERT INTO nts (ts, a) VALUES ('infinity', 1), ('-infinity', 2);
SELECT nts_diff() AS infinite_in_tail;
SELECT (strata.refresh_rollup('nts_h') - 'duration_ms' - 'steps' - 'rows' - 'groups') AS r;
SELECT nts_diff() AS infinite_absorbed, (SELECT lag_rows FROM strata.rollups WHERE name = 'nts_h'::regclass) AS tail_rows,
  (SELECT count(*) FROM nts_h WHERE h IN ('infinity', '-infinity')) AS infinite_groups;
-- alter_rollup re-creates the view in the form the backfill state calls for.
SELECT strata.alter_rollup('nts_h', realtime => true);
SELECT view_gated('nts_h') AS gated_after_alter, nts_diff() AS after_alter;
SELECT strata.drop_rollup('nts_h');
DROP FUNCTION nts_diff();
DROP VIEW nts_direct;
DROP TABLE nts;
-- The stored groups below the tail's first bucket are read with no per-row test: a reader's range makes
-- the split an index condition (`< ANY` of the tail's first bucket), while a read of everything stays a
-- sequential scan (the planner rates `< ANY` of an array of unknown length at 98% of the rows, a plain
-- comparison with the bound at a third, which made it an index scan of the whole table).
CREATE TABLE spl (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, c int);
CREATE INDEX ON spl (id);
INSERT INTO spl (ts, c) SELECT timestamptz '2026-01-01' + (g / 100) * interval '1 hour', g % 100 FROM generate_series(0, 29999) g;
SELECT strata.create_rollup('spl_h', $q$SELECT date_trunc('hour', ts) AS h, c, count(*) AS n FROM spl GROUP BY 1, 2$q$) > 0 AS created;
SELECT (strata.refresh_rollup('spl_h') ->> 'groups') AS groups;
ANALYZE spl_h_data;
INSERT INTO spl (ts, c) VALUES (timestamptz '2026-01-13 10:00', 7), (timestamptz '2026-01-13 11:00', 1000);
CREATE FUNCTION plan_lines(q text) RETURNS SETOF text LANGUAGE plpgsql AS $f$
DECLARE l text;
BEGIN
  FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
    IF l ~ '(Scan on spl_h_data d$|Cond: \(+h < ANY|Filter: \(+h < ANY|Anti Join|keyset_lacks)' THEN
      RETURN NEXT regexp_replace(regexp_replace(btrim(regexp_replace(l, '^[ ->]*', '')), '^(Hash|Merge|Nested Loop) Anti Join', 'Anti Join'),
                                 '^Filter: .*keyset_lacks.*', 'Filter: keyset_lacks(...)');
    END IF;
  END LOOP;
END $f$;
SELECT plan_lines($q$SELECT c, sum(n) FROM spl_h WHERE h >= timestamptz '2026-01-12' GROUP BY 1$q$);
SELECT plan_lines($q$SELECT sum(n) FROM spl_h$q$);
SELECT sum(n) AS ranged FROM spl_h WHERE h >= timestamptz '2026-01-12';
SELECT sum(n) AS everything, count(*) AS groups FROM spl_h;
SELECT strata.drop_rollup('spl_h');
DROP FUNCTION plan_lines(text);
DROP TABLE spl;
-- Keys of integers, dates and timestamps: from the tail's first bucket on, the view drops the stored
-- groups the tail touches with one keyset probe per row (strata.keyset_lacks) instead of an anti-join.
-- A stored group with a NULL dimension is re-aggregated only where the tail has a group with a NULL
-- dimension in its bucket; a tail of more than 1,000 groups makes the keyset one of buckets.
CREATE TABLE ksr (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, a int, b bigint, v int);
CREATE INDEX ON ksr (id);
INSERT INTO ksr (ts, a, b, v) SELECT timestamptz '2026-03-01' + (g % 48) * interval '1 hour', NULLIF(g % 5, 4), NULLIF(g % 3, 2), g
  FROM generate_series(1, 2000) g;
SELECT strata.create_rollup('ksr_h', $q$SELECT date_trunc('hour', ts) AS h, a, b, count(*) AS n, sum(v) AS s, min(v) AS lo,
  max(v) AS hi, avg(v) AS mean FROM ksr GROUP BY 1, 2, 3$q$) > 0 AS created;
SELECT (strata.refresh_rollup('ksr_h') ->> 'groups') AS groups;
SELECT pg_get_viewdef('ksr_h') LIKE '%keyset_lacks%' AS keyset, pg_get_viewdef('ksr_h') LIKE '%EXISTS%' AS anti_join;
CREATE VIEW ksr_direct AS SELECT date_trunc('hour', ts) AS h, a, b, count(*) AS n, sum(v) AS s, min(v) AS lo, max(v) AS hi,
  avg(v) AS mean FROM ksr GROUP BY 1, 2, 3;
CREATE FUNCTION ksr_diff() RETURNS bigint LANGUAGE sql AS $f$
  SELECT count(*) FROM ((SELECT * FROM ksr_h EXCEPT ALL SELECT * FROM ksr_direct) UNION ALL
                        (SELECT * FROM ksr_direct EXCEPT ALL SELECT * FROM ksr_h)) d $f$;
-- A tail touching stored groups, new ones, and a NULL dimension in one bucket only (hour 40, 03-02 16:00):
-- the stored NULL-dimension groups of hours 30-39 are read as they are, those of hour 40 re-aggregated.
INSERT INTO ksr (ts, a, b, v) SELECT timestamptz '2026-03-01' + (30 + g % 10) * interval '1 hour', g % 4, g % 2, -g
  FROM generate_series(1, 40) g;
INSERT INTO ksr (ts, a, b, v) VALUES ('2026-03-02 16:00', NULL, 1, 5), ('2026-03-02 16:00', 2, NULL, 6), ('2026-03-05', 9, 9, 9);
SELECT ksr_diff() AS small_tail, (SELECT lag_rows FROM strata.rollups WHERE name = 'ksr_h'::regclass) AS tail_rows;
SELECT h, a, b, n FROM ksr_h WHERE h = '2026-03-02 16:00' AND (a IS NULL OR b IS NULL) ORDER BY 2, 3;
SELECT (strata.refresh_rollup('ksr_h') ->> 'caught_up') AS caught_up, ksr_diff() AS absorbed;
-- More than 1,000 tail groups: every stored group of the touched buckets is re-aggregated.
INSERT INTO ksr (ts, a, b, v) SELECT timestamptz '2026-03-01' + (g % 30) * interval '1 hour', g % 700, NULLIF(g % 3, 2), g
  FROM generate_series(1, 3000) g;
SELECT ksr_diff() AS big_tail;
SELECT (strata.refresh_rollup('ksr_h') ->> 'caught_up') AS caught_up, ksr_diff() AS absorbed_big;
-- A text dimension keeps the anti-join (a keyset holds integers).
CREATE TABLE kst (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, tag varchar(100));
CREATE INDEX ON kst (id);
INSERT INTO kst (ts, tag) VALUES ('2026-03-01 01:00', 'x'), ('2026-03-01 02:00', NULL);
SELECT strata.create_rollup('kst_h', $q$SELECT date_trunc('hour', ts) AS h, tag, count(*) AS n FROM kst GROUP BY 1, 2$q$) > 0 AS created;
SELECT pg_get_viewdef('kst_h') LIKE '%keyset_lacks%' AS keyset, pg_get_viewdef('kst_h') LIKE '%EXISTS%' AS anti_join;
INSERT INTO kst (ts, tag) VALUES ('2026-03-01 02:00', 'x'), ('2026-03-01 02:00', NULL);
SELECT h, tag, n FROM kst_h ORDER BY 1, 2;
SELECT strata.drop_rollup('kst_h'), strata.drop_rollup('ksr_h');
DROP FUNCTION ksr_diff();
DROP VIEW ksr_direct;
DROP TABLE ksr, kst;
-- The keyset functions themselves: what they hold, and bad input.
SELECT strata.keyset_lacks(k, 1, 10) AS lacks_1_10, strata.keyset_lacks(k, 1, 11) AS lacks_1_11,
       strata.keyset_lacks(k, 2, NULL::int) AS lacks_2_null, strata.keyset_lacks(k, 3, NULL::int) AS lacks_3_null,
       strata.keyset_lacks(k, NULL::int, 10) AS lacks_null_10
  FROM (SELECT strata.keyset_agg(x, y) AS k FROM (VALUES (1, 10), (1, 10), (2, NULL), (NULL, 10)) v(x, y)) s;
SELECT strata.keyset_lacks((SELECT strata.keyset_agg(d) FROM (VALUES (date '2026-01-01')) v(d)), date '2026-01-01') AS date_held,
       strata.keyset_lacks((SELECT strata.keyset_agg(s) FROM (VALUES (-1::smallint)) v(s)), -1::smallint) AS smallint_held,
       strata.keyset_lacks(NULL, 5) AS null_keyset, strata.keyset_agg(x) IS NULL AS empty_agg FROM (SELECT 1 AS x WHERE false) e;
SELECT strata.keyset_lacks('\x0102'::bytea, 1);
-- A keyset of first columns matches on those (the view's keyset of buckets); more columns than the
-- call passes is an error.
SELECT strata.keyset_lacks((SELECT strata.keyset_agg(x) FROM generate_series(1, 3) x), 2, 99) AS lacks_prefix;
SELECT strata.keyset_lacks((SELECT strata.keyset_agg(x, x) FROM generate_series(1, 3) x), 1);
SELECT strata.keyset_lacks((SELECT strata.keyset_agg(x) FROM generate_series(1, 3) x), 'a'::text);
SELECT strata.keyset_agg(x) FROM (VALUES (1.5::numeric)) v(x);
SELECT strata.keyset_lacks(NULL, VARIADIC ARRAY[1, 2]);
-- A role without any right on strata's catalog creates, refreshes and drops its own rollups, including
-- a rollup of a rollup; it cannot refresh or drop someone else's.
CREATE ROLE rollup_owner;
GRANT CREATE ON SCHEMA public TO rollup_owner;
ALTER TABLE plain OWNER TO rollup_owner;
ALTER SEQUENCE plain_id_seq CACHE 1;
SET ROLE rollup_owner;
SELECT strata.create_rollup('own_hourly', $q$SELECT date_trunc('hour', ts) AS h, count(*) AS n FROM plain GROUP BY 1$q$) > 0 AS created;
SELECT strata.create_rollup('own_daily', $q$SELECT date_trunc('day', h) AS d, sum(n) AS n FROM own_hourly GROUP BY 1$q$) > 0 AS created;
SELECT (strata.refresh_rollup('own_hourly') ->> 'rows') AS rows, (strata.refresh_rollup('own_daily') ->> 'buckets_recomputed') AS daily;
SELECT d, n FROM own_daily;
SELECT test_err($$SELECT strata.refresh_rollup('ev_hourly')$$);
SELECT strata.drop_rollup('own_daily'), strata.drop_rollup('own_hourly');
RESET ROLE;
ALTER TABLE plain OWNER TO CURRENT_USER;
REVOKE CREATE ON SCHEMA public FROM rollup_owner;
DROP ROLE rollup_owner;
-- Dropping removes every object and the catalog rows.
SELECT strata.drop_rollup('plain_15m');
SELECT strata.drop_rollup('plain_15m', if_exists => true);
SELECT strata.drop_rollup('ev_daily');
SELECT strata.drop_rollup('ev_hourly');
SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgname LIKE 'strata_rollup_%';
SELECT count(*) AS rollups_left FROM strata.rollup;
DROP VIEW ev_direct, ev_daily_direct;
DROP FUNCTION rollup_diff(regclass);
DROP TABLE ev, plain, noseq, cached, nullable;
-- Dropped outside drop_rollup(): DROP TABLE <source> CASCADE takes the real-time view with it; the rollup
-- is unregistered with the rollup that reads it, their change trigger and pending tables go, their data
-- tables are kept (and said so), strata.rollups keeps working, and job_runs records it.
CREATE TABLE gone_src (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, c int);
CREATE INDEX ON gone_src (id);
INSERT INTO gone_src (ts, c) SELECT timestamptz '2026-01-01' + g * interval '10 minutes', g % 3 FROM generate_series(1, 30) g;
SELECT strata.create_rollup('gone_h', $q$SELECT date_trunc('hour', ts) AS b, c, count(*) AS n FROM gone_src GROUP BY 1, 2$q$) > 0 AS created;
SELECT strata.create_rollup('gone_d', $q$SELECT date_trunc('day', b) AS d, sum(n) AS n FROM gone_h GROUP BY 1$q$) > 0 AS created;
SELECT (strata.refresh_rollup('gone_h') - 'duration_ms') IS NOT NULL AS refreshed;
SELECT count(*) AS change_triggers FROM pg_trigger WHERE tgrelid = 'gone_src'::regclass AND tgname LIKE 'strata_rollup_%';
DROP TABLE gone_src CASCADE;
SELECT count(*) AS rollups_listed FROM strata.rollups;
SELECT to_regclass('gone_h_data') IS NOT NULL AS hourly_data_kept, to_regclass('gone_d_data') IS NOT NULL AS daily_data_kept,
       to_regclass('gone_h_pending') IS NULL AS pending_gone, to_regprocedure('gone_h_changes()') IS NULL AS function_gone,
       to_regclass('gone_d') IS NOT NULL AS daily_view_left_as_plain_view;
SELECT sum(n) AS rows_still_counted FROM gone_h_data;
SELECT target, status, message FROM strata.job_runs WHERE job_kind = 'rollup_drop' AND target LIKE '%gone%' ORDER BY id;
-- Dropping the kept table (CASCADE: the daily view reads it) frees the names for a new rollup.
DROP TABLE gone_h_data, gone_d_data CASCADE;
CREATE TABLE gone_src (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, c int);
SELECT strata.create_rollup('gone_h', $q$SELECT date_trunc('hour', ts) AS b, c, count(*) AS n FROM gone_src GROUP BY 1, 2$q$) > 0 AS created_again;
-- Dropping just the view of a rollup unregisters it too (the source keeps no trigger of it).
DROP VIEW gone_h;
SELECT count(*) AS change_triggers_left FROM pg_trigger WHERE tgrelid = 'gone_src'::regclass AND tgname LIKE 'strata_rollup_%';
SELECT count(*) AS rollups_left FROM strata.rollup;
DROP TABLE gone_src, gone_h_data;
-- A first build packs the pages of older buckets full and leaves room in the newest day's (for an
-- update of each group in place); later writes go by the table's fillfactor (90).
CREATE TABLE lay (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, ch int);
CREATE INDEX ON lay (id);
INSERT INTO lay (ts, ch) SELECT timestamptz '2026-03-01 00:00+00' + (g / 50) * interval '1 hour', g % 50 FROM generate_series(0, 11999) g;
BEGIN;
SELECT strata.create_rollup('lay_h', $q$SELECT date_trunc('hour', ts) AS h, ch, count(*) AS n FROM lay GROUP BY 1, 2$q$) > 0 AS created;
SELECT (strata.refresh_rollup('lay_h')->>'rows')::int AS rows;
COMMIT;
CREATE FUNCTION lay_pages() RETURNS TABLE (recent boolean, pages bigint, median_groups_per_page bigint) LANGUAGE sql AS $f$
  SELECT recent, count(*), percentile_disc(0.5) WITHIN GROUP (ORDER BY n) FROM (
    SELECT (ctid::text::point)[0] AS page, count(*) AS n,
           bool_and(h > (SELECT max(h) FROM lay_h_data WHERE h < 'infinity') - interval '1 day') AS recent
    FROM lay_h_data GROUP BY 1) p GROUP BY 1 ORDER BY 1 $f$;
SELECT * FROM lay_pages();
SELECT reloptions FROM pg_class WHERE relname = 'lay_h_data';
-- Each group of the newest day updated once: in place (HOT), on the pages it is on.
INSERT INTO lay (ts, ch) SELECT timestamptz '2026-03-10 00:30+00' + (g / 50) * interval '1 hour', g % 50 FROM generate_series(0, 1199) g;
SELECT (strata.refresh_rollup('lay_h')->>'rows')::int AS rows;
SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = 'lay_h_data';
SELECT * FROM lay_pages();
SELECT strata.drop_rollup('lay_h');
DROP FUNCTION lay_pages();
DROP TABLE lay;
