-- Sketch types and aggregates: hll, qsketch, topk.
CREATE TABLE views (hour int, video_id bigint, viewer_id bigint, viewer uuid, country text, watch_ms float8);
INSERT INTO views
SELECT g % 24, (g * 7919) % 5000, g % 20011, md5((g % 20011)::text)::uuid, (ARRAY['us', 'de', 'fr', 'br', 'jp'])[1 + (g % 17) % 5],
       CASE WHEN g % 97 = 0 THEN 0 ELSE round(exp(((g * 2654435761) % 1000003) / 1000003.0 * 12)) END
FROM generate_series(1, 200000) g;
ANALYZE views;

-- hll: small sets are exact; every supported type; NULLs are ignored; no rows gives NULL.
SELECT strata.distinct_count(strata.hll_agg(g)) FROM generate_series(1, 300) g;
SELECT strata.distinct_count(strata.hll_agg(x)) FROM (VALUES (1), (NULL), (1), (2)) v(x);
SELECT strata.hll_agg(x) IS NULL AS empty_is_null FROM (SELECT 1 WHERE false) v(x);
SELECT strata.hll_agg(NULL::int) IS NULL AS all_null_is_null FROM generate_series(1, 3);
SELECT strata.hll_agg(g::int)::text = strata.hll_agg(g::bigint)::text AS int_and_bigint_agree FROM generate_series(1, 5000) g;
SELECT strata.distinct_count(strata.hll_agg(viewer_id)) AS by_bigint, strata.distinct_count(strata.hll_agg(viewer)) AS by_uuid,
       strata.distinct_count(strata.hll_agg(viewer_id::text)) AS by_text, strata.distinct_count(strata.hll_agg(viewer_id::numeric)) AS by_numeric,
       count(DISTINCT viewer_id) AS exact
  FROM views;
SELECT abs(strata.distinct_count(strata.hll_agg(viewer_id, 10)) / 20011.0 - 1) < 0.13 AS p10_within_4_sigma,
       strata.hll_precision(strata.hll_agg(viewer_id, 10)) FROM views;
-- Hourly sketches merged into a day are bit for bit the sketch of the day.
SELECT strata.merge(h)::text = (SELECT strata.hll_agg(viewer_id)::text FROM views) AS merge_is_exact
  FROM (SELECT strata.hll_agg(viewer_id) AS h FROM views GROUP BY hour) hourly;
SELECT strata.distinct_count(strata.merge(a.h, b.h)) AS two_arg_merge,
       strata.merge(NULL::strata.hll, a.h)::text = a.h::text AS null_tolerant
  FROM (SELECT strata.hll_agg(viewer_id) h FROM views WHERE hour < 12) a, (SELECT strata.hll_agg(viewer_id) h FROM views WHERE hour >= 12) b;
-- Different precisions merge exactly at the lower one.
SELECT strata.hll_precision(strata.merge(strata.hll_agg(g, 14), strata.hll_agg(g, 11))),
       strata.merge(strata.hll_agg(g, 14), strata.hll_agg(g, 11))::text = strata.hll_agg(g, 11)::text AS fold_is_exact
  FROM generate_series(1, 50000) g;
-- Rollup upsert with the two-argument merge.
CREATE TABLE daily (day int PRIMARY KEY, viewers strata.hll);
INSERT INTO daily SELECT 1, strata.hll_agg(viewer_id) FROM views WHERE hour < 12;
INSERT INTO daily SELECT 1, strata.hll_agg(viewer_id) FROM views WHERE hour >= 12
  ON CONFLICT (day) DO UPDATE SET viewers = strata.merge(daily.viewers, excluded.viewers);
SELECT viewers::text = (SELECT strata.hll_agg(viewer_id)::text FROM views) AS upsert_is_exact FROM daily;
-- Text and binary I/O round trips.
SELECT h::text::strata.hll::text = h::text AS text_round_trip FROM (SELECT strata.hll_agg(g) h FROM generate_series(1, 10) g) s;
SELECT strata.hll_agg(g)::text FROM generate_series(1, 3) g;
SELECT length(strata.hll_send(strata.hll_agg(g))) AS bytes_10 FROM generate_series(1, 10) g;
SELECT length(strata.hll_send(strata.hll_agg(g))) AS bytes_1000 FROM generate_series(1, 1000) g;
SELECT length(strata.hll_send(strata.hll_agg(g))) AS bytes_1000000 FROM generate_series(1, 1000000) g;

-- qsketch: quantiles within the relative accuracy, exact count/min/max, zeros and negatives.
SELECT strata.quantile(strata.qsketch_agg(g), 0.5) AS p50, strata.quantile(strata.qsketch_agg(g), 0) AS p0,
       strata.quantile(strata.qsketch_agg(g), 1) AS p100, strata.qsketch_count(strata.qsketch_agg(g)),
       strata.qsketch_min(strata.qsketch_agg(g)), strata.qsketch_max(strata.qsketch_agg(g))
  FROM generate_series(1, 1000) g;
