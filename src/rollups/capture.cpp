// A raw source's change capture, shared by its rollups; see capture.hpp and README.md ("One capture per
// source").
#include <algorithm>
#include <cctype>
#include <climits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/naming.hpp"
#include "core/rollup_sql.hpp"
#include "pg/guc.hpp"
#include "pg/names.hpp"
#include "pg/security.hpp"
#include "pg/spi.hpp"
#include "rollups/capture.hpp"
#include "rollups/catalog.hpp"
#include "rollups/retention.hpp"

namespace strata::rollups {
namespace rs = core::rollup;
using Args = std::vector<std::optional<std::string>>;

bool RowTriggersInCatalog() {
  bool has = false;
  pg::Call([&] {
    const Oid ns = get_namespace_oid("strata", true);
    const Oid rel = OidIsValid(ns) ? get_relname_relid("rollup_source", ns) : InvalidOid;
    has = OidIsValid(rel) && get_attnum(rel, "row_triggers") != InvalidAttrNumber;
  });
  return has;
}

int CaptureIdOf(Oid source) {
  int id = 0;
  // Read first: refreshes and creates of the source's rollups must not serialize on its row.
  pg::AsExtensionOwner([&] {
    const Args a{std::to_string(source)};
    auto row = pg::Query("SELECT id FROM strata.rollup_source WHERE source = $1::pg_catalog.oid", a);
    if (row.empty()) {
      pg::Query("INSERT INTO strata.rollup_source (source) VALUES ($1::pg_catalog.oid) ON CONFLICT (source) DO NOTHING", a);
      row = pg::Query("SELECT id FROM strata.rollup_source WHERE source = $1::pg_catalog.oid", a);
    }
    id = std::stoi(*row.at(0).at(0));
  });
  return id;
}

std::string CaptureTrigger(int capture_id, bool update) {
  return "strata_changes_" + std::to_string(capture_id) + (update ? "_upd" : "_del");
}

std::string CaptureTruncateTrigger(int capture_id) { return "strata_changes_" + std::to_string(capture_id) + "_trunc"; }

namespace {

// Running statements of every session re-plan their capture statement: the relation cache entry of the
// source is invalidated at commit, which each backend hears of before its next lock.
void ReplanCaptures(Oid source) {
  pg::Call([&] {
    CacheInvalidateRelcacheByRelid(source);
  });
}

}  // namespace

void LockSourceTree(Oid source) {
  pg::Call([&] {
    List* rels = find_all_inheritors(source, ShareRowExclusiveLock, nullptr);
    list_free(rels);
  });
}

void AttachCapture(int rollup_id, Oid source, const rs::Spec& s) {
  const int capture = CaptureIdOf(source);
  pg::AsExtensionOwner([&] {
    const auto grain = pg::Query(
        "INSERT INTO strata.rollup_grain (source_id, bucket_expr, bucket_type, time_column) VALUES ($1::int, $2, $3, $4::name) "
        "ON CONFLICT (source_id, bucket_expr) DO UPDATE SET bucket_type = EXCLUDED.bucket_type RETURNING id",
        {std::to_string(capture), s.bucket_expr, s.bucket_type, s.time_column});
    pg::Query("UPDATE strata.rollup SET grain = $2::int, change_pos = $3::bigint, change_function = NULL WHERE id = $1::int",
              {std::to_string(rollup_id), *grain.at(0).at(0), std::to_string(ChangeLogEnd())});
  });
  ReplanCaptures(source);
}

void FollowGrain(const Rollup& r, const rs::Spec& now) {
  if (!r.grain) return;
  pg::AsExtensionOwner([&] {
    // Every rollup of the grain reads the same column: the first to follow the rename moves the grain.
    const auto same = pg::Query("SELECT id FROM strata.rollup_grain WHERE id = $1::int AND bucket_expr = $2",
                                {std::to_string(*r.grain), r.spec.bucket_expr});
    if (same.empty()) return;
    const auto taken = pg::Query("SELECT id FROM strata.rollup_grain g WHERE g.source_id = (SELECT source_id FROM "
                                 "strata.rollup_grain WHERE id = $1::int) AND g.bucket_expr = $2",
                                 {std::to_string(*r.grain), now.bucket_expr});
    if (!taken.empty()) {
      // Another grain has that expression already: this rollup moves to it; what its old grain logged
      // for it is still read (its position is kept and both grains are queued into its pending table).
      pg::Query("INSERT INTO strata.rollup_change (grain, b) SELECT $2::int, b FROM strata.rollup_change "
                "WHERE grain = $1::int AND pos > $3::bigint",
                {std::to_string(*r.grain), *taken[0][0], std::to_string(r.change_pos)});
      pg::Query("UPDATE strata.rollup SET grain = $2::int WHERE id = $1::int", {std::to_string(r.id), *taken[0][0]});
      return;
    }
    pg::Query("UPDATE strata.rollup_grain SET bucket_expr = $2, time_column = $3::name WHERE id = $1::int",
              {std::to_string(*r.grain), now.bucket_expr, now.time_column});
  });
  ReplanCaptures(r.source_oid);
}

void SyncCaptures() {
  std::vector<pg::Row> gone, changed;
  pg::AsExtensionOwner([&] {
    changed = pg::Query(
        "WITH g AS (DELETE FROM strata.rollup_grain g WHERE NOT EXISTS (SELECT 1 FROM strata.rollup r WHERE r.grain = g.id) "
        "  RETURNING g.id, g.source_id), "
        // Entries a writer holds right now are left (never waiting for an application's transaction):
        // of a grain that no longer exists, nobody reads them; the next sync deletes them.
        "c AS (DELETE FROM strata.rollup_change c WHERE c.ctid = ANY (ARRAY(SELECT e.ctid FROM strata.rollup_change e "
        "  WHERE e.grain IN (SELECT id FROM g) OR NOT EXISTS (SELECT 1 FROM strata.rollup_grain x WHERE x.id = e.grain) "
        "  FOR UPDATE OF e SKIP LOCKED))) "
        "SELECT DISTINCT s.source::pg_catalog.oid FROM g JOIN strata.rollup_source s ON s.id = g.source_id");
    gone = pg::Query(
        "DELETE FROM strata.rollup_source s WHERE NOT EXISTS (SELECT 1 FROM strata.rollup_grain g WHERE g.source_id = s.id) "
        "AND NOT EXISTS (SELECT 1 FROM strata.rollup r WHERE r.source = s.source AND r.source_rollup IS NULL) "
        "RETURNING s.id, s.source::pg_catalog.oid");
  });
  // A capture that goes needs no re-planning: its triggers go (or went with their relations).
  std::set<Oid> going;
  for (const auto& g : gone) going.insert(static_cast<Oid>(std::stoul(*g[1])));
  for (const auto& c : changed)
    if (!going.count(static_cast<Oid>(std::stoul(*c[0])))) ReplanCaptures(static_cast<Oid>(std::stoul(*c[0])));
  for (const auto& g : gone) {
    // Its triggers on every relation that still exists, each dropped as the relation's owner.
    const auto triggers = pg::Query(
        "SELECT g.tgrelid::pg_catalog.regclass::text, g.tgname, c.relowner FROM pg_catalog.pg_trigger g "
        "JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid WHERE g.tgname IN ($1, $2, $3) "
        "AND g.tgfoid = 'strata._rollup_capture()'::pg_catalog.regprocedure",
        {CaptureTrigger(std::stoi(*g[0]), true), CaptureTrigger(std::stoi(*g[0]), false),
         CaptureTruncateTrigger(std::stoi(*g[0]))});
    for (const auto& t : triggers)
      pg::AsRole(static_cast<Oid>(std::stoul(*t[2])),
                 [&] { pg::Exec("DROP TRIGGER " + core::QuoteIdent(*t[1]) + " ON " + *t[0]); });
  }
}

int64_t ChangeLogEnd() {
  int64_t end = 0;
  pg::AsExtensionOwner([&] {
    end = std::stoll(*pg::Query("SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END "
                                "FROM strata.rollup_change_pos").at(0).at(0));
  });
  return end;
}

bool HasChanges(const Rollup& r, int64_t upto) {
  if (!r.grain || upto <= r.change_pos) return false;
  bool any = false;
  pg::AsExtensionOwner([&] {
    any = *pg::Query("SELECT EXISTS (SELECT 1 FROM strata.rollup_change WHERE grain = $1::int AND pos > $2::bigint "
                     "AND pos <= $3::bigint)",
                     {std::to_string(*r.grain), std::to_string(r.change_pos), std::to_string(upto)})
               .at(0).at(0) == "t";
  });
  return any;
}

void ConsumeChanges(Rollup& r, int64_t upto) {
  if (!r.grain || upto <= r.change_pos) return;
  std::vector<pg::Row> got;
  // Read as the extension's owner (the log is not the reader's); queued as the refreshing role, which
  // owns (or may write) the pending table.
  pg::AsExtensionOwner([&] {
    got = pg::Query("SELECT pg_catalog.array_agg(DISTINCT b)::text FROM strata.rollup_change "
                    "WHERE grain = $1::int AND pos > $2::bigint AND pos <= $3::bigint",
                    {std::to_string(*r.grain), std::to_string(r.change_pos), std::to_string(upto)});
  });
  if (!got.empty() && got[0][0]) {
    const std::string& p = r.spec.pending_table;
    pg::Query("INSERT INTO " + p + " (b) SELECT v.x FROM (SELECT " + rs::LoggedBucket(r.spec.bucket_type, "u") +
                  " AS x FROM pg_catalog.unnest($1::pg_catalog.timestamptz[]) u) v WHERE NOT EXISTS (SELECT 1 FROM " + p +
                  " q WHERE q.b = v.x OR (q.b IS NULL AND v.x IS NULL))",
              {got[0][0]});
  }
  r.change_pos = upto;
}

void TrimChangeLog(int grain) {
  pg::AsExtensionOwner([&] {
    // Entries a writer holds right now are left (it is moving them to a new position): the refresh never
    // waits for an application's transaction.
    pg::Query("DELETE FROM strata.rollup_change WHERE ctid = ANY (ARRAY(SELECT ctid FROM strata.rollup_change "
              "WHERE grain = $1::int AND pos <= (SELECT pg_catalog.min(change_pos) FROM strata.rollup WHERE grain = $1::int) "
              "FOR UPDATE SKIP LOCKED))",
              {std::to_string(grain)});
  });
}

}  // namespace strata::rollups

