// Reading a compressed partition: the planner's hooks and the custom scan "StrataColumnarScan"
// (src/columnar/README.md, "Read path"). A compressed partition is a heap (rows written since its
// conversion, and rows moved back by UPDATE/DELETE) plus its batches. For such a relation the planner
// gets one path, this scan, which returns the heap's rows and then the batches' rows, under the query's
// snapshot, with the relation's quals (row security's included) evaluated on every row as a sequential
// scan does. Only the columns the query uses are decoded; a batch is skipped without decoding when its
// segment values or its order column's range cannot satisfy a qual `column op value` (value: a constant,
// a parameter or any stable expression without this relation's columns).
//
// Statements that need row identities (UPDATE, DELETE, MERGE on the partition, SELECT ... FOR UPDATE
// and the like) first move the batches that hold rows their quals select back into the heap (the
// executor's start, before any row is read; see MoveBatches), then read the heap alone: the rows they
// update or lock are ordinary heap rows with ctids, row locks and EvalPlanQual.
//
// Parallel plans: the heap part and the batch table are each a parallel heap scan whose blocks the
// workers share (two ParallelTableScanDescs in the node's shared memory).
//
// Error boundary: every callback Postgres calls is noexcept C; the per-row path calls nothing that can
// fail, and the per-batch work runs under pg::GuardHook with every Postgres call inside pg::Call.
#include "core/columnar/aggregate.hpp"
#include "core/columnar/codec.hpp"

#include "columnar/batch_functions.hpp"
#include "columnar/columnar.hpp"
#include "columnar/state.hpp"
#include "pg/guard.hpp"

namespace strata::columnar {
namespace {

namespace col = core::columnar;

constexpr const char* kName = "StrataColumnarScan";
constexpr const char* kAggName = "StrataColumnarAggregate";

set_rel_pathlist_hook_type prev_pathlist = nullptr;
get_relation_info_hook_type prev_relinfo = nullptr;

// custom_private of the plan: a list of
//   0: needed leaf attnums (IntList; empty = none)
//   1: skip tests: leaf attnum (IntList)
//   2: skip tests: 0 = on the segment value, 1 = on the order column's range (IntList)
//   3: skip tests: function applied to the segment value or the minimum (OidList; InvalidOid = none)
//   4: skip tests: function applied to the maximum (OidList; InvalidOid = none)
//   5: skip tests: input collation (OidList)
//   6: unused (0)
//   7: skip tests: whether the value holds a PARAM_EXEC (an init plan's or an outer row's) (IntList)
//   8: skip tests: the position of their qual in the plan's qual list (IntList)
//   9: skip tests: the proof function (SkipTest::proof; OidList)
//  10: the batch table (OidList of one); 11, 12: the segment and batch columns' leaf attnums (IntLists);
//  13: the order column's leaf attnum (Integer): the layout as planned, which parallel workers use
// custom_exprs: the skip tests' values, one per test. They are evaluated when the scan starts reading
// (and at each rescan), never at the executor's start, when an init plan has not run yet.

// ---------------------------------------------------------------------------------------- planner

bool HasExecParams(Node* node, void*);
bool HasExecParams(Node* node, void* ctx) {
  if (node == nullptr) return false;
  if (IsA(node, Param) && castNode(Param, node)->paramkind == PARAM_EXEC) return true;
  if (IsA(node, SubPlan) || IsA(node, AlternativeSubPlan) || IsA(node, SubLink)) return true;
  return expression_tree_walker(node, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(HasExecParams)), ctx);
}

struct SkipTest {
  AttrNumber attno;
  int on_range;
  Oid lo, hi, collation;
  Node* value;
  Oid proof;  // applied to the segment value, the maximum (< and <=) or the minimum (> and >=): true
              // proves that every row of the batch satisfies the qual; InvalidOid for =
};

// The skip test a qual gives, if it is `column op value` (or `value op column`) on a segment or the
// order column with a btree operator of the column type's default family.
std::optional<SkipTest> SkipTestOf(const Compressed& c, Index relid, Expr* clause) {
  if (!IsA(clause, OpExpr)) return std::nullopt;
  auto* op = castNode(OpExpr, clause);
  if (list_length(op->args) != 2) return std::nullopt;
  Node* l = static_cast<Node*>(linitial(op->args));
  Node* r = static_cast<Node*>(lsecond(op->args));
  Oid opno = op->opno;
  auto is_col = [&](Node* n) {
    return IsA(n, Var) && castNode(Var, n)->varno == int(relid) && castNode(Var, n)->varlevelsup == 0 &&
           castNode(Var, n)->varattno > 0;
  };
  auto is_value = [&](Node* n) { return !contain_var_clause(n) && !contain_volatile_functions(n); };
  Var* var = nullptr;
  Node* value = nullptr;
  if (is_col(l) && is_value(r)) {
    var = castNode(Var, l), value = r;
  } else if (is_col(r) && is_value(l)) {
    var = castNode(Var, r), value = l;
    opno = get_commutator(opno);
    if (!OidIsValid(opno)) return std::nullopt;
  } else {
    return std::nullopt;
  }
  const AttrNumber attno = var->varattno;
  const bool seg = std::find(c.segment.begin(), c.segment.end(), attno) != c.segment.end();
  const bool ord = attno == c.order;
  if (!seg && !ord) return std::nullopt;
  // Ranges and segment values compare as the column's collation orders them.
  if (OidIsValid(op->inputcollid) && op->inputcollid != var->varcollid) return std::nullopt;
  const Oid opclass = GetDefaultOpClass(var->vartype, BTREE_AM_OID);
  if (!OidIsValid(opclass)) return std::nullopt;
  const Oid family = get_opclass_family(opclass);
  if (!op_in_opfamily(opno, family)) return std::nullopt;
  int strategy;
  Oid lefttype, righttype;
  get_op_opfamily_properties(opno, family, false, &strategy, &lefttype, &righttype);
  if (lefttype != var->vartype) return std::nullopt;
  SkipTest t{attno, seg ? 0 : 1, InvalidOid, InvalidOid, op->inputcollid, value, InvalidOid};
  if (seg) {
    t.lo = t.proof = get_opcode(opno);
    return t;
  }
  switch (strategy) {
    case BTLessStrategyNumber:
    case BTLessEqualStrategyNumber:
      t.lo = t.proof = get_opcode(opno);  // some row may be below the value only if the minimum is; all
      break;                              // are if the maximum is
    case BTGreaterStrategyNumber:
    case BTGreaterEqualStrategyNumber:
      t.hi = t.proof = get_opcode(opno);
      break;
    case BTEqualStrategyNumber: {
      const Oid le = get_opfamily_member(family, lefttype, righttype, BTLessEqualStrategyNumber);
      const Oid ge = get_opfamily_member(family, lefttype, righttype, BTGreaterEqualStrategyNumber);
      if (!OidIsValid(le) || !OidIsValid(ge)) return std::nullopt;
      t.lo = get_opcode(le);
      t.hi = get_opcode(ge);
      break;
    }
    default:
      return std::nullopt;
  }
  return t;
}

struct PlanArgs {
  PlannerInfo* root;
  RelOptInfo* rel;
  CustomPath* best_path;
  List* tlist;
  List* clauses;
  Plan* plan;
};

// The plan of the path (called by the planner through PlanPath, under the hook guard): the state is read
// first (C++ objects), then every Postgres call runs inside one pg::Call.
void MakePlan(void* arg) {
  auto* a = static_cast<PlanArgs*>(arg);
  RelOptInfo* rel = a->rel;
  const std::optional<Compressed> c = Lookup(planner_rt_fetch(rel->relid, a->root)->relid);
  pg::Call([&] {
    CustomScan* cscan = makeNode(CustomScan);
    cscan->scan.plan.targetlist = a->tlist;
    List* quals = extract_actual_clauses(a->clauses, false);
    cscan->scan.plan.qual = quals;
    cscan->scan.scanrelid = rel->relid;
    cscan->flags = a->best_path->flags;
    cscan->methods = &ScanMethods();

    // The columns the query needs: the relation's target's and the quals' (the plan's target list may
    // be the whole row when the node above does not care, which would decode every column).
    Bitmapset* attrs = nullptr;
    pull_varattnos(reinterpret_cast<Node*>(rel->reltarget->exprs), rel->relid, &attrs);
    pull_varattnos(reinterpret_cast<Node*>(quals), rel->relid, &attrs);
    List* needed = NIL;
    const bool whole_row = bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, attrs);
    for (AttrNumber x = 1; x <= rel->max_attr; x++)
      if (whole_row || bms_is_member(x - FirstLowInvalidHeapAttributeNumber, attrs)) needed = lappend_int(needed, x);

    List *attnos = NIL, *kinds = NIL, *los = NIL, *his = NIL, *colls = NIL, *values = NIL, *exec_params = NIL;
    List *positions = NIL, *proofs = NIL, *seg = NIL, *batch = NIL;
    ListCell* lc;
    if (c) {
      int position = -1;
      foreach (lc, a->clauses) {
        auto* ri = lfirst_node(RestrictInfo, lc);
        if (ri->pseudoconstant) continue;
        position++;
        const std::optional<SkipTest> t = SkipTestOf(*c, rel->relid, ri->clause);
        if (!t) continue;
        positions = lappend_int(positions, position);
        proofs = lappend_oid(proofs, t->proof);
        attnos = lappend_int(attnos, t->attno);
        kinds = lappend_int(kinds, t->on_range);
        los = lappend_oid(los, t->lo);
        his = lappend_oid(his, t->hi);
        colls = lappend_oid(colls, t->collation);
        values = lappend(values, copyObjectImpl(t->value));
        exec_params = lappend_int(exec_params, HasExecParams(t->value, nullptr) ? 1 : 0);
      }
      for (AttrNumber x : c->segment) seg = lappend_int(seg, x);
      for (AttrNumber x : c->batch) batch = lappend_int(batch, x);
    }
    cscan->custom_private = list_make5(needed, attnos, kinds, los, his);
    cscan->custom_private = lappend(cscan->custom_private, colls);
    cscan->custom_private = lappend(cscan->custom_private, makeInteger(0));  // (unused)
    cscan->custom_private = lappend(cscan->custom_private, exec_params);
    cscan->custom_private = lappend(cscan->custom_private, positions);
    cscan->custom_private = lappend(cscan->custom_private, proofs);
    // The layout as planned, for parallel workers (which cannot read the state as their leader did).
    cscan->custom_private = lappend(cscan->custom_private, list_make1_oid(c ? c->sibling : InvalidOid));
    cscan->custom_private = lappend(cscan->custom_private, seg);
    cscan->custom_private = lappend(cscan->custom_private, batch);
    cscan->custom_private = lappend(cscan->custom_private, makeInteger(c ? c->order : 0));
    cscan->custom_exprs = values;
    a->plan = &cscan->scan.plan;
  });
}

}  // namespace

