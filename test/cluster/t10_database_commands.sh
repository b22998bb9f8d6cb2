#!/usr/bin/env bash
# Commands that need a database to themselves succeed although a strata worker is connected to it:
# plain DROP DATABASE (within 10 s), ALTER DATABASE ... RENAME TO, CREATE DATABASE ... TEMPLATE. The
# worker leaves for the command and comes back after it (not before its transaction ends).
set -u
source "$(dirname "$0")/lib.sh"
DIR=$(mktemp -d /tmp/strata-t10.XXXXXX)
export PGPORT=${PGPORT_BASE:-27000}
trap 'cluster_stop "$DIR" immediate; rm -rf "$DIR"' EXIT
cluster_start "$DIR" "$PGPORT" "strata.naptime = 1" || exit 1
set_dbs 2 gone app
q "CREATE EXTENSION strata"
running() { wait_for 20 "SELECT count(*) FROM pg_stat_activity a JOIN strata.workers w USING (pid)
                          WHERE w.datname = '$1' AND w.state = 'running' AND a.datname = '$1'" 1; }
check "a worker runs in gone" running gone
check "a worker runs in app" running app

t0=$SECONDS
check "plain DROP DATABASE of a database with a worker succeeds" q "DROP DATABASE gone"
check "... within 10 s" test $((SECONDS - t0)) -le 10
check "... and its worker is gone" wait_for 10 "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'strata worker' AND datname = 'gone'" 0

t0=$SECONDS
check "ALTER DATABASE ... RENAME TO of a database with a worker succeeds" q "ALTER DATABASE app RENAME TO app2"
check "... within 10 s" test $((SECONDS - t0)) -le 10
check "the worker comes back in the renamed database" running app2

# In a transaction block the hold lasts until the transaction ends: no worker starts in between.
held=$("$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -X -q -At -v ON_ERROR_STOP=1 <<'SQL'
BEGIN;
ALTER DATABASE app2 RENAME TO app3;
SELECT pg_sleep(3) IS NULL;
SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'strata worker' AND datname IN ('app2', 'app3');
SELECT state FROM strata.workers WHERE datname IN ('app2', 'app3');
ROLLBACK;
SQL
)
check "no worker restarts while the renaming transaction is open" test "$(echo "$held" | sed -n 2p)" = 0
check "... strata.workers says why" test "$(echo "$held" | sed -n 3p)" = "paused for a command on the database"
check "after its rollback the worker comes back" running app2

t0=$SECONDS
check "CREATE DATABASE ... TEMPLATE of a database with a worker succeeds" q "CREATE DATABASE copy TEMPLATE app2"
check "... within 10 s" test $((SECONDS - t0)) -le 10
check "the template's worker comes back" running app2
check "the copy (with strata) gets a worker of its own" running copy
check "its maintenance works" wait_for 20 "SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'strata worker' AND datname = 'copy'" t

t0=$SECONDS
check "DROP DATABASE of the copy succeeds" q "DROP DATABASE copy"
check "... within 10 s" test $((SECONDS - t0)) -le 10
check "no worker failed along the way" \
  test "$(q "SELECT count(*) FROM strata.workers WHERE failures > 0 OR last_error IS NOT NULL")" = 0
check "the slots of dropped databases are freed" \
  wait_for 10 "SELECT count(*) FROM strata.workers WHERE datname IS NULL" 0
finish
