-- strata 0.12.0 -> 0.13.0: the rollup advisor, freshness in the metrics catalog (src/agents/README.md), ingest
-- health (src/health/README.md).
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

-- The advisor (src/agents/README.md). Routed executions per user and statement, by query id (as
-- pg_stat_statements keys statements): the caller's own, or all for pg_read_all_stats; and one
-- statement's shape read from its text (names resolved by `search_path`; estimates made as `as_user`, the
-- role that ran it, when the caller has its privileges).
CREATE FUNCTION @extschema@._routed_queries(OUT user_id oid, OUT query_id bigint, OUT executions bigint)
RETURNS SETOF record LANGUAGE C AS 'MODULE_PATHNAME', 'strata_routed_queries';
CREATE FUNCTION @extschema@._query_shape(query text, as_user oid DEFAULT NULL, search_path text DEFAULT NULL,
    OUT source regclass, OUT time_column text, OUT grain text,
    OUT dimensions text[], OUT measures text[], OUT approximate text[], OUT refusal text,
    OUT rows_read double precision, OUT groups double precision, OUT table_rows double precision)
RETURNS SETOF record LANGUAGE C CALLED ON NULL INPUT AS 'MODULE_PATHNAME', 'strata_query_shape';

-- The create_rollup call of a proposal: a bucket at `grain` over `time_column`, the dimensions, the measures
-- (select-list items), named `name` in the source's schema (every part quoted).
CREATE FUNCTION @extschema@._proposal_sql(source regclass, time_column text, grain text, dimensions text[],
    measures text[], name text) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT format('SELECT strata.create_rollup(%L, %L);',
    quote_ident((SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = source))
      || '.' || quote_ident(name),
    format('SELECT date_trunc(%L, %I) AS bucket%s, %s FROM %s GROUP BY %s', grain, time_column,
           (SELECT string_agg(', ' || quote_ident(d), '') FROM unnest(dimensions) d),
           array_to_string(measures, ', '), source,
           (SELECT string_agg(i::text, ', ') FROM generate_series(1, 1 + cardinality(dimensions)) i)))
$$;

-- The name proposed for a rollup of a table at a grain by some dimensions: one no relation of the
-- table's schema has (a number added when needed).
CREATE FUNCTION @extschema@._proposal_name(source regclass, grain text, dimensions text[]) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  WITH base AS (
    SELECT c.relnamespace AS nsp, left(c.relname, 24) || '_'
           || CASE grain WHEN 'minute' THEN 'by_minute' WHEN 'day' THEN 'daily' ELSE grain || 'ly' END
           || COALESCE('_by_' || left(NULLIF(array_to_string(dimensions, '_'), ''), 24), '') AS name
    FROM pg_class c WHERE c.oid = source)
  SELECT x.name FROM base b CROSS JOIN LATERAL generate_series(1, 100) i
  CROSS JOIN LATERAL (SELECT b.name || CASE WHEN i > 1 THEN '_' || i ELSE '' END AS name) x
  WHERE NOT EXISTS (SELECT FROM pg_class r WHERE r.relnamespace = b.nsp AND r.relname = x.name)
  ORDER BY i LIMIT 1
$$;

