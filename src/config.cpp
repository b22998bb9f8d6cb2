// strata's GUCs; see config.hpp.
#include "config.hpp"

#include "pg/postgres.hpp"

namespace strata::config {

bool enabled = true;
int naptime_s = 60;
char* role = nullptr;
int max_workers = 8;
int lock_timeout_ms = 200;
char* databases = nullptr;
int ddl_retries = 3;
int job_runs_retention_s = 7 * 24 * 3600;
int move_max_ranges = 16;
int rollup_wait_ms = 2000;
bool preloaded = false;

void Init() {
  preloaded = process_shared_preload_libraries_in_progress;
  DefineCustomBoolVariable("strata.enabled", "Enables strata's background maintenance.", nullptr, &enabled,
                           true, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("strata.naptime", "Time between two maintenance passes of a database worker.",
                          nullptr, &naptime_s, 60, 1, 86400, PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr, nullptr);
  DefineCustomStringVariable("strata.role", "Role that background maintenance runs as.",
                             "Empty: each partition set is maintained as the owner of its parent table.",
                             &role, "", PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  // A PGC_POSTMASTER variable can only be defined while preloading (defining it later is FATAL); it
  // only matters to the workers, which exist only then.
  if (preloaded)
    DefineCustomIntVariable("strata.max_workers", "Maximum number of strata database workers at once.",
                            "Each needs a slot in max_worker_processes; the launcher takes one more.",
                            &max_workers, 8, 1, 128, PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("strata.lock_timeout",
                          "Longest time any DDL run by strata waits for a lock before giving up and retrying.",
                          nullptr, &lock_timeout_ms, 200, 1, 600000, PGC_USERSET, GUC_UNIT_MS, nullptr, nullptr,
                          nullptr);
  DefineCustomStringVariable("strata.databases", "Databases the strata launcher serves.",
                             "Comma-separated names; empty means every database with the extension.",
                             &databases, "", PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("strata.rollup_wait_timeout",
                          "Longest time a rollup refresh waits for in-flight writers before skipping new rows.",
                          "The refresh polls; it never queues on a lock, so writers are never blocked by it.",
                          &rollup_wait_ms, 2000, 0, 600000, PGC_USERSET, GUC_UNIT_MS, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("strata.ddl_retries", "Attempts of a DDL statement that lost a lock race, per pass.",
                          nullptr, &ddl_retries, 3, 1, 100, PGC_USERSET, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("strata.job_runs_retention", "Age after which rows of strata.job_runs are deleted.",
                          nullptr, &job_runs_retention_s, 7 * 24 * 3600, 60, INT_MAX, PGC_SIGHUP, GUC_UNIT_S,
                          nullptr, nullptr, nullptr);
  DefineCustomIntVariable("strata.default_move_max_ranges",
                          "Ranges moved out of a default partition per set and pass.", nullptr,
                          &move_max_ranges, 16, 1, 10000, PGC_USERSET, 0, nullptr, nullptr, nullptr);
  MarkGUCPrefixReserved("strata");
}

}  // namespace strata::config
