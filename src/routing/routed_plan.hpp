// What a routed plan says about itself, for the executor hooks of routing (stats.cpp) and of the agents'
// guardrail (src/agents/guardrail.cpp), and how routing counts a plan's rows read (for the agents'
// advisor): the one header of src/routing that another capability includes.
// planner.cpp writes the figures as the column names of the plan's unreferenced range-table entry of the
// rollup's view (eref kRollupEntryAlias, no alias, not in FROM, SELECT checked only: no statement a user
// writes makes such an entry): [rows saved, rows read, rare arms "i,j,k", the planning TimeZone].
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pg/postgres.hpp"

namespace strata::routing {

// The alias of the range-table entry by which a routed plan names its rollup's view.
inline constexpr const char* kRollupEntryAlias = "strata rollup";

struct RoutedFigures {
  Oid view = InvalidOid;  // the rollup's view
  uint64_t rows_saved = 0;  // the query as written's estimated rows read, less the routed plan's
  uint64_t rows_read = 0;   // the routed plan's estimated rows read, without the arms empty in the normal case
  std::vector<int> rare_arms;  // positions in its union of the arms empty in the normal case
  std::string time_zone;       // the session's TimeZone when it was planned (its guard reads every row raw in another)
};
// The figures of a routed plan; nullopt for any other plan. Cannot ERROR but for out of memory.
std::optional<RoutedFigures> ReadRoutedFigures(const PlannedStmt* plan);

// The rows a plan's scans are estimated to read (as routing's rows-saved figure counts them).
double PlanRowsRead(const Plan* plan);

}  // namespace strata::routing
