// SQL-callable functions of partition sets: create_partition_set, undo_partition_set, run_maintenance,
// partition_set_state. Each validates its input with a clear error (errcode + hint) before changing
// anything, checks that the caller owns the table, and runs every DDL with strata.lock_timeout.
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "config.hpp"
#include "core/error.hpp"
#include "core/naming.hpp"
#include "partitions/catalog.hpp"
#include "partitions/maintenance.hpp"
#include "pg/spi.hpp"
#include "pg/security.hpp"
#include "pg/guc.hpp"
#include "pg/names.hpp"
#include "jobs/job_runs.hpp"

namespace strata::partitions {
namespace {

using core::Error;

void RequireOwner(Oid relid, const std::string& relname) {
  if (!pg::OwnsTable(relid))
    throw Error(ERRCODE_INSUFFICIENT_PRIVILEGE, "must be owner of table " + relname, {},
                "Only the owner of a table (or a superuser) can manage its partitions.");
}

struct ParentInfo {
  std::string schema, name;
  Oid key_type = InvalidOid;
  bool has_default = false;
};

// Checks that parent is a table partitioned by RANGE on exactly `column`, of a supported type.
ParentInfo ValidateParent(Oid parent, const std::string& column) {
  ParentInfo info;
  char relkind = 0;
  pg::Call([&] {
    HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(parent));
    if (HeapTupleIsValid(tup)) {
      relkind = ((Form_pg_class) GETSTRUCT(tup))->relkind;
      ReleaseSysCache(tup);
    }
  });
  if (relkind == 0) throw Error(ERRCODE_UNDEFINED_TABLE, "relation with OID " + std::to_string(parent) + " does not exist");
  info.schema = pg::RelSchema(parent);
  info.name = pg::RelName(parent);
  const std::string shown = core::QualifiedName(info.schema, info.name);
  if (relkind != RELKIND_PARTITIONED_TABLE)
    throw Error(ERRCODE_WRONG_OBJECT_TYPE, "table " + shown + " is not partitioned", {},
                "Create the table with PARTITION BY RANGE (column) and let strata create its partitions.");
  RequireOwner(parent, shown);
  char strategy = 0;
  int natts = 0;
  AttrNumber keyatt = 0;
  Oid default_oid = InvalidOid;
  pg::Call([&] {
    Relation rel = relation_open(parent, AccessShareLock);
    PartitionKey key = RelationGetPartitionKey(rel);
    strategy = key->strategy;
    natts = key->partnatts;
    keyatt = key->partattrs[0];
    default_oid = get_default_oid_from_partdesc(RelationGetPartitionDesc(rel, true));
    relation_close(rel, NoLock);
  });
  if (strategy != PARTITION_STRATEGY_RANGE)
    throw Error(ERRCODE_WRONG_OBJECT_TYPE, "table " + shown + " is not partitioned by range", {},
                "strata manages PARTITION BY RANGE tables only.");
  if (natts != 1 || keyatt == 0)
    throw Error(ERRCODE_FEATURE_NOT_SUPPORTED, "table " + shown + " has a multi-column or expression partition key",
                {}, "strata manages tables partitioned by RANGE on one plain column.");
  AttrNumber attnum = InvalidAttrNumber;
  const char* col = column.c_str();
  pg::Call([&] { attnum = get_attnum(parent, col); });
  if (attnum == InvalidAttrNumber)
    throw Error(ERRCODE_UNDEFINED_COLUMN, "column \"" + column + "\" of table " + shown + " does not exist");
  if (attnum != keyatt) {
    const char* keyname = nullptr;
    pg::Call([&] { keyname = get_attname(parent, keyatt, false); });
    throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "column \"" + column + "\" is not the partition key of table " + shown,
                {}, std::string("The table is partitioned by column \"") + keyname + "\".");
  }
  pg::Call([&] { info.key_type = get_atttype(parent, attnum); });
  (void) KindOf(info.key_type);
  info.has_default = OidIsValid(default_oid);
  return info;
}