CustomScan* MakeScanPlan(PlannerInfo* root, RelOptInfo* rel, CustomPath* path, List* tlist, List* clauses) {
  PlanArgs args{root, rel, path, tlist, clauses, nullptr};
  MakePlan(&args);
  return reinterpret_cast<CustomScan*>(args.plan);
}

namespace {

Plan* PlanPath(PlannerInfo* root, RelOptInfo* rel, CustomPath* best_path, List* tlist, List* clauses, List*) {
  PlanArgs args{root, rel, best_path, tlist, clauses, nullptr};
  pg::GuardHook(MakePlan, &args);
  return args.plan;
}

const CustomPathMethods kPathMethods = {kName, PlanPath, nullptr};

}  // namespace

bool IsScanPath(const Path* path) {
  return path != nullptr && path->pathtype == T_CustomScan &&
         reinterpret_cast<const CustomPath*>(path)->methods == &kPathMethods;
}

namespace {

// Costs: the heap part as a sequential scan; each batch row read, a fraction of the rows decoded.
void CostPath(PlannerInfo* root, RelOptInfo* rel, CustomPath* p, const Compressed& c, int workers) {
  QualCost q;
  cost_qual_eval(&q, rel->baserestrictinfo, root);
  const Cost startup = q.startup, per_tuple = q.per_tuple;
  const double heap_pages = double(rel->pages);
  const double rows_all = rel->tuples;
  const double batches = std::max(1.0, c.rows / 1000.0);
  const double decode = cpu_operator_cost * 0.5 * rows_all;  // a few ns per value and column
  Cost run = seq_page_cost * (heap_pages + batches) + cpu_tuple_cost * (rows_all * 0.5 + batches) + decode +
             per_tuple * rows_all + p->path.pathtarget->cost.per_tuple * p->path.rows;
  if (workers > 0) run /= (workers + 1);
  p->path.startup_cost = startup;
  p->path.total_cost = startup + run;
}

CustomPath* MakePath(PlannerInfo* root, RelOptInfo* rel, const Compressed& c, int workers) {
  CustomPath* p = makeNode(CustomPath);
  p->path.pathtype = T_CustomScan;
  p->path.parent = rel;
  p->path.pathtarget = rel->reltarget;
  p->path.param_info = get_baserel_parampathinfo(root, rel, rel->lateral_relids);
  p->path.parallel_aware = workers > 0;
  p->path.parallel_safe = rel->consider_parallel;
  p->path.parallel_workers = workers;
  p->path.rows = workers > 0 ? clamp_row_est(rel->rows / (workers + (workers < 4 ? 0.3 * (4 - workers) : 0) + 1))
                             : rel->rows;
  p->path.pathkeys = NIL;
  p->flags = CUSTOMPATH_SUPPORT_PROJECTION;  // ExecScan projects
  p->custom_paths = NIL;
  p->methods = &kPathMethods;
  CostPath(root, rel, p, c, workers);
  return p;
}

void SetPathlist(void* arg) {
  auto* a = static_cast<std::tuple<PlannerInfo*, RelOptInfo*, RangeTblEntry*>*>(arg);
  auto [root, rel, rte] = *a;
  const std::optional<Compressed> c = Lookup(rte->relid);
  if (!c) return;
  // UPDATE/DELETE ... WHERE CURRENT OF: the heap's TID scan finds the cursor's row (a FOR UPDATE cursor
  // moved it to the heap), which this scan could not.
  ListCell* lc;
  foreach (lc, rel->baserestrictinfo)
    if (IsA(lfirst_node(RestrictInfo, lc)->clause, CurrentOfExpr)) return;
  pg::Call([&] {
    if (rte->tablesample != nullptr)
      ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                      errmsg("TABLESAMPLE is not supported on compressed partition \"%s\"", get_rel_name(rte->relid)),
                      errhint("Call strata.decompress_partition() first, or sample the rows with random().")));
    // The heap's own paths (sequential, index, bitmap, TID) see only the rows outside the batches.
    rel->pathlist = NIL;
    rel->partial_pathlist = NIL;
    add_path(rel, &MakePath(root, rel, *c, 0)->path);
    if (rel->consider_parallel && max_parallel_workers_per_gather > 0) {
      const double pages = double(rel->pages);
      int workers = compute_parallel_worker(rel, pages, -1, max_parallel_workers_per_gather);
      if (workers > 0) add_partial_path(rel, &MakePath(root, rel, *c, workers)->path);
    }
  });
}

void PathlistHook(PlannerInfo* root, RelOptInfo* rel, Index rti, RangeTblEntry* rte) {
  if (prev_pathlist) prev_pathlist(root, rel, rti, rte);
  if (rte->rtekind != RTE_RELATION || rte->relkind != RELKIND_RELATION || rte->inh) return;
  std::tuple<PlannerInfo*, RelOptInfo*, RangeTblEntry*> arg{root, rel, rte};
  pg::GuardHook(SetPathlist, &arg);
}

// Sizes: the batches' rows count as the relation's (the heap part's statistics alone would make the
// partition look empty), their pages as its pages; the heap's indexes, which hold only the heap part's
// rows, are not offered.
void SetRelInfo(void* arg) {
  auto* a = static_cast<std::tuple<PlannerInfo*, Oid, RelOptInfo*>*>(arg);
  const std::optional<Compressed> c = Lookup(std::get<1>(*a));
  if (!c) return;
  RelOptInfo* rel = std::get<2>(*a);
  pg::Call([&] {
    rel->indexlist = NIL;
    Relation sib = try_relation_open(c->sibling, AccessShareLock);
    BlockNumber pages = sib != nullptr ? RelationGetNumberOfBlocks(sib) : 0;
    if (sib != nullptr) relation_close(sib, NoLock);
    // A heap part without statistics counts as empty (the planner's guess for a never-vacuumed table
    // is ten pages of rows).
    const double heap_tuples = rel->tuples >= 0 ? rel->tuples : 0;
    rel->tuples = heap_tuples + c->rows;
    rel->pages += pages * 8;  // the batches' bytes as heap pages would hold their rows, roughly
    OfferAggregation(std::get<0>(*a), rel);
  });
}

void RelInfoHook(PlannerInfo* root, Oid relid, bool inhparent, RelOptInfo* rel) {
  if (prev_relinfo) prev_relinfo(root, relid, inhparent, rel);
  if (inhparent) return;
  std::tuple<PlannerInfo*, Oid, RelOptInfo*> arg{root, relid, rel};
  pg::GuardHook(SetRelInfo, &arg);
}

// ---------------------------------------------------------------------------------------- executor

struct Shared {  // the node's parallel state: the heap part's and the batch table's scans
  Size heap_offset, batch_offset;
};

struct ColumnBatch {  // one decoded column of the current batch
  AttrNumber attno;
  Datum* values;
  bool* nulls;
};

