#!/usr/bin/env bash
# Routing benchmark, side by side in one run on one throwaway cluster (ratios; this machine is shared):
#  1. the rollup bench's 7-day dashboard (views and watch per channel, top 20) written against the raw
#     table: routed (strata.routing on) vs the same query unrouted vs the hand-written query on the
#     rollup's view; and the floor, the bare index scan of the 7 days' raw rows;
#  2. a 90-day daily query on the raw table answered by the daily rollup of the hourly one vs by the hourly one,
#     and the same question written on the hourly rollup's view, answered by the daily rollup vs as written;
#  3. planning overhead: pgbench select-only (-S) on a table that is the source of 20 rollups, routing
#     on vs off; the planning time of a routable query with 20 candidates, routing on vs off.
# ROWS (default 5000000 over 30 days, ~1,000 channels). Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-5000000}
source test/cluster/lib.sh
source bench/lib.sh
bench_prepare
DIR=$(mktemp -d /tmp/strata-routebench.XXXXXX)
chmod 755 "$DIR"
export PGPORT=${PGPORT:-25770} DB=bench
trap 'cluster_stop "$DIR" immediate; rm -rf "$DIR"' EXIT
cluster_start "$DIR" "$PGPORT" "shared_buffers = 1GB" "work_mem = 256MB" "jit = off" "strata.enabled = off" >/dev/null
q -d postgres "CREATE DATABASE bench"
q "CREATE EXTENSION strata"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", a/b}'; }
median3() { sort -n | awk '{a[NR]=$1} END {printf "%.3f\n", a[int((NR+1)/2)]}'; }  # planning times are sub-ms
p50() {  # median ms of 20 runs of $2 in one session with the settings $1 (after one untimed run)
  local script="$1;"$'\n'"$2;"$'\n'"\\timing on" i
  for i in $(seq 1 20); do script+=$'\n'"$2;"; done
  session_times "$script" | median
}

echo "== setup: $ROWS events over 30 days, an hourly rollup (channel; count, sum) and a daily rollup of it"
q "CREATE TABLE ev (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, channel int, viewer bigint, watch_ms int)"
q "INSERT INTO ev (ts, channel, viewer, watch_ms) SELECT timestamptz '2026-01-01' + random() * interval '30 days',
     (random() * 990)::int, (random() * 1e6)::bigint, (exp(7 + random() * 3))::int FROM generate_series(1, $ROWS)"
q "CREATE INDEX ON ev (ts); CREATE INDEX ON ev (id)"
q "SELECT strata.create_rollup('r', \$\$SELECT date_trunc('hour', ts) AS bucket, channel, count(*) AS views, sum(watch_ms) AS watch FROM ev GROUP BY 1, 2\$\$)" >/dev/null
q "SELECT strata.refresh_rollup('r')" >/dev/null
q "SELECT strata.create_rollup('r_day', \$\$SELECT date_trunc('day', bucket) AS bucket, channel, sum(views) AS views, sum(watch) AS watch FROM r GROUP BY 1, 2\$\$)" >/dev/null
q "SELECT strata.refresh_rollup('r_day')" >/dev/null
# An unabsorbed tail of 50,000 rows in the last day, as the rollup bench's dashboard has.
q "INSERT INTO ev (ts, channel, viewer, watch_ms) SELECT timestamptz '2026-01-30' + random() * interval '1 day',
     (random() * 990)::int, (random() * 1e6)::bigint, (exp(7 + random() * 3))::int FROM generate_series(1, 50000)"
q "VACUUM ANALYZE ev"; q "VACUUM ANALYZE r_data"; q "VACUUM ANALYZE r_day_data"