-- A rollup that would answer one statement (its text as run; names resolved by the caller's search_path,
-- passed in): the create_rollup call, or why none can (the guardrail's hint). As the caller.
CREATE FUNCTION @extschema@._proposal(query text, search_path text DEFAULT pg_catalog.current_setting('search_path'))
RETURNS text LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN sh.refusal IS NOT NULL THEN 'none can (' || sh.refusal || ')'
              ELSE @extschema@._proposal_sql(sh.source, sh.time_column, sh.grain, sh.dimensions, sh.measures,
                                             @extschema@._proposal_name(sh.source, sh.grain, sh.dimensions))
                   || COALESCE(' (' || NULLIF(array_to_string(sh.approximate, '; '), '') || ')', '') END
  FROM @extschema@._query_shape(query, NULL, _proposal.search_path) sh
$$;

-- The aggregate statements pg_stat_statements recorded in this database, grouped by the rollup that
-- would answer them (table, time column, grain, dimensions), each group with its calls, the calls
-- routing answered, the rows its unanswered calls read as estimated, the rows a rollup would save them,
-- and the create_rollup call; or why no rollup can answer a statement. As the caller (pg_stat_statements
-- shows other roles' statement texts only to members of pg_read_all_stats); table names in the texts
-- resolve by the caller's search_path (passed in: the function's own is pinned).
CREATE FUNCTION @extschema@.rollup_advice(min_calls bigint DEFAULT 1,
    search_path text DEFAULT pg_catalog.current_setting('search_path'))
RETURNS TABLE (status text, source regclass, time_column text, grain text, dimensions text[], measures text[],
               statements integer, calls bigint, routed_calls bigint, est_rows_read double precision,
               est_rows_saved double precision, reason text, create_rollup text, example text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
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
    WITH routed AS (
      SELECT r.user_id, r.query_id, sum(r.executions) AS executions FROM @extschema@._routed_queries() r GROUP BY 1, 2),
    w AS (
      SELECT s.queryid, min(s.query) AS query, sum(s.calls)::bigint AS calls,
             sum(LEAST(COALESCE(r.executions, 0), s.calls))::bigint AS routed,
             (array_agg(s.userid ORDER BY s.calls DESC, s.userid))[1] AS userid
      FROM %s s
      LEFT JOIN routed r ON r.user_id = s.userid AND r.query_id = s.queryid
      WHERE s.dbid = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database()) AND s.toplevel
        AND s.query ~* '^\s*select\M' AND s.query NOT LIKE '%%pg_stat_statements%%' AND s.query NOT LIKE '%%rollup_advice%%'
      GROUP BY s.queryid
      HAVING sum(s.calls) >= $1),
    shaped AS (
      SELECT w.*, sh.* FROM w CROSS JOIN LATERAL @extschema@._query_shape(w.query, w.userid, $2) sh),
    grouped AS (
      SELECT CASE WHEN g.refusal IS NOT NULL THEN 'not servable'
                  WHEN sum(g.calls - g.routed) = 0 THEN 'routed' ELSE 'proposed' END AS status,
             g.source, g.time_column, g.grain, g.dimensions, g.refusal,
             count(*)::integer AS statements, sum(g.calls)::bigint AS calls, sum(g.routed)::bigint AS routed_calls,
             sum((g.calls - g.routed) * g.rows_read) AS est_rows_read,
             sum((g.calls - g.routed) * g.rows_read
                 * GREATEST(0, 1 - g.groups / NULLIF(g.table_rows, 0))) FILTER (WHERE g.refusal IS NULL) AS est_rows_saved,
             (array_agg(g.query ORDER BY g.calls DESC, g.query))[1] AS example,
             array_agg(g.queryid) AS ids
      FROM shaped g
      GROUP BY g.source, g.time_column, g.grain, g.dimensions, g.refusal),
    parts AS (
      SELECT g.*,
             ARRAY(SELECT DISTINCT m FROM shaped x, unnest(x.measures) m WHERE x.queryid = ANY (g.ids) ORDER BY m) AS measures,
             ARRAY(SELECT DISTINCT a FROM shaped x, unnest(x.approximate) a WHERE x.queryid = ANY (g.ids) ORDER BY a) AS approximate,
             (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = g.source) AS nsp,
             @extschema@._proposal_name(g.source, g.grain, g.dimensions) AS base_name
      FROM grouped g),
    named AS (
      SELECT p.*, p.base_name || CASE WHEN row_number() OVER (PARTITION BY p.nsp, p.base_name ORDER BY p.calls DESC, p.example) > 1
                                      THEN '_' || row_number() OVER (PARTITION BY p.nsp, p.base_name ORDER BY p.calls DESC, p.example)
                                      ELSE '' END AS rollup_name
      FROM parts p WHERE p.status = 'proposed'
      UNION ALL
      SELECT p.*, NULL FROM parts p WHERE p.status <> 'proposed')
    SELECT p.status, p.source, p.time_column, p.grain, p.dimensions, p.measures, p.statements, p.calls,
           p.routed_calls, p.est_rows_read, p.est_rows_saved,
           COALESCE(p.refusal,
                    CASE WHEN p.status = 'routed' THEN 'every call was answered by a rollup' END,
                    NULLIF(array_to_string(p.approximate, '; '), ''),
                    CASE WHEN p.routed_calls > 0 THEN p.routed_calls || ' of ' || p.calls || ' calls were answered by a rollup' END),
           CASE WHEN p.status = 'proposed'
                THEN @extschema@._proposal_sql(p.source, p.time_column, p.grain, p.dimensions, p.measures, p.rollup_name) END,
           p.example
    FROM named p
    ORDER BY p.status = 'not servable', p.est_rows_saved DESC NULLS LAST, p.calls DESC, p.example $q$, pss)
  USING min_calls, search_path;
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

