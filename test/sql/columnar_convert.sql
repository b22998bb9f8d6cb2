-- Compressed partitions by hand (src/columnar/README.md): compress_partition / decompress_partition,
-- idempotent both; what they refuse, with a hint, leaving nothing behind; the commands that must know
-- about batches (COPY TO, TRUNCATE, DROP, ALTER TABLE, unique indexes, DROP EXTENSION, TABLESAMPLE);
-- strata.compressed_partitions and job_runs; the compression policy in create/alter_partition_set; a
-- damaged batch gives an error naming the partition, never a wrong row.
SET client_min_messages = warning;
CREATE TABLE cv (id bigint, ts timestamptz NOT NULL, channel text, n int, score float8, note text) PARTITION BY RANGE (ts);
SELECT strata.create_partition_set('cv', 'ts', '1 day', premake => 1, start_partition => '2026-10-01',
                                   compress_segment_by => '{channel}', compress_order_by => 'ts') > 0 AS made;
SELECT parent, compress_after, segment_by, order_by FROM strata.columnar_policy;
INSERT INTO cv SELECT g, '2026-10-01'::timestamptz + g * interval '7 seconds', 'c' || (g % 3), g % 100,
                      CASE WHEN g % 11 = 0 THEN 'NaN' ELSE g / 4.0 END, CASE WHEN g % 5 = 0 THEN NULL ELSE repeat('n', g % 40) END
FROM generate_series(1, 30000) g;
CREATE TABLE cv_heap AS SELECT * FROM cv;
CREATE INDEX ON cv (n);
CREATE FUNCTION same() RETURNS boolean LANGUAGE sql AS $$
  SELECT NOT EXISTS (SELECT * FROM cv EXCEPT ALL SELECT * FROM cv_heap)
     AND NOT EXISTS (SELECT * FROM cv_heap EXCEPT ALL SELECT * FROM cv)
$$;

-- Compress one partition; again is a no-op (0 rows); the heap part is emptied, every row is still read.
SELECT strata.compress_partition('cv_p20261001') AS rows;
SELECT strata.compress_partition('cv_p20261001') AS again;
SELECT partition, parent, rows, batches, bytes_after < bytes_before AS smaller, ratio > 1 AS ratio, segment_by, order_by,
       compressions FROM strata.compressed_partitions;
SELECT same();
SELECT count(*) FROM ONLY cv_p20261001;
SELECT job_kind, target, status, message, (details->>'rows')::int AS rows FROM strata.job_runs WHERE job_kind LIKE 'columnar%' ORDER BY id;
-- Batches are skipped by the order column's range and the segment value; the heap's indexes are not used.
EXPLAIN (COSTS OFF) SELECT count(*) FROM cv WHERE ts < '2026-10-01 01:00' AND channel = 'c1' AND n = 5;
SELECT count(*) FROM cv WHERE ts < '2026-10-01 01:00' AND channel = 'c1' AND n = 5;
SELECT count(*) FROM cv_heap WHERE ts < '2026-10-01 01:00' AND channel = 'c1' AND n = 5;

-- Late rows go to the heap part; UPDATE and DELETE move the batches they touch back to it.
INSERT INTO cv VALUES (-1, '2026-10-01 12:00', 'c9', 1, 1, 'late');
INSERT INTO cv_heap VALUES (-1, '2026-10-01 12:00', 'c9', 1, 1, 'late');
UPDATE cv SET note = 'enriched' WHERE id BETWEEN 100 AND 120;
UPDATE cv_heap SET note = 'enriched' WHERE id BETWEEN 100 AND 120;
DELETE FROM cv WHERE ts >= '2026-10-01 03:00' AND ts < '2026-10-01 03:05';
DELETE FROM cv_heap WHERE ts >= '2026-10-01 03:00' AND ts < '2026-10-01 03:05';
UPDATE cv SET ts = ts + interval '1 day' WHERE id = 200;  -- moves the row to the next partition
UPDATE cv_heap SET ts = ts + interval '1 day' WHERE id = 200;
SELECT same();
SELECT count(*) > 0 AS heap_part_has_rows FROM ONLY cv_p20261001;
-- Compressing again folds them into batches.
SELECT strata.compress_partition('cv_p20261001') > 0 AS recompressed;
SELECT count(*) AS rows FROM ONLY cv_p20261001;  -- ONLY on a partition reads its batches too
SELECT compressions FROM strata.compressed_partitions;
SELECT same();

