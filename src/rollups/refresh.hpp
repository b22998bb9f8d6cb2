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

// A shared pass's read of new rows for every due rollup of one source (the worker's, see worker.cpp):
// the values below were read before the one writer wait, which has ended; the new rows are staged and
// read through `from` instead of the source.
struct SharedRead {
  int64_t upper = 0;    // the order sequence's last value
  int64_t log_end = 0;  // the change log's end (ChangeLogEnd)
  bool waited = false;  // the pass waited for the source's writers (it found work when it started)
  std::string from;     // a FROM item over the staged rows, with the source's column names
};

// One bounded step of a refresh in the current transaction. Progress commits with the caller's
// transaction. With `shared`, its new rows come from the shared read (no wait of its own).
StepResult RefreshStep(Rollup& r, const SharedRead* shared = nullptr);
// The order sequence's last value: every new row has a value above the watermark up to it. Refuses a
// cached sequence and one set back below the watermark.
int64_t NewRowsUpper(const Rollup& r, int64_t watermark);

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
