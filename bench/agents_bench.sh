#!/usr/bin/env bash
# Agents benchmark (issue #27), side by side in one run on one throwaway cluster: a set of agent-style
# questions over the rollup bench's kind of data (views, watch time, distinct viewers, quantiles; totals,
# days, hours, per channel, filtered), each asked through strata.query_metrics and as the raw SQL an agent
# would write without strata (count(DISTINCT), percentile_disc; routing off). Printed: the share answered
# from rollups, median and p95 latency of both, rows the raw SQL reads, and whether the answers agree
# (exact ones equal, approximate ones within their stated bounds). ROWS (default 2000000 over 30 days).
# Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-2000000}
source test/cluster/lib.sh
source bench/lib.sh
bench_prepare
DIR=$(mktemp -d /tmp/strata-agentbench.XXXXXX)
chmod 755 "$DIR"
export PGPORT=${PGPORT:-25780} DB=bench
trap 'cluster_stop "$DIR" immediate; rm -rf "$DIR"' EXIT
cluster_start "$DIR" "$PGPORT" "shared_buffers = 1GB" "work_mem = 256MB" "jit = off" "strata.enabled = off" >/dev/null
q -d postgres "CREATE DATABASE bench"
q "CREATE EXTENSION strata"

echo "== setup: $ROWS events over 30 days, ~1,000 channels; an hourly rollup and a daily rollup of it"
q "CREATE TABLE ev (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, channel int, viewer bigint, watch_ms int)"
q "INSERT INTO ev (ts, channel, viewer, watch_ms) SELECT timestamptz '2026-01-01' + random() * interval '30 days',
     (random() * 990)::int, (random() * 200000)::bigint, (exp(7 + random() * 3))::int FROM generate_series(1, $ROWS)"
q "CREATE INDEX ON ev (ts); CREATE INDEX ON ev (id)"
q "SELECT strata.create_rollup('ev_hourly', \$\$SELECT date_trunc('hour', ts) AS bucket, channel, count(*) AS views,
   sum(watch_ms) AS watch, strata.hll_agg(viewer) AS viewers, strata.qsketch_agg(watch_ms) AS watch_q FROM ev GROUP BY 1, 2\$\$)" >/dev/null
q "SELECT strata.refresh_rollup('ev_hourly')" >/dev/null
q "SELECT strata.create_rollup('ev_daily', \$\$SELECT date_trunc('day', bucket) AS day, channel, sum(views) AS views,
   sum(watch) AS watch, strata.merge(viewers) AS viewers, strata.merge(watch_q) AS watch_q FROM ev_hourly GROUP BY 1, 2\$\$)" >/dev/null
q "SELECT strata.refresh_rollup('ev_daily')" >/dev/null
q "VACUUM ANALYZE ev"; q "VACUUM ANALYZE ev_hourly_data"; q "VACUUM ANALYZE ev_daily_data"

# The questions: (metrics, by, filters, from, to, grain) for query_metrics and the raw SQL of each; the
# raw SQL names its columns as query_metrics does, so the answers compare column by column.
q "CREATE TABLE question (n serial, metrics text[], by text[], filters jsonb, t_from timestamptz, t_to timestamptz,
                          grain text, raw text)"
