// A raw source's hooks and how a rollup keeps up with its source's DDL: the change triggers on every
// relation of the source's tree (and the order column's default where identity is not inherited), the
// definition view that makes Postgres refuse type changes and drops of the columns a rollup reads,
// following renamed columns, the ALTER/CREATE TABLE event trigger, and bringing rollups made before
// 0.9.0 up to date. See hooks.hpp; the design note is README.md in this folder.
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
#include "core/rollup_sql.hpp"
#include "jobs/job_runs.hpp"
#include "pg/guc.hpp"
#include "pg/names.hpp"
#include "pg/security.hpp"
#include "pg/spi.hpp"
#include "pg/xact.hpp"
#include "rollups/analyze.hpp"
#include "rollups/capture.hpp"
#include "rollups/catalog.hpp"
#include "rollups/hooks.hpp"

namespace strata::rollups {
using core::Error;
namespace rs = core::rollup;

void ProtectLegacy(Rollup& r) {
  if (!r.missing.empty()) return;
  // Not inside the extension's update script: objects made there would become members of the extension,
  // and a function not of the extension cannot be replaced there.
  const auto state = pg::Query(
      "SELECT a.attnotnull, p.relowner = (SELECT extowner FROM pg_catalog.pg_extension WHERE extname = 'strata'), "
      "  c.relowner, n.nspname, v.relname, "
      "  (SELECT s.relowner FROM strata.rollup y JOIN pg_catalog.pg_class s ON s.oid = y.data_table WHERE y.id = $4::int) "
      "FROM pg_catalog.pg_class p JOIN pg_catalog.pg_attribute a ON a.attrelid = p.oid AND a.attname = 'b' "
      "JOIN pg_catalog.pg_class c ON c.oid = $2::pg_catalog.oid "
      "JOIN pg_catalog.pg_class v ON v.oid = $3::pg_catalog.oid JOIN pg_catalog.pg_namespace n ON n.oid = v.relnamespace "
      "WHERE p.oid = $1::pg_catalog.oid",
      {std::to_string(r.pending_oid), std::to_string(r.data_oid), std::to_string(r.view_oid),
       r.source_rollup ? std::optional<std::string>(std::to_string(*r.source_rollup)) : std::nullopt});
  if (state.empty()) return;
  const auto& st = state[0];
  const Oid owner = static_cast<Oid>(std::stoul(*st[2]));
  bool changed = false;
  if (*st[0] == "t") {  // the NULL bucket is queued too
    pg::AsExtensionOwner([&] { pg::Exec("ALTER TABLE " + r.spec.pending_table + " ALTER COLUMN b DROP NOT NULL"); });
    changed = true;
  }
  if (r.spec.source_is_rollup) {
    if (*st[1] != "t" && st[5]) {
      const Oid source_owner = static_cast<Oid>(std::stoul(*st[5]));
      pg::AsRole(owner, [&] { ShareDependentPending(r.spec.pending_table, source_owner); });
      changed = true;
    }
  } else if (!OidIsValid(r.definition)) {
    const std::string definition = core::QualifiedName(*st[3], core::PartitionName(*st[4], "definition"));
    pg::AsRole(owner, [&] { pg::Exec(rs::DefinitionViewSql(r.spec, definition)); });
    ProtectDefinition(definition);
    pg::AsExtensionOwner([&] {
      pg::Query("UPDATE strata.rollup SET definition = $2::regclass WHERE id = $1::int", {std::to_string(r.id), definition});
    });
    r.definition = static_cast<Oid>(std::stoul(*pg::Query("SELECT $1::pg_catalog.regclass::pg_catalog.oid", {definition}).at(0).at(0)));
    FollowSource(r, true);
    changed = true;
  }
  if (changed) {
    const std::string msg = "rollup " + r.view + " brought up to strata 0.9.0 (definition view, pending table)";
    pg::Call([&] { ereport(LOG, (errmsg("strata: %s", msg.c_str()))); });
  }
}

void ShareDependentPending(const std::string& pending, Oid source_owner) {
  // The source rollup's refresh (as its owner) queues buckets here. So that it never writes into a
  // table whose owner could attach code to it (a trigger, a rule, row security running as the writer),
  // the table belongs to the extension's owner; the rollup's creator takes buckets from it, the source's
  // owner adds them.
  const std::string me = pg::RoleName(GetUserId());
  const std::string writer = pg::RoleName(source_owner);
  pg::AsExtensionOwner([&] {
    pg::Exec("ALTER TABLE " + pending + " OWNER TO " + core::QuoteIdent(pg::RoleName(pg::ExtensionOwner())));
    pg::Exec("GRANT SELECT, INSERT, DELETE ON " + pending + " TO " + core::QuoteIdent(me));
    pg::Exec("GRANT INSERT ON " + pending + " TO " + core::QuoteIdent(writer));
  });
}

void ProtectDefinition(const std::string& definition) {
  // What strata attaches to user tables goes with the extension: DROP EXTENSION strata CASCADE drops
  // the definition view (and the capture's triggers, which call the extension's function).
  const auto oids = pg::Query("SELECT $1::pg_catalog.regclass::pg_catalog.oid, "
                              "(SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'strata')",
                              {definition});
  const Oid view = static_cast<Oid>(std::stoul(*oids.at(0).at(0)));
  const Oid ext = static_cast<Oid>(std::stoul(*oids[0][1]));
  pg::Call([&] {
    ObjectAddress extension, object;
    ObjectAddressSet(extension, ExtensionRelationId, ext);
    ObjectAddressSet(object, RelationRelationId, view);
    recordDependencyOn(&object, &extension, DEPENDENCY_NORMAL);
  });
}

// Creates the statement triggers and (PostgreSQL 15/16: identity is not inherited by partitions) the
// order column's default on every leaf partition of a raw source that lacks them. Returns the number
// of leaves changed. DDL runs with strata.lock_timeout.
namespace {

// The relation $1 and every relation below it (partitions at every level, inheritance children), with
// its depth: the relations a rollup of $1 reads.
constexpr const char* kTreeOf1 =
    "WITH RECURSIVE tree(relid, level) AS (SELECT $1::pg_catalog.oid, 0 UNION ALL "
    "  SELECT i.inhrelid, t.level + 1 FROM pg_catalog.pg_inherits i JOIN tree t ON i.inhparent = t.relid) ";

// Set while EnsureSourceHooks or the ALTER TABLE event trigger runs: the ALTER TABLE statements they run
// (ENABLE ALWAYS, SET DEFAULT) fire the event trigger again, which must then do nothing (the outer call
// works from the state it read).
int hooks_depth = 0;
// Set while the event trigger runs: a trigger found disabled is the statement's own doing, and no write
// has passed it yet.
bool in_ddl_event = false;

// Counts a nesting level for the life of the call, also when it ends by an exception.
template <class F>
void Nested(int* depth, F&& f) {
  ++*depth;
  try {
    f();
  } catch (...) {
    --*depth;
    throw;
  }
  --*depth;
}

}  // namespace

int EnsureSourceHooks(Oid source, const std::string& order_column, const std::string& sequence, bool queue_new) {
  int changed = 0;
  Nested(&hooks_depth, [&] { changed = EnsureSourceHooksNow(source, order_column, sequence, queue_new); });
  return changed;
}

namespace {

// The names of a capture's two triggers, on each relation of its source's tree.
struct TriggerNames {
  std::string upd, del, trunc;
  explicit TriggerNames(int capture)
      : upd(CaptureTrigger(capture, true)), del(CaptureTrigger(capture, false)), trunc(CaptureTruncateTrigger(capture)) {}
};
constexpr const char* kCaptureFunction = "strata._rollup_capture()";

// One relation of a raw source's tree, as EnsureSourceHooksNow finds it.
struct TreeRelation {
  std::string name;             // qualified
  bool lacks_trigger = false;   // no trigger of ours yet
  bool lacks_truncate = false;  // no TRUNCATE trigger of ours (a capture made before 0.11.0)
  bool stale_trigger = false;   // a trigger of our name calling another function (an earlier install's)
  bool needs_default = false;   // a partition whose order column lacks strata's sequence default
  bool own_order = false;       // a partition whose order column has an identity or default of its own
  bool foreign = false;         // a foreign table
  bool not_always = false;      // ours, but not ENABLE ALWAYS
  Oid owner = InvalidOid;
  bool disabled = false;        // ours, disabled (or enabled in replica mode only)
  bool partitioned = false;     // a partitioned table (row triggers go on its leaves, not on it)
  bool relevel = false;         // ours at the other level than the capture's mode (the mode changed)
};

// Every relation whose rows the rollup reads: the source, every level of its partition tree (a
// statement on an inner partitioned table fires that table's statement triggers only) and inheritance
// children, source first.
std::vector<TreeRelation> ReadTree(Oid source, const TriggerNames& t, const std::string& order_column,
                                   const std::string& sequence, bool row_level) {
  const auto rows = pg::Query(
      std::string(kTreeOf1) +
          "SELECT c.oid::pg_catalog.regclass::text, "
      "  NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgrelid = c.oid AND g.tgname = $2 "
      "    AND g.tgfoid = $4::pg_catalog.regprocedure), "
      "  EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgrelid = c.oid AND g.tgname IN ($2, $5, $7) "
      "    AND g.tgfoid <> $4::pg_catalog.regprocedure), "
      "  t.level > 0 AND a.attidentity = '' AND d.oid IS NULL, "
      "  t.level > 0 AND (a.attidentity <> '' OR (d.oid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend x "
      "    WHERE x.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND x.objid = d.oid "
      "    AND x.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND x.refobjid = $6::pg_catalog.regclass))), "
      "  c.relkind = 'f', "
      "  EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgrelid = c.oid AND g.tgname IN ($2, $5, $7) "
      "    AND g.tgfoid = $4::pg_catalog.regprocedure AND g.tgenabled <> 'A'), "
      "  c.relowner, "
      "  EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgrelid = c.oid AND g.tgname IN ($2, $5, $7) "
      "    AND g.tgfoid = $4::pg_catalog.regprocedure AND g.tgenabled IN ('D', 'R')), "
      "  NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgrelid = c.oid AND g.tgname = $7 "
      "    AND g.tgfoid = $4::pg_catalog.regprocedure), "
      // Our UPDATE/DELETE triggers at the other level than the capture's mode wants (statement triggers
      // with transition tables; row triggers on a subscription's target, never on a partitioned table).
      "  EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgrelid = c.oid AND g.tgname IN ($2, $5) "
      "    AND g.tgfoid = $4::pg_catalog.regprocedure "
      "    AND ((g.tgtype::int & 1 = 1) <> $8::bool OR ($8::bool AND c.relkind = 'p'))), "
      "  c.relkind = 'p' "
      "FROM tree t JOIN pg_catalog.pg_class c ON c.oid = t.relid "
      "LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attname = $3::name AND NOT a.attisdropped "
      "LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum "
      "ORDER BY t.level, c.oid",
      {std::to_string(source), t.upd, order_column, kCaptureFunction, t.del, sequence, t.trunc, row_level ? "t" : "f"});
  std::vector<TreeRelation> rels;
  for (const auto& r : rows) {
    TreeRelation x;
    x.name = *r[0];
    x.lacks_trigger = *r[1] == "t";
    x.stale_trigger = *r[2] == "t";
    x.needs_default = *r[3] == "t";
    x.own_order = *r[4] == "t";
    x.foreign = *r[5] == "t";
    x.not_always = *r[6] == "t";
    x.owner = static_cast<Oid>(std::stoul(*r[7]));
    x.disabled = *r[8] == "t";
    x.lacks_truncate = *r[9] == "t";
    x.partitioned = *r[11] == "t";
    if (*r[10] == "t") {
      // Made at the other level: dropped and made again (all three), as an earlier install's would be.
      x.stale_trigger = true;
      x.lacks_trigger = true;
      x.relevel = true;
    }
    // In row mode a partitioned table carries only the TRUNCATE trigger (a row trigger there would be
    // cloned onto every partition; each leaf gets its own).
    if (row_level && x.partitioned) x.lacks_trigger = false;
    rels.push_back(std::move(x));
  }
  return rels;
}

// Refuses a tree holding a relation the rollup cannot track: a foreign table, or a partition numbering
// its rows with order values of its own.
void RefuseUntrackable(const std::vector<TreeRelation>& rels, const std::string& shown, const std::string& order_column,
                       const std::string& sequence) {
  for (const auto& r : rels) {
    if (r.foreign)
      throw Error(ERRCODE_FEATURE_NOT_SUPPORTED, "foreign table " + r.name + " in " + shown + " cannot be tracked by a rollup",
                  "Its rows' updates and deletes cannot be seen (no statement triggers with transition tables on a foreign "
                  "table).",
                  "Detach it, or keep it out of the tables rollups read.");
    if (r.own_order)
      throw Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                  "column \"" + order_column + "\" of " + r.name + " is not filled by " + sequence,
                  "Its own identity or default gives rows order values the rollup of " + shown + " cannot place "
                  "(a table made with LIKE ... INCLUDING ALL, then attached).",
                  "ALTER TABLE " + r.name + " ALTER COLUMN " + core::QuoteIdent(order_column) +
                      " DROP IDENTITY IF EXISTS, ALTER COLUMN " + core::QuoteIdent(order_column) +
                      " SET DEFAULT nextval('" + sequence + "').");
  }
}

// Queues buckets of an absorbed rollup for a recompute. Buckets are queued as the rollup's owner (the
// pending table is its), from the bucket expression only: never the rollup's filter, which is its
// owner's code and may run here from another role's DDL.
class BucketQueue {
 public:
  explicit BucketQueue(Rollup r)
      : r_(std::move(r)),
        owner_(static_cast<Oid>(std::stoul(*pg::Query("SELECT relowner FROM pg_catalog.pg_class WHERE oid = $1::pg_catalog.oid",
                                                      {std::to_string(r.data_oid)})
                                                .at(0)
                                                .at(0)))) {}
  // Every bucket the rollup holds, once per call of EnsureSourceHooksNow.
  void AllHeld() {
    if (all_queued_) return;
    Queue("SELECT DISTINCT " + core::QuoteIdent(r_.spec.bucket_name) + " FROM " + r_.spec.data_table, false);
    all_queued_ = true;
  }
  const std::string& View() const { return r_.view; }
  // The buckets of rel's rows the watermark has passed.
  void PassedRows(const std::string& rel) {
    const rs::Spec& s = r_.spec;
    Queue("SELECT DISTINCT " + s.bucket_expr + " FROM ONLY " + rel + " WHERE " + core::QuoteIdent(s.order_column) +
              " <= $1::bigint",
          true);
  }

