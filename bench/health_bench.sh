#!/usr/bin/env bash
# Ingest health benchmark, side by side in one run on one throwaway cluster (ratios; this machine is shared):
#  1. the cost of watching: the worker's own maintenance passes over SETS partition sets (strata.workers
#     shows each pass's duration and its health pass's), with health on and off, idle and with a row into
#     every set each second; target: the health pass < 10% of the pass;
#  2. insert throughput into a partition set with the workers running, health on vs off, against the
#     floor: the same inserts with the workers off (nothing attached).
# SETS (default 500), PASSES per mode (default 15). Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
SETS=${SETS:-500}
PASSES=${PASSES:-15}
source test/cluster/lib.sh
source bench/lib.sh
bench_prepare
DIR=$(mktemp -d /tmp/strata-healthbench.XXXXXX)
chmod 755 "$DIR"
export PGPORT=${PGPORT:-25790} DB=bench PGOPTIONS="-c client_min_messages=warning"
trap 'cluster_stop "$DIR" immediate; rm -rf "$DIR"' EXIT
cluster_start "$DIR" "$PGPORT" "shared_buffers = 512MB" "strata.enabled = off" "strata.naptime = 1" >/dev/null
q -d postgres "CREATE DATABASE bench"
q "CREATE EXTENSION strata"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", a/b}'; }

echo "== setup: $SETS daily partition sets (premake 2), 200 rows each"
# In batches of 50 sets per transaction (the default lock table holds a batch's locks).
for b in $(seq 0 $(( (SETS - 1) / 50 ))); do
q "DO \$\$ BEGIN FOR i IN $(( b * 50 + 1 ))..$(( (b + 1) * 50 < SETS ? (b + 1) * 50 : SETS )) LOOP
     EXECUTE format('CREATE TABLE s%s (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, v int) PARTITION BY RANGE (ts)', i);
     PERFORM strata.create_partition_set(format('s%s', i)::regclass, 'ts', '1 day', premake => 2);
     EXECUTE format('CREATE INDEX ON s%s (ts)', i);
     EXECUTE format('INSERT INTO s%s (ts, v) SELECT now() - g * interval ''1 minute'', g FROM generate_series(1, 200) g', i);
   END LOOP; END \$\$"
done
q "ANALYZE"

