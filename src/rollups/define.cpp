// Defining rollups: strata.create_rollup, drop_rollup, alter_rollup. The query is read by analyze.cpp;
// the source's hooks are made by hooks.cpp. create_rollup records where the rollup starts (watermark,
// backfill range); the first refresh (refresh.cpp) builds its table.
#include <algorithm>
#include <cctype>
#include <climits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "config.hpp"
#include "core/error.hpp"
#include "core/json.hpp"
#include "core/naming.hpp"
#include "core/rollup_sql.hpp"
#include "jobs/job_runs.hpp"
#include "pg/guc.hpp"
#include "pg/names.hpp"
#include "pg/security.hpp"
#include "pg/spi.hpp"
#include "rollups/analyze.hpp"
#include "rollups/capture.hpp"
#include "rollups/catalog.hpp"
#include "rollups/hooks.hpp"
#include "rollups/refresh.hpp"

namespace strata::rollups {
namespace {

using core::Error;
namespace rs = core::rollup;

// The interval argument n as text, refused when negative.
std::string IntervalArg(FunctionCallInfo fcinfo, int n, const char* what) {
  Interval* iv = PG_GETARG_INTERVAL_P(n);
  if (iv->month < 0 || iv->day < 0 || iv->time < 0)
    throw Error(ERRCODE_INVALID_PARAMETER_VALUE, std::string(what) + " must not be negative");
  const char* t = nullptr;
  pg::Call([&] { t = DatumGetCString(DirectFunctionCall1(interval_out, PointerGetDatum(iv))); });
  return t;
}

struct OrderInfo {
  std::string column, sequence;
};

// The sequence-filled column whose values tell new rows from processed ones.
OrderInfo FindOrderColumn(Oid source, const std::string& shown, const std::optional<std::string>& given) {
  const auto rows = pg::Query(
      "SELECT a.attname, a.attnotnull, a.atttypid::regtype::text, s.seq, q.seqcache, "
      "  EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = a.attrelid AND i.indkey[0] = a.attnum), "
      "  q.seqincrement > 0, q.seqcycle "
      "FROM pg_catalog.pg_attribute a "
      "CROSS JOIN LATERAL (SELECT pg_catalog.pg_get_serial_sequence(a.attrelid::regclass::text, a.attname) AS seq) s "
      "LEFT JOIN pg_catalog.pg_sequence q ON q.seqrelid = s.seq::regclass "
      "WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped "
      "  AND CASE WHEN $2::name IS NULL THEN s.seq IS NOT NULL ELSE a.attname = $2::name END",
      {std::to_string(source), given});
  const std::string hint =
      "Add a column filled by a sequence, e.g. ALTER TABLE " + shown +
      " ADD COLUMN ingest_id bigint GENERATED ALWAYS AS IDENTITY, or pass order_column => <such a column>.";
  if (rows.empty()) {
    if (given) throw Error(ERRCODE_UNDEFINED_COLUMN, "column \"" + *given + "\" of " + shown + " does not exist");
    throw Error(ERRCODE_INVALID_TABLE_DEFINITION, "table " + shown + " has no column filled by a sequence", {}, hint);
  }
  if (rows.size() > 1) {
    std::string list;
    for (const auto& r : rows) list += (list.empty() ? "" : ", ") + *r[0];
    throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "table " + shown + " has several sequence-filled columns (" + list + ")",
                {}, "Choose one with order_column => ...");
  }
  const auto& r = rows[0];
  const std::string col = *r[0];
  if (!r[3])
    throw Error(ERRCODE_INVALID_TABLE_DEFINITION, "column \"" + col + "\" of " + shown + " is not filled by a sequence", {},
                "Use an identity or serial column, or ALTER SEQUENCE ... OWNED BY " + shown + "." + col + ".");
  if (*r[2] != "bigint" && *r[2] != "integer" && *r[2] != "smallint")
    throw Error(ERRCODE_DATATYPE_MISMATCH, "column \"" + col + "\" must be an integer column, not " + *r[2]);
  if (*r[1] != "t")
    throw Error(ERRCODE_INVALID_TABLE_DEFINITION, "column \"" + col + "\" of " + shown + " must be NOT NULL", {},
                "A row without a value would never be picked up; ALTER TABLE " + shown + " ALTER COLUMN " +
                    core::QuoteIdent(col) + " SET NOT NULL.");
  if (r[4] && std::stoll(*r[4]) > 1)
    throw Error(ERRCODE_FEATURE_NOT_SUPPORTED, "sequence " + *r[3] + " has CACHE " + *r[4],
                "Each backend hands out its cached values later, out of commit order, so a refresh could pass "
                "rows that commit after it.",
                "ALTER SEQUENCE " + *r[3] + " CACHE 1.");
  // Order values must only grow: a rollup takes every value above its watermark as new.
  if (r[6] && *r[6] != "t")
    throw Error(ERRCODE_FEATURE_NOT_SUPPORTED, "sequence " + *r[3] + " counts down",
                "A rollup tells new rows by order values above the last one it absorbed.",
                "Use a sequence with a positive INCREMENT.");
  if (r[7] && *r[7] == "t")
    throw Error(ERRCODE_FEATURE_NOT_SUPPORTED, "sequence " + *r[3] + " cycles",
                "After wrapping around, new rows would get order values the rollup already absorbed.",
                "ALTER SEQUENCE " + *r[3] + " NO CYCLE.");
  if (*r[5] != "t")
    pg::Call([&] {
      ereport(NOTICE, (errmsg("no index starts with column \"%s\" of %s: every refresh will scan the whole table",
                              col.c_str(), shown.c_str()),
                       errhint("CREATE INDEX ON %s (%s).", shown.c_str(), core::QuoteIdent(col).c_str())));
    });
  return {col, *r[3]};
}

std::string QualifiedRel(Oid rel) { return core::QualifiedName(pg::RelSchema(rel), pg::RelName(rel)); }

// Resolves name (possibly schema-qualified) to the schema and relation name of a new view.
void ResolveNewName(const std::string& name, std::string* schema, std::string* rel) {
  const char* nsp = nullptr;
  const char* relname = nullptr;
  bool exists = false;
  bool temp = false;
  RangeVar* rv = pg::ParseRelationName(name);
  pg::Call([&] {
    Oid nspid = RangeVarGetCreationNamespace(rv);
    temp = isAnyTempNamespace(nspid);
    nsp = get_namespace_name(nspid);
    relname = rv->relname;
    exists = OidIsValid(get_relname_relid(rv->relname, nspid));
  });
  // The worker refreshes rollups from its own session, which cannot see another session's temporary
  // schema; a rollup there would be broken for everyone but its creator, and gone at their logout.
  if (temp)
    throw Error(ERRCODE_FEATURE_NOT_SUPPORTED, "a rollup cannot be created in a temporary schema", {},
                "Create it in a permanent schema.");
  if (exists)
    throw Error(ERRCODE_DUPLICATE_TABLE, std::string("relation \"") + relname + "\" already exists", {},
                "A rollup's name becomes its view; choose another name.");
  *schema = nsp;
  *rel = relname;
}

void InsertCatalog(const rs::Spec& s, const Parsed& p, const std::string& view, const std::string& query,
                   const std::optional<int>& source_rollup, int level, bool realtime, const std::string& interval,
                   int64_t batch, const OrderInfo& order, const std::string& change_fn) {
  std::vector<std::optional<std::string>> args{
      std::to_string(s.id), view, s.data_table, s.pending_table, std::to_string(p.source),
      source_rollup ? std::optional<std::string>(std::to_string(*source_rollup)) : std::nullopt,
      std::to_string(level), query,
      order.column.empty() ? std::nullopt : std::optional<std::string>(order.column),
      order.sequence.empty() ? std::nullopt : std::optional<std::string>(order.sequence),
      s.bucket_name, s.bucket_expr, s.bucket_type, s.bucket_width, s.time_column, s.time_zone, s.where,
      realtime ? "true" : "false", interval, std::to_string(batch),
      change_fn.empty() ? std::nullopt : std::optional<std::string>(change_fn)};
  pg::AsExtensionOwner([&] {
    pg::Query("INSERT INTO strata.rollup (id, view, data_table, pending_table, source, source_rollup, level, query, "
              "order_column, order_sequence, bucket_name, bucket_expr, bucket_type, bucket_width, time_column, time_zone, "
              "where_clause, realtime, refresh_interval, batch_size, change_function) VALUES ($1::int, $2::regclass, "
              "$3::regclass, $4::regclass, $5::oid, $6::int, $7::int, $8, $9::name, $10::regclass, $11, $12, $13, $14, "
              "$15, $16, $17, $18::boolean, $19::interval, $20::bigint, $21)",
              args);
    int ord = 0;
    for (const auto& d : s.dims)
      pg::Query("INSERT INTO strata.rollup_column (rollup_id, ord, role, name, expr) VALUES ($1::int, $2::int, "
                "'dimension', $3, $4)",
                {std::to_string(s.id), std::to_string(++ord), d.name, d.expr});
    for (const auto& m : s.measures)
      pg::Query("INSERT INTO strata.rollup_column (rollup_id, ord, role, name, kind, expr, state_type, result_type) "
                "VALUES ($1::int, $2::int, 'measure', $3, $4, $5, $6, $7)",
                {std::to_string(s.id), std::to_string(++ord), m.name, rs::KindName(m.kind), m.args, m.state_type,
                 m.result_type});
  });
}

}  // namespace
}  // namespace strata::rollups

