#!/usr/bin/env bash
# The analytics node (src/analytics/README.md), side by side in one run: a primary and an analytics node,
# two throwaway clusters on this machine. With PIN=1 (the default on a machine with 2 or more cores) the
# two stand in for separate machines: the primary's processes and the pgbench client run on CPU 0, the
# analytics node and the primary's walsender (what a primary's spare core does) on CPU 1; PIN=0 lets
# them share every core (the analytics node's apply and refreshes then take CPU from the primary's clients).
#  1. ingest throughput on the primary, single-row INSERTs (pgbench) and COPY, into three tables: with no
#     rollup (the floor, and the same floor on a second table of its own: their ratio is this machine's
#     run-to-run noise), with 3 rollups on the primary, and published to the analytics node that holds
#     the same 3 rollups (applying and refreshing meanwhile); ratios per round, to the round's floor;
#     target: the published table equal to the floor (within noise);
#  2. a dashboard query's p95 while pgbench inserts at a steady rate: on the primary's rollup vs on the
#     analytics node's;
#  3. freshness at a steady ingest rate: p50/p95 of (commit on the primary -> the row counted in the
#     analytics node's real-time rollup view), beside the replication lag alone (the same row in the
#     analytics node's raw table) and the refresh interval; target p95 < 2 x refresh interval + lag.
# ROUNDS (default 15), SECS (seconds per pgbench run, default 5), ROWS (COPY rows, default 100000). Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-15}
PIN=${PIN:-$([ "$(nproc)" -ge 2 ] && echo 1 || echo 0)}
SECS=${SECS:-5}
ROWS=${ROWS:-100000}
source test/cluster/lib.sh
source bench/lib.sh
bench_prepare
DIR=$(mktemp -d /tmp/strata-abench.XXXXXX)
chmod 755 "$DIR"
mkdir -p "$DIR/p" "$DIR/a"
chmod 777 "$DIR/p" "$DIR/a"
PP=${PGPORT:-25800}
PA=$((PP + 1))
trap 'for p in $(jobs -p); do kill $p 2>/dev/null || true; done; cluster_stop "$DIR/p" immediate; cluster_stop "$DIR/a" immediate; rm -rf "$DIR"' EXIT
CONF=("shared_buffers = 512MB" "wal_level = logical" "strata.naptime = 1" "strata.heartbeat_interval = 1" "jit = off")
# On the primary no vacuum runs during the runs (autovacuum and strata's scheduler would visit the
# growing tables during some runs and not others; every variant writes the same rows into a table of
# its own).
cluster_start "$DIR/p" "$PP" "${CONF[@]}" "autovacuum = off" "strata.vacuum_enabled = off" >/dev/null
cluster_start "$DIR/a" "$PA" "${CONF[@]}" >/dev/null
pin() {  # pin DIR CPU: the cluster's postmaster and its processes (those forked later inherit it)
  [ "$PIN" = 1 ] || return 0
  local pm p; pm=$(head -1 "$1/data/postmaster.pid")
  for p in $pm $(ps -o pid= --ppid "$pm"); do taskset -p -c "$2" "$p" >/dev/null 2>&1 || true; done
  # A machine whose CPUs 0 and 1 are not both allowed (a cpuset) cannot stand in for two machines.
  taskset -p -c "$pm" 2>/dev/null | grep -q ": $2\$" || { echo "PIN=1: could not pin $1 to CPU $2 (run with PIN=0)" >&2; exit 1; }
}
pin_walsender() {  # the primary's walsender runs on the analytics node's CPU (a primary's spare core)
  [ "$PIN" = 1 ] || return 0
  local p; for p in $(PGPORT=$PP DB=postgres q "SELECT pid FROM pg_stat_replication"); do taskset -p -c 1 "$p" >/dev/null 2>&1 || true; done
}
pin "$DIR/p" 0
pin "$DIR/a" 1
export DB=bench
onp() { PGPORT=$PP q "$@"; }
ona() { PGPORT=$PA q "$@"; }
for p in $PP $PA; do PGPORT=$p q -d postgres "CREATE DATABASE bench"; PGPORT=$p q "CREATE EXTENSION strata"; done
pct() { sort -n | awk -v p="$1" '{a[NR]=$1} END {i=int(NR*p/100+0.999); if (i<1) i=1; printf "%.1f", a[i]}'; }

TABLE="(id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL DEFAULT now(), channel int NOT NULL,
        video int NOT NULL, watch_ms int NOT NULL, PRIMARY KEY (id))"