 private:
  void Queue(const std::string& select, bool watermark) {
    pg::AsRole(owner_, [&] {
      pg::Query("INSERT INTO " + r_.spec.pending_table + " (b) " + select,
                watermark ? pg::Row{std::to_string(r_.watermark)} : pg::Row{});
    });
  }
  Rollup r_;
  Oid owner_;
  bool all_queued_ = false;
};

// The queues of every rollup of the source that has absorbed rows, loaded at the first use.
class SourceQueues {
 public:
  explicit SourceQueues(Oid source) : source_(source) {}
  std::vector<BucketQueue>& All() {
    if (!loaded_) {
      std::vector<pg::Row> ids;
      pg::AsExtensionOwner([&] {
        ids = pg::Query("SELECT id FROM strata.rollup WHERE source = $1::pg_catalog.oid AND source_rollup IS NULL "
                        "AND watermark IS NOT NULL ORDER BY id",
                        {std::to_string(source_)});
      });
      for (const auto& id : ids) {
        Rollup r = LoadRollup(std::stoi(*id[0]), false);
        if (r.missing.empty()) queues_.emplace_back(std::move(r));
      }
      loaded_ = true;
    }
    return queues_;
  }
  std::string Names() {
    std::string out;
    for (auto& q : All()) out += (out.empty() ? "" : ", ") + q.View();
    return out;
  }

