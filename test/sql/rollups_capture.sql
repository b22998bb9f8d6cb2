-- One change capture per source: however many rollups read a table, it has one pair of statement
-- triggers per relation and one log; each rollup keeps its own position in it.
SET TimeZone = 'UTC';
CREATE TABLE cp (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, seen timestamp, channel int, v int)
  PARTITION BY RANGE (ts);
CREATE TABLE cp_1 PARTITION OF cp FOR VALUES FROM ('2026-01-01') TO ('2026-01-02');
CREATE TABLE cp_2 PARTITION OF cp FOR VALUES FROM ('2026-01-02') TO ('2026-01-03');
CREATE INDEX ON cp (id);
INSERT INTO cp (ts, seen, channel, v)
SELECT timestamptz '2026-01-01' + g * interval '7 minutes', timestamp '2026-01-01' + g * interval '5 minutes', g % 3, g
FROM generate_series(1, 400) g;
-- Four rollups, three grains (the hourly bucket twice), one over a timestamp column.
SELECT strata.create_rollup('cp_h', $q$SELECT date_trunc('hour', ts) AS b, channel, count(*) AS n, sum(v) AS s FROM cp GROUP BY 1, 2$q$) > 0 AS h;
SELECT strata.create_rollup('cp_h2', $q$SELECT date_trunc('hour', ts) AS b, max(v) AS m FROM cp WHERE v > 10 GROUP BY 1$q$) > 0 AS h2;
SELECT strata.create_rollup('cp_d', $q$SELECT date_trunc('day', ts) AS b, strata.hll_agg(channel) AS c FROM cp GROUP BY 1$q$) > 0 AS d;
SELECT strata.create_rollup('cp_s', $q$SELECT date_bin('15 minutes', seen, '2026-01-01') AS b, count(*) AS n FROM cp GROUP BY 1$q$) > 0 AS s;
SELECT c.relname, count(*) AS triggers, bool_and(g.tgenabled = 'A') AS always
  FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
 WHERE g.tgfoid = 'strata._rollup_capture()'::regprocedure AND c.relname LIKE 'cp%' GROUP BY 1 ORDER BY 1;
SELECT rollups, grains, changes_logged FROM strata.rollup_sources WHERE source = 'cp'::regclass;
SELECT name, (strata.refresh_rollup(name::text) ->> 'rows')::int AS rows FROM strata.rollups WHERE name::text LIKE 'cp%' ORDER BY 1;
-- An UPDATE logs each changed bucket once per grain, whatever the number of rollups: here 2 hours, 1
-- day and 2 quarter hours of the timestamp column, old and new rows together.
UPDATE cp SET v = v + 1 WHERE id IN (1, 2, 20);
SELECT g.bucket_type, count(*) AS logged FROM strata.rollup_change c JOIN strata.rollup_grain g ON g.id = c.grain
 GROUP BY 1, g.id ORDER BY g.id;
-- The same rows updated again and again: the log keeps one entry per changed bucket and grain (each
-- statement deletes the earlier ones), every rollup's pending buckets are the distinct buckets, and the
-- log is emptied once every rollup of a grain has passed its entries.
DO $$ BEGIN FOR i IN 1..50 LOOP UPDATE cp SET v = v + 1 WHERE id IN (1, 2, 20); END LOOP; END $$;
SELECT count(*) AS logged FROM strata.rollup_change;
SELECT name, pending_buckets FROM strata.rollups WHERE name::text LIKE 'cp%' ORDER BY 1;
SELECT (strata.refresh_rollup('cp_h') ->> 'buckets_recomputed')::int AS cp_h_recomputed;
SELECT count(*) AS logged_after_one FROM strata.rollup_change;
SELECT name, (strata.refresh_rollup(name::text) ->> 'buckets_recomputed')::int AS recomputed FROM strata.rollups
 WHERE name::text LIKE 'cp%' AND name::text <> 'cp_h' ORDER BY 1;