rollups() {  # rollups PORT TABLE: the 3 rollups (refreshed every second)
  PGPORT=$1 q "SELECT strata.create_rollup('${2}_hourly', \$\$SELECT date_trunc('hour', ts) AS hour, channel, count(*) AS views, sum(watch_ms) AS watch FROM $2 GROUP BY 1, 2\$\$, refresh_interval => '1 s')" >/dev/null
  PGPORT=$1 q "SELECT strata.create_rollup('${2}_daily', \$\$SELECT date_trunc('day', ts) AS day, video, count(*) AS views, strata.hll_agg(channel) AS channels FROM $2 GROUP BY 1, 2\$\$, refresh_interval => '1 s')" >/dev/null
  PGPORT=$1 q "SELECT strata.create_rollup('${2}_minute', \$\$SELECT date_trunc('minute', ts) AS minute, count(*) AS views, strata.qsketch_agg(watch_ms) AS watch_q FROM $2 GROUP BY 1\$\$, refresh_interval => '1 s')" >/dev/null
}
for t in ev_none ev_none2 ev_local ev_repl; do onp "CREATE TABLE $t $TABLE"; done
rollups "$PP" ev_local
onp "CALL strata.create_analytics_publication(ARRAY['ev_repl'::regclass], 'bench_pub')" >/dev/null 2>&1
ona "CREATE TABLE ev_repl (id bigint NOT NULL PRIMARY KEY, ts timestamptz NOT NULL, channel int NOT NULL, video int NOT NULL, watch_ms int NOT NULL)"
ona "SELECT strata.create_analytics_subscription('bench_sub', 'host=127.0.0.1 port=$PP dbname=bench user=postgres', 'bench_pub', ARRAY['ev_repl'::regclass])" >/dev/null
rollups "$PA" ev_repl
PGB_CPU=(); [ "$PIN" = 1 ] && PGB_CPU=(taskset -c 0)
PGB="${PGB_CPU[*]} $PGBIN/pgbench -h 127.0.0.1 -p $PP -U postgres -n"
for t in ev_none ev_none2 ev_local ev_repl; do
  echo "INSERT INTO $t (channel, video, watch_ms) VALUES (random() * 1000, random() * 100000, random() * 60000);" >"$DIR/ins_$t.sql"
done
seq 1 "$ROWS" | awk '{printf "%d\t%d\t%d\n", $1 % 1000, $1 % 100000, $1 % 60000}' >"$DIR/rows.tsv"
caught_up() {  # the analytics node holds every row of ev_repl and its rollups are refreshed
  local n; n=$(onp "SELECT count(*) FROM ev_repl")
  pin_walsender
  PGPORT=$PA wait_for 300 "SELECT count(*) FROM ev_repl" "$n" && PGPORT=$PA wait_for 300 \
    "SELECT bool_and(lag_rows = 0 AND pending_buckets = 0) FROM strata.rollups" t
}
caught_up

