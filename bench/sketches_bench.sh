#!/usr/bin/env bash
# Sketch benchmark: strata.hll_agg vs postgresql-hll vs count(DISTINCT); strata.qsketch_agg vs tdigest
# vs percentile_cont; hourly GROUP BY; merging 720 hourly sketches. Side by side in one run on one
# throwaway cluster, single process (no parallel workers). Prints times as multiples of the bare scan
# (count(video_id)), errors and sizes. ROWS (default 10000000), REPS (default 3). Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-10000000}
REPS=${REPS:-3}
source test/cluster/lib.sh
source bench/lib.sh
bench_prepare postgresql-15-hll postgresql-15-tdigest
DIR=$(mktemp -d /tmp/strata-sbench.XXXXXX)
export PGPORT=${PGPORT:-25750} DB=bench
trap 'cluster_stop "$DIR" immediate; rm -rf "$DIR"' EXIT
cluster_start "$DIR" "$PGPORT" "shared_buffers = 2GB" "work_mem = 64MB" "max_parallel_workers_per_gather = 0" \
  "jit = off" "autovacuum = off" >/dev/null
q -d postgres "CREATE DATABASE bench"
q "CREATE EXTENSION strata; CREATE EXTENSION hll; CREATE EXTENSION tdigest"
echo "== generating $ROWS events: ~1,000,000 distinct video ids, log-normal watch times, 720 hours"
q "CREATE TABLE ev AS SELECT (random() * 1000000)::bigint AS video_id,
     exp(7 + 1.5 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS watch_ms,
     (g % 720) AS hour FROM generate_series(1, $ROWS) g"
q "VACUUM ANALYZE ev"
# Median ms of REPS runs of a query, timed by psql (\timing) inside one session: connection start-up is
# not counted. WARM=1 first runs it once untimed (for queries of a few ms, where the first run in a
# session pays for loading libraries and catalog caches).
timeit() {
  local script="\\timing on" i
  [ "${WARM:-0}" = 1 ] && script="$1;"$'\n'"$script"
  for i in $(seq 1 "$REPS"); do script+=$'\n'"$1;"; done
  session_times "$script" | median
}
FLOOR=$(timeit "SELECT count(video_id) FROM ev")
row() { printf "   %-44s %7s ms  %5.2fx scan\n" "$1" "$2" "$(awk -v a="$2" -v b="$FLOOR" 'BEGIN{print a/b}')"; }
echo "== whole table, single process (scan floor: count(video_id) = $FLOOR ms)"
T_CD=$(timeit "SELECT count(DISTINCT video_id) FROM ev"); row "count(DISTINCT video_id)" $T_CD
T_HLL=$(timeit "SELECT hll_cardinality(hll_add_agg(hll_hash_bigint(video_id))) FROM ev"); row "postgresql-hll hll_add_agg(hll_hash_bigint)" $T_HLL
T_S=$(timeit "SELECT strata.distinct_count(strata.hll_agg(video_id)) FROM ev"); row "strata.hll_agg" $T_S
T_PC=$(timeit "SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY watch_ms) FROM ev"); row "percentile_cont(0.99)" $T_PC
T_TD=$(timeit "SELECT tdigest_percentile(watch_ms, 100, 0.99) FROM ev"); row "tdigest_percentile(watch_ms, 100, 0.99)" $T_TD
T_Q=$(timeit "SELECT strata.quantile(strata.qsketch_agg(watch_ms), 0.99) FROM ev"); row "strata.qsketch_agg p99" $T_Q
printf "   ratios: hll_agg vs postgresql-hll %.2fx faster; qsketch vs tdigest %.2fx faster\n" \
  "$(awk -v a=$T_HLL -v b=$T_S 'BEGIN{print a/b}')" "$(awk -v a=$T_TD -v b=$T_Q 'BEGIN{print a/b}')"
# An aggregate over every row cannot take less than the bare scan: the anchor's time over the scan's is
# the most "x faster" any such aggregate can be on this run.
printf "   ceiling (anchor / bare scan): vs postgresql-hll %.2fx; vs tdigest %.2fx\n" \
  "$(awk -v a=$T_HLL -v b=$FLOOR 'BEGIN{print a/b}')" "$(awk -v a=$T_TD -v b=$FLOOR 'BEGIN{print a/b}')"

echo "== hourly GROUP BY (720 groups, ~14,000 rows each), both sketches per group, work_mem 64MB"
# The floor of this query shape: the same grouping with two trivial aggregates (count of each column),
# every row still looked up in the hash table and passed to two transition functions.
T_GF=$(timeit "SELECT hour, count(video_id), count(watch_ms) FROM ev GROUP BY hour")
QA="SELECT hour, hll_add_agg(hll_hash_bigint(video_id)), tdigest(watch_ms, 100) FROM ev GROUP BY hour"
QS="SELECT hour, strata.hll_agg(video_id), strata.qsketch_agg(watch_ms) FROM ev GROUP BY hour"
T_GA=$(timeit "$QA")
T_GS=$(timeit "$QS")
row "floor: count(video_id) + count(watch_ms)" $T_GF
row "anchors: hll_add_agg + tdigest" $T_GA
row "strata: hll_agg + qsketch_agg" $T_GS
echo "   plans: anchors $(q "EXPLAIN $QA" | grep -oE 'HashAggregate|GroupAggregate|Sort' | head -1), strata $(q "EXPLAIN $QS" | grep -oE 'HashAggregate|GroupAggregate|Sort' | head -1)"
printf "   strata %.2fx faster (ceiling, anchors / floor: %.2fx; the sketch work per row costs strata %.2fx what it costs the anchors)\n" \
  "$(awk -v a=$T_GA -v b=$T_GS 'BEGIN{print a/b}')" "$(awk -v a=$T_GA -v b=$T_GF 'BEGIN{print a/b}')" \
  "$(awk -v a=$T_GA -v b=$T_GS -v f=$T_GF 'BEGIN{print (b-f)/(a-f)}')"
echo "   plans at the default work_mem (4MB): anchors $(q "SET work_mem = '4MB'; EXPLAIN $QA" | grep -oE 'HashAggregate|GroupAggregate' | head -1), strata $(q "SET work_mem = '4MB'; EXPLAIN $QS" | grep -oE 'HashAggregate|GroupAggregate' | head -1)"

echo "== merging 720 hourly sketches into one"
q "CREATE TABLE hourly AS SELECT hour, hll_add_agg(hll_hash_bigint(video_id)) AS ah, tdigest(watch_ms, 100) AS at,
     strata.hll_agg(video_id) AS sh, strata.qsketch_agg(watch_ms) AS sq,
     count(DISTINCT video_id) AS exact_distinct FROM ev GROUP BY hour"
export WARM=1 REPS=$((REPS * 3))
printf "   %-44s %7s ms\n" "strata.merge(hll) + merge(qsketch)" "$(timeit "SELECT strata.merge(sh), strata.merge(sq) FROM hourly")"
printf "   %-44s %7s ms\n" "hll_union_agg + tdigest(tdigest)" "$(timeit "SELECT hll_union_agg(ah), tdigest(at) FROM hourly")"
printf "   %-44s %7s ms\n" "strata.merge(hll) alone" "$(timeit "SELECT strata.merge(sh) FROM hourly")"
printf "   %-44s %7s ms\n" "strata.merge(qsketch) alone" "$(timeit "SELECT strata.merge(sq) FROM hourly")"
printf "   %-44s %7s ms\n" "hll_union_agg alone" "$(timeit "SELECT hll_union_agg(ah) FROM hourly")"
unset WARM; REPS=$((REPS / 3))

echo "== accuracy"
EXACT=$(q "SELECT count(DISTINCT video_id) FROM ev")
q "SELECT '   distinct, whole table: exact ' || $EXACT || ', strata ' || strata.distinct_count(strata.hll_agg(video_id)) ||
     ' (' || round(100.0 * (strata.distinct_count(strata.hll_agg(video_id)) - $EXACT) / $EXACT, 3) || '%), postgresql-hll ' ||
     round(hll_cardinality(hll_add_agg(hll_hash_bigint(video_id)))) || ' (' ||
     round((100.0 * (hll_cardinality(hll_add_agg(hll_hash_bigint(video_id))) - $EXACT) / $EXACT)::numeric, 3) || '%)' FROM ev"
q "SELECT '   hourly groups (~14k distinct): mean |error| strata p14 ' ||
     round(avg(abs(strata.distinct_count(sh) - exact_distinct)::numeric / exact_distinct) * 100, 3) || '%, mean signed error ' ||
     round(avg((strata.distinct_count(sh) - exact_distinct)::numeric / exact_distinct) * 100, 3) || '%; postgresql-hll (log2m 11, 1.3 kB) mean |error| ' ||
     round(avg(abs(hll_cardinality(ah) - exact_distinct)::numeric / exact_distinct) * 100, 3) || '%, mean signed ' ||
     round(avg((hll_cardinality(ah) - exact_distinct)::numeric / exact_distinct) * 100, 3) || '%' FROM hourly"
q "SELECT '   matched size: strata p11 (1.5 kB) hourly mean |error| ' ||
     round(avg(abs(strata.distinct_count(h) - exact_distinct)::numeric / exact_distinct) * 100, 3) || '%'
     FROM (SELECT hour, strata.hll_agg(video_id, 11) AS h FROM ev GROUP BY hour) s JOIN hourly USING (hour)"
q "WITH e AS (SELECT percentile_disc(ARRAY[0.5, 0.9, 0.99, 0.999]) WITHIN GROUP (ORDER BY watch_ms) AS x FROM ev),
        s AS (SELECT strata.quantiles(strata.qsketch_agg(watch_ms), '{0.5,0.9,0.99,0.999}') AS x FROM ev),
        r AS (SELECT strata.quantiles(strata.merge(sq), '{0.5,0.9,0.99,0.999}') AS x FROM hourly),
        t AS (SELECT tdigest_percentile(watch_ms, 100, ARRAY[0.5, 0.9, 0.99, 0.999]) AS x FROM ev),
        tr AS (SELECT tdigest_percentile(d, ARRAY[0.5, 0.9, 0.99, 0.999]) AS x FROM (SELECT tdigest(at) AS d FROM hourly) m)
   SELECT '   quantile relative error (p50/p90/p99/p99.9): strata ' ||
     string_agg(round((100 * abs(s.x[i] - e.x[i]) / e.x[i])::numeric, 3)::text, '/' ORDER BY i) || '%, strata from 720 hourly ' ||
     string_agg(round((100 * abs(r.x[i] - e.x[i]) / e.x[i])::numeric, 3)::text, '/' ORDER BY i) || '%, tdigest ' ||
     string_agg(round((100 * abs(t.x[i] - e.x[i]) / e.x[i])::numeric, 3)::text, '/' ORDER BY i) || '%, tdigest from hourly ' ||
     string_agg(round((100 * abs(tr.x[i] - e.x[i]) / e.x[i])::numeric, 3)::text, '/' ORDER BY i) || '%'
   FROM e, s, r, t, tr, generate_series(1, 4) i"
q "SELECT '   strata qsketch from hourly merge is bitwise the direct sketch: ' ||
     ((SELECT strata.merge(sq)::text FROM hourly) = (SELECT strata.qsketch_agg(watch_ms)::text FROM ev))"

echo "== sizes (bytes per sketch)"
for n in 10 1000 1000000; do
  q "SELECT '   ' || $n || ' distinct: strata.hll ' || length(strata.hll_send(strata.hll_agg(g))) || ', postgresql-hll ' ||
       pg_column_size(hll_add_agg(hll_hash_bigint(g))) || ', strata.qsketch ' || length(strata.qsketch_send(strata.qsketch_agg(g))) ||
       ', tdigest(100) ' || pg_column_size(tdigest(g::float8, 100)) FROM generate_series(1, $n) g"
done
