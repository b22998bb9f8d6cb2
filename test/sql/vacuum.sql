-- Vacuum scheduler: the dry run (vacuum_plan), per-table overrides, and every refusal. The worker's
-- actions are tested on a live cluster (test/cluster/t05_vacuum.sh); this database has no worker.
CREATE SCHEMA vac;
CREATE TABLE vac.events (ts timestamptz NOT NULL, video_id bigint, watch_ms int) PARTITION BY RANGE (ts);
CREATE TABLE vac.events_a PARTITION OF vac.events FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
CREATE TABLE vac.events_b PARTITION OF vac.events FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
INSERT INTO vac.events SELECT '2026-01-01'::timestamptz + g * interval '1 minute', g % 100, g FROM generate_series(1, 60000) g;
-- Shown without the budget decision and xid ages (other tests' tables share this database).
CREATE VIEW vac_plan AS
SELECT action, relation, CASE WHEN decision IN ('run', 'deferred: budget') THEN 'planned' ELSE decision END AS decision,
       regexp_replace(reason, '; deferred: this pass.*$', '') AS reason,
       (facts->>'pages')::int > 0 AS has_pages
FROM strata.vacuum_plan() WHERE relation LIKE 'vac.%' ORDER BY relation, action;

-- The partitioned table was never analyzed: the plan says so. Partitions: no writes seen by a worker
-- yet, so neither hot nor cold.
SELECT * FROM vac_plan;
SELECT count(*) AS parent_stats_before FROM pg_stats WHERE schemaname = 'vac' AND tablename = 'events';
-- Once analyzed, nothing is repeated (nothing changed, and not within strata.vacuum_analyze_min_interval).
ANALYZE vac.events;
SELECT * FROM vac_plan;

-- Overrides: on the parent (inherited by partitions) or on one partition.
SELECT strata.set_vacuum_policy('vac.events', enabled => false);
SELECT strata.set_vacuum_policy('vac.events_b', proactive_freeze => false, cold_after => '6 hours', analyze_fraction => 0.5);
SELECT relid, enabled, proactive_freeze, cold_after, analyze_fraction FROM strata.vacuum_policy ORDER BY relid::text;
CREATE TABLE vac.other (ts timestamptz NOT NULL) PARTITION BY RANGE (ts);
CREATE TABLE vac.other_a PARTITION OF vac.other FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
INSERT INTO vac.other SELECT '2026-01-02' FROM generate_series(1, 10);
SELECT strata.set_vacuum_policy('vac.other', enabled => false);
SELECT * FROM vac_plan;
SELECT strata.reset_vacuum_policy('vac.other');
SELECT * FROM vac_plan;
SELECT strata.reset_vacuum_policy('vac.other');

-- Insert-vacuum handover: an empty partition made ahead of need is handed over (its autovacuum insert
-- trigger raised so strata's hot freezes come first); one with its own insert reloption is left alone.
CREATE TABLE vac.hand (ts timestamptz NOT NULL) PARTITION BY RANGE (ts);
CREATE TABLE vac.hand_a PARTITION OF vac.hand FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
CREATE TABLE vac.hand_b PARTITION OF vac.hand FOR VALUES FROM ('2026-02-01') TO ('2026-03-01')
  WITH (autovacuum_vacuum_insert_scale_factor = 0.05);
SELECT action, relation, reason, facts->>'autovacuum_insert_scale' AS av_scale
  FROM strata.vacuum_plan() WHERE relation LIKE 'vac.hand%' ORDER BY relation, action;
DROP TABLE vac.hand;

-- Refusals.
SELECT test_err($$SELECT strata.set_vacuum_policy(NULL)$$);
SELECT test_err($$SELECT strata.set_vacuum_policy('vac_plan')$$);
SELECT test_err($$SELECT strata.set_vacuum_policy('vac.events', cold_after => '-1 hour')$$);
SELECT test_err($$SELECT strata.set_vacuum_policy('vac.events', cold_after => '0')$$);
SELECT test_err($$SELECT strata.set_vacuum_policy('vac.events', analyze_fraction => -0.1)$$);
SELECT test_err($$SELECT strata.set_vacuum_policy('vac.events', analyze_fraction => 'NaN')$$);
SELECT test_err($$SELECT strata.set_vacuum_policy('vac.events', analyze_fraction => 'Infinity')$$);
SELECT test_err($$SELECT strata.set_vacuum_policy('no_such_table')$$);
-- Settings are checked when given (ALTER SYSTEM, or a reload of postgresql.conf, which keeps the old value).
ALTER SYSTEM SET strata.vacuum_window = '25:00-26:00';
ALTER SYSTEM SET strata.vacuum_window = '01:00-05:00,';
ALTER SYSTEM SET strata.vacuum_urgent_age = 1.5;
SELECT test_err($$SET strata.vacuum_window = '01:00-05:00'$$);

-- Rollup tables (plain tables too, which are otherwise autovacuum's): a refresh that recomputes a bucket
-- deletes its stored groups and inserts them again, and an update that finds no room on its page
-- leaves the old version's index entries; reads of those buckets step over each until a VACUUM. From
-- max(strata.vacuum_rollup_dead_min (1000), 1% of rows) such entries on, strata vacuums the table with
-- index cleanup. Counted from a baseline the worker's tracking sets (0 when it first sees the table; no
-- worker here: set by hand), and never more than the dead tuples left.
CREATE TABLE vac_src (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, ch int);
CREATE INDEX ON vac_src (id);
CREATE TABLE vac_plain (ch int PRIMARY KEY);
INSERT INTO vac_src (ts, ch) SELECT '2026-01-01 00:10', g FROM generate_series(1, 1500) g;
INSERT INTO vac_src (ts, ch) SELECT '2026-01-01 01:10', g FROM generate_series(1, 900) g;
INSERT INTO vac_plain SELECT g FROM generate_series(1, 3000) g;
SELECT strata.create_rollup('vac_rr', $$SELECT date_trunc('hour', ts) AS bucket, ch, count(*) AS n FROM vac_src GROUP BY 1, 2$$) > 0 AS created;
SELECT strata.refresh_rollup('vac_rr') IS NOT NULL AS refreshed;
INSERT INTO strata.vacuum_state (relid, changes, seen_at, entries_at_vacuum)
  SELECT c.oid, 0, now(), 0 FROM pg_class c WHERE c.oid IN ('vac_rr_data'::regclass, 'vac_plain'::regclass);
CREATE VIEW vac_rollup_plan AS
SELECT action, relation, CASE WHEN decision IN ('run', 'deferred: budget') THEN 'planned' ELSE decision END AS decision,
       regexp_replace(reason, '; deferred: this pass.*$', '') AS reason,
       facts->'rollup_table' AS rollup_table, facts->'dead_index_entries' AS entries
FROM strata.vacuum_plan() WHERE relation IN ('public.vac_rr_data', 'public.vac_plain');
-- The second bucket recomputed: 900 entries, under the threshold. Deletes from a table that holds no
-- rollup are not this rule's business.
UPDATE vac_src SET ch = ch WHERE id = 1501;
SELECT strata.refresh_rollup('vac_rr') IS NOT NULL AS refreshed;
DELETE FROM vac_plain WHERE ch <= 2000;
SELECT pg_stat_force_next_flush();
SELECT * FROM vac_rollup_plan;
-- The first bucket too: 2,400 entries.
UPDATE vac_src SET ch = ch WHERE id = 1;
SELECT strata.refresh_rollup('vac_rr') IS NOT NULL AS refreshed;
SELECT pg_stat_force_next_flush();
SELECT * FROM vac_rollup_plan;
-- Within strata.vacuum_rollup_min_interval (60 s) of a vacuum by anyone it waits, however many
-- entries are made since.
VACUUM vac_rr_data;
UPDATE vac_src SET ch = ch WHERE id = 1;
SELECT strata.refresh_rollup('vac_rr') IS NOT NULL AS refreshed;
SELECT pg_stat_force_next_flush();
SELECT * FROM vac_rollup_plan;
SELECT count(*) AS rows_left FROM vac_rr_data;
DROP VIEW vac_rollup_plan;
SELECT strata.drop_rollup('vac_rr');
DROP TABLE vac_src, vac_plain;

-- A role that does not own the tables may not change their policy, and its dry run lists only
-- what it may read.
CREATE ROLE vac_reader;
GRANT USAGE ON SCHEMA vac TO vac_reader;
GRANT SELECT ON vac.other, vac.other_a TO vac_reader;
SET ROLE vac_reader;
SELECT test_err($$SELECT strata.set_vacuum_policy('vac.events', enabled => false)$$);
SELECT test_err($$SELECT strata.reset_vacuum_policy('vac.events')$$);
SELECT DISTINCT relation FROM strata.vacuum_plan() WHERE relation LIKE 'vac.%' ORDER BY 1;
SELECT count(*) > 0 AS can_read_policies FROM strata.vacuum_policy;
SELECT test_err($$DELETE FROM strata.vacuum_policy$$);
RESET ROLE;

-- Dropping a table forgets its override; the configuration is dumped with the extension.
DROP TABLE vac.events;
SELECT count(*) AS policies_left FROM strata.vacuum_policy;
SELECT count(*) AS dumped FROM pg_extension e, unnest(e.extconfig) c WHERE e.extname = 'strata' AND c = 'strata.vacuum_policy'::regclass;
DROP VIEW vac_plan;
DROP SCHEMA vac CASCADE;
DROP ROLE vac_reader;
