#!/usr/bin/env bash
# Crashes and restarts: a worker killed with SIGKILL comes back, jobs cut short are marked crashed,
# a restart and a dump/restore keep the configuration, and on a hot standby strata's workers only idle
# (t15 covers promotion).
set -u
source "$(dirname "$0")/lib.sh"
DIR=$(mktemp -d /tmp/strata-t02.XXXXXX)
export PGPORT=${PGPORT_BASE:-26200}
STANDBY_PORT=$((PGPORT + 1))
trap 'cluster_stop "$DIR/standby" immediate; cluster_stop "$DIR" immediate; rm -rf "$DIR"' EXIT
cluster_start "$DIR" "$PGPORT" "wal_level = replica" "max_wal_senders = 4" || exit 1
q "CREATE DATABASE app"
export DB=app
q "CREATE EXTENSION strata"
q "CREATE TABLE events (id bigint, ts timestamptz NOT NULL) PARTITION BY RANGE (ts)"
q "SELECT strata.create_partition_set('events', 'ts', '1 day', premake => 2, retention => '30 days', partition_options => '{fillfactor=80}')" >/dev/null
q "CREATE TABLE ids (id bigint NOT NULL) PARTITION BY RANGE (id)"
q "SELECT strata.create_partition_set('ids', 'id', 1000, premake => 1, default_partition => true)" >/dev/null
config_before=$(q "SELECT parent, control_column, partition_interval, premake, retention, default_partition, partition_options FROM strata.partition_set ORDER BY 1")
wait_for 5 "SELECT state FROM strata.workers WHERE datname = 'app'" "running" >/dev/null

# A job row left 'running' by a killed worker is marked 'crashed' by its successor.
q "INSERT INTO strata.job_runs (job_kind, target, status, message) VALUES ('partition_create', 'fake', 'running', 'in flight')"
wpid=$(q "SELECT pid FROM strata.workers WHERE datname = 'app'")
kill -9 "$wpid"
check "a database worker killed with SIGKILL comes back (after the server's crash recovery)" \
  wait_for 30 "SELECT state = 'running' AND pid <> $wpid FROM strata.workers WHERE datname = 'app'" "t"
check "a job cut short by the kill is marked crashed" \
  wait_for 5 "SELECT status FROM strata.job_runs WHERE target = 'fake'" "crashed"
q "INSERT INTO ids SELECT g FROM generate_series(0, 1900) g"
check "the restarted worker maintains again" \
  wait_for 8 "SELECT count(*) FROM pg_inherits WHERE inhparent = 'ids'::regclass" "4"

lpid=$(q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'strata launcher'")
kill -9 "$lpid"
check "the launcher killed with SIGKILL comes back" \
  wait_for 30 "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'strata launcher' AND pid <> $lpid" "1"

# A clean restart keeps every setting.
cluster_stop "$DIR"
cluster_startonly "$DIR"
check "a server restart loses no configuration" test "$(q "SELECT parent, control_column, partition_interval, premake, retention, default_partition, partition_options FROM strata.partition_set ORDER BY 1")" = "$config_before"
check "the worker is back after the restart" wait_for 8 "SELECT state FROM strata.workers WHERE datname = 'app'" "running"

# pg_dump / restore keeps the configuration (pg_extension_config_dump).
q -d postgres "CREATE DATABASE restored"
"$PGBIN/pg_dump" -h 127.0.0.1 -p "$PGPORT" -U postgres app >"$DIR/app.sql"
"$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d restored -X -q -v ON_ERROR_STOP=1 -f "$DIR/app.sql" >/dev/null 2>"$DIR/restore.err"
check "a dump restores without errors" test ! -s "$DIR/restore.err"
check "a restored database keeps the partition set configuration" \
  test "$(q -d restored "SELECT parent, control_column, partition_interval, premake, retention, default_partition, partition_options FROM strata.partition_set ORDER BY 1")" = "$config_before"
check "the restored database gets its own worker" \
  wait_for 8 "SELECT state FROM strata.workers WHERE datname = 'restored'" "running"

# On a hot standby the workers idle: strata.workers says standby, no passes.
mkdir -p "$DIR/standby" && chmod 755 "$DIR/standby"
[ "$(id -u)" = 0 ] && chown postgres: "$DIR/standby"
"${AS_PG[@]}" "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$PGPORT" -U postgres -D "$DIR/standby/data" -R -X stream -c fast >/dev/null 2>&1
sed -i "s/^port = .*/port = $STANDBY_PORT/; s#^unix_socket_directories = .*#unix_socket_directories = '$DIR/standby'#" "$DIR/standby/data/postgresql.conf"
cluster_startonly "$DIR/standby"
sleep 3
check "the standby is in recovery" test "$(PGPORT=$STANDBY_PORT q "SELECT pg_is_in_recovery()")" = t
sby_wait() { local PGPORT=$STANDBY_PORT; wait_for "$@"; }
check "strata's workers on a hot standby only idle (state standby, no passes)" \
  sby_wait 10 "SELECT bool_and(state = 'standby' AND passes = 0) FROM strata.workers WHERE datname = 'app'" t
finish
