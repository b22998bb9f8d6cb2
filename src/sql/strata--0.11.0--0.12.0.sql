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
        ELSIF m.kind IN ('topk_sketch', 'sketch') THEN
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
    FOR rec IN EXECUTE sql USING params LOOP
        n := n + 1;
        IF n > lim THEN truncated := true; EXIT; END IF;
        acc := acc || to_jsonb(rec);  -- appended in place (a jsonb concatenation would copy every row each time)
    END LOOP;
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
