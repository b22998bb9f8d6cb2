-- Query routing (src/routing/README.md): the differential harness (every query run with routing on and
-- off, results compared), explain_routing's reasons, privileges, plan invalidation and the settings.
SET client_min_messages = warning;
SET TimeZone = 'UTC';
SET max_parallel_workers_per_gather = 0;  -- plans (and so routing decisions) the same on any machine
CREATE SCHEMA rt;
SET search_path = rt, public;

-- A partitioned source with NULL dimensions, NULL and infinite times, a float column.
CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz, channel_id int, device varchar(8),
                     views int, watch_ms bigint, score float8, viewer_id bigint) PARTITION BY RANGE (ts);
CREATE TABLE events_old PARTITION OF events FOR VALUES FROM (MINVALUE) TO ('2026-11-01');
CREATE TABLE events_nov PARTITION OF events FOR VALUES FROM ('2026-11-01') TO ('2026-12-01');
CREATE TABLE events_dec PARTITION OF events FOR VALUES FROM ('2026-12-01') TO (MAXVALUE);
CREATE TABLE events_null PARTITION OF events DEFAULT;
CREATE INDEX ON events (ts);
CREATE INDEX ON events (id);
INSERT INTO events (ts, channel_id, device, views, watch_ms, score, viewer_id)
SELECT '2026-10-20'::timestamptz + i * interval '26 seconds',
       NULLIF(i % 7, 6), (ARRAY['tv', 'phone', 'web', NULL])[1 + i % 4], 1 + i % 3, (i * 7919) % 100000,
       (i % 1000) / 7.0, i % 3000
FROM generate_series(1, 150000) i;
INSERT INTO events (ts, channel_id, device, views, watch_ms, score, viewer_id)
VALUES (NULL, 1, 'tv', 5, 100, 1.5, 1), ('infinity', 2, 'web', 7, 200, 2.5, 2), ('-infinity', 3, NULL, 1, 1, 0.5, 3);

SELECT strata.create_rollup('r_hourly', $$SELECT date_trunc('hour', ts) AS hour, channel_id, device, count(*) AS n,
  count(watch_ms) AS n_watch, sum(views) AS views, sum(watch_ms) AS watch, min(watch_ms) AS wmin, max(watch_ms) AS wmax,
  avg(watch_ms) AS wavg, avg(score) AS savg, strata.hll_agg(viewer_id) AS viewers, strata.qsketch_agg(watch_ms) AS wq
  FROM events GROUP BY 1, 2, 3$$) > 0 AS hourly;
SET TimeZone = 'Europe/Berlin';
SELECT strata.create_rollup('r_daily', $$SELECT date_trunc('day', ts) AS day, channel_id, count(*) AS n, sum(views) AS views
  FROM events GROUP BY 1, 2$$) > 0 AS daily_berlin;
SET TimeZone = 'UTC';
SET max_parallel_workers_per_gather = 0;  -- plans (and so routing decisions) the same on any machine
SELECT strata.create_rollup('r_quarter', $$SELECT date_bin('15 minutes', ts, '2000-01-01') AS q, device, count(*) AS n,
  sum(watch_ms) AS watch, count(watch_ms) AS n_watch FROM events GROUP BY 1, 2$$) > 0 AS quarter_hour;
SELECT (strata.refresh_rollup(r) ->> 'caught_up')::boolean FROM unnest(ARRAY['r_hourly', 'r_daily', 'r_quarter']) r;
ANALYZE events;

-- After the refresh: an unabsorbed tail (recent and late rows), updates and deletes not recomputed yet.
INSERT INTO events (ts, channel_id, device, views, watch_ms, score, viewer_id)
SELECT '2026-11-05 10:00'::timestamptz + i * interval '13 minutes', i % 5, (ARRAY['tv', NULL])[1 + i % 2], 2, i * 11, i / 3.0,
       5000 + i
FROM generate_series(1, 3000) i;
UPDATE events SET views = views + 10, channel_id = 4 WHERE id % 997 = 0;
DELETE FROM events WHERE id % 1499 = 0;
UPDATE events SET ts = ts + interval '3 days' WHERE id % 1999 = 0;

-- Runs `q` with routing off and on and compares the results as multisets; returns whether routing
-- chose a rollup (per explain_routing) and whether the results differ.
CREATE FUNCTION compare_routed(q text, OUT routed boolean, OUT differs boolean) LANGUAGE plpgsql AS $$
BEGIN
  SET LOCAL strata.routing = off;
  EXECUTE 'CREATE TEMP TABLE __raw AS ' || q;
  SET LOCAL strata.routing = on;
  EXECUTE 'CREATE TEMP TABLE __routed AS ' || q;
  EXECUTE 'SELECT EXISTS (SELECT * FROM __raw EXCEPT ALL SELECT * FROM __routed) OR
                  EXISTS (SELECT * FROM __routed EXCEPT ALL SELECT * FROM __raw)' INTO differs;
  SELECT EXISTS (SELECT FROM strata.explain_routing(q) e WHERE e.decision = 'chosen' AND e.rollup <> '(raw)') INTO routed;
  DROP TABLE __raw, __routed;
END $$;

