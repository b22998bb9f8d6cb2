-- Column batches (src/columnar/README.md): every type comes back bit for bit through
-- _columnar_encode/_columnar_decode, NULLs included; damaged bytes are refused, never read.
-- Compared in binary form (array_send): every bit of every value, NaN payloads included.
CREATE FUNCTION roundtrip(a anyarray) RETURNS boolean LANGUAGE sql AS $$
  SELECT array_send(a) = array_send(strata._columnar_decode(strata._columnar_encode(a), a[1]))
$$;
SELECT roundtrip(ARRAY[-32768, 32767, 0, NULL, -1]::int2[]) AS int2,
       roundtrip(ARRAY[-2147483648, 2147483647, NULL, 7]::int4[]) AS int4,
       roundtrip(ARRAY[-9223372036854775808, 9223372036854775807, -9223372036854775808, 0, NULL]::int8[]) AS int8,
       roundtrip(ARRAY[true, NULL, false, false]) AS bool,
       roundtrip(ARRAY['-infinity', '2026-12-06', NULL, 'infinity', '4713-01-01 BC']::date[]) AS date,
       roundtrip(ARRAY['-infinity', '2026-12-06 10:00:00.123456+00', 'infinity', NULL]::timestamptz[]) AS timestamptz,
       roundtrip(ARRAY['294276-12-31 23:59:59.999999', '4713-01-01 00:00:00 BC']::timestamp[]) AS timestamp,
       roundtrip(ARRAY['00:00', '24:00', '13:37:00.5']::time[]) AS time;
SELECT roundtrip(ARRAY['NaN', '-0', '0', 'Infinity', '-Infinity', '1.17549435e-38', '3.4028235e+38', NULL]::float4[]) AS float4,
       roundtrip(ARRAY['NaN', '-0', 'Infinity', '-Infinity', '2.2250738585072014e-308', '1.7976931348623157e+308', '4.9e-324', NULL]::float8[]) AS float8,
       strata._columnar_decode(strata._columnar_encode(ARRAY['-0']::float8[]), 0::float8)::text AS minus_zero_kept;
SELECT roundtrip(ARRAY['NaN', '-1e-1000', '123456789012345678901234567890.123', NULL, '0']::numeric[]) AS numeric,
       roundtrip(ARRAY['', 'ä', NULL, 'x' COLLATE "C", repeat('long ', 100000)]::text[]) AS text,
       roundtrip(ARRAY['a', 'b', 'a', 'a', 'b', 'a']::varchar(3)[]) AS varchar_dictionary,
       roundtrip(ARRAY['00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', NULL]::uuid[]) AS uuid,
       roundtrip(ARRAY['1 year 2 mons 3 days 04:05:06.789', '-178000000 years', NULL]::interval[]) AS interval,
       roundtrip(ARRAY['{"a": [1, 2.5, null]}', '[]', NULL]::jsonb[]) AS jsonb,
       roundtrip(ARRAY['\x'::bytea, '\x00ff00', NULL]) AS bytea,
       roundtrip(ARRAY['pg_class', NULL]::name[]) AS name,
       roundtrip(ARRAY['pg_class'::regclass, 'pg_proc']) AS regclass,
       roundtrip(ARRAY['(1,2)'::point, NULL]) AS point;
-- A domain maps as its base type; empty arrays and all-NULL batches come back as they were.
CREATE DOMAIN positive AS int CHECK (VALUE > 0);
SELECT roundtrip(ARRAY[1, 2, 3]::positive[]) AS domain,
       strata._columnar_decode(strata._columnar_encode('{}'::int[]), 0) AS empty,
       strata._columnar_decode(strata._columnar_encode(ARRAY[NULL, NULL]::text[]), ''::text) AS nulls;
-- What the codecs make of a realistic batch: 1,000 timestamps one second apart, a low-cardinality label,
-- a counter and a float.
SELECT octet_length(strata._columnar_encode(array_agg('2026-12-01'::timestamptz + i * interval '1 s'))) < 40 AS ts_small,
       octet_length(strata._columnar_encode(array_agg((ARRAY['sports', 'news', 'music'])[1 + i % 3]))) < 300 AS label_small,
       octet_length(strata._columnar_encode(array_agg(i::bigint))) < 40 AS counter_small,
       octet_length(strata._columnar_encode(array_agg((20 + (i / 100) * 0.5)::float8))) < 300 AS float_small