echo "== 1. the worker's own passes over $SETS sets, health on vs off (medians of $PASSES passes each)"
# strata.workers shows the last pass's duration and its health pass's: each new pass read once. Idle:
# nothing moves. Ingest: one row into every set each second (every set's counters move: a sample written
# per set each pass).
q -d postgres "ALTER SYSTEM SET strata.enabled = on" >/dev/null
q -d postgres "SELECT pg_reload_conf()" >/dev/null
passes() {  # passes N: "pass_ms health_ms" of the next N passes
  local seen last=-1 n=0
  while [ "$n" -lt "$1" ]; do
    seen=$(q "SELECT passes || ' ' || last_pass_ms || ' ' || last_health_ms FROM strata.workers WHERE datname = current_database()")
    if [ -n "$seen" ] && [ "${seen%% *}" != "$last" ]; then
      [ "$last" != -1 ] && { echo "${seen#* }"; n=$((n + 1)); }
      last=${seen%% *}
    fi
    sleep 0.2
  done
}
health() { q -d postgres "ALTER SYSTEM SET strata.health = $1" >/dev/null; q -d postgres "SELECT pg_reload_conf()" >/dev/null; sleep 2; }
ingest_start() {
  ( while :; do q "DO \$\$ BEGIN FOR i IN 1..$SETS LOOP EXECUTE format('INSERT INTO s%s (ts, v) VALUES (now(), 1)', i); END LOOP; END \$\$" >/dev/null; sleep 1; done ) &
  INGEST_PID=$!
}
ingest_stop() { kill "$INGEST_PID"; wait "$INGEST_PID" 2>/dev/null || true; }
# Settle: the first passes hand every new partition over to vacuum's schedule.
sleep 20
row() {  # row LABEL: the medians of the "pass_ms health_ms" lines on stdin
  local in; in=$(cat)
  echo "$1 $(cut -d' ' -f1 <<<"$in" | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]}') $(cut -d' ' -f2 <<<"$in" | sort -n | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]}')"
}
health on;  IDLE_ON=$(passes "$PASSES" | row idle_on)
health off; IDLE_OFF=$(passes "$PASSES" | row idle_off)
ingest_start
health on;  ING_ON=$(passes "$PASSES" | row ingest_on)
health off; ING_OFF=$(passes "$PASSES" | row ingest_off)
ingest_stop
health on
for r in "$IDLE_ON:$IDLE_OFF" "$ING_ON:$ING_OFF"; do
  on=${r%%:*}; off=${r#*:}
  read -r label pass_on health_ms <<<"$on"; read -r _ pass_off _ <<<"$off"
  printf "   %-10s pass with health %7.2f ms (its health pass %6.3f ms = %s of it)   pass without health %7.2f ms   on/off %s   target < 0.10\n" \
    "${label%_on}" "$pass_on" "$health_ms" "$(ratio "$health_ms" "$pass_on")" "$pass_off" "$(ratio "$pass_on" "$pass_off")"
done
T_HEALTH=$(session_times $'\\timing on\nSELECT count(*) FROM strata._health_pass();\nSELECT count(*) FROM strata._health_pass();\nSELECT count(*) FROM strata._health_pass();' | median)
printf "   strata._health_pass() by hand (everything read afresh, samples trimmed) %8.1f ms\n" "$T_HEALTH"
T_VIEW=$(session_times $'\\timing on\nSELECT count(*) FROM strata.ingest_health;\nSELECT count(*) FROM strata.ingest_health;\nSELECT count(*) FROM strata.ingest_health;' | median)
printf "   reading strata.ingest_health over $SETS sets %8.1f ms\n" "$T_VIEW"

echo "== 2. inserts into one set, 10 rows per transaction, 2 clients x 15 s (median of 3 rounds)"
q "CREATE TABLE ev (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, v int) PARTITION BY RANGE (ts)"
q "SELECT strata.create_partition_set('ev', 'ts', '1 day', premake => 2)" >/dev/null
q "CREATE INDEX ON ev (ts)"
cat >"$DIR/insert.sql" <<'EOF'
INSERT INTO ev (ts, v) SELECT now(), g FROM generate_series(1, 10) g;
EOF
tps() {
  "$PGBIN/pgbench" -h 127.0.0.1 -p "$PGPORT" -U postgres -n -f "$DIR/insert.sql" -c 2 -T 15 bench 2>/dev/null |
    sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}
mode() {  # mode off|health-on|health-off
  case "$1" in
    off) q -d postgres "ALTER SYSTEM SET strata.enabled = off" ;;
    health-on) q -d postgres "ALTER SYSTEM SET strata.enabled = on"; q -d postgres "ALTER SYSTEM SET strata.health = on" ;;
    health-off) q -d postgres "ALTER SYSTEM SET strata.enabled = on"; q -d postgres "ALTER SYSTEM SET strata.health = off" ;;
  esac
  q -d postgres "SELECT pg_reload_conf()" >/dev/null
  sleep 2
}
ON=(); OFF=(); FLOOR=()
for round in 1 2 3; do
  mode health-on; ON+=("$(tps)")
  mode health-off; OFF+=("$(tps)")
  mode off; FLOOR+=("$(tps)")
done
M_ON=$(printf '%s\n' "${ON[@]}" | median); M_OFF=$(printf '%s\n' "${OFF[@]}" | median); M_FLOOR=$(printf '%s\n' "${FLOOR[@]}" | median)
printf "   tps: workers with health %s, workers without health %s (with / without %s), workers off (floor) %s\n" \
  "$M_ON" "$M_OFF" "$(ratio "$M_ON" "$M_OFF")" "$M_FLOOR"