-------------------------------------------------------------------------------- ingest health
-- What slows or endangers the write path (src/health/README.md): the tables with ingest (partition
-- sets, rollups' raw sources), their counters sampled by the worker each pass, lock waits on them with the
-- blocking chain, sessions, prepared transactions and replication slots holding back the xmin horizon,
-- and alerts logged once per condition.

-- The tables watched: partition sets (by their control column) and rollups' raw sources that are not
-- sets (by their first rollup's time column).
CREATE FUNCTION @extschema@._health_tables(OUT relid regclass, OUT kind text, OUT time_column name)
RETURNS SETOF record LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT s.parent, 'partition set', s.control_column FROM @extschema@.partition_set s
  UNION ALL
  SELECT * FROM (
    SELECT DISTINCT ON (r.source) r.source, 'rollup source', r.time_column FROM @extschema@.rollup r
     WHERE r.source_rollup IS NULL AND r.source NOT IN (SELECT s.parent FROM @extschema@.partition_set s)
     ORDER BY r.source, r.id) first_rollup
$$;

-- A table's counters summed over its partitions (the cumulative statistics; the tree read from pg_inherits,
-- which takes no lock: a health check must not queue behind the DDL it is to report).
CREATE FUNCTION @extschema@._health_counters(rel regclass, OUT inserted bigint, OUT updated bigint,
    OUT deleted bigint, OUT dead bigint, OUT live bigint, OUT last_vacuum timestamptz, OUT last_analyze timestamptz)
RETURNS record LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT COALESCE(sum(pg_stat_get_tuples_inserted(t.relid)), 0)::bigint,
         COALESCE(sum(pg_stat_get_tuples_updated(t.relid)), 0)::bigint,
         COALESCE(sum(pg_stat_get_tuples_deleted(t.relid)), 0)::bigint,
         COALESCE(sum(pg_stat_get_dead_tuples(t.relid)), 0)::bigint,
         COALESCE(sum(pg_stat_get_live_tuples(t.relid)), 0)::bigint,
         max(GREATEST(pg_stat_get_last_vacuum_time(t.relid), pg_stat_get_last_autovacuum_time(t.relid))),
         max(GREATEST(pg_stat_get_last_analyze_time(t.relid), pg_stat_get_last_autoanalyze_time(t.relid)))
  FROM (WITH RECURSIVE tree(relid) AS (
          SELECT rel::oid UNION ALL SELECT i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.relid)
        SELECT tree.relid FROM tree JOIN pg_class c ON c.oid = tree.relid WHERE c.relkind IN ('r', 'm', 't', 'p')) t
$$;

-- Samples of the counters, at most one a minute per table, kept six hours (rates over the last passes;
-- dead tuples accumulated since a horizon holder started).
CREATE TABLE @extschema@.ingest_sample (
    relid      oid NOT NULL,
    sampled_at timestamptz NOT NULL,
    inserted   bigint NOT NULL,
    updated    bigint NOT NULL,
    deleted    bigint NOT NULL,
    dead       bigint NOT NULL,
    PRIMARY KEY (relid, sampled_at)
);
CREATE INDEX ON @extschema@.ingest_sample (sampled_at);

-- Lock waits on watched tables (or their partitions), one row per wait (waiting pid, relation, since
-- when), updated while it lasts; kept seven days. Query texts are shown through strata.lock_waits only to
-- readers who may see them in pg_stat_activity.
CREATE TABLE @extschema@.lock_wait (
    id              bigserial PRIMARY KEY,
    relation        oid NOT NULL,
    relation_name   text NOT NULL,
    watched         regclass,
    waiting_pid     integer NOT NULL,
    waiting_user    name,
    waiting_query   text,
    lock_mode       text NOT NULL,
    waiting_since   timestamptz NOT NULL,
    last_seen       timestamptz NOT NULL,
    chain           jsonb NOT NULL,
    root_pid        integer,
    root_user       name,
    root_state      text,
    root_xact_start timestamptz,
    root_query      text,
    summary         text NOT NULL,
    UNIQUE (waiting_pid, waiting_since, relation)
);
CREATE INDEX ON @extschema@.lock_wait (last_seen);

-- Alert state: a condition is logged when it appears, when its signature changes, and again after
-- strata.health_alert_repeat; it goes when the condition clears.
CREATE TABLE @extschema@.health_alert (
    condition   text PRIMARY KEY,
    signature   text NOT NULL,
    message     text NOT NULL,
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    last_logged timestamptz NOT NULL
);

-- A threshold setting, with its default when strata is not loaded in the session.
CREATE FUNCTION @extschema@._health_setting(name text, fallback bigint) RETURNS bigint
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT COALESCE((SELECT s.setting::bigint FROM pg_settings s WHERE s.name = 'strata.' || _health_setting.name), fallback)
$$;

-- Rows of a set's default partition by why they are there: above the newest partition (premake ran out),
-- a NULL key, below the oldest partition (older than retention, or before the set began). NULLs when the
-- caller may not read the default partition.
CREATE FUNCTION @extschema@._health_default_rows(parent regclass, OUT beyond_newest bigint, OUT null_key bigint,
    OUT below_oldest bigint)
RETURNS record LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET lock_timeout = '100ms' AS $$
DECLARE
  s record; def oid; st record;
BEGIN
  SELECT * INTO s FROM @extschema@.partition_set p WHERE p.parent = _health_default_rows.parent;
  IF NOT FOUND THEN RETURN; END IF;
  SELECT pt.partdefid INTO def FROM pg_partitioned_table pt WHERE pt.partrelid = _health_default_rows.parent;
  IF def IS NULL OR def = 0 OR NOT has_table_privilege(def, 'SELECT') THEN RETURN; END IF;
  SELECT * INTO st FROM @extschema@.partition_set_state(_health_default_rows.parent);
  IF st.newest_bound IS NULL THEN RETURN; END IF;
  EXECUTE format('SELECT count(*) FILTER (WHERE %1$I >= %2$L::%3$s), count(*) FILTER (WHERE %1$I IS NULL),
                         count(*) FILTER (WHERE %1$I < %4$L::%3$s) FROM ONLY %5$s',
                 s.control_column, st.newest_bound, s.key_type, st.oldest_bound, def::regclass)
     INTO beyond_newest, null_key, below_oldest;
EXCEPTION WHEN OTHERS THEN  -- behind a lock queue, or the set's state unreadable: unknown
  beyond_newest := NULL; null_key := NULL; below_oldest := NULL;
END $$;

-- The newest value of a table's time (control) column, through an index whose first column it is; NULL
-- without such an index (a scan of the whole table is not what a health view should do) or without the
-- privilege to read it.
CREATE FUNCTION @extschema@._health_newest(rel regclass, col name) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET lock_timeout = '100ms' AS $$
DECLARE
  v text;
BEGIN
  IF NOT has_column_privilege(rel, col, 'SELECT') OR NOT EXISTS (
       SELECT FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
        JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
        WHERE i.indrelid = rel AND a.attname = col AND i.indisvalid AND i.indpred IS NULL AND am.amname = 'btree') THEN
    RETURN NULL;
  END IF;
  EXECUTE format('SELECT max(%I)::text FROM %s', col, rel) INTO v;
  RETURN v;
EXCEPTION WHEN lock_not_available THEN
  RETURN NULL;  -- behind a lock queue on the table: unknown now
END $$;

-- Premade partitions ahead of a set's newest row (the newest value of its control column, through an
-- index; the state's figure, ahead of now, without one): how many more partitions of new rows fit
-- before rows go to the default partition or fail.
CREATE FUNCTION @extschema@._health_ahead(parent regclass) RETURNS integer
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET lock_timeout = '100ms' AS $$
DECLARE
  s record; st record; newest text; n numeric;
BEGIN
  SELECT * INTO s FROM @extschema@.partition_set p WHERE p.parent = _health_ahead.parent;
  IF NOT FOUND THEN RETURN NULL; END IF;
  SELECT * INTO st FROM @extschema@._partition_set_live(_health_ahead.parent);
  newest := @extschema@._health_newest(_health_ahead.parent, s.control_column);
  IF newest IS NULL OR st.newest_bound IS NULL THEN RETURN st.partitions_ahead; END IF;
  IF s.key_type IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype) THEN
    n := floor(extract(epoch FROM (st.newest_bound::timestamptz - newest::timestamptz))
               / extract(epoch FROM s.partition_interval::interval));
  ELSE
    n := floor((st.newest_bound::numeric - newest::numeric) / s.partition_interval::numeric);
  END IF;
  RETURN LEAST(st.partitions_ahead, GREATEST(n, 0))::integer;
