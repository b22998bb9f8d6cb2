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
extern char* test_now;            // strata.test_now: the clock partition maintenance reads, for tests;
                                 // '' = the real clock (superuser)
extern double recompress_fraction;  // strata.recompress_fraction: heap rows of a compressed partition, relative to
                                   // its batched rows, at which the worker compresses it again (SIGHUP)
extern int rollup_hash_table_kb; // strata.rollup_hash_table: in-memory size a refresh's hash aggregation
                                 // aims at (kB; 0 = work_mem as set) (user)

// Vacuum scheduler (src/vacuum/); all SIGHUP: set in postgresql.conf, read by vacuum_plan() too.
extern bool vacuum_enabled;            // strata.vacuum_enabled
extern char* vacuum_window;            // strata.vacuum_window: 'HH:MM-HH:MM, ...' for non-urgent work
extern int vacuum_cold_after_s;        // strata.vacuum_cold_after
extern double vacuum_urgent_age;       // strata.vacuum_urgent_age: fraction of autovacuum_freeze_max_age
extern double vacuum_parent_analyze_fraction;  // strata.vacuum_parent_analyze_fraction
extern double vacuum_hot_analyze_fraction;     // strata.vacuum_hot_analyze_fraction
extern double vacuum_hot_freeze_fraction;      // strata.vacuum_hot_freeze_fraction (0 = off)
extern bool vacuum_insert_handover;           // strata.vacuum_insert_handover
extern int vacuum_analyze_min_interval_s;      // strata.vacuum_analyze_min_interval
extern int vacuum_max_actions;         // strata.vacuum_max_actions: per pass, run one at a time
extern int vacuum_max_pages;           // strata.vacuum_max_pages: page budget per pass (0 = none)
extern double vacuum_cost_delay_ms;    // strata.vacuum_cost_delay (-1 = vacuum_cost_delay)
extern int vacuum_cost_limit;          // strata.vacuum_cost_limit (-1 = vacuum_cost_limit)
extern int vacuum_statistics_target;   // strata.vacuum_statistics_target for parent ANALYZE (-1 = default)
extern int vacuum_rollup_dead_min;     // strata.vacuum_rollup_dead_min: dead index entries of a rollup table (-1 = never)
extern double vacuum_rollup_dead_fraction;  // strata.vacuum_rollup_dead_fraction: ... relative to its rows
extern int vacuum_rollup_min_interval_s;    // strata.vacuum_rollup_min_interval
extern int vacuum_full_plan_interval_s;     // strata.vacuum_full_plan_interval (0 = every pass)

// Query routing (src/routing/); all user-settable.
extern bool routing;                 // strata.routing: answer aggregate queries from rollups
extern bool routing_approximate;     // strata.routing_approximate: allow sketch-based approximate answers
extern int routing_max_staleness_s;  // strata.routing_max_staleness: materialized-only rollups (0 = never)
extern bool routing_debug;           // strata.routing_debug: log decisions
extern bool routing_force;           // strata.routing_force: routed whenever matched (tests)
// Agents (src/agents/).
extern int max_raw_rows;  // strata.max_raw_rows: refuse statements estimated to read more rows (0: off); superuser-set

// True when strata was loaded by shared_preload_libraries (workers exist).
// Ingest health (src/health/): the worker's sampling and alerts, and the views' thresholds (superuser).
extern bool health;                  // strata.health: sample and alert each pass
extern int health_horizon_age_s;     // strata.health_horizon_age: horizon holders older than this
extern int health_lock_wait_ms;      // strata.health_lock_wait: lock waits longer than this
extern int health_min_partitions_ahead;  // strata.health_min_partitions_ahead: alert below this
extern int health_max_default_rows;  // strata.health_max_default_rows: alert above this
extern int health_alert_repeat_s;    // strata.health_alert_repeat: log an unchanged condition again after this
extern int health_max_slot_wal_mb;   // strata.health_max_slot_wal: alert when a logical slot retains more WAL
// The analytics node (src/analytics/).
extern int heartbeat_interval_s;     // strata.heartbeat_interval: a publishing primary's heartbeat row

extern bool preloaded;

void Init();

}  // namespace strata::config
