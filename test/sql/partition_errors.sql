-- Bad input: a clear error with an errcode and a hint, and nothing changed.
CREATE TABLE plain (id int, ts timestamptz);
SELECT test_err($$SELECT strata.create_partition_set('plain', 'ts', '1 day')$$);
CREATE TABLE listed (id int, region text) PARTITION BY LIST (region);
SELECT test_err($$SELECT strata.create_partition_set('listed', 'region', '1 day')$$);
CREATE TABLE multi (a int, b int) PARTITION BY RANGE (a, b);
SELECT test_err($$SELECT strata.create_partition_set('multi', 'a', '10')$$);
CREATE TABLE byexpr (id int) PARTITION BY RANGE ((id + 1));
SELECT test_err($$SELECT strata.create_partition_set('byexpr', 'id', 10)$$);
CREATE TABLE ev (id bigint, ts timestamptz NOT NULL, note text) PARTITION BY RANGE (ts);
SELECT test_err($$SELECT strata.create_partition_set('ev', 'nope', '1 day')$$);
SELECT test_err($$SELECT strata.create_partition_set('ev', 'id', '1 day')$$);
SELECT test_err($$SELECT strata.create_partition_set('ev', 'ts', '0 days')$$);
SELECT test_err($$SELECT strata.create_partition_set('ev', 'ts', '-1 day')$$);
SELECT test_err($$SELECT strata.create_partition_set('ev', 'ts', '1 month 2 days')$$);
SELECT test_err($$SELECT strata.create_partition_set('ev', 'ts', '1 second')$$);
SELECT test_err($$SELECT strata.create_partition_set('ev', 'ts', 'soon')$$);
SELECT test_err($$SELECT strata.create_partition_set('ev', 'ts', 1000)$$);
SELECT test_err($$SELECT strata.create_partition_set('ev', 'ts', '1 day', premake => -1)$$);
SELECT test_err($$SELECT strata.create_partition_set('ev', 'ts', '1 day', retention => 'forever')$$);
-- Every message about an interval names the argument that is wrong: partition_interval or retention.
SELECT test_err($$SELECT strata.create_partition_set('ev', 'ts', '1 day', retention => '-5 days')$$);
SELECT test_err($$SELECT strata.create_partition_set('ev', 'ts', '1 day', retention => '0')$$);
SELECT test_err($$SELECT strata.create_partition_set('ev', 'ts', '1 day', retention => '1 month 2 days')$$);
SELECT test_err($$SELECT strata.create_partition_set('ev', 'ts', '1 day', retention => '10 seconds')$$);
SELECT test_err($$SELECT strata.create_partition_set('ev', 'ts', '0')$$);
SELECT test_err($$SELECT strata.create_partition_set('ev', 'ts', '1 day', partition_options => '{fillfactor=5}')$$);
SELECT test_err($$SELECT strata.create_partition_set('ev', 'ts', '1 day', partition_options => '{nonsense=1}')$$);
SELECT test_err($$SELECT strata.create_partition_set('ev', 'ts', '1 day', partition_options => '{fillfactor}')$$);
SELECT test_err($$SELECT strata.create_partition_set('ev', 'ts', '1 day', partition_tablespace => 'no_such_space')$$);
SELECT test_err($$SELECT strata.create_partition_set('ev', 'ts', '1 day', start_partition => '1000-01-01')$$);
SELECT test_err($$SELECT strata.create_partition_set(NULL, 'ts', '1 day')$$);
CREATE TABLE txt (k text) PARTITION BY RANGE (k);
SELECT test_err($$SELECT strata.create_partition_set('txt', 'k', '1 day')$$);
CREATE TABLE ints (id int) PARTITION BY RANGE (id);
SELECT test_err($$SELECT strata.create_partition_set('ints', 'id', '1 day')$$);
SELECT test_err($$SELECT strata.create_partition_set('ints', 'id', 0)$$);
SELECT test_err($$SELECT strata.create_partition_set('ints', 'id', '10 apples')$$);
SELECT test_err($$SELECT strata.create_partition_set('ints', 'id', 5000000000)$$);
SELECT test_err($$SELECT strata.create_partition_set('ints', 'id', '100', retention => '90 days')$$);
SELECT test_err($$SELECT strata.create_partition_set('ints', 'id', 100, retention => -5)$$);
-- Nothing was created by any of the failures above.
SELECT count(*) AS sets FROM strata.partition_set;
SELECT count(*) AS partitions FROM pg_inherits WHERE inhparent IN ('ev'::regclass, 'ints'::regclass);
-- A set cannot be created twice; unknown sets are refused by every function.
SELECT strata.create_partition_set('ints', 'id', 100, premake => 1);
SELECT test_err($$SELECT strata.create_partition_set('ints', 'id', 100, premake => 1)$$);
SELECT test_err($$SELECT strata.undo_partition_set('ev')$$);
SELECT test_err($$SELECT * FROM strata.run_maintenance('ev')$$);
SELECT test_err($$SELECT strata.alter_partition_set('ev', premake => 2)$$);
SELECT test_err($$SELECT strata.alter_partition_set('ints', premake => 5000)$$);
SELECT test_err($$SELECT strata.alter_partition_set('ints', retention => 'abc')$$);
SELECT test_err($$SELECT strata.alter_partition_set('ints', retention => '0')$$);
CREATE TABLE ev_alter (ts timestamptz NOT NULL) PARTITION BY RANGE (ts);
SELECT strata.create_partition_set('ev_alter', 'ts', '1 day', premake => 0) AS created;
SELECT test_err($$SELECT strata.alter_partition_set('ev_alter', retention => '-5 days')$$);
SELECT test_err($$SELECT strata.alter_partition_set('ev_alter', retention => '0')$$);
SELECT test_err($$SELECT strata.alter_partition_set('ev_alter', retention => 'forever')$$);
DROP TABLE ev_alter;
-- History that would not fit the shared lock table in one transaction is refused after the first two partitions
-- (whose locks are counted), with the numbers and what to do, instead of "out of shared memory" minutes later;
-- a large history is announced. Nothing is left behind. (Lock counts depend on the server: shown as N.)
SET strata.test_now = '2026-12-04 12:00';
CREATE TABLE big_hist (d date NOT NULL, id bigint, note text, payload jsonb) PARTITION BY RANGE (d);
CREATE INDEX ON big_hist (id);
CREATE INDEX ON big_hist (note);
CREATE INDEX ON big_hist (d, id);
SELECT regexp_replace(test_err($$SELECT strata.create_partition_set('big_hist', 'd', '1 day', start_partition => '2013-01-01')$$),
                      '(holds|ends:|=) [0-9]+', '\1 N', 'g') AS refused;