echo "== 1. dashboard, last 7 days (median of 20 in one session)"
RAWQ="SELECT channel, count(*) AS views, sum(watch_ms) AS watch FROM ev WHERE ts >= timestamptz '2026-01-31' - interval '7 days' GROUP BY 1 ORDER BY 2 DESC LIMIT 20"
VIEWQ="SELECT channel, sum(views) AS views, sum(watch) AS watch FROM r WHERE bucket >= timestamptz '2026-01-31' - interval '7 days' GROUP BY 1 ORDER BY 2 DESC LIMIT 20"
FLOORQ="SELECT count(*) FROM ev WHERE ts >= timestamptz '2026-01-31' - interval '7 days'"
T_ROUTED=$(p50 "SET strata.routing = on" "$RAWQ")
T_RAW=$(p50 "SET strata.routing = off" "$RAWQ")
T_VIEW=$(p50 "SET strata.routing = off" "$VIEWQ")
T_FLOOR=$(p50 "SET strata.routing = off" "$FLOORQ")
SAME=$(q "SELECT (SELECT md5(string_agg(x::text, ',')) FROM (SELECT * FROM (${RAWQ}) a) x) FROM (SELECT set_config('strata.routing', 'off', false)) s")
SAME_R=$(q "SELECT (SELECT md5(string_agg(x::text, ',')) FROM (SELECT * FROM (${RAWQ}) a) x) FROM (SELECT set_config('strata.routing', 'on', false)) s")
printf "   routed %8.1f ms   unrouted %8.1f ms (%sx slower than routed; target >= 20x)\n" "$T_ROUTED" "$T_RAW" "$(ratio "$T_RAW" "$T_ROUTED")"
printf "   hand-written on the rollup's view %8.1f ms (routed / hand-written %sx; target <= 1.1x)\n" "$T_VIEW" "$(ratio "$T_ROUTED" "$T_VIEW")"
printf "   floor: counting the 7 days' raw rows through the time index %8.1f ms\n" "$T_FLOOR"
printf "   same answer routed and unrouted: %s\n" "$([ "$SAME" = "$SAME_R" ] && echo yes || echo NO)"
q "SELECT rollup, decision, round(est_cost) FROM strata.explain_routing(\$\$${RAWQ}\$\$)" | sed 's/^/   explain_routing: /'
# The floor of the routed plan here: the 50,000 unabsorbed rows it must aggregate from the raw table.
WM=$(q "SELECT watermark FROM strata.rollup WHERE view = 'r'::regclass")
TAILQ="SELECT channel, count(*), sum(watch_ms) FROM ev WHERE id > $WM GROUP BY 1"
T_TAIL=$(p50 "SET strata.routing = off" "$TAILQ")
printf "   floor of the routed plan: aggregating the 50,000 unabsorbed rows alone %8.1f ms\n" "$T_TAIL"
q "SELECT strata.refresh_rollup('r')" >/dev/null; q "SELECT strata.refresh_rollup('r_day')" >/dev/null
q "VACUUM ANALYZE r_data"; q "VACUUM ANALYZE r_day_data"
T_ROUTED2=$(p50 "SET strata.routing = on" "$RAWQ")
T_RAW2=$(p50 "SET strata.routing = off" "$RAWQ")
T_VIEW2=$(p50 "SET strata.routing = off" "$VIEWQ")
printf "   after a refresh absorbed them: routed %8.1f ms   unrouted %8.1f ms (%sx)   hand-written on the view %8.1f ms (routed / hand-written %sx)\n" \
  "$T_ROUTED2" "$T_RAW2" "$(ratio "$T_RAW2" "$T_ROUTED2")" "$T_VIEW2" "$(ratio "$T_ROUTED2" "$T_VIEW2")"
plan_ms() {  # median planning ms of 20 EXPLAINs of $2 with settings $1
  local script="$1;" i
  for i in $(seq 1 21); do script+=$'\n'"EXPLAIN (SUMMARY ON) $2;"; done
  "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d "$DB" -X -At <<<"$script" |
    sed -n 's/^Planning Time: \([0-9.]*\) ms/\1/p' | tail -20 | median3
}
printf "   planning the dashboard query: routing on %s ms, off %s ms\n" "$(plan_ms "SET strata.routing = on" "$RAWQ")" \
  "$(plan_ms "SET strata.routing = off" "$RAWQ")"

echo "== 2. daily views per channel over 90 days (median of 20)"
DAYQ="SELECT date_trunc('day', ts) AS day, channel, count(*) AS views FROM ev WHERE ts >= timestamptz '2026-01-31' - interval '90 days' GROUP BY 1, 2"
T_DAILY=$(p50 "SET strata.routing = on" "$DAYQ")
CHOSEN_DAILY=$(q "SELECT rollup FROM strata.explain_routing(\$\$${DAYQ}\$\$) WHERE decision = 'chosen'")
# The same question written on the hourly rollup's view: answered by the daily rollup of it vs as written.
VDAYQ="SELECT date_trunc('day', bucket) AS day, channel, sum(views) AS views FROM r WHERE bucket >= timestamptz '2026-01-31' - interval '90 days' GROUP BY 1, 2"
T_VDAY=$(p50 "SET strata.routing = on" "$VDAYQ")
T_VDAYRAW=$(p50 "SET strata.routing = off" "$VDAYQ")
CHOSEN_VDAY=$(q "SELECT rollup FROM strata.explain_routing(\$\$${VDAYQ}\$\$) WHERE decision = 'chosen'")
V_SAME=$(q "SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) FROM (${VDAYQ}) x")
V_SAME_R=$(q "SET strata.routing = off; SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) FROM (${VDAYQ}) x")
q "SELECT strata.drop_rollup('r_day')" >/dev/null   # out of routing's candidates
T_HOURLY=$(p50 "SET strata.routing = on" "$DAYQ")
CHOSEN_HOURLY=$(q "SELECT rollup FROM strata.explain_routing(\$\$${DAYQ}\$\$) WHERE decision = 'chosen'")
T_DAYRAW=$(p50 "SET strata.routing = off" "$DAYQ")
printf "   from %s %8.1f ms   from %s %8.1f ms (%sx)   unrouted %8.1f ms\n" "$CHOSEN_DAILY" "$T_DAILY" "$CHOSEN_HOURLY" \
  "$T_HOURLY" "$(ratio "$T_HOURLY" "$T_DAILY")" "$T_DAYRAW"
