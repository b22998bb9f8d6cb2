-- strata 0.16.0: the whole schema of the current version, the one script CREATE EXTENSION strata runs.
-- Existing databases reach the same schema through strata--0.1.0.sql and the upgrade scripts
-- (test/sql/zz_upgrade.sql proves both equal). Each object is defined once, in its final form; sections
-- follow the capabilities: bookkeeping, workers, partitions, sketches, rollups, keysets, routing, vacuum, and the
-- event triggers last (so that none fires on this script's own DDL).
\echo Use "CREATE EXTENSION strata" to load this file. \quit

-------------------------------------------------------------------------------- bookkeeping: job_runs
-- Every action of the workers and of run_maintenance: what ran, on what, when, how it ended and why.
-- A job is recorded before it runs (status 'running'); runs a crash left open are marked 'crashed'.
CREATE TABLE @extschema@.job_runs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_kind    text NOT NULL,
    target      text,
    started_at  timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    finished_at timestamptz,
    status      text NOT NULL CHECK (status IN ('running', 'ok', 'skipped', 'failed', 'crashed')),
    message     text,
    details     jsonb NOT NULL DEFAULT '{}',
    pid         integer NOT NULL DEFAULT pg_catalog.pg_backend_pid(),
    run_as      name
);
CREATE INDEX job_runs_started_at ON @extschema@.job_runs (started_at);
CREATE INDEX job_runs_target ON @extschema@.job_runs (target, id DESC);

-- A role sees the actions on relations it may read or owns, and the ones it ran; superusers (and the
-- extension's owner, which writes the table) see every row. The views reading job_runs check the
-- reader's rights, not their owner's (security_invoker).
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

-------------------------------------------------------------------------------- workers
-- worker_status() keeps its first columns (partition_sets reads it); the view reads the wider
-- _worker_slots(). More databases than strata.max_workers: the ones due for a worker wait in a queue
-- (state 'waiting for a worker slot', since waiting_since) and workers give their slot up after a pass
-- while one waits.
CREATE FUNCTION @extschema@.worker_status(
    OUT datname text, OUT pid integer, OUT state text, OUT started_at timestamptz, OUT last_pass_at timestamptz,
    OUT passes bigint, OUT naptime_ms integer, OUT failures integer, OUT last_error text)
RETURNS SETOF record LANGUAGE C
AS 'MODULE_PATHNAME', 'strata_worker_status';

CREATE FUNCTION @extschema@._worker_slots(
    OUT datname text, OUT pid integer, OUT state text, OUT started_at timestamptz, OUT last_pass_at timestamptz,
    OUT passes bigint, OUT naptime_ms integer, OUT failures integer, OUT last_error text,
    OUT waiting_since timestamptz, OUT last_pass_ms double precision, OUT last_health_ms double precision)
RETURNS SETOF record LANGUAGE C
AS 'MODULE_PATHNAME', 'strata_worker_status';

CREATE FUNCTION @extschema@._wake_launcher() RETURNS void LANGUAGE C
AS 'MODULE_PATHNAME', 'strata_wake_launcher';

CREATE FUNCTION @extschema@._guard_selftest(kind text) RETURNS text LANGUAGE C STRICT
AS 'MODULE_PATHNAME', 'strata_guard_selftest';
REVOKE ALL ON FUNCTION @extschema@._guard_selftest(text) FROM PUBLIC;

-- The background workers of this cluster (empty when strata is not in shared_preload_libraries).
CREATE VIEW @extschema@.workers AS
SELECT w.datname, w.pid, w.state, w.started_at, w.last_pass_at, w.passes, w.naptime_ms, w.failures, w.last_error,
       w.waiting_since, pg_catalog.clock_timestamp() - w.waiting_since AS waiting_for, w.last_pass_ms, w.last_health_ms
FROM @extschema@._worker_slots() w;

-------------------------------------------------------------------------------- partitions
-- Configuration of partition sets: one row per managed parent table. Dumped by pg_dump
-- (pg_extension_config_dump), so a restore keeps the configuration.
CREATE TABLE @extschema@.partition_set (
    parent               regclass PRIMARY KEY,
    control_column       name NOT NULL,
    key_type             regtype NOT NULL,
    partition_interval   text NOT NULL,
    premake              integer NOT NULL CHECK (premake BETWEEN 0 AND 1000),
    retention            text,
    retention_keep_table boolean NOT NULL DEFAULT false,
    default_partition    boolean NOT NULL DEFAULT false,
    partition_options    text[] NOT NULL DEFAULT '{}',
    partition_tablespace name,
    enabled              boolean NOT NULL DEFAULT true,
    created_at           timestamptz NOT NULL DEFAULT pg_catalog.now()
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.partition_set', '');

CREATE FUNCTION @extschema@._create_partition_set(
    parent regclass, control_column name, partition_interval text,
    premake integer DEFAULT 4, retention text DEFAULT NULL, retention_keep_table boolean DEFAULT false,
    default_partition boolean DEFAULT false, partition_options text[] DEFAULT '{}',
    partition_tablespace name DEFAULT NULL, start_partition text DEFAULT NULL)
RETURNS integer LANGUAGE C CALLED ON NULL INPUT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'strata_create_partition_set';

-- create_partition_set's three forms (interval as text, interval, integer) with the compression policy
-- (NULL: none); the settings go to strata._create_partition_set, the policy to _set_compression_policy.
CREATE FUNCTION @extschema@.create_partition_set(
    parent regclass, control_column name, partition_interval text,
    premake integer DEFAULT 4, retention text DEFAULT NULL, retention_keep_table boolean DEFAULT false,
    default_partition boolean DEFAULT false, partition_options text[] DEFAULT '{}',
    partition_tablespace name DEFAULT NULL, start_partition text DEFAULT NULL,
    compress_after interval DEFAULT NULL, compress_segment_by text[] DEFAULT NULL, compress_order_by text DEFAULT NULL)
RETURNS integer LANGUAGE plpgsql CALLED ON NULL INPUT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE made integer;
BEGIN
  made := @extschema@._create_partition_set($1, $2, $3, $4, $5, $6, $7, $8, $9, $10);
  IF $11 IS NOT NULL OR $12 IS NOT NULL OR $13 IS NOT NULL THEN
    PERFORM @extschema@._set_compression_policy($1, $11::text, $12::text, $13, false);
  END IF;
  RETURN made;
END $$;
COMMENT ON FUNCTION @extschema@.create_partition_set(regclass, name, text, integer, text, boolean, boolean, text[], name, text, interval, text[], text)
IS 'takes over a PARTITION BY RANGE table: creates partitions around now (or the data) and premake ahead';

CREATE FUNCTION @extschema@.create_partition_set(
    parent regclass, control_column name, partition_interval interval,
    premake integer DEFAULT 4, retention interval DEFAULT NULL, retention_keep_table boolean DEFAULT false,
    default_partition boolean DEFAULT false, partition_options text[] DEFAULT '{}',
    partition_tablespace name DEFAULT NULL, start_partition text DEFAULT NULL,
    compress_after interval DEFAULT NULL, compress_segment_by text[] DEFAULT NULL, compress_order_by text DEFAULT NULL)
RETURNS integer LANGUAGE sql CALLED ON NULL INPUT
SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.create_partition_set($1, $2, $3::text, $4, $5::text, $6, $7, $8, $9, $10, $11, $12, $13) $$;

CREATE FUNCTION @extschema@.create_partition_set(
    parent regclass, control_column name, partition_interval bigint,
    premake integer DEFAULT 4, retention bigint DEFAULT NULL, retention_keep_table boolean DEFAULT false,
    default_partition boolean DEFAULT false, partition_options text[] DEFAULT '{}',
    partition_tablespace name DEFAULT NULL, start_partition text DEFAULT NULL,
    compress_after interval DEFAULT NULL, compress_segment_by text[] DEFAULT NULL, compress_order_by text DEFAULT NULL)
RETURNS integer LANGUAGE sql CALLED ON NULL INPUT
SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.create_partition_set($1, $2, $3::text, $4, $5::text, $6, $7, $8, $9, $10, $11, $12, $13) $$;

CREATE FUNCTION @extschema@.undo_partition_set(parent regclass)
RETURNS void LANGUAGE C CALLED ON NULL INPUT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'strata_undo_partition_set';

CREATE FUNCTION @extschema@.run_maintenance(parent regclass DEFAULT NULL)
RETURNS TABLE (parent regclass, action text, partition text, status text, message text)
LANGUAGE C CALLED ON NULL INPUT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'strata_run_maintenance';

CREATE FUNCTION @extschema@._alter_partition_set(
    parent regclass, premake integer DEFAULT NULL, retention text DEFAULT NULL,
    retention_keep_table boolean DEFAULT NULL, partition_options text[] DEFAULT NULL,
    partition_tablespace name DEFAULT NULL, enabled boolean DEFAULT NULL, clear_retention boolean DEFAULT false)
RETURNS void LANGUAGE C CALLED ON NULL INPUT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'strata_alter_partition_set';

-- Changes a set's settings; NULL leaves a setting as it is (clear_retention removes retention,
-- clear_compression the compression policy: compressed partitions stay compressed).
CREATE FUNCTION @extschema@.alter_partition_set(
    parent regclass, premake integer DEFAULT NULL, retention text DEFAULT NULL,
    retention_keep_table boolean DEFAULT NULL, partition_options text[] DEFAULT NULL,
    partition_tablespace name DEFAULT NULL, enabled boolean DEFAULT NULL, clear_retention boolean DEFAULT false,
    compress_after interval DEFAULT NULL, compress_segment_by text[] DEFAULT NULL, compress_order_by text DEFAULT NULL,
    clear_compression boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql CALLED ON NULL INPUT
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM @extschema@._alter_partition_set($1, $2, $3, $4, $5, $6, $7, $8);
  IF $9 IS NOT NULL OR $10 IS NOT NULL OR $11 IS NOT NULL OR $12 THEN
    PERFORM @extschema@._set_compression_policy($1, $9::text, $10::text, $11, $12);
  END IF;
END $$;

CREATE FUNCTION @extschema@.partition_set_state(parent regclass,
    OUT partition_count integer, OUT oldest_bound text, OUT newest_bound text, OUT partitions_ahead integer,
    OUT default_rows bigint, OUT detach_pending text, OUT actions_due integer)
RETURNS record LANGUAGE C STRICT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'strata_partition_set_state';

-- The catalog views compute each row's live figures in a function that catches the error of that one row
-- (a table in another session's temporary schema, ...): the row shows NULL figures and the error in
-- figures_error instead of the whole view failing for everyone. Cancels and assertion failures are not
-- caught (WHEN OTHERS leaves them alone).
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

-- Partition sets with their configuration and live state.
CREATE VIEW @extschema@.partition_sets WITH (security_invoker = true) AS
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

GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;
GRANT SELECT ON @extschema@.partition_set, @extschema@.job_runs, @extschema@.partition_sets,
    @extschema@.workers TO PUBLIC;

-------------------------------------------------------------------------------- sketches: hll
CREATE TYPE @extschema@.hll;
CREATE FUNCTION @extschema@.hll_in(cstring) RETURNS @extschema@.hll
  AS 'MODULE_PATHNAME', 'strata_hll_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.hll_out(@extschema@.hll) RETURNS cstring
  AS 'MODULE_PATHNAME', 'strata_hll_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.hll_recv(internal) RETURNS @extschema@.hll
  AS 'MODULE_PATHNAME', 'strata_hll_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.hll_send(@extschema@.hll) RETURNS bytea
  AS 'MODULE_PATHNAME', 'strata_hll_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE @extschema@.hll (
  INPUT = @extschema@.hll_in, OUTPUT = @extschema@.hll_out,
  RECEIVE = @extschema@.hll_recv, SEND = @extschema@.hll_send,
  INTERNALLENGTH = VARIABLE, STORAGE = external);
COMMENT ON TYPE @extschema@.hll IS 'HyperLogLog distinct-count sketch; merges exactly';

CREATE FUNCTION @extschema@.hll_trans(internal, anyelement) RETURNS internal
  AS 'MODULE_PATHNAME', 'strata_hll_trans' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION @extschema@.hll_trans(internal, anyelement, integer) RETURNS internal
  AS 'MODULE_PATHNAME', 'strata_hll_trans_p' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION @extschema@.hll_final(internal) RETURNS @extschema@.hll
  AS 'MODULE_PATHNAME', 'strata_hll_final' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION @extschema@.hll_combine(internal, internal) RETURNS internal
  AS 'MODULE_PATHNAME', 'strata_hll_combine' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION @extschema@.hll_serial(internal) RETURNS bytea
  AS 'MODULE_PATHNAME', 'strata_hll_serial' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.hll_deserial(bytea, internal) RETURNS internal
  AS 'MODULE_PATHNAME', 'strata_hll_deserial' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.hll_merge_trans(internal, @extschema@.hll) RETURNS internal
  AS 'MODULE_PATHNAME', 'strata_hll_merge_trans' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;

-- SSPACE: the dense state at the default precision (2^14 one-byte registers), so the planner sizes
-- hash aggregation honestly.
CREATE AGGREGATE @extschema@.hll_agg(anyelement) (
  SFUNC = @extschema@.hll_trans, STYPE = internal, SSPACE = 16500,
  FINALFUNC = @extschema@.hll_final, COMBINEFUNC = @extschema@.hll_combine,
  SERIALFUNC = @extschema@.hll_serial, DESERIALFUNC = @extschema@.hll_deserial, PARALLEL = SAFE);
CREATE AGGREGATE @extschema@.hll_agg(anyelement, integer) (
  SFUNC = @extschema@.hll_trans, STYPE = internal, SSPACE = 16500,
  FINALFUNC = @extschema@.hll_final, COMBINEFUNC = @extschema@.hll_combine,
  SERIALFUNC = @extschema@.hll_serial, DESERIALFUNC = @extschema@.hll_deserial, PARALLEL = SAFE);
CREATE AGGREGATE @extschema@.merge(@extschema@.hll) (
  SFUNC = @extschema@.hll_merge_trans, STYPE = internal, SSPACE = 16500,
  FINALFUNC = @extschema@.hll_final, COMBINEFUNC = @extschema@.hll_combine,
  SERIALFUNC = @extschema@.hll_serial, DESERIALFUNC = @extschema@.hll_deserial, PARALLEL = SAFE);
CREATE FUNCTION @extschema@.merge(@extschema@.hll, @extschema@.hll) RETURNS @extschema@.hll
  AS 'MODULE_PATHNAME', 'strata_hll_merge' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION @extschema@.distinct_count(@extschema@.hll) RETURNS bigint
  AS 'MODULE_PATHNAME', 'strata_hll_distinct_count' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.hll_precision(@extschema@.hll) RETURNS integer
  AS 'MODULE_PATHNAME', 'strata_hll_precision' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-------------------------------------------------------------------------------- sketches: qsketch
CREATE TYPE @extschema@.qsketch;
CREATE FUNCTION @extschema@.qsketch_in(cstring) RETURNS @extschema@.qsketch
  AS 'MODULE_PATHNAME', 'strata_qsketch_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.qsketch_out(@extschema@.qsketch) RETURNS cstring
  AS 'MODULE_PATHNAME', 'strata_qsketch_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.qsketch_recv(internal) RETURNS @extschema@.qsketch
  AS 'MODULE_PATHNAME', 'strata_qsketch_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.qsketch_send(@extschema@.qsketch) RETURNS bytea
  AS 'MODULE_PATHNAME', 'strata_qsketch_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE @extschema@.qsketch (
  INPUT = @extschema@.qsketch_in, OUTPUT = @extschema@.qsketch_out,
  RECEIVE = @extschema@.qsketch_recv, SEND = @extschema@.qsketch_send,
  INTERNALLENGTH = VARIABLE, STORAGE = external);
COMMENT ON TYPE @extschema@.qsketch IS 'quantile sketch with relative-error guarantee; merges exactly';

CREATE FUNCTION @extschema@.qsketch_trans(internal, double precision) RETURNS internal
  AS 'MODULE_PATHNAME', 'strata_qsketch_trans' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION @extschema@.qsketch_trans(internal, double precision, double precision) RETURNS internal
  AS 'MODULE_PATHNAME', 'strata_qsketch_trans_a' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION @extschema@.qsketch_final(internal) RETURNS @extschema@.qsketch
  AS 'MODULE_PATHNAME', 'strata_qsketch_final' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION @extschema@.qsketch_combine(internal, internal) RETURNS internal
  AS 'MODULE_PATHNAME', 'strata_qsketch_combine' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION @extschema@.qsketch_serial(internal) RETURNS bytea
  AS 'MODULE_PATHNAME', 'strata_qsketch_serial' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.qsketch_deserial(bytea, internal) RETURNS internal
  AS 'MODULE_PATHNAME', 'strata_qsketch_deserial' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.qsketch_merge_trans(internal, @extschema@.qsketch) RETURNS internal
  AS 'MODULE_PATHNAME', 'strata_qsketch_merge_trans' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE AGGREGATE @extschema@.qsketch_agg(double precision) (
  SFUNC = @extschema@.qsketch_trans, STYPE = internal, SSPACE = 8192,
  FINALFUNC = @extschema@.qsketch_final, COMBINEFUNC = @extschema@.qsketch_combine,
  SERIALFUNC = @extschema@.qsketch_serial, DESERIALFUNC = @extschema@.qsketch_deserial, PARALLEL = SAFE);
CREATE AGGREGATE @extschema@.qsketch_agg(double precision, double precision) (
  SFUNC = @extschema@.qsketch_trans, STYPE = internal, SSPACE = 8192,
  FINALFUNC = @extschema@.qsketch_final, COMBINEFUNC = @extschema@.qsketch_combine,
  SERIALFUNC = @extschema@.qsketch_serial, DESERIALFUNC = @extschema@.qsketch_deserial, PARALLEL = SAFE);
CREATE AGGREGATE @extschema@.merge(@extschema@.qsketch) (
  SFUNC = @extschema@.qsketch_merge_trans, STYPE = internal, SSPACE = 8192,
  FINALFUNC = @extschema@.qsketch_final, COMBINEFUNC = @extschema@.qsketch_combine,
  SERIALFUNC = @extschema@.qsketch_serial, DESERIALFUNC = @extschema@.qsketch_deserial, PARALLEL = SAFE);
CREATE FUNCTION @extschema@.merge(@extschema@.qsketch, @extschema@.qsketch) RETURNS @extschema@.qsketch
  AS 'MODULE_PATHNAME', 'strata_qsketch_merge' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION @extschema@.quantile(@extschema@.qsketch, double precision) RETURNS double precision
  AS 'MODULE_PATHNAME', 'strata_qsketch_quantile' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.quantile(@extschema@.qsketch, double precision)
IS 'the q-quantile as percentile_disc defines it, within the sketch''s relative accuracy';
CREATE FUNCTION @extschema@.quantile_cont(@extschema@.qsketch, double precision) RETURNS double precision
  AS 'MODULE_PATHNAME', 'strata_qsketch_quantile_cont' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.quantile_cont(@extschema@.qsketch, double precision)
IS 'the q-quantile as percentile_cont computes it (linear interpolation), within the sketch''s relative accuracy';
CREATE FUNCTION @extschema@.quantiles(@extschema@.qsketch, double precision[]) RETURNS double precision[]
  AS 'MODULE_PATHNAME', 'strata_qsketch_quantiles' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.qsketch_count(@extschema@.qsketch) RETURNS bigint
  AS 'MODULE_PATHNAME', 'strata_qsketch_count' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.qsketch_min(@extschema@.qsketch) RETURNS double precision
  AS 'MODULE_PATHNAME', 'strata_qsketch_min' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.qsketch_max(@extschema@.qsketch) RETURNS double precision
  AS 'MODULE_PATHNAME', 'strata_qsketch_max' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.qsketch_mean(@extschema@.qsketch) RETURNS double precision
  AS 'MODULE_PATHNAME', 'strata_qsketch_mean' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.qsketch_accuracy(@extschema@.qsketch) RETURNS double precision
  AS 'MODULE_PATHNAME', 'strata_qsketch_accuracy' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-------------------------------------------------------------------------------- sketches: topk
CREATE TYPE @extschema@.topk;
CREATE FUNCTION @extschema@.topk_in(cstring) RETURNS @extschema@.topk
  AS 'MODULE_PATHNAME', 'strata_topk_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.topk_out(@extschema@.topk) RETURNS cstring
  AS 'MODULE_PATHNAME', 'strata_topk_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.topk_recv(internal) RETURNS @extschema@.topk
  AS 'MODULE_PATHNAME', 'strata_topk_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.topk_send(@extschema@.topk) RETURNS bytea
  AS 'MODULE_PATHNAME', 'strata_topk_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE @extschema@.topk (
  INPUT = @extschema@.topk_in, OUTPUT = @extschema@.topk_out,
  RECEIVE = @extschema@.topk_recv, SEND = @extschema@.topk_send,
  INTERNALLENGTH = VARIABLE, STORAGE = extended);
