-- Every path that changes a source's rows is tracked: session_replication_role = replica, triggers
-- disabled by hand (enabled again, every bucket recomputed), an inner partitioned table named by the
-- statement, inheritance children, a detached partition (its rows leave the rollup), a partition
-- with an order column of its own or a foreign table (refused, naming it).
SET TimeZone = 'UTC';
CREATE FUNCTION tr_diff(rollup regclass, src regclass) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM ((SELECT date_trunc(''hour'', ts) AS b, count(*) AS n, sum(v) AS v FROM %s GROUP BY 1
                  EXCEPT SELECT bucket, n, v FROM %s) UNION ALL (SELECT bucket, n, v FROM %s
                  EXCEPT SELECT date_trunc(''hour'', ts), count(*), sum(v) FROM %s GROUP BY 1)) d', src, rollup, rollup, src) INTO n;
  RETURN n;
END $$;
CREATE TABLE tr (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, v int) PARTITION BY RANGE (ts);
CREATE TABLE tr_a PARTITION OF tr FOR VALUES FROM ('2026-01-01') TO ('2026-01-02') PARTITION BY RANGE (ts);
CREATE TABLE tr_a1 PARTITION OF tr_a FOR VALUES FROM ('2026-01-01') TO ('2026-01-01 12:00');
CREATE TABLE tr_a2 PARTITION OF tr_a FOR VALUES FROM ('2026-01-01 12:00') TO ('2026-01-02');
CREATE TABLE tr_b PARTITION OF tr FOR VALUES FROM ('2026-01-02') TO ('2026-01-03');
CREATE INDEX ON tr (id);
INSERT INTO tr (ts, v) SELECT '2026-01-01'::timestamptz + g * interval '20 minutes', g FROM generate_series(0, 143) g;
SELECT strata.create_rollup('tr_h', $$SELECT date_trunc('hour', ts) AS bucket, count(*) AS n, sum(v) AS v FROM tr GROUP BY 1$$,
                            realtime => false) > 0 AS created;
SELECT strata.refresh_rollup('tr_h') ->> 'rows' AS rows;
-- Every relation of the tree has the triggers, enabled ALWAYS.
SELECT c.relname, count(*) AS triggers, bool_and(g.tgenabled = 'A') AS always
  FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid WHERE g.tgname LIKE 'strata_changes_%' AND c.relname LIKE 'tr%'
 GROUP BY 1 ORDER BY 1;
