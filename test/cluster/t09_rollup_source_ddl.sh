#!/usr/bin/env bash
# A rollup's source changed under the worker, as its non-superuser owner could: columns renamed with
# event triggers off (so only the worker's pass can follow them), and a column retyped after the rollup's
# definition view was dropped behind its back. The server stays up (the direct-write receiver refuses
# rows of the wrong type instead of storing them), the first rollup follows the renames and stays exact,
# the second is marked broken once, visibly, and not retried in a loop.
set -u
source "$(dirname "$0")/lib.sh"
DIR=$(mktemp -d /tmp/strata-t09.XXXXXX)
export PGPORT=${PGPORT_BASE:-26900}
trap 'cluster_stop "$DIR" immediate; rm -rf "$DIR"' EXIT
cluster_start "$DIR" "$PGPORT" "strata.naptime = 1" || exit 1
q "CREATE DATABASE app"
export DB=app
q "CREATE EXTENSION strata"
q "CREATE ROLE app_owner LOGIN; GRANT CREATE ON SCHEMA public TO app_owner"
PID0=$(cluster_pid "$DIR")
as_owner() { q "SET ROLE app_owner; $1"; }
as_owner "CREATE TABLE a_c (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, txt text, num bigint);
          CREATE INDEX ON a_c (id);
          INSERT INTO a_c (ts, txt, num) SELECT '2026-01-01'::timestamptz + g * interval '1 minute', 'v' || g, g
            FROM generate_series(1, 600) g"
as_owner "SELECT strata.create_rollup('a_c_h', \$\$SELECT date_trunc('hour', ts) AS bucket, max(txt) AS top, sum(num) AS total
          FROM a_c GROUP BY 1\$\$, realtime => false, refresh_interval => '200 ms')" >/dev/null
as_owner "CREATE TABLE b_c (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, watch_ms int);
          CREATE INDEX ON b_c (id);
          INSERT INTO b_c (ts, watch_ms) SELECT '2026-01-01'::timestamptz + g * interval '1 minute', g FROM generate_series(1, 600) g"
as_owner "SELECT strata.create_rollup('b_c_h', \$\$SELECT date_trunc('hour', ts) AS bucket, sum(watch_ms) AS w
          FROM b_c GROUP BY 1\$\$, realtime => false, refresh_interval => '200 ms')" >/dev/null
check "the worker absorbs both" wait_for 30 "SELECT count(*) FROM strata.rollups WHERE lag_rows = 0 AND backfill_done" 2

# The issue's repro, with event triggers off: txt becomes txt_old, the bigint num takes the name txt.
q "SET session_replication_role = replica; ALTER TABLE a_c RENAME COLUMN txt TO txt_old; ALTER TABLE a_c RENAME COLUMN num TO txt"
as_owner "INSERT INTO a_c (ts, txt_old, txt) SELECT '2026-01-01'::timestamptz + g * interval '1 minute', 'w' || g, g
          FROM generate_series(601, 900) g; UPDATE a_c SET txt = txt + 1 WHERE id <= 30"
# b_c: its definition view dropped and forgotten (as for a rollup that never had one) and a measured
# column retyped, with event triggers off: only the receiver's type check stands in the way.
q "SET session_replication_role = replica; DROP VIEW b_c_h_definition; ALTER TABLE b_c ALTER COLUMN watch_ms TYPE bigint"
q "UPDATE strata.rollup SET definition = NULL WHERE view = 'b_c_h'::regclass"
q "INSERT INTO b_c (ts, watch_ms) VALUES ('2026-01-01 20:00', 1)"
check "a_c_h follows the renames and equals the GROUP BY" wait_for 30 \
  "SELECT count(*) FROM (SELECT date_trunc('hour', ts), max(txt_old), sum(txt) FROM a_c GROUP BY 1
     EXCEPT SELECT bucket, top, total FROM a_c_h) d" 0
check "b_c_h is marked broken" wait_for 30 "SELECT broken IS NOT NULL FROM strata.rollups WHERE name = 'b_c_h'::regclass" t
sleep 3
no_crash() { [ "$(cluster_pid "$DIR")" = "$PID0" ] && ! grep -q 'terminated by signal' "$DIR/server.log"; }
says_why() { q "SELECT broken FROM strata.rollups WHERE name = 'b_c_h'::regclass" | grep -q 'column "w" of b_c_h_data is bigint, the query gives numeric'; }
check "the server never restarted (same postmaster, no crash in the log)" no_crash
check "b_c_h says why in strata.rollups" says_why
check "one failed job_runs row for it, not one per interval" \
  test "$(q "SELECT count(*) FROM strata.job_runs WHERE target LIKE '%b_c_h%' AND status = 'failed'")" = 1
check "one log line for it" test "$(grep -c 'refresh of rollup public.b_c_h failed' "$DIR/server.log")" = 1
check "a_c_h is healthy" test "$(q "SELECT coalesce(broken, 'none') FROM strata.rollups WHERE name = 'a_c_h'::regclass")" = none
# The owner fixes the source; refresh_rollup() by hand tries again and clears the state.
q "SET session_replication_role = replica; ALTER TABLE b_c ALTER COLUMN watch_ms TYPE int"
cleared() {
  q "SET ROLE app_owner; SELECT strata.refresh_rollup('b_c_h')" >/dev/null &&
    test "$(q "SELECT broken IS NULL FROM strata.rollups WHERE name = 'b_c_h'::regclass")" = t
}
check "refresh_rollup() clears the broken state once it succeeds" cleared
check "b_c_h equals the GROUP BY again" test "$(q "SELECT count(*) FROM (SELECT date_trunc('hour', ts), sum(watch_ms) FROM b_c GROUP BY 1
     EXCEPT SELECT bucket, w FROM b_c_h) d")" = 0

