#!/usr/bin/env bash
# Bookkeeping stays bounded: the worker's routine rollup refresh steps write no job_runs row (only the
# rollup's counters move), and job_runs trimming removes every aged row at once, not 10,000 per ten
# minutes.
set -u
source "$(dirname "$0")/lib.sh"
DIR=$(mktemp -d /tmp/strata-t12.XXXXXX)
export PGPORT=${PGPORT_BASE:-27200}
trap 'cluster_stop "$DIR" immediate; rm -rf "$DIR"' EXIT
cluster_start "$DIR" "$PGPORT" "strata.naptime = 1" || exit 1
q "CREATE DATABASE app"
export DB=app
q "CREATE EXTENSION strata"
check "the worker runs" wait_for 10 "SELECT state FROM strata.workers WHERE datname = 'app'" "running"

# 1. Routine refresh steps: counters, no rows. Rows arrive every 200 ms while the worker refreshes the
#    rollup every 100 ms: dozens of steps that absorb something.
q "CREATE TABLE ev (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, n int)"
q "CREATE INDEX ON ev (id)"
q "SELECT strata.create_rollup('ev_min', \$\$SELECT date_trunc('minute', ts) AS bucket, count(*) AS c, sum(n) AS s
     FROM ev GROUP BY 1\$\$, refresh_interval => '100 ms')" >/dev/null
rows_before=$(q "SELECT count(*) FROM strata.job_runs WHERE job_kind = 'rollup_refresh'")
for i in $(seq 1 40); do q "INSERT INTO ev (ts, n) SELECT now(), g FROM generate_series(1, 10) g"; sleep 0.2; done
check "the worker absorbed every row" wait_for 10 "SELECT lag_rows FROM strata.rollups WHERE name::text = 'ev_min'" "0"
steps=$(q "SELECT refresh_steps FROM strata.rollups WHERE name::text = 'ev_min'")
check "refresh_steps counts the worker's steps ($steps)" test "$steps" -ge 5
check "rows_processed counts every row" test "$(q "SELECT rows_processed FROM strata.rollups WHERE name::text = 'ev_min'")" = 400
check "routine refresh steps wrote no job_runs row" \
  test "$(q "SELECT count(*) FROM strata.job_runs WHERE job_kind = 'rollup_refresh'")" = "$rows_before"
check "the rollup is exact" test "$(q "SELECT sum(c) = 400 AND sum(s) = 40 * 55 FROM ev_min")" = t

# 2. Trimming: 25,000 rows older than the retention (more than the old 10,000 per ten minutes) all go
#    at the next pass; a recent row stays.
q "INSERT INTO strata.job_runs (job_kind, target, status, started_at)
     SELECT 'old', 'x', 'ok', now() - interval '2 hours' - g * interval '1 second' FROM generate_series(1, 25000) g"
q "INSERT INTO strata.job_runs (job_kind, target, status) VALUES ('recent', 'x', 'ok')"
q "ALTER SYSTEM SET strata.job_runs_retention = '1h'" && q "SELECT pg_reload_conf()" >/dev/null
check "every aged job_runs row is trimmed within a few passes" \
  wait_for 15 "SELECT count(*) FROM strata.job_runs WHERE job_kind = 'old'" "0"
check "a recent row is kept" test "$(q "SELECT count(*) FROM strata.job_runs WHERE job_kind = 'recent'")" = 1
finish