struct State {
  CustomScanState css;  // first: Postgres sees a CustomScanState
  bool compressed;      // false: decompressed since planning, the heap holds every row
  Relation sibling;
  TupleDesc sibling_desc;
  // The batch layout (state.hpp's Compressed, as plain arrays in the query's memory)
  int nsegment;
  AttrNumber* seg_attno;  // leaf attnums; segment k is the sibling's column k + 1
  int nbatchcols;
  AttrNumber* batch_leaf;  // leaf attnums of the batch columns
  AttrNumber* batch_sib;   // their sibling attnums
  AttrNumber rows_att, min_att, max_att;
  AttrNumber order_leaf;  // the order column's leaf attnum, 0 if none
  TypeLayout* layouts;  // per leaf attnum - 1
  List* needed;         // leaf attnums
  int ntests;
  AttrNumber* test_attno;
  int* test_kind;
  FmgrInfo* test_lo;
  FmgrInfo* test_hi;
  Oid* test_coll;
  ExprState** test_expr;
  Datum* test_value;
  bool* test_null;
  bool* test_exec_param;  // its value needs the executor running: not used before the scan reads
  FmgrInfo* test_proof;   // SkipTest::proof (fn_oid InvalidOid: none)
  ExprState* full_qual;     // the plan's quals (the node's own ps.qual stays NULL: Next applies them)
  ExprState* cur_qual;      // what the current batch's rows are checked with: full or reduced
  ExprState* reduced_qual;  // without those a proof covers: for batches whose every row satisfies them
  int order_column;         // the order column's index in columns of the current batch, -1 if not decoded
  bool tests_ready;       // the values are evaluated (at the first read and each rescan)
  bool quals_simple;
  bool heap_only;  // the statement moved the rows it touches into the heap: batches are not read
  int phase;       // 0: heap part, 1: batches, 2: done
  TableScanDesc heap_scan, batch_scan;
  TupleTableSlot* heap_slot;
  MemoryContext batch_cxt;
  MemoryContext tests_cxt;  // the tests' values
  // the current batch
  int nrows, row;
  int ncolumns;
  ColumnBatch* columns;  // its decoded columns
  Datum* seg_value;
  bool* seg_null;
  // counters for EXPLAIN ANALYZE
  int64 batches_read, batches_skipped, batches_moved, rows_moved;
  // rows as the leaf lays them out: the scan slot, or in aggregate mode a slot of their own (the scan
  // slot then has custom_scan_tlist's layout: the leaf's columns, then the partial aggregates)
  TupleTableSlot* row_slot;
  bool order_notnull;  // the order column is NOT NULL: a batch's range covers every row
  // Aggregate mode (StrataColumnarAggregate, src/columnar/aggregate.cpp): one output row of partial
  // aggregate states; batches whose quals the ranges prove are aggregated from their decoded columns
  // without a row each, the others row by row after the quals.
  bool agg_mode, agg_done;
  int naggs;
  core::columnar::Accumulator* ops;  // each aggregate's op, as a group's accumulators start
  // GROUP BY segment columns: one group per distinct key (datum images), in a hash table of indexes;
  // without GROUP BY one group of no key, made at the start (an empty input has its one row).
  int nkeys;
  AttrNumber* key_attno;
  int* key_seg;  // the key's segment index in the layout read at the start; -1: not a segment column now
  int16* key_len;
  bool* key_byval;
  struct AggGroup* groups;
  int ngroups, groups_cap;
  int* table;  // group index + 1, 0 = empty; size table_size (a power of 2)
  int table_size;
  int out_next;  // the next group to return
  MemoryContext groups_cxt;  // the groups, their keys and the table
  AttrNumber* agg_attno;  // 0 for count(*)
  MemoryContext agg_cxt;  // the output row's by-reference states
  Oid* agg_type;
  int64 batches_aggregated;
  ParallelTableScanDesc heap_pscan, batch_pscan;
};

// Evaluates the tests' values into tests_cxt (reset: each call evaluates every value it uses again).
struct AggGroup {
  Datum* keys;
  bool* nulls;
  uint32 hash;
  core::columnar::Accumulator* accs;
};

uint32 KeyHash(const State* s, const Datum* keys, const bool* nulls) {
  uint32 h = 0x9e3779b9u;
  for (int k = 0; k < s->nkeys; k++) {
    const uint32 x = nulls[k] ? 0x7f4a7c15u : datum_image_hash(keys[k], s->key_byval[k], s->key_len[k]);
    h = (h ^ x) * 0x01000193u + uint32(k);
  }
  return h;
}

// The group of this key, made (its key copied) if new. Postgres calls only: may raise an error.
AggGroup* FindGroup(State* s, const Datum* keys, const bool* nulls) {
  const uint32 h = KeyHash(s, keys, nulls);
  uint32 mask = uint32(s->table_size - 1);
  for (uint32 i = h & mask;; i = (i + 1) & mask) {
    const int slot = s->table[i];
    if (slot == 0) break;
    AggGroup* g = &s->groups[slot - 1];
    if (g->hash != h) continue;
    bool same = true;
    for (int k = 0; k < s->nkeys && same; k++)
      same = g->nulls[k] == nulls[k] &&
             (nulls[k] || datum_image_eq(g->keys[k], keys[k], s->key_byval[k], s->key_len[k]));
    if (same) return g;
  }
  MemoryContext old = MemoryContextSwitchTo(s->groups_cxt);
  if (s->ngroups == s->groups_cap) {
    s->groups_cap *= 2;
    s->groups = static_cast<AggGroup*>(repalloc(s->groups, sizeof(AggGroup) * s->groups_cap));
  }
  AggGroup* g = &s->groups[s->ngroups++];
  g->hash = h;
  g->keys = static_cast<Datum*>(palloc(sizeof(Datum) * std::max(1, s->nkeys)));
  g->nulls = static_cast<bool*>(palloc(sizeof(bool) * std::max(1, s->nkeys)));
  for (int k = 0; k < s->nkeys; k++) {  // copied whole: a TOAST pointer would be fetched at each probe
    g->nulls[k] = nulls[k];
    if (nulls[k])
      g->keys[k] = (Datum) 0;
    else if (s->key_len[k] == -1)
      g->keys[k] = PointerGetDatum(pg_detoast_datum_copy(reinterpret_cast<struct varlena*>(DatumGetPointer(keys[k]))));
    else
      g->keys[k] = datumCopy(keys[k], s->key_byval[k], s->key_len[k]);
  }
  g->accs = static_cast<core::columnar::Accumulator*>(palloc(sizeof(core::columnar::Accumulator) * std::max(1, s->naggs)));
  for (int i = 0; i < s->naggs; i++) g->accs[i] = s->ops[i];
  // The table at most half full: grown (and every group placed again) past that.
  if (s->ngroups * 2 > s->table_size) {
    s->table_size *= 2;
    s->table = static_cast<int*>(palloc0(sizeof(int) * s->table_size));
    mask = uint32(s->table_size - 1);
    for (int n = 0; n < s->ngroups; n++) {
      uint32 i = s->groups[n].hash & mask;
      while (s->table[i] != 0) i = (i + 1) & mask;
      s->table[i] = n + 1;
    }
  } else {
    uint32 i = h & mask;
    while (s->table[i] != 0) i = (i + 1) & mask;
    s->table[i] = s->ngroups;
  }
  MemoryContextSwitchTo(old);
  return g;
}

// No group, and none made: the node has returned its rows.
void ResetGroupsEmpty(State* s) {
  MemoryContextReset(s->groups_cxt);
  s->groups = nullptr;
  s->ngroups = s->groups_cap = s->table_size = 0;
  s->table = nullptr;
  s->out_next = 0;
}

// No group yet (the start and each rescan); without GROUP BY the one group is made now.
void ResetGroups(State* s) {
  MemoryContextReset(s->groups_cxt);
  MemoryContext old = MemoryContextSwitchTo(s->groups_cxt);
  s->groups_cap = 8;
  s->groups = static_cast<AggGroup*>(palloc(sizeof(AggGroup) * s->groups_cap));
  s->ngroups = 0;
  s->table_size = 16;
  s->table = static_cast<int*>(palloc0(sizeof(int) * s->table_size));
  s->out_next = 0;
  MemoryContextSwitchTo(old);
  if (s->nkeys == 0) FindGroup(s, nullptr, nullptr);
}

void EvalTests(State* s, bool before_run) {
  ExprContext* econtext = s->css.ss.ps.ps_ExprContext;
  MemoryContextReset(s->tests_cxt);
  MemoryContext old = MemoryContextSwitchTo(s->tests_cxt);
  for (int i = 0; i < s->ntests; i++) {
    if (before_run && s->test_exec_param[i]) continue;
    s->test_value[i] = ExecEvalExpr(s->test_expr[i], econtext, &s->test_null[i]);
  }
  MemoryContextSwitchTo(old);
  s->tests_ready = !before_run;
}

// The batch's rows satisfy no qual that a test covers. Before the executor runs (MoveBatches), tests
// whose value needs it are not applied.
bool Skip(State* s, HeapTuple tup, bool before_run = false) {
  for (int i = 0; i < s->ntests; i++) {
    if (before_run && s->test_exec_param[i]) continue;
    if (s->test_null[i]) return true;  // column op NULL: no row
    bool isnull;
    if (s->test_kind[i] == 0) {
      int k = 0;
      while (s->seg_attno[k] != s->test_attno[i]) k++;
      const Datum v = heap_getattr(tup, k + 1, s->sibling_desc, &isnull);
      if (isnull) return true;
      if (!DatumGetBool(FunctionCall2Coll(&s->test_lo[i], s->test_coll[i], v, s->test_value[i]))) return true;
      continue;
    }
    if (OidIsValid(s->test_lo[i].fn_oid)) {
      const Datum lo = heap_getattr(tup, s->min_att, s->sibling_desc, &isnull);
      if (isnull) return true;  // every row's order value is NULL
      if (!DatumGetBool(FunctionCall2Coll(&s->test_lo[i], s->test_coll[i], lo, s->test_value[i]))) return true;
    }
    if (OidIsValid(s->test_hi[i].fn_oid)) {
      const Datum hi = heap_getattr(tup, s->max_att, s->sibling_desc, &isnull);
      if (isnull) return true;
      if (!DatumGetBool(FunctionCall2Coll(&s->test_hi[i], s->test_coll[i], hi, s->test_value[i]))) return true;
    }
  }
  return false;
}