namespace strata::rollups {
namespace {

// create_rollup's arguments, checked.
struct CreateArgs {
  std::string name, query, interval;
  bool realtime = true, backfill = true;
  int64_t batch = 0;
  std::optional<std::string> order_given;
};

CreateArgs ReadCreateArgs(FunctionCallInfo fcinfo) {
  for (int i : {0, 1, 2, 3, 4, 6})
    if (PG_ARGISNULL(i))
      throw Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "arguments of create_rollup must not be null (except order_column)");
  CreateArgs a;
  a.name = *pg::TextArg(fcinfo, 0);
  a.query = *pg::TextArg(fcinfo, 1);
  a.realtime = PG_GETARG_BOOL(2);
  a.interval = IntervalArg(fcinfo, 3, "refresh_interval");
  a.batch = PG_GETARG_INT64(4);
  if (!PG_ARGISNULL(5)) a.order_given = NameStr(*PG_GETARG_NAME(5));
  a.backfill = PG_GETARG_BOOL(6);
  if (a.batch <= 0)
    throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "batch_size must be positive", {},
                "batch_size is the number of source rows one refresh transaction processes.");
  return a;
}

// The rollup a new rollup reads (none for a raw source).
struct SourceRollup {
  std::optional<int> id;
  Oid owner = InvalidOid;  // its data table's owner
  int level = 0;           // the new rollup's level
};

