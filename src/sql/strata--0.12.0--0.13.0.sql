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

-- query_metrics answers top-k metrics: each group's items with their counts and error bounds.
CREATE OR REPLACE FUNCTION @extschema@.query_metrics(metrics text[], by text[] DEFAULT '{}', filters jsonb DEFAULT '{}',
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
