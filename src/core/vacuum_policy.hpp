// The vacuum-scheduling policy, free of Postgres: given a snapshot of facts about every partitioned
// table and its partitions, plus configuration, return an ordered plan of maintenance actions, each with
// a reason and a decision (run now, or deferred and why). The glue (src/vacuum/) gathers the facts from
// pg_class, pg_stat_all_tables and strata's own tracking table, and executes the plan.
// Terms: a "parent" is a partitioned table (no storage; ANALYZE gives it inheritance statistics); a
// "leaf" is a partition with storage. "changes" is a cumulative count of inserted + updated + deleted
// rows (for a parent, summed over its leaves); strata records the value at which it last analyzed a
// parent or froze a leaf, so it never repeats work when nothing changed. A leaf is "cold" once its
// changes counter has not moved for cold_after seconds, "hot" while it is written. "Age fraction" is
// max(xid age / freeze_max_age, multixact age / multixact_freeze_max_age): at 1.0 autovacuum forces an
// anti-wraparound vacuum; strata acts from urgent_fraction on, oldest first.
#pragma once
#include "core/no_postgres.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace strata::core::vacuum {

// A per-table (or per-parent, inherited by its partitions) override of the defaults.
struct Override {
  bool enabled = true;                          // false: never touch this table
  bool freeze = true;                           // false: no proactive freeze (urgent work still runs)
  std::optional<double> cold_after_s;           // replaces Config::cold_after_s
  std::optional<double> analyze_fraction;       // replaces parent/hot analyze fractions
};

struct TableFacts {
  uint32_t relid = 0;      // the glue's handle (the table's oid)
  std::string name;        // qualified, for reasons and display
  bool is_parent = false;  // partitioned table
  int64_t pages = 0;       // current size in pages (parent: summed over its leaves)
  double live_tuples = 0;  // reltuples (leaf) or the sum over leaves (parent)
  int64_t dead_tuples = 0;
  int64_t mod_since_analyze = 0;  // leaf: n_mod_since_analyze
  int64_t ins_since_vacuum = 0;   // leaf: n_ins_since_vacuum
  int64_t xid_age = 0;            // leaf: age(relfrozenxid)
  int64_t mxid_age = 0;           // leaf: mxid_age(relminmxid)
  int64_t changes = 0;            // cumulative ins + upd + del (parent: over its leaves)
  double seconds_since_write = -1;    // since `changes` last moved; -1 unknown (first seen just now)
  double seconds_since_analyze = -1;  // -1 never analyzed
  int64_t changes_at_analyze = -1;    // parent: changes when strata last analyzed it; -1 none
  bool has_stats = true;              // parent: it has inherited statistics (pg_stats)
  int64_t changes_at_freeze = -1;     // leaf: changes when strata last froze it; -1 none
  // Leaf: autovacuum's insert trigger for this table (reloption, else the server setting): it vacuums
  // once ins_since_vacuum > insert_threshold + insert_scale * reltuples; threshold -1 disables it.
  int64_t av_insert_threshold = 1000;
  double av_insert_scale = 0.2;
  bool insert_reloption = false;      // either is set as a reloption on the table (by anyone)
  // A table holding a rollup's stored groups (a rollup's data table, or a leaf of one that is a
  // partition set). Its only writer is the rollup refresh, which updates groups in place: an update
  // that finds no room on its page, or a delete, leaves index entries pointing at a dead tuple, which
  // every read of those buckets steps over until a VACUUM removes them.
  bool rollup = false;
  bool in_tree = true;                // false: a plain rollup table (no other rule applies to it)
  int64_t dead_entries = -1;          // rollup: such entries since strata's last vacuum of it; -1 unknown
  double seconds_since_vacuum = -1;   // since its last VACUUM by anyone; -1 never
  Override ov;
};

// A maintenance window: minutes since local midnight, [start, end); end < start wraps past midnight.
struct Window {
  int start = 0;
  int end = 0;
};