// Checks the creator may read the source and what it is. A rollup over another rollup reads that
// rollup's data table (p->source becomes it; averages cannot be re-aggregated); anything else must be a
// table. The source rollup's catalog row is locked: that serializes with its refresh (which queues the
// new rollup's buckets).
SourceRollup ResolveSource(Parsed* p, const std::string& shown) {
  AclResult acl = ACLCHECK_OK;
  pg::Call([&] { acl = pg_class_aclcheck(p->source, GetUserId(), ACL_SELECT); });
  if (acl != ACLCHECK_OK)
    throw Error(ERRCODE_INSUFFICIENT_PRIVILEGE, "permission denied for table " + shown, {},
                "The creator of a rollup must be able to read its source.");
  std::vector<pg::Row> parent;
  pg::AsExtensionOwner([&] {
    parent = pg::Query("SELECT id, data_table::oid, level FROM strata.rollup WHERE view = $1::oid OR "
                       "data_table = $1::oid FOR UPDATE",
                       {std::to_string(p->source)});
  });
  SourceRollup src;
  if (parent.empty()) {
    if (p->relkind != RELKIND_RELATION && p->relkind != RELKIND_PARTITIONED_TABLE)
      throw Error(ERRCODE_WRONG_OBJECT_TYPE, shown + " is not a table or a rollup", {},
                  "A rollup reads a table, a partitioned table or another rollup.");
    return src;
  }
  src.id = std::stoi(*parent[0][0]);
  src.level = std::stoi(*parent[0][2]) + 1;
  const Oid data = static_cast<Oid>(std::stoul(*parent[0][1]));
  for (const auto& c : p->used_columns) {
    AttrNumber att = InvalidAttrNumber;
    pg::Call([&] { att = get_attnum(data, c.c_str()); });
    if (att == InvalidAttrNumber)
      throw Error(ERRCODE_FEATURE_NOT_SUPPORTED, "column \"" + c + "\" of rollup " + shown + " is an average",
                  "An average cannot be re-aggregated from averages.",
                  "Roll up sum and count measures of the source rollup instead.");
  }
  p->source = data;
  p->spec.source_is_rollup = true;
  pg::Call([&] {
    HeapTuple t = SearchSysCache1(RELOID, ObjectIdGetDatum(data));
    if (HeapTupleIsValid(t)) {
      src.owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(t))->relowner;
      ReleaseSysCache(t);
    }
  });
  return src;
}

