// strata.job_runs bookkeeping, shared by every capability and the workers. Terms: a "job" is one action
// of a worker or one call of a strata function that changes something (a partition made, a rollup
// refreshed, a relation vacuumed); its row says what, on what, when, as whom, with what outcome and why.
// A worker's job is recorded 'running' and committed before it runs (JobBegin), so a crash leaves
// evidence (MarkCrashedJobs), and ended in the action's own transaction or after its rollback (JobEnd).
// A job that is one statement of the caller's transaction is recorded once, when done (RecordJob).
#pragma once

#include <cstdint>
#include <string>

#include "pg/guard.hpp"

namespace strata::jobs {

// Inserts a 'running' row; returns its id. Call in the worker transaction that commits before the job.
int64_t JobBegin(const std::string& kind, const std::string& target, const std::string& message,
                 const std::string& details_json, const std::string& run_as);
// Ends the row JobBegin made with its status (ok, skipped, failed), message and details.
void JobEnd(int64_t id, const std::string& status, const std::string& message, const std::string& details_json);

// Records a finished job (started at `started`, finished now) as the current role, written as the
// extension owner (a session) or directly (a worker).
void RecordJob(const std::string& kind, const std::string& target, const std::string& status,
               const std::string& message, const std::string& details_json, TimestampTz started);

// Marks the rows left 'running' as 'crashed': an earlier worker of this database ended before its job did
// (crash, kill or shutdown). Call with no transaction open, once per worker, when it can write.
void MarkCrashedJobs();

// Deletes every strata.job_runs row older than strata.job_runs_retention, in batches, each its own short
// transaction (never a long lock or a long transaction on job_runs), until a batch finds fewer: nothing
// aged remains. Call with no transaction open (the worker's pass does). Returns the rows deleted.
int64_t TrimJobRuns();

}  // namespace strata::jobs