-- COPY TO reads every row (pg_dump's way of reading a partition).
CREATE TEMP TABLE copied (LIKE cv);
COPY cv_p20261001 TO '/tmp/strata_columnar_convert.copy';
COPY copied FROM '/tmp/strata_columnar_convert.copy';
SELECT count(*) = (SELECT count(*) FROM cv_heap WHERE ts < '2026-10-02') AS copy_has_every_row FROM copied;
COPY cv_p20261001 (id, channel) TO STDOUT WITH (FORMAT csv) \g /dev/null

-- Refused, with a hint, changing nothing.
ALTER TABLE cv ADD COLUMN extra int DEFAULT 7;
ALTER TABLE cv_p20261001 ALTER COLUMN n TYPE bigint;
CREATE UNIQUE INDEX ON cv (id, ts);
ALTER TABLE cv ADD PRIMARY KEY (id, ts);
SELECT count(*) FROM cv TABLESAMPLE SYSTEM (10);
DROP EXTENSION strata;
ALTER TABLE cv ALTER COLUMN note SET DEFAULT 'x';  -- not refused: no rewrite
ALTER TABLE cv RENAME COLUMN note TO remark;      -- not refused: batches are read by column number
SELECT count(remark) = (SELECT count(note) FROM cv_heap) AS renamed FROM cv;
ALTER TABLE cv RENAME COLUMN remark TO note;
SELECT strata.compress_partition('cv');
SELECT strata.compress_partition('cv_heap');  -- not a partition of a set: allowed, nothing to refuse
SELECT strata.decompress_partition('cv_heap');
CREATE TABLE cu (id int PRIMARY KEY, ts timestamptz);
SELECT strata.compress_partition('cu');
CREATE UNLOGGED TABLE cl (id int);
SELECT strata.compress_partition('cl');
CREATE ROLE columnar_other;
SET ROLE columnar_other;
SELECT strata.compress_partition('cv_p20261002');
SELECT strata.decompress_partition('cv_p20261001');
RESET ROLE;
SELECT count(*) AS leftover_batch_tables FROM pg_class WHERE relname LIKE '\_columnar\_%' AND relnamespace = 'strata'::regnamespace;

-- Policy: validated, changed, cleared.
SELECT strata.alter_partition_set('cv', compress_after => '-1 day');
SELECT strata.alter_partition_set('cv', compress_segment_by => '{nope}');
SELECT strata.alter_partition_set('cv', compress_segment_by => '{channel}', compress_order_by => 'channel');
SELECT strata.alter_partition_set('cv', compress_after => '3 days', compress_segment_by => '{}');
SELECT parent, compress_after, segment_by, order_by FROM strata.columnar_policy;
CREATE TABLE ci (k bigint) PARTITION BY RANGE (k);
SELECT strata.create_partition_set('ci', 'k', 1000, compress_after => '1 day');
-- A new setting applies at the next compression of a partition.
SELECT strata.compress_partition('cv_p20261002') > 0 AS compressed;
SELECT partition, segment_by, order_by FROM strata.compressed_partitions ORDER BY 1;
SELECT same();
SELECT strata.alter_partition_set('cv', clear_compression => true);
SELECT count(*) FROM strata.columnar_policy;

-- A damaged batch: an error naming the partition and the column, never a row.
SELECT format('UPDATE strata.%I SET score = overlay(score placing ''\xff''::bytea from 12) WHERE ctid = (SELECT min(ctid) FROM strata.%I)',
              c.relname, c.relname) AS damage
FROM strata.columnar_partition p JOIN pg_class c ON c.oid = p.sibling WHERE p.leaf = 'cv_p20261002'::regclass \gset
:damage;
SELECT sum(score) FROM cv_p20261002;
SELECT sum(id) = (SELECT sum(id) FROM cv_heap WHERE ts >= (SELECT min(ts) FROM cv_p20261002) AND ts <= (SELECT max(ts) FROM cv_p20261002))
       AS other_columns_read FROM cv_p20261002;
-- Aggregated from the batches (an aggregate over the parent: aggregate mode): the same error.
SELECT sum(score) FROM cv;

-- Aggregate mode keeps Postgres's overflow rules: a float sum of finite values that overflows is an error.
CREATE TABLE co (ts timestamptz NOT NULL, x float8, r real) PARTITION BY RANGE (ts);
SELECT strata.create_partition_set('co', 'ts', '1 day', premake => 1, start_partition => '2026-10-01') > 0 AS made;
INSERT INTO co VALUES ('2026-10-01 01:00', 1e308, 3e38), ('2026-10-01 02:00', 1e308, 3e38), ('2026-10-01 03:00', NULL, NULL);
SELECT strata.compress_partition('co_p20261001') AS rows;
EXPLAIN (COSTS OFF) SELECT sum(x) FROM co WHERE ts < '2026-10-02';
SELECT sum(x) FROM co WHERE ts < '2026-10-02';
SELECT sum(r) FROM co WHERE ts < '2026-10-02';
SELECT avg(x) FROM co WHERE ts < '2026-10-02';
SELECT max(x), min(r), count(x), count(*), avg(r) FROM co WHERE ts < '2026-10-02';
-- An infinite value is no overflow: the sum is infinite.
INSERT INTO co VALUES ('2026-10-01 04:00', '-Infinity', '-Infinity');
SELECT sum(x), sum(r), max(x), min(x) FROM co WHERE ts < '2026-10-02';
DROP TABLE co;

-- Decompress: every row back in the heap, the batch table gone; again is a no-op.
TRUNCATE cv_p20261002;
DELETE FROM cv_heap WHERE ts >= '2026-10-02' AND ts < '2026-10-03';
SELECT strata.decompress_partition('cv_p20261001') AS rows;
SELECT strata.decompress_partition('cv_p20261001') AS again;
SELECT count(*) FROM strata.compressed_partitions;
SELECT same();
SELECT count(*) AS leftover_batch_tables FROM pg_class WHERE relname LIKE '\_columnar\_%' AND relnamespace = 'strata'::regnamespace;
-- Dropping a compressed partition drops its batches.
SELECT strata.compress_partition('cv_p20261001') > 0 AS compressed;
DROP TABLE cv_p20261001;
SELECT count(*) FROM strata.columnar_partition;
SELECT count(*) AS leftover_batch_tables FROM pg_class WHERE relname LIKE '\_columnar\_%' AND relnamespace = 'strata'::regnamespace;
SELECT job_kind, status, count(*) FROM strata.job_runs WHERE job_kind LIKE 'columnar%' GROUP BY 1, 2 ORDER BY 1, 2;
DROP TABLE cv, cv_heap, cu, cl, ci;
DROP FUNCTION same();
DROP ROLE columnar_other;
