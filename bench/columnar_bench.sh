#!/usr/bin/env bash
# Compressed column batches, the prototype of docs/rfcs/columnar.md, side by side in one run on one
# throwaway cluster: 30 daily partitions of video events (ids, a timestamp, counters, a float, a
# low-cardinality label; rows in time order as they arrive) in three forms:
#   heap        the partitions as they are, with their primary key;
#   heap lz4    the same with `COMPRESSION lz4` on every column that can have it (the no-extension option:
#               TOAST compresses only values over ~2 kB, so narrow rows stay as they are);
#   batches     per partition, one row per 1,000 rows (ordered by time, optionally segmented by label):
#               each column one strata._columnar_encode batch, with the batch's row count and min/max
#               time, and a btree on (min, max) time; what the RFC's sibling table would hold.
# Measured: bytes (tables, TOAST and indexes); a month's aggregate over three columns, a filtered
# aggregate on the label, a 7-day dashboard (day x channel), a point lookup by id and time; conversion
# throughput (rows/s on one core). The batch reads go through SQL (unnest of decoded arrays): an upper
# bound of what the custom scan pays, which decodes into slots without building arrays.
# TimescaleDB (an anchor; built and installed by hand, never by this script): when its library is installed
# into this PostgreSQL, the same rows also go into a hypertable of daily chunks, compressed with
# compress_chunk (orderby ts, no segmentby), and are measured beside the rest.
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
  "jit = off" "strata.enabled = off" "synchronous_commit = off" \
  ${TSDB:+"shared_preload_libraries = 'strata,timescaledb'" "timescaledb.telemetry_level = off"} >/dev/null
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

# The prototype's conversion of one partition: batches of 1,000 rows in (segment, time) order.
BATCHED="CREATE TABLE %s AS
  SELECT %s AS segment, count(*)::int AS n, min(ts) AS min_ts, max(ts) AS max_ts,
         strata._columnar_encode(array_agg(id ORDER BY ts, id)) AS id_c, strata._columnar_encode(array_agg(ts ORDER BY ts, id)) AS ts_c,
         strata._columnar_encode(array_agg(video_id ORDER BY ts, id)) AS video_c, strata._columnar_encode(array_agg(channel ORDER BY ts, id)) AS channel_c,
         strata._columnar_encode(array_agg(watch_ms ORDER BY ts, id)) AS watch_c, strata._columnar_encode(array_agg(likes ORDER BY ts, id)) AS likes_c,
         strata._columnar_encode(array_agg(score ORDER BY ts, id)) AS score_c, strata._columnar_encode(array_agg(label ORDER BY ts, id)) AS label_c
  FROM (SELECT *, (row_number() OVER (PARTITION BY %s ORDER BY ts, id) - 1) / 1000 AS b FROM ONLY %s) s GROUP BY %s, b"
convert() {  # convert SEGMENT_EXPR SUFFIX: every partition into ev_c<SUFFIX>_<d>; prints rows/s
  local seg=$1 sfx=$2 d script="\\timing on"
  for d in $(seq 0 29); do
    script+=$'\n'"$(printf "$BATCHED" "ev_c${sfx}_$d" "$seg" "$seg" "ev_heap_$d" "$seg");"
    script+=$'\n'"CREATE INDEX ON ev_c${sfx}_$d (min_ts, max_ts);"
  done
  local ms; ms=$(session_times "$script" | awk '{s += $1} END {print s}')
  per_second "$ROWS" "$ms"
}
RPS=$(convert "''::text" "")
# The conversion's build step in C++ (strata._columnar_build): the same batches, written by the extension.
BUILD_MS=$(session_times "$(printf '\\timing on'; for d in $(seq 0 29); do printf "\nSELECT strata._columnar_build('ev_heap_%s', 'ev_b_%s', '{}', 'ts');" "$d" "$d"; done)" | awk '{s += $1} END {print s}')
RPS_BUILD=$(per_second "$ROWS" "$BUILD_MS")
RPS_SEG=$(convert "label" "s")
for sfx in "" s; do
  q "CREATE VIEW ev_c$sfx AS $(for d in $(seq 0 29); do [ "$d" = 0 ] || printf ' UNION ALL '; printf 'SELECT * FROM ev_c%s_%s' "$sfx" "$d"; done)"
  for d in $(seq 0 29); do q "VACUUM (FREEZE, ANALYZE) ev_c${sfx}_$d"; done