-- The corpus: templates over grains, dimension subsets, filters, ranges and measures, in four time zones;
-- the rows span the end of daylight saving time in Europe (2026-10-25) and in the US (2026-11-01).
CREATE TABLE corpus (n int, zone text, q text);
INSERT INTO corpus
SELECT i, (ARRAY['UTC', 'Europe/Berlin', 'Asia/Kolkata', 'America/New_York'])[1 + i % 4],
       format('SELECT %s FROM rt.events WHERE %s %s %s',
              concat_ws(', ', NULLIF(g.e, ''), NULLIF(d.e, ''), m.e), f.e, r.e,
              CASE WHEN g.e = '' AND d.e = '' THEN '' ELSE 'GROUP BY ' ||
                concat_ws(', ', NULLIF(g.e, ''), NULLIF(d.e, '')) END || t.e)
FROM generate_series(1, 260) i
CROSS JOIN LATERAL (SELECT (ARRAY['', 'date_trunc(''hour'', ts)', 'date_trunc(''day'', ts)', 'date_trunc(''month'', ts)',
    'date_trunc(''week'', ts)', 'date_bin(''4 hours'', ts, ''2000-01-01'')', 'date_trunc(''day'', ts, ''Europe/Berlin'')',
    'date_bin(''30 minutes'', ts, ''2000-01-01'')', 'date_trunc(''hour'', ts)::date'])[1 + i % 9] AS e) g
CROSS JOIN LATERAL (SELECT (ARRAY['', 'channel_id', 'device', 'channel_id, device', 'coalesce(channel_id, -1) * 10'])[1 + (i / 9) % 5] AS e) d
CROSS JOIN LATERAL (SELECT (ARRAY['true', 'channel_id = 3', 'channel_id IN (1, 2, 5)', 'device IS NULL', 'device <> ''tv''',
    'channel_id BETWEEN 2 AND 4 AND device IS NOT NULL'])[1 + (i / 5) % 6] AS e) f
CROSS JOIN LATERAL (SELECT (ARRAY['', 'AND ts >= ''2026-11-03 05:30'' AND ts < ''2026-11-20 17:45''',
    'AND ts > ''2026-11-05'' AND ts <= ''2026-11-06 12:00''', 'AND ts BETWEEN ''2026-11-01'' AND ''2026-11-30''',
    'AND ts >= ''2026-11-10''', 'AND ts < ''2026-11-02 03:07''', 'AND ts >= ''2026-11-04 10:00:00+05:30'' AND ts < ''2026-11-04 10:00:00+05:30''::timestamptz + interval ''1 day''',
    'AND ts >= date_trunc(''day'', now()) - interval ''40 days'' AND ts < date_trunc(''hour'', now()) - interval ''26 days 3 hours'''])[1 + (i / 7) % 8] AS e) r
CROSS JOIN LATERAL (SELECT (ARRAY['count(*)', 'count(watch_ms), sum(views)', 'min(watch_ms), max(watch_ms)', 'avg(watch_ms)',
    'strata.distinct_count(strata.hll_agg(viewer_id)), md5(strata.hll_agg(viewer_id)::text)', 'round(avg(score)::numeric, 6)',
    'sum(views) * 100.0 / nullif(count(*), 0) AS pct', 'count(*), sum(watch_ms)'])[1 + (i / 11) % 8] AS e) m
CROSS JOIN LATERAL (SELECT (ARRAY['', ' HAVING count(*) > 3', ' ORDER BY 1 FETCH FIRST 5 ROWS WITH TIES', ''])[1 + (i / 13) % 4] AS e) t;

CREATE TABLE outcome (n int, zone text, routed boolean, differs boolean);
DO $$
DECLARE c record; o record;
BEGIN
  FOR c IN SELECT * FROM corpus ORDER BY n LOOP
    PERFORM set_config('TimeZone', c.zone, true);
    SELECT * INTO o FROM compare_routed(c.q);
    INSERT INTO outcome VALUES (c.n, c.zone, o.routed, o.differs);
  END LOOP;
END $$;
SET TimeZone = 'UTC';
SET max_parallel_workers_per_gather = 0;  -- plans (and so routing decisions) the same on any machine
SELECT count(*) AS queries, count(*) FILTER (WHERE differs) AS differing, count(*) FILTER (WHERE routed) >= 60 AS many_routed
FROM outcome;
-- Any query whose answers differ, with its text (none expected).
SELECT o.n, o.zone, c.q FROM outcome o JOIN corpus c USING (n) WHERE o.differs ORDER BY o.n;

-- Joins to a dimension table on its unique key: the rollup aggregated per key, joined, aggregated again.
CREATE TABLE channels (channel_id int PRIMARY KEY, genre text, kids boolean);
INSERT INTO channels SELECT i, (ARRAY['music', 'news', 'sport'])[1 + i % 3], i % 2 = 0 FROM generate_series(0, 5) i;
CREATE TABLE channel_tags (channel_id int, tag text);  -- no unique key: a channel can meet several rows
ANALYZE channels;
SELECT q.n, c.routed, c.differs FROM (VALUES
  (1, $$SELECT c.genre, count(*), sum(e.views) FROM rt.events e JOIN rt.channels c USING (channel_id)
        WHERE e.ts >= '2026-11-03 05:30' AND e.ts < '2026-11-28' GROUP BY c.genre$$),
  (2, $$SELECT date_trunc('day', e.ts), c.genre, count(*), avg(e.watch_ms) FROM rt.channels c, rt.events e
        WHERE c.channel_id = e.channel_id AND c.kids AND e.ts >= '2026-11-03' GROUP BY 1, 2$$),
  (3, $$SELECT c.genre, e.device, strata.distinct_count(strata.hll_agg(e.viewer_id)) FROM rt.events e
        JOIN rt.channels c ON c.channel_id = e.channel_id WHERE e.ts < '2026-11-20' GROUP BY 1, 2 HAVING count(*) > 10$$),
  (4, $$SELECT upper(c.genre) AS g, sum(e.views) AS v FROM rt.events e JOIN rt.channels c USING (channel_id)
        WHERE e.device IS NOT NULL AND c.genre <> 'news' GROUP BY 1 ORDER BY 2 DESC FETCH FIRST 1 ROWS WITH TIES$$),
  (5, $$SELECT e.channel_id, c.genre, count(*) FROM rt.events e JOIN rt.channels c USING (channel_id)
        WHERE e.ts >= '2026-11-10' GROUP BY 1, 2$$)) q(n, text), LATERAL compare_routed(q.text) c ORDER BY q.n;
