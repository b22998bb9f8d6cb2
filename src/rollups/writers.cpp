// Waiting out in-flight writers before a refresh reads the rows below its new watermark; see writers.hpp.
#include <algorithm>
#include <cctype>
#include <climits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "pg/names.hpp"
#include "pg/spi.hpp"
#include "rollups/writers.hpp"

extern "C" {
#include "access/twophase.h"
#include "storage/sinvaladt.h"
}

namespace strata::rollups {

namespace {

// The live backend running virtual transaction v, or null: none (it ended), or v belongs to a prepared
// transaction (whose vxid keeps the BackendId of the session that prepared it, a number another backend
// may have taken since). The slot's current local transaction id must be v's. Cannot ERROR.
PGPROC* ProcOf(const VirtualTransactionId& v) {
#if PG_VERSION_NUM >= 170000
  PGPROC* proc = ProcNumberGetProc(v.procNumber);
#else
  PGPROC* proc = BackendIdGetProc(v.backendId);
#endif
  if (proc == nullptr || proc->pid == 0 || proc->lxid != v.localTransactionId) return nullptr;
  return proc;
}

}  // namespace

bool WaitForWriters(Oid rel, int timeout_ms, std::string* waiting_for) {
  bool done = true;
  int pid = 0;
  TransactionId prepared = InvalidTransactionId;
  pg::Call([&] {
    // Like CREATE INDEX CONCURRENTLY's wait phase, but polling: VirtualXactLock(..., false) only asks
    // whether the transaction ended, so the refresher never sits in a lock queue where it would hold
    // up writers queued behind it. Every leaf is checked: a writer inserting into a partition directly
    // holds RowExclusiveLock on that partition only.
    List* rels = find_all_inheritors(rel, NoLock, nullptr);
    List* waits = NIL;
    ListCell* lc;
    foreach (lc, rels) {
      LOCKTAG tag;
      SET_LOCKTAG_RELATION(tag, MyDatabaseId, lfirst_oid(lc));
      VirtualTransactionId* v = GetLockConflicts(&tag, ShareLock, nullptr);
      for (; VirtualTransactionIdIsValid(*v); v++) {
        // Autovacuum is not waited for; a vxid without its live backend (a prepared transaction) is.
        PGPROC* proc = ProcOf(*v);
        if (proc != nullptr && (proc->statusFlags & PROC_IS_AUTOVACUUM)) continue;
        waits = lappend(waits, v);
      }
    }
    const TimestampTz deadline = GetCurrentTimestamp() + int64_t(timeout_ms) * 1000;
    foreach (lc, waits) {
      VirtualTransactionId* v = static_cast<VirtualTransactionId*>(lfirst(lc));
      while (!VirtualXactLock(*v, false)) {
        if (GetCurrentTimestamp() >= deadline) {
          PGPROC* proc = ProcOf(*v);
          pid = proc ? proc->pid : 0;
          if (proc == nullptr) {
            bool more = false;
            prepared = TwoPhaseGetXidByVirtualXID(*v, &more);
          }
          done = false;
          return;
        }
        (void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
      }
    }
  });
  if (!done && waiting_for) {
    if (TransactionIdIsValid(prepared)) {
      const auto gid = pg::Query("SELECT gid FROM pg_catalog.pg_prepared_xacts WHERE transaction::text = $1",
                                 {std::to_string(prepared)});
      *waiting_for = "a prepared transaction writing to the source is still open (xid " + std::to_string(prepared) +
                     (gid.empty() || !gid[0][0] ? std::string(")") : ", gid '" + *gid[0][0] + "')") +
                     ": COMMIT PREPARED or ROLLBACK PREPARED ends it";
    } else {
      *waiting_for = "a transaction writing to the source is still open (pid " + std::to_string(pid) + ")";
    }
  }
  return done;
}

}  // namespace strata::rollups

using namespace strata;
using namespace strata::rollups;

// strata.wait_for_writers(rel, timeout_ms): the refresh's writer wait, exposed for tests and tools.
STRATA_FUNCTION(strata_wait_for_writers) {
  const Oid rel = PG_GETARG_OID(0);
  const int timeout = PG_GETARG_INT32(1);
  if (timeout < 0) throw core::Error(ERRCODE_INVALID_PARAMETER_VALUE, "timeout_ms must not be negative");
  PG_RETURN_BOOL(WaitForWriters(rel, timeout, nullptr));
}

