-- Compressed partitions, a differential corpus (src/columnar/README.md; scan.cpp, convert.cpp): every query of
-- the corpus runs on ev, a partition set whose partitions are compressed with different settings (one left a
-- heap, one compressed while empty, late rows in the heap part of compressed ones), and on ev_heap, a plain
-- partitioned copy of the same rows; both answers must be the same multiset of rows (the same sequence for
-- ordered queries), compared as text (bit for bit: -0, NaN, 1 mon / 30 days, numeric scale). One line per
-- query: its number and 'ok', or how many rows differ (or the error). The corpus runs serially and with
-- parallel plans forced (a subset); then the same writes (UPDATE, DELETE, INSERT, MERGE, rows moved to another
-- partition, WITH queries, WHERE CURRENT OF, SELECT ... FOR UPDATE) go to both tables, and the corpus runs again
-- after them, under row security, after compressing again, after decompressing and after a column is dropped.
SET client_min_messages = warning;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
SET extra_float_digits = 1;
CREATE SCHEMA cdiff;
SET search_path = cdiff, public;

-- A video-events stream, one column of each type; ts is the partition key (daily, history from 2026-11-28).
CREATE TABLE ev (
  id bigint NOT NULL, video_id int, ts timestamptz NOT NULL, day date, channel text, label text,
  tag varchar(20) COLLATE "C", score float8, ratio float4, amount numeric(12,3), kind int2, live boolean,
  meta jsonb, uid uuid, dur interval, tags int4[], note text, seen timestamp
) PARTITION BY RANGE (ts);
SELECT strata.create_partition_set('ev', 'ts', '1 day', premake => 1, start_partition => '2026-11-28',
                                   compress_segment_by => '{channel}', compress_order_by => 'ts') > 0 AS made;
CREATE INDEX ON ev (video_id);
CREATE INDEX ON ev (id);
-- 30,000 rows over six days (7,000 / 9,000 / 6,000 / 4,000 / 2,500 / 1,500), in no particular order.
INSERT INTO ev
SELECT g, 1 + (g::bigint * g % 1009) % 500, t, (t AT TIME ZONE 'UTC')::date,
       CASE WHEN g % 20 = 0 THEN NULL WHEN g % 20 = 1 THEN '' ELSE (ARRAY['web', 'web', 'ios', 'android', 'tv', 'tv', 'web', 'ios', 'Web', 'TV', 'télé', 'web', 'ios', 'android', 'web', 'tv', 'web', 'ios'])[g % 20 - 1] END,
       CASE WHEN g % 13 = 0 THEN NULL WHEN g % 17 = 0 THEN '' WHEN g % 997 = 0 THEN (SELECT string_agg(md5((g * k)::text), '') FROM generate_series(1, 100) k)
            ELSE 'clip ' || (g % 300) END,
       CASE WHEN g % 23 = 0 THEN NULL ELSE (ARRAY['a', 'B', 'c', 'D', 'é', 'Zz', 'zz', 'a1'])[1 + g % 8] END,
       CASE g % 101 WHEN 0 THEN 'NaN' WHEN 1 THEN 'Infinity' WHEN 2 THEN '-Infinity' WHEN 3 THEN '-0' WHEN 4 THEN NULL WHEN 5 THEN '0'
            ELSE ((g * 7) % 10007 - 3000)::float8 / 7 END,
       CASE WHEN g % 211 = 0 THEN 'NaN'::float4 WHEN g % 19 = 0 THEN NULL ELSE ((g % 1000) / 3.0)::float4 END,
       CASE WHEN g % 29 = 0 THEN NULL ELSE ((g * 13) % 100000 - 20000) / 1000.0 END,
       CASE WHEN g % 97 = 0 THEN NULL ELSE (g % 5)::int2 END,
       CASE WHEN g % 7 = 0 THEN NULL ELSE g % 3 = 0 END,
       CASE WHEN g % 31 = 0 THEN NULL WHEN g % 31 = 1 THEN '[1, "x", null]'::jsonb
            ELSE jsonb_build_object('q', g % 4, 'n', g % 10, 'src', CASE WHEN g % 2 = 0 THEN 'feed' ELSE 'search' END) END,
       CASE WHEN g % 37 = 0 THEN NULL ELSE md5((g % 5000)::text)::uuid END,
       CASE WHEN g % 41 = 0 THEN NULL WHEN g % 41 = 1 THEN interval '1 mon' WHEN g % 41 = 2 THEN interval '30 days'
            ELSE (g % 5) * interval '1 day' + (g % 3600) * interval '1 s' + (g % 7) * interval '1 ms' END,
       CASE WHEN g % 11 = 0 THEN NULL WHEN g % 11 = 1 THEN '{}' ELSE ARRAY[g % 7, g % 5, CASE WHEN g % 3 = 0 THEN NULL ELSE g % 9 END] END,
       CASE WHEN g % 20 IN (0, 6, 7, 17) THEN NULL ELSE 'n' || (g % 7) END,
       (t AT TIME ZONE 'UTC') - (g % 600) * interval '1 s'
FROM (SELECT g, timestamptz '2026-11-28' + d * interval '1 day' + ((g * 7919) % 86400) * interval '1 s' + ((g * 31) % 1000000) * interval '1 us' AS t
      FROM (SELECT g, CASE WHEN g <= 7000 THEN 0 WHEN g <= 16000 THEN 1 WHEN g <= 22000 THEN 2 WHEN g <= 26000 THEN 3
                           WHEN g <= 28500 THEN 4 ELSE 5 END AS d
            FROM generate_series(1, 30000) g ORDER BY (g * 7877) % 30011) o) r;
-- Rows on the partitions' boundaries, exact duplicates, and a batch-sized run of one video in one channel.
INSERT INTO ev (id, video_id, ts, day, channel, label, score, kind)
VALUES (70001, 7, '2026-11-28 23:59:59.999999', '2026-11-28', 'web', 'last of day 1', 1.5, 1),
       (70002, 7, '2026-11-29 00:00:00', '2026-11-29', 'web', 'first of day 2', 2.5, 1),
       (70003, 8, '2026-11-28 00:00:00', '2026-11-28', 'tv', 'first of day 1', '-0'::float8, 2),
       (70004, 8, '2026-11-30 00:00:00', '2026-11-30', NULL, NULL, 'NaN', NULL),
       (70005, 9, '2026-12-02 23:59:59.999999', '2026-12-02', 'ios', 'last of day 5', 'Infinity', 3);
INSERT INTO ev SELECT * FROM ev WHERE id IN (10, 20, 8010, 17003, 23111, 27888, 70002);
INSERT INTO ev (id, video_id, ts, day, channel, label, score, kind, note)
SELECT 80000 + g, 42, timestamptz '2026-11-29 06:00' + g * interval '1 s', '2026-11-29', 'web', 'run', g, 4, NULL
FROM generate_series(1, 2500) g;
-- The heap copy: the same partitions (ev_heap_pYYYYMMDD), the same indexes, the same rows.
CREATE TABLE ev_heap (LIKE ev) PARTITION BY RANGE (ts);
DO $$
DECLARE p record;
BEGIN
  FOR p IN SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'cdiff.ev'::regclass LOOP
    EXECUTE format('CREATE TABLE cdiff.%I PARTITION OF cdiff.ev_heap %s', replace(p.relname, 'ev_p', 'ev_heap_p'), p.bound);
  END LOOP;
END $$;
CREATE INDEX ON ev_heap (video_id);
CREATE INDEX ON ev_heap (id);
INSERT INTO ev_heap SELECT * FROM ev;
-- A small dimension table.
CREATE TABLE videos (video_id int PRIMARY KEY, title text, category text, length_s int);
INSERT INTO videos SELECT v, 'video ' || v, (ARRAY['news', 'sport', 'music', NULL])[1 + v % 4], 30 + v % 900
FROM generate_series(1, 400) v UNION ALL SELECT v, 'orphan ' || v, 'none', 1 FROM generate_series(600, 610) v;
ANALYZE ev, ev_heap, videos;
SELECT count(*) AS rows, count(DISTINCT tableoid) AS partitions_with_rows, count(*) FILTER (WHERE octet_length(label) > 2000) AS long_labels
FROM ev;

-- The corpus: query n with {T} for the table (ev, ev_heap) and {P} for a partition's name prefix (ev_p, ev_heap_p);
-- par: in the parallel round too; ordered: compared as sequences; gucs: 'name=value,...' set for that query only;
-- param_types and params: a prepared statement (PREPARE ... (param_types)), executed once per element of params
-- (with plan_cache_mode = force_generic_plan: the batch tests get parameters).
CREATE TABLE corpus (n int PRIMARY KEY, par boolean NOT NULL, q text NOT NULL, ordered boolean NOT NULL, gucs text, param_types text,
                     params text[]);
-- diff_rows(a, b, ordered): how the rows of the relations (or parenthesized queries) a and b differ: 'ok' or the counts.
CREATE FUNCTION diff_rows(a text, b text, ordered boolean) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
  rows_of text := CASE WHEN ordered THEN 'SELECT row_number() OVER () AS rn, x::text AS r FROM %s x' ELSE 'SELECT x::text AS r FROM %s x' END;
  na bigint; nb bigint; da bigint; db bigint;
BEGIN
  EXECUTE format('WITH a AS MATERIALIZED (' || rows_of || '), b AS MATERIALIZED (' || rows_of || ') '
                 'SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM b), (SELECT count(*) FROM (TABLE a EXCEPT ALL TABLE b) d), '
                 '(SELECT count(*) FROM (TABLE b EXCEPT ALL TABLE a) d)', a, b) INTO na, nb, da, db;
  IF na = nb AND da = 0 AND db = 0 THEN
    RETURN 'ok';
  END IF;
  RETURN format('DIFF: %s rows from ev, %s from ev_heap; %s only from ev, %s only from ev_heap', na, nb, da, db);
END $f$;
-- diff_one(c): query c on ev and on ev_heap under its settings.
CREATE FUNCTION diff_one(c corpus) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
  a text := replace(replace(c.q, '{T}', 'ev'), '{P}', 'ev_p');
  b text := replace(replace(c.q, '{T}', 'ev_heap'), '{P}', 'ev_heap_p');
  g text; kv text[]; names text[] := '{}'; olds text[] := '{}'; args text; r text; res text[] := '{}'; out text;
