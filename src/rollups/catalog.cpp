// The rollup catalog (strata.rollup, strata.rollup_column): loading a rollup, names, dependents, the
// session settings generated SQL runs under, and unregistering. See catalog.hpp.
#include <algorithm>
#include <cctype>
#include <climits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "config.hpp"
#include "core/error.hpp"
#include "core/naming.hpp"
#include "pg/guc.hpp"
#include "pg/names.hpp"
#include "pg/security.hpp"
#include "pg/spi.hpp"
#include "rollups/catalog.hpp"

namespace strata::rollups {
namespace {

namespace rs = core::rollup;

std::optional<int64_t> OptInt(const std::optional<std::string>& v) {
  return v ? std::optional<int64_t>(std::stoll(*v)) : std::nullopt;
}

}  // namespace

std::string ViewSqlFor(core::rollup::Spec spec, const std::string& view, bool realtime, bool or_replace, bool backfill) {
  std::string names = core::QuoteLiteral(spec.bucket_name);
  for (const auto& d : spec.dims) names += ", " + core::QuoteLiteral(d.name);
  const auto rows = pg::Query(
      "SELECT count(*) FILTER (WHERE a.atttypid = ANY ('{int2,int4,int8,date,timestamp,timestamptz}'::pg_catalog.regtype[])) "
      "FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1::pg_catalog.regclass AND a.attnum > 0 AND NOT a.attisdropped "
      "AND a.attname = ANY (ARRAY[" + names + "]::pg_catalog.name[])",
      {spec.data_table});
  spec.int_keys = !rows.empty() && rows[0][0] && std::stoul(*rows[0][0]) == 1 + spec.dims.size();
  return core::rollup::ViewSql(spec, view, realtime, or_replace, backfill);
}

Rollup LoadRollup(int id, bool lock) {
  std::vector<pg::Row> rows, cols;
  pg::AsExtensionOwner([&] {
    // The name first, unlocked: after a failed NOWAIT the transaction can run nothing more.
    const auto name = lock ? pg::Query("SELECT view::text FROM strata.rollup WHERE id = $1::int", {std::to_string(id)})
                           : std::vector<pg::Row>{};
    try {
    rows = pg::Query(
        "SELECT id, view::text, data_table::oid, source::oid, source_rollup, order_sequence::text, watermark, "
        "backfill_cursor, backfill_floor, frozen_before::text, batch_size, realtime, source::text, order_column, "
        "bucket_name, bucket_expr, bucket_type, bucket_width, time_column, time_zone, where_clause, data_table::text, "
        "pending_table::text, change_function, definition::oid, broken, view::oid, pending_table::oid, "
        "  (SELECT pg_catalog.string_agg(x.what, ', ') FROM (VALUES ('source', source::pg_catalog.oid), "
        "   ('data table', data_table::pg_catalog.oid), ('pending table', pending_table::pg_catalog.oid), "
        "   ('view', view::pg_catalog.oid)) x(what, rel) "
        "   WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = x.rel)), grain, change_pos "
        "FROM strata.rollup WHERE id = $1::int" +
            std::string(lock ? " FOR UPDATE NOWAIT" : ""),
        {std::to_string(id)});
    } catch (const pg::PgError& e) {
      if (e.sqlstate() != ERRCODE_LOCK_NOT_AVAILABLE) throw;
      const std::string shown = !name.empty() && name[0][0] ? *name[0][0] : std::to_string(id);
      throw core::Error(ERRCODE_LOCK_NOT_AVAILABLE, "rollup " + shown + " is being refreshed or changed by another session",
                        "One refresh of a rollup runs at a time; its catalog row is locked until that transaction ends.",
                        "Wait for the other refresh to commit, or see pg_locks / pg_prepared_xacts for the holder.");
    }
    cols = pg::Query("SELECT role, name, kind, expr, state_type, result_type FROM strata.rollup_column "
                     "WHERE rollup_id = $1::int ORDER BY ord",
                     {std::to_string(id)});
  });
  if (rows.empty()) throw core::Error(ERRCODE_UNDEFINED_OBJECT, "rollup " + std::to_string(id) + " does not exist");
  const auto& w = rows[0];
  Rollup r;
  r.id = id;
  r.view = *w[1];
  r.data_oid = static_cast<Oid>(std::stoul(*w[2]));
  r.source_oid = static_cast<Oid>(std::stoul(*w[3]));
  if (w[4]) r.source_rollup = std::stoi(*w[4]);
  r.order_sequence = w[5].value_or("");
  r.watermark = w[6] ? std::stoll(*w[6]) : 0;
  r.cursor = OptInt(w[7]);
  r.floor = OptInt(w[8]);
  r.frozen_before = w[9];
  r.batch_size = std::stoll(*w[10]);
  r.realtime = *w[11] == "t";
  auto& s = r.spec;
  s.id = id;
  s.source = *w[12];
  s.source_is_rollup = r.source_rollup.has_value();
  s.order_column = w[13].value_or("");
  s.bucket_name = *w[14];
  s.bucket_expr = *w[15];
  s.bucket_type = *w[16];
  s.bucket_width = *w[17];
  s.time_column = *w[18];
  s.time_zone = *w[19];
  s.where = *w[20];
  s.data_table = *w[21];
  s.pending_table = *w[22];
  r.change_function = w[23].value_or("");
  r.definition = w[24] ? static_cast<Oid>(std::stoul(*w[24])) : InvalidOid;
  r.broken = w[25];
  r.view_oid = static_cast<Oid>(std::stoul(*w[26]));
  r.pending_oid = static_cast<Oid>(std::stoul(*w[27]));
  r.missing = w[28].value_or("");
  if (w[29]) r.grain = std::stoi(*w[29]);
  r.change_pos = w[30] ? std::stoll(*w[30]) : 0;
  for (const auto& c : cols) {
    if (*c[0] == "dimension") {
      s.dims.push_back({*c[1], *c[3]});
    } else {
      rs::Measure m;
      m.name = *c[1];
      rs::KindFromName(*c[2], &m.kind);
      m.args = *c[3];
      m.state_type = c[4].value_or("");
      m.result_type = c[5].value_or("");
      s.measures.push_back(m);
    }
  }
  return r;
}

int RollupIdByName(const std::string& name) {
  // The name is resolved like a regclass input, under the caller's search_path (namespace lookup only:
  // no operator or function is looked up there); the catalog is then read with search_path pinned.
  RangeVar* rv = pg::ParseRelationName(name);
  Oid rel = InvalidOid;
  pg::Call([&] { rel = RangeVarGetRelid(rv, NoLock, true); });
  std::vector<pg::Row> rows;
  if (OidIsValid(rel)) {
    const int level = pg::NewGucLevel();
    pg::SetGuc("search_path", "pg_catalog, pg_temp");
    rows = pg::Query("SELECT r.id FROM strata.rollup r WHERE r.view OPERATOR(pg_catalog.=) $1::pg_catalog.oid", {std::to_string(rel)});
    pg::RestoreGucs(level);
  }
  if (rows.empty())
    throw core::Error(ERRCODE_UNDEFINED_OBJECT, "rollup \"" + name + "\" does not exist", {},
                      "strata.rollups lists the rollups of this database.");
  return std::stoi(*rows[0][0]);
}

bool RollupCatalogExists() {
  return pg::Query("SELECT pg_catalog.to_regclass('strata.rollup') IS NOT NULL")[0][0] == std::optional<std::string>("t");
}

std::vector<rs::Dependent> LoadDependents(int id) {
  std::vector<rs::Dependent> deps;
  // A refresh writes into a dependent's pending table only when no code of another role can run on that
  // write: the table belongs to the extension's owner (or to the refreshing role) and has no trigger,
  // rule or row security. Otherwise the dependent is marked broken and left out.
  const auto rows = pg::Query(
      "SELECT x.id, x.pending_table::text, x.bucket_expr, "
      "  c.relowner IN ((SELECT extowner FROM pg_catalog.pg_extension WHERE extname = 'strata'), "
      "                 (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)) "
      "  AND NOT c.relhasrules AND NOT c.relrowsecurity "
      "  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal) "
      "FROM strata.rollup x JOIN pg_catalog.pg_class c ON c.oid = x.pending_table "
      "WHERE x.source_rollup = $1::int ORDER BY x.id",
      {std::to_string(id)});
  for (const auto& r : rows) {
    if (*r[3] == "t") {
      // Whoever refreshes the source (its owner, or strata.role) adds buckets here; the grant made at
      // creation names the owner of that time.
      if (pg::Query("SELECT pg_catalog.has_table_privilege($1::pg_catalog.regclass, 'INSERT')", {*r[1]})[0][0] != "t") {
        const std::string me = pg::RoleName(GetUserId());
        pg::AsExtensionOwner([&] { pg::Exec("GRANT INSERT ON " + *r[1] + " TO " + core::QuoteIdent(me)); });
      }
      deps.push_back({*r[1], *r[2]});
      continue;
    }
    pg::AsExtensionOwner([&] {
      pg::Query("UPDATE strata.rollup SET broken = $2, last_error = $2, last_error_at = pg_catalog.now() WHERE id = $1::int",
                {*r[0], "its pending table " + *r[1] + " has another owner, a trigger, a rule or row security: "
                        "the rollup it reads no longer queues buckets there"});
    });
  }
  return deps;
}

void CheckRelationsExist(const Rollup& r) {
  // Relations dropped behind strata's back (event triggers off): their names are plain OIDs now, and
  // no SQL about them could run.
  if (!r.missing.empty())
    throw core::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, "the " + r.missing + " of rollup " + r.view + " no longer exists",
                      {}, "Drop the rollup with strata.drop_rollup().");
}

