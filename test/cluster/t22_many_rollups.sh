#!/usr/bin/env bash
# Many rollups on one source (issue #34): the same scenario with 1, 2 and 20 rollups on one table, each
# time a fresh table partitioned by day with an identity order column and its index, a few thousand
# rows (some with NULL dimensions), and rollups of mixed grains (hour, day, 15- and 5-minute date_bin),
# dimensions (none, one, two), measures (count, sum, min, max, avg, hll, qsketch, topk) and filters,
# refreshed by the worker every second with modest batch sizes (backfill and recompute take several steps).
# Three pgbench clients write for WRITE_SECONDS (single-row INSERTs of new and late times, UPDATEs of the
# time, dimension and measure columns of random rows, moving them across buckets and partitions, and
# DELETEs) while the worker refreshes. Checked:
#  - during the writes, in three REPEATABLE READ snapshots: every real-time view equals the same query
#    over the raw rows in that snapshot, for the buckets from 2026-01-03 on, which get new and late
#    INSERTs but no UPDATE or DELETE (a real-time view shows new rows at once, but a change of absorbed
#    rows only once the refresh has recomputed their bucket: the first two days are compared after);
#  - after the writes: every rollup catches up (no lag, no pending bucket), its real-time view equals the
#    raw query, and so do its stored groups alone (the view made materialized-only); no refresh failed.
# Sketches are compared as text (hll and qsketch bitwise; topk below its capacity, where merging is exact).
# Knobs: WRITE_SECONDS (default 15), RATE (pgbench transactions per second over all clients, default 100),
# SIZES (default "1 2 20"), CATCHUP (longest wait for the worker after the writes, default 60 s).
set -u
source "$(dirname "$0")/lib.sh"
DIR=$(mktemp -d /tmp/strata-t22.XXXXXX)
export PGPORT=${PGPORT_BASE:-27300}
WRITE_SECONDS=${WRITE_SECONDS:-15}
RATE=${RATE:-100}
SIZES=${SIZES:-1 2 20}
CATCHUP=${CATCHUP:-60}
trap 'for p in $(jobs -p); do kill $p 2>/dev/null; done; cluster_stop "$DIR" immediate; rm -rf "$DIR"' EXIT
cluster_start "$DIR" "$PGPORT" "strata.naptime = 1" "max_connections = 50" || exit 1
q "CREATE DATABASE app"
q "ALTER DATABASE app SET TimeZone = 'UTC'"
export DB=app
q "CREATE EXTENSION strata"

# The rollups, in the order they are created (size N takes the first N). Fields, separated by '|':
# bucket | dimensions | measures ('expr AS alias', separated by ';') | WHERE filter | batch_size.
# Grains: hour, day, 15 and 5 minutes.
H="date_trunc('hour', ts)" D="date_trunc('day', ts)"
Q="date_bin('15 minutes', ts, timestamptz '2000-01-01 00:00+00')" F="date_bin('5 minutes', ts, timestamptz '2000-01-01 00:00+00')"
CNT="count(*) AS n" SUM="sum(watch_ms) AS w" MIN="min(watch_ms) AS lo" MAX="max(watch_ms) AS hi" AVG="avg(watch_ms) AS a"
HLL="strata.hll_agg(viewer) AS u" QS="strata.qsketch_agg(watch_ms) AS q" TOPK="strata.topk_agg(label, 8) AS t"
ROLLUPS=(
  "$H|channel|$CNT;$SUM;$MIN;$MAX;$AVG;$HLL;$QS;$TOPK||2000"
  "$F|channel, kind|$CNT;$SUM;$HLL;$TOPK|watch_ms > 1000|50000"
  "$D||$CNT;$SUM;$MIN;$MAX;$AVG||1000"
  "$Q|kind|$CNT;$AVG;$QS||2000"
  "$H|channel, kind|$CNT;$SUM;$MAX|kind <> 'ad'|20000"
  "$D|channel|$CNT;$HLL;$QS;$TOPK||2000"
  "$F||$CNT;$SUM;$MIN||50000"
  "$Q|channel|$CNT;$SUM;$AVG;$HLL|channel IS NOT NULL|30000"
  "$H|kind|$CNT;$MIN;$MAX;$TOPK||1500"
  "$D|channel, kind|$CNT;$SUM;$AVG;$HLL;$QS||2000"
  "$F|channel|$CNT;$MAX;$QS||50000"
  "$Q||$CNT;$SUM;$HLL;$TOPK||2000"
  "$H||$CNT;$AVG;$QS|watch_ms BETWEEN 500 AND 8000|3000"
  "$D|kind|$CNT;$SUM;$MIN;$MAX;$TOPK||1000"
  "$F|kind|$CNT;$AVG||50000"
  "$Q|channel, kind|$CNT;$SUM;$MIN;$MAX;$HLL;$QS;$TOPK||30000"
  "$H|channel|$CNT;$SUM;$AVG|label IN ('l1', 'l2', 'l3')|2000"
  "$D||$CNT;$HLL;$QS;$TOPK||1000"
  "$F|channel, kind|$CNT;$SUM||50000"
  "$Q|kind|$CNT;$MIN;$MAX;$AVG|kind IS NOT NULL|2000"
)

