// The live figures of one rollup for the strata.rollups view (lag in rows, pending buckets): computed
// with the extension owner's rights (they read the rollup's pending table and order sequence), but only
// for a role that may read the rollup (owns it, or may SELECT from its view or data table); any other
// role gets NULL figures and the reason, so no role learns another's progress.
#include <string>
#include <vector>

#include "core/error.hpp"
#include "rollups/catalog.hpp"
#include "pg/security.hpp"
#include "pg/spi.hpp"

using namespace strata;

// strata._rollup_live(rollup_id) -> (lag_rows, pending_buckets, figures_error)
STRATA_FUNCTION(strata_rollup_live) {
  const int id = PG_GETARG_INT32(0);
  pg::SpiConnect();
  // As the caller: may it read this rollup? (Checked against the view and data table that exist.)
  const auto may = pg::Query(
      "SELECT EXISTS (SELECT 1 FROM strata.rollup r JOIN pg_catalog.pg_class c "
      "  ON c.oid OPERATOR(pg_catalog.=) ANY (ARRAY[r.view::pg_catalog.oid, r.data_table::pg_catalog.oid]) "
      "  WHERE r.id OPERATOR(pg_catalog.=) $1::pg_catalog.int4 AND (pg_catalog.pg_has_role(c.relowner, 'USAGE') "
      "  OR pg_catalog.has_table_privilege(c.oid, 'SELECT')))",
      {std::to_string(id)});
  pg::Row figures{std::nullopt, std::nullopt, std::string("no privilege on this rollup: its figures are its readers'")};
  if (may.at(0).at(0) == std::optional<std::string>("t")) {
    pg::AsExtensionOwner([&] {
      figures = pg::Query("SELECT lag_rows, pending_buckets, figures_error FROM strata._rollup_figures($1::pg_catalog.int4)",
                          {std::to_string(id)})
                    .at(0);
    });
  }
  pg::SpiFinish();
  return pg::RowResult(fcinfo, figures);
}
