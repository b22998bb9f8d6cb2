#!/usr/bin/env bash
# More databases with strata than strata.max_workers: every database is still served. Databases due for a
# worker wait in a queue (shown in strata.workers as 'waiting for a worker slot', with how long), and a
# worker gives its slot up after a pass while another database waits, longest waiting first.
set -u
source "$(dirname "$0")/lib.sh"
DIR=$(mktemp -d /tmp/strata-t07.XXXXXX)
export PGPORT=${PGPORT_BASE:-26700}
trap 'cluster_stop "$DIR" immediate; rm -rf "$DIR"' EXIT
cluster_start "$DIR" "$PGPORT" "strata.naptime = 1" "strata.max_workers = 2" || exit 1
DBS="db1 db2 db3 db4"
# Maintenance that only the worker does: partitions ahead of the data (premake raised after creation).
set_dbs 1 $DBS
export DB=db1
# Raised at once in every database: each needs a worker pass to make its partitions.
for d in $DBS; do q -d "$d" "SELECT strata.alter_partition_set('ev', premake => 5)" >/dev/null; done

served() { for d in $DBS; do [ "$(q -d "$d" "SELECT partitions_ahead >= 5 FROM strata.partition_sets")" = t ] || return 1; done; }
wait_served() { local end=$((SECONDS + $1)); while [ $SECONDS -lt $end ]; do served && return 0; sleep 0.3; done; return 1; }
check "all four databases are served within 30 s with two worker slots" wait_served 30

# The queue is visible: with four databases and two slots, some are waiting at any time.
seen_waiting() {
  local end=$((SECONDS + 15)) row
  while [ $SECONDS -lt $end ]; do
    row=$(q "SELECT count(*) FILTER (WHERE state = 'waiting for a worker slot' AND waiting_since IS NOT NULL
                                       AND waiting_for >= interval '0' AND pid IS NULL)
             FROM strata.workers WHERE datname LIKE 'db%'")
    [ "$row" -ge 1 ] && return 0
    sleep 0.1
  done
  return 1
}
check "strata.workers lists waiting databases with how long they have waited" seen_waiting
check "never more than strata.max_workers database workers at once" \
  test "$(q "SELECT count(*) <= 2 FROM pg_stat_activity WHERE backend_type = 'strata worker'")" = t
check "strata.workers lists all four databases" \
  test "$(q "SELECT count(DISTINCT datname) FROM strata.workers WHERE datname LIKE 'db%'")" = 4

# Every database keeps getting passes (round robin), not just once: new work in each is done too.
for d in $DBS; do q -d "$d" "SELECT strata.alter_partition_set('ev', premake => 9)" >/dev/null; done
served9() { for d in $DBS; do [ "$(q -d "$d" "SELECT partitions_ahead >= 9 FROM strata.partition_sets")" = t ] || return 1; done; }
wait_served9() { local end=$((SECONDS + $1)); while [ $SECONDS -lt $end ]; do served9 && return 0; sleep 0.3; done; return 1; }
check "later work in every database is done too (workers keep taking turns)" wait_served9 30
check "each database had passes of its own" \
  test "$(for d in $DBS; do q -d "$d" "SELECT count(*) > 0 FROM strata.job_runs WHERE job_kind = 'partition_create' AND status = 'ok'"; done | sort -u)" = t
check "turns are not failures" test "$(q "SELECT count(*) FROM strata.workers WHERE datname LIKE 'db%' AND (failures > 0 OR last_error IS NOT NULL)")" = 0
# Dropping the extension in two databases leaves the slots to the others: nobody waits any more.
q -d db3 "DROP EXTENSION strata CASCADE" 2>/dev/null
q -d db4 "DROP EXTENSION strata CASCADE" 2>/dev/null
check "with two databases left for two slots, none waits and both run" \
  wait_for 20 "SELECT string_agg(datname || ':' || state, ',' ORDER BY datname) FROM strata.workers WHERE datname IN ('db1', 'db2')" "db1:running,db2:running"
finish
