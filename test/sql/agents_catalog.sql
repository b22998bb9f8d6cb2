-- The metrics catalog (src/agents/README.md): strata.metrics (every measure of every rollup as the raw
-- table's aggregate it equals, rollups of rollups composed) and strata.dimensions (what each can be asked
-- by, with statistics and the dimension table it joins to); descriptions and units from COMMENT ON COLUMN.
SET client_min_messages = warning;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET max_parallel_workers_per_gather = 0;
CREATE SCHEMA mc;
SET search_path = mc, public;
CREATE TABLE channels (id int PRIMARY KEY, title text, genre varchar(20), launched date);
INSERT INTO channels SELECT i, 'channel ' || i, (ARRAY['news', 'music'])[1 + i % 2], '2020-01-01' FROM generate_series(0, 4) i;
CREATE TABLE plays (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL,
                    channel int REFERENCES channels (id), device varchar(8), viewer int, watch_ms int);
INSERT INTO plays (ts, channel, device, viewer, watch_ms)
SELECT '2026-04-01'::timestamptz + i * interval '3 minutes', i % 5, (ARRAY['tv', 'web'])[1 + i % 2], i % 300, i % 1000
FROM generate_series(0, 2999) i;
CREATE INDEX ON plays (ts);
CREATE INDEX ON plays (id);
SELECT strata.create_rollup('plays_hourly', $$SELECT date_trunc('hour', ts) AS hour, channel, device, count(*) AS plays,
  sum(watch_ms) AS watch, avg(watch_ms) AS avg_watch, strata.hll_agg(viewer) AS viewers,
  strata.qsketch_agg(watch_ms, 0.01) AS watch_q FROM mc.plays GROUP BY 1, 2, 3$$) > 0 AS hourly;
SELECT strata.create_rollup('plays_daily', $$SELECT date_trunc('day', hour) AS day, channel, sum(plays) AS plays,
  sum(watch) AS watch, strata.merge(viewers) AS viewers FROM mc.plays_hourly GROUP BY 1, 2$$) > 0 AS daily_of_hourly;
SELECT (strata.refresh_rollup(r) ->> 'caught_up')::boolean FROM unnest(ARRAY['mc.plays_hourly', 'mc.plays_daily']) r;
ANALYZE plays, channels, plays_hourly_data, plays_daily_data;
COMMENT ON COLUMN plays_hourly.watch IS 'Time watched (unit: ms)';
COMMENT ON COLUMN plays_hourly.viewers IS 'Distinct viewers';

SELECT rollup, metric, source, reads_rollup, kind, raw_expression, description, unit, error_bound, dimensions,
       grain_width, time_column, covered_from, covered_to, rows_stored > 0 AS stored
FROM strata.metrics WHERE source = 'mc.plays'::regclass ORDER BY rollup::text, metric;
-- The example query of each metric is one its rollup answers (matched; costed against the others).
SELECT m.rollup, m.metric, e.decision <> 'rejected' AS answers
FROM strata.metrics m, LATERAL strata.explain_routing(m.example_query) e
WHERE m.source = 'mc.plays'::regclass AND e.rollup = m.rollup::text ORDER BY m.rollup::text, m.metric;
SELECT rollup, dimension, type, distinct_values_estimated, sample_values IS NOT NULL AS sampled, joins_to, descriptive_columns
FROM strata.dimensions WHERE source = 'mc.plays'::regclass ORDER BY rollup::text, dimension;
-- Structured questions (query_metrics): the answer equals the hand-written raw query's, every value a
-- parameter; provenance says where it came from; refusals name the valid choices.
CREATE TEMP TABLE qm AS SELECT strata.query_metrics(ARRAY['plays', 'watch', 'viewers'], ARRAY['channel'],
  '{"channel": {"<>": 3}}', '2026-04-02', '2026-04-05 12:00', 'day', NULL, 100) AS a;
SET strata.routing = off;
CREATE TEMP TABLE hand AS SELECT date_trunc('day', ts) AS day, channel, count(*) AS plays, sum(watch_ms) AS watch,
  strata.distinct_count(strata.hll_agg(viewer)) AS viewers FROM plays
  WHERE ts >= '2026-04-02' AND ts < '2026-04-05 12:00' AND channel <> 3 GROUP BY 1, 2;