// Whether every row of the decoded batch satisfies every qual a proof covers (then the scan evaluates
// only the others on its rows).
bool AllProven(State* s, HeapTuple tup) {
  bool any = false;
  for (int i = 0; i < s->ntests; i++) {
    if (!OidIsValid(s->test_proof[i].fn_oid)) continue;
    if (s->test_null[i]) return false;
    bool isnull;
    Datum v;
    if (s->test_kind[i] == 0) {
      int k = 0;
      while (s->seg_attno[k] != s->test_attno[i]) k++;
      v = s->seg_value[k];
      if (s->seg_null[k]) return false;
    } else {
      // NULLs of the order column satisfy no comparison, and the range leaves them out.
      const ColumnBatch* cb = nullptr;
      for (int k = 0; k < s->ncolumns; k++)
        if (s->columns[k].attno == s->order_leaf) cb = &s->columns[k];
      if (cb == nullptr && !s->order_notnull) return false;
      for (int r = 0; cb != nullptr && r < s->nrows; r++)
        if (cb->nulls[r]) return false;
      v = heap_getattr(tup, OidIsValid(s->test_lo[i].fn_oid) ? s->max_att : s->min_att, s->sibling_desc, &isnull);
      if (isnull) return false;
    }
    if (!DatumGetBool(FunctionCall2Coll(&s->test_proof[i], s->test_coll[i], v, s->test_value[i]))) return false;
    any = true;
  }
  return any;
}

// Decodes batch column k (leaf attnum a) of tuple `tup`; *isnull when the batch holds no bytes for it.
// Throws on a damaged batch (the error names the partition and the column).
col::Batch DecodeColumn(State* s, HeapTuple tup, int k, AttrNumber a, bool* isnull) {
  const TypeLayout& layout = s->layouts[a - 1];
  const char* data = nullptr;
  size_t len = 0;
  *isnull = false;
  pg::Call([&] {
    MemoryContext old = MemoryContextSwitchTo(s->batch_cxt);
    const Datum d = heap_getattr(tup, s->batch_sib[k], s->sibling_desc, isnull);
    if (!*isnull) {
      struct varlena* v = pg_detoast_datum_packed(reinterpret_cast<struct varlena*>(DatumGetPointer(d)));
      data = VARDATA_ANY(v);
      len = VARSIZE_ANY_EXHDR(v);
    }
    MemoryContextSwitchTo(old);
  });
  if (*isnull) return {};
  col::Batch b;
  try {
    b = col::Decode(reinterpret_cast<const uint8_t*>(data), len, col::Kind(layout.kind), layout.tag);
    if (int(b.size()) != s->nrows)
      throw core::Error(ERRCODE_DATA_CORRUPTED, "a batch holds another number of rows than recorded", {},
                        col::kCorruptHint);
    CheckFits(layout, b);  // what MakeDatums checks, for aggregate mode, which makes no Datums
  } catch (const core::Error& e) {
    const char* rel = nullptr;
    const char* column = nullptr;
    pg::Call([&] {
      Relation leaf = s->css.ss.ss_currentRelation;
      rel = quote_identifier(RelationGetRelationName(leaf));
      column = quote_identifier(NameStr(TupleDescAttr(RelationGetDescr(leaf), a - 1)->attname));
    });
    throw core::Error(e.sqlstate(), std::string("compressed partition ") + rel + ", column " + column + ": " + e.what(),
                      {}, e.hint());
  }
  return b;
}

// The batch's row count and segment values (a new batch: the batch context is reset).
void ReadBatchHeader(State* s, HeapTuple tup) {
  pg::Call([&] {
    MemoryContextReset(s->batch_cxt);
    bool isnull;
    s->nrows = DatumGetInt32(heap_getattr(tup, s->rows_att, s->sibling_desc, &isnull));
    for (int k = 0; k < s->nsegment; k++) s->seg_value[k] = heap_getattr(tup, k + 1, s->sibling_desc, &s->seg_null[k]);
  });
}

// The batch column index of leaf attnum a, or nbatchcols (a segment column, or one added after the
// conversion, NULL in every batch).
int BatchColumnOf(const State* s, AttrNumber a) {
  int k = 0;
  while (k < s->nbatchcols && s->batch_leaf[k] != a) k++;
  return k;
}

// Decodes the batch columns in `attnos` (leaf attnums) of tuple `tup` into s->columns (batch context).
// Throws on a damaged batch (the error names the partition and the column).
void DecodeBatch(State* s, HeapTuple tup, List* attnos) {
  ReadBatchHeader(s, tup);
  s->ncolumns = 0;
  ListCell* lc;
  foreach (lc, attnos) {
    const AttrNumber a = AttrNumber(lfirst_int(lc));
    const int k = BatchColumnOf(s, a);
    if (k == s->nbatchcols) continue;
    const TypeLayout& layout = s->layouts[a - 1];
    if (layout.tag == 0) continue;  // a dropped column (a whole-row reference reads it as NULL)
    ColumnBatch& cb = s->columns[s->ncolumns];
    pg::Call([&] {
      MemoryContext old = MemoryContextSwitchTo(s->batch_cxt);
      cb.attno = a;
      cb.values = static_cast<Datum*>(palloc(sizeof(Datum) * std::max(1, s->nrows)));
      cb.nulls = static_cast<bool*>(palloc(sizeof(bool) * std::max(1, s->nrows)));
      MemoryContextSwitchTo(old);
    });
    bool isnull;
    const col::Batch b = DecodeColumn(s, tup, k, a, &isnull);
    if (isnull) continue;
    MemoryContext old = MemoryContextSwitchTo(s->batch_cxt);  // MakeDatums allocates in the current context
    try {
      MakeDatums(layout, b, cb.values, cb.nulls);
    } catch (...) {
      MemoryContextSwitchTo(old);
      throw;
    }
    MemoryContextSwitchTo(old);
    s->ncolumns++;
  }
  TupleTableSlot* slot = s->row_slot;
  const int natts = slot->tts_tupleDescriptor->natts;
  for (int i = 0; i < natts; i++) slot->tts_values[i] = (Datum) 0, slot->tts_isnull[i] = true;
}

// Aggregate mode: one value of a by-value column as the accumulator of its op reads it.
void AddDatum(core::columnar::Accumulator* acc, Oid type, Datum v) {
  switch (type) {
    case FLOAT8OID: acc->AddFloat(DatumGetFloat8(v)); break;
    case FLOAT4OID: acc->AddFloat4(DatumGetFloat4(v)); break;
    case INT2OID: acc->AddInt(DatumGetInt16(v)); break;
    case INT4OID:
    case DATEOID: acc->AddInt(DatumGetInt32(v)); break;
    case INT8OID:
    case TIMESTAMPOID:
    case TIMESTAMPTZOID: acc->AddInt(DatumGetInt64(v)); break;
    default: acc->AddInt(0); break;  // count(x) of another type: only that it is not NULL counts
  }
}

void AddRepeated(core::columnar::Accumulator* acc, Oid type, Datum v, int64 rows) {
  switch (type) {
    case FLOAT8OID: acc->AddFloatRepeated(DatumGetFloat8(v), rows); break;
    case FLOAT4OID: acc->AddFloat4Repeated(DatumGetFloat4(v), rows); break;
    case INT2OID: acc->AddIntRepeated(DatumGetInt16(v), rows); break;
    case INT4OID:
    case DATEOID: acc->AddIntRepeated(DatumGetInt32(v), rows); break;
    case INT8OID:
    case TIMESTAMPOID:
    case TIMESTAMPTZOID: acc->AddIntRepeated(DatumGetInt64(v), rows); break;
    default: acc->AddIntRepeated(0, rows); break;
  }
}

void CheckOverflow(const core::columnar::Accumulator& acc) {
  if (acc.overflow) throw core::Error(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, "value out of range: overflow");
}

