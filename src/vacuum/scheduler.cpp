// The vacuum scheduler's glue (see scheduler.hpp and README.md): facts, tracking, the worker pass.
#include "vacuum/scheduler.hpp"

#include <algorithm>
#include <cmath>

#include "config.hpp"
#include "core/error.hpp"
#include "core/naming.hpp"
#include "partitions/maintenance.hpp"

namespace strata::vacuum {
namespace cv = core::vacuum;
namespace {

// Every partitioned table outside the system schemas (temporary ones excluded: only their session can
// vacuum them), and every leaf partition with storage below one; with `rollups`, also every rollup data
// table that is a plain table (in_tree false). $1: only what the current user may read. `entries` is
// the cumulative count of updates that were not HOT plus deletes: each left index entries pointing at
// a dead tuple.
std::string TreeCte(bool rollups) {
  const std::string readable = " AND (NOT $1::bool OR pg_catalog.has_table_privilege(c.oid, 'SELECT'))";
  std::string sql =
      "parents AS ("
      " SELECT c.oid AS relid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
      " WHERE c.relkind = 'p' AND c.relpersistence <> 't' AND n.nspname <> 'pg_catalog'"
      " AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_toast'" + readable + "),"
      " leaves AS ("
      " SELECT DISTINCT t.relid::pg_catalog.oid AS relid FROM parents p CROSS JOIN LATERAL pg_catalog.pg_partition_tree(p.relid) t"
      " JOIN pg_catalog.pg_class c ON c.oid = t.relid WHERE c.relkind = 'r' AND c.relpersistence <> 't'" + readable + "),";
  sql += rollups ? " rollup_tables AS ("
                   " SELECT c.oid AS relid FROM strata.rollup ro JOIN pg_catalog.pg_class c ON c.oid = ro.data_table"
                   " WHERE c.relkind = 'r' AND NOT c.relispartition" + readable + "),"
                 : " rollup_tables AS (SELECT 0::pg_catalog.oid AS relid WHERE false),";
  sql +=
      " leafstat AS ("
      " SELECT l.relid, pg_catalog.pg_stat_get_tuples_inserted(l.relid) + pg_catalog.pg_stat_get_tuples_updated(l.relid)"
      " + pg_catalog.pg_stat_get_tuples_deleted(l.relid) AS changes,"
      " pg_catalog.pg_stat_get_tuples_updated(l.relid) - pg_catalog.pg_stat_get_tuples_hot_updated(l.relid)"
      " + pg_catalog.pg_stat_get_tuples_deleted(l.relid) AS entries"
      " FROM (SELECT relid FROM leaves UNION SELECT relid FROM rollup_tables) l),"
      " rels AS ("
      " SELECT l.relid, false AS is_parent, true AS in_tree, ls.changes, ls.entries FROM leaves l JOIN leafstat ls USING (relid)"
      " UNION ALL"
      " SELECT p.relid, true, true, (SELECT COALESCE(sum(ls.changes), 0)::bigint FROM pg_catalog.pg_partition_tree(p.relid) t"
      " JOIN leafstat ls ON ls.relid = t.relid::pg_catalog.oid), 0::bigint FROM parents p"
      " UNION ALL"
      " SELECT t.relid, false, false, ls.changes, ls.entries FROM rollup_tables t JOIN leafstat ls USING (relid))";
  return sql;
}

// Whether this database's catalog has what the rollup-table rule reads (strata 0.8.0 on).
bool RollupScope() {
  return pg::Query("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = "
                   "pg_catalog.to_regclass('strata.vacuum_state') AND attname = 'entries_at_vacuum' AND NOT attisdropped) "
                   "AND pg_catalog.to_regclass('strata.rollup') IS NOT NULL")[0][0] == std::optional<std::string>("t");
}

double Num(const std::optional<std::string>& v, double dflt) { return v ? std::stod(*v) : dflt; }
int64_t Int(const std::optional<std::string>& v, int64_t dflt) { return v ? std::stoll(*v) : dflt; }

// The role actions run as: strata.role if set, else the table's owner.
Oid ConfiguredRole() {
  Oid role = InvalidOid;
  if (config::role != nullptr && config::role[0] != '\0') {
    const char* rname = config::role;
    pg::Call([&] { role = get_role_oid(rname, true); });
    if (!OidIsValid(role))
      throw core::Error(ERRCODE_UNDEFINED_OBJECT, std::string("role \"") + rname + "\" given by strata.role does not exist",
                        {}, "Create the role or change strata.role.");
  }
  return role;
}

// Reads a server setting as text (autovacuum_freeze_max_age and friends).
std::string Setting(const char* name) {
  const char* v = nullptr;
  pg::Call([&] { v = GetConfigOption(name, false, false); });
  return v;
}

// Sets (or, with nullptr, resets) a setting of this worker session. SetConfigOption ERRORs only on a
// bad name or value, which pg::Call turns into an exception.
void SetSessionGuc(const char* name, const std::optional<std::string>& value) {
  const char* v = value ? value->c_str() : nullptr;
  pg::Call([&] { SetConfigOption(name, v, PGC_SUSET, PGC_S_SESSION); });
}

// The cost budget of strata's vacuums, applied to this worker session before each pass.
void ApplyCostSettings() {
  if (config::vacuum_cost_delay_ms >= 0) SetSessionGuc("vacuum_cost_delay", std::to_string(config::vacuum_cost_delay_ms));
  else SetSessionGuc("vacuum_cost_delay", std::nullopt);
  if (config::vacuum_cost_limit >= 0) SetSessionGuc("vacuum_cost_limit", std::to_string(config::vacuum_cost_limit));
  else SetSessionGuc("vacuum_cost_limit", std::nullopt);
}

// The insert-vacuum handover: ALTER TABLE ... SET (setting) as run_as, under strata.lock_timeout, in a
// transaction of its own (SHARE UPDATE EXCLUSIVE, as a VACUUM: inserts go on). The name is read by OID
// now, so a rename since the facts were read does not matter. Throws PgError; the caller aborts.
void SetInsertReloption(Oid relid, const std::string& setting, Oid run_as) {
  pg::BeginWorkerTxn();
  const auto name = pg::Query("SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) "
                              "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                              "WHERE c.oid = $1::oid",
                              {std::to_string(relid)});
  if (name.size() == 1 && name[0][0]) {
    pg::AsRole(run_as, [&] { pg::WithLockTimeout([&] { pg::Exec("ALTER TABLE " + *name[0][0] + " SET (" + setting + ")"); }); });
  }
  pg::CommitWorkerTxn();
}

}  // namespace

bool CatalogExists() {
  return pg::Query("SELECT pg_catalog.to_regclass('strata.vacuum_policy') IS NOT NULL")[0][0] ==
         std::optional<std::string>("t");
}

Snapshot ReadSnapshot(bool for_session, Oid only) {
  Snapshot s;
  cv::Config& c = s.cfg;
  c.freeze_max_age = std::stoll(Setting("autovacuum_freeze_max_age"));
  c.multixact_freeze_max_age = std::stoll(Setting("autovacuum_multixact_freeze_max_age"));
  const int64_t av_insert_threshold = std::stoll(Setting("autovacuum_vacuum_insert_threshold"));
  const double av_insert_scale = std::stod(Setting("autovacuum_vacuum_insert_scale_factor"));
  c.urgent_fraction = config::vacuum_urgent_age;
  c.cold_after_s = config::vacuum_cold_after_s;
  c.parent_analyze_fraction = config::vacuum_parent_analyze_fraction;
  c.hot_analyze_fraction = config::vacuum_hot_analyze_fraction;
  c.hot_freeze_fraction = config::vacuum_hot_freeze_fraction;
  c.insert_handover_scale =
      config::vacuum_insert_handover ? std::min(100.0, 2 * config::vacuum_hot_freeze_fraction) : 0.0;
  c.analyze_min_interval_s = config::vacuum_analyze_min_interval_s;
  c.max_actions = config::vacuum_max_actions;
  c.max_pages = config::vacuum_max_pages;
  c.rollup_dead_min = config::vacuum_rollup_dead_min;
  c.rollup_dead_fraction = config::vacuum_rollup_dead_fraction;
  c.rollup_min_interval_s = config::vacuum_rollup_min_interval_s;
  c.windows = cv::ParseWindows(config::vacuum_window == nullptr ? "" : config::vacuum_window);
  const std::string sess = for_session ? "true" : "false";
  const std::optional<std::string> only_arg =
      OidIsValid(only) ? std::optional<std::string>(std::to_string(only)) : std::nullopt;
  const bool rollups = RollupScope();
  s.rollup_scope = rollups;
  const std::string cte = TreeCte(rollups);
  if (!for_session && !OidIsValid(only)) {
    // Tracking: when did each table's change counter last move? One statement, bounded by the number
    // of partitions; rows of dropped tables go. A table first seen counts its dead entries from 0 (since
    // the statistics began; the cap by its dead tuples keeps out what a vacuum already removed).
    pg::Query("WITH " + cte + " INSERT INTO strata.vacuum_state AS s (relid, changes, seen_at" +
                  (rollups ? ", entries_at_vacuum" : "") + ") SELECT relid, changes, pg_catalog.now()" +
                  (rollups ? ", CASE WHEN NOT is_parent THEN 0 END" : "") +
                  " FROM rels ON CONFLICT (relid) DO UPDATE SET changes = EXCLUDED.changes,"
                  " changed_at = CASE WHEN s.changes <> EXCLUDED.changes THEN EXCLUDED.seen_at ELSE s.changed_at END" +
                  (rollups ? ", entries_at_vacuum = COALESCE(s.entries_at_vacuum, EXCLUDED.entries_at_vacuum)" : "") +
                  " WHERE s.changes <> EXCLUDED.changes",
              {sess});
    pg::Exec("DELETE FROM strata.vacuum_state s WHERE NOT EXISTS "
             "(SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = s.relid)");
  }
  const auto rows = pg::Query(
      "WITH " + cte +
          " SELECT r.relid, r.is_parent, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname),"
          " c.relowner, CASE WHEN r.is_parent THEN (SELECT COALESCE(sum(pg_catalog.pg_relation_size(t.relid)), 0)"
          "   FROM pg_catalog.pg_partition_tree(r.relid) t WHERE t.isleaf) ELSE pg_catalog.pg_relation_size(r.relid) END"
          "   / pg_catalog.current_setting('block_size')::int,"
          " CASE WHEN r.is_parent THEN (SELECT COALESCE(sum(GREATEST(lc.reltuples, 0)), 0) FROM"
          "   pg_catalog.pg_partition_tree(r.relid) t JOIN pg_catalog.pg_class lc ON lc.oid = t.relid AND lc.relkind = 'r')"
          "  ELSE GREATEST(c.reltuples, 0) END,"
          " pg_catalog.pg_stat_get_dead_tuples(r.relid), pg_catalog.pg_stat_get_mod_since_analyze(r.relid),"
          " pg_catalog.pg_stat_get_ins_since_vacuum(r.relid),"
          " CASE WHEN r.is_parent THEN 0 ELSE pg_catalog.age(c.relfrozenxid) END,"
          " CASE WHEN r.is_parent THEN 0 ELSE pg_catalog.mxid_age(c.relminmxid) END,"
          " r.changes,"
          " EXTRACT(epoch FROM pg_catalog.now() - st.changed_at), EXTRACT(epoch FROM pg_catalog.now() - st.seen_at),"
          " EXTRACT(epoch FROM pg_catalog.now() - NULLIF(GREATEST("
          "   COALESCE(pg_catalog.pg_stat_get_last_analyze_time(r.relid), '-infinity'),"
          "   COALESCE(pg_catalog.pg_stat_get_last_autoanalyze_time(r.relid), '-infinity'),"
          "   COALESCE(st.analyzed_at, '-infinity')), '-infinity')),"
          " st.analyzed_changes, st.frozen_changes,"
          " v.enabled, v.proactive_freeze, EXTRACT(epoch FROM v.cold_after), v.analyze_fraction,"
          " ro.thr, ro.scale,"
          " NOT r.is_parent OR EXISTS (SELECT 1 FROM pg_catalog.pg_stats ps WHERE ps.schemaname = n.nspname"
          "   AND ps.tablename = c.relname AND ps.inherited),"
          // Rollup tables: a plain one, or a leaf below a rollup's partitioned data table.
          " r.in_tree, NOT r.is_parent AND (NOT r.in_tree" +
          (rollups ? std::string(" OR EXISTS (SELECT 1 FROM strata.rollup ro JOIN pg_catalog.pg_partition_ancestors(r.relid) a"
                                 "   ON a.relid = ro.data_table::pg_catalog.oid)")
                   : std::string()) +
          "), r.entries, " + (rollups ? "st.entries_at_vacuum" : "NULL::bigint") + ","
          " EXTRACT(epoch FROM pg_catalog.now() - NULLIF(GREATEST("
          "   COALESCE(pg_catalog.pg_stat_get_last_vacuum_time(r.relid), '-infinity'),"
          "   COALESCE(pg_catalog.pg_stat_get_last_autovacuum_time(r.relid), '-infinity')), '-infinity'))"
          " FROM rels r JOIN pg_catalog.pg_class c ON c.oid = r.relid"
          " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
          " LEFT JOIN strata.vacuum_state st ON st.relid = r.relid"
          " LEFT JOIN LATERAL (SELECT p.* FROM pg_catalog.pg_partition_ancestors(r.relid) WITH ORDINALITY a(relid, ord)"
          "   JOIN strata.vacuum_policy p ON p.relid::pg_catalog.oid = a.relid ORDER BY a.ord LIMIT 1) v ON true"
          " LEFT JOIN LATERAL (SELECT"
          "   CASE WHEN bool_or(pg_catalog.split_part(o, '=', 1) = 'autovacuum_enabled'"
          "     AND NOT pg_catalog.split_part(o, '=', 2)::bool) THEN '-1' ELSE"
          "   max(pg_catalog.split_part(o, '=', 2)) FILTER (WHERE pg_catalog.split_part(o, '=', 1) = 'autovacuum_vacuum_insert_threshold') END AS thr,"
          "   max(pg_catalog.split_part(o, '=', 2)) FILTER (WHERE pg_catalog.split_part(o, '=', 1) = 'autovacuum_vacuum_insert_scale_factor') AS scale"
          "   FROM pg_catalog.unnest(c.reloptions) o) ro ON true"
          " WHERE $2::oid IS NULL OR r.relid = $2::oid"
          " ORDER BY r.is_parent DESC, c.oid",
      {sess, only_arg});
  for (const auto& r : rows) {
    if (r.size() != 29) throw core::Error(ERRCODE_INTERNAL_ERROR, "vacuum facts query returned an unexpected row shape");
    cv::TableFacts f;
    f.relid = static_cast<uint32_t>(std::stoul(*r[0]));
    f.is_parent = *r[1] == "t";
    f.name = *r[2];
    f.pages = Int(r[4], 0);
    f.live_tuples = Num(r[5], 0);
    f.dead_tuples = Int(r[6], 0);
    f.mod_since_analyze = Int(r[7], 0);
    f.ins_since_vacuum = Int(r[8], 0);
    f.xid_age = Int(r[9], 0);
    f.mxid_age = Int(r[10], 0);
    f.changes = Int(r[11], 0);
    if (r[19]) f.ov.cold_after_s = std::stod(*r[19]);
    const double cold_after = f.ov.cold_after_s.value_or(c.cold_after_s);
    // Since the last write: known once a change was seen; before that, at least since first seen, which
    // counts only once that alone makes the table cold (a table first seen just now is neither).
    if (r[12]) f.seconds_since_write = std::stod(*r[12]);
    else if (r[13] && std::stod(*r[13]) >= cold_after) f.seconds_since_write = std::stod(*r[13]);
    f.seconds_since_analyze = Num(r[14], -1);
    f.changes_at_analyze = Int(r[15], -1);
    f.changes_at_freeze = Int(r[16], -1);
    if (r[17]) f.ov.enabled = *r[17] == "t";
    if (r[18]) f.ov.freeze = *r[18] == "t";
    if (r[20]) f.ov.analyze_fraction = std::stod(*r[20]);
    f.insert_reloption = r[21].has_value() || r[22].has_value();
    f.av_insert_threshold = r[21] ? std::stoll(*r[21]) : av_insert_threshold;
    f.av_insert_scale = r[22] ? std::stod(*r[22]) : av_insert_scale;
    f.has_stats = r[23] == std::optional<std::string>("t");
    f.in_tree = r[24] != std::optional<std::string>("f");
    f.rollup = r[25] == std::optional<std::string>("t");
    const int64_t entries = Int(r[26], 0);
    // Dead index entries since strata's last vacuum: the counter's move since then (all of it after a
    // statistics reset), but never more than the dead tuples left (any vacuum, autovacuum's too, ends
    // them). Unknown until a baseline is taken.
    if (f.rollup && r[27]) {
      const int64_t base = std::stoll(*r[27]);
      f.dead_entries = std::min<int64_t>(entries >= base ? entries - base : entries, f.dead_tuples);
    }
    f.seconds_since_vacuum = Num(r[28], -1);
    s.entries.push_back(entries);
    s.owners.push_back(static_cast<Oid>(std::stoul(*r[3])));
    char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"pages\": %lld, \"live_tuples\": %.0f, \"dead_tuples\": %lld, \"mod_since_analyze\": %lld, "
             "\"ins_since_vacuum\": %lld, \"xid_age\": %lld, \"mxid_age\": %lld, \"changes\": %lld, "
             "\"seconds_since_write\": %.0f, \"seconds_since_analyze\": %.0f, "
             "\"autovacuum_insert_threshold\": %lld, \"autovacuum_insert_scale\": %g, \"has_statistics\": %s%s}",
             (long long) f.pages, f.live_tuples, (long long) f.dead_tuples, (long long) f.mod_since_analyze,
             (long long) f.ins_since_vacuum, (long long) f.xid_age, (long long) f.mxid_age, (long long) f.changes,
             f.seconds_since_write, f.seconds_since_analyze, (long long) f.av_insert_threshold, f.av_insert_scale,
             f.has_stats ? "true" : "false",
             f.rollup ? (", \"rollup_table\": true, \"dead_index_entries\": " +
                         (f.dead_entries < 0 ? std::string("null") : std::to_string(f.dead_entries)) +
                         ", \"seconds_since_vacuum\": " + (f.seconds_since_vacuum < 0 ? std::string("null") : std::to_string(int64_t(f.seconds_since_vacuum))))
                            .c_str()
                      : "");
    s.facts_json.push_back(buf);
    s.facts.push_back(std::move(f));
  }
  c.minute_of_day = static_cast<int>(
      std::stoi(*pg::Query("SELECT (EXTRACT(hour FROM LOCALTIMESTAMP) * 60 + "
                           "EXTRACT(minute FROM LOCALTIMESTAMP))::int")[0][0]));
  return s;
}

