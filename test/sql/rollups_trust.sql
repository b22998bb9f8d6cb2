-- Hardening of rollups: source DDL (renames followed, type changes and drops refused, a mismatch caught
-- by the receiver without a crash), quoting, order values that go back, attached partitions, time zones,
-- temporary schemas, error positions, escalation through rollups of rollups and change functions,
-- planted operators on the caller's search_path.
-- 1. A source column renamed or retyped under a rollup (as a non-superuser owner).
CREATE ROLE h_owner LOGIN;
GRANT CREATE ON SCHEMA public TO h_owner;
SET ROLE h_owner;
CREATE TABLE a_c (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, txt text, num bigint, k int);
CREATE INDEX ON a_c (id);
INSERT INTO a_c (ts, txt, num, k) SELECT '2026-01-01'::timestamptz + g * interval '1 minute', 'v' || g, g, g % 3 FROM generate_series(1, 300) g;
SELECT strata.create_rollup('a_c_hourly', $$SELECT date_trunc('hour', ts) AS bucket, k, max(txt) AS top, sum(num) AS total
  FROM a_c WHERE k <> 2 GROUP BY 1, 2$$, realtime => false) > 0 AS created;
SELECT strata.refresh_rollup('a_c_hourly') ->> 'rows' AS rows;
-- Renames are followed: the stored SQL and the change function now read the renamed columns.
ALTER TABLE a_c RENAME COLUMN txt TO txt_old;
ALTER TABLE a_c RENAME COLUMN num TO txt;
ALTER TABLE a_c RENAME COLUMN k TO kk;
ALTER TABLE a_c RENAME COLUMN ts TO at;
INSERT INTO a_c (at, txt_old, txt, kk) SELECT '2026-01-01'::timestamptz + g * interval '1 minute', 'w' || g, g, g % 3 FROM generate_series(301, 400) g;
UPDATE a_c SET txt = txt + 1 WHERE id <= 10;
DELETE FROM a_c WHERE id BETWEEN 20 AND 25;
SELECT strata.refresh_rollup('a_c_hourly') ->> 'rows' AS rows;
SELECT (SELECT count(*) FROM a_c_hourly) AS groups,
       (SELECT count(*) FROM (SELECT date_trunc('hour', at), kk, max(txt_old), sum(txt) FROM a_c WHERE kk <> 2 GROUP BY 1, 2
                              EXCEPT SELECT bucket, k, top, total FROM a_c_hourly) d) AS differing;
SELECT time_column, order_column, where_clause FROM strata.rollup WHERE view = 'a_c_hourly'::regclass;
-- Changes the rollup cannot follow are refused while it exists.
ALTER TABLE a_c ALTER COLUMN txt TYPE numeric;
ALTER TABLE a_c DROP COLUMN txt_old;
ALTER TABLE a_c ALTER COLUMN id TYPE numeric;
-- An unused column can still change.
ALTER TABLE a_c ADD COLUMN extra int;
ALTER TABLE a_c ALTER COLUMN extra TYPE bigint;
RESET ROLE;
-- The receiver checks the query's column types against the data table's, whatever happened around
-- the definition view (here: event triggers off, the view dropped, the column retyped).
CREATE TABLE r_t (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, watch_ms int);
CREATE INDEX ON r_t (id);
INSERT INTO r_t (ts, watch_ms) SELECT '2026-01-01'::timestamptz + g * interval '1 minute', g FROM generate_series(1, 100) g;
SELECT strata.create_rollup('r_t_h', $$SELECT date_trunc('hour', ts) AS bucket, sum(watch_ms) AS w, max(watch_ms) AS m FROM r_t GROUP BY 1$$,
                            realtime => false) > 0 AS created;