int64_t SequenceValue(const std::string& sequence) {
  return std::stoll(*pg::Query("SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM " + sequence)
                         .at(0)
                         .at(0));
}

void UnregisterRollup(int id, const std::string& view, const std::string& why) {
  // Rollups that read it go first (readers reference it).
  for (const auto& d : pg::Query("SELECT id, view::text FROM strata.rollup WHERE source_rollup = $1::int ORDER BY id",
                                 {std::to_string(id)}))
    UnregisterRollup(std::stoi(*d[0]), *d[1], "the rollup it reads, " + view + ", was unregistered");
  pg::AsExtensionOwner([&] {
    const auto pending = pg::Query("DELETE FROM strata.rollup WHERE id = $1::int RETURNING pending_table::text, data_table::text",
                                   {std::to_string(id)});
    if (pending.empty()) return;
    pg::Exec("DROP TABLE IF EXISTS " + *pending[0][0]);
    pg::Query("INSERT INTO strata.job_runs (job_kind, target, status, message, finished_at) VALUES ('rollup_drop', $1, 'ok', "
              "$2, pg_catalog.clock_timestamp())",
              {view, "unregistered: " + why + "; data table " + *pending[0][1] + " kept"});
    const std::string msg = "rollup " + view + " is unregistered: " + why;
    const std::string detail = "Its data table " + *pending[0][1] + " and its view are kept with the buckets they hold.";
    pg::Call([&] { ereport(NOTICE, (errmsg("%s", msg.c_str()), errdetail("%s", detail.c_str()))); });
  });
}

void PinSessionForRollupSql() {
  pg::SetGuc("search_path", "pg_catalog, pg_temp");
  // Generated SQL quotes literals by doubling quotes only.
  pg::SetGuc("standard_conforming_strings", "on");
  // Deparsed constants are written, and read back by the worker, in these styles whatever the
  // creator's or the worker's own settings are.
  pg::SetGuc("DateStyle", "ISO, YMD");
  pg::SetGuc("IntervalStyle", "postgres");
  pg::SetGuc("lock_timeout", std::to_string(config::lock_timeout_ms) + "ms");
  // A refresh reads the source as it is: never routed to a rollup (nor paying routing's planning).
  pg::SetGuc("strata.routing", "off");
}


}  // namespace strata::rollups