EXCEPTION WHEN lock_not_available THEN
  RETURN NULL;
END $$;

-- Sessions, prepared transactions and replication slots holding back this database's xmin horizon (so
-- vacuum removes nothing newer), longer than strata.health_horizon_age (sessions, prepared transactions)
-- or at all (slots), with the dead tuples the watched tables gained since (from the samples). As the
-- reader: pg_stat_activity shows other roles' sessions in full only to pg_read_all_stats.
CREATE VIEW @extschema@.horizon_holders WITH (security_invoker = true) AS
WITH holders AS (
  SELECT 'session'::text AS kind, a.pid, a.usename AS user_name, a.application_name AS application,
         a.state, a.xact_start AS since, a.query_start, a.query,
         COALESCE(a.backend_xid, a.backend_xmin) AS xmin
  FROM pg_stat_activity a
  WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend'
    AND COALESCE(a.backend_xid, a.backend_xmin) IS NOT NULL
    AND a.xact_start < now() - make_interval(secs => @extschema@._health_setting('health_horizon_age', 300))
  UNION ALL
  SELECT 'prepared transaction', NULL, p.owner, p.gid, 'prepared', p.prepared, NULL, NULL, p.transaction
  FROM pg_prepared_xacts p
  WHERE p.database = current_database()
    AND p.prepared < now() - make_interval(secs => @extschema@._health_setting('health_horizon_age', 300))
  UNION ALL
  SELECT 'replication slot', s.active_pid, NULL, s.slot_name,
         CASE WHEN s.active THEN 'active' ELSE 'inactive' END || CASE WHEN s.xmin IS NULL THEN ' (catalog rows only)' ELSE '' END,
         NULL, NULL, NULL, COALESCE(s.xmin, s.catalog_xmin)
  FROM pg_replication_slots s
  WHERE (s.database IS NULL OR s.database = current_database()) AND COALESCE(s.xmin, s.catalog_xmin) IS NOT NULL)
SELECT h.kind, h.pid, h.user_name, h.application, h.state, h.since, now() - h.since AS held_for, h.query_start,
       h.query, h.xmin, age(h.xmin) AS xmin_age,
       (SELECT sum(l.dead - f.dead) FROM (
          SELECT DISTINCT ON (s.relid) s.relid, s.dead FROM @extschema@.ingest_sample s
           WHERE h.since IS NOT NULL AND s.sampled_at >= h.since ORDER BY s.relid, s.sampled_at) f
        JOIN (SELECT DISTINCT ON (s.relid) s.relid, s.dead FROM @extschema@.ingest_sample s
               ORDER BY s.relid, s.sampled_at DESC) l USING (relid)) AS dead_tuples_since
FROM holders h;

-- Per watched table: ingest rates over the samples of the last ten minutes, what its default partition
-- holds and why, premade partitions left, the newest row, dead tuples and the last vacuum and analyze,
-- and a status with its reason. As the reader: tables it may read.
CREATE VIEW @extschema@.ingest_health WITH (security_invoker = true) AS
WITH t AS (
  SELECT w.relid, w.kind, w.time_column, c.* FROM @extschema@._health_tables() w
  CROSS JOIN LATERAL @extschema@._health_counters(w.relid) c
  WHERE has_table_privilege(w.relid, 'SELECT')),
