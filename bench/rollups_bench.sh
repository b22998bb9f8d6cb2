#!/usr/bin/env bash
# Rollup benchmark, side by side in one run on one throwaway cluster (ratios; this machine is shared):
#  1. ingest (pgbench, single-row INSERTs) into a table with no rollup vs 3 strata rollups vs a
#     trigger-maintained rollup (the pg_ivm style, plpgsql row trigger upserting a summary);
#  2. full build of an hour x channel rollup (count, sum): strata vs CREATE/REFRESH MATERIALIZED VIEW;
#  3. refresh after a 50,000-row batch in the last day: strata incremental vs REFRESH MATERIALIZED VIEW;
#  4. refresh throughput with count, sum, hll and qsketch measures (source rows per second, one core),
#     rows arriving in time order and in random order, vs a hand-written upsert-merge with
#     postgresql-hll and tdigest (INSERT ... GROUP BY ... ON CONFLICT DO UPDATE with hll_union/tdigest_union);
#  5. a dashboard query (views and watch time per channel, last 7 days, top 20) on the rollup's
#     real-time view vs a plain table holding the same rows (and key) vs the raw table; p95 while pgbench
#     inserts, with a 50,000-row unabsorbed tail, right after absorbing it (a refresh every second, worker
#     off), and in the steady state of the worker refreshing every second (its vacuum scheduler on).
# ROWS (default 5000000 over 30 days, ~1,000 channels), REPS (default 3), SECTIONS (default "1 2 3 4 5";
# "2" runs 2, 3 and 5, which go together). Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-5000000}
REPS=${REPS:-3}
SECTIONS=${SECTIONS:-1 2 3 4 5}
# TP_BATCH (default 1000000): rows per batch in the throughput measurement.
source test/cluster/lib.sh
source bench/lib.sh
bench_prepare postgresql-15-hll postgresql-15-tdigest
DIR=$(mktemp -d /tmp/strata-rbench.XXXXXX)
chmod 755 "$DIR"
export PGPORT=${PGPORT:-25760} DB=bench
trap 'for p in $(jobs -p); do kill $p 2>/dev/null || true; done; cluster_stop "$DIR" immediate; rm -rf "$DIR"' EXIT
cluster_start "$DIR" "$PGPORT" "shared_buffers = 1GB" "work_mem = 256MB" "max_parallel_workers_per_gather = 0" \
  "jit = off" "strata.enabled = off" "synchronous_commit = off" >/dev/null
