// The database worker's pass over due rollups.
#pragma once

#include <cstdint>

namespace strata::rollups {

// The worker's pass over due rollups, sources before dependents (no transaction open on entry). Runs
// as strata.role, or else as each rollup table's owner. Returns milliseconds until the next rollup is
// due (-1: none).
int64_t WorkerPass();

}  // namespace strata::rollups
