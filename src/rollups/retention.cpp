// What retention asks of rollups before it drops raw data; see retention.hpp.
#include <algorithm>
#include <cctype>
#include <climits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/naming.hpp"
#include "pg/security.hpp"
#include "pg/spi.hpp"
#include "rollups/catalog.hpp"
#include "rollups/retention.hpp"

namespace strata::rollups {

namespace {
int retention_ddl_depth = 0;
}  // namespace

RetentionDdl::RetentionDdl() { retention_ddl_depth++; }
RetentionDdl::~RetentionDdl() { retention_ddl_depth--; }
bool InRetentionDdl() { return retention_ddl_depth > 0; }

std::vector<std::string> RollupsNotDone(Oid parent, const std::string& partition) {
  std::vector<std::string> out;
  if (!RollupCatalogExists())
    return out;
  // Names are built qualified here: this runs from partition maintenance with the session's search_path.
  const auto rows = pg::Query("SELECT r.view::text, r.order_column, r.watermark, r.backfill_cursor, "
                              "pg_catalog.format('%I.%I', n.nspname, c.relname) FROM strata.rollup r "
                              "JOIN pg_catalog.pg_class c ON c.oid = r.pending_table "
                              "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                              "WHERE r.source = $1::oid AND r.source_rollup IS NULL ORDER BY r.id",
                              {std::to_string(parent)});
  for (const auto& r : rows) {
    const std::string col = core::QuoteIdent(*r[1]);
    std::string sql = "SELECT EXISTS (SELECT 1 FROM " + partition + " WHERE " + col + " > $1::bigint) OR EXISTS (SELECT 1 FROM " +
                      *r[4] + ")";
    if (r[3]) sql += " OR EXISTS (SELECT 1 FROM " + partition + " WHERE " + col + " <= $2::bigint)";
    const auto e = pg::Query(sql, {r[2], r[3]});
    if (*e[0][0] == "t") out.push_back(*r[0]);
  }
  return out;
}

void MarkFrozenBefore(Oid parent, const std::string& bound_sql) {
  if (!RollupCatalogExists())
    return;
  pg::AsExtensionOwner([&] {
    pg::Query("UPDATE strata.rollup SET frozen_before = GREATEST(frozen_before, (" + bound_sql + ")::timestamptz) "
              "WHERE source = $1::oid AND source_rollup IS NULL",
              {std::to_string(parent)});
  });
}

}  // namespace strata::rollups