SELECT rollup, decision, reason_code, reason FROM strata.explain_routing(
  $$SELECT t.tag, count(*) FROM rt.events e JOIN rt.channel_tags t USING (channel_id) GROUP BY 1$$);
SELECT rollup, decision, reason_code, reason FROM strata.explain_routing(
  $$SELECT c.genre, sum(c.channel_id) FROM rt.events e JOIN rt.channels c USING (channel_id) GROUP BY 1$$);

-- A rollup with a WHERE of its own answers queries that state the same conditions (as Postgres deparses
-- them), which the raw arms apply; without them it is not a candidate.
SELECT strata.create_rollup('r_busy', $$SELECT date_trunc('hour', ts) AS hour, channel_id, count(*) AS n, sum(watch_ms) AS w
  FROM rt.events WHERE views > 1 AND device IS NOT NULL GROUP BY 1, 2$$) > 0 AS created;
SELECT (strata.refresh_rollup('r_busy') ->> 'caught_up')::boolean AS refreshed;
ANALYZE r_busy_data;
SELECT routed, differs FROM compare_routed($$SELECT channel_id, count(*), sum(watch_ms) FROM rt.events
  WHERE device IS NOT NULL AND views > 1 AND ts >= '2026-11-02 10:10' AND ts < '2026-11-29' GROUP BY 1$$);
SELECT rollup, decision, reason_code, reason FROM strata.explain_routing($$SELECT channel_id, count(*) FROM rt.events
  WHERE views > 1 GROUP BY 1$$) WHERE rollup = 'r_busy';
SELECT strata.drop_rollup('r_busy');

-- TRUNCATE of a partition: the capture logs the buckets of the rows it removes, so they are read raw
-- until recomputed (and the refresh drops their groups).
TRUNCATE events_old;
SET strata.routing_force = on;  -- the routed plan, whatever the costs say: its answer is what is checked
SELECT routed, differs FROM compare_routed($$SELECT date_trunc('day', ts), count(*), sum(views) FROM rt.events
  WHERE ts >= '2026-10-27' AND ts < '2026-11-05' GROUP BY 1$$);
RESET strata.routing_force;
SELECT (strata.refresh_rollup('r_hourly') ->> 'caught_up')::boolean AS refreshed;
-- (Routed or not after the refresh is a close call of the costs: only the answer is compared.)
SELECT differs FROM compare_routed($$SELECT date_trunc('day', ts), count(*), sum(views) FROM rt.events
  WHERE ts >= '2026-10-27' AND ts < '2026-11-05' GROUP BY 1$$);
SELECT count(*) AS groups_left_before_november FROM r_hourly WHERE hour < '2026-11-01';

