// How often each rollup answered queries in place of its source (the view strata.routing_stats): counted
// at executor start, cluster-wide, since the server started; kept in shared memory (only when strata is
// preloaded).
#pragma once

#include "pg/postgres.hpp"
#include "routing/routed_plan.hpp"

namespace strata::routing {

// Installs the shared-memory request and the executor hook (from Init, while preloading only).
void InitStats();

}  // namespace strata::routing
