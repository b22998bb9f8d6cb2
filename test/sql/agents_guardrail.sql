-- strata.max_raw_rows (src/agents/README.md): a statement whose plan would read more estimated rows from
-- tables is refused when it starts executing, with the table, the estimate and what could answer
-- instead; EXPLAIN still plans it; a routed plan counts its own reads; only a superuser sets it.
SET client_min_messages = warning;
SET TimeZone = 'UTC';
SET max_parallel_workers_per_gather = 0;
\set SHOW_CONTEXT never
CREATE SCHEMA gr;
SET search_path = gr, public;
CREATE TABLE clicks (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, channel int, v int);
INSERT INTO clicks (ts, channel, v) SELECT '2026-03-01'::timestamptz + i * interval '1 minute', i % 7, i % 100
FROM generate_series(1, 20000) i;
CREATE INDEX ON clicks (ts);
CREATE INDEX ON clicks (id);
ANALYZE clicks;

SET strata.max_raw_rows = 1000;
-- A whole-table read is refused; the hint says no rollup reads the table.
SELECT v FROM clicks ORDER BY v LIMIT 1;
-- EXPLAIN plans it.
EXPLAIN (COSTS OFF) SELECT v FROM clicks ORDER BY v LIMIT 1;
-- Few rows through an index, or a LIMIT over a scan that streams: allowed.
SELECT count(*) FROM clicks WHERE ts >= '2026-03-14 20:00';
SELECT count(*) FROM (SELECT * FROM clicks LIMIT 5) s;
-- Inside a function or a DO block as well, with the SQLSTATE program_limit_exceeded.
DO $$ BEGIN PERFORM * FROM gr.clicks ORDER BY v LIMIT 1;
EXCEPTION WHEN program_limit_exceeded THEN RAISE WARNING 'refused (%)', SQLSTATE; END $$;

-- A subquery run per outer row counts per row; a view named as routing's own entry is no routed plan.
SET strata.max_raw_rows = 30000;
SELECT count(*) FROM (SELECT v FROM clicks ORDER BY v OFFSET 0) s;
SELECT (SELECT max(v) FROM clicks c2 WHERE c2.channel = g) FROM generate_series(1, 3) g;
CREATE TEMP VIEW "strata rollup" ("0", "1", "2", "3") AS SELECT 1, 2, 3, 4;
SELECT r."0", (SELECT max(v) FROM clicks c2 WHERE c2.channel = g) FROM generate_series(1, 3) g, "strata rollup" r;
DROP VIEW "strata rollup";
-- Partitions pruned when the statement starts (a generic plan's parameters) are not counted.
CREATE TABLE parted (ts timestamptz NOT NULL, v int) PARTITION BY RANGE (ts);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
CREATE TABLE parted_2 PARTITION OF parted FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
CREATE TABLE parted_3 PARTITION OF parted FOR VALUES FROM ('2026-03-01') TO ('2026-04-01');
INSERT INTO parted SELECT '2026-01-01'::timestamptz + i * interval '5 minutes', i FROM generate_series(0, 24000) i;
ANALYZE parted;
SET strata.max_raw_rows = 10000;
PREPARE month_of(timestamptz) AS SELECT max(v) FROM parted WHERE ts >= $1 AND ts < $1 + interval '1 day';
SET plan_cache_mode = force_generic_plan;
EXECUTE month_of('2026-02-10');
RESET plan_cache_mode;
SELECT max(v) FROM parted;
DEALLOCATE month_of;

-- With a rollup, routed questions read its groups and pass; others are refused, the hint naming it.
SET strata.max_raw_rows = 0;
SELECT strata.create_rollup('clicks_hourly', $$SELECT date_trunc('hour', ts) AS hour, channel, count(*) AS n, sum(v) AS v
  FROM gr.clicks GROUP BY 1, 2$$) > 0 AS created;
SELECT (strata.refresh_rollup('clicks_hourly') ->> 'caught_up')::boolean AS refreshed;
ANALYZE clicks_hourly_data;
SET strata.max_raw_rows = 1000;
SELECT date_trunc('day', ts) AS day, count(*), sum(v) FROM clicks GROUP BY 1 ORDER BY 1 LIMIT 3;
SELECT count(DISTINCT v) FROM clicks;

-- Only a superuser sets it (ALTER ROLE ... SET for an agent's role): the role it limits cannot lift it.
CREATE ROLE gr_agent LOGIN;
GRANT USAGE ON SCHEMA gr TO gr_agent;
GRANT SELECT ON clicks, clicks_hourly TO gr_agent;
ALTER ROLE gr_agent SET strata.max_raw_rows = 1000;
SET strata.max_raw_rows = 0;
\c - gr_agent
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SET max_parallel_workers_per_gather = 0;
SHOW strata.max_raw_rows;
SET strata.max_raw_rows = 0;
SELECT v FROM gr.clicks ORDER BY v LIMIT 1;
SELECT date_trunc('day', ts) AS day, count(*) FROM gr.clicks GROUP BY 1 ORDER BY 1 LIMIT 2;
\c - postgres
SET client_min_messages = warning;
SELECT strata.drop_rollup('gr.clicks_hourly');
DROP SCHEMA gr CASCADE;
DROP OWNED BY gr_agent;
DROP ROLE gr_agent;