// Aggregate mode: adds every row of batch `tup` to the accumulators from its decoded columns, when
// every row satisfies the quals (none, or all proven by the batch's ranges); false otherwise (the rows
// then go through the quals one by one).
bool AggregateWholeBatch(State* s, HeapTuple tup) {
  for (int k = 0; k < s->nkeys; k++)
    if (s->key_seg[k] < 0) return false;  // compressed again since planning, without that segment column
  ReadBatchHeader(s, tup);  // AllProven reads the segment values
  s->ncolumns = 0;          // and no decoded column of an earlier batch
  if (s->full_qual != nullptr) {
    bool proven = false;
    pg::Call([&] {
      MemoryContext old = MemoryContextSwitchTo(s->batch_cxt);  // what the comparisons allocate: this batch's
      proven = s->reduced_qual == nullptr && AllProven(s, tup);
      MemoryContextSwitchTo(old);
    });
    if (!proven) return false;
  }
  AggGroup* group = nullptr;
  pg::Call([&] {
    // The key: segment columns, the same for every row of the batch.
    Datum* keys = static_cast<Datum*>(palloc(sizeof(Datum) * std::max(1, s->nkeys)));
    bool* nulls = static_cast<bool*>(palloc(sizeof(bool) * std::max(1, s->nkeys)));
    for (int k = 0; k < s->nkeys; k++) keys[k] = s->seg_value[s->key_seg[k]], nulls[k] = s->seg_null[s->key_seg[k]];
    group = FindGroup(s, keys, nulls);
    pfree(keys);
    pfree(nulls);
  });
  std::vector<std::pair<AttrNumber, col::Batch>> decoded;  // a column two aggregates read is decoded once
  for (int i = 0; i < s->naggs; i++) {
    core::columnar::Accumulator& acc = group->accs[i];
    const AttrNumber a = s->agg_attno[i];
    if (a == 0) {
      acc.AddRows(s->nrows);
      continue;
    }
    int seg = 0;
    while (seg < s->nsegment && s->seg_attno[seg] != a) seg++;
    if (seg < s->nsegment) {
      if (!s->seg_null[seg]) AddRepeated(&acc, s->agg_type[i], s->seg_value[seg], s->nrows);
      CheckOverflow(acc);
      continue;
    }
    const int k = BatchColumnOf(s, a);
    if (k == s->nbatchcols) continue;  // added after the conversion: NULL in every batch
    const col::Batch* b = nullptr;
    for (const auto& d : decoded)
      if (d.first == a) b = &d.second;
    if (b == nullptr) {
      bool isnull;
      col::Batch fresh = DecodeColumn(s, tup, k, a, &isnull);
      if (isnull) continue;
      decoded.emplace_back(a, std::move(fresh));
      b = &decoded.back().second;
    }
    acc.AddBatch(*b, s->agg_type[i] == FLOAT4OID);
    CheckOverflow(acc);
  }
  s->nrows = s->row = 0;
  return true;
}

// Row `row` of the current batch into the scan slot. Calls nothing that can fail.
TupleTableSlot* StoreRow(State* s) {
  TupleTableSlot* slot = s->row_slot;
  ExecClearTuple(slot);  // the columns not decoded stay NULL from the batch's start (DecodeBatch)
  for (int k = 0; k < s->nsegment; k++) {
    slot->tts_values[s->seg_attno[k] - 1] = s->seg_value[k];
    slot->tts_isnull[s->seg_attno[k] - 1] = s->seg_null[k];
  }
  for (int k = 0; k < s->ncolumns; k++) {
    const ColumnBatch& cb = s->columns[k];
    slot->tts_values[cb.attno - 1] = cb.values[s->row];
    slot->tts_isnull[cb.attno - 1] = cb.nulls[s->row];
  }
  s->row++;
  ExecStoreVirtualTuple(slot);
  slot->tts_tableOid = RelationGetRelid(s->css.ss.ss_currentRelation);
  ItemPointerSetInvalid(&slot->tts_tid);
  return slot;
}

// Fetches the next row into the scan slot (the heap part's, or a batch's), or clears it at the end.
void Advance(void* arg) {
  State* s = static_cast<State*>(arg);
  EState* estate = s->css.ss.ps.state;
  Relation leaf = s->css.ss.ss_currentRelation;
  TupleTableSlot* slot = s->row_slot;
  bool got = false;
  while (!got && s->phase < 2) {
    if (s->phase == 0) {
      pg::Call([&] {
        if (s->heap_scan == nullptr) {
          s->heap_scan = s->heap_pscan != nullptr ? table_beginscan_parallel(leaf, s->heap_pscan)
                                                  : table_beginscan(leaf, estate->es_snapshot, 0, nullptr);
        }
        if (table_scan_getnextslot(s->heap_scan, ForwardScanDirection, s->heap_slot)) {
          const int natts = slot->tts_tupleDescriptor->natts;
          slot_getallattrs(s->heap_slot);
          ExecClearTuple(slot);
          memcpy(slot->tts_values, s->heap_slot->tts_values, sizeof(Datum) * natts);
          memcpy(slot->tts_isnull, s->heap_slot->tts_isnull, sizeof(bool) * natts);
          ExecStoreVirtualTuple(slot);
          slot->tts_tid = s->heap_slot->tts_tid;
          slot->tts_tableOid = RelationGetRelid(leaf);
          got = true;
        } else {
          s->phase = s->heap_only ? 2 : 1;
        }
      });
      continue;
    }
    if (s->row < s->nrows) {
      StoreRow(s);
      got = true;
      continue;
    }
    HeapTuple tup = nullptr;
    pg::Call([&] {
      if (s->batch_scan == nullptr) {
        s->batch_scan = s->batch_pscan != nullptr ? table_beginscan_parallel(s->sibling, s->batch_pscan)
                                                  : table_beginscan(s->sibling, estate->es_snapshot, 0, nullptr);
      }
      tup = heap_getnext(s->batch_scan, ForwardScanDirection);
      if (tup == nullptr) s->phase = 2;
    });
    if (tup == nullptr) break;
    bool skip = false;
    pg::Call([&] {
      if (!s->tests_ready) EvalTests(s, false);
      MemoryContext old = MemoryContextSwitchTo(s->batch_cxt);
      skip = Skip(s, tup);
      MemoryContextSwitchTo(old);
    });
    if (skip) {
      s->batches_skipped++;
      continue;
    }
    s->batches_read++;
    if (s->agg_mode && AggregateWholeBatch(s, tup)) {
      s->batches_aggregated++;
      continue;
    }
    DecodeBatch(s, tup, s->needed);
    pg::Call([&] {
      MemoryContext old = MemoryContextSwitchTo(s->batch_cxt);
      s->cur_qual = AllProven(s, tup) ? s->reduced_qual : s->full_qual;
      MemoryContextSwitchTo(old);
    });
    s->row = 0;
  }
  if (!got) ExecClearTuple(slot);
}

// The next row that passes the quals (the heap part's with the plan's quals, a batch's with those its
// range does not prove). ExecScan sees no quals of this node: the quals a row is checked with change
// from batch to batch, which ExecScan, reading them once per call, would not follow. This frame owns
// nothing: an ERROR of a qual may pass through it.
TupleTableSlot* Next(ScanState* ss) {
  State* s = reinterpret_cast<State*>(ss);
  ExprContext* econtext = ss->ps.ps_ExprContext;
  for (;;) {
    TupleTableSlot* slot;
    if (s->phase == 1 && s->row < s->nrows) {
      slot = StoreRow(s);  // the hot path: no call that can fail
    } else {
      pg::GuardHook(Advance, s);
      slot = s->row_slot;
      if (TupIsNull(slot)) return slot;
    }
    ExprState* qual = s->phase == 0 ? s->full_qual : s->cur_qual;
    if (qual == nullptr) return slot;
    econtext->ecxt_scantuple = slot;
    if (ExecQual(qual, econtext)) return slot;
    InstrCountFiltered1(ss, 1);
    ResetExprContext(econtext);
  }
}

// EvalPlanQual's row: the plan's quals (ExecScan applies none of this node's).
bool Recheck(ScanState* ss, TupleTableSlot* slot) {
  State* s = reinterpret_cast<State*>(ss);
  if (s->full_qual == nullptr) return true;
  ExprContext* econtext = ss->ps.ps_ExprContext;
  econtext->ecxt_scantuple = slot;
  return ExecQual(s->full_qual, econtext);
}

Node* CreateState(CustomScan*);

