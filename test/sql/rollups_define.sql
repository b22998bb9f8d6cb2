-- Rollups, defined: create_rollup with every measure, every refusal naming the unsupported part, a
-- role without rights on strata's catalog, drop_rollup(), and rollups whose objects are dropped
-- outside drop_rollup(). (Bucket expressions per time zone: rollups_retention.)
SET TimeZone = 'UTC';
-- Setup: rollup ids show in results below (create_rollup's result); they continue from the start, as in one run of
-- every rollup test in one file.
SELECT setval('strata.rollup_id_seq', 1, false) AS next_rollup_id;
SELECT test_make_ev();

-- A rollup with every measure; history is backfilled by refreshes, newest first.
SELECT strata.create_rollup('ev_hourly', $q$
  SELECT date_trunc('hour', ts) AS bucket, channel, count(*) AS views, count(watch_ms) AS watched,
         sum(watch_ms) AS watch, min(watch_ms) AS shortest, max(watch_ms) AS longest, avg(watch_ms) AS avg_watch,
         strata.hll_agg(viewer) AS viewers, strata.qsketch_agg(watch_ms) AS watch_q, strata.topk_agg(label, 3) AS labels
  FROM ev WHERE kind = 'view' GROUP BY 1, 2 $q$, batch_size => 1000);
SELECT name, source, level, realtime, watermark, lag_rows, backfill_done FROM strata.rollups;
\d ev_hourly

-- Setup: a rollup that reads ev_hourly (drop_rollup refuses to drop a rollup another one reads).
SELECT strata.create_rollup('ev_daily', $q$
  SELECT date_trunc('day', bucket) AS day, channel, sum(views) AS views, strata.merge(viewers) AS viewers,
         max(longest) AS longest FROM ev_hourly GROUP BY 1, 2 $q$) > 0 AS created;

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
SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgname LIKE 'strata_changes_%';
SELECT count(*) AS rollups_left FROM strata.rollup;
DROP TABLE ev, plain, noseq, cached, nullable;
-- Setup: rollup ids continue from 19, as in one run of
-- every rollup test in one file.
SELECT setval('strata.rollup_id_seq', 19) AS last_rollup_id;
-- Dropped outside drop_rollup(): DROP TABLE <source> CASCADE takes the real-time view with it; the rollup
-- is unregistered with the rollup that reads it, their change trigger and pending tables go, their data
-- tables are kept (and said so), strata.rollups keeps working, and job_runs records it.
CREATE TABLE gone_src (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, c int);
CREATE INDEX ON gone_src (id);
INSERT INTO gone_src (ts, c) SELECT timestamptz '2026-01-01' + g * interval '10 minutes', g % 3 FROM generate_series(1, 30) g;
SELECT strata.create_rollup('gone_h', $q$SELECT date_trunc('hour', ts) AS b, c, count(*) AS n FROM gone_src GROUP BY 1, 2$q$) > 0 AS created;
SELECT strata.create_rollup('gone_d', $q$SELECT date_trunc('day', b) AS d, sum(n) AS n FROM gone_h GROUP BY 1$q$) > 0 AS created;
SELECT (strata.refresh_rollup('gone_h') - 'duration_ms') IS NOT NULL AS refreshed;
SELECT count(*) AS change_triggers FROM pg_trigger WHERE tgrelid = 'gone_src'::regclass AND tgname LIKE 'strata_changes_%';
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
SELECT count(*) AS change_triggers_left FROM pg_trigger WHERE tgrelid = 'gone_src'::regclass AND tgname LIKE 'strata_changes_%';
SELECT count(*) AS rollups_left FROM strata.rollup;
DROP TABLE gone_src, gone_h_data;
