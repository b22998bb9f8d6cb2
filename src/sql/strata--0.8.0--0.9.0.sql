-- strata 0.8.0 -> 0.9.0: hardening (no crash, no privilege escalation, no silent loss under ordinary
-- DDL, roles and settings).
\echo Use "ALTER EXTENSION strata UPDATE TO '0.9.0'" to load this file. \quit

-- == ROLLUP CATALOG ==
-- definition: a view over the source reading every column the rollup's stored SQL uses (by number, as
-- views do): Postgres refuses a type change or drop of those columns while the rollup exists, and after
-- a rename strata reads their new names from it. broken: why the worker stopped refreshing a rollup
-- whose stored SQL no longer fits its source (NULL: healthy).
-- failures: refreshes failed in a row (the worker backs off: the refresh interval doubled per failure,
-- at most an hour).
ALTER TABLE @extschema@.rollup ADD COLUMN definition regclass, ADD COLUMN broken text,
    ADD COLUMN failures integer NOT NULL DEFAULT 0;

-- == VIEWS_DEGRADE_PER_ROW ==
-- The catalog views compute each row's live figures in a function that catches the error of that one row
-- (a source, sequence or pending table gone, a table in another session's temporary schema): the row
-- shows NULL figures and the error in `figures_error` instead of the whole view failing for everyone.
-- Cancels and assertion failures are not caught (WHEN OTHERS leaves them alone).
CREATE FUNCTION @extschema@._rollup_figures(rollup_id integer, OUT lag_rows bigint, OUT pending_buckets bigint,
    OUT figures_error text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE r record;
BEGIN
    SELECT x.order_column, x.order_sequence,
           (SELECT pg_catalog.string_agg(w.what, ', ') FROM (VALUES ('source', x.source::pg_catalog.oid),
                   ('data table', x.data_table::pg_catalog.oid), ('pending table', x.pending_table::pg_catalog.oid)) w(what, rel)
             WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = w.rel)) AS missing
      INTO r FROM @extschema@.rollup x WHERE x.id = rollup_id;
    -- Relations dropped behind strata's back (event triggers off): say which, not a syntax error about an OID.
    IF r.missing IS NOT NULL THEN
        figures_error := pg_catalog.format('the %s of this rollup no longer exists', r.missing);
        RETURN;
    END IF;
    -- The one breakage with an unreadable error of its own ("could not open relation with OID ...").
    IF r.order_sequence IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = r.order_sequence) THEN
        figures_error := pg_catalog.format('the sequence of order column %I is gone (the column or its identity '
                                           'was dropped): new source rows cannot be found', r.order_column);
        RETURN;
    END IF;
    SELECT l.lag_rows, l.pending_buckets INTO lag_rows, pending_buckets FROM @extschema@._rollup_lag(rollup_id) l;
EXCEPTION WHEN OTHERS THEN
    lag_rows := NULL;
    pending_buckets := NULL;
    figures_error := SQLERRM || ' (SQLSTATE ' || SQLSTATE || ')';