done

if [ -n "$TSDB" ]; then
  q "CREATE EXTENSION timescaledb" >/dev/null
  q "CREATE TABLE ev_ts (LIKE ev_heap INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)"
  q "SELECT create_hypertable('ev_ts', 'ts', chunk_time_interval => interval '1 day')" >/dev/null
  q "INSERT INTO ev_ts SELECT * FROM ev_heap"
  q "ALTER TABLE ev_ts SET (timescaledb.compress, timescaledb.compress_orderby = 'ts', timescaledb.compress_segmentby = '')"
  TS_MS=$(session_times $'\\timing on\n'"SELECT count(compress_chunk(c)) FROM show_chunks('ev_ts') c;" | head -1)
  RPS_TS=$(per_second "$ROWS" "$TS_MS")
  q "VACUUM ANALYZE ev_ts"
fi

echo "== 1. bytes of $ROWS rows in 30 daily partitions (tables, TOAST and indexes)"
size() { q "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c WHERE c.relkind = 'r' AND c.relname ~ '$1'"; }
S_HEAP=$(size '^ev_heap_[0-9]+$') S_LZ4=$(size '^ev_lz4_[0-9]+$') S_C=$(size '^ev_c_[0-9]+$') S_CS=$(size '^ev_cs_[0-9]+$')
S_HEAP_NOIDX=$(q "SELECT sum(pg_table_size(c.oid)) FROM pg_class c WHERE c.relkind = 'r' AND c.relname ~ '^ev_heap_[0-9]+$'")
printf "   heap %8.1f MB (without its primary key %.1f MB)   heap lz4 %8.1f MB   batches %7.1f MB   batches segmented by label %7.1f MB\n" \
  "$(awk -v b="$S_HEAP" 'BEGIN{print b/1048576}')" "$(awk -v b="$S_HEAP_NOIDX" 'BEGIN{print b/1048576}')" \
  "$(awk -v b="$S_LZ4" 'BEGIN{print b/1048576}')" "$(awk -v b="$S_C" 'BEGIN{print b/1048576}')" "$(awk -v b="$S_CS" 'BEGIN{print b/1048576}')"
if [ -n "$TSDB" ]; then
  S_TS=$(q "SELECT sum(after_compression_total_bytes) FROM chunk_compression_stats('ev_ts')")
  printf "   TimescaleDB compressed chunks %.1f MB: heap / TimescaleDB %sx   TimescaleDB / batches %s\n" \
    "$(awk -v b="$S_TS" 'BEGIN{print b/1048576}')" "$(ratio "$S_HEAP" "$S_TS")" "$(ratio "$S_TS" "$S_C")"
fi
printf "   heap / batches: %sx (target >= 10x)   heap lz4 / heap: %s   heap / segmented batches: %sx\n" \
  "$(ratio "$S_HEAP" "$S_C")" "$(ratio "$S_LZ4" "$S_HEAP")" "$(ratio "$S_HEAP" "$S_CS")"
q "SELECT '   per column (bytes per row, batches): ' || string_agg(format('%s %s', col, round(b::numeric / $ROWS, 2)), ', ' ORDER BY col)
   FROM (SELECT 'id' col, sum(pg_column_size(id_c)) b FROM ev_c UNION ALL SELECT 'ts', sum(pg_column_size(ts_c)) FROM ev_c
         UNION ALL SELECT 'video_id', sum(pg_column_size(video_c)) FROM ev_c UNION ALL SELECT 'channel', sum(pg_column_size(channel_c)) FROM ev_c
         UNION ALL SELECT 'watch_ms', sum(pg_column_size(watch_c)) FROM ev_c UNION ALL SELECT 'likes', sum(pg_column_size(likes_c)) FROM ev_c
         UNION ALL SELECT 'score', sum(pg_column_size(score_c)) FROM ev_c UNION ALL SELECT 'label', sum(pg_column_size(label_c)) FROM ev_c) x"

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