-- session_replication_role = replica (pg_restore --disable-triggers, bulk loaders).
SET session_replication_role = replica;
UPDATE tr SET v = v + 1 WHERE ts < '2026-01-01 03:00';
DELETE FROM tr WHERE ts >= '2026-01-02 20:00';
RESET session_replication_role;
SELECT strata.refresh_rollup('tr_h') ->> 'buckets_recomputed' AS recomputed, tr_diff('tr_h', 'tr') AS diff;
-- A statement naming an inner partitioned table fires that table's statement triggers only.
UPDATE tr_a SET v = v * 2 WHERE ts >= '2026-01-01 11:00' AND ts < '2026-01-01 13:00';
SELECT strata.refresh_rollup('tr_h') ->> 'buckets_recomputed' AS recomputed, tr_diff('tr_h', 'tr') AS diff;
-- Triggers disabled by hand: with event triggers on, the ALTER TABLE itself enables them again.
ALTER TABLE tr_b DISABLE TRIGGER ALL;
SELECT string_agg(DISTINCT g.tgenabled::text, ',') AS enabled FROM pg_trigger g WHERE g.tgrelid = 'tr_b'::regclass AND g.tgname LIKE 'strata_changes_%';
-- With them off too, writes pass the disabled triggers; the next refresh enables them again and
-- recomputes every bucket.
SET session_replication_role = replica;
ALTER TABLE tr_b DISABLE TRIGGER ALL;
RESET session_replication_role;
DELETE FROM tr_b WHERE ts < '2026-01-02 02:00';
SELECT tr_diff('tr_h', 'tr') AS diff_while_disabled;
SELECT strata.refresh_rollup('tr_h') ->> 'buckets_recomputed' AS recomputed, tr_diff('tr_h', 'tr') AS diff;
SELECT bool_and(g.tgenabled = 'A') AS enabled_again FROM pg_trigger g WHERE g.tgrelid = 'tr_b'::regclass AND g.tgname LIKE 'strata_changes_%';
SELECT status, message FROM strata.job_runs WHERE job_kind = 'rollup_tracking' ORDER BY id DESC LIMIT 1;
-- A partition detached by hand takes its rows out of the rollup (their buckets are logged before the
-- DETACH and recomputed from what the source still has); deleting its rows afterwards (archive, then
-- clean up) changes nothing more, and its triggers go. (Retention keeps the rollup's history instead.)
ALTER TABLE tr DETACH PARTITION tr_b;
DELETE FROM tr_b;
SELECT count(*) AS pending FROM tr_h_pending;
SELECT strata.refresh_rollup('tr_h') ->> 'buckets_recomputed' AS recomputed;
SELECT count(*) AS triggers_on_detached FROM pg_trigger WHERE tgrelid = 'tr_b'::regclass AND tgname LIKE 'strata_changes_%';
SELECT count(*) AS buckets_of_the_second_day FROM tr_h WHERE bucket >= '2026-01-02';
-- The rollup follows its source: the comparisons read it whole.
CREATE VIEW tr_kept AS SELECT * FROM tr_h;
-- A table attached with an order column of its own (LIKE ... INCLUDING ALL copies the identity) is refused.
CREATE TABLE tr_c (LIKE tr INCLUDING ALL);
ALTER TABLE tr ATTACH PARTITION tr_c FOR VALUES FROM ('2026-01-03') TO ('2026-01-04');
SELECT count(*) AS attached FROM pg_inherits WHERE inhrelid = 'tr_c'::regclass;
-- Fixed as the hint says, it attaches and is tracked.
ALTER TABLE tr_c ALTER COLUMN id DROP IDENTITY IF EXISTS, ALTER COLUMN id SET DEFAULT nextval('tr_id_seq');
ALTER TABLE tr ATTACH PARTITION tr_c FOR VALUES FROM ('2026-01-03') TO ('2026-01-04');
INSERT INTO tr_c (ts, v) VALUES ('2026-01-03 01:00', 1);
UPDATE tr_c SET v = 5;
SELECT strata.refresh_rollup('tr_h') ->> 'rows' AS rows, tr_diff('tr_kept', 'tr') AS diff;
-- A partitioned table with partitions of its own, attached: every level gets the triggers at once.
CREATE TABLE tr_d (LIKE tr) PARTITION BY RANGE (ts);
ALTER TABLE tr_d ALTER COLUMN id SET DEFAULT nextval('tr_id_seq');
CREATE TABLE tr_d1 PARTITION OF tr_d FOR VALUES FROM ('2026-01-04') TO ('2026-01-04 12:00');
CREATE TABLE tr_d2 PARTITION OF tr_d FOR VALUES FROM ('2026-01-04 12:00') TO ('2026-01-05');
INSERT INTO tr_d (ts, v) VALUES ('2026-01-04 01:00', 1), ('2026-01-04 13:00', 2);
ALTER TABLE tr ATTACH PARTITION tr_d FOR VALUES FROM ('2026-01-04') TO ('2026-01-05');
SELECT c.relname, count(*) AS triggers FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
 WHERE g.tgname LIKE 'strata_changes_%' AND c.relname LIKE 'tr_d%' GROUP BY 1 ORDER BY 1;
UPDATE tr_d SET v = 10;
SELECT strata.refresh_rollup('tr_h') ->> 'rows' AS rows, tr_diff('tr_kept', 'tr') AS diff;
-- A foreign table in the tree is refused when it appears.
CREATE EXTENSION postgres_fdw;
CREATE SERVER tr_loop FOREIGN DATA WRAPPER postgres_fdw OPTIONS (dbname 'nowhere');
CREATE FOREIGN TABLE tr_f PARTITION OF tr FOR VALUES FROM ('2026-01-05') TO ('2026-01-06') SERVER tr_loop;
SELECT to_regclass('tr_f') AS foreign_partition;
-- Inheritance children are tracked like partitions.
CREATE TABLE ih (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, v int);
CREATE INDEX ON ih (id);
INSERT INTO ih (ts, v) SELECT '2026-01-01'::timestamptz + g * interval '30 minutes', g FROM generate_series(0, 9) g;
CREATE TABLE ih_child () INHERITS (ih);
ALTER TABLE ih_child ALTER COLUMN id SET DEFAULT nextval('ih_id_seq');
INSERT INTO ih_child (ts, v) SELECT '2026-01-01'::timestamptz + g * interval '30 minutes', 100 FROM generate_series(0, 9) g;
SELECT strata.create_rollup('ih_h', $$SELECT date_trunc('hour', ts) AS bucket, count(*) AS n, sum(v) AS v FROM ih GROUP BY 1$$,
                            realtime => false) > 0 AS created;
SELECT strata.refresh_rollup('ih_h') ->> 'rows' AS rows;
UPDATE ih_child SET v = 1 WHERE ts < '2026-01-01 02:00';
DELETE FROM ih_child WHERE ts >= '2026-01-01 04:00';
SELECT strata.refresh_rollup('ih_h') ->> 'buckets_recomputed' AS recomputed, tr_diff('ih_h', 'ih') AS diff;
SELECT strata.drop_rollup('ih_h');
DROP VIEW tr_kept;
SELECT strata.drop_rollup('tr_h');
DROP TABLE ih, ih_child, tr, tr_b;
DROP SERVER tr_loop;
DROP EXTENSION postgres_fdw;
DROP FUNCTION tr_diff(regclass, regclass);
-- NULL and infinite times make their own buckets, as GROUP BY does; updates and deletes of their rows
-- recompute them, in a rollup and in a rollup of it.
CREATE TABLE nb (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz, v int);
CREATE INDEX ON nb (id);
INSERT INTO nb (ts, v) VALUES ('2026-01-01 00:10', 1), ('2026-01-01 00:20', 2), (NULL, 3), (NULL, 4),
  ('infinity', 5), ('-infinity', 6), ('2026-01-01 01:10', 7);
SELECT strata.create_rollup('nb_h', $$SELECT date_trunc('hour', ts) AS bucket, count(*) AS n, sum(v) AS v FROM nb GROUP BY 1$$,
                            realtime => false) > 0 AS created;
SELECT strata.create_rollup('nb_d', $$SELECT date_trunc('day', bucket) AS day, sum(n) AS n, sum(v) AS v FROM nb_h GROUP BY 1$$) > 0 AS created;
SELECT strata.refresh_rollup('nb_h') ->> 'rows' AS rows, strata.refresh_rollup('nb_d') ->> 'buckets_recomputed' AS daily;
CREATE FUNCTION nb_diff() RETURNS bigint LANGUAGE sql AS $$
  SELECT (SELECT count(*) FROM ((SELECT date_trunc('hour', ts), count(*), sum(v) FROM nb GROUP BY 1 EXCEPT SELECT bucket, n, v FROM nb_h)
          UNION ALL (SELECT bucket, n, v FROM nb_h EXCEPT SELECT date_trunc('hour', ts), count(*), sum(v) FROM nb GROUP BY 1)) d)
       + (SELECT count(*) FROM ((SELECT date_trunc('day', date_trunc('hour', ts)), count(*)::numeric, sum(v) FROM nb GROUP BY 1
          EXCEPT SELECT day, n, v FROM nb_d) UNION ALL (SELECT day, n, v FROM nb_d
          EXCEPT SELECT date_trunc('day', date_trunc('hour', ts)), count(*)::numeric, sum(v) FROM nb GROUP BY 1)) d) $$;
SELECT nb_diff() AS diff, (SELECT count(*) FROM nb_h WHERE bucket IS NULL) AS null_bucket,
       (SELECT count(*) FROM nb_d WHERE day IS NULL) AS null_day;
-- A row moves out of the NULL bucket, another into it; the infinite rows change.
UPDATE nb SET ts = '2026-01-01 00:30' WHERE v = 3;
UPDATE nb SET ts = NULL WHERE v = 7;
UPDATE nb SET v = v * 10 WHERE NOT isfinite(ts);
DELETE FROM nb WHERE v = 4;
SELECT strata.refresh_rollup('nb_h') ->> 'buckets_recomputed' AS recomputed, strata.refresh_rollup('nb_d') ->> 'buckets_recomputed' AS daily;
SELECT nb_diff() AS diff;
SELECT bucket, n, v FROM nb_h ORDER BY bucket NULLS FIRST;
SELECT strata.drop_rollup('nb_d');
SELECT strata.drop_rollup('nb_h');
DROP FUNCTION nb_diff();
DROP TABLE nb;