SELECT strata.refresh_rollup('r_t_h') ->> 'rows' AS rows;
SET session_replication_role = replica;
DROP VIEW r_t_h_definition;
UPDATE strata.rollup SET definition = NULL WHERE view = 'r_t_h'::regclass;
ALTER TABLE r_t ALTER COLUMN watch_ms TYPE bigint;
RESET session_replication_role;
INSERT INTO r_t (ts, watch_ms) VALUES ('2026-01-01 01:30', 5);
SELECT strata.refresh_rollup('r_t_h');
-- The rollup is left as it was.
SELECT sum(w) AS w, count(*) AS groups FROM r_t_h;
-- Quoting: user text in the WHERE clause cannot end the change function's body.
SET check_function_bodies = off;
CREATE TABLE q_t (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, kind text);
SELECT strata.create_rollup('q_t_h', $q$SELECT date_trunc('hour', ts) AS bucket, count(*) AS n FROM q_t
  WHERE kind <> '$strata_inv$; CREATE TABLE injected (); $strata_inv$' GROUP BY 1$q$) > 0 AS created;
RESET check_function_bodies;
INSERT INTO q_t (ts, kind) VALUES ('2026-01-01 00:10', 'a'), ('2026-01-01 00:20', 'b');
SELECT strata.refresh_rollup('q_t_h') ->> 'rows' AS rows;
UPDATE q_t SET kind = 'c' WHERE kind = 'a';
SELECT to_regclass('injected') AS injected, (SELECT pending_buckets FROM strata.rollups WHERE name = 'q_t_h'::regclass) AS queued;
-- Order values that go back: sequences counting down or cycling are refused; one set back is detected.
CREATE TABLE s_t (id bigint GENERATED ALWAYS AS IDENTITY (INCREMENT BY -1 START WITH -1), ts timestamptz NOT NULL);
SELECT strata.create_rollup('s_t_h', $$SELECT date_trunc('hour', ts) AS bucket, count(*) AS n FROM s_t GROUP BY 1$$) > 0 AS created;
ALTER TABLE s_t ALTER COLUMN id SET INCREMENT BY 1 SET MINVALUE 1 SET MAXVALUE 1000000 SET START WITH 1 SET CYCLE RESTART;
SELECT strata.create_rollup('s_t_h', $$SELECT date_trunc('hour', ts) AS bucket, count(*) AS n FROM s_t GROUP BY 1$$) > 0 AS created;
ALTER TABLE s_t ALTER COLUMN id SET NO CYCLE;
CREATE INDEX ON s_t (id);
SELECT strata.create_rollup('s_t_h', $$SELECT date_trunc('hour', ts) AS bucket, count(*) AS n FROM s_t GROUP BY 1$$) > 0 AS created;
INSERT INTO s_t (ts) SELECT '2026-01-01'::timestamptz + g * interval '1 minute' FROM generate_series(1, 50) g;
SELECT strata.refresh_rollup('s_t_h') ->> 'rows' AS rows;
ALTER TABLE s_t ALTER COLUMN id RESTART WITH 1;
INSERT INTO s_t (ts) VALUES ('2026-01-01 05:00');
SELECT strata.refresh_rollup('s_t_h');
-- ATTACH PARTITION of a table whose rows carry order values the watermark passed: they are absorbed.
CREATE TABLE p_t (id bigint NOT NULL, ts timestamptz NOT NULL) PARTITION BY RANGE (ts);
CREATE SEQUENCE p_t_seq OWNED BY p_t.id;
ALTER TABLE p_t ALTER COLUMN id SET DEFAULT nextval('p_t_seq');
CREATE TABLE p_t_1 PARTITION OF p_t FOR VALUES FROM ('2026-01-01') TO ('2026-01-02');
CREATE INDEX ON p_t (id);
INSERT INTO p_t (ts) SELECT '2026-01-01'::timestamptz + g * interval '1 minute' FROM generate_series(1, 60) g;
SELECT strata.create_rollup('p_t_h', $$SELECT date_trunc('hour', ts) AS bucket, count(*) AS n FROM p_t GROUP BY 1$$) > 0 AS created;
SELECT strata.refresh_rollup('p_t_h') ->> 'rows' AS rows;
CREATE TABLE p_t_2 (id bigint NOT NULL, ts timestamptz NOT NULL);
INSERT INTO p_t_2 VALUES (1, '2026-01-02 00:30'), (2, '2026-01-02 01:30'), (3, '2026-01-02 01:40');
ALTER TABLE p_t ATTACH PARTITION p_t_2 FOR VALUES FROM ('2026-01-02') TO ('2026-01-03');
SELECT strata.refresh_rollup('p_t_h') ->> 'buckets_recomputed' AS recomputed;
SELECT (SELECT count(*) FROM (SELECT date_trunc('hour', ts), count(*) FROM p_t GROUP BY 1 EXCEPT SELECT bucket, n FROM p_t_h) d) AS differing;
-- Time zones: a UTC day bucket (stored as date_bin) recomputed from a session in a zone with DST.
SET TimeZone = 'UTC';
CREATE TABLE z_t (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, v int);
CREATE INDEX ON z_t (id);
INSERT INTO z_t (ts, v) SELECT '2026-03-29'::timestamptz + g * interval '30 minutes', 1 FROM generate_series(0, 47) g;
SELECT strata.create_rollup('z_t_d', $$SELECT date_trunc('day', ts) AS bucket, count(*) AS n FROM z_t GROUP BY 1$$) > 0 AS created;
SELECT strata.refresh_rollup('z_t_d') ->> 'rows' AS rows;
SET TimeZone = 'Europe/Paris';
UPDATE z_t SET v = 2;
SELECT strata.refresh_rollup('z_t_d') ->> 'buckets_recomputed' AS recomputed;
RESET TimeZone;
SELECT bucket AT TIME ZONE 'UTC' AS day, n FROM z_t_d ORDER BY 1;
-- A rollup cannot live in a temporary schema.
SELECT strata.create_rollup('pg_temp.tmp_h', $$SELECT date_trunc('hour', ts) AS bucket, count(*) AS n FROM z_t GROUP BY 1$$) > 0 AS created;
-- An error in the query text points into it.
SELECT strata.create_rollup('bad_h', $$SELECT date_trunc('hour', ts) AS bucket, count(*) AS n FROM z_t WHERE nosuch > 1 GROUP BY 1$$) > 0 AS created;
-- A dimension without a length bound is refused: one value too long for the data table's key index
-- would stop every later refresh. A bounded column (as the hint says) takes such values.
CREATE TABLE ld (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, label text);
CREATE INDEX ON ld (id);
SELECT strata.create_rollup('ld_h', $$SELECT date_trunc('hour', ts) AS bucket, label, count(*) AS n FROM ld GROUP BY 1, 2$$) > 0 AS created;
ALTER TABLE ld ADD COLUMN label_key varchar(200) GENERATED ALWAYS AS (left(label, 200)) STORED;
SELECT strata.create_rollup('ld_h', $$SELECT date_trunc('hour', ts) AS bucket, label_key, count(*) AS n FROM ld GROUP BY 1, 2$$) > 0 AS created;
INSERT INTO ld (ts, label) SELECT '2026-01-01 00:10', string_agg(md5(g::text), '') FROM generate_series(1, 200) g;
SELECT strata.refresh_rollup('ld_h') ->> 'rows' AS rows, (SELECT length(label_key) FROM ld_h) AS key_length;
-- Bounded columns whose widths add up past the key index's room are refused too.
ALTER TABLE ld ADD COLUMN l2 varchar(300), ADD COLUMN l3 varchar(300);
SELECT strata.create_rollup('ld_h2', $$SELECT date_trunc('hour', ts) AS bucket, label_key, l2, l3, count(*) AS n FROM ld GROUP BY 1, 2, 3, 4$$) > 0 AS created;
SELECT strata.drop_rollup('ld_h');
DROP TABLE ld;
-- Privilege escalation through a rollup of someone else's rollup.
CREATE TABLE e_src (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, v int);
CREATE INDEX ON e_src (id);
INSERT INTO e_src (ts, v) SELECT '2026-01-01'::timestamptz + g * interval '10 minutes', g FROM generate_series(1, 30) g;
SELECT strata.create_rollup('e_hourly', $$SELECT date_trunc('hour', ts) AS bucket, sum(v) AS v FROM e_src GROUP BY 1$$) > 0 AS created;
SELECT strata.refresh_rollup('e_hourly') ->> 'rows' AS rows;
CREATE ROLE e_evil LOGIN;
GRANT CREATE ON SCHEMA public TO e_evil;
GRANT SELECT ON e_hourly, e_hourly_data TO e_evil;
SET ROLE e_evil;
SELECT strata.create_rollup('e_daily', $$SELECT date_trunc('day', bucket) AS day, sum(v) AS v FROM e_hourly GROUP BY 1$$) > 0 AS created;
CREATE FUNCTION e_escalate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ALTER ROLE e_evil SUPERUSER; RETURN NEW; END $$;
-- The pending table the source's refresh writes into is not the dependent's to attach code to.
CREATE TRIGGER e_escalate BEFORE INSERT ON e_daily_pending FOR EACH ROW EXECUTE FUNCTION e_escalate();
ALTER TABLE e_daily_pending ENABLE ROW LEVEL SECURITY;
SELECT strata.refresh_rollup('e_daily') ->> 'buckets_recomputed' AS recomputed;
RESET ROLE;
INSERT INTO e_src (ts, v) VALUES ('2026-01-01 02:30', 100);
SELECT strata.refresh_rollup('e_hourly') ->> 'rows' AS rows;
SELECT rolsuper FROM pg_roles WHERE rolname = 'e_evil';
SELECT (SELECT count(*) FROM e_daily_pending) AS queued_for_dependent;
-- The source's owner drops it although another role's rollup reads it: that one is unregistered.
SELECT strata.drop_rollup('e_hourly');
SELECT count(*) AS e_rollups FROM strata.rollup WHERE view::text LIKE 'e\_%';
SELECT to_regclass('e_daily_data') IS NOT NULL AS dependent_data_kept;
DROP VIEW e_daily; DROP TABLE e_daily_data; DROP FUNCTION e_escalate(); DROP TABLE e_src;
DROP OWNED BY e_evil;
-- The capture function runs only as strata's trigger on a source: no EXECUTE for others, no direct use.
CREATE TABLE c_src (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL);
SELECT strata.create_rollup('c_h', $$SELECT date_trunc('hour', ts) AS bucket, count(*) AS n FROM c_src GROUP BY 1$$) > 0 AS created;
SELECT has_function_privilege('e_evil', 'strata._rollup_capture()', 'EXECUTE') AS evil_may_execute;
SET ROLE e_evil;
CREATE TEMP TABLE c_mine (ts timestamptz);
CREATE TRIGGER c_steal AFTER UPDATE ON c_mine REFERENCING OLD TABLE AS __strata_old NEW TABLE AS __strata_new
  FOR EACH STATEMENT EXECUTE FUNCTION strata._rollup_capture('1');
