#!/usr/bin/env bash
# A launcher restart never duplicates workers: after pg_terminate_backend(<launcher>) three times, each
# database with strata has exactly one worker (the new launcher adopts the live ones), and maintenance
# goes on.
set -u
source "$(dirname "$0")/lib.sh"
DIR=$(mktemp -d /tmp/strata-t11.XXXXXX)
export PGPORT=${PGPORT_BASE:-27010}
trap 'cluster_stop "$DIR" immediate; rm -rf "$DIR"' EXIT
cluster_start "$DIR" "$PGPORT" "strata.naptime = 1" || exit 1
DBS="db1 db2 db3"
set_dbs 1 $DBS
q "CREATE EXTENSION strata"
per_db="SELECT string_agg(datname || ':' || n, ',' ORDER BY datname) FROM (SELECT datname, count(*) n
          FROM pg_stat_activity WHERE backend_type = 'strata worker' AND datname LIKE 'db%' GROUP BY 1) x"
check "one worker per database at first" wait_for 20 "$per_db" "db1:1,db2:1,db3:1"
launcher() { q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'strata launcher'"; }
# Never more than one per database while the launcher comes and goes (sampled every 0.2 s).
max_seen=0
sample() {
  local n
  n=$(q "SELECT coalesce(max(n), 0) FROM (SELECT count(*) n FROM pg_stat_activity
           WHERE backend_type = 'strata worker' AND datname LIKE 'db%' GROUP BY datname) x")
  [ "$n" -gt "$max_seen" ] && max_seen=$n
  return 0
}
for round in 1 2 3; do
  old=$(launcher)
  q "SELECT pg_terminate_backend($old)" >/dev/null
  end=$((SECONDS + 20))
  while [ $SECONDS -lt $end ]; do
    sample
    new=$(launcher)
    [ -n "$new" ] && [ "$new" != "$old" ] && break
    sleep 0.2
  done
  check "round $round: a new launcher started" test -n "$new" -a "$new" != "$old"
  for i in $(seq 1 15); do sample; sleep 0.2; done
done
check "never two workers of one database at once" test "$max_seen" = 1
check "after three launcher restarts, exactly one worker per database" wait_for 10 "$per_db" "db1:1,db2:1,db3:1"
check "strata.workers shows one running worker per database, with the live pid" \
  test "$(q "SELECT count(*) FROM strata.workers w JOIN pg_stat_activity a USING (pid)
             WHERE w.datname LIKE 'db%' AND w.state = 'running' AND a.backend_type = 'strata worker'")" = 3
# Maintenance goes on under the adopted workers, and a worker that ends is restarted by the new launcher.
for d in $DBS; do q -d "$d" "SELECT strata.alter_partition_set('ev', premake => 5)" >/dev/null; done
adopted_maintain() {
  local d
  for d in $DBS; do DB=$d wait_for 20 "SELECT partitions_ahead >= 5 FROM strata.partition_sets" t || return 1; done
}
check "adopted workers still maintain (a larger premake is made in every database)" adopted_maintain
w1=$(q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'strata worker' AND datname = 'db1'")
q "SELECT pg_terminate_backend($w1)" >/dev/null
check "an adopted worker that ends is restarted (one worker again)" \
  wait_for 20 "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'strata worker' AND datname = 'db1' AND pid <> $w1" 1
check "... and the others still have one each" wait_for 10 "$per_db" "db1:1,db2:1,db3:1"
check "no 'already exists' failures from two workers at once" \
  bash -c "! grep -q 'already exists' '$DIR/server.log'"
finish
