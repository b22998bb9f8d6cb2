#!/usr/bin/env bash
# The upgrade from 0.9.0's per-rollup change triggers (strata_rollup_<id>_upd/_del calling each rollup's
# own <rollup>_changes(), queuing into its <rollup>_pending table) to 0.10.0's one capture per source
# (strata_changes_<n>_upd/_del calling strata._rollup_capture, the log strata.rollup_change), on a real
# server, with no lost change:
#   1. the released 0.9.0 library (commit 29032b4) is built and installed into a private copy of
#      PostgreSQL under a temp dir (never into /usr), and a cluster runs on that copy;
#   2. a partitioned source with three rollups (hourly; daily by channel; hourly by channel with hll and
#      qsketch, sharing the hourly grain) is refreshed, then updated, deleted from and inserted into, so
#      the old triggers queue buckets in the pending tables, left unrefreshed;
#   3. the server is stopped, the current tree's library and scripts installed into the same copy, the
#      server started and ALTER EXTENSION strata UPDATE run;
#   4. the old triggers and change functions are gone, every relation of the tree has the two capture
#      triggers (ENABLE ALWAYS), every rollup a grain and a position, the queued buckets are still
#      pending; after more writes and a refresh every rollup equals the same query over the raw rows.
# Also: the new library's worker waits for the update instead of failing on the 0.9.0 catalog, the update
# queues no bucket beyond those pending (a full recompute otherwise), and a DELETE opening a session
# passes the capture (also on a source whose rollup was made at 0.10.0, to tell the capture's faults
# from the migration's). The build of the old library is most of the run time (printed).
set -u
source_dir=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$source_dir/../.." && pwd)
OLD_COMMIT=29032b4
TMP=$(mktemp -d /tmp/strata-t23.XXXXXX)
chmod 755 "$TMP"  # the server runs as postgres when this runs as root: it reads the copy under here
DIR=$TMP/cluster
PG=$TMP/pg
# The private PostgreSQL copy: lib/postgresql/15/bin finds its share, pkglib and include directories
# relative to itself, so its pg_config (first on PATH) points PGXS at the copy.
export PATH=$PG/lib/postgresql/15/bin:$PATH
export PGBIN=$PG/lib/postgresql/15/bin
unset PG_CONFIG
source "$source_dir/lib.sh"
export PGPORT=${PGPORT_BASE:-26600}
# STRATA_T23_LOG=<file>: keeps a copy of the server log there (the temp dir goes).
trap 'cluster_stop "$DIR" immediate; [ -n "${STRATA_T23_LOG:-}" ] && cp "$DIR/server.log" "$STRATA_T23_LOG"; rm -rf "$TMP"' EXIT

# Stops the script: a step every later check depends on failed.
die() { echo "not ok - $*"; FAIL=$((FAIL + 1)); finish; exit 1; }

# --- 1. the private PostgreSQL copy and the 0.9.0 library in it
mkdir -p "$PG/lib/postgresql" "$PG/share/postgresql" "$PG/include"
cp -a /usr/lib/postgresql/15 "$PG/lib/postgresql/" && cp -a /usr/share/postgresql/15 "$PG/share/postgresql/" &&
  cp -a /usr/include/postgresql "$PG/include/" || die "copy of PostgreSQL 15 into $PG"
# Whatever strata the machine has installed is not part of this test.
rm -f "$PG"/lib/postgresql/15/lib/strata.so "$PG"/share/postgresql/15/extension/strata[.-]*
check "pg_config on PATH is the private copy's ($(pg_config --pkglibdir))" \
  test "$(pg_config --pkglibdir)" = "$PG/lib/postgresql/15/lib" -a "$(pg_config --sharedir)" = "$PG/share/postgresql/15" \
       -a "$(pg_config --includedir-server)" = "$PG/include/postgresql/15/server"
[ "$FAIL" = 0 ] || die "pg_config of the copy points elsewhere: refusing to install anything"

mkdir -p "$TMP/old"
git -C "$ROOT" archive "$OLD_COMMIT" | tar -x -C "$TMP/old" || die "git archive $OLD_COMMIT"
t0=$SECONDS
(cd "$TMP/old" && make -s -j2 >"$TMP/old-build.log" 2>&1 && make -s install >>"$TMP/old-build.log" 2>&1) || {
  tail -30 "$TMP/old-build.log"; die "build and install of strata $OLD_COMMIT (0.9.0)"; }
