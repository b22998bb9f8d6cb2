#!/usr/bin/env bash
# Compressed partitions on real servers (src/columnar/): a backend killed (-9) during and after
# compress_partition, before its commit (crash recovery: the partition is in its old form, every row
# once, no batch table left); the worker killed (-9) in the middle of a policy's conversion (its job
# marked crashed, the partition wholly heap or wholly compressed, the next worker compresses everything
# due); UPDATE, DELETE and late INSERT into compressed partitions under a rollup, and the worker's
# recompression (rollup = GROUP BY over the raw rows, rows = a heap copy that got the same statements);
# a physical standby reading the batches; pg_dump / pg_restore (rows as heap rows, the policy kept, the
# restored database's worker compresses again); logical replication by a publication of the parent and by
# a FOR ALL TABLES one (compression refused while it exists: it would publish the batch tables; rows
# still replicate), a subscriber's partitions (refused); a damaged batch (XX001 naming the partition, no crash). Rows are compared as count and
# sum(hashtext(row::text)), not counts alone.
set -u
source "$(dirname "$0")/lib.sh"
DIR=$(mktemp -d /tmp/strata-t28.XXXXXX)
chmod 755 "$DIR"
BASE=${PGPORT_BASE:-26810}
P=$BASE SP=$((BASE + 1)) LP=$((BASE + 2))  # primary, its physical standby, the logical subscriber
SBY=$DIR/standby SUB=$DIR/sub
BG=()
trap 'for p in "${BG[@]}"; do kill "$p" 2>/dev/null; done; cluster_stop "$SBY" immediate; cluster_stop "$SUB" immediate; cluster_stop "$DIR" immediate; rm -rf "$DIR"' EXIT
export PGPORT=$P
# The worker serves app only (then restored, see 5.): allt's partitions are compressed by hand, a
# restored database stays as pg_restore left it until it is added. recompress_fraction starts out of
# reach (the rows DML moves back stay in the heap until 3. lowers it).
cluster_start "$DIR" "$P" "wal_level = logical" "max_wal_senders = 10" "max_replication_slots = 10" \
  "log_min_messages = warning" "strata.databases = 'app'" "strata.recompress_fraction = 1000" >/dev/null || exit 1
mkdir -p "$SUB" && chmod 755 "$SUB"
[ "$(id -u)" = 0 ] && chown postgres: "$SUB"
cluster_start "$SUB" "$LP" "log_min_messages = warning" "strata.enabled = off" >/dev/null || exit 1

at() { local p=$1 d=$2; shift 2; PGPORT=$p DB=$d q "$@"; }
wait_at() { local p=$1 d=$2; shift 2; PGPORT=$p DB=$d wait_for "$@"; }
# sig PORT DB TABLE [WHERE]: the rows of a table as count/sum(hashtext(row::text)).
sig() { at "$1" "$2" "SELECT count(*) || '/' || COALESCE(sum(hashtext(t::text)), 0) FROM $3 t ${4:+WHERE $4}"; }
same() {  # same WHAT GOT WANT
  [ "$2" = "$3" ] && return 0
  echo "# $1: got [$2], wanted [$3]" >&2; return 1
}
ready_count() { grep -c "database system is ready to accept connections" "$DIR/server.log"; }
# after_crash N: the postmaster reset every backend and is ready again (N: ready_count before the kill).
after_crash() {
  local end=$((SECONDS + 60))
  while [ $SECONDS -lt $end ]; do
    [ "$(ready_count)" -gt "$1" ] && wait_for 20 "SELECT 1" 1 && return 0
    sleep 0.2
  done
  echo "# the server did not come back after the kill" >&2; return 1
}
# Background psql sessions fed through a fifo (session N on fd 20+N).
session_open() {  # session_open N APPNAME DB
  mkfifo "$DIR/s$1.in"
  PGAPPNAME=$2 "$PGBIN/psql" -h 127.0.0.1 -p "$P" -U postgres -d "$3" -X -q -At <"$DIR/s$1.in" >"$DIR/s$1.out" 2>&1 &
  BG+=($!)
  eval "exec $((20 + $1))>\"\$DIR/s$1.in\""
}
session_send() { echo "$2" >&$((20 + $1)); }
session_close() { eval "exec $((20 + $1))>&-"; rm -f "$DIR/s$1.in"; }
pid_of() { q "SELECT pid FROM pg_stat_activity WHERE application_name = '$1'"; }
uses_scan() { at "$1" app "EXPLAIN $2" | grep -Eq "StrataColumnar(Scan|Aggregate)"; }  # the scan, or its aggregate mode
says() {  # says TEXT PATTERN...: TEXT holds every pattern
  local text=$1 p; shift
  for p in "$@"; do grep -q -- "$p" <<<"$text" || { echo "# no [$p] in: $(head -c 400 <<<"$text")" >&2; return 1; }; done
}
no_error_in() {  # no_error_in FILE...: no line of the files mentions an error
  local e
  e=$(grep -hi 'error' "$@" | head -5)
  [ -z "$e" ] || { sed 's/^/# /' <<<"$e" >&2; return 1; }
}

# Day boundaries (server time): D[k] is the start of the day k days ago.
D=($(q "SELECT string_agg(extract(epoch FROM date_trunc('day', now()) - k * interval '1 day')::bigint::text, ' ' ORDER BY k) FROM generate_series(0, 5) k"))
day() { echo "to_timestamp(${D[$1]})"; }

