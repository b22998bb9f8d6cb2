// Unit tests of routing's pure parts: bucket nesting, placeholder substitution, the union of arms.
#include <gtest/gtest.h>

#include "core/routing.hpp"

using namespace strata::core::routing;

namespace {

constexpr int64_t kMin = 60 * 1000000LL;
constexpr int64_t kHour = 60 * kMin;
constexpr int64_t kDay = 24 * kHour;

Bucketing Trunc(const std::string& unit, const std::string& zone = "", bool with_zone = true) {
  Bucketing b;
  b.kind = Bucketing::Kind::kTrunc;
  b.unit = *UnitRank(unit);
  b.zone = zone;
  b.with_zone = with_zone;
  return b;
}

Bucketing Bin(int64_t stride, int64_t origin = 0) {
  Bucketing b;
  b.kind = Bucketing::Kind::kBin;
  b.stride_us = stride;
  b.origin_us = origin;
  return b;
}

}  // namespace

TEST(Routing, UnitSpellings) {
  EXPECT_EQ(UnitRank("hour"), UnitRank("HOURS"));
  EXPECT_EQ(UnitRank("min"), UnitRank("minute"));
  EXPECT_FALSE(UnitRank("fortnight").has_value());
  EXPECT_EQ(UnitMicros(*UnitRank("day")), kDay);
  EXPECT_EQ(UnitMicros(*UnitRank("month")), 0);
}

TEST(Routing, TruncNestsInCoarserTruncOfTheSameZone) {
  EXPECT_TRUE(Nests(Trunc("hour", "UTC"), Trunc("day", "UTC"), 0));
  EXPECT_TRUE(Nests(Trunc("day", "Europe/Berlin"), Trunc("month", "Europe/Berlin"), 0));
  EXPECT_TRUE(Nests(Trunc("day", "UTC"), Trunc("week", "UTC"), 0));
  EXPECT_TRUE(Nests(Trunc("hour", "UTC"), Trunc("hour", "UTC"), 0));
  EXPECT_FALSE(Nests(Trunc("day", "UTC"), Trunc("hour", "UTC"), 0));          // finer asked
  EXPECT_FALSE(Nests(Trunc("week", "UTC"), Trunc("month", "UTC"), 0));        // weeks straddle months
  EXPECT_FALSE(Nests(Trunc("day", "UTC"), Trunc("month", "Europe/Berlin"), 0));  // other zone
  EXPECT_TRUE(Nests(Trunc("day", "", false), Trunc("year", "", false), 0));
}

TEST(Routing, BinNestsInBinWithAStrideMultipleAndAlignedOrigins) {
  EXPECT_TRUE(Nests(Bin(10 * kMin), Bin(kHour)));
  EXPECT_TRUE(Nests(Bin(kHour, 2 * kDay), Bin(4 * kHour, 0)));
  EXPECT_FALSE(Nests(Bin(kHour, 0), Bin(kHour, 30 * kMin)));    // shifted origin
  EXPECT_FALSE(Nests(Bin(40 * kMin), Bin(kHour)));              // not a divisor
  EXPECT_FALSE(Nests(Bin(kHour), Bin(30 * kMin)));
}

TEST(Routing, BinNestsInTruncWhenTheZoneKeepsItsGrid) {
  EXPECT_TRUE(Nests(Bin(kHour), Trunc("day", "", false), 0));      // timestamp column
  EXPECT_TRUE(Nests(Bin(kHour), Trunc("day", "Europe/Berlin"), kHour));
  EXPECT_TRUE(Nests(Bin(kHour), Trunc("month", "UTC"), 0));        // UTC all along
  EXPECT_FALSE(Nests(Bin(kHour), Trunc("day", "Asia/Kolkata"), 30 * kMin));
  EXPECT_TRUE(Nests(Bin(30 * kMin), Trunc("day", "Asia/Kolkata"), 30 * kMin));
  EXPECT_FALSE(Nests(Bin(kHour), Trunc("day", "Somewhere"), -1));  // unknown zone
  EXPECT_FALSE(Nests(Bin(kHour, 15 * kMin), Trunc("day", "UTC"), 0));
  EXPECT_FALSE(Nests(Bin(2 * kDay), Trunc("week", "UTC"), 0));
  // Seven-day bins nest in weeks when they start on Mondays (2000-01-03), in a zone always at UTC.
  EXPECT_TRUE(Nests(Bin(7 * kDay, 2 * kDay), Trunc("week", "UTC"), 0));
  EXPECT_TRUE(Nests(Bin(7 * kDay, 9 * kDay), Trunc("week", "", false), 0));
  EXPECT_FALSE(Nests(Bin(7 * kDay, 0), Trunc("week", "UTC"), 0));              // Saturday weeks
  EXPECT_FALSE(Nests(Bin(7 * kDay, 2 * kDay), Trunc("week", "Europe/Berlin"), kHour));
  EXPECT_FALSE(Nests(Bin(7 * kDay, 2 * kDay), Trunc("month", "UTC"), 0));
  EXPECT_FALSE(Nests(Trunc("day", "Europe/Berlin"), Bin(kDay), 0));  // calendar days vary in length
}

