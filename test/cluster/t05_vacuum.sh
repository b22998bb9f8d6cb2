#!/usr/bin/env bash
# The vacuum scheduler on a live server: a partitioned parent gets statistics without any manual
# ANALYZE; cold partitions get frozen (relfrozenxid age drops); overrides are honoured; a maintenance
# window keeps non-urgent work out while urgent wraparound work still runs; a lock held on a partition
# makes the scheduler skip it and come back, and inserts into it never wait.
# autovacuum is off so what happens is strata's doing; autovacuum_freeze_max_age is at its minimum
# (100,000) so a few tens of thousands of transactions make tables "urgent" (strata.vacuum_urgent_age 0.5).
set -u
source "$(dirname "$0")/lib.sh"
DIR=$(mktemp -d /tmp/strata-t05.XXXXXX)
export PGPORT=${PGPORT_BASE:-26500}
export DB=vt
trap 'kill $(jobs -p) 2>/dev/null; cluster_stop "$DIR" immediate; rm -rf "$DIR"' EXIT

cluster_start "$DIR" "$PGPORT" "autovacuum = off" "autovacuum_freeze_max_age = 100000" \
  "strata.vacuum_cold_after = 3" "strata.vacuum_max_actions = 20" "strata.vacuum_urgent_age = 0.5" \
  "strata.vacuum_analyze_min_interval = 0" || exit 1
q -d postgres "CREATE DATABASE vt"
q "CREATE EXTENSION strata"
q "CREATE PROCEDURE burn(n int) LANGUAGE plpgsql AS \$\$ BEGIN FOR i IN 1..n LOOP PERFORM pg_catalog.txid_current(); COMMIT; END LOOP; END \$\$"
jobs_for() { q "SELECT count(*) FROM strata.vacuum_activity WHERE relation LIKE '$1' AND status = '${2:-ok}'${3:+ AND action = '$3'}"; }
age_of() { q "SELECT age(relfrozenxid) FROM pg_class WHERE oid = '$1'::regclass"; }
newest_job() { q "SELECT count(*) FROM strata.vacuum_activity"; }

# 1. Overrides: a set marked "never touch" gets no action, and the dry run says why.
q "CREATE TABLE ev (ts timestamptz NOT NULL, video_id bigint, watch_ms int) PARTITION BY RANGE (ts)"
q "SELECT strata.set_vacuum_policy('ev', enabled => false)"
q "SELECT strata.create_partition_set('ev', 'ts', '1 day', premake => 1, start_partition => (now() - interval '4 days')::text)" >/dev/null
q "INSERT INTO ev SELECT now() - (g % 4) * interval '1 day' - interval '1 hour', g % 1000, g FROM generate_series(1, 40000) g"
OLD=$(q "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE i.inhparent = 'ev'::regclass AND pg_relation_size(c.oid) > 0 ORDER BY c.relname LIMIT 1")
q "CALL burn(3000)"
sleep 6
check "override enabled => false: no action on the set" test "$(jobs_for 'public.ev%' ok)" = 0
check "... and vacuum_plan says it is skipped by the override" \
  test "$(q "SELECT count(*) FROM strata.vacuum_plan() WHERE relation LIKE 'public.ev%' AND decision = 'skipped: override'")" -ge 2
check "... while the parent has no statistics" \
  test "$(q "SELECT count(*) FROM pg_stats WHERE tablename = 'ev'")" = 0
age_before=$(age_of "$OLD")

# 2. Without the override: the parent is analyzed and the cold partitions frozen, no manual ANALYZE.
q "SELECT strata.reset_vacuum_policy('ev')" >/dev/null
check "the partitioned parent gets statistics (pg_stats, inherited) without a manual ANALYZE" \
  wait_for 30 "SELECT count(*) > 0 FROM pg_stats WHERE tablename = 'ev' AND inherited" t
check "... recorded in job_runs as analyze_parent" test "$(jobs_for 'public.ev' ok analyze_parent)" -ge 1
check "a cold partition is frozen within a few naptimes" wait_for 30 \
  "SELECT count(*) > 0 FROM strata.vacuum_activity WHERE relation = '$OLD' AND action = 'vacuum_freeze' AND status = 'ok'" t
age_after=$(age_of "$OLD")
check "... its relfrozenxid age dropped ($age_before -> $age_after)" test "$age_after" -lt "$age_before"
check "... the job row has its reason, facts before and after, buffers" test "$(q "SELECT (facts_before->>'xid_age')::int >= $age_before
  AND (facts_after->>'xid_age')::int < $age_before AND reason LIKE 'no writes for%' AND (buffers->>'dirtied')::int > 0
  FROM strata.vacuum_activity WHERE relation = '$OLD' AND action = 'vacuum_freeze' ORDER BY id DESC LIMIT 1")" = t
n1=$(jobs_for "$OLD" ok vacuum_freeze)
sleep 4
check "... and is not frozen again while nothing changed" test "$(jobs_for "$OLD" ok vacuum_freeze)" = "$n1"
check "the worker logs each action with its reason" grep -q "strata vacuum: vacuum_freeze of $OLD" "$DIR/server.log"

