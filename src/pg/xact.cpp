// Worker transactions, subtransactions and top-level statements; see xact.hpp.
#include "pg/xact.hpp"

namespace strata::pg {

namespace {
// Makes the transaction just started READ COMMITTED and read-write, whatever default_transaction_isolation
// or default_transaction_read_only a database or role set (as SET TRANSACTION would; before its first
// snapshot). A worker's refresh waits out the writers it saw and then reads their rows: with a snapshot
// older than that wait (REPEATABLE READ) it would skip them and move its watermark past them. Runs inside
// Call. Never during recovery, where read-write cannot be asked for (workers do no work then).
void ForceWorkerXactMode() {
  if (RecoveryInProgress()) return;
  (void) set_config_option("transaction_isolation", "read committed", PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SET, true,
                           ERROR, false);
  (void) set_config_option("transaction_read_only", "off", PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SET, true, ERROR,
                           false);
}
}  // namespace

void BeginWorkerTxn() {
  Call([] {
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    ForceWorkerXactMode();
    PushActiveSnapshot(GetTransactionSnapshot());
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
  });
}

void CommitWorkerTxn() {
  Call([] {
    SPI_finish();
    if (ActiveSnapshotSet()) PopActiveSnapshot();
    CommitTransactionCommand();
  });
}

void AbortWorkerTxn() {
  // AbortCurrentTransaction releases locks, SPI, snapshots and resets the user id; it is the recovery
  // step after a caught ERROR and does not itself raise one in that state.
  Call([] {
    AbortCurrentTransaction();
    FlushErrorState();
  });
}

void InSubTransaction(const std::function<void()>& fn) {
  MemoryContext const oldcxt = CurrentMemoryContext;
  ResourceOwner const oldowner = CurrentResourceOwner;
  Call([] { BeginInternalSubTransaction(nullptr); });
  MemoryContextSwitchTo(oldcxt);
  try {
    fn();
  } catch (...) {
    // Any exception (a Postgres error, or a strata refusal thrown between Postgres calls): the
    // subtransaction's work is undone and the resource owner restored.
    Call([] { RollbackAndReleaseCurrentSubTransaction(); });
    MemoryContextSwitchTo(oldcxt);
    CurrentResourceOwner = oldowner;
    throw;
  }
  Call([] { ReleaseCurrentSubTransaction(); });
  MemoryContextSwitchTo(oldcxt);
  CurrentResourceOwner = oldowner;
}

// Runs body at top level in a worker, outside any transaction block, as run_as: opens a transaction with
// a snapshot, gives the statement a context that outlives the commits it may do itself (as
// PortalContext, which utility code and vacuum() allocate under), commits, and cleans up on error. The
// body runs inside pg::Call and must not own objects with destructors.
void AtTopLevel(Oid run_as, const std::function<void(MemoryContext)>& body) {
  MemoryContext const caller = CurrentMemoryContext;
  Oid save_user;
  int save_sec;
  GetUserIdAndSecContext(&save_user, &save_sec);
  MemoryContext volatile stmt_cxt = nullptr;
  MemoryContext volatile save_portal_cxt = PortalContext;
  try {
    Call([&] {
      stmt_cxt = AllocSetContextCreate(TopMemoryContext, "strata top-level statement", ALLOCSET_DEFAULT_SIZES);
      SetCurrentStatementStartTimestamp();
      StartTransactionCommand();
      ForceWorkerXactMode();
      PortalContext = stmt_cxt;
      SetUserIdAndSecContext(run_as, save_sec | SECURITY_LOCAL_USERID_CHANGE);
      MemoryContextSwitchTo(stmt_cxt);
      PushActiveSnapshot(GetTransactionSnapshot());
      body(stmt_cxt);
      // Statements that commit per table (VACUUM, DETACH CONCURRENTLY) pop the snapshot themselves.
      if (ActiveSnapshotSet()) PopActiveSnapshot();
      SetUserIdAndSecContext(save_user, save_sec);
      MemoryContextSwitchTo(caller);
      CommitTransactionCommand();
      PortalContext = save_portal_cxt;
      MemoryContextDelete(stmt_cxt);
      stmt_cxt = nullptr;
    });
  } catch (const PgError&) {
    SetUserIdAndSecContext(save_user, save_sec);
    PortalContext = save_portal_cxt;
    MemoryContextSwitchTo(caller);
    AbortWorkerTxn();
    if (stmt_cxt != nullptr) MemoryContextDelete(stmt_cxt);
    throw;
  }
}

void RunTopLevelUtility(const std::string& sql, Oid run_as) {
  // Modeled on how a simple-query backend runs a statement: parse, analyze and plan, then ProcessUtility
  // as PROCESS_UTILITY_TOPLEVEL. DETACH ... CONCURRENTLY commits and restarts the transaction and keeps
  // names in PortalContext, which AtTopLevel makes outlive both transactions.
  const char* q = sql.c_str();
  AtTopLevel(run_as, [&](MemoryContext) {
    List* raw = pg_parse_query(q);
    if (list_length(raw) != 1) elog(ERROR, "expected one statement: %s", q);
    RawStmt* rs = linitial_node(RawStmt, raw);
    List* queries = pg_analyze_and_rewrite_fixedparams(rs, q, nullptr, 0, nullptr);
    List* plans = pg_plan_queries(queries, q, CURSOR_OPT_PARALLEL_OK, nullptr);
    PlannedStmt* ps = linitial_node(PlannedStmt, plans);
    ProcessUtility(ps, q, false, PROCESS_UTILITY_TOPLEVEL, nullptr, nullptr, None_Receiver, nullptr);
  });
}

}  // namespace strata::pg