// Where a new rollup of a raw source starts: its watermark, and the backfill's range when history is
// to be absorbed.
struct Start {
  int64_t watermark = 0;
  std::optional<int64_t> cursor, floor;
  std::string definition;  // qualified
  bool has_history = true;  // every row the source had at creation is (or will be) in the rollup
};

// Hooks a raw source up for the new rollup: its definition view (the stored SQL is read back from it at
// once, so it is written as every later read of the view writes it: a rename is then the only thing
// that changes it) and the source's capture triggers on every relation of its tree (made by its first
// rollup; the new rollup's grain is attached once its catalog row exists, AttachCapture).
Start HookRawSource(rs::Spec& s, Oid source, const std::string& schema, const std::string& rel,
                    const std::string& view, const OrderInfo& order, bool backfill) {
  Start st;
  st.definition = core::QualifiedName(schema, core::PartitionName(rel, "definition"));
  pg::Exec(rs::DefinitionViewSql(s, st.definition));
  s = ReadDefinition(view, static_cast<Oid>(std::stoul(*pg::Query("SELECT $1::pg_catalog.regclass::pg_catalog.oid",
                                                                   {st.definition}).at(0).at(0))), s);
  ProtectDefinition(st.definition);
  // SHARE ROW EXCLUSIVE on the source and its partitions until the creating transaction ends: once it
  // is held no writer is in flight, so every order value handed out so far belongs to a committed or
  // aborted row, and the backfill sees them all; and every change logged so far is in the log, so the
  // rollup's position in it starts at its end (AttachCapture).
  LockSourceTree(source);
  EnsureSourceHooks(source, order.column, order.sequence);
  st.watermark = SequenceValue(order.sequence);
  const auto mn = pg::Query("SELECT min(" + core::QuoteIdent(order.column) + ") - 1 FROM " + s.source);
  const bool history = mn.at(0).at(0) && std::stoll(*mn[0][0]) < st.watermark;
  if (backfill && history) {
    st.floor = std::stoll(*mn[0][0]);
    st.cursor = st.watermark;
  }
  // Without a backfill, the rows already there never enter the rollup: routing must not use it.
  st.has_history = backfill || !history;
  return st;
}

}  // namespace
}  // namespace strata::rollups

using namespace strata;
using namespace strata::rollups;
namespace rs = strata::core::rollup;

