#!/usr/bin/env bash
# Partition management benchmark: strata vs bare native partitioning vs pg_partman (Debian
# postgresql-15-partman), measured side by side in one run on one throwaway cluster. Prints ratios;
# the machine is shared and noisy, so compare columns, do not quote absolute times.
#   ROWS     rows per ingest round (default 2000000)    ROUNDS  ingest rounds, alternated (default 3)
#   SETS     partition sets for the maintenance pass (default 500)
#   SECONDS_LAT  seconds of insert-latency measurement per mode (default 15)
# Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-2000000}
ROUNDS=${ROUNDS:-3}
SETS=${SETS:-500}
SECONDS_LAT=${SECONDS_LAT:-15}
source test/cluster/lib.sh
source bench/lib.sh
bench_prepare postgresql-15-partman
DIR=$(mktemp -d /tmp/strata-bench.XXXXXX)
export PGPORT=${PGPORT:-25700} DB=bench
trap 'cluster_stop "$DIR" immediate; rm -rf "$DIR"' EXIT
cluster_start "$DIR" "$PGPORT" "shared_buffers = 1GB" "max_wal_size = 8GB" "checkpoint_timeout = 30min" \
  "strata.naptime = 3600" "max_locks_per_transaction = 1024" "autovacuum = off" >/dev/null
q -d postgres "CREATE DATABASE bench" && q "CREATE EXTENSION strata" && q "CREATE SCHEMA partman" && q "CREATE EXTENSION pg_partman SCHEMA partman"

ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", (b > 0 ? a / b : 0)}'; }

echo "== setup: three identical event tables with 31 daily partitions (+ today and premake ahead)"
for t in native strata partman; do
  q "CREATE TABLE ev_$t (video_id bigint, viewer_id bigint, ts timestamptz NOT NULL, watch_ms int, kind text) PARTITION BY RANGE (ts)"
  q "CREATE INDEX ON ev_$t (video_id)"
done
q "DO \$\$ BEGIN FOR d IN 0..34 LOOP EXECUTE format('CREATE TABLE ev_native_%s PARTITION OF ev_native FOR VALUES FROM (%L) TO (%L)',
     d, date_trunc('day', now(), 'UTC') - (d - 4) * interval '1 day', date_trunc('day', now(), 'UTC') - (d - 5) * interval '1 day'); END LOOP; END \$\$"
q "SELECT strata.create_partition_set('ev_strata', 'ts', '1 day', premake => 4, start_partition => (now() - interval '30 days')::text)" >/dev/null
q "SELECT partman.create_parent('public.ev_partman', 'ts', 'native', 'daily', p_premake := 4, p_start_partition := (now() - interval '30 days')::text)" >/dev/null
for t in native strata partman; do
  echo "   ev_$t: $(q "SELECT count(*) FROM pg_inherits WHERE inhparent = 'ev_$t'::regclass") partitions"
done
q "CREATE UNLOGGED TABLE src AS SELECT (random() * 1000000)::bigint AS video_id, (random() * 5000000)::bigint AS viewer_id,
     now() - random() * interval '30 days' AS ts, (exp(random() * 8))::int AS watch_ms, 'view'::text AS kind
     FROM generate_series(1, $ROWS)"
q "COPY src TO '$DIR/src.csv' WITH (FORMAT csv)" && chmod a+r "$DIR/src.csv"

INS_ROWS=$(( ROWS < 500000 ? ROWS : 500000 ))
for t in native strata partman; do  # 1000-row INSERT ... VALUES statements, the way batching clients send them
  head -n "$INS_ROWS" "$DIR/src.csv" | awk -F, -v t="ev_$t" '
    NR % 1000 == 1 { if (NR > 1) print ";"; printf "INSERT INTO %s VALUES ", t }
    { if (NR % 1000 != 1) printf ","; printf "(%s,%s,'\''%s'\'',%s,'\''%s'\'')", $1, $2, $3, $4, $5 }
    END { print ";" }' >"$DIR/ins_$t.sql"
done
echo "== ingest: COPY of $ROWS rows and $INS_ROWS rows as 1000-row multi-row INSERTs, $ROUNDS rounds, order rotated"
declare -A copy_ms insert_ms
for r in $(seq 1 "$ROUNDS"); do
  order=(native strata partman); [ $((r % 3)) = 2 ] && order=(strata partman native); [ $((r % 3)) = 0 ] && order=(partman native strata)
  for t in "${order[@]}"; do
    q "TRUNCATE ev_$t"; q "CHECKPOINT"
    s=$(ms); q "COPY ev_$t FROM '$DIR/src.csv' WITH (FORMAT csv)"; copy_ms[$t]+="$(( $(ms) - s )) "
    q "TRUNCATE ev_$t"; q "CHECKPOINT"
    s=$(ms); "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d bench -X -q -v ON_ERROR_STOP=1 -f "$DIR/ins_$t.sql" >/dev/null
    insert_ms[$t]+="$(( $(ms) - s )) "
  done
done
declare -A CM IM
for t in native strata partman; do
  CM[$t]=$(echo ${copy_ms[$t]} | tr ' ' '\n' | median); IM[$t]=$(echo ${insert_ms[$t]} | tr ' ' '\n' | median)
done
printf "   %-8s COPY median %6s ms  ratio vs native %s   | multi-row INSERT median %6s ms  ratio vs native %s\n" \
  native "${CM[native]}" 1.000 "${IM[native]}" 1.000
for t in strata partman; do
  printf "   %-8s COPY median %6s ms  ratio vs native %s   | multi-row INSERT median %6s ms  ratio vs native %s\n" \
    $t "${CM[$t]}" "$(ratio "${CM[$t]}" "${CM[native]}")" "${IM[$t]}" "$(ratio "${IM[$t]}" "${IM[native]}")"
