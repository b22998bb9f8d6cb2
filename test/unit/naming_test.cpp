// Unit tests of quoting and partition naming.
#include <gtest/gtest.h>

#include "core/naming.hpp"
#include "core/partition_sql.hpp"

using namespace strata::core;

TEST(Naming, UnquoteIdentReadsOneDeparsedName) {
  EXPECT_EQ(UnquoteIdent("events"), "events");
  EXPECT_EQ(UnquoteIdent("\"Events\""), "Events");
  EXPECT_EQ(UnquoteIdent("\"a\"\"b\""), "a\"b");
  EXPECT_EQ(UnquoteIdent(QuoteIdent("x\"\"y")), "x\"\"y");
  EXPECT_EQ(UnquoteIdent("\"a\" + \"b\""), "\"a\" + \"b\"");  // not one name: as it is
  EXPECT_EQ(UnquoteIdent("\"\""), "");
}

TEST(Naming, QuoteIdentAlwaysQuotesAndEscapes) {
  EXPECT_EQ(QuoteIdent("events"), "\"events\"");
  EXPECT_EQ(QuoteIdent("Events; DROP TABLE x"), "\"Events; DROP TABLE x\"");
  EXPECT_EQ(QuoteIdent("a\"b"), "\"a\"\"b\"");
  EXPECT_EQ(QuoteLiteral("it's"), "'it''s'");
}

TEST(Naming, ShortNamesArePredictable) {
  EXPECT_EQ(PartitionName("events", "p20261124"), "events_p20261124");
}

TEST(Naming, LongNamesFitAndStayUnique) {
  const std::string a(70, 'a');
  std::string b = a;
  b.back() = 'b';
  const std::string na = PartitionName(a, "p20261124"), nb = PartitionName(b, "p20261124");
  EXPECT_LE(na.size(), kMaxIdentifierBytes);
  EXPECT_NE(na, nb);
  EXPECT_EQ(na.substr(na.size() - 9), "p20261124");
  EXPECT_EQ(na, PartitionName(a, "p20261124"));  // deterministic
}

TEST(Naming, TruncationKeepsUtf8Characters) {
  std::string parent;
  for (int i = 0; i < 40; i++) parent += "\xc3\xa9";  // 'é', 2 bytes each
  const std::string n = PartitionName(parent, "p20261124");
  EXPECT_LE(n.size(), kMaxIdentifierBytes);
  // The cut falls between characters: the byte before the tag is a complete 2-byte sequence's end.
  const size_t tag = n.find('_');
  ASSERT_NE(tag, std::string::npos);
  EXPECT_EQ(tag % 2, 0u);
}

TEST(PartitionSql, StatementsQuoteEverything) {
  const TableRef parent{"public", "Events; DROP TABLE x"};
  const TableRef part{"public", "Events; DROP TABLE x_p20261124"};
  const Range r{0, kUsecsPerDay};
  EXPECT_EQ(AttachSql(parent, part, KeyKind::kTimestampTz, r),
            "ALTER TABLE \"public\".\"Events; DROP TABLE x\" ATTACH PARTITION \"public\".\"Events; DROP "
            "TABLE x_p20261124\" FOR VALUES FROM ('2000-01-01 00:00:00+00'::timestamptz) TO "
            "('2000-01-02 00:00:00+00'::timestamptz)");
  PartitionTemplate t;
  t.reloptions = {"fillfactor=90", "toast.autovacuum_enabled=false"};
  t.tablespace = "fast";
  const std::string create = CreateStandaloneSql(parent, part, t);
  EXPECT_NE(create.find("WITH (\"fillfactor\" = '90', \"toast\".\"autovacuum_enabled\" = 'false')"),
            std::string::npos);
  EXPECT_NE(create.find("TABLESPACE \"fast\""), std::string::npos);
  t.owner = "app owner";
  t.grants = {{"", "SELECT", false}, {"reader", "INSERT", true}};
  const auto own = OwnershipSql(part, t);
  ASSERT_EQ(own.size(), 3u);
  EXPECT_EQ(own[0], "ALTER TABLE \"public\".\"Events; DROP TABLE x_p20261124\" OWNER TO \"app owner\"");
  EXPECT_EQ(own[1], "GRANT SELECT ON \"public\".\"Events; DROP TABLE x_p20261124\" TO PUBLIC");
  EXPECT_EQ(own[2],
            "GRANT INSERT ON \"public\".\"Events; DROP TABLE x_p20261124\" TO \"reader\" WITH GRANT OPTION");
}

TEST(PartitionSql, MoveRowsIsOneStatementOverExplicitColumns) {
  const TableRef def{"s", "ev_default"}, part{"s", "ev_p1000"};
  EXPECT_EQ(MoveRowsSql(def, part, "id", {"id", "payload"}, KeyKind::kInt64, Range{1000, 2000}),
            "WITH moved AS (DELETE FROM ONLY \"s\".\"ev_default\" WHERE \"id\" >= 1000 AND \"id\" < 2000 "
            "RETURNING \"id\", \"payload\") INSERT INTO \"s\".\"ev_p1000\" (\"id\", \"payload\") SELECT "
            "\"id\", \"payload\" FROM moved");
  EXPECT_EQ(DetachSql(def, part, DetachMode::kConcurrently),
            "ALTER TABLE \"s\".\"ev_default\" DETACH PARTITION \"s\".\"ev_p1000\" CONCURRENTLY");
}

TEST(Naming, JsonStringEscapes) {
  EXPECT_EQ(JsonString("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
}
