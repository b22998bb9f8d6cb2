-- Upgrades: install 0.1.0, use it, ALTER EXTENSION UPDATE step by step, and compare with a fresh install.
CREATE TABLE objects_fresh AS
  SELECT pg_describe_object(classid, objid, objsubid) AS object FROM pg_depend
   WHERE refclassid = 'pg_extension'::regclass AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'strata');
DROP EXTENSION strata CASCADE;
CREATE EXTENSION strata VERSION '0.1.0';
CREATE TABLE up (id int NOT NULL) PARTITION BY RANGE (id);
SELECT strata.create_partition_set('up', 'id', 10, premake => 1);
ALTER EXTENSION strata UPDATE TO '0.2.0';
SELECT extversion FROM pg_extension WHERE extname = 'strata';
-- The set survived the update and the new types work.
SELECT parent, partition_count FROM strata.partition_sets;
SELECT strata.distinct_count(strata.hll_agg(g)) FROM generate_series(1, 42) g;
-- 0.2.0 -> 0.3.0 (rollups); the worker and retention cope with a database still at 0.2.0.
ALTER EXTENSION strata UPDATE TO '0.3.0';
SELECT extversion FROM pg_extension WHERE extname = 'strata';
SELECT count(*) AS rollups FROM strata.rollups;
-- 0.3.0 -> 0.4.0 (vacuum scheduling); the worker skips the scheduler in a database still at 0.3.0.
ALTER EXTENSION strata UPDATE TO '0.4.0';
SELECT extversion FROM pg_extension WHERE extname = 'strata';
SELECT count(*) AS planned_for_up FROM strata.vacuum_plan() WHERE relation LIKE 'public.up%';
-- 0.4.0 -> 0.5.0 (insert-vacuum handover: vacuum_activity lists it).
ALTER EXTENSION strata UPDATE TO '0.5.0';
SELECT extversion FROM pg_extension WHERE extname = 'strata';
SELECT pg_get_viewdef('strata.vacuum_activity') LIKE '%insert_handover%' AS lists_handover;
-- 0.5.0 -> 0.6.0 (a rollup whose objects are dropped outside drop_rollup() is unregistered).
ALTER EXTENSION strata UPDATE TO '0.6.0';
SELECT extversion FROM pg_extension WHERE extname = 'strata';
SELECT prosrc LIKE '%unregistered%' AS unregisters_rollups FROM pg_proc WHERE oid = 'strata._on_sql_drop()'::regprocedure;
-- 0.6.0 -> 0.7.0 (keysets, which real-time views of integer-keyed rollups use).
ALTER EXTENSION strata UPDATE TO '0.7.0';
SELECT extversion FROM pg_extension WHERE extname = 'strata';
SELECT strata.keyset_lacks((SELECT strata.keyset_agg(g) FROM generate_series(1, 3) g), 2) AS lacks_2,
       strata.keyset_lacks((SELECT strata.keyset_agg(g) FROM generate_series(1, 3) g), 4) AS lacks_4;
-- 0.7.0 -> 0.8.0 (the vacuum scheduler's rule for rollup tables: a baseline column, the action listed).
ALTER EXTENSION strata UPDATE TO '0.8.0';
SELECT extversion FROM pg_extension WHERE extname = 'strata';
SELECT pg_get_viewdef('strata.vacuum_activity') LIKE '%vacuum_rollup%' AS lists_rollup_vacuum,
       count(*) AS entries_column FROM pg_attribute WHERE attrelid = 'strata.vacuum_state'::regclass AND attname = 'entries_at_vacuum';
-- 0.8.0 -> 0.9.0 (hardening).
ALTER EXTENSION strata UPDATE TO '0.9.0';
SELECT extversion FROM pg_extension WHERE extname = 'strata';
SELECT object FROM objects_fresh EXCEPT
SELECT pg_describe_object(classid, objid, objsubid) FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'strata');
SELECT pg_describe_object(classid, objid, objsubid) FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'strata')
EXCEPT SELECT object FROM objects_fresh;
DROP TABLE up, objects_fresh;