rates AS (  -- samples are taken when counters move: from the last one at or before ten minutes ago (else the
            -- first) to the latest, over the time to now
  -- (counters fall when a partition is dropped or statistics are reset: a negative difference reads as 0)
  SELECT l.relid, GREATEST(l.inserted - b.inserted, 0) / NULLIF(x.secs, 0) AS ins,
         GREATEST(l.updated - b.updated, 0) / NULLIF(x.secs, 0) AS upd,
         GREATEST(l.deleted - b.deleted, 0) / NULLIF(x.secs, 0) AS del, x.secs, extract(epoch FROM now() - l.sampled_at) AS idle_s
  FROM (SELECT DISTINCT ON (s.relid) s.* FROM @extschema@.ingest_sample s ORDER BY s.relid, s.sampled_at DESC) l
  CROSS JOIN LATERAL (
    SELECT s.* FROM @extschema@.ingest_sample s WHERE s.relid = l.relid
    ORDER BY s.sampled_at <= now() - interval '10 minutes' DESC,
             CASE WHEN s.sampled_at <= now() - interval '10 minutes' THEN s.sampled_at END DESC NULLS LAST, s.sampled_at
    LIMIT 1) b
  CROSS JOIN LATERAL (SELECT extract(epoch FROM now() - b.sampled_at) AS secs) x),
earlier AS (  -- inserts in the samples of the last six hours (did ingest stop?)
  SELECT s.relid, max(s.inserted) - min(s.inserted) AS inserted FROM @extschema@.ingest_sample s GROUP BY s.relid),
h AS (
  SELECT t.*, r.ins, r.upd, r.del, r.secs, r.idle_s, e.inserted AS inserted_6h, @extschema@._health_ahead(t.relid) AS partitions_ahead, st.default_rows, ps.premake,
         d.beyond_newest, d.null_key, d.below_oldest,
         @extschema@._health_newest(t.relid, t.time_column) AS newest,
         (SELECT count(*) FROM @extschema@.horizon_holders hh WHERE hh.state NOT LIKE '%catalog rows only%') AS holders
  FROM t
  LEFT JOIN rates r ON r.relid = t.relid
  LEFT JOIN earlier e ON e.relid = t.relid
  LEFT JOIN @extschema@.partition_set ps ON ps.parent = t.relid
  LEFT JOIN LATERAL @extschema@._partition_set_live(t.relid) st ON t.kind = 'partition set'
  LEFT JOIN LATERAL @extschema@._health_default_rows(t.relid) d ON t.kind = 'partition set')
SELECT h.relid AS relation, h.kind, h.time_column,
       round(h.ins::numeric, 2) AS inserts_per_s, round(h.upd::numeric, 2) AS updates_per_s,
       round(h.del::numeric, 2) AS deletes_per_s, round(h.secs::numeric) AS rate_window_s,
       h.newest AS newest_value,
       CASE WHEN h.newest IS NOT NULL AND (SELECT a.atttypid FROM pg_attribute a WHERE a.attrelid = h.relid
                                            AND a.attname = h.time_column) IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype)
            THEN now() - h.newest::timestamptz END AS newest_age,
       h.partitions_ahead, h.premake, h.default_rows, h.beyond_newest AS default_beyond_newest,
       h.null_key AS default_null_key, h.below_oldest AS default_below_oldest,
       h.dead AS dead_tuples, h.live AS live_tuples, h.last_vacuum, h.last_analyze, h.holders AS horizon_holders,
       CASE WHEN h.partitions_ahead IS NOT NULL AND h.partitions_ahead < LEAST(@extschema@._health_setting('health_min_partitions_ahead', 1), h.premake)
              OR COALESCE(h.default_rows, 0) > @extschema@._health_setting('health_max_default_rows', 0) THEN 'warning'
            WHEN h.holders > 0 AND h.dead > 0.2 * GREATEST(h.live, 1) THEN 'warning'
            WHEN h.idle_s >= 300 AND h.inserted_6h > 0 THEN 'warning'
            ELSE 'ok' END AS status,
       concat_ws('; ',
         CASE WHEN h.partitions_ahead IS NOT NULL AND h.partitions_ahead < LEAST(@extschema@._health_setting('health_min_partitions_ahead', 1), h.premake)
              THEN format('%s premade partition(s) ahead of the newest row (premake %s): new rows beyond them go to the default partition or fail; is the worker running?',
                          h.partitions_ahead, h.premake) END,
         CASE WHEN COALESCE(h.default_rows, 0) > @extschema@._health_setting('health_max_default_rows', 0)
              THEN format('%s row(s) in the default partition (%s beyond the newest partition, %s with a NULL key, %s below the oldest)',
                          h.default_rows, COALESCE(h.beyond_newest::text, '?'), COALESCE(h.null_key::text, '?'),
                          COALESCE(h.below_oldest::text, '?')) END,
         CASE WHEN h.holders > 0 AND h.dead > 0.2 * GREATEST(h.live, 1)
              THEN format('%s dead tuples (%s%% of live) while %s session(s) or slot(s) hold back the xmin horizon (strata.horizon_holders)',
                          h.dead, round(100.0 * h.dead / GREATEST(h.live, 1)), h.holders) END,
         CASE WHEN h.idle_s >= 300 AND h.inserted_6h > 0
              THEN format('no row inserted, updated or deleted in the last %s s, after %s inserted in the hours before: did ingest stop?',
                          round(h.idle_s), h.inserted_6h) END) AS reason