std::vector<std::string> TextArrayArg(FunctionCallInfo fcinfo, int n) {
  std::vector<std::string> out;
  if (PG_ARGISNULL(n)) return out;
  Datum* elems = nullptr;
  bool* nulls = nullptr;
  int count = 0;
  pg::Call([&] {
    deconstruct_array(PG_GETARG_ARRAYTYPE_P(n), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &count);
  });
  for (int i = 0; i < count; i++) {
    if (nulls[i]) throw Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "partition_options must not contain nulls");
    const char* s = nullptr;
    pg::Call([&] { s = TextDatumGetCString(elems[i]); });
    out.emplace_back(s);
  }
  return out;
}

// A JSON array of strings, for passing a text[] as one text parameter.
std::string JsonArray(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); i++) out += (i ? "," : "") + core::JsonString(items[i]);
  return out + "]";
}

// Validates reloptions the way CREATE TABLE would, before any table is created with them.
void ValidateReloptions(const std::vector<std::string>& opts) {
  if (opts.empty()) return;
  for (const auto& o : opts)
    if (o.find('=') == std::string::npos)
      throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "invalid partition option \"" + o + "\"", {},
                  "Write options as name=value, for example fillfactor=90 or autovacuum_enabled=false.");
  std::vector<Datum> datums(opts.size());
  pg::Call([&] {
    for (size_t i = 0; i < opts.size(); i++) datums[i] = CStringGetTextDatum(opts[i].c_str());
    ArrayType* arr = construct_array(datums.data(), static_cast<int>(datums.size()), TEXTOID, -1, false, TYPALIGN_INT);
    (void) heap_reloptions(RELKIND_RELATION, PointerGetDatum(arr), true);
  });
}

// The caller creates the partitions (in the parent's schema, in partition_tablespace when given): check
// the privileges up front, so the refusal names the grant that is missing instead of showing a failed
// CREATE TABLE of strata's.
void RequireCreatePrivileges(Oid parent, const std::optional<std::string>& tablespace) {
  Oid nsp = InvalidOid, user = InvalidOid, spc = InvalidOid;
  bool schema_ok = true, space_ok = true;
  const char* ts = tablespace ? tablespace->c_str() : nullptr;
  pg::Call([&] {
    user = GetUserId();
    nsp = get_rel_namespace(parent);
#if PG_VERSION_NUM >= 160000
    schema_ok = object_aclcheck(NamespaceRelationId, nsp, user, ACL_CREATE) == ACLCHECK_OK;
#else
    schema_ok = pg_namespace_aclcheck(nsp, user, ACL_CREATE) == ACLCHECK_OK;
#endif
    if (ts) {
      spc = get_tablespace_oid(ts, false);
#if PG_VERSION_NUM >= 160000
      space_ok = spc == MyDatabaseTableSpace || object_aclcheck(TableSpaceRelationId, spc, user, ACL_CREATE) == ACLCHECK_OK;
#else
      space_ok = spc == MyDatabaseTableSpace || pg_tablespace_aclcheck(spc, user, ACL_CREATE) == ACLCHECK_OK;
#endif
    }
  });
  const std::string role = pg::RoleName(user), schema = pg::RelSchema(parent);
  const std::string shown = core::QualifiedName(schema, pg::RelName(parent));
  if (!schema_ok)
    throw Error(ERRCODE_INSUFFICIENT_PRIVILEGE, "permission denied to create partitions of table " + shown,
                "Partitions are created in schema " + core::QuoteIdent(schema) + ", where role " +
                    core::QuoteIdent(role) + " has no CREATE privilege.",
                "GRANT CREATE ON SCHEMA " + core::QuoteIdent(schema) + " TO " + core::QuoteIdent(role) +
                    ", as the schema's owner or a superuser.");
  if (!space_ok)
    throw Error(ERRCODE_INSUFFICIENT_PRIVILEGE, "permission denied to create partitions of table " + shown,
                "Partitions are created in tablespace " + core::QuoteIdent(*tablespace) + ", where role " +
                    core::QuoteIdent(role) + " has no CREATE privilege.",
                "GRANT CREATE ON TABLESPACE " + core::QuoteIdent(*tablespace) + " TO " + core::QuoteIdent(role) +
                    ", as the tablespace's owner or a superuser.");
}