q "CREATE FUNCTION raw_of(metrics text[], by text[], filters jsonb, t_from timestamptz, t_to timestamptz, grain text)
   RETURNS text LANGUAGE sql AS \$f\$
   SELECT 'SELECT ' || concat_ws(', ', CASE WHEN grain IS NOT NULL THEN format('date_trunc(%L, ts) AS %I', grain, grain) END,
          NULLIF(array_to_string(by, ', '), ''),
          (SELECT string_agg(CASE split_part(m, '@', 1)
                   WHEN 'views' THEN 'count(*) AS views' WHEN 'watch' THEN 'sum(watch_ms) AS watch'
                   WHEN 'viewers' THEN 'count(DISTINCT viewer) AS viewers'
                   ELSE format('percentile_disc(%s) WITHIN GROUP (ORDER BY watch_ms) AS %I', split_part(m, '@', 2), replace(m, '@', '_p')) END, ', ')
             FROM unnest(metrics) m))
       || ' FROM ev WHERE true'
       || CASE WHEN t_from IS NOT NULL THEN format(' AND ts >= %L', t_from) ELSE '' END
       || CASE WHEN t_to IS NOT NULL THEN format(' AND ts < %L', t_to) ELSE '' END
       || CASE WHEN filters ? 'channel' THEN format(' AND channel = ANY (%L::int[])',
               (SELECT array_agg(x::int) FROM jsonb_array_elements_text(filters -> 'channel' -> 'in') x)) ELSE '' END
       || CASE WHEN grain IS NOT NULL OR cardinality(by) > 0 THEN ' GROUP BY ' ||
               (SELECT string_agg(i::text, ', ') FROM generate_series(1, (grain IS NOT NULL)::int + cardinality(by)) i) ELSE '' END
   \$f\$"
q "INSERT INTO question (metrics, by, filters, t_from, t_to, grain)
   SELECT m.v, b.v, f.v, r.f, r.t, g.v
   FROM (VALUES (ARRAY['views']), (ARRAY['views', 'watch']), (ARRAY['viewers']), (ARRAY['watch_q@0.5']),
                (ARRAY['views', 'watch_q@0.99'])) m(v),
        (VALUES (ARRAY[]::text[]), (ARRAY['channel'])) b(v),
        (VALUES (NULL::text), ('day'), ('hour')) g(v),
        (VALUES ('{}'::jsonb), ('{\"channel\": {\"in\": [1, 2, 3, 4, 5]}}'::jsonb)) f(v),
        (VALUES (timestamptz '2026-01-24', timestamptz '2026-01-31')) r(f, t)
   WHERE NOT (b.v = '{channel}' AND g.v = 'hour') AND NOT (f.v <> '{}' AND b.v = '{}' AND g.v IS NULL)
     AND NOT (m.v = ARRAY['viewers'] AND g.v = 'hour' AND f.v = '{}')"
q "UPDATE question SET raw = raw_of(metrics, by, filters, t_from, t_to, grain)"
N=$(q "SELECT count(*) FROM question")
echo "== $N questions (5 metric sets x grains x grouping x filters, over one 7-day range)"

# Each question: query_metrics 5 times (median), the raw SQL 3 times with routing off (median), both answers.
q "CREATE TABLE result (n int, qm_ms float8, raw_ms float8, answered_by text, qm jsonb, raw jsonb, unused float8)"
for i in $(seq 1 "$N"); do
  args=$(q "SELECT format('%L::text[], %L::text[], %L::jsonb, %L::timestamptz, %L::timestamptz, %L, NULL, 100000',
                           metrics, by, filters, t_from, t_to, grain) FROM question WHERE n = $i")
  raw=$(q "SELECT raw FROM question WHERE n = $i")
  QMCALL="strata.query_metrics($args)"
  QM="SELECT $QMCALL"
  script=$'SET strata.routing = on;\n'"$QM;"$'\n\\timing on'
  for k in 1 2 3 4 5; do script+=$'\n'"$QM;"; done
  t_qm=$(session_times "$script" | median)
  script=$'SET strata.routing = off;\n'"$raw;"$'\n\\timing on'
  for k in 1 2 3; do script+=$'\n'"$raw;"; done
  t_raw=$(session_times "$script" | median)
  # One statement: query_metrics runs its own (routed) query; the raw SQL, wrapped in a subquery, is not routed.
  q "INSERT INTO result SELECT $i, $t_qm, $t_raw, s.a -> 'provenance' ->> 'answered_by', s.a -> 'rows',
       (SELECT jsonb_agg(to_jsonb(x)) FROM ($raw) x), NULL FROM (SELECT $QMCALL AS a) s" >/dev/null
