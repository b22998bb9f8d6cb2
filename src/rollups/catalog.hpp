// The rollup catalog: a rollup's row in strata.rollup with its spec, the names that lead to it, the
// rollups that read it, and the session settings every generated statement runs under. Terms as in
// core/rollup_sql.hpp; the design note is README.md in this folder.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/rollup_sql.hpp"
#include "pg/guard.hpp"

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
  std::optional<int> grain;    // raw sources: its grain in the source's change log (capture.hpp)
  int64_t change_pos = 0;      // the change log is read up to here
  core::rollup::Spec spec;
};

// Loads one rollup by catalog id (FOR UPDATE NOWAIT when `lock`: one refresh at a time per rollup).
Rollup LoadRollup(int id, bool lock);
// Resolves a rollup name (its view, as regclass text) to its id; errors when it is not a rollup.
int RollupIdByName(const std::string& name);
// The rollups that read this one (their pending tables get this one's changed buckets).
std::vector<core::rollup::Dependent> LoadDependents(int id);
// Whether this database's strata has the rollup catalog (false while the extension is at 0.2.0).
bool RollupCatalogExists();
// Throws (55000, "the source of rollup ... no longer exists") when a relation of the rollup was dropped
// behind strata's back.
void CheckRelationsExist(const Rollup& r);

// core::rollup::ViewSql for the rollup's spec, with Spec::int_keys read from the data table's key column types.
std::string ViewSqlFor(core::rollup::Spec spec, const std::string& view, bool realtime, bool or_replace, bool backfill);
// The last value the order sequence (a qualified name) has handed out: every row's order value is at
// most this.
int64_t SequenceValue(const std::string& sequence);

// Pins search_path to pg_catalog, pg_temp, DateStyle to ISO, IntervalStyle to postgres and lock_timeout
// to strata.lock_timeout for the rest of the current GUC nest level (generated SQL is fully qualified,
// its constants unambiguous).
void PinSessionForRollupSql();

// Unregisters a rollup (and the rollups reading it): its catalog row and pending table go, its data
// table and view stay; a NOTICE and job_runs say why.
void UnregisterRollup(int id, const std::string& view, const std::string& why);

}  // namespace strata::rollups