done

echo "== maintenance pass over $SETS sets (daily, premake 4, 8 partitions each)"
q "DO \$\$ BEGIN FOR i IN 1..$SETS LOOP
     EXECUTE format('CREATE TABLE s_%s (id bigint, ts timestamptz NOT NULL) PARTITION BY RANGE (ts)', i);
     EXECUTE format('CREATE TABLE p_%s (id bigint, ts timestamptz NOT NULL) PARTITION BY RANGE (ts)', i);
   END LOOP; END \$\$"
for i in $(seq 1 "$SETS"); do
  echo "SELECT strata.create_partition_set('s_$i', 'ts', '1 day', premake => 4, start_partition => (now() - interval '3 days')::text);"
  echo "SELECT partman.create_parent('public.p_$i', 'ts', 'native', 'daily', p_premake := 4, p_start_partition := (now() - interval '3 days')::text);"
done | "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d bench -X -q -v ON_ERROR_STOP=1 >/dev/null
time_sql() { local s; s=$(ms); q "$1" >/dev/null; echo $(( $(ms) - s )); }
idle_s=(); idle_p=()
for r in 1 2 3; do
  idle_s+=("$(time_sql "SELECT count(*) FROM strata.run_maintenance()")")
  idle_p+=("$(time_sql "SELECT partman.run_maintenance(p_analyze := false)")")
done
IS=$(printf '%s\n' "${idle_s[@]}" | median); IP=$(printf '%s\n' "${idle_p[@]}" | median)
printf "   nothing due:        strata %6s ms (%s ms/set)   pg_partman %6s ms (%s ms/set)   pg_partman/strata = %s\n" \
  "$IS" "$(awk -v a="$IS" -v n="$SETS" 'BEGIN{printf "%.3f", a/n}')" "$IP" "$(awk -v a="$IP" -v n="$SETS" 'BEGIN{printf "%.3f", a/n}')" "$(ratio "$IP" "$IS")"
due_s=(); due_p=()
for r in 1 2 3; do
  # Make exactly one partition per set due: drop each set's newest partition.
  q "DO \$\$ DECLARE r record; BEGIN FOR r IN SELECT (SELECT c.oid::regclass FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = t.oid AND NOT c.relname LIKE '%default' ORDER BY c.relname DESC LIMIT 1) AS newest FROM pg_class t
       WHERE t.relkind = 'p' AND (t.relname LIKE 's\_%' OR t.relname LIKE 'p\_%') LOOP EXECUTE format('DROP TABLE %s', r.newest); END LOOP; END \$\$"
  due_s+=("$(time_sql "SELECT count(*) FROM strata.run_maintenance()")")
  due_p+=("$(time_sql "SELECT partman.run_maintenance(p_analyze := false)")")
done
DS=$(printf '%s\n' "${due_s[@]}" | median); DP=$(printf '%s\n' "${due_p[@]}" | median)
printf "   one due per set:    strata %6s ms   pg_partman %6s ms   pg_partman/strata = %s\n" "$DS" "$DP" "$(ratio "$DP" "$DS")"
# The worker's own idle pass, as it runs in the background (its pass time over the same sets).
q "ALTER SYSTEM SET strata.naptime = 1" >/dev/null; q "SELECT pg_reload_conf()" >/dev/null; sleep 4
echo "   worker passes so far: $(q "SELECT passes FROM strata.workers WHERE datname = 'bench'")"

echo "== insert latency p50/p99 (single-row INSERTs, 4 clients, ${SECONDS_LAT}s) without and with maintenance churning"
cat >"$DIR/ins.sql" <<'SQL'
\set v random(1, 1000000)
INSERT INTO ev_strata VALUES (:v, :v, now() - random() * interval '2 days', 100, 'view');
SQL
q "ALTER SYSTEM SET strata.naptime = 3600" >/dev/null; q "SELECT pg_reload_conf()" >/dev/null
lat() {  # prints p50 p99 in ms from a pgbench per-transaction log
  cat "$DIR"/lat.* | awk '{print $3/1000}' | sort -n | awk '{a[NR]=$1} END {printf "%.3f %.3f", a[int(NR*0.5)], a[int(NR*0.99)]}'
}
run_pgbench() { rm -f "$DIR"/lat.*; (cd "$DIR" && "$PGBIN/pgbench" -h 127.0.0.1 -p "$PGPORT" -U postgres -n -c 4 -j 2 -T "$SECONDS_LAT" -l --log-prefix=lat -f ins.sql bench >/dev/null 2>&1); }
run_pgbench; read -r b50 b99 <<<"$(lat)"
# Churn: every 200 ms drop a premade future partition of ev_strata and all 500 small sets' newest, and
# let strata recreate them (creation = CREATE + ATTACH, SHARE UPDATE EXCLUSIVE on the parent).
( end=$((SECONDS + SECONDS_LAT)); while [ $SECONDS -lt $end ]; do
    q "DO \$\$ DECLARE r regclass; BEGIN SELECT c.oid::regclass INTO r FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'ev_strata'::regclass ORDER BY c.relname DESC LIMIT 1; EXECUTE format('DROP TABLE %s', r); END \$\$" >/dev/null 2>&1
    q "SELECT count(*) FROM strata.run_maintenance('ev_strata')" >/dev/null 2>&1; sleep 0.2; done ) &
churn=$!
run_pgbench; read -r m50 m99 <<<"$(lat)"
wait $churn || true
printf "   without maintenance: p50 %s ms  p99 %s ms\n   with maintenance:    p50 %s ms  p99 %s ms   p99 ratio = %s\n" \
  "$b50" "$b99" "$m50" "$m99" "$(ratio "$m99" "$b99")"