# A database with a FOR ALL TABLES publication, set up first on both clusters with the same statements
# (see 6b.).
for p in $P $LP; do
  PGPORT=$p q "CREATE DATABASE allt"
  PGOPTIONS="-c client_min_messages=warning" at "$p" allt "CREATE EXTENSION strata"
done
at "$P" allt "CREATE TABLE fa (id bigint NOT NULL, ts timestamptz NOT NULL, v int NOT NULL) PARTITION BY RANGE (ts)"
at "$LP" allt "CREATE TABLE fa (id bigint NOT NULL, ts timestamptz NOT NULL, v int NOT NULL)"
at "$P" allt "SELECT strata.create_partition_set('fa', 'ts', '1 day', premake => 1, start_partition => ($(day 3))::text)" >/dev/null

q "CREATE DATABASE app"
export DB=app
q "CREATE EXTENSION strata"
wait_for 20 "SELECT state FROM strata.workers WHERE datname = 'app'" running >/dev/null

################################################################################ 1. killed mid-conversion
q "CREATE TABLE big (ts timestamptz NOT NULL, device int NOT NULL, v int) PARTITION BY RANGE (ts)"
q "SELECT strata.create_partition_set('big', 'ts', '1 day', premake => 1, start_partition => ($(day 3))::text)" >/dev/null
q "INSERT INTO big SELECT $(day 2) + g * interval '80 ms', g % 50, g FROM generate_series(1, 1000000) g"
q "INSERT INTO big SELECT $(day 0) + g * interval '1 s', g % 50, g FROM generate_series(1, 1000) g"
BIGP=$(q "SELECT tableoid::regclass FROM big WHERE ts >= $(day 2) AND ts < $(day 1) LIMIT 1")
BIG0=$(sig "$P" app big)
BIGP0=$(sig "$P" app "$BIGP")
no_batch_tables="SELECT count(*) FROM pg_class WHERE relnamespace = 'strata'::regnamespace AND relname LIKE '\\_columnar\\_%'"
# After each kill: the same rows, the partition a heap with no batch table, reads and writes work.
after_kill_checks() {
  check "$1: the same rows and checksum (parent and partition)" \
    same rows "$(sig "$P" app big)|$(sig "$P" app "$BIGP")" "$BIG0|$BIGP0"
  check "$1: the partition is not compressed and no batch table is left" \
    same state "$(q "SELECT count(*) FROM strata.compressed_partitions WHERE partition = '$BIGP'::regclass")/$(q "$no_batch_tables")" "0/0"
  check "$1: queries and writes on the partition work" \
    same queries "$(q "SELECT count(*) FROM big WHERE ts >= $(day 2) + interval '1 hour' AND ts < $(day 2) + interval '2 hours'")/$(q "BEGIN; INSERT INTO big VALUES ($(day 2), 1, -1); DELETE FROM big WHERE v = -1 AND ts = $(day 2); COMMIT; SELECT count(*) FROM $BIGP WHERE v = -1")" "45000/0"
}

# a. Killed during the call (the build, usually: the call takes about a second).
n=$(ready_count)
PGAPPNAME=t28_conv_a "$PGBIN/psql" -h 127.0.0.1 -p "$P" -U postgres -d app -X -q -At \
  -c "BEGIN" -c "SELECT 'returned ' || strata.compress_partition('$BIGP')" -c "COMMIT" >"$DIR/a.out" 2>&1 &
BG+=($!)
cpid=""
for i in $(seq 1 500); do
  cpid=$(q "SELECT pid FROM pg_stat_activity WHERE application_name = 't28_conv_a' AND state = 'active' AND query LIKE '%compress_partition%'")
  [ -n "$cpid" ] && break
done
kill -9 "$cpid"
check "a backend killed (-9) during compress_partition: the server resets and recovers" after_crash "$n"
grep -q returned "$DIR/a.out" && echo "# the kill came after compress_partition returned (too late for this case)"
after_kill_checks "killed during the call"

# b. Killed while the call waits for the swap's lock (batches built, heap not emptied yet): a reader
# holds ACCESS SHARE on the partition.
n=$(ready_count)
session_open 1 t28_reader app
session_send 1 "BEGIN; SELECT count(*) FROM $BIGP;"
session_open 2 t28_conv_b app
session_send 2 "SET strata.lock_timeout = '5min'; BEGIN; SELECT strata.compress_partition('$BIGP');"
check "compress_partition built its batches and waits for the swap's ACCESS EXCLUSIVE lock" \
  wait_for 30 "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 't28_conv_b'
                AND l.relation = '$BIGP'::regclass AND l.mode = 'AccessExclusiveLock' AND NOT l.granted" 1
kill -9 "$(pid_of t28_conv_b)"
session_close 1; session_close 2
check "killed (-9) while waiting for the swap: the server recovers" after_crash "$n"
after_kill_checks "killed before the swap"

# c. Killed after the call returned, before COMMIT (heap emptied, batches written, state row in).
n=$(ready_count)
session_open 3 t28_conv_c app
session_send 3 "BEGIN; SELECT 'returned ' || strata.compress_partition('$BIGP');"
check "compress_partition returned inside the open transaction" \
  wait_for 30 "SELECT count(*) FROM pg_stat_activity WHERE application_name = 't28_conv_c' AND state = 'idle in transaction'" 1