// ---------------------------------------------------------------------------------------------------
// The capture trigger. Each backend keeps, per capture, its two planned statements and the relations
// of the source's tree; the relation cache invalidation of the source (grains changed, partitions
// attached or detached) drops them.

namespace strata::rollups {
namespace {

struct CachedCapture {
  Oid source = InvalidOid;
  std::set<Oid> tree;
  std::vector<rs::Grain> grains;
  // Planned at their first use on each relation (a DELETE has no new rows): a statement over a transition
  // table refers to its columns by number, and two relations of a tree may number them differently
  // (a partition made after a DROP COLUMN, or attached after LIKE).
  std::map<Oid, SPIPlanPtr> update, remove;
  bool row_triggers = false;  // rollup_source.row_triggers: row triggers expected
  bool valid = false;
};

std::map<int, CachedCapture>& Captures() {
  static std::map<int, CachedCapture> captures;
  return captures;
}

void OnRelcacheInvalidation(Datum, Oid relid) {
  // Cannot ERROR: only marks entries stale (their plans are freed at the next use).
  for (auto& [id, c] : Captures())
    if (relid == InvalidOid || relid == c.source || c.tree.count(relid)) c.valid = false;
}

void FreePlans(CachedCapture* c) {
  pg::Call([&] {
    for (auto& [rel, plan] : c->update) SPI_freeplan(plan);
    for (auto& [rel, plan] : c->remove) SPI_freeplan(plan);
  });
  c->update.clear();
  c->remove.clear();
}

SPIPlanPtr Prepare(const std::string& sql) {
  SPIPlanPtr plan = nullptr;
  pg::Call([&] {
    plan = SPI_prepare(sql.c_str(), 0, nullptr);
    if (plan == nullptr) elog(ERROR, "SPI_prepare failed (%d): %s", SPI_result, sql.c_str());
    if (SPI_keepplan(plan) != 0) elog(ERROR, "SPI_keepplan failed");
  });
  return plan;
}

// Reads the capture's source, tree and grains; plans its statements (as the extension's owner, who
// writes the log). Runs inside the trigger's SPI connection with its transition tables registered.
void Load(int id, CachedCapture* c) {
  static bool registered = false;
  if (!registered) {
    pg::Call([] { CacheRegisterRelcacheCallback(OnRelcacheInvalidation, 0); });
    registered = true;
  }
  FreePlans(c);
  c->valid = false;
  std::vector<pg::Row> src, grains;
  pg::AsExtensionOwner([&] {
    // row_triggers came with 0.14.0: a catalog not updated yet has statement triggers only.
    src = pg::Query(std::string("SELECT source::pg_catalog.oid, ") +
                        (RowTriggersInCatalog() ? "row_triggers" : "false") +
                        " FROM strata.rollup_source WHERE id = $1::int",
                    {std::to_string(id)});
    grains = pg::Query("SELECT id, bucket_expr, bucket_type, time_column FROM strata.rollup_grain WHERE source_id = $1::int "
                       "ORDER BY id",
                       {std::to_string(id)});
  });
  c->tree.clear();
  c->grains.clear();
  if (src.empty()) {  // no capture (any more): nothing to log
    c->source = InvalidOid;
    c->valid = true;
    return;
  }
  c->source = static_cast<Oid>(std::stoul(*src[0][0]));
  c->row_triggers = src[0][1] == std::optional<std::string>("t");
  List* rels = nullptr;
  pg::Call([&] { rels = find_all_inheritors(c->source, NoLock, nullptr); });
  ListCell* lc;
  foreach (lc, rels) c->tree.insert(lfirst_oid(lc));  // outside pg::Call: an insert may throw
  pg::Call([&] { list_free(rels); });
  for (const auto& g : grains) c->grains.push_back({std::stoi(*g[0]), *g[1], *g[2], *g[3]});
  c->valid = true;
}

// The capture statement over the rows of `from` (a FROM clause) in place of the transition table, read
// with the latest snapshot (TRUNCATE's and DROP's locks waited for the writers of rows committed after
// the transaction's snapshot, and those rows go too), as the extension's owner (who writes the log).
void LogRowsOf(const std::vector<rs::Grain>& grains, const std::string& relation_from) {
  std::string sql = rs::CaptureSql(grains, false);
  const std::string from = "FROM __strata_old";
  for (size_t at = sql.find(from); at != std::string::npos; at = sql.find(from, at + relation_from.size()))
    sql.replace(at, from.size(), relation_from);
  const char* text = sql.c_str();
  pg::AsExtensionOwner([&] {
    pg::Call([&] {
      SPIPlanPtr plan = SPI_prepare(text, 0, nullptr);
      if (plan == nullptr) elog(ERROR, "strata capture statement failed to prepare (%d)", SPI_result);
      const int rc = SPI_execute_snapshot(plan, nullptr, nullptr, GetLatestSnapshot(), InvalidSnapshot, false, false, 0);
      if (rc != SPI_OK_INSERT) elog(ERROR, "strata capture statement failed (%d)", rc);
      SPI_freeplan(plan);
    });
  });
}

// A row trigger's row as a one-row ephemeral table named as the statement trigger's transition table,
// so the capture statement (and its cached plan) is the same at both levels.
void RegisterRowAs(const char* name, Relation rel, HeapTuple tuple) {
  pg::Call([&] {
    EphemeralNamedRelation enr = static_cast<EphemeralNamedRelation>(palloc0(sizeof(EphemeralNamedRelationData)));
    enr->md.name = pstrdup(name);
    enr->md.reliddesc = RelationGetRelid(rel);
    enr->md.tupdesc = nullptr;
    enr->md.enrtype = ENR_NAMED_TUPLESTORE;
    enr->md.enrtuples = 1;
    Tuplestorestate* ts = tuplestore_begin_heap(false, false, work_mem);
    tuplestore_puttuple(ts, tuple);
    enr->reldata = ts;
    if (SPI_register_relation(enr) != SPI_OK_REL_REGISTER) elog(ERROR, "SPI_register_relation failed");
  });
}

// Row triggers fire once per row (apply of a transaction updating many rows of one hour): the rows'
// time columns already logged in this subtransaction are remembered, raw (fixed-width by-value types
// only; others are always logged), and such a row logs nothing more. Scoped to the subtransaction: an
// entry logged in one that rolled back is gone, so the next row logs it again.
bool SeenRow(int capture, TriggerData* td, bool update) {
  static LocalTransactionId lxid = InvalidLocalTransactionId;
  static SubTransactionId subxid = InvalidSubTransactionId;
  static std::set<std::string> seen;
  bool skip = false;
  std::string key;
  pg::Call([&] {
#if PG_VERSION_NUM >= 170000
    const LocalTransactionId now_lxid = MyProc->vxid.lxid;
#else
    const LocalTransactionId now_lxid = MyProc->lxid;
#endif
    if (now_lxid != lxid || GetCurrentSubTransactionId() != subxid) {
      lxid = now_lxid;
      subxid = GetCurrentSubTransactionId();
      seen.clear();  // cannot throw
    }
  });
  CachedCapture& c = Captures()[capture];
  if (!c.valid || !c.row_triggers || !c.tree.count(RelationGetRelid(td->tg_relation))) return false;  // the full path
  TupleDesc desc = RelationGetDescr(td->tg_relation);
  key = std::to_string(capture) + "/" + std::to_string(RelationGetRelid(td->tg_relation)) + (update ? "u" : "d");
  for (const auto& g : c.grains) {
    int att = 0;
    pg::Call([&] { att = SPI_fnumber(desc, g.time_column.c_str()); });
    if (att <= 0) return false;
    const Form_pg_attribute a = TupleDescAttr(desc, att - 1);
    if (!a->attbyval || a->attlen != 8) return false;
    for (HeapTuple t : {td->tg_trigtuple, update ? td->tg_newtuple : nullptr}) {
      if (t == nullptr) continue;
      bool isnull = false;
      Datum d = 0;
      pg::Call([&] { d = heap_getattr(t, att, desc, &isnull); });
      const int64 v = isnull ? 0 : DatumGetInt64(d);
      key += isnull ? "n" : "v";
      key.append(reinterpret_cast<const char*>(&v), sizeof v);
    }
  }
  // Bounded: past this many distinct rows a transaction's rows are logged one statement each again.
  constexpr size_t kSeenLimit = 100000;
  if (seen.size() >= kSeenLimit) seen.clear();
  skip = !seen.insert(key).second;
  return skip;
}

}  // namespace

void LogRelationRows(Oid rel, Oid parent, Oid target, const std::vector<std::pair<Oid, LOCKMODE>>& locks) {
  // Leaving (no parent given): the captures of the relation's ancestors, the relation in their tree.
  // Entering: those of the parent and its ancestors.
  const bool entering = OidIsValid(parent);
  std::vector<pg::Row> captures;
  pg::AsExtensionOwner([&] {
    captures = pg::Query(
        "WITH RECURSIVE up(r) AS (SELECT $2::pg_catalog.oid WHERE $2::pg_catalog.oid <> 0 "
        "UNION SELECT i.inhparent FROM pg_catalog.pg_inherits i WHERE i.inhrelid = $1::pg_catalog.oid AND $2::pg_catalog.oid = 0 "
        "UNION SELECT i.inhparent FROM pg_catalog.pg_inherits i JOIN up ON i.inhrelid = up.r) "
        "SELECT s.id FROM strata.rollup_source s WHERE s.source::pg_catalog.oid IN (SELECT r FROM up) "
        "AND s.source::pg_catalog.oid <> $1::pg_catalog.oid ORDER BY s.id",
        {std::to_string(rel), std::to_string(entering ? parent : InvalidOid)});
  });
  if (captures.empty()) return;
  // Only for a caller who may run the statement: its tables' owner (Postgres checks ownership before it
  // locks; nobody else may make this trigger lock and read a source). The statement reports the error.
  if (!pg::OwnsTable(target)) return;
  // The command's own locks, taken now in its order: no row can be added to the relation between this
  // read and the command.
  pg::Call([&] {
    for (const auto& [oid, mode] : locks)
      if (OidIsValid(oid)) LockRelationOid(oid, mode);
  });
  for (const auto& row : captures) {
    CachedCapture c;
    Load(std::stoi(*row[0]), &c);
    if (c.grains.empty() || (!entering && !c.tree.count(rel))) continue;
    LogRowsOf(c.grains, "FROM " + core::QualifiedName(pg::RelSchema(rel), pg::RelName(rel)));
  }
}

}  // namespace strata::rollups