RESET strata.routing;
SELECT (SELECT jsonb_agg(to_jsonb(h) ORDER BY h.day, h.channel) FROM hand h) = (SELECT q.a -> 'rows' FROM qm q) AS same_rows,
       a ->> 'row_count' AS row_count, a ->> 'truncated' AS truncated, a -> 'provenance' ->> 'source' AS source,
       a -> 'provenance' ->> 'exact' AS exact, a -> 'provenance' -> 'error_bounds' AS bounds,
       a -> 'provenance' -> 'parameters' AS parameters, a -> 'provenance' ->> 'sql' AS sql FROM qm;
SELECT a -> 'provenance' ? 'answered_by' AS says_who FROM qm;
SELECT x -> 'rows', x ->> 'truncated' FROM strata.query_metrics(ARRAY['plays', 'watch_q@0.5'], ARRAY['device'],
  order_by => 'plays desc', row_limit => 1) x;
\set SHOW_CONTEXT never
SELECT strata.query_metrics(ARRAY['nope']);
SELECT strata.query_metrics(ARRAY['plays'], ARRAY['country']);
SELECT strata.query_metrics(ARRAY['plays'], filters => '{"channel": {"like": 1}}');
SELECT strata.query_metrics(ARRAY['plays'], filters => '{"channel": "1; DROP TABLE mc.plays"}');
SELECT strata.query_metrics(ARRAY['plays'], grain => 'fortnight');
SELECT strata.query_metrics(ARRAY['watch_q']);
SELECT strata.query_metrics(ARRAY['plays'], order_by => 'watch_ms');
\set SHOW_CONTEXT errors
-- A rollup with its own WHERE: its metrics say so, and its example query states it (routing needs it).
SELECT strata.create_rollup('plays_tv', $$SELECT date_trunc('hour', ts) AS hour, channel, count(*) AS plays
  FROM mc.plays WHERE device = 'tv' GROUP BY 1, 2$$) > 0 AS filtered;
SELECT (strata.refresh_rollup('mc.plays_tv') ->> 'caught_up')::boolean AS refreshed;
SELECT m.metric, m.description, e.decision <> 'rejected' AS answers
FROM strata.metrics m, LATERAL strata.explain_routing(m.example_query) e
WHERE m.rollup = 'mc.plays_tv'::regclass AND e.rollup = m.rollup::text;
SELECT strata.drop_rollup('mc.plays_tv');
-- A top-k metric: each group's items with their counts and error bounds (the raw rows' counts here: fewer
-- distinct devices than the summary holds), the bound in the provenance.
SELECT strata.create_rollup('plays_top', $$SELECT date_trunc('hour', ts) AS hour, channel, strata.topk_agg(device, 5) AS top_devices
  FROM mc.plays GROUP BY 1, 2$$) > 0 AS topk;
SELECT (strata.refresh_rollup('mc.plays_top') ->> 'caught_up')::boolean AS refreshed;
SELECT r -> 'channel' AS channel, r -> 'top_devices' AS top_devices, x -> 'provenance' ->> 'exact' AS exact,
       x -> 'provenance' -> 'error_bounds' ? 'top_devices' AS bounded
FROM strata.query_metrics(ARRAY['top_devices'], ARRAY['channel'], time_from => '2026-04-02', time_to => '2026-04-03',
                          row_limit => 2) x, jsonb_array_elements(x -> 'rows') r;
SELECT channel, device, count(*) FROM plays WHERE ts >= '2026-04-02' AND ts < '2026-04-03' AND channel < 2
GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2;
SHOW strata.routing_approximate;
SELECT strata.drop_rollup('mc.plays_top');
-- A role that may not read a rollup sees its metrics but not what it holds.
CREATE ROLE mc_reader;
GRANT USAGE ON SCHEMA mc TO mc_reader;
GRANT SELECT ON plays_hourly TO mc_reader;
SET ROLE mc_reader;
SELECT rollup, count(*) AS metrics, bool_and(covered_from IS NOT NULL) AS sees_range FROM strata.metrics
WHERE source = 'mc.plays'::regclass GROUP BY 1 ORDER BY rollup::text;
RESET ROLE;
SELECT strata.drop_rollup(r) FROM unnest(ARRAY['mc.plays_daily', 'mc.plays_hourly']) r;
DROP SCHEMA mc CASCADE;
DROP OWNED BY mc_reader;
DROP ROLE mc_reader;
