-- strata 0.8.0 -> 0.9.0: hardening (no crash, no privilege escalation, no silent loss under ordinary
-- DDL, roles and settings).
\echo Use "ALTER EXTENSION strata UPDATE TO '0.9.0'" to load this file. \quit

-- == VIEWS_DEGRADE_PER_ROW ==
-- The catalog views compute each row's live figures in a function that catches the error of that one row
-- (a source, sequence or pending table gone, a table in another session's temporary schema): the row
-- shows NULL figures and the error in `figures_error` instead of the whole view failing for everyone.
-- Cancels and assertion failures are not caught (WHEN OTHERS leaves them alone).
CREATE FUNCTION @extschema@._rollup_live(rollup_id integer, OUT lag_rows bigint, OUT pending_buckets bigint,
    OUT figures_error text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE r record;
BEGIN
    SELECT x.order_column, x.order_sequence INTO r FROM @extschema@.rollup x WHERE x.id = rollup_id;
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
       r.last_error, r.last_error_at, r.data_table, r.query, l.figures_error
FROM @extschema@.rollup r
LEFT JOIN @extschema@.rollup src ON src.id = r.source_rollup
CROSS JOIN LATERAL @extschema@._rollup_live(r.id) l;

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
