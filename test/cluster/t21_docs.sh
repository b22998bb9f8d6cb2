#!/usr/bin/env bash
# The docs stay true: (a) every ```sql block of README.md runs as written, in order, on a fresh cluster
# with strata preloaded (one psql session per block, ON_ERROR_STOP), and a few results the README shows
# are checked; (b) every user-visible SQL object of schema strata (name not starting with "_") is named
# in docs/reference.md, and every strata.* setting in docs/configuration.md.
set -u
source "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIR=$(mktemp -d /tmp/strata-t21.XXXXXX)
export PGPORT=${PGPORT_BASE:-27100}
trap 'cluster_stop "$DIR" immediate; rm -rf "$DIR"' EXIT
cluster_start "$DIR" "$PGPORT" || exit 1
q "CREATE DATABASE docs"
export DB=docs

# (a) README's sql blocks, each into its own file, in order.
mkdir -p "$DIR/blocks"
awk -v dir="$DIR/blocks" '
  /^```sql[ \t]*$/ { n++; f = sprintf("%s/%02d.sql", dir, n); inblock = 1; next }
  /^```/ && inblock { inblock = 0; close(f); next }
  inblock { print > f }
' "$ROOT/README.md"
nblocks=$(ls "$DIR/blocks" | wc -l)
check "README.md has sql blocks ($nblocks)" test "$nblocks" -ge 5
for f in "$DIR/blocks"/*.sql; do
  first=$(grep -v '^\s*--' "$f" | grep -m1 -v '^\s*$' | cut -c1-60)
  if out=$("$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d docs -X -q -v ON_ERROR_STOP=1 -f "$f" 2>&1); then
    check "README sql block $(basename "$f" .sql) runs: $first" true
  else
    check "README sql block $(basename "$f" .sql) runs: $first" false
    echo "$out" | tail -5 | sed 's/^/# /'
  fi
done

# What the README shows.
check "the partition set has 38 partitions, 7 ahead (as README shows)" \
  test "$(q "SELECT partition_count || ' ' || partitions_ahead FROM strata.partition_sets WHERE parent = 'events'::regclass")" = "38 7"
check "the rollup's view counts every event" test "$(q "SELECT sum(views) FROM channel_hourly")" = 200000
check "the dashboard's average from the view equals avg() over the raw rows" test "$(q "
  SELECT bool_and(v.a = r.a) AND count(*) = 20 FROM
    (SELECT channel_id, round(sum(watch_ms)::numeric / sum(views)) AS a FROM channel_hourly
      WHERE bucket >= date_trunc('hour', now()) - interval '7 days' GROUP BY 1) v
    JOIN (SELECT channel_id, round(avg(watch_ms)) AS a FROM events
      WHERE ts >= date_trunc('hour', now()) - interval '7 days' GROUP BY 1) r USING (channel_id)")" = t
check "the average from __sum/__count of the data table equals avg() over the raw rows" test "$(q "
  SELECT bool_and(d.a = r.a) AND count(*) = 20 FROM
    (SELECT channel_id, round(sum(avg_watch_ms__sum)::numeric / sum(avg_watch_ms__count), 1) AS a
       FROM channel_hourly_data GROUP BY 1) d
    JOIN (SELECT channel_id, round(avg(watch_ms), 1) AS a FROM events GROUP BY 1) r USING (channel_id)")" = t
check "top-k: videos 1 and 2 come first, each true count within [count, count + error]" test "$(q "
  WITH t AS (SELECT (strata.topk_items(strata.merge(top_videos))).* FROM channel_hourly),
       r AS (SELECT video_id::text AS item, count(*) AS n FROM events GROUP BY 1)
  SELECT string_agg(t.item, ',' ORDER BY t.count DESC) FILTER (WHERE t.item IN ('1', '2'))
         || ' ' || bool_and(r.n BETWEEN t.count AND t.count + t.error)
  FROM t JOIN r USING (item)")" = "1,2 true"
check "hll of 1,000 distinct values says about 1,000" \
  test "$(q "SELECT abs(strata.distinct_count(strata.hll_agg(g % 1000)) - 1000) < 30 FROM generate_series(1, 100000) g")" = t
check "the vacuum override of the README is stored" \
  test "$(q "SELECT cold_after FROM strata.vacuum_policy WHERE relid = 'events'::regclass")" = "06:00:00"
check "the worker serves the README's database" wait_for 20 "SELECT state FROM strata.workers WHERE datname = 'docs'" running

# (b) Every user-visible object is in docs/reference.md, every setting in docs/configuration.md.
ref="$ROOT/docs/reference.md"
conf="$ROOT/docs/configuration.md"
objects=$(q "
  SELECT DISTINCT p.proname FROM pg_proc p WHERE p.pronamespace = 'strata'::regnamespace
  UNION SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'strata'::regnamespace AND c.relkind IN ('r', 'v', 'p')
  UNION SELECT t.typname FROM pg_type t WHERE t.typnamespace = 'strata'::regnamespace AND t.typtype = 'b' AND t.typelem = 0
  UNION SELECT e.evtname FROM pg_event_trigger e
    JOIN pg_depend d ON d.classid = 'pg_event_trigger'::regclass AND d.objid = e.oid AND d.deptype = 'e'
  ORDER BY 1" | grep -v '^_')
missing=""
for o in $objects; do
  grep -qE "\`(strata\.)?${o}[\`( ]" "$ref" || missing="$missing $o"
done
check "docs/reference.md names every function, view, table, type, aggregate and event trigger ($(echo $objects | wc -w))" test -z "$missing"
[ -n "$missing" ] && echo "# missing from docs/reference.md:$missing"
gucs=$(q "SELECT name FROM pg_settings WHERE name LIKE 'strata.%' ORDER BY 1")
missing=""
for g in $gucs; do
  grep -qF "\`$g\`" "$conf" || missing="$missing $g"
done
check "docs/configuration.md names every strata.* setting ($(echo $gucs | wc -w))" test -z "$missing"
[ -n "$missing" ] && echo "# missing from docs/configuration.md:$missing"
finish