grep -q "returned 1000000" "$DIR/s3.out" || echo "# session 3 said: $(cat "$DIR/s3.out")"
kill -9 "$(pid_of t28_conv_c)"
session_close 3
check "killed (-9) before COMMIT: the server recovers" after_crash "$n"
after_kill_checks "killed before COMMIT"

# d. Compressed for good; the batches survive crash recovery.
check "compress_partition then succeeds: 1,000,000 rows" same rows "$(q "SELECT strata.compress_partition('$BIGP')")" 1000000
check "... the same rows and checksum, read from the batches" \
  same rows "$(sig "$P" app big)|$(sig "$P" app "$BIGP")" "$BIG0|$BIGP0"
check "... listed in compressed_partitions, its heap empty, one batch table" \
  same state "$(q "SELECT rows || '/' || batches || '/' || pg_relation_size(partition) FROM strata.compressed_partitions WHERE partition = '$BIGP'::regclass")/$(q "$no_batch_tables")" "1000000/1000/0/1"
check "... read through the custom scan" uses_scan "$P" "SELECT sum(v) FROM $BIGP"
n=$(ready_count)
session_open 4 t28_victim app
session_send 4 "SELECT pg_sleep(60);"
wait_for 10 "SELECT count(*) FROM pg_stat_activity WHERE application_name = 't28_victim' AND state = 'active'" 1 >/dev/null
kill -9 "$(pid_of t28_victim)"
session_close 4
after_crash "$n" >/dev/null
check "after crash recovery the compressed partition has the same rows and checksum" \
  same rows "$(sig "$P" app big)|$(sig "$P" app "$BIGP")|$(q "SELECT count(*) FROM strata.compressed_partitions")" "$BIG0|$BIGP0|1"

################################################################################ 7. a damaged batch
SIB=$(q "SELECT sibling::regclass FROM strata.columnar_partition WHERE leaf = '$BIGP'::regclass")
q "CREATE TABLE t28_saved AS SELECT _strata_min AS m, v FROM $SIB WHERE _strata_min = (SELECT min(_strata_min) + interval '1 hour' FROM $SIB)" >/dev/null
check "the batch to damage exists (one batch of 1,000 rows)" same saved "$(q "SELECT count(*) FROM t28_saved")" 1
DAMAGED=$(q "SELECT m FROM t28_saved")
q "UPDATE $SIB SET v = set_byte(set_byte(v, 5, get_byte(v, 5) # 255), octet_length(v) / 2, get_byte(v, octet_length(v) / 2) # 255)
   WHERE _strata_min = (SELECT m FROM t28_saved)"
n=$(ready_count)
err=$("$PGBIN/psql" -h 127.0.0.1 -p "$P" -U postgres -d app -X -q -At -v VERBOSITY=verbose -c "SELECT sum(v) FROM big" 2>&1)
check "reading the damaged batch fails with XX001 naming the partition" says "$err" XX001 "compressed partition $BIGP"
err=$("$PGBIN/psql" -h 127.0.0.1 -p "$P" -U postgres -d app -X -q -At -v VERBOSITY=verbose \
  -c "UPDATE big SET device = device WHERE ts >= '$DAMAGED' AND ts < timestamptz '$DAMAGED' + interval '1 s'" 2>&1)
check "an UPDATE that must move the damaged batch fails with XX001 too" says "$err" XX001 "compressed partition $BIGP"
check "... the server did not crash: the next query works, no reset" \
  same after "$(q "SELECT count(*) FROM big WHERE ts >= $(day 0)")/$(ready_count)/$(grep -c 'terminated by signal' "$DIR/server.log")" "1000/$n/4"
check "... the failed UPDATE moved nothing: the batch table still holds its 1,000 batches" same batches "$(q "SELECT count(*) FROM $SIB")" 1000
q "UPDATE $SIB s SET v = t.v FROM t28_saved t WHERE s._strata_min = t.m"
check "with the batch repaired every row reads again, the same checksum" same rows "$(sig "$P" app big)" "$BIG0"

################################################################################ 2. the worker killed mid-conversion
q "CREATE TABLE m (ts timestamptz NOT NULL, device int NOT NULL, v int) PARTITION BY RANGE (ts)"
q "SELECT strata.create_partition_set('m', 'ts', '1 day', premake => 1, start_partition => ($(day 4))::text)" >/dev/null
for k in 4 3 2; do q "INSERT INTO m SELECT $(day $k) + g * interval '250 ms', g % 40, g FROM generate_series(1, 300000) g"; done
q "INSERT INTO m SELECT $(day 0) + g * interval '1 s', g % 40, g FROM generate_series(1, 5000) g"
M0=$(sig "$P" app m)
MPARTS=$(q "SELECT string_agg(DISTINCT tableoid::regclass::text, ' ') FROM m WHERE ts < $(day 1)")
MPER0=$(q "SELECT string_agg(tableoid::regclass || ':' || n, ' ' ORDER BY 1) FROM (SELECT tableoid, count(*) AS n FROM m GROUP BY 1) c")
# The worker's swap waits behind a reader of every old partition; its lock_timeout is long meanwhile.
q "ALTER SYSTEM SET strata.lock_timeout = '60s'" && q "SELECT pg_reload_conf()" >/dev/null
sleep 1.5
session_open 5 t28_reader2 app
session_send 5 "BEGIN; $(for p in $MPARTS; do echo "SELECT count(*) FROM $p;"; done)"
wait_for 10 "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 't28_reader2' AND l.relation = ANY ('{$(echo "$MPARTS" | tr ' ' ',')}'::regclass[])" 3 >/dev/null
q "SELECT strata.alter_partition_set('m', compress_after => '1 day', compress_segment_by => ARRAY['device'], compress_order_by => 'ts')" >/dev/null
check "the policy's conversion starts: a columnar_compress job runs and waits for the swap" \
  wait_for 30 "SELECT count(*) FROM strata.job_runs j, pg_locks l WHERE j.job_kind = 'columnar_compress' AND j.status = 'running'
                AND l.pid = (SELECT pid FROM strata.workers WHERE datname = 'app') AND l.mode = 'AccessExclusiveLock' AND NOT l.granted
                AND l.relation = ANY ('{$(echo "$MPARTS" | tr ' ' ',')}'::regclass[])" 1
