-- strata 0.10.0 -> 0.11.0: query routing (src/routing/README.md).
\echo Use "ALTER EXTENSION strata UPDATE TO '0.11.0'" to load this file. \quit

-------------------------------------------------------------------------------- query routing
-- An aggregate query on a rollup's raw source is planned against the rollup when that answers it
-- exactly and costs less (strata.routing; design: src/routing/README.md). A routed plan reads the
-- rollup's stored groups of whole, clean buckets and raw rows for everything else: rows the rollup has
-- not absorbed, the range's partial first and last buckets, buckets changed since their last refresh
-- (the "dirty" ones below) and buckets retention froze.

-- The buckets of one rollup whose stored groups are stale at the reader's snapshot: queued in its
-- pending table, or logged by its source's capture past its position (timestamp buckets as their UTC
-- reading), rated at one row for the planner. Only for roles that may read the rollup.
CREATE FUNCTION @extschema@._routing_dirty(rollup_id integer) RETURNS SETOF timestamptz
LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 1 SET search_path = pg_catalog, pg_temp AS $$
DECLARE r record;
BEGIN
    SELECT view, pending_table, bucket_type, grain, change_pos INTO r FROM @extschema@.rollup WHERE id = rollup_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'rollup % does not exist', rollup_id USING ERRCODE = 'undefined_object';
    END IF;
    IF NOT pg_catalog.has_table_privilege(r.view, 'SELECT') THEN
        RAISE EXCEPTION 'permission denied for rollup %', r.view USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN QUERY EXECUTE pg_catalog.format(
        'SELECT DISTINCT b FROM (SELECT %s AS b FROM %s UNION ALL SELECT c.b FROM @extschema@.rollup_change c '
        'WHERE c.grain = $1 AND c.pos > $2) u WHERE b IS NOT NULL',
        CASE WHEN r.bucket_type = 'timestamp without time zone' THEN 'b AT TIME ZONE ''UTC''' ELSE 'b' END,
        r.pending_table)
      USING r.grain, r.change_pos;
END $$;

-- The bucket before which a rollup's raw rows were dropped by retention (NULL: none).
CREATE FUNCTION @extschema@._routing_frozen(rollup_id integer) RETURNS timestamptz
LANGUAGE sql STABLE SECURITY DEFINER PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$ SELECT frozen_before FROM @extschema@.rollup WHERE id = rollup_id $$;

-- Every rollup that could answer a query, with its decision and why, and the query as written.
CREATE FUNCTION @extschema@.explain_routing(query text)
RETURNS TABLE (rollup text, decision text, reason_code text, reason text, est_rows double precision,
               est_cost double precision)
LANGUAGE C AS 'MODULE_PATHNAME', 'strata_explain_routing';