FROM generate_series(1, 1000) i;
-- Refusals: a batch read as another type (even of the same size or kind), damaged and truncated bytes, a
-- two-dimensional array. A NULL batch is NULL; a NULL value_type still names the type.
\set VERBOSITY default
SELECT strata._columnar_decode(strata._columnar_encode(ARRAY[1, 2]), ''::text);
SELECT strata._columnar_decode(strata._columnar_encode(ARRAY[100000::bigint]), 0::int2);
SELECT strata._columnar_decode(strata._columnar_encode(ARRAY[1.5::float8]), 0::float4);
SELECT strata._columnar_decode(strata._columnar_encode(ARRAY['a'::text]), '{}'::jsonb);
SELECT strata._columnar_decode('\xc701010000ff'::bytea, 0);
SELECT strata._columnar_decode(substr(strata._columnar_encode(ARRAY['a', 'b', 'c']), 1, 9), ''::text);
SELECT strata._columnar_decode('\x00'::bytea, 0);
SELECT strata._columnar_encode(ARRAY[[1, 2], [3, 4]]);
SELECT strata._columnar_decode(NULL::bytea, 0) IS NULL AS null_batch,
       strata._columnar_decode(strata._columnar_encode(ARRAY[1]), NULL::int) AS typed_by_null;
-- Not for PUBLIC: a role without a grant may not call them.
CREATE ROLE columnar_nobody;
SET ROLE columnar_nobody;
SELECT strata._columnar_encode(ARRAY[1]);
RESET ROLE;
DROP ROLE columnar_nobody;
-- Every single-byte change of a stored batch is refused with XX001 (the checksum, or the header checks).
DO $$
DECLARE
  b bytea := strata._columnar_encode(ARRAY(SELECT (i * 37 % 1000)::bigint FROM generate_series(1, 500) i));
  t bytea := strata._columnar_encode(ARRAY(SELECT 'label ' || (i % 50) FROM generate_series(1, 500) i));
  refused int := 0;
  x bytea;
BEGIN
  FOR i IN 0 .. octet_length(b) - 1 LOOP
    x := set_byte(b, i, (get_byte(b, i) + 1 + i % 255) % 256);
    BEGIN PERFORM strata._columnar_decode(x, 0::bigint); EXCEPTION WHEN data_corrupted THEN refused := refused + 1; END;
  END LOOP;
  FOR i IN 0 .. octet_length(t) - 1 LOOP
    x := set_byte(t, i, (get_byte(t, i) + 1 + i % 255) % 256);
    BEGIN PERFORM strata._columnar_decode(x, ''::text); EXCEPTION WHEN data_corrupted THEN refused := refused + 1; END;
  END LOOP;
  RAISE NOTICE 'every changed byte refused: %', refused = octet_length(b) + octet_length(t);
