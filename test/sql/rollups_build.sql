-- Rollups, first build: a rollup created and refreshed in one transaction is bulk-loaded (in a
-- savepoint too, with rows the transaction inserts, with a dependent), in bucket order, with its key;
-- the pages of older buckets packed full.
SET TimeZone = 'UTC';
SELECT test_make_ev();
SELECT test_make_ev_direct();
-- Setup: rollup ids show in results below (create_rollup's result); they continue from the start, as in one run of
-- every rollup test in one file.
SELECT setval('strata.rollup_id_seq', 1, false) AS next_rollup_id;
-- Setup: ev_hourly, and the changes rollups_merge makes to ev (so that the figures below are those of
-- one run; ev_hourly's hooks give ev's partitions their order column's default).
SELECT test_make_ev_hourly() AS created;
INSERT INTO ev (ts, channel, viewer, watch_ms, kind, label) VALUES
  ('2026-01-04 10:05', 1, 7, 100, 'view', 'l1'), ('2026-01-01 00:10', 2, 900, 10, 'view', 'l9');
INSERT INTO ev_p20260102 (ts, channel, viewer, watch_ms, kind, label) VALUES ('2026-01-02 03:00', 0, 901, 5, 'view', 'l0');
UPDATE ev SET watch_ms = watch_ms + 1 WHERE id % 50 = 0;
UPDATE ev SET channel = NULL WHERE id = 4;
DELETE FROM ev WHERE id % 97 = 0;

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
SELECT strata.drop_rollup('ev_hourly');
DROP VIEW ev_direct;
DROP TABLE ev;
