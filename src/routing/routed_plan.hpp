// What a routed plan says about itself, for the executor hooks of routing (stats.cpp) and of the agents'
// guardrail (src/agents/guardrail.cpp): the one header of src/routing that another capability includes.
// planner.cpp writes the figures as the column names of the plan's unreferenced range-table entry of the
// rollup's view (alias kRollupEntryAlias), digits only: [rows saved, rows read].
#pragma once

#include <cstdint>
#include <optional>

#include "pg/postgres.hpp"

namespace strata::routing {

// The alias of the range-table entry by which a routed plan names its rollup's view.
inline constexpr const char* kRollupEntryAlias = "strata rollup";

struct RoutedFigures {
  Oid view = InvalidOid;  // the rollup's view
  uint64_t rows_saved = 0;  // the query as written's estimated rows read, less the routed plan's
  uint64_t rows_read = 0;   // the routed plan's estimated rows read, without the arms empty in the normal case
};
// The figures of a routed plan; nullopt for any other plan. Cannot ERROR (a scan of the range table).
std::optional<RoutedFigures> ReadRoutedFigures(const PlannedStmt* plan);

}  // namespace strata::routing