END $$;
DROP FUNCTION roundtrip(anyarray);
DROP DOMAIN positive;
-- Building batches from a table (the conversion's build step): every row comes back, each batch holds
-- one segment value and at most 1,000 rows, and its order range is its rows' range.
CREATE TABLE cb_events (id bigint, ts timestamptz, channel int, score float8, label text, payload jsonb, flag bool);
INSERT INTO cb_events
SELECT i, '2026-12-01'::timestamptz + (i % 997) * interval '37 s' + i * interval '1 ms', i % 7,
       CASE WHEN i % 11 = 0 THEN NULL ELSE round((i % 1000)::numeric / 100, 2) END, (ARRAY['a', 'b', 'c'])[1 + i % 3],
       CASE WHEN i % 5 = 0 THEN NULL ELSE jsonb_build_object('i', i) END, i % 2 = 0
FROM generate_series(1, 5000) i;
INSERT INTO cb_events VALUES (5001, NULL, NULL, 'NaN', NULL, NULL, NULL), (5002, '2026-12-02', 1, '-0', 'a', '[]', true);
SELECT strata._columnar_build('cb_events', 'cb_batches', ARRAY['label'], 'ts') AS rows_read;
SELECT count(*) AS batches, sum(_strata_rows) AS rows, max(_strata_rows) AS largest,
       count(DISTINCT label) AS labels, pg_total_relation_size('cb_batches') < pg_total_relation_size('cb_events') AS smaller
FROM cb_batches;
CREATE VIEW cb_back AS
SELECT b.label, u.* FROM cb_batches b, unnest(strata._columnar_decode(b.id, 0::bigint), strata._columnar_decode(b.ts, now()),
  strata._columnar_decode(b.channel, 0), strata._columnar_decode(b.score, 0::float8), strata._columnar_decode(b.payload, '{}'::jsonb),
  strata._columnar_decode(b.flag, true)) u(id, ts, channel, score, payload, flag);
SELECT (SELECT count(*) FROM (SELECT label, id, ts, channel, score, payload, flag FROM cb_events
                              EXCEPT ALL SELECT label, id, ts, channel, score, payload, flag FROM cb_back) d) AS missing,
       (SELECT count(*) FROM (SELECT label, id, ts, channel, score, payload, flag FROM cb_back
                              EXCEPT ALL SELECT label, id, ts, channel, score, payload, flag FROM cb_events) d) AS extra,
       (SELECT score::text FROM cb_back WHERE id = 5002) AS minus_zero;
SELECT bool_and(_strata_min IS NOT DISTINCT FROM (SELECT min(t) FROM unnest(strata._columnar_decode(ts, now())) t)
            AND _strata_max IS NOT DISTINCT FROM (SELECT max(t) FROM unnest(strata._columnar_decode(ts, now())) t)
            AND _strata_rows = cardinality(strata._columnar_decode(id, 0::bigint))) AS ranges_right,
       count(*) FILTER (WHERE _strata_min IS NULL) AS batches_without_time
FROM cb_batches;
-- Without a segment or an order: batches of 1,000 in the table's order, no range columns.
SELECT strata._columnar_build('cb_events', 'cb_plain') AS rows_read;
SELECT count(*) AS batches, sum(_strata_rows) AS rows,
       (SELECT count(*) FROM pg_attribute WHERE attrelid = 'cb_plain'::regclass AND attname LIKE '\_strata\_m%') AS range_columns
FROM cb_plain;
-- Batches across the 10,000-row chunks the build fetches: segment groups straddling 10,000 and 20,000,
-- a NULL segment longer than a batch, two segment columns, segment and payload values stored out of line
-- (over 2 kB), and names that need quoting.
CREATE SCHEMA "Cold ""Schema""";
CREATE TABLE "Cold ""Schema""".wide ("Seg A" text, seg_b int, "When" timestamptz, n bigint, blob text);
INSERT INTO "Cold ""Schema""".wide
SELECT CASE WHEN i <= 9500 THEN repeat('s', 3000) WHEN i <= 20500 THEN 'short' WHEN i <= 22000 THEN NULL ELSE repeat('t', 2500) END,
       CASE WHEN i BETWEEN 15000 AND 15010 THEN 2 ELSE 1 END, '2026-12-01'::timestamptz + i * interval '1 s', i,
       CASE WHEN i % 1000 = 0 THEN repeat(md5(i::text), 100) ELSE md5(i::text) END
FROM generate_series(1, 25000) i;
SELECT strata._columnar_build('"Cold ""Schema""".wide', 'Sib "1"', ARRAY['Seg A', 'seg_b'], 'When') AS rows_read;
CREATE VIEW wide_back AS
SELECT b."Seg A", b.seg_b, u.* FROM "Cold ""Schema"""."Sib ""1""" b,
  unnest(strata._columnar_decode(b."When", now()), strata._columnar_decode(b.n, 0::bigint), strata._columnar_decode(b.blob, ''::text)) u("When", n, blob);
SELECT (SELECT count(*) FROM (SELECT * FROM "Cold ""Schema""".wide EXCEPT ALL SELECT "Seg A", seg_b, "When", n, blob FROM wide_back) d) AS missing,
       (SELECT count(*) FROM (SELECT "Seg A", seg_b, "When", n, blob FROM wide_back EXCEPT ALL SELECT * FROM "Cold ""Schema""".wide) d) AS extra;
SELECT count(*) AS batches, max(_strata_rows) AS largest, sum(_strata_rows) AS rows,
       bool_and(_strata_min = (SELECT min(t) FROM unnest(strata._columnar_decode("When", now())) t)
            AND _strata_max = (SELECT max(t) FROM unnest(strata._columnar_decode("When", now())) t)) AS ranges_right,
       count(*) FILTER (WHERE "Seg A" IS NULL) AS null_segment_batches, count(*) FILTER (WHERE seg_b = 2) AS seg_b_batches
FROM "Cold ""Schema"""."Sib ""1""";
DROP VIEW wide_back;
DROP SCHEMA "Cold ""Schema""" CASCADE;
-- Refusals leave nothing behind.
SELECT strata._columnar_build('cb_events', 'cb_plain');
SELECT strata._columnar_build('cb_events', 'cb_x', ARRAY['nope']);
SELECT strata._columnar_build('cb_events', 'cb_x', '{}', 'nope');
SELECT strata._columnar_build('cb_back', 'cb_x');
SELECT strata._columnar_build('cb_events', 'cb_x', ARRAY['label', 'label']);
SELECT strata._columnar_build('cb_events', 'cb_x', ARRAY['label', NULL]);
SELECT strata._columnar_build('cb_events', 'cb_x', ARRAY['label'], 'label');
ALTER TABLE cb_events ADD COLUMN _strata_rows int;
SELECT strata._columnar_build('cb_events', 'cb_x');
ALTER TABLE cb_events DROP COLUMN _strata_rows;
ALTER TABLE cb_events ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
SELECT strata._columnar_build('cb_events', 'cb_x');
ALTER TABLE cb_events NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;
CREATE ROLE columnar_other;
GRANT EXECUTE ON FUNCTION strata._columnar_build(regclass, name, name[], name) TO columnar_other;
GRANT USAGE ON SCHEMA strata TO columnar_other;
SET ROLE columnar_other;
SELECT strata._columnar_build('cb_events', 'cb_x');
RESET ROLE;
SELECT to_regclass('cb_x') IS NULL AS nothing_left;
REVOKE ALL ON FUNCTION strata._columnar_build(regclass, name, name[], name) FROM columnar_other;
REVOKE USAGE ON SCHEMA strata FROM columnar_other;
DROP ROLE columnar_other;
DROP VIEW cb_back;
DROP TABLE cb_events, cb_batches, cb_plain;
