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
              CASE WHEN pg_catalog.cardinality(t.dimensions) > 0 THEN ', 2' ELSE '' END) AS example_query
FROM @extschema@._metric_terms() t
JOIN @extschema@.rollup r ON r.id = t.rollup_id
LEFT JOIN @extschema@.rollup src ON src.id = r.source_rollup
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