-- Whether the plan of `q` reads relation `rel` (by name in EXPLAIN's text).
CREATE FUNCTION plan_reads(q text, rel text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
    IF line LIKE '%' || rel || '%' THEN RETURN true; END IF;
  END LOOP;
  RETURN false;
END $$;

-- The reasons explain_routing gives.
CREATE FUNCTION reasons(q text) RETURNS TABLE (rollup text, decision text, reason_code text) LANGUAGE sql AS $$
  SELECT e.rollup, e.decision, e.reason_code FROM strata.explain_routing(q) e ORDER BY e.rollup $$;
SELECT * FROM reasons($$SELECT date_trunc('day', ts), channel_id, count(*), sum(views) FROM rt.events
                        WHERE ts >= '2026-11-03' AND ts < '2026-11-25' GROUP BY 1, 2$$);
SELECT * FROM reasons($$SELECT date_trunc('minute', ts), count(*) FROM rt.events GROUP BY 1$$);
SELECT * FROM reasons($$SELECT channel_id, count(DISTINCT viewer_id) FROM rt.events GROUP BY 1$$);
SELECT * FROM reasons($$SELECT channel_id, count(*) FROM rt.events WHERE views > 1 GROUP BY 1$$);
SELECT * FROM reasons($$SELECT channel_id, sum(score) FROM rt.events GROUP BY 1$$);
SELECT * FROM reasons($$SELECT e.channel_id, count(*) FROM rt.events e JOIN rt.events f USING (id) GROUP BY 1$$);
SELECT * FROM reasons($$SELECT channel_id, count(*) FROM rt.events WHERE ts = '2026-11-04' GROUP BY 1$$);
SELECT * FROM reasons($$SELECT * FROM rt.events WHERE id = 1$$);
SELECT * FROM reasons('SELECT 1; SELECT 2');

-- A routed plan reads the rollup; strata.routing = off plans the query as written.
SELECT plan_reads($$SELECT date_trunc('day', ts), count(*) FROM rt.events WHERE ts >= '2026-11-03 05:00' AND ts < '2026-11-25'
                    GROUP BY 1$$, '_data') AS routed;
SET strata.routing = off;
SELECT plan_reads($$SELECT date_trunc('day', ts), count(*) FROM rt.events WHERE ts >= '2026-11-03 05:00' AND ts < '2026-11-25'
                    GROUP BY 1$$, '_data') AS routed_when_off;
RESET strata.routing;

-- Generic plans stay exact across refreshes and a moving lower bound (parameters).
PREPARE dash(timestamptz) AS
  SELECT date_trunc('day', ts) AS day, count(*), sum(views), avg(watch_ms) FROM rt.events WHERE ts >= $1 GROUP BY 1;
SET plan_cache_mode = force_generic_plan;
CREATE TEMP TABLE dash_check (step int, differs boolean);
CREATE FUNCTION check_dash(step int, since timestamptz) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  SET LOCAL strata.routing = off;
  CREATE TEMP TABLE __raw AS SELECT date_trunc('day', ts) AS day, count(*), sum(views), avg(watch_ms) FROM rt.events
    WHERE ts >= since GROUP BY 1;
  SET LOCAL strata.routing = on;
  EXECUTE format('CREATE TEMP TABLE __routed AS EXECUTE dash(%L)', since);
  INSERT INTO dash_check SELECT step, EXISTS (SELECT * FROM __raw EXCEPT ALL SELECT * FROM __routed) OR
                                      EXISTS (SELECT * FROM __routed EXCEPT ALL SELECT * FROM __raw);
  DROP TABLE __raw, __routed;
END $$;
SELECT plan_reads('EXECUTE dash(''2026-11-02 07:13'')', '_data') AS generic_plan_routed;
SELECT check_dash(1, '2026-11-02 07:13');
SELECT strata.refresh_rollup('r_hourly') IS NOT NULL AS refreshed;
INSERT INTO events (ts, channel_id, device, views, watch_ms, score, viewer_id)
  SELECT '2026-11-20 01:00'::timestamptz + i * interval '1 minute', 1, 'tv', 1, 5, 1, 1 FROM generate_series(1, 500) i;
UPDATE events SET views = views + 1 WHERE id % 501 = 0;
SELECT check_dash(2, '2026-11-02 07:13');
SELECT check_dash(3, '2026-11-11 23:59:59.5');
SELECT step, differs FROM dash_check ORDER BY step;
RESET plan_cache_mode;

-- Cached plans follow the rollups: dropping the one a plan uses re-plans it; creating one on the
-- source re-plans the source's plans so they can use it.
PREPARE monthly AS SELECT date_trunc('month', ts), max(views) FROM rt.events WHERE ts >= '2026-11-01' AND ts < '2026-12-01' GROUP BY 1;
SELECT plan_reads('EXECUTE monthly', '_data') AS uses_a_rollup;  -- no rollup has max(views) yet
SELECT strata.create_rollup('r_daily_utc', $$SELECT date_trunc('day', ts) AS day, max(views) AS top FROM rt.events GROUP BY 1$$) > 0;
SELECT (strata.refresh_rollup('r_daily_utc') ->> 'caught_up')::boolean;
ANALYZE r_daily_utc_data;
SELECT plan_reads('EXECUTE monthly', 'r_daily_utc_data') AS uses_new_daily;
SELECT strata.drop_rollup('r_daily_utc');
SELECT plan_reads('EXECUTE monthly', '_data') AS uses_a_rollup_after_drop;

-- Privileges: the reader needs SELECT on the rollup; every check of the query as written stays.
CREATE ROLE rt_reader;
GRANT USAGE ON SCHEMA rt TO rt_reader;
GRANT SELECT (ts, channel_id, device) ON events TO rt_reader;
SET ROLE rt_reader;
SELECT * FROM reasons($$SELECT date_trunc('day', ts), count(*) FROM rt.events GROUP BY 1$$);
SELECT count(*) > 0 AS raw_count_works FROM (SELECT date_trunc('day', ts), count(*) FROM rt.events GROUP BY 1) x;
RESET ROLE;
GRANT SELECT ON r_hourly TO rt_reader;
SET ROLE rt_reader;
SELECT * FROM reasons($$SELECT date_trunc('day', ts), count(*) FROM rt.events GROUP BY 1$$);
SELECT count(*) > 0 AS routed_count_works FROM (SELECT date_trunc('day', ts), count(*) FROM rt.events GROUP BY 1) x;
SELECT date_trunc('day', ts), sum(views) FROM rt.events GROUP BY 1;  -- no privilege on views: denied, as written
RESET ROLE;
-- Row-level security on the source: never routed.
ALTER TABLE events ENABLE ROW LEVEL SECURITY;
SELECT * FROM reasons($$SELECT date_trunc('day', ts), count(*) FROM rt.events GROUP BY 1$$);
ALTER TABLE events DISABLE ROW LEVEL SECURITY;

-- Approximate answers, opt-in: count(DISTINCT) from the hll, percentiles from the qsketch, within their
-- bounds, and explain_routing says so. Off (the default), such queries are not routed.
SELECT rollup, decision, reason_code FROM strata.explain_routing($$SELECT channel_id, count(DISTINCT viewer_id) FROM rt.events
  GROUP BY 1$$);
SET strata.routing_approximate = on;
SELECT decision, reason LIKE '%approximately (count(DISTINCT viewer_id) from an hll sketch (relative standard error 0.81%)%' AS says_approximate
FROM strata.explain_routing($$SELECT channel_id, count(DISTINCT viewer_id), percentile_cont(0.5) WITHIN GROUP (ORDER BY watch_ms)
  FROM rt.events WHERE ts >= '2026-11-03' GROUP BY 1$$) WHERE rollup = 'r_hourly';
CREATE TEMP TABLE approx_routed AS SELECT channel_id, count(DISTINCT viewer_id) AS d,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY watch_ms) AS p FROM rt.events WHERE ts >= '2026-11-03' GROUP BY 1;
SET strata.routing = off;
CREATE TEMP TABLE approx_raw AS SELECT channel_id, count(DISTINCT viewer_id) AS d,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY watch_ms) AS p FROM rt.events WHERE ts >= '2026-11-03' GROUP BY 1;
RESET strata.routing;
RESET strata.routing_approximate;
SELECT count(*) AS groups, max(abs(r.d - w.d)::float8 / w.d) < 0.03 AS distinct_within_3pct,
       max(abs(r.p - w.p) / w.p) < 0.011 AS median_within_1pct