 private:
  Oid source_;
  bool loaded_ = false;
  std::vector<BucketQueue> queues_;
};

// Brings one relation of the tree up to date: our triggers (re)created and ENABLE ALWAYS, the buckets
// its rows may have changed queued (`queue`: the absorbed rollup's, or null at creation), the order
// column's default set. Returns the changes counted (triggers made or re-enabled after a disable, the
// default set).
int HookRelation(const TreeRelation& r, const TriggerNames& t, int capture, const std::string& order_column,
                 const std::string& sequence, SourceQueues* queues, bool queue_new, bool row_level) {
  int changed = 0;
  if (r.stale_trigger) {
    // As the table's owner (the refreshing role may only read the source).
    pg::AsRole(r.owner, [&] {
      pg::Exec("DROP TRIGGER IF EXISTS " + core::QuoteIdent(t.upd) + " ON " + r.name);
      pg::Exec("DROP TRIGGER IF EXISTS " + core::QuoteIdent(t.del) + " ON " + r.name);
      pg::Exec("DROP TRIGGER IF EXISTS " + core::QuoteIdent(t.trunc) + " ON " + r.name);
    });
  }
  if (r.lacks_trigger) {
    // Made as the extension's owner, who alone may execute the capture function.
    const std::string call = "strata._rollup_capture(" + core::QuoteLiteral(std::to_string(capture)) + ")";
    pg::AsExtensionOwner([&] {
      if (row_level) {
        // A subscription's apply fires row triggers only, and no trigger with transition tables.
        // BEFORE: an UPDATE moving a row to another partition fires the UPDATE's BEFORE triggers (with
        // the new row) but only the DELETE's AFTER ones.
        pg::Exec("CREATE TRIGGER " + core::QuoteIdent(t.upd) + " BEFORE UPDATE ON " + r.name +
                 " FOR EACH ROW EXECUTE FUNCTION " + call);
        pg::Exec("CREATE TRIGGER " + core::QuoteIdent(t.del) + " AFTER DELETE ON " + r.name +
                 " FOR EACH ROW EXECUTE FUNCTION " + call);
        return;
      }
      pg::Exec("CREATE TRIGGER " + core::QuoteIdent(t.upd) + " AFTER UPDATE ON " + r.name +
               " REFERENCING OLD TABLE AS __strata_old NEW TABLE AS __strata_new FOR EACH STATEMENT EXECUTE FUNCTION " +
               call);
      pg::Exec("CREATE TRIGGER " + core::QuoteIdent(t.del) + " AFTER DELETE ON " + r.name +
               " REFERENCING OLD TABLE AS __strata_old FOR EACH STATEMENT EXECUTE FUNCTION " + call);
    });
    changed++;
  }
  // TRUNCATE removes rows without row events: the trigger logs the buckets of the rows it removes.
  if (r.lacks_truncate || r.stale_trigger) {
    const std::string call = "strata._rollup_capture(" + core::QuoteLiteral(std::to_string(capture)) + ")";
    pg::AsExtensionOwner([&] {
      pg::Exec("CREATE TRIGGER " + core::QuoteIdent(t.trunc) + " BEFORE TRUNCATE ON " + r.name +
               " FOR EACH STATEMENT EXECUTE FUNCTION " + call);
    });
    pg::AsRole(r.owner, [&] { pg::Exec("ALTER TABLE " + r.name + " ENABLE ALWAYS TRIGGER " + core::QuoteIdent(t.trunc)); });
    if (!r.lacks_trigger) changed++;
  }
  // Fired in every session_replication_role (pg_restore --disable-triggers and bulk loaders run as
  // replica). Enabling a trigger is ALTER TABLE: done as the table's owner, for strata's own trigger.
  const bool has_row_events = !(row_level && r.partitioned);
  if ((r.lacks_trigger || r.not_always) && has_row_events) {
    pg::AsRole(r.owner, [&] {
      pg::Exec("ALTER TABLE " + r.name + " ENABLE ALWAYS TRIGGER " + core::QuoteIdent(t.upd) + ", ENABLE ALWAYS TRIGGER " +
               core::QuoteIdent(t.del) + (r.lacks_truncate || r.stale_trigger ? std::string()
                                                                               : ", ENABLE ALWAYS TRIGGER " + core::QuoteIdent(t.trunc)));
    });
  } else if (r.not_always && !r.lacks_truncate && !r.stale_trigger) {
    pg::AsRole(r.owner, [&] { pg::Exec("ALTER TABLE " + r.name + " ENABLE ALWAYS TRIGGER " + core::QuoteIdent(t.trunc)); });
  }
  if (!r.lacks_trigger && r.disabled && !in_ddl_event && !queues->All().empty()) {
    // Someone disabled our triggers (ALTER TABLE ... DISABLE TRIGGER, or ENABLE REPLICA) and writes
    // may have passed them: what changed meanwhile is unknown, so every bucket the rollup holds (once)
    // and every bucket of this relation's absorbed rows is recomputed. (From the event trigger of that
    // very ALTER TABLE nothing has passed yet. A trigger of 0.8.0, enabled in origin mode only, is just
    // made ALWAYS.)
    for (auto& q : queues->All()) {
      q.AllHeld();
      q.PassedRows(r.name);
    }
    const std::string msg = "change triggers of rollups " + queues->Names() + " were disabled on " + r.name +
                            ": enabled again, every bucket queued for a recompute";
    for (auto& q : queues->All()) jobs::RecordJob("rollup_tracking", q.View(), "ok", msg, "{}", GetCurrentTimestamp());
    pg::Call([&] { ereport(LOG, (errmsg("strata: %s", msg.c_str()))); });
    changed++;
  } else if (r.relevel && !queues->All().empty()) {
    // The capture changed mode (its source became a subscription's target, or stopped being one): what
    // apply changed while only the other level's triggers were there was not seen (apply fires no
    // statement trigger), so every bucket the rollups hold and every bucket of this relation's absorbed
    // rows is recomputed, as after a disable.
    for (auto& q : queues->All()) {
      q.AllHeld();
      q.PassedRows(r.name);
    }
    const std::string msg = "change triggers of rollups " + queues->Names() + " on " + r.name + " changed to " +
                            (row_level ? "row" : "statement") + " level: every bucket queued for a recompute";
    for (auto& q : queues->All()) jobs::RecordJob("rollup_tracking", q.View(), "ok", msg, "{}", GetCurrentTimestamp());
    changed++;
  } else if (r.lacks_trigger && queue_new) {
    // A relation that joins the tree after rollups were made (ATTACH PARTITION of a filled table)
    // may hold rows with order values their watermarks have passed: their buckets are recomputed, which
    // reads every processed order value, so they are absorbed instead of passed by.
    for (auto& q : queues->All()) q.PassedRows(r.name);
  }
  if (r.needs_default) {
    pg::Exec("ALTER TABLE " + r.name + " ALTER COLUMN " + core::QuoteIdent(order_column) +
             " SET DEFAULT pg_catalog.nextval(" + core::QuoteLiteral(sequence) + "::pg_catalog.regclass)");
    changed++;
  }
  return changed;
}

// The capture's mode: row triggers when the source's tree (or an ancestor) is a logical replication
// subscription's target, statement triggers otherwise; recorded in strata.rollup_source when it changes
// (a subscription made or dropped after the rollups), and the triggers follow (ReadTree: other level).
bool RowCaptureMode(Oid source, int capture) {
  bool row = false;
  if (!RowTriggersInCatalog()) return false;
  pg::AsExtensionOwner([&] {
    row = pg::Query(std::string(kTreeOf1) +
                        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_subscription_rel r WHERE r.srrelid IN (SELECT relid FROM tree) "
                        "OR r.srrelid IN (SELECT a.relid::pg_catalog.oid FROM pg_catalog.pg_partition_ancestors($1::pg_catalog.oid::pg_catalog.regclass) a))",
                        {std::to_string(source)})
              .at(0)
              .at(0) == std::optional<std::string>("t");
    pg::Query("UPDATE strata.rollup_source SET row_triggers = $2::bool WHERE id = $1::int AND row_triggers <> $2::bool",
              {std::to_string(capture), row ? "t" : "f"});
  });
  return row;
}

// A relation that left the tree (DETACH PARTITION, NO INHERIT) stops affecting the rollup: its triggers
// go (the change function ignores them meanwhile), dropped as its owner. Returns how many relations.
int DropLeftTriggers(Oid source, const TriggerNames& t) {
  const auto gone = pg::Query(
      std::string(kTreeOf1) +
          "SELECT DISTINCT g.tgrelid::pg_catalog.regclass::text, c.relowner FROM pg_catalog.pg_trigger g "
      "JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid WHERE g.tgname IN ($2, $3, $5) "
      "AND g.tgfoid = $4::pg_catalog.regprocedure AND g.tgrelid NOT IN (SELECT relid FROM tree)",
      {std::to_string(source), t.upd, t.del, kCaptureFunction, t.trunc});
  for (const auto& g : gone) {
    pg::AsRole(static_cast<Oid>(std::stoul(*g[1])), [&] {
      pg::Exec("DROP TRIGGER IF EXISTS " + core::QuoteIdent(t.upd) + " ON " + *g[0]);
      pg::Exec("DROP TRIGGER IF EXISTS " + core::QuoteIdent(t.del) + " ON " + *g[0]);
      pg::Exec("DROP TRIGGER IF EXISTS " + core::QuoteIdent(t.trunc) + " ON " + *g[0]);
    });
  }
  return static_cast<int>(gone.size());
}

}  // namespace

