// Ingest health (README.md): the database worker's pass that samples the watched tables' counters, records
// lock waits on them and logs alerts once per condition. The views are SQL (strata.ingest_health,
// strata.horizon_holders, strata.lock_waits, strata.health_alerts).
#pragma once

namespace strata::health {

// One health pass of the database worker (strata.health on): its own transaction, as the extension's
// owner; each alert due now is logged as a WARNING. Returns the number logged. May throw.
int WorkerPass();

}  // namespace strata::health