COMMENT ON TYPE @extschema@.topk IS 'heavy hitters (Misra-Gries) with a guaranteed error bound; mergeable';

CREATE FUNCTION @extschema@.topk_trans(internal, anyelement, integer) RETURNS internal
  AS 'MODULE_PATHNAME', 'strata_topk_trans' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION @extschema@.topk_final(internal) RETURNS @extschema@.topk
  AS 'MODULE_PATHNAME', 'strata_topk_final' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION @extschema@.topk_combine(internal, internal) RETURNS internal
  AS 'MODULE_PATHNAME', 'strata_topk_combine' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION @extschema@.topk_serial(internal) RETURNS bytea
  AS 'MODULE_PATHNAME', 'strata_topk_serial' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.topk_deserial(bytea, internal) RETURNS internal
  AS 'MODULE_PATHNAME', 'strata_topk_deserial' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.topk_merge_trans(internal, @extschema@.topk) RETURNS internal
  AS 'MODULE_PATHNAME', 'strata_topk_merge_trans' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE AGGREGATE @extschema@.topk_agg(anyelement, integer) (
  SFUNC = @extschema@.topk_trans, STYPE = internal, SSPACE = 4096,
  FINALFUNC = @extschema@.topk_final, COMBINEFUNC = @extschema@.topk_combine,
  SERIALFUNC = @extschema@.topk_serial, DESERIALFUNC = @extschema@.topk_deserial, PARALLEL = SAFE);
CREATE AGGREGATE @extschema@.merge(@extschema@.topk) (
  SFUNC = @extschema@.topk_merge_trans, STYPE = internal, SSPACE = 4096,
  FINALFUNC = @extschema@.topk_final, COMBINEFUNC = @extschema@.topk_combine,
  SERIALFUNC = @extschema@.topk_serial, DESERIALFUNC = @extschema@.topk_deserial, PARALLEL = SAFE);
CREATE FUNCTION @extschema@.merge(@extschema@.topk, @extschema@.topk) RETURNS @extschema@.topk
  AS 'MODULE_PATHNAME', 'strata_topk_merge' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION @extschema@.topk_items(@extschema@.topk, OUT item text, OUT count bigint, OUT error bigint)
  RETURNS SETOF record
  AS 'MODULE_PATHNAME', 'strata_topk_items' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 10;

-------------------------------------------------------------------------------- rollups
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
    last_pass_ms      double precision,
    -- The source is a logical replication subscription's target (its tree is in pg_subscription_rel):
    -- UPDATE and DELETE are tracked by row triggers (apply fires no statement trigger).
    row_triggers      boolean NOT NULL DEFAULT false
);

-- The bucket expressions the capture of a source logs in: one per distinct bucket of its rollups.
CREATE TABLE @extschema@.rollup_grain (
    id          serial PRIMARY KEY,
    source_id   integer NOT NULL REFERENCES @extschema@.rollup_source (id) ON DELETE CASCADE,
    bucket_expr text NOT NULL,
    bucket_type text NOT NULL,
    time_column name NOT NULL,
    UNIQUE (source_id, bucket_expr)
);

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