-- Nor call it, or the capture's sync, directly.
SELECT test_err('SELECT strata._rollup_capture()') AS call_capture,
       test_err('SELECT strata._rollup_capture_sync()') AS call_sync;
RESET ROLE;
-- Even a superuser cannot attach it to another table and have it log anything there, nor use it as a
-- row trigger or without its transition tables.
CREATE TABLE c_other (ts timestamptz);
DO $$ BEGIN
  EXECUTE format('CREATE TRIGGER c_other AFTER DELETE ON c_other REFERENCING OLD TABLE AS __strata_old '
                 'FOR EACH STATEMENT EXECUTE FUNCTION strata._rollup_capture(%L)',
                 (SELECT id FROM strata.rollup_source WHERE source = 'c_src'::regclass));
END $$;
INSERT INTO c_other VALUES ('2026-01-01');
DELETE FROM c_other;
SELECT count(*) AS logged_from_elsewhere FROM strata.rollup_change c JOIN strata.rollup_grain g ON g.id = c.grain
  JOIN strata.rollup_source s ON s.id = g.source_id WHERE s.source = 'c_src'::regclass;
DROP TRIGGER c_other ON c_other;
CREATE TRIGGER c_other AFTER DELETE ON c_other FOR EACH ROW EXECUTE FUNCTION strata._rollup_capture('1');
INSERT INTO c_other VALUES ('2026-01-01');
SELECT test_err('DELETE FROM c_other');
SELECT test_err('SELECT strata._rollup_capture()');
DROP TABLE c_other;
-- Operators and functions planted on the caller's search_path are never used by strata.
CREATE SCHEMA evil;
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['regclass', 'oid', 'integer', 'bigint', 'text', 'name', 'boolean', 'timestamptz', 'regprocedure'] LOOP
    EXECUTE format('CREATE FUNCTION evil.hijack(%s, %s) RETURNS boolean LANGUAGE plpgsql AS '
                   '$f$ BEGIN RAISE EXCEPTION ''hijacked by an operator on %s''; END $f$', t, t, t);
    EXECUTE format('CREATE OPERATOR evil.= (LEFTARG = %s, RIGHTARG = %s, FUNCTION = evil.hijack)', t, t);
    EXECUTE format('CREATE OPERATOR evil.<> (LEFTARG = %s, RIGHTARG = %s, FUNCTION = evil.hijack)', t, t);
  END LOOP;
