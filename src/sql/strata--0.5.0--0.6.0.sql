-- strata 0.5.0 -> 0.6.0: a rollup whose view, source or tables are dropped outside drop_rollup() (for
-- example DROP TABLE <source> CASCADE, which takes the real-time view with it) is unregistered, with the
-- rollups that read it: its catalog row, pending table and change trigger go; its data table, if it
-- still exists, is kept (it may hold buckets whose raw rows are gone) and a NOTICE names it.
\echo Use "ALTER EXTENSION strata UPDATE TO '0.6.0'" to load this file. \quit

CREATE OR REPLACE FUNCTION @extschema@._on_sql_drop() RETURNS event_trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
    kept text;
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
                                              x.pending_table::pg_catalog.oid, x.source::pg_catalog.oid))
            UNION
            SELECT x.id FROM @extschema@.rollup x JOIN gone g ON x.source_rollup = g.id
        )
        SELECT x.id, x.level, x.change_function, x.pending_table::pg_catalog.oid AS pending_oid,
               x.data_table::pg_catalog.oid AS data_oid,
               COALESCE((SELECT d.object_identity FROM dropped d WHERE d.objid = x.view::pg_catalog.oid),
                        x.view::text) AS name
          FROM @extschema@.rollup x WHERE x.id IN (SELECT id FROM gone)
         ORDER BY x.level DESC, x.id
    LOOP
        DELETE FROM @extschema@.rollup WHERE id = r.id;
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE oid = r.pending_oid) THEN
            EXECUTE pg_catalog.format('DROP TABLE %s', r.pending_oid::pg_catalog.regclass);
        END IF;
        IF r.change_function IS NOT NULL
           AND pg_catalog.to_regprocedure(r.change_function || '()') IS NOT NULL THEN
            -- With the triggers that call it, if the source is still there.
            EXECUTE pg_catalog.format('DROP FUNCTION %s() CASCADE', r.change_function);
        END IF;
        kept := (SELECT c.oid::pg_catalog.regclass::text FROM pg_catalog.pg_class c WHERE c.oid = r.data_oid);
        RAISE NOTICE 'rollup % is unregistered: its view, source or tables were dropped', r.name
            USING DETAIL = CASE WHEN kept IS NULL THEN 'Its data table was dropped too.'
                                ELSE pg_catalog.format('Its data table %s is kept with the buckets it holds.', kept) END,
                  HINT = 'Drop or rename the data table before creating a rollup of the same name again; '
                         'strata.drop_rollup() removes every part of a rollup.';
        INSERT INTO @extschema@.job_runs (job_kind, target, status, message, finished_at)
        VALUES ('rollup_drop', r.name, 'ok',
                'unregistered: its view, source or tables were dropped'
                || CASE WHEN kept IS NULL THEN '' ELSE '; data table ' || kept || ' kept' END,
                pg_catalog.clock_timestamp());
    END LOOP;
END $$;