-- One row per rollup: its definition (as parsed and deparsed by Postgres), its schedule and its
-- progress. Progress (watermark, backfill_cursor) is updated in the same transaction as the rollup
-- table, so it is exact after any crash. Dumped by pg_dump with the rollup tables it describes.
CREATE TABLE @extschema@.rollup (
    id               serial PRIMARY KEY,
    view             regclass NOT NULL UNIQUE,  -- what readers query
    data_table       regclass NOT NULL UNIQUE,  -- the materialized groups
    pending_table    regclass NOT NULL,         -- buckets waiting for a recompute
    source           regclass NOT NULL,         -- the table aggregated (a rollup's data table for rollups of rollups)
    source_rollup    integer REFERENCES @extschema@.rollup (id),
    level            integer NOT NULL DEFAULT 0, -- refresh order: sources before dependents
    query            text NOT NULL,             -- as given
    order_column     name,                      -- raw sources: sequence-filled column defining "new rows"
    order_sequence   regclass,
    bucket_name      name NOT NULL,
    bucket_expr      text NOT NULL,
    bucket_type      text NOT NULL,
    bucket_width     text NOT NULL,
    time_column      name NOT NULL,
    time_zone        text NOT NULL DEFAULT '',  -- timestamptz buckets are cut in this zone
    change_function  text,                      -- raw sources: the statement trigger function
    where_clause     text NOT NULL DEFAULT '',
    realtime         boolean NOT NULL DEFAULT true,
    enabled          boolean NOT NULL DEFAULT true,
    refresh_interval interval NOT NULL DEFAULT '1 minute' CHECK (refresh_interval >= '0'),
    batch_size       bigint NOT NULL DEFAULT 1000000 CHECK (batch_size > 0),
    watermark        bigint,                    -- rows with order_column <= watermark are processed...
    backfill_cursor  bigint,                    -- ...except those <= backfill_cursor (NULL: backfill done)
    backfill_floor   bigint,                    -- the lowest order value that existed at creation, minus 1
    frozen_before    timestamptz,               -- raw data before this was dropped: buckets are final
    created_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    last_refresh_at  timestamptz,
    caught_up_at     timestamptz,
    last_duration_ms double precision,
    last_rows        bigint,
    rows_processed   bigint NOT NULL DEFAULT 0,
    buckets_recomputed bigint NOT NULL DEFAULT 0,
    last_error       text,
    last_error_at    timestamptz,
    -- A view over the source reading every column the rollup's stored SQL uses (by number, as views do):
    -- Postgres refuses a type change or drop of those columns while the rollup exists, and after a rename
    -- strata reads their new names from it.
    definition       regclass,
    broken           text,                      -- why the worker stopped refreshing it (NULL: healthy)
    failures         integer NOT NULL DEFAULT 0, -- refreshes failed in a row (the worker backs off)
    -- Refresh steps that committed (the worker's and refresh_rollup()'s). A routine step writes no
    -- job_runs row, only these counters, so job_runs stays bounded.
    refresh_steps    bigint NOT NULL DEFAULT 0,
    grain            integer REFERENCES @extschema@.rollup_grain (id), -- raw sources: its grain in the change log
    change_pos       bigint,                    -- raw sources: the change log is read up to here
    -- Every row the source had when the rollup was made is in it (or will be, by its backfill); false
    -- after backfill => false on a source with rows. Routing only answers from rollups where it is true.
    has_history      boolean NOT NULL DEFAULT true
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rollup', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rollup_id_seq', '');

-- The dimensions and measures of each rollup, in column order.
CREATE TABLE @extschema@.rollup_column (
    rollup_id   integer NOT NULL REFERENCES @extschema@.rollup (id) ON DELETE CASCADE,
    ord         integer NOT NULL,
    role        text NOT NULL CHECK (role IN ('dimension', 'measure')),
    name        name NOT NULL,
    kind        text,          -- measures: count, sum, min, max, avg, hll_agg, qsketch_agg, topk_agg, merge
    expr        text NOT NULL, -- dimensions: the column; measures: the argument list
    state_type  text,
    result_type text,
    PRIMARY KEY (rollup_id, ord)
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rollup_column', '');

-- Buckets that could not be recomputed after an UPDATE/DELETE because their raw rows were dropped by
-- retention: the rollup keeps their last values.
CREATE TABLE @extschema@.rollup_frozen_bucket (
    rollup_id integer NOT NULL REFERENCES @extschema@.rollup (id) ON DELETE CASCADE,
    bucket    text NOT NULL,
    noted_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (rollup_id, bucket)
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rollup_frozen_bucket', '');

CREATE FUNCTION @extschema@.create_rollup(
    name text, query text, realtime boolean DEFAULT true, refresh_interval interval DEFAULT '1 minute',
    batch_size bigint DEFAULT 1000000, order_column name DEFAULT NULL, backfill boolean DEFAULT true)
RETURNS integer LANGUAGE C AS 'MODULE_PATHNAME', 'strata_create_rollup';
COMMENT ON FUNCTION @extschema@.create_rollup(text, text, boolean, interval, bigint, name, boolean) IS
    'defines an incrementally maintained rollup: a table, a view named "name" and a catalog row';

CREATE FUNCTION @extschema@.refresh_rollup(name text, max_steps integer DEFAULT NULL)
RETURNS jsonb LANGUAGE C AS 'MODULE_PATHNAME', 'strata_refresh_rollup';

CREATE FUNCTION @extschema@.drop_rollup(name text, if_exists boolean DEFAULT false)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'strata_drop_rollup';

CREATE FUNCTION @extschema@.alter_rollup(
    name text, refresh_interval interval DEFAULT NULL, realtime boolean DEFAULT NULL,
    batch_size bigint DEFAULT NULL, enabled boolean DEFAULT NULL)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'strata_alter_rollup';

-- Waits (polling, never queueing on a lock) until every transaction that currently holds a write lock
-- on the table or any of its partitions has ended; false after timeout_ms.
CREATE FUNCTION @extschema@.wait_for_writers(rel regclass, timeout_ms integer)
RETURNS boolean LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'strata_wait_for_writers';
REVOKE ALL ON FUNCTION @extschema@.wait_for_writers(regclass, integer) FROM PUBLIC;

-- Progress lookups used by the real-time views (stable: evaluated once per scan).
CREATE FUNCTION @extschema@.rollup_watermark(rollup_id integer) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$ SELECT watermark FROM @extschema@.rollup WHERE id = rollup_id $$;
CREATE FUNCTION @extschema@.rollup_backfill_cursor(rollup_id integer) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$ SELECT backfill_cursor FROM @extschema@.rollup WHERE id = rollup_id $$;

-- Lag of one rollup: source rows not yet absorbed (by order value, so gaps left by rollbacks count) and
-- buckets waiting for a recompute.
CREATE FUNCTION @extschema@._rollup_lag(rollup_id integer, OUT lag_rows bigint, OUT pending_buckets bigint)
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

-- The live figures of one rollup for strata.rollups: the error of one row (a source, sequence or pending
-- table gone, a table in another session's temporary schema) shows in figures_error instead of failing
-- the whole view.
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
CREATE FUNCTION @extschema@._rollup_live(rollup_id integer, OUT lag_rows bigint, OUT pending_buckets bigint,
    OUT figures_error text)
LANGUAGE C STABLE STRICT SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'strata_rollup_live';

-- (The analytics node's heartbeat, read by the rollups view; the rest of that section is at the end.)
-- One row per publishing node and database, written by its worker every strata.heartbeat_interval and
-- replicated with its tables: on the analytics node, every transaction the origin committed before
-- beat_at has been applied once its row shows beat_at.
CREATE TABLE @extschema@.heartbeat (
    origin  text PRIMARY KEY,       -- the publishing cluster's system identifier / database
    beat_at timestamptz NOT NULL,   -- when the origin wrote the row
    lsn     pg_lsn NOT NULL         -- the origin's WAL position then
);
GRANT SELECT ON @extschema@.heartbeat TO PUBLIC;
-- A row for an origin already here (a subscription made again after a resync copies the origin's row
-- anew) updates it: the initial copy must not fail on the key. ENABLE ALWAYS: it fires in apply and in
-- the initial copy; its names are qualified and its search_path its own (apply runs with an empty one).
CREATE FUNCTION @extschema@._heartbeat_upsert() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  UPDATE @extschema@.heartbeat h SET beat_at = NEW.beat_at, lsn = NEW.lsn WHERE h.origin = NEW.origin;
  IF FOUND THEN RETURN NULL; END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER heartbeat_upsert BEFORE INSERT ON @extschema@.heartbeat FOR EACH ROW
EXECUTE FUNCTION @extschema@._heartbeat_upsert();
ALTER TABLE @extschema@.heartbeat ENABLE ALWAYS TRIGGER heartbeat_upsert;

CREATE VIEW @extschema@.rollups AS
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
       r.refresh_steps,
       -- On an analytics node: the raw table is a subscription's target, complete up to the oldest
       -- origin's last heartbeat.
       CASE WHEN rs.row_triggers THEN (SELECT pg_catalog.min(h.beat_at) FROM @extschema@.heartbeat h) END AS replicated_up_to
FROM @extschema@.rollup r
LEFT JOIN @extschema@.rollup src ON src.id = r.source_rollup
LEFT JOIN @extschema@.rollup_source rs ON rs.source = r.source AND r.source_rollup IS NULL
CROSS JOIN LATERAL @extschema@._rollup_live(r.id) l;

GRANT SELECT ON @extschema@.rollup, @extschema@.rollup_column, @extschema@.rollup_frozen_bucket,
    @extschema@.rollups TO PUBLIC;

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

-- Gives every rollup made before 0.9.0 its definition view and guarded change function (the worker and
-- refresh_rollup() do it for one rollup at a time).
CREATE FUNCTION @extschema@._rollup_protect_all() RETURNS void
LANGUAGE C AS 'MODULE_PATHNAME', 'strata_rollup_protect_all';
REVOKE ALL ON FUNCTION @extschema@._rollup_protect_all() FROM PUBLIC;

-- After ALTER TABLE or CREATE TABLE: rollups reading an altered relation follow renamed columns in the
-- same transaction, so their change triggers never run with stale names, and a relation new in their
-- tree is tracked at once (or refused: a foreign table, an order column of its own). In C: it also runs
-- at the end of a worker's DETACH PARTITION CONCURRENTLY, where there is no snapshot for PL/pgSQL.
-- Its event trigger is made at the end of this script.
CREATE FUNCTION @extschema@._on_alter_table() RETURNS event_trigger
LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'strata_on_alter_table';
REVOKE ALL ON FUNCTION @extschema@._on_alter_table() FROM PUBLIC;

-------------------------------------------------------------------------------- keysets
-- Sets of integer-valued keys carried as bytea values. The real-time view of a rollup whose key columns
-- are integers, dates or timestamps drops the stored groups its tail touches with strata.keyset_lacks (a
-- probe per stored row) instead of an anti-join.
CREATE FUNCTION @extschema@._keyset_trans(internal, VARIADIC "any") RETURNS internal
LANGUAGE c PARALLEL SAFE AS 'MODULE_PATHNAME', 'strata_keyset_trans';
CREATE FUNCTION @extschema@._keyset_final(internal) RETURNS bytea
LANGUAGE c PARALLEL SAFE AS 'MODULE_PATHNAME', 'strata_keyset_final';

-- The set of the keys given. `=` never matches NULL: a key whose first column is NULL is left out; one
-- with a NULL in a later column is kept by its first column apart (keyset_lacks of such a key asks
-- whether that first column is there: the real-time view re-aggregates the stored groups with a NULL
-- dimension in the buckets where its tail has one).
CREATE AGGREGATE @extschema@.keyset_agg(VARIADIC "any") (
    SFUNC = @extschema@._keyset_trans, STYPE = internal, FINALFUNC = @extschema@._keyset_final,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.keyset_agg(VARIADIC "any") IS
    'set of the keys (smallint, integer, bigint, date, timestamp or timestamptz columns) given, for keyset_lacks';

-- True unless the keyset holds the key: a NULL keyset or a key with a NULL first column is never held;
-- a key with a NULL later column is held when the keyset has its first column apart (see keyset_agg).
-- A keyset of fewer columns than the key given matches on the key's first columns.
CREATE FUNCTION @extschema@.keyset_lacks(keyset bytea, VARIADIC "any") RETURNS boolean
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'strata_keyset_lacks';
COMMENT ON FUNCTION @extschema@.keyset_lacks(bytea, VARIADIC "any") IS
    'true unless the keyset (from keyset_agg) holds the key given as separate columns';

-------------------------------------------------------------------------------- query routing
-- An aggregate query on a rollup's raw source is planned against the rollup when that answers it
-- exactly and costs less (strata.routing; design: src/routing/README.md). A routed plan reads the
-- rollup's stored groups of whole, clean buckets and raw rows for everything else: rows the rollup has
-- not absorbed, the range's partial first and last buckets, buckets changed since their last refresh
-- (dirty buckets: in its pending table or logged past its position) and buckets retention froze. It
-- reads strata.rollup, rollup_change and the rollup's tables as their owners (as the rollup's view does);
-- the reader needs SELECT on the rollup and keeps every check of the query as written.

-- Queries routed to each rollup since the server started, counted as their plans start (cluster-wide, in
-- shared memory: empty when strata is not in shared_preload_libraries). View 0: executions left
-- uncounted for want of a slot.
CREATE FUNCTION @extschema@._routing_counts(OUT view oid, OUT executions bigint, OUT rows_saved bigint)
RETURNS SETOF record LANGUAGE C AS 'MODULE_PATHNAME', 'strata_routing_counts';
CREATE VIEW @extschema@.routing_stats AS
SELECT r.view AS rollup, COALESCE(c.executions, 0) AS routed_queries,
       COALESCE(c.rows_saved, 0) AS rows_saved_estimated
FROM @extschema@.rollup r LEFT JOIN @extschema@._routing_counts() c ON c.view = r.view::pg_catalog.oid;
GRANT SELECT ON @extschema@.routing_stats TO PUBLIC;

-- Every rollup that could answer a query, with its decision and why, and the query as written.
CREATE FUNCTION @extschema@.explain_routing(query text)
RETURNS TABLE (rollup text, decision text, reason_code text, reason text, est_rows double precision,
               est_cost double precision)
LANGUAGE C AS 'MODULE_PATHNAME', 'strata_explain_routing';

-------------------------------------------------------------------------------- agents: metrics catalog
-- Every measure of every rollup as the raw table's aggregate it equals (src/agents/README.md), in the raw
-- table's terms: what an agent or a BI tool may ask of the raw table and have routing answer. Descriptions
-- and units come from COMMENT ON COLUMN of the rollup's view ('... (unit: ms)'), dumped and restored with it.
CREATE FUNCTION @extschema@._metric_terms(OUT rollup_id integer, OUT metric name, OUT kind text,
    OUT raw_expression text, OUT dimensions text[], OUT bucket_expression text, OUT time_column name,
    OUT source oid, OUT first_bucket text, OUT last_bucket text, OUT error_bound text, OUT raw_where text)
RETURNS SETOF record LANGUAGE C AS 'MODULE_PATHNAME', 'strata_metric_terms';
CREATE VIEW @extschema@.metrics AS
SELECT r.view AS rollup, t.metric, t.source::pg_catalog.regclass AS source, src.view AS reads_rollup,
       CASE t.kind WHEN 'count' THEN 'additive' WHEN 'sum' THEN 'additive' WHEN 'min' THEN 'min'
            WHEN 'max' THEN 'max' WHEN 'avg' THEN 'average' WHEN 'hll_agg' THEN 'distinct_estimate'
            WHEN 'qsketch_agg' THEN 'quantile_sketch' WHEN 'topk_agg' THEN 'topk_sketch' ELSE 'sketch' END AS kind,
       t.raw_expression,
       COALESCE(NULLIF(pg_catalog.regexp_replace(d.description, '\s*\(unit:\s*[^)]*\)\s*$', ''), ''),
                t.raw_expression || ' of ' || t.source::pg_catalog.regclass::text
                || COALESCE(' where ' || t.raw_where, ''))
           AS description,
       pg_catalog.substring(d.description, '\(unit:\s*([^)]*)\)\s*$') AS unit,
       t.error_bound,
       t.dimensions, t.bucket_expression AS grain, r.bucket_width AS grain_width, t.time_column,
       t.first_bucket AS covered_from, t.last_bucket AS covered_to, r.realtime, r.caught_up_at,
       CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END AS rows_stored,
       pg_catalog.format('SELECT %s AS bucket%s, %s FROM %s%s GROUP BY 1%s ORDER BY 1',
              t.bucket_expression,
              (SELECT pg_catalog.string_agg(', ' || pg_catalog.quote_ident(x), '') FROM pg_catalog.unnest(t.dimensions[1:1]) x),
              t.raw_expression, t.source::pg_catalog.regclass, COALESCE(' WHERE ' || t.raw_where, ''),
              CASE WHEN pg_catalog.cardinality(t.dimensions) > 0 THEN ', 2' ELSE '' END) AS example_query,
       l.lag_rows, l.pending_buckets,
       CASE WHEN l.lag_rows > 0 OR l.pending_buckets > 0 THEN pg_catalog.now() - COALESCE(r.caught_up_at, r.created_at)
            WHEN l.figures_error IS NOT NULL THEN NULL ELSE interval '0' END AS lag_time
FROM @extschema@._metric_terms() t
JOIN @extschema@.rollup r ON r.id = t.rollup_id
LEFT JOIN @extschema@.rollup src ON src.id = r.source_rollup
CROSS JOIN LATERAL @extschema@._rollup_live(r.id) l
LEFT JOIN pg_catalog.pg_class c ON c.oid = r.data_table
LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = r.view AND a.attname = t.metric AND NOT a.attisdropped
LEFT JOIN pg_catalog.pg_description d ON d.objoid = r.view AND d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass
     AND d.objsubid = a.attnum;
-- What each metric can be asked by: statistics as pg_stats shows them to the reader (columns it may read).
CREATE VIEW @extschema@.dimensions AS
SELECT DISTINCT ON (m.rollup, x.dim) m.rollup, x.dim AS dimension, m.source,
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,
       CASE WHEN s.n_distinct >= 0 THEN s.n_distinct::bigint
            ELSE (-s.n_distinct * GREATEST(sc.reltuples, 0))::bigint END AS distinct_values_estimated,
       s.most_common_vals::text AS sample_values,
       f.confrelid::pg_catalog.regclass AS joins_to,
       (SELECT pg_catalog.array_agg(fa.attname ORDER BY fa.attnum) FROM pg_catalog.pg_attribute fa
         WHERE fa.attrelid = f.confrelid AND fa.attnum > 0 AND NOT fa.attisdropped
           AND (SELECT ty.typcategory FROM pg_catalog.pg_type ty WHERE ty.oid = fa.atttypid) = 'S')
           AS descriptive_columns
FROM @extschema@.metrics m
CROSS JOIN LATERAL pg_catalog.unnest(m.dimensions) AS x(dim)
JOIN pg_catalog.pg_attribute a ON a.attrelid = m.source AND a.attname = x.dim AND NOT a.attisdropped
LEFT JOIN pg_catalog.pg_class sc ON sc.oid = m.source
LEFT JOIN pg_catalog.pg_stats s ON s.schemaname = (SELECT n.nspname FROM pg_catalog.pg_namespace n WHERE n.oid = sc.relnamespace)
     AND s.tablename = sc.relname AND s.attname = x.dim
LEFT JOIN pg_catalog.pg_constraint f ON f.conrelid = m.source AND f.contype = 'f' AND f.conkey = ARRAY[a.attnum]
ORDER BY m.rollup, x.dim, s.inherited DESC, f.oid;
GRANT SELECT ON @extschema@.metrics, @extschema@.dimensions TO PUBLIC;

-- The planner hook's last decision in this backend (src/routing/routing.hpp), for query_metrics.
CREATE FUNCTION @extschema@._last_routed(forget boolean, OUT known boolean, OUT rollup text, OUT approximate text)
RETURNS SETOF record LANGUAGE C AS 'MODULE_PATHNAME', 'strata_last_routed';

-- A structured question on the metrics catalog (src/agents/README.md): compiled to one aggregate query on
-- the raw table (so routing answers it), run with every value as a parameter, answered as jsonb with
-- the rows and their provenance. As the caller (its privileges, its strata.max_raw_rows).
CREATE FUNCTION @extschema@.query_metrics(metrics text[], by text[] DEFAULT '{}', filters jsonb DEFAULT '{}',
    time_from timestamptz DEFAULT NULL, time_to timestamptz DEFAULT NULL, grain text DEFAULT NULL,
    order_by text DEFAULT NULL, row_limit integer DEFAULT 1000)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    spec text; name text; fraction text; m record; src regclass; tcol name; wanted text[] := '{}';
    dims text[]; valid_dims text[]; targets text[] := '{}'; keys text[] := '{}'; conds text[] := '{}';
    params text[] := '{}'; k text; v jsonb; op text; typ text; sql text; acc jsonb[] := '{}';
    n bigint := 0; rec record; truncated boolean := false; dec record; ord text; descending boolean := false;
    bounds jsonb := '{}'; exact boolean := true; kinds text[] := '{}'; label text; lim integer;
    ops constant text[] := ARRAY['=', '<>', '!=', '<', '<=', '>', '>=', 'in', 'not in', 'is null', 'is not null'];
    topk_labels text[] := '{}'; row_json jsonb; approx_before text;
BEGIN
    IF metrics IS NULL OR cardinality(metrics) = 0 THEN
        RAISE EXCEPTION 'query_metrics needs at least one metric' USING ERRCODE = '22023',
            HINT = 'strata.metrics lists them: ' || COALESCE((SELECT string_agg(DISTINCT x.metric::text, ', ') FROM @extschema@.metrics x), 'none yet');
    END IF;
    lim := COALESCE(row_limit, 1000);
    IF lim < 1 OR lim > 100000 THEN
        RAISE EXCEPTION 'row_limit must be between 1 and 100000, not %', lim USING ERRCODE = '22023';
    END IF;
    -- Metrics: a name (or name@fraction for a quantile sketch; table:name where tables share a name), all
    -- of one table.
    FOREACH spec IN ARRAY metrics LOOP
        IF spec LIKE '%:%' THEN
            src := COALESCE(src, to_regclass(split_part(spec, ':', 1)));
            IF src IS NULL OR src <> to_regclass(split_part(spec, ':', 1)) THEN
                RAISE EXCEPTION 'unknown table in metric "%"', spec USING ERRCODE = '22023',
                    HINT = 'Name a table strata.metrics lists, as it lists it.';
            END IF;
            spec := split_part(spec, ':', 2);
        END IF;
        name := split_part(spec, '@', 1);
        fraction := NULLIF(split_part(spec, '@', 2), '');
        IF src IS NULL AND (SELECT count(DISTINCT x.source) FROM @extschema@.metrics x WHERE x.metric = name) > 1 THEN
            RAISE EXCEPTION 'metric "%" is found on several tables', name USING ERRCODE = '22023',
                HINT = 'Name the table: ' || (SELECT string_agg(DISTINCT x.source::text || ':' || name, ', ')
                                               FROM @extschema@.metrics x WHERE x.metric = name) || '.';
        END IF;
        SELECT x.source, x.time_column, x.kind, x.raw_expression, x.error_bound INTO m
          FROM @extschema@.metrics x WHERE x.metric = name AND (src IS NULL OR x.source = src)
         ORDER BY x.rows_stored NULLS LAST LIMIT 1;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'unknown metric "%"', name USING ERRCODE = '22023',
                HINT = 'Valid metrics' || CASE WHEN src IS NULL THEN '' ELSE ' of ' || src::text END || ': ' ||
                       COALESCE((SELECT string_agg(DISTINCT x.metric::text, ', ') FROM @extschema@.metrics x
                                  WHERE src IS NULL OR x.source = src), 'none') || '.';
        END IF;
        src := m.source;
        tcol := m.time_column;
        label := replace(spec, '@', '_p');
        IF m.kind = 'quantile_sketch' THEN
            IF fraction IS NULL OR fraction !~ '^(0?\.[0-9]+|1(\.0*)?|0)$' THEN
                RAISE EXCEPTION 'quantile metric "%" needs a fraction', name USING ERRCODE = '22023',
                    HINT = 'Ask for ' || name || '@0.99 (a fraction between 0 and 1).';
            END IF;
            targets := targets || format('%s(%s, %s::float8) AS %I',
                CASE WHEN m.raw_expression LIKE 'strata.qsketch_agg(%' THEN 'strata.quantile' END, m.raw_expression, fraction, label);
        ELSIF fraction IS NOT NULL THEN
            RAISE EXCEPTION 'metric "%" takes no fraction', name USING ERRCODE = '22023',
                HINT = 'Only quantile sketches are asked with name@fraction.';
        ELSIF m.kind = 'distinct_estimate' THEN
            targets := targets || format('strata.distinct_count(%s) AS %I', m.raw_expression, label);
        ELSIF m.kind = 'topk_sketch' THEN
            -- The summary per group; its items, counts and error bounds in the answer (below).
            targets := targets || format('%s AS %I', m.raw_expression, label);
            topk_labels := topk_labels || label;
        ELSIF m.kind = 'sketch' THEN
            RAISE EXCEPTION 'metric "%" is a % and is not asked through query_metrics', name, m.kind USING ERRCODE = '0A000',
                HINT = 'Query the raw table with ' || m.raw_expression || ' (routing answers it from the rollup).';
        ELSE
            targets := targets || format('%s AS %I', m.raw_expression, label);
        END IF;
        IF m.error_bound IS NOT NULL THEN
            exact := false;
            bounds := bounds || jsonb_build_object(label, m.error_bound);
        END IF;
        wanted := wanted || name;
    END LOOP;
    -- The dimensions of the table's rollups that hold all the metrics asked.
    SELECT array_agg(DISTINCT d ORDER BY d) INTO valid_dims
      FROM @extschema@.metrics x, unnest(x.dimensions) d
     WHERE x.source = src AND x.rollup IN (SELECT y.rollup FROM @extschema@.metrics y WHERE y.source = src
                                            AND y.metric = ANY (wanted) GROUP BY y.rollup
                                            HAVING count(DISTINCT y.metric) = (SELECT count(DISTINCT w) FROM unnest(wanted) w));
    valid_dims := COALESCE(valid_dims, '{}');
    -- Grouping: the time bucket, then the dimensions asked.
    IF grain IS NOT NULL THEN
        IF grain NOT IN ('minute', 'hour', 'day', 'week', 'month', 'quarter', 'year') THEN
            RAISE EXCEPTION 'unknown grain "%"', grain USING ERRCODE = '22023',
                HINT = 'Valid grains: minute, hour, day, week, month, quarter, year.';
        END IF;
        keys := keys || format('date_trunc(%L, %I) AS %I', grain, tcol, grain);
    END IF;
    FOREACH k IN ARRAY COALESCE(by, '{}') LOOP
        IF NOT k = ANY (valid_dims) THEN
            RAISE EXCEPTION 'unknown dimension "%"', k USING ERRCODE = '22023',
                HINT = 'Valid dimensions for ' || array_to_string(wanted, ', ') || ': ' ||
                       COALESCE(NULLIF(array_to_string(valid_dims, ', '), ''), 'none') || '.';
        END IF;
        keys := keys || format('%I', k);
    END LOOP;
    -- Conditions: the time range and the filters; every value a parameter ($1[i]).
    IF time_from IS NOT NULL THEN
        params := params || extract(epoch FROM time_from)::text;
        conds := conds || format('%I >= to_timestamp(($1[%s])::float8)', tcol, cardinality(params));
    END IF;
    IF time_to IS NOT NULL THEN
        params := params || extract(epoch FROM time_to)::text;
        conds := conds || format('%I < to_timestamp(($1[%s])::float8)', tcol, cardinality(params));
    END IF;
    IF filters IS NOT NULL AND jsonb_typeof(filters) <> 'object' THEN
        RAISE EXCEPTION 'filters must be a JSON object: {"dimension": value} or {"dimension": {"operator": value}}'
            USING ERRCODE = '22023';
    END IF;
    FOR k, v IN SELECT * FROM jsonb_each(COALESCE(filters, '{}')) LOOP
        IF NOT k = ANY (valid_dims) THEN
            RAISE EXCEPTION 'unknown dimension "%" in filters', k USING ERRCODE = '22023',
                HINT = 'Valid dimensions: ' || COALESCE(NULLIF(array_to_string(valid_dims, ', '), ''), 'none') || '.';
        END IF;
        SELECT format_type(a.atttypid, a.atttypmod) INTO typ FROM pg_attribute a
         WHERE a.attrelid = src AND a.attname = k AND NOT a.attisdropped;
        IF jsonb_typeof(v) = 'object' THEN
            IF (SELECT count(*) FROM jsonb_object_keys(v)) <> 1 THEN
                RAISE EXCEPTION 'filter on "%" must name one operator', k USING ERRCODE = '22023',
                    HINT = 'Operators: ' || array_to_string(ops, ', ') || '.';
            END IF;
            SELECT e.key, e.value INTO op, v FROM jsonb_each(v) e;
            op := lower(op);
        ELSE
            op := '=';
        END IF;
        IF NOT op = ANY (ops) THEN
            RAISE EXCEPTION 'unknown filter operator "%"', op USING ERRCODE = '22023',
                HINT = 'Operators: ' || array_to_string(ops, ', ') || '.';
        END IF;
        IF op IN ('is null', 'is not null') THEN
            conds := conds || format('%I %s', k, upper(op));
        ELSIF op IN ('in', 'not in') THEN
            IF jsonb_typeof(v) <> 'array' THEN
                RAISE EXCEPTION 'filter "%" on "%" takes a JSON array', op, k USING ERRCODE = '22023';
            END IF;
            params := params || ARRAY(SELECT jsonb_array_elements_text(v))::text;
            conds := conds || format(CASE op WHEN 'in' THEN '%I = ANY (($1[%s])::%s[])' ELSE '%I <> ALL (($1[%s])::%s[])' END,
                                     k, cardinality(params), typ);
        ELSE
            IF jsonb_typeof(v) IN ('object', 'array', 'null') THEN
                RAISE EXCEPTION 'filter "%" on "%" takes one value', op, k USING ERRCODE = '22023';
            END IF;
            params := params || (v #>> '{}');
            conds := conds || format('%I %s ($1[%s])::%s', k, CASE op WHEN '!=' THEN '<>' ELSE op END, cardinality(params), typ);
        END IF;
    END LOOP;
    -- Order: a metric or a grouping key, ' desc' for descending; by default the grouping keys.
    IF order_by IS NOT NULL THEN
        descending := order_by ~* '\s+desc$';
        ord := regexp_replace(order_by, '\s+(asc|desc)$', '', 'i');
        IF NOT (ord = ANY (metrics) OR replace(ord, '@', '_p') = ANY (SELECT replace(x, '@', '_p') FROM unnest(metrics) x)
                OR ord = ANY (COALESCE(by, '{}')) OR ord IS NOT DISTINCT FROM grain) THEN
            RAISE EXCEPTION 'cannot order by "%"', ord USING ERRCODE = '22023',
                HINT = 'Order by one of: ' || array_to_string(metrics || COALESCE(by, '{}') || COALESCE(ARRAY[grain], '{}'), ', ') || '.';
        END IF;
        ord := format('%I%s', replace(ord, '@', '_p'), CASE WHEN descending THEN ' DESC' ELSE '' END);
    END IF;
    sql := 'SELECT ' || array_to_string(keys || targets, ', ') || ' FROM ' || src::text ||
           CASE WHEN cardinality(conds) > 0 THEN ' WHERE ' || array_to_string(conds, ' AND ') ELSE '' END ||
           CASE WHEN cardinality(keys) > 0
                THEN ' GROUP BY ' || (SELECT string_agg(i::text, ', ') FROM generate_series(1, cardinality(keys)) i) ELSE '' END ||
           CASE WHEN ord IS NOT NULL THEN ' ORDER BY ' || ord
                WHEN cardinality(keys) > 0
                THEN ' ORDER BY ' || (SELECT string_agg(i::text, ', ') FROM generate_series(1, cardinality(keys)) i) ELSE '' END ||
           ' LIMIT ' || (lim + 1);
    PERFORM @extschema@._last_routed(true);
    -- A top-k metric is a summary with its own error bound: routing may merge stored summaries for it
    -- (strata.routing_approximate, for this statement only; the bound is in the provenance).
    IF cardinality(topk_labels) > 0 THEN
        approx_before := current_setting('strata.routing_approximate');
        PERFORM set_config('strata.routing_approximate', 'on', true);
    END IF;
    FOR rec IN EXECUTE sql USING params LOOP
        n := n + 1;
        IF n > lim THEN truncated := true; EXIT; END IF;
        row_json := to_jsonb(rec);
        FOREACH label IN ARRAY topk_labels LOOP
            row_json := jsonb_set(row_json, ARRAY[label], COALESCE((
                SELECT jsonb_agg(jsonb_build_object('item', t.item, 'count', t.count, 'error', t.error)
                                 ORDER BY t.count DESC, t.item)
                  FROM @extschema@.topk_items((row_json ->> label)::@extschema@.topk) t), '[]'::jsonb));
        END LOOP;
        acc := acc || row_json;  -- appended in place (a jsonb concatenation would copy every row each time)
    END LOOP;
    IF approx_before IS NOT NULL THEN
        PERFORM set_config('strata.routing_approximate', approx_before, true);
    END IF;
    SELECT * INTO dec FROM @extschema@._last_routed(false);
    IF dec.approximate IS NOT NULL THEN exact := false; END IF;
    RETURN jsonb_build_object(
        'rows', to_jsonb(acc), 'row_count', LEAST(n, lim), 'truncated', truncated,
        'provenance', jsonb_build_object(
            'source', src::text, 'sql', sql, 'parameters', to_jsonb(params),
            'answered_by', dec.rollup,
            'exact', exact, 'error_bounds', bounds, 'approximate', dec.approximate,
            'caught_up_at', (SELECT r.caught_up_at FROM @extschema@.rollup r WHERE r.view::text = dec.rollup)));
END $fn$;

-------------------------------------------------------------------------------- vacuum scheduling
-- Per-table or per-partitioned-table overrides of the strata.vacuum_* defaults. A row on a partitioned
-- table applies to all its partitions unless one has its own row. Dumped with the configuration.
CREATE TABLE @extschema@.vacuum_policy (
    relid            regclass PRIMARY KEY,
    enabled          boolean NOT NULL DEFAULT true,   -- false: strata never touches the table(s)
    proactive_freeze boolean NOT NULL DEFAULT true,   -- false: no proactive freezing (urgent work still runs)
    cold_after       interval CHECK (cold_after > '0'),
    analyze_fraction float8 CHECK (analyze_fraction >= 0),
    updated_at       timestamptz NOT NULL DEFAULT pg_catalog.now()
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.vacuum_policy', '');

-- What the scheduler tracks between passes (not dumped: it is rebuilt by watching). changes is the
-- table's cumulative inserted + updated + deleted rows as last seen; changed_at when that last moved
-- (NULL: no change seen since seen_at); frozen_changes / analyzed_changes the value when strata last
-- froze or analyzed it, so unchanged tables are not processed again.
CREATE TABLE @extschema@.vacuum_state (
    relid            oid PRIMARY KEY,
    changes          bigint NOT NULL,
    seen_at          timestamptz NOT NULL,
    changed_at       timestamptz,
    frozen_changes   bigint,
    frozen_at        timestamptz,
    analyzed_changes bigint,
    analyzed_at      timestamptz,
    -- The table's cumulative (updates - HOT updates + deletes) when strata last vacuumed it, or first saw
    -- it (index entries its refreshes left pointing at dead tuples). NULL: not known yet.
    entries_at_vacuum bigint
);

-- strata.set_vacuum_policy(target, enabled, proactive_freeze, cold_after, analyze_fraction): creates or replaces
-- the override of one table or partitioned table. The caller must own the table.
CREATE FUNCTION @extschema@.set_vacuum_policy(
    target regclass, enabled boolean DEFAULT true, proactive_freeze boolean DEFAULT true,
    cold_after interval DEFAULT NULL, analyze_fraction float8 DEFAULT NULL)
RETURNS void LANGUAGE C CALLED ON NULL INPUT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'strata_set_vacuum_policy';
COMMENT ON FUNCTION @extschema@.set_vacuum_policy(regclass, boolean, boolean, interval, float8)
IS 'overrides the vacuum scheduler for a table or all partitions of a partitioned table (enabled => false: never touch it)';

CREATE FUNCTION @extschema@.reset_vacuum_policy(target regclass)
RETURNS boolean LANGUAGE C STRICT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'strata_reset_vacuum_policy';
COMMENT ON FUNCTION @extschema@.reset_vacuum_policy(regclass)
IS 'removes a vacuum policy override; returns whether there was one';

-- A dry run: what the scheduler would do now, in order, and why. Lists the tables the caller may read.
CREATE FUNCTION @extschema@.vacuum_plan(
    OUT priority integer, OUT action text, OUT relation text, OUT decision text, OUT reason text,
    OUT facts jsonb)
RETURNS SETOF record LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'strata_vacuum_plan';
COMMENT ON FUNCTION @extschema@.vacuum_plan()
IS 'what the vacuum scheduler would do now and why (dry run)';

-- Executed actions, from job_runs (reason, facts before and after, duration, buffers).
CREATE VIEW @extschema@.vacuum_activity WITH (security_invoker = true) AS
SELECT r.id, r.job_kind AS action, r.target AS relation, r.started_at, r.finished_at,
       r.finished_at - r.started_at AS duration, r.status, r.message AS reason,
       r.details -> 'before' AS facts_before, r.details -> 'after' AS facts_after, r.details -> 'buffers' AS buffers,
       r.run_as
FROM @extschema@.job_runs r
WHERE r.job_kind IN ('vacuum_urgent', 'vacuum_freeze', 'vacuum_freeze_hot', 'analyze_parent', 'analyze_hot',
                     'vacuum_dead', 'insert_handover', 'vacuum_rollup');

GRANT SELECT ON @extschema@.vacuum_policy, @extschema@.vacuum_state, @extschema@.vacuum_activity TO PUBLIC;

-------------------------------------------------------------------------------- dropped objects, event triggers
-- Forgets partition sets and vacuum overrides of dropped tables, and unregisters a rollup whose view,
-- source, tables or definition view are dropped outside drop_rollup() (for example DROP TABLE <source>
-- CASCADE, which takes the real-time view with it), with the rollups that read it: its catalog row,
-- pending table, definition view and change trigger go; its data table, if it still exists, is kept (it
-- may hold buckets whose raw rows are gone) and a NOTICE names it.
CREATE FUNCTION @extschema@._on_sql_drop() RETURNS event_trigger LANGUAGE plpgsql
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
REVOKE ALL ON FUNCTION @extschema@._on_sql_drop() FROM PUBLIC;
CREATE EVENT TRIGGER strata_sql_drop ON sql_drop EXECUTE FUNCTION @extschema@._on_sql_drop();
CREATE EVENT TRIGGER strata_alter_table ON ddl_command_end WHEN TAG IN ('ALTER TABLE', 'CREATE TABLE', 'CREATE FOREIGN TABLE')
    EXECUTE FUNCTION @extschema@._on_alter_table();

-- A relation that leaves a captured source's tree by hand (DROP TABLE, DETACH PARTITION, NO INHERIT) or
-- enters it (ATTACH PARTITION, INHERIT) has its rows' buckets logged first, as a TRUNCATE of it would:
-- its rollups' groups there are recomputed from the rows the source then has (retention's own drops are
-- left alone: its rollups keep the frozen history).
-- As the caller (not SECURITY DEFINER, no SET search_path): the command's table names are resolved as the
-- command resolves them (the caller's search_path and privileges), and it acts only for the tables'
-- owner; it pins search_path before running any SQL and writes the log as the extension's owner.
CREATE FUNCTION @extschema@._on_tree_change() RETURNS event_trigger
LANGUAGE C AS 'MODULE_PATHNAME', 'strata_on_tree_change';
REVOKE ALL ON FUNCTION @extschema@._on_tree_change() FROM PUBLIC;
CREATE EVENT TRIGGER strata_tree_change ON ddl_command_start WHEN TAG IN ('DROP TABLE', 'ALTER TABLE')
    EXECUTE FUNCTION @extschema@._on_tree_change();

-- Asks the launcher to look for databases at commit, so this one gets its worker at once.
SELECT @extschema@._wake_launcher();

-- The change capture's tables are dumped with the rollups they serve (registered last: a database
-- upgraded from 0.9.0 lists them in this order).
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rollup_source', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rollup_source_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rollup_grain', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rollup_grain_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rollup_change', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rollup_change_pos', '');

-- The advisor (src/agents/README.md). Routed executions per user and statement, by query id (as
-- pg_stat_statements keys statements): the caller's own, or all for pg_read_all_stats; and one
-- statement's shape read from its text (names resolved by `search_path`; estimates made as `as_user`, the
-- role that ran it, when the caller has its privileges).
CREATE FUNCTION @extschema@._routed_queries(OUT user_id oid, OUT query_id bigint, OUT executions bigint)
RETURNS SETOF record LANGUAGE C AS 'MODULE_PATHNAME', 'strata_routed_queries';
CREATE FUNCTION @extschema@._query_shape(query text, as_user oid DEFAULT NULL, search_path text DEFAULT NULL,
    OUT source regclass, OUT time_column text, OUT grain text,
    OUT dimensions text[], OUT measures text[], OUT approximate text[], OUT refusal text,
    OUT rows_read double precision, OUT groups double precision, OUT table_rows double precision)
RETURNS SETOF record LANGUAGE C CALLED ON NULL INPUT AS 'MODULE_PATHNAME', 'strata_query_shape';

-- The create_rollup call of a proposal: a bucket at `grain` over `time_column`, the dimensions, the measures
-- (select-list items), named `name` in the source's schema (every part quoted).
CREATE FUNCTION @extschema@._proposal_sql(source regclass, time_column text, grain text, dimensions text[],
    measures text[], name text) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT format('SELECT strata.create_rollup(%L, %L);',
    quote_ident((SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = source))
      || '.' || quote_ident(name),
    format('SELECT date_trunc(%L, %I) AS bucket%s, %s FROM %s GROUP BY %s', grain, time_column,
           (SELECT string_agg(', ' || quote_ident(d), '') FROM unnest(dimensions) d),
           array_to_string(measures, ', '), source,
           (SELECT string_agg(i::text, ', ') FROM generate_series(1, 1 + cardinality(dimensions)) i)))
$$;

-- The name proposed for a rollup of a table at a grain by some dimensions: one no relation of the
-- table's schema has (a number added when needed).
CREATE FUNCTION @extschema@._proposal_name(source regclass, grain text, dimensions text[]) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  WITH base AS (
    SELECT c.relnamespace AS nsp, left(c.relname, 24) || '_'
           || CASE grain WHEN 'minute' THEN 'by_minute' WHEN 'day' THEN 'daily' ELSE grain || 'ly' END
           || COALESCE('_by_' || left(NULLIF(array_to_string(dimensions, '_'), ''), 24), '') AS name
    FROM pg_class c WHERE c.oid = source)
  SELECT x.name FROM base b CROSS JOIN LATERAL generate_series(1, 100) i
  CROSS JOIN LATERAL (SELECT b.name || CASE WHEN i > 1 THEN '_' || i ELSE '' END AS name) x
  WHERE NOT EXISTS (SELECT FROM pg_class r WHERE r.relnamespace = b.nsp AND r.relname = x.name)
  ORDER BY i LIMIT 1
$$;

-- A rollup that would answer one statement (its text as run; names resolved by the caller's search_path,
-- passed in): the create_rollup call, or why none can (the guardrail's hint). As the caller.
CREATE FUNCTION @extschema@._proposal(query text, search_path text DEFAULT pg_catalog.current_setting('search_path'))
RETURNS text LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN sh.refusal IS NOT NULL THEN 'none can (' || sh.refusal || ')'
              ELSE @extschema@._proposal_sql(sh.source, sh.time_column, sh.grain, sh.dimensions, sh.measures,
                                             @extschema@._proposal_name(sh.source, sh.grain, sh.dimensions))
                   || COALESCE(' (' || NULLIF(array_to_string(sh.approximate, '; '), '') || ')', '') END
  FROM @extschema@._query_shape(query, NULL, _proposal.search_path) sh
$$;

-- The aggregate statements pg_stat_statements recorded in this database, grouped by the rollup that
-- would answer them (table, time column, grain, dimensions), each group with its calls, the calls
-- routing answered, the rows its unanswered calls read as estimated, the rows a rollup would save them,
-- and the create_rollup call; or why no rollup can answer a statement. As the caller (pg_stat_statements
-- shows other roles' statement texts only to members of pg_read_all_stats); table names in the texts
-- resolve by the caller's search_path (passed in: the function's own is pinned).
CREATE FUNCTION @extschema@.rollup_advice(min_calls bigint DEFAULT 1,
    search_path text DEFAULT pg_catalog.current_setting('search_path'))
RETURNS TABLE (status text, source regclass, time_column text, grain text, dimensions text[], measures text[],
               statements integer, calls bigint, routed_calls bigint, est_rows_read double precision,
               est_rows_saved double precision, reason text, create_rollup text, example text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  pss text;
BEGIN
  SELECT pg_catalog.format('%I.pg_stat_statements', n.nspname) INTO pss
  FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
  WHERE e.extname = 'pg_stat_statements';
  IF pss IS NULL THEN
    RAISE EXCEPTION 'strata.rollup_advice reads the workload from pg_stat_statements, which is not installed in this database'
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Add pg_stat_statements to shared_preload_libraries, restart, and run CREATE EXTENSION pg_stat_statements.';
  END IF;
  RETURN QUERY EXECUTE pg_catalog.format($q$
    WITH routed AS (
      SELECT r.user_id, r.query_id, sum(r.executions) AS executions FROM @extschema@._routed_queries() r GROUP BY 1, 2),
    w AS (
      SELECT s.queryid, min(s.query) AS query, sum(s.calls)::bigint AS calls,
             sum(LEAST(COALESCE(r.executions, 0), s.calls))::bigint AS routed,
             (array_agg(s.userid ORDER BY s.calls DESC, s.userid))[1] AS userid
      FROM %s s
      LEFT JOIN routed r ON r.user_id = s.userid AND r.query_id = s.queryid
      WHERE s.dbid = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database()) AND s.toplevel
        AND s.query ~* '^\s*select\M' AND s.query NOT LIKE '%%pg_stat_statements%%' AND s.query NOT LIKE '%%rollup_advice%%'
      GROUP BY s.queryid
      HAVING sum(s.calls) >= $1),
    shaped AS (
      SELECT w.*, sh.* FROM w CROSS JOIN LATERAL @extschema@._query_shape(w.query, w.userid, $2) sh),
    grouped AS (
      SELECT CASE WHEN g.refusal IS NOT NULL THEN 'not servable'
                  WHEN sum(g.calls - g.routed) = 0 THEN 'routed' ELSE 'proposed' END AS status,
             g.source, g.time_column, g.grain, g.dimensions, g.refusal,
             count(*)::integer AS statements, sum(g.calls)::bigint AS calls, sum(g.routed)::bigint AS routed_calls,
             sum((g.calls - g.routed) * g.rows_read) AS est_rows_read,
             sum((g.calls - g.routed) * g.rows_read
                 * GREATEST(0, 1 - g.groups / NULLIF(g.table_rows, 0))) FILTER (WHERE g.refusal IS NULL) AS est_rows_saved,
             (array_agg(g.query ORDER BY g.calls DESC, g.query))[1] AS example,
             array_agg(g.queryid) AS ids
      FROM shaped g
      GROUP BY g.source, g.time_column, g.grain, g.dimensions, g.refusal),
    parts AS (
      SELECT g.*,
             ARRAY(SELECT DISTINCT m FROM shaped x, unnest(x.measures) m WHERE x.queryid = ANY (g.ids) ORDER BY m) AS measures,
             ARRAY(SELECT DISTINCT a FROM shaped x, unnest(x.approximate) a WHERE x.queryid = ANY (g.ids) ORDER BY a) AS approximate,
             (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = g.source) AS nsp,
             @extschema@._proposal_name(g.source, g.grain, g.dimensions) AS base_name
      FROM grouped g),
    named AS (
      SELECT p.*, p.base_name || CASE WHEN row_number() OVER (PARTITION BY p.nsp, p.base_name ORDER BY p.calls DESC, p.example) > 1
                                      THEN '_' || row_number() OVER (PARTITION BY p.nsp, p.base_name ORDER BY p.calls DESC, p.example)
                                      ELSE '' END AS rollup_name
      FROM parts p WHERE p.status = 'proposed'
      UNION ALL
      SELECT p.*, NULL FROM parts p WHERE p.status <> 'proposed')
    SELECT p.status, p.source, p.time_column, p.grain, p.dimensions, p.measures, p.statements, p.calls,
           p.routed_calls, p.est_rows_read, p.est_rows_saved,
           COALESCE(p.refusal,
                    CASE WHEN p.status = 'routed' THEN 'every call was answered by a rollup' END,
                    NULLIF(array_to_string(p.approximate, '; '), ''),
                    CASE WHEN p.routed_calls > 0 THEN p.routed_calls || ' of ' || p.calls || ' calls were answered by a rollup' END),
           CASE WHEN p.status = 'proposed'
                THEN @extschema@._proposal_sql(p.source, p.time_column, p.grain, p.dimensions, p.measures, p.rollup_name) END,
           p.example
    FROM named p
    ORDER BY p.status = 'not servable', p.est_rows_saved DESC NULLS LAST, p.calls DESC, p.example $q$, pss)
  USING min_calls, search_path;
END $fn$;

-------------------------------------------------------------------------------- ingest health
-- What slows or endangers the write path (src/health/README.md): the tables with ingest (partition
-- sets, rollups' raw sources), their counters sampled by the worker each pass, lock waits on them with the
-- blocking chain, sessions, prepared transactions and replication slots holding back the xmin horizon,
-- and alerts logged once per condition.

-- The tables watched: partition sets (by their control column) and rollups' raw sources that are not
-- sets (by their first rollup's time column).
CREATE FUNCTION @extschema@._health_tables(OUT relid regclass, OUT kind text, OUT time_column name)
RETURNS SETOF record LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT s.parent, 'partition set', s.control_column FROM @extschema@.partition_set s
  UNION ALL
  SELECT * FROM (
    SELECT DISTINCT ON (r.source) r.source, 'rollup source', r.time_column FROM @extschema@.rollup r
     WHERE r.source_rollup IS NULL AND r.source NOT IN (SELECT s.parent FROM @extschema@.partition_set s)
     ORDER BY r.source, r.id) first_rollup
$$;

-- A table's counters summed over its partitions (the cumulative statistics; the tree read from pg_inherits,
-- which takes no lock: a health check must not queue behind the DDL it is to report).
CREATE FUNCTION @extschema@._health_counters(rel regclass, OUT inserted bigint, OUT updated bigint,
    OUT deleted bigint, OUT dead bigint, OUT live bigint, OUT last_vacuum timestamptz, OUT last_analyze timestamptz)
RETURNS record LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT COALESCE(sum(pg_stat_get_tuples_inserted(t.relid)), 0)::bigint,
         COALESCE(sum(pg_stat_get_tuples_updated(t.relid)), 0)::bigint,
         COALESCE(sum(pg_stat_get_tuples_deleted(t.relid)), 0)::bigint,
         COALESCE(sum(pg_stat_get_dead_tuples(t.relid)), 0)::bigint,
         COALESCE(sum(pg_stat_get_live_tuples(t.relid)), 0)::bigint,
         max(GREATEST(pg_stat_get_last_vacuum_time(t.relid), pg_stat_get_last_autovacuum_time(t.relid))),
         max(GREATEST(pg_stat_get_last_analyze_time(t.relid), pg_stat_get_last_autoanalyze_time(t.relid)))
  FROM (WITH RECURSIVE tree(relid) AS (
          SELECT rel::oid UNION ALL SELECT i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.relid)
        SELECT tree.relid FROM tree JOIN pg_class c ON c.oid = tree.relid WHERE c.relkind IN ('r', 'm', 't', 'p')) t
$$;

-- Samples of the counters, at most one a minute per table, kept six hours (rates over the last passes;
-- dead tuples accumulated since a horizon holder started).
CREATE TABLE @extschema@.ingest_sample (
    relid      oid NOT NULL,
    sampled_at timestamptz NOT NULL,
    inserted   bigint NOT NULL,
    updated    bigint NOT NULL,
    deleted    bigint NOT NULL,
    dead       bigint NOT NULL,
    PRIMARY KEY (relid, sampled_at)
);
CREATE INDEX ON @extschema@.ingest_sample (sampled_at);

-- Lock waits on watched tables (or their partitions), one row per wait (waiting pid, relation, since
-- when), updated while it lasts; kept seven days. Query texts are shown through strata.lock_waits only to
-- readers who may see them in pg_stat_activity.
CREATE TABLE @extschema@.lock_wait (
    id              bigserial PRIMARY KEY,
    relation        oid NOT NULL,
    relation_name   text NOT NULL,
    watched         regclass,
    waiting_pid     integer NOT NULL,
    waiting_user    name,
    waiting_query   text,
    lock_mode       text NOT NULL,
    waiting_since   timestamptz NOT NULL,
    last_seen       timestamptz NOT NULL,
    chain           jsonb NOT NULL,
    root_pid        integer,
    root_user       name,
    root_state      text,
    root_xact_start timestamptz,
    root_query      text,
    summary         text NOT NULL,
    UNIQUE (waiting_pid, waiting_since, relation)
);
CREATE INDEX ON @extschema@.lock_wait (last_seen);

-- Alert state: a condition is logged when it appears, when its signature changes, and again after
-- strata.health_alert_repeat; it goes when the condition clears.
CREATE TABLE @extschema@.health_alert (
    condition   text PRIMARY KEY,
    signature   text NOT NULL,
    message     text NOT NULL,
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    last_logged timestamptz NOT NULL
);

-- A threshold setting, with its default when strata is not loaded in the session.
CREATE FUNCTION @extschema@._health_setting(name text, fallback bigint) RETURNS bigint
LANGUAGE C STABLE AS 'MODULE_PATHNAME', 'strata_health_setting';

-- Rows of a set's default partition by why they are there: above the newest partition (premake ran out),
-- a NULL key, below the oldest partition (older than retention, or before the set began). NULLs when the
-- caller may not read the default partition.
CREATE FUNCTION @extschema@._health_default_rows(parent regclass, OUT beyond_newest bigint, OUT null_key bigint,
    OUT below_oldest bigint)
RETURNS record LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET lock_timeout = '100ms' AS $$
DECLARE
  s record; def oid; st record;
BEGIN
  SELECT * INTO s FROM @extschema@.partition_set p WHERE p.parent = _health_default_rows.parent;
  IF NOT FOUND THEN RETURN; END IF;
  SELECT pt.partdefid INTO def FROM pg_partitioned_table pt WHERE pt.partrelid = _health_default_rows.parent;
  IF def IS NULL OR def = 0 OR NOT has_table_privilege(def, 'SELECT') THEN RETURN; END IF;
  SELECT * INTO st FROM @extschema@.partition_set_state(_health_default_rows.parent);
  IF st.newest_bound IS NULL THEN RETURN; END IF;
  EXECUTE format('SELECT count(*) FILTER (WHERE %1$I >= %2$L::%3$s), count(*) FILTER (WHERE %1$I IS NULL),
                         count(*) FILTER (WHERE %1$I < %4$L::%3$s) FROM ONLY %5$s',
                 s.control_column, st.newest_bound, s.key_type, st.oldest_bound, def::regclass)
     INTO beyond_newest, null_key, below_oldest;
EXCEPTION WHEN OTHERS THEN  -- behind a lock queue, or the set's state unreadable: unknown
  beyond_newest := NULL; null_key := NULL; below_oldest := NULL;
END $$;

-- The newest value of a table's time (control) column, through an index whose first column it is; NULL
-- without such an index (a scan of the whole table is not what a health view should do) or without the
-- privilege to read it.
CREATE FUNCTION @extschema@._health_newest(rel regclass, col name) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET lock_timeout = '100ms' AS $$
DECLARE
  v text;
BEGIN
  IF NOT has_column_privilege(rel, col, 'SELECT') OR NOT EXISTS (
       SELECT FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
        JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
        WHERE i.indrelid = rel AND a.attname = col AND i.indisvalid AND i.indpred IS NULL AND am.amname = 'btree') THEN
    RETURN NULL;
  END IF;
  EXECUTE format('SELECT max(%I)::text FROM %s', col, rel) INTO v;
  RETURN v;
EXCEPTION WHEN lock_not_available THEN
  RETURN NULL;  -- behind a lock queue on the table: unknown now
END $$;

-- Premade partitions ahead of a set's newest row (the newest value of its control column, through an
-- index; the state's figure, ahead of now, without one): how many more partitions of new rows fit
-- before rows go to the default partition or fail.
CREATE FUNCTION @extschema@._health_ahead(parent regclass) RETURNS integer
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET lock_timeout = '100ms' AS $$
DECLARE
  s record; st record; newest text; n numeric;
BEGIN
  SELECT * INTO s FROM @extschema@.partition_set p WHERE p.parent = _health_ahead.parent;
  IF NOT FOUND THEN RETURN NULL; END IF;
  SELECT * INTO st FROM @extschema@._partition_set_live(_health_ahead.parent);
  newest := @extschema@._health_newest(_health_ahead.parent, s.control_column);
  IF newest IS NULL OR st.newest_bound IS NULL THEN RETURN st.partitions_ahead; END IF;
  IF s.key_type IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype) THEN
    n := floor(extract(epoch FROM (st.newest_bound::timestamptz - newest::timestamptz))
               / extract(epoch FROM s.partition_interval::interval));
  ELSE
    n := floor((st.newest_bound::numeric - newest::numeric) / s.partition_interval::numeric);
  END IF;
  RETURN LEAST(st.partitions_ahead, GREATEST(n, 0))::integer;
EXCEPTION WHEN lock_not_available THEN
  RETURN NULL;
END $$;

-- Sessions, prepared transactions and replication slots holding back this database's xmin horizon (so
-- vacuum removes nothing newer), longer than strata.health_horizon_age (sessions, prepared transactions)
-- or at all (slots), with the dead tuples the watched tables gained since (from the samples). As the
-- reader: pg_stat_activity shows other roles' sessions in full only to pg_read_all_stats.
CREATE VIEW @extschema@.horizon_holders WITH (security_invoker = true) AS
WITH holders AS (
  SELECT 'session'::text AS kind, a.pid, a.usename AS user_name, a.application_name AS application,
         a.state, a.xact_start AS since, a.query_start, a.query,
         COALESCE(a.backend_xid, a.backend_xmin) AS xmin
  FROM pg_stat_activity a
  WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend'
    AND COALESCE(a.backend_xid, a.backend_xmin) IS NOT NULL
    AND a.xact_start < now() - make_interval(secs => @extschema@._health_setting('health_horizon_age', 300))
  UNION ALL
  SELECT 'prepared transaction', NULL, p.owner, p.gid, 'prepared', p.prepared, NULL, NULL, p.transaction
  FROM pg_prepared_xacts p
  WHERE p.database = current_database()
    AND p.prepared < now() - make_interval(secs => @extschema@._health_setting('health_horizon_age', 300))
  UNION ALL
  SELECT 'replication slot', s.active_pid, NULL, s.slot_name,
         CASE WHEN s.active THEN 'active' ELSE 'inactive' END || CASE WHEN s.xmin IS NULL THEN ' (catalog rows only)' ELSE '' END,
         NULL, NULL, NULL, COALESCE(s.xmin, s.catalog_xmin)
  FROM pg_replication_slots s
  WHERE (s.database IS NULL OR s.database = current_database()) AND COALESCE(s.xmin, s.catalog_xmin) IS NOT NULL)
SELECT h.kind, h.pid, h.user_name, h.application, h.state, h.since, now() - h.since AS held_for, h.query_start,
       h.query, h.xmin, age(h.xmin) AS xmin_age,
       (SELECT sum(l.dead - f.dead) FROM (
          SELECT DISTINCT ON (s.relid) s.relid, s.dead FROM @extschema@.ingest_sample s
           WHERE h.since IS NOT NULL AND s.sampled_at >= h.since ORDER BY s.relid, s.sampled_at) f
        JOIN (SELECT DISTINCT ON (s.relid) s.relid, s.dead FROM @extschema@.ingest_sample s
               ORDER BY s.relid, s.sampled_at DESC) l USING (relid)) AS dead_tuples_since
FROM holders h;

-- Per watched table: ingest rates over the samples of the last ten minutes, what its default partition
-- holds and why, premade partitions left, the newest row, dead tuples and the last vacuum and analyze,
-- and a status with its reason. As the reader: tables it may read.
CREATE VIEW @extschema@.ingest_health WITH (security_invoker = true) AS
WITH t AS (
  SELECT w.relid, w.kind, w.time_column, c.* FROM @extschema@._health_tables() w
  CROSS JOIN LATERAL @extschema@._health_counters(w.relid) c
  WHERE has_table_privilege(w.relid, 'SELECT')),
rates AS (  -- samples are taken when counters move: from the last one at or before ten minutes ago (else the
            -- first) to the latest, over the time to now
  -- (counters fall when a partition is dropped or statistics are reset: a negative difference reads as 0)
  SELECT l.relid, GREATEST(l.inserted - b.inserted, 0) / NULLIF(x.secs, 0) AS ins,
         GREATEST(l.updated - b.updated, 0) / NULLIF(x.secs, 0) AS upd,
         GREATEST(l.deleted - b.deleted, 0) / NULLIF(x.secs, 0) AS del, x.secs, extract(epoch FROM now() - l.sampled_at) AS idle_s
  FROM (SELECT DISTINCT ON (s.relid) s.* FROM @extschema@.ingest_sample s ORDER BY s.relid, s.sampled_at DESC) l
  CROSS JOIN LATERAL (
    SELECT s.* FROM @extschema@.ingest_sample s WHERE s.relid = l.relid
    ORDER BY s.sampled_at <= now() - interval '10 minutes' DESC,
             CASE WHEN s.sampled_at <= now() - interval '10 minutes' THEN s.sampled_at END DESC NULLS LAST, s.sampled_at
    LIMIT 1) b
  CROSS JOIN LATERAL (SELECT extract(epoch FROM now() - b.sampled_at) AS secs) x),
earlier AS (  -- inserts in the samples of the last six hours (did ingest stop?)
  SELECT s.relid, max(s.inserted) - min(s.inserted) AS inserted FROM @extschema@.ingest_sample s GROUP BY s.relid),
h AS (
  SELECT t.*, r.ins, r.upd, r.del, r.secs, r.idle_s, e.inserted AS inserted_6h, @extschema@._health_ahead(t.relid) AS partitions_ahead, st.default_rows, ps.premake,
         d.beyond_newest, d.null_key, d.below_oldest,
         @extschema@._health_newest(t.relid, t.time_column) AS newest,
         (SELECT count(*) FROM @extschema@.horizon_holders hh WHERE hh.state NOT LIKE '%catalog rows only%') AS holders
  FROM t
  LEFT JOIN rates r ON r.relid = t.relid
  LEFT JOIN earlier e ON e.relid = t.relid
  LEFT JOIN @extschema@.partition_set ps ON ps.parent = t.relid
  LEFT JOIN LATERAL @extschema@._partition_set_live(t.relid) st ON t.kind = 'partition set'
  LEFT JOIN LATERAL @extschema@._health_default_rows(t.relid) d ON t.kind = 'partition set')
SELECT h.relid AS relation, h.kind, h.time_column,
       round(h.ins::numeric, 2) AS inserts_per_s, round(h.upd::numeric, 2) AS updates_per_s,
       round(h.del::numeric, 2) AS deletes_per_s, round(h.secs::numeric) AS rate_window_s,
       h.newest AS newest_value,
       CASE WHEN h.newest IS NOT NULL AND (SELECT a.atttypid FROM pg_attribute a WHERE a.attrelid = h.relid
                                            AND a.attname = h.time_column) IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype)
            THEN now() - h.newest::timestamptz END AS newest_age,
       h.partitions_ahead, h.premake, h.default_rows, h.beyond_newest AS default_beyond_newest,
       h.null_key AS default_null_key, h.below_oldest AS default_below_oldest,
       h.dead AS dead_tuples, h.live AS live_tuples, h.last_vacuum, h.last_analyze, h.holders AS horizon_holders,
       CASE WHEN h.partitions_ahead IS NOT NULL AND h.partitions_ahead < LEAST(@extschema@._health_setting('health_min_partitions_ahead', 1), h.premake)
              OR COALESCE(h.default_rows, 0) > @extschema@._health_setting('health_max_default_rows', 0) THEN 'warning'
            WHEN h.holders > 0 AND h.dead > 0.2 * GREATEST(h.live, 1) THEN 'warning'
            WHEN h.idle_s >= 300 AND h.inserted_6h > 0 THEN 'warning'
            ELSE 'ok' END AS status,
       concat_ws('; ',
         CASE WHEN h.partitions_ahead IS NOT NULL AND h.partitions_ahead < LEAST(@extschema@._health_setting('health_min_partitions_ahead', 1), h.premake)
              THEN format('%s premade partition(s) ahead of the newest row (premake %s): new rows beyond them go to the default partition or fail; is the worker running?',
                          h.partitions_ahead, h.premake) END,
         CASE WHEN COALESCE(h.default_rows, 0) > @extschema@._health_setting('health_max_default_rows', 0)
              THEN format('%s row(s) in the default partition (%s beyond the newest partition, %s with a NULL key, %s below the oldest)',
                          h.default_rows, COALESCE(h.beyond_newest::text, '?'), COALESCE(h.null_key::text, '?'),
                          COALESCE(h.below_oldest::text, '?')) END,
         CASE WHEN h.holders > 0 AND h.dead > 0.2 * GREATEST(h.live, 1)
              THEN format('%s dead tuples (%s%% of live) while %s session(s) or slot(s) hold back the xmin horizon (strata.horizon_holders)',
                          h.dead, round(100.0 * h.dead / GREATEST(h.live, 1)), h.holders) END,
         CASE WHEN h.idle_s >= 300 AND h.inserted_6h > 0
              THEN format('no row inserted, updated or deleted in the last %s s, after %s inserted in the hours before: did ingest stop?',
                          round(h.idle_s), h.inserted_6h) END) AS reason
FROM h;

-- Lock waits on watched tables as sampled (history), the chain of blockers down to the root one. As the
-- reader: tables it may read; query texts only where pg_stat_activity would show them.
CREATE VIEW @extschema@.lock_waits WITH (security_invoker = false) AS
SELECT w.id, w.watched AS table_name, w.relation_name AS relation, w.waiting_pid, w.waiting_user, w.lock_mode,
       w.waiting_since, w.last_seen, w.last_seen - w.waiting_since AS waited,
       CASE WHEN w.waiting_user = current_user OR pg_has_role(current_user, 'pg_read_all_stats', 'USAGE')
            THEN w.waiting_query ELSE '<insufficient privilege>' END AS waiting_query,
       w.root_pid, w.root_user,
       CASE WHEN w.root_user = current_user OR pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') THEN w.root_state END AS root_state,
       CASE WHEN w.root_user = current_user OR pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') THEN w.root_xact_start END AS root_xact_start,
       CASE WHEN w.root_user = current_user OR pg_has_role(current_user, 'pg_read_all_stats', 'USAGE')
            THEN w.root_query ELSE '<insufficient privilege>' END AS root_query,
       CASE WHEN pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') THEN w.chain END AS chain,
       CASE WHEN pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') THEN w.summary ELSE '<insufficient privilege>' END AS summary
FROM @extschema@.lock_wait w
WHERE w.watched IS NOT NULL AND has_table_privilege(w.watched, 'SELECT');

-- Open alerts (conditions the worker logged and that have not cleared); their messages name sessions and
-- users, shown to those who may see other roles' sessions (pg_read_all_stats).
CREATE VIEW @extschema@.health_alerts AS
SELECT a.condition,
       CASE WHEN pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') THEN a.message ELSE '<insufficient privilege>' END AS message,
       a.first_seen, a.last_seen, a.last_logged FROM @extschema@.health_alert a;

GRANT SELECT ON @extschema@.ingest_health, @extschema@.horizon_holders, @extschema@.lock_waits,
    @extschema@.health_alerts, @extschema@.ingest_sample TO PUBLIC;

-- Per partition set, from the relation cache and the statistics (no lock waited for): counters over
-- its partitions, partitions ahead of the newest one holding rows, the default partition's rows.
CREATE FUNCTION @extschema@._partition_set_figures(OUT parent regclass, OUT inserted bigint, OUT updated bigint,
    OUT deleted bigint, OUT dead bigint, OUT live bigint, OUT partitions_ahead integer, OUT default_live bigint)
RETURNS SETOF record LANGUAGE C AS 'MODULE_PATHNAME', 'strata_partition_set_figures';
REVOKE ALL ON FUNCTION @extschema@._partition_set_figures() FROM PUBLIC;

-- The health pass's alert state (src/health/README.md; the pass itself is C: strata._health_pass() runs it
-- by hand): records lock waits on watched tables (check_locks: a session of this database waits for a
-- lock), reads the horizon holders (check_holders: one may hold), takes the sets' conditions the pass
-- found (partitions ahead below the threshold, default partitions above it), and returns the alerts to log
-- now (new, changed, or repeated after strata.health_alert_repeat); cleared conditions are removed, but
-- not those of sets left out of the pass (behind a lock queue).
CREATE FUNCTION @extschema@._health_alerts(ahead_sets oid[], ahead_counts integer[], default_sets oid[],
    default_counts bigint[], left_out oid[], check_locks boolean, check_holders boolean, check_replication boolean,
    OUT condition text, OUT message text)
RETURNS SETOF record LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET lock_timeout = '100ms' AS $$
DECLARE
  lock_ms bigint := @extschema@._health_setting('health_lock_wait', 1000);
  repeat_s bigint := @extschema@._health_setting('health_alert_repeat', 3600);
  min_ahead bigint := @extschema@._health_setting('health_min_partitions_ahead', 1);
  max_default bigint := @extschema@._health_setting('health_max_default_rows', 0);
  max_slot_mb bigint := @extschema@._health_setting('health_max_slot_wal', 1024);
  seen text[] := '{}';
  cond record;
BEGIN
  -- Lock waits longer than strata.health_lock_wait on a watched table or one of its partitions, each
  -- with its chain of blockers (pg_blocking_pids, to a session that waits for nobody).
  WITH RECURSIVE waiting AS (
    SELECT l.pid, l.relation, l.mode, l.waitstart FROM pg_locks l
    WHERE check_locks AND NOT l.granted AND l.locktype = 'relation'
      AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
      AND l.waitstart < now() - make_interval(secs => lock_ms / 1000.0)),
  up(relation, relid) AS (  -- each waited-for relation and its ancestors (pg_inherits: no lock)
    SELECT DISTINCT w.relation, w.relation FROM waiting w
    UNION ALL
    SELECT u.relation, i.inhparent FROM up u JOIN pg_inherits i ON i.inhrelid = u.relid),
  waits AS (  -- one watched table per wait (trees may nest: the innermost)
    SELECT DISTINCT ON (w.pid, w.relation) w.pid, w.relation, w.mode, w.waitstart, t.relid::oid AS watched
    FROM waiting w JOIN up u ON u.relation = w.relation JOIN @extschema@._health_tables() t ON t.relid::oid = u.relid
    ORDER BY w.pid, w.relation, t.relid <> w.relation, t.relid),
  chain(waiter, relation, pid, depth) AS (  -- UNION: each blocker once per depth (no path explosion)
    SELECT w.pid, w.relation, w.pid, 0 FROM waits w
    UNION
    SELECT c.waiter, c.relation, b.pid, c.depth + 1
    FROM chain c CROSS JOIN LATERAL unnest(pg_blocking_pids(c.pid)) b(pid)
    WHERE b.pid <> c.waiter AND c.depth < 8),
  described AS (
    SELECT DISTINCT ON (c.waiter, c.relation, c.pid) c.waiter, c.relation, c.depth, c.pid, a.usename, a.state, a.xact_start, a.query, a.wait_event_type,
           (SELECT l.mode FROM pg_locks l WHERE l.pid = c.pid AND NOT l.granted LIMIT 1) AS waits_for,
           cardinality(pg_blocking_pids(c.pid)) = 0 AS is_root
    FROM chain c LEFT JOIN pg_stat_activity a ON a.pid = c.pid
    ORDER BY c.waiter, c.relation, c.pid, c.depth),
  per_wait AS (
    SELECT w.pid, w.relation, w.mode, w.waitstart, w.watched,
           jsonb_agg(jsonb_build_object('pid', d.pid, 'depth', d.depth, 'user', d.usename, 'state', d.state,
                                        'waits_for', d.waits_for, 'xact_start', d.xact_start, 'query', left(d.query, 200))
                     ORDER BY d.depth, d.pid) AS chain,
           (array_agg(d.pid ORDER BY d.is_root DESC, d.depth DESC, d.pid))[1] AS root_pid
    FROM waits w JOIN described d ON d.waiter = w.pid AND d.relation = w.relation
    GROUP BY w.pid, w.relation, w.mode, w.waitstart, w.watched)
  INSERT INTO @extschema@.lock_wait AS t (relation, relation_name, watched, waiting_pid, waiting_user, waiting_query,
      lock_mode, waiting_since, last_seen, chain, root_pid, root_user, root_state, root_xact_start, root_query, summary)
  SELECT p.relation, p.relation::regclass::text, p.watched, p.pid, wa.usename, wa.query, p.mode, p.waitstart, now(), p.chain,
         p.root_pid, ra.usename, ra.state, ra.xact_start, ra.query,
         format('pid %s (%s) waited %s for %s on %s behind %s', p.pid, left(regexp_replace(COALESCE(wa.query, '?'), '\s+', ' ', 'g'), 60),
                date_trunc('second', now() - p.waitstart), p.mode, p.relation::regclass,
                (SELECT string_agg(format('pid %s (%s%s)', e ->> 'pid', COALESCE(e ->> 'state', '?'),
                                          CASE WHEN e ->> 'waits_for' IS NOT NULL THEN ', waiting for ' || (e ->> 'waits_for') ELSE '' END
                                          || CASE WHEN e ->> 'xact_start' IS NOT NULL
                                                  THEN ', in a transaction for ' || date_trunc('second', now() - (e ->> 'xact_start')::timestamptz) ELSE '' END),
                                   ' behind ' ORDER BY (e ->> 'depth')::int)
                   FROM jsonb_array_elements(p.chain) e WHERE (e ->> 'depth')::int > 0))
  FROM per_wait p
  LEFT JOIN pg_stat_activity wa ON wa.pid = p.pid
  LEFT JOIN pg_stat_activity ra ON ra.pid = p.root_pid
  ON CONFLICT (waiting_pid, waiting_since, relation) DO UPDATE
    SET last_seen = excluded.last_seen, chain = excluded.chain, root_pid = excluded.root_pid, root_user = excluded.root_user,
        root_state = excluded.root_state, root_xact_start = excluded.root_xact_start, root_query = excluded.root_query,
        summary = excluded.summary;
  DELETE FROM @extschema@.lock_wait w WHERE w.last_seen < now() - interval '7 days';

  -- The conditions now: each a key, a signature (what makes it a new condition) and a message.
  FOR cond IN
    -- A holder is one condition while its transaction lasts (its start, or a slot's name, as signature).
    SELECT 'horizon:' || h.kind || ':' || COALESCE(h.pid::text, h.application) AS key,
           COALESCE(h.since::text, h.application) AS signature,
           CASE WHEN h.state LIKE '%catalog rows only%'
                THEN format('strata: replication slot %s (%s) holds back the catalog xmin horizon of database %s (xid age %s): vacuum of system catalogs removes no row version newer; the slot also retains WAL',
                            quote_literal(h.application), h.state, current_database(), h.xmin_age)
                ELSE format('strata: %s %s (user %s, %s) holds back the xmin horizon of database %s (xid age %s%s): vacuum removes no row version deleted or updated since; %s dead tuples accumulated in watched tables since',
                            h.kind, COALESCE(h.pid::text, quote_literal(h.application)), COALESCE(h.user_name::text, '-'), COALESCE(h.state, '-'),
                            current_database(), h.xmin_age, CASE WHEN h.held_for IS NOT NULL THEN ', for ' || date_trunc('second', h.held_for) ELSE '' END,
                            COALESCE(h.dead_tuples_since::text, 'unknown')) END AS msg
    FROM @extschema@.horizon_holders h
    WHERE check_holders AND (h.kind <> 'replication slot' OR h.state LIKE 'inactive%')
    UNION ALL
    -- A lock queue is one condition per watched table and root blocker, however many wait in it.
    SELECT 'lock:' || w.watched || ':' || w.root_pid, w.root_pid::text,
           format('strata: lock queue on %s: %s session(s) waiting behind pid %s; the longest: %s', w.watched::regclass, count(*),
                  w.root_pid, (array_agg(w.summary ORDER BY w.waiting_since))[1])
    FROM @extschema@.lock_wait w WHERE w.last_seen = now() GROUP BY w.watched, w.root_pid
    UNION ALL
    SELECT 'ahead:' || x.parent::regclass, x.partitions_ahead::text,
           format('strata: partition set %s has %s premade partition(s) ahead of the newest one holding rows (premake %s, alert below %s): rows beyond go to the default partition or fail',
                  x.parent::regclass, x.partitions_ahead, s.premake, min_ahead)
    FROM unnest(ahead_sets, ahead_counts) AS x(parent, partitions_ahead)
    JOIN @extschema@.partition_set s ON s.parent::oid = x.parent
    UNION ALL
    -- Rows arriving in a default partition change its count each pass: one condition while it holds more.
    SELECT 'default:' || x.parent::regclass, '',
           format('strata: the default partition of %s holds %s row(s) (alert above %s): see strata.ingest_health for why', x.parent::regclass,
                  x.default_rows, max_default)
    FROM unnest(default_sets, default_counts) AS x(parent, default_rows)
    JOIN @extschema@.partition_set s ON s.parent::oid = x.parent
    UNION ALL
    -- An analytics node's slot retaining more WAL than strata.health_max_slot_wal, or about to be (or)
    -- lost; a subscription disabled (after an apply error).
    SELECT 'slot:' || r.name, r.wal_status,
           format('strata: logical replication slot %s retains %s of WAL (%s; alert above %s MB): its subscriber is down or behind; %s',
                  quote_ident(r.name), pg_size_pretty(r.retained_bytes), r.wal_status, max_slot_mb, r.status)
    FROM @extschema@.replication_health r
    WHERE check_replication AND r.side = 'publisher'
      AND (r.retained_bytes > max_slot_mb * 1024 * 1024 OR r.wal_status IN ('unreserved', 'lost'))
    UNION ALL
    SELECT 'subscription:' || r.name, 'disabled',
           format('strata: subscription %s is disabled: %s', quote_ident(r.name), r.status)
    FROM @extschema@.replication_health r
    WHERE check_replication AND r.side = 'subscriber' AND NOT r.running
  LOOP
    seen := seen || cond.key;
    INSERT INTO @extschema@.health_alert AS a (condition, signature, message, first_seen, last_seen, last_logged)
    VALUES (cond.key, COALESCE(cond.signature, ''), cond.msg, now(), now(), now())
    ON CONFLICT ON CONSTRAINT health_alert_pkey DO UPDATE
      SET last_seen = now(), message = excluded.message,
          signature = excluded.signature,
          last_logged = CASE WHEN a.signature IS DISTINCT FROM excluded.signature
                               OR a.last_logged < now() - make_interval(secs => repeat_s) THEN now() ELSE a.last_logged END;
    IF (SELECT a.last_logged = now() FROM @extschema@.health_alert a WHERE a.condition = cond.key) THEN
      condition := cond.key;
      message := cond.msg;
      RETURN NEXT;
    END IF;
  END LOOP;
  -- Cleared conditions go; a set left out of the figures (behind a lock queue) keeps its own.
  DELETE FROM @extschema@.health_alert a WHERE a.condition <> ALL (seen)
     AND NOT EXISTS (SELECT FROM unnest(left_out) AS x(parent)
                      WHERE a.condition IN ('ahead:' || x.parent::regclass, 'default:' || x.parent::regclass));
END $$;
REVOKE ALL ON FUNCTION @extschema@._health_alerts(oid[], integer[], oid[], bigint[], oid[], boolean, boolean, boolean) FROM PUBLIC;

-- The worker's health pass run by hand, in the caller's transaction (everything read afresh): samples the
-- watched tables' counters that moved, then strata._health_alerts; returns the alerts the worker would
-- log now.
CREATE FUNCTION @extschema@._health_pass(OUT condition text, OUT message text)
RETURNS SETOF record LANGUAGE C SET search_path = pg_catalog, pg_temp SET lock_timeout = '100ms'
AS 'MODULE_PATHNAME', 'strata_health_pass';
REVOKE ALL ON FUNCTION @extschema@._health_pass() FROM PUBLIC;

-------------------------------------------------------------------------------- analytics node
-- A primary publishes its tables and strata.heartbeat to an analytics node, which subscribes and holds
-- the rollups (src/analytics/README.md).

-- The primary's side: a publication of the tables (and strata.heartbeat) with publish_via_partition_root,
-- then its logical replication slot. A procedure, called on its own (not inside BEGIN ... COMMIT): the
-- publication is committed first, and the slot is made in the next transaction (a slot cannot be made
-- after a write in its transaction, and one made before the publication commits cannot decode what
-- commits in between: "publication does not exist"); when the slot cannot be made, the publication is
-- dropped again and the error raised. Refuses what breaks the contract: wal_level below logical, a table
-- without a replica identity for UPDATE/DELETE, an existing publication or slot of that name. Warns when
-- max_slot_wal_keep_size is -1 (a subscriber that stays down retains WAL without limit). As the caller:
-- the owner of the tables and of strata.heartbeat (the extension's owner, or a superuser), with the
-- REPLICATION attribute. Returns the slot's name in `slot`.
CREATE PROCEDURE @extschema@.create_analytics_publication(tables regclass[], publication name DEFAULT 'strata_analytics',
    INOUT slot name DEFAULT NULL)
LANGUAGE plpgsql AS $$
DECLARE
  the_slot name := COALESCE(slot, publication);
  t regclass;
  bad text;
  failed text;
  failed_state text;
BEGIN
  -- (A procedure that commits cannot have SET clauses: the path is set per transaction.)
  SET LOCAL search_path = pg_catalog, pg_temp;
  IF current_setting('wal_level') <> 'logical' THEN
    RAISE EXCEPTION 'wal_level is %, logical replication needs logical', current_setting('wal_level')
      USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'ALTER SYSTEM SET wal_level = logical, then restart the server.';
  END IF;
  IF tables IS NULL OR cardinality(tables) = 0 THEN
    RAISE EXCEPTION 'no tables to publish' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF EXISTS (SELECT FROM pg_publication p WHERE p.pubname = publication) THEN
    RAISE EXCEPTION 'publication % already exists', quote_ident(publication) USING ERRCODE = 'duplicate_object';
  END IF;
  IF EXISTS (SELECT FROM pg_replication_slots s WHERE s.slot_name = the_slot) THEN
    RAISE EXCEPTION 'replication slot % already exists', quote_ident(the_slot) USING ERRCODE = 'duplicate_object',
      HINT = 'Name another with slot => ..., or drop it with pg_drop_replication_slot() if nothing uses it.';
  END IF;
  FOREACH t IN ARRAY tables LOOP
    IF NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = t AND c.relkind IN ('r', 'p')) THEN
      RAISE EXCEPTION '% is not a table', t USING ERRCODE = 'wrong_object_type';
    END IF;
    IF NOT pg_has_role((SELECT c.relowner FROM pg_class c WHERE c.oid = t), 'USAGE') THEN
      RAISE EXCEPTION 'must be owner of table %', t USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- UPDATE and DELETE replicate only with a replica identity: on each table that holds rows (the leaves).
    SELECT string_agg(c.oid::regclass::text, ', ') INTO bad
    FROM (SELECT l.relid FROM pg_partition_tree(t) l WHERE l.isleaf UNION SELECT t) l JOIN pg_class c ON c.oid = l.relid
    WHERE c.relkind = 'r' AND (c.relreplident = 'n' OR (c.relreplident = 'd' AND NOT EXISTS (
            SELECT FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)));
    IF bad IS NOT NULL THEN
      RAISE EXCEPTION 'table % has no replica identity for UPDATE and DELETE (%)', t, bad
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = 'A publication of a table without one fails every UPDATE and DELETE on the primary.',
              HINT = format('Add a primary key, or ALTER TABLE %s REPLICA IDENTITY FULL (each row sent whole).', t);
    END IF;
  END LOOP;
  IF current_setting('max_slot_wal_keep_size') = '-1' THEN
    RAISE WARNING 'max_slot_wal_keep_size is -1: a subscriber that stays down makes this server keep WAL without limit'
      USING HINT = 'Set max_slot_wal_keep_size (the slot is then lost past it, and the analytics node needs a resync: see src/analytics/README.md).';
  END IF;
  EXECUTE format('CREATE PUBLICATION %I FOR TABLE %s, @extschema@.heartbeat WITH (publish_via_partition_root = true)',
                 publication, (SELECT string_agg(x::text, ', ') FROM unnest(tables) x));
  COMMIT;
  SET LOCAL search_path = pg_catalog, pg_temp;
  BEGIN
    PERFORM pg_create_logical_replication_slot(the_slot, 'pgoutput');
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS failed = MESSAGE_TEXT, failed_state = RETURNED_SQLSTATE;
  END;
  IF failed IS NOT NULL THEN
    EXECUTE format('DROP PUBLICATION %I', publication);
    COMMIT;
    RAISE EXCEPTION 'could not create replication slot %: % (the publication was dropped again)', quote_ident(the_slot), failed
      USING ERRCODE = failed_state;
  END IF;
  INSERT INTO @extschema@.job_runs (job_kind, target, status, message, finished_at, run_as)
  VALUES ('analytics_publication', quote_ident(publication), 'ok',
          format('publication %s of %s table(s) and strata.heartbeat, slot %s', quote_ident(publication),
                 cardinality(tables), quote_ident(the_slot)), clock_timestamp(), current_user);
  slot := the_slot;
END $$;

-- The analytics node's side: the subscription (its slot made by create_analytics_publication, not
-- here: CREATE SUBSCRIPTION can make one only outside a transaction), with disable_on_error (an apply
-- error stops and says so in strata.replication_health instead of retrying forever). Before it, for each
-- local table of the publication: a subscriber-local order column (order_column, filled by a sequence
-- with CACHE 1 in the order rows arrive), and with partition_interval, a partition set on time_column
-- from start_partition (the oldest time the primary holds), premake ahead and a default partition, so
-- apply never meets a missing partition (retention kept here longer than on the primary). The local tables must exist with the publisher's columns (pg_dump --schema-only of them).
-- Superuser only (CREATE SUBSCRIPTION).
CREATE FUNCTION @extschema@.create_analytics_subscription(subscription name, conninfo text, publication name DEFAULT 'strata_analytics',
    tables regclass[] DEFAULT NULL, slot name DEFAULT NULL, order_column name DEFAULT 'strata_order',
    time_column name DEFAULT NULL, partition_interval text DEFAULT NULL, premake integer DEFAULT 4,
    retention text DEFAULT NULL, start_partition text DEFAULT NULL)
RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t regclass;
  seq text;
  made integer := 0;
  sets integer := 0;
BEGIN
  IF EXISTS (SELECT FROM pg_subscription s WHERE s.subname = subscription) THEN
    RAISE EXCEPTION 'subscription % already exists', quote_ident(subscription) USING ERRCODE = 'duplicate_object';
  END IF;
  IF partition_interval IS NOT NULL AND time_column IS NULL THEN
    RAISE EXCEPTION 'partition_interval needs time_column' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOREACH t IN ARRAY COALESCE(tables, '{}') LOOP
    IF NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = t AND c.relkind IN ('r', 'p')) THEN
      RAISE EXCEPTION '% is not a table', t USING ERRCODE = 'wrong_object_type';
    END IF;
    -- The order column: the order rows are applied in (the publisher's own ids follow its insert order,
    -- not its commit order, and arrive as data).
    IF NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = t AND a.attname = order_column AND NOT a.attisdropped) THEN
      seq := format('%I.%I', (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = t),
                    left((SELECT c.relname FROM pg_class c WHERE c.oid = t), 40) || '_' || order_column || '_seq');
      EXECUTE format('CREATE SEQUENCE %s CACHE 1', seq);
      EXECUTE format('ALTER TABLE %s ADD COLUMN %I bigint NOT NULL DEFAULT pg_catalog.nextval(%L::pg_catalog.regclass)',
                     t, order_column, seq);
      EXECUTE format('ALTER SEQUENCE %s OWNED BY %s.%I', seq, t, order_column);
      EXECUTE format('CREATE INDEX ON %s (%I)', t, order_column);
      made := made + 1;
    ELSIF pg_get_serial_sequence(t::text, order_column) IS NULL THEN
      RAISE EXCEPTION 'column % of % is not filled by a sequence', quote_ident(order_column), t
        USING ERRCODE = 'invalid_table_definition',
              HINT = 'The order column must be local to this node (not sent by the publisher) and filled by a sequence; name another with order_column => ...';
    END IF;
    IF partition_interval IS NOT NULL AND (SELECT c.relkind FROM pg_class c WHERE c.oid = t) = 'p'
       AND NOT EXISTS (SELECT FROM @extschema@.partition_set s WHERE s.parent = t) THEN
      -- With a default partition: a row older than the partitions (history the initial copy brings,
      -- late rows) lands there and partition maintenance moves it out; apply never stops on it.
      PERFORM @extschema@.create_partition_set(t, time_column, partition_interval, premake => premake, retention => retention,
                                               default_partition => true, start_partition => start_partition);
      sets := sets + 1;
    END IF;
  END LOOP;
  EXECUTE format('CREATE SUBSCRIPTION %I CONNECTION %L PUBLICATION %I WITH (create_slot = false, slot_name = %L, disable_on_error = true)',
                 subscription, conninfo, publication, COALESCE(slot, publication));
  IF NOT EXISTS (SELECT FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid WHERE s.subname = subscription) THEN
    RAISE EXCEPTION 'publication % on the publisher has no tables (or does not exist)', quote_ident(publication)
      USING ERRCODE = 'undefined_object', HINT = 'Run strata.create_analytics_publication(...) on the primary first.';
  END IF;
  -- Every table of the publication must be known locally: CREATE SUBSCRIPTION checked that; their
  -- partition sets premake ahead.
  INSERT INTO @extschema@.job_runs (job_kind, target, status, message, finished_at, run_as)
  VALUES ('analytics_subscription', quote_ident(subscription), 'ok',
          format('subscription %s to publication %s: %s order column(s) added, %s partition set(s) created',
                 quote_ident(subscription), quote_ident(publication), made, sets), clock_timestamp(), current_user);
  RETURN format('subscription %s: %s tables', quote_ident(subscription),
                (SELECT count(*) FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid WHERE s.subname = subscription));
