-- Rollups, keysets: the real-time view of integer, date and timestamp keys drops the stored groups its
-- tail touches with a keyset probe; a text key keeps the anti-join; the keyset functions themselves.
SET TimeZone = 'UTC';
-- Keys of integers, dates and timestamps: from the tail's first bucket on, the view drops the stored
-- groups the tail touches with one keyset probe per row (strata.keyset_lacks) instead of an anti-join.
-- A stored group with a NULL dimension is re-aggregated only where the tail has a group with a NULL
-- dimension in its bucket; a tail of more than 1,000 groups makes the keyset one of buckets.
CREATE TABLE ksr (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, a int, b bigint, v int);
CREATE INDEX ON ksr (id);
INSERT INTO ksr (ts, a, b, v) SELECT timestamptz '2026-03-01' + (g % 48) * interval '1 hour', NULLIF(g % 5, 4), NULLIF(g % 3, 2), g
  FROM generate_series(1, 2000) g;
SELECT strata.create_rollup('ksr_h', $q$SELECT date_trunc('hour', ts) AS h, a, b, count(*) AS n, sum(v) AS s, min(v) AS lo,
  max(v) AS hi, avg(v) AS mean FROM ksr GROUP BY 1, 2, 3$q$) > 0 AS created;
SELECT (strata.refresh_rollup('ksr_h') ->> 'groups') AS groups;
SELECT pg_get_viewdef('ksr_h') LIKE '%keyset_lacks%' AS keyset, pg_get_viewdef('ksr_h') LIKE '%EXISTS%' AS anti_join;
CREATE VIEW ksr_direct AS SELECT date_trunc('hour', ts) AS h, a, b, count(*) AS n, sum(v) AS s, min(v) AS lo, max(v) AS hi,
  avg(v) AS mean FROM ksr GROUP BY 1, 2, 3;
CREATE FUNCTION ksr_diff() RETURNS bigint LANGUAGE sql AS $f$
  SELECT count(*) FROM ((SELECT * FROM ksr_h EXCEPT ALL SELECT * FROM ksr_direct) UNION ALL
                        (SELECT * FROM ksr_direct EXCEPT ALL SELECT * FROM ksr_h)) d $f$;
-- A tail touching stored groups, new ones, and a NULL dimension in one bucket only (hour 40, 03-02 16:00):
-- the stored NULL-dimension groups of hours 30-39 are read as they are, those of hour 40 re-aggregated.
INSERT INTO ksr (ts, a, b, v) SELECT timestamptz '2026-03-01' + (30 + g % 10) * interval '1 hour', g % 4, g % 2, -g
  FROM generate_series(1, 40) g;
INSERT INTO ksr (ts, a, b, v) VALUES ('2026-03-02 16:00', NULL, 1, 5), ('2026-03-02 16:00', 2, NULL, 6), ('2026-03-05', 9, 9, 9);
SELECT ksr_diff() AS small_tail, (SELECT lag_rows FROM strata.rollups WHERE name = 'ksr_h'::regclass) AS tail_rows;
SELECT h, a, b, n FROM ksr_h WHERE h = '2026-03-02 16:00' AND (a IS NULL OR b IS NULL) ORDER BY 2, 3;
SELECT (strata.refresh_rollup('ksr_h') ->> 'caught_up') AS caught_up, ksr_diff() AS absorbed;
-- More than 1,000 tail groups: every stored group of the touched buckets is re-aggregated.
INSERT INTO ksr (ts, a, b, v) SELECT timestamptz '2026-03-01' + (g % 30) * interval '1 hour', g % 700, NULLIF(g % 3, 2), g
  FROM generate_series(1, 3000) g;
SELECT ksr_diff() AS big_tail;
SELECT (strata.refresh_rollup('ksr_h') ->> 'caught_up') AS caught_up, ksr_diff() AS absorbed_big;
-- A text dimension keeps the anti-join (a keyset holds integers).
CREATE TABLE kst (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, tag varchar(100));
CREATE INDEX ON kst (id);
INSERT INTO kst (ts, tag) VALUES ('2026-03-01 01:00', 'x'), ('2026-03-01 02:00', NULL);
SELECT strata.create_rollup('kst_h', $q$SELECT date_trunc('hour', ts) AS h, tag, count(*) AS n FROM kst GROUP BY 1, 2$q$) > 0 AS created;
SELECT pg_get_viewdef('kst_h') LIKE '%keyset_lacks%' AS keyset, pg_get_viewdef('kst_h') LIKE '%EXISTS%' AS anti_join;
INSERT INTO kst (ts, tag) VALUES ('2026-03-01 02:00', 'x'), ('2026-03-01 02:00', NULL);
SELECT h, tag, n FROM kst_h ORDER BY 1, 2;
SELECT strata.drop_rollup('kst_h'), strata.drop_rollup('ksr_h');
DROP FUNCTION ksr_diff();
DROP VIEW ksr_direct;
DROP TABLE ksr, kst;
-- The keyset functions themselves: what they hold, and bad input.
SELECT strata.keyset_lacks(k, 1, 10) AS lacks_1_10, strata.keyset_lacks(k, 1, 11) AS lacks_1_11,
       strata.keyset_lacks(k, 2, NULL::int) AS lacks_2_null, strata.keyset_lacks(k, 3, NULL::int) AS lacks_3_null,
       strata.keyset_lacks(k, NULL::int, 10) AS lacks_null_10
  FROM (SELECT strata.keyset_agg(x, y) AS k FROM (VALUES (1, 10), (1, 10), (2, NULL), (NULL, 10)) v(x, y)) s;
SELECT strata.keyset_lacks((SELECT strata.keyset_agg(d) FROM (VALUES (date '2026-01-01')) v(d)), date '2026-01-01') AS date_held,
       strata.keyset_lacks((SELECT strata.keyset_agg(s) FROM (VALUES (-1::smallint)) v(s)), -1::smallint) AS smallint_held,
       strata.keyset_lacks(NULL, 5) AS null_keyset, strata.keyset_agg(x) IS NULL AS empty_agg FROM (SELECT 1 AS x WHERE false) e;
SELECT strata.keyset_lacks('\x0102'::bytea, 1);
-- A keyset of first columns matches on those (the view's keyset of buckets); more columns than the
-- call passes is an error.
SELECT strata.keyset_lacks((SELECT strata.keyset_agg(x) FROM generate_series(1, 3) x), 2, 99) AS lacks_prefix;
SELECT strata.keyset_lacks((SELECT strata.keyset_agg(x, x) FROM generate_series(1, 3) x), 1);
SELECT strata.keyset_lacks((SELECT strata.keyset_agg(x) FROM generate_series(1, 3) x), 'a'::text);
SELECT strata.keyset_agg(x) FROM (VALUES (1.5::numeric)) v(x);
SELECT strata.keyset_lacks(NULL, VARIADIC ARRAY[1, 2]);