q -d postgres "CREATE DATABASE bench"
q "CREATE EXTENSION strata; CREATE EXTENSION hll; CREATE EXTENSION tdigest"
# Times are taken by psql (\timing) inside one session (bench/lib.sh), so connection start-up is not counted.
timeit() {  # median ms of REPS runs of SQL $1 (one statement string), each after the untimed SQL $2
  local script="" i
  for i in $(seq 1 "$REPS"); do
    [ -n "${2:-}" ] && script+="\\timing off"$'\n'"$2;"$'\n'
    script+="\\timing on"$'\n'"BEGIN;"$'\n'"$1;"$'\n'"COMMIT;"$'\n'"\\timing off"$'\n'
  done
  # Each timed run is BEGIN; statements; COMMIT: sum the times of one run's statements.
  local n; n=$(( $(grep -o ';' <<<"$1" | wc -l) + 3 ))
  session_times "$script" | awk -v n="$n" '{s += $1} NR % n == 0 {print s; s = 0}' | median
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
PGB="$PGBIN/pgbench -h 127.0.0.1 -p $PGPORT -U postgres -n"

if [[ " $SECTIONS " == *" 1 "* ]]; then
echo "== 1. ingest: single-row INSERTs, pgbench 2 clients, 5 x 10 s per variant, interleaved in rotating order"
# ing_none2 is the control: a second table exactly like ing_none, so the spread between two identical
# variants shows how much of a difference this machine's noise makes on its own.
q "CREATE TABLE ing_none (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL DEFAULT now(), channel int, viewer bigint, watch_ms int)"
q "CREATE TABLE ing_none2 (LIKE ing_none INCLUDING ALL)"
q "CREATE TABLE ing_strata (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL DEFAULT now(), channel int, viewer bigint, watch_ms int)"
q "CREATE TABLE ing_trigger (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL DEFAULT now(), channel int, viewer bigint, watch_ms int)"
for t in ing_none ing_none2 ing_strata ing_trigger; do q "CREATE INDEX ON $t (id)"; done
q "SELECT strata.create_rollup('ing_r1', \$\$SELECT date_trunc('hour', ts) AS b, channel, count(*) AS n, sum(watch_ms) AS w FROM ing_strata GROUP BY 1, 2\$\$)" >/dev/null 2>&1
q "SELECT strata.create_rollup('ing_r2', \$\$SELECT date_trunc('day', ts) AS b, channel, strata.hll_agg(viewer) AS v FROM ing_strata GROUP BY 1, 2\$\$)" >/dev/null 2>&1
q "SELECT strata.create_rollup('ing_r3', \$\$SELECT date_trunc('minute', ts) AS b, count(*) AS n, strata.qsketch_agg(watch_ms) AS q FROM ing_strata GROUP BY 1\$\$)" >/dev/null 2>&1
q "CREATE TABLE trig_summary (b timestamptz, channel int, n bigint, w bigint, PRIMARY KEY (b, channel));
   CREATE FUNCTION trig_upsert() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN
     INSERT INTO trig_summary VALUES (date_trunc('hour', NEW.ts), NEW.channel, 1, NEW.watch_ms)
     ON CONFLICT (b, channel) DO UPDATE SET n = trig_summary.n + 1, w = trig_summary.w + EXCLUDED.w; RETURN NULL; END \$\$;
   CREATE TRIGGER t AFTER INSERT ON ing_trigger FOR EACH ROW EXECUTE FUNCTION trig_upsert();"
declare -A TPS
for t in ing_none ing_none2 ing_strata ing_trigger; do TPS[$t]=""; done
ORDERS=("ing_none ing_strata ing_trigger ing_none2" "ing_strata ing_trigger ing_none2 ing_none"
  "ing_trigger ing_none2 ing_none ing_strata" "ing_none2 ing_none ing_strata ing_trigger")
for r in 0 1 2 3 4; do
  for t in ${ORDERS[$((r % 4))]}; do
    echo "INSERT INTO $t (channel, viewer, watch_ms) VALUES ((random() * 1000)::int, (random() * 1e6)::bigint, (random() * 1e4)::int);" >"$DIR/ins_$t.sql"
    tps=$($PGB -c 2 -j 2 -T 10 -f "$DIR/ins_$t.sql" bench 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    TPS[$t]="${TPS[$t]} $tps"
  done
done
med() { printf '%s\n' $1 | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
N=$(med "${TPS[ing_none]}"); N2=$(med "${TPS[ing_none2]}"); S=$(med "${TPS[ing_strata]}"); T=$(med "${TPS[ing_trigger]}")
printf "   no rollup          %9.0f tps\n   3 strata rollups   %9.0f tps  (%s of no rollup)\n   trigger rollup     %9.0f tps  (%s of no rollup)\n" \
  "$N" "$S" "$(ratio "$S" "$N")" "$T" "$(ratio "$T" "$N")"
printf "   control: no rollup, an identical second table %9.0f tps  (%s of the first: the noise between two equal variants)\n" \
  "$N2" "$(ratio "$N2" "$N")"
fi

if [[ " $SECTIONS " == *" 2 "* ]]; then
echo "== generating $ROWS events over 30 days, ~1,000 channels"
q "CREATE TABLE ev (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, channel int, viewer bigint, watch_ms int)"
q "INSERT INTO ev (ts, channel, viewer, watch_ms) SELECT timestamptz '2026-01-01' + random() * interval '30 days',
     (random() * 990)::int, (random() * 1e6)::bigint, (exp(7 + random() * 3))::int FROM generate_series(1, $ROWS)"
q "CREATE INDEX ON ev (id)"
q "VACUUM ANALYZE ev"
Q="SELECT date_trunc('hour', ts) AS bucket, channel, count(*) AS views, sum(watch_ms) AS watch FROM ev GROUP BY 1, 2"

echo "== 2. full build, hour x channel, count + sum (median of $REPS)"
T_MV=$(timeit "CREATE MATERIALIZED VIEW mv AS $Q" "DROP MATERIALIZED VIEW IF EXISTS mv")
T_RMV=$(timeit "REFRESH MATERIALIZED VIEW mv")
T_ST=$(timeit "SELECT strata.create_rollup('r', \$\$$Q\$\$, batch_size => 100000000); SELECT strata.refresh_rollup('r')" \
  "SELECT strata.drop_rollup('r', if_exists => true)")
NGROUPS=$(q "SELECT count(*) FROM r_data")
# strata's aggregation runs with work_mem lowered to a cache-sized hash table (strata.rollup_hash_table):
# the matview refreshed with that work_mem too shows what the setting alone does.
AGG_WM=$(q "SELECT current_setting('work_mem')")
T_RMV1=$(timeit "SET LOCAL work_mem = '1MB'; REFRESH MATERIALIZED VIEW mv")
printf "   CREATE MATERIALIZED VIEW  %6s ms\n   REFRESH MATERIALIZED VIEW %6s ms\n   strata create + refresh   %6s ms  (%s x the matview refresh; %s groups)\n" \
  "$T_MV" "$T_RMV" "$T_ST" "$(ratio "$T_ST" "$T_RMV")" "$NGROUPS"
printf "   REFRESH MATERIALIZED VIEW with work_mem 1MB (the hash memory strata's aggregation gets here; the session's is %s) %6s ms  (strata %s x that)\n" \
  "$AGG_WM" "$T_RMV1" "$(ratio "$T_ST" "$T_RMV1")"

echo "== 3. after a 50,000-row batch in the last day (median of $REPS)"
BATCH="INSERT INTO ev (ts, channel, viewer, watch_ms) SELECT timestamptz '2026-01-30' + random() * interval '1 day',
     (random() * 990)::int, (random() * 1e6)::bigint, (exp(7 + random() * 3))::int FROM generate_series(1, 50000)"
T_INC=$(timeit "SELECT strata.refresh_rollup('r')" "$BATCH")
T_RMV2=$(timeit "REFRESH MATERIALIZED VIEW mv" "$BATCH")
printf "   strata incremental refresh   %6s ms\n   REFRESH MATERIALIZED VIEW    %6s ms  (strata %sx faster)\n   incremental / full build     %s%% of strata's, %s%% of the matview refresh at work_mem 1MB  (target < 2%%)\n" \
  "$T_INC" "$T_RMV2" "$(ratio "$T_RMV2" "$T_INC")" "$(awk -v a="$T_INC" -v b="$T_ST" 'BEGIN{printf "%.2f", 100*a/b}')" \
  "$(awk -v a="$T_INC" -v b="$T_RMV1" 'BEGIN{printf "%.2f", 100*a/b}')"

fi

if [[ " $SECTIONS " == *" 4 "* ]]; then
TPB=${TP_BATCH:-1000000}
echo "== 4. refresh throughput with count, sum, hll and qsketch (one core): 4 batches of $TPB new rows"
# A rollup over an empty table, then batches of new rows (30 days of events in all, ~1,000 channels, so a
# group gets about 7 rows); each batch absorbed by one refresh, and by the hand-written upsert-merge into
# its own table. Time order: each batch covers the next 6 days; random order: every batch all 30 days.
throughput() {  # $1 = table, $2 = timestamp expression of row g of batch k; prints "strata_rows_s hand_rows_s"
  local t=$1 ts=$2 k out sms=() hms=()
  q "CREATE TABLE $t (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, channel int, viewer bigint, watch_ms int);
     CREATE INDEX ON $t (id);
     CREATE TABLE ${t}_hand (bucket timestamptz, channel int, views bigint, watch bigint, viewers hll, wq tdigest,
                             PRIMARY KEY (bucket, channel))"
  q "SELECT strata.create_rollup('${t}_r', \$\$SELECT date_trunc('hour', ts) AS bucket, channel, count(*) AS views,
     sum(watch_ms) AS watch, strata.hll_agg(viewer) AS viewers, strata.qsketch_agg(watch_ms) AS wq FROM $t GROUP BY 1, 2\$\$,
     batch_size => $TPB)" >/dev/null
  for k in 0 1 2 3; do
    q "INSERT INTO $t (ts, channel, viewer, watch_ms) SELECT ${ts//@K@/$k}, (random() * 990)::int, (random() * 1e6)::bigint,
       (exp(7 + random() * 3))::int FROM generate_series(1, $TPB) g"
    out=$(session_times "\\timing on
SELECT strata.refresh_rollup('${t}_r');
INSERT INTO ${t}_hand AS h SELECT date_trunc('hour', ts), channel, count(*), sum(watch_ms), hll_add_agg(hll_hash_bigint(viewer)),
  tdigest(watch_ms, 100) FROM $t WHERE id > $k * $TPB AND id <= ($k + 1) * $TPB GROUP BY 1, 2
  ON CONFLICT (bucket, channel) DO UPDATE SET views = h.views + EXCLUDED.views, watch = h.watch + EXCLUDED.watch,
  viewers = hll_union(h.viewers, EXCLUDED.viewers), wq = tdigest_union(h.wq, EXCLUDED.wq, true);")
    sms+=("$(sed -n 1p <<<"$out")"); hms+=("$(sed -n 2p <<<"$out")")
  done
  printf '%s %s\n' "$(printf '%s\n' "${sms[@]}" | sort -n | awk -v n="$TPB" '{a[NR]=$1} END {printf "%.0f", n*1000/((a[2]+a[3])/2)}')" \
    "$(printf '%s\n' "${hms[@]}" | sort -n | awk -v n="$TPB" '{a[NR]=$1} END {printf "%.0f", n*1000/((a[2]+a[3])/2)}')"
}
read -r S_ORD H_ORD < <(throughput st_ord "timestamptz '2026-01-01' + (@K@ * $TPB + g) * interval '30 days' / $((4 * TPB))")
read -r S_RND H_RND < <(throughput st_rnd "timestamptz '2026-01-01' + random() * interval '30 days'")
printf "   time order:   strata %9s rows/s   hand-written upsert-merge (postgresql-hll + tdigest) %9s rows/s  (%sx)\n" \
  "$S_ORD" "$H_ORD" "$(ratio "$S_ORD" "$H_ORD")"
printf "   random order: strata %9s rows/s   hand-written upsert-merge (postgresql-hll + tdigest) %9s rows/s  (%sx)\n" \
  "$S_RND" "$H_RND" "$(ratio "$S_RND" "$H_RND")"
printf "   (medians of the 4 batches; every batch of the random order touches every group of the month)\n"
fi

if [[ " $SECTIONS " == *" 2 "* ]]; then
echo "== 5. dashboard: views and watch per channel, last 7 days, top 20 (p95 of 60, of 30 for the raw table; pgbench inserting meanwhile)"
# The plain table gets the rollup table's key, as a hand-made rollup table would have (without it the
# query scans the whole table and the comparison flatters the view).
q "CREATE TABLE r_plain AS SELECT * FROM r; CREATE UNIQUE INDEX ON r_plain (bucket, channel)"
q "VACUUM ANALYZE r_plain"; q "VACUUM ANALYZE r_data"
q "$BATCH" >/dev/null   # an unrefreshed tail of 50,000 rows for the real-time view
echo "INSERT INTO ev (ts, channel, viewer, watch_ms) VALUES (timestamptz '2026-01-30' + random() * interval '1 day', (random() * 990)::int, 1, 1);" >"$DIR/ins_ev.sql"
$PGB -c 1 -T 600 -R 200 -f "$DIR/ins_ev.sql" bench >/dev/null 2>&1 &
INGEST=$!
p95() { sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int(NR*0.95)]}'; }  # of numbers on stdin
dash() {  # p95 ms of 30 runs in one session (after one untimed run)
  local script="$1;"$'\n'"\\timing on" i
  for i in $(seq 1 30); do script+=$'\n'"$1;"; done
  session_times "$script" | p95
}
# p95 ms of two queries, 60 runs each, alternating in one session (after one untimed run of each): both
# see the same moments of the ingest and the refresher. (A p95 of 30 is the 29th value: it moved by
# 0.05x between runs.) Prints "p95_first p95_second p50_first p50_second".
dash_pair() {
  local script="$1;"$'\n'"$2;"$'\n'"\\timing on" i out
  for i in $(seq 1 60); do script+=$'\n'"$1;"$'\n'"$2;"; done
  out=$(session_times "$script")
  echo "$(awk 'NR % 2 == 1' <<<"$out" | p95) $(awk 'NR % 2 == 0' <<<"$out" | p95)" \
       "$(awk 'NR % 2 == 1' <<<"$out" | median) $(awk 'NR % 2 == 0' <<<"$out" | median)"
}
D="SELECT channel, sum(views) AS views, sum(watch) AS watch FROM %s WHERE bucket >= timestamptz '2026-01-31' - interval '7 days' GROUP BY 1 ORDER BY 2 DESC LIMIT 20"
DR="SELECT channel, count(*) AS views, sum(watch_ms) AS watch FROM ev WHERE ts >= timestamptz '2026-01-31' - interval '7 days' GROUP BY 1 ORDER BY 2 DESC LIMIT 20"
read -r P_VIEW P_PLAIN _ _ < <(dash_pair "$(printf "$D" r)" "$(printf "$D" r_plain)"); P_RAW=$(dash "$DR")
# Right after absorbing the batch: the tail absorbed every second by a loop calling refresh_rollup, the
# worker off, so nothing has vacuumed the rollup table since the batch's merge.
q "SELECT strata.refresh_rollup('r')" >/dev/null
( while :; do q "SELECT strata.refresh_rollup('r')" >/dev/null; sleep 1; done ) &
REFRESHER=$!
read -r P_VIEW_AB P_PLAIN_AB M_VIEW_AB M_PLAIN_AB < <(dash_pair "$(printf "$D" r)" "$(printf "$D" r_plain)")
kill $REFRESHER 2>/dev/null || true
wait $REFRESHER 2>/dev/null || true
DEAD_AB=$(q "SELECT n_tup_upd - n_tup_hot_upd + n_tup_del FROM pg_stat_user_tables WHERE relid = 'r_data'::regclass")
# Steady state: the worker on, refreshing r every second (refresh_interval => '1 second'); its vacuum
# scheduler cleans the index entries the batch's merge left (rule 8). Measured once it has (up to 120 s).
q "SELECT strata.alter_rollup('r', refresh_interval => '1 second')" >/dev/null
T_ON=$(q "SELECT now()")
q "ALTER SYSTEM SET strata.enabled = on" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 1 240); do
  [ "$(q "SELECT count(*) FROM strata.vacuum_activity WHERE relation = 'public.r_data' AND status = 'ok'")" -gt 0 ] && break
  sleep 0.5
done
VAC=$(q "SELECT coalesce(string_agg(action || ' ' || status || ' in ' || (extract(epoch FROM duration) * 1000)::int || ' ms ('
  || (facts_before->>'dead_index_entries') || ' dead index entries before, ' || (facts_after->>'dead_index_entries') || ' after)', '; '), 'none')
  FROM strata.vacuum_activity WHERE relation = 'public.r_data'")