# t22_def: per rollup, its view, the columns to read from it, and the same query over the raw rows with
# the same column names (sketches as text). t22_diff counts the rows in which they differ, of buckets from
# `since` on (all with NULL), in the caller's snapshot; t22_check says it for every rollup of a source.
q "CREATE TABLE t22_def (src text, name text, view_cols text, raw_query text)"
q "CREATE FUNCTION t22_diff(n text, vcols text, raw text, since timestamptz, OUT diff bigint, OUT groups bigint)
   LANGUAGE plpgsql AS \$f\$
   DECLARE keep text := CASE WHEN since IS NULL THEN '' ELSE format('WHERE x.bucket >= %L', since) END;
   BEGIN
     EXECUTE format('WITH v AS (SELECT * FROM (SELECT %s FROM %I) x %s), r AS (SELECT * FROM (%s) x %s)
                     SELECT (SELECT count(*) FROM ((SELECT * FROM v EXCEPT ALL SELECT * FROM r)
                                                   UNION ALL (SELECT * FROM r EXCEPT ALL SELECT * FROM v)) d),
                            (SELECT count(*) FROM r)', vcols, n, keep, raw, keep) INTO diff, groups;
   END \$f\$"
# t22_rows(n, vcols, raw): the rows in which view and raw query differ (first 20), each marked with the side
# it is on: printed when a check after the writes fails, so that a failure says which groups.
q "CREATE FUNCTION t22_rows(n text, vcols text, raw text) RETURNS SETOF text LANGUAGE plpgsql AS \$f\$
   BEGIN
     RETURN QUERY EXECUTE format('WITH v AS (SELECT %s FROM %I), r AS (%s)
                     (SELECT ''view only: '' || x::text FROM (SELECT * FROM v EXCEPT ALL SELECT * FROM r) x)
                     UNION ALL (SELECT ''raw only: '' || x::text FROM (SELECT * FROM r EXCEPT ALL SELECT * FROM v) x)
                     ORDER BY 1 LIMIT 20', vcols, n, raw);
   END \$f\$"
# t22_check(src, since, phase): 'exact/total', the groups compared and the rollups that differ (with their
# differing rows); each rollup's result is kept in t22_result.
q "CREATE TABLE t22_result (src text, phase text, name text, diff bigint)"
q "CREATE FUNCTION t22_check(s text, since timestamptz, phase text) RETURNS text LANGUAGE sql AS \$f\$
   WITH d AS (SELECT name, x.* FROM t22_def, LATERAL t22_diff(name, view_cols, raw_query, since) x WHERE src = s),
        kept AS (INSERT INTO t22_result SELECT s, phase, name, diff FROM d)
   SELECT count(*) FILTER (WHERE diff = 0) || '/' || count(*) || ' exact, ' || sum(groups) || ' groups'
          || coalesce(', differ: ' || string_agg(name || ' (' || diff || ' rows)', ', ' ORDER BY name)
                                       FILTER (WHERE diff <> 0), '')
   FROM d
   \$f\$"

# make_source T: the table T, partitioned by day (2026-01-01 .. 2026-01-04), 4,000 rows over its first
# three days; channel and kind NULL in some rows.
make_source() {
  local t=$1
  q "CREATE TABLE $t (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, channel int, kind varchar(8),
       viewer bigint NOT NULL, watch_ms int NOT NULL, label text NOT NULL) PARTITION BY RANGE (ts);
     CREATE TABLE ${t}_p1 PARTITION OF $t FOR VALUES FROM ('2026-01-01') TO ('2026-01-02');
     CREATE TABLE ${t}_p2 PARTITION OF $t FOR VALUES FROM ('2026-01-02') TO ('2026-01-03');
     CREATE TABLE ${t}_p3 PARTITION OF $t FOR VALUES FROM ('2026-01-03') TO ('2026-01-04');
     CREATE TABLE ${t}_p4 PARTITION OF $t FOR VALUES FROM ('2026-01-04') TO ('2026-01-05');
     CREATE INDEX ON $t (id);
     INSERT INTO $t (ts, channel, kind, viewer, watch_ms, label)
     SELECT timestamptz '2026-01-01' + (g % 72) * interval '1 hour' + (g * 7 % 60) * interval '1 minute',
            CASE WHEN g % 17 = 0 THEN NULL ELSE g % 4 END,
            CASE WHEN g % 13 = 0 THEN NULL WHEN g % 5 = 0 THEN 'ad' WHEN g % 7 = 0 THEN 'live' ELSE 'view' END,
            g % 173, (g * 37) % 10000, 'l' || (g % 6)
     FROM generate_series(1, 4000) g"
}

# make_rollups T N: the first N rollups of ROLLUPS on T, and their rows in t22_def.
make_rollups() {
  local t=$1 n=$2 i bucket dims measures filter batch m ms expr alias mexprs vcols rcols group k name ndims
  for i in $(seq 1 "$n"); do
    IFS='|' read -r bucket dims measures filter batch <<<"${ROLLUPS[$((i - 1))]}"
    name=$(printf '%s_r%02d' "$t" "$i")
    mexprs="" vcols="bucket${dims:+, $dims}" rcols="$bucket AS bucket${dims:+, $dims}"
    IFS=';' read -ra ms <<<"$measures"
    for m in "${ms[@]}"; do
      expr=${m% AS *} alias=${m##* AS }
      mexprs+=", $m"
      case $expr in
        strata.*) vcols+=", $alias::text AS $alias"; rcols+=", $expr::text AS $alias" ;;
        *) vcols+=", $alias"; rcols+=", $m" ;;
      esac
    done
    ndims=0
    [ -n "$dims" ] && ndims=$(( $(tr -cd ',' <<<"$dims" | wc -c) + 1 ))
    group=1
    for k in $(seq 2 $((ndims + 1))); do group+=", $k"; done
    q "SELECT strata.create_rollup('$name', \$q\$SELECT $bucket AS bucket${dims:+, $dims}$mexprs FROM $t
         ${filter:+WHERE $filter} GROUP BY $group\$q\$, refresh_interval => '1 second', batch_size => $batch)" >/dev/null || return 1
    q "INSERT INTO t22_def VALUES ('$t', '$name', \$v\$$vcols\$v\$,
         \$r\$SELECT $rcols FROM $t ${filter:+WHERE $filter} GROUP BY $group\$r\$)"
  done
}