END $$;
REVOKE ALL ON FUNCTION @extschema@.create_analytics_subscription(name, text, name, regclass[], name, name, name, text, integer, text, text) FROM PUBLIC;

-- Replication as both sides see it: on a primary, each logical slot of this database (its WAL status,
-- WAL retained, how much more it may retain before it is lost, how far its subscriber is behind, in
-- bytes and time); on an analytics node, each subscription (enabled, the origin's last heartbeat: "complete
-- up to", apply and sync errors) and each origin whose heartbeats arrive. status says what is wrong. As
-- the reader (security_invoker): pg_stat_replication's details only for pg_read_all_stats.
CREATE VIEW @extschema@.replication_health WITH (security_invoker = true) AS
SELECT 'publisher'::text AS side, s.slot_name::text AS name, NULL::text AS origin, s.active AS running,
       s.wal_status, pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), s.restart_lsn)::bigint AS retained_bytes,
       s.safe_wal_size AS safe_wal_bytes,
       pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint AS lag_bytes,
       r.replay_lag AS lag_time, NULL::timestamptz AS complete_up_to, NULL::bigint AS apply_errors,
       NULL::bigint AS sync_errors,
       CASE WHEN s.wal_status = 'lost' THEN 'lost: the subscriber needs a resync (src/analytics/README.md)'
            WHEN s.wal_status = 'unreserved' THEN 'about to be lost: WAL past max_slot_wal_keep_size'
            WHEN NOT s.active THEN 'inactive: no subscriber connected, WAL retained'
            ELSE 'ok' END AS status