// strata.create_rollup(name, query, realtime, refresh_interval, batch_size, order_column, backfill)
STRATA_FUNCTION(strata_create_rollup) {
  const CreateArgs args = ReadCreateArgs(fcinfo);
  pg::SpiConnect();
  std::string schema, rel;
  ResolveNewName(args.name, &schema, &rel);
  const int level = pg::NewGucLevel();
  Parsed p = Analyze(args.query);
  rs::Spec& s = p.spec;
  const std::string shown = QualifiedRel(p.source);
  const SourceRollup src = ResolveSource(&p, shown);
  s.source = QualifiedRel(p.source);
  OrderInfo order;
  if (!s.source_is_rollup) {
    order = FindOrderColumn(p.source, s.source, args.order_given);
    s.order_column = order.column;
  }
  pg::AsExtensionOwner([&] { s.id = std::stoi(*pg::Query("SELECT pg_catalog.nextval('strata.rollup_id_seq')")[0][0]); });
  s.data_table = core::QualifiedName(schema, core::PartitionName(rel, "data"));
  s.pending_table = core::QualifiedName(schema, core::PartitionName(rel, "pending"));
  const std::string view = core::QualifiedName(schema, rel);
  for (const auto& sql : rs::CreateTablesSql(s)) pg::Exec(sql);

  Start st;
  if (!s.source_is_rollup) {
    st = HookRawSource(s, p.source, schema, rel, view, order, args.backfill);
  } else {
    ShareDependentPending(s.pending_table, src.owner);
    // Every bucket of the source rollup is queued; refreshes compute them newest first.
    if (args.backfill)
      pg::Exec("INSERT INTO " + s.pending_table + " (b) SELECT DISTINCT " + s.bucket_expr + " FROM " + s.source);
    else
      pg::AsExtensionOwner([&] { st.has_history = *pg::Query("SELECT NOT EXISTS (SELECT FROM " + s.source + ")")[0][0] == "t"; });
    // Cached plans on the raw table at the root of the chain, and on the source rollup's view, are made
    // again, so routing can use this one.
    std::vector<pg::Row> root;
    pg::AsExtensionOwner([&] {
      root = pg::Query(
          "WITH RECURSIVE c AS (SELECT id, source, source_rollup FROM strata.rollup WHERE id = $1::int "
          "UNION ALL SELECT r.id, r.source, r.source_rollup FROM strata.rollup r JOIN c ON r.id = c.source_rollup) "
          "SELECT source::oid, (SELECT view::oid FROM strata.rollup WHERE id = $1::int) FROM c WHERE source_rollup IS NULL",
          {std::to_string(src.id.value_or(0))});
    });
    if (!root.empty() && root[0][0]) {
      const Oid raw = static_cast<Oid>(std::stoul(*root[0][0]));
      pg::Call([&] { CacheInvalidateRelcacheByRelid(raw); });
    }
    if (!root.empty() && root[0][1]) {
      const Oid viewed = static_cast<Oid>(std::stoul(*root[0][1]));
      pg::Call([&] { CacheInvalidateRelcacheByRelid(viewed); });
    }
  }
  // The view's form depends on whether a backfill is left to do (see ViewSql).
  pg::Exec(ViewSqlFor(s, view, args.realtime, false, st.cursor.has_value()));
  InsertCatalog(s, p, view, args.query, src.id, src.level, args.realtime, args.interval, args.batch, order, "");
  if (!s.source_is_rollup) AttachCapture(s.id, p.source, s);
  pg::AsExtensionOwner([&] {
    pg::Query("UPDATE strata.rollup SET watermark = $2::bigint, backfill_cursor = $3::bigint, backfill_floor = $4::bigint, "
              "definition = $5::regclass, has_history = $6::boolean WHERE id = $1::int",
              {std::to_string(s.id), std::to_string(st.watermark),
               st.cursor ? std::optional<std::string>(std::to_string(*st.cursor)) : std::nullopt,
               st.floor ? std::optional<std::string>(std::to_string(*st.floor)) : std::nullopt,
               st.definition.empty() ? std::nullopt : std::optional<std::string>(st.definition),
               std::string(st.has_history ? "true" : "false")});
  });
  jobs::RecordJob("rollup_create", view, "ok", "rollup created over " + shown,
                  core::JsonObject().Int("watermark", st.watermark).Bool("backfill", st.cursor || s.source_is_rollup).Text(),
                  GetCurrentTimestamp());
  pg::RestoreGucs(level);
  pg::SpiFinish();
  PG_RETURN_INT32(s.id);
}