# The writers' pgbench scripts for table T (weights: 4 new, 2 late inserts, 2+2+2 updates, 1 delete).
# New rows fall in the fourth day, late ones anywhere in the first three. UPDATE and DELETE change rows of
# the first two days only (a random id, when it is one of those), and move times within them (across
# buckets and partitions): from 2026-01-03 on, a real-time view must be exact at any instant.
write_scripts() {
  local t=$1 row="id = (SELECT 1 + floor(random() * (SELECT max(id) FROM $1))::bigint) AND ts < '2026-01-03'"
  local vals="CASE WHEN random() < 0.1 THEN NULL ELSE (random() * 4)::int END,
     (ARRAY['view', 'view', 'ad', 'live', NULL])[1 + floor(random() * 5)::int], (random() * 300)::int,
     (random() * 10000)::int, 'l' || floor(random() * 6)::int"
  echo "INSERT INTO $t (ts, channel, kind, viewer, watch_ms, label) VALUES
     (timestamptz '2026-01-04' + random() * interval '1 day', $vals);" >"$DIR/ins_new.sql"
  echo "INSERT INTO $t (ts, channel, kind, viewer, watch_ms, label) VALUES
     (timestamptz '2026-01-01' + random() * interval '3 days', $vals);" >"$DIR/ins_late.sql"
  echo "UPDATE $t SET ts = timestamptz '2026-01-01' + random() * interval '2 days' WHERE $row;" >"$DIR/upd_time.sql"
  echo "UPDATE $t SET channel = CASE WHEN random() < 0.15 THEN NULL ELSE (random() * 4)::int END,
     kind = (ARRAY['view', 'ad', 'live', NULL])[1 + floor(random() * 4)::int] WHERE $row;" >"$DIR/upd_dim.sql"
  echo "UPDATE $t SET watch_ms = (random() * 10000)::int, viewer = (random() * 300)::int,
     label = 'l' || floor(random() * 6)::int WHERE $row;" >"$DIR/upd_measure.sql"
  echo "DELETE FROM $t WHERE $row;" >"$DIR/del.sql"
}