FROM pg_catalog.pg_replication_slots s
LEFT JOIN pg_catalog.pg_stat_replication r ON r.pid = s.active_pid
WHERE s.slot_type = 'logical' AND s.database = pg_catalog.current_database()
  AND NOT pg_catalog.pg_is_in_recovery()
UNION ALL
SELECT 'subscriber', s.subname::text, NULL, s.subenabled, NULL, NULL, NULL,
       pg_catalog.pg_wal_lsn_diff(w.received_lsn, w.latest_end_lsn)::bigint,
       pg_catalog.now() - w.last_msg_receipt_time,
       (SELECT pg_catalog.min(h.beat_at) FROM @extschema@.heartbeat h), st.apply_error_count, st.sync_error_count,
       CASE WHEN NOT s.subenabled THEN 'disabled (by hand, or by an apply error: see the server log; fix, then ALTER SUBSCRIPTION ... ENABLE)'
            WHEN w.pid IS NULL THEN 'no apply worker running'
            ELSE 'ok' END
FROM pg_catalog.pg_subscription s
LEFT JOIN pg_catalog.pg_stat_subscription w ON w.subid = s.oid AND w.relid IS NULL
LEFT JOIN pg_catalog.pg_stat_subscription_stats st ON st.subid = s.oid
WHERE s.subdbid = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
UNION ALL
SELECT 'origin', NULL, h.origin, NULL, NULL, NULL, NULL, NULL, pg_catalog.now() - h.beat_at, h.beat_at, NULL, NULL,
       CASE WHEN pg_catalog.now() - h.beat_at > pg_catalog.make_interval(secs => 10 * @extschema@._health_setting('heartbeat_interval', 5))
            THEN 'no heartbeat for ' || pg_catalog.date_trunc('second', pg_catalog.now() - h.beat_at) ELSE 'ok' END
