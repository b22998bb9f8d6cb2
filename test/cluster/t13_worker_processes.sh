#!/usr/bin/env bash
# max_worker_processes too small for strata.max_workers: strata leaves half of the slots to parallel
# query and logical replication (parallel query still launches workers), the databases beyond its share
# wait ('waiting for a worker slot') and take turns, and the shortage is logged once, not every naptime.
set -u
source "$(dirname "$0")/lib.sh"
DIR=$(mktemp -d /tmp/strata-t13.XXXXXX)
export PGPORT=${PGPORT_BASE:-27030}
trap 'cluster_stop "$DIR" immediate; rm -rf "$DIR"' EXIT
cluster_start "$DIR" "$PGPORT" "strata.naptime = 1" "max_worker_processes = 4" "max_parallel_workers = 4" \
  "max_parallel_workers_per_gather = 2" || exit 1
DBS="db1 db2 db3"
set_dbs 1 $DBS
q "CREATE EXTENSION strata"
q "CREATE TABLE big AS SELECT g AS id, g % 7 AS k FROM generate_series(1, 200000) g"
q "ANALYZE big"
sleep 3
launched() {
  "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -X -q -At -c "SET parallel_setup_cost = 0" \
    -c "SET parallel_tuple_cost = 0" -c "SET min_parallel_table_scan_size = 0" \
    -c "EXPLAIN (ANALYZE, COSTS OFF) SELECT count(*) FROM big WHERE k = 3" | sed -n 's/.*Workers Launched: \([0-9]*\).*/\1/p'
}
# Sampled several times over a few seconds (workers take turns meanwhile).
min_launched=9
for i in 1 2 3 4 5 6; do
  n=$(launched); n=${n:-0}
  [ "$n" -lt "$min_launched" ] && min_launched=$n
  sleep 0.5
done
check "parallel query still launches workers with strata's workers running (min $min_launched)" test "$min_launched" -gt 0
check "strata runs at most max_worker_processes / 2 - 1 = 1 database worker" \
  test "$(q "SELECT count(*) <= 1 FROM pg_stat_activity WHERE backend_type = 'strata worker'")" = t
seen_waiting() {
  local end=$((SECONDS + 10))
  while [ $SECONDS -lt $end ]; do
    [ "$(q "SELECT count(*) > 0 FROM strata.workers WHERE state = 'waiting for a worker slot'")" = t ] && return 0
    sleep 0.1
  done
  return 1
}
check "strata.workers shows databases waiting for a worker slot" seen_waiting
# Every database is still served, in turns.
for d in $DBS; do q -d "$d" "SELECT strata.alter_partition_set('ev', premake => 4)" >/dev/null; done
served() { local d; for d in $DBS; do DB=$d wait_for 30 "SELECT partitions_ahead >= 4 FROM strata.partition_sets" t || return 1; done; }
check "every database is served in turns" served
check "the limit is logged once" test "$(grep -c 'at most 1 database workers at once' "$DIR/server.log")" = 1
# Lines about the workers themselves (starts, turns, slots), not about the maintenance they do.
lifecycle() { grep -c 'strata launcher\|strata worker\|worker slot' "$DIR/server.log"; }
before=$(lifecycle)
sleep 6
after=$(lifecycle)
check "no worker line per naptime or per turn ($before -> $after lines in 6 naptimes)" test $((after - before)) -lt 3
check "no 'no background worker slot free' lines" bash -c "! grep -q 'no background worker slot free' '$DIR/server.log'"
finish