SELECT count(*) AS logged_after_all FROM strata.rollup_change;
-- Moving rows across buckets and partitions, deleting, and rows new since: each rollup equals its query.
UPDATE cp SET ts = ts + interval '20 hours', seen = seen + interval '1 hour' WHERE id % 10 = 0 AND ts < '2026-01-02';
DELETE FROM cp WHERE id % 17 = 0;
INSERT INTO cp (ts, seen, channel, v) VALUES ('2026-01-02 23:00', '2026-01-02 23:59', NULL, 5);
SELECT name, strata.refresh_rollup(name::text) IS NOT NULL AS refreshed FROM strata.rollups WHERE name::text LIKE 'cp%' ORDER BY 1;
CREATE FUNCTION cp_diff(v text, q text) RETURNS bigint LANGUAGE plpgsql AS $f$
DECLARE n bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM ((SELECT * FROM %s EXCEPT ALL %s) UNION ALL (%s EXCEPT ALL SELECT * FROM %s)) d', v, q, q, v) INTO n;
  RETURN n;
END $f$;
SELECT cp_diff('cp_h', $q$SELECT date_trunc('hour', ts), channel, count(*), sum(v) FROM cp GROUP BY 1, 2$q$) AS cp_h,
       cp_diff('cp_h2', $q$SELECT date_trunc('hour', ts), max(v) FROM cp WHERE v > 10 GROUP BY 1$q$) AS cp_h2,
       cp_diff('(SELECT b, c::text FROM cp_d) x', $q$SELECT date_trunc('day', ts), strata.hll_agg(channel)::text FROM cp GROUP BY 1$q$) AS cp_d,
       cp_diff('cp_s', $q$SELECT date_bin('15 minutes', seen, '2026-01-01'), count(*) FROM cp GROUP BY 1$q$) AS cp_s;
-- A disabled rollup keeps its position (the log keeps what it has not read); the others go on.
SELECT strata.alter_rollup('cp_d', enabled => false);
UPDATE cp SET v = v + 1 WHERE id = 3;
SELECT name, strata.refresh_rollup(name::text) IS NOT NULL AS refreshed FROM strata.rollups
 WHERE name::text LIKE 'cp%' AND name::text <> 'cp_d' ORDER BY 1;
SELECT count(*) AS kept_for_cp_d FROM strata.rollup_change c JOIN strata.rollup r ON r.grain = c.grain
 WHERE r.view = 'cp_d'::regclass AND c.pos > r.change_pos;
SELECT strata.alter_rollup('cp_d', enabled => true);
SELECT (strata.refresh_rollup('cp_d') ->> 'buckets_recomputed')::int AS cp_d_recomputed;
SELECT count(*) AS logged FROM strata.rollup_change;
-- Dropping one rollup touches no other; its grain goes when no rollup uses it; the last one takes the
-- triggers with it.
SELECT strata.drop_rollup('cp_h2');
SELECT rollups, grains FROM strata.rollup_sources WHERE source = 'cp'::regclass;
SELECT strata.drop_rollup('cp_s');
SELECT rollups, grains FROM strata.rollup_sources WHERE source = 'cp'::regclass;
UPDATE cp SET v = v + 1 WHERE id = 4;
SELECT g.bucket_expr LIKE '%day%' AS day_grain, count(*) AS logged FROM strata.rollup_change c JOIN strata.rollup_grain g ON g.id = c.grain
 GROUP BY 1 ORDER BY 1;
SELECT strata.drop_rollup('cp_h');
SELECT strata.drop_rollup('cp_d');
SELECT count(*) AS sources, (SELECT count(*) FROM pg_trigger WHERE tgfoid = 'strata._rollup_capture()'::regprocedure) AS triggers,
       (SELECT count(*) FROM strata.rollup_grain) AS grains, (SELECT count(*) FROM strata.rollup_change) AS logged
  FROM strata.rollup_sources;

