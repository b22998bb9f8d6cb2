#!/usr/bin/env bash
# The MCP server (mcp/, issue #27) driven by a real client: the official SDK's Client over stdio
# (mcp/test/client.test.mjs), and over streamable HTTP on a loopback port, against a cluster with strata preloaded, as an agent role with
# strata.max_raw_rows: tools/list, each tool called, refusals (unknown metric, two statements, a COMMIT
# injection, a write, a brute-force scan), a huge result truncated; the table is still there afterwards.
set -u
source "$(dirname "$0")/lib.sh"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DIR=$(mktemp -d /tmp/strata-t25.XXXXXX)
export PGPORT=${PGPORT_BASE:-27500}
trap 'cluster_stop "$DIR" immediate; rm -rf "$DIR"' EXIT
cluster_start "$DIR" "$PGPORT" "max_parallel_workers_per_gather = 0" "strata.enabled = off" || exit 1
[ -d "$ROOT/mcp/node_modules" ] || (cd "$ROOT/mcp" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
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
q "ANALYZE events; ANALYZE hourly_data"
q "CREATE ROLE agent LOGIN"
q "GRANT SELECT ON events, hourly TO agent"
q "ALTER ROLE agent SET strata.max_raw_rows = 100000"
q "ALTER ROLE agent SET TimeZone = 'UTC'"
WANT_VIEWS=$(q "SELECT count(*) FROM events WHERE ts >= '2026-01-02 00:00+00' AND ts < '2026-01-05 00:00+00' AND channel IN (1, 2, 3)")
out=$(cd "$ROOT/mcp" && PGHOST=127.0.0.1 PGPORT="$PGPORT" PGUSER=agent PGDATABASE=app WANT_VIEWS="$WANT_VIEWS" MCP_HTTP_PORT=$((PGPORT + 1)) \
      timeout 120 node test/client.test.mjs 2>&1)
rc=$?
echo "$out" | grep '^# ' | head -20
while IFS= read -r line; do
  case "$line" in
    "ok - "*) check "${line#ok - }" true ;;
    "not ok - "*) check "${line#not ok - }" false ;;
  esac
done <<<"$out"
check "the MCP client test ran to its end (exit $rc)" test "$rc" = 0
check "the table is still there" test "$(q "SELECT to_regclass('events') IS NOT NULL AND (SELECT count(*) FROM events) = 300000")" = t
finish