sleep 3
read -r P_VIEW_SS P_PLAIN_SS M_VIEW_SS M_PLAIN_SS < <(dash_pair "$(printf "$D" r)" "$(printf "$D" r_plain)")
REFRESHES=$(q "SELECT count(*) FROM strata.job_runs WHERE job_kind = 'rollup_refresh' AND status = 'ok' AND started_at > '$T_ON'")
kill $INGEST 2>/dev/null || true
q "ALTER SYSTEM SET strata.enabled = off" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
printf "   rollup view (real-time, 50k-row tail) %7s ms  (%sx the plain table)\n   plain table of the rollup rows (keyed) %6s ms\n   raw table                             %7s ms  (%sx the rollup view)\n" \
  "$P_VIEW" "$(ratio "$P_VIEW" "$P_PLAIN")" "$P_PLAIN" "$P_RAW" "$(ratio "$P_RAW" "$P_VIEW")"
printf "   right after absorbing the batch (worker off, refresh_rollup every second; %s index entries of replaced or deleted groups made so far): rollup view %s ms, plain table %s ms  (%sx; medians %s vs %s ms, %sx)\n" \
  "$DEAD_AB" "$P_VIEW_AB" "$P_PLAIN_AB" "$(ratio "$P_VIEW_AB" "$P_PLAIN_AB")" "$M_VIEW_AB" "$M_PLAIN_AB" "$(ratio "$M_VIEW_AB" "$M_PLAIN_AB")"
