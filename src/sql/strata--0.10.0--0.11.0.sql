-- strata 0.10.0 -> 0.11.0: query routing (src/routing/README.md).
\echo Use "ALTER EXTENSION strata UPDATE TO '0.11.0'" to load this file. \quit

-------------------------------------------------------------------------------- query routing
-- An aggregate query on a rollup's raw source is planned against the rollup when that answers it
-- exactly and costs less (strata.routing; design: src/routing/README.md). A routed plan reads the
-- rollup's stored groups of whole, clean buckets and raw rows for everything else: rows the rollup has
-- not absorbed, the range's partial first and last buckets, buckets changed since their last refresh
-- (dirty buckets: in its pending table or logged past its position) and buckets retention froze. It
-- reads strata.rollup, rollup_change and the rollup's tables as their owners (as the rollup's view does);
-- the reader needs SELECT on the rollup and keeps every check of the query as written.

-- Every rollup that could answer a query, with its decision and why, and the query as written.
CREATE FUNCTION @extschema@.explain_routing(query text)
RETURNS TABLE (rollup text, decision text, reason_code text, reason text, est_rows double precision,
               est_cost double precision)
LANGUAGE C AS 'MODULE_PATHNAME', 'strata_explain_routing';

