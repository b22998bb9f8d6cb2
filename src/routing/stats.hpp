// How often each rollup answered queries in place of its source (the view strata.routing_stats): counted
// at executor start, cluster-wide, since the server started; kept in shared memory (only when strata is
// preloaded).
#pragma once

#include "pg/postgres.hpp"

namespace strata::routing {

// Installs the shared-memory request and the executor hook (from Init, while preloading only).
void InitStats();
// The alias of the range-table entry by which a routed plan names its rollup's view (planner.cpp adds
// it; the executor hook recognises routed plans by it).
inline constexpr const char* kRollupEntryAlias = "strata rollup";

}  // namespace strata::routing
