#!/usr/bin/env bash
# Compressed partitions (src/columnar/README.md) side by side in one run on one throwaway cluster: 30
# daily partitions of video events (ids, a timestamp, counters, a float, a low-cardinality label; rows in
# time order as they arrive) in three forms:
#   heap        the partitions as they are, with their primary key (id, ts);
#   heap lz4    the same with `COMPRESSION lz4` on the label (the no-extension option: TOAST compresses
#               only values over ~2 kB, so narrow rows stay as they are);
#   compressed  a strata partition set whose 30 partitions strata.compress_partition converted (segment_by
#               label, order_by ts; no primary key: a compressed partition cannot keep a unique index).
# Measured: bytes (tables, TOAST and indexes) and the floor (the columns' entropy); reads through the
# parent, unchanged queries (a month's aggregate over three columns, a filtered aggregate on the label, a
# 7-day dashboard, 7 days' totals per label, a point lookup by id and time), each answer compared with
# the heap's; conversion throughput (rows/s on one core) and the p99 of single-row inserts into the hot
# partition during the conversions against a quiet period of the same run; UPDATE of 1% of a compressed
# partition's rows (a time window, and scattered ids), the size after compressing it again; the codecs
# alone.
# TimescaleDB (an anchor; built and installed by hand, never by this script): when its library is installed
# into this PostgreSQL, the same rows also go into a hypertable of daily chunks, compressed with
# compress_chunk (orderby ts, segmentby label), and are measured beside the rest.
# ROWS (default 5000000), REPS (default 5). Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-5000000}
REPS=${REPS:-5}
source test/cluster/lib.sh
source bench/lib.sh
bench_prepare
DIR=$(mktemp -d /tmp/strata-cbench.XXXXXX)
chmod 755 "$DIR"
export PGPORT=${PGPORT:-25820} DB=bench
trap 'cluster_stop "$DIR" immediate; rm -rf "$DIR"' EXIT
TSDB=""
[ -f "$("$PGBIN/pg_config" --pkglibdir)/timescaledb.so" ] && TSDB=1
cluster_start "$DIR" "$PGPORT" "shared_buffers = 2GB" "work_mem = 256MB" "max_parallel_workers_per_gather = 0" \
  "jit = off" "strata.enabled = off" "synchronous_commit = off" "autovacuum = off" \
  "shared_preload_libraries = 'strata${TSDB:+,timescaledb}'" ${TSDB:+"timescaledb.telemetry_level = off"} >/dev/null
q -d postgres "CREATE DATABASE bench"
q "CREATE EXTENSION strata"
# ratio A B and per_second ROWS MS print n/a when a measurement is missing (an empty or zero divisor).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{if (b + 0 > 0 && a != "") printf "%.2f", a/b; else printf "n/a"}'; }
per_second() { awk -v r="$1" -v ms="$2" 'BEGIN{if (ms + 0 > 0) printf "%.0f", r / (ms / 1000); else printf "n/a"}'; }
best() {  # best SQL: the median of REPS timed runs (ms)
  local script="\\timing on" i
  for i in $(seq 1 "$REPS"); do script+=$'\n'"$1;"; done
  session_times "$script" | median
}

for form in heap lz4; do
  q "CREATE TABLE ev_$form (id bigint NOT NULL, ts timestamptz NOT NULL, video_id bigint NOT NULL, channel int NOT NULL,
       watch_ms int NOT NULL, likes int NOT NULL, score float8, label text NOT NULL, PRIMARY KEY (id, ts)) PARTITION BY RANGE (ts)"
  for d in $(seq 0 29); do
    q "CREATE TABLE ev_${form}_$d PARTITION OF ev_$form FOR VALUES FROM ('2026-11-01'::timestamptz + $d * interval '1 day')
         TO ('2026-11-01'::timestamptz + $((d + 1)) * interval '1 day')"
  done
