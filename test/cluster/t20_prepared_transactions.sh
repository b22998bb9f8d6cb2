#!/usr/bin/env bash
# Prepared transactions and rollups. A prepared writer's rows are waited for (never passed by the
# watermark), the wait names the prepared transaction, and its rows are absorbed after COMMIT PREPARED.
# A refresh_rollup() inside a transaction that was then prepared holds the rollup's row: the worker says
# which prepared transaction once, not every pass, and carries on after it ends.
set -u
source "$(dirname "$0")/lib.sh"
DIR=$(mktemp -d /tmp/strata-t20.XXXXXX)
export PGPORT=${PGPORT_BASE:-27000}
trap 'cluster_stop "$DIR" immediate; rm -rf "$DIR"' EXIT
cluster_start "$DIR" "$PGPORT" "strata.naptime = 1" "max_prepared_transactions = 5" "strata.rollup_wait_timeout = 200" || exit 1
q "CREATE DATABASE app"
export DB=app
q "CREATE EXTENSION strata"
q "CREATE TABLE ev (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, v int); CREATE INDEX ON ev (id)"
q "INSERT INTO ev (ts, v) SELECT '2026-01-01'::timestamptz + g * interval '1 minute', g FROM generate_series(1, 500) g"
q "SELECT strata.create_rollup('ev_h', \$\$SELECT date_trunc('hour', ts) AS bucket, count(*) AS n, sum(v) AS v FROM ev GROUP BY 1\$\$,
     refresh_interval => '200 ms')" >/dev/null
exact() { q "SELECT count(*) FROM (SELECT date_trunc('hour', ts), count(*), sum(v) FROM ev GROUP BY 1 EXCEPT SELECT bucket, n, v FROM ev_h_data) d"; }
check "the worker absorbs the first rows" wait_for 30 "SELECT lag_rows FROM strata.rollups" 0

# A writer prepares its transaction and goes away; others keep writing after it.
BEFORE=$(q "SELECT last_value FROM ev_id_seq")
q "BEGIN; INSERT INTO ev (ts, v) SELECT '2026-01-01 12:00'::timestamptz + g * interval '1 second', 1 FROM generate_series(1, 100) g;
   PREPARE TRANSACTION 'w1'"
q "INSERT INTO ev (ts, v) VALUES ('2026-01-01 13:00', 5)"
check "the wait names the prepared transaction" wait_for 30 \
  "SELECT count(*) > 0 FROM strata.job_runs WHERE status = 'skipped' AND message LIKE '%prepared transaction%gid ''w1''%'" t
check "the watermark stays below the prepared rows" \
  test "$(q "SELECT watermark <= $BEFORE FROM strata.rollup")" = t
q "COMMIT PREPARED 'w1'"
check "after COMMIT PREPARED every row is absorbed" wait_for 30 "SELECT lag_rows FROM strata.rollups" 0
check "the rollup equals the GROUP BY" test "$(exact)" = 0

# refresh_rollup() in a transaction that is then prepared.
q "BEGIN; SELECT strata.refresh_rollup('ev_h'); PREPARE TRANSACTION 'r1'" >/dev/null
q "INSERT INTO ev (ts, v) VALUES ('2026-01-01 14:00', 7)"
check "the worker says which prepared transaction holds the rollup" wait_for 30 \
  "SELECT count(*) FROM strata.job_runs WHERE status = 'skipped' AND message LIKE '%locked by prepared transaction ''r1''%'" 1
sleep 3
check "... once, not every pass" \
  test "$(q "SELECT count(*) FROM strata.job_runs WHERE message LIKE '%locked by prepared transaction ''r1''%'")" = 1
check "... and logs it once" test "$(grep -c "locked by prepared transaction 'r1'" "$DIR/server.log")" = 1
q "COMMIT PREPARED 'r1'"
check "after it ends the worker carries on" wait_for 30 "SELECT lag_rows FROM strata.rollups" 0
check "the rollup equals the GROUP BY" test "$(exact)" = 0
finish
