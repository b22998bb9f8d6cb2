// The vacuum scheduler's glue (see scheduler.hpp and README.md): facts, tracking, the worker pass.
#include "vacuum/scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <unordered_map>

#include "columnar/compressed.hpp"
#include "config.hpp"
#include "core/error.hpp"
#include "core/json.hpp"
#include "core/naming.hpp"
#include "pg/xact.hpp"
#include "pg/security.hpp"
#include "pg/guc.hpp"
#include "pg/names.hpp"
#include "pg/spi.hpp"
#include "jobs/job_runs.hpp"
#include "vacuum/run.hpp"

namespace strata::vacuum {
namespace cv = core::vacuum;
namespace {

// Every partitioned table outside the system schemas (temporary ones excluded: only their session can
// vacuum them), and every leaf partition with storage below one; with `rollups`, also every rollup data
// table that is a plain table (in_tree false). $1: only what the current user may read. `entries` is
// the cumulative count of updates that were not HOT plus deletes: each left index entries pointing at
// a dead tuple.
// restricted: only the relations in the oid array $2 (a parent's sums still read all its leaves).
// Compressed partitions (src/columnar/) are no leaves here: their heap is emptied and frozen at each
// conversion, and the worker compresses them again rather than vacuuming their heap part.
std::string TreeCte(bool rollups, bool restricted) {
  const std::string readable = " AND (NOT $1::bool OR pg_catalog.has_table_privilege(c.oid, 'SELECT'))"
                               " AND c.oid <> ALL (" + columnar::CompressedOidArray() + ")";
  const std::string only = restricted ? " AND c.oid = ANY ($2::pg_catalog.oid[])" : "";
  std::string sql =
      "parents AS ("
      " SELECT c.oid AS relid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
      " WHERE c.relkind = 'p' AND c.relpersistence <> 't' AND n.nspname <> 'pg_catalog'"
      " AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_toast'" + readable + only + "),";
  // Restricted, a leaf is taken as it is (any partition with storage: the probe's scope, ScopeProbe()).
  sql += restricted
             ? " leaves AS (SELECT c.oid AS relid FROM pg_catalog.pg_class c WHERE c.relkind = 'r' AND c.relispartition"
               " AND c.relpersistence <> 't'" + readable + only + "),"
             : " leaves AS ("
               " SELECT DISTINCT t.relid::pg_catalog.oid AS relid FROM parents p CROSS JOIN LATERAL pg_catalog.pg_partition_tree(p.relid) t"
               " JOIN pg_catalog.pg_class c ON c.oid = t.relid WHERE c.relkind = 'r' AND c.relpersistence <> 't'" + readable + "),";
  sql += rollups ? " rollup_tables AS ("
                   " SELECT c.oid AS relid FROM strata.rollup ro JOIN pg_catalog.pg_class c ON c.oid = ro.data_table"
                   " WHERE c.relkind = 'r' AND NOT c.relispartition" + readable + only + "),"
                 : " rollup_tables AS (SELECT 0::pg_catalog.oid AS relid WHERE false),";
  sql +=
      " leafstat AS ("
      " SELECT l.relid, pg_catalog.pg_stat_get_tuples_inserted(l.relid) + pg_catalog.pg_stat_get_tuples_updated(l.relid)"
      " + pg_catalog.pg_stat_get_tuples_deleted(l.relid) AS changes,"
      " pg_catalog.pg_stat_get_tuples_updated(l.relid) - pg_catalog.pg_stat_get_tuples_hot_updated(l.relid)"
      " + pg_catalog.pg_stat_get_tuples_deleted(l.relid) AS entries"
      " FROM (SELECT relid FROM leaves UNION SELECT relid FROM rollup_tables" +
      std::string(restricted ? " UNION SELECT t.relid::pg_catalog.oid FROM parents p"
                               " CROSS JOIN LATERAL pg_catalog.pg_partition_tree(p.relid) t WHERE t.isleaf"
                             : "") + ") l),"
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
    pg::AsRole(run_as, [&] { pg::WithLockTimeout(config::lock_timeout_ms, [&] { pg::Exec("ALTER TABLE " + *name[0][0] + " SET (" + setting + ")"); }); });
  }
  pg::CommitWorkerTxn();
}

// The policy's configuration: strata's settings and the server's that the policy compares with.
cv::Config ReadConfig() {
  cv::Config c;
  c.freeze_max_age = std::stoll(Setting("autovacuum_freeze_max_age"));
  c.multixact_freeze_max_age = std::stoll(Setting("autovacuum_multixact_freeze_max_age"));
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
  c.minute_of_day = static_cast<int>(
      std::stoi(*pg::Query("SELECT (EXTRACT(hour FROM LOCALTIMESTAMP) * 60 + "
                           "EXTRACT(minute FROM LOCALTIMESTAMP))::int")[0][0]));
  return c;
}

// The facts as JSON (job_runs' before and after, vacuum_plan()).
std::string FactsJson(const cv::TableFacts& f) {
  core::JsonObject j;
  j.Int("pages", f.pages).Rounded("live_tuples", f.live_tuples).Int("dead_tuples", f.dead_tuples);
  j.Int("mod_since_analyze", f.mod_since_analyze).Int("ins_since_vacuum", f.ins_since_vacuum);
  j.Int("xid_age", f.xid_age).Int("mxid_age", f.mxid_age).Int("changes", f.changes);
  j.Rounded("seconds_since_write", f.seconds_since_write).Rounded("seconds_since_analyze", f.seconds_since_analyze);
  j.Int("autovacuum_insert_threshold", f.av_insert_threshold).General("autovacuum_insert_scale", f.av_insert_scale);
  j.Bool("has_statistics", f.has_stats);
  if (f.rollup) {
    j.Bool("rollup_table", true);
    if (f.dead_entries < 0) j.Null("dead_index_entries");
    else j.Int("dead_index_entries", f.dead_entries);
    // Whole seconds, cut (not rounded) as before.
    if (f.seconds_since_vacuum < 0) j.Null("seconds_since_vacuum");
    else j.Int("seconds_since_vacuum", int64_t(f.seconds_since_vacuum));
  }
  return j.Text();
}

// Seconds since a table's last write as the policy takes it: known once a change was seen; before that,
// at least since first seen, which counts only once that alone makes the table cold (a table first
// seen just now is neither). -1: unknown.
double SinceWrite(double since_change, double since_seen, double cold_after) {
  if (since_change >= 0) return since_change;
  return since_seen >= 0 && since_seen >= cold_after ? since_seen : -1;
}

}  // namespace