END $$;
CREATE FUNCTION evil.to_regclass(text) RETURNS regclass LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hijacked to_regclass'; END $$;
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hijacked now'; END $$;
SET search_path = evil, pg_catalog, public;
INSERT INTO c_src (ts) VALUES ('2026-01-01 00:10'), ('2026-01-01 01:10');
SELECT strata.refresh_rollup('c_h') ->> 'rows' AS rows;
UPDATE c_src SET ts = ts + interval '1 minute';
SELECT strata.refresh_rollup('c_h') ->> 'buckets_recomputed' AS recomputed;
SELECT strata.alter_rollup('c_h', refresh_interval => '5 minutes');
SELECT strata.alter_rollup('c_h', realtime => true);
SELECT count(*) FROM strata.rollups WHERE name OPERATOR(pg_catalog.=) 'c_h'::regclass;
SELECT strata.create_rollup('c_h2', $$SELECT date_trunc('hour', ts) AS bucket, count(*) AS n FROM c_src GROUP BY 1$$) > 0 AS created;
SELECT strata.drop_rollup('c_h2');
CREATE TABLE public.c_parts (id bigint, ts timestamptz NOT NULL) PARTITION BY RANGE (ts);
SELECT strata.create_partition_set('c_parts', 'ts', '1 day', premake => 1) OPERATOR(pg_catalog.>) 0 AS created;
SELECT count(*) OPERATOR(pg_catalog.>) 0 AS listed FROM strata.partition_sets WHERE parent OPERATOR(pg_catalog.=) 'public.c_parts'::regclass;
SELECT count(*) OPERATOR(pg_catalog.>=) 0 AS ran FROM strata.run_maintenance('public.c_parts');
SELECT strata.alter_partition_set('c_parts', premake => 2);
SELECT count(*) OPERATOR(pg_catalog.>=) 0 AS planned FROM strata.vacuum_plan();
SELECT strata.set_vacuum_policy('c_parts', enabled => true);
SELECT strata.reset_vacuum_policy('c_parts');
SELECT strata.undo_partition_set('c_parts');
SELECT count(*) OPERATOR(pg_catalog.>=) 0 AS workers FROM strata.workers;
SELECT strata.drop_rollup('c_h');
RESET search_path;
DROP TABLE c_parts, c_src;
DROP SCHEMA evil CASCADE;