done
# Agreement: rows matched on their keys; exact metrics equal, distinct counts within 3 standard errors
# (0.81% each), quantiles within 2% of percentile_disc's value (qsketch's 0.5% relative accuracy).
q "CREATE FUNCTION agree(a jsonb, b jsonb) RETURNS boolean LANGUAGE sql AS \$f\$
   WITH ra AS (SELECT e FROM jsonb_array_elements(a) e), rb AS (SELECT e FROM jsonb_array_elements(b) e),
   keyed AS (SELECT ra.e AS x, rb.e AS y FROM ra FULL JOIN rb
               ON (ra.e - 'views' - 'watch' - 'viewers' - 'watch_q_p0.5' - 'watch_q_p0.99')
                = (rb.e - 'views' - 'watch' - 'viewers' - 'watch_q_p0.5' - 'watch_q_p0.99'))
   SELECT COALESCE(bool_and(x IS NOT NULL AND y IS NOT NULL
            AND (x -> 'views') IS NOT DISTINCT FROM (y -> 'views') AND (x -> 'watch') IS NOT DISTINCT FROM (y -> 'watch')
            AND (NOT x ? 'viewers' OR abs((x ->> 'viewers')::float8 - (y ->> 'viewers')::float8) <= 0.0243 * (y ->> 'viewers')::float8)
            AND (NOT x ? 'watch_q_p0.5' OR abs((x ->> 'watch_q_p0.5')::float8 - (y ->> 'watch_q_p0.5')::float8) <= 0.02 * (y ->> 'watch_q_p0.5')::float8)
            AND (NOT x ? 'watch_q_p0.99' OR abs((x ->> 'watch_q_p0.99')::float8 - (y ->> 'watch_q_p0.99')::float8) <= 0.02 * (y ->> 'watch_q_p0.99')::float8)),
            true) FROM keyed \$f\$"
p95() { sort -n | awk '{a[NR]=$1} END {i=int(NR*0.95+0.999); if (i>NR) i=NR; printf "%.1f\n", a[i]}'; }
QM_MED=$(q "SELECT qm_ms FROM result" | median); QM_P95=$(q "SELECT qm_ms FROM result" | p95)
RAW_MED=$(q "SELECT raw_ms FROM result" | median); RAW_P95=$(q "SELECT raw_ms FROM result" | p95)
printf "   answered from rollups: %s of %s\n" "$(q "SELECT count(*) FILTER (WHERE answered_by IS NOT NULL) FROM result")" "$N"
printf "   query_metrics: median %s ms, p95 %s ms;  raw SQL (routing off): median %s ms, p95 %s ms (median ratio %sx)\n" \
  "$QM_MED" "$QM_P95" "$RAW_MED" "$RAW_P95" "$(awk -v a="$RAW_MED" -v b="$QM_MED" 'BEGIN{printf "%.1f", a/b}')"
printf "   rows the raw SQL reads per question (the 7 days' rows): %s\n" "$(q "SELECT count(*) FROM ev WHERE ts >= '2026-01-24' AND ts < '2026-01-31'")"
printf "   answers agree (exact equal, approximate within bounds): %s of %s\n" "$(q "SELECT count(*) FILTER (WHERE agree(qm, raw)) FROM result")" "$N"
q "SELECT r.n, q.metrics, q.by, q.grain, q.filters <> '{}' AS filtered FROM result r JOIN question q USING (n) WHERE NOT agree(r.qm, r.raw)" |
  sed 's/^/   disagreeing: /'
q "SELECT r.n, round(r.qm_ms::numeric, 1), round(r.raw_ms::numeric, 1), q.metrics, q.by, q.grain, q.filters <> '{}'
   FROM result r JOIN question q USING (n) ORDER BY r.qm_ms DESC LIMIT 3" | sed 's/^/   slowest through query_metrics (n|ms|raw ms|metrics|by|grain|filtered): /'