JOB=$(q "SELECT id FROM strata.job_runs WHERE job_kind = 'columnar_compress' AND status = 'running'")
JOBT=$(q "SELECT target FROM strata.job_runs WHERE id = $JOB")
q "ALTER SYSTEM RESET strata.lock_timeout" && q "SELECT pg_reload_conf()" >/dev/null
wpid=$(q "SELECT pid FROM strata.workers WHERE datname = 'app'")
n=$(ready_count)
kill -9 "$wpid"
session_close 5
worker_back() { after_crash "$1" && wait_for 30 "SELECT state = 'running' AND pid <> $2 FROM strata.workers WHERE datname = 'app'" t; }
check "the worker killed (-9) mid-conversion: the server recovers, a new worker runs" worker_back "$n" "$wpid"
check "... the same rows and checksum right after recovery" same rows "$(sig "$P" app m)" "$M0"
# Each old partition wholly heap (no state row) or wholly compressed (heap empty, the batches hold every
# row the partition reads): partition:form.
form_sql="SELECT string_agg(c.oid::regclass || ':' || CASE WHEN cp.leaf IS NULL THEN 'heap'
            WHEN pg_relation_size(c.oid) = 0 AND (xpath('/row/s/text()', query_to_xml(format('SELECT sum(_strata_rows) AS s FROM %s', cp.sibling::regclass), false, true, '')))[1]::text::bigint
                 = (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %s', c.oid::regclass), false, true, '')))[1]::text::bigint
            THEN 'compressed' ELSE 'mixed' END, ' ' ORDER BY 1)
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid LEFT JOIN strata.columnar_partition cp ON cp.leaf = c.oid
          WHERE i.inhparent = 'm'::regclass AND c.oid = ANY ('{$(echo "$MPARTS" | tr ' ' ',')}'::regclass[])"
not_mixed() { local r; r=$(q "$form_sql"); echo "# right after recovery: $r"; ! grep -q mixed <<<"$r"; }
check "... every old partition is wholly heap or wholly compressed" not_mixed
check "the job cut short by the kill is marked crashed" wait_for 20 "SELECT status FROM strata.job_runs WHERE id = $JOB" crashed
check "the new worker compresses every partition older than compress_after" \
  wait_for 60 "SELECT count(*) FROM strata.compressed_partitions WHERE parent = 'm'::regclass" 3
check "... wholly: heap empty, the batches hold every row" \
  same form "$(q "$form_sql")" "$(for p in $MPARTS; do echo "$p:compressed"; done | sort | paste -sd' ')"
check "... the same rows and checksum, per partition too" \
  same rows "$(sig "$P" app m)|$(q "SELECT string_agg(tableoid::regclass || ':' || n, ' ' ORDER BY 1) FROM (SELECT tableoid, count(*) AS n FROM m GROUP BY 1) c")" "$M0|$MPER0"
check "the later jobs are ok, with rows and bytes in their details (the killed partition's too)" \
  same jobs "$(q "SELECT count(DISTINCT target) || '/' || bool_and((details->>'rows')::bigint = 300000 AND (details->>'bytes_after')::bigint > 0
                   AND (details->>'bytes_before')::bigint > (details->>'bytes_after')::bigint) || '/' || count(*) FILTER (WHERE target = '$JOBT')
              FROM strata.job_runs WHERE job_kind = 'columnar_compress' AND id > $JOB AND status = 'ok'")" "3/true/1"
check "no columnar_compress job failed" same failed "$(q "SELECT count(*) FROM strata.job_runs WHERE job_kind = 'columnar_compress' AND status = 'failed'")" 0

################################################################################ set-up: standby, subscriber
# The physical standby replays everything from here on (3.'s conversions come by WAL).
mkdir -p "$SBY" && chmod 755 "$SBY"
[ "$(id -u)" = 0 ] && chown postgres: "$SBY"
"${AS_PG[@]}" "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$P" -U postgres -D "$SBY/data" -R -X stream -c fast >/dev/null 2>&1
{ echo "port = $SP"; echo "unix_socket_directories = '$SBY'"; echo "hot_standby = on"; } >>"$SBY/data/postgresql.conf"
cluster_startonly "$SBY" || exit 1
# Caught up: the standby replayed the primary's current WAL position.
sby_caught_up() {
  local lsn
  lsn=$(q "SELECT pg_current_wal_lsn()")
  wait_at "$SP" app 30 "SELECT pg_last_wal_replay_lsn() >= '$lsn'" t
}

