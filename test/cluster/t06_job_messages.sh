#!/usr/bin/env bash
# Every skipped or failed row of strata.job_runs says why, the worker's pass rows included: a pass whose
# action was skipped (a create that lost its lock race) names the action and the reason.
set -u
source "$(dirname "$0")/lib.sh"
DIR=$(mktemp -d /tmp/strata-t06.XXXXXX)
export PGPORT=${PGPORT_BASE:-26600}
trap 'kill $holder 2>/dev/null; cluster_stop "$DIR" immediate; rm -rf "$DIR"' EXIT
holder=
cluster_start "$DIR" "$PGPORT" "strata.lock_timeout = 100" "strata.ddl_retries = 1" || exit 1
q "CREATE DATABASE app"
export DB=app
q "CREATE EXTENSION strata"
check "a worker starts for the database" wait_for 5 "SELECT state FROM strata.workers WHERE datname = 'app'" "running"

# An integer set with one partition ahead; new data makes a create due while another session holds a
# SHARE lock on the parent, so the worker's ATTACH times out and the create is skipped.
q "CREATE TABLE videos (video_id bigint NOT NULL, title text) PARTITION BY RANGE (video_id)"
q "SELECT strata.create_partition_set('videos', 'video_id', 1000, premake => 1)" >/dev/null
q "SELECT strata.alter_partition_set('videos', enabled => false)" >/dev/null
q "INSERT INTO videos SELECT g, 't' FROM generate_series(0, 1500) g"
"$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d app -X -q \
  -c "BEGIN; LOCK videos IN SHARE MODE; SELECT pg_sleep(6); COMMIT;" >/dev/null 2>&1 &
holder=$!
wait_for 5 "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'videos' AND l.mode = 'ShareLock' AND l.granted" "1"
q "SELECT strata.alter_partition_set('videos', enabled => true)" >/dev/null
check "the worker records the create it could not do as skipped, with the lock timeout as its message" \
  wait_for 5 "SELECT count(*) > 0 FROM strata.job_runs WHERE job_kind = 'partition_create' AND status = 'skipped' AND message LIKE '%lock timeout%will retry at the next pass%'" "t"
check "the pass's own row is skipped too and says which action and why" \
  wait_for 5 "SELECT count(*) > 0 FROM strata.job_runs WHERE job_kind = 'maintenance_pass' AND status = 'skipped' AND message LIKE '% on 1 set; skipped: create of \"public\".\"videos_p2000\": %lock timeout%'" "t"
wait $holder
holder=
check "once the lock is gone the create is done" \
  wait_for 5 "SELECT count(*) FROM pg_inherits WHERE inhparent = 'videos'::regclass" "3"
check "no skipped or failed row of job_runs lacks a message" \
  test "$(q "SELECT count(*) FROM strata.job_runs WHERE status IN ('skipped', 'failed') AND coalesce(message, '') = ''")" = 0
check "... and every one of them has one at all (the check above is not vacuous)" \
  test "$(q "SELECT count(*) > 0 FROM strata.job_runs WHERE status IN ('skipped', 'failed')")" = t
finish