// Moves the batches holding rows that the statement's quals select into the heap (module comment).
// Each batch row is deleted (waiting for, and refusing after, a concurrent move of the same batch) and
// its rows inserted into the heap and its indexes, hidden from logical decoding: the partition's rows
// do not change, only where they are kept.
void MoveBatches(State* s) {
  EState* estate = s->css.ss.ps.state;
  Relation leaf = s->css.ss.ss_currentRelation;
  TupleDesc leaf_desc = RelationGetDescr(leaf);
  const int natts = leaf_desc->natts;
  List* all = NIL;
  pg::Call([&] {
    for (int a = 1; a <= natts; a++)
      if (!TupleDescAttr(leaf_desc, a - 1)->attisdropped) all = lappend_int(all, a);
  });
  ResultRelInfo* rri = nullptr;
  TupleTableSlot* heap_slot = nullptr;
  TableScanDesc scan = nullptr;
  pg::Call([&] {
    // It writes into the partition: the lock of a writer, also when the statement only reads or locks
    // its rows (a concurrent CREATE INDEX must not miss the moved rows).
    LockRelationOid(RelationGetRelid(leaf), RowExclusiveLock);
    rri = makeNode(ResultRelInfo);
    InitResultRelInfo(rri, leaf, 0, nullptr, 0);
    ExecOpenIndices(rri, false);
    heap_slot = MakeSingleTupleTableSlot(leaf_desc, &TTSOpsHeapTuple);
    scan = table_beginscan(s->sibling, estate->es_snapshot, 0, nullptr);
  });
  const CommandId cid = GetCurrentCommandId(true);
  ExprContext* econtext = s->css.ss.ps.ps_ExprContext;
  for (;;) {
    HeapTuple tup = nullptr;
    bool skip = false;
    pg::Call([&] {
      tup = heap_getnext(scan, ForwardScanDirection);
      MemoryContext old = MemoryContextSwitchTo(s->batch_cxt);
      if (tup != nullptr) skip = Skip(s, tup, true);
      MemoryContextSwitchTo(old);
    });
    if (tup == nullptr) break;
    if (skip) continue;
    DecodeBatch(s, tup, all);
    bool wanted = !s->quals_simple || s->full_qual == nullptr;
    pg::Call([&] {
      for (s->row = 0; !wanted && s->row < s->nrows;) {
        TupleTableSlot* slot = StoreRow(s);
        econtext->ecxt_scantuple = slot;
        ResetExprContext(econtext);
        wanted = ExecQual(s->full_qual, econtext);
      }
      ResetExprContext(econtext);
    });
    if (!wanted) continue;
    pg::Call([&] {
      TM_FailureData tmfd;
      const ItemPointerData tid = tup->t_self;
      TM_Result r = heap_delete(s->sibling, const_cast<ItemPointer>(&tid), cid, InvalidSnapshot, true, &tmfd, false);
      if (r == TM_SelfModified) return;  // moved already by this statement's other scan
      if (r != TM_Ok)
        ereport(ERROR, (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
                        errmsg("could not serialize access to compressed partition \"%s\"", RelationGetRelationName(leaf)),
                        errdetail("A concurrent transaction moved the same rows out of their compressed batch."),
                        errhint("Retry the statement.")));
      MemoryContext old = MemoryContextSwitchTo(s->batch_cxt);
      Datum* values = static_cast<Datum*>(palloc0(sizeof(Datum) * natts));
      bool* nulls = static_cast<bool*>(palloc(sizeof(bool) * natts));
      for (s->row = 0; s->row < s->nrows;) {
        TupleTableSlot* slot = StoreRow(s);
        memcpy(values, slot->tts_values, sizeof(Datum) * natts);
        memcpy(nulls, slot->tts_isnull, sizeof(bool) * natts);
        HeapTuple row = heap_form_tuple(leaf_desc, values, nulls);
        heap_insert(leaf, row, cid, HEAP_INSERT_NO_LOGICAL, nullptr);
        ExecStoreHeapTuple(row, heap_slot, false);
        if (rri->ri_NumIndices > 0) {
#if PG_VERSION_NUM >= 160000
          List* r2 = ExecInsertIndexTuples(rri, heap_slot, estate, false, false, nullptr, NIL, false);
#else
          List* r2 = ExecInsertIndexTuples(rri, heap_slot, estate, false, false, nullptr, NIL);
#endif
          list_free(r2);
        }
        ExecClearTuple(heap_slot);
        heap_freetuple(row);
      }
      MemoryContextSwitchTo(old);
      s->rows_moved += s->nrows;
    });
    s->batches_moved++;
  }
  pg::Call([&] {
    table_endscan(scan);
    ExecDropSingleTupleTableSlot(heap_slot);
    ExecCloseIndices(rri);
    s->nrows = s->row = 0;
    MemoryContextReset(s->batch_cxt);
    if (s->batches_moved > 0) {
      // The moved rows become visible to this statement, the batch rows invisible; the statement's own
      // writes come after both.
      CommandCounterIncrement();
      estate->es_output_cid = GetCurrentCommandId(true);
      estate->es_snapshot->curcid = estate->es_output_cid;
    }
  });
}

// The layout the plan was made with (custom_private 10..13), or nullopt.
std::optional<Compressed> Planned(CustomScan* cscan) {
  Compressed c;
  pg::Call([&] {
    c.sibling = linitial_oid(static_cast<List*>(list_nth(cscan->custom_private, 10)));
    ListCell* lc;
    foreach (lc, static_cast<List*>(list_nth(cscan->custom_private, 11))) c.segment.push_back(AttrNumber(lfirst_int(lc)));
    foreach (lc, static_cast<List*>(list_nth(cscan->custom_private, 12))) c.batch.push_back(AttrNumber(lfirst_int(lc)));
    c.order = AttrNumber(intVal(list_nth(cscan->custom_private, 13)));
  });
  if (!OidIsValid(c.sibling)) return std::nullopt;
  return c;
}

// Whether the statement needs row identities from this scan: it updates, deletes or locks its rows, or
// may have to fetch one again by ctid (a row mark of a relation the statement only reads).
bool NeedsRowIdentity(State* s) {
  EState* estate = s->css.ss.ps.state;
  const Index rti = reinterpret_cast<CustomScan*>(s->css.ss.ps.plan)->scan.scanrelid;
  PlannedStmt* stmt = estate->es_plannedstmt;
  if (stmt == nullptr) return false;
  ListCell* lc;
  // Also under a SELECT: an UPDATE or DELETE in a WITH query.
  foreach (lc, stmt->resultRelations)
    if (Index(lfirst_int(lc)) == rti) return true;
  foreach (lc, stmt->rowMarks) {
    auto* rm = lfirst_node(PlanRowMark, lc);
    // ROW_MARK_REFERENCE too: EvalPlanQual fetches such a row again by its ctid.
    if (rm->rti == rti && rm->markType != ROW_MARK_COPY) return true;
  }
  return false;
}

