// Commands that need a database to themselves: DROP DATABASE, ALTER DATABASE ... RENAME TO and ... SET
// TABLESPACE, and CREATE DATABASE ... TEMPLATE (of the template). Postgres refuses them while another
// session is connected ("being accessed by other users"), and strata's worker always is. As Postgres
// does for autovacuum workers, strata gets out of the way: a utility hook takes a hold on the database's
// slot (held_by, held_until), asks its worker to leave (its latch; SIGTERM if it is still in a pass after
// a second), waits for it to exit (bounded), and the launcher starts no worker there while the hold is in
// force. The hold ends when the command's transaction ends (commit or abort), or at held_until, or when
// the launcher finds the holding backend gone.
#include <csignal>

#include "pg/guard.hpp"
#include "workers/shmem.hpp"

extern "C" {
#include "commands/defrem.h"
}

namespace strata::workers {
namespace {

ProcessUtility_hook_type prev_process_utility = nullptr;
bool release_registered = false;
bool holding = false;

// How long a hold lasts at most, how long the worker is asked politely before SIGTERM, and how long the
// command waits for it in all (Postgres itself then waits 5 s more for other sessions).
constexpr int64_t kHoldMs = 60 * 1000;
constexpr int64_t kPoliteMs = 1000;
constexpr int64_t kWaitMs = 10 * 1000;

// The database a statement needs to itself, or nullptr.
const char* DatabaseNeededAlone(Node* stmt) {
  switch (nodeTag(stmt)) {
    case T_DropdbStmt:
      return castNode(DropdbStmt, stmt)->dbname;
    case T_RenameStmt: {
      auto* r = castNode(RenameStmt, stmt);
      return r->renameType == OBJECT_DATABASE ? r->subname : nullptr;
    }
    case T_CreatedbStmt: {
      ListCell* lc;
      foreach (lc, castNode(CreatedbStmt, stmt)->options) {
        auto* d = lfirst_node(DefElem, lc);
        if (strcmp(d->defname, "template") == 0 && d->arg != nullptr) return defGetString(d);
      }
      return nullptr;
    }
    case T_AlterDatabaseStmt: {
      auto* a = castNode(AlterDatabaseStmt, stmt);
      ListCell* lc;
      foreach (lc, a->options) {
        if (strcmp(lfirst_node(DefElem, lc)->defname, "tablespace") == 0) return a->dbname;
      }
      return nullptr;
    }
    default:
      return nullptr;
  }
}

// At the end of the transaction that ran the command: the holds it took end and the launcher looks
// again at once. Flags, LWLock and SetLatch only: nothing here can fail.
void ReleaseHolds(XactEvent event, void*) {
  if (!holding || shared == nullptr) return;
  if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT && event != XACT_EVENT_PARALLEL_COMMIT &&
      event != XACT_EVENT_PARALLEL_ABORT && event != XACT_EVENT_PREPARE)
    return;
  holding = false;
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  for (auto& s : shared->slots) {
    if (s.held_by != MyProcPid) continue;
    s.held_by = 0;
    s.held_until = 0;
  }
  if (shared->launcher_latch) SetLatch(shared->launcher_latch);
  LWLockRelease(shared->lock);
}

// The worker of the slot, if one runs (its pid, 0 if none). Caller holds shared->lock.
pid_t WorkerOf(const DbSlot& s) {
  if (s.pid == 0) return 0;
  PGPROC* proc = BackendPidGetProc(s.pid);  // ProcArrayLock shared; cannot ERROR
  return proc != nullptr && proc->databaseId == s.dboid ? s.pid : 0;
}

// Takes the hold on dboid's slot and waits until its worker has exited (or kWaitMs passed).
void HoldAndWait(Oid dboid) {
  if (!release_registered) {
    pg::Call([] { RegisterXactCallback(ReleaseHolds, nullptr); });
    release_registered = true;
  }
  const TimestampTz start = GetCurrentTimestamp();
  pid_t pid = 0;
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  DbSlot* s = FindSlot(dboid, true);
  if (s != nullptr) {
    s->held_by = MyProcPid;
    s->held_until = start + kHoldMs * 1000;
    holding = true;
    pid = WorkerOf(*s);
    if (pid != 0 && s->latch != nullptr) SetLatch(s->latch);
  }
  LWLockRelease(shared->lock);
  bool signalled = false;
  while (pid != 0) {
    const int64_t waited_ms = (GetCurrentTimestamp() - start) / 1000;
    if (waited_ms >= kWaitMs) break;
    if (!signalled && waited_ms >= kPoliteMs) {
      // Still inside a pass: end it now, as Postgres ends an autovacuum worker in the way (the next
      // worker marks the job it cut short as crashed).
      kill(pid, SIGTERM);
      signalled = true;
    }
    pg::Call([] {
      (void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 50, PG_WAIT_EXTENSION);
      ResetLatch(MyLatch);
      CHECK_FOR_INTERRUPTS();
    });
    LWLockAcquire(shared->lock, LW_SHARED);
    const bool gone = BackendPidGetProc(pid) == nullptr;
    LWLockRelease(shared->lock);
    if (gone) pid = 0;
  }
}

// Before a command that needs a database to itself runs: the hold and the wait (see the file header).
void BeforeUtility(void* arg) {
  Node* stmt = static_cast<PlannedStmt*>(arg)->utilityStmt;
  if (stmt == nullptr) return;
  const char* dbname = DatabaseNeededAlone(stmt);
  if (dbname == nullptr) return;
  Oid dboid = InvalidOid;
  bool may = false;
  pg::Call([&] {
    dboid = get_database_oid(dbname, true);
    if (!OidIsValid(dboid)) return;
    // Only a role that may run the command stops the worker (else any role could keep a database's
    // worker from working by repeating a command Postgres then refuses): the database's owner for DROP,
    // RENAME and SET TABLESPACE; for a TEMPLATE copy, a role with CREATEDB that owns the template or
    // finds it marked as one. DROP DATABASE and CREATE DATABASE never run in a transaction block.
#if PG_VERSION_NUM >= 160000
    const bool owner = object_ownercheck(DatabaseRelationId, dboid, GetUserId());
#else
    const bool owner = pg_database_ownercheck(dboid, GetUserId());
#endif
    if (IsA(stmt, CreatedbStmt)) {
      HeapTuple t = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(dboid));
      const bool is_template = HeapTupleIsValid(t) && reinterpret_cast<Form_pg_database>(GETSTRUCT(t))->datistemplate;
      if (HeapTupleIsValid(t)) ReleaseSysCache(t);
      may = !IsTransactionBlock() && have_createdb_privilege() && (owner || is_template);
    } else {
      may = owner && !(IsA(stmt, DropdbStmt) && IsTransactionBlock());
    }
  });
  if (may && dboid != MyDatabaseId) HoldAndWait(dboid);
}

// The hook: this frame owns nothing, so an ERROR of the command itself may pass through it.
void ProcessUtility(PlannedStmt* pstmt, const char* query, bool read_only_tree, ProcessUtilityContext context,
                    ParamListInfo params, QueryEnvironment* env, DestReceiver* dest, QueryCompletion* qc) {
  if (shared != nullptr) pg::GuardHook(BeforeUtility, pstmt);
  if (prev_process_utility != nullptr)
    prev_process_utility(pstmt, query, read_only_tree, context, params, env, dest, qc);
  else
    standard_ProcessUtility(pstmt, query, read_only_tree, context, params, env, dest, qc);
}

}  // namespace

void InitDatabaseCommands() {
  prev_process_utility = ProcessUtility_hook;
  ProcessUtility_hook = ProcessUtility;
}

}  // namespace strata::workers