# A refresh failing for a reason that may pass (here a division by zero in the rollup's filter on one
# new row) is retried with a backoff, and the log and job_runs hear of the error once, not per try.
as_owner "CREATE TABLE d_c (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, a int, b int);
          CREATE INDEX ON d_c (id); INSERT INTO d_c (ts, a, b) VALUES ('2026-01-01 00:10', 4, 2)"
as_owner "SELECT strata.create_rollup('d_c_h', \$\$SELECT date_trunc('hour', ts) AS bucket, count(*) AS n
          FROM d_c WHERE a / b > 1 GROUP BY 1\$\$, realtime => false, refresh_interval => '200 ms')" >/dev/null
check "d_c_h absorbs its first row" wait_for 30 "SELECT lag_rows FROM strata.rollups WHERE name = 'd_c_h'::regclass" 0
as_owner "INSERT INTO d_c (ts, a, b) VALUES ('2026-01-01 00:20', 1, 0)"
check "the failing refresh is seen" wait_for 30 "SELECT failures > 0 FROM strata.rollup WHERE view = 'd_c_h'::regclass" t
sleep 6
check "it is retried with a backoff (at most 7 tries in 6 s at a 200 ms interval)" \
  test "$(q "SELECT failures <= 7 AND broken IS NULL FROM strata.rollup WHERE view = 'd_c_h'::regclass")" = t
check "one failed job_runs row and one log line for the same error" \
  test "$(q "SELECT count(*) FROM strata.job_runs WHERE target LIKE '%d_c_h%' AND status = 'failed'")/$(grep -c 'refresh of rollup public.d_c_h failed' "$DIR/server.log")" = 1/1
as_owner "DELETE FROM d_c WHERE b = 0"
check "once the row is gone it recovers" wait_for 60 "SELECT failures FROM strata.rollup WHERE view = 'd_c_h'::regclass" 0

# A source dropped with event triggers off (nothing unregisters the rollup): the worker says the source
# no longer exists, once, and strata.rollups keeps listing every rollup.
as_owner "CREATE TABLE v_c (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL); CREATE INDEX ON v_c (id);
          INSERT INTO v_c (ts) VALUES ('2026-01-01')"
as_owner "SELECT strata.create_rollup('v_c_h', \$\$SELECT date_trunc('hour', ts) AS bucket, count(*) AS n FROM v_c GROUP BY 1\$\$,
          realtime => false, refresh_interval => '200 ms')" >/dev/null
check "v_c_h absorbs its row" wait_for 30 "SELECT lag_rows FROM strata.rollups WHERE name = 'v_c_h'::regclass" 0
q "SET session_replication_role = replica; DROP TABLE v_c CASCADE" 2>/dev/null
check "the vanished source is said so" wait_for 30 \
  "SELECT broken LIKE '%source of rollup public.v_c_h no longer exists%' FROM strata.rollup WHERE view = 'v_c_h'::regclass" t
check "... once in the log" test "$(grep -c 'source of rollup public.v_c_h no longer exists' "$DIR/server.log")" = 1
check "strata.rollups still lists every rollup" test "$(q "SELECT count(*) FROM strata.rollups")" = 4

# Operators and functions planted on the database's search_path never run in the worker (it pins its
# own): a rollup refresh and partition maintenance go on, and nothing raised "hijacked".
q "CREATE SCHEMA evil"
q "DO \$\$ DECLARE t text; BEGIN
     FOREACH t IN ARRAY ARRAY['regclass', 'oid', 'integer', 'bigint', 'text', 'name', 'boolean', 'timestamptz'] LOOP
       EXECUTE format('CREATE FUNCTION evil.hijack(%s, %s) RETURNS boolean LANGUAGE plpgsql AS '
                      '\$f\$ BEGIN RAISE EXCEPTION ''hijacked on %s''; END \$f\$', t, t, t);
       EXECUTE format('CREATE OPERATOR evil.= (LEFTARG = %s, RIGHTARG = %s, FUNCTION = evil.hijack)', t, t);
     END LOOP; END \$\$"
q "CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql AS \$\$ BEGIN RAISE EXCEPTION 'hijacked now'; END \$\$"
q "ALTER DATABASE app SET search_path = evil, pg_catalog, public"
q "SELECT pg_catalog.pg_terminate_backend(pid) FROM strata.workers WHERE datname OPERATOR(pg_catalog.=) 'app' AND pid IS NOT NULL" >/dev/null
q "CREATE TABLE public.pe (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL) PARTITION BY RANGE (ts)"
q "SELECT strata.create_partition_set('public.pe', 'ts', '1 day', premake => 1)" >/dev/null
q "SET search_path = public, pg_catalog; INSERT INTO a_c (ts, txt_old, txt) VALUES ('2026-01-02 00:30', 'late', 7)"
q "SET search_path = public, pg_catalog; SELECT strata.alter_partition_set('public.pe', premake => 3)" >/dev/null
check "with operators planted on the database's path, the worker still refreshes" wait_for 30 \
  "SELECT count(*) OPERATOR(pg_catalog.=) 0 FROM public.a_c_h WHERE top OPERATOR(pg_catalog.=) 'late'" f
check "... and maintains partitions" wait_for 30 \
  "SELECT partitions_ahead OPERATOR(pg_catalog.>=) 3 FROM strata.partition_sets WHERE parent OPERATOR(pg_catalog.=) 'public.pe'::regclass" t
check "nothing was hijacked" bash -c "! grep -q hijacked '$DIR/server.log'"
finish