# 2b. Insert-vacuum handover: a partition made ahead of need (empty) gets autovacuum's insert trigger
# raised to a fallback behind strata's hot freezes, recorded like every action.
NEXT=$(q "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE i.inhparent = 'ev'::regclass AND pg_relation_size(c.oid) = 0 ORDER BY c.relname DESC LIMIT 1")
check "an empty premade partition ($NEXT) is handed over: autovacuum_vacuum_insert_scale_factor=1" wait_for 30 \
  "SELECT 'autovacuum_vacuum_insert_scale_factor=1' = ANY(reloptions) FROM pg_class WHERE oid = '$NEXT'::regclass" t
check "... recorded in vacuum_activity as insert_handover with its reason" \
  test "$(q "SELECT count(*) FROM strata.vacuum_activity WHERE relation = '$NEXT' AND action = 'insert_handover' AND status = 'ok' AND reason LIKE 'autovacuum''s insert vacuum comes at%'")" = 1
sleep 3
check "... and not repeated" test "$(q "SELECT count(*) FROM strata.vacuum_activity WHERE relation = '$NEXT' AND action = 'insert_handover'")" = 1

# 3. A maintenance window that is not now keeps non-urgent work out; urgent work still runs.
win_start=$(q "SELECT to_char(now() + interval '2 hours', 'HH24:MI')")
win_end=$(q "SELECT to_char(now() + interval '3 hours', 'HH24:MI')")
q -d postgres "ALTER SYSTEM SET strata.vacuum_window = '$win_start-$win_end'"
q -d postgres "SELECT pg_reload_conf()" >/dev/null
sleep 2
q "CREATE TABLE ev2 (ts timestamptz NOT NULL, v int) PARTITION BY RANGE (ts)"
q "CREATE TABLE ev2_a PARTITION OF ev2 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')"
q "INSERT INTO ev2 SELECT '2026-06-01', g FROM generate_series(1, 5000) g"
sleep 6
check "outside the window: no action on a new table" test "$(jobs_for 'public.ev2%' ok)" = 0
check "... vacuum_plan shows its work deferred by the window" \
  test "$(q "SELECT count(*) FROM strata.vacuum_plan() WHERE relation LIKE 'public.ev2%' AND decision = 'deferred: window'")" -ge 2
q "CALL burn(52000)"
check "urgent wraparound work ignores the window (age over 50% of autovacuum_freeze_max_age)" wait_for 60 \
  "SELECT count(*) > 0 FROM strata.vacuum_activity WHERE relation = 'public.ev2_a' AND action = 'vacuum_urgent' AND status = 'ok'" t
check "... its age is back under the urgent threshold" test "$(age_of ev2_a)" -lt 50000
check "... while the parent's ANALYZE (not urgent) still waits for the window" test "$(jobs_for 'public.ev2' ok analyze_parent)" = 0
check "no anti-wraparound autovacuum was needed" bash -c "! grep -q 'to prevent wraparound' '$DIR/server.log'"
q -d postgres "ALTER SYSTEM RESET strata.vacuum_window"
q -d postgres "SELECT pg_reload_conf()" >/dev/null
check "once the window is lifted, the deferred work runs" wait_for 30 \
  "SELECT count(*) > 0 FROM strata.vacuum_activity WHERE relation = 'public.ev2' AND action = 'analyze_parent'" t

# 4. A lock held on a partition: the scheduler skips it and comes back; inserts never wait.
q "CREATE TABLE ev3 (ts timestamptz NOT NULL, v int) PARTITION BY RANGE (ts)"
q "CREATE TABLE ev3_a PARTITION OF ev3 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')"
q "SELECT strata.set_vacuum_policy('ev3', enabled => false)"
q "INSERT INTO ev3 SELECT '2026-06-01', g FROM generate_series(1, 5000) g"
sleep 1
"$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d vt -X -q -c \
  "BEGIN; LOCK TABLE ev3_a IN SHARE UPDATE EXCLUSIVE MODE; SELECT pg_sleep(10); COMMIT;" >/dev/null 2>&1 &
locker=$!
sleep 1
q "SELECT strata.reset_vacuum_policy('ev3')" >/dev/null
check "a partition locked by another session is skipped, and job_runs says why" wait_for 20 \
  "SELECT count(*) > 0 FROM strata.vacuum_activity WHERE relation = 'public.ev3_a' AND status = 'skipped' AND reason LIKE 'lock not available%'" t
check "... inserts into it go through meanwhile (statement_timeout 2s)" \
  q "SET statement_timeout = '2s'; INSERT INTO ev3 SELECT '2026-06-02', g FROM generate_series(1, 100) g"
check "... and no strata process waits on a lock" \
  test "$(q "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE NOT l.granted AND a.backend_type LIKE 'strata%'")" = 0