using namespace strata;
using namespace strata::rollups;

// strata._on_tree_change(): ddl_command_start event trigger for DROP TABLE and ALTER TABLE: a table that
// leaves a captured source's tree by hand (DROP TABLE, DETACH PARTITION, NO INHERIT) or enters it (ATTACH
// PARTITION, INHERIT) gets its rows' buckets logged (LogRelationRows) first; retention's own DDL is left
// alone (its rows are frozen in every rollup).
STRATA_FUNCTION(strata_on_tree_change) {
  if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
    throw core::Error(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED, "strata._on_tree_change() may only run as an event trigger");
  if (InRetentionDdl()) PG_RETURN_VOID();
  Node* tree = reinterpret_cast<EventTriggerData*>(fcinfo->context)->parsetree;
  // What the command moves in or out of a tree: (relation, parent when it enters, the command's locks
  // in its order). Missing relations (IF EXISTS) are skipped: the command reports them itself.
  struct Move {
    Oid rel;
    Oid parent;
    Oid target;  // whose ownership the statement checks first (DROP: the table; ALTER: its target)
    std::vector<std::pair<Oid, LOCKMODE>> locks;
  };
  std::vector<Move> moves;
  std::vector<std::pair<Oid, Oid>> found;  // (rel, parent) per command, read under the guard first
  std::vector<int> kinds;                  // 0 drop, 1 detach, 2 detach concurrently, 3 attach, 4 inherit, 5 no inherit
  pg::Call([&] {
    if (IsA(tree, DropStmt) && castNode(DropStmt, tree)->removeType == OBJECT_TABLE) {
      ListCell* lc;
      foreach (lc, castNode(DropStmt, tree)->objects) {
        const Oid r = RangeVarGetRelid(makeRangeVarFromNameList(static_cast<List*>(lfirst(lc))), NoLock, true);
        if (!OidIsValid(r)) continue;
        found.emplace_back(r, get_rel_relispartition(r) ? get_partition_parent(r, true) : InvalidOid);
        kinds.push_back(0);
      }
    } else if (IsA(tree, AlterTableStmt)) {
      AlterTableStmt* at = castNode(AlterTableStmt, tree);
      const Oid target = RangeVarGetRelid(at->relation, NoLock, true);
      ListCell* lc;
      foreach (lc, at->cmds) {
        AlterTableCmd* cmd = lfirst_node(AlterTableCmd, lc);
        if (!OidIsValid(target)) break;
        if (cmd->subtype == AT_DetachPartition || cmd->subtype == AT_AttachPartition) {
          PartitionCmd* pc = castNode(PartitionCmd, cmd->def);
          const Oid r = RangeVarGetRelid(pc->name, NoLock, true);
          if (!OidIsValid(r)) continue;
          found.emplace_back(r, target);
          kinds.push_back(cmd->subtype == AT_AttachPartition ? 3 : pc->concurrent ? 2 : 1);
        } else if (cmd->subtype == AT_AddInherit || cmd->subtype == AT_DropInherit) {
          const Oid p = RangeVarGetRelid(castNode(RangeVar, cmd->def), NoLock, true);
          if (!OidIsValid(p)) continue;
          found.emplace_back(target, p);
          kinds.push_back(cmd->subtype == AT_AddInherit ? 4 : 5);
        }
      }
    }
  });
  for (size_t i = 0; i < found.size(); i++) {
    const auto [rel, parent] = found[i];
    // A partitioned parent's default partition: DROP of a partition locks it after the partition, DETACH
    // before it (each changes its partition constraint).
    Oid def = InvalidOid;
    if (OidIsValid(parent) && (kinds[i] == 0 || kinds[i] == 1))
      pg::Call([&] {
        if (get_rel_relkind(parent) == RELKIND_PARTITIONED_TABLE) def = get_default_partition_oid(parent);
      });
    if (def == rel) def = InvalidOid;
    switch (kinds[i]) {
      // DROP of a partition locks its parent first; DETACH locks the parent (the ALTER's target), then the
      // partition; CONCURRENTLY with the weaker lock it takes (rows written into the partition directly
      // while it waits for older snapshots are not logged).
      case 0: moves.push_back({rel, InvalidOid, rel, {{parent, AccessExclusiveLock}, {rel, AccessExclusiveLock}, {def, AccessExclusiveLock}}}); break;
      case 1: moves.push_back({rel, InvalidOid, parent, {{parent, AccessExclusiveLock}, {def, AccessExclusiveLock}, {rel, AccessExclusiveLock}}}); break;
      case 2: moves.push_back({rel, InvalidOid, parent, {{parent, ShareUpdateExclusiveLock}, {rel, ShareUpdateExclusiveLock}}}); break;
      case 3: moves.push_back({rel, parent, parent, {{parent, ShareUpdateExclusiveLock}, {rel, AccessExclusiveLock}}}); break;
      // INHERIT / NO INHERIT: the child is the ALTER's target, locked first.
      case 4: moves.push_back({rel, parent, rel, {{rel, AccessExclusiveLock}, {parent, ShareUpdateExclusiveLock}}}); break;
      case 5: moves.push_back({rel, InvalidOid, rel, {{rel, AccessExclusiveLock}, {parent, AccessShareLock}}}); break;
    }
  }
  if (moves.empty()) PG_RETURN_VOID();
  bool pushed = false;
  pg::Call([&] {
    if (!ActiveSnapshotSet()) {
      PushActiveSnapshot(GetTransactionSnapshot());
      pushed = true;
    }
  });
  // The caller's lock_timeout for the statement's locks (pinning sets strata.lock_timeout, meant for
  // strata's own DDL): the statement waits as it would without strata.
  std::string caller_lock_timeout;
  pg::Call([&] { caller_lock_timeout = GetConfigOption("lock_timeout", false, false); });
  pg::SpiConnect();
  const int level = pg::NewGucLevel();
  PinSessionForRollupSql();
  pg::SetGuc("lock_timeout", caller_lock_timeout);
  if (RollupCatalogExists())
    for (const auto& m : moves) LogRelationRows(m.rel, m.parent, m.target, m.locks);
  pg::RestoreGucs(level);
  pg::SpiFinish();
  if (pushed) pg::Call([] { PopActiveSnapshot(); });
  PG_RETURN_VOID();
}