END $$;
-- Only _rollup_live (as the caller, who must be able to read the rollup) runs it, as the extension's
-- owner; so do _rollup_lag and the other SECURITY DEFINER functions of the extension: none is PUBLIC's.
REVOKE ALL ON FUNCTION @extschema@._rollup_figures(integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._rollup_lag(integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._on_sql_drop() FROM PUBLIC;
CREATE FUNCTION @extschema@._rollup_live(rollup_id integer, OUT lag_rows bigint, OUT pending_buckets bigint,
    OUT figures_error text)
LANGUAGE C STABLE STRICT SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'strata_rollup_live';

CREATE FUNCTION @extschema@._partition_set_live(parent regclass,
    OUT partition_count integer, OUT oldest_bound text, OUT newest_bound text, OUT partitions_ahead integer,
    OUT default_rows bigint, OUT detach_pending text, OUT actions_due integer, OUT figures_error text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    SELECT st.partition_count, st.oldest_bound, st.newest_bound, st.partitions_ahead, st.default_rows,
           st.detach_pending, st.actions_due
      INTO partition_count, oldest_bound, newest_bound, partitions_ahead, default_rows, detach_pending, actions_due
      FROM @extschema@.partition_set_state(parent) st;
EXCEPTION WHEN OTHERS THEN
    partition_count := NULL; oldest_bound := NULL; newest_bound := NULL; partitions_ahead := NULL;
    default_rows := NULL; detach_pending := NULL; actions_due := NULL;
    figures_error := SQLERRM || ' (SQLSTATE ' || SQLSTATE || ')';
END $$;

-- strata.rollups reads _rollup_live(); it is redefined once, at the end of this script (BOOKKEEPING).

CREATE OR REPLACE VIEW @extschema@.partition_sets AS
SELECT s.parent, s.control_column, s.key_type, s.partition_interval, s.premake, s.retention,
       s.retention_keep_table, s.default_partition, s.partition_options, s.partition_tablespace, s.enabled,
       st.partition_count, st.oldest_bound, st.newest_bound, st.partitions_ahead, st.default_rows,
       st.detach_pending, st.actions_due,
       j.finished_at AS last_action_at, j.job_kind AS last_action, j.status AS last_status,
       j.message AS last_message,
       (SELECT max(w.last_pass_at) FROM @extschema@.worker_status() w
         WHERE w.datname = pg_catalog.current_database()) AS worker_last_pass_at,
       st.figures_error
FROM @extschema@.partition_set s
JOIN pg_catalog.pg_class c ON c.oid = s.parent
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL @extschema@._partition_set_live(s.parent) st
LEFT JOIN LATERAL (
    SELECT r.finished_at, r.job_kind, r.status, r.message FROM @extschema@.job_runs r
    WHERE r.target = '"' || pg_catalog.replace(n.nspname, '"', '""') || '"."'
                     || pg_catalog.replace(c.relname, '"', '""') || '"'
    ORDER BY r.id DESC LIMIT 1) j ON true;

-- == WORKERS_WAITING ==
-- More databases than strata.max_workers: the ones due for a worker wait in a queue (state 'waiting for
-- a worker slot', since waiting_since) and workers give their slot up after a pass while one waits.
-- worker_status() keeps its columns (partition_sets reads it); the view reads the wider function.
CREATE FUNCTION @extschema@._worker_slots(
    OUT datname text, OUT pid integer, OUT state text, OUT started_at timestamptz, OUT last_pass_at timestamptz,
    OUT passes bigint, OUT naptime_ms integer, OUT failures integer, OUT last_error text,
    OUT waiting_since timestamptz)
RETURNS SETOF record LANGUAGE C
AS 'MODULE_PATHNAME', 'strata_worker_status';

CREATE OR REPLACE VIEW @extschema@.workers AS
SELECT w.datname, w.pid, w.state, w.started_at, w.last_pass_at, w.passes, w.naptime_ms, w.failures, w.last_error,
       w.waiting_since, pg_catalog.clock_timestamp() - w.waiting_since AS waiting_for
FROM @extschema@._worker_slots() w;
-- == ROLLUP DEFINITIONS ==

-- After ALTER TABLE or CREATE TABLE: rollups reading an altered relation follow renamed columns in the
-- same transaction, so their change triggers never run with stale names, and a relation new in their
-- tree is tracked at once (or refused: a foreign table, an order column of its own). In C: it also runs
-- at the end of a worker's DETACH PARTITION CONCURRENTLY, where there is no snapshot for PL/pgSQL.
CREATE FUNCTION @extschema@._on_alter_table() RETURNS event_trigger
LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'strata_on_alter_table';
REVOKE ALL ON FUNCTION @extschema@._on_alter_table() FROM PUBLIC;
CREATE EVENT TRIGGER strata_alter_table ON ddl_command_end WHEN TAG IN ('ALTER TABLE', 'CREATE TABLE', 'CREATE FOREIGN TABLE')
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

-- Rollups made before get their definition views and guarded change functions from the worker or
-- refresh_rollup(), not here: objects made by this script would become members of the extension, and a
-- function that is not one cannot be replaced here. _rollup_protect_all() does it for all now.
CREATE FUNCTION @extschema@._rollup_protect_all() RETURNS void
LANGUAGE C AS 'MODULE_PATHNAME', 'strata_rollup_protect_all';
REVOKE ALL ON FUNCTION @extschema@._rollup_protect_all() FROM PUBLIC;
-- Their change functions lose PUBLIC's EXECUTE at once (a GRANT changes no membership).
DO $$
DECLARE f text;
BEGIN
    FOR f IN SELECT change_function FROM @extschema@.rollup WHERE change_function IS NOT NULL LOOP
        IF pg_catalog.to_regprocedure(f || '()') IS NOT NULL THEN
            EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s() FROM PUBLIC', f);
        END IF;
    END LOOP;
END $$;

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

-- == BOOKKEEPING ==
-- job_runs stays bounded: a routine rollup refresh step (rows absorbed, buckets recomputed, nothing
-- else) writes no job_runs row, only the rollup's counters; refresh_steps counts the refresh steps that
-- committed (the worker's and refresh_rollup()'s), next to rows_processed and buckets_recomputed.
ALTER TABLE @extschema@.rollup ADD COLUMN refresh_steps bigint NOT NULL DEFAULT 0;
CREATE OR REPLACE VIEW @extschema@.rollups AS
SELECT r.view AS name, r.source, src.view AS source_rollup, r.level, r.realtime, r.enabled, r.refresh_interval,
       r.batch_size, r.watermark, l.lag_rows,
       CASE WHEN l.lag_rows > 0 OR l.pending_buckets > 0
            THEN pg_catalog.now() - COALESCE(r.caught_up_at, r.created_at)
            WHEN l.figures_error IS NOT NULL THEN NULL ELSE interval '0' END AS lag_time,
       l.pending_buckets, r.backfill_cursor IS NULL AS backfill_done,
       CASE WHEN r.backfill_cursor IS NULL THEN 1.0
            ELSE round(1 - (r.backfill_cursor - r.backfill_floor)::numeric
                           / NULLIF(r.watermark - r.backfill_floor, 0), 4) END AS backfill_progress,
       r.last_refresh_at, r.last_duration_ms, r.last_rows, r.rows_processed, r.buckets_recomputed,
       (SELECT count(*) FROM @extschema@.rollup_frozen_bucket f WHERE f.rollup_id = r.id) AS frozen_buckets,
       r.last_error, r.last_error_at, r.data_table, r.query, l.figures_error, r.broken,
       r.refresh_steps
FROM @extschema@.rollup r
LEFT JOIN @extschema@.rollup src ON src.id = r.source_rollup
CROSS JOIN LATERAL @extschema@._rollup_live(r.id) l;