void Begin(void* arg) {
  auto* a = static_cast<std::pair<State*, int>*>(arg);
  State* s = a->first;
  const int eflags = a->second;
  EState* estate = s->css.ss.ps.state;
  CustomScan* cscan = reinterpret_cast<CustomScan*>(s->css.ss.ps.plan);
  Relation leaf = s->css.ss.ss_currentRelation;
  // A parallel worker uses the layout its leader planned with (it reads the state with the statement's
  // snapshot, which may be older than the one its leader read it with).
  const std::optional<Compressed> c = IsParallelWorker() ? Planned(cscan) : Lookup(RelationGetRelid(leaf));
  pg::Call([&] {
    // Quals and projection also see EvalPlanQual's heap slots, not only this node's virtual ones.
    s->css.ss.ps.scanopsfixed = false;
    if (s->agg_mode) {
      // The projection reads the scan slot (custom_scan_tlist's layout, set up by Postgres); the quals
      // read rows in the leaf's layout, whose attnums custom_scan_tlist's first columns keep.
      s->row_slot = ExecInitExtraTupleSlot(estate, RelationGetDescr(leaf), &TTSOpsVirtual);
      List* ops = static_cast<List*>(list_nth(cscan->custom_private, 14));
      List* attnos = static_cast<List*>(list_nth(cscan->custom_private, 15));
      List* types = static_cast<List*>(list_nth(cscan->custom_private, 16));
      s->naggs = list_length(ops);
      s->agg_cxt = AllocSetContextCreate(CurrentMemoryContext, "strata columnar aggregate", ALLOCSET_SMALL_SIZES);
      s->ops = static_cast<core::columnar::Accumulator*>(palloc0(sizeof(core::columnar::Accumulator) * std::max(1, s->naggs)));
      s->agg_attno = static_cast<AttrNumber*>(palloc0(sizeof(AttrNumber) * std::max(1, s->naggs)));
      s->agg_type = static_cast<Oid*>(palloc0(sizeof(Oid) * std::max(1, s->naggs)));
      for (int i = 0; i < s->naggs; i++) {
        s->ops[i] = core::columnar::Accumulator{};
        s->ops[i].op = core::columnar::AggOp(list_nth_int(ops, i));
        s->agg_attno[i] = AttrNumber(list_nth_int(attnos, i));
        s->agg_type[i] = list_nth_oid(types, i);
      }
      List* keys = static_cast<List*>(list_nth(cscan->custom_private, 17));
      s->nkeys = list_length(keys);
      s->key_attno = static_cast<AttrNumber*>(palloc0(sizeof(AttrNumber) * std::max(1, s->nkeys)));
      s->key_seg = static_cast<int*>(palloc0(sizeof(int) * std::max(1, s->nkeys)));
      s->key_len = static_cast<int16*>(palloc0(sizeof(int16) * std::max(1, s->nkeys)));
      s->key_byval = static_cast<bool*>(palloc0(sizeof(bool) * std::max(1, s->nkeys)));
      for (int k = 0; k < s->nkeys; k++) {
        s->key_attno[k] = AttrNumber(list_nth_int(keys, k));
        Form_pg_attribute att = TupleDescAttr(RelationGetDescr(leaf), s->key_attno[k] - 1);
        s->key_len[k] = att->attlen;
        s->key_byval[k] = att->attbyval;
      }
      s->groups_cxt = AllocSetContextCreate(CurrentMemoryContext, "strata columnar aggregate groups", ALLOCSET_DEFAULT_SIZES);
      ResetGroups(s);
    } else {
      s->row_slot = s->css.ss.ss_ScanTupleSlot;
      ExecAssignScanProjectionInfoWithVarno(&s->css.ss, cscan->scan.scanrelid);
    }
    s->full_qual = s->cur_qual = ExecInitQual(cscan->scan.plan.qual, &s->css.ss.ps);
    s->css.ss.ps.qual = nullptr;
    // Quals that can be evaluated before the executor runs, without a visible effect of evaluating them
    // twice (MoveBatches evaluates them once, the scan again).
    Node* q = reinterpret_cast<Node*>(cscan->scan.plan.qual);
    s->quals_simple = !HasExecParams(q, nullptr) && !contain_volatile_functions(q);
    s->heap_slot = table_slot_create(leaf, &estate->es_tupleTable);
    s->batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "strata columnar scan batch", ALLOCSET_DEFAULT_SIZES);
    s->tests_cxt = AllocSetContextCreate(CurrentMemoryContext, "strata columnar scan tests", ALLOCSET_SMALL_SIZES);
    s->needed = static_cast<List*>(linitial(cscan->custom_private));
  });
  if (!c) {  // decompressed since the plan was made: the heap holds every row
    s->heap_only = true;
    return;
  }
  s->compressed = true;
  const int natts = RelationGetDescr(leaf)->natts;
  pg::Call([&] {
    s->sibling = table_open(c->sibling, AccessShareLock);
    s->sibling_desc = RelationGetDescr(s->sibling);
    s->columns = static_cast<ColumnBatch*>(palloc0(sizeof(ColumnBatch) * std::max(1, natts)));
    s->layouts = static_cast<TypeLayout*>(palloc0(sizeof(TypeLayout) * std::max(1, natts)));
    s->nsegment = int(c->segment.size());
    s->seg_attno = static_cast<AttrNumber*>(palloc0(sizeof(AttrNumber) * std::max(1, s->nsegment)));
    s->seg_value = static_cast<Datum*>(palloc0(sizeof(Datum) * std::max(1, s->nsegment)));
    s->seg_null = static_cast<bool*>(palloc0(sizeof(bool) * std::max(1, s->nsegment)));
    s->nbatchcols = int(c->batch.size());
    s->batch_leaf = static_cast<AttrNumber*>(palloc0(sizeof(AttrNumber) * std::max(1, s->nbatchcols)));
    s->batch_sib = static_cast<AttrNumber*>(palloc0(sizeof(AttrNumber) * std::max(1, s->nbatchcols)));
  });
  for (int k = 0; k < s->nsegment; k++) s->seg_attno[k] = c->segment[size_t(k)];
  for (int k = 0; k < s->nkeys; k++) {
    s->key_seg[k] = -1;
    for (int j = 0; j < s->nsegment; j++)
      if (s->seg_attno[j] == s->key_attno[k]) s->key_seg[k] = j;
  }
  for (int k = 0; k < s->nbatchcols; k++) {
    s->batch_leaf[k] = c->batch[size_t(k)];
    s->batch_sib[k] = c->BatchAttno(size_t(k));
  }
  s->order_leaf = c->order;
  s->order_notnull = c->order > 0 && c->order <= natts && TupleDescAttr(RelationGetDescr(leaf), c->order - 1)->attnotnull;
  s->rows_att = c->RowsAttno();
  s->min_att = c->MinAttno();
  s->max_att = c->MaxAttno();
  for (int a = 1; a <= natts; a++) {
    Form_pg_attribute att = TupleDescAttr(RelationGetDescr(leaf), a - 1);
    if (!att->attisdropped && std::find(c->batch.begin(), c->batch.end(), a) != c->batch.end())
      s->layouts[a - 1] = LayoutOf(att->atttypid);
  }
  pg::Call([&] {
    List* attnos = static_cast<List*>(lsecond(cscan->custom_private));
    List* kinds = static_cast<List*>(lthird(cscan->custom_private));
    List* los = static_cast<List*>(lfourth(cscan->custom_private));
    List* his = static_cast<List*>(list_nth(cscan->custom_private, 4));
    List* colls = static_cast<List*>(list_nth(cscan->custom_private, 5));
    const int n = std::max(1, list_length(attnos));
    s->test_attno = static_cast<AttrNumber*>(palloc0(sizeof(AttrNumber) * n));
    s->test_kind = static_cast<int*>(palloc0(sizeof(int) * n));
    s->test_lo = static_cast<FmgrInfo*>(palloc0(sizeof(FmgrInfo) * n));
    s->test_hi = static_cast<FmgrInfo*>(palloc0(sizeof(FmgrInfo) * n));
    s->test_coll = static_cast<Oid*>(palloc0(sizeof(Oid) * n));
    s->test_expr = static_cast<ExprState**>(palloc0(sizeof(ExprState*) * n));
    s->test_value = static_cast<Datum*>(palloc0(sizeof(Datum) * n));
    s->test_null = static_cast<bool*>(palloc0(sizeof(bool) * n));
    s->test_exec_param = static_cast<bool*>(palloc0(sizeof(bool) * n));
    s->test_proof = static_cast<FmgrInfo*>(palloc0(sizeof(FmgrInfo) * n));
    List* exec_params = static_cast<List*>(list_nth(cscan->custom_private, 7));
    List* positions = static_cast<List*>(list_nth(cscan->custom_private, 8));
    List* proofs = static_cast<List*>(list_nth(cscan->custom_private, 9));
    Bitmapset* proven_quals = nullptr;  // positions of quals every kept test with a proof covers
    s->ntests = 0;
    for (int i = 0; i < list_length(attnos); i++) {
      const AttrNumber attno = AttrNumber(list_nth_int(attnos, i));
      const int kind = list_nth_int(kinds, i);
      // A test on a column the partition no longer lays out that way (compressed again since
      // planning) is dropped: the quals still hold for every row.
      bool seg = false;
      for (int k = 0; k < s->nsegment; k++) seg = seg || s->seg_attno[k] == attno;
      if ((kind == 0 && !seg) || (kind == 1 && attno != c->order)) continue;
      const int t = s->ntests++;
      s->test_attno[t] = attno;
      s->test_kind[t] = kind;
      const Oid lo = list_nth_oid(los, i), hi = list_nth_oid(his, i);
      if (OidIsValid(lo)) fmgr_info(lo, &s->test_lo[t]);
      if (OidIsValid(hi)) fmgr_info(hi, &s->test_hi[t]);
      s->test_coll[t] = list_nth_oid(colls, i);
      s->test_exec_param[t] = list_nth_int(exec_params, i) != 0;
      const Oid proof = list_nth_oid(proofs, i);
      if (OidIsValid(proof)) {
        fmgr_info(proof, &s->test_proof[t]);
        proven_quals = bms_add_member(proven_quals, list_nth_int(positions, i));
      }
      s->test_expr[t] = ExecInitExpr(static_cast<Expr*>(list_nth(cscan->custom_exprs, i)), &s->css.ss.ps);
    }
    List* reduced = NIL;
    int position = 0;
    ListCell* qc;
    foreach (qc, cscan->scan.plan.qual) {
      if (!bms_is_member(position++, proven_quals)) reduced = lappend(reduced, lfirst(qc));
    }
    s->reduced_qual = ExecInitQual(reduced, &s->css.ss.ps);
  });
  if (eflags & EXEC_FLAG_EXPLAIN_ONLY) return;
  if (NeedsRowIdentity(s)) {
    // An EvalPlanQual recheck starts this node again in the same statement: the batches were moved.
    if (estate->es_epq_active == nullptr) {
      pg::Call([&] { EvalTests(s, true); });
      MoveBatches(s);
    }
    s->heap_only = true;
  }
}

void BeginScan(CustomScanState* node, EState*, int eflags) {
  std::pair<State*, int> arg{reinterpret_cast<State*>(node), eflags};
  pg::GuardHook(Begin, &arg);
}

TupleTableSlot* ExecNode(CustomScanState* node) {
  return ExecScan(&node->ss, reinterpret_cast<ExecScanAccessMtd>(Next), reinterpret_cast<ExecScanRecheckMtd>(Recheck));
}

void EndScan(CustomScanState* node) {
  State* s = reinterpret_cast<State*>(node);
  if (s->heap_scan) table_endscan(s->heap_scan);
  if (s->batch_scan) table_endscan(s->batch_scan);
  if (s->sibling) table_close(s->sibling, NoLock);
}

void Rescan(void* arg) {
  State* s = static_cast<State*>(arg);
  pg::Call([&] {
    if (s->heap_scan) table_rescan(s->heap_scan, nullptr);
    if (s->batch_scan) table_rescan(s->batch_scan, nullptr);
  });
  s->tests_ready = false;  // parameters may have changed: evaluated again at the first read
  s->cur_qual = s->full_qual;
  s->agg_done = false;
  if (s->agg_mode) pg::Call([&] { ResetGroups(s); });
  s->phase = 0;
  s->nrows = s->row = 0;
}

void RescanNode(CustomScanState* node) {
  pg::GuardHook(Rescan, node);
  ExecScanReScan(&node->ss);
}

void Explain(CustomScanState* node, List*, ExplainState* es) {
  State* s = reinterpret_cast<State*>(node);
  if (!s->compressed) {
    ExplainPropertyText("Compressed", "no (decompressed since planning)", es);
    return;
  }
  ExplainPropertyInteger("Batch Tests", nullptr, s->ntests, es);
  if (es->analyze) {
    ExplainPropertyInteger("Batches Read", nullptr, s->batches_read, es);
    ExplainPropertyInteger("Batches Skipped", nullptr, s->batches_skipped, es);
    if (s->agg_mode) ExplainPropertyInteger("Batches Aggregated Without Rows", nullptr, s->batches_aggregated, es);
    if (s->batches_moved > 0) {
      ExplainPropertyInteger("Batches Moved To Heap", nullptr, s->batches_moved, es);
      ExplainPropertyInteger("Rows Moved To Heap", nullptr, s->rows_moved, es);
    }
  }
}

// Parallel: two parallel heap scans in the node's shared memory.
Size EstimateDSM(CustomScanState* node, ParallelContext*) {
  State* s = reinterpret_cast<State*>(node);
  EState* estate = node->ss.ps.state;
  Size size = MAXALIGN(sizeof(Shared));
  size = add_size(size, MAXALIGN(table_parallelscan_estimate(node->ss.ss_currentRelation, estate->es_snapshot)));
  if (s->sibling) size = add_size(size, MAXALIGN(table_parallelscan_estimate(s->sibling, estate->es_snapshot)));
  return size;
}