echo "# built and installed strata $OLD_COMMIT (0.9.0) into the copy in $((SECONDS - t0)) s"
check "the copy holds the 0.9.0 library and scripts (default_version 0.9.0)" \
  grep -q "default_version = '0.9.0'" "$PG/share/postgresql/15/extension/strata.control"

# --- 2. a 0.9.0 database whose rollups have queued, unrefreshed changes
cluster_start "$DIR" "$PGPORT" "timezone = 'UTC'" || die "cluster start on the copy (0.9.0 library)"
q "CREATE DATABASE app"
export DB=app
q "CREATE EXTENSION strata VERSION '0.9.0'"
check "extension created at 0.9.0" test "$(q "SELECT extversion FROM pg_extension WHERE extname = 'strata'")" = 0.9.0
q "CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, channel int, viewer bigint,
     watch_ms int) PARTITION BY RANGE (ts)"
q "SELECT strata.create_partition_set('events', 'ts', '1 day', premake => 2,
     start_partition => (now() - interval '4 days')::text)" >/dev/null
q "CREATE INDEX ON events (id)"
q "INSERT INTO events (ts, channel, viewer, watch_ms) SELECT now() - (g % 4000) * interval '1 minute', g % 5, g % 700,
     (g * 37) % 10000 FROM generate_series(1, 20000) g"
# A long refresh interval: the worker (on, as in production) never refreshes them on its own here, so
# the buckets queued before the upgrade are still queued after it, whatever the timing.
q "SELECT strata.create_rollup('hourly', \$\$SELECT date_trunc('hour', ts) AS bucket, count(*) AS views,
     sum(watch_ms) AS watch, min(watch_ms) AS shortest, max(watch_ms) AS longest FROM events GROUP BY 1\$\$,
     refresh_interval => '1 hour')" >/dev/null
q "SELECT strata.create_rollup('daily', \$\$SELECT date_trunc('day', ts) AS day, channel, count(*) AS views,
     sum(watch_ms) AS watch FROM events GROUP BY 1, 2\$\$, refresh_interval => '1 hour')" >/dev/null
q "SELECT strata.create_rollup('sketches', \$\$SELECT date_trunc('hour', ts) AS bucket, channel, count(*) AS views,
     strata.hll_agg(viewer) AS viewers, strata.qsketch_agg(watch_ms) AS watch_q FROM events GROUP BY 1, 2\$\$,
     refresh_interval => '1 hour')" >/dev/null
ROLLUPS="hourly daily sketches"

caught_up="SELECT bool_and(COALESCE(lag_rows, 0) = 0 AND pending_buckets = 0 AND backfill_done) FROM strata.rollups"
# refresh_all: refreshes every rollup until caught up (bounded).
refresh_all() {
  local i r
  for i in $(seq 1 20); do
    for r in $ROLLUPS; do q "SELECT strata.refresh_rollup('$r')" >/dev/null || return 1; done
    [ "$(q "$caught_up")" = t ] && return 0
  done
  echo "# not caught up: $(q "SELECT string_agg(name || ' lag ' || lag_rows || ' pending ' || pending_buckets, ', ') FROM strata.rollups")"
  return 1
}
check "0.9.0: the three rollups built and caught up" refresh_all

# Each rollup's data table against the same query over the raw rows: rows in one and not the other.
diff_sql() {
  local data=$1 raw=$2
  echo "SELECT count(*) FROM ((SELECT * FROM ($data) a EXCEPT ALL SELECT * FROM ($raw) b)
          UNION ALL (SELECT * FROM ($raw) c EXCEPT ALL SELECT * FROM ($data) d)) x"
}
DIFF_hourly=$(diff_sql "SELECT bucket, views, watch, shortest, longest FROM hourly_data" \
  "SELECT date_trunc('hour', ts), count(*), sum(watch_ms), min(watch_ms), max(watch_ms) FROM events GROUP BY 1")