echo "== 1. ingest on the primary: no rollup (floor) / 3 rollups on the primary / published to the analytics node with its 3 rollups ($ROUNDS rounds of ${SECS} s runs; PIN=$PIN)"
# Each round runs the four variants back to back (order rotated), then waits for the analytics node to
# catch up: a round's runs see the same state of the machine, so the per-round ratios to that round's
# floor cancel slow drifts. none_again is the floor once more, on a table of its own (ev_none2): its
# ratios are this machine's noise. A run that measured nothing counts as NA and its round is left out.
declare -A TPS COPYMS
VARIANTS=(ev_none ev_repl ev_local none_again)
for round in $(seq 1 "$ROUNDS"); do
  for k in $(seq 0 $(( ${#VARIANTS[@]} - 1 ))); do
    v=${VARIANTS[$(( (k + round - 1) % ${#VARIANTS[@]} ))]}
    t=$v; [ "$v" = none_again ] && t=ev_none2
    sleep 2
    tps=$($PGB -c 2 -T "$SECS" -f "$DIR/ins_$t.sql" bench 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p' || true)
    TPS[$v]+="${tps:-NA} "
    ms=$(PGPORT=$PP session_times $'\\timing on\n'"COPY $t (channel, video, watch_ms) FROM '$DIR/rows.tsv';" | head -1 || true)
    COPYMS[$v]+="${ms:-NA} "
  done
  caught_up >/dev/null
done
# per_round A B SERIES COPY: the ratio A/B of each round, for TPS or COPYMS (COPY=1: B/A, a speed
# ratio); rounds where either run measured nothing (NA) are left out.
per_round() {
  local -n series=$3
  paste <(tr ' ' '\n' <<<"${series[$1]}" | grep -v '^$') <(tr ' ' '\n' <<<"${series[$2]}" | grep -v '^$') |
    awk -v copy="$4" '$1 + 0 > 0 && $2 + 0 > 0 {print (copy ? $2 / $1 : $1 / $2)}'
}
summary() {  # median and the middle half of per-round ratios
  sort -n | awk '{a[NR]=$1} END {if (NR == 0) {printf "n/a (no round measured)"; exit}
    printf "median %.3f (middle half %.3f .. %.3f, %d rounds)", a[int((NR+1)/2)], a[int(NR/4)+1], a[int(3*NR/4+0.5)], NR}'
}
measured() { tr ' ' '\n' | grep -E '^[0-9.]+$' | median; }
for t in "${VARIANTS[@]}"; do
  printf "   %-11s  single-row tps %9.1f   COPY of %s rows %8.1f ms (medians)\n" "$t" "$(measured <<<"${TPS[$t]}")" \
    "$ROWS" "$(measured <<<"${COPYMS[$t]}")"
done
echo "   per-round ratios to the round's floor (ingest speed; 1.000 = the floor):"
printf "   noise, the floor again:                          tps %s\n" "$(per_round none_again ev_none TPS 0 | summary)"
printf "                                                    COPY %s\n" "$(per_round none_again ev_none COPYMS 1 | summary)"
printf "   published, 3 rollups on the analytics node:      tps %s   (target: the floor, within the noise above)\n" "$(per_round ev_repl ev_none TPS 0 | summary)"
printf "                                                    COPY %s\n" "$(per_round ev_repl ev_none COPYMS 1 | summary)"
printf "   3 rollups on the primary:                        tps %s\n" "$(per_round ev_local ev_none TPS 0 | summary)"
printf "                                                    COPY %s\n" "$(per_round ev_local ev_none COPYMS 1 | summary)"

echo "== 2. a dashboard (views and watch time per channel, last day, top 20) while 1,000 rows/s are inserted"
DASH="SELECT channel, sum(views) AS v, sum(watch) AS w FROM %s WHERE hour >= now() - interval '1 day' GROUP BY 1 ORDER BY 2 DESC LIMIT 20"
dash_p95() {  # dash_p95 PORT VIEW TABLE: p95 ms of 40 runs while pgbench inserts into TABLE at 1,000/s
  $PGB -c 2 -R 1000 -T 30 -f "$DIR/ins_$3.sql" bench >/dev/null 2>&1 &
  local pid=$! script="\\timing on" i
  sleep 2
  for i in $(seq 1 40); do script+=$'\n'"$(printf "$DASH" "$2");"; done
  PGPORT=$1 session_times "$script" | pct 95
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
}
P95_LOCAL=$(dash_p95 "$PP" ev_local_hourly ev_local)
P95_REPL=$(dash_p95 "$PA" ev_repl_hourly ev_repl)
printf "   p95 on the primary's rollup %7.1f ms   on the analytics node's %7.1f ms\n" "$P95_LOCAL" "$P95_REPL"
caught_up >/dev/null

echo "== 3. freshness while 1,000 rows/s are inserted: commit on the primary -> counted in the analytics node's view"
$PGB -c 1 -R 1000 -T 60 -f "$DIR/ins_ev_repl.sql" bench >/dev/null 2>&1 &
LOAD=$!
sleep 2
FRESH="" LAG=""
for i in $(seq 1 20); do
  ch=$((100000 + i))
  t0=$(date +%s%N)
  onp "INSERT INTO ev_repl (channel, video, watch_ms) VALUES ($ch, 1, 1)"
  t1=""
  while :; do
    [ -z "$t1" ] && [ "$(ona "SELECT count(*) FROM ev_repl WHERE channel = $ch")" = 1 ] && t1=$(date +%s%N)
    [ "$(ona "SELECT count(*) FROM ev_repl_hourly WHERE channel = $ch")" = 1 ] && break
    sleep 0.02
  done
  t2=$(date +%s%N)
  [ -z "$t1" ] && t1=$t2
  LAG+="$(( (t1 - t0) / 1000000 )) "
  FRESH+="$(( (t2 - t0) / 1000000 )) "
  sleep 0.5
done
kill "$LOAD" 2>/dev/null || true; wait "$LOAD" 2>/dev/null || true
printf "   in the view: p50 %6.1f ms  p95 %6.1f ms   in the raw table (replication lag): p50 %6.1f ms  p95 %6.1f ms\n" \
  "$(tr ' ' '\n' <<<"$FRESH" | grep -v '^$' | pct 50)" "$(tr ' ' '\n' <<<"$FRESH" | grep -v '^$' | pct 95)" \
  "$(tr ' ' '\n' <<<"$LAG" | grep -v '^$' | pct 50)" "$(tr ' ' '\n' <<<"$LAG" | grep -v '^$' | pct 95)"
echo "   target: p95 under 2 x the refresh interval (1 s) + the replication lag (the view is real-time: rows not yet absorbed are read from the raw table)"
