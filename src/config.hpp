// strata's GUCs (all under the reserved prefix "strata."), defined by config::Init from _PG_init.
#pragma once

namespace strata::config {

extern bool enabled;             // strata.enabled: workers do maintenance (SIGHUP)
extern int naptime_s;            // strata.naptime: seconds between passes (SIGHUP)
extern char* role;               // strata.role: role maintenance runs as; '' = each table's owner (SIGHUP)
extern int max_workers;          // strata.max_workers: database workers at once (postmaster)
extern int lock_timeout_ms;      // strata.lock_timeout: lock wait cap of every DDL strata runs (user)
extern char* databases;          // strata.databases: comma list restricting databases; '' = all (SIGHUP)
extern int ddl_retries;          // strata.ddl_retries: attempts of a DDL that hit lock_timeout (user)
extern int job_runs_retention_s; // strata.job_runs_retention: age after which job_runs rows go (SIGHUP)
extern int move_max_ranges;      // strata.default_move_max_ranges: ranges moved out of a default per pass (user)
extern int rollup_wait_ms;       // strata.rollup_wait_timeout: wait for in-flight writers per refresh (user)

// True when strata was loaded by shared_preload_libraries (workers exist).
extern bool preloaded;

void Init();

}  // namespace strata::config