bool CatalogExists() {
  return pg::Query("SELECT pg_catalog.to_regclass('strata.vacuum_policy') IS NOT NULL")[0][0] ==
         std::optional<std::string>("t");
}

namespace {

// The query's arguments: $1 for_session, $2 the oid array of a restricted read.
std::vector<std::optional<std::string>> FactArgs(bool for_session, const std::vector<Oid>* ids) {
  std::vector<std::optional<std::string>> args{for_session ? "true" : "false"};
  if (ids != nullptr) {
    std::string arr = "{";
    for (size_t i = 0; i < ids->size(); i++) arr += (i ? "," : "") + std::to_string((*ids)[i]);
    args.push_back(arr + "}");
  }
  return args;
}

// Tracking: when did each table's change counter last move? One statement, bounded by the number of
// partitions; with prune, rows of dropped tables go. A table first seen counts its dead entries from 0
// (since the statistics began; the cap by its dead tuples keeps out what a vacuum already removed).
void TrackChanges(const std::string& cte, bool rollups, bool prune, const std::vector<std::optional<std::string>>& args) {
  pg::Query("WITH " + cte + " INSERT INTO strata.vacuum_state AS s (relid, changes, seen_at" +
                (rollups ? ", entries_at_vacuum" : "") + ") SELECT relid, changes, pg_catalog.now()" +
                (rollups ? ", CASE WHEN NOT is_parent THEN 0 END" : "") +
                " FROM rels ON CONFLICT (relid) DO UPDATE SET changes = EXCLUDED.changes,"
                " changed_at = CASE WHEN s.changes <> EXCLUDED.changes THEN EXCLUDED.seen_at ELSE s.changed_at END" +
                (rollups ? ", entries_at_vacuum = COALESCE(s.entries_at_vacuum, EXCLUDED.entries_at_vacuum)" : "") +
                " WHERE s.changes <> EXCLUDED.changes",
            args);
  if (prune)
    pg::Exec("DELETE FROM strata.vacuum_state s WHERE NOT EXISTS "
             "(SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = s.relid)");
}

// One output column of the facts query: the name it is read by, and its SQL expression over the
// relation r (rels), its pg_class row c and namespace n, its tracking row st, the vacuum policy v that
// applies to it and its insert-vacuum reloptions ro. The SELECT list is made from this list, so a name
// and its position cannot drift apart; a new column is one more entry here (and its use in AddFact).
struct FactColumn {
  const char* name;
  std::string sql;
};

// Seconds from a timestamp expression to now; NULL for NULL.
std::string SecondsSince(const std::string& ts) { return "EXTRACT(epoch FROM pg_catalog.now() - " + ts + ")"; }
// The latest of some timestamp expressions, each possibly NULL; NULL when all are.
std::string Latest(const std::vector<std::string>& ts) {
  std::string sql = "NULLIF(GREATEST(";
  for (size_t i = 0; i < ts.size(); i++) sql += (i ? ", " : "") + std::string("COALESCE(") + ts[i] + ", '-infinity')";
  return sql + "), '-infinity')";
}

std::vector<FactColumn> FactColumns(bool rollups) {
  // Rollup tables: a plain one, or a leaf below a rollup's partitioned data table.
  const std::string below_rollup =
      rollups ? " OR EXISTS (SELECT 1 FROM strata.rollup ro JOIN pg_catalog.pg_partition_ancestors(r.relid) a"
                "   ON a.relid = ro.data_table::pg_catalog.oid)"
              : "";
  return {
      {"relid", "r.relid"},
      {"is_parent", "r.is_parent"},
      {"name", "pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname)"},
      {"owner", "c.relowner"},
      {"pages", "CASE WHEN r.is_parent THEN (SELECT COALESCE(sum(pg_catalog.pg_relation_size(t.relid)), 0)"
                "   FROM pg_catalog.pg_partition_tree(r.relid) t WHERE t.isleaf) ELSE pg_catalog.pg_relation_size(r.relid) END"
                "   / pg_catalog.current_setting('block_size')::int"},
      {"live_tuples", "CASE WHEN r.is_parent THEN (SELECT COALESCE(sum(GREATEST(lc.reltuples, 0)), 0) FROM"
                      "   pg_catalog.pg_partition_tree(r.relid) t JOIN pg_catalog.pg_class lc ON lc.oid = t.relid AND lc.relkind = 'r')"
                      "  ELSE GREATEST(c.reltuples, 0) END"},
      {"dead_tuples", "pg_catalog.pg_stat_get_dead_tuples(r.relid)"},
      {"mod_since_analyze", "pg_catalog.pg_stat_get_mod_since_analyze(r.relid)"},
      {"ins_since_vacuum", "pg_catalog.pg_stat_get_ins_since_vacuum(r.relid)"},
      {"xid_age", "CASE WHEN r.is_parent THEN 0 ELSE pg_catalog.age(c.relfrozenxid) END"},
      {"mxid_age", "CASE WHEN r.is_parent THEN 0 ELSE pg_catalog.mxid_age(c.relminmxid) END"},
      {"changes", "r.changes"},
      {"since_change", SecondsSince("st.changed_at")},
      {"since_seen", SecondsSince("st.seen_at")},
      {"since_analyze", SecondsSince(Latest({"pg_catalog.pg_stat_get_last_analyze_time(r.relid)",
                                             "pg_catalog.pg_stat_get_last_autoanalyze_time(r.relid)", "st.analyzed_at"}))},
      {"analyzed_changes", "st.analyzed_changes"},
      {"frozen_changes", "st.frozen_changes"},
      {"policy_enabled", "v.enabled"},
      {"policy_freeze", "v.proactive_freeze"},
      {"policy_cold_after", "EXTRACT(epoch FROM v.cold_after)"},
      {"policy_analyze_fraction", "v.analyze_fraction"},
      {"insert_threshold", "ro.thr"},
      {"insert_scale", "ro.scale"},
      {"has_stats", "NOT r.is_parent OR EXISTS (SELECT 1 FROM pg_catalog.pg_stats ps WHERE ps.schemaname = n.nspname"
                    "   AND ps.tablename = c.relname AND ps.inherited)"},
      {"in_tree", "r.in_tree"},
      {"rollup", "NOT r.is_parent AND (NOT r.in_tree" + below_rollup + ")"},
      {"entries", "r.entries"},
      {"entries_at_vacuum", rollups ? "st.entries_at_vacuum" : "NULL::bigint"},
      {"since_vacuum", SecondsSince(Latest({"pg_catalog.pg_stat_get_last_vacuum_time(r.relid)",
                                            "pg_catalog.pg_stat_get_last_autovacuum_time(r.relid)"}))},
  };
}

// The facts query: one row per relation in scope, its columns named as in `columns`.
std::string FactsSql(const std::string& cte, const std::vector<FactColumn>& columns) {
  std::string select;
  for (const FactColumn& c : columns) select += (select.empty() ? "" : ", ") + c.sql + " AS " + c.name;
  return "WITH " + cte + " SELECT " + select +
         " FROM rels r JOIN pg_catalog.pg_class c ON c.oid = r.relid"
         " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
         " LEFT JOIN strata.vacuum_state st ON st.relid = r.relid"
         // The vacuum policy of the table or of its nearest ancestor that has one.
         " LEFT JOIN LATERAL (SELECT p.* FROM pg_catalog.pg_partition_ancestors(r.relid) WITH ORDINALITY a(relid, ord)"
         "   JOIN strata.vacuum_policy p ON p.relid::pg_catalog.oid = a.relid ORDER BY a.ord LIMIT 1) v ON true"
         // Its insert-vacuum reloptions (the threshold is -1 when autovacuum_enabled is off).
         " LEFT JOIN LATERAL (SELECT"
         "   CASE WHEN bool_or(pg_catalog.split_part(o, '=', 1) = 'autovacuum_enabled'"
         "     AND NOT pg_catalog.split_part(o, '=', 2)::bool) THEN '-1' ELSE"
         "   max(pg_catalog.split_part(o, '=', 2)) FILTER (WHERE pg_catalog.split_part(o, '=', 1) = 'autovacuum_vacuum_insert_threshold') END AS thr,"
         "   max(pg_catalog.split_part(o, '=', 2)) FILTER (WHERE pg_catalog.split_part(o, '=', 1) = 'autovacuum_vacuum_insert_scale_factor') AS scale"
         "   FROM pg_catalog.unnest(c.reloptions) o) ro ON true"
         " ORDER BY r.is_parent DESC, c.oid";
}

// A row of the facts query, read by column name (an unknown name is a programming error).
class FactRow {
 public:
  // Where each named column sits, from the list the query was made from.
  class Index {
   public:
    explicit Index(const std::vector<FactColumn>& columns) {
      for (size_t i = 0; i < columns.size(); i++) at_[columns[i].name] = i;
    }
    size_t size() const { return at_.size(); }
    size_t operator()(std::string_view name) const {
      const auto it = at_.find(name);
      if (it == at_.end())
        throw core::Error(ERRCODE_INTERNAL_ERROR, "vacuum facts query has no column \"" + std::string(name) + "\"");
      return it->second;
    }