DIFF_daily=$(diff_sql "SELECT day, channel, views, watch FROM daily_data" \
  "SELECT date_trunc('day', ts), channel, count(*), sum(watch_ms) FROM events GROUP BY 1, 2")
DIFF_sketches=$(diff_sql "SELECT bucket, channel, views, viewers::text, watch_q::text FROM sketches_data" \
  "SELECT date_trunc('hour', ts), channel, count(*), strata.hll_agg(viewer)::text, strata.qsketch_agg(watch_ms)::text
   FROM events GROUP BY 1, 2")
diffs() { local r out=""; for r in $ROLLUPS; do local v="DIFF_$r"; out+="$r:$(q "${!v}") "; done; echo "${out% }"; }
check "0.9.0: every rollup equals its query over the raw rows after the refresh" \
  test "$(diffs)" = "hourly:0 daily:0 sketches:0"

# The old shape: each rollup's own triggers on every relation of the tree and its own change function.
nrel=$(q "SELECT count(*) FROM pg_partition_tree('events')")
old_trig="SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE 'strata\_rollup\_%'"
check "0.9.0: 3 rollups x 2 triggers on each of the $nrel relations of the tree ($(q "$old_trig") strata_rollup_* triggers)" \
  test "$(q "$old_trig")" = $((3 * 2 * nrel))
change_fns=$(q "SELECT string_agg(change_function, ' ' ORDER BY id) FROM strata.rollup")
check "0.9.0: each rollup has its own change function ($change_fns)" \
  test "$(q "SELECT count(*) FROM strata.rollup WHERE to_regprocedure(change_function || '()') IS NOT NULL")" = 3

# Changes the old triggers queue, left unrefreshed: updates of a dimension and a measure, rows moved to
# another hour (old and new buckets), deletes, and new rows past the watermark. The updated and deleted
# rows are from about ten hours of the three days (ids 1000-1600), so most buckets stay unqueued.
q "UPDATE events SET channel = (channel + 1) % 5, watch_ms = watch_ms + 7 WHERE id BETWEEN 1000 AND 1600 AND id % 7 = 0"
q "UPDATE events SET ts = ts - interval '90 minutes' WHERE id BETWEEN 1000 AND 1600 AND id % 11 = 0"
q "DELETE FROM events WHERE id BETWEEN 1000 AND 1600 AND id % 13 = 0"
q "INSERT INTO events (ts, channel, viewer, watch_ms) SELECT now() - (g % 300) * interval '1 minute', g % 5, g % 900,
     (g * 41) % 10000 FROM generate_series(1, 500) g"
pending() { local r out=""; for r in $ROLLUPS; do out+="$r:$(q "SELECT count(*) FROM ${r}_pending") "; done; echo "${out% }"; }
pending_before=$(pending)
# The distinct buckets queued, kept to compare after the update.
q "CREATE TABLE t23_pending_before AS SELECT 'hourly' AS r, b::text FROM hourly_pending UNION
   SELECT 'daily', b::text FROM daily_pending UNION SELECT 'sketches', b::text FROM sketches_pending"
check "0.9.0: the old triggers queued buckets in every pending table ($pending_before)" \
  test "$(q "SELECT count(*) FROM strata.rollups WHERE pending_buckets = 0")" = 0
stale_before=$(diffs)
check "0.9.0: left unrefreshed, every rollup differs from the raw rows (rows differing: $stale_before)" \
  test -z "$(echo "$stale_before" | tr ' ' '\n' | grep ':0$')"
sleep 2  # a worker pass or two (naptime 1 s): it must not refresh them (1 hour interval)
check "0.9.0: the worker left the queued buckets alone" test "$(pending)" = "$pending_before"

# --- 3. the current library and scripts into the same copy, then ALTER EXTENSION strata UPDATE
cluster_stop "$DIR"
t0=$SECONDS
(cd "$ROOT" && make -s -j2 >"$TMP/new-build.log" 2>&1 && make -s install >>"$TMP/new-build.log" 2>&1) || {
  tail -30 "$TMP/new-build.log"; die "build and install of the current tree into the copy"; }
echo "# built and installed the current tree into the copy in $((SECONDS - t0)) s"
new_version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$PG/share/postgresql/15/extension/strata.control")
want_version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$(dirname "$0")/../../strata.control")
check "the copy now holds the current library and scripts (default_version $new_version)" test "$new_version" = "$want_version"
cluster_startonly "$DIR" || die "cluster start on the copy with the current library"
# The new library's worker meets the 0.9.0 catalog until the update: it should wait for it, not fail.
sleep 2
failed_passes=$(sed -n '/strata worker for database app started/,$p' "$DIR/server.log" | grep 'maintenance pass failed')
[ -n "$failed_passes" ] && echo "$failed_passes" | head -3 | sed 's/^/# server log: /'
check "before the update, the new library's worker waits for it (no failed pass on the 0.9.0 catalog)" \
  test -z "$failed_passes"
update_out=$("$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d app -X -q -At -v ON_ERROR_STOP=1 \
  -c "ALTER EXTENSION strata UPDATE" 2>&1)
update_rc=$?
[ -n "$update_out" ] && echo "$update_out" | sed 's/^/# ALTER EXTENSION: /'
check "ALTER EXTENSION strata UPDATE succeeded" test "$update_rc" = 0
check "ALTER EXTENSION strata UPDATE warned of no rollup kept on its own triggers" \
  test -z "$(echo "$update_out" | grep -i warning)"
[ "$update_rc" = 0 ] || die "the update failed; the state: extversion $(q "SELECT extversion FROM pg_extension WHERE extname = 'strata'"), $(q "$old_trig") strata_rollup_* triggers, pending $(pending)"

# --- 4. the shared capture in place, no change lost
check "extversion is $want_version" test "$(q "SELECT extversion FROM pg_extension WHERE extname = 'strata'")" = "$want_version"
check "no strata_rollup_* trigger remains ($(q "$old_trig") left)" test "$(q "$old_trig")" = 0
check "no rollup's own change function remains ($change_fns)" \
  test "$(q "SELECT count(*) FROM pg_proc WHERE proname IN ('hourly_changes', 'daily_changes', 'sketches_changes')
              OR oid IN (SELECT to_regprocedure(f || '()') FROM unnest(string_to_array('$change_fns', ' ')) f)")" = 0
per_rel="SELECT count(*) FROM pg_partition_tree('events') t
          WHERE (SELECT count(*) FROM pg_trigger g WHERE g.tgrelid = t.relid AND g.tgname LIKE 'strata\_changes\_%') <> 3
             OR (SELECT count(*) FROM pg_trigger g WHERE g.tgrelid = t.relid AND g.tgname LIKE 'strata\_changes\_%'
                   AND g.tgenabled = 'A') <> 3"
check "the source and each of its $nrel relations have exactly the three strata_changes_* triggers, ENABLE ALWAYS ($(q "SELECT string_agg(DISTINCT tgname, ' ') FROM pg_trigger WHERE tgname LIKE 'strata\_changes\_%'"))" \
  test "$(q "$per_rel")" = 0
check "the capture triggers are the source's _upd, _del and _trunc" \
  test "$(q "SELECT string_agg(DISTINCT regexp_replace(tgname, '^strata_changes_[0-9]+_', ''), ' ' ORDER BY regexp_replace(tgname, '^strata_changes_[0-9]+_', ''))
             FROM pg_trigger WHERE tgname LIKE 'strata\_changes\_%'")" = "del trunc upd"
check "every rollup has a grain and a change position ($(q "SELECT string_agg(view::text || ' grain ' || grain || ' pos ' || change_pos, ', ' ORDER BY id) FROM strata.rollup"))" \
  test "$(q "SELECT count(*) FROM strata.rollup WHERE grain IS NULL OR change_pos IS NULL")" = 0
check "one capture for the source with two grains (hourly and sketches share one)" \
  test "$(q "SELECT count(*) || ' ' || sum(grains) FROM strata.rollup_sources")" = "1 2"
pending_now="SELECT r, b FROM (SELECT 'hourly' AS r, b::text FROM hourly_pending UNION
   SELECT 'daily', b::text FROM daily_pending UNION SELECT 'sketches', b::text FROM sketches_pending) p"
lost=$(q "SELECT count(*) FROM (SELECT r, b FROM t23_pending_before EXCEPT $pending_now) x")
check "every bucket queued before the upgrade is still pending ($(q "SELECT count(*) FROM t23_pending_before") distinct before, $lost lost)" \
  test "$lost" = 0
# The update should not queue more: the old triggers tracked every relation, so nothing passed by them.
# (Queued again, every bucket each rollup holds is recomputed from the raw rows after the update.)
extra=$(q "SELECT string_agg(r || ':' || n, ' ') FROM (SELECT r, count(*) AS n FROM ($pending_now EXCEPT
             SELECT r, b FROM t23_pending_before) x GROUP BY r ORDER BY r) y")