FROM approx_routed r JOIN approx_raw w USING (channel_id);
-- strata.topk_agg merged from stored summaries: approximate beyond the summaries' capacity, so only with
-- strata.routing_approximate, and said so. Here fewer items than the capacity: the same items and counts.
SELECT strata.create_rollup('r_top', $$SELECT date_trunc('hour', ts) AS hour, device, count(*) AS n,
  strata.topk_agg(channel_id, 3) AS top FROM rt.events GROUP BY 1, 2$$) > 0 AS created;
SELECT (strata.refresh_rollup('r_top') ->> 'caught_up')::boolean AS refreshed;
ANALYZE r_top_data;
SELECT decision, reason_code FROM strata.explain_routing($$SELECT device, strata.topk_agg(channel_id, 3) FROM rt.events
  WHERE ts >= '2026-11-03' GROUP BY 1$$) WHERE rollup = 'r_top';
SET strata.routing_approximate = on;
SELECT decision, reason LIKE '%approximately (strata.topk_agg(channel_id, 3) merged from stored summaries%' AS says_approximate
FROM strata.explain_routing($$SELECT device, strata.topk_agg(channel_id, 3) FROM rt.events
  WHERE ts >= '2026-11-03' GROUP BY 1$$) WHERE rollup = 'r_top';
CREATE TEMP TABLE top_routed AS SELECT device, strata.topk_agg(channel_id, 3) AS t FROM rt.events
  WHERE ts >= '2026-11-03' GROUP BY 1;
RESET strata.routing_approximate;
SET strata.routing = off;
CREATE TEMP TABLE top_raw AS SELECT device, strata.topk_agg(channel_id, 3) AS t FROM rt.events
  WHERE ts >= '2026-11-03' GROUP BY 1;
RESET strata.routing;
SELECT count(*) AS items, count(*) FILTER (WHERE r IS NULL OR w IS NULL) AS differing FROM
  (SELECT r.device, i.item, i.count FROM top_routed r, strata.topk_items(r.t) i) r FULL JOIN
  (SELECT w.device, i.item, i.count FROM top_raw w, strata.topk_items(w.t) i) w
  ON r.device IS NOT DISTINCT FROM w.device AND r.item = w.item AND r.count = w.count;
SELECT strata.drop_rollup('r_top');