   private:
    std::unordered_map<std::string_view, size_t> at_;
  };

  FactRow(const Index& index, const pg::Row& row) : index_(index), row_(row) {
    if (row.size() != index.size())
      throw core::Error(ERRCODE_INTERNAL_ERROR, "vacuum facts query returned an unexpected row shape");
  }
  const std::optional<std::string>& operator[](std::string_view name) const { return row_[index_(name)]; }
  int64_t Int(std::string_view name, int64_t dflt) const { return strata::vacuum::Int((*this)[name], dflt); }
  double Num(std::string_view name, double dflt) const { return strata::vacuum::Num((*this)[name], dflt); }
  bool True(std::string_view name) const { return (*this)[name] == std::optional<std::string>("t"); }

 private:
  const Index& index_;
  const pg::Row& row_;
};

// Autovacuum's insert trigger as the server sets it, for tables without their own reloptions.
struct InsertDefaults {
  int64_t threshold = 0;
  double scale = 0;
};

// Decodes one row of the facts query and appends it, with what the glue keeps beside it, to s.
void AddFact(const FactRow& r, const InsertDefaults& av, Snapshot* s) {
  cv::TableFacts f;
  f.relid = static_cast<uint32_t>(std::stoul(*r["relid"]));
  f.is_parent = r.True("is_parent");
  f.name = *r["name"];
  f.pages = r.Int("pages", 0);
  f.live_tuples = r.Num("live_tuples", 0);
  f.dead_tuples = r.Int("dead_tuples", 0);
  f.mod_since_analyze = r.Int("mod_since_analyze", 0);
  f.ins_since_vacuum = r.Int("ins_since_vacuum", 0);
  f.xid_age = r.Int("xid_age", 0);
  f.mxid_age = r.Int("mxid_age", 0);
  f.changes = r.Int("changes", 0);
  if (r["policy_cold_after"]) f.ov.cold_after_s = r.Num("policy_cold_after", 0);
  s->since_change.push_back(r.Num("since_change", -1));
  s->since_seen.push_back(r.Num("since_seen", -1));
  f.seconds_since_write =
      SinceWrite(s->since_change.back(), s->since_seen.back(), f.ov.cold_after_s.value_or(s->cfg.cold_after_s));
  f.seconds_since_analyze = r.Num("since_analyze", -1);
  f.changes_at_analyze = r.Int("analyzed_changes", -1);
  f.changes_at_freeze = r.Int("frozen_changes", -1);
  if (r["policy_enabled"]) f.ov.enabled = r.True("policy_enabled");
  if (r["policy_freeze"]) f.ov.freeze = r.True("policy_freeze");
  if (r["policy_analyze_fraction"]) f.ov.analyze_fraction = r.Num("policy_analyze_fraction", 0);
  f.insert_reloption = r["insert_threshold"].has_value() || r["insert_scale"].has_value();
  f.av_insert_threshold = r.Int("insert_threshold", av.threshold);
  f.av_insert_scale = r.Num("insert_scale", av.scale);
  f.has_stats = r.True("has_stats");
  f.in_tree = r["in_tree"] != std::optional<std::string>("f");
  f.rollup = r.True("rollup");
  const int64_t entries = r.Int("entries", 0);
  // Dead index entries since strata's last vacuum: the counter's move since then (all of it after a
  // statistics reset), but never more than the dead tuples left (any vacuum, autovacuum's too, ends
  // them). Unknown until a baseline is taken.
  if (f.rollup && r["entries_at_vacuum"]) {
    const int64_t base = r.Int("entries_at_vacuum", 0);
    f.dead_entries = std::min<int64_t>(entries >= base ? entries - base : entries, f.dead_tuples);
  }
  f.seconds_since_vacuum = r.Num("since_vacuum", -1);
  s->entries.push_back(entries);
  s->owners.push_back(static_cast<Oid>(std::stoul(*r["owner"])));
  s->facts_json.push_back(FactsJson(f));
  s->facts.push_back(std::move(f));
}

}  // namespace

