-- strata 0.12.0 -> 0.13.0: the rollup advisor, freshness in the metrics catalog (src/agents/README.md).
\echo Use "ALTER EXTENSION strata UPDATE TO '0.13.0'" to load this file. \quit

-- Each metric's freshness: rows not absorbed yet, buckets waiting for a recompute, and since when.
CREATE OR REPLACE VIEW @extschema@.metrics AS
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

-- The advisor (src/agents/README.md). Routed executions per statement, by query id (as
-- pg_stat_statements keys statements); and one statement's shape read from its text.
CREATE FUNCTION @extschema@._routed_queries(OUT query_id bigint, OUT executions bigint)
RETURNS SETOF record LANGUAGE C AS 'MODULE_PATHNAME', 'strata_routed_queries';
-- As the caller: names in the text resolve by the caller's search_path and privileges, as the statement's.
CREATE FUNCTION @extschema@._query_shape(query text, OUT source regclass, OUT time_column text, OUT grain text,
    OUT dimensions text[], OUT measures text[], OUT approximate text[], OUT refusal text,
    OUT rows_read double precision, OUT groups double precision, OUT table_rows double precision)
RETURNS SETOF record LANGUAGE C AS 'MODULE_PATHNAME', 'strata_query_shape';

-- The aggregate statements pg_stat_statements recorded in this database, grouped by the rollup that
-- would answer them (table, time column, grain, dimensions), each group with its calls, the calls
-- routing answered, the rows its unanswered calls read as estimated, the rows a rollup would save them,
-- and the create_rollup call; or why no rollup can answer a statement. As the caller (pg_stat_statements
-- shows other roles' statement texts only to members of pg_read_all_stats).
CREATE FUNCTION @extschema@.rollup_advice(min_calls bigint DEFAULT 1)
RETURNS TABLE (status text, source regclass, time_column text, grain text, dimensions text[], measures text[],
               statements integer, calls bigint, routed_calls bigint, est_rows_read double precision,
               est_rows_saved double precision, reason text, create_rollup text, example text)
LANGUAGE plpgsql AS $fn$
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
    WITH w AS (
      SELECT s.queryid, s.query, s.calls::bigint AS calls,
             LEAST(COALESCE(r.executions, 0), s.calls)::bigint AS routed
      FROM %s s
      LEFT JOIN @extschema@._routed_queries() r ON r.query_id = s.queryid
      WHERE s.dbid = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
        AND s.calls >= $1 AND s.query OPERATOR(pg_catalog.~*) '^\s*select\M'
        AND s.query NOT LIKE '%%pg_stat_statements%%' AND s.query NOT LIKE '%%rollup_advice%%'),
    shaped AS (
      SELECT w.*, sh.* FROM w CROSS JOIN LATERAL @extschema@._query_shape(w.query) sh),
    grouped AS (
      SELECT CASE WHEN g.refusal IS NOT NULL THEN 'not servable'
                  WHEN sum(g.calls - g.routed) = 0 THEN 'routed' ELSE 'proposed' END AS status,
             g.source, g.time_column, g.grain, g.dimensions, g.refusal,
             count(*)::integer AS statements, sum(g.calls)::bigint AS calls, sum(g.routed)::bigint AS routed_calls,
             sum((g.calls - g.routed) * g.rows_read) AS est_rows_read,
             sum((g.calls - g.routed) * g.rows_read
                 * GREATEST(0, 1 - g.groups / NULLIF(g.table_rows, 0))) FILTER (WHERE g.refusal IS NULL) AS est_rows_saved,
             (pg_catalog.array_agg(g.query ORDER BY g.calls DESC, g.query))[1] AS example,
             pg_catalog.array_agg(g.queryid) AS ids
      FROM shaped g
      GROUP BY g.source, g.time_column, g.grain, g.dimensions, g.refusal),
    parts AS (
      SELECT g.*,
             ARRAY(SELECT DISTINCT m FROM shaped x, pg_catalog.unnest(x.measures) m
                   WHERE x.queryid = ANY (g.ids) ORDER BY m) AS measures,
             ARRAY(SELECT DISTINCT a FROM shaped x, pg_catalog.unnest(x.approximate) a
                   WHERE x.queryid = ANY (g.ids) ORDER BY a) AS approximate
      FROM grouped g)
    SELECT p.status, p.source, p.time_column, p.grain, p.dimensions, p.measures, p.statements, p.calls,
           p.routed_calls, p.est_rows_read, p.est_rows_saved,
           COALESCE(p.refusal,
                    CASE WHEN p.status = 'routed' THEN 'every call was answered by a rollup' END,
                    NULLIF(pg_catalog.array_to_string(p.approximate, '; '), ''),
                    CASE WHEN p.routed_calls > 0 THEN p.routed_calls || ' of ' || p.calls || ' calls were answered by a rollup' END),
           CASE WHEN p.status = 'proposed' THEN pg_catalog.format(
             'SELECT strata.create_rollup(%%L, $rollup$SELECT date_trunc(%%L, %%I) AS bucket%%s, %%s FROM %%s GROUP BY %%s$rollup$);',
             pg_catalog.left((SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid = p.source) || '_'
                             || CASE p.grain WHEN 'minute' THEN 'by_minute' WHEN 'day' THEN 'daily' ELSE p.grain || 'ly' END
                             || COALESCE('_by_' || NULLIF(pg_catalog.array_to_string(p.dimensions, '_'), ''), ''), 60),
             p.grain, p.time_column,
             (SELECT pg_catalog.string_agg(', ' || pg_catalog.quote_ident(d), '') FROM pg_catalog.unnest(p.dimensions) d),
             pg_catalog.array_to_string(p.measures, ', '), p.source,
             (SELECT pg_catalog.string_agg(i::text, ', ') FROM pg_catalog.generate_series(1, 1 + pg_catalog.cardinality(p.dimensions)) i))
           END,
           p.example
    FROM parts p
    ORDER BY p.status = 'not servable', p.est_rows_saved DESC NULLS LAST, p.calls DESC, p.example $q$, pss)
  USING min_calls;
END $fn$;
