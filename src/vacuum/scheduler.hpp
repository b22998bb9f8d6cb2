// The vacuum scheduler's glue: gathers facts about partitioned tables and their partitions, and rollup
// data tables, from the catalogs and the cumulative statistics, asks the core policy
// (core/vacuum_policy.hpp) for a plan, and runs it from the database worker. The design note is README.md in this folder.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/vacuum_policy.hpp"
#include "pg/spi.hpp"

namespace strata::vacuum {

// Facts as the policy sees them, plus what the glue needs to run an action.
struct Snapshot {
  std::vector<core::vacuum::TableFacts> facts;
  std::vector<Oid> owners;             // per fact: the table's owner
  std::vector<std::string> facts_json; // per fact: the facts as JSON (for job_runs and vacuum_plan)
  std::vector<int64_t> entries;        // per fact: its cumulative non-HOT updates + deletes
  std::vector<double> since_change;    // per fact: seconds since its changes counter moved; -1 unknown
  std::vector<double> since_seen;      // per fact: seconds since the tracking first saw it; -1 unknown
  bool rollup_scope = false;           // the catalog has rollup tables' dead-entry baselines (0.8.0 on)
  core::vacuum::Config cfg;
};

// Reads the facts in the current transaction (SPI connected). for_session: only tables the current
// user may read, and no tracking update (a dry run writes nothing). only: just this table's facts
// (no tracking update either), as after an action.
Snapshot ReadSnapshot(bool for_session, Oid only = InvalidOid);
// The same for every relation in scope (ids nullptr) or only those in ids (a parent's figures still sum
// all its leaves); track: update strata.vacuum_state first (for those relations only, when restricted).
Snapshot ReadFacts(bool for_session, const std::vector<Oid>* ids, bool track);
// Whether the vacuum catalog exists (a database still at an extension version before 0.4.0 has none).
bool CatalogExists();

// One scheduler pass of the database worker: track changes, plan, run up to strata.vacuum_max_actions
// actions one at a time. Returns true when runnable work was left for a later pass (budget).
bool WorkerPass();

}  // namespace strata::vacuum