FROM h;

-- Lock waits on watched tables as sampled (history), the chain of blockers down to the root one. As the
-- reader: tables it may read; query texts only where pg_stat_activity would show them.
CREATE VIEW @extschema@.lock_waits WITH (security_invoker = false) AS
SELECT w.id, w.watched AS table_name, w.relation_name AS relation, w.waiting_pid, w.waiting_user, w.lock_mode,
       w.waiting_since, w.last_seen, w.last_seen - w.waiting_since AS waited,
       CASE WHEN w.waiting_user = current_user OR pg_has_role(current_user, 'pg_read_all_stats', 'USAGE')
            THEN w.waiting_query ELSE '<insufficient privilege>' END AS waiting_query,
       w.root_pid, w.root_user,
       CASE WHEN w.root_user = current_user OR pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') THEN w.root_state END AS root_state,
       CASE WHEN w.root_user = current_user OR pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') THEN w.root_xact_start END AS root_xact_start,
       CASE WHEN w.root_user = current_user OR pg_has_role(current_user, 'pg_read_all_stats', 'USAGE')
            THEN w.root_query ELSE '<insufficient privilege>' END AS root_query,
       CASE WHEN pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') THEN w.chain END AS chain,
       CASE WHEN pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') THEN w.summary ELSE '<insufficient privilege>' END AS summary
FROM @extschema@.lock_wait w
WHERE w.watched IS NOT NULL AND has_table_privilege(w.watched, 'SELECT');

-- Open alerts (conditions the worker logged and that have not cleared); their messages name sessions and
-- users, shown to those who may see other roles' sessions (pg_read_all_stats).
CREATE VIEW @extschema@.health_alerts AS
SELECT a.condition,
       CASE WHEN pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') THEN a.message ELSE '<insufficient privilege>' END AS message,
       a.first_seen, a.last_seen, a.last_logged FROM @extschema@.health_alert a;

GRANT SELECT ON @extschema@.ingest_health, @extschema@.horizon_holders, @extschema@.lock_waits,
    @extschema@.health_alerts, @extschema@.ingest_sample TO PUBLIC;

-- Per partition set, from the relation cache and the statistics (no lock waited for): counters over
-- its partitions, partitions ahead of the newest one holding rows, the default partition's rows.
CREATE FUNCTION @extschema@._partition_set_figures(OUT parent regclass, OUT inserted bigint, OUT updated bigint,
    OUT deleted bigint, OUT dead bigint, OUT live bigint, OUT partitions_ahead integer, OUT default_live bigint)
RETURNS SETOF record LANGUAGE C AS 'MODULE_PATHNAME', 'strata_partition_set_figures';
REVOKE ALL ON FUNCTION @extschema@._partition_set_figures() FROM PUBLIC;

-- The worker's health pass (each maintenance pass, as the extension's owner): samples the counters,
-- records lock waits on watched tables, and returns the alerts to log now (new, changed, or repeated
-- after strata.health_alert_repeat); cleared conditions are removed.
CREATE FUNCTION @extschema@._health_pass(OUT condition text, OUT message text)
RETURNS SETOF record LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET lock_timeout = '100ms' AS $$
DECLARE
  lock_ms bigint := @extschema@._health_setting('health_lock_wait', 1000);
  repeat_s bigint := @extschema@._health_setting('health_alert_repeat', 3600);
  min_ahead bigint := @extschema@._health_setting('health_min_partitions_ahead', 1);
  max_default bigint := @extschema@._health_setting('health_max_default_rows', 0);
  seen text[] := '{}';
  cond record;
  figs jsonb;