struct Config {
  int64_t freeze_max_age = 200000000;            // autovacuum_freeze_max_age
  int64_t multixact_freeze_max_age = 400000000;  // autovacuum_multixact_freeze_max_age
  double urgent_fraction = 0.8;     // age fraction from which a leaf is vacuumed urgently, ignoring windows
  double cold_after_s = 3600;       // a leaf not written for this long is cold
  double parent_analyze_fraction = 0.05;  // changes since the last parent ANALYZE, relative to its rows
  int64_t parent_analyze_min_rows = 1000;
  double hot_analyze_fraction = 0.02;     // modifications since the last ANALYZE of a hot leaf
  int64_t hot_analyze_min_rows = 500;
  double analyze_min_interval_s = 60;     // never analyze the same table more often than this
  // Insert-mostly hot leaves: strata's VACUUM (FREEZE) once inserts since the last vacuum reach
  // max(min rows, fraction * rows), and never later than autovacuum's insert trigger, so each page is
  // read once and frozen in that same pass instead of being read again by a later aggressive vacuum.
  double hot_freeze_fraction = 0.5;
  int64_t hot_freeze_min_rows = 10000;
  // Insert-vacuum handover: a hot or empty insert-mostly leaf without insert reloptions gets
  // autovacuum_vacuum_insert_scale_factor = this and autovacuum_vacuum_insert_threshold = twice
  // hot_freeze_min_rows, so autovacuum's insert-triggered vacuum becomes a fallback behind strata's hot
  // freezes instead of running several times as often (and once more on every freshly filled
  // partition, whose reltuples is still 0). 0: no handover.
  double insert_handover_scale = 1.0;
  double hot_freeze_max_dead = 0.01;      // only while dead tuples stay below this fraction (insert-mostly)
  double dead_fraction = 0.1;             // dead tuples relative to live ones that warrant a VACUUM
  int64_t dead_min = 10000;
  // Rollup tables: dead index entries (see TableFacts::rollup) that warrant a VACUUM with index
  // cleanup: max(rollup_dead_min, rollup_dead_fraction * rows), not within rollup_min_interval_s of the
  // table's last vacuum. rollup_dead_min < 0: never.
  double rollup_dead_fraction = 0.01;
  int64_t rollup_dead_min = 1000;
  double rollup_min_interval_s = 60;
  int max_actions = 1;         // actions run per pass (one at a time; a pass runs them in turn)
  int max_handovers = 100;     // handovers per pass, outside max_actions and max_pages (each is one
                               // short ALTER TABLE; a thousand daily sets make ~1,000 a day)
  int64_t max_pages = 0;       // page budget per pass; 0 = none. The first action always fits.
  std::vector<Window> windows; // non-urgent work only inside these; empty = any time
  int minute_of_day = 0;       // now, local time
};

enum class ActionKind {
  kUrgentVacuum, kFreezeCold, kAnalyzeParent, kAnalyzeHot, kFreezeHot, kVacuumDead, kInsertHandover, kVacuumRollup
};
enum class Decision { kRun, kDeferredWindow, kDeferredBudget, kSkippedOverride };
// VACUUM's INDEX_CLEANUP: kAuto lets VACUUM skip it when few pages have dead items; kOff: nothing to
// clean (nothing changed since strata froze the table); kOn: removing dead index entries is the point.
enum class IndexCleanup { kAuto, kOff, kOn };

struct Action {
  ActionKind kind = ActionKind::kUrgentVacuum;
  size_t fact = 0;       // index into the facts given to PlanVacuum
  uint32_t relid = 0;
  bool urgent = false;
  double score = 0;      // order within a kind: higher first
  Decision decision = Decision::kRun;
  IndexCleanup index_cleanup = IndexCleanup::kAuto;
  std::string reason;    // why the action is needed, and why it is deferred if it is
};

// The ordered plan: urgent vacuums (oldest first), then parent ANALYZEs, dead-tuple VACUUMs, cold
// freezes (oldest first), hot-leaf ANALYZEs, hot-leaf freezes, rollup-table VACUUMs, and last the
// insert-vacuum handovers, which use their own budget (max_handovers), not max_actions or max_pages.
// Actions that are not needed are absent. A fact with in_tree = false gets the rollup rule only.
std::vector<Action> PlanVacuum(const std::vector<TableFacts>& facts, const Config& cfg);

// The age fraction of a leaf (see the file comment).
double AgeFraction(const TableFacts& f, const Config& cfg);

// Whether minute (0..1439) lies in any window; true when there are none.
bool InWindow(const std::vector<Window>& windows, int minute);
// Parses "HH:MM-HH:MM[, ...]" (24-hour clock; "22:00-04:00" wraps); '' = no windows. Throws Error.
std::vector<Window> ParseWindows(const std::string& text);

const char* KindName(ActionKind k);       // "vacuum_urgent", "vacuum_freeze", "analyze_parent", ...
// The reloptions a handover sets: "autovacuum_vacuum_insert_threshold = 20000,
// autovacuum_vacuum_insert_scale_factor = 1" by default.
std::string HandoverSetting(const Config& cfg);
const char* DecisionName(Decision d);     // "run", "deferred: window", "deferred: budget", "skipped: override"

}  // namespace strata::core::vacuum