held=$(q "SELECT 'daily:' || (SELECT count(DISTINCT day) FROM daily_data) || ' hourly:' || (SELECT count(DISTINCT bucket)
            FROM hourly_data) || ' sketches:' || (SELECT count(DISTINCT bucket) FROM sketches_data)")
check "the update queued no bucket beyond those pending (queued more: ${extra:-none}; buckets held: $held)" test -z "$extra"

# More changes after the upgrade, through the shared capture: the same kinds as before, plus rows in a
# premade future partition.
# A DELETE first, in a session of its own (a client that only deletes, as a retention job does).
check "DELETE as the first statement of a session" q "DELETE FROM events WHERE id % 79 = 0"
check "UPDATE of a dimension and a measure" \
  q "UPDATE events SET channel = (channel + 2) % 5, watch_ms = watch_ms + 3 WHERE id % 83 = 0"
check "UPDATE moving rows two hours later" \
  q "UPDATE events SET ts = ts + interval '2 hours' WHERE id % 107 = 0 AND ts < now() - interval '3 hours'"
check "DELETE after an UPDATE in the same session" \
  q "UPDATE events SET watch_ms = watch_ms + 1 WHERE id % 113 = 0; DELETE FROM events WHERE id % 73 = 0"
check "INSERT of new rows, some in a premade future partition" \
  q "INSERT INTO events (ts, channel, viewer, watch_ms) SELECT now() - (g % 2000) * interval '1 minute' + interval '1 day',
     g % 5, g % 800, (g * 43) % 10000 FROM generate_series(1, 700) g"
