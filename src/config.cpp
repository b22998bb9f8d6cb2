// strata's GUCs; see config.hpp.
#include "config.hpp"

#include "core/error.hpp"
#include "core/vacuum_policy.hpp"
#include "pg/postgres.hpp"

namespace strata::config {

bool enabled = true;
int naptime_s = 60;
char* role = nullptr;
int max_workers = 8;
int lock_timeout_ms = 200;
char* databases = nullptr;
int ddl_retries = 3;
double recompress_fraction = 0.05;
int job_runs_retention_s = 7 * 24 * 3600;
int move_max_ranges = 16;
int rollup_wait_ms = 2000;
int rollup_hash_table_kb = 2048;
char* test_now = nullptr;
bool preloaded = false;
bool routing = true;
bool routing_approximate = false;
int routing_max_staleness_s = 0;
bool routing_debug = false;
bool routing_force = false;
bool health = true;
int health_horizon_age_s = 300;
int health_lock_wait_ms = 1000;
int health_min_partitions_ahead = 1;
int health_max_default_rows = 0;
int health_alert_repeat_s = 3600;
int heartbeat_interval_s = 5;
int health_max_slot_wal_mb = 1024;
int max_raw_rows = 0;
bool vacuum_enabled = true;
char* vacuum_window = nullptr;
int vacuum_cold_after_s = 3600;
double vacuum_urgent_age = 0.8;
double vacuum_parent_analyze_fraction = 0.05;
double vacuum_hot_analyze_fraction = 0.02;
double vacuum_hot_freeze_fraction = 0.5;
bool vacuum_insert_handover = true;
int vacuum_analyze_min_interval_s = 60;
int vacuum_max_actions = 1;
int vacuum_max_pages = 0;
double vacuum_cost_delay_ms = 2;
int vacuum_cost_limit = 200;
int vacuum_statistics_target = -1;
int vacuum_rollup_dead_min = 1000;
double vacuum_rollup_dead_fraction = 0.01;
int vacuum_rollup_min_interval_s = 60;
int vacuum_full_plan_interval_s = 600;

namespace {
// GUC check hook: a window list that does not parse is refused at SET / reload, with the parser's words.
// Check hooks must not throw or ERROR: the core's exception is caught here.
bool CheckVacuumWindow(char** newval, void**, GucSource) {
  try {
    (void) core::vacuum::ParseWindows(*newval == nullptr ? "" : *newval);
    return true;
  } catch (const core::Error& e) {
    GUC_check_errmsg("%s", e.message().c_str());
    GUC_check_errhint("%s", e.hint().c_str());
  } catch (...) {
    GUC_check_errmsg("invalid maintenance window");
  }
  return false;
}
}  // namespace

namespace {

// The workers: whether and how often they run, as whom, for which databases, what they keep.
void DefineWorkerSettings() {
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
  DefineCustomStringVariable("strata.databases", "Databases the strata launcher serves.",
                             "Comma-separated names; empty means every database with the extension.",
                             &databases, "", PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("strata.job_runs_retention", "Age after which rows of strata.job_runs are deleted.",
                          nullptr, &job_runs_retention_s, 7 * 24 * 3600, 60, INT_MAX, PGC_SIGHUP, GUC_UNIT_S,
                          nullptr, nullptr, nullptr);
}

// The DDL strata runs (partition maintenance, rollup hooks): lock waits, retries, batch sizes, the test clock.
void DefineDdlSettings() {
  DefineCustomIntVariable("strata.lock_timeout",
                          "Longest time any DDL run by strata waits for a lock before giving up and retrying.",
                          nullptr, &lock_timeout_ms, 200, 1, 600000, PGC_USERSET, GUC_UNIT_MS, nullptr, nullptr,
                          nullptr);
  DefineCustomIntVariable("strata.ddl_retries", "Attempts of a DDL statement that lost a lock race, per pass.",
                          nullptr, &ddl_retries, 3, 1, 100, PGC_USERSET, 0, nullptr, nullptr, nullptr);
  DefineCustomRealVariable("strata.recompress_fraction",
                           "Rows written into (or moved back into) a compressed partition, relative to its compressed "
                           "rows, at which the worker compresses it again.",
                           nullptr, &recompress_fraction, 0.05, 0.0, 1000.0, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("strata.default_move_max_ranges",
                          "Ranges moved out of a default partition per set and pass.", nullptr,
                          &move_max_ranges, 16, 1, 10000, PGC_USERSET, 0, nullptr, nullptr, nullptr);
  // The replaceable clock of partition maintenance (as TimescaleDB's current_timestamp_mock): tests run a
  // file under several fixed dates and prove its output does not depend on the calendar.
  DefineCustomStringVariable("strata.test_now", "Time that partition maintenance takes as now (for tests).",
                             "A timestamptz literal; empty: the real clock. Only premake, retention and the "
                             "default-partition horizon read it.",
                             &test_now, "", PGC_SUSET, GUC_NOT_IN_SAMPLE, nullptr, nullptr, nullptr);
}

// Rollup refreshes.
void DefineRollupSettings() {
  DefineCustomIntVariable("strata.rollup_wait_timeout",
                          "Longest time a rollup refresh waits for in-flight writers before skipping new rows.",
                          "The refresh polls; it never queues on a lock, so writers are never blocked by it.",
                          &rollup_wait_ms, 2000, 0, 600000, PGC_USERSET, GUC_UNIT_MS, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("strata.rollup_hash_table",
                          "Size a rollup refresh's hash aggregation keeps in memory at once; it partitions beyond.",
                          "A hash table the CPU caches hold runs faster than one in work_mem spread over main memory "
                          "(the aggregation spills the rest in partitions, as past work_mem). 0: work_mem as set. "
                          "Never above work_mem; not used when temp_file_limit is set.",
                          &rollup_hash_table_kb, 2048, 0, INT_MAX / 1024, PGC_USERSET, GUC_UNIT_KB, nullptr, nullptr,
                          nullptr);
}

// Query routing (src/routing/).
void DefineRoutingSettings() {
  DefineCustomBoolVariable("strata.routing", "Answers aggregate queries on a rollup's source from the rollup.",
                           "Only when the answer equals the query's own at the same snapshot; see "
                           "strata.explain_routing().", &routing, true, PGC_USERSET, 0, nullptr, nullptr, nullptr);
  DefineCustomBoolVariable("strata.routing_approximate",
                           "Allows routing to answer exact aggregates approximately from sketches.",
                           "count(DISTINCT x) from an hll of x, percentile_cont/percentile_disc from a qsketch, "
                           "strata.topk_agg from merged summaries; strata.explain_routing() gives each bound.",
                           &routing_approximate, false, PGC_USERSET, 0,
                           nullptr, nullptr, nullptr);
  DefineCustomIntVariable("strata.routing_max_staleness",
                          "How recently a materialized-only rollup must have caught up for routing to use it.",
                          "0: never. A routed answer stays exact either way (rows the rollup lacks are read from "
                          "the source).", &routing_max_staleness_s, 0, 0, INT_MAX, PGC_USERSET, GUC_UNIT_S, nullptr,
                          nullptr, nullptr);
  DefineCustomBoolVariable("strata.routing_debug", "Logs each routing decision (at LOG).", nullptr, &routing_debug,
                           false, PGC_USERSET, 0, nullptr, nullptr, nullptr);
  // For tests that compare answers: every query a rollup answers takes the routed plan, so its answer is
  // checked whichever plan the costs would pick.
  DefineCustomBoolVariable("strata.routing_force", "Takes the routed plan whenever a rollup answers, whatever it costs.",
                           "For tests that compare routed and unrouted answers; not for production.", &routing_force,
                           false, PGC_USERSET, 0, nullptr, nullptr, nullptr);
  // Superuser-set (ALTER ROLE agent SET ...): the role it limits cannot lift it.
  DefineCustomIntVariable("strata.max_raw_rows",
                          "Refuses statements whose plan would read more estimated rows from tables (0: off).",
                          "Checked when the statement starts executing; EXPLAIN still plans it. Meant for agents' "
                          "and dashboards' roles: ALTER ROLE ... SET strata.max_raw_rows = 1000000.",
                          &max_raw_rows, 0, 0, INT_MAX, PGC_SUSET, 0, nullptr, nullptr, nullptr);
}

// The vacuum scheduler.
// Ingest health (src/health/). Superuser-set: the workers read them after a reload; a superuser's
// session may set them to see the views with other thresholds.
void DefineHealthSettings() {
  DefineCustomBoolVariable("strata.health", "Samples ingest health and logs its alerts in each worker pass.",
                           "The views (strata.ingest_health, strata.horizon_holders) work either way; lock waits and "
                           "rates need the samples.", &health, true, PGC_SUSET, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("strata.health_horizon_age",
                          "How long a session or prepared transaction may hold back the xmin horizon before it is listed and alerted.",
                          nullptr, &health_horizon_age_s, 300, 1, INT_MAX, PGC_SUSET, GUC_UNIT_S, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("strata.health_lock_wait", "How long a lock wait on a watched table lasts before it is recorded and alerted.",
                          nullptr, &health_lock_wait_ms, 1000, 0, INT_MAX, PGC_SUSET, GUC_UNIT_MS, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("strata.health_min_partitions_ahead",
                          "Alerts when a partition set has fewer premade partitions ahead of its newest row.", nullptr,
                          &health_min_partitions_ahead, 1, 0, INT_MAX, PGC_SUSET, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("strata.health_max_default_rows", "Alerts when a default partition holds more rows.", nullptr,
                          &health_max_default_rows, 0, 0, INT_MAX, PGC_SUSET, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("strata.health_alert_repeat", "Logs a condition that has not changed again after this long.",
                          "A new or changed condition is logged at once; a cleared one is forgotten.", &health_alert_repeat_s,
                          3600, 1, INT_MAX, PGC_SUSET, GUC_UNIT_S, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("strata.health_max_slot_wal",
                          "Alerts when a logical replication slot of the database retains more WAL than this.",
                          "Its subscriber (an analytics node) is down or behind; past max_slot_wal_keep_size the slot is lost.",
                          &health_max_slot_wal_mb, 1024, 1, INT_MAX, PGC_SUSET, GUC_UNIT_MB, nullptr, nullptr, nullptr);
  // The analytics node (src/analytics/).
  DefineCustomIntVariable("strata.heartbeat_interval",
                          "How often a primary's worker writes its row of strata.heartbeat when that table is published.",
                          "An analytics node knows from it how complete its data is.", &heartbeat_interval_s, 5, 1, 3600,
                          PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr, nullptr);
}

void DefineVacuumSettings() {
  DefineCustomBoolVariable("strata.vacuum_enabled", "Enables strata's vacuum scheduler in the database workers.",
                           nullptr, &vacuum_enabled, true, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomStringVariable("strata.vacuum_window", "Maintenance windows for non-urgent vacuum and analyze work.",
                             "'HH:MM-HH:MM' ranges in the server's time zone, comma-separated; empty: any time. "
                             "Urgent wraparound work ignores windows.",
                             &vacuum_window, "", PGC_SIGHUP, 0, CheckVacuumWindow, nullptr, nullptr);
  DefineCustomIntVariable("strata.vacuum_cold_after", "A partition not written for this long is cold and gets frozen.",
                          nullptr, &vacuum_cold_after_s, 3600, 1, INT_MAX, PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr,
                          nullptr);
  DefineCustomRealVariable("strata.vacuum_urgent_age",
                           "Fraction of autovacuum_freeze_max_age from which a table is vacuumed urgently.", nullptr,
                           &vacuum_urgent_age, 0.8, 0.05, 0.99, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomRealVariable("strata.vacuum_parent_analyze_fraction",
                           "Rows changed in its partitions, relative to its size, that make a partitioned table "
                           "be analyzed again.", nullptr, &vacuum_parent_analyze_fraction, 0.05, 0.0, 100.0,
                           PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomRealVariable("strata.vacuum_hot_analyze_fraction",
                           "Rows modified, relative to its size, that make a hot partition be analyzed.", nullptr,
                           &vacuum_hot_analyze_fraction, 0.02, 0.0, 100.0, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomRealVariable("strata.vacuum_hot_freeze_fraction",
                           "Rows inserted since the last vacuum, relative to its size, that make strata freeze an "
                           "insert-mostly hot partition; 0 disables.", nullptr, &vacuum_hot_freeze_fraction, 0.5,
                           0.0, 100.0, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomBoolVariable("strata.vacuum_insert_handover",
                           "Hands autovacuum's insert-triggered vacuums of hot partitions over to strata's hot freezes.",
                           "Sets autovacuum_vacuum_insert_threshold = 20000 and autovacuum_vacuum_insert_scale_factor "
                           "= twice strata.vacuum_hot_freeze_fraction on insert-mostly partitions in use or empty that "
                           "have no insert reloption, so autovacuum's insert vacuum stays a fallback.",
                           &vacuum_insert_handover, true, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("strata.vacuum_analyze_min_interval", "Shortest time between two analyzes of one table.",
                          nullptr, &vacuum_analyze_min_interval_s, 60, 0, INT_MAX, PGC_SIGHUP, GUC_UNIT_S, nullptr,
                          nullptr, nullptr);
  DefineCustomIntVariable("strata.vacuum_max_actions", "Vacuum and analyze actions per pass (run one at a time).",
                          nullptr, &vacuum_max_actions, 1, 1, 1000, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("strata.vacuum_max_pages", "Page budget of one pass's actions; 0 means none.",
                          "The first action of a pass always runs, however large.", &vacuum_max_pages, 0, 0,
                          INT_MAX, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomRealVariable("strata.vacuum_cost_delay", "vacuum_cost_delay of strata's vacuums; -1 uses vacuum_cost_delay.",
                           nullptr, &vacuum_cost_delay_ms, 2, -1, 100, PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr,
                           nullptr);
  DefineCustomIntVariable("strata.vacuum_cost_limit", "vacuum_cost_limit of strata's vacuums; -1 uses vacuum_cost_limit.",
                          nullptr, &vacuum_cost_limit, 200, -1, 10000, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("strata.vacuum_statistics_target",
                          "Statistics target of strata's ANALYZE of partitioned tables; -1 uses default_statistics_target.",
                          "The sample is 300 rows per unit, drawn across all partitions.", &vacuum_statistics_target,
                          -1, -1, 10000, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("strata.vacuum_rollup_dead_min",
                          "Dead index entries in a rollup table from which strata vacuums it; -1: never.",
                          "The threshold is the larger of this and strata.vacuum_rollup_dead_fraction of its rows. Entries "
                          "of groups the refresh replaced without a HOT update, or deleted, count.",
                          &vacuum_rollup_dead_min, 1000, -1, INT_MAX, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomRealVariable("strata.vacuum_rollup_dead_fraction",
                           "Dead index entries in a rollup table, relative to its rows, from which strata vacuums it.",
                           nullptr, &vacuum_rollup_dead_fraction, 0.01, 0, 1, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("strata.vacuum_rollup_min_interval",
                          "Shortest time between the last vacuum of a rollup table and strata's next one for its dead index entries.",
                          nullptr, &vacuum_rollup_min_interval_s, 60, 0, INT_MAX, PGC_SIGHUP, GUC_UNIT_S, nullptr,
                          nullptr, nullptr);
  DefineCustomIntVariable("strata.vacuum_full_plan_interval",
                          "Time between two vacuum plans that read the facts of every table.",
                          "In between, a pass reads again only the tables whose statistics or catalog entry "
                          "changed; 0 reads every table at every pass.",
                          &vacuum_full_plan_interval_s, 600, 0, 86400, PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr, nullptr);
}

}  // namespace

void Init() {
  preloaded = process_shared_preload_libraries_in_progress;
  DefineWorkerSettings();
  DefineDdlSettings();
  DefineRollupSettings();
  DefineRoutingSettings();
  DefineHealthSettings();
  DefineVacuumSettings();
  MarkGUCPrefixReserved("strata");
}

}  // namespace strata::config
