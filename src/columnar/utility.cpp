// The utility commands that must know about compressed partitions (src/columnar/README.md, "Other
// commands"):
//   COPY partition TO ...        reads through the read path (COPY (SELECT ...) TO ...), so pg_dump and a
//                                subscription's initial copy get every row, never a batch;
//   TRUNCATE                     also drops the batches of every compressed partition it empties;
//   DROP TABLE / SCHEMA / OWNED  drops the batch tables of partitions that no longer exist;
//   ALTER TABLE ADD COLUMN / ALTER COLUMN TYPE, unique or exclusion constraints and unique indexes on a
//                                compressed partition (or a parent of one): refused with a hint (batches
//                                cannot follow a rewrite, and would escape the constraint);
//   DROP EXTENSION strata        refused while a partition is compressed (its rows would go with it).
// The hook's own frame owns nothing: the command's ERROR may pass through it; strata's checks run under
// pg::GuardHook.
#include "core/error.hpp"
#include "core/naming.hpp"

#include "columnar/columnar.hpp"
#include "columnar/state.hpp"
#include "pg/security.hpp"
#include "pg/spi.hpp"

namespace strata::columnar {
namespace {

ProcessUtility_hook_type prev_utility = nullptr;

struct Call {
  PlannedStmt* pstmt;
  const char* query;
  bool read_only_tree;
  ProcessUtilityContext context;
  ParamListInfo params;
  QueryEnvironment* env;
  DestReceiver* dest;
  QueryCompletion* qc;
};

void Next(const Call& c) {
  if (prev_utility != nullptr)
    prev_utility(c.pstmt, c.query, c.read_only_tree, c.context, c.params, c.env, c.dest, c.qc);
  else
    standard_ProcessUtility(c.pstmt, c.query, c.read_only_tree, c.context, c.params, c.env, c.dest, c.qc);
}

// The relation and, for a partitioned table, every partition below it (no locks taken here: the
// command takes its own).
std::vector<Oid> WithPartitions(RangeVar* rv) {
  std::vector<Oid> out;
  pg::Call([&] {
    const Oid relid = RangeVarGetRelid(rv, NoLock, true);
    if (!OidIsValid(relid)) return;
    out.push_back(relid);
    if (get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE || rv->inh) {
      List* all = find_all_inheritors(relid, NoLock, nullptr);
      ListCell* lc;
      foreach (lc, all)
        if (lfirst_oid(lc) != relid) out.push_back(lfirst_oid(lc));
    }
  });
  return out;
}

std::optional<Compressed> FirstCompressed(const std::vector<Oid>& rels) {
  for (Oid r : rels)
    if (auto c = Lookup(r)) return c;
  return std::nullopt;
}

std::string RelName(Oid rel) {
  std::string s;
  pg::Call([&] { s = quote_qualified_identifier(get_namespace_name(get_rel_namespace(rel)), get_rel_name(rel)); });
  return s;
}

[[noreturn]] void RefuseOn(Oid leaf, const std::string& what) {
  throw core::Error(ERRCODE_FEATURE_NOT_SUPPORTED, what + ": partition " + RelName(leaf) + " is compressed", {},
                    "Call strata.decompress_partition() on the compressed partitions first (strata.compressed_partitions "
                    "lists them); the worker compresses them again afterwards.");
}

// What the checks before the command found (plain data: the command's ERROR may skip this frame).
struct Before {
  List* truncated = NIL;  // compressed partitions the command empties
  bool cleanup = false;   // look for batch tables of dropped partitions afterwards
  PlannedStmt* replaced = nullptr;
  char* replaced_query = nullptr;
};

void CheckAlter(AlterTableStmt* a) {
  ListCell* lc;
  foreach (lc, a->cmds) {
    auto* cmd = lfirst_node(AlterTableCmd, lc);
    if (cmd->subtype != AT_AttachPartition || cmd->def == nullptr || !IsA(cmd->def, PartitionCmd)) continue;
    // Postgres checks the rows of a table it attaches by reading its heap alone.
    RangeVar* rv = castNode(PartitionCmd, cmd->def)->name;
    rv->inh = false;
    if (auto att = FirstCompressed(WithPartitions(rv)))
      RefuseOn(att->leaf, "cannot attach a compressed table as a partition (its rows would not be checked)");
  }
  const std::vector<Oid> rels = WithPartitions(a->relation);
  const std::optional<Compressed> c = FirstCompressed(rels);
  if (!c) return;
  foreach (lc, a->cmds) {
    auto* cmd = lfirst_node(AlterTableCmd, lc);
    switch (cmd->subtype) {
      case AT_AddColumn:
      case AT_AlterColumnType:
        RefuseOn(c->leaf, "cannot add or change the type of a column");
      case AT_SetNotNull:
      case AT_ValidateConstraint:
        // Postgres checks these by reading the heap alone, which would not see the batches' rows.
        RefuseOn(c->leaf, "cannot validate a constraint");
      case AT_AddConstraint:
      case AT_AddIndex: {
        Node* def = cmd->def;
        bool unique = false;
        if (def != nullptr && IsA(def, Constraint)) {
          const auto* con = castNode(Constraint, def);
          const ConstrType t = con->contype;
          if ((t == CONSTR_CHECK || t == CONSTR_FOREIGN) && !con->skip_validation)
            RefuseOn(c->leaf, "cannot validate a constraint (add it NOT VALID)");
          unique = t == CONSTR_PRIMARY || t == CONSTR_UNIQUE || t == CONSTR_EXCLUSION;
        } else if (def != nullptr && IsA(def, IndexStmt)) {
          unique = castNode(IndexStmt, def)->unique || castNode(IndexStmt, def)->primary;
        }
        if (unique) RefuseOn(c->leaf, "cannot add a unique or exclusion constraint");
        break;
      }
      default:
        break;
    }
  }
}

// A publication of every table, or of strata's schema, would publish strata's batch tables and state:
// refused while a partition is compressed or a set has a compression policy.
void CheckPublication(CreatePublicationStmt* p) {
  bool strata_schema = false;
  ListCell* lc;
  foreach (lc, p->pubobjects) {
    auto* o = lfirst_node(PublicationObjSpec, lc);
    if (o->pubobjtype == PUBLICATIONOBJ_TABLES_IN_SCHEMA && o->name != nullptr && strcmp(o->name, "strata") == 0)
      strata_schema = true;
  }
  if (!p->for_all_tables && !strata_schema) return;
  bool policy = false;
  pg::SpiConnect();
  policy = !pg::Query("SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                      "WHERE n.nspname = 'strata' AND c.relname = 'columnar_policy'").empty() &&
           !pg::Query("SELECT 1 FROM strata.columnar_policy p JOIN strata.partition_set s ON s.parent = p.parent "
                      "WHERE p.compress_after IS NOT NULL").empty();
  pg::SpiFinish();
  if (!AnyCompressed() && !policy) return;
  throw core::Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                    "cannot publish every table (or strata's schema) while partitions are compressed or a compression policy is set",
                    {}, "It would publish strata's batch tables; publish the tables by name (FOR TABLE), which sends a "
                        "compressed partition's rows, or decompress the partitions and clear the policies first.");
}

void BeforeUtility(void* arg) {
  auto* pair = static_cast<std::pair<Call*, Before*>*>(arg);
  Call& c = *pair->first;
  Before& b = *pair->second;
  Node* stmt = c.pstmt->utilityStmt;
  // Only the statements below look at the state (reading it takes a snapshot, which must not happen
  // before BEGIN ... ISOLATION LEVEL or SET TRANSACTION have run).
  switch (nodeTag(stmt)) {
    case T_CopyStmt:
    case T_TruncateStmt:
    case T_DropStmt:
    case T_DropOwnedStmt:
    case T_AlterTableStmt:
    case T_IndexStmt:
      break;
    case T_CreatePublicationStmt:
      CheckPublication(castNode(CreatePublicationStmt, stmt));
      return;
    default:
      return;
  }
  // A dropped table may have had a compression policy (with or without compressed partitions).
  if (IsA(stmt, DropStmt) && (castNode(DropStmt, stmt)->removeType == OBJECT_TABLE ||
                              castNode(DropStmt, stmt)->removeType == OBJECT_SCHEMA))
    b.cleanup = true;
  if (!AnyCompressed()) return;
  switch (nodeTag(stmt)) {
    case T_CopyStmt: {
      auto* copy = castNode(CopyStmt, stmt);
      if (copy->is_from || copy->relation == nullptr || copy->query != nullptr) return;
      Oid relid = InvalidOid;
      pg::Call([&] { relid = RangeVarGetRelid(copy->relation, NoLock, true); });  // COPY locks it
      if (!OidIsValid(relid) || !Lookup(relid)) return;
      // COPY (SELECT the columns FROM ONLY the partition) TO the same place with the same options.
      std::string cols;
      pg::Call([&] {
        if (copy->attlist != NIL) {
          ListCell* lc;
          foreach (lc, copy->attlist) cols += std::string(cols.empty() ? "" : ", ") + quote_identifier(strVal(lfirst(lc)));
        } else {
          Relation rel = table_open(relid, NoLock);
          TupleDesc desc = RelationGetDescr(rel);
          for (int a = 0; a < desc->natts; a++)
            if (!TupleDescAttr(desc, a)->attisdropped)
              cols += std::string(cols.empty() ? "" : ", ") + quote_identifier(NameStr(TupleDescAttr(desc, a)->attname));
          table_close(rel, NoLock);
        }
      });
      const std::string select = "SELECT " + cols + " FROM ONLY " + RelName(relid);
      pg::Call([&] {
        b.replaced_query = pstrdup(select.c_str());
        List* raw = raw_parser(b.replaced_query, RAW_PARSE_DEFAULT);
        CopyStmt* q = static_cast<CopyStmt*>(copyObjectImpl(copy));
        q->relation = nullptr;
        q->attlist = NIL;
        q->query = linitial_node(RawStmt, raw)->stmt;
        PlannedStmt* p = static_cast<PlannedStmt*>(copyObjectImpl(c.pstmt));
        p->utilityStmt = reinterpret_cast<Node*>(q);
        p->stmt_location = 0;
        p->stmt_len = 0;
        b.replaced = p;
      });
      return;
    }
    case T_TruncateStmt: {
      // The relations named, their partitions and, with CASCADE, every table referencing them by a
      // foreign key (and those tables' partitions), as TRUNCATE finds them.
      auto* t = castNode(TruncateStmt, stmt);
      List* all = NIL;
      ListCell* lc;
      foreach (lc, t->relations)
        for (Oid r : WithPartitions(lfirst_node(RangeVar, lc))) pg::Call([&] { all = list_append_unique_oid(all, r); });
      if (t->behavior == DROP_CASCADE) {
        pg::Call([&] {
          for (;;) {
            const int before = list_length(all);
            ListCell* fc;
            foreach (fc, heap_truncate_find_FKs(all)) {
              all = list_append_unique_oid(all, lfirst_oid(fc));
              ListCell* ic;
              foreach (ic, find_all_inheritors(lfirst_oid(fc), NoLock, nullptr)) all = list_append_unique_oid(all, lfirst_oid(ic));
            }
            if (list_length(all) == before) break;
          }
        });
      }
      foreach (lc, all)
        if (Lookup(lfirst_oid(lc))) pg::Call([&] { b.truncated = lappend_oid(b.truncated, lfirst_oid(lc)); });
      return;
    }
    case T_DropStmt: {
      auto* d = castNode(DropStmt, stmt);
      if (d->removeType == OBJECT_EXTENSION) {
        ListCell* lc;
        foreach (lc, d->objects)
          if (strcmp(strVal(lfirst(lc)), "strata") == 0)
            throw core::Error(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST,
                              "cannot drop extension strata while partitions are compressed", {},
                              "Call strata.decompress_partition() on each partition strata.compressed_partitions lists "
                              "first: their rows are kept in strata's batch tables.");
        return;
      }
      if (d->removeType == OBJECT_SCHEMA) {
        ListCell* lc;
        foreach (lc, d->objects)
          if (strcmp(strVal(lfirst(lc)), "strata") == 0)
            throw core::Error(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST,
                              "cannot drop schema strata while partitions are compressed", {},
                              "Call strata.decompress_partition() on each partition strata.compressed_partitions lists "
                              "first: their rows are kept in strata's batch tables.");
      }
      b.cleanup = d->removeType == OBJECT_TABLE || d->removeType == OBJECT_SCHEMA;
      return;
    }
    case T_DropOwnedStmt:
      b.cleanup = true;
      return;
    case T_AlterTableStmt:
      CheckAlter(castNode(AlterTableStmt, stmt));
      return;
    case T_IndexStmt: {
      auto* i = castNode(IndexStmt, stmt);
      if (!i->unique && !i->primary && i->excludeOpNames == NIL) return;
      if (auto comp = FirstCompressed(WithPartitions(i->relation))) RefuseOn(comp->leaf, "cannot create a unique index");
      return;
    }
    default:
      return;
  }
}

// After TRUNCATE: the emptied partitions' batches go too. After a DROP: batch tables whose partition is
// gone are dropped.
void AfterUtility(void* arg) {
  Before& b = *static_cast<Before*>(arg);
  std::vector<Compressed> gone;
  if (b.cleanup) {
    for (const Compressed& c : All()) {
      bool exists = true;
      pg::Call([&] {
        CommandCounterIncrement();
        exists = SearchSysCacheExists1(RELOID, ObjectIdGetDatum(c.leaf));
      });
      if (!exists) gone.push_back(c);
    }
  }
  ListCell* lc;
  foreach (lc, b.truncated)
    if (auto c = Lookup(lfirst_oid(lc))) gone.push_back(*c);
  pg::SpiConnect();
  if (b.cleanup && !pg::Query("SELECT 1 WHERE pg_catalog.to_regclass('strata.columnar_policy') IS NOT NULL").empty()) {
    // The policies of dropped tables.
    pg::AsExtensionOwner([&] {
      pg::Query("DELETE FROM strata.columnar_policy p WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c "
                "WHERE c.oid = p.parent::pg_catalog.oid) RETURNING 1");
    });
  }
  for (const Compressed& c : gone) {
    DropSibling(c.sibling);
    ForgetState(c.leaf);
  }
  pg::SpiFinish();
}

void Utility(PlannedStmt* pstmt, const char* query, bool read_only_tree, ProcessUtilityContext context,
             ParamListInfo params, QueryEnvironment* env, DestReceiver* dest, QueryCompletion* qc) {
  Call c{pstmt, query, read_only_tree, context, params, env, dest, qc};
  Before b;
  if (pstmt->utilityStmt != nullptr && IsTransactionState()) {
    std::pair<Call*, Before*> arg{&c, &b};
    pg::GuardHook(BeforeUtility, &arg);
  }
  if (b.replaced != nullptr) {
    c.pstmt = b.replaced;
    c.query = b.replaced_query;
    c.read_only_tree = false;
  }
  Next(c);
  if (b.cleanup || b.truncated != NIL) pg::GuardHook(AfterUtility, &b);
}

}  // namespace

void InitUtility() {
  prev_utility = ProcessUtility_hook;
  ProcessUtility_hook = Utility;
}

}  // namespace strata::columnar