// Warns when the role background maintenance will run as cannot create partitions in the schema.
void WarnIfMaintainerLacksCreate(Oid parent) {
  Oid role = InvalidOid, nsp = InvalidOid;
  bool ok = true;
  const char* rolename = config::role;
  pg::Call([&] {
    nsp = get_rel_namespace(parent);
    role = (rolename && rolename[0]) ? get_role_oid(rolename, true) : InvalidOid;
    if (!OidIsValid(role)) {
      HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(parent));
      if (HeapTupleIsValid(tup)) {
        role = ((Form_pg_class) GETSTRUCT(tup))->relowner;
        ReleaseSysCache(tup);
      }
    }
#if PG_VERSION_NUM >= 160000
    ok = object_aclcheck(NamespaceRelationId, nsp, role, ACL_CREATE) == ACLCHECK_OK;
#else
    ok = pg_namespace_aclcheck(nsp, role, ACL_CREATE) == ACLCHECK_OK;
#endif
  });
  if (ok) return;
  const std::string r = pg::RoleName(role), n = pg::RelSchema(parent);
  const std::string qn = core::QuoteIdent(n), qr = core::QuoteIdent(r);
  pg::Call([&] {
    ereport(WARNING, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                      errmsg("role \"%s\", which background maintenance runs as, cannot create tables in schema \"%s\"",
                             r.c_str(), n.c_str()),
                      errhint("GRANT CREATE ON SCHEMA %s TO %s, or set strata.role to a role that may.", qn.c_str(),
                              qr.c_str())));
  });
}

void NoticeIfNoWorker() {
  pg::Call([] {
    if (!config::preloaded)
      ereport(NOTICE, (errmsg("strata's background worker is not running: partitions are maintained only when "
                              "strata.run_maintenance() is called"),
                       errhint("Add strata to shared_preload_libraries and restart the server.")));
    else if (!config::enabled)
      ereport(NOTICE, (errmsg("strata.enabled is off: the background worker does no maintenance"),
                       errhint("Set strata.enabled = on and reload the configuration.")));
  });
}


}  // namespace
}  // namespace strata::partitions

using namespace strata;
using namespace strata::partitions;