printf "   the worker's vacuums of the rollup table: %s\n" "$VAC"
printf "   steady state, the worker refreshing every second (%s refreshes that absorbed rows): rollup view %s ms, plain table %s ms  (%sx; medians %s vs %s ms, %sx)\n" \
  "$REFRESHES" "$P_VIEW_SS" "$P_PLAIN_SS" "$(ratio "$P_VIEW_SS" "$P_PLAIN_SS")" "$M_VIEW_SS" "$M_PLAIN_SS" "$(ratio "$M_VIEW_SS" "$M_PLAIN_SS")"
printf "   the view drops the stored groups its tail touches with %s\n" \
  "$(q "SELECT CASE WHEN pg_get_viewdef('r') LIKE '%keyset_lacks%' THEN 'a keyset probe (integer keys)' ELSE 'an anti-join' END")"
printf "   pages read by the query's range (7 of 30 days): rollup table %s, plain table %s\n" \
  "$(q "SELECT count(DISTINCT (ctid::text::point)[0]) FROM r_data WHERE bucket >= timestamptz '2026-01-31' - interval '7 days'")" \
  "$(q "SELECT count(DISTINCT (ctid::text::point)[0]) FROM r_plain WHERE bucket >= timestamptz '2026-01-31' - interval '7 days'")"
fi
