-- strata 0.8.0 -> 0.9.0: hardening (no crash, no privilege escalation, no silent loss under ordinary
-- DDL, roles and settings).
\echo Use "ALTER EXTENSION strata UPDATE TO '0.9.0'" to load this file. \quit

-- == ROLLUP DEFINITIONS ==
-- definition: a view over the source reading every column the rollup's stored SQL uses (by number, as
-- views do): Postgres refuses a type change or drop of those columns while the rollup exists, and after
-- a rename strata reads their new names from it. broken: why the worker stopped refreshing a rollup
-- whose stored SQL no longer fits its source (NULL: healthy).
ALTER TABLE @extschema@.rollup ADD COLUMN definition regclass, ADD COLUMN broken text;

CREATE FUNCTION @extschema@._rollup_follow(relations text) RETURNS void
LANGUAGE C AS 'MODULE_PATHNAME', 'strata_rollup_follow';
REVOKE ALL ON FUNCTION @extschema@._rollup_follow(text) FROM PUBLIC;

-- After ALTER TABLE: rollups reading an altered relation follow renamed columns in the same transaction,
-- so their change triggers never run with stale names. Runs as the altering role; the C function
-- rewrites each change function as its owner.
CREATE FUNCTION @extschema@._on_alter_table() RETURNS event_trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rels pg_catalog.oid[];
BEGIN
    IF pg_catalog.to_regclass('@extschema@.rollup') IS NULL
       OR NOT EXISTS (SELECT 1 FROM @extschema@.rollup WHERE definition IS NOT NULL) THEN
        RETURN;
    END IF;
    rels := ARRAY(SELECT DISTINCT c.objid FROM pg_catalog.pg_event_trigger_ddl_commands() c
                   WHERE c.classid = 'pg_catalog.pg_class'::pg_catalog.regclass);
    IF pg_catalog.cardinality(rels) > 0 THEN
        PERFORM @extschema@._rollup_follow(rels::text);
    END IF;
END $$;
CREATE EVENT TRIGGER strata_alter_table ON ddl_command_end WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION @extschema@._on_alter_table();

-- Also unregister a rollup whose definition view is dropped (DROP COLUMN ... CASCADE of a column it reads).
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
        IF r.change_function IS NOT NULL
           AND pg_catalog.to_regprocedure(r.change_function || '()') IS NOT NULL THEN
            -- With the triggers that call it, if the source is still there.
            EXECUTE pg_catalog.format('DROP FUNCTION %s() CASCADE', r.change_function);
        END IF;
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
END $$;

-- Rollups made before: definition views, and change functions that only run as their triggers.
CREATE FUNCTION @extschema@._rollup_protect_all() RETURNS void
LANGUAGE C AS 'MODULE_PATHNAME', 'strata_rollup_protect_all';
REVOKE ALL ON FUNCTION @extschema@._rollup_protect_all() FROM PUBLIC;
SELECT @extschema@._rollup_protect_all();

-- == JOB_RUNS VISIBILITY ==
-- A role sees the actions on relations it may read or owns, and the ones it ran; superusers (and the
-- extension's owner, which writes the table) see every row. The views reading job_runs check the
-- reader's rights, not their owner's.
CREATE FUNCTION @extschema@._job_visible(target text, run_as name) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT run_as OPERATOR(pg_catalog.=) CURRENT_USER
        OR target IS NULL
        OR EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                    WHERE c.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass(target)
                      AND (pg_catalog.pg_has_role(c.relowner, 'USAGE')
                           OR pg_catalog.has_table_privilege(c.oid, 'SELECT')))
$$;
ALTER TABLE @extschema@.job_runs ENABLE ROW LEVEL SECURITY;
CREATE POLICY job_runs_visible ON @extschema@.job_runs FOR SELECT USING (@extschema@._job_visible(target, run_as));
ALTER VIEW @extschema@.vacuum_activity SET (security_invoker = true);
ALTER VIEW @extschema@.partition_sets SET (security_invoker = true);
-- == QSKETCH_QUANTILE_CONT ==
-- quantile() now follows percentile_disc (rank ceil(q * n)); quantile_cont() is percentile_cont's
-- interpolation on the sketch.
CREATE FUNCTION @extschema@.quantile_cont(@extschema@.qsketch, double precision) RETURNS double precision
  AS 'MODULE_PATHNAME', 'strata_qsketch_quantile_cont' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.quantile_cont(@extschema@.qsketch, double precision)
IS 'the q-quantile as percentile_cont computes it (linear interpolation), within the sketch''s relative accuracy';
COMMENT ON FUNCTION @extschema@.quantile(@extschema@.qsketch, double precision)
IS 'the q-quantile as percentile_disc defines it, within the sketch''s relative accuracy';
