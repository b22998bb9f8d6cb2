#!/usr/bin/env bash
# Vacuum scheduler at scale: what one idle pass of the database worker costs to plan with SETS daily
# partition sets (default 1,000; each a parent, 5 partitions and a default: ~7,000 relations), the
# scheduler on and nothing to do. Side by side on one cluster, one after the other:
#   full         strata.vacuum_full_plan_interval = 0: every pass reads the facts of every relation
#                (the plan of 0.8.0)
#   incremental  the default: a probe of every relation's signature, facts read again only where it moved
# The worker logs each pass's planning time at DEBUG1 ("strata vacuum: full|incremental plan of N
# relations (M read) in X ms"); printed: the median over PASSES passes of each, and the ratio. The
# first passes (the handovers of every empty partition, the first full read) are left out: only passes
# that planned nothing to run count (handovers are off here, so every pass is idle). Not run by CI;
# brief (about two minutes at 1,000 sets).
#   SETS (default 1000)   PASSES (default 15)   PORT (default 28810)
set -euo pipefail
cd "$(dirname "$0")/.."
SETS=${SETS:-1000}
PASSES=${PASSES:-15}
PORT=${PORT:-28810}
source test/cluster/lib.sh
source bench/lib.sh
ROOT=$(mktemp -d /tmp/strata-vsbench.XXXXXX)
chmod 755 "$ROOT"
trap 'cluster_stop "$ROOT/c" immediate; rm -rf "$ROOT"' EXIT
# The worker idles at naptime 1 s once the handovers are done; autovacuum off so nothing changes.
cluster_start "$ROOT/c" "$PORT" "autovacuum = off" "strata.naptime = 1" "strata.vacuum_enabled = off" \
  "strata.vacuum_insert_handover = off" "log_min_messages = debug1" "max_locks_per_transaction = 256" >/dev/null
export PGPORT=$PORT DB=bench
q -d postgres "CREATE DATABASE bench"
q "CREATE EXTENSION strata"
echo "== setup: $SETS daily partition sets"
for i in $(seq 1 "$SETS"); do
  echo "CREATE TABLE ev_$i (ts timestamptz NOT NULL, v int) PARTITION BY RANGE (ts);"
  echo "SELECT strata.create_partition_set('ev_$i', 'ts', '1 day', premake => 3, default_partition => true,
          start_partition => (now() - interval '1 day')::text);"
done | "$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d bench -X -q -o /dev/null -v ON_ERROR_STOP=1
echo "   relations in scope: $(q "SELECT count(*) FROM pg_class WHERE relkind = 'p' OR (relkind = 'r' AND relispartition)")"

# passes MODE: turns the scheduler on with MODE's interval, waits until the handovers are done, then
# prints the planning times of PASSES idle passes.
passes() {
  local interval=$1 log="$ROOT/c/server.log" from
  q "ALTER SYSTEM SET strata.vacuum_full_plan_interval = $interval"
  q "ALTER SYSTEM SET strata.vacuum_enabled = on"
  q "SELECT pg_reload_conf()" >/dev/null
  until [ "$(q "SELECT count(*) FROM strata.vacuum_plan() WHERE decision = 'run'")" = 0 ]; do sleep 2; done
  sleep 3
  from=$(wc -l <"$log")
  until [ "$(tail -n +"$from" "$log" | grep -c 'plan of .* actions$' || true)" -ge "$PASSES" ]; do sleep 1; done
  tail -n +"$from" "$log" | grep 'strata vacuum: .* plan of' | grep ': 0 actions$' | head -"$PASSES" |
    sed -n 's/.* in \([0-9.]*\) ms.*/\1/p'
  q "ALTER SYSTEM SET strata.vacuum_enabled = off"
  q "SELECT pg_reload_conf()" >/dev/null
  sleep 2
}
full=$(passes 0 | median)
incr=$(passes 600 | median)
echo "== idle pass planning at $SETS sets, median of $PASSES passes"
printf "   %-36s %10s ms\n" "full plan (every relation, 0.8.0)" "$full" "incremental (changed relations only)" "$incr"
awk -v a="$full" -v b="$incr" 'BEGIN { printf "   full / incremental: %.1fx\n", a / b }'