void InitDSM(CustomScanState* node, ParallelContext*, void* coordinate) {
  State* s = reinterpret_cast<State*>(node);
  EState* estate = node->ss.ps.state;
  auto* sh = static_cast<Shared*>(coordinate);
  sh->heap_offset = MAXALIGN(sizeof(Shared));
  sh->batch_offset =
      sh->heap_offset + MAXALIGN(table_parallelscan_estimate(node->ss.ss_currentRelation, estate->es_snapshot));
  s->heap_pscan = reinterpret_cast<ParallelTableScanDesc>(static_cast<char*>(coordinate) + sh->heap_offset);
  table_parallelscan_initialize(node->ss.ss_currentRelation, s->heap_pscan, estate->es_snapshot);
  if (s->sibling) {
    s->batch_pscan = reinterpret_cast<ParallelTableScanDesc>(static_cast<char*>(coordinate) + sh->batch_offset);
    table_parallelscan_initialize(s->sibling, s->batch_pscan, estate->es_snapshot);
  }
}

void ReInitDSM(CustomScanState* node, ParallelContext*, void*) {
  State* s = reinterpret_cast<State*>(node);
  if (s->heap_pscan) table_parallelscan_reinitialize(node->ss.ss_currentRelation, s->heap_pscan);
  if (s->batch_pscan) table_parallelscan_reinitialize(s->sibling, s->batch_pscan);
}

void InitWorker(CustomScanState* node, shm_toc*, void* coordinate) {
  State* s = reinterpret_cast<State*>(node);
  auto* sh = static_cast<Shared*>(coordinate);
  s->heap_pscan = reinterpret_cast<ParallelTableScanDesc>(static_cast<char*>(coordinate) + sh->heap_offset);
  if (s->sibling) s->batch_pscan = reinterpret_cast<ParallelTableScanDesc>(static_cast<char*>(coordinate) + sh->batch_offset);
}

const CustomExecMethods kExecMethods = {
    kName, BeginScan, ExecNode, EndScan, RescanNode, nullptr, nullptr,
    EstimateDSM, InitDSM, ReInitDSM, InitWorker, nullptr, Explain};

// Aggregate mode: the accumulators' states as the partial aggregates' values, after the leaf's columns
// (custom_scan_tlist's layout).
void FillAggregates(void* arg) {
  State* s = static_cast<State*>(arg);
  TupleTableSlot* out = s->css.ss.ss_ScanTupleSlot;
  const int natts = out->tts_tupleDescriptor->natts - s->naggs;  // the aggregates follow the planned columns
  pg::Call([&] {
    ExecClearTuple(out);
    for (int i = 0; i < out->tts_tupleDescriptor->natts; i++) out->tts_values[i] = (Datum) 0, out->tts_isnull[i] = true;
    // The arrays live until the node's next row (the Finalize Aggregate copies the states it combines).
    MemoryContextReset(s->agg_cxt);
    MemoryContext old = MemoryContextSwitchTo(s->agg_cxt);
    const AggGroup& group = s->groups[s->out_next];
    for (int k = 0; k < s->nkeys; k++) {  // the keys in their columns, which the target list reads
      out->tts_values[s->key_attno[k] - 1] = group.keys[k];
      out->tts_isnull[s->key_attno[k] - 1] = group.nulls[k];
    }
    for (int i = 0; i < s->naggs; i++) {
      const core::columnar::Accumulator& a = group.accs[i];
      Datum v = (Datum) 0;
      bool isnull = false;
      switch (a.op) {
        case core::columnar::AggOp::kCountStar:
        case core::columnar::AggOp::kCount: v = Int64GetDatum(a.count); break;
        case core::columnar::AggOp::kSumInt: v = Int64GetDatum(a.isum), isnull = !a.has; break;
        case core::columnar::AggOp::kSumFloat8:
        case core::columnar::AggOp::kMinFloat8:
        case core::columnar::AggOp::kMaxFloat8: v = Float8GetDatum(a.sx), isnull = !a.has; break;
        case core::columnar::AggOp::kSumFloat4:
        case core::columnar::AggOp::kMinFloat4:
        case core::columnar::AggOp::kMaxFloat4: v = Float4GetDatum(a.f4), isnull = !a.has; break;
        case core::columnar::AggOp::kAvgInt: {  // int4_avg_accum's {count, sum}
          Datum e[2] = {Int64GetDatum(a.count), Int64GetDatum(a.isum)};
          v = PointerGetDatum(construct_array(e, 2, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
          break;
        }
        case core::columnar::AggOp::kAccumFloat: {  // float8_accum's {N, Sx, Sxx}
          Datum e[3] = {Float8GetDatum(a.n), Float8GetDatum(a.sx), Float8GetDatum(a.sxx)};
          v = PointerGetDatum(construct_array(e, 3, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
          break;
        }
        case core::columnar::AggOp::kMinInt:
        case core::columnar::AggOp::kMaxInt:
          isnull = !a.has;
          switch (s->agg_type[i]) {
            case INT2OID: v = Int16GetDatum(int16(a.ibest)); break;
            case INT4OID:
            case DATEOID: v = Int32GetDatum(int32(a.ibest)); break;
            default: v = Int64GetDatum(a.ibest); break;
          }
          break;
      }
      out->tts_values[natts + i] = v;
      out->tts_isnull[natts + i] = isnull;
    }
    MemoryContextSwitchTo(old);
    ExecStoreVirtualTuple(out);
  });
}

// Aggregate mode's rows, one per group: every row of the partition that passes the quals, added up
// first. Rows that come one by one (the heap part's, and those of batches whose quals are not proven)
// are added here; Next adds the proven batches whole (AggregateWholeBatch). This frame owns nothing.
TupleTableSlot* ExecAggNode(CustomScanState* node) {
  State* s = reinterpret_cast<State*>(node);
  ExprContext* econtext = node->ss.ps.ps_ExprContext;
  while (!s->agg_done) {
    CHECK_FOR_INTERRUPTS();
    TupleTableSlot* slot = Next(&node->ss);
    if (TupIsNull(slot)) {
      s->agg_done = true;
      break;
    }
    AggGroup* group = &s->groups[0];
    if (s->nkeys > 0) {
      Datum keys[INDEX_MAX_KEYS];
      bool nulls[INDEX_MAX_KEYS];
      for (int k = 0; k < s->nkeys; k++)
        keys[k] = slot->tts_values[s->key_attno[k] - 1], nulls[k] = slot->tts_isnull[s->key_attno[k] - 1];
      group = FindGroup(s, keys, nulls);
    }
    bool overflow = false;
    for (int i = 0; i < s->naggs; i++) {
      core::columnar::Accumulator& acc = group->accs[i];
      const AttrNumber a = s->agg_attno[i];
      if (a == 0) {
        acc.AddRows(1);
        continue;
      }
      if (slot->tts_isnull[a - 1]) continue;
      AddDatum(&acc, s->agg_type[i], slot->tts_values[a - 1]);
      overflow = overflow || acc.overflow;
    }
    if (overflow)
      ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE), errmsg("value out of range: overflow")));
    ResetExprContext(econtext);
  }
  if (s->out_next >= s->ngroups) {
    // Done: the groups go (the last row's keys were needed until this call); a rescan makes them again.
    if (s->ngroups > 0) pg::GuardHook([](void* arg) { pg::Call([&] { ResetGroupsEmpty(static_cast<State*>(arg)); }); }, s);
    return nullptr;
  }
  pg::GuardHook(FillAggregates, s);
  s->out_next++;
  TupleTableSlot* out = node->ss.ss_ScanTupleSlot;
  if (node->ss.ps.ps_ProjInfo == nullptr) return out;
  ResetExprContext(econtext);
  econtext->ecxt_scantuple = out;
  return ExecProject(node->ss.ps.ps_ProjInfo);
}

const CustomExecMethods kAggExecMethods = {
    kAggName, BeginScan, ExecAggNode, EndScan, RescanNode, nullptr, nullptr,
    nullptr, nullptr, nullptr, nullptr, nullptr, Explain};

Node* CreateState(CustomScan*) {
  State* s = static_cast<State*>(palloc0(sizeof(State)));
  NodeSetTag(s, T_CustomScanState);
  s->css.methods = &kExecMethods;
  return reinterpret_cast<Node*>(s);
}

Node* CreateAggState(CustomScan*) {
  State* s = static_cast<State*>(palloc0(sizeof(State)));
  NodeSetTag(s, T_CustomScanState);
  s->css.methods = &kAggExecMethods;
  s->agg_mode = true;
  return reinterpret_cast<Node*>(s);
}

const CustomScanMethods kScanMethods = {kName, CreateState};
const CustomScanMethods kAggScanMethods = {kAggName, CreateAggState};

}  // namespace

const CustomScanMethods& ScanMethods() { return kScanMethods; }
const CustomScanMethods& AggScanMethods() { return kAggScanMethods; }

void InitScan() {
  RegisterCustomScanMethods(&kScanMethods);
  RegisterCustomScanMethods(&kAggScanMethods);
  prev_pathlist = set_rel_pathlist_hook;
  set_rel_pathlist_hook = PathlistHook;
  prev_relinfo = get_relation_info_hook;
  get_relation_info_hook = RelInfoHook;
}

}  // namespace strata::columnar
