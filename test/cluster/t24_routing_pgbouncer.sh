#!/usr/bin/env bash
# Routing behind a connection pooler (issue #26), as dashboards connect in production: Debian's pgbouncer
# in transaction pooling mode in front of the cluster, the dashboard role's settings from ALTER ROLE (no
# session state), and dashboard queries sent (1) as a simple query (a day x channel grid), (2) with the
# extended protocol, a parameter and an unnamed prepared statement per execution (pgbench -M extended;
# a one-row total, kept with \gset), (3) the same as a named, protocol-level prepared statement executed
# repeatedly (pgbench -M prepared; the pool has one server connection, as a pooler keeping prepared
# statements must, so the plan cache's generic plan is used from the sixth run).
# Checked: every answer equals the query as written (routing off, direct connection), and the server log
# shows the routed plans (strata.routing_debug set for the role).
set -u
source "$(dirname "$0")/lib.sh"
DIR=$(mktemp -d /tmp/strata-t24.XXXXXX)
export PGPORT=${PGPORT_BASE:-27400}
BOUNCER_PORT=$((PGPORT + 1))
trap '[ -f "$DIR/pgbouncer.pid" ] && kill "$(cat "$DIR/pgbouncer.pid")" 2>/dev/null; cluster_stop "$DIR" immediate; rm -rf "$DIR"' EXIT
cluster_start "$DIR" "$PGPORT" "max_parallel_workers_per_gather = 0" "strata.enabled = off" || exit 1
q "CREATE DATABASE app"
export DB=app
q "CREATE EXTENSION strata"
q "CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, channel int, watch_ms int)"
q "INSERT INTO events (ts, channel, watch_ms) SELECT timestamptz '2026-01-01' + g * interval '3 seconds', g % 50, g % 1000
   FROM generate_series(1, 300000) g"
q "CREATE INDEX ON events (ts); CREATE INDEX ON events (id)"
q "SELECT strata.create_rollup('hourly', \$\$SELECT date_trunc('hour', ts) AS bucket, channel, count(*) AS views,
   sum(watch_ms) AS watch FROM events GROUP BY 1, 2\$\$)" >/dev/null
q "SELECT strata.refresh_rollup('hourly')" >/dev/null
# Rows the rollup has not absorbed and a change not recomputed: read raw by the routed plan.
q "INSERT INTO events (ts, channel, watch_ms) SELECT timestamptz '2026-01-10' + g * interval '1 minute', 7, 5 FROM generate_series(1, 300) g"
q "UPDATE events SET watch_ms = watch_ms + 1 WHERE id % 977 = 0"
q "ANALYZE events"
q "CREATE ROLE dash LOGIN"
q "GRANT SELECT ON events, hourly TO dash"
q "ALTER ROLE dash SET strata.routing_debug = on"
q "ALTER ROLE dash SET TimeZone = 'UTC'"

mkdir -p "$DIR/bouncer"
cat >"$DIR/bouncer/pgbouncer.ini" <<INI
[databases]
app = host=127.0.0.1 port=$PGPORT dbname=app
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER_PORT
unix_socket_dir =
auth_type = trust
auth_file = $DIR/bouncer/users.txt
pool_mode = transaction
default_pool_size = 1
max_client_conn = 20
logfile = $DIR/bouncer/pgbouncer.log
pidfile = $DIR/pgbouncer.pid
INI
echo '"dash" ""' >"$DIR/bouncer/users.txt"
chmod -R a+rwX "$DIR/bouncer"
"${AS_PG[@]}" /usr/sbin/pgbouncer -d "$DIR/bouncer/pgbouncer.ini" || { echo "not ok - pgbouncer starts"; FAIL=1; finish; }
for _ in $(seq 1 50); do
  "$PGBIN/psql" -h 127.0.0.1 -p "$BOUNCER_PORT" -U dash -d app -X -qAt -c "SELECT 1" >/dev/null 2>&1 && break
  sleep 0.1
done

DASH="SELECT date_trunc('day', ts) AS day, channel, count(*) AS views, sum(watch_ms) AS watch FROM events
      WHERE ts >= timestamptz '2026-01-03 05:30' GROUP BY 1, 2 ORDER BY 1, 2"
want=$(q "SET strata.routing = off; $DASH" | md5sum)
routed_lines() { grep -c "strata routing: answered from hourly " "$DIR/server.log"; }
before=$(routed_lines)
got=$("$PGBIN/psql" -h 127.0.0.1 -p "$BOUNCER_PORT" -U dash -d app -X -qAt -c "$DASH" | md5sum)
check "simple query through pgbouncer: the routed answer equals the query as written" test "$got" = "$want"
check "simple query through pgbouncer: the plan was routed" test "$(routed_lines)" -gt "$before"

# pgbench runs a one-row dashboard query with a parameter, keeps its answer (\gset) and writes it to a
# table for the comparison.
q "CREATE TABLE seen (mode text, views bigint, watch bigint); GRANT INSERT ON seen TO dash"
cat >"$DIR/dash.sql" <<'SQL'
SELECT count(*) AS views, sum(watch_ms) AS watch FROM events WHERE ts >= :since \gset
INSERT INTO seen VALUES (:mode, :views, :watch);
SQL
WANT=$(q "SET strata.routing = off; SELECT count(*) || '|' || sum(watch_ms) FROM events WHERE ts >= '2026-01-03 05:30+00'")
for mode in extended prepared; do
  before=$(routed_lines)
  out=$("${AS_PG[@]}" "$PGBIN/pgbench" -h 127.0.0.1 -p "$BOUNCER_PORT" -U dash -n -M "$mode" -D mode="$mode" \
        -D since='2026-01-03 05:30:00+00' -t 8 -c 1 -f "$DIR/dash.sql" app 2>&1)
  check "pgbench -M $mode through pgbouncer: 8 transactions, no failure" grep -q "actually processed: 8/8" <<<"$out" ||
    echo "$out" | tail -5 | sed 's/^/# /'
  check "pgbench -M $mode: every answer equals the query as written" \
    test "$(q "SELECT count(*) FILTER (WHERE views || '|' || watch = '$WANT') || '/' || count(*) FROM seen WHERE mode = '$mode'")" = 8/8
  check "pgbench -M $mode: the plans were routed" test "$(routed_lines)" -gt "$before"
done
finish