BEGIN
  FOREACH g IN ARRAY coalesce(string_to_array(c.gucs, ','), '{}') LOOP
    kv := string_to_array(g, '=');
    names := names || kv[1];
    olds := olds || coalesce(current_setting(kv[1], true), '');
    PERFORM set_config(kv[1], kv[2], true);
  END LOOP;
  BEGIN
    IF c.param_types IS NULL THEN
      out := diff_rows('(' || a || ')', '(' || b || ')', c.ordered);
    ELSE
      EXECUTE format('PREPARE cdiff_a(%s) AS %s', c.param_types, a);
      EXECUTE format('PREPARE cdiff_b(%s) AS %s', c.param_types, b);
      FOREACH args IN ARRAY c.params LOOP
        EXECUTE format('CREATE TEMP TABLE cdiff_ra AS EXECUTE cdiff_a(%s)', args);
        EXECUTE format('CREATE TEMP TABLE cdiff_rb AS EXECUTE cdiff_b(%s)', args);
        r := diff_rows('cdiff_ra', 'cdiff_rb', c.ordered);
        res := res || CASE WHEN r = 'ok' THEN r ELSE format('(%s) %s', args, r) END;
        DROP TABLE cdiff_ra, cdiff_rb;
      END LOOP;
      EXECUTE 'DEALLOCATE cdiff_a';
      EXECUTE 'DEALLOCATE cdiff_b';
      out := CASE WHEN 'ok' = ALL (res) THEN 'ok' ELSE array_to_string(res, '; ') END;
    END IF;
  EXCEPTION WHEN others THEN
    out := 'ERROR ' || SQLSTATE || ': ' || SQLERRM;
  END;
  FOR g IN SELECT name FROM pg_prepared_statements WHERE name IN ('cdiff_a', 'cdiff_b') LOOP
    EXECUTE 'DEALLOCATE ' || g;
  END LOOP;
  FOR i IN 1 .. coalesce(array_length(names, 1), 0) LOOP
    PERFORM set_config(names[i], olds[i], true);
  END LOOP;
  RETURN lpad(c.n::text, 3) || ' ' || out;
END $f$;
-- run_corpus(round, parallel, first, last): one line per query (in a parallel round those marked par).
CREATE FUNCTION run_corpus(round text, parallel boolean, first int DEFAULT 1, last int DEFAULT 1000) RETURNS SETOF text
LANGUAGE plpgsql AS $f$
DECLARE c corpus;
BEGIN
  RETURN NEXT round;
  FOREACH c IN ARRAY ARRAY(SELECT x FROM corpus x WHERE n BETWEEN first AND last AND (par OR NOT parallel) ORDER BY n) LOOP
    RETURN NEXT diff_one(c);
  END LOOP;
