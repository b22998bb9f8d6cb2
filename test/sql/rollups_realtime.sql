-- Rollups, the real-time view: stored groups plus the re-aggregated tail, during and after the
-- backfill, with NULL and infinite buckets, big tails, and the split of stored groups by range.
SET TimeZone = 'UTC';
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