-- Routed executions are counted per rollup (the harness ran many on r_hourly; none ran on r_daily's
-- Berlin days in these queries' UTC session, so it may have none).
SELECT rollup, routed_queries > 0 AS counted, rows_saved_estimated > 0 AS saved FROM strata.routing_stats WHERE rollup = 'r_hourly'::regclass;


-- Review cases. A rollup made with backfill => false lacks the rows its source already had: never routed.
CREATE TABLE hist (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, v int);
CREATE INDEX ON hist (id);
INSERT INTO hist (ts, v) SELECT '2026-01-01'::timestamptz + g * interval '1 minute', 1 FROM generate_series(1, 20000) g;
SELECT strata.create_rollup('hist_h', $$SELECT date_trunc('hour', ts) AS h, count(*) AS n FROM hist GROUP BY 1$$,
                            backfill => false) > 0 AS created;
SELECT rollup, decision, reason_code FROM strata.explain_routing($$SELECT count(*) FROM hist$$) ORDER BY rollup;
SELECT count(*) AS all_rows FROM hist;
SELECT strata.drop_rollup('hist_h');
-- FROM ONLY a table with inheritance children is not the rollup's source as a whole: not routed.
CREATE TABLE inh (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, v int);
CREATE TABLE inh_child () INHERITS (inh);
CREATE INDEX ON inh (id);
INSERT INTO inh (ts, v) SELECT '2026-01-01'::timestamptz + g * interval '1 minute', 1 FROM generate_series(1, 20000) g;
SELECT strata.create_rollup('inh_h', $$SELECT date_trunc('hour', ts) AS h, count(*) AS n FROM inh GROUP BY 1$$) > 0 AS created;
INSERT INTO inh_child (ts, v) VALUES ('2026-01-02', 1);  -- numbered by the source's sequence (strata set the default)
SELECT (strata.refresh_rollup('inh_h') ->> 'caught_up')::boolean AS refreshed;
SELECT rollup, decision, reason_code FROM strata.explain_routing($$SELECT count(*) FROM ONLY inh$$) ORDER BY rollup;
-- Order values gone back below the watermark (RESTART IDENTITY): every row is read raw, the answer stays exact.
TRUNCATE inh, inh_child RESTART IDENTITY;
INSERT INTO inh (ts, v) SELECT '2026-03-01'::timestamptz + g * interval '1 minute', 1 FROM generate_series(1, 20000) g;
ANALYZE inh;
SET strata.routing_force = on;
SELECT routed, differs FROM compare_routed($$SELECT date_trunc('day', ts), count(*) FROM inh GROUP BY 1$$);
RESET strata.routing_force;
SELECT strata.drop_rollup('inh_h');
DROP TABLE inh CASCADE;
DROP TABLE hist;
-- explain_routing plans only what the caller may read.
CREATE TABLE secret (id int, salary int);
CREATE ROLE rt_snoop;
GRANT USAGE ON SCHEMA rt TO rt_snoop;
SET ROLE rt_snoop;
SELECT * FROM strata.explain_routing('SELECT count(*) FROM rt.secret');
RESET ROLE;
REVOKE USAGE ON SCHEMA rt FROM rt_snoop;
DROP ROLE rt_snoop;
DROP TABLE secret;

-- Rollups of rollups answer raw-table queries through their chain: a UTC-daily rollup of r_hourly and a
-- weekly rollup of that one. Their stored group of a bucket is used only while it and every finer bucket
-- under it are clean; else that bucket's rows are read raw.
SELECT strata.create_rollup('r_days', $$SELECT date_trunc('day', hour) AS day, channel_id, device, sum(n) AS n,
  sum(n_watch) AS n_watch, sum(views) AS views, sum(watch) AS watch, min(wmin) AS wmin, max(wmax) AS wmax,
  strata.merge(viewers) AS viewers FROM rt.r_hourly GROUP BY 1, 2, 3$$) > 0 AS daily_of_hourly;
SELECT strata.create_rollup('r_weeks', $$SELECT date_trunc('week', day) AS week, channel_id, sum(n) AS n,
  sum(views) AS views, strata.merge(viewers) AS viewers FROM rt.r_days GROUP BY 1, 2$$) > 0 AS weekly_of_daily;
SELECT strata.create_rollup('r_days_tv', $$SELECT date_trunc('day', hour) AS day, channel_id, sum(n) AS n
  FROM rt.r_hourly WHERE device = 'tv' GROUP BY 1, 2$$) > 0 AS with_own_where;
CREATE TABLE chain_queries (n int, q text);
INSERT INTO chain_queries VALUES
  (1, $$SELECT date_trunc('day', ts), channel_id, count(*), sum(views), min(watch_ms), max(watch_ms) FROM rt.events
        WHERE ts >= '2026-10-22' AND ts < '2026-12-01' GROUP BY 1, 2$$),
  (2, $$SELECT date_trunc('month', ts), device, sum(watch_ms), count(watch_ms), avg(watch_ms),
        md5(strata.hll_agg(viewer_id)::text) FROM rt.events WHERE ts >= '2026-10-25 13:00' GROUP BY 1, 2$$),
  (3, $$SELECT channel_id, count(*), sum(views) FROM rt.events GROUP BY 1$$),
  (4, $$SELECT date_trunc('week', ts), channel_id, sum(views), strata.distinct_count(strata.hll_agg(viewer_id))
        FROM rt.events WHERE ts >= '2026-10-26' AND ts < '2026-11-30' GROUP BY 1, 2$$),
  (5, $$SELECT date_trunc('week', ts) AS w, count(*) FROM rt.events WHERE channel_id IN (1, 2)
        AND ts BETWEEN '2026-10-20 07:00' AND '2026-11-27 18:30' GROUP BY 1 HAVING count(*) > 100 ORDER BY 1$$);
-- Each query, which rollup answered and whether the answers differ (none should). Queries 3 to 5 are
-- answered about as cheaply by two rollups (costs within a few percent): only whether a rollup answered.
CREATE FUNCTION chain_round() RETURNS TABLE (n int, answered_by text, differs boolean) LANGUAGE sql AS $$
  SELECT q.n, CASE WHEN q.n <= 2 THEN a.rollup WHEN a.rollup <> '(raw)' THEN '(a rollup)' ELSE a.rollup END, c.differs
  FROM rt.chain_queries q, LATERAL rt.compare_routed(q.q) c,
       LATERAL (SELECT e.rollup FROM strata.explain_routing(q.q) e WHERE e.decision = 'chosen') a ORDER BY q.n $$;
-- Queries written on a rollup's view are answered by the rollups of that rollup: the answer is the
-- view's (its stored groups, stale or frozen ones included, plus its unabsorbed rows).
CREATE TABLE view_queries (n int, q text);
INSERT INTO view_queries VALUES
  (1, $$SELECT date_trunc('day', hour) AS d, channel_id, sum(n) AS n, sum(views) AS v, min(wmin) AS lo, max(wmax) AS hi,
        md5(strata.merge(viewers)::text) AS h FROM rt.r_hourly WHERE hour >= '2026-10-22 05:00' AND hour < '2026-12-01' GROUP BY 1, 2$$),
  (2, $$SELECT sum(n) AS n, sum(watch) AS w, max(wmax) AS hi FROM rt.r_hourly$$),
  (3, $$SELECT device, sum(views) AS v FROM rt.r_hourly WHERE channel_id IN (1, 2) GROUP BY 1 ORDER BY 2 DESC LIMIT 2$$),
  (4, $$SELECT date_trunc('month', hour) AS m, strata.distinct_count(strata.merge(viewers)) AS u FROM rt.r_hourly
        WHERE hour > '2026-10-25 13:00' GROUP BY 1 HAVING sum(n) > 10$$),
  (5, $$SELECT date_trunc('week', day) AS w, channel_id, sum(n) AS n, sum(views) AS v, md5(strata.merge(viewers)::text) AS h
        FROM rt.r_days GROUP BY 1, 2$$),
  (6, $$SELECT date_trunc('day', hour) AS d, sum(n_watch) AS n FROM rt.r_hourly WHERE device IS NOT NULL
        AND hour BETWEEN '2026-10-21 07:00' AND '2026-11-29 18:00' GROUP BY 1$$);
-- The routed plan is taken whenever a rollup answers (strata.routing_force), so each answer is checked
-- whichever plan the costs would pick.
CREATE FUNCTION view_round() RETURNS TABLE (n int, routed boolean, differs boolean) LANGUAGE sql
SET strata.routing_force = on AS $$
  SELECT q.n, c.routed, c.differs FROM rt.view_queries q, LATERAL rt.compare_routed(q.q) c ORDER BY q.n $$;
-- Clean: every rollup caught up.
SELECT (strata.refresh_rollup(r) ->> 'caught_up')::boolean FROM unnest(ARRAY['r_hourly', 'r_days', 'r_weeks']) r;
ANALYZE r_hourly_data, r_days_data, r_weeks_data, r_days_pending, r_weeks_pending;
SELECT * FROM chain_round();
SELECT * FROM view_round();
-- What is read from a rollup's view: sum, min, max and strata.merge of its columns; a count of its rows
-- is not (a stored group and the unabsorbed rows of the same group are one row of the view).
SELECT rollup, decision, reason_code, reason FROM strata.explain_routing($$SELECT date_trunc('day', hour), count(*)
  FROM rt.r_hourly GROUP BY 1$$) ORDER BY 1;
SELECT rollup, decision, reason_code FROM strata.explain_routing($$SELECT hour, sum(n) FROM rt.r_hourly GROUP BY 1$$)
  ORDER BY 1;
-- Aggregates that do not combine as the view merges a stored group with its unabsorbed rows (the max of a
-- count, the sum of a min), and a grouping by a measure column, are not read from r_days.
SELECT q.n, e.decision, e.reason_code FROM (VALUES
  (1, $$SELECT date_trunc('day', hour), max(n) FROM rt.r_hourly GROUP BY 1$$),
  (2, $$SELECT date_trunc('day', hour), sum(wmin) FROM rt.r_hourly GROUP BY 1$$),
  (3, $$SELECT date_trunc('day', hour), n_watch, sum(n) FROM rt.r_hourly GROUP BY 1, 2$$),
  (4, $$SELECT date_trunc('day', hour), sum(n) FROM rt.r_hourly WHERE views > 3 GROUP BY 1$$)) q(n, text),
  strata.explain_routing(q.text) e WHERE e.rollup = 'r_days' ORDER BY 1;
-- The weekly rollup of the daily one answers weekly questions too (matched and costed; which of the
-- close candidates wins is the planner's estimate).
SELECT q.n, e.rollup, e.decision <> 'rejected' AS matched, coalesce(e.reason_code, '') = 'grain' AS grain_finer
FROM chain_queries q, strata.explain_routing(q.q) e
WHERE q.n IN (1, 4) AND e.rollup IN ('r_hourly', 'r_days', 'r_weeks') ORDER BY 1, 2;
-- A tail and changed rows in the range; only the hourly rollup refreshed: r_days and r_weeks have
-- pending buckets, r_hourly a tail and new dirty hours.
INSERT INTO events (ts, channel_id, device, views, watch_ms, score, viewer_id)
SELECT '2026-11-12 03:00'::timestamptz + i * interval '7 minutes', i % 6, 'web', 1, i, 1.0, 9000 + i
FROM generate_series(1, 400) i;
SELECT (strata.refresh_rollup('r_hourly') ->> 'caught_up')::boolean AS hourly_refreshed;
INSERT INTO events (ts, channel_id, device, views, watch_ms, score, viewer_id)
SELECT '2026-11-20 01:00'::timestamptz + i * interval '11 minutes', 2, 'tv', 3, i, 1.0, 9500 + i
FROM generate_series(1, 200) i;
UPDATE events SET views = views + 1 WHERE id % 1201 = 0;
DELETE FROM events WHERE id % 2003 = 0;
SELECT count(*) > 0 AS days_pending FROM r_days_pending;
SELECT * FROM chain_round();
SELECT * FROM view_round();
-- The daily rollup refreshed, the weekly one not yet.
SELECT (strata.refresh_rollup(r) ->> 'caught_up')::boolean FROM unnest(ARRAY['r_hourly', 'r_days']) r;
SELECT count(*) > 0 AS weeks_pending FROM r_weeks_pending;
SELECT * FROM chain_round();
SELECT * FROM view_round();
-- A reader of the view who may not read the raw table gets the view's answer, routed or not; one who
-- may not read the view is refused as before.
CREATE ROLE rt_viewer;
GRANT USAGE ON SCHEMA rt TO rt_viewer;
GRANT SELECT ON r_hourly, r_days TO rt_viewer;
GRANT EXECUTE ON FUNCTION compare_routed(text) TO rt_viewer;
SET ROLE rt_viewer;
SELECT routed, differs FROM compare_routed($$SELECT date_trunc('day', hour) AS d, sum(views) AS v FROM rt.r_hourly GROUP BY 1$$);
RESET ROLE;
REVOKE SELECT ON r_hourly FROM rt_viewer;
SET ROLE rt_viewer;
SELECT date_trunc('day', hour), sum(views) FROM rt.r_hourly GROUP BY 1;
SELECT count(*) FROM strata.explain_routing($$SELECT date_trunc('day', hour), sum(views) FROM rt.r_hourly GROUP BY 1$$);
RESET ROLE;
REVOKE ALL ON r_days FROM rt_viewer;
REVOKE ALL ON FUNCTION compare_routed(text) FROM rt_viewer;
REVOKE USAGE ON SCHEMA rt FROM rt_viewer;
DROP ROLE rt_viewer;
-- A daily rollup of a Berlin-day query's grain does not nest UTC days; an hourly query is finer than
-- r_days; a rollup of a rollup with its own WHERE is not read.
SET TimeZone = 'Europe/Berlin';
SELECT rollup, decision, reason_code FROM strata.explain_routing($$SELECT date_trunc('day', ts), count(*)
  FROM rt.events GROUP BY 1$$) WHERE rollup IN ('r_days', 'r_weeks', 'r_days_tv') ORDER BY 1;
SET TimeZone = 'UTC';
SET max_parallel_workers_per_gather = 0;
SELECT rollup, decision, reason_code, reason FROM strata.explain_routing($$SELECT date_trunc('hour', ts), count(*)
  FROM rt.events WHERE device = 'tv' GROUP BY 1$$) WHERE rollup IN ('r_days', 'r_days_tv') ORDER BY 1;
SELECT strata.drop_rollup(r) FROM unnest(ARRAY['r_days_tv', 'r_weeks', 'r_days']) r;

-- A partition detached, attached or dropped by hand: its rows' buckets are logged first (as a TRUNCATE
-- would), so routing reads them raw until the rollups recompute them from the rows the table then has.
-- (Retention keeps the rollups' history instead: its own detach logs nothing, see partitions.)
CREATE TABLE tree_queries (n int, q text);
INSERT INTO tree_queries VALUES
  (1, $$SELECT date_trunc('day', ts), count(*), sum(views) FROM rt.events WHERE ts >= '2026-10-28' AND ts < '2026-11-20' GROUP BY 1$$),
  (2, $$SELECT channel_id, count(*), max(watch_ms) FROM rt.events WHERE ts >= '2026-11-25' GROUP BY 1$$),
  (3, $$SELECT date_trunc('month', ts), device, count(*) FROM rt.events GROUP BY 1, 2$$);
-- Whether any answer differs (routed or not: which plan wins moves with the rows the tree holds).
CREATE FUNCTION tree_round() RETURNS TABLE (queries bigint, differing bigint) LANGUAGE sql AS $$
  SELECT count(*), count(*) FILTER (WHERE c.differs) FROM rt.tree_queries q, LATERAL rt.compare_routed(q.q) c $$;
SELECT (strata.refresh_rollup('r_hourly') ->> 'caught_up')::boolean AS refreshed;
SELECT * FROM tree_round();
ALTER TABLE events DETACH PARTITION events_nov;
SELECT * FROM tree_round();
SELECT (strata.refresh_rollup('r_hourly') ->> 'caught_up')::boolean AS refreshed;
SELECT count(*) AS november_groups FROM r_hourly_data WHERE hour >= '2026-11-01' AND hour < '2026-12-01';
SELECT * FROM tree_round();
ALTER TABLE events ATTACH PARTITION events_nov FOR VALUES FROM ('2026-11-01') TO ('2026-12-01');
SELECT * FROM tree_round();
SELECT (strata.refresh_rollup('r_hourly') ->> 'caught_up')::boolean AS refreshed;
SELECT count(*) > 0 AS november_groups_back FROM r_hourly_data WHERE hour >= '2026-11-01' AND hour < '2026-12-01';
SELECT * FROM tree_round();
-- Only the table's owner gets the trigger's work (nobody else can make it lock and read a source).
CREATE ROLE rt_nobody;
GRANT USAGE ON SCHEMA rt TO rt_nobody;
CREATE TEMP TABLE log_before AS SELECT count(*) AS n, max(pos) AS pos FROM strata.rollup_change;
SET ROLE rt_nobody;
DROP TABLE rt.events_dec;
ALTER TABLE rt.events DETACH PARTITION rt.events_nov;
RESET ROLE;
SELECT (SELECT count(*) FROM strata.rollup_change) = n AND (SELECT max(pos) FROM strata.rollup_change) IS NOT DISTINCT FROM pos
  AS nothing_logged FROM log_before;
REVOKE USAGE ON SCHEMA rt FROM rt_nobody;
DROP ROLE rt_nobody;
BEGIN;
DROP TABLE events_dec;
SELECT * FROM tree_round();
ROLLBACK;
DROP TABLE events_dec;
SELECT * FROM tree_round();

DROP SCHEMA rt CASCADE;
DROP ROLE rt_reader;
