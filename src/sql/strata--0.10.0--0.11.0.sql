-- strata 0.10.0 -> 0.11.0: query routing (src/routing/README.md).
\echo Use "ALTER EXTENSION strata UPDATE TO '0.11.0'" to load this file. \quit

-- Every row the source had when the rollup was made is in it (or will be, by its backfill); false after
-- backfill => false on a source with rows. Routing only answers from rollups where it is true. A rollup
-- made before 0.11.0 without a recorded backfill (no backfill_floor) is either one made on an empty
-- source or one made with backfill => false: the two cannot be told apart, so it is taken for the second.
ALTER TABLE @extschema@.rollup ADD COLUMN has_history boolean NOT NULL DEFAULT true;
UPDATE @extschema@.rollup SET has_history = false WHERE source_rollup IS NULL AND backfill_floor IS NULL;

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
CREATE FUNCTION @extschema@._routing_counts(OUT view oid, OUT executions bigint, OUT rows_estimated bigint)
RETURNS SETOF record LANGUAGE C AS 'MODULE_PATHNAME', 'strata_routing_counts';
CREATE VIEW @extschema@.routing_stats AS
SELECT r.view AS rollup, COALESCE(c.executions, 0) AS routed_queries,
       COALESCE(c.rows_estimated, 0) AS rows_returned_estimated
FROM @extschema@.rollup r LEFT JOIN @extschema@._routing_counts() c ON c.view = r.view::pg_catalog.oid;
GRANT SELECT ON @extschema@.routing_stats TO PUBLIC;

-- Every rollup that could answer a query, with its decision and why, and the query as written.
CREATE FUNCTION @extschema@.explain_routing(query text)
RETURNS TABLE (rollup text, decision text, reason_code text, reason text, est_rows double precision,
               est_cost double precision)
LANGUAGE C AS 'MODULE_PATHNAME', 'strata_explain_routing';

