// Unit tests of the rollup SQL generator: the statements' shape for each measure kind and source kind.
// (Their behaviour on a real server is covered by test/sql/rollups_*.sql and the cluster tests.)
#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "core/rollup_sql.hpp"

namespace r = strata::core::rollup;

namespace {

r::Spec HourlySpec() {
  r::Spec s;
  s.id = 7;
  s.source = "\"public\".\"events\"";
  s.order_column = "id";
  s.bucket_name = "bucket";
  s.bucket_expr = "date_trunc('hour'::text, ts)";
  s.bucket_type = "timestamp with time zone";
  s.bucket_width = "'01:00:00'::interval";
  s.time_column = "ts";
  s.dims = {{"channel", "channel"}};
  s.measures = {{"views", r::MeasureKind::kCount, "", "bigint", "bigint"},
                {"watch", r::MeasureKind::kAvg, "watch_ms", "bigint", "numeric"},
                {"viewers", r::MeasureKind::kHll, "viewer_id", "strata.hll", "strata.hll"},
                {"longest", r::MeasureKind::kMax, "watch_ms", "integer", "integer"}};
  s.where = "kind = 'view'::text";
  s.data_table = "\"public\".\"hourly_data\"";
  s.pending_table = "\"public\".\"hourly_pending\"";
  return s;
}

bool Has(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

}  // namespace

TEST(RollupSql, AvgIsStoredAsSumAndCount) {
  const auto s = HourlySpec();
  EXPECT_EQ(r::StateColumns(s.measures[1]), (std::vector<std::string>{"watch__sum", "watch__count"}));
  EXPECT_EQ(r::StateAggregates(s.measures[1]), (std::vector<std::string>{"sum(watch_ms)", "count(watch_ms)"}));
  EXPECT_EQ(r::StateAggregates(s.measures[0]), (std::vector<std::string>{"count(*)"}));
  const std::string sel = r::StateSelect(s, "false");
  EXPECT_EQ(sel,
            "SELECT date_trunc('hour'::text, ts) AS \"bucket\", channel AS \"channel\", count(*) AS \"views\", "
            "sum(watch_ms) AS \"watch__sum\", count(watch_ms) AS \"watch__count\", strata.hll_agg(viewer_id) AS "
            "\"viewers\", max(watch_ms) AS \"longest\" FROM \"public\".\"events\" WHERE (kind = 'view'::text) AND "
            "(false) GROUP BY 1, 2");
}

TEST(RollupSql, AppendMergesEveryMeasureAndQueuesDependents) {
  const auto s = HourlySpec();
  const std::string sql = r::AppendSql(s, {{"\"public\".\"daily_pending\"", "date_trunc('day'::text, bucket)"}});
  EXPECT_TRUE(Has(sql, "\"id\" > $1::bigint AND \"id\" <= $2::bigint"));
  EXPECT_TRUE(Has(sql, "ON CONFLICT (\"bucket\", \"channel\") DO UPDATE SET"));
  EXPECT_TRUE(Has(sql, "\"views\" = COALESCE(t.\"views\" + EXCLUDED.\"views\", t.\"views\", EXCLUDED.\"views\")"));
  EXPECT_TRUE(Has(sql, "\"viewers\" = strata.merge(t.\"viewers\", EXCLUDED.\"viewers\")"));
  EXPECT_TRUE(Has(sql, "\"longest\" = GREATEST(t.\"longest\", EXCLUDED.\"longest\")"));
  EXPECT_TRUE(Has(sql, "\"watch__count\" = COALESCE("));
  EXPECT_TRUE(Has(sql, "INSERT INTO \"public\".\"daily_pending\" (b) SELECT DISTINCT date_trunc('day'::text, bucket) "
                       "FROM (SELECT \"bucket\" FROM __strata_new UNION ALL SELECT \"bucket\" FROM __strata_up)"));
  // Buckets past the newest stored one are inserted plainly; the others (and NULL buckets) merge.
  EXPECT_TRUE(Has(sql, "__strata_top AS (SELECT max(\"bucket\") AS m FROM \"public\".\"hourly_data\")"));
  EXPECT_TRUE(Has(sql, "WHERE a.\"bucket\" IS NOT NULL AND (x.m IS NULL OR a.\"bucket\" > x.m) RETURNING"));
  EXPECT_TRUE(Has(sql, "WHERE a.\"bucket\" IS NULL OR a.\"bucket\" <= x.m ON CONFLICT"));
  EXPECT_TRUE(Has(sql, "count(*) AS __strata_rows"));
  EXPECT_EQ(r::MergeExpr(r::MeasureKind::kMin, "\"m\""), "LEAST(t.\"m\", EXCLUDED.\"m\")");
}

TEST(RollupSql, RecomputeReadsOnlyAbsorbedRowsOfRawSources) {
  auto s = HourlySpec();
  auto stmts = r::RecomputeSql(s, {});
  ASSERT_EQ(stmts.size(), 3u);
  EXPECT_EQ(stmts[0], "DELETE FROM \"public\".\"hourly_data\" WHERE \"bucket\" = ANY ($1::timestamp with time zone[]) OR "
                      "\"bucket\" IS NULL AND pg_catalog.array_position($1::timestamp with time zone[], NULL::timestamp with "
                      "time zone) IS NOT NULL");
  EXPECT_TRUE(Has(stmts[1], "\"ts\" >= __strata_u.__strata_b AND \"ts\" < __strata_u.__strata_b + pg_catalog.make_interval("));
  // The NULL and infinite buckets: rows with a NULL time, or that infinite time, absorbed ones only.
  EXPECT_TRUE(Has(stmts[2], "WHERE (kind = 'view'::text) AND ((\"ts\" IS NULL AND pg_catalog.array_position("));
  EXPECT_TRUE(Has(stmts[2], "OR \"ts\" = ANY ($1::timestamp with time zone[]) AND NOT pg_catalog.isfinite(\"ts\")) AND "
                            "\"id\" > $2::bigint AND \"id\" <= $3::bigint"));
  EXPECT_TRUE(Has(stmts[1], "\"id\" > $2::bigint AND \"id\" <= $3::bigint"));
  EXPECT_TRUE(Has(stmts[1], "date_trunc('hour'::text, ts) = __strata_u.__strata_b"));
  s.source_is_rollup = true;
  stmts = r::RecomputeSql(s, {{"\"p\"", "x"}});
  EXPECT_FALSE(Has(stmts[1], "$2"));
  EXPECT_TRUE(Has(stmts[1], "FROM unnest($1::timestamp with time zone[]) AS __strata_r(\"bucket\")"));
}

TEST(RollupSql, RealTimeViewWithoutDimensionsMatchesByBucket) {
  auto s = HourlySpec();
  s.dims.clear();
  const std::string v = r::ViewSql(s, "\"public\".\"hourly\"", true, false, true);
  const std::string tail = "(SELECT t.\"bucket\" FROM __strata_tail t WHERE t.\"bucket\" IS NOT NULL)";
  EXPECT_TRUE(Has(v, ">= (SELECT lo FROM __strata_range) AND NOT EXISTS (SELECT FROM __strata_tail t WHERE d.\"bucket\" = t.\"bucket\") UNION ALL"));
  EXPECT_TRUE(Has(v, "IS NOT NULL)) AND d.\"bucket\" IN " + tail + " UNION ALL"));
  EXPECT_FALSE(Has(v, "d.\"bucket\" IS NULL OR"));
  EXPECT_FALSE(Has(v, "NOT (("));
  EXPECT_FALSE(Has(v, " NOT IN "));
  EXPECT_TRUE(Has(v, "LEFT JOIN LATERAL (SELECT \"bucket\", \"views\", \"watch__sum\", \"watch__count\", \"viewers\", "
                     "\"longest\" FROM \"public\".\"hourly_data\" d WHERE d.\"bucket\" = t.\"bucket\" LIMIT 1) AS __strata_p ON true "
                     "WHERE t.\"bucket\" IS NOT NULL AND (SELECT n FROM __strata_range) <= 1000"));
  EXPECT_TRUE(Has(v, "FROM __strata_tail t WHERE (SELECT n FROM __strata_range) > 1000 OR t.\"bucket\" IS NULL) AS __strata_touched"));
}

TEST(RollupSql, RealTimeViewMergesTheTailPerGroup) {
  const auto s = HourlySpec();
  const std::string v = r::ViewSql(s, "\"public\".\"hourly\"", true, false, true);
  EXPECT_TRUE(Has(v, "\"id\" > strata.rollup_watermark(7)"));
  EXPECT_TRUE(Has(v, "\"id\" <= strata.rollup_backfill_cursor(7)"));
  EXPECT_TRUE(Has(v, "sum(\"views\")::bigint AS \"views\""));
  EXPECT_TRUE(Has(v, "strata.merge(\"viewers\") AS \"viewers\""));
  EXPECT_TRUE(Has(v, "(sum(\"watch__sum\")::numeric / NULLIF(sum(\"watch__count\"), 0))::numeric AS \"watch\""));
  EXPECT_TRUE(Has(v, "GROUP BY \"bucket\", \"channel\""));
  // Stored groups the tail does not touch are read as they are, in two arms: below the tail's first
  // bucket with no filter (`< ANY` of a one-element array: an index condition the planner rates at 98%),
  // from it on by an anti-join with the tail's keys (no keyset: Spec::int_keys is false).
  const std::string tail_keys = "(SELECT t.\"bucket\", t.\"channel\" FROM __strata_tail t WHERE t.\"bucket\" IS NOT NULL AND "
                                "t.\"channel\" IS NOT NULL)";
  EXPECT_TRUE(Has(v, "__strata_range AS (SELECT COALESCE(min(\"bucket\"), 'infinity'::timestamp with time zone) AS lo, "
                     "count(*) AS n FROM __strata_tail)"));
  EXPECT_FALSE(Has(v, "keyset"));
  EXPECT_TRUE(Has(v, "d WHERE strata.rollup_backfill_cursor(7) IS NULL AND d.\"bucket\" < ANY (ARRAY(SELECT lo FROM __strata_range)) UNION ALL SELECT "));
  // A stored group with a NULL dimension never equals a key: it is re-aggregated when the tail has a
  // group with a NULL dimension in its bucket, and read as it is otherwise.
  const std::string null_buckets = "(SELECT t.\"bucket\" FROM __strata_tail t WHERE t.\"bucket\" IS NOT NULL AND (t.\"channel\" IS NULL))";
  EXPECT_TRUE(Has(v, "d WHERE strata.rollup_backfill_cursor(7) IS NULL AND d.\"bucket\" >= (SELECT lo FROM __strata_range) AND "
                     "(NOT (d.\"channel\" IS NULL) OR d.\"bucket\" NOT IN " + null_buckets + ") AND NOT EXISTS (SELECT FROM "
                     "__strata_tail t WHERE d.\"bucket\" = t.\"bucket\" AND d.\"channel\" = t.\"channel\") UNION ALL SELECT "));
  EXPECT_TRUE(Has(v, "d.\"bucket\" = ANY (ARRAY(SELECT DISTINCT t.\"bucket\" FROM __strata_tail t WHERE t.\"bucket\" IS NOT NULL "
                     "AND (t.\"channel\" IS NULL))) AND (d.\"channel\" IS NULL) UNION ALL"));
  EXPECT_FALSE(Has(v, "IS NOT NULL AND (d.\"bucket\" <"));
  EXPECT_FALSE(Has(v, " NOT IN " + tail_keys));
  // Touched groups of a small tail: probed one by one in the key index and merged pairwise, as the
  // refresh merges them (stored state first); a big tail is joined over the touched buckets and
  // re-aggregated. The tail's group count switches between the two.
  EXPECT_TRUE(Has(v, "SELECT t.\"bucket\", t.\"channel\", COALESCE(__strata_p.\"views\" + t.\"views\", __strata_p.\"views\", "
                     "t.\"views\") AS \"views\", (COALESCE(__strata_p.\"watch__sum\" + t.\"watch__sum\", __strata_p.\"watch__sum\", "
                     "t.\"watch__sum\")::numeric / NULLIF(COALESCE(__strata_p.\"watch__count\" + t.\"watch__count\", "
                     "__strata_p.\"watch__count\", t.\"watch__count\"), 0))::numeric AS \"watch\", "
                     "strata.merge(__strata_p.\"viewers\", t.\"viewers\") AS \"viewers\", "
                     "GREATEST(__strata_p.\"longest\", t.\"longest\") AS \"longest\" FROM __strata_tail t LEFT JOIN LATERAL"));
  EXPECT_TRUE(Has(v, "LEFT JOIN LATERAL (SELECT \"bucket\", \"channel\", \"views\", \"watch__sum\", "
                     "\"watch__count\", \"viewers\", \"longest\" FROM \"public\".\"hourly_data\" d WHERE d.\"bucket\" = t.\"bucket\" AND "
                     "d.\"channel\" = t.\"channel\" LIMIT 1) AS __strata_p ON true WHERE t.\"bucket\" IS NOT NULL AND "
                     "t.\"channel\" IS NOT NULL AND (SELECT n FROM __strata_range) <= 1000 AND strata.rollup_backfill_cursor(7) IS NULL UNION ALL"));
  const std::string touched = "d.\"bucket\" = ANY (ARRAY(SELECT DISTINCT t.\"bucket\" FROM __strata_tail t WHERE t.\"bucket\" IS NOT NULL))";
  EXPECT_TRUE(Has(v, "d WHERE (SELECT n FROM __strata_range) > 1000 AND " + touched + " AND (d.\"bucket\", "
                     "d.\"channel\") IN " + tail_keys + " UNION ALL"));
  EXPECT_TRUE(Has(v, "d.\"bucket\" IS NULL UNION ALL"));
  // The re-aggregation gets the tail groups the pairwise arm leaves: all of a big tail, NULL keys.
  EXPECT_TRUE(Has(v, "FROM __strata_tail t WHERE (SELECT n FROM __strata_range) > 1000 OR t.\"bucket\" IS NULL OR "
                     "t.\"channel\" IS NULL) AS __strata_touched WHERE strata.rollup_backfill_cursor(7) IS NULL GROUP BY"));
  EXPECT_TRUE(Has(v, "strata.rollup_backfill_cursor(7) IS NOT NULL"));
  const std::string m = r::ViewSql(s, "\"public\".\"hourly\"", false, false, true);
  EXPECT_FALSE(Has(m, "UNION ALL"));
  EXPECT_FALSE(Has(m, "GROUP BY"));
  EXPECT_TRUE(Has(m, "(d.\"watch__sum\"::numeric / NULLIF(d.\"watch__count\", 0))::numeric AS \"watch\""));
}

TEST(RollupSql, RealTimeViewWithIntegerKeysDropsTouchedGroupsByKeyset) {
  auto s = HourlySpec();
  s.int_keys = true;
  const std::string v = r::ViewSql(s, "\"public\".\"hourly\"", true, false, false);
  // From lo on, one filter: the keyset of the tail's keys (up to kViewProbeLimit groups) or of its
  // buckets (past it). No anti-join, no NULL-dimension filter of its own (the keyset carries it).
  EXPECT_TRUE(Has(v, "d WHERE d.\"bucket\" >= (SELECT lo FROM __strata_range) AND strata.keyset_lacks((SELECT "
                     "COALESCE(strata.keyset_agg(t.\"bucket\", t.\"channel\") FILTER (WHERE r.n <= 1000), "
                     "strata.keyset_agg(t.\"bucket\") FILTER (WHERE r.n > 1000)) FROM __strata_tail t, __strata_range r), "
                     "d.\"bucket\", d.\"channel\") UNION ALL SELECT "));
  EXPECT_FALSE(Has(v, "NOT EXISTS"));
  EXPECT_FALSE(Has(v, " NOT IN "));
  // A big tail re-aggregates every stored group of the buckets it touches; stored groups with a NULL
  // dimension are re-read on their own only for a small tail (a big one's buckets hold them already).
  const std::string touched = "d.\"bucket\" = ANY (ARRAY(SELECT DISTINCT t.\"bucket\" FROM __strata_tail t WHERE t.\"bucket\" IS NOT NULL))";
  EXPECT_TRUE(Has(v, "d WHERE (SELECT n FROM __strata_range) > 1000 AND " + touched + " UNION ALL"));
  EXPECT_TRUE(Has(v, "d WHERE (SELECT n FROM __strata_range) <= 1000 AND d.\"bucket\" = ANY (ARRAY(SELECT DISTINCT t.\"bucket\" "
                     "FROM __strata_tail t WHERE t.\"bucket\" IS NOT NULL AND (t.\"channel\" IS NULL))) AND (d.\"channel\" IS NULL) UNION ALL"));
  EXPECT_TRUE(Has(v, "d.\"bucket\" < ANY (ARRAY(SELECT lo FROM __strata_range))"));
  EXPECT_TRUE(Has(v, "FROM __strata_tail t WHERE (SELECT n FROM __strata_range) > 1000 OR t.\"bucket\" IS NULL OR "
                     "t.\"channel\" IS NULL) AS __strata_touched GROUP BY"));
}

TEST(RollupSql, SettledViewHasNoBackfillArmOrGating) {
  const auto s = HourlySpec();
  const std::string gated = r::ViewSql(s, "\"public\".\"hourly\"", true, true, true);
  const std::string v = r::ViewSql(s, "\"public\".\"hourly\"", true, true, false);
  EXPECT_TRUE(Has(v, "CREATE OR REPLACE VIEW \"public\".\"hourly\" AS WITH __strata_tail AS ("));
  EXPECT_TRUE(Has(v, "\"id\" > strata.rollup_watermark(7)"));
  EXPECT_FALSE(Has(v, "rollup_backfill_cursor"));
  EXPECT_FALSE(Has(v, "__strata_all"));
  // The same stored arms as the gated form, without the gate.
  for (const char* arm : {"d.\"bucket\" < ANY (ARRAY(SELECT lo FROM __strata_range))", "d.\"bucket\" >= (SELECT lo FROM __strata_range) AND "}) {
    EXPECT_TRUE(Has(v, std::string(" FROM \"public\".\"hourly_data\" d WHERE ") + arm));
    EXPECT_TRUE(Has(gated, std::string(" FROM \"public\".\"hourly_data\" d WHERE strata.rollup_backfill_cursor(7) IS NULL AND ") + arm));
  }
  // The touched arm ends the view.
  const std::string end = "OR t.\"channel\" IS NULL) AS __strata_touched GROUP BY \"bucket\", \"channel\"";
  ASSERT_GE(v.size(), end.size());
  EXPECT_EQ(v.substr(v.size() - end.size()), end);
  // Materialized-only views are the same in both forms.
  EXPECT_EQ(r::ViewSql(s, "x", false, false, true), r::ViewSql(s, "x", false, false, false));
}

TEST(RollupSql, CaptureLogsOldAndNewBucketsOncePerGrain) {
  const std::vector<r::Grain> grains{{3, "date_trunc('hour'::text, ts)", "timestamp with time zone", "ts"},
                                     {5, "date_bin('00:15:00'::interval, ts, '2000-01-03 00:00:00'::timestamp)",
                                      "timestamp without time zone", "ts"},
                                     {8, "date_trunc('day'::text, seen_at)", "timestamp with time zone", "seen_at"}};
  const std::string u = r::CaptureSql(grains, true);
  EXPECT_TRUE(Has(u, "WITH want AS (SELECT DISTINCT g.grain, g.b FROM "));
  // A bucket's entry moves to a new position, unless another writer holds it; else a new entry.
  EXPECT_TRUE(Has(u, "FOR UPDATE OF o SKIP LOCKED), kept AS MATERIALIZED (SELECT DISTINCT ON (grain, b) id"));
  EXPECT_TRUE(Has(u, "moved AS (UPDATE strata.rollup_change c SET pos = pg_catalog.nextval("));
  // Entries of one bucket left by writers that met are merged into the moved one.
  EXPECT_TRUE(Has(u, "merged AS (DELETE FROM strata.rollup_change c WHERE c.ctid OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT id FROM held EXCEPT SELECT id FROM kept)))"));
  EXPECT_TRUE(Has(u, "INSERT INTO strata.rollup_change (grain, b) SELECT w.grain, w.b FROM want w WHERE NOT EXISTS"));
  // Each time column once, from the old and the new rows.
  EXPECT_TRUE(Has(u, "(SELECT \"ts\", \"seen_at\" FROM __strata_old UNION ALL SELECT \"ts\", \"seen_at\" FROM __strata_new) t"));
  EXPECT_TRUE(Has(u, "(3, (date_trunc('hour'::text, ts)))"));
  // A timestamp bucket is logged as its UTC reading, whatever the session's TimeZone.
  EXPECT_TRUE(Has(u, "(5, (date_bin('00:15:00'::interval, ts, '2000-01-03 00:00:00'::timestamp)) AT TIME ZONE 'UTC')"));
  EXPECT_TRUE(Has(u, "(8, (date_trunc('day'::text, seen_at)))"));
  const std::string d = r::CaptureSql(grains, false);
  EXPECT_TRUE(Has(d, "FROM (SELECT \"ts\", \"seen_at\" FROM __strata_old) t"));
  EXPECT_FALSE(Has(d, "__strata_new"));
  EXPECT_EQ(r::CaptureSql({}, true), "");
  EXPECT_EQ(r::LoggedBucket("timestamp without time zone", "u"), "(u AT TIME ZONE 'UTC')");
  EXPECT_EQ(r::LoggedBucket("timestamp with time zone", "u"), "u");
  EXPECT_TRUE(Has(r::TakePendingSql(HourlySpec()), "ORDER BY b DESC LIMIT $1::int"));
}

TEST(RollupSql, PendingBucketsIncludeTheNullOne) {
  const auto s = HourlySpec();
  const std::string t = r::TakePendingSql(s);
  EXPECT_TRUE(Has(t, "DELETE FROM \"public\".\"hourly_pending\" p WHERE p.b IS NULL AND EXISTS"));
  EXPECT_TRUE(Has(t, "+ (bool_or(b IS NULL) IS TRUE)::int"));
  EXPECT_TRUE(Has(t, "bool_or(b IS NULL OR NOT pg_catalog.isfinite(b)) IS TRUE"));
  EXPECT_TRUE(Has(r::CreateTablesSql(s)[2], "(b timestamp with time zone)"));
}

TEST(RollupSql, DefinitionViewReadsEveryUsedColumn) {
  const auto s = HourlySpec();
  EXPECT_EQ(r::DefinitionViewSql(s, "\"public\".\"hourly_definition\""),
            "CREATE VIEW \"public\".\"hourly_definition\" AS SELECT \"ts\" AS __strata_time, channel AS \"channel\", "
            "count(*) AS \"views\", sum(watch_ms) AS \"watch\", strata.hll_agg(viewer_id) AS \"viewers\", "
            "max(watch_ms) AS \"longest\", pg_catalog.max(\"id\") AS __strata_order FROM \"public\".\"events\" "
            "WHERE kind = 'view'::text GROUP BY 1, 2");
}

TEST(RollupSql, RenameBucketColumnRewritesOnlyTheArgument) {
  EXPECT_EQ(r::RenameBucketColumn("date_trunc('hour'::text, ts)", "ts", "t2"), "date_trunc('hour'::text, t2)");
  EXPECT_EQ(r::RenameBucketColumn("pg_catalog.date_trunc('day', ts, 'Europe/Paris')", "ts", "\"T s\""),
            "pg_catalog.date_trunc('day', \"T s\", 'Europe/Paris')");
  EXPECT_EQ(r::RenameBucketColumn("pg_catalog.date_bin('1 day'::interval, ts, '2000-01-03 00:00:00'::timestamp without time zone)",
                                  "ts", "x"),
            "pg_catalog.date_bin('1 day'::interval, x, '2000-01-03 00:00:00'::timestamp without time zone)");
  // A name that is a prefix of another, or absent, is not taken for the column.
  EXPECT_EQ(r::RenameBucketColumn("date_trunc('hour'::text, ts2)", "ts", "x"), std::nullopt);
  EXPECT_EQ(r::RenameBucketColumn("date_trunc('hour'::text, a)", "ts", "x"), std::nullopt);
}

TEST(RollupSql, ZonedBucketsEndInTheirOwnZone) {
  auto s = HourlySpec();
  // Fixed-width timestamptz buckets end after elapsed time, whatever the session's TimeZone.
  EXPECT_EQ(r::BucketEnd(s, "x"), "x + pg_catalog.make_interval(secs => pg_catalog.date_part('epoch', '01:00:00'::interval))");
  s.bucket_type = "timestamp without time zone";
  EXPECT_EQ(r::BucketEnd(s, "x"), "x + '01:00:00'::interval");
  s.bucket_type = "timestamp with time zone";
  s.time_zone = "Europe/Paris";
  EXPECT_EQ(r::BucketEnd(s, "x"), "((x AT TIME ZONE 'Europe/Paris') + '01:00:00'::interval) AT TIME ZONE 'Europe/Paris'");
}

TEST(RollupSql, KindNamesRoundTrip) {
  for (auto k : {r::MeasureKind::kCount, r::MeasureKind::kSum, r::MeasureKind::kMin, r::MeasureKind::kMax,
                 r::MeasureKind::kAvg, r::MeasureKind::kHll, r::MeasureKind::kQsketch, r::MeasureKind::kTopk,
                 r::MeasureKind::kMerge}) {
    r::MeasureKind back;
    ASSERT_TRUE(r::KindFromName(r::KindName(k), &back));
    EXPECT_EQ(back, k);
  }
  r::MeasureKind back;
  EXPECT_FALSE(r::KindFromName("median", &back));
}

TEST(RollupSql, FixedWidthTruncIsDateBinAtLocalMondayMidnight) {
  using strata::core::rollup::DateBinForTrunc;
  // UTC: origin is 2000-01-03 00:00 UTC (a Monday).
  EXPECT_EQ(*DateBinForTrunc("1 hour", "ts", true, 0),
            "pg_catalog.date_bin('1 hour'::interval, ts, '2000-01-03 00:00:00+00'::timestamp with time zone)");
  // +05:30 (east): local midnight is 18:30 UTC the day before.
  EXPECT_EQ(*DateBinForTrunc("7 days", "ts", true, 5 * 3600 + 1800),
            "pg_catalog.date_bin('7 days'::interval, ts, '2000-01-02 18:30:00+00'::timestamp with time zone)");
  // UTC-5 (west): 05:00 UTC.
  EXPECT_EQ(*DateBinForTrunc("1 day", "ts", true, -5 * 3600),
            "pg_catalog.date_bin('1 day'::interval, ts, '2000-01-03 05:00:00+00'::timestamp with time zone)");
  EXPECT_EQ(*DateBinForTrunc("1 minute", "t", false, std::nullopt),
            "pg_catalog.date_bin('1 minute'::interval, t, '2000-01-03 00:00:00'::timestamp without time zone)");
  // Calendar units, zones with daylight saving time (no fixed offset) and absurd offsets keep date_trunc.
  EXPECT_FALSE(DateBinForTrunc("1 month", "ts", true, 0));
  EXPECT_FALSE(DateBinForTrunc("1 year", "ts", false, std::nullopt));
  EXPECT_FALSE(DateBinForTrunc("1 hour", "ts", true, std::nullopt));
  EXPECT_FALSE(DateBinForTrunc("1 hour", "ts", true, 20 * 3600));
}

TEST(RollupSql, BulkLoadSelectHasTheTableColumnsThenTheRowCount) {
  // The first build's bulk load writes every column but the last into the data table in order, and
  // sums the last (source rows per group): the column order must be the data table's.
  const auto s = HourlySpec();
  EXPECT_EQ(r::AppendSelectSql(s),
            "SELECT date_trunc('hour'::text, ts) AS \"bucket\", channel AS \"channel\", count(*) AS \"views\", "
            "sum(watch_ms) AS \"watch__sum\", count(watch_ms) AS \"watch__count\", strata.hll_agg(viewer_id) AS "
            "\"viewers\", max(watch_ms) AS \"longest\", count(*) AS __strata_rows FROM \"public\".\"events\" WHERE "
            "(kind = 'view'::text) AND (\"id\" > $1::bigint AND \"id\" <= $2::bigint) GROUP BY 1, 2");
  EXPECT_TRUE(Has(r::BulkAppendSql(s, {}), "WITH __strata_agg AS (" + r::AppendSelectSql(s) + ")"));
  // Unbounded (a first build that reads every row): the source's own WHERE stays, the range goes.
  const std::string all = r::AppendSelectSql(s, false);
  EXPECT_TRUE(Has(all, " WHERE (kind = 'view'::text) GROUP BY 1, 2")) << all;
  EXPECT_FALSE(Has(all, "$1")) << all;
  auto plain = s;
  plain.where.clear();
  EXPECT_TRUE(Has(r::AppendSelectSql(plain, false), "FROM \"public\".\"events\" GROUP BY 1, 2"));
}

TEST(RollupSql, SplitAppendMarksGroupsPastTheNewestStoredBucket) {
  const auto s = HourlySpec();
  const std::string sql = r::SplitAppendSelectSql(s);
  // The data table's columns, the row count, then the "new" flag; the same rows as the plain append.
  EXPECT_TRUE(Has(sql, "max(watch_ms) AS \"longest\", count(*) AS __strata_rows, COALESCE(date_trunc('hour'::text, ts) > "
                       "(SELECT max(\"bucket\") FROM \"public\".\"hourly_data\"), date_trunc('hour'::text, ts) IS NOT NULL) "
                       "AS __strata_new FROM \"public\".\"events\" WHERE (kind = 'view'::text) AND (\"id\" > $1::bigint AND "
                       "\"id\" <= $2::bigint) GROUP BY 1, 2"));
}

TEST(RollupSql, ColumnMergesFollowTheDataTableColumnsAndTheSqlMerge) {
  // One entry per data table column, in the data table's column order (AllColumns): avg's two columns
  // both add, as its two SET items in AppendSql do; max keeps the greater, the sketch goes through strata.merge.
  using M = r::ColumnMerge;
  const auto s = HourlySpec();
  EXPECT_EQ(r::ColumnMerges(s), (std::vector<M>{M::kKey, M::kKey, M::kAdd, M::kAdd, M::kAdd, M::kSketchMerge, M::kGreatest}));
  auto t = s;
  t.dims.clear();
  t.measures = {{"lo", r::MeasureKind::kMin, "x", "integer", "integer"},
                {"q", r::MeasureKind::kQsketch, "x", "strata.qsketch", "strata.qsketch"},
                {"k", r::MeasureKind::kTopk, "x, 5", "strata.topk", "strata.topk"},
                {"m", r::MeasureKind::kMerge, "viewers", "strata.hll", "strata.hll"},
                {"s", r::MeasureKind::kSum, "x", "bigint", "bigint"}};
  EXPECT_EQ(r::ColumnMerges(t), (std::vector<M>{M::kKey, M::kLeast, M::kSketchMerge, M::kSketchMerge, M::kSketchMerge, M::kAdd}));
}

TEST(RollupSql, FirstBuildLeavesRoomInTheNewestDayOfBuckets) {
  const int64_t hour = int64_t{3600} * 1000000, day = 24 * hour;
  const int64_t newest = 1000 * day;
  EXPECT_TRUE(r::RecentBucket(newest, newest));
  EXPECT_TRUE(r::RecentBucket(newest - 23 * hour, newest));
  EXPECT_FALSE(r::RecentBucket(newest - day, newest));
  EXPECT_FALSE(r::RecentBucket(newest - 30 * day, newest));
  // Near the lower end of the range (-infinity) nothing overflows: everything is recent; an infinite
  // newest bucket leaves every finite one packed.
  EXPECT_TRUE(r::RecentBucket(std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::min() + 5));
  EXPECT_FALSE(r::RecentBucket(0, std::numeric_limits<int64_t>::max()));
  EXPECT_GT(r::kPackedFillfactor, r::kRecentFillfactor);
}

TEST(RollupSql, AggregationMemoryKeepsTheHashTableCacheSized) {
  // count + sum(int) per hour x channel: states by value, a group is its entry and key (~100 bytes);
  // 2 MB of them is work_mem 1 MB at the default hash_mem_multiplier of 2.
  r::Spec plain = HourlySpec();
  plain.measures = {{"views", r::MeasureKind::kCount, "", "bigint", "bigint"},
                    {"watch", r::MeasureKind::kSum, "watch_ms", "bigint", "bigint"}};
  EXPECT_EQ(r::AggregationWorkMemKb(plain, 2048, 262144, 2.0), 1024);
  EXPECT_EQ(r::AggregationWorkMemKb(plain, 2048, 262144, 1.0), 2048);
  // Never raises work_mem: at or below the budget it stays as set (0).
  EXPECT_EQ(r::AggregationWorkMemKb(plain, 2048, 1024, 2.0), 0);
  EXPECT_EQ(r::AggregationWorkMemKb(plain, 2048, 512, 2.0), 0);
  // Off, or nothing to lower.
  EXPECT_EQ(r::AggregationWorkMemKb(plain, 0, 262144, 2.0), 0);
  // A tiny budget still gives work_mem's minimum, 64 kB.
  EXPECT_EQ(r::AggregationWorkMemKb(plain, 1, 262144, 2.0), 64);
  // sum(bigint) keeps a numeric state (internal, declared 128 bytes): more declared than real per group.
  r::Spec wide = plain;
  wide.measures[1].state_type = "numeric";
  EXPECT_GT(r::AggregationWorkMemKb(wide, 2048, 262144, 2.0), 1024);

  // Sketches: declared at their dense size (hll 16,500 + qsketch 8,192 bytes), a refresh's group holds
  // about a kilobyte of each. The executor's group limit (hash memory / declared size) must then let
  // about 2 MB of real groups in: roughly 960 groups x 24.8 kB = 23 MB of hash memory.
  r::Spec sk = plain;
  sk.measures.push_back({"viewers", r::MeasureKind::kHll, "viewer", "strata.hll", "strata.hll"});
  sk.measures.push_back({"wq", r::MeasureKind::kQsketch, "watch_ms", "strata.qsketch", "strata.qsketch"});
  const int kb = r::AggregationWorkMemKb(sk, 2048, 262144, 2.0);
  EXPECT_GT(kb, 10 * 1024);
  EXPECT_LT(kb, 14 * 1024);
  const double groups = 2048.0 * 1024 / (48 + 16 + 16 * 5 + 2048);
  EXPECT_NEAR(kb * 1024.0 * 2 / (48 + 16 + 16 * 5 + 16500 + 8192), groups, groups * 0.01);
  // Rollups of rollups merge stored sketches: larger real states, fewer groups for the same budget.
  r::Spec merged = sk;
  merged.measures[2].kind = r::MeasureKind::kMerge;
  EXPECT_LT(r::AggregationWorkMemKb(merged, 2048, 262144, 2.0), kb);
}

TEST(RollupSql, AggregationMemoryLeavesSmallInputsInMemory) {
  r::Spec plain = HourlySpec();
  plain.measures = {{"views", r::MeasureKind::kCount, "", "bigint", "bigint"},
                    {"watch", r::MeasureKind::kSum, "watch_ms", "bigint", "bigint"}};
  // About 18,700 groups (112 bytes each) fill 2 MB: 70,000 rows cannot make more than 4 such tables.
  EXPECT_EQ(r::AggregationWorkMemKb(plain, 2048, 262144, 2.0, 50000), 0);
  EXPECT_EQ(r::AggregationWorkMemKb(plain, 2048, 262144, 2.0, 70000), 0);
  EXPECT_EQ(r::AggregationWorkMemKb(plain, 2048, 262144, 2.0, 100000), 1024);
  EXPECT_EQ(r::AggregationWorkMemKb(plain, 2048, 262144, 2.0, 5000000), 1024);
  EXPECT_EQ(r::AggregationWorkMemKb(plain, 2048, 262144, 2.0, 0), 1024);  // unknown
}