SELECT strata.quantiles(strata.qsketch_agg(x), '{0.1,0.5,0.9}') FROM (VALUES (-5.0), (-1.0), (0.0), (0.0), (2.0), (10.0)) v(x);
WITH exact AS (SELECT percentile_disc(ARRAY[0.5, 0.9, 0.99, 0.999]) WITHIN GROUP (ORDER BY watch_ms) AS e FROM views),
     approx AS (SELECT strata.quantiles(strata.qsketch_agg(watch_ms), '{0.5,0.9,0.99,0.999}') AS a FROM views)
SELECT bool_and(abs(a[i] - e[i]) <= 0.005 * abs(e[i])) AS within_half_percent FROM exact, approx, generate_series(1, 4) i;
SELECT abs(strata.qsketch_mean(strata.qsketch_agg(watch_ms)) / avg(watch_ms) - 1) < 0.005 AS mean_within_accuracy FROM views;
-- quantile follows percentile_disc (the smallest value whose cumulative fraction reaches q) and
-- quantile_cont percentile_cont, on data whose neighbours are further apart than the accuracy: every
-- q in steps of 0.005 over 1..100, within the relative accuracy of Postgres's answer; then five spread values
-- side by side with Postgres (disc picks a value of the data, cont interpolates).
WITH d(x) AS (SELECT g::float8 FROM generate_series(1, 100) g),
     q(p) AS (SELECT k / 200.0 FROM generate_series(0, 200) k),
     s AS (SELECT strata.qsketch_agg(x) AS sk FROM d)
SELECT count(*) AS qs,
       count(*) FILTER (WHERE abs(strata.quantile(sk, p) - (SELECT percentile_disc(p) WITHIN GROUP (ORDER BY x) FROM d))
                              <= 0.005 * (SELECT percentile_disc(p) WITHIN GROUP (ORDER BY x) FROM d)) AS disc_within,
       count(*) FILTER (WHERE abs(strata.quantile_cont(sk, p) - (SELECT percentile_cont(p) WITHIN GROUP (ORDER BY x) FROM d))
                              <= 0.005 * (SELECT percentile_cont(p) WITHIN GROUP (ORDER BY x) FROM d)) AS cont_within
  FROM q, s;
WITH d(x) AS (VALUES (1200.0::float8), (2500.0), (2600.0), (9000.0), (21000.0)),
     s AS (SELECT strata.qsketch_agg(x) AS sk FROM d)
SELECT p, round(strata.quantile(sk, p)::numeric, 1) AS quantile,
       (SELECT percentile_disc(p) WITHIN GROUP (ORDER BY x) FROM d) AS disc,
       round(strata.quantile_cont(sk, p)::numeric, 1) AS quantile_cont,
       round((SELECT percentile_cont(p) WITHIN GROUP (ORDER BY x) FROM d)::numeric, 1) AS cont
  FROM s, unnest('{0,0.2,0.21,0.5,0.79,0.8,0.81,1}'::float8[]) p ORDER BY p;
WITH exact AS (SELECT percentile_cont(ARRAY[0.5, 0.9, 0.99, 0.999]) WITHIN GROUP (ORDER BY watch_ms) AS e FROM views),
     s AS (SELECT strata.qsketch_agg(watch_ms) AS sk FROM views)
SELECT bool_and(abs(strata.quantile_cont(sk, p[i]) - e[i]) <= 0.005 * abs(e[i])) AS cont_within_half_percent
  FROM exact, s, (SELECT ARRAY[0.5, 0.9, 0.99, 0.999]::float8[] AS p) a, generate_series(1, 4) i;
-- The mean does not overflow: {1e308, 1} is 5e307 (within the accuracy), not 1e308.
SELECT abs(strata.qsketch_mean(strata.qsketch_agg(x)) / 5e307 - 1) <= 0.005 AS mean_no_overflow,
       strata.qsketch_mean(strata.qsketch_agg(x)) < 1e308 AS below_max
  FROM (VALUES (1e308::float8), (1::float8)) v(x);
SELECT strata.merge(q)::text = (SELECT strata.qsketch_agg(watch_ms)::text FROM views) AS merge_is_exact
  FROM (SELECT strata.qsketch_agg(watch_ms) AS q FROM views GROUP BY hour) hourly;
SELECT strata.qsketch_accuracy(strata.qsketch_agg(g, 0.01)), strata.quantile(strata.qsketch_agg(g, 0.01), 0.5) FROM generate_series(1, 100) g;
SELECT strata.qsketch_agg(x) IS NULL AS null_only, strata.qsketch_agg(x, 0.01) IS NULL AS null_only_a,
       strata.topk_agg(x, 3) IS NULL AS topk_null_only FROM (VALUES (NULL::float8)) v(x);

-- topk: the heaviest items with bounds.
SELECT * FROM strata.topk_items((SELECT strata.topk_agg(country, 3) FROM views));
SELECT t.* FROM (SELECT strata.merge(k) AS k FROM (SELECT strata.topk_agg(country, 3) AS k FROM views GROUP BY hour) h) m,
       strata.topk_items(m.k) t;