FROM @extschema@.heartbeat h
WHERE EXISTS (SELECT FROM pg_catalog.pg_subscription s
              WHERE s.subdbid = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()));
GRANT SELECT ON @extschema@.replication_health TO PUBLIC;

-- ============================================================================================================
-- Columnar: column batches of compressed cold partitions (src/columnar/README.md, docs/rfcs/columnar.md).
-- One column's values as one compressed batch and back; a batch decodes only as the type it was made
-- from, and damaged bytes are refused (XX001).
CREATE FUNCTION @extschema@._columnar_encode(column_values anyarray) RETURNS bytea
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'strata_columnar_encode';
CREATE FUNCTION @extschema@._columnar_decode(batch bytea, value_type anyelement) RETURNS anyarray
LANGUAGE C IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'strata_columnar_decode';
-- A decoded batch hands Postgres the stored bytes of its type: not for PUBLIC.
REVOKE ALL ON FUNCTION @extschema@._columnar_encode(anyarray) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._columnar_decode(bytea, anyelement) FROM PUBLIC;
-- A table's rows as batches in a new table beside it, one row per batch of at most 1,000 rows of one
-- segment value in order_by's order (the conversion's build step); returns the rows read.
CREATE FUNCTION @extschema@._columnar_build(leaf regclass, sibling name, segment_by name[] DEFAULT '{}',
                                             order_by name DEFAULT NULL) RETURNS bigint
