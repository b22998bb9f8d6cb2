-- The rollup advisor (src/agents/README.md): a recorded workload (pg_stat_statements) read back as
-- proposals, each a create_rollup call that, run, makes its statements routed; statements no rollup can
-- answer, with why.
SET client_min_messages = warning;
SET TimeZone = 'UTC';
SET max_parallel_workers_per_gather = 0;
CREATE SCHEMA adv;
SET search_path = adv, public;
CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, channel_id int, device varchar(8),
                     title text, watch_ms bigint, viewer_id bigint);
CREATE INDEX ON events (id);
INSERT INTO events (ts, channel_id, device, title, watch_ms, viewer_id)
SELECT '2026-11-01'::timestamptz + i * interval '37 seconds', i % 50, (ARRAY['tv', 'phone', 'web'])[1 + i % 3],
       'video ' || i % 400, (i * 7919) % 100000, i % 5000
FROM generate_series(1, 60000) i;
ANALYZE events;
-- A rollup that already answers daily views per device.
SELECT strata.create_rollup('adv_daily', $$SELECT date_trunc('day', ts) AS day, device, count(*) AS n
  FROM adv.events GROUP BY 1, 2$$) > 0 AS created;
SELECT (strata.refresh_rollup('adv_daily') ->> 'caught_up')::boolean AS refreshed;
ANALYZE adv_daily_data;

-- Without pg_stat_statements in the database, the advisor says what it needs.
SELECT count(*) FROM strata.rollup_advice();

CREATE EXTENSION pg_stat_statements;
-- The workload: each statement run at top level (as a client sends it), some twice with other constants;
-- routing takes the routed plan whenever a rollup answers.
CREATE TABLE workload (n int, q text);
INSERT INTO workload VALUES
  (1, $$SELECT date_trunc('hour', ts) AS h, channel_id, count(*), sum(watch_ms) FROM adv.events
        WHERE ts >= '2026-11-10' AND ts < '2026-11-12' AND channel_id IN (1, 2, 3) GROUP BY 1, 2 ORDER BY 1, 2 LIMIT 1$$),
  (2, $$SELECT date_trunc('day', ts) AS d, channel_id, max(watch_ms) FROM adv.events GROUP BY 1, 2 ORDER BY 1, 2 LIMIT 1$$),
  (3, $$SELECT date_trunc('day', ts) AS d, device, count(*) FROM adv.events GROUP BY 1, 2 ORDER BY 1, 2 LIMIT 1$$),
  (4, $$SELECT channel_id, count(DISTINCT viewer_id) FROM adv.events WHERE ts >= '2026-11-20' GROUP BY 1 ORDER BY 1 LIMIT 1$$),
  (5, $$SELECT title, count(*) FROM adv.events GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1$$),
  (6, $$SELECT string_agg(DISTINCT device, ',' ORDER BY device) FROM adv.events$$),
  (7, $$SELECT count(*) FROM adv.events e JOIN adv.events f USING (id) WHERE e.id < 10$$),
  (8, $$SELECT * FROM adv.events WHERE id = 1$$);
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
SET strata.routing_force = on;
SELECT q FROM workload ORDER BY n \gexec
SELECT replace(q, '-11-1', '-11-2') FROM workload WHERE n IN (1, 3) ORDER BY n \gexec
RESET strata.routing_force;

-- The advice: one group per rollup that would answer (its statements, calls, the calls already routed,
-- rows saved as estimated), and the statements no rollup answers with why. (Estimates are shown as
-- whether they are positive: they move with ANALYZE's sample.)
CREATE TABLE advice AS SELECT * FROM strata.rollup_advice();
SELECT status, source, time_column, grain, dimensions, measures, statements, calls, routed_calls,
       est_rows_saved > 0 AS saves, reason
FROM advice ORDER BY status, dimensions::text, reason;
SELECT create_rollup FROM advice WHERE status = 'proposed' ORDER BY dimensions::text;
-- Each proposal, run, is a rollup that routing then uses for the statements it was made for.
SELECT create_rollup FROM advice WHERE status = 'proposed' ORDER BY dimensions::text \gset
\o /dev/null
:create_rollup
\o
SELECT name, (strata.refresh_rollup(name::text) ->> 'caught_up')::boolean AS refreshed
FROM strata.rollups WHERE name::text LIKE 'events\_%' ORDER BY 1;
ANALYZE events_hourly_by_channel_id_data;
SET strata.routing_approximate = on;
SET strata.routing_force = on;
SELECT w.n, e.rollup FROM workload w, strata.explain_routing(w.q) e WHERE e.decision = 'chosen' AND w.n <= 4 ORDER BY 1;
RESET strata.routing_force;
RESET strata.routing_approximate;
-- Texts the advisor reads without planning them: a SELECT INTO (a utility statement), a prefix operator,
-- a parse error, two statements, an empty text, a statement on a table it cannot find.
SELECT q.n, count(sh.*) AS rows, max(sh.refusal) AS refusal FROM (VALUES
  (1, $$SELECT date_trunc('hour', ts), count(*) INTO adv.x FROM adv.events GROUP BY 1$$),
  (2, $$SELECT count(*) FROM adv.events WHERE OPERATOR(pg_catalog.<) ts$$),
  (3, $$SELEKT count(*) FROM adv.events$$),
  (4, $$SELECT count(*) FROM adv.events; SELECT 1$$),
  (5, ''),
  (6, $$SELECT count(*) FROM adv.nowhere$$),
  (7, $$SELECT tableoid, count(*) FROM adv.events GROUP BY 1$$)) q(n, text)
LEFT JOIN LATERAL strata._query_shape(q.text) sh ON true GROUP BY q.n ORDER BY q.n;
SELECT to_regclass('adv.x') IS NULL AS nothing_created;
-- Minimum calls: statements called fewer times are left out.
SELECT count(*) FROM strata.rollup_advice(min_calls => 1000);

DROP EXTENSION pg_stat_statements;
SELECT strata.drop_rollup(name::text) FROM strata.rollups WHERE name::text IN ('events_hourly_by_channel_id', 'adv_daily');
DROP SCHEMA adv CASCADE;
