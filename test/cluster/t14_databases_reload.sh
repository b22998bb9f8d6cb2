#!/usr/bin/env bash
# strata.databases narrowed on reload: the workers of databases no longer listed exit at their next loop
# and are not started again; widened again, they come back.
set -u
source "$(dirname "$0")/lib.sh"
DIR=$(mktemp -d /tmp/strata-t14.XXXXXX)
export PGPORT=${PGPORT_BASE:-27040}
trap 'cluster_stop "$DIR" immediate; rm -rf "$DIR"' EXIT
cluster_start "$DIR" "$PGPORT" "strata.naptime = 2" || exit 1
for d in keep drop; do
  q "CREATE DATABASE $d"
  q -d "$d" "CREATE EXTENSION strata"
done
q "CREATE EXTENSION strata"
nworkers() { q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'strata worker' AND datname = '$1'"; }
check "workers run in keep and drop" wait_for 20 \
  "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'strata worker' AND datname IN ('keep', 'drop')" 2
q "ALTER SYSTEM SET strata.databases = 'keep, postgres'"
q "SELECT pg_reload_conf()" >/dev/null
check "the worker of drop exits after the reload (within a naptime)" wait_for 6 \
  "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'strata worker' AND datname = 'drop'" 0
sleep 4
check "... and is not started again" test "$(nworkers drop)" = 0
check "the worker of keep runs on" test "$(nworkers keep)" = 1
check "strata.workers says drop is stopped, without an error" \
  test "$(q "SELECT state || ':' || coalesce(last_error, '') FROM strata.workers WHERE datname = 'drop'")" = "stopped:"
q "ALTER SYSTEM RESET strata.databases"
q "SELECT pg_reload_conf()" >/dev/null
check "widened again, drop has its worker back" wait_for 10 \
  "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'strata worker' AND datname = 'drop'" 1
finish