int EnsureSourceHooksNow(Oid source, const std::string& order_column, const std::string& sequence, bool queue_new) {
  const int capture = CaptureIdOf(source);
  const TriggerNames t(capture);
  // The order column's sequence is how new rows are found (DROP IDENTITY drops it).
  if (pg::Query("SELECT pg_catalog.to_regclass($1) IS NULL", {sequence}).at(0).at(0) == std::optional<std::string>("t"))
    throw Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                "the sequence of order column \"" + order_column + "\" of the source of rollup " +
                    pg::RelName(source) + " is gone",
                "A rollup finds new rows by the values of that sequence.",
                "Drop the rollup (strata.drop_rollup) before dropping the column's identity or sequence.");
  const bool row_level = RowCaptureMode(source, capture);
  const std::vector<TreeRelation> rels = ReadTree(source, t, order_column, sequence, row_level);
  const std::string shown = rels.empty() ? std::to_string(source) : rels[0].name;
  RefuseUntrackable(rels, shown, order_column, sequence);
  SourceQueues queues(source);
  int changed = 0;
  for (const auto& r : rels)
    changed += HookRelation(r, t, capture, order_column, sequence, &queues, queue_new, row_level);
  return changed + DropLeftTriggers(source, t);
}

bool FollowSource(Rollup& r, bool quiet) {
  if (r.spec.source_is_rollup || !OidIsValid(r.definition)) return false;
  CheckRelationsExist(r);
  const rs::Spec now = ReadDefinition(r.view, r.definition, r.spec);
  if (!SpecDiffers(now, r.spec)) return false;

  // The catalog first, then the change function (as its owner: it runs with the owner's rights).
  pg::AsExtensionOwner([&] {
    pg::Query("UPDATE strata.rollup SET time_column = $2::name, bucket_expr = $3, where_clause = $4, order_column = $5::name "
              "WHERE id = $1::int",
              {std::to_string(r.id), now.time_column, now.bucket_expr, now.where, now.order_column});
    int ord = 0;
    for (const auto& d : now.dims)
      pg::Query("UPDATE strata.rollup_column SET expr = $3 WHERE rollup_id = $1::int AND ord = $2::int",
                {std::to_string(r.id), std::to_string(++ord), d.expr});
    for (const auto& m : now.measures)
      pg::Query("UPDATE strata.rollup_column SET expr = $3 WHERE rollup_id = $1::int AND ord = $2::int",
                {std::to_string(r.id), std::to_string(++ord), m.args});
  });
  FollowGrain(r, now);
  r.spec = now;
  if (!quiet)
    pg::Call([&] { ereport(NOTICE, (errmsg("rollup %s follows the renamed columns of its source", r.view.c_str()))); });
  return true;
}

}  // namespace strata::rollups

