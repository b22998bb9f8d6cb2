#!/usr/bin/env bash
# Configuration edges: no shared_preload_libraries, strata.databases, a bad strata.role, SIGTERM,
# job_runs trimming.
set -u
source "$(dirname "$0")/lib.sh"
DIR=$(mktemp -d /tmp/strata-t03.XXXXXX)
export PGPORT=${PGPORT_BASE:-26300}
trap 'cluster_stop "$DIR" immediate; rm -rf "$DIR"' EXIT

# 1. Without shared_preload_libraries: the SQL API works and says the worker is missing.
cluster_start "$DIR" "$PGPORT" "shared_preload_libraries = ''" || exit 1
q "CREATE EXTENSION strata"
q "CREATE TABLE t (id int NOT NULL) PARTITION BY RANGE (id)"
out=$("$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -X -q -At -c "SELECT strata.create_partition_set('t', 'id', 10, premake => 1)" 2>&1)
check "without preload, create_partition_set says the worker is not running" grep -q "background worker is not running" <<<"$out"
check "... with a hint to add strata to shared_preload_libraries" grep -q "HINT:  Add strata to shared_preload_libraries" <<<"$out"
q "INSERT INTO t VALUES (15)"
check "without preload, run_maintenance still maintains" test "$(q "SELECT count(*) FROM strata.run_maintenance('t')" 2>/dev/null)" = 1
check "without preload, no strata process runs" test "$(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'strata%'")" = 0
cluster_stop "$DIR"
rm -rf "$DIR/data"

# 2. strata.databases restricts the databases served.
cluster_start "$DIR" "$PGPORT" "strata.databases = 'served'" || exit 1
q "CREATE DATABASE served" && q "CREATE DATABASE ignored"
q -d served "CREATE EXTENSION strata" && q -d ignored "CREATE EXTENSION strata"
export DB=served  # strata.workers lives where the extension is
check "strata.databases: the listed database gets a worker" \
  wait_for 5 "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'strata worker' AND datname = 'served'" "1"
sleep 2
check "strata.databases: other databases get none" \
  test "$(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'strata worker' AND datname = 'ignored'")" = 0
q "ALTER SYSTEM SET strata.databases = ''" && q "SELECT pg_reload_conf()" >/dev/null
check "clearing strata.databases serves every database with the extension (SIGHUP)" \
  wait_for 8 "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'strata worker' AND datname IN ('served', 'ignored')" "2"

# 3. A bad strata.role is a database-level error: logged, shown, retried; the launcher and the other
#    database's worker are not affected.
q "ALTER SYSTEM SET strata.role = 'no_such_role'" && q "SELECT pg_reload_conf()" >/dev/null
check "a worker error is shown in strata.workers" \
  wait_for 8 "SELECT count(*) FROM strata.workers WHERE last_error LIKE '%no_such_role%'" "2"
check "the error is in the server log with context" grep -q "strata worker: maintenance pass failed: role \"no_such_role\"" "$DIR/server.log"
check "the launcher survives worker errors" test "$(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'strata launcher'")" = 1
q "ALTER SYSTEM RESET strata.role" && q "SELECT pg_reload_conf()" >/dev/null
check "the workers recover when the configuration is fixed" \
  wait_for 60 "SELECT count(*) FROM strata.workers WHERE last_error IS NULL AND state = 'running' AND datname IN ('served', 'ignored')" "2"

# 4. SIGTERM ends a worker promptly; the launcher starts a new one (with backoff).
wpid=$(q "SELECT pid FROM strata.workers WHERE datname = 'served'")
q "SELECT pg_terminate_backend($wpid)" >/dev/null
check "SIGTERM ends a worker promptly" \
  wait_for 3 "SELECT count(*) FROM pg_stat_activity WHERE pid = $wpid" "0"
check "the launcher restarts a terminated worker" \
  wait_for 10 "SELECT state = 'running' AND pid <> $wpid FROM strata.workers WHERE datname = 'served'" "t"

# 5. job_runs is trimmed by age (at worker start, then every ten minutes).
q -d served "INSERT INTO strata.job_runs (job_kind, target, status, started_at) VALUES ('old', 'x', 'ok', now() - interval '30 days')"
q "ALTER SYSTEM SET strata.job_runs_retention = '1d'" && q "SELECT pg_reload_conf()" >/dev/null
sleep 1.5
wpid=$(q "SELECT pid FROM strata.workers WHERE datname = 'served'")
q "SELECT pg_terminate_backend($wpid)" >/dev/null
old_rows_gone() { wait_for 15 "SELECT count(*) FROM strata.job_runs WHERE job_kind = 'old'" "0"; }
check "job_runs rows older than strata.job_runs_retention are deleted" old_rows_gone
finish