# ev: a partition set with a rollup; ev_ref: a heap copy that gets the same statements.
q "CREATE TABLE ev (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, channel int NOT NULL, viewer bigint,
     watch_ms int, label text) PARTITION BY RANGE (ts)"
q "SELECT strata.create_partition_set('ev', 'ts', '1 day', premake => 1, start_partition => ($(day 4))::text)" >/dev/null
q "CREATE INDEX ON ev (id)"
q "CREATE TABLE ev_ref (LIKE ev)"
# Published through the parent: no unique index on compressed partitions, so REPLICA IDENTITY FULL
# (on every partition: UPDATE checks each one it may touch).
ri_full() { for t in ev $(q "SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'ev'::regclass"); do q "ALTER TABLE $t REPLICA IDENTITY FULL"; done; }
ri_full
q "CREATE PUBLICATION pub_ev FOR TABLE ev WITH (publish_via_partition_root = true)"
CONN="host=127.0.0.1 port=$P dbname=app user=postgres"
for d in app app2; do
  PGPORT=$LP DB=postgres q "CREATE DATABASE $d"
  PGOPTIONS="-c client_min_messages=warning" at "$LP" "$d" "CREATE EXTENSION strata"
  at "$LP" "$d" "CREATE TABLE ev (id bigint NOT NULL, ts timestamptz NOT NULL, channel int NOT NULL, viewer bigint, watch_ms int, label text)
                   PARTITION BY RANGE (ts)"
  PGOPTIONS="-c client_min_messages=warning" at "$LP" "$d" \
    "SELECT strata.create_partition_set('ev', 'ts', '1 day', premake => 2, default_partition => true, start_partition => ($(day 5))::text)" >/dev/null
done
# No rows yet: the subscription streams every row (an initial copy of compressed partitions: 6., a
# second subscription).
at "$LP" app "CREATE SUBSCRIPTION sub_ev CONNECTION '$CONN' PUBLICATION pub_ev" 2>/dev/null
# The FOR ALL TABLES publication in allt (its subscriber has strata too: every published table must exist there).
for t in fa $(at "$P" allt "SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'fa'::regclass"); do at "$P" allt "ALTER TABLE $t REPLICA IDENTITY FULL"; done
at "$P" allt "CREATE PUBLICATION pub_all FOR ALL TABLES WITH (publish_via_partition_root = true)"
at "$LP" allt "CREATE SUBSCRIPTION sub_all CONNECTION 'host=127.0.0.1 port=$P dbname=allt user=postgres' PUBLICATION pub_all" 2>/dev/null

################################################################################ 3. DML into compressed partitions, rollup
for k in 4 3 2; do
  q "INSERT INTO ev (ts, channel, viewer, watch_ms, label) SELECT $(day $k) + (g * 2) * interval '1 s', g % 5, g % 700, (g * 7919) % 10000,
       'l' || (g % 6) FROM generate_series(1, 40000) g"
done
q "INSERT INTO ev (ts, channel, viewer, watch_ms, label) SELECT $(day 0) + g * interval '1 s', g % 5, g % 700, g % 1000, 'l' || (g % 6)
     FROM generate_series(1, 3000) g"
q "INSERT INTO ev_ref SELECT * FROM ev"
q "SELECT strata.create_rollup('hourly', \$\$SELECT date_trunc('hour', ts) AS bucket, channel, count(*) AS views,
     sum(watch_ms) AS watch, min(watch_ms) AS shortest, max(watch_ms) AS longest, strata.hll_agg(viewer) AS viewers
     FROM ev GROUP BY 1, 2\$\$, refresh_interval => '200 ms')" >/dev/null
caught_up="SELECT bool_and(lag_rows IS NOT DISTINCT FROM 0 OR lag_rows IS NULL) AND bool_and(pending_buckets = 0) AND bool_and(backfill_done) FROM strata.rollups"
rollup_diff="SELECT count(*) FROM (
  (SELECT bucket, channel, views, watch, shortest, longest, viewers::text FROM hourly_data
   EXCEPT ALL SELECT date_trunc('hour', ts), channel, count(*), sum(watch_ms), min(watch_ms), max(watch_ms), strata.hll_agg(viewer)::text
   FROM ev GROUP BY 1, 2)
  UNION ALL
  (SELECT date_trunc('hour', ts), channel, count(*), sum(watch_ms), min(watch_ms), max(watch_ms), strata.hll_agg(viewer)::text
   FROM ev GROUP BY 1, 2
   EXCEPT ALL SELECT bucket, channel, views, watch, shortest, longest, viewers::text FROM hourly_data)) d"
rollup_exact() { wait_for 60 "$caught_up" t && sleep 0.5 && wait_for 30 "$caught_up" t && wait_for 10 "$rollup_diff" 0; }
sub_equal() { wait_at "$LP" app 60 "SELECT count(*) || '/' || COALESCE(sum(hashtext(t::text)), 0) FROM ev t" "$(sig "$P" app ev)"; }
check "before compression: the rollup equals GROUP BY over the raw rows" rollup_exact
check "... the subscriber has the publisher's rows" sub_equal
EV0=$(sig "$P" app ev)
q "SELECT strata.alter_partition_set('ev', compress_after => '1 day', compress_segment_by => ARRAY['channel'], compress_order_by => 'ts')" >/dev/null
check "the policy: the worker compresses the three old partitions" \
  wait_for 60 "SELECT count(*) FROM strata.compressed_partitions WHERE parent = 'ev'::regclass AND rows = 40000" 3
