-- strata 0.11.0 -> 0.12.0: routing through rollups of rollups, relations leaving or entering a source's
-- tree by hand tracked, routing's rows saved (src/routing/README.md, src/rollups/README.md).
\echo Use "ALTER EXTENSION strata UPDATE TO '0.12.0'" to load this file. \quit

-- Rollups of rollups become routing candidates. One made with backfill => false queued none of its
-- source's buckets and set nothing that tells it apart from one that did: every rollup of a rollup made
-- before 0.12.0 is taken for the first (re-create it to have it routed).
UPDATE @extschema@.rollup SET has_history = false WHERE source_rollup IS NOT NULL;

-- Routing's counters give the rows saved (as estimated) in place of the rows returned.
DROP VIEW @extschema@.routing_stats;
DROP FUNCTION @extschema@._routing_counts();
CREATE FUNCTION @extschema@._routing_counts(OUT view oid, OUT executions bigint, OUT rows_saved bigint)
RETURNS SETOF record LANGUAGE C AS 'MODULE_PATHNAME', 'strata_routing_counts';
CREATE VIEW @extschema@.routing_stats AS
SELECT r.view AS rollup, COALESCE(c.executions, 0) AS routed_queries,
       COALESCE(c.rows_saved, 0) AS rows_saved_estimated
FROM @extschema@.rollup r LEFT JOIN @extschema@._routing_counts() c ON c.view = r.view::pg_catalog.oid;
GRANT SELECT ON @extschema@.routing_stats TO PUBLIC;

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