// strata.drop_rollup(name, if_exists): drops the view, the tables, the triggers and the catalog row.
STRATA_FUNCTION(strata_drop_rollup) {
  if (PG_ARGISNULL(0)) throw core::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "name must not be null");
  const std::string name = *pg::TextArg(fcinfo, 0);
  const bool if_exists = !PG_ARGISNULL(1) && PG_GETARG_BOOL(1);
  pg::SpiConnect();
  std::optional<int> id;
  try {
    id = RollupIdByName(name);
  } catch (const core::Error& e) {
    if (!if_exists) throw;
    pg::Call([&] { ereport(NOTICE, (errmsg("rollup \"%s\" does not exist, skipping", name.c_str()))); });
  }
  if (id) {
    const int level = pg::NewGucLevel();
    PinSessionForRollupSql();
    const Rollup r = LoadRollup(*id, true);
    if (!pg::OwnsTable(r.data_oid))
      throw core::Error(ERRCODE_INSUFFICIENT_PRIVILEGE, "must be owner of rollup " + r.view);
    // Rollups of the same owner that read this one must be dropped first; another role's cannot block
    // the owner: they are unregistered (their data tables and views kept), as when a source is dropped.
    const auto deps = pg::Query("SELECT x.id, x.view::text, c.relowner = o.relowner FROM strata.rollup x "
                                "JOIN pg_catalog.pg_class c ON c.oid = x.data_table, pg_catalog.pg_class o "
                                "WHERE x.source_rollup = $1::int AND o.oid = $2::pg_catalog.oid ORDER BY x.level DESC, x.id",
                                {std::to_string(*id), std::to_string(r.data_oid)});
    for (const auto& d : deps)
      if (*d[2] == "t")
        throw core::Error(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST, "rollup " + r.view + " is read by rollup " + *d[1], {},
                          "Drop the rollups that read it first.");
    for (const auto& d : deps) UnregisterRollup(std::stoi(*d[0]), *d[1], "the rollup it reads, " + r.view + ", was dropped");
    // The catalog row goes first: the sql_drop event trigger unregisters a rollup whose objects are
    // dropped by anything else, and must find nothing to do here.
    pg::AsExtensionOwner([&] { pg::Query("DELETE FROM strata.rollup WHERE id = $1::int", {std::to_string(*id)}); });
    // Its grain, and with the source's last rollup the capture's triggers, go.
    if (!r.spec.source_is_rollup) SyncCaptures();
    if (!r.spec.source_is_rollup && !r.change_function.empty()) {
      // A change function of its own (made before 0.10.0): its triggers, each dropped as its table's
      // owner (the tree's relations may belong to other roles).
      for (const auto& t : pg::Query("SELECT g.tgrelid::regclass::text, g.tgname, c.relowner FROM pg_catalog.pg_trigger g "
                                     "JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid WHERE g.tgname IN ($1, $2) "
                                     "AND g.tgfoid = pg_catalog.to_regprocedure($3)",
                                     {"strata_rollup_" + std::to_string(*id) + "_upd",
                                      "strata_rollup_" + std::to_string(*id) + "_del", r.change_function + "()"}))
        pg::AsRole(static_cast<Oid>(std::stoul(*t[2])),
                   [&] { pg::Exec("DROP TRIGGER " + core::QuoteIdent(*t[1]) + " ON " + *t[0]); });
    }
    // Each part that still exists (some may have been dropped with event triggers off).
    const auto parts = pg::Query(
        "SELECT (SELECT c.oid::pg_catalog.regclass::text FROM pg_catalog.pg_class c WHERE c.oid = u.x) "
        "FROM pg_catalog.unnest(ARRAY[$1, $2, $3, $4]::pg_catalog.oid[]) WITH ORDINALITY u(x, n) ORDER BY u.n",
        {std::to_string(r.definition), std::to_string(r.data_oid), std::to_string(r.pending_oid), std::to_string(r.view_oid)});
    if (parts[3][0]) pg::Exec("DROP VIEW " + *parts[3][0]);
    if (parts[0][0]) pg::Exec("DROP VIEW " + *parts[0][0]);
    if (parts[1][0]) pg::Exec("DROP TABLE " + *parts[1][0]);
    // A rollup of a rollup's pending table belongs to the extension's owner (ShareDependentPending).
    if (parts[2][0]) {
      if (r.spec.source_is_rollup)
        pg::AsExtensionOwner([&] { pg::Exec("DROP TABLE " + *parts[2][0]); });
      else
        pg::Exec("DROP TABLE " + *parts[2][0]);
    }
    if (!r.change_function.empty()) pg::Exec("DROP FUNCTION " + r.change_function + "()");
    jobs::RecordJob("rollup_drop", r.view, "ok", "rollup dropped", "{}", GetCurrentTimestamp());
    pg::RestoreGucs(level);
  }
  pg::SpiFinish();
  PG_RETURN_VOID();
}

