#!/usr/bin/env bash
# Ingest health (src/health/README.md) on a live cluster with the worker at work: an idle-in-transaction
# session holding the xmin horizon while writers update, a prepared transaction and a logical replication
# slot each listed in strata.horizon_holders with one WARNING (not one per pass) and gone when they end; a
# DDL waiting behind a long reader with an insert queued behind it recorded with its root blocker; a set
# whose premade partitions run out flagged before an insert fails.
set -u
KEEP_LOG=${KEEP_LOG:-}
source "$(dirname "$0")/lib.sh"
DIR=$(mktemp -d /tmp/strata-t26.XXXXXX)
export PGPORT=${PGPORT_BASE:-27600}
BG=()
trap 'for p in "${BG[@]}"; do kill "$p" 2>/dev/null; done; cluster_stop "$DIR" immediate; [ -n "$KEEP_LOG" ] && cp "$DIR/server.log" "$KEEP_LOG"; rm -rf "$DIR"' EXIT
cluster_start "$DIR" "$PGPORT" "strata.naptime = 1" "max_prepared_transactions = 5" "wal_level = logical" \
  "strata.health_horizon_age = 2" "strata.health_lock_wait = 300" "log_min_messages = warning" || exit 1
q "CREATE DATABASE app"
export DB=app
q "CREATE EXTENSION strata"
q "CREATE TABLE ev (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, v int) PARTITION BY RANGE (ts)"
q "SELECT strata.create_partition_set('ev', 'ts', '1 day', premake => 3, start_partition => (now() - interval '1 day')::text)" >/dev/null  # the rows below reach 33 minutes back: yesterday's partition too, after midnight
q "CREATE INDEX ON ev (ts)"
q "INSERT INTO ev (ts, v) SELECT now() - g * interval '1 second', g FROM generate_series(1, 2000) g"
LOG="$DIR/server.log"
warnings() { grep -c "WARNING:  strata: $1 " "$LOG"; }
# A session with its own psql, fed from a fifo kept open: it stays idle after its statements.
session() {  # session NAME: starts it; say NAME SQL sends SQL; its pid is in $DIR/NAME.pid
  mkfifo "$DIR/$1.in"
  "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d app -X -q -At <"$DIR/$1.in" >"$DIR/$1.out" 2>&1 &
  BG+=($!)
  exec {fd}>"$DIR/$1.in"
  eval "FD_$1=$fd"
  echo "SELECT pg_backend_pid() \\g $DIR/$1.pid" >&"$fd"
  for _ in $(seq 1 50); do [ -s "$DIR/$1.pid" ] && break; sleep 0.1; done
}
say() { local fd; eval "fd=\$FD_$1"; echo "$2" >&"$fd"; }
end_session() { local fd; eval "fd=\$FD_$1"; exec {fd}>&-; }

# 1. An idle-in-transaction session holds the horizon while writers update.
session idle
IDLE=$(cat "$DIR/idle.pid")
say idle "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM ev;"
for i in $(seq 1 8); do q "UPDATE ev SET v = v + 1 WHERE id % 4 = $((i % 4))"; sleep 0.5; done
check "the idle session is a horizon holder, with its pid and age" wait_for 20 \
  "SELECT count(*) FROM strata.horizon_holders WHERE kind = 'session' AND pid = $IDLE AND state = 'idle in transaction' AND held_for > interval '2 s'" 1
check "the watched table's dead tuples grow and cannot be removed" wait_for 20 \
  "SELECT dead_tuples > 1000 FROM strata.ingest_health WHERE relation = 'ev'::regclass" t
q "VACUUM ev"
check "a vacuum removes none of them while it holds" test "$(q "SELECT dead_tuples > 1000 FROM strata.ingest_health")" = t
check "the condition is open" wait_for 20 "SELECT count(*) FROM strata.health_alerts WHERE condition = 'horizon:session:$IDLE'" 1
sleep 4   # several passes more
check "exactly one WARNING for it, not one per pass" test "$(warnings "session $IDLE")" = 1
end_session idle
check "the session gone, it is no holder any more" wait_for 20 \
  "SELECT count(*) FROM strata.horizon_holders WHERE pid = $IDLE" 0
check "and its alert clears" wait_for 20 "SELECT count(*) FROM strata.health_alerts WHERE condition LIKE 'horizon:session:%'" 0

# 2. A prepared transaction.
q "BEGIN; UPDATE ev SET v = 0 WHERE id = 1; PREPARE TRANSACTION 'forgotten'"
check "the prepared transaction is a horizon holder" wait_for 20 \
  "SELECT count(*) FROM strata.horizon_holders WHERE kind = 'prepared transaction' AND application = 'forgotten'" 1