using namespace strata;
using namespace strata::rollups;

// strata._on_alter_table(): the ddl_command_end event trigger of ALTER TABLE, CREATE TABLE and CREATE
// FOREIGN TABLE. Every raw-source rollup reading a relation the command touched (or a tree it belongs to)
// follows renamed columns in its stored SQL and change function and tracks every relation of its tree,
// in the same transaction. Written in C: DETACH PARTITION CONCURRENTLY run by a worker at top level ends
// with no snapshot and no portal, where PL/pgSQL could not run a query.
STRATA_FUNCTION(strata_on_alter_table) {
  if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
    throw core::Error(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED, "strata._on_alter_table() may only run as an event trigger");
  // strata's own DDL (inside EnsureSourceHooks or this trigger) fires it again: nothing to do then.
  if (hooks_depth > 0) PG_RETURN_VOID();
  Nested(&hooks_depth, [&] {
    in_ddl_event = true;
    try {
      OnAlterTable();
    } catch (...) {
      in_ddl_event = false;
      throw;
    }
    in_ddl_event = false;
  });
  PG_RETURN_VOID();
}

namespace strata::rollups {

void OnAlterTable() {
  bool pushed = false;
  pg::Call([&] {
    if (!ActiveSnapshotSet()) {
      PushActiveSnapshot(GetTransactionSnapshot());
      pushed = true;
    }
  });
  pg::SpiConnect();
  const int level = pg::NewGucLevel();
  PinSessionForRollupSql();
  std::vector<pg::Row> ids;
  if (RollupCatalogExists()) {
    ids = pg::Query(
        "WITH rels AS (SELECT DISTINCT c.objid AS x FROM pg_catalog.pg_event_trigger_ddl_commands() c "
        "  WHERE c.classid = 'pg_catalog.pg_class'::pg_catalog.regclass) "
        "SELECT r.id FROM strata.rollup r WHERE r.source_rollup IS NULL AND r.definition IS NOT NULL AND "
        "r.source::pg_catalog.oid IN (SELECT a.r FROM rels, LATERAL (WITH RECURSIVE up(r) AS (SELECT rels.x UNION "
        "  SELECT i.inhparent FROM pg_catalog.pg_inherits i JOIN up ON i.inhrelid = up.r) SELECT r FROM up) a) "
        "ORDER BY r.id");
  }
  std::set<std::pair<Oid, std::string>> hooked;
  for (const auto& row : ids) {
    Rollup r = LoadRollup(std::stoi(*row[0]), false);
    ProtectLegacy(r);
    FollowSource(r);
    // A relation new in the tree (CREATE TABLE ... PARTITION OF, ATTACH PARTITION, INHERIT) is tracked
    // from its first statement, or refused here (a foreign table, an order column of its own); once
    // per source and order column.
    if (hooked.insert({r.source_oid, r.spec.order_column}).second)
      EnsureSourceHooksNow(r.source_oid, r.spec.order_column, r.order_sequence);
  }
  pg::RestoreGucs(level);
  pg::SpiFinish();
  if (pushed) pg::Call([] { PopActiveSnapshot(); });
}

}  // namespace strata::rollups

