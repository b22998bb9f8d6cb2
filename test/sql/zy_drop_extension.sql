-- DROP EXTENSION strata CASCADE takes what strata attached to user tables with it (change functions and
-- their triggers, definition views); a new rollup after CREATE EXTENSION tracks its source again, though
-- it reuses a catalog id an old one had.
CREATE TABLE x_src (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, v int);
CREATE INDEX ON x_src (id);
INSERT INTO x_src (ts, v) SELECT '2026-01-01'::timestamptz + g * interval '10 minutes', g FROM generate_series(1, 12) g;
SELECT strata.create_rollup('x_old', $$SELECT date_trunc('hour', ts) AS bucket, sum(v) AS v FROM x_src GROUP BY 1$$) > 0 AS created;
SELECT count(*) AS strata_triggers FROM pg_trigger WHERE tgrelid = 'x_src'::regclass AND tgname LIKE 'strata%';
-- Without CASCADE the objects on user tables keep the extension.
\set VERBOSITY terse
DROP EXTENSION strata;
\set VERBOSITY default
SET client_min_messages = warning;
DROP EXTENSION strata CASCADE;
RESET client_min_messages;
SELECT count(*) AS strata_triggers FROM pg_trigger WHERE tgrelid = 'x_src'::regclass AND tgname LIKE 'strata%';
SELECT to_regprocedure('x_old_changes()') AS change_function;
SELECT to_regclass('x_old_definition') AS definition_view;
DROP TABLE IF EXISTS x_old_data, x_old_pending;
CREATE EXTENSION strata;
SELECT strata.create_rollup('x_new', $$SELECT date_trunc('hour', ts) AS bucket, sum(v) AS v FROM x_src GROUP BY 1$$) AS id;
SELECT strata.refresh_rollup('x_new') ->> 'rows' AS rows;
UPDATE x_src SET v = v * 10 WHERE ts < '2026-01-01 01:00';
DELETE FROM x_src WHERE ts >= '2026-01-01 01:30';
SELECT strata.refresh_rollup('x_new') ->> 'buckets_recomputed' AS recomputed;
SELECT (SELECT count(*) FROM (SELECT date_trunc('hour', ts), sum(v) FROM x_src GROUP BY 1 EXCEPT SELECT bucket, v FROM x_new) d) AS differing;
SELECT strata.drop_rollup('x_new');
DROP TABLE x_src;
