-- strata 0.9.0 -> 0.10.0: one change capture per source and one read of new rows per source, whatever the
-- number of rollups reading it.
\echo Use "ALTER EXTENSION strata UPDATE TO '0.10.0'" to load this file. \quit

-- One change capture per raw source, whatever the number of rollups reading it: a pair of statement
-- triggers (strata_changes_<id>_upd and _del, calling strata._rollup_capture(<id>)) on every relation of
-- the source's tree, logging the buckets of the changed rows into rollup_change once per statement, at
-- each grain the source's rollups use. Each rollup keeps its own position in that log (rollup.change_pos).
-- The worker's shared passes (one read of new rows for every due rollup of the source) are counted here.
CREATE TABLE @extschema@.rollup_source (
    id                serial PRIMARY KEY,
    source            regclass NOT NULL UNIQUE,
    passes            bigint NOT NULL DEFAULT 0,   -- shared refresh passes of the worker
    rows_read         bigint NOT NULL DEFAULT 0,   -- new rows those passes read (once each, for all rollups)
    last_pass_at      timestamptz,
    last_pass_rows    bigint,
    last_pass_rollups integer,                     -- rollups fed by the last pass
    last_pass_ms      double precision
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rollup_source', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rollup_source_id_seq', '');

-- The bucket expressions the capture of a source logs in: one per distinct bucket of its rollups.
CREATE TABLE @extschema@.rollup_grain (
    id          serial PRIMARY KEY,
    source_id   integer NOT NULL REFERENCES @extschema@.rollup_source (id) ON DELETE CASCADE,
    bucket_expr text NOT NULL,
    bucket_type text NOT NULL,
    time_column name NOT NULL,
    UNIQUE (source_id, bucket_expr)
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rollup_grain', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rollup_grain_id_seq', '');

-- The change log: a bucket of a grain changed by a committed UPDATE or DELETE, numbered in the order
-- the statements ran (CACHE 1: a refresh reads the positions up to a high mark taken before its writer
-- wait, as it reads order values). A timestamp bucket is stored as its reading in UTC. A statement
-- logging a bucket already there moves its entry to a new position (a heap-only update: `pos` is not
-- indexed; fillfactor leaves room); entries every rollup of the grain has passed are deleted by the
-- refresh that passes them last.
CREATE SEQUENCE @extschema@.rollup_change_pos;
CREATE TABLE @extschema@.rollup_change (
    grain integer NOT NULL,
    b     timestamptz,
    pos   bigint NOT NULL DEFAULT pg_catalog.nextval('@extschema@.rollup_change_pos')
) WITH (fillfactor = 50);
CREATE INDEX rollup_change_grain_b ON @extschema@.rollup_change (grain, b);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rollup_change', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rollup_change_pos', '');

ALTER TABLE @extschema@.rollup ADD COLUMN grain integer REFERENCES @extschema@.rollup_grain (id),
    ADD COLUMN change_pos bigint;