bool WorkerPass() {
  if (!config::vacuum_enabled) return false;
  ApplyCostSettings();
  Snapshot snap;
  std::vector<cv::Action> plan;
  Oid role = InvalidOid;
  pg::BeginWorkerTxn();
  if (!CatalogExists()) {
    pg::CommitWorkerTxn();
    return false;
  }
  role = ConfiguredRole();
  snap = ReadSnapshot(false);
  plan = cv::PlanVacuum(snap.facts, snap.cfg);
  pg::CommitWorkerTxn();

  bool left = false;
  for (const cv::Action& a : plan) {
    if (a.decision == cv::Decision::kDeferredBudget) left = true;
    if (a.decision != cv::Decision::kRun) continue;
    const cv::TableFacts& f = snap.facts[a.fact];
    const Oid relid = a.relid;
    const Oid run_as = OidIsValid(role) ? role : snap.owners[a.fact];
    const std::string kind = cv::KindName(a.kind);
    const bool handover = a.kind == cv::ActionKind::kInsertHandover;
    const TimestampTz started = GetCurrentTimestamp();
    // The lock probe, the role check and the 'running' row share one short transaction.
    pg::BeginWorkerTxn();
    const bool exists = pg::Query("SELECT 1 FROM pg_catalog.pg_class WHERE oid = $1::oid", {std::to_string(relid)}).size() == 1;
    std::string skip;
    if (!exists) skip = "the table no longer exists";
    else if (!pg::CanLockForVacuum(relid))
      skip = "lock not available (another session holds a conflicting lock); retrying next pass";
    else if (OidIsValid(role)) {
      // strata.role may vacuum a table it owns or in a database it owns; a handover (ALTER TABLE) needs
      // the table itself.
      const auto may = pg::Query(
          "SELECT pg_catalog.pg_has_role($1::oid, c.relowner, 'USAGE'), pg_catalog.pg_has_role($1::oid, d.datdba, "
          "'USAGE') FROM pg_catalog.pg_class c, pg_catalog.pg_database d WHERE c.oid = $2::oid "
          "AND d.datname = pg_catalog.current_database()",
          {std::to_string(role), std::to_string(relid)})[0];
      const bool owns_table = may[0] == std::optional<std::string>("t");
      const bool owns_db = may[1] == std::optional<std::string>("t");
      if (handover && !owns_table)
        skip = "strata.role does not own this table, so it may not change its storage parameters";
      else if (!owns_table && !owns_db)
        skip = "strata.role does not own this table or the database, so it may not vacuum it";
    }
    const std::string before = snap.facts_json[a.fact];
    const std::string detail_head = "{\"reason\": " + core::JsonString(a.reason) + ", \"before\": " + before;
    int64_t job = 0;
    pg::AsExtensionOwner([&] {
      if (!skip.empty()) {
        partitions::RecordJob(kind, f.name, "skipped", skip, detail_head + "}", started);
      } else {
        job = partitions::JobBegin(kind, f.name, a.reason, detail_head + "}", pg::RoleName(run_as));
      }
    });
    pg::CommitWorkerTxn();
    if (!skip.empty()) {
      pg::Call([&] { ereport(LOG, (errmsg("strata vacuum: %s of %s skipped: %s", kind.c_str(), f.name.c_str(), skip.c_str()))); });
      continue;
    }
    pg::Call([&] {
      ereport(LOG, (errmsg("strata vacuum: %s of %s", kind.c_str(), f.name.c_str()), errdetail("%s", a.reason.c_str())));
    });
    // Statistics target of a parent ANALYZE: set for this worker session only, for the action's length.
    const bool analyze = a.kind == cv::ActionKind::kAnalyzeParent || a.kind == cv::ActionKind::kAnalyzeHot;
    const bool freeze = a.kind == cv::ActionKind::kUrgentVacuum || a.kind == cv::ActionKind::kFreezeCold ||
                        a.kind == cv::ActionKind::kFreezeHot;
    std::string status = "ok", message = a.reason, error;
    pg::VacuumRun buf;
    const bool set_target = a.kind == cv::ActionKind::kAnalyzeParent && config::vacuum_statistics_target >= 0;
    try {
      if (handover) {
        SetInsertReloption(relid, cv::HandoverSetting(snap.cfg), run_as);
      } else {
        if (set_target) SetSessionGuc("default_statistics_target", std::to_string(config::vacuum_statistics_target));
        buf = pg::RunVacuum(relid, analyze, freeze, a.index_cleanup, run_as);
        if (set_target) SetSessionGuc("default_statistics_target", nullptr);
      }
    } catch (const pg::PgError& e) {
      if (IsTransactionState()) pg::AbortWorkerTxn();
      if (set_target) SetSessionGuc("default_statistics_target", nullptr);
      error = e.what();
      status = e.sqlstate() == ERRCODE_LOCK_NOT_AVAILABLE ? "skipped" : "failed";
      message = status == "skipped" ? "lock not available within strata.lock_timeout; retrying next pass: " + error : error;
      pg::Call([&] {
        ereport(LOG, (errmsg("strata vacuum: %s of %s %s: %s", kind.c_str(), f.name.c_str(), status.c_str(), error.c_str())));
      });
    }
    // Facts after, and the tracking that keeps unchanged tables from being processed again.
    pg::BeginWorkerTxn();
    std::string after = "null";
    const Snapshot now_facts = ReadSnapshot(false, relid);
    if (!now_facts.facts_json.empty()) after = now_facts.facts_json[0];
    if (status == "ok") {
      pg::AsExtensionOwner([&] {
        // Any VACUUM removed the dead entries there were when it started (a rollup table's baseline).
        if (!analyze && !handover && snap.rollup_scope)
          pg::Query("UPDATE strata.vacuum_state SET entries_at_vacuum = $2::bigint WHERE relid = $1::oid",
                    {std::to_string(relid), std::to_string(snap.entries[a.fact])});
        if (freeze)
          pg::Query("UPDATE strata.vacuum_state SET frozen_changes = $2::bigint, frozen_at = pg_catalog.now() "
                    "WHERE relid = $1::oid",
                    {std::to_string(relid), std::to_string(f.changes)});
        if (a.kind == cv::ActionKind::kAnalyzeParent)
          pg::Query("UPDATE strata.vacuum_state SET analyzed_changes = $2::bigint, analyzed_at = pg_catalog.now() "
                    "WHERE relid = $1::oid",
                    {std::to_string(relid), std::to_string(f.changes)});
      });
    }
    const long ms = static_cast<long>((GetCurrentTimestamp() - started) / 1000);
    const std::string details = detail_head + ", \"after\": " + after + ", \"duration_ms\": " + std::to_string(ms) +
                                ", \"buffers\": {\"hit\": " + std::to_string(buf.hit) + ", \"read\": " +
                                std::to_string(buf.read) + ", \"dirtied\": " + std::to_string(buf.dirtied) +
                                ", \"wal_bytes\": " + std::to_string(buf.wal_bytes) + "}" +
                                (error.empty() ? "" : ", \"error\": " + core::JsonString(error)) + "}";
    pg::AsExtensionOwner([&] { partitions::JobEnd(job, status, message, details); });
    pg::CommitWorkerTxn();
  }
  return left;
}

}  // namespace strata::vacuum