// strata.create_partition_set(parent, control_column, partition_interval, premake, retention,
//   retention_keep_table, default_partition, partition_options, partition_tablespace, start_partition)
STRATA_FUNCTION(strata_create_partition_set) {
  if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
    throw core::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "parent, control_column and partition_interval must not be null");
  const Oid parent = PG_GETARG_OID(0);
  const std::string column = NameStr(*PG_GETARG_NAME(1));
  const std::string interval = *pg::TextArg(fcinfo, 2);
  const int premake = PG_ARGISNULL(3) ? 4 : PG_GETARG_INT32(3);
  const auto retention = pg::TextArg(fcinfo, 4);
  const bool keep = !PG_ARGISNULL(5) && PG_GETARG_BOOL(5);
  bool want_default = !PG_ARGISNULL(6) && PG_GETARG_BOOL(6);
  const std::vector<std::string> options = TextArrayArg(fcinfo, 7);
  std::optional<std::string> tablespace;
  if (!PG_ARGISNULL(8)) tablespace = NameStr(*PG_GETARG_NAME(8));
  const auto start = pg::TextArg(fcinfo, 9);

  pg::SpiConnect();
  const ParentInfo info = ValidateParent(parent, column);
  const std::string shown = core::QualifiedName(info.schema, info.name);
  const core::KeyKind kind = KindOf(info.key_type);
  const core::Step step = ParseStep(kind, interval, "partition_interval");
  if (premake < 0 || premake > 1000)
    throw core::Error(ERRCODE_INVALID_PARAMETER_VALUE, "premake must be between 0 and 1000", {},
                      "premake is the number of partitions kept ready ahead of the current one.");
  std::optional<core::Step> ret;
  if (retention) ret = ParseStep(kind, *retention, "retention");
  ValidateReloptions(options);
  if (tablespace) {
    const char* ts = tablespace->c_str();
    pg::Call([&] { (void) get_tablespace_oid(ts, false); });
  }
  RequireCreatePrivileges(parent, tablespace);
  if (!pg::Query("SELECT 1 FROM strata.partition_set WHERE parent = $1::oid", {std::to_string(parent)}).empty())
    throw core::Error(ERRCODE_DUPLICATE_OBJECT, "table " + shown + " is already a partition set", {},
                      "Change it with strata.alter_partition_set() or remove it with strata.undo_partition_set().");
  if (info.has_default && !want_default) {
    pg::Call([&] {
      ereport(NOTICE, (errmsg("table %s already has a default partition; strata will keep it empty", shown.c_str()),
                       errhint("Retention then detaches partitions with a brief ACCESS EXCLUSIVE lock on the parent.")));
    });
    want_default = true;
  }
  std::optional<int64_t> start_key;
  if (start) start_key = ParseKey(*start, info.key_type);

  // The set's row, in canonical form (the interval as strata reads it back).
  const std::string opts_array = JsonArray(options);
  const std::vector<std::optional<std::string>> args{
      std::to_string(parent), column, std::to_string(info.key_type), core::StepText(kind, step), std::to_string(premake),
      ret ? std::optional<std::string>(core::StepText(kind, *ret)) : std::nullopt, keep ? "t" : "f",
      want_default ? "t" : "f", opts_array, tablespace};
  const std::string insert =
      "INSERT INTO strata.partition_set (parent, control_column, key_type, partition_interval, premake, retention, "
      "retention_keep_table, default_partition, partition_options, partition_tablespace) VALUES ($1::oid::regclass, "
      "$2, $3::oid::regtype, $4, $5::int, $6, $7::bool, $8::bool, "
      "ARRAY(SELECT pg_catalog.jsonb_array_elements_text($9::jsonb)), $10)";
  pg::AsExtensionOwner([&] { pg::Query(insert, args); });

  int created = 0;
  pg::WithLockTimeout(config::lock_timeout_ms, [&] {
    std::vector<SetRow> sets = LoadSets(parent);
    if (sets.size() != 1) throw core::Error(ERRCODE_INTERNAL_ERROR, "partition set vanished while being created");
    const SetRow& set = sets[0];
    if (want_default && !info.has_default) CreateDefaultPartition(set);
    if (start_key) created += CreateFrom(set, *start_key, 10000);
    std::vector<Outcome> outs;
    MaintainSet(set, Mode::kCreate, GetUserId(), &outs);
    for (const auto& o : outs)
      if (o.action == "create" && o.status == "ok") created++;
  });
  jobs::RecordJob("partition_set_create", shown, "ok", "created partition set", "{\"partitions_created\": " + std::to_string(created) + "}",
            GetCurrentTimestamp());
  pg::SpiFinish();
  WarnIfMaintainerLacksCreate(parent);
  NoticeIfNoWorker();
  PG_RETURN_INT32(created);
}

// strata.undo_partition_set(parent): stops managing the set; every partition and row stays as it is.
STRATA_FUNCTION(strata_undo_partition_set) {
  if (PG_ARGISNULL(0)) throw core::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "parent must not be null");
  const Oid parent = PG_GETARG_OID(0);
  pg::SpiConnect();
  const std::string shown = core::QualifiedName(pg::RelSchema(parent), pg::RelName(parent));
  RequireOwner(parent, shown);
  const std::string del = "DELETE FROM strata.partition_set WHERE parent = $1::oid RETURNING 1";
  std::vector<pg::Row> rows;
  const std::vector<std::optional<std::string>> args{std::to_string(parent)};
  pg::AsExtensionOwner([&] {
    rows = pg::Query(del, args);
    // Its compression policy goes with it (compressed partitions stay compressed).
    pg::Query("DELETE FROM strata.columnar_policy WHERE parent = $1::oid RETURNING 1", args);
  });
  if (rows.empty())
    throw core::Error(ERRCODE_UNDEFINED_OBJECT, "table " + shown + " is not a partition set", {},
                      "strata.partition_sets lists the managed tables.");
  jobs::RecordJob("partition_set_undo", shown, "ok", "partition set no longer managed; partitions and data kept", "{}",
            GetCurrentTimestamp());
  pg::SpiFinish();
  PG_RETURN_VOID();
}

