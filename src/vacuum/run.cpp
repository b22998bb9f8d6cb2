// Executing VACUUM and ANALYZE in a worker; see run.hpp.
#include "vacuum/run.hpp"
#include "pg/xact.hpp"

namespace strata::vacuum {

VacuumRun RunVacuum(Oid relid, bool analyze_only, bool freeze, core::vacuum::IndexCleanup index_cleanup, Oid run_as) {
  // Modeled on autovacuum_do_vac_analyze: a VacuumRelation carrying the OID is used as is (no expansion
  // to partitions), and vacuum() runs each table in its own transaction for VACUUM.
  const BufferUsage before = pgBufferUsage;
  const WalUsage wal_before = pgWalUsage;
  pg::AtTopLevel(run_as, [&]([[maybe_unused]] MemoryContext stmt_cxt) {
    VacuumParams params;
    memset(&params, 0, sizeof params);
    params.options = (analyze_only ? VACOPT_ANALYZE : VACOPT_VACUUM | VACOPT_PROCESS_TOAST) | VACOPT_SKIP_LOCKED |
                     (freeze ? VACOPT_FREEZE : 0);
#if PG_VERSION_NUM >= 160000
    params.options |= analyze_only ? 0 : VACOPT_PROCESS_MAIN;
#endif
    const int age = freeze ? 0 : -1;
    params.freeze_min_age = age;
    params.freeze_table_age = age;
    params.multixact_freeze_min_age = age;
    params.multixact_freeze_table_age = age;
    params.is_wraparound = false;
    params.log_min_duration = -1;
    using core::vacuum::IndexCleanup;
    params.index_cleanup = index_cleanup == IndexCleanup::kOff  ? VACOPTVALUE_DISABLED
                           : index_cleanup == IndexCleanup::kOn ? VACOPTVALUE_ENABLED
                                                                : VACOPTVALUE_UNSPECIFIED;
    params.truncate = VACOPTVALUE_DISABLED;
    params.nworkers = -1;
    List* rels = list_make1(makeVacuumRelation(nullptr, relid, NIL));
#if PG_VERSION_NUM >= 160000
    ::vacuum(rels, &params, GetAccessStrategy(BAS_VACUUM), stmt_cxt, true);
#else
    ::vacuum(rels, &params, nullptr, true);
#endif
  });
  VacuumRun out;
  out.hit = pgBufferUsage.shared_blks_hit - before.shared_blks_hit;
  out.read = pgBufferUsage.shared_blks_read - before.shared_blks_read;
  out.dirtied = pgBufferUsage.shared_blks_dirtied - before.shared_blks_dirtied;
  out.wal_bytes = static_cast<int64_t>(pgWalUsage.wal_bytes - wal_before.wal_bytes);
  return out;
}

bool CanLockForVacuum(Oid relid) {
  bool ok = false;
  pg::Call([&] {
    ok = ConditionalLockRelationOid(relid, ShareUpdateExclusiveLock);
    if (ok) UnlockRelationOid(relid, ShareUpdateExclusiveLock);
  });
  return ok;
}

}  // namespace strata::vacuum
