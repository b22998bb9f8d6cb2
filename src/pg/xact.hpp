// Transactions a worker runs itself: worker transactions, internal subtransactions, and statements run at
// top level (outside any transaction block). May throw PgError (see guard.hpp).
#pragma once

#include <functional>
#include <string>

#include "pg/guard.hpp"

namespace strata::pg {

// Worker transactions: start (READ COMMITTED and read-write, whatever the session defaults say) with a
// snapshot and an SPI connection; commit; abort after an error.
void BeginWorkerTxn();
void CommitWorkerTxn();
void AbortWorkerTxn();

// Runs fn in an internal subtransaction; on any exception rolls it back and rethrows.
void InSubTransaction(const std::function<void()>& fn);

// Runs body at top level in a worker, outside any transaction block, as run_as: opens a transaction with
// a snapshot, gives the statement a context (passed to body) that outlives the commits it may do itself
// (as PortalContext, which utility code and vacuum() allocate under), commits, and cleans up on error.
// The body runs inside pg::Call and must not own objects with destructors. Must be called with no
// transaction open.
void AtTopLevel(Oid run_as, const std::function<void(MemoryContext)>& body);

// Runs one utility statement at top level in a worker, so statements that manage their own
// transactions (DETACH PARTITION CONCURRENTLY) can run. Must be called with no transaction open; opens
// and commits its own.
void RunTopLevelUtility(const std::string& sql, Oid run_as);

}  // namespace strata::pg