// strata.run_maintenance(parent regclass DEFAULT NULL): one maintenance pass now, in this transaction.
STRATA_FUNCTION(strata_run_maintenance) {
  const Oid only = PG_ARGISNULL(0) ? InvalidOid : PG_GETARG_OID(0);
  pg::Call([&] { InitMaterializedSRF(fcinfo, 0); });
  ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  pg::SpiConnect();
  std::vector<Outcome> outs;
  pg::WithLockTimeout(config::lock_timeout_ms, [&] {
    std::vector<SetRow> sets = LoadSets(only);
    if (OidIsValid(only) && sets.empty()) {
      const std::string shown = core::QualifiedName(pg::RelSchema(only), pg::RelName(only));
      throw core::Error(ERRCODE_UNDEFINED_OBJECT, "table " + shown + " is not a partition set", {},
                        "Create one with strata.create_partition_set().");
    }
    for (const auto& set : sets) {
      if (!pg::OwnsTable(set.parent)) {
        if (OidIsValid(only)) RequireOwner(set.parent, core::QualifiedName(set.spec.schema, set.spec.parent));
        continue;
      }
      if (!set.enabled && !OidIsValid(only)) continue;
      try {
        MaintainSet(set, Mode::kSession, GetUserId(), &outs);
      } catch (const core::Error& e) {
        outs.push_back({set.parent, "check", core::QualifiedName(set.spec.schema, set.spec.parent), "failed", e.message()});
      }
    }
  });
  pg::SpiFinish();
  for (const auto& o : outs) {
    const char* strs[4] = {o.action.c_str(), o.partition.c_str(), o.status.c_str(), o.message.c_str()};
    const Oid p = o.parent;
    pg::Call([&] {
      Datum values[5];
      bool nulls[5] = {false, false, false, false, false};
      values[0] = ObjectIdGetDatum(p);
      for (int i = 0; i < 4; i++) values[i + 1] = CStringGetTextDatum(strs[i]);
      tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    });
  }
  NoticeIfNoWorker();
  return (Datum) 0;
}

// strata.alter_partition_set(parent, premake, retention, retention_keep_table, partition_options,
//   partition_tablespace, enabled, clear_retention): NULL arguments leave settings unchanged.
STRATA_FUNCTION(strata_alter_partition_set) {
  if (PG_ARGISNULL(0)) throw core::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "parent must not be null");
  const Oid parent = PG_GETARG_OID(0);
  pg::SpiConnect();
  const std::string shown = core::QualifiedName(pg::RelSchema(parent), pg::RelName(parent));
  RequireOwner(parent, shown);
  std::vector<SetRow> sets = LoadSets(parent);
  if (sets.empty())
    throw core::Error(ERRCODE_UNDEFINED_OBJECT, "table " + shown + " is not a partition set", {},
                      "Create one with strata.create_partition_set().");
  const core::KeyKind kind = sets[0].spec.kind;
  std::vector<std::optional<std::string>> args{std::to_string(parent), std::nullopt, std::nullopt, std::nullopt,
                                               std::nullopt, std::nullopt, std::nullopt};
  if (!PG_ARGISNULL(1)) {
    const int premake = PG_GETARG_INT32(1);
    if (premake < 0 || premake > 1000)
      throw core::Error(ERRCODE_INVALID_PARAMETER_VALUE, "premake must be between 0 and 1000");
    args[1] = std::to_string(premake);
  }
  if (auto r = pg::TextArg(fcinfo, 2)) args[2] = core::StepText(kind, ParseStep(kind, *r, "retention"));
  if (!PG_ARGISNULL(3)) args[3] = PG_GETARG_BOOL(3) ? "t" : "f";
  if (!PG_ARGISNULL(4)) {
    const std::vector<std::string> options = TextArrayArg(fcinfo, 4);
    ValidateReloptions(options);
    args[4] = JsonArray(options);
  }
  if (!PG_ARGISNULL(5)) {
    const char* ts = NameStr(*PG_GETARG_NAME(5));
    pg::Call([&] { (void) get_tablespace_oid(ts, false); });
    args[5] = std::string(ts);
  }
  if (!PG_ARGISNULL(6)) args[6] = PG_GETARG_BOOL(6) ? "t" : "f";
  const bool clear_retention = !PG_ARGISNULL(7) && PG_GETARG_BOOL(7);
  const std::string update = std::string(
      "UPDATE strata.partition_set SET premake = coalesce($2::int, premake), ") +
      (clear_retention ? "retention = NULL, " : "retention = coalesce($3, retention), ") +
      "retention_keep_table = coalesce($4::bool, retention_keep_table), "
      "partition_options = CASE WHEN $5 IS NULL THEN partition_options "
      "ELSE ARRAY(SELECT pg_catalog.jsonb_array_elements_text($5::jsonb)) END, "
      "partition_tablespace = coalesce($6, partition_tablespace), enabled = coalesce($7::bool, enabled) "
      "WHERE parent = $1::oid";
  pg::AsExtensionOwner([&] { pg::Query(update, args); });
  jobs::RecordJob("partition_set_alter", shown, "ok", "partition set settings changed", "{}", GetCurrentTimestamp());
  pg::SpiFinish();
  PG_RETURN_VOID();
}

