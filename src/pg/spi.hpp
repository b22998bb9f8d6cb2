// Thin guarded wrappers over SPI, transactions, roles and GUCs. Every function here may throw PgError
// (see guard.hpp); none returns Postgres-owned memory to the caller except where it says so.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/rollup_sql.hpp"
#include "core/vacuum_policy.hpp"
#include "pg/guard.hpp"

namespace strata::pg {

using Row = std::vector<std::optional<std::string>>;

// SPI_connect / SPI_finish for the current (sub)transaction. No destructor: on error, transaction abort
// cleans up SPI (AtEOXact_SPI), so unwinding must not call SPI_finish.
void SpiConnect();
void SpiFinish();
// Runs a statement (utility or DML); returns rows processed.
uint64_t Exec(const std::string& sql);
// Runs a query with text parameters ($1..$n, NULL when nullopt) and returns its rows as text.
std::vector<Row> Query(const std::string& sql, const std::vector<std::optional<std::string>>& args = {});
// Runs a query returning one datum of the first row, first column (binary), or nullopt.
// The datum is copied into the memory context current before the call (for pass-by-reference types).
std::optional<Datum> QueryDatum(const std::string& sql, Oid* type_out);

// Direct writes of a grouped query's rows into the table `relid` (text parameters as in Query): the
// result's columns are the table's in order, then a bigint (source rows of the group, summed into
// `rows`), and for SplitAppendQuery a boolean. Rows go into heap pages with multi-inserts, as COPY writes
// them (`written`); both return false without running anything when the table has something such
// writes would bypass (not a plain table, a trigger, constraint or row security).
struct DirectWriteCounts {
  int64_t rows = 0;
  int64_t written = 0;
  int64_t merged = 0;
};
// A first build: the table was made by this transaction and has no index; free-space map skipped. The
// rows are written in the order of their first `sort_keys` columns (ascending, NULLs last, as a btree
// orders them; sorted within the larger of work_mem and maintenance_work_mem, spilling beyond it).
bool BulkInsertQuery(const std::string& sql, const std::vector<std::optional<std::string>>& args, Oid relid,
                     int sort_keys, DirectWriteCounts* out);
// An append: rows flagged true are written with their index entries made as COPY makes them; the others
// are kept aside (sorted by the key, spilling past the larger of work_mem and maintenance_work_mem) and
// merged afterwards into the stored groups in key order,
// column by column as `merges` says (one entry per table column; the leading kKey columns must be the
// table's unique btree key), each group found through the key index and updated in place, or inserted
// when not stored yet (`merged`). Also false when a merge function or the key index is missing.
bool SplitAppendQuery(const std::string& sql, const std::vector<std::optional<std::string>>& args, Oid relid,
                      const std::vector<core::rollup::ColumnMerge>& merges, DirectWriteCounts* out);

// Worker transactions: start (READ COMMITTED and read-write, whatever the session defaults say) with a
// snapshot and an SPI connection; commit; abort after an error.
void BeginWorkerTxn();
void CommitWorkerTxn();
void AbortWorkerTxn();

// Runs fn in an internal subtransaction; on any exception rolls it back and rethrows.
void InSubTransaction(const std::function<void()>& fn);

// Runs fn as role (security-restricted, like maintenance commands do), restoring the previous user
// on the way out, error or not.
void AsRole(Oid role, const std::function<void()>& fn);
// The owner of the strata extension in this database (for its catalog writes).
Oid ExtensionOwner();
// Runs fn with the rights to write strata's own tables: as is for a superuser, else as the extension
// owner (callers may manage their own tables without write access to strata's catalog).
void AsExtensionOwner(const std::function<void()>& fn);

// Sets a GUC for the rest of the current (sub)transaction nest; pair with GucNestLevel/RestoreGucs.
int NewGucLevel();
void SetGuc(const char* name, const std::string& value);
void RestoreGucs(int level);

// Runs fn with work_mem lowered to kb (kB; 0, or not lower than work_mem: as is), restored after. The
// direct writes' sorters inside keep the memory they had outside.
void WithWorkMem(int kb, const std::function<void()>& fn);

// Runs one utility statement at top level (outside any transaction block) in a worker, so statements
// that manage their own transactions (DETACH PARTITION CONCURRENTLY) can run. Must be called with no
// transaction open; opens and commits its own.
void RunTopLevelUtility(const std::string& sql, Oid run_as);

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

// The composite result of a function returning a row (OUT parameters), built from text values (nullopt:
// NULL) in column order.
Datum RowResult(FunctionCallInfo fcinfo, const Row& values);
// The text argument n of a SQL function call, or nullopt for NULL.
std::optional<std::string> TextArg(FunctionCallInfo fcinfo, int n);
// Whether the current user owns the relation (or is a superuser).
bool OwnsTable(Oid relid);
// Runs body with lock_timeout = strata.lock_timeout (every DDL strata runs), restored afterwards.
void WithLockTimeout(const std::function<void()>& body);

// A possibly schema-qualified relation name as a RangeVar (palloc'd; an invalid name is a syntax error).
RangeVar* ParseRelationName(const std::string& name);
// Relation name helpers.
std::string RelName(Oid relid);
std::string RelSchema(Oid relid);
std::string RoleName(Oid roleid);

}  // namespace strata::pg
