// Executing the scheduler's actions: VACUUM or ANALYZE of one relation, run by a worker at top level.
#pragma once

#include <cstdint>

#include "core/vacuum_policy.hpp"
#include "pg/guard.hpp"

namespace strata::vacuum {

// Buffers a VACUUM or ANALYZE touched (from pgBufferUsage, shared buffers).
struct VacuumRun {
  int64_t hit = 0;
  int64_t read = 0;
  int64_t dirtied = 0;
  int64_t wal_bytes = 0;
};
// Runs VACUUM or ANALYZE of exactly this relation at top level in a worker, as run_as (Postgres then
// switches to the table owner itself). For a partitioned table ANALYZE builds the parent's inheritance
// statistics from one sample across its partitions and does not also analyze each partition (the
// relation is named by OID, as autovacuum does). Options: SKIP_LOCKED, no truncation (which would take
// an ACCESS EXCLUSIVE lock and block inserts), no parallel workers; freeze adds FREEZE; index_cleanup
// is INDEX_CLEANUP: auto (skipped when few pages have dead items), off (for a table with nothing to
// clean) or on (removing dead index entries is the point). Must be called with no transaction open;
// opens and commits its own.
VacuumRun RunVacuum(Oid relid, bool analyze_only, bool freeze, core::vacuum::IndexCleanup index_cleanup, Oid run_as);
// Whether a SHARE UPDATE EXCLUSIVE lock (what VACUUM and ANALYZE take) on relid can be had right now;
// taken without waiting and released at once. Needs an open transaction.
bool CanLockForVacuum(Oid relid);

}  // namespace strata::vacuum