// strata.partition_set_state(parent): live state of one set for the strata.partition_sets view.
STRATA_FUNCTION(strata_partition_set_state) {
  const Oid parent = PG_GETARG_OID(0);
  pg::SpiConnect();
  std::vector<SetRow> sets = LoadSets(parent);
  if (sets.empty()) {
    pg::SpiFinish();
    PG_RETURN_NULL();
  }
  const SetRow& set = sets[0];
  Facts f = ReadFacts(set, true);
  const core::Plan plan = core::PlanMaintenance(set.spec, f.state);
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  int ahead = 0;
  std::string pending;
  for (const auto& p : f.state.partitions) {
    lo = std::min(lo, p.range.lo);
    hi = std::max(hi, p.range.hi);
    if (f.state.reference && p.range.lo > *f.state.reference) ahead++;
    if (p.detach_pending) pending = core::QualifiedName(p.schema, p.name);
  }
  std::optional<std::string> default_rows;
  bool may_read_default = false;
  const Oid def = f.default_oid;
  pg::Call([&] { may_read_default = OidIsValid(def) && pg_class_aclcheck(def, GetUserId(), ACL_SELECT) == ACLCHECK_OK; });
  // The view is readable by everyone; the row count only by those who may read the default partition.
  if (may_read_default) {
    const auto rows = pg::Query("SELECT count(*) FROM ONLY " + core::QualifiedName(f.default_schema, f.default_name));
    default_rows = rows[0][0];
  }
  auto bound = [&](int64_t k) -> std::optional<std::string> {
    if (k == INT64_MAX || k == INT64_MIN || f.state.partitions.empty()) return std::nullopt;
    return core::KeyLiteral(set.spec.kind, k);
  };
  const std::optional<std::string> vals[7] = {
      std::to_string(f.state.partitions.size()), bound(lo), bound(hi), std::to_string(ahead),
      default_rows, pending.empty() ? std::nullopt : std::optional<std::string>(pending),
      std::to_string(plan.actions.size())};
  pg::SpiFinish();
  return pg::RowResult(fcinfo, pg::Row(std::begin(vals), std::end(vals)));
}

// strata._guard_selftest(kind): raises each kind of error through the guard (regression tests).
STRATA_FUNCTION(strata_guard_selftest) {
  const std::string kind = *pg::TextArg(fcinfo, 0);
  if (kind == "strata") throw core::Error(ERRCODE_INVALID_PARAMETER_VALUE, "strata error", "some detail", "some hint");
  if (kind == "bad_alloc") throw std::bad_alloc();
  if (kind == "std") throw std::runtime_error("std failure");
  if (kind == "unknown") throw 42;
  if (kind == "postgres") {
    // A Postgres ERROR under C++ frames: converted to PgError, re-raised with its SQLSTATE intact.
    std::string owned = "destructor must run";
    pg::Call([] { (void) DirectFunctionCall1(int4in, CStringGetDatum("not a number")); });
  }
  PG_RETURN_TEXT_P(cstring_to_text("ok"));
}
