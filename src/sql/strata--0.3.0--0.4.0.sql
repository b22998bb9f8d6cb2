-- strata 0.3.0 -> 0.4.0: vacuum scheduling for partitioned data.
\echo Use "ALTER EXTENSION strata UPDATE TO '0.4.0'" to load this file. \quit

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
    analyzed_at      timestamptz
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
CREATE VIEW @extschema@.vacuum_activity AS
SELECT r.id, r.job_kind AS action, r.target AS relation, r.started_at, r.finished_at,
       r.finished_at - r.started_at AS duration, r.status, r.message AS reason,
       r.details -> 'before' AS facts_before, r.details -> 'after' AS facts_after, r.details -> 'buffers' AS buffers,
       r.run_as
FROM @extschema@.job_runs r
WHERE r.job_kind IN ('vacuum_urgent', 'vacuum_freeze', 'vacuum_freeze_hot', 'analyze_parent', 'analyze_hot',
                     'vacuum_dead');

GRANT SELECT ON @extschema@.vacuum_policy, @extschema@.vacuum_state, @extschema@.vacuum_activity TO PUBLIC;

-- Forget sets and vacuum overrides of dropped tables.
CREATE OR REPLACE FUNCTION @extschema@._on_sql_drop() RETURNS event_trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
END $$;