check "... the same rows and checksum" same rows "$(sig "$P" app ev)" "$EV0"
check "... the policy is recorded" same policy "$(q "SELECT compress_after || '/' || segment_by::text || '/' || order_by FROM strata.columnar_policy WHERE parent = 'ev'::regclass")" "1 day/{channel}/ts"

# The same statements on ev and ev_ref.
both() { q "${1//@T@/ev}" >/dev/null && q "${1//@T@/ev_ref}" >/dev/null; }
ri_full
# Late enrichment, a cross-partition move into another compressed partition, deletes.
both "UPDATE @T@ SET watch_ms = watch_ms + 7, label = 'enriched' WHERE channel = 2 AND ts >= $(day 3) AND ts < $(day 3) + interval '6 hours'"
both "UPDATE @T@ SET ts = ts - interval '1 day' WHERE id % 101 = 0 AND ts >= $(day 3) AND ts < $(day 2)"
both "DELETE FROM @T@ WHERE channel = 1 AND ts >= $(day 2) AND ts < $(day 2) + interval '3 hours'"
both "DELETE FROM @T@ WHERE channel = 4 AND id % 997 = 0"
# Late inserts into compressed partitions (ids from ev's identity, copied).
MAXID=$(q "SELECT max(id) FROM ev")
q "INSERT INTO ev (ts, channel, viewer, watch_ms, label) SELECT $(day 4) + g * interval '7 s', g % 5, g, g, 'late' FROM generate_series(1, 1500) g"
q "INSERT INTO ev (ts, channel, viewer, watch_ms, label) SELECT $(day 3) + g * interval '13 s', 3, g, g, 'late' FROM generate_series(1, 500) g"
q "INSERT INTO ev_ref SELECT * FROM ev WHERE id > $MAXID"
# A rolled-back UPDATE (its moves are rolled back too) and a SELECT FOR UPDATE.
q "BEGIN; UPDATE ev SET watch_ms = 0 WHERE channel = 3 AND ts < $(day 1); ROLLBACK"
q "BEGIN; SELECT id FROM ev WHERE channel = 0 AND ts >= $(day 4) AND ts < $(day 4) + interval '1 hour' FOR UPDATE; COMMIT" >/dev/null
check "after UPDATE, DELETE, late INSERT (and a rollback): the same rows as the heap copy" same rows "$(sig "$P" app ev)" "$(sig "$P" app ev_ref)"
check "... per partition too" \
  same rows "$(q "SELECT string_agg(n::text, ' ' ORDER BY d) FROM (SELECT date_trunc('day', ts) AS d, count(*) || '/' || sum(hashtext(t::text)) AS n FROM ev t GROUP BY 1) x")" \
            "$(q "SELECT string_agg(n::text, ' ' ORDER BY d) FROM (SELECT date_trunc('day', ts) AS d, count(*) || '/' || sum(hashtext(t::text)) AS n FROM ev_ref t GROUP BY 1) x")"
batched="(xpath('/row/s/text()', query_to_xml(format('SELECT COALESCE(sum(_strata_rows), 0) AS s FROM %s', cp.sibling::regclass), false, true, '')))[1]::text::bigint"
ev_forms="SELECT string_agg(leaf::regclass || ':' || rows || ':' || $batched || ':' || pg_relation_size(leaf), ' ' ORDER BY leaf) FROM strata.columnar_partition cp
          JOIN pg_inherits i ON i.inhrelid = cp.leaf AND i.inhparent = 'ev'::regclass"
# Every partition had batches moved; day 3's all of them (the cross-partition UPDATE's quals select a
# row of each), days 4 and 2 kept the batches no statement selected.
moved_some() {
  local r
  r=$(q "SELECT count(*) FILTER (WHERE $batched < cp.rows AND pg_relation_size(cp.leaf) > 0) || '/' || count(*) FILTER (WHERE $batched > 0)
         FROM strata.columnar_partition cp JOIN pg_inherits i ON i.inhrelid = cp.leaf AND i.inhparent = 'ev'::regclass")
  [ "$r" = 3/2 ] || { echo "# partition:rows at compression:rows batched now:heap bytes: $(q "$ev_forms")" >&2; return 1; }
}
check "... the touched batches were moved to the heap, the others stayed" moved_some
check "... the rollup equals GROUP BY over the raw rows" rollup_exact
check "... the subscriber has the publisher's rows" sub_equal

# Recompression: the heap parts pass 1% of the batched rows.
q "ALTER SYSTEM SET strata.recompress_fraction = 0.01" && q "SELECT pg_reload_conf()" >/dev/null
check "with strata.recompress_fraction = 0.01 the worker compresses the three partitions again" \
  wait_for 60 "SELECT count(*) FROM strata.compressed_partitions WHERE parent = 'ev'::regclass AND compressions >= 2 AND pg_relation_size(partition) = 0" 3
check "... its jobs say why, and are ok" \
  same jobs "$(q "SELECT count(DISTINCT target) FROM strata.job_runs WHERE job_kind = 'columnar_compress' AND status = 'ok' AND message LIKE '%moved back since compressed%'")" 3
check "... the same rows as the heap copy" same rows "$(sig "$P" app ev)" "$(sig "$P" app ev_ref)"
check "... the batches hold every row of the partitions" \
  same rows "$(q "SELECT sum(rows) FROM strata.compressed_partitions WHERE parent = 'ev'::regclass")" "$(q "SELECT count(*) FROM ev_ref WHERE ts < $(day 1)")"
check "... the rollup equals GROUP BY over the raw rows" rollup_exact
q "ALTER SYSTEM SET strata.recompress_fraction = 1000" && q "SELECT pg_reload_conf()" >/dev/null

################################################################################ 4. physical standby
agg_sql="SELECT string_agg(x, ' ' ORDER BY x) FROM (SELECT channel || ':' || count(*) || ':' || sum(watch_ms) || ':' || sum(hashtext(t::text)) AS x
         FROM ev t WHERE ts < $(day 1) GROUP BY channel) s"