# Rows inserted, updated and deleted in T's partitions (the statistics of the table's leaves).
changed_rows() {
  q "SELECT pg_stat_force_next_flush(); SELECT sum(n_tup_ins + n_tup_upd + n_tup_del) FROM pg_stat_user_tables
     WHERE relid IN (SELECT relid FROM pg_partition_tree('$1') WHERE isleaf)" | tail -1
}

caught_up_sql() {
  echo "SELECT coalesce(bool_and(coalesce(lag_rows = 0 AND pending_buckets = 0 AND backfill_done, false)), false)
     FROM strata.rollups WHERE source = '$1'::regclass"
}

# on_all T FUNCTION ARGS: strata.FUNCTION(name ARGS) on every rollup of T, retried while the worker
# refreshes it (the catalog row is locked NOWAIT).
on_all() {
  local t=$1 fn=$2 args=$3 name try
  for name in $(q "SELECT name FROM t22_def WHERE src = '$t' ORDER BY name"); do
    for try in $(seq 1 50); do
      q "SELECT strata.$fn('$name'$args)" >/dev/null 2>"$DIR/on_all.err" && continue 2
      grep -q 'being refreshed or changed by another session' "$DIR/on_all.err" || { cat "$DIR/on_all.err"; return 1; }
      sleep 0.1
    done
    echo "# strata.$fn('$name'$args) kept failing: $(cat "$DIR/on_all.err")"
    return 1
  done
}