namespace {

// strata._rollup_capture() fired other than as one of strata's own capture triggers.
[[noreturn]] void RefuseCall() {
  throw core::Error(ERRCODE_INSUFFICIENT_PRIVILEGE,
                    "strata._rollup_capture() may only fire as strata's AFTER UPDATE or DELETE or BEFORE TRUNCATE "
                    "statement trigger (row triggers on a subscription's target)", {},
                    "strata attaches it to the sources of rollups itself; do not call or attach it.");
}

}  // namespace

// strata._rollup_capture(): AFTER UPDATE / AFTER DELETE ... FOR EACH STATEMENT trigger with transition
// tables __strata_old (and __strata_new), or BEFORE TRUNCATE ... FOR EACH STATEMENT (the rows about to go
// are read from the relation itself), or on a capture in row mode BEFORE UPDATE / AFTER DELETE ... FOR EACH
// ROW (the row as a one-row table of the same name); argument the capture's id.
STRATA_FUNCTION(strata_rollup_capture) {
  TriggerData* td = CALLED_AS_TRIGGER(fcinfo) ? reinterpret_cast<TriggerData*>(fcinfo->context) : nullptr;
  const bool update = td != nullptr && TRIGGER_FIRED_BY_UPDATE(td->tg_event);
  const bool truncate = td != nullptr && TRIGGER_FIRED_BY_TRUNCATE(td->tg_event) && TRIGGER_FIRED_BEFORE(td->tg_event) &&
                        TRIGGER_FIRED_FOR_STATEMENT(td->tg_event) && td->tg_trigger->tgnargs == 1;
  // On a subscription's target (row_triggers): BEFORE UPDATE / AFTER DELETE ... FOR EACH ROW, no transition
  // table. BEFORE UPDATE: an UPDATE moving a row to another partition fires only the DELETE's AFTER
  // triggers (on the old partition), but the UPDATE's BEFORE triggers too, which see the new row.
  const bool row = td != nullptr && !truncate && TRIGGER_FIRED_FOR_ROW(td->tg_event) &&
                   ((update && TRIGGER_FIRED_BEFORE(td->tg_event)) ||
                    (TRIGGER_FIRED_BY_DELETE(td->tg_event) && TRIGGER_FIRED_AFTER(td->tg_event))) &&
                   td->tg_trigger->tgnargs == 1 && td->tg_trigger->tgoldtable == nullptr &&
                   td->tg_trigger->tgnewtable == nullptr;
  // What the trigger returns: a BEFORE UPDATE row trigger the new row unchanged, every other nothing.
  const Datum result = row && update ? PointerGetDatum(td->tg_newtuple) : PointerGetDatum(nullptr);
  if (!truncate && !row &&
      (td == nullptr || !TRIGGER_FIRED_AFTER(td->tg_event) || !TRIGGER_FIRED_FOR_STATEMENT(td->tg_event) ||
       !(update || TRIGGER_FIRED_BY_DELETE(td->tg_event)) || td->tg_trigger->tgnargs != 1 ||
       td->tg_trigger->tgoldtable == nullptr || strcmp(td->tg_trigger->tgoldtable, "__strata_old") != 0 ||
       (update && (td->tg_trigger->tgnewtable == nullptr || strcmp(td->tg_trigger->tgnewtable, "__strata_new") != 0))))
    RefuseCall();
  const char* arg = td->tg_trigger->tgargs[0];
  char* end = nullptr;
  const long id = strtol(arg, &end, 10);
  if (end == arg || *end != '\0' || id <= 0 || id > INT_MAX)
    throw core::Error(ERRCODE_INVALID_PARAMETER_VALUE, std::string("invalid capture id \"") + arg + "\"");
  const Oid rel = RelationGetRelid(td->tg_relation);
  // A row whose time columns this subtransaction has logged already logs the same buckets again: skipped.
  if (row && SeenRow(static_cast<int>(id), td, update)) return result;
  pg::SpiConnect();
  // The transition tables (or, for a row trigger, the row as a one-row table of the same name), for
  // planning the capture statement and for running it.
  if (row) {
    RegisterRowAs("__strata_old", td->tg_relation, td->tg_trigtuple);
    if (update) RegisterRowAs("__strata_new", td->tg_relation, td->tg_newtuple);
  } else if (!truncate) {
    pg::Call([&] {
      if (SPI_register_trigger_data(td) != SPI_OK_TD_REGISTER) elog(ERROR, "SPI_register_trigger_data failed");
    });
  }
  CachedCapture& c = Captures()[static_cast<int>(id)];
  if (!c.valid) Load(static_cast<int>(id), &c);
  // A row trigger only where strata made one: on a capture in row mode.
  if (row && !c.row_triggers) Load(static_cast<int>(id), &c);
  if (row && !c.row_triggers)
    RefuseCall();
  // A relation outside the source's tree (detached, being cleaned up) logs nothing; a relation new in
  // the tree whose invalidation has not arrived yet is looked up once more.
  if (!c.grains.empty() && !c.tree.count(rel)) Load(static_cast<int>(id), &c);
  if (!c.grains.empty() && c.tree.count(rel) && truncate) {
    // The relation's own rows (ONLY: each relation of a truncated tree fires its own trigger), as the
    // rows a DELETE of them all would pass in its transition table. TRUNCATE is rare: not cached.
    LogRowsOf(c.grains, "FROM ONLY " + core::QualifiedName(pg::RelSchema(rel), pg::RelName(rel)));
  } else if (!c.grains.empty() && c.tree.count(rel)) {
    SPIPlanPtr& plan = (update ? c.update : c.remove)[rel];
    pg::AsExtensionOwner([&] {
      if (plan == nullptr) plan = Prepare(rs::CaptureSql(c.grains, update));
      pg::Call([&] {
        const int rc = SPI_execute_plan(plan, nullptr, nullptr, false, 0);
        if (rc != SPI_OK_INSERT) elog(ERROR, "strata capture statement failed (%d)", rc);
      });
    });
  }
  pg::SpiFinish();
  return result;
}

// strata._rollup_capture_sync(): SyncCaptures, for the sql_drop event trigger.
STRATA_FUNCTION(strata_rollup_capture_sync) {
  pg::SpiConnect();
  SyncCaptures();
  pg::SpiFinish();
  PG_RETURN_VOID();
}