sby_same() { sby_caught_up && same standby "$(at "$SP" app "$agg_sql")|$(sig "$SP" app ev)" "$(q "$agg_sql")|$(sig "$P" app ev)"; }
check "the standby replays the conversions and reads the compressed partitions: the primary's aggregates" sby_same
check "... through the custom scan" uses_scan "$SP" "SELECT sum(watch_ms) FROM ev WHERE ts < $(day 1)"
both "UPDATE @T@ SET watch_ms = watch_ms * 2 WHERE channel = 0 AND ts >= $(day 4) AND ts < $(day 4) + interval '8 hours'"
check "after an UPDATE on the primary moved batches, the standby agrees" sby_same
check "... and the primary still equals the heap copy" same rows "$(sig "$P" app ev)" "$(sig "$P" app ev_ref)"

################################################################################ 6. logical replication
D3P=$(q "SELECT tableoid::regclass FROM ev WHERE ts >= $(day 3) AND ts < $(day 2) LIMIT 1")
check "decompress_partition moves every row back" \
  same rows "$(q "SELECT strata.decompress_partition('$D3P')")" "$(q "SELECT count(*) FROM ev_ref WHERE ts >= $(day 3) AND ts < $(day 2)")"
both "UPDATE @T@ SET label = 'after decompress' WHERE channel = 3 AND ts >= $(day 3) AND ts < $(day 3) + interval '1 hour'"
check "after compression, DML and decompress_partition the subscriber has exactly the publisher's rows" sub_equal
check "... the publisher equals its heap copy" same rows "$(sig "$P" app ev)" "$(sig "$P" app ev_ref)"
check "... the subscription is enabled, with no apply or sync error" \
  same sub "$(at "$LP" app "SELECT s.subenabled || '/' || st.apply_error_count || '/' || st.sync_error_count || '/' || (SELECT count(*) FROM pg_stat_subscription w WHERE w.subid = s.oid AND w.pid IS NOT NULL)
                              FROM pg_subscription s JOIN pg_stat_subscription_stats st ON st.subid = s.oid WHERE s.subname = 'sub_ev'")" "true/0/0/1"
check "... no batch table on the subscriber, none in the publication" \
  same batches "$(at "$LP" app "$no_batch_tables")/$(q "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'pub_ev' AND schemaname = 'strata'")" "0/0"
check "the standby agrees after the decompression too" sby_same
# A subscription made now copies the table first (COPY of compressed partitions reads the batches).
at "$LP" app2 "CREATE SUBSCRIPTION sub_ev2 CONNECTION '$CONN' PUBLICATION pub_ev" 2>/dev/null
check "a new subscription's initial copy (partitions compressed) gets every row" \
  wait_at "$LP" app2 30 "SELECT count(*) || '/' || COALESCE(sum(hashtext(t::text)), 0) FROM ev t" "$(sig "$P" app ev)"
check "... its table sync had no error" \
  same sync "$(at "$LP" app2 "SELECT st.sync_error_count FROM pg_subscription s JOIN pg_stat_subscription_stats st ON st.subid = s.oid WHERE s.subname = 'sub_ev2'")" 0
at "$LP" app2 "DROP SUBSCRIPTION sub_ev2" >/dev/null 2>&1

# 6b. FOR ALL TABLES (allt): such a publication would publish strata's batch tables (and a subscriber
# must have every published table), so compression is refused while it exists, and it is refused while
# partitions are compressed; the rows still replicate.
at "$P" allt "INSERT INTO fa SELECT g, $(day 3) + g * interval '3 s', g % 100 FROM generate_series(1, 50000) g"
fa_equal() { wait_at "$LP" allt 60 "SELECT count(*) || '/' || COALESCE(sum(hashtext(t::text)), 0) FROM fa t" "$(sig "$P" allt fa)"; }
check "FOR ALL TABLES: the subscriber has the rows" fa_equal
FA1=$(at "$P" allt "SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'fa'::regclass ORDER BY 1 LIMIT 1")
err=$(at "$P" allt "SELECT strata.compress_partition('$FA1')" 2>&1)
check "... compress_partition is refused while a publication publishes every table" grep -q "publishes every table" <<<"$err"
err=$(at "$P" allt "SELECT strata.alter_partition_set('fa', compress_after => '1 day')" 2>&1)
check "... so is a compression policy" grep -q "publication publishes every table" <<<"$err"
check "... nothing was compressed" same n "$(at "$P" allt "SELECT count(*) FROM strata.columnar_partition")" 0
at "$P" allt "UPDATE fa SET v = v + 1000 WHERE id % 7 = 0 AND ts < $(day 2) + interval '2 hours'"
at "$P" allt "DELETE FROM fa WHERE id % 11 = 0 AND ts >= $(day 2)"
check "... after UPDATE and DELETE the subscriber has exactly the publisher's rows" fa_equal
check "... the subscription is enabled, with no apply error" \
  same sub "$(at "$LP" allt "SELECT s.subenabled || '/' || st.apply_error_count FROM pg_subscription s JOIN pg_stat_subscription_stats st ON st.subid = s.oid WHERE s.subname = 'sub_all'")" "true/0"
