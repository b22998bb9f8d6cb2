#!/usr/bin/env bash
# Vacuum scheduling benchmark: the same partitioned workload on two clusters at once, side by side,
# one with strata's vacuum scheduler and one with autovacuum alone (strata.vacuum_enabled = off).
# Both clusters have autovacuum on with identical settings. Xid consumption is sped up: a stream of
# one-row INSERT transactions (pgbench) and autovacuum_freeze_max_age at its minimum (100,000), so a few
# minutes show several freeze cycles of months of daily partitions (backfilled in one go, as a
# migration would). Prints, for each cluster: the maximum relfrozenxid age of any partition, the
# anti-wraparound autovacuums of partitions, vacuums run, buffers they touched, and the insert latency
# p50/p99, then ratios. Two clusters share the machine, so absolute numbers mean little; compare.
#   DAYS     backfilled daily partitions (default 90)     ROWS_PER_DAY  rows in each (default 20000)
#   DURATION seconds of the insert stream (default 240)    CLIENTS       pgbench clients per cluster (default 2)
#   RATE     insert transactions per second per cluster (default 2000: 100,000 xids every ~50 s)
# Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
DAYS=${DAYS:-90}
ROWS_PER_DAY=${ROWS_PER_DAY:-20000}
SECONDS_RUN=${DURATION:-240}
CLIENTS=${CLIENTS:-2}
RATE=${RATE:-2000}
source test/cluster/lib.sh
source bench/lib.sh
bench_prepare
ROOT=$(mktemp -d /tmp/strata-vbench.XXXXXX)
chmod 755 "$ROOT"
PORT_A=${PORT_A:-25810}
PORT_B=${PORT_B:-25820}
trap 'kill $(jobs -p) 2>/dev/null || true; cluster_stop "$ROOT/a" immediate; cluster_stop "$ROOT/b" immediate; rm -rf "$ROOT"' EXIT
COMMON=("autovacuum = on" "autovacuum_naptime = 5s" "autovacuum_freeze_max_age = 100000"
        "autovacuum_multixact_freeze_max_age = 100000" "log_autovacuum_min_duration = 0" "shared_buffers = 256MB"
        "strata.naptime = 1")
cluster_start "$ROOT/a" "$PORT_A" "${COMMON[@]}" "strata.vacuum_enabled = on" "strata.vacuum_cold_after = 20" \
  "strata.vacuum_max_actions = 20" >/dev/null
cluster_start "$ROOT/b" "$PORT_B" "${COMMON[@]}" "strata.vacuum_enabled = off" >/dev/null
qa() { PGPORT=$PORT_A DB=bench q "$@"; }
qb() { PGPORT=$PORT_B DB=bench q "$@"; }

echo "== setup: $DAYS daily partitions x $ROWS_PER_DAY rows, backfilled, plus today and premade days (both clusters)"
for port in $PORT_A $PORT_B; do
  (
    export PGPORT=$port DB=bench
    q -d postgres "CREATE DATABASE bench"
    q "CREATE EXTENSION strata"
    q "CREATE TABLE events (ts timestamptz NOT NULL, video_id bigint, viewer_id bigint, watch_ms int) PARTITION BY RANGE (ts)"
    q "CREATE INDEX ON events (video_id)"
    q "SELECT strata.create_partition_set('events', 'ts', '1 day', premake => 3, start_partition => (now() - interval '$DAYS days')::text)" >/dev/null
    q "INSERT INTO events SELECT now() - interval '1 day' - (g % $DAYS) * interval '1 day', (random() * 1e6)::bigint,
         (random() * 1e7)::bigint, (exp(random() * 10))::int FROM generate_series(1, $DAYS * $ROWS_PER_DAY) g"
  ) &
done
wait
echo "   partitions: $(qa "SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass")"

cat >"$ROOT/insert.sql" <<'EOF'
INSERT INTO events VALUES (now(), (random() * 1e6)::bigint, (random() * 1e7)::bigint, (exp(random() * 10))::int);
EOF
chmod a+r "$ROOT/insert.sql"
maxage() { PGPORT=$1 DB=bench q "SELECT COALESCE(max(age(c.relfrozenxid)), 0) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass"; }
sample() {  # every 2 s: the oldest partition's age, keep the maximum
  local port=$1 out=$2 m=0 a
  while :; do
    a=$(maxage "$port" 2>/dev/null || echo 0)
    [ "${a:-0}" -gt "$m" ] && m=$a && echo "$m" >"$out"
    sleep 2
  done
}
echo 0 >"$ROOT/maxage_a"; echo 0 >"$ROOT/maxage_b"
sample $PORT_A "$ROOT/maxage_a" & SA=$!
sample $PORT_B "$ROOT/maxage_b" & SB=$!
echo "== insert stream: $CLIENTS clients x ${SECONDS_RUN}s of one-row transactions at $RATE/s on each cluster, at the same time"
mkdir -p "$ROOT/la" "$ROOT/lb"
chmod 777 "$ROOT/la" "$ROOT/lb"
(cd "$ROOT/la" && "$PGBIN/pgbench" -h 127.0.0.1 -p $PORT_A -U postgres -n -M prepared -c "$CLIENTS" -T "$SECONDS_RUN" \
   -R "$RATE" -f "$ROOT/insert.sql" -l bench >"$ROOT/pgbench_a.txt" 2>&1) &
