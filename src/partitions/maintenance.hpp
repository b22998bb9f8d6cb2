// Executing partition-maintenance plans. Terms: a "pass" visits every set once; an "action" is one
// step of a plan (create, move from default, detach, finalize). Modes:
//  * kWorker: called by a database worker with no transaction open; every action gets its own short
//    transaction (DETACH CONCURRENTLY gets its own two), its job_runs row is written before it runs.
//  * kSession: called from SQL (run_maintenance); every action runs in a subtransaction of the caller's
//    transaction, so one failing action or set does not abort the others.
//  * kCreate: inside create_partition_set; any failure raises and rolls the whole call back.
#pragma once

#include <string>
#include <vector>

#include "partitions/catalog.hpp"

namespace strata::partitions {

enum class Mode { kWorker, kSession, kCreate };

struct Outcome {
  Oid parent = InvalidOid;
  std::string action;     // create, move_default, detach, finalize_detach, check
  std::string partition;  // qualified name
  std::string status;     // ok, skipped (lock not available), failed, left (rows kept in default)
  std::string message;
};

// Maintains one set. Worker mode runs as `run_as` (InvalidOid: the parent's owner); session modes run
// as the current user.
void MaintainSet(const SetRow& set, Mode mode, Oid run_as, std::vector<Outcome>* out);

struct PassSummary {
  int sets = 0;
  int actions = 0;
  int failed = 0;
  int skipped = 0;
  // Why actions were skipped or failed ("skipped: detach of ...: waiting for rollup ..."), the first few,
  // for the pass's own job_runs row: a skipped or failed row always says why.
  std::vector<std::string> problems;
  // The pass's job_runs message: "N actions on M sets", then the reasons of what was skipped or failed.
  std::string Message() const;
};
// A worker's pass over every enabled set of its database. Call with no transaction open.
PassSummary WorkerPass();

// Creates every aligned range from the one holding `start` up to the premade span (create_partition_set's
// start_partition); refuses more than `limit` partitions.
int CreateFrom(const SetRow& set, int64_t start, int limit);

// Creates the set's default partition with the partition template and attaches it.
void CreateDefaultPartition(const SetRow& set);

}  // namespace strata::partitions