SELECT count(*) AS partitions_left FROM pg_inherits WHERE inhparent = 'big_hist'::regclass;
SELECT count(*) AS set_rows FROM strata.partition_set WHERE parent = 'big_hist'::regclass;
DROP TABLE big_hist;
RESET strata.test_now;
-- An owner without CREATE on the table's schema is told which grant it needs, before anything is created.
CREATE ROLE strata_noschema;
CREATE TABLE owned_ev (ts timestamptz NOT NULL) PARTITION BY RANGE (ts);
ALTER TABLE owned_ev OWNER TO strata_noschema;
SET ROLE strata_noschema;
SELECT test_err($$SELECT strata.create_partition_set('owned_ev', 'ts', '1 day')$$);
RESET ROLE;
SELECT count(*) AS partitions_left FROM pg_inherits WHERE inhparent = 'owned_ev'::regclass;
GRANT CREATE ON SCHEMA public TO strata_noschema;
SET ROLE strata_noschema;
SELECT strata.create_partition_set('owned_ev', 'ts', '1 day', premake => 0) AS created_once_granted;
RESET ROLE;
DROP TABLE owned_ev;
REVOKE CREATE ON SCHEMA public FROM strata_noschema;
DROP ROLE strata_noschema;
-- Only the owner may manage a table.
CREATE ROLE strata_intruder;
GRANT CREATE ON SCHEMA public TO strata_intruder;
SET ROLE strata_intruder;
SELECT test_err($$SELECT strata.create_partition_set('ev', 'ts', '1 day')$$);
SELECT test_err($$SELECT strata.undo_partition_set('ints')$$);
SELECT test_err($$SELECT * FROM strata.run_maintenance('ints')$$);
SELECT test_err($$SELECT strata.alter_partition_set('ints', premake => 2)$$);
SELECT count(*) FROM strata.run_maintenance();  -- others' sets are skipped, not failed
RESET ROLE;
REVOKE CREATE ON SCHEMA public FROM strata_intruder;
DROP ROLE strata_intruder;
SELECT strata.undo_partition_set('ints');
DROP TABLE plain, listed, multi, byexpr, ev, txt, ints;
