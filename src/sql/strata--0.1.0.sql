-- strata 0.1.0 install script. Released scripts are never edited: changes go in upgrade scripts.
\echo Use "CREATE EXTENSION strata" to load this file. \quit

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

-- Every action of the workers and of run_maintenance: what ran, on what, when, how it ended and why.
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

CREATE FUNCTION @extschema@.create_partition_set(
    parent regclass, control_column name, partition_interval text,
    premake integer DEFAULT 4, retention text DEFAULT NULL, retention_keep_table boolean DEFAULT false,
    default_partition boolean DEFAULT false, partition_options text[] DEFAULT '{}',
    partition_tablespace name DEFAULT NULL, start_partition text DEFAULT NULL)
RETURNS integer LANGUAGE C CALLED ON NULL INPUT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'strata_create_partition_set';
COMMENT ON FUNCTION @extschema@.create_partition_set(regclass, name, text, integer, text, boolean, boolean, text[], name, text)
IS 'takes over a PARTITION BY RANGE table: creates partitions around now (or the data) and premake ahead';

CREATE FUNCTION @extschema@.create_partition_set(
    parent regclass, control_column name, partition_interval interval,
    premake integer DEFAULT 4, retention interval DEFAULT NULL, retention_keep_table boolean DEFAULT false,
    default_partition boolean DEFAULT false, partition_options text[] DEFAULT '{}',
    partition_tablespace name DEFAULT NULL, start_partition text DEFAULT NULL)
RETURNS integer LANGUAGE sql CALLED ON NULL INPUT
SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.create_partition_set($1, $2, $3::text, $4, $5::text, $6, $7, $8, $9, $10) $$;

CREATE FUNCTION @extschema@.create_partition_set(
    parent regclass, control_column name, partition_interval bigint,
    premake integer DEFAULT 4, retention bigint DEFAULT NULL, retention_keep_table boolean DEFAULT false,
    default_partition boolean DEFAULT false, partition_options text[] DEFAULT '{}',
    partition_tablespace name DEFAULT NULL, start_partition text DEFAULT NULL)
RETURNS integer LANGUAGE sql CALLED ON NULL INPUT
SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.create_partition_set($1, $2, $3::text, $4, $5::text, $6, $7, $8, $9, $10) $$;

CREATE FUNCTION @extschema@.undo_partition_set(parent regclass)
RETURNS void LANGUAGE C CALLED ON NULL INPUT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'strata_undo_partition_set';

CREATE FUNCTION @extschema@.run_maintenance(parent regclass DEFAULT NULL)
RETURNS TABLE (parent regclass, action text, partition text, status text, message text)
LANGUAGE C CALLED ON NULL INPUT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'strata_run_maintenance';

-- Changes a set's settings; NULL leaves a setting as it is (clear_retention removes retention).
CREATE FUNCTION @extschema@.alter_partition_set(
    parent regclass, premake integer DEFAULT NULL, retention text DEFAULT NULL,
    retention_keep_table boolean DEFAULT NULL, partition_options text[] DEFAULT NULL,
    partition_tablespace name DEFAULT NULL, enabled boolean DEFAULT NULL, clear_retention boolean DEFAULT false)
RETURNS void LANGUAGE C CALLED ON NULL INPUT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'strata_alter_partition_set';

CREATE FUNCTION @extschema@.partition_set_state(parent regclass,
    OUT partition_count integer, OUT oldest_bound text, OUT newest_bound text, OUT partitions_ahead integer,
    OUT default_rows bigint, OUT detach_pending text, OUT actions_due integer)
RETURNS record LANGUAGE C STRICT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'strata_partition_set_state';

CREATE FUNCTION @extschema@.worker_status(
    OUT datname text, OUT pid integer, OUT state text, OUT started_at timestamptz, OUT last_pass_at timestamptz,
    OUT passes bigint, OUT naptime_ms integer, OUT failures integer, OUT last_error text)
RETURNS SETOF record LANGUAGE C
AS 'MODULE_PATHNAME', 'strata_worker_status';

CREATE FUNCTION @extschema@._wake_launcher() RETURNS void LANGUAGE C
AS 'MODULE_PATHNAME', 'strata_wake_launcher';

CREATE FUNCTION @extschema@._guard_selftest(kind text) RETURNS text LANGUAGE C STRICT
AS 'MODULE_PATHNAME', 'strata_guard_selftest';
REVOKE ALL ON FUNCTION @extschema@._guard_selftest(text) FROM PUBLIC;

-- The background workers of this cluster (empty when strata is not in shared_preload_libraries).
CREATE VIEW @extschema@.workers AS SELECT * FROM @extschema@.worker_status();

-- Partition sets with their configuration and live state.
CREATE VIEW @extschema@.partition_sets AS
SELECT s.parent, s.control_column, s.key_type, s.partition_interval, s.premake, s.retention,
       s.retention_keep_table, s.default_partition, s.partition_options, s.partition_tablespace, s.enabled,
       st.partition_count, st.oldest_bound, st.newest_bound, st.partitions_ahead, st.default_rows,
       st.detach_pending, st.actions_due,
       j.finished_at AS last_action_at, j.job_kind AS last_action, j.status AS last_status,
       j.message AS last_message,
       (SELECT max(w.last_pass_at) FROM @extschema@.worker_status() w
         WHERE w.datname = pg_catalog.current_database()) AS worker_last_pass_at
FROM @extschema@.partition_set s
JOIN pg_catalog.pg_class c ON c.oid = s.parent
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL @extschema@.partition_set_state(s.parent) st
LEFT JOIN LATERAL (
    SELECT r.finished_at, r.job_kind, r.status, r.message FROM @extschema@.job_runs r
    WHERE r.target = '"' || pg_catalog.replace(n.nspname, '"', '""') || '"."'
                     || pg_catalog.replace(c.relname, '"', '""') || '"'
    ORDER BY r.id DESC LIMIT 1) j ON true;

GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;
GRANT SELECT ON @extschema@.partition_set, @extschema@.job_runs, @extschema@.partition_sets,
    @extschema@.workers TO PUBLIC;

-- Forget sets whose parent table is dropped.
CREATE FUNCTION @extschema@._on_sql_drop() RETURNS event_trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF pg_catalog.to_regclass('@extschema@.partition_set') IS NULL THEN
        RETURN;
    END IF;
    DELETE FROM @extschema@.partition_set s
     USING pg_catalog.pg_event_trigger_dropped_objects() d
     WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objsubid = 0
       AND d.objid = s.parent::pg_catalog.oid;
END $$;
CREATE EVENT TRIGGER strata_sql_drop ON sql_drop EXECUTE FUNCTION @extschema@._on_sql_drop();

SELECT @extschema@._wake_launcher();