BEGIN
  -- The sets' figures, read once (relation cache and statistics: no table is read, no lock waited for).
  figs := (SELECT jsonb_agg(to_jsonb(f)) FROM @extschema@._partition_set_figures() f);
  -- Counters of every watched table (sets from the figures, other rollup sources from the statistics),
  -- a sample only when they moved since the last one (idle tables cost no write).
  WITH now_counters AS (
    SELECT x.parent::oid AS relid, x.inserted, x.updated, x.deleted, x.dead
    FROM jsonb_to_recordset(COALESCE(figs, '[]')) AS x(parent regclass, inserted bigint, updated bigint, deleted bigint, dead bigint)
    UNION ALL
    SELECT w.relid, k.inserted, k.updated, k.deleted, k.dead
    FROM @extschema@._health_tables() w CROSS JOIN LATERAL @extschema@._health_counters(w.relid) k
    WHERE w.kind = 'rollup source')
  INSERT INTO @extschema@.ingest_sample (relid, sampled_at, inserted, updated, deleted, dead)
  SELECT c.relid, now(), c.inserted, c.updated, c.deleted, c.dead FROM now_counters c
  WHERE NOT EXISTS (SELECT FROM (SELECT s.inserted, s.updated, s.deleted, s.dead FROM @extschema@.ingest_sample s
                                  WHERE s.relid = c.relid ORDER BY s.sampled_at DESC LIMIT 1) l
                    WHERE (l.inserted, l.updated, l.deleted, l.dead) = (c.inserted, c.updated, c.deleted, c.dead))
  ON CONFLICT DO NOTHING;
  DELETE FROM @extschema@.ingest_sample s WHERE s.sampled_at < now() - interval '6 hours'
     AND s.sampled_at < (SELECT max(l.sampled_at) FROM @extschema@.ingest_sample l WHERE l.relid = s.relid);
  -- Tables no longer watched (dropped, set undone): their samples go (an oid can be reused).
  DELETE FROM @extschema@.ingest_sample s WHERE s.relid NOT IN (SELECT w.relid::oid FROM @extschema@._health_tables() w);

  -- Lock waits longer than strata.health_lock_wait on a watched table or one of its partitions, each
  -- with its chain of blockers (pg_blocking_pids, to a session that waits for nobody).
  WITH RECURSIVE waiting AS (
    SELECT l.pid, l.relation, l.mode, l.waitstart FROM pg_locks l
    WHERE NOT l.granted AND l.locktype = 'relation'
      AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
      AND l.waitstart < now() - make_interval(secs => lock_ms / 1000.0)),
  up(relation, relid) AS (  -- each waited-for relation and its ancestors (pg_inherits: no lock)
    SELECT DISTINCT w.relation, w.relation FROM waiting w
    UNION ALL
    SELECT u.relation, i.inhparent FROM up u JOIN pg_inherits i ON i.inhrelid = u.relid),
  waits AS (  -- one watched table per wait (trees may nest: the innermost)
    SELECT DISTINCT ON (w.pid, w.relation) w.pid, w.relation, w.mode, w.waitstart, t.relid::oid AS watched
    FROM waiting w JOIN up u ON u.relation = w.relation JOIN @extschema@._health_tables() t ON t.relid::oid = u.relid
    ORDER BY w.pid, w.relation, t.relid <> w.relation, t.relid),
  chain(waiter, relation, pid, depth) AS (  -- UNION: each blocker once per depth (no path explosion)
    SELECT w.pid, w.relation, w.pid, 0 FROM waits w
    UNION
    SELECT c.waiter, c.relation, b.pid, c.depth + 1
    FROM chain c CROSS JOIN LATERAL unnest(pg_blocking_pids(c.pid)) b(pid)
    WHERE b.pid <> c.waiter AND c.depth < 8),
  described AS (
    SELECT DISTINCT ON (c.waiter, c.relation, c.pid) c.waiter, c.relation, c.depth, c.pid, a.usename, a.state, a.xact_start, a.query, a.wait_event_type,
           (SELECT l.mode FROM pg_locks l WHERE l.pid = c.pid AND NOT l.granted LIMIT 1) AS waits_for,
           cardinality(pg_blocking_pids(c.pid)) = 0 AS is_root
    FROM chain c LEFT JOIN pg_stat_activity a ON a.pid = c.pid
    ORDER BY c.waiter, c.relation, c.pid, c.depth),
  per_wait AS (
    SELECT w.pid, w.relation, w.mode, w.waitstart, w.watched,
           jsonb_agg(jsonb_build_object('pid', d.pid, 'depth', d.depth, 'user', d.usename, 'state', d.state,
                                        'waits_for', d.waits_for, 'xact_start', d.xact_start, 'query', left(d.query, 200))
                     ORDER BY d.depth, d.pid) AS chain,
           (array_agg(d.pid ORDER BY d.is_root DESC, d.depth DESC, d.pid))[1] AS root_pid
    FROM waits w JOIN described d ON d.waiter = w.pid AND d.relation = w.relation
    GROUP BY w.pid, w.relation, w.mode, w.waitstart, w.watched)
  INSERT INTO @extschema@.lock_wait AS t (relation, relation_name, watched, waiting_pid, waiting_user, waiting_query,
      lock_mode, waiting_since, last_seen, chain, root_pid, root_user, root_state, root_xact_start, root_query, summary)
  SELECT p.relation, p.relation::regclass::text, p.watched, p.pid, wa.usename, wa.query, p.mode, p.waitstart, now(), p.chain,
         p.root_pid, ra.usename, ra.state, ra.xact_start, ra.query,
         format('pid %s (%s) waited %s for %s on %s behind %s', p.pid, left(regexp_replace(COALESCE(wa.query, '?'), '\s+', ' ', 'g'), 60),
                date_trunc('second', now() - p.waitstart), p.mode, p.relation::regclass,
                (SELECT string_agg(format('pid %s (%s%s)', e ->> 'pid', COALESCE(e ->> 'state', '?'),
                                          CASE WHEN e ->> 'waits_for' IS NOT NULL THEN ', waiting for ' || (e ->> 'waits_for') ELSE '' END
                                          || CASE WHEN e ->> 'xact_start' IS NOT NULL
                                                  THEN ', in a transaction for ' || date_trunc('second', now() - (e ->> 'xact_start')::timestamptz) ELSE '' END),
                                   ' behind ' ORDER BY (e ->> 'depth')::int)
                   FROM jsonb_array_elements(p.chain) e WHERE (e ->> 'depth')::int > 0))
  FROM per_wait p
  LEFT JOIN pg_stat_activity wa ON wa.pid = p.pid
  LEFT JOIN pg_stat_activity ra ON ra.pid = p.root_pid
  ON CONFLICT (waiting_pid, waiting_since, relation) DO UPDATE
    SET last_seen = excluded.last_seen, chain = excluded.chain, root_pid = excluded.root_pid, root_user = excluded.root_user,
        root_state = excluded.root_state, root_xact_start = excluded.root_xact_start, root_query = excluded.root_query,
        summary = excluded.summary;
  DELETE FROM @extschema@.lock_wait w WHERE w.last_seen < now() - interval '7 days';

  -- The conditions now: each a key, a signature (what makes it a new condition) and a message.
  FOR cond IN
    -- A holder is one condition while its transaction lasts (its start, or a slot's name, as signature).
    SELECT 'horizon:' || h.kind || ':' || COALESCE(h.pid::text, h.application) AS key,
           COALESCE(h.since::text, h.application) AS signature,
           CASE WHEN h.state LIKE '%catalog rows only%'
                THEN format('strata: replication slot %s (%s) holds back the catalog xmin horizon of database %s (xid age %s): vacuum of system catalogs removes no row version newer; the slot also retains WAL',
                            quote_literal(h.application), h.state, current_database(), h.xmin_age)
                ELSE format('strata: %s %s (user %s, %s) holds back the xmin horizon of database %s (xid age %s%s): vacuum removes no row version deleted or updated since; %s dead tuples accumulated in watched tables since',
                            h.kind, COALESCE(h.pid::text, quote_literal(h.application)), COALESCE(h.user_name::text, '-'), COALESCE(h.state, '-'),
                            current_database(), h.xmin_age, CASE WHEN h.held_for IS NOT NULL THEN ', for ' || date_trunc('second', h.held_for) ELSE '' END,
                            COALESCE(h.dead_tuples_since::text, 'unknown')) END AS msg
    FROM @extschema@.horizon_holders h
    WHERE h.kind <> 'replication slot' OR h.state LIKE 'inactive%'
    UNION ALL
    -- A lock queue is one condition per watched table and root blocker, however many wait in it.
    SELECT 'lock:' || w.watched || ':' || w.root_pid, w.root_pid::text,
           format('strata: lock queue on %s: %s session(s) waiting behind pid %s; the longest: %s', w.watched::regclass, count(*),
                  w.root_pid, (array_agg(w.summary ORDER BY w.waiting_since))[1])
    FROM @extschema@.lock_wait w WHERE w.last_seen = now() GROUP BY w.watched, w.root_pid
    UNION ALL
    SELECT 'ahead:' || x.parent, x.partitions_ahead::text,
           format('strata: partition set %s has %s premade partition(s) ahead of the newest one holding rows (premake %s, alert below %s): rows beyond go to the default partition or fail',
                  x.parent, x.partitions_ahead, s.premake, min_ahead)
    FROM jsonb_to_recordset(COALESCE(figs, '[]')) AS x(parent regclass, partitions_ahead integer, default_live bigint)
    JOIN @extschema@.partition_set s ON s.parent = x.parent
    WHERE x.partitions_ahead < LEAST(min_ahead, s.premake)
    UNION ALL
    -- Rows arriving in a default partition change its count each pass: one condition while it holds more.
    SELECT 'default:' || x.parent, '',
           format('strata: the default partition of %s holds %s row(s) (alert above %s): see strata.ingest_health for why', x.parent,
                  x.default_live, max_default)
    FROM jsonb_to_recordset(COALESCE(figs, '[]')) AS x(parent regclass, partitions_ahead integer, default_live bigint)
    WHERE x.default_live > max_default
  LOOP
    seen := seen || cond.key;
    INSERT INTO @extschema@.health_alert AS a (condition, signature, message, first_seen, last_seen, last_logged)
    VALUES (cond.key, COALESCE(cond.signature, ''), cond.msg, now(), now(), now())
    ON CONFLICT ON CONSTRAINT health_alert_pkey DO UPDATE
      SET last_seen = now(), message = excluded.message,
          signature = excluded.signature,
          last_logged = CASE WHEN a.signature IS DISTINCT FROM excluded.signature
                               OR a.last_logged < now() - make_interval(secs => repeat_s) THEN now() ELSE a.last_logged END;
    IF (SELECT a.last_logged = now() FROM @extschema@.health_alert a WHERE a.condition = cond.key) THEN
      condition := cond.key;
      message := cond.msg;
      RETURN NEXT;
    END IF;
  END LOOP;
  -- Cleared conditions go; a set left out of the figures (behind a lock queue) keeps its own.
  DELETE FROM @extschema@.health_alert a WHERE a.condition <> ALL (seen)
     AND NOT (a.condition ~ '^(ahead|default):' AND NOT EXISTS (
           SELECT FROM jsonb_to_recordset(COALESCE(figs, '[]')) AS x(parent regclass)
            WHERE a.condition IN ('ahead:' || x.parent, 'default:' || x.parent)));
END $$;
REVOKE ALL ON FUNCTION @extschema@._health_pass() FROM PUBLIC;
