// Incremental rollups: definition (define.cpp) and refresh (refresh.cpp). Terms as in
// core/rollup_sql.hpp; the design note is README.md in this folder.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/rollup_sql.hpp"
#include "pg/spi.hpp"

namespace strata::rollups {

// A catalog row with its spec, read with search_path pinned to pg_catalog (names come back qualified).
struct Rollup {
  int id = 0;
  std::string view;            // qualified
  Oid data_oid = InvalidOid;
  Oid source_oid = InvalidOid;
  std::optional<int> source_rollup;
  std::string order_sequence;  // qualified, raw sources only
  std::string change_function; // qualified statement trigger function, raw sources only
  Oid definition = InvalidOid; // the definition view (raw sources; none for rollups made before 0.9.0's upgrade)
  std::optional<std::string> broken;  // why the worker no longer refreshes it (NULL: healthy)
  Oid view_oid = InvalidOid;
  Oid pending_oid = InvalidOid;
  std::string missing;  // its relations that no longer exist ("source, pending table"; empty: none)
  int64_t watermark = 0;
  std::optional<int64_t> cursor, floor;
  std::optional<std::string> frozen_before;
  int64_t batch_size = 0;
  bool realtime = true;
  core::rollup::Spec spec;
};

// Loads one rollup by catalog id (FOR UPDATE NOWAIT when `lock`: one refresh at a time per rollup).
Rollup LoadRollup(int id, bool lock);
// rs::ViewSql for the rollup's spec, with Spec::int_keys read from the data table's key column types.
std::string ViewSqlFor(core::rollup::Spec spec, const std::string& view, bool realtime, bool or_replace, bool backfill);
// Resolves a rollup name (its view, as regclass text) to its id; errors when it is not a rollup.
int RollupIdByName(const std::string& name);
// The rollups that read this one (their pending tables get this one's changed buckets).
std::vector<core::rollup::Dependent> LoadDependents(int id);

// Creates the change triggers (and, where identity is not inherited, the order column's default) on
// the source and every leaf partition lacking them; returns how many relations it changed.
// `absorbed`: the rollup, once rows have been absorbed: a relation given triggers now queues the buckets
// of its rows the watermark has passed (null at creation).
int EnsureSourceHooks(int id, Oid source, const std::string& change_fn, const std::string& order_column,
                      const std::string& sequence, const Rollup* absorbed);
inline int EnsureSourceHooks(const Rollup& r) {
  return EnsureSourceHooks(r.id, r.source_oid, r.change_function, r.spec.order_column, r.order_sequence, &r);
}
// Gives the pending table of a rollup of a rollup to the extension's owner, with SELECT, INSERT and DELETE
// for the current user (the rollup's creator) and INSERT for `source_owner` (whose refresh queues buckets).
void ShareDependentPending(const std::string& pending, Oid source_owner);
// Unregisters a rollup (and the rollups reading it): its catalog row and pending table go, its data
// table and view stay; a NOTICE and job_runs say why.
void UnregisterRollup(int id, const std::string& view, const std::string& why);
// Brings a rollup made before 0.9.0 up to date, once, outside the extension's update script: its pending
// table takes NULL, a raw-source rollup gets its definition view and guarded change function (no PUBLIC
// EXECUTE, dropped with the extension), a rollup of a rollup's pending table passes to the extension's
// owner. Does nothing for a rollup already up to date (one catalog query).
void ProtectLegacy(Rollup& r);
// The body of EnsureSourceHooks, without marking strata's own DDL (for the ALTER TABLE event trigger,
// which marks it itself).
int EnsureSourceHooksNow(int id, Oid source, const std::string& change_fn, const std::string& order_column,
                         const std::string& sequence, const Rollup* absorbed);
// The ALTER/CREATE TABLE event trigger's work (see strata._on_alter_table).
void OnAlterTable();
// Revokes PUBLIC's EXECUTE on the change function and makes it and the definition view depend on the
// extension (both qualified names).
void ProtectSourceObjects(const std::string& change_fn, const std::string& definition);
// Reads the current names of the source columns the rollup uses from its definition view (they follow
// renames) and, when any changed, rewrites the stored SQL (catalog) and the change function. Returns
// whether anything changed. Needs search_path pinned (PinSessionForRollupSql).
bool FollowSource(Rollup& r, bool quiet = false);
// Whether an error of this SQLSTATE means the rollup's stored SQL no longer fits its source (a refresh
// would fail the same way every time): the rollup is then marked broken instead of retried.
bool BreaksRollup(int sqlstate);
// Whether this database's strata has the rollup catalog (false while the extension is at 0.2.0).
bool RollupCatalogExists();

// Pins search_path to pg_catalog, pg_temp, DateStyle to ISO, IntervalStyle to postgres and lock_timeout
// to strata.lock_timeout for the rest of the current GUC nest level (generated SQL is fully qualified,
// its constants unambiguous).
void PinSessionForRollupSql();

// Throws (55000, "the source of rollup ... no longer exists") when a relation of the rollup was dropped
// behind strata's back.
void CheckRelationsExist(const Rollup& r);

struct StepResult {
  int64_t rows = 0;          // source rows aggregated (appends and backfill)
  int64_t groups = 0;        // rollup rows written by appends
  int64_t buckets = 0;       // buckets recomputed
  int64_t frozen = 0;        // buckets left frozen (raw rows gone)
  bool waited_out = false;   // writers were still in flight: the append part was skipped
  bool more = false;         // another step would find work
  std::string note;
};

// One bounded step of a refresh in the current transaction: appends the next batch of absorbed rows,
// recomputes queued buckets, backfills one batch. Progress commits with the caller's transaction.
StepResult RefreshStep(Rollup& r);

// The worker's pass over due rollups, sources before dependents (no transaction open on entry). Runs
// as strata.role, or else as each rollup table's owner. Returns milliseconds until the next rollup is
// due (-1: none).
int64_t WorkerPass();

// The last value the order sequence (a qualified name) has handed out: every row's order value is at
// most this.
int64_t SequenceValue(const std::string& sequence);

// Waits by polling (never queueing on a lock) until every transaction holding a lock that conflicts
// with ShareLock on rel or any partition of it has ended; false on timeout. Autovacuum is not waited for.
bool WaitForWriters(Oid rel, int timeout_ms, std::string* waiting_for);

// Before retention drops a partition: the names of rollups on `parent` that have not yet absorbed
// every row of `partition` (empty: safe to drop).
std::vector<std::string> RollupsNotDone(Oid parent, const std::string& partition);
// Before retention drops raw data of `parent` below `bound_sql` (a SQL expression of the partition
// key): buckets before it become final in every rollup reading `parent`.
void MarkFrozenBefore(Oid parent, const std::string& bound_sql);

}  // namespace strata::rollups
