#!/usr/bin/env bash
# Ingest health benchmark, side by side in one run on one throwaway cluster (ratios; this machine is shared):
#  1. the cost of watching: the worker's health pass (strata._health_pass: sampling, lock waits, alerts)
#     over SETS partition sets, against the rest of a maintenance pass over the same sets, as a session
#     runs its parts: partition maintenance (strata.run_maintenance) and vacuum planning
#     (strata.vacuum_plan, the scheduler's full reading); target: health < 10% of the pass;
#  2. insert throughput into a partition set with the workers running, health on vs off, against the
#     floor: the same inserts with the workers off (nothing attached).
# SETS (default 500). Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
SETS=${SETS:-500}
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

echo "== 1. one pass over $SETS sets (median of 7 in one session)"
MAINT_SCRIPT="\\timing on"
VAC_SCRIPT="\\timing on"
HEALTH_SCRIPT="\\timing on"
IDLE_SCRIPT="\\timing on"
for i in $(seq 1 8); do
  MAINT_SCRIPT+=$'\n'"SELECT count(*) FROM strata.run_maintenance();"
  VAC_SCRIPT+=$'\n'"SELECT count(*) FROM strata.vacuum_plan();"
  # A pass after ingest moved every set's counters (each writes a sample): the samples cleared first.
  HEALTH_SCRIPT+=$'\n'"\\timing off"$'\n'"DELETE FROM strata.ingest_sample;"$'\n'"\\timing on"$'\n'"SELECT count(*) FROM strata._health_pass();"
  # An idle pass (nothing moved: no sample written).
  IDLE_SCRIPT+=$'\n'"SELECT count(*) FROM strata._health_pass();"
done
T_MAINT=$(session_times "$MAINT_SCRIPT" | tail -7 | median)
T_VAC=$(session_times "$VAC_SCRIPT" | tail -7 | median)
T_HEALTH=$(session_times "$HEALTH_SCRIPT" | tail -7 | median)
T_IDLE=$(session_times "$IDLE_SCRIPT" | tail -7 | median)
T_PASS=$(awk -v a="$T_MAINT" -v b="$T_VAC" 'BEGIN{printf "%.1f", a+b}')
printf "   partition maintenance %8.1f ms + vacuum planning %8.1f ms = pass %8.1f ms\n" "$T_MAINT" "$T_VAC" "$T_PASS"
printf "   health pass, every set sampled %8.1f ms (%s of the pass)   idle %8.1f ms (%s)   target < 0.10\n" \
  "$T_HEALTH" "$(ratio "$T_HEALTH" "$T_PASS")" "$T_IDLE" "$(ratio "$T_IDLE" "$T_PASS")"
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