LANGUAGE C SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'strata_columnar_build';
REVOKE ALL ON FUNCTION @extschema@._columnar_build(regclass, name, name[], name) FROM PUBLIC;

-------------------------------------------------------------------------------- compressed partitions
-- A partition set's compression policy (src/columnar/README.md): the worker compresses every partition
-- wholly older than compress_after, its rows cut into batches by segment_by values in order_by's order.
-- Dumped by pg_dump (pg_extension_config_dump), as the sets are.
CREATE TABLE @extschema@.columnar_policy (
    parent         regclass PRIMARY KEY,
    compress_after interval,
    segment_by     name[] NOT NULL DEFAULT '{}',
    order_by       name
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.columnar_policy', '');

-- The compressed partitions and the layout of their batch tables (read by every backend's planner,
-- changed only under an ACCESS EXCLUSIVE lock on the partition). Not dumped: a restore loads every
-- partition's rows as heap rows (COPY reads them through strata), and the worker compresses them again.
CREATE TABLE @extschema@.columnar_partition (
    leaf            oid PRIMARY KEY,
    sibling         oid NOT NULL,
    segment_attnums int2[] NOT NULL,
    batch_attnums   int2[] NOT NULL,
    order_attnum    int2,
    rows            bigint NOT NULL,
    batches         bigint NOT NULL,
    segment_by      name[] NOT NULL DEFAULT '{}',
    order_by        name,
    bytes_before    bigint NOT NULL,
    bytes_after     bigint NOT NULL,
    compressed_at   timestamptz NOT NULL,
    duration_ms     double precision NOT NULL,
    compressions    integer NOT NULL DEFAULT 1
);

CREATE FUNCTION @extschema@._set_compression_policy(parent regclass, compress_after text, segment_by text,
                                                    order_by text, clear boolean)
RETURNS void LANGUAGE C CALLED ON NULL INPUT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'strata_set_compression_policy';

-- By hand; both idempotent, both the caller's transaction, both need the partition's owner.
CREATE FUNCTION @extschema@.compress_partition(partition regclass) RETURNS bigint
LANGUAGE C STRICT SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'strata_compress_partition';
COMMENT ON FUNCTION @extschema@.compress_partition(regclass)
IS 'converts a partition into compressed column batches (again, if rows were written since); returns the rows compressed';
CREATE FUNCTION @extschema@.decompress_partition(partition regclass) RETURNS bigint
LANGUAGE C STRICT SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'strata_decompress_partition';
COMMENT ON FUNCTION @extschema@.decompress_partition(regclass)
IS 'converts a compressed partition back into a heap; returns the rows moved';

CREATE VIEW @extschema@.compressed_partitions AS
SELECT c.leaf::pg_catalog.regclass AS partition,
       (SELECT i.inhparent::pg_catalog.regclass FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.leaf) AS parent,
       c.rows, c.batches, c.bytes_before, c.bytes_after,
       pg_catalog.round(c.bytes_before::numeric / NULLIF(c.bytes_after, 0), 2) AS ratio,
       pg_catalog.pg_total_relation_size(c.leaf) + COALESCE(pg_catalog.pg_total_relation_size(c.sibling), 0) AS bytes_now,
       COALESCE(pg_catalog.pg_stat_get_live_tuples(c.leaf), 0) AS heap_rows,
       c.segment_by, c.order_by, c.compressed_at, c.duration_ms, c.compressions
FROM @extschema@.columnar_partition c;
GRANT SELECT ON @extschema@.columnar_policy, @extschema@.columnar_partition, @extschema@.compressed_partitions TO PUBLIC;
