// Refreshing a rollup: one bounded step in the current transaction (appends the next batch of absorbed
// rows, recomputes queued buckets, backfills one batch), and what a step reports.
#pragma once

#include <cstdint>
#include <string>

#include "rollups/catalog.hpp"

namespace strata::rollups {

struct StepResult {
  int64_t rows = 0;          // source rows aggregated (appends and backfill)
  int64_t groups = 0;        // rollup rows written by appends
  int64_t buckets = 0;       // buckets recomputed
  int64_t frozen = 0;        // buckets left frozen (raw rows gone)
  bool waited_out = false;   // writers were still in flight: the append part was skipped
  bool more = false;         // another step would find work
  std::string note;
};

// One bounded step of a refresh in the current transaction. Progress commits with the caller's transaction.
StepResult RefreshStep(Rollup& r);

// Adds a step's counts to a total (flags and note: the latest step's).
void Accumulate(StepResult* total, const StepResult& r);
// Milliseconds since t0.
double MsSince(TimestampTz t0);
// The job_runs details of `steps` steps totalling r, taking ms.
std::string StepJson(const StepResult& r, int steps, double ms);

// Whether an error of this SQLSTATE means the rollup's stored SQL no longer fits its source (a refresh
// would fail the same way every time): the rollup is then marked broken instead of retried.
bool BreaksRollup(int sqlstate);

}  // namespace strata::rollups