-- The upgrade to 0.9.0 protects rollups made before: simulate one (no definition view) and run the
-- upgrade's step again.
SELECT strata.create_rollup('u_h', $$SELECT date_trunc('hour', ts) AS bucket, count(*) AS n FROM q_t GROUP BY 1$$) > 0 AS created;
SET session_replication_role = replica;
DROP VIEW u_h_definition;
RESET session_replication_role;
UPDATE strata.rollup SET definition = NULL WHERE view = 'u_h'::regclass;
-- 0.8.0's triggers fired in origin mode only: they become ALWAYS without a recompute of everything.
SET session_replication_role = replica;
DO $$ DECLARE t text; BEGIN
  FOR t IN SELECT tgname FROM pg_trigger WHERE tgrelid = 'q_t'::regclass AND tgfoid = 'strata._rollup_capture()'::regprocedure LOOP
    EXECUTE format('ALTER TABLE q_t ENABLE TRIGGER %I', t);
  END LOOP; END $$;
RESET session_replication_role;
SELECT strata._rollup_protect_all();
SELECT strata.refresh_rollup('u_h') ->> 'buckets_recomputed' AS recomputed;
SELECT string_agg(DISTINCT tgenabled::text, ',') AS enabled FROM pg_trigger
 WHERE tgrelid = 'q_t'::regclass AND tgfoid = 'strata._rollup_capture()'::regprocedure;