// strata.alter_rollup(name, refresh_interval, realtime, batch_size, enabled)
STRATA_FUNCTION(strata_alter_rollup) {
  if (PG_ARGISNULL(0)) throw core::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "name must not be null");
  const std::string name = *pg::TextArg(fcinfo, 0);
  pg::SpiConnect();
  const int id = RollupIdByName(name);
  const int level = pg::NewGucLevel();
  PinSessionForRollupSql();
  Rollup r = LoadRollup(id, true);
  if (!pg::OwnsTable(r.data_oid)) throw core::Error(ERRCODE_INSUFFICIENT_PRIVILEGE, "must be owner of rollup " + r.view);
  std::vector<std::optional<std::string>> args{std::to_string(id), std::nullopt, std::nullopt, std::nullopt, std::nullopt};
  if (!PG_ARGISNULL(1)) args[1] = IntervalArg(fcinfo, 1, "refresh_interval");
  if (!PG_ARGISNULL(2)) args[2] = PG_GETARG_BOOL(2) ? "true" : "false";
  if (!PG_ARGISNULL(3)) {
    if (PG_GETARG_INT64(3) <= 0) throw core::Error(ERRCODE_INVALID_PARAMETER_VALUE, "batch_size must be positive");
    args[3] = std::to_string(PG_GETARG_INT64(3));
  }
  if (!PG_ARGISNULL(4)) args[4] = PG_GETARG_BOOL(4) ? "true" : "false";
  if (!PG_ARGISNULL(2)) pg::Exec(ViewSqlFor(r.spec, r.view, PG_GETARG_BOOL(2), true, r.cursor.has_value()));
  pg::AsExtensionOwner([&] {
    pg::Query("UPDATE strata.rollup SET refresh_interval = COALESCE($2::interval, refresh_interval), "
              "realtime = COALESCE($3::boolean, realtime), batch_size = COALESCE($4::bigint, batch_size), "
              "enabled = COALESCE($5::boolean, enabled), broken = CASE WHEN $5::boolean THEN NULL ELSE broken END "
              "WHERE id = $1::int",
              args);
  });
  jobs::RecordJob("rollup_alter", r.view, "ok", "rollup settings changed", "{}", GetCurrentTimestamp());
  pg::RestoreGucs(level);
  pg::SpiFinish();
  PG_RETURN_VOID();
}
