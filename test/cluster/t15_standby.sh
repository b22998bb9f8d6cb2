#!/usr/bin/env bash
# Physical standby and promotion: on a hot standby strata's workers idle (no write attempts, no error per
# naptime, strata.workers says standby); after promotion they take over within a naptime and rollups
# stay exact.
set -u
source "$(dirname "$0")/lib.sh"
DIR=$(mktemp -d /tmp/strata-t15.XXXXXX)
SBY=$DIR/standby
P1=${PGPORT_BASE:-27050}
P2=$((P1 + 1))
export PGPORT=$P1
trap 'cluster_stop "$SBY" immediate; cluster_stop "$DIR" immediate; rm -rf "$DIR"' EXIT
cluster_start "$DIR" "$P1" "strata.naptime = 1" "wal_level = replica" || exit 1
q "CREATE DATABASE app"
export DB=app
q "CREATE EXTENSION strata"
hourly_rollup
insert() { q "INSERT INTO events (ts, channel, watch_ms) SELECT now() - random() * interval '1 day', g % 3, g FROM generate_series(1, $1) g"; }
insert 500
diff_sql="SELECT count(*) FROM (
  (SELECT bucket, channel, views, watch FROM hourly_data
   EXCEPT ALL SELECT date_trunc('hour', ts), channel, count(*), sum(watch_ms) FROM events GROUP BY 1, 2)
  UNION ALL
  (SELECT date_trunc('hour', ts), channel, count(*), sum(watch_ms) FROM events GROUP BY 1, 2
   EXCEPT ALL SELECT bucket, channel, views, watch FROM hourly_data)) d"
check "the primary's worker keeps the rollup exact" wait_for 20 "$diff_sql" 0

mkdir -p "$SBY"
chmod 755 "$SBY"
[ "$(id -u)" = 0 ] && chown postgres: "$SBY"
"${AS_PG[@]}" "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$P1" -U postgres -D "$SBY/data" -R -X stream >/dev/null 2>&1
check "pg_basebackup -R made a standby" test -f "$SBY/data/standby.signal"
{ echo "port = $P2"; echo "unix_socket_directories = '$SBY'"; echo "hot_standby = on"; } >>"$SBY/data/postgresql.conf"
cluster_startonly "$SBY" || exit 1
sq() { PGPORT=$P2 q "$@"; }
sby_state() { PGPORT=$P2 wait_for "$@"; }
check "on the standby the worker of app idles: strata.workers says standby" \
  sby_state 20 "SELECT state FROM strata.workers WHERE datname = 'app'" standby
# Writes on the primary replay on the standby while its workers idle.
insert 500
check "the primary absorbs the new rows" wait_for 20 "$diff_sql" 0
check "the standby replays them" sby_state 20 "SELECT count(*) FROM events" 1000
sleep 4
check "the standby's worker made no pass (no write attempts)" \
  test "$(sq "SELECT passes FROM strata.workers WHERE datname = 'app'")" = 0
check "no strata error in the standby's log" \
  bash -c "! grep -i 'strata' '$SBY/server.log' | grep -q 'ERROR\|FATAL\|failed\|read-only'"
check "no worker restarts on the standby" test "$(grep -c 'strata worker for database app started' "$SBY/server.log")" = 1

# Promotion: the primary goes away, the standby takes over.
cluster_stop "$DIR" fast
"${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$SBY/data" -w promote >/dev/null
export PGPORT=$P2
check "after promotion the worker runs within a naptime or two" \
  wait_for 5 "SELECT state FROM strata.workers WHERE datname = 'app'" running
insert 700
check "the promoted server's worker keeps the rollup exact" wait_for 20 "$diff_sql" 0
check "... all 1,700 rows" test "$(q "SELECT sum(views) FROM hourly_data")" = 1700
check "its passes are counted" test "$(q "SELECT passes > 0 FROM strata.workers WHERE datname = 'app'")" = t
check "no strata error in the promoted server's log" \
  bash -c "! grep -i 'strata' '$SBY/server.log' | grep -q 'ERROR\|FATAL\|failed'"
DIR=$SBY
finish