check "... no batch table on the subscriber" same batches "$(at "$LP" allt "$no_batch_tables")" 0
check "... no batch table in the FOR ALL TABLES publication" \
  same published "$(at "$P" allt "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'pub_all' AND tablename LIKE '\\_columnar%'")" 0
err=$(at "$LP" allt "ALTER SUBSCRIPTION sub_all REFRESH PUBLICATION WITH (copy_data = false)" 2>&1)
check "... the subscription can be refreshed" same refresh "$err" ""
err=$(at "$P" app "CREATE PUBLICATION pub_every FOR ALL TABLES" 2>&1)
check "a publication of every table is refused while partitions are compressed" grep -q "cannot publish every table" <<<"$err"
# On a subscriber, apply finds the rows of UPDATE and DELETE by reading the heap: its subscribed
# partitions are not compressed.
LEV=$(at "$LP" app "SELECT i.inhrelid::regclass FROM pg_inherits i JOIN pg_partitioned_table pt ON pt.partrelid = i.inhparent
                   WHERE i.inhparent = 'ev'::regclass AND i.inhrelid <> pt.partdefid ORDER BY 1 LIMIT 1")
err=$(at "$LP" app "SELECT strata.compress_partition('$LEV')" 2>&1)
check "compress_partition of a subscription's target is refused" grep -q "target of a subscription" <<<"$err" ||
  echo "# got: $err"

################################################################################ 5. pg_dump / pg_restore
EVD=$(sig "$P" app ev) MD=$(sig "$P" app m) BIGD=$(sig "$P" app big)
POLICY=$(q "SELECT string_agg(parent || '/' || compress_after || '/' || segment_by::text || '/' || COALESCE(order_by, '-'), ' ' ORDER BY parent::text) FROM strata.columnar_policy")
"$PGBIN/pg_dump" -h 127.0.0.1 -p "$P" -U postgres -Fc -f "$DIR/app.dump" app 2>"$DIR/dump.err"
dump_ok() { test -s "$DIR/app.dump" && no_error_in "$DIR/dump.err"; }
check "pg_dump -Fc of the database with compressed partitions succeeds" dump_ok
PGPORT=$P q "CREATE DATABASE restored"
"$PGBIN/pg_restore" -h 127.0.0.1 -p "$P" -U postgres -d restored "$DIR/app.dump" 2>"$DIR/restore.err"
check "pg_restore into a new database reports no error" no_error_in "$DIR/restore.err"
check "the restored parents have the same rows and checksum" \
  same rows "$(sig "$P" restored ev)|$(sig "$P" restored m)|$(sig "$P" restored big)" "$EVD|$MD|$BIGD"
check "... their partitions are heaps: no compressed partition, no batch table" \
  same heap "$(at "$P" restored "SELECT count(*) FROM strata.columnar_partition")/$(at "$P" restored "$no_batch_tables")" "0/0"
check "... the policies are restored" \
  same policy "$(at "$P" restored "SELECT string_agg(parent || '/' || compress_after || '/' || segment_by::text || '/' || COALESCE(order_by, '-'), ' ' ORDER BY parent::text) FROM strata.columnar_policy")" "$POLICY"
q "ALTER SYSTEM SET strata.databases = 'app, restored'" && q "SELECT pg_reload_conf()" >/dev/null
check "the restored database's worker compresses the partitions its policies cover again" \
  wait_at "$P" restored 60 "SELECT count(*) FROM strata.compressed_partitions WHERE rows > 0" 6
check "... the same rows and checksum" \
  same rows "$(sig "$P" restored ev)|$(sig "$P" restored m)|$(sig "$P" restored big)" "$EVD|$MD|$BIGD"
"$PGBIN/pg_dump" -h 127.0.0.1 -p "$P" -U postgres --schema-only -f "$DIR/schema.sql" app 2>"$DIR/schema_dump.err"
PGPORT=$P q "CREATE DATABASE schema_only"
"$PGBIN/psql" -h 127.0.0.1 -p "$P" -U postgres -d schema_only -X -q -v ON_ERROR_STOP=1 -f "$DIR/schema.sql" >/dev/null 2>"$DIR/schema_restore.err"
check "pg_dump --schema-only restores without error into another new database" no_error_in "$DIR/schema_dump.err" "$DIR/schema_restore.err"
check "... with the tables and no batch table" \
  same tables "$(at "$P" schema_only "SELECT count(*) FROM pg_class WHERE relname IN ('ev', 'm', 'big')")/$(at "$P" schema_only "$no_batch_tables")" "3/0"

check "no strata worker or backend crashed beyond the kills of this test" \
  same crashes "$(grep -c 'terminated by signal' "$DIR/server.log")" 5
finish
