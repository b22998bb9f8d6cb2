// strata.job_runs bookkeeping; see job_runs.hpp.
#include "jobs/job_runs.hpp"

#include "config.hpp"
#include "pg/security.hpp"
#include "pg/spi.hpp"
#include "pg/names.hpp"
#include "pg/xact.hpp"

namespace strata::jobs {

int64_t JobBegin(const std::string& kind, const std::string& target, const std::string& message,
                 const std::string& details_json, const std::string& run_as) {
  const auto rows = pg::Query(
      "INSERT INTO strata.job_runs (job_kind, target, status, message, details, run_as) "
      "VALUES ($1, $2, 'running', $3, $4::jsonb, $5) RETURNING id",
      {kind, target, message, details_json, run_as});
  return std::stoll(*rows.at(0).at(0));
}

void JobEnd(int64_t id, const std::string& status, const std::string& message, const std::string& details_json) {
  pg::Query("UPDATE strata.job_runs SET status = $2, message = $3, details = $4::jsonb, "
            "finished_at = pg_catalog.clock_timestamp() WHERE id = $1::bigint",
            {std::to_string(id), status, message, details_json});
}

int64_t TrimJobRuns() {
  // A batch deletes through the started_at index and locks only its own rows; the cutoff is fixed for
  // the whole trim, so rows that age while it runs wait for the next pass instead of keeping it going.
  constexpr int64_t kTrimBatch = 10000;
  const TimestampTz cut = GetCurrentTimestamp() - int64_t(config::job_runs_retention_s) * 1000000;
  std::string cutoff;
  pg::Call([&] { cutoff = timestamptz_to_str(cut); });
  int64_t total = 0;
  for (;;) {
    pg::Call([] { CHECK_FOR_INTERRUPTS(); });
    pg::BeginWorkerTxn();
    const int64_t n = std::stoll(*pg::Query(
        "WITH gone AS (DELETE FROM strata.job_runs WHERE id IN (SELECT id FROM strata.job_runs WHERE started_at < "
        "$1::timestamptz ORDER BY started_at LIMIT " + std::to_string(kTrimBatch) + ") RETURNING 1) "
        "SELECT count(*) FROM gone", {cutoff})[0][0]);
    pg::CommitWorkerTxn();
    total += n;
    if (n < kTrimBatch) return total;
  }
}

void RecordJob(const std::string& kind, const std::string& target, const std::string& status,
               const std::string& message, const std::string& details_json, TimestampTz started) {
  const char* started_txt = nullptr;
  pg::Call([&] { started_txt = timestamptz_to_str(started); });
  const std::string sql =
      "INSERT INTO strata.job_runs (job_kind, target, status, message, details, run_as, started_at, finished_at) "
      "VALUES ($1, $2, $3, $4, $5::jsonb, $7, $6::timestamptz, pg_catalog.clock_timestamp())";
  // The role the work ran as, read before switching to the extension owner for the insert.
  Oid user = InvalidOid;
  pg::Call([&] { user = GetUserId(); });
  std::vector<std::optional<std::string>> args{kind, target, status, message, details_json, std::string(started_txt),
                                               pg::RoleName(user)};
  pg::AsExtensionOwner([&] { pg::Query(sql, args); });
}

void MarkCrashedJobs() {
  pg::BeginWorkerTxn();
  pg::Exec("UPDATE strata.job_runs SET status = 'crashed', finished_at = pg_catalog.clock_timestamp(), "
           "message = 'the worker ended before the job finished (crash, kill or shutdown)' WHERE status = 'running'");
  pg::CommitWorkerTxn();
}

}  // namespace strata::jobs
