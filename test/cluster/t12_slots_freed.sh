#!/usr/bin/env bash
# Shared worker slots are freed with their databases: after 300 CREATE/DROP DATABASE cycles (each
# database seen by the launcher, so each took a slot; there are 256) a new database with strata is still
# served. When slots do run out, the launcher says which database waits, once.
set -u
source "$(dirname "$0")/lib.sh"
DIR=$(mktemp -d /tmp/strata-t12.XXXXXX)
export PGPORT=${PGPORT_BASE:-27020}
trap 'cluster_stop "$DIR" immediate; rm -rf "$DIR"' EXIT
cluster_start "$DIR" "$PGPORT" "strata.naptime = 1" || exit 1
q "CREATE EXTENSION strata"
psql_script() { "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -X -q -v ON_ERROR_STOP=1 >/dev/null; }
# 12 batches of 25: create them (FILE_COPY from template0 is the fastest copy), wait until the launcher
# lists every one (each then holds a slot), drop them.
t0=$SECONDS
ok=1
for b in $(seq 1 12); do
  for i in $(seq 1 25); do echo "CREATE DATABASE c_${b}_$i TEMPLATE template0 STRATEGY FILE_COPY;"; done | psql_script || ok=0
  wait_for 20 "SELECT count(*) FROM strata.workers WHERE datname LIKE 'c\\_${b}\\_%'" 25 >/dev/null || ok=0
  for i in $(seq 1 25); do echo "DROP DATABASE c_${b}_$i;"; done | psql_script || ok=0
done
echo "# 300 cycles took $((SECONDS - t0)) s"
check "300 databases were created, seen by the launcher and dropped" test $ok = 1
check "their slots are freed" wait_for 10 "SELECT count(*) FROM strata.workers WHERE datname IS NULL OR datname LIKE 'c\\_%'" 0
q "CREATE DATABASE fresh"
q -d fresh "CREATE EXTENSION strata"
check "a new database with strata is served" wait_for 15 \
  "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'strata worker' AND datname = 'fresh'" 1
check "no database was said to wait for a slot" bash -c "! grep -q 'shared worker slots are taken' '$DIR/server.log'"
finish