done
for c in label; do q "ALTER TABLE ev_lz4 ALTER COLUMN $c SET COMPRESSION lz4"; done
GEN="SELECT i, least('2026-11-01'::timestamptz + (i - 1) * (interval '30 days' / $ROWS) + random() * interval '2 s', '2026-11-30 23:59:59.999999'),
            (random() * 100000)::bigint, (random() * 999)::int, (exp(7 + random() * 3))::int, (random() * 20)::int,
            round((random() * 100)::numeric, 2)::float8,
            (ARRAY['sports', 'news', 'music', 'gaming', 'kids', 'education', 'comedy', 'film'])[1 + (i * 7 + (random() * 3)::int) % 8]
       FROM generate_series(1, $ROWS) i"
q "INSERT INTO ev_heap $GEN"
q "INSERT INTO ev_lz4 SELECT * FROM ev_heap"
q "VACUUM (FREEZE, ANALYZE) ev_heap"
q "VACUUM (FREEZE, ANALYZE) ev_lz4"

# The compressed form: a partition set (its partitions from 2026-11-01 to a few days ahead of now), the
# same rows, then each of the 30 November partitions compressed by hand while single-row inserts go into
# the hot partition (today's).
q "CREATE TABLE ev_cmp (id bigint NOT NULL, ts timestamptz NOT NULL, video_id bigint NOT NULL, channel int NOT NULL,
     watch_ms int NOT NULL, likes int NOT NULL, score float8, label text NOT NULL) PARTITION BY RANGE (ts)"
q "SELECT strata.create_partition_set('ev_cmp', 'ts', '1 day', premake => 2, start_partition => '2026-11-01',
     compress_segment_by => '{label}', compress_order_by => 'ts')" >/dev/null