wait $locker
check "after the lock is gone, the scheduler comes back and freezes it" wait_for 30 \
  "SELECT count(*) > 0 FROM strata.vacuum_activity WHERE relation = 'public.ev3_a' AND action = 'vacuum_freeze' AND status = 'ok'" t
# 5. A parent analyzed while its first load was still uncommitted has no statistics; once the load
# commits, its partitions changed and it is analyzed again at once, despite a one-hour minimum interval.
q -d postgres "ALTER SYSTEM SET strata.vacuum_analyze_min_interval = '1h'" >/dev/null
q -d postgres "SELECT pg_reload_conf()" >/dev/null
q "CREATE TABLE ev4 (ts timestamptz NOT NULL, v int) PARTITION BY RANGE (ts)"
q "CREATE TABLE ev4_a PARTITION OF ev4 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')"
"$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d vt -X -q -c \
  "BEGIN; INSERT INTO ev4 SELECT '2026-06-01', g FROM generate_series(1, 5000) g; SELECT pg_sleep(8); COMMIT;" >/dev/null 2>&1 &
loader=$!
check "a parent is analyzed while its load is uncommitted" wait_for 20 \
  "SELECT count(*) > 0 FROM strata.vacuum_activity WHERE relation = 'public.ev4' AND action = 'analyze_parent' AND status = 'ok'" t
check "... and has no statistics then" test "$(q "SELECT count(*) FROM pg_stats WHERE tablename = 'ev4'")" = 0
wait $loader
check "once the load committed it is analyzed again and has statistics (minimum interval 1 h)" wait_for 20 \
  "SELECT count(*) > 0 FROM pg_stats WHERE tablename = 'ev4' AND inherited" t
check "... and the job says why" test "$(q "SELECT count(*) FROM strata.vacuum_activity WHERE relation = 'public.ev4'
  AND action = 'analyze_parent' AND reason LIKE '%no statistics (its last analyze saw no committed rows)%'")" = 1
# 6. A rollup table: a refresh that recomputed a bucket deleted its stored groups and inserted them
# again, leaving index entries that point at dead tuples. The scheduler vacuums the data table (a plain
# table, otherwise autovacuum's alone) with index cleanup once they pass the threshold, and not again
# within strata.vacuum_rollup_min_interval.
q "CREATE TABLE src (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, ch int); CREATE INDEX ON src (id)"
q "INSERT INTO src (ts, ch) SELECT '2026-01-01 00:10', g FROM generate_series(1, 3000) g"
q "SELECT strata.create_rollup('src_r', \$\$SELECT date_trunc('hour', ts) AS bucket, ch, count(*) AS n FROM src GROUP BY 1, 2\$\$,
   refresh_interval => '1 second')" >/dev/null
check "the worker refreshes the rollup and its tracking takes a dead-entry baseline" wait_for 20 \
  "SELECT (SELECT count(*) FROM src_r_data) = 3000 AND EXISTS (SELECT 1 FROM strata.vacuum_state
   WHERE relid = 'src_r_data'::regclass AND entries_at_vacuum IS NOT NULL)" t
q "UPDATE src SET ch = ch WHERE id <= 10"
check "a recomputed bucket's 3,000 dead index entries get the rollup table vacuumed" wait_for 30 \
  "SELECT count(*) > 0 FROM strata.vacuum_activity WHERE relation = 'public.src_r_data' AND action = 'vacuum_rollup' AND status = 'ok'" t
check "... the job says why, with the entries before and none after" test "$(q "SELECT reason LIKE '% index entries of replaced or deleted rollup groups%'
  AND (facts_before->>'dead_index_entries')::int >= 3000 AND (facts_after->>'dead_index_entries')::int = 0
  AND (facts_after->>'dead_tuples')::int = 0 FROM strata.vacuum_activity WHERE relation = 'public.src_r_data' ORDER BY id DESC LIMIT 1")" = t
check "... the worker logs it" grep -q "strata vacuum: vacuum_rollup of public.src_r_data" "$DIR/server.log"
check "... and the rollup still equals the GROUP BY" test "$(q "SELECT count(*) FROM (SELECT bucket, ch, n FROM src_r EXCEPT
  SELECT date_trunc('hour', ts), ch, count(*) FROM src GROUP BY 1, 2) d")" = 0
q "UPDATE src SET ch = ch WHERE id <= 10"
recomputed=$(q "SELECT buckets_recomputed FROM strata.rollups WHERE name::text LIKE '%src_r'")
check "another recompute within the minimum interval (60 s)" wait_for 20 \
  "SELECT buckets_recomputed > $recomputed FROM strata.rollups WHERE name::text LIKE '%src_r'" t
sleep 4
check "... so one vacuum so far" test "$(q "SELECT count(*) FROM strata.vacuum_activity WHERE relation = 'public.src_r_data'")" = 1
check "no action failed" test "$(q "SELECT count(*) FROM strata.vacuum_activity WHERE status = 'failed'")" = 0
check "no worker errors in the log" bash -c "! grep -E 'strata (worker|vacuum).*(failed|ERROR)' '$DIR/server.log'"
finish