PA=$!
(cd "$ROOT/lb" && "$PGBIN/pgbench" -h 127.0.0.1 -p $PORT_B -U postgres -n -M prepared -c "$CLIENTS" -T "$SECONDS_RUN" \
   -R "$RATE" -f "$ROOT/insert.sql" -l bench >"$ROOT/pgbench_b.txt" 2>&1) &
PB=$!
wait $PA $PB
sleep 3
kill $SA $SB 2>/dev/null || true

pct() { cat "$1"/pgbench_log* | awk '{print $3}' | sort -n | awk -v p="$2" '{a[NR]=$1} END {i=int(NR*p); if (i<1) i=1; printf "%.2f", a[i]/1000}'; }
# Autovacuum of the events partitions, from the server log: runs, anti-wraparound runs, buffers.
avstats() {
  awk '/automatic (aggressive )?vacuum (to prevent wraparound )?of table "bench\.public\.events_p/ {n++; if ($0 ~ /to prevent wraparound/) w++; want=1; next}
       want && /buffer usage:/ {for (i=1;i<=NF;i++) {if ($(i+1) ~ /^hits/) h+=$i; if ($(i+1) ~ /^misses/) m+=$i}}
       want && /WAL usage:/ {for (i=1;i<=NF;i++) if ($(i+1) ~ /^bytes/) b+=$i; want=0}
       END {printf "%d %d %d %d\n", n, w, h+m, b}' "$1/server.log"
}
read -r av_a wrap_a buf_a wal_a <<<"$(avstats "$ROOT/a")"
read -r av_b wrap_b buf_b wal_b <<<"$(avstats "$ROOT/b")"
read -r st_n st_buf st_wal <<<"$(qa "SELECT count(*), COALESCE(sum((buffers->>'hit')::bigint + (buffers->>'read')::bigint), 0),
   COALESCE(sum((buffers->>'wal_bytes')::bigint), 0) FROM strata.vacuum_activity WHERE status = 'ok' AND action LIKE 'vacuum%'" | tr '|' ' ')"
st_kinds=$(qa "SELECT string_agg(action || ' ' || n, ', ') FROM (SELECT action, count(*) n FROM strata.vacuum_activity
   WHERE status = 'ok' GROUP BY 1 ORDER BY 1) s")
tps_a=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$ROOT/pgbench_a.txt" | head -1)
tps_b=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$ROOT/pgbench_b.txt" | head -1)
p50_a=$(pct "$ROOT/la" 0.50); p99_a=$(pct "$ROOT/la" 0.99)
p50_b=$(pct "$ROOT/lb" 0.50); p99_b=$(pct "$ROOT/lb" 0.99)
ma=$(cat "$ROOT/maxage_a"); mb=$(cat "$ROOT/maxage_b")
xa=$(PGPORT=$PORT_A q -d postgres "SELECT txid_current()"); xb=$(PGPORT=$PORT_B q -d postgres "SELECT txid_current()")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }

echo
printf '%-52s %16s %16s %8s\n' "" "with strata" "autovacuum only" "ratio"
printf '%-52s %16s %16s %8s\n' "xids consumed (txid_current at the end)" "$xa" "$xb" "$(ratio "$xa" "$xb")"
printf '%-52s %16s %16s %8s\n' "max relfrozenxid age of a partition (limit 100000)" "$ma" "$mb" "$(ratio "$ma" "$mb")"
printf '%-52s %16s %16s %8s\n' "anti-wraparound autovacuums of partitions" "$wrap_a" "$wrap_b" "-"
printf '%-52s %16s %16s %8s\n' "autovacuum runs on partitions" "$av_a" "$av_b" "$(ratio "$av_a" "$av_b")"
printf '%-52s %16s %16s %8s\n' "strata vacuums (urgent/freeze/hot freeze/dead)" "$st_n" "0" "-"
printf '%-52s %16s %16s %8s\n' "vacuums in all" "$((av_a + st_n))" "$av_b" "$(ratio $((av_a + st_n)) "$av_b")"
printf '%-52s %16s %16s %8s\n' "buffers touched by vacuums (hits + misses)" "$((buf_a + st_buf))" "$buf_b" "$(ratio $((buf_a + st_buf)) "$buf_b")"
printf '%-52s %16s %16s %8s\n' "WAL bytes written by vacuums" "$((wal_a + st_wal))" "$wal_b" "$(ratio $((wal_a + st_wal)) "$wal_b")"
printf '%-52s %16s %16s %8s\n' "insert tps" "$tps_a" "$tps_b" "$(ratio "$tps_a" "$tps_b")"
printf '%-52s %16s %16s %8s\n' "insert latency p50 (ms)" "$p50_a" "$p50_b" "$(ratio "$p50_a" "$p50_b")"
printf '%-52s %16s %16s %8s\n' "insert latency p99 (ms)" "$p99_a" "$p99_b" "$(ratio "$p99_a" "$p99_b")"
echo
echo "strata actions: $st_kinds"