TEST(Routing, PlaceholdersOutsideLiteralsOnly) {
  const std::map<int, std::string> with{{40001, "s.g1"}, {44001, "sum(s.c1)"}};
  EXPECT_EQ(SubstitutePlaceholders("$40001 + $1", with), "(s.g1) + $1");
  EXPECT_EQ(SubstitutePlaceholders("f($44001, '$40001', \"$40001\")", with), "f((sum(s.c1)), '$40001', \"$40001\")");
  EXPECT_EQ(SubstitutePlaceholders("'it''s $40001' || $40001", with), "'it''s $40001' || (s.g1)");
  EXPECT_EQ(SubstitutePlaceholders("E'a\\'$40001' || $400011", with), "E'a\\'$40001' || $400011");
  EXPECT_EQ(SubstitutePlaceholders("'unterminated $40001", with), "'unterminated $40001");
  EXPECT_EQ(SubstitutePlaceholders("$", with), "$");
  EXPECT_EQ(SubstitutePlaceholders("$99999999999999999999", with), "$99999999999999999999");
}

TEST(Routing, CombinationsKeepTheQuerysTypes) {
  EXPECT_EQ(CombineState(Combine::kCount, "s.c1", "bigint"), "COALESCE(pg_catalog.sum(s.c1), 0)::bigint");
  EXPECT_EQ(CombineState(Combine::kSketch, "s.c2", "strata.hll"), "strata.merge(s.c2)");
}

TEST(Routing, UnionReadsEachRowOnce) {
  Route r;
  r.rollup_id = 7;
  r.source = "public.events";
  r.data_table = "public.h_data";
  r.time_column = "\"ts\"";
  r.order_column = "\"id\"";
  r.bucket_column = "\"hour\"";
  r.bucket_type = "timestamp with time zone";
  r.watermark = 42;
  r.grain = 3;
  r.pending_table = "public.h_pending";
  r.bucket_of = [](const std::string& x) { return "date_bin('1 hour', " + x + ", 'epoch')"; };
  r.bucket_end = [](const std::string& x) { return x + " + '1 hour'"; };
  r.keys = {{"channel_id", "d.\"channel_id\""}};
  r.states = {{"pg_catalog.count(*)", "d.\"n\"", Combine::kCount}};
  r.lower = Bound{">=", "'2026-11-01 05:30+00'"};
  int arms = 0;
  std::vector<int> rare;
  const std::string sql = UnionSql(r, &arms, &rare);
  EXPECT_EQ(arms, 6);  // stored, tail, left edge, dirty, frozen, NULL/infinite (no backfill, no upper bound)
  EXPECT_EQ(rare, (std::vector<int>{3, 4}));
  EXPECT_NE(sql.find("FROM public.h_data AS d WHERE"), std::string::npos);
  EXPECT_NE(sql.find("r.\"id\" > 42 AND r.\"id\" > (SELECT watermark FROM strata.rollup WHERE id = 7)"), std::string::npos);
  EXPECT_NE(sql.find("NOT (date_bin('1 hour', r.\"ts\", 'epoch') >= ('2026-11-01 05:30+00'))"), std::string::npos);
  EXPECT_NE(sql.find("c.grain = 3"), std::string::npos);
  EXPECT_EQ(sql.find("backfill_cursor"), std::string::npos);
  r.cursor = 10;
  r.upper = Bound{"<", "now()"};
  r.guard = "pg_catalog.current_setting('TimeZone') = 'UTC'";
  UnionSql(r, &arms, &rare);
  EXPECT_EQ(arms, 9);  // + backfill tail, right edge, changed-TimeZone arm
  EXPECT_EQ(rare, (std::vector<int>{5, 6, 8}));
}

TEST(Routing, ViewUnionReadsTheViewsParts) {
  Route r;
  r.rollup_id = 9;
  r.data_table = "public.d_data";
  r.time_column = "\"hour\"";
  r.bucket_column = "\"day\"";
  r.bucket_type = "timestamp with time zone";
  r.pending_table = "public.d_pending";
  r.bucket_of = [](const std::string& x) { return "date_bin('1 day', " + x + ", 'epoch')"; };
  r.bucket_end = [](const std::string& x) { return x + " + '1 day'"; };
  r.keys = {{"channel_id", "d.\"channel_id\""}};
  r.states = {{"strata.merge(viewers)", "d.\"viewers\"", Combine::kSketch}};
  r.over_view = Route::OverView{"public.h_data", "SELECT 1"};
  int arms = 0;
  std::vector<int> rare;
  std::string sql = UnionSql(r, &arms, &rare);
  EXPECT_EQ(arms, 4);  // stored, the viewed rollup's pending and NULL/infinite buckets, the tail
  EXPECT_TRUE(rare.empty());
  EXPECT_NE(sql.find("FROM public.d_data AS d WHERE"), std::string::npos);
  EXPECT_NE(sql.find("JOIN public.h_data AS r ON r.\"hour\" >= __strata_x.__strata_b"), std::string::npos);
  EXPECT_NE(sql.find("FROM (SELECT 1) AS r"), std::string::npos);
  // Nothing of the raw side: no change log, no frozen cutoff, no raw table.
  EXPECT_EQ(sql.find("rollup_change"), std::string::npos);
  EXPECT_EQ(sql.find("frozen_before"), std::string::npos);
  r.lower = Bound{">=", "'2026-11-01 05:30+00'"};
  r.upper = Bound{"<", "now()"};
  r.guard = "pg_catalog.current_setting('TimeZone') = 'UTC'";
  r.over_view->tail = "";  // a materialized-only view
  sql = UnionSql(r, &arms, &rare);
  EXPECT_EQ(arms, 6);  // + left and right edges, the changed-TimeZone arm; no tail
  EXPECT_EQ(rare, (std::vector<int>{5}));
  EXPECT_NE(sql.find("NOT (date_bin('1 day', r.\"hour\", 'epoch') >= ('2026-11-01 05:30+00'))"), std::string::npos);
  EXPECT_NE(sql.find("NOT (pg_catalog.current_setting('TimeZone') = 'UTC')"), std::string::npos);
}