// strata._rollup_protect_all(): ProtectLegacy for every rollup now (superuser only; the worker and
// refresh_rollup() do it for each rollup they meet).
STRATA_FUNCTION(strata_rollup_protect_all) {
  pg::SpiConnect();
  const int level = pg::NewGucLevel();
  PinSessionForRollupSql();
  for (const auto& row : pg::Query("SELECT id FROM strata.rollup ORDER BY level, id")) {
    Rollup r = LoadRollup(std::stoi(*row[0]), true);
    ProtectLegacy(r);
  }
  pg::RestoreGucs(level);
  pg::SpiFinish();
  PG_RETURN_VOID();
}

// strata._rollup_share_capture(): moves every raw-source rollup from its own change function and
// triggers (before 0.10.0) to its source's capture, in the extension's update script. Per rollup, in a
// subtransaction: its source's tree locked against writers, the capture's triggers made, its grain
// attached with its position at the log's end, then its own triggers and function dropped; the buckets
// they queued stay in its pending table. A rollup that cannot move (its source's sequence gone, a lock
// timeout) keeps its own triggers, which still queue into its pending table; a WARNING names it.
STRATA_FUNCTION(strata_rollup_share_capture) {
  pg::SpiConnect();
  const int level = pg::NewGucLevel();
  PinSessionForRollupSql();
  for (const auto& row : pg::Query("SELECT id FROM strata.rollup WHERE source_rollup IS NULL AND grain IS NULL ORDER BY id")) {
    const int id = std::stoi(*row[0]);
    try {
      pg::InSubTransaction([&] {
        const Rollup r = LoadRollup(id, false);
        if (!r.missing.empty()) return;
        LockSourceTree(r.source_oid);
        // Every relation was tracked by the rollup's own triggers until now, under this lock.
        EnsureSourceHooks(r.source_oid, r.spec.order_column, r.order_sequence, false);
        AttachCapture(r.id, r.source_oid, r.spec);
        if (!r.change_function.empty() &&
            pg::Query("SELECT pg_catalog.to_regprocedure($1) IS NOT NULL", {r.change_function + "()"}).at(0).at(0) ==
                std::optional<std::string>("t"))
          pg::Exec("DROP FUNCTION " + r.change_function + "() CASCADE");
      });
    } catch (...) {
      int code = 0;
      const std::string msg = pg::CurrentExceptionMessage(&code);
      pg::Call([&] {
        ereport(WARNING, (errmsg("strata: rollup %s keeps its own change triggers: %s", row[0]->c_str(), msg.c_str()),
                          errhint("It stays exact; drop and create it again to share its source's capture.")));
      });
    }
  }
  pg::RestoreGucs(level);
  pg::SpiFinish();
  PG_RETURN_VOID();
}