check "the shared capture logged the post-upgrade changes ($(q "SELECT count(*) FROM strata.rollup_change") log entries)" \
  test "$(q "SELECT count(*) > 0 FROM strata.rollup_change")" = t
check "0.10.0: every rollup refreshed until caught up" refresh_all
check "0.10.0: every rollup equals its query over the raw rows (EXCEPT ALL both ways, sketches as text)" \
  test "$(diffs)" = "hourly:0 daily:0 sketches:0"
check "the pending tables are empty again" test "$(pending)" = "hourly:0 daily:0 sketches:0"
check "no refresh failed" \
  test "$(q "SELECT count(*) FROM strata.job_runs WHERE job_kind = 'rollup_refresh' AND status = 'failed'")" = 0
# Whether a failure above is the migration's: the same DELETE opening a session, on a source whose
# rollup was made at 0.10.0.
q "CREATE TABLE fresh (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, v int)"
q "CREATE INDEX ON fresh (id)"
q "INSERT INTO fresh (ts, v) SELECT now() - g * interval '1 minute', g FROM generate_series(1, 500) g"
q "SELECT strata.create_rollup('fresh_hourly', \$\$SELECT date_trunc('hour', ts) AS bucket, count(*) AS n, sum(v) AS v
     FROM fresh GROUP BY 1\$\$, refresh_interval => '1 hour')" >/dev/null
check "0.10.0 without the upgrade (a rollup made at 0.10.0): DELETE as the first statement of a session" \
  q "DELETE FROM fresh WHERE id % 10 = 0"
# (log_min_messages = log: statement ERRORs are not in the server log; a crash or a worker's FATAL is.)
errors=$(grep -E '(PANIC|FATAL):' "$DIR/server.log" | grep -v 'due to administrator command')
[ -n "$errors" ] && echo "$errors" | head -5 | sed 's/^/# server log: /'
check "no PANIC or FATAL in the server log (shutdowns aside)" test -z "$errors"
cluster_stop "$DIR"
finish