check "one WARNING names it" wait_for 20 "SELECT count(*) FROM strata.health_alerts WHERE condition = 'horizon:prepared transaction:forgotten'" 1
sleep 3
check "exactly one WARNING for it" test "$(warnings "prepared transaction 'forgotten'")" = 1
q "COMMIT PREPARED 'forgotten'"
check "committed, it is gone" wait_for 20 "SELECT count(*) FROM strata.horizon_holders WHERE kind = 'prepared transaction'" 0

# 3. An inactive logical replication slot.
q "SELECT pg_create_logical_replication_slot('lagging', 'test_decoding')" >/dev/null
check "the slot is a horizon holder (catalog rows)" wait_for 20 \
  "SELECT count(*) FROM strata.horizon_holders WHERE kind = 'replication slot' AND application = 'lagging' AND state LIKE 'inactive%'" 1
check "one WARNING names it" wait_for 20 "SELECT count(*) FROM strata.health_alerts WHERE condition = 'horizon:replication slot:lagging'" 1
sleep 3
check "exactly one WARNING for it" test "$(warnings "replication slot 'lagging'")" = 1
q "SELECT pg_drop_replication_slot('lagging')" >/dev/null
check "dropped, it is gone" wait_for 20 "SELECT count(*) FROM strata.horizon_holders WHERE kind = 'replication slot'" 0

# 4. A DDL waits behind a long reader; an insert queues behind the DDL.
session reader
READER=$(cat "$DIR/reader.pid")
say reader "BEGIN; SELECT count(*) FROM ev;"
wait_for 20 "SELECT count(*) > 0 FROM pg_locks WHERE pid = $READER AND relation = 'ev'::regclass AND granted" t >/dev/null
session ddl
DDL=$(cat "$DIR/ddl.pid")
say ddl "ALTER TABLE ev ADD COLUMN note text;"
wait_for 20 "SELECT count(*) > 0 FROM pg_locks WHERE pid = $DDL AND NOT granted" t >/dev/null
session writer
WRITER=$(cat "$DIR/writer.pid")
say writer "INSERT INTO ev (ts, v) VALUES (now(), 1);"
check "the insert's wait is recorded with the reader as its root blocker" wait_for 20 \
  "SELECT count(*) FROM strata.lock_waits WHERE waiting_pid = $WRITER AND root_pid = $READER" 1
check "the chain goes through the DDL" test "$(q "SELECT chain @> '[{\"pid\": $DDL}]' FROM strata.lock_waits WHERE waiting_pid = $WRITER")" = t
check "the DDL's own wait is recorded too" test "$(q "SELECT count(*) FROM strata.lock_waits WHERE waiting_pid = $DDL AND root_pid = $READER")" = 1
q "SELECT summary FROM strata.lock_waits WHERE waiting_pid = $WRITER" | sed 's/^/# /'
check "one alert for the queue, naming its root blocker" wait_for 20 "SELECT count(*) FROM strata.health_alerts WHERE condition LIKE 'lock:%:$READER'" 1
check "one WARNING for the queue" test "$(grep -c "WARNING:  strata: lock queue on public.ev: .* behind pid $READER" "$LOG")" = 1
say reader "COMMIT;"
check "the queue drains once the reader ends" wait_for 20 "SELECT count(*) FROM ev WHERE v = 1 AND ts > now() - interval '1 minute'" 1
end_session reader; end_session ddl; end_session writer
check "the waits' alerts clear" wait_for 20 "SELECT count(*) FROM strata.health_alerts WHERE condition LIKE 'lock:%'" 0
check "the waits stay in the history" test "$(q "SELECT count(*) >= 2 FROM strata.lock_waits")" = t

# 5. A set runs out of premade partitions: rows far ahead move the newest row beyond them; flagged while
#    the next insert still has a partition.
q "CREATE TABLE fut (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL) PARTITION BY RANGE (ts)"
q "SELECT strata.create_partition_set('fut', 'ts', '1 day', premake => 2)" >/dev/null
q "CREATE INDEX ON fut (ts)"
q "SELECT strata.alter_partition_set('fut', enabled => false)" >/dev/null
LAST=$(q "SELECT newest_bound FROM strata.partition_sets WHERE parent = 'fut'::regclass")
q "INSERT INTO fut (ts) VALUES ('$LAST'::timestamptz - interval '1 hour')"
check "the set is flagged: no partition ahead of its newest row" wait_for 20 \
  "SELECT status = 'warning' AND partitions_ahead = 0 FROM strata.ingest_health WHERE relation = 'fut'::regclass" t
check "and alerted" wait_for 20 "SELECT count(*) FROM strata.health_alerts WHERE condition = 'ahead:public.fut'" 1
check "while inserts still succeed" test "$(q "INSERT INTO fut (ts) VALUES ('$LAST'::timestamptz - interval '2 hours') RETURNING 1")" = 1
check "no pass failed" test "$(q "SELECT count(*) FROM strata.workers WHERE last_error <> ''")" = 0
check "no health pass failed" test "$(grep -c "health pass failed" "$LOG")" = 0
finish