END $f$;
-- dml(stmt): the same write on ev and on ev_heap, as a statement of its own; with RETURNING the rows returned must
-- be the same, without, the number of rows written.
CREATE FUNCTION dml(stmt text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
  a text := replace(replace(stmt, '{T}', 'ev'), '{P}', 'ev_p');
  b text := replace(replace(stmt, '{T}', 'ev_heap'), '{P}', 'ev_heap_p');
  rec record; na bigint; nb bigint; out text;
BEGIN
  IF stmt ~ 'RETURNING' THEN
    CREATE TEMP TABLE cdiff_ra (r text);
    CREATE TEMP TABLE cdiff_rb (r text);
    FOR rec IN EXECUTE a LOOP
      INSERT INTO cdiff_ra VALUES (rec::text);
    END LOOP;
    FOR rec IN EXECUTE b LOOP
      INSERT INTO cdiff_rb VALUES (rec::text);
    END LOOP;
    out := (SELECT count(*) FROM cdiff_ra) || ' rows returned, ' || diff_rows('cdiff_ra', 'cdiff_rb', false);
    DROP TABLE cdiff_ra, cdiff_rb;
  ELSE
    EXECUTE a;
    GET DIAGNOSTICS na = ROW_COUNT;
    EXECUTE b;
    GET DIAGNOSTICS nb = ROW_COUNT;
    out := na || ' rows, ' || CASE WHEN na = nb THEN 'ok' ELSE format('DIFF: %s rows on ev_heap', nb) END;
  END IF;
  RETURN out;
EXCEPTION WHEN others THEN
  RETURN 'ERROR ' || SQLSTATE || ': ' || SQLERRM;
END $f$;
-- current_of(part): UPDATE ... WHERE CURRENT OF a cursor FOR UPDATE on the partition (to the same values).
CREATE FUNCTION current_of(part text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE c refcursor := 'cdiff_cursor'; r record; n bigint;
BEGIN
  OPEN c FOR EXECUTE format('SELECT id FROM %I WHERE channel = %L AND kind = 2 ORDER BY id FOR UPDATE', part, 'tv');
  FETCH c INTO r;
  EXECUTE format('UPDATE %I SET note = note WHERE CURRENT OF cdiff_cursor', part);
  GET DIAGNOSTICS n = ROW_COUNT;
  CLOSE c;
  RETURN format('%s: %s row updated', r.id, n);
EXCEPTION WHEN others THEN
  RETURN 'ERROR ' || SQLSTATE || ': ' || SQLERRM;
END $f$;
INSERT INTO corpus VALUES
(1, true, $q$SELECT * FROM {T}$q$, false, NULL, NULL, NULL),
(2, true, $q$SELECT row_to_json(t)::text FROM {T} t$q$, false, NULL, NULL, NULL),
(3, false, $q$SELECT t FROM {T} t WHERE t.video_id = 42$q$, false, NULL, NULL, NULL),
(4, true, $q$SELECT right(tableoid::regclass::text, 8) AS part, count(*), sum(id), min(ts), max(ts) FROM {T} GROUP BY 1$q$, false, NULL, NULL, NULL),
(5, true, $q$SELECT * FROM {P}20261128$q$, false, NULL, NULL, NULL),
(6, false, $q$SELECT row_to_json(p)::text FROM ONLY {P}20261130 p WHERE kind = 1$q$, false, NULL, NULL, NULL),
(7, false, $q$SELECT id, label, md5(label) FROM {P}20261202 WHERE octet_length(label) > 2000$q$, false, NULL, NULL, NULL),
(8, true, $q$SELECT count(*), count(id), count(video_id), count(day), count(channel), count(label), count(tag), count(score),
            count(ratio), count(amount), count(kind), count(live), count(meta), count(uid), count(dur), count(tags),
            count(note), count(seen) FROM {T}$q$, false, NULL, NULL, NULL),
(9, false, $q$SELECT count(*) FROM {T} WHERE tableoid = '{P}20261129'::regclass$q$, false, NULL, NULL, NULL),
(10, false, $q$SELECT id, ts, channel FROM {T} WHERE ts >= '2026-12-03' AND ts < '2026-12-03 01:00'$q$, false, NULL, NULL, NULL),
(11, false, $q$SELECT * FROM {P}20261204$q$, false, NULL, NULL, NULL),
(12, false, $q$SELECT count(*), min(ts), max(ts) FROM {T} WHERE ts >= '2026-12-03 12:00'$q$, false, NULL, NULL, NULL),
(13, true, $q$SELECT * FROM {T} WHERE ts < '2026-11-28 06:00'$q$, false, NULL, NULL, NULL),
(14, false, $q$SELECT id, ts FROM {T} WHERE ts <= '2026-11-29 00:00' AND ts >= '2026-11-28 23:59:59.999999'$q$, false, NULL, NULL, NULL),
(15, false, $q$SELECT id, ts, channel FROM {T} WHERE ts = '2026-11-29 00:00:00'$q$, false, NULL, NULL, NULL),
(16, false, $q$SELECT id FROM {T} WHERE ts = '2026-11-28 23:59:59.999999'$q$, false, NULL, NULL, NULL),
(17, false, $q$SELECT id, ts, score FROM {T} WHERE ts > '2026-12-02 23:00'$q$, false, NULL, NULL, NULL),
(18, false, $q$SELECT id, channel, kind FROM {T} WHERE ts >= '2026-11-30' AND ts < '2026-12-01' AND video_id < 50$q$, false, NULL, NULL, NULL),
(19, true, $q$SELECT id, ts, note FROM {T} WHERE ts BETWEEN '2026-11-29 05:59' AND '2026-11-29 06:30'$q$, false, NULL, NULL, NULL),
(20, false, $q$SELECT id, ts FROM {T} WHERE ts IN ('2026-11-29 00:00', '2026-11-28 00:00', '2026-11-30 00:00', '2026-12-02 23:59:59.999999', '2026-11-29 06:00:07')$q$, false, NULL, NULL, NULL),
(21, false, $q$SELECT count(*) FROM {T} WHERE ts IS NULL$q$, false, NULL, NULL, NULL),
(22, false, $q$SELECT id FROM {T} WHERE ts IS NOT NULL AND ts < '2026-11-28 00:10'$q$, false, NULL, NULL, NULL),
(23, false, $q$SELECT id, ts FROM {T} WHERE ts >= '2026-11-28 23:30'::timestamp AND ts < '2026-11-29 00:30'::timestamp$q$, false, NULL, NULL, NULL),
(24, false, $q$SELECT id FROM {T} WHERE ts < '2026-11-29'::date AND ts > '2026-11-28 23:00'$q$, false, NULL, NULL, NULL),
(25, false, $q$SELECT id, ts FROM {T} WHERE ts = '2026-11-29'::date$q$, false, NULL, NULL, NULL),
(26, false, $q$SELECT id FROM {T} WHERE '2026-11-29 12:00' < ts AND '2026-11-29 12:20' >= ts$q$, false, NULL, NULL, NULL),
(27, false, $q$SELECT id FROM {T} WHERE ts > now() - interval '100 years' AND ts < '2026-11-28 01:00'$q$, false, NULL, NULL, NULL),
(28, false, $q$SELECT id FROM {T} WHERE ts < timestamptz '2026-11-28 01:00' + interval '30 min' AND ts > timestamptz '2026-11-28 01:00'$q$, false, NULL, NULL, NULL),
(29, false, $q$SELECT count(*) FROM {T} WHERE ts > 'infinity' OR ts < '-infinity'$q$, false, NULL, NULL, NULL),
(30, false, $q$SELECT count(*) FROM {T} WHERE ts >= '-infinity' AND ts <= 'infinity'$q$, false, NULL, NULL, NULL),
(31, false, $q$SELECT id FROM {T} WHERE ts + interval '1 hour' < '2026-11-28 01:30'$q$, false, NULL, NULL, NULL),
(32, false, $q$SELECT count(*), sum(id) FROM {T} WHERE date_trunc('hour', ts) = '2026-11-29 06:00'$q$, false, NULL, NULL, NULL),
(33, false, $q$SELECT count(*) FROM {T} WHERE ts < NULL::timestamptz OR ts = NULL$q$, false, NULL, NULL, NULL),
(34, false, $q$SELECT count(*) FROM {T} WHERE ts >= '2026-11-28 11:00' AND ts < '2026-11-28 11:00'$q$, false, NULL, NULL, NULL),
(35, false, $q$SELECT id, ts FROM {T} WHERE ts NOT BETWEEN '2026-11-28 00:10' AND '2026-12-03 23:50'$q$, false, NULL, NULL, NULL),
(36, false, $q$SELECT id FROM {T} WHERE ts = ANY (ARRAY['2026-11-28 00:00', '2026-11-29 00:00']::timestamptz[])$q$, false, NULL, NULL, NULL),
(37, false, $q$SELECT id FROM {T} WHERE ts < to_timestamp(1764292000)$q$, false, NULL, NULL, NULL),
(38, false, $q$SELECT id FROM {T} WHERE ts > (timestamptz '2026-12-02 12:00' AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AND ts < '2026-12-02 12:05'$q$, false, NULL, NULL, NULL),
(39, true, $q$SELECT id, ts FROM {P}20261128 WHERE ts > '2026-11-28 12:00'$q$, false, NULL, NULL, NULL),
(40, true, $q$SELECT count(*), sum(id) FROM {T} WHERE ts >= '2026-11-28 20:00' AND ts < '2026-11-29 04:00'$q$, false, NULL, NULL, NULL),
(41, false, $q$SELECT id, channel, kind FROM {T} WHERE ts >= '2026-11-30 12:00' AND kind <> 2 AND ts < '2026-12-01'$q$, false, NULL, NULL, NULL),
(42, true, $q$SELECT * FROM {T} WHERE channel = 'web'$q$, false, NULL, NULL, NULL),
(43, false, $q$SELECT id, channel FROM {T} WHERE channel <> 'web'$q$, false, NULL, NULL, NULL),
(44, true, $q$SELECT id, channel FROM {T} WHERE channel IN ('tv', 'TV', 'télé')$q$, false, NULL, NULL, NULL),
(45, false, $q$SELECT id, ts FROM {T} WHERE channel IS NULL$q$, false, NULL, NULL, NULL),
(46, false, $q$SELECT id FROM {T} WHERE channel IS NOT NULL AND channel = ''$q$, false, NULL, NULL, NULL),
(47, false, $q$SELECT id, channel FROM {T} WHERE channel < 'm'$q$, false, NULL, NULL, NULL),
(48, false, $q$SELECT id, channel FROM {T} WHERE channel >= 'tv'$q$, false, NULL, NULL, NULL),
(49, true, $q$SELECT id, channel FROM {T} WHERE channel < 'm' COLLATE "und-x-icu"$q$, false, NULL, NULL, NULL),
(50, false, $q$SELECT id, channel FROM {T} WHERE channel > 'TV' COLLATE "C" AND channel < 'web' COLLATE "C"$q$, false, NULL, NULL, NULL),
(51, false, $q$SELECT id FROM {T} WHERE lower(channel) = 'web'$q$, false, NULL, NULL, NULL),
(52, false, $q$SELECT id, channel FROM {T} WHERE channel LIKE 't%'$q$, false, NULL, NULL, NULL),
(53, false, $q$SELECT id, channel FROM {T} WHERE channel ILIKE 'T%'$q$, false, NULL, NULL, NULL),
(54, false, $q$SELECT id, channel FROM {T} WHERE channel NOT IN ('web', 'ios')$q$, false, NULL, NULL, NULL),
(55, false, $q$SELECT id FROM {T} WHERE channel = ANY (ARRAY['web', 'tv'])$q$, false, NULL, NULL, NULL),
(56, false, $q$SELECT id FROM {T} WHERE 'ios' = channel$q$, false, NULL, NULL, NULL),
(57, false, $q$SELECT * FROM {T} WHERE channel = 'smarttv'$q$, false, NULL, NULL, NULL),
(58, false, $q$SELECT id, channel FROM {T} WHERE channel IS DISTINCT FROM 'web'$q$, false, NULL, NULL, NULL),
(59, true, $q$SELECT id, ts, note FROM {T} WHERE channel = 'web' AND ts < '2026-11-29 07:00' AND ts > '2026-11-29 05:00'$q$, false, NULL, NULL, NULL),
(60, false, $q$SELECT id FROM {T} WHERE channel ~ '^[a-z]+$'$q$, false, NULL, NULL, NULL),
(61, false, $q$SELECT id FROM {T} WHERE channel = 'télé' AND ts >= '2026-11-30'$q$, false, NULL, NULL, NULL),
(62, false, $q$SELECT id, channel FROM {T} WHERE channel = current_setting('cdiff.channel')$q$, false, 'cdiff.channel=TV', NULL, NULL),
(63, false, $q$SELECT id FROM {T} WHERE (channel, ts) > ('tv', '2026-11-30 12:00') AND ts < '2026-12-01'$q$, false, NULL, NULL, NULL),
(64, false, $q$SELECT id, kind FROM {T} WHERE kind = 2$q$, false, NULL, NULL, NULL),
(65, false, $q$SELECT id, kind FROM {T} WHERE kind = 2::bigint AND channel = 'android'$q$, false, NULL, NULL, NULL),
(66, false, $q$SELECT id, channel FROM {T} WHERE kind IS NULL$q$, false, NULL, NULL, NULL),
(67, false, $q$SELECT id, kind FROM {T} WHERE kind > 3 OR kind < 1$q$, false, NULL, NULL, NULL),
(68, false, $q$SELECT id FROM {T} WHERE kind = 1 AND channel = 'ios' AND ts < '2026-11-30 12:00'$q$, false, NULL, NULL, NULL),
(69, false, $q$SELECT id, kind FROM {T} WHERE kind <= 1::int2 AND ts >= '2026-11-30' AND ts < '2026-12-01'$q$, false, NULL, NULL, NULL),
(70, true, $q$SELECT * FROM {T} WHERE video_id = 42$q$, false, NULL, NULL, NULL),
(71, false, $q$SELECT id, video_id FROM {T} WHERE video_id BETWEEN 100 AND 110$q$, false, NULL, NULL, NULL),
(72, false, $q$SELECT id FROM {T} WHERE video_id = 7::bigint$q$, false, NULL, NULL, NULL),
(73, false, $q$SELECT id, video_id FROM {T} WHERE video_id IN (1, 2, 3, 500)$q$, false, NULL, NULL, NULL),
(74, false, $q$SELECT id, video_id FROM {T} WHERE video_id < 5 OR video_id > 495$q$, false, NULL, NULL, NULL),
(75, false, $q$SELECT id FROM {T} WHERE video_id = 13 AND label > 'clip 1'$q$, false, NULL, NULL, NULL),
(76, false, $q$SELECT id, label FROM {T} WHERE label = 'clip 7'$q$, false, NULL, NULL, NULL),
(77, false, $q$SELECT id, label FROM {T} WHERE label > 'clip 5' AND label < 'clip 6'$q$, false, NULL, NULL, NULL),
(78, false, $q$SELECT id FROM {T} WHERE label IS NULL$q$, false, NULL, NULL, NULL),
(79, false, $q$SELECT id FROM {T} WHERE label = ''$q$, false, NULL, NULL, NULL),
(80, false, $q$SELECT id, left(label, 10) FROM {T} WHERE label < 'a'$q$, false, NULL, NULL, NULL),
(81, false, $q$SELECT id, label FROM {T} WHERE label LIKE 'clip 1%'$q$, false, NULL, NULL, NULL),
(82, false, $q$SELECT id, left(label, 10) FROM {T} WHERE label < 'clip' COLLATE "und-x-icu"$q$, false, NULL, NULL, NULL),
(83, false, $q$SELECT id, label FROM {T} WHERE label >= 'clip 99' AND ts >= '2026-12-02'$q$, false, NULL, NULL, NULL),
(84, true, $q$SELECT id, label FROM {P}20261202 WHERE label > 'clip 5'$q$, false, NULL, NULL, NULL),
(85, false, $q$SELECT id, score FROM {T} WHERE score > 1000$q$, false, NULL, NULL, NULL),
(86, false, $q$SELECT id, score FROM {T} WHERE score = 0$q$, false, NULL, NULL, NULL),
(87, false, $q$SELECT id FROM {T} WHERE score::text = '-0'$q$, false, NULL, NULL, NULL),
(88, true, $q$SELECT id, score FROM {T} WHERE score = 'NaN'$q$, false, NULL, NULL, NULL),
(89, false, $q$SELECT id, score FROM {T} WHERE score > 'Infinity'$q$, false, NULL, NULL, NULL),
(90, false, $q$SELECT id, score FROM {T} WHERE score <= '-Infinity'$q$, false, NULL, NULL, NULL),
(91, false, $q$SELECT id FROM {T} WHERE score IS NULL$q$, false, NULL, NULL, NULL),
(92, false, $q$SELECT id, score FROM {T} WHERE score BETWEEN -1 AND 1$q$, false, NULL, NULL, NULL),
(93, true, $q$SELECT id, score FROM {T} WHERE score < 0 AND ts >= '2026-12-01' AND ts < '2026-12-02'$q$, false, NULL, NULL, NULL),
(94, false, $q$SELECT id FROM {T} WHERE score = 'Infinity'::float8$q$, false, NULL, NULL, NULL),
(95, false, $q$SELECT id, score FROM {T} WHERE score > 1400::int$q$, false, NULL, NULL, NULL),
(96, false, $q$SELECT id, score FROM {T} WHERE score >= 1428.5::float4$q$, false, NULL, NULL, NULL),
(97, false, $q$SELECT id, score FROM {T} WHERE score < -428.5::numeric$q$, false, NULL, NULL, NULL),
(98, false, $q$SELECT id, score FROM {P}20261201 WHERE score >= 100 AND score < 'Infinity' AND video_id < 400$q$, false, NULL, NULL, NULL),
(99, false, $q$SELECT id, tag FROM {T} WHERE tag = 'a'$q$, false, NULL, NULL, NULL),
(100, false, $q$SELECT id, tag FROM {T} WHERE tag < 'Z'$q$, false, NULL, NULL, NULL),
(101, false, $q$SELECT id, tag FROM {T} WHERE tag > 'a' COLLATE "und-x-icu" AND ts < '2026-11-29'$q$, false, NULL, NULL, NULL),
(102, false, $q$SELECT id, ratio FROM {T} WHERE ratio > 300 OR ratio = 'NaN'$q$, false, NULL, NULL, NULL),
(103, false, $q$SELECT id, amount FROM {T} WHERE amount > 50.5 OR amount = -19.987$q$, false, NULL, NULL, NULL),
(104, false, $q$SELECT id FROM {T} WHERE live$q$, false, NULL, NULL, NULL),
(105, false, $q$SELECT id FROM {T} WHERE live IS NULL AND kind = 3$q$, false, NULL, NULL, NULL),
(106, false, $q$SELECT id FROM {T} WHERE NOT live AND ts > '2026-12-01'$q$, false, NULL, NULL, NULL),
(107, false, $q$SELECT id, meta FROM {T} WHERE meta @> '{"q": 1}'$q$, false, NULL, NULL, NULL),
(108, false, $q$SELECT id FROM {T} WHERE meta ->> 'src' = 'feed' AND (meta -> 'n')::int = 3$q$, false, NULL, NULL, NULL),
(109, false, $q$SELECT id, meta FROM {T} WHERE jsonb_typeof(meta) = 'array'$q$, false, NULL, NULL, NULL),
(110, false, $q$SELECT id, uid FROM {T} WHERE uid = md5('42')::uuid$q$, false, NULL, NULL, NULL),
(111, false, $q$SELECT id FROM {T} WHERE uid < '10000000-0000-0000-0000-000000000000'$q$, false, NULL, NULL, NULL),
(112, true, $q$SELECT id, dur FROM {T} WHERE dur = interval '30 days'$q$, false, NULL, NULL, NULL),
(113, false, $q$SELECT id, dur FROM {T} WHERE dur > interval '4 days 00:59' AND dur < interval '20 days'$q$, false, NULL, NULL, NULL),
(114, false, $q$SELECT id, tags FROM {T} WHERE tags @> ARRAY[3]$q$, false, NULL, NULL, NULL),
(115, false, $q$SELECT id FROM {T} WHERE 0 = ANY (tags) AND tags[3] IS NULL$q$, false, NULL, NULL, NULL),
(116, false, $q$SELECT id FROM {T} WHERE tags = '{}'$q$, false, NULL, NULL, NULL),
(117, false, $q$SELECT id, note FROM {T} WHERE note IS NULL AND channel = 'web'$q$, false, NULL, NULL, NULL),
(118, false, $q$SELECT id FROM {T} WHERE note = 'n3'$q$, false, NULL, NULL, NULL),
(119, false, $q$SELECT id FROM {T} WHERE day = '2026-11-30'$q$, false, NULL, NULL, NULL),
(120, false, $q$SELECT id, seen FROM {T} WHERE seen < '2026-11-28 00:05'$q$, false, NULL, NULL, NULL),
(121, false, $q$SELECT id FROM {T} WHERE id % 1000 = 7$q$, false, NULL, NULL, NULL),
(122, false, $q$SELECT id FROM {T} WHERE id = 70002$q$, false, NULL, NULL, NULL),
(123, false, $q$SELECT id, ts FROM {T} WHERE video_id = 42 AND ts < '2026-11-29 06:10'$q$, false, 'enable_seqscan=off,enable_bitmapscan=off', NULL, NULL),
(124, false, $q$SELECT id, video_id FROM {T} WHERE id BETWEEN 1000 AND 1100$q$, false, 'enable_seqscan=off', NULL, NULL),
(125, true, $q$SELECT count(*) FILTER (WHERE id > 40000), count(*) FILTER (WHERE video_id <= 250), count(*) FILTER (WHERE day < '2026-12-01'),
            count(*) FILTER (WHERE channel >= 'ios'), count(*) FILTER (WHERE label > 'clip 2'), count(*) FILTER (WHERE tag <= 'c'),
            count(*) FILTER (WHERE score < 10), count(*) FILTER (WHERE ratio >= 100), count(*) FILTER (WHERE amount < 0),
            count(*) FILTER (WHERE kind <> 2), count(*) FILTER (WHERE live IS TRUE), count(*) FILTER (WHERE meta ? 'q'),
            count(*) FILTER (WHERE uid > 'a0000000-0000-0000-0000-000000000000'), count(*) FILTER (WHERE dur >= '1 day'),
            count(*) FILTER (WHERE tags < '{3}'), count(*) FILTER (WHERE note <> 'n1'), count(*) FILTER (WHERE seen > ts::timestamp)
     FROM {T}$q$, false, NULL, NULL, NULL),
(126, false, $q$SELECT id FROM {T} WHERE channel = 'web' OR ts < '2026-11-28 01:00'$q$, false, NULL, NULL, NULL),
(127, false, $q$SELECT id FROM {T} WHERE (channel = 'tv' AND score > 0) OR (kind = 3 AND ts > '2026-11-30 20:00')
        OR (label IS NULL AND video_id = 13)$q$, false, NULL, NULL, NULL),
(128, false, $q$SELECT id FROM {T} WHERE NOT (channel = 'web' OR channel IS NULL)$q$, false, NULL, NULL, NULL),
(129, false, $q$SELECT id, ts FROM {T} WHERE ts < '2026-11-28 02:00' OR ts > '2026-12-02 22:00'$q$, false, NULL, NULL, NULL),
(130, true, $q$SELECT count(*), count(channel), sum(id), sum(video_id), avg(video_id), min(ts), max(ts), min(label), max(label),
            min(score), max(score), sum(amount), avg(amount), min(uid::text), max(uid::text), min(dur), justify_interval(max(dur)),
            sum(dur), bool_and(live), bool_or(live), bit_or(kind), min(tag), max(tag), min(day), max(seen), min(tags), max(tags)
     FROM {T}$q$, false, NULL, NULL, NULL),
(131, true, $q$SELECT channel, count(*), sum(amount), min(ts), max(ts), count(DISTINCT video_id) FROM {T} GROUP BY channel$q$, false, NULL, NULL, NULL),
(132, false, $q$SELECT date_trunc('hour', ts), count(*), sum(id) FROM {T} GROUP BY 1$q$, false, NULL, NULL, NULL),
(133, true, $q$SELECT channel, kind, count(*), sum(video_id) FROM {T} GROUP BY ROLLUP (channel, kind)$q$, false, NULL, NULL, NULL),
(134, false, $q$SELECT live, kind, count(*) FROM {T} GROUP BY CUBE (live, kind)$q$, false, NULL, NULL, NULL),
(135, false, $q$SELECT day, channel, count(*), max(amount) FROM {T} GROUP BY GROUPING SETS ((day), (channel), ())$q$, false, NULL, NULL, NULL),
(136, false, $q$SELECT video_id, count(*) FROM {T} GROUP BY video_id HAVING count(*) > 150$q$, false, NULL, NULL, NULL),
(137, true, $q$SELECT channel, round(stddev(score::numeric) FILTER (WHERE score BETWEEN -1e6 AND 1e6), 8), variance(amount), stddev_pop(video_id),
            sum(score::numeric), sum(ratio::numeric) FROM {T} GROUP BY channel$q$, false, NULL, NULL, NULL),
(138, false, $q$SELECT video_id, string_agg(coalesce(label, '-'), ',' ORDER BY id) FROM {T} WHERE video_id < 5 GROUP BY video_id$q$, false, NULL, NULL, NULL),
(139, false, $q$SELECT array_agg(ts ORDER BY ts, id), array_agg(id ORDER BY ts, id) FROM {T} WHERE channel = 'TV' AND ts < '2026-11-30'$q$, false, NULL, NULL, NULL),
(140, false, $q$SELECT count(DISTINCT video_id), count(DISTINCT channel), count(DISTINCT (channel, kind)), count(DISTINCT score::text) FROM {T}$q$, false, NULL, NULL, NULL),
(141, false, $q$SELECT jsonb_agg(meta ORDER BY id) FILTER (WHERE video_id = 3), json_agg(tags ORDER BY id) FILTER (WHERE video_id = 5) FROM {T}$q$, false, NULL, NULL, NULL),
(142, false, $q$SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY amount), percentile_disc(0.9) WITHIN GROUP (ORDER BY ts),
            mode() WITHIN GROUP (ORDER BY channel) FROM {T}$q$, false, NULL, NULL, NULL),
(143, false, $q$SELECT max(length(label)), sum(octet_length(label)), sum(length(note)) FROM {T}$q$, false, NULL, NULL, NULL),
(144, false, $q$SELECT sum(tags[1]), array_agg(DISTINCT tags[2]) FROM {T}$q$, false, NULL, NULL, NULL),
(145, false, $q$SELECT count(*) FILTER (WHERE score = 'NaN'), count(*) FILTER (WHERE score = 0), count(*) FILTER (WHERE score::text = '-0'),
            count(*) FILTER (WHERE score = 'Infinity'), count(*) FILTER (WHERE score = '-Infinity') FROM {T}$q$, false, NULL, NULL, NULL),
(146, true, $q$SELECT channel, min(score), max(score), min(ratio), max(ratio) FROM {T} GROUP BY channel$q$, false, NULL, NULL, NULL),
(147, false, $q$SELECT channel, count(*), sum(id) FROM {P}20261130 GROUP BY channel$q$, false, NULL, NULL, NULL),
(148, false, $q$SELECT kind, count(*), min(ts), max(ts) FROM {P}20261130 WHERE channel = 'ios' GROUP BY kind$q$, false, NULL, NULL, NULL),
(149, false, $q$SELECT meta -> 'q', count(*) FROM {T} GROUP BY 1$q$, false, NULL, NULL, NULL),
(150, false, $q$SELECT dur::text, count(*) FROM {T} WHERE dur IN ('1 mon', '30 days') GROUP BY 1$q$, false, NULL, NULL, NULL),
(151, false, $q$SELECT live, count(*), sum(amount) FILTER (WHERE live) FROM {P}20261202 GROUP BY live$q$, false, NULL, NULL, NULL),
(152, false, $q$SELECT id, row_number() OVER (PARTITION BY channel ORDER BY ts, id) FROM {T} WHERE video_id < 20$q$, false, NULL, NULL, NULL),
(153, false, $q$SELECT id, lag(score) OVER w, lead(label) OVER w, sum(amount) OVER (w ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)
     FROM {T} WHERE video_id IN (3, 42, 77) WINDOW w AS (PARTITION BY video_id ORDER BY ts, id)$q$, false, NULL, NULL, NULL),
(154, false, $q$SELECT id, rank() OVER (ORDER BY amount DESC NULLS LAST), dense_rank() OVER (ORDER BY channel),
            first_value(label) OVER (ORDER BY amount DESC NULLS LAST, id) FROM {T} WHERE ts < '2026-11-28 03:00'$q$, false, NULL, NULL, NULL),
(155, false, $q$SELECT id, count(*) OVER (PARTITION BY date_trunc('hour', ts)) FROM {T} WHERE channel = 'android'$q$, false, NULL, NULL, NULL),
(156, false, $q$SELECT id, ntile(4) OVER (ORDER BY ts, id) FROM {P}20261201$q$, false, NULL, NULL, NULL),
(157, false, $q$SELECT id, sum(amount) OVER (PARTITION BY channel ORDER BY ts RANGE BETWEEN interval '10 min' PRECEDING AND CURRENT ROW)
     FROM {T} WHERE ts < '2026-11-28 03:00'$q$, false, NULL, NULL, NULL),
(158, true, $q$SELECT v.category, count(*), sum(e.amount) FROM {T} e JOIN videos v USING (video_id) GROUP BY 1$q$, false, NULL, NULL, NULL),
(159, false, $q$SELECT e.id, v.title FROM {T} e LEFT JOIN videos v USING (video_id) WHERE e.ts < '2026-11-28 02:00'$q$, false, NULL, NULL, NULL),
(160, false, $q$SELECT v.video_id, v.title FROM videos v LEFT JOIN {T} e ON e.video_id = v.video_id WHERE e.id IS NULL$q$, false, NULL, NULL, NULL),
(161, true, $q$SELECT a.id, b.id FROM {T} a JOIN {T} b ON a.video_id = b.video_id AND a.id < b.id WHERE a.video_id IN (3, 17) AND b.channel = 'web'$q$, false, NULL, NULL, NULL),
(162, true, $q$SELECT a.video_id, count(*) FROM {P}20261128 a JOIN {P}20261129 b ON a.video_id = b.video_id AND a.channel = b.channel
     WHERE a.kind = 1 AND b.kind = 2 GROUP BY 1$q$, false, NULL, NULL, NULL),
(163, false, $q$SELECT a.id, b.id FROM {P}20261203 a JOIN {P}20261130 b ON a.uid = b.uid AND a.channel = b.channel WHERE a.video_id < 100$q$, false, NULL, NULL, NULL),
(164, false, $q$SELECT v.video_id, x.id, x.ts FROM videos v CROSS JOIN LATERAL
       (SELECT id, ts FROM {T} e WHERE e.video_id = v.video_id ORDER BY ts DESC, id DESC LIMIT 2) x WHERE v.video_id < 30$q$, false, NULL, NULL, NULL),
(165, false, $q$SELECT v.c, v.t0, e.id FROM (VALUES ('web', timestamptz '2026-11-28 01:00'), ('tv', '2026-11-28 13:00'), (NULL, '2026-11-28 05:00'),
            ('TV', '2026-11-29 00:00'), ('ios', '2026-11-28 23:55')) v(c, t0)
     JOIN {P}20261128 e ON e.channel = v.c AND e.ts >= v.t0 AND e.ts < v.t0 + interval '10 min'$q$, false, 'enable_hashjoin=off,enable_mergejoin=off', NULL, NULL),
(166, true, $q$SELECT v.c, v.t0, s.* FROM (VALUES ('web', timestamptz '2026-11-29 06:00'), ('tv', '2026-11-29 13:00'), ('ios', '2026-11-28 23:30'),
            ('android', '2026-11-30 10:00')) v(c, t0)
     CROSS JOIN LATERAL (SELECT count(*), sum(id), min(ts), max(ts) FROM {P}20261129 e
                         WHERE e.channel = v.c AND e.ts >= v.t0 AND e.ts < v.t0 + interval '1 hour') s$q$, false, NULL, NULL, NULL),
(167, true, $q$SELECT v.c, v.t0, s.* FROM (VALUES ('web', timestamptz '2026-11-29 06:00'), ('tv', '2026-11-28 13:00'), ('ios', '2026-11-28 23:30'),
            ('android', '2026-11-30 10:00'), ('web', '2026-12-02 10:00')) v(c, t0)
     CROSS JOIN LATERAL (SELECT count(*), sum(id), min(ts), max(ts) FROM {T} e
                         WHERE e.channel = v.c AND e.ts >= v.t0 AND e.ts < v.t0 + interval '1 hour') s$q$, false, NULL, NULL, NULL),
(168, false, $q$SELECT v.k, v.vid, s.* FROM (VALUES (1::int2, 42), (2::int2, 7), (NULL, 9), (4::int2, 42)) v(k, vid)
     CROSS JOIN LATERAL (SELECT count(*), sum(id) FROM {T} e WHERE e.kind = v.k AND e.video_id = v.vid) s$q$, false, 'enable_hashjoin=off,enable_mergejoin=off', NULL, NULL),
(169, false, $q$SELECT id FROM {T} WHERE video_id IN (SELECT video_id FROM videos WHERE category = 'news') AND channel = 'TV'$q$, false, NULL, NULL, NULL),
(170, true, $q$SELECT id, video_id FROM {T} e WHERE NOT EXISTS (SELECT 1 FROM videos v WHERE v.video_id = e.video_id)$q$, false, NULL, NULL, NULL),
(171, false, $q$SELECT id FROM {P}20261130 a WHERE EXISTS (SELECT 1 FROM {P}20261128 b WHERE b.uid = a.uid AND b.channel = a.channel)
     AND a.video_id < 50$q$, false, NULL, NULL, NULL),
(172, false, $q$SELECT id FROM {P}20261201 a WHERE NOT EXISTS (SELECT 1 FROM {P}20261202 b WHERE b.video_id = a.video_id AND b.kind = a.kind)$q$, false, NULL, NULL, NULL),
(173, true, $q$SELECT a.id, (SELECT count(*) FROM {P}20261128 b WHERE b.channel = a.channel AND b.ts < a.ts AND b.ts > a.ts - interval '5 min')
     FROM {P}20261128 a WHERE a.video_id = 42$q$, false, NULL, NULL, NULL),
(174, false, $q$SELECT a.id, (SELECT max(b.id) FROM {T} b WHERE b.video_id = a.video_id AND b.ts < a.ts) FROM {T} a
     WHERE a.channel = 'télé' AND a.ts < '2026-11-28 06:00'$q$, false, NULL, NULL, NULL),
(175, false, $q$SELECT v.video_id, count(e.id) FROM videos v LEFT JOIN {P}20261130 e ON e.video_id = v.video_id AND e.kind = 1
     WHERE v.video_id < 12 GROUP BY 1$q$, false, 'enable_hashjoin=off,enable_mergejoin=off,enable_material=off', NULL, NULL),
(176, false, $q$SELECT a.id, b.id FROM {P}20261128 a JOIN {P}20261129 b ON a.uid = b.uid WHERE a.video_id = 100 AND b.kind = 2$q$, false, 'enable_hashjoin=off,enable_nestloop=off', NULL, NULL),
(177, false, $q$SELECT channel, count(*), sum(video_id) FROM {T} GROUP BY channel$q$, false, 'enable_partitionwise_aggregate=on', NULL, NULL),
(178, false, $q$SELECT a.id, a.ts FROM {T} a JOIN {T} b ON a.ts = b.ts AND a.id = b.id WHERE a.video_id < 10 AND b.channel <> 'web'$q$, false, 'enable_partitionwise_join=on', NULL, NULL),
(179, false, $q$SELECT count(*) FROM (SELECT 1 FROM {T} WHERE channel = 'tv' LIMIT 100) s$q$, false, NULL, NULL, NULL),
(180, false, $q$SELECT EXISTS (SELECT 1 FROM {P}20261201 WHERE score = 'NaN'), EXISTS (SELECT 1 FROM {P}20261201 WHERE score > 'NaN')$q$, false, NULL, NULL, NULL),
(181, false, $q$SELECT id FROM {T} WHERE uid IN (SELECT uid FROM {P}20261203 WHERE kind = 1) AND ts < '2026-11-29'$q$, false, NULL, NULL, NULL),
(182, false, $q$WITH w AS (SELECT video_id, count(*) AS n FROM {T} WHERE channel = 'web' GROUP BY 1)
     SELECT e.id, w.n FROM {T} e JOIN w USING (video_id) WHERE e.channel = 'android' AND w.n > 110$q$, false, NULL, NULL, NULL),
(183, false, $q$WITH RECURSIVE d(day) AS (SELECT date '2026-11-28' UNION ALL SELECT day + 1 FROM d WHERE day < '2026-12-05')
     SELECT d.day, count(e.id), count(DISTINCT e.channel) FROM d LEFT JOIN {T} e ON e.day = d.day GROUP BY d.day$q$, false, NULL, NULL, NULL),
(184, false, $q$WITH m AS MATERIALIZED (SELECT id, video_id, ts FROM {T} WHERE kind = 4)
     SELECT a.id, b.id FROM m a JOIN m b ON a.video_id = b.video_id AND a.ts < b.ts AND b.ts < a.ts + interval '1 min'$q$, false, NULL, NULL, NULL),
(185, false, $q$SELECT id FROM {P}20261128 WHERE channel = 'tv' UNION SELECT id FROM {P}20261201 WHERE score > 1000$q$, false, NULL, NULL, NULL),
(186, false, $q$SELECT channel FROM {P}20261128 UNION ALL SELECT channel FROM {P}20261202 WHERE video_id = 1$q$, false, NULL, NULL, NULL),
(187, false, $q$SELECT video_id FROM {P}20261129 INTERSECT SELECT video_id FROM {P}20261202$q$, false, NULL, NULL, NULL),
(188, false, $q$SELECT uid FROM {P}20261130 EXCEPT SELECT uid FROM {P}20261128$q$, false, NULL, NULL, NULL),
(189, false, $q$SELECT video_id, kind FROM {P}20261130 INTERSECT ALL SELECT video_id, kind FROM {P}20261129$q$, false, NULL, NULL, NULL),
(190, true, $q$SELECT id, ts, channel FROM {T} ORDER BY ts, id LIMIT 20$q$, true, NULL, NULL, NULL),
(191, false, $q$SELECT id, ts FROM {T} ORDER BY ts DESC, id DESC LIMIT 15 OFFSET 1000$q$, true, NULL, NULL, NULL),
(192, false, $q$SELECT id, score FROM {T} ORDER BY score NULLS FIRST, id LIMIT 50$q$, true, NULL, NULL, NULL),
(193, false, $q$SELECT id, score FROM {T} WHERE ts >= '2026-12-01' ORDER BY score DESC, id LIMIT 40$q$, true, NULL, NULL, NULL),
(194, false, $q$SELECT id, left(label, 12) FROM {T} ORDER BY label COLLATE "und-x-icu", id LIMIT 30$q$, true, NULL, NULL, NULL),
(195, false, $q$SELECT id, tag FROM {T} WHERE tag IS NOT NULL ORDER BY tag, id DESC LIMIT 25$q$, true, NULL, NULL, NULL),
(196, true, $q$SELECT DISTINCT ON (channel) channel, ts, id FROM {T} ORDER BY channel, ts DESC, id DESC$q$, true, NULL, NULL, NULL),
(197, false, $q$SELECT DISTINCT ON (video_id) video_id, id, amount FROM {T} WHERE video_id < 40 ORDER BY video_id, amount NULLS LAST, id$q$, true, NULL, NULL, NULL),
(198, false, $q$SELECT DISTINCT channel, kind FROM {T}$q$, false, NULL, NULL, NULL),
(199, false, $q$SELECT id, amount FROM {T} ORDER BY amount DESC NULLS LAST, id FETCH FIRST 10 ROWS ONLY$q$, true, NULL, NULL, NULL),
(200, false, $q$SELECT id, uid FROM {P}20261130 ORDER BY uid NULLS LAST, id LIMIT 10$q$, true, NULL, NULL, NULL),
(201, false, $q$SELECT video_id, count(*) FROM {T} GROUP BY video_id HAVING count(DISTINCT channel) > 9 ORDER BY 2 DESC, 1$q$, true, NULL, NULL, NULL),
(202, false, $q$SELECT id, ts FROM {P}20261129 WHERE channel = 'web' ORDER BY ts, id OFFSET 2490 LIMIT 20$q$, true, NULL, NULL, NULL),
(203, true, $q$SELECT id, id + 1, ts + dur, score * 2, amount / 3, ratio + 1, kind * 2, NOT live, meta -> 'n', tags || 9, uid::text,
            day - 1, label || '.', upper(tag), note IS NULL, coalesce(channel, '<null>'), nullif(channel, '')
     FROM {T} WHERE video_id = 3$q$, false, NULL, NULL, NULL),
(204, false, $q$SELECT coalesce(channel, '<null>'), count(*) FROM {T} GROUP BY 1$q$, false, NULL, NULL, NULL),
(205, false, $q$SELECT id FROM {T} WHERE channel IS NOT DISTINCT FROM NULL AND kind IS NULL$q$, false, NULL, NULL, NULL),
(206, false, $q$SELECT nullif(channel, '') IS NULL, count(*) FROM {T} GROUP BY 1$q$, false, NULL, NULL, NULL),
(207, false, $q$SELECT right(tableoid::regclass::text, 8), count(*), min(id), max(id) FROM {T} WHERE ts < '2026-11-29 00:00:01' GROUP BY 1$q$, false, NULL, NULL, NULL),
(208, false, $q$SELECT right(tableoid::regclass::text, 8), id FROM {T} WHERE video_id = 17 AND channel = 'ios'$q$, false, NULL, NULL, NULL),
(209, false, $q$SELECT CASE WHEN score > 0 THEN 'pos' WHEN score < 0 THEN 'neg' WHEN score = 0 THEN 'zero' ELSE 'other' END, count(*) FROM {T} GROUP BY 1$q$, false, NULL, NULL, NULL),
(210, false, $q$SELECT id FROM {T} WHERE label IS NULL AND note IS NULL AND meta IS NULL$q$, false, NULL, NULL, NULL),
(211, true, $q$SELECT id, channel, ts FROM {T} WHERE ts >= $1 AND ts < $2$q$, false, 'plan_cache_mode=force_generic_plan', 'timestamptz, timestamptz', ARRAY[$q$'2026-11-28 01:00', '2026-11-28 02:00'$q$, $q$'2026-11-29 05:59:59', '2026-11-29 06:00:01'$q$, $q$'2026-12-01', '2026-12-01'$q$]),
(212, true, $q$SELECT id, ts FROM {T} WHERE channel = $1 AND ts < '2026-11-29 12:00'$q$, false, 'plan_cache_mode=force_generic_plan', 'text', ARRAY[$q$'tv'$q$, $q$'smarttv'$q$, $q$NULL$q$]),
(213, false, $q$SELECT id FROM {T} WHERE video_id = $1 AND label > $2$q$, false, 'plan_cache_mode=force_generic_plan', 'int, text', ARRAY[$q$13, 'clip 1'$q$, $q$42, ''$q$, $q$7, NULL$q$]),
(214, true, $q$SELECT id, score FROM {T} WHERE score > $1 OR score = $2$q$, false, 'plan_cache_mode=force_generic_plan', 'float8, float8', ARRAY[$q$'Infinity', '-0'$q$, $q$1400, 'NaN'$q$, $q$'NaN', 0$q$]),
(215, false, $q$SELECT id FROM {T} WHERE kind = $1 AND channel = $2$q$, false, 'plan_cache_mode=force_generic_plan', 'int2, text', ARRAY[$q$2, 'ios'$q$, $q$NULL, 'web'$q$, $q$0, ''$q$]),
(216, true, $q$SELECT id, ts FROM {P}20261129 WHERE ts > $1 ORDER BY ts, id LIMIT 5$q$, true, 'plan_cache_mode=force_generic_plan', 'timestamptz', ARRAY[$q$'2026-11-29 06:00'$q$, $q$'2026-11-29 23:59'$q$, $q$'2026-11-28'$q$]),
(217, false, $q$SELECT id FROM {T} WHERE channel = ANY ($1) AND ts <= $2$q$, false, 'plan_cache_mode=force_generic_plan', 'text[], timestamptz', ARRAY[$q$'{tv,TV}', '2026-11-28 06:00'$q$, $q$'{}', 'infinity'$q$]),
(218, false, $q$SELECT count(*), sum(id) FROM {T} WHERE ts < $1$q$, false, 'plan_cache_mode=force_generic_plan', 'date', ARRAY[$q$'2026-11-29'$q$, $q$'2026-12-02'$q$]),
(219, false, $q$SELECT id, label FROM {T} WHERE video_id = $1$q$, false, 'plan_cache_mode=force_generic_plan', 'int', ARRAY[$q$42$q$, $q$7$q$, $q$1000$q$]),
(220, false, $q$SELECT id FROM {T} WHERE label >= $1 AND label < $2 AND ts >= $3$q$, false, 'plan_cache_mode=force_generic_plan', 'text, text, timestamptz', ARRAY[$q$'clip 10', 'clip 11', '2026-12-02'$q$, $q$'', 'a', '2026-11-28'$q$]),
(221, true, $q$SELECT v.c, s.* FROM (VALUES ('web'), ('tv'), ('ios')) v(c)
     CROSS JOIN LATERAL (SELECT count(*), sum(id) FROM {T} e WHERE e.channel = v.c AND e.ts >= $1 AND e.ts < $1 + interval '2 hours') s$q$, false, 'plan_cache_mode=force_generic_plan', 'timestamptz', ARRAY[$q$'2026-11-28 05:00'$q$, $q$'2026-11-30 22:30'$q$]),
(222, true, $q$SELECT id, ts FROM {T} WHERE ts < (SELECT timestamptz '2026-11-28 00:30')$q$, false, NULL, NULL, NULL),
(223, false, $q$SELECT id FROM {T} WHERE ts > (SELECT timestamptz '2026-12-02 23:30')$q$, false, NULL, NULL, NULL),
(224, true, $q$SELECT count(*), sum(id) FROM {T} WHERE ts BETWEEN (SELECT timestamptz '2026-11-29 06:00') AND (SELECT timestamptz '2026-11-29 06:10')$q$, false, NULL, NULL, NULL),
(225, true, $q$SELECT id, kind FROM {T} WHERE kind = (SELECT 2::int2) AND ts >= '2026-11-30' AND ts < '2026-12-01'$q$, false, NULL, NULL, NULL),
(226, true, $q$SELECT id FROM {T} WHERE video_id = (SELECT 42)$q$, false, NULL, NULL, NULL),
(227, false, $q$SELECT id, ts FROM {T} WHERE ts = (SELECT max(ts) FROM {T} WHERE channel = 'ios' AND ts < '2026-11-30')$q$, false, NULL, NULL, NULL),
-- Aggregates without GROUP BY: on ev, partial aggregates per partition, those of compressed partitions from the
-- decoded batches (aggregate.cpp). Float sums depend on the order of the rows: rounded where they are finite.
(228, true, $q$SELECT count(*), count(score), count(ratio), count(kind), count(note), count(meta), count(channel) FROM {T}$q$, false, NULL, NULL, NULL),
(229, true, $q$SELECT sum(video_id), sum(kind), avg(video_id), avg(kind) FROM {T}$q$, false, NULL, NULL, NULL),
(230, true, $q$SELECT min(id), max(id), min(video_id), max(video_id), min(kind), max(kind), min(day), max(day), min(ts), max(ts),
            min(seen), max(seen) FROM {T}$q$, false, NULL, NULL, NULL),
(231, false, $q$SELECT min(score), max(score), min(ratio), max(ratio), count(score) FROM {T} WHERE ts < '2026-12-02'$q$, false, NULL, NULL, NULL),
(232, false, $q$SELECT round(sum(score)::numeric, 4), round(avg(score)::numeric, 8), round(avg(ratio)::numeric, 6),
            round(stddev_samp(score)::numeric, 6), round(var_pop(ratio)::numeric, 2), count(*)
       FROM {T} WHERE score <> 'NaN' AND abs(score) < 'Infinity'$q$, false, NULL, NULL, NULL),
(233, false, $q$SELECT sum(score), avg(score), stddev(score), variance(ratio) FROM {T}$q$, false, NULL, NULL, NULL),
(234, true, $q$SELECT count(*), sum(video_id), min(ts), max(ts), max(score) FROM {T} WHERE ts >= '2026-11-28 06:00' AND ts < '2026-11-30 18:00'$q$, false, NULL, NULL, NULL),
(235, false, $q$SELECT count(*), sum(kind), max(score), min(day) FROM {T} WHERE channel = 'ios'$q$, false, NULL, NULL, NULL),
(236, false, $q$SELECT count(*), avg(video_id), max(seen) FROM {T} WHERE channel = 'ios' AND ts < '2026-12-01' AND kind = 2$q$, false, NULL, NULL, NULL),
(237, false, $q$SELECT count(*), sum(video_id) FROM {T} WHERE ts < '2026-11-29' OR video_id = 7$q$, false, NULL, NULL, NULL),
(238, false, $q$SELECT count(*), sum(video_id), max(day), min(score) FROM {T} WHERE ts < $1$q$, false, 'plan_cache_mode=force_generic_plan', 'timestamptz',
     ARRAY[$q$'2026-11-29 12:00'$q$, $q$'2026-12-02'$q$, $q$'2020-01-01'$q$]),
(239, true, $q$SELECT v.k, s.* FROM (VALUES (1::int2), (2::int2), (3::int2), (NULL)) v(k)
     CROSS JOIN LATERAL (SELECT count(*), sum(video_id), max(ts), min(score) FROM {T} e WHERE e.kind = v.k AND e.ts < '2026-12-01') s$q$, false, NULL, NULL, NULL),
(240, false, $q$SELECT (SELECT count(*) FROM {T} WHERE ts < '2026-11-30'), (SELECT max(id) FROM {T} WHERE channel = 'web'),
            (SELECT avg(kind) FROM {T} WHERE ts >= (SELECT timestamptz '2026-11-29 06:00'))$q$, false, NULL, NULL, NULL),
(241, false, $q$SELECT count(*), sum(video_id) FROM {T} HAVING count(*) > 10$q$, false, NULL, NULL, NULL),
(242, false, $q$SELECT max(ts) - min(ts), count(*) * 2, sum(video_id) / 2, max(day) - min(day) FROM {T} WHERE ts >= '2026-11-29'$q$, false, NULL, NULL, NULL),
(243, false, $q$SELECT count(*) FROM {T} WHERE kind = 1 UNION ALL SELECT count(*) FROM {T} WHERE kind = 2 UNION ALL SELECT sum(kind) FROM {T}$q$, true, NULL, NULL, NULL),
(244, false, $q$SELECT count(*), sum(video_id), min(score), max(ratio) FROM {P}20261129$q$, false, NULL, NULL, NULL),
(245, false, $q$SELECT count(*), sum(video_id), avg(kind), min(score), max(ts), avg(score) FROM {T} WHERE ts < '2026-01-01'$q$, false, NULL, NULL, NULL),
(246, false, $q$SELECT count(*), min(seen), max(seen), avg(kind), sum(kind) FROM {T} WHERE seen IS NULL$q$, false, NULL, NULL, NULL),
(247, false, $q$SELECT count(*), min(ratio), max(ratio), min(score), max(score) FROM {T} WHERE video_id = 42$q$, false, NULL, NULL, NULL),
(248, false, $q$SELECT count(*), sum(video_id), count(*) FILTER (WHERE kind = 1) FROM {T} WHERE ts >= '2026-11-30'$q$, false, NULL, NULL, NULL),
(249, false, $q$SELECT c.category, (SELECT count(*) FROM {T} e WHERE e.video_id = c.video_id AND e.ts < '2026-12-02') FROM videos c ORDER BY 1, 2 LIMIT 20$q$, true, NULL, NULL, NULL),
(250, false, $q$SELECT x FROM (SELECT sum(kind) AS x FROM {T} WHERE ts < '2026-11-29 03:00') s WHERE x > 0$q$, false, NULL, NULL, NULL),
-- GROUP BY segment columns: groups per segment value in the partitions segmented by them (NULL and '' values
-- among them), Postgres's partial aggregation in the others.
(251, true, $q$SELECT channel, count(*), sum(video_id), avg(kind), min(ts), max(score) FROM {T} GROUP BY channel$q$, false, NULL, NULL, NULL),
(252, false, $q$SELECT channel, kind, count(*), sum(kind), max(day) FROM {T} WHERE ts < '2026-12-01' GROUP BY channel, kind$q$, false, NULL, NULL, NULL),
(253, false, $q$SELECT video_id, count(*), min(ts), max(ts) FROM {T} WHERE ts >= '2026-12-02' GROUP BY video_id$q$, false, NULL, NULL, NULL),
(254, false, $q$SELECT channel, count(*) FROM {T} WHERE ts >= '2026-11-28 06:00' AND ts < '2026-11-29 18:00' GROUP BY channel HAVING count(*) > 100$q$, false, NULL, NULL, NULL),
(255, false, $q$SELECT kind, count(*), avg(video_id), min(score) FROM {T} GROUP BY kind$q$, false, NULL, NULL, NULL),
(256, false, $q$SELECT channel, count(*), sum(video_id) FROM {T} WHERE ts < $1 GROUP BY channel$q$, false, 'plan_cache_mode=force_generic_plan', 'timestamptz',
     ARRAY[$q$'2026-11-29 12:00'$q$, $q$'2026-12-02'$q$]),
(257, false, $q$SELECT v.c, s.* FROM (VALUES ('2026-11-28'::timestamptz), ('2026-11-30'), ('2026-12-02')) v(c)
     CROSS JOIN LATERAL (SELECT channel, count(*), max(ts) FROM {T} e WHERE e.ts >= v.c AND e.ts < v.c + interval '1 day' GROUP BY channel) s$q$, false, NULL, NULL, NULL),
(258, false, $q$SELECT channel, count(*), sum(video_id) FROM {T} GROUP BY channel ORDER BY 2 DESC, 1 LIMIT 3$q$, true, NULL, NULL, NULL),
(259, false, $q$SELECT channel, count(*), sum(kind) FROM {T} WHERE channel IS NULL OR channel = '' GROUP BY channel$q$, false, NULL, NULL, NULL),
(260, false, $q$SELECT label, count(*) FROM {T} WHERE ts >= '2026-12-02' GROUP BY label$q$, false, NULL, NULL, NULL),
(261, false, $q$SELECT sum(video_id), max(ts), channel, count(*) FROM {T} WHERE ts < '2026-12-01' GROUP BY channel$q$, false, NULL, NULL, NULL);

-- Compress five of the days, each with other settings (the set's policy, changed between the calls): the 28th
-- and the 29th by channel in ts order, the 30th by channel and kind, the 1st by nothing in score order (NaN,
-- infinities, -0, NULL), the 2nd by video_id in label order (NULL, '', values over 2 kB), the 4th while empty.
-- The 3rd stays a heap.
SELECT strata.compress_partition('ev_p20261128') AS rows;
SELECT strata.compress_partition('ev_p20261129') AS rows;
SELECT strata.alter_partition_set('ev', compress_segment_by => '{channel,kind}');
SELECT strata.compress_partition('ev_p20261130') AS rows;
SELECT strata.alter_partition_set('ev', compress_segment_by => '{}', compress_order_by => 'score');
SELECT strata.compress_partition('ev_p20261201') AS rows;
SELECT strata.alter_partition_set('ev', compress_segment_by => '{video_id}', compress_order_by => 'label');
SELECT strata.compress_partition('ev_p20261202') AS rows;
SELECT strata.compress_partition('ev_p20261204') AS rows;
SELECT partition, parent, rows, batches, segment_by, order_by, compressions, pg_relation_size(partition) = 0 AS heap_empty
FROM strata.compressed_partitions ORDER BY 1;
-- Late rows into compressed partitions (their heap part), through the parent and directly, to both tables:
-- a channel no batch holds, NULL segment values, duplicates of compressed rows, rows of the empty 4th.
INSERT INTO ev (id, video_id, ts, day, channel, label, score, kind, live, note)
SELECT 90000 + g, 1 + g % 50, timestamptz '2026-11-28 00:03' + g * interval '7 min 3 s', '2026-11-28',
       (ARRAY['web', 'smarttv', NULL, 'tv', ''])[1 + g % 5], 'late ' || g, g % 9 - 4, (g % 4)::int2, g % 2 = 0, 'late'
FROM generate_series(1, 400) g;
INSERT INTO ev_heap (id, video_id, ts, day, channel, label, score, kind, live, note)
SELECT 90000 + g, 1 + g % 50, timestamptz '2026-11-28 00:03' + g * interval '7 min 3 s', '2026-11-28',
       (ARRAY['web', 'smarttv', NULL, 'tv', ''])[1 + g % 5], 'late ' || g, g % 9 - 4, (g % 4)::int2, g % 2 = 0, 'late'
FROM generate_series(1, 400) g;
INSERT INTO ev_p20261130 (id, video_id, ts, day, channel, kind, amount, tags)
SELECT 91000 + g, 42, timestamptz '2026-11-30 11:00' + g * interval '1 s', '2026-11-30', 'ios', 2, g, ARRAY[g]
FROM generate_series(1, 50) g;
INSERT INTO ev_heap_p20261130 (id, video_id, ts, day, channel, kind, amount, tags)
SELECT 91000 + g, 42, timestamptz '2026-11-30 11:00' + g * interval '1 s', '2026-11-30', 'ios', 2, g, ARRAY[g]
FROM generate_series(1, 50) g;
INSERT INTO ev (id, video_id, ts, day, channel, label) SELECT 92000 + g, g, timestamptz '2026-12-04 10:00' + g * interval '1 h', '2026-12-04', 'web', 'd4' FROM generate_series(1, 5) g;
INSERT INTO ev_heap (id, video_id, ts, day, channel, label) SELECT 92000 + g, g, timestamptz '2026-12-04 10:00' + g * interval '1 h', '2026-12-04', 'web', 'd4' FROM generate_series(1, 5) g;
INSERT INTO ev SELECT * FROM ev_heap WHERE id IN (15, 7001, 16001, 22001, 26001, 90005, 91001);
INSERT INTO ev_heap SELECT * FROM ev_heap WHERE id IN (15, 7001, 16001, 22001, 26001, 90005, 91001);
SELECT partition, pg_relation_size(partition) > 0 AS heap_part FROM strata.compressed_partitions ORDER BY 1;
SELECT (SELECT count(*) FROM ev) AS ev_rows, (SELECT count(*) FROM ev_heap) AS ev_heap_rows;

-- The plans: the custom scan on every compressed partition, with its batch tests.
EXPLAIN (COSTS OFF) SELECT count(*) FROM ev WHERE ts >= '2026-11-30' AND ts < '2026-12-01 06:00' AND kind = 2;
EXPLAIN (COSTS OFF) SELECT id FROM ev_p20261129 WHERE channel = 'web' AND ts < '2026-11-29 07:00' AND ts > '2026-11-29 05:00';
-- What the tests skip (ANALYZE, serial): a time range of one channel, one video, one end of a score range.
SET max_parallel_workers_per_gather = 0;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT count(*) FROM ev_p20261129 WHERE channel = 'web' AND ts >= '2026-11-29 06:00' AND ts < '2026-11-29 06:30';
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM ev_p20261202 WHERE video_id = 42;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM ev_p20261201 WHERE score > 1400;
-- Aggregates over the parent: partial aggregates per partition, a compressed partition's from its batches
-- (those whose ranges prove the quals without a row each), the heap partition's by Postgres.
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT count(*), sum(video_id), avg(score), max(ts) FROM ev WHERE ts >= '2026-11-29 12:00' AND ts < '2026-12-03 12:00';
-- Grouped by a segment column: a group per channel value in the partitions segmented by channel.
EXPLAIN (COSTS OFF) SELECT channel, count(*), max(ts) FROM ev WHERE ts < '2026-12-01' GROUP BY channel;
-- A prepared statement's generic plan: the tests take its parameters.
SET plan_cache_mode = force_generic_plan;
PREPARE by_channel(text, timestamptz) AS SELECT count(*) FROM ev_p20261129 WHERE channel = $1 AND ts >= $2;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE by_channel('web', '2026-11-29 20:00');
EXECUTE by_channel('web', '2026-11-29 20:00');
SELECT count(*) FROM ev_heap_p20261129 WHERE channel = 'web' AND ts >= '2026-11-29 20:00';
DEALLOCATE by_channel;
RESET plan_cache_mode;
RESET max_parallel_workers_per_gather;

-- Round 1: serial plans.
SET max_parallel_workers_per_gather = 0;
SELECT * FROM run_corpus('round 1: serial', false) AS result;
-- Round 2: parallel plans wherever possible (the custom scan is parallel aware: heap part and batches shared).
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT count(*) FROM ev_p20261129 WHERE channel = 'web';
SELECT * FROM run_corpus('round 2: parallel', true) AS result;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;

-- Writes in a WITH query (the statement is a SELECT; its UPDATE and DELETE need row identities all the same),
-- to rows still in batches. Each leaves the rows as they were: UPDATE to the same values, DELETE and INSERT back
-- the same rows.
WITH u AS (UPDATE ev SET note = note WHERE channel = 'android' AND ts >= '2026-11-29 08:00' AND ts < '2026-11-29 08:30' RETURNING id)
SELECT count(*), sum(id) FROM u;
WITH u AS (UPDATE ev_heap SET note = note WHERE channel = 'android' AND ts >= '2026-11-29 08:00' AND ts < '2026-11-29 08:30' RETURNING id)
SELECT count(*), sum(id) FROM u;
WITH d AS (DELETE FROM ev WHERE video_id = 77 AND ts < '2026-11-30' RETURNING *), i AS (INSERT INTO ev SELECT * FROM d RETURNING id)
SELECT count(*), sum(id) FROM i;
WITH d AS (DELETE FROM ev_heap WHERE video_id = 77 AND ts < '2026-11-30' RETURNING *), i AS (INSERT INTO ev_heap SELECT * FROM d RETURNING id)
SELECT count(*), sum(id) FROM i;
-- Writes, the same on both tables: statements that need row identities move the batches they touch back to
-- the heap part first (those whose rows the scan's quals select; every batch not skipped when the scan has none).
SELECT dml($$UPDATE {T} SET score = score + 1, note = 'upd1' WHERE ts >= '2026-11-28 10:00' AND ts < '2026-11-28 10:15'
             RETURNING id, score, note$$);
SELECT dml($$UPDATE {T} SET amount = 0, live = NOT live WHERE id IN (3, 17, 6001, 7015, 12001, 16007, 20003, 22001, 25001, 26002,
             28001, 29001, 70001, 90001) RETURNING id, amount, live, right(tableoid::regclass::text, 8)$$);
SELECT dml($$DELETE FROM {T} WHERE channel = 'TV' AND ts < '2026-11-29 12:00' RETURNING id$$);
SELECT dml($$DELETE FROM {T} e USING videos v WHERE v.video_id = e.video_id AND v.category = 'music' AND e.kind = 3
             AND e.ts >= '2026-11-30' AND e.ts < '2026-12-01' RETURNING e.id$$);
SELECT dml($$DELETE FROM {P}20261201 WHERE score = 'NaN' OR score IS NULL RETURNING id$$);
SELECT dml($$INSERT INTO {T} (id, video_id, ts, day, channel, label, kind) SELECT 95000 + g, 7, timestamptz '2026-12-01 03:00'
             + g * interval '1 min', '2026-12-01', 'web', 'ins', 1 FROM generate_series(1, 30) g RETURNING id$$);
SELECT dml($$UPDATE {T} SET ts = ts + interval '1 day', note = 'moved' WHERE video_id = 13 AND ts < '2026-11-29'
             RETURNING id, ts, right(tableoid::regclass::text, 8)$$);
SELECT dml($$UPDATE {T} SET ts = ts - interval '1 day' WHERE video_id IN (8, 10) AND ts >= '2026-12-03' RETURNING id, ts$$);
SELECT dml($$UPDATE {T} e SET label = v.title FROM videos v WHERE v.video_id = e.video_id AND v.category = 'news'
             AND e.channel = 'android' AND e.ts < '2026-11-28 04:00' RETURNING e.id, e.label$$);
SELECT dml($$UPDATE {T} SET note = 'sub' WHERE id IN (SELECT id FROM {T} WHERE channel = 'ios' AND kind = 4
             AND ts >= '2026-11-30 20:00' AND ts < '2026-12-01') AND ts >= '2026-11-30 20:00' RETURNING id$$);
SELECT dml($$INSERT INTO {T} SELECT id + 1000000, video_id, ts, day, channel, label, tag, score, ratio, amount, kind, live, meta,
             uid, dur, tags, note, seen FROM {T} WHERE channel = 'télé' AND ts < '2026-11-30' RETURNING id$$);
SELECT dml($$MERGE INTO {T} e USING (SELECT g AS id FROM generate_series(17001, 17020) g UNION ALL SELECT 99999) s
             ON e.id = s.id AND e.ts >= '2026-11-30' AND e.ts < '2026-12-01'
             WHEN MATCHED AND e.kind = 0 THEN DELETE
             WHEN MATCHED THEN UPDATE SET note = 'merged'
             WHEN NOT MATCHED THEN INSERT (id, ts, channel) VALUES (s.id, '2026-11-30 12:34', 'merge')$$);
SELECT dml($$UPDATE {P}20261202 SET label = 'P' || label WHERE video_id = 42 AND label >= 'clip 2' RETURNING id, label$$);
SELECT dml($$DELETE FROM {T} WHERE ts >= '2026-12-04' AND ts < '2026-12-04 12:00' RETURNING id$$);
SELECT dml($$UPDATE {T} SET note = 'long' WHERE octet_length(label) > 2000 AND ts >= '2026-11-30' AND ts < '2026-12-01' RETURNING id$$);
-- UPDATE ... WHERE CURRENT OF a cursor that locked the row (to the same values).
SELECT current_of('ev_p20261130') AS ev, current_of('ev_heap_p20261130') AS ev_heap;
-- Locking reads, compared as queries: the rows they lock are moved into the heap part first.
SELECT diff_rows($$(SELECT id, ts, channel FROM ev WHERE channel = 'ios' AND ts BETWEEN '2026-11-29 10:00' AND '2026-11-29 11:00' FOR UPDATE)$$,
                 $$(SELECT id, ts, channel FROM ev_heap WHERE channel = 'ios' AND ts BETWEEN '2026-11-29 10:00' AND '2026-11-29 11:00' FOR UPDATE)$$,
                 false) AS for_update;
SELECT diff_rows($$(SELECT e.id, v.title FROM ev e JOIN videos v USING (video_id) WHERE e.kind = 2 AND e.ts < '2026-11-30 02:00'
                    AND e.ts >= '2026-11-30' FOR SHARE OF e)$$,
                 $$(SELECT e.id, v.title FROM ev_heap e JOIN videos v USING (video_id) WHERE e.kind = 2 AND e.ts < '2026-11-30 02:00'
                    AND e.ts >= '2026-11-30' FOR SHARE OF e)$$,
                 false) AS for_share;
SELECT diff_rows($$(SELECT id FROM ev_p20261201 WHERE score < -400 FOR NO KEY UPDATE SKIP LOCKED)$$,
                 $$(SELECT id FROM ev_heap_p20261201 WHERE score < -400 FOR NO KEY UPDATE SKIP LOCKED)$$, false) AS for_no_key_update;
BEGIN;
SELECT count(*) AS locked FROM (SELECT id FROM ev_p20261128 WHERE channel = '' AND ts < '2026-11-28 08:00' FOR UPDATE) l;
SELECT count(*) AS locked FROM (SELECT id FROM ev_heap_p20261128 WHERE channel = '' AND ts < '2026-11-28 08:00' FOR UPDATE) l;
COMMIT;
-- Everything again after the writes (serial).
SET max_parallel_workers_per_gather = 0;
SELECT * FROM run_corpus('round 3: after the writes', false) AS result;
RESET max_parallel_workers_per_gather;

-- Row security: a policy on both parents, read by a role it applies to (through the parents only: the queries
-- on partitions see every row).
CREATE ROLE cdiff_reader;
GRANT USAGE ON SCHEMA cdiff TO cdiff_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA cdiff TO cdiff_reader;
ALTER TABLE ev ENABLE ROW LEVEL SECURITY;
ALTER TABLE ev_heap ENABLE ROW LEVEL SECURITY;
CREATE POLICY some_rows ON ev USING (channel IS DISTINCT FROM 'TV' AND kind IS DISTINCT FROM 3 AND ts < '2026-12-02 18:00');
CREATE POLICY some_rows ON ev_heap USING (channel IS DISTINCT FROM 'TV' AND kind IS DISTINCT FROM 3 AND ts < '2026-12-02 18:00');
SET ROLE cdiff_reader;
SET max_parallel_workers_per_gather = 0;
SELECT * FROM run_corpus('round 4: row security', false, 1, 60) AS result;
RESET max_parallel_workers_per_gather;
RESET ROLE;
DROP POLICY some_rows ON ev;
DROP POLICY some_rows ON ev_heap;
ALTER TABLE ev DISABLE ROW LEVEL SECURITY;
ALTER TABLE ev_heap DISABLE ROW LEVEL SECURITY;

-- Compress again: the 28th with other settings (the policy says video_id / label now: set it to channel and kind,
-- in ts order), the 29th, whose policy is the same now, and the 2nd: the rows moved back and written since go
-- into batches. And the 3rd, a heap so far.
SELECT strata.alter_partition_set('ev', compress_segment_by => '{channel,kind}', compress_order_by => 'ts');
SELECT strata.compress_partition('ev_p20261128') AS rows;
SELECT strata.compress_partition('ev_p20261129') AS rows;
SELECT strata.compress_partition('ev_p20261202') AS rows;
SELECT strata.compress_partition('ev_p20261203') AS rows;
SELECT partition, rows, batches, segment_by, order_by, compressions, pg_relation_size(partition) = 0 AS heap_empty
FROM strata.compressed_partitions ORDER BY 1;
-- A locking read in a LATERAL subquery: its quals compare with the outer row's values.
SELECT diff_rows($$(SELECT v.k, s.id FROM (VALUES (1::int2), (2::int2)) v(k),
                    LATERAL (SELECT id FROM ev_p20261129 e WHERE e.kind = v.k AND e.channel = 'web' FOR UPDATE) s)$$,
                 $$(SELECT v.k, s.id FROM (VALUES (1::int2), (2::int2)) v(k),
                    LATERAL (SELECT id FROM ev_heap_p20261129 e WHERE e.kind = v.k AND e.channel = 'web' FOR UPDATE) s)$$,
                 false) AS for_update_lateral;
SET max_parallel_workers_per_gather = 0;
SELECT * FROM run_corpus('round 5: compressed again', false) AS result;
RESET max_parallel_workers_per_gather;

-- Decompress: the 3rd (batches only) and the 30th (batches, and a heap part holding rows moved back by the writes,
-- long labels among them, stored out of line); every row back in the heap, with its indexes.
SELECT strata.decompress_partition('ev_p20261203') AS rows;
SELECT strata.decompress_partition('ev_p20261130') AS rows;
SELECT partition, rows, batches, segment_by, order_by, compressions FROM strata.compressed_partitions ORDER BY 1;
SET max_parallel_workers_per_gather = 0;
SELECT * FROM run_corpus('round 6: two decompressed', false, 1, 80) AS result;
RESET max_parallel_workers_per_gather;

-- A column dropped after compression (ALTER TABLE allows it): whole rows leave it out, the others are as before;
-- then compressed again without it.
ALTER TABLE ev DROP COLUMN seen;
ALTER TABLE ev_heap DROP COLUMN seen;
UPDATE corpus SET q = replace(q, 'seen', 'ts::timestamp') WHERE q ~ 'seen';
SET max_parallel_workers_per_gather = 0;
SELECT * FROM run_corpus('round 7: a column dropped', false, 1, 40) AS result;
SELECT strata.compress_partition('ev_p20261201') AS rows;
SELECT strata.compress_partition('ev_p20261129') AS rows;
SELECT * FROM run_corpus('round 8: compressed after the drop', false, 1, 40) AS result;
RESET max_parallel_workers_per_gather;

-- Writes whose quals compare with an uncorrelated subquery's value (an InitPlan).
SELECT dml($$DELETE FROM {T} WHERE ts < (SELECT timestamptz '2026-11-28 00:30') RETURNING id$$);
SELECT dml($$UPDATE {T} SET note = 'initplan' WHERE kind = (SELECT 3::int2) AND ts >= '2026-11-29 22:00' AND ts < '2026-11-30 02:00'
             RETURNING id$$);
SELECT * FROM run_corpus('round 9: after writes with subqueries', false, 1, 12) AS result;

-- Clean up: the set, its batch tables and compression policy, the helpers, the conversions' job_runs rows.
SELECT 'ev'::regclass::oid AS ev_oid \gset
SELECT strata.undo_partition_set('ev');
DROP SCHEMA cdiff CASCADE;
SELECT count(*) AS states_left FROM strata.columnar_partition c WHERE NOT EXISTS (SELECT FROM pg_class WHERE oid = c.leaf);
SELECT count(*) AS batch_tables_left FROM pg_class
WHERE relname LIKE '\_columnar\_%' AND relnamespace = 'strata'::regnamespace AND oid NOT IN (SELECT sibling FROM strata.columnar_partition);
SELECT count(*) AS policies_left FROM strata.columnar_policy WHERE parent::oid = :ev_oid;
DELETE FROM strata.columnar_policy WHERE parent::oid = :ev_oid;
DROP ROLE cdiff_reader;
DELETE FROM strata.job_runs WHERE target LIKE 'cdiff.%' OR target LIKE '"cdiff".%';
RESET search_path;