printf "   written on the hourly rollup's view: from %s %8.1f ms   as written %8.1f ms (%sx)   same answer: %s\n" "$CHOSEN_VDAY" \
  "$T_VDAY" "$T_VDAYRAW" "$(ratio "$T_VDAYRAW" "$T_VDAY")" "$([ "$V_SAME" = "$V_SAME_R" ] && echo yes || echo NO)"

echo "== 3. planning overhead: pgbench -S on a table that is the source of 20 rollups"
"$PGBIN/pgbench" -h 127.0.0.1 -p "$PGPORT" -U postgres -i -s 10 -q bench >/dev/null 2>&1
q "ALTER TABLE pgbench_accounts ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY, ADD COLUMN ts timestamptz NOT NULL DEFAULT timestamptz '2026-01-01'"
q "UPDATE pgbench_accounts SET ts = timestamptz '2026-01-01' + aid * interval '1 second'"; q "CREATE INDEX ON pgbench_accounts (id)"; q "CREATE INDEX ON pgbench_accounts (ts)"
for i in $(seq 1 20); do
  unit=$(echo "minute hour day" | cut -d' ' -f$(( 1 + i % 3 )))
  q "SELECT strata.create_rollup('acc_r$i', \$\$SELECT date_trunc('$unit', ts) AS b, bid, count(*) AS n, sum(abalance) AS s$i FROM pgbench_accounts GROUP BY 1, 2\$\$)" >/dev/null
done
q "VACUUM ANALYZE pgbench_accounts"
TPS_ON=(); TPS_OFF=()
for round in 1 2 3; do
  for mode in on off; do
    t=$(PGOPTIONS="-c strata.routing=$mode" "$PGBIN/pgbench" -h 127.0.0.1 -p "$PGPORT" -U postgres -n -S -c 2 -T 10 bench 2>/dev/null |
        sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    if [ "$mode" = on ]; then TPS_ON+=("$t"); else TPS_OFF+=("$t"); fi
  done
done
M_ON=$(printf '%s\n' "${TPS_ON[@]}" | median); M_OFF=$(printf '%s\n' "${TPS_OFF[@]}" | median)
printf "   select-only tps: routing on %s, off %s (on / off %sx; target overhead < 2%%)\n" "$M_ON" "$M_OFF" "$(awk -v a="$M_ON" -v b="$M_OFF" 'BEGIN{printf "%.3f", a/b}')"
PQ="SELECT date_trunc('day', ts), bid, count(*) FROM pgbench_accounts WHERE ts >= timestamptz '2026-01-03' GROUP BY 1, 2"
P_ON=$(plan_ms "SET strata.routing = on" "$PQ"); P_OFF=$(plan_ms "SET strata.routing = off" "$PQ")
# Matching alone (the query taken apart and matched against each of the 20 rollups), from the routing
# debug log of 21 planning runs in one session (the first, cold, left out).
plan_ms "SET strata.routing = on; SET strata.routing_debug = on" "$PQ" >/dev/null
M_MATCH=$(grep -o 'strata routing: [^(]*(matching [0-9.]* ms' "$DIR/server.log" | tail -20 |
          sed 's/.*matching \([0-9.]*\) ms/\1/' | median3)
printf "   planning a routable query with 20 candidates: routing on %s ms, off %s ms; of which matching %s ms (target < 0.3 ms)\n" \
  "$P_ON" "$P_OFF" "$M_MATCH"
q "SELECT count(*) FILTER (WHERE decision = 'rejected') AS rejected, count(*) FILTER (WHERE decision <> 'rejected') AS planned FROM strata.explain_routing(\$\$${PQ}\$\$)" | sed 's/^/   candidates rejected|planned: /'