SELECT item, count FROM strata.topk_items((SELECT strata.topk_agg(video_id % 10 + (CASE WHEN video_id % 3 = 0 THEN 0 ELSE 10 END), 2) FROM views));

-- Parallel aggregation gives the same sketches as serial aggregation.
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
EXPLAIN (COSTS OFF) SELECT strata.hll_agg(viewer_id), strata.qsketch_agg(watch_ms) FROM views;
CREATE TEMP TABLE par AS SELECT strata.hll_agg(viewer_id)::text AS h, strata.qsketch_agg(watch_ms)::text AS q,
       (SELECT array_agg(item ORDER BY item) FROM strata.topk_items(strata.topk_agg(country, 3))) AS t FROM views;
SET max_parallel_workers_per_gather = 0;
SELECT par.h = s.h AS hll_same, par.q = s.q AS qsketch_same, par.t = s.t AS topk_same
  FROM par, (SELECT strata.hll_agg(viewer_id)::text AS h, strata.qsketch_agg(watch_ms)::text AS q,
             (SELECT array_agg(item ORDER BY item) FROM strata.topk_items(strata.topk_agg(country, 3))) AS t FROM views) s;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;

-- Refusals: bad parameters, hostile values, mismatched merges.
SELECT test_err($$SELECT strata.hll_agg(g, 3) FROM generate_series(1, 2) g$$);
SELECT test_err($$SELECT strata.hll_agg(g, 19) FROM generate_series(1, 2) g$$);
SELECT test_err($$SELECT 'garbage'::strata.hll$$);
SELECT test_err($$SELECT '\x01'::strata.hll$$);
SELECT test_err($$SELECT '\x0148'::strata.hll$$);
SELECT test_err($$SELECT '\x09480e0000000000'::strata.hll$$);
SELECT test_err($$SELECT '\x01510e0000000000'::strata.hll$$);
SELECT test_err($$SELECT '\x01480e00020000000100000001000000'::strata.hll$$);
SELECT test_err($$SELECT '\x0148zz'::strata.hll$$);
-- A sparse entry with an index beyond 25 bits (it would address past the registers once dense).
SELECT test_err($$SELECT '\x01480400010000005b3f8080'::strata.hll$$);
SELECT test_err($$SELECT strata.qsketch_agg(x) FROM (VALUES ('NaN'::float8)) v(x)$$);
SELECT test_err($$SELECT strata.qsketch_agg(x, 0.5) FROM (VALUES (1.0)) v(x)$$);
SELECT test_err($$SELECT strata.quantile(strata.qsketch_agg(g), 1.5) FROM generate_series(1, 3) g$$);
SELECT test_err($$SELECT strata.quantile_cont(strata.qsketch_agg(g), -0.5) FROM generate_series(1, 3) g$$);
SELECT test_err($$SELECT strata.merge(strata.qsketch_agg(g, 0.01), strata.qsketch_agg(g, 0.02)) FROM generate_series(1, 3) g$$);
SELECT test_err($$SELECT strata.topk_agg(g, 0) FROM generate_series(1, 3) g$$);
SELECT test_err($$SELECT strata.merge(strata.topk_agg(g, 2), strata.topk_agg(g, 3)) FROM generate_series(1, 3) g$$);
SELECT test_err($$SELECT '\x0151'::strata.qsketch$$);
SELECT test_err($$SELECT '\x0154'::strata.topk$$);
DROP TABLE views, daily;
-- A qsketch written by strata 0.6 (format version 1: every bucket of its span, a byte each) still reads
-- (its input re-encodes it) and merges; sketches written now store a group spread over many buckets sparse.
CREATE TEMP TABLE qs_v1 AS SELECT '\x01517b14ae47e17a743f05000000000000c09240000000000082d440c60200009f0201000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000010000000100000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000010000000000'::text AS v1;
CREATE TEMP VIEW qs_five AS SELECT x FROM (VALUES (1200), (2500), (2600), (9000), (21000)) v(x);
SELECT length(v1) / 2 - 1 AS v1_bytes, octet_length(v1::strata.qsketch::text) / 2 - 1 AS read_back_bytes,
       substr(v1::strata.qsketch::text, 1, 4) AS read_back_version,
       v1::strata.qsketch::text = (SELECT strata.qsketch_agg(x)::text FROM qs_five) AS same_as_aggregated_now,
       round(strata.quantile(v1::strata.qsketch, 0.5)::numeric, 3) AS median FROM qs_v1;
SELECT strata.merge(q)::text = (SELECT strata.qsketch_agg(x)::text FROM (SELECT x FROM qs_five UNION ALL SELECT x FROM qs_five) d)
       AS merges_with_a_new_one
  FROM (SELECT v1::strata.qsketch FROM qs_v1 UNION ALL SELECT strata.qsketch_agg(x) FROM qs_five) s(q);
DROP VIEW qs_five;
DROP TABLE qs_v1;