-- The capture's statement trigger function: logs the buckets of the rows an UPDATE or DELETE changed,
-- once per statement and grain (trigger argument: the rollup_source id). As the extension's owner; it
-- refuses to run but as strata's AFTER ... FOR EACH STATEMENT trigger on a relation of that source's tree.
-- Its statement finds a bucket's earlier entries by index, one probe per bucket: the plan is pinned to
-- that shape (the log is small but churns, so its statistics are rarely right), and never compiled (the
-- pinned plan's nominal cost would pass jit_above_cost).
CREATE FUNCTION @extschema@._rollup_capture() RETURNS trigger
LANGUAGE C SET search_path = pg_catalog, pg_temp SET enable_seqscan = off SET enable_bitmapscan = off
SET enable_hashjoin = off SET enable_mergejoin = off SET jit = off AS 'MODULE_PATHNAME', 'strata_rollup_capture';
REVOKE ALL ON FUNCTION @extschema@._rollup_capture() FROM PUBLIC;

-- Forgets grains no rollup uses and captures of sources no rollup reads (their triggers dropped), after
-- rollups were dropped or unregistered.
CREATE FUNCTION @extschema@._rollup_capture_sync() RETURNS void
LANGUAGE C AS 'MODULE_PATHNAME', 'strata_rollup_capture_sync';
REVOKE ALL ON FUNCTION @extschema@._rollup_capture_sync() FROM PUBLIC;

-- Each raw source's capture: its rollups, grains, queued changes and the worker's shared passes.
CREATE VIEW @extschema@.rollup_sources AS
SELECT s.source, (SELECT count(*) FROM @extschema@.rollup r WHERE r.grain IN (SELECT g.id FROM @extschema@.rollup_grain g
                                                                           WHERE g.source_id = s.id)) AS rollups,
       (SELECT count(*) FROM @extschema@.rollup_grain g WHERE g.source_id = s.id) AS grains,
       (SELECT count(*) FROM @extschema@.rollup_change c
         WHERE c.grain IN (SELECT g.id FROM @extschema@.rollup_grain g WHERE g.source_id = s.id)) AS changes_logged,
       s.passes, s.rows_read, s.last_pass_at, s.last_pass_rows, s.last_pass_rollups, s.last_pass_ms
FROM @extschema@.rollup_source s;
GRANT SELECT ON @extschema@.rollup_source, @extschema@.rollup_grain, @extschema@.rollup_sources TO PUBLIC;

-- Pending buckets include the changes logged past the rollup's position.
CREATE OR REPLACE FUNCTION @extschema@._rollup_lag(rollup_id integer, OUT lag_rows bigint, OUT pending_buckets bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE r record;
BEGIN
    SELECT * INTO r FROM @extschema@.rollup WHERE id = rollup_id;
    IF r.order_sequence IS NOT NULL THEN
        lag_rows := GREATEST(COALESCE(pg_catalog.pg_sequence_last_value(r.order_sequence), 0) - r.watermark, 0)
                    + COALESCE(r.backfill_cursor - r.backfill_floor, 0);
    END IF;
    -- Queued for a recompute: in its pending table, or logged by the source's capture past its position.
    EXECUTE pg_catalog.format('SELECT count(*) FROM (SELECT b FROM %s UNION SELECT %s FROM @extschema@.rollup_change c '
                              'WHERE c.grain = $1 AND c.pos > $2) u', r.pending_table,
                              CASE WHEN r.bucket_type = 'timestamp without time zone' THEN 'c.b AT TIME ZONE ''UTC'''
                                   ELSE 'c.b' END)
      INTO pending_buckets USING r.grain, r.change_pos;
END $$;

-- Unregistering a rollup lets its source's capture forget its grain.
CREATE OR REPLACE FUNCTION @extschema@._on_sql_drop() RETURNS event_trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
    kept text;
    unregistered boolean := false;
BEGIN
    IF pg_catalog.to_regclass('@extschema@.partition_set') IS NULL THEN
        RETURN;
    END IF;
    DELETE FROM @extschema@.partition_set s
     USING pg_catalog.pg_event_trigger_dropped_objects() d
     WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objsubid = 0
       AND d.objid = s.parent::pg_catalog.oid;
    IF pg_catalog.to_regclass('@extschema@.vacuum_policy') IS NOT NULL THEN
        DELETE FROM @extschema@.vacuum_policy v
         USING pg_catalog.pg_event_trigger_dropped_objects() d
         WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objsubid = 0
           AND d.objid = v.relid::pg_catalog.oid;
    END IF;
    IF pg_catalog.to_regclass('@extschema@.rollup') IS NULL THEN
        RETURN;
    END IF;
    -- drop_rollup() deletes the catalog row before it drops anything, so only other drops get here.
    -- Rollups that read an unregistered one go too (readers first: they reference it).
    FOR r IN
        WITH RECURSIVE dropped AS (
            SELECT d.objid, d.object_identity FROM pg_catalog.pg_event_trigger_dropped_objects() d
             WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objsubid = 0
        ), gone AS (
            SELECT x.id FROM @extschema@.rollup x
             WHERE EXISTS (SELECT 1 FROM dropped d
                            WHERE d.objid IN (x.view::pg_catalog.oid, x.data_table::pg_catalog.oid,
                                              x.pending_table::pg_catalog.oid, x.source::pg_catalog.oid,
                                              x.definition::pg_catalog.oid))
            UNION
            SELECT x.id FROM @extschema@.rollup x JOIN gone g ON x.source_rollup = g.id
        )
        SELECT x.id, x.level, x.change_function, x.pending_table::pg_catalog.oid AS pending_oid,
               x.data_table::pg_catalog.oid AS data_oid, x.definition::pg_catalog.oid AS definition_oid,
               COALESCE((SELECT d.object_identity FROM dropped d WHERE d.objid = x.view::pg_catalog.oid),
                        x.view::text) AS name
          FROM @extschema@.rollup x WHERE x.id IN (SELECT id FROM gone)
         ORDER BY x.level DESC, x.id
    LOOP
        DELETE FROM @extschema@.rollup WHERE id = r.id;
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE oid = r.pending_oid) THEN
            EXECUTE pg_catalog.format('DROP TABLE %s', r.pending_oid::pg_catalog.regclass);
        END IF;
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE oid = r.definition_oid) THEN
            EXECUTE pg_catalog.format('DROP VIEW %s', r.definition_oid::pg_catalog.regclass);
        END IF;
        -- A change function of its own (made before 0.10.0 and not moved to its source's capture yet).
        IF r.change_function IS NOT NULL
           AND pg_catalog.to_regprocedure(r.change_function || '()') IS NOT NULL THEN
            -- With the triggers that call it, if the source is still there.
            EXECUTE pg_catalog.format('DROP FUNCTION %s() CASCADE', r.change_function);
        END IF;
        unregistered := true;
        kept := (SELECT c.oid::pg_catalog.regclass::text FROM pg_catalog.pg_class c WHERE c.oid = r.data_oid);
        RAISE NOTICE 'rollup % is unregistered: its view, source, tables or the source columns it reads were dropped', r.name
            USING DETAIL = CASE WHEN kept IS NULL THEN 'Its data table was dropped too.'
                                ELSE pg_catalog.format('Its data table %s is kept with the buckets it holds.', kept) END,
                  HINT = 'Drop or rename the data table before creating a rollup of the same name again; '
                         'strata.drop_rollup() removes every part of a rollup.';
        INSERT INTO @extschema@.job_runs (job_kind, target, status, message, finished_at)
        VALUES ('rollup_drop', r.name, 'ok',
                'unregistered: its view, source, tables or the source columns it reads were dropped'
                || CASE WHEN kept IS NULL THEN '' ELSE '; data table ' || kept || ' kept' END,
                pg_catalog.clock_timestamp());
    END LOOP;
    -- The source's capture forgets their grains (and goes with the source's last rollup).
    IF unregistered THEN
        PERFORM @extschema@._rollup_capture_sync();
    END IF;
END $$;

-- Every rollup of a raw source moves to its source's capture, in this transaction: the source's tree is
-- locked against writers (SHARE ROW EXCLUSIVE), the shared triggers are made, the rollup's own triggers
-- and change function are dropped and its position starts at the log's end. Buckets its own triggers
-- queued stay in its pending table, so no change is lost.
CREATE FUNCTION @extschema@._rollup_share_capture() RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'strata_rollup_share_capture';
SELECT @extschema@._rollup_share_capture();
DROP FUNCTION @extschema@._rollup_share_capture();