Snapshot ReadFacts(bool for_session, const std::vector<Oid>* ids, bool track) {
  Snapshot s;
  s.cfg = ReadConfig();
  InsertDefaults av;
  av.threshold = std::stoll(Setting("autovacuum_vacuum_insert_threshold"));
  av.scale = std::stod(Setting("autovacuum_vacuum_insert_scale_factor"));
  const auto args = FactArgs(for_session, ids);
  s.rollup_scope = RollupScope();
  const std::string cte = TreeCte(s.rollup_scope, ids != nullptr);
  if (track) TrackChanges(cte, s.rollup_scope, ids == nullptr, args);
  const std::vector<FactColumn> columns = FactColumns(s.rollup_scope);
  const FactRow::Index index(columns);
  for (const auto& row : pg::Query(FactsSql(cte, columns), args)) AddFact(FactRow(index, row), av, &s);
  return s;
}

Snapshot ReadSnapshot(bool for_session, Oid only) {
  if (!OidIsValid(only)) return ReadFacts(for_session, nullptr, !for_session);
  const std::vector<Oid> ids{only};
  return ReadFacts(for_session, &ids, false);
}


namespace {
// ---- Incremental planning (worker only) -------------------------------------------------------------
// A pass plans from what changed: a probe reads, for every relation in scope, a 64-bit signature of
// its catalog entry and cumulative statistics (and its xid and multixact ages, which move without it);
// only relations whose signature moved, that appeared, that strata acted on, and the ancestors of all
// those (a parent's figures sum its leaves) have their facts read again. The others keep the facts of
// their last read with the time figures aged by the wall clock. Every strata.vacuum_full_plan_interval,
// and whenever a vacuum policy or a setting the facts embed changes, every relation is read again.

struct Cached {
  cv::TableFacts f;          // as read; time figures as of read_at
  Oid owner = InvalidOid;
  int64_t entries = 0;
  double since_change = -1;  // at read_at
  double since_seen = -1;
  TimestampTz read_at = 0;
};

// Worker-lifetime state (C++ only, never in a memory context: nothing Postgres-owned is kept).
struct PlanState {
  std::map<Oid, Cached> rels;                 // ordered: the plan sees the facts in a stable order
  std::unordered_map<Oid, int64_t> sigs;      // probe signatures at the last pass
  std::unordered_map<Oid, std::vector<Oid>> parents_of;  // pg_inherits, child -> parents
  std::set<Oid> acted;                        // strata acted on these: read again at the next pass
  std::string fingerprint;
  TimestampTz full_at = 0;
};

PlanState& State() {
  static PlanState st;
  return st;
}

// The probe: one row per relation in the scope of TreeCte (partitioned tables outside the system
// schemas, partitions with storage, plain rollup data tables): relid, signature, xid age, mxid age.
std::string ProbeSql(bool rollups) {
  return "SELECT c.oid, pg_catalog.hashtextextended(pg_catalog.concat_ws(' ', c.relname, c.relnamespace, c.relowner,"
         " c.reloptions, c.relpages, c.reltuples, c.relfrozenxid, c.relminmxid, c.relispartition,"
         " pg_catalog.pg_stat_get_tuples_inserted(c.oid), pg_catalog.pg_stat_get_tuples_updated(c.oid),"
         " pg_catalog.pg_stat_get_tuples_deleted(c.oid), pg_catalog.pg_stat_get_tuples_hot_updated(c.oid),"
         " pg_catalog.pg_stat_get_dead_tuples(c.oid), pg_catalog.pg_stat_get_mod_since_analyze(c.oid),"
         " pg_catalog.pg_stat_get_ins_since_vacuum(c.oid), pg_catalog.pg_stat_get_vacuum_count(c.oid),"
         " pg_catalog.pg_stat_get_autovacuum_count(c.oid), pg_catalog.pg_stat_get_analyze_count(c.oid),"
         " pg_catalog.pg_stat_get_autoanalyze_count(c.oid)), 0),"
         " CASE WHEN c.relkind = 'r' THEN pg_catalog.age(c.relfrozenxid) ELSE 0 END,"
         " CASE WHEN c.relkind = 'r' THEN pg_catalog.mxid_age(c.relminmxid) ELSE 0 END"
         " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
         " WHERE c.relpersistence <> 't' AND ((c.relkind = 'p' AND n.nspname <> 'pg_catalog'"
         " AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_toast') OR (c.relkind = 'r' AND c.relispartition"
         " AND c.oid <> ALL (" + columnar::CompressedOidArray() + "))" +
         std::string(rollups ? " OR (c.relkind = 'r' AND c.oid IN (SELECT ro.data_table FROM strata.rollup ro))" : "") + ")";
}

// What the cached facts embed besides each relation's own state: vacuum policies, the rollup tables,
// autovacuum's insert trigger settings. A change reads every relation again.
std::string Fingerprint(bool rollups) {
  return *pg::Query("SELECT pg_catalog.md5(pg_catalog.concat_ws(' ', (SELECT pg_catalog.string_agg(p::text, ',' ORDER BY p.relid)"
                    " FROM strata.vacuum_policy p), " +
                    std::string(rollups ? "(SELECT pg_catalog.string_agg(ro.data_table::pg_catalog.oid::text, ',' ORDER BY ro.id)"
                                          " FROM strata.rollup ro), "
                                        : "") +
                    "pg_catalog.current_setting('autovacuum_vacuum_insert_threshold'),"
                    " pg_catalog.current_setting('autovacuum_vacuum_insert_scale_factor'), $1, " +
                    columnar::CompressedOidArray() + "::text))",
                    {std::to_string(config::vacuum_cold_after_s)})[0][0];
}

void LoadParents(PlanState* st) {
  st->parents_of.clear();
  for (const auto& r : pg::Query("SELECT inhrelid, inhparent FROM pg_catalog.pg_inherits"))
    st->parents_of[static_cast<Oid>(std::stoul(*r[0]))].push_back(static_cast<Oid>(std::stoul(*r[1])));
}

// Adds every ancestor of relid (as the map knows them) to out.
void AddAncestors(const PlanState& st, Oid relid, std::set<Oid>* out) {
  std::vector<Oid> todo{relid};
  while (!todo.empty()) {
    const Oid r = todo.back();
    todo.pop_back();
    const auto it = st.parents_of.find(r);
    if (it == st.parents_of.end()) continue;
    for (const Oid p : it->second)
      if (out->insert(p).second) todo.push_back(p);
  }
}

// What the probe found this pass.
struct Probe {
  std::unordered_map<Oid, int64_t> sigs;                          // every relation in scope
  std::unordered_map<Oid, std::pair<int64_t, int64_t>> ages;      // its xid and multixact ages
  std::set<Oid> dirty;       // signature moved, appeared, or acted on by strata since the last pass
  bool appeared = false;     // a relation not seen at the last pass
  std::vector<Oid> gone;     // relations seen at the last pass and out of scope now
};

Probe RunProbe(const PlanState& st, bool rollups) {
  Probe p;
  p.dirty = st.acted;
  for (const auto& r : pg::Query(ProbeSql(rollups))) {
    const Oid relid = static_cast<Oid>(std::stoul(*r[0]));
    const int64_t sig = std::stoll(*r[1]);
    p.sigs[relid] = sig;
    p.ages[relid] = {Int(r[2], 0), Int(r[3], 0)};
    const auto it = st.sigs.find(relid);
    if (it == st.sigs.end()) p.appeared = true;
    if (it == st.sigs.end() || it->second != sig) p.dirty.insert(relid);
  }
  for (const auto& [relid, sig] : st.sigs)
    if (!p.sigs.count(relid)) p.gone.push_back(relid);
  return p;
}

// An incremental read: the facts of the dirty relations and of their ancestors (a relation gone,
// dropped or detached, changes its old ancestors' sums: the map from before knows them). Drops what
// is gone from the cache and the tracking table. *read_again: how many relations were read.
Snapshot ReadChanged(PlanState* st, Probe* p, bool rollups, size_t* read_again) {
  for (const Oid relid : p->gone) {
    AddAncestors(*st, relid, &p->dirty);
    st->rels.erase(relid);
  }
  if (p->appeared || !p->gone.empty()) LoadParents(st);
  for (const Oid relid : std::vector<Oid>(p->dirty.begin(), p->dirty.end())) AddAncestors(*st, relid, &p->dirty);
  if (!p->gone.empty())
    pg::Exec("DELETE FROM strata.vacuum_state s WHERE NOT EXISTS "
             "(SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = s.relid)");
  std::vector<Oid> ids;
  for (const Oid relid : p->dirty)
    if (p->sigs.count(relid)) ids.push_back(relid);
  *read_again = ids.size();
  Snapshot fresh;
  if (!ids.empty()) {
    fresh = ReadFacts(false, &ids, true);
    for (const Oid relid : ids) st->rels.erase(relid);  // one not read back is out of the facts' scope
  } else {
    fresh.cfg = ReadConfig();
    fresh.rollup_scope = rollups;
  }
  return fresh;
}

// Puts freshly read facts in the cache, as of now.
void CacheFacts(PlanState* st, const Snapshot& fresh, TimestampTz now) {
  for (size_t i = 0; i < fresh.facts.size(); i++) {
    Cached c;
    c.f = fresh.facts[i];
    c.owner = fresh.owners[i];
    c.entries = fresh.entries[i];
    c.since_change = fresh.since_change[i];
    c.since_seen = fresh.since_seen[i];
    c.read_at = now;
    st->rels[c.f.relid] = std::move(c);
  }
}

// The snapshot: every cached relation still in scope, time figures aged to now, ages from the probe.
Snapshot AgedSnapshot(const PlanState& st, const Probe& p, const Snapshot& fresh, TimestampTz now) {
  Snapshot s;
  s.cfg = fresh.cfg;
  s.rollup_scope = fresh.rollup_scope;
  for (const auto& [relid, c] : st.rels) {
    const auto a = p.ages.find(relid);
    if (a == p.ages.end()) continue;
    const double elapsed = static_cast<double>(now - c.read_at) / 1e6;
    auto aged = [&](double v) { return v >= 0 ? v + elapsed : v; };
    cv::TableFacts f = c.f;
    f.seconds_since_write = SinceWrite(aged(c.since_change), aged(c.since_seen), f.ov.cold_after_s.value_or(s.cfg.cold_after_s));
    f.seconds_since_analyze = aged(f.seconds_since_analyze);
    f.seconds_since_vacuum = aged(f.seconds_since_vacuum);
    if (!f.is_parent) {
      f.xid_age = a->second.first;
      f.mxid_age = a->second.second;
    }
    s.facts.push_back(std::move(f));
    s.owners.push_back(c.owner);
    s.entries.push_back(c.entries);
    s.since_change.push_back(aged(c.since_change));
    s.since_seen.push_back(aged(c.since_seen));
    s.facts_json.emplace_back();  // made for the actions that run (WorkerPass)
  }
  return s;
}

// The facts of every relation in scope, read again only where something changed (see above): all of
// them at a full read. Runs in the caller's worker transaction; *read_again: how many relations were read.
Snapshot PlanSnapshot(size_t* read_again, bool* full_out) {
  PlanState& st = State();
  const TimestampTz now = GetCurrentTimestamp();
  const bool rollups = RollupScope();
  const std::string fp = Fingerprint(rollups);
  const bool full = st.full_at == 0 || config::vacuum_full_plan_interval_s == 0 ||
                    now - st.full_at >= int64_t(config::vacuum_full_plan_interval_s) * 1000000 || fp != st.fingerprint;
  Probe probe = RunProbe(st, rollups);
  Snapshot fresh;
  if (full) {
    LoadParents(&st);
    fresh = ReadFacts(false, nullptr, true);
    st.rels.clear();
    st.full_at = now;
    st.fingerprint = fp;
    *read_again = fresh.facts.size();
  } else {
    fresh = ReadChanged(&st, &probe, rollups, read_again);
  }
  *full_out = full;
  CacheFacts(&st, fresh, now);
  st.sigs = std::move(probe.sigs);
  st.acted.clear();
  return AgedSnapshot(st, probe, fresh, now);
}

// ---- The worker pass ---------------------------------------------------------------------------------

// A pass's plan and what its actions need.
struct Pass {
  Snapshot snap;
  std::vector<cv::Action> plan;
  Oid role = InvalidOid;  // strata.role, or InvalidOid: each table's owner
};

// Plans the pass in one worker transaction, and makes the facts JSON of the actions that run. False
// when this database has no vacuum catalog.
bool PlanPass(Pass* pass) {
  pg::BeginWorkerTxn();
  if (!CatalogExists()) {
    pg::CommitWorkerTxn();
    return false;
  }
  pass->role = ConfiguredRole();
  const TimestampTz t0 = GetCurrentTimestamp();
  size_t read_again = 0;
  bool full = false;
  pass->snap = PlanSnapshot(&read_again, &full);
  pass->plan = cv::PlanVacuum(pass->snap.facts, pass->snap.cfg);
  pg::CommitWorkerTxn();
  for (const cv::Action& a : pass->plan)
    if (a.decision == cv::Decision::kRun) pass->snap.facts_json[a.fact] = FactsJson(pass->snap.facts[a.fact]);
  const double ms = static_cast<double>(GetCurrentTimestamp() - t0) / 1000.0;
  const size_t n = pass->snap.facts.size(), acts = pass->plan.size();
  pg::Call([&] {
    elog(DEBUG1, "strata vacuum: %s plan of %zu relations (%zu read) in %.1f ms: %zu actions", full ? "full" : "incremental",
         n, read_again, ms, acts);
  });
  return true;
}

// Why an action cannot run now ("" when it can): the table is gone, its lock is taken, or strata.role
// may not act on it. Runs in the caller's transaction.
std::string SkipReason(Oid relid, Oid role, bool handover) {
  const bool exists = pg::Query("SELECT 1 FROM pg_catalog.pg_class WHERE oid = $1::oid", {std::to_string(relid)}).size() == 1;
  if (!exists) return "the table no longer exists";
  if (!CanLockForVacuum(relid)) return "lock not available (another session holds a conflicting lock); retrying next pass";
  if (!OidIsValid(role)) return "";
  // strata.role may vacuum a table it owns or in a database it owns; a handover (ALTER TABLE) needs
  // the table itself.
  const auto may = pg::Query(
      "SELECT pg_catalog.pg_has_role($1::oid, c.relowner, 'USAGE'), pg_catalog.pg_has_role($1::oid, d.datdba, "
      "'USAGE') FROM pg_catalog.pg_class c, pg_catalog.pg_database d WHERE c.oid = $2::oid "
      "AND d.datname = pg_catalog.current_database()",
      {std::to_string(role), std::to_string(relid)})[0];
  const bool owns_table = may[0] == std::optional<std::string>("t");
  const bool owns_db = may[1] == std::optional<std::string>("t");
  if (handover && !owns_table) return "strata.role does not own this table, so it may not change its storage parameters";
  if (!owns_table && !owns_db) return "strata.role does not own this table or the database, so it may not vacuum it";
  return "";
}

bool IsAnalyze(cv::ActionKind k) { return k == cv::ActionKind::kAnalyzeParent || k == cv::ActionKind::kAnalyzeHot; }
bool IsFreeze(cv::ActionKind k) {
  return k == cv::ActionKind::kUrgentVacuum || k == cv::ActionKind::kFreezeCold || k == cv::ActionKind::kFreezeHot;
}

// One action of the pass, from its job_runs row to its end.
struct ActionJob {
  const cv::Action& a;
  const cv::TableFacts& f;
  Oid run_as;
  std::string kind;        // KindName
  TimestampTz started;
  core::JsonObject head;   // the job's details so far: reason, facts before
  int64_t job = 0;         // its job_runs row, once begun
};

// The lock probe, the role check and the job_runs row ('running', or 'skipped' with why) share one
// short transaction. False when the action is skipped.
bool BeginAction(const Pass& pass, ActionJob* j) {
  pg::BeginWorkerTxn();
  const std::string skip = SkipReason(j->a.relid, pass.role, j->a.kind == cv::ActionKind::kInsertHandover);
  j->head.String("reason", j->a.reason).Raw("before", pass.snap.facts_json[j->a.fact]);
  pg::AsExtensionOwner([&] {
    if (!skip.empty()) jobs::RecordJob(j->kind, j->f.name, "skipped", skip, j->head.Text(), j->started);
    else j->job = jobs::JobBegin(j->kind, j->f.name, j->a.reason, j->head.Text(), pg::RoleName(j->run_as));
  });
  pg::CommitWorkerTxn();
  if (!skip.empty()) {
    pg::Call([&] {
      ereport(LOG, (errmsg("strata vacuum: %s of %s skipped: %s", j->kind.c_str(), j->f.name.c_str(), skip.c_str())));
    });
    return false;
  }
  pg::Call([&] {
    ereport(LOG, (errmsg("strata vacuum: %s of %s", j->kind.c_str(), j->f.name.c_str()), errdetail("%s", j->a.reason.c_str())));
  });
  return true;
}

// How an action ended.
struct ActionOutcome {
  std::string status = "ok";  // ok, skipped (lock not available), failed
  std::string message;
  std::string error;          // the error's message, if any
  VacuumRun buffers;
};

// Runs the action: the handover's ALTER TABLE, or the VACUUM/ANALYZE. A Postgres error ends it, after
// its transaction is rolled back.
ActionOutcome Execute(const Pass& pass, const ActionJob& j) {
  const cv::Action& a = j.a;
  ActionOutcome out;
  out.message = a.reason;
  // Statistics target of a parent ANALYZE: set for this worker session only, for the action's length.
  const bool set_target = a.kind == cv::ActionKind::kAnalyzeParent && config::vacuum_statistics_target >= 0;
  try {
    if (a.kind == cv::ActionKind::kInsertHandover) {
      SetInsertReloption(a.relid, cv::HandoverSetting(pass.snap.cfg), j.run_as);
    } else {
      if (set_target) SetSessionGuc("default_statistics_target", std::to_string(config::vacuum_statistics_target));
      out.buffers = RunVacuum(a.relid, IsAnalyze(a.kind), IsFreeze(a.kind), a.index_cleanup, j.run_as);
      if (set_target) SetSessionGuc("default_statistics_target", nullptr);
    }
  } catch (const pg::PgError& e) {
    if (IsTransactionState()) pg::AbortWorkerTxn();
    if (set_target) SetSessionGuc("default_statistics_target", nullptr);
    out.error = e.what();
    out.status = e.sqlstate() == ERRCODE_LOCK_NOT_AVAILABLE ? "skipped" : "failed";
    out.message =
        out.status == "skipped" ? "lock not available within strata.lock_timeout; retrying next pass: " + out.error : out.error;
    pg::Call([&] {
      ereport(LOG, (errmsg("strata vacuum: %s of %s %s: %s", j.kind.c_str(), j.f.name.c_str(), out.status.c_str(),
                           out.error.c_str())));
    });
  }
  return out;
}

// The tracking that keeps unchanged tables from being processed again, after an action that ran.
void TrackAction(const Pass& pass, const cv::Action& a, const cv::TableFacts& f) {
  const std::string relid = std::to_string(a.relid);
  pg::AsExtensionOwner([&] {
    // Any VACUUM removed the dead entries there were when it started (a rollup table's baseline).
    if (!IsAnalyze(a.kind) && a.kind != cv::ActionKind::kInsertHandover && pass.snap.rollup_scope)
      pg::Query("UPDATE strata.vacuum_state SET entries_at_vacuum = $2::bigint WHERE relid = $1::oid",
                {relid, std::to_string(pass.snap.entries[a.fact])});
    if (IsFreeze(a.kind))
      pg::Query("UPDATE strata.vacuum_state SET frozen_changes = $2::bigint, frozen_at = pg_catalog.now() "
                "WHERE relid = $1::oid",
                {relid, std::to_string(f.changes)});
    if (a.kind == cv::ActionKind::kAnalyzeParent)
      pg::Query("UPDATE strata.vacuum_state SET analyzed_changes = $2::bigint, analyzed_at = pg_catalog.now() "
                "WHERE relid = $1::oid",
                {relid, std::to_string(f.changes)});
  });
}

// Ends the action's job in a transaction of its own: the facts after, the tracking, the job_runs row.
void EndAction(const Pass& pass, const ActionJob& j, const ActionOutcome& out) {
  pg::BeginWorkerTxn();
  std::string after = "null";
  const Snapshot now_facts = ReadSnapshot(false, j.a.relid);
  if (!now_facts.facts_json.empty()) after = now_facts.facts_json[0];
  if (out.status == "ok") TrackAction(pass, j.a, j.f);
  const long ms = static_cast<long>((GetCurrentTimestamp() - j.started) / 1000);
  core::JsonObject buffers;
  buffers.Int("hit", out.buffers.hit).Int("read", out.buffers.read).Int("dirtied", out.buffers.dirtied);
  buffers.Int("wal_bytes", out.buffers.wal_bytes);
  core::JsonObject details = j.head;
  details.Raw("after", after).Int("duration_ms", ms).Raw("buffers", buffers.Text());
  if (!out.error.empty()) details.String("error", out.error);
  pg::AsExtensionOwner([&] { jobs::JobEnd(j.job, out.status, out.message, details.Text()); });
  pg::CommitWorkerTxn();
}

// One action that the plan runs: begun, run, ended, each step in transactions of its own.
void RunAction(const Pass& pass, const cv::Action& a) {
  State().acted.insert(a.relid);
  ActionJob j{a, pass.snap.facts[a.fact], OidIsValid(pass.role) ? pass.role : pass.snap.owners[a.fact],
              cv::KindName(a.kind), GetCurrentTimestamp(), {}, 0};
  if (!BeginAction(pass, &j)) return;
  const ActionOutcome out = Execute(pass, j);
  EndAction(pass, j, out);
}

}  // namespace

bool WorkerPass() {
  if (!config::vacuum_enabled) return false;
  ApplyCostSettings();
  Pass pass;
  if (!PlanPass(&pass)) return false;
  bool left = false;
  for (const cv::Action& a : pass.plan) {
    if (a.decision == cv::Decision::kDeferredBudget) left = true;
    if (a.decision == cv::Decision::kRun) RunAction(pass, a);
  }
  return left;
}

}  // namespace strata::vacuum