SELECT definition::text AS definition FROM strata.rollup WHERE view = 'u_h'::regclass;
ALTER TABLE q_t RENAME COLUMN ts TO t2;
SELECT time_column FROM strata.rollup WHERE view = 'u_h'::regclass;
ALTER TABLE q_t RENAME COLUMN t2 TO ts;
SELECT strata.drop_rollup('u_h');
-- No function of the extension that runs with its owner's rights is PUBLIC's, except the two progress
-- lookups every real-time view calls as its reader (one number each, also in the catalog table).
SELECT p.oid::regprocedure AS definer_function, has_function_privilege('e_evil', p.oid, 'EXECUTE') AS evil_may_execute
  FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'strata'
 WHERE p.prosecdef ORDER BY p.oid::regprocedure::text;
SET ROLE e_evil;
SELECT strata._rollup_lag((SELECT id FROM strata.rollup WHERE view = 'q_t_h'::regclass));
SELECT strata._rollup_figures((SELECT id FROM strata.rollup WHERE view = 'q_t_h'::regclass));
-- Another role's rollup in strata.rollups: listed, its live figures withheld.
SELECT name, lag_rows, pending_buckets, figures_error FROM strata.rollups WHERE name = 'q_t_h'::regclass;
RESET ROLE;
-- job_runs shows a role the actions on relations it may read, and no others.
SET ROLE e_evil;
SELECT count(*) AS rows_seen FROM strata.job_runs WHERE target LIKE '%q_t_h%';
RESET ROLE;
GRANT SELECT ON q_t_h TO e_evil;
SET ROLE e_evil;
SELECT count(*) > 0 AS rows_seen FROM strata.job_runs WHERE target LIKE '%q_t_h%';
SELECT name, lag_rows IS NOT NULL AS has_lag, figures_error FROM strata.rollups WHERE name = 'q_t_h'::regclass;
RESET ROLE;
-- Clean up.
SELECT strata.drop_rollup(n) FROM unnest(ARRAY['a_c_hourly', 'q_t_h', 's_t_h', 'p_t_h', 'z_t_d']) n;
-- r_t_h lost its definition view (event triggers were off): drop_rollup() drops the rest.
SELECT strata.drop_rollup('r_t_h');
DROP TABLE a_c, r_t, q_t, s_t, p_t, z_t;
DROP OWNED BY h_owner;
DROP ROLE h_owner;
DROP OWNED BY e_evil;
DROP ROLE e_evil;