q "INSERT INTO ev_cmp SELECT * FROM ev_heap"
q "VACUUM (FREEZE, ANALYZE) ev_cmp"
PARTS=$(q "SELECT string_agg(c.oid::regclass::text, ' ' ORDER BY c.relname) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'ev_cmp'::regclass AND c.relname < 'ev_cmp_p20261201'")
cat > "$DIR/insert.sql" <<'SQL'
INSERT INTO ev_cmp VALUES (-1, now(), 1, 1, 1, 1, 1, 'hot');
SQL
QUIET_S=10
# Pinned (PIN=1, the default, on a machine of at least 2 CPUs): pgbench and its backend on CPU 0, the
# conversion's backend on CPU 1, as on a server where ingest and the worker do not share a core; what is
# left is what the conversion itself does to the writers (locks, WAL, I/O, invalidations).
PIN=${PIN:-1}
[ "$(nproc)" -ge 2 ] || PIN=0
pin_backend() {  # pin_backend APPLICATION_NAME CPU: waits for that session's backend and pins it
  local pid="" i
  for i in $(seq 1 50); do
    pid=$(q "SELECT pid FROM pg_stat_activity WHERE application_name = '$1' LIMIT 1")
    [ -n "$pid" ] && break
    sleep 0.1
  done
  [ -n "$pid" ] && taskset -p -c "$2" "$pid" >/dev/null || { echo "PIN=1: could not pin the $1 backend (run with PIN=0)" >&2; exit 1; }
}
PGB_CPU=(); [ "$PIN" = 1 ] && PGB_CPU=(taskset -c 0)
PGAPPNAME=ins "${PGB_CPU[@]}" "$PGBIN/pgbench" -h 127.0.0.1 -p "$PGPORT" -U postgres -n -c 1 -T 90 -f "$DIR/insert.sql" -l --log-prefix="$DIR/ins" "$DB" >/dev/null 2>&1 &
PGB=$!
[ "$PIN" = 1 ] && pin_backend ins 0
sleep "$QUIET_S"
{ printf 'SELECT pg_sleep(1);\n\\timing on'; for p in $PARTS; do printf "\nSELECT strata.compress_partition('%s');" "$p"; done; printf '\n'; } > "$DIR/convert.sql"
PGAPPNAME=conv "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d "$DB" -X -q -At -v ON_ERROR_STOP=1 -o /dev/null -f "$DIR/convert.sql" > "$DIR/convert.out" &
CONV=$!
[ "$PIN" = 1 ] && pin_backend conv 1
sleep 1
T_CONV0=$(date +%s.%N)
wait "$CONV"
T_CONV1=$(date +%s.%N)
CONV_MS=$(sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' "$DIR/convert.out" | awk '{s += $1} END {print s}')
wait "$PGB" || true
# pgbench's log: client, transaction, latency (us), script, epoch s, us. p99 within a window of epochs.
p99() { cat "$DIR"/ins* | awk -v a="$1" -v b="$2" '{t = $5 + $6 / 1e6; if (t >= a && t < b) print $3 / 1000}' | sort -n |
        awk '{v[NR] = $1} END {i = int(NR * 0.99); if (i < 1) i = 1; if (NR == 0) print "n/a"; else printf "%.2f", v[i]}'; }
T_START=$(cat "$DIR"/ins* | awk 'NR == 1 {printf "%.3f", $5 + $6 / 1e6}')
P99_QUIET=$(p99 "$(awk -v t="$T_START" 'BEGIN{printf "%.3f", t + 1}')" "$(awk -v t="$T_CONV0" 'BEGIN{printf "%.3f", t - 1}')")
P99_CONV=$(p99 "$T_CONV0" "$T_CONV1")
RPS=$(per_second "$ROWS" "$CONV_MS")

if [ -n "$TSDB" ]; then
  q "CREATE EXTENSION timescaledb" >/dev/null
  q "CREATE TABLE ev_ts (LIKE ev_heap INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)"
  q "SELECT create_hypertable('ev_ts', 'ts', chunk_time_interval => interval '1 day')" >/dev/null
  q "INSERT INTO ev_ts SELECT * FROM ev_heap"
  q "ALTER TABLE ev_ts SET (timescaledb.compress, timescaledb.compress_orderby = 'ts', timescaledb.compress_segmentby = 'label')"
  TS_MS=$(session_times $'\\timing on\n'"SELECT count(compress_chunk(c)) FROM show_chunks('ev_ts') c;" | head -1)
  RPS_TS=$(per_second "$ROWS" "$TS_MS")
  q "VACUUM ANALYZE ev_ts"
fi

echo "== 1. bytes of $ROWS rows in 30 daily partitions (tables, TOAST and indexes)"
size() { q "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c WHERE c.relkind = 'r' AND c.relname ~ '$1'"; }
S_HEAP=$(size '^ev_heap_[0-9]+$') S_LZ4=$(size '^ev_lz4_[0-9]+$')
S_C=$(q "SELECT sum(bytes_now) FROM strata.compressed_partitions")
S_HEAP_NOIDX=$(q "SELECT sum(pg_table_size(c.oid)) FROM pg_class c WHERE c.relkind = 'r' AND c.relname ~ '^ev_heap_[0-9]+$'")
printf "   heap %8.1f MB (without its primary key %.1f MB)   heap lz4 %8.1f MB   compressed %7.1f MB\n" \
  "$(awk -v b="$S_HEAP" 'BEGIN{print b/1048576}')" "$(awk -v b="$S_HEAP_NOIDX" 'BEGIN{print b/1048576}')" \
  "$(awk -v b="$S_LZ4" 'BEGIN{print b/1048576}')" "$(awk -v b="$S_C" 'BEGIN{print b/1048576}')"
if [ -n "$TSDB" ]; then
  S_TS=$(q "SELECT sum(after_compression_total_bytes) FROM chunk_compression_stats('ev_ts')")
  printf "   TimescaleDB compressed chunks %.1f MB: heap / TimescaleDB %sx   TimescaleDB / compressed %s\n" \
    "$(awk -v b="$S_TS" 'BEGIN{print b/1048576}')" "$(ratio "$S_HEAP" "$S_TS")" "$(ratio "$S_TS" "$S_C")"
fi
printf "   heap / compressed: %sx (target >= 10x)   heap without its key / compressed: %sx   heap lz4 / heap: %s\n" \
  "$(ratio "$S_HEAP" "$S_C")" "$(ratio "$S_HEAP_NOIDX" "$S_C")" "$(ratio "$S_LZ4" "$S_HEAP")"
COLS=0
for sib in $(q "SELECT sibling::regclass FROM strata.columnar_partition"); do
  c=$(q "SELECT sum(pg_column_size(id) + pg_column_size(ts) + pg_column_size(video_id) + pg_column_size(channel) + pg_column_size(watch_ms)
                 + pg_column_size(likes) + pg_column_size(score)) FROM $sib")
  COLS=$(awk -v a="$COLS" -v b="$c" 'BEGIN{print a + b}')
done
printf "   where the compressed bytes are: the batches' bytes %.2f B/row; batch tables with TOAST %.2f B/row; emptied partitions %.2f B/row\n" \
  "$(awk -v c="$COLS" -v r="$ROWS" 'BEGIN{print c / r}')" \
  "$(awk -v c="$(q "SELECT sum(pg_total_relation_size(sibling)) FROM strata.columnar_partition")" -v r="$ROWS" 'BEGIN{print c / r}')" \
  "$(awk -v c="$(q "SELECT sum(pg_total_relation_size(leaf)) FROM strata.columnar_partition")" -v r="$ROWS" 'BEGIN{print c / r}')"

# The floor of any codec that codes each value (or each delta) by itself: the zero-order entropy of each
# column's values in this data (of the deltas in batch order for ts and id), in bytes per row.
ENTROPY="SELECT -sum(n::float8 / $ROWS * ln(n::float8 / $ROWS) / ln(2)) / 8 FROM (SELECT count(*) AS n FROM %s GROUP BY v.x) c"
H=0
for col in channel video_id watch_ms likes score label; do
  h=$(q "$(printf "$ENTROPY" "(SELECT $col AS x FROM ev_heap) v")")
  H=$(awk -v a="$H" -v b="$h" 'BEGIN{print a + b}')
done
for col in ts id; do
  expr="(extract(epoch FROM ts - lag(ts) OVER w) * 1000000)::bigint"; [ "$col" = id ] && expr="id - lag(id) OVER w"
  h=$(q "$(printf "$ENTROPY" "(SELECT $expr AS x FROM ev_heap WINDOW w AS (PARTITION BY tableoid ORDER BY ts, id)) v")")
  H=$(awk -v a="$H" -v b="$h" 'BEGIN{print a + b}')
done
printf "   floor: the columns' zero-order entropy (deltas for ts and id) is %.2f bytes per row: %.1f MB, heap / floor %sx\n" \
  "$H" "$(awk -v h="$H" -v r="$ROWS" 'BEGIN{print h * r / 1048576}')" "$(ratio "$S_HEAP" "$(awk -v h="$H" -v r="$ROWS" 'BEGIN{print h * r}')")"

echo "== 2. reads (median of $REPS, one core, warm cache): the same query on the heap and on the compressed set"
AGG="SELECT count(*), sum(watch_ms), round(avg(score)::numeric, 6), max(likes) FROM %s WHERE ts < '2026-12-01'"
LAB="SELECT count(*), sum(watch_ms) FROM %s WHERE label = 'music' AND ts < '2026-12-01'"
DASH="SELECT date_trunc('day', ts) d, channel, count(*), sum(watch_ms) FROM %s WHERE ts >= '2026-11-24' AND ts < '2026-12-01' GROUP BY 1, 2 ORDER BY 4 DESC, 2 LIMIT 20"
BYLAB="SELECT label, count(*), sum(watch_ms), max(ts) FROM %s WHERE ts >= '2026-11-24' AND ts < '2026-12-01' GROUP BY label"
PT=$(q "SELECT id || ',' || ts FROM ev_heap_17 ORDER BY id LIMIT 1 OFFSET (SELECT count(*) / 3 FROM ev_heap_17)")
PID=${PT%%,*} PTS=${PT#*,}
POINT="SELECT * FROM %s WHERE id = $PID AND ts = '$PTS'"
same() {  # same A B: the two queries' results are equal (as sets of rows)
  [ "$(q "SELECT count(*) FROM (($1) EXCEPT ALL ($2)) a")" = 0 ] && [ "$(q "SELECT count(*) FROM (($2) EXCEPT ALL ($1)) b")" = 0 ] && echo same || echo DIFFERENT
}
for pair in "a month's aggregate over three columns|$AGG" "filtered aggregate on a label (segment)|$LAB" \
            "7-day dashboard (day x channel, top 20)|$DASH" "7 days per label (GROUP BY the segment)|$BYLAB" \
            "point lookup by (id, ts)|$POINT"; do
  IFS='|' read -r name tmpl <<<"$(tr '\n' ' ' <<<"$pair")"
  h=$(printf "$tmpl" ev_heap) c=$(printf "$tmpl" ev_cmp)
  th=$(best "$h") tc=$(best "$c")
  printf "   %-42s heap %9.2f ms   compressed %9.2f ms   heap / compressed %6s   answers %s\n" "$name" "$th" "$tc" "$(ratio "$th" "$tc")" "$(same "$h" "$c")"
  if [ -n "$TSDB" ]; then
    t=$(printf "$tmpl" ev_ts)
    tt=$(best "$t")
    printf "   %-42s TimescaleDB %9.2f ms   heap / TimescaleDB %6s   answers %s\n" "" "$tt" "$(ratio "$th" "$tt")" "$(same "$h" "$t")"
  fi
done
BARE=$(best "SELECT count(*) FROM ev_heap")
printf "   floor: a bare count(*) over the heap %.2f ms\n" "$BARE"

printf "== 3. conversion: %s rows/s on one core (strata.compress_partition, 30 partitions%s)\n" "$RPS" "${TSDB:+; TimescaleDB compress_chunk $RPS_TS}"
printf "   single-row inserts into the hot partition (pinned: %s), p99: quiet %s ms, during the conversions %s ms: %sx (target <= 1.2x)\n" \
  "$([ "$PIN" = 1 ] && echo yes || echo no)" "$P99_QUIET" "$P99_CONV" "$(ratio "$P99_CONV" "$P99_QUIET")"

echo "== 4. UPDATE of 1% of one compressed partition's rows (late enrichment), then compressing it again"
P17=$(q "SELECT c.oid::regclass FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'ev_cmp'::regclass AND c.relname = 'ev_cmp_p20261118'")
N17=$(q "SELECT count(*) FROM $P17")
for kind in window scattered; do
  if [ "$kind" = window ]; then W="ts >= '2026-11-18 12:00' AND ts < '2026-11-18 12:14:24'"; else W="ts >= '2026-11-18' AND ts < '2026-11-19' AND id % 100 = 0"; fi
  B0=$(q "SELECT bytes_now FROM strata.compressed_partitions WHERE partition = '$P17'::regclass")
  TU_H=$(session_times $'\\timing on\n'"UPDATE ev_heap SET score = score + 1 WHERE $W;" | head -1)
  TU_C=$(session_times $'\\timing on\n'"UPDATE ev_cmp SET score = score + 1 WHERE $W;" | head -1)
  NU=$(q "SELECT count(*) FROM ev_cmp WHERE $W")
  B1=$(q "SELECT bytes_now FROM strata.compressed_partitions WHERE partition = '$P17'::regclass")
  TR=$(session_times $'\\timing on\n'"SELECT strata.compress_partition('$P17');" | head -1)
  B2=$(q "SELECT bytes_now FROM strata.compressed_partitions WHERE partition = '$P17'::regclass")
  printf "   %-9s %s of %s rows: heap %.1f ms, compressed %.1f ms (%sx); partition %.2f MB -> %.2f MB after the UPDATE -> %.2f MB compressed again (%.1f ms)   answers %s\n" \
    "$kind" "$NU" "$N17" "$TU_H" "$TU_C" "$(ratio "$TU_C" "$TU_H")" "$(awk -v b="$B0" 'BEGIN{print b/1048576}')" \
    "$(awk -v b="$B1" 'BEGIN{print b/1048576}')" "$(awk -v b="$B2" 'BEGIN{print b/1048576}')" "$TR" \
    "$(same "SELECT * FROM ev_heap WHERE ts < '2026-12-01'" "SELECT * FROM ev_cmp WHERE ts < '2026-12-01'")"
done

echo "== 5. the codecs alone (C++, one core, batches of 1,000): what the custom scan pays per value decoded"
g++ -std=c++17 -O2 -Isrc -o "$DIR/codec_speed" bench/columnar_codec_speed.cpp src/core/columnar/codec.cpp src/core/error.cpp -lzstd
"$DIR/codec_speed"