# scenario N: the whole run on a fresh table with N rollups.
scenario() {
  local n=$1 t="ev_$1" t0=$SECONDS mid i got bad=0 rt mo changed0 changed pgb exact
  local rs="$n rollups"
  [ "$n" = 1 ] && rs="1 rollup"
  make_source "$t"
  changed0=$(changed_rows "$t")
  check "$rs: created on $t" make_rollups "$t" "$n" || return
  check "$rs: the worker has started refreshing them" \
    wait_for 20 "SELECT count(*) > 0 FROM strata.rollups WHERE source = '$t'::regclass AND refresh_steps > 0" t
  write_scripts "$t"
  "$PGBIN/pgbench" -h 127.0.0.1 -p "$PGPORT" -U postgres -n -c 3 -j 3 -T "$WRITE_SECONDS" -R "$RATE" \
    -f "$DIR/ins_new.sql@4" -f "$DIR/ins_late.sql@2" -f "$DIR/upd_time.sql@2" -f "$DIR/upd_dim.sql@2" \
    -f "$DIR/upd_measure.sql@2" -f "$DIR/del.sql@1" app >"$DIR/pgbench_$n.log" 2>&1 &
  pgb=$!
  # Three snapshots during the writes, a quarter, half and three quarters of the way.
  mid=""
  for i in 1 2 3; do
    sleep "$(awk -v s="$WRITE_SECONDS" 'BEGIN { printf "%.1f", s / 4 }')"
    got=$(q "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT t22_check('$t', '2026-01-03', 'during $i'); COMMIT")
    mid+="${mid:+; }$got"
    case $got in "$n/$n exact"*) ;; *) bad=1 ;; esac
  done
  wait "$pgb"
  check "$rs: pgbench wrote for ${WRITE_SECONDS}s without errors" \
    grep -q "number of failed transactions: 0" "$DIR/pgbench_$n.log"
  check "$rs: real-time views equal the raw rows from 2026-01-03 on (no UPDATE/DELETE there) in 3 snapshots during the writes ($mid)" \
    test $bad = 0
  changed=$(( $(changed_rows "$t") - changed0 ))
  if ! wait_for "$CATCHUP" "$(caught_up_sql "$t")" t; then
    echo "# $rs: not caught up ${CATCHUP}s after the writes:"
    q "SELECT name, lag_rows, pending_buckets, backfill_done, last_error FROM strata.rollups WHERE source = '$t'::regclass
       AND NOT coalesce(lag_rows = 0 AND pending_buckets = 0 AND backfill_done, false)" | sed 's/^/#   /'
    check "$rs: the worker caught up after the writes" false
  else
    check "$rs: the worker caught up after the writes (no lag, no pending bucket)" true
  fi
  rt=$(q "SELECT t22_check('$t', NULL, 'real-time')")
  check "$rs: real-time views equal the raw rows after the writes ($rt)" test "${rt%%,*}" = "$n/$n exact"
  if [ "${rt%%,*}" != "$n/$n exact" ]; then  # which groups, and what the rollup knew of them
    q "SELECT d.name || ': ' || x FROM t22_def d, LATERAL t22_rows(d.name, d.view_cols, d.raw_query) x
       WHERE d.src = '$t' AND d.name IN (SELECT name FROM t22_result WHERE src = '$t' AND phase = 'real-time' AND diff <> 0)" | sed 's/^/#   /'
    q "SELECT name, watermark, lag_rows, pending_buckets, buckets_recomputed, rows_processed FROM strata.rollups
       WHERE source = '$t'::regclass" | sed 's/^/#   /'
  fi
  check "$rs: made materialized-only" on_all "$t" alter_rollup ", realtime => false"
  mo=$(q "SELECT t22_check('$t', NULL, 'materialized')")
  check "$rs: stored groups alone (materialized-only views) equal the raw rows ($mo)" test "${mo%%,*}" = "$n/$n exact"
  check "$rs: no refresh failed" test "$(q "SELECT count(*) FROM strata.job_runs WHERE job_kind = 'rollup_refresh'
    AND status = 'failed' AND target ~ '\\m${t}_r[0-9]+\\M'")" = 0
  check "$rs: the writers changed rows below the watermark (buckets were recomputed)" \
    test "$(q "SELECT sum(buckets_recomputed) > 0 FROM strata.rollups WHERE source = '$t'::regclass")" = t
  # A rollup is exact when it differed in no row in any comparison (3 during the writes, 2 after).
  exact=$(q "SELECT count(*) FILTER (WHERE worst = 0 AND phases = 5) || '/' || count(*) FROM (
             SELECT name, max(diff) AS worst, count(*) AS phases FROM t22_result WHERE src = '$t' GROUP BY name) x")
  check "$rs: every rollup differed in 0 rows in all 5 comparisons" test "$exact" = "$n/$n"
  echo "# $rs: $exact exact ($changed rows changed by writers; $(grep -o 'number of transactions actually processed: [0-9]*' \
    "$DIR/pgbench_$n.log" | grep -o '[0-9]*$') statements; $((SECONDS - t0)) s)"
  # Make room for the next size: the worker then refreshes only its rollups.
  on_all "$t" drop_rollup "" && q "DROP TABLE $t"
}

for n in $SIZES; do scenario "$n"; done
finish
