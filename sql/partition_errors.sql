-- Bad input: a clear error with an errcode and a hint, and nothing changed.
-- err(sql): runs sql and shows SQLSTATE, message, detail and hint of its error (or 'no error').
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE s text; m text; d text; h text;
BEGIN
  EXECUTE q;
  RETURN 'no error';
EXCEPTION WHEN others THEN
  GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
  RETURN s || ': ' || m || coalesce(E'\n  detail: ' || nullif(d, ''), '') || coalesce(E'\n  hint: ' || nullif(h, ''), '');
END $f$;
CREATE TABLE plain (id int, ts timestamptz);
SELECT pg_temp.err($$SELECT strata.create_partition_set('plain', 'ts', '1 day')$$);
CREATE TABLE listed (id int, region text) PARTITION BY LIST (region);
SELECT pg_temp.err($$SELECT strata.create_partition_set('listed', 'region', '1 day')$$);
CREATE TABLE multi (a int, b int) PARTITION BY RANGE (a, b);
SELECT pg_temp.err($$SELECT strata.create_partition_set('multi', 'a', '10')$$);
CREATE TABLE byexpr (id int) PARTITION BY RANGE ((id + 1));
SELECT pg_temp.err($$SELECT strata.create_partition_set('byexpr', 'id', 10)$$);
CREATE TABLE ev (id bigint, ts timestamptz NOT NULL, note text) PARTITION BY RANGE (ts);
SELECT pg_temp.err($$SELECT strata.create_partition_set('ev', 'nope', '1 day')$$);
SELECT pg_temp.err($$SELECT strata.create_partition_set('ev', 'id', '1 day')$$);
SELECT pg_temp.err($$SELECT strata.create_partition_set('ev', 'ts', '0 days')$$);
SELECT pg_temp.err($$SELECT strata.create_partition_set('ev', 'ts', '-1 day')$$);
SELECT pg_temp.err($$SELECT strata.create_partition_set('ev', 'ts', '1 month 2 days')$$);
SELECT pg_temp.err($$SELECT strata.create_partition_set('ev', 'ts', '1 second')$$);
SELECT pg_temp.err($$SELECT strata.create_partition_set('ev', 'ts', 'soon')$$);
SELECT pg_temp.err($$SELECT strata.create_partition_set('ev', 'ts', 1000)$$);
SELECT pg_temp.err($$SELECT strata.create_partition_set('ev', 'ts', '1 day', premake => -1)$$);
SELECT pg_temp.err($$SELECT strata.create_partition_set('ev', 'ts', '1 day', retention => 'forever')$$);
SELECT pg_temp.err($$SELECT strata.create_partition_set('ev', 'ts', '1 day', partition_options => '{fillfactor=5}')$$);
SELECT pg_temp.err($$SELECT strata.create_partition_set('ev', 'ts', '1 day', partition_options => '{nonsense=1}')$$);
SELECT pg_temp.err($$SELECT strata.create_partition_set('ev', 'ts', '1 day', partition_options => '{fillfactor}')$$);
SELECT pg_temp.err($$SELECT strata.create_partition_set('ev', 'ts', '1 day', partition_tablespace => 'no_such_space')$$);
SELECT pg_temp.err($$SELECT strata.create_partition_set('ev', 'ts', '1 day', start_partition => '1000-01-01')$$);
SELECT pg_temp.err($$SELECT strata.create_partition_set(NULL, 'ts', '1 day')$$);
CREATE TABLE txt (k text) PARTITION BY RANGE (k);
SELECT pg_temp.err($$SELECT strata.create_partition_set('txt', 'k', '1 day')$$);
CREATE TABLE ints (id int) PARTITION BY RANGE (id);
SELECT pg_temp.err($$SELECT strata.create_partition_set('ints', 'id', '1 day')$$);
SELECT pg_temp.err($$SELECT strata.create_partition_set('ints', 'id', 0)$$);
SELECT pg_temp.err($$SELECT strata.create_partition_set('ints', 'id', '10 apples')$$);
SELECT pg_temp.err($$SELECT strata.create_partition_set('ints', 'id', 5000000000)$$);
-- Nothing was created by any of the failures above.
SELECT count(*) AS sets FROM strata.partition_set;
SELECT count(*) AS partitions FROM pg_inherits WHERE inhparent IN ('ev'::regclass, 'ints'::regclass);
-- A set cannot be created twice; unknown sets are refused by every function.
SELECT strata.create_partition_set('ints', 'id', 100, premake => 1);
SELECT pg_temp.err($$SELECT strata.create_partition_set('ints', 'id', 100, premake => 1)$$);
SELECT pg_temp.err($$SELECT strata.undo_partition_set('ev')$$);
SELECT pg_temp.err($$SELECT * FROM strata.run_maintenance('ev')$$);
SELECT pg_temp.err($$SELECT strata.alter_partition_set('ev', premake => 2)$$);
SELECT pg_temp.err($$SELECT strata.alter_partition_set('ints', premake => 5000)$$);
SELECT pg_temp.err($$SELECT strata.alter_partition_set('ints', retention => 'abc')$$);
-- Only the owner may manage a table.
CREATE ROLE strata_intruder;
GRANT CREATE ON SCHEMA public TO strata_intruder;
SET ROLE strata_intruder;
SELECT pg_temp.err($$SELECT strata.create_partition_set('ev', 'ts', '1 day')$$);
SELECT pg_temp.err($$SELECT strata.undo_partition_set('ints')$$);
SELECT pg_temp.err($$SELECT * FROM strata.run_maintenance('ints')$$);
SELECT pg_temp.err($$SELECT strata.alter_partition_set('ints', premake => 2)$$);
SELECT count(*) FROM strata.run_maintenance();  -- others' sets are skipped, not failed
RESET ROLE;
REVOKE CREATE ON SCHEMA public FROM strata_intruder;
DROP ROLE strata_intruder;
SELECT strata.undo_partition_set('ints');
DROP TABLE plain, listed, multi, byexpr, ev, txt, ints;