-- A rollup made before 0.10.0 (its own change function and triggers, queuing into its pending table)
-- moves to the source's capture in the update script (strata_rollup_share_capture) with no change
-- lost: simulated here, then the update's step run.
SELECT strata.create_rollup('cp_old', $q$SELECT date_trunc('hour', ts) AS b, count(*) AS n, sum(v) AS s FROM cp GROUP BY 1$q$) > 0 AS created;
SELECT strata.refresh_rollup('cp_old') IS NOT NULL AS refreshed;
DO $$ BEGIN
  EXECUTE format('DROP TRIGGER %I ON cp', (SELECT 'strata_changes_' || id || '_upd' FROM strata.rollup_source WHERE source = 'cp'::regclass));
  EXECUTE format('DROP TRIGGER %I ON cp', (SELECT 'strata_changes_' || id || '_del' FROM strata.rollup_source WHERE source = 'cp'::regclass));
  EXECUTE format('DROP TRIGGER %I ON cp_1', (SELECT 'strata_changes_' || id || '_upd' FROM strata.rollup_source WHERE source = 'cp'::regclass));
  EXECUTE format('DROP TRIGGER %I ON cp_1', (SELECT 'strata_changes_' || id || '_del' FROM strata.rollup_source WHERE source = 'cp'::regclass));
  EXECUTE format('DROP TRIGGER %I ON cp_2', (SELECT 'strata_changes_' || id || '_upd' FROM strata.rollup_source WHERE source = 'cp'::regclass));
  EXECUTE format('DROP TRIGGER %I ON cp_2', (SELECT 'strata_changes_' || id || '_del' FROM strata.rollup_source WHERE source = 'cp'::regclass));
END $$;
UPDATE strata.rollup SET grain = NULL, change_pos = NULL, change_function = 'public.cp_old_changes' WHERE view = 'cp_old'::regclass;
DELETE FROM strata.rollup_grain; DELETE FROM strata.rollup_source;
CREATE FUNCTION cp_old_changes() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$
BEGIN
  INSERT INTO public.cp_old_pending (b) SELECT DISTINCT date_trunc('hour', ts) FROM __strata_old;
  IF TG_OP = 'UPDATE' THEN INSERT INTO public.cp_old_pending (b) SELECT DISTINCT date_trunc('hour', ts) FROM __strata_new; END IF;
  RETURN NULL;
END $f$;
DO $$ DECLARE r text; id int := (SELECT id FROM strata.rollup WHERE view = 'cp_old'::regclass); BEGIN
  FOREACH r IN ARRAY ARRAY['cp', 'cp_1', 'cp_2'] LOOP
    EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I REFERENCING OLD TABLE AS __strata_old NEW TABLE AS __strata_new '
                   'FOR EACH STATEMENT EXECUTE FUNCTION cp_old_changes()', 'strata_rollup_' || id || '_upd', r);
    EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS __strata_old '
                   'FOR EACH STATEMENT EXECUTE FUNCTION cp_old_changes()', 'strata_rollup_' || id || '_del', r);
  END LOOP; END $$;
-- Changes its own triggers queue before the update stay queued.
UPDATE cp SET v = v * 2 WHERE id < 30;
SELECT count(*) > 0 AS queued_before FROM cp_old_pending;
CREATE FUNCTION strata._rollup_share_capture() RETURNS void LANGUAGE C AS 'strata', 'strata_rollup_share_capture';
SET client_min_messages = warning;
SELECT strata._rollup_share_capture();
RESET client_min_messages;
DROP FUNCTION strata._rollup_share_capture();
SELECT to_regprocedure('cp_old_changes()') IS NULL AS own_function_gone,
       (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'strata_rollup_%') AS own_triggers,
       (SELECT count(*) FROM pg_trigger WHERE tgfoid = 'strata._rollup_capture()'::regprocedure) AS capture_triggers,
       (SELECT grain IS NOT NULL AND change_pos IS NOT NULL AND change_function IS NULL FROM strata.rollup
         WHERE view = 'cp_old'::regclass) AS on_capture,
       (SELECT count(*) > 0 FROM cp_old_pending) AS still_queued;
-- Changes after the move are captured; the refresh leaves the rollup equal to its query.
DELETE FROM cp WHERE id BETWEEN 30 AND 40;
UPDATE cp SET ts = ts - interval '3 hours' WHERE id BETWEEN 50 AND 55;
SELECT strata.refresh_rollup('cp_old') IS NOT NULL AS refreshed;
SELECT cp_diff('cp_old', $q$SELECT date_trunc('hour', ts), count(*), sum(v) FROM cp GROUP BY 1$q$) AS cp_old;
SELECT strata.drop_rollup('cp_old');
DROP FUNCTION cp_diff(text, text);
DROP TABLE cp;
RESET TimeZone;