echo "== 2. reads (median of $REPS, one core, warm cache): heap vs batches decoded through SQL"
AGG_H="SELECT count(*), sum(watch_ms), round(avg(score)::numeric, 6), max(likes) FROM ev_heap"
AGG_C="SELECT count(*), sum(w), round(avg(s)::numeric, 6), max(l) FROM ev_c, unnest(strata._columnar_decode(watch_c, 0), strata._columnar_decode(score_c, 0::float8), strata._columnar_decode(likes_c, 0)) u(w, s, l)"
LAB_H="SELECT count(*), sum(watch_ms) FROM ev_heap WHERE label = 'music'"
LAB_C="SELECT count(*), sum(w) FROM ev_cs, unnest(strata._columnar_decode(watch_c, 0)) u(w) WHERE segment = 'music'"
DASH_H="SELECT date_trunc('day', ts) d, channel, count(*), sum(watch_ms) FROM ev_heap WHERE ts >= '2026-11-24' GROUP BY 1, 2 ORDER BY 4 DESC LIMIT 20"
DASH_C="SELECT date_trunc('day', t) d, c, count(*), sum(w) FROM ev_c, unnest(strata._columnar_decode(ts_c, now()), strata._columnar_decode(channel_c, 0), strata._columnar_decode(watch_c, 0)) u(t, c, w)
        WHERE max_ts >= '2026-11-24' AND t >= '2026-11-24' GROUP BY 1, 2 ORDER BY 4 DESC LIMIT 20"
PT=$(q "SELECT id || ',' || ts FROM ev_heap_17 ORDER BY id LIMIT 1 OFFSET (SELECT count(*) / 3 FROM ev_heap_17)")
PID=${PT%%,*} PTS=${PT#*,}
PT_H="SELECT * FROM ev_heap WHERE id = $PID AND ts = '$PTS'"
PT_C="SELECT u.* FROM ev_c, unnest(strata._columnar_decode(id_c, 0::bigint), strata._columnar_decode(ts_c, now()), strata._columnar_decode(video_c, 0::bigint),
        strata._columnar_decode(channel_c, 0), strata._columnar_decode(watch_c, 0), strata._columnar_decode(likes_c, 0), strata._columnar_decode(score_c, 0::float8),
        strata._columnar_decode(label_c, ''::text)) u(id, ts, video_id, channel, watch_ms, likes, score, label)
        WHERE min_ts <= '$PTS' AND max_ts >= '$PTS' AND u.id = $PID AND u.ts = '$PTS'"
same() {  # same A B: the two queries' results are equal (as sets of rows)
  [ "$(q "SELECT count(*) FROM (($1) EXCEPT ALL ($2)) a")" = 0 ] && [ "$(q "SELECT count(*) FROM (($2) EXCEPT ALL ($1)) b")" = 0 ] && echo same || echo DIFFERENT
}
for pair in "a month's aggregate over three columns|$AGG_H|$AGG_C" "filtered aggregate on a label (segment)|$LAB_H|$LAB_C" \
            "7-day dashboard (day x channel, top 20)|$DASH_H|$DASH_C" "point lookup by primary key|$PT_H|$PT_C"; do
  IFS='|' read -r name h c <<<"$(tr '\n' ' ' <<<"$pair")"
  th=$(best "$h") tc=$(best "$c")
  printf "   %-42s heap %9.2f ms   batches %9.2f ms   heap / batches %6s   answers %s\n" "$name" "$th" "$tc" "$(ratio "$th" "$tc")" "$(same "$h" "$c")"
  if [ -n "$TSDB" ]; then
    tt=$(best "${h//ev_heap/ev_ts}")
    printf "   %-42s TimescaleDB %9.2f ms   heap / TimescaleDB %6s   answers %s\n" "" "$tt" "$(ratio "$th" "$tt")" "$(same "$h" "${h//ev_heap/ev_ts}")"
  fi
done
BARE=$(best "SELECT count(*) FROM ev_heap")
printf "   floor: a bare count(*) over the heap %.2f ms\n" "$BARE"

S_B=$(size '^ev_b_[0-9]+$')
printf "== 3. conversion, rows/s on one core: strata._columnar_build %s (its batches %.1f MB); the SQL form %s; segmented by label %s%s\n" \
  "$RPS_BUILD" "$(awk -v b="$S_B" 'BEGIN{print b/1048576}')" "$RPS" "$RPS_SEG" "${TSDB:+; TimescaleDB compress_chunk $RPS_TS}"

echo "== 4. the codecs alone (C++, one core, batches of 1,000): what the custom scan pays per value decoded"
g++ -std=c++17 -O2 -Isrc -o "$DIR/codec_speed" bench/columnar_codec_speed.cpp src/core/columnar/codec.cpp src/core/error.cpp -lzstd
"$DIR/codec_speed"
